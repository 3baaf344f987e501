"""Tables of the search experiments: ReNAS Tables 3, 4 and 6, the loss study's search and
White et al.'s predictor-based NAS per predictor.

Each table summarises the per-seed reports of :mod:`nasrank.search.runner` (mean and
sample standard deviation over seeds; the std of one seed is NaN, an empty cell).
``accuracy`` is the true accuracy (the table's target) of the architecture a search
returns; ``percentile`` its rank among all labelled architectures of the table / their
number x 100 (ReNAS's "ranking (%)"; lower is better). A value null in a report (or an
old file's NaN/Infinity) is missing: left out of the mean and std, and a ``note`` column
(there only when some value is missing) says which and why.

Usage::

    df = renas_search_table(params)          # after `nasrank search` wrote the reports
    SEARCH_TABLES["loss_search"](params)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from nasrank.errors import ConfigError
from nasrank.metrics import finite_or_nan, missing_note, warning_causes
from nasrank.search.jobs import SearchJob, renas_job, search_jobs
from nasrank.search.results import load_results

SUMMARY = ("best_accuracy", "best_percentile")
NAMES = {"best_accuracy": "accuracy", "best_percentile": "percentile"}
#: the column of :func:`_rows` holding each row's ``{value: cause}`` of missing values
MISSING = "_missing"


def _rows(params: dict[str, Any], jobs: list[tuple[dict[str, Any], SearchJob]]
          ) -> pd.DataFrame:
    """One row per (labels, seed, budget): the labels, the seed's result at the budget."""
    rows = []
    for labels, job in jobs:
        for rep in load_results(params, [job]):
            warnings = warning_causes(rep)
            for i, res in enumerate(rep["results"]):
                values, missing = finite_or_nan(res, [*SUMMARY, "best_rank"],
                                                path=f"results[{i}]", warnings=warnings)
                rows.append({**labels, "target": rep["target"], "pool_size": rep["pool_size"],
                             "n_labelled": rep["n_labelled"], "budget": res["budget"],
                             "seed": rep["seed"], **values, MISSING: missing})
    return pd.DataFrame(rows)


def _summarise(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean and std over seeds per configuration and budget.

    Raises:
        ConfigError: no search configured for the table.
    """
    if df.empty:
        raise ConfigError(f"no search is configured for this table (grouped by {keys}); "
                          "see params.yaml's search section")
    keys = [*keys, "target", "pool_size", "n_labelled", "budget"]
    grouped = df.groupby(keys, sort=False)
    out = grouped.size().rename("n_seeds").to_frame()
    for col in SUMMARY:
        out[f"{NAMES[col]}_mean"] = grouped[col].mean()
        out[f"{NAMES[col]}_std"] = grouped[col].std(ddof=1)
    out["best_rank_median"] = grouped["best_rank"].median()
    out["best_rank_min"] = grouped["best_rank"].min()
    notes = grouped[MISSING].agg(lambda s: missing_note(s, [*SUMMARY, "best_rank"]))
    if (notes != "").any():
        out["note"] = notes
    return out.reset_index()


def _variant_labels(params: dict[str, Any], variant: str) -> dict[str, Any]:
    v = params["experiments"]["renas_variants"]["variants"][variant]
    return {"variant": variant, "encoding": v["encoding"], "loss": v["loss"],
            "train_size": params["search"]["renas"]["train_size"]}


def _labelled_jobs(params: dict[str, Any], name: str
                   ) -> list[tuple[dict[str, Any], SearchJob]]:
    """The jobs table ``name`` reads, each with the labels of its row."""
    renas = params["search"]["renas"]
    if name == "renas_search":
        return [(_variant_labels(params, v), renas_job(params, v)) for v in renas["variants"]]
    if name == "renas_sample_selection":
        cfg = renas["sample_selection"]
        return [({"sample": s, **_variant_labels(params, cfg["variant"])},
                 renas_job(params, cfg["variant"], sample=s)) for s in cfg["samples"]]
    if name == "renas_subspace":
        cfg = renas["subspace"]
        return [({"subspace": s, **_variant_labels(params, cfg["variant"])},
                 renas_job(params, cfg["variant"], subspace=s)) for s in cfg["subspaces"]]
    if name == "predictor_nas_by_predictor":
        return [({"table": j.table, "search": j.search, "predictor": j.predictor,
                  "encoding": j.encoding, "loss": j.loss}, j)
                for j in search_jobs(params, "predictor_nas_by_predictor")]
    return [({"table": j.table, "method": j.loss or j.search, "search": j.search}, j)
            for j in search_jobs(params, "loss_search")]


def table_jobs(params: dict[str, Any], name: str) -> list[SearchJob]:
    """The jobs whose reports table ``name`` reads (its workflow inputs)."""
    return [job for _, job in _labelled_jobs(params, name)]


RENAS_KEYS = ["variant", "encoding", "loss", "train_size"]


def renas_search_table(params: dict[str, Any]) -> pd.DataFrame:
    """ReNAS Table 3: the GA with each predictor variant (0.1 % training data)."""
    return _summarise(_rows(params, _labelled_jobs(params, "renas_search")), RENAS_KEYS)


def renas_sample_selection_table(params: dict[str, Any]) -> pd.DataFrame:
    """ReNAS Table 4: training samples at random or spread uniformly by params / FLOPs."""
    return _summarise(_rows(params, _labelled_jobs(params, "renas_sample_selection")),
                      ["sample", *RENAS_KEYS])


def renas_subspace_table(params: dict[str, Any]) -> pd.DataFrame:
    """ReNAS Table 6: trained and searched on all labelled cells vs the sub-space."""
    return _summarise(_rows(params, _labelled_jobs(params, "renas_subspace")),
                      ["subspace", *RENAS_KEYS])


def loss_search_table(params: dict[str, Any]) -> pd.DataFrame:
    """Per table, method (a loss of predictor_nas, or a baseline search) and budget."""
    return _summarise(_rows(params, _labelled_jobs(params, "loss_search")),
                      ["table", "method", "search"])


BY_PREDICTOR_KEYS = ["table", "search", "predictor", "encoding", "loss"]


def predictor_nas_by_predictor_table(params: dict[str, Any]) -> pd.DataFrame:
    """White et al.'s predictor-based NAS: per table, loop (NPENAS / BANANAS), surrogate
    predictor and budget, the best accuracy found (mean, std and 95 % t-interval half
    width over seeds) and the predictor's rank by mean accuracy among the table's
    predictors in that loop at that budget (1 = best; ties share the lower rank)."""
    from nasrank.metrics import mean_ci_half

    rows = _rows(params, _labelled_jobs(params, "predictor_nas_by_predictor"))
    out = _summarise(rows, BY_PREDICTOR_KEYS)
    keys = [*BY_PREDICTOR_KEYS, "budget"]
    half = {k: mean_ci_half(g["best_accuracy"].dropna())[1]
            for k, g in rows.groupby(keys, sort=False)}
    out.insert(out.columns.get_loc("accuracy_std") + 1, "accuracy_ci95",
               [half[tuple(r)] for r in out[keys].itertuples(index=False)])
    out["rank"] = (out.groupby(["table", "search", "budget"], sort=False)["accuracy_mean"]
                   .rank(ascending=False, method="min").astype("Int64"))
    return out


#: table name -> builder
SEARCH_TABLES: dict[str, Callable[[dict[str, Any]], pd.DataFrame]] = {
    "renas_search": renas_search_table,
    "renas_sample_selection": renas_sample_selection_table,
    "renas_subspace": renas_subspace_table,
    "loss_search": loss_search_table,
    "predictor_nas_by_predictor": predictor_nas_by_predictor_table,
}
