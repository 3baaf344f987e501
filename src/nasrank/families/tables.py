"""Tables of the predictor-family study (White et al. 2021) and of the zero-cost proxies.

* ``predictor_families``: per table, family, predictor and train size, the mean and the
  95 % interval (half-width of Student's t interval over seeds; NaN with one seed) of
  every metric, plus the recorded label and query-input costs. Deterministic: the same
  bytes on every rerun.
* ``predictor_families_time``: the measured fit, query and initialization times of the
  same rows (means over seeds); they vary from run to run, so they have their own table.
* ``omni_gain``: per table, OMNI variant (``omni``: NGBoost, ``omni_lgb``: LightGBM) and
  train size, its Kendall tau against the best single (non-OMNI)
  predictor of that table (highest mean tau at that train size, every family; the
  non-training ones at every size), paired by seed (both share the seed's test set):
  mean gain, its 95 % interval, a paired t-test and a Wilcoxon signed-rank test.
* ``zero_cost``: |Spearman| and Kendall tau of every proxy on every table with proxies,
  beside Abdelfattah et al.'s (ICLR 2021) published |Spearman| (reports/published.yaml),
  which are over all 15,625 NB201 (or 423,624 NB101) cells and not over NASLib's 725
  (292) that the mirror scores.

Every table says ``surrogate_labels`` (DARTS: NB301 surrogate predictions).

A value without a number in a job's file (null with a warning, or an old file's
``NaN``/``Infinity``) is missing (NaN): left out of the means and intervals, an empty
cell where no seed has one. ``predictor_families`` then says which metrics and why in a
``note`` column (there only when some metric is missing); an empty recorded or measured
time means the table records none.

Usage::

    FAMILY_TABLES["predictor_families"](params)      # -> pandas.DataFrame
    family_table_inputs(params, "zero_cost")           # the files it reads
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nasrank.benchmarks import processed_stems
from nasrank.errors import ConfigError
from nasrank.families.jobs import TIMES, family_jobs, load_family_results, nan_causes
from nasrank.families.predictors import COMBINED
from nasrank.metrics import finite_or_nan, mean_ci_half, missing_note, warning_causes
from nasrank.paths import Paths, TableId

__all__ = ["FAMILY_TABLES", "family_table_inputs", "metric_names", "summarise"]

#: the population and label the published values are over
PUBLISHED_OVER = {"nb101": "all 423,624 cells, test accuracy",
                  "nb201": "all 15,625 cells, 200-epoch test accuracy"}


def metric_names(params: Mapping[str, Any]) -> list[str]:
    """The metrics the family tables summarise (precision@k per ``evaluation``)."""
    ks = params["evaluation"]["precision_at_k"]
    return ["kendall_tau", "spearman", "pearson", "sparse_kendall_tau",
            *[f"precision_at_{k}" for k in ks], "mae", "rmse"]


def _ci95(values: pd.Series) -> float:
    """Half-width of the 95 % Student-t interval of the finite values (NaN below two)."""
    return mean_ci_half(values)[1]


#: the column of :func:`_records` holding each row's ``{value: cause}`` of missing values
MISSING = "_missing"


def _records(reports: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (job, seed, train size); a value null in the file (or an old file's
    NaN/Infinity) is NaN, and its cause is in :data:`MISSING`."""
    rows = []
    for rep in reports:
        warnings, causes = warning_causes(rep), nan_causes(rep["family"])
        for i, r in enumerate(rep["results"]):
            for j, row in enumerate(r["rows"]):
                values, missing = finite_or_nan(row, row, path=f"results[{i}].rows[{j}]",
                                                warnings=warnings, causes=causes)
                rows.append({"table": rep["table"], "benchmark": r["benchmark"],
                             "target": r["target"], "surrogate_labels": r["surrogate_labels"],
                             "family": rep["family"], "predictor": rep["predictor"],
                             "seed": r["seed"], "pool_size": r["pool_size"],
                             "test_size": r["test_size"],
                             "test_ids_sha256": r["test_ids_sha256"], **values,
                             MISSING: missing})
    return pd.DataFrame(rows)


KEYS = ["table", "benchmark", "target", "surrogate_labels", "family", "predictor",
        "train_size"]


def summarise(df: pd.DataFrame, columns: list[str], ci: bool = True,
              note: bool = False) -> pd.DataFrame:
    """Mean (and 95 % interval) of ``columns`` over seeds per :data:`KEYS` group; missing
    (NaN) values are left out. With ``note``, a last column ``note`` says which of
    ``columns`` lack a value in some seeds and why (:func:`missing_note`), when any does.
    """
    grouped = df.groupby(KEYS, sort=False, dropna=False)
    out = grouped.agg(n_seeds=("seed", "nunique"), pool_size=("pool_size", "max"),
                      test_size=("test_size", "max"))
    for c in columns:
        out[f"{c}_mean"] = grouped[c].mean()
        if ci:
            out[f"{c}_ci95"] = grouped[c].agg(_ci95)
    if note and MISSING in df:
        notes = grouped[MISSING].agg(lambda s: missing_note(s, columns))
        if (notes != "").any():
            out["note"] = notes
    return out.reset_index()


def predictor_families_table(params: Mapping[str, Any]) -> pd.DataFrame:
    """Every metric's mean and 95 % interval per table, predictor and train size; a
    ``note`` on the metrics without a value in some seeds (when any)."""
    df = _records(load_family_results(params))
    out = summarise(df, metric_names(params), note=True)
    recorded = summarise(df, ["label_time_s", "query_time_data_s"], ci=False)
    out = out.merge(recorded, on=[*KEYS, "n_seeds", "pool_size", "test_size"])
    if "note" in out:
        out = out[[c for c in out.columns if c != "note"] + ["note"]]
    return out


def predictor_families_time_table(params: Mapping[str, Any]) -> pd.DataFrame:
    """Measured fit, query (per architecture) and initialization times, means over seeds."""
    df = _records(load_family_results(params, timing=True))
    return summarise(df, ["label_time_s", *TIMES], ci=False)


def _paired(gain: np.ndarray) -> tuple[float, float]:
    """(paired t-test p, Wilcoxon signed-rank p) of the per-seed gains; NaN if undefined."""
    if len(gain) < 2 or np.all(gain == 0):
        return math.nan, math.nan
    # equal gains in every seed: no variance, the t statistic is undefined
    p_t = float(stats.ttest_1samp(gain, 0.0).pvalue) if np.ptp(gain) > 0 else math.nan
    p_w = float(stats.wilcoxon(gain).pvalue)
    return p_t, p_w


def omni_gain_table(params: Mapping[str, Any]) -> pd.DataFrame:
    """OMNI vs the best single predictor per table and train size (paired over seeds).

    Raises:
        ConfigError: no table runs ``omni``, or its predictors' test sets differ.
    """
    df = _records(load_family_results(params))
    rows = []
    for table, t in df.groupby("table", sort=False):
        combined = t["family"] == COMBINED
        if not combined.any():
            continue
        tests = t.groupby("seed")["test_ids_sha256"].nunique()
        if (tests > 1).any():
            raise ConfigError(f"table {table}: its predictors have different test sets in "
                              f"seed {int(tests.idxmax())}; give them one pool "
                              f"(families.tables.{table}.require) to pair them")
        others = t[~combined]
        for variant, v in t[combined].groupby("predictor", sort=False):
            for n, o in v.groupby("train_size", sort=True):
                # a single predictor at this train size, or one that trains on nothing
                cand = others[(others["train_size"] == n) | (others["train_size"] == 0)]
                if cand.empty:
                    continue
                rows.append(_gain_row(table, str(variant), int(n), o, cand))
    if not rows:
        raise ConfigError("no table of params.yaml's families section runs an OMNI "
                          "variant ('omni', 'omni_lgb')")
    return pd.DataFrame(rows)


def _gain_row(table: str, variant: str, n: int, o: pd.DataFrame,
              cand: pd.DataFrame) -> dict[str, Any]:
    """One OMNI variant at one train size against the best of ``cand``, paired by seed."""
    means = cand.groupby("predictor", sort=False)["kendall_tau"].mean()
    best = str(means.idxmax())
    b = cand[cand["predictor"] == best].set_index("seed")["kendall_tau"]
    a = o.set_index("seed")["kendall_tau"]
    seeds = a.index.intersection(b.index)
    gain = (a.loc[seeds] - b.loc[seeds]).to_numpy(dtype=np.float64)
    p_t, p_w = _paired(gain)
    first = o.iloc[0]
    return {
        "table": table, "benchmark": first["benchmark"], "target": first["target"],
        "surrogate_labels": first["surrogate_labels"], "omni": variant, "train_size": n,
        "n_seeds": len(seeds), "omni_kendall_tau": float(a.loc[seeds].mean()),
        "best_single": best,
        "best_single_family": cand[cand["predictor"] == best]["family"].iloc[0],
        "best_single_kendall_tau": float(b.loc[seeds].mean()),
        "gain_mean": float(gain.mean()),
        "gain_ci95": _ci95(pd.Series(gain)),
        "omni_wins": int((gain > 0).sum()), "p_ttest": p_t, "p_wilcoxon": p_w,
    }


def zero_cost_tables(params: Mapping[str, Any]) -> list[TableId]:
    """Processed tables of ``families.zero_cost.benchmarks`` (one per task); the target is
    ``families.zero_cost.targets`` of the table, else of its benchmark, else the table's
    default."""
    return [TableId(s) for b in params["families"]["zero_cost"]["benchmarks"]
            for s in processed_stems(b)]


def zero_cost_summary(params: Mapping[str, Any]) -> pd.DataFrame:
    """Every proxy's rank correlations on every table, beside the published values."""
    from nasrank.families.data import TableData
    from nasrank.families.protocol import zero_cost_table
    from nasrank.published import load_published, published_path

    cfg = params["families"]["zero_cost"]
    pub = load_published(published_path(params)).table("zero_cost").frame()
    frames = []
    for stem in zero_cost_tables(params):
        bench = stem.bench
        td = TableData.load(stem, Paths.of(params).processed_dir)
        targets = cfg.get("targets") or {}
        df = zero_cost_table(td, target=targets.get(stem, targets.get(bench)))
        df.insert(2, "surrogate_labels", td.surrogate_labels)
        published = {p: v for t, p, v in zip(pub["table"], pub["proxy"], pub["abs_spearman"],
                                             strict=True) if t == stem}
        df["published_abs_spearman"] = [published.get(p, math.nan) for p in df["proxy"]]
        df["published_over"] = [PUBLISHED_OVER[bench] if p in published else ""
                                for p in df["proxy"]]
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


#: table name -> builder
FAMILY_TABLES: dict[str, Callable[[Mapping[str, Any]], pd.DataFrame]] = {
    "predictor_families": predictor_families_table,
    "predictor_families_time": predictor_families_time_table,
    "omni_gain": omni_gain_table,
    "zero_cost": zero_cost_summary,
}


#: figure -> the table whose inputs it reads
FIGURE_SOURCES = {"families_tau_vs_train_size": "predictor_families",
                  "families_tau_vs_init_time": "predictor_families_time",
                  "families_recommendation": "predictor_families_time",
                  "zero_cost_heatmap": "zero_cost"}


def family_table_inputs(params: Mapping[str, Any], name: str) -> list[str]:
    """The files table (or figure) ``name`` reads: job reports or processed tables."""
    name = FIGURE_SOURCES.get(name, name)
    paths = Paths.of(params)
    if name == "zero_cost":
        from nasrank.published import published_path

        return [str(paths.processed(s)) for s in zero_cost_tables(params)] + [
            str(published_path(params))]
    jobs = family_jobs(params)
    files = [str(j.output(paths)) for j in jobs]
    if name == "predictor_families_time":
        files += [str(j.timing_output(paths)) for j in jobs]
    return files
