"""Statistics over seeds and paired tests between the losses of the loss study.

The loss study (Ji et al. 2025) compares losses by metrics averaged over seeds; a mean
alone does not say whether one loss beats another or only drew luckier seeds. Every
table here reads the per-seed files the workflow already writes and adds the uncertainty:

* ``loss_stats``: mean ± 95 % Student-t interval over seeds per table, loss, train size
  and metric.
* ``loss_pairwise``: for every pair of losses the paired Wilcoxon signed-rank test over
  seeds (the same seed draws the same training sample for both losses, so the pairs
  are matched by seed), with Holm's correction over the pairs of one cell.
* ``loss_ranks``: each loss's average rank across tables and the Friedman test
  (Demšar 2006: the tables are the blocks).
* ``loss_wins``: which loss wins where, its runner-up and whether the win is significant.
* ``search_stats``: mean ± 95 % interval of the loss-search's best-found accuracy and
  percentile per table, method and budget.

Metrics are ``kendall_tau``, ``precision_t_<T>`` (``evaluation.precision_t``) and
``n_at_<K>`` (``evaluation.n_at_k``); :func:`higher_is_better` gives each one's direction
(``n_at_K`` is a true rank: lower is better). A metric can be NaN in a run (the
correlation of a predictor that output a constant; null with a warning in its file, or
``NaN``/``Infinity`` in a file written before): such seeds are left out and counted, and
``loss_stats`` says why in a ``note`` column (there only when some value is missing).

Usage::

    from nasrank.report.stats import STATS_TABLES, mean_ci, stats_inputs

    mean, half = mean_ci([0.71, 0.69, 0.74])          # mean ± half: 95 % interval
    df = STATS_TABLES["loss_pairwise"](params)         # after the loss-study runs
    stats_inputs(params, "loss_wins")                  # the files it reads
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nasrank.errors import NasrankError, UnknownNameError
from nasrank.experiments import (
    Run,
    evaluate_command,
    experiment_runs,
    metrics_inputs,
    metrics_path,
    read_run_metrics,
)
from nasrank.metrics import (
    finite_or_nan,
    mean_ci_half,
    metric_keys,
    missing_note,
    warning_causes,
)
from nasrank.paths import Paths
from nasrank.search.jobs import search_jobs
from nasrank.search.results import load_results

__all__ = [
    "ALPHA",
    "LOSS_FAMILIES",
    "STATS_TABLES",
    "PairedTest",
    "RegisteredLosses",
    "higher_is_better",
    "holm",
    "loss_family",
    "mean_ci",
    "paired_wilcoxon",
    "stats_inputs",
    "study_metrics",
]

#: significance level of the tests' ``significant`` columns
ALPHA = 0.05


class RegisteredLosses(Mapping[str, str]):
    """Loss name -> ``field`` of its registry entry, then the names of ``extra``: a live,
    read-only view of the loss registry (:mod:`nasrank.losses.catalog`).

    A loss declares its family, printed name and colour where it is defined
    (:func:`nasrank.losses.catalog.register_loss`); :data:`LOSS_FAMILIES` and
    :data:`nasrank.report.figures.LOSS_COLOURS` and ``LOSS_LABELS`` are such views, so a
    loss registered (or removed) later is in (or out of) them at once, and a new loss needs
    no edit in the report. A loss's own value wins over an ``extra`` entry of the same
    name. The registry is imported on first use, not with the report: importing the
    losses imports torch, which most report commands never need.

    Args:
        field: ``family``, ``label`` or ``colour``.
        extra: name -> value of names that are not losses (the search baselines), after
            the losses.
    """

    FIELDS = ("family", "label", "colour")

    def __init__(self, field: str, extra: Mapping[str, str] | None = None) -> None:
        if field not in self.FIELDS:
            raise ValueError(f"field must be one of {', '.join(self.FIELDS)}, got {field!r}")
        self.field = field
        self.extra: Mapping[str, str] = dict(extra or {})

    def _values(self) -> dict[str, str]:
        from nasrank.losses.catalog import ENTRIES

        values = {name: getattr(entry, self.field) for name, entry in ENTRIES.items()}
        for name, value in self.extra.items():
            values.setdefault(name, value)
        return values

    def __getitem__(self, name: str) -> str:
        return self._values()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.field!r}: {self._values()!r})"


#: loss -> family in Ji et al. (2025) (``l1`` and ``renas``, not in the study, for
#: completeness): a live view of the family each loss registered with
LOSS_FAMILIES: Mapping[str, str] = RegisteredLosses("family")

#: metric-name prefix -> whether higher is better (metrics matching none: higher)
DIRECTIONS: dict[str, bool] = {"n_at_": False, "mae": False, "rmse": False}

_NAN = float("nan")


def loss_family(loss: str) -> str:
    """The family of ``loss`` (:data:`LOSS_FAMILIES`).

    Raises:
        UnknownNameError: a loss without a family.
    """
    if loss not in LOSS_FAMILIES:
        raise UnknownNameError("loss (no family)", loss, list(LOSS_FAMILIES))
    return LOSS_FAMILIES[loss]


def higher_is_better(metric: str) -> bool:
    """Direction of ``metric``: ``n_at_K``, ``mae`` and ``rmse`` are better when lower."""
    return next((v for prefix, v in DIRECTIONS.items() if metric.startswith(prefix)), True)


def study_metrics(params: dict[str, Any]) -> list[str]:
    """Kendall tau, ``precision_t_<T>`` and ``n_at_<K>`` as named in the metrics files."""
    ev = params["evaluation"]
    keys = metric_keys(precision_t=ev["precision_t"], n_at_k=ev["n_at_k"], precision_at_k=())
    return [k for k in keys if k == "kendall_tau" or k.startswith(("precision_t_", "n_at_"))]


def mean_ci(values: Iterable[float]) -> tuple[float, float]:
    """Mean and half width of its two-sided 95 % Student-t interval.

    ``t_{0.975, n-1} * s / sqrt(n)`` with the sample standard deviation ``s``; the half
    width is NaN for one value and both are NaN for none. Values must be finite (drop NaN
    runs first).
    """
    mean, half, _ = mean_ci_half(list(values))
    return mean, half


def holm(p_values: Iterable[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and is not counted as a test)."""
    p = np.asarray(list(p_values), dtype=np.float64)
    out = np.full(p.shape, _NAN)
    idx = np.flatnonzero(~np.isnan(p))
    order = idx[np.argsort(p[idx], kind="stable")]
    m = len(order)
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


@dataclass(frozen=True)
class PairedTest:
    """Wilcoxon signed-rank test of ``a - b`` over the seeds both have a finite value for.

    Attributes:
        n: paired seeds.
        mean_diff: mean of ``a - b`` over them.
        statistic, p_value: scipy's (two-sided); NaN where the test is undefined.
        note: why the test is undefined, or a caveat; empty otherwise.
    """

    n: int
    mean_diff: float
    statistic: float
    p_value: float
    note: str


def paired_wilcoxon(a: Mapping[int, float], b: Mapping[int, float]) -> PairedTest:
    """Paired Wilcoxon signed-rank test of two losses' per-seed values.

    Zero differences are dropped (Wilcoxon's method, scipy's default). With at most 5
    non-zero pairs the exact two-sided p-value cannot fall below 2 / 2**5 = 0.0625,
    which the note says, so a non-significant result is not read as "no difference".
    """
    seeds = sorted(s for s in set(a) & set(b)
                   if math.isfinite(a[s]) and math.isfinite(b[s]))
    d = np.array([a[s] - b[s] for s in seeds], dtype=np.float64)
    n = len(seeds)
    mean_diff = float(d.mean()) if n else _NAN
    if n < 2:
        return PairedTest(n, mean_diff, _NAN, _NAN, f"{n} paired seed(s); the test needs 2")
    nonzero = int(np.count_nonzero(d))
    if nonzero == 0:
        return PairedTest(n, mean_diff, _NAN, _NAN, "all paired differences are zero")
    res = stats.wilcoxon(d)
    min_p = 2.0 / 2 ** nonzero
    note = (f"{nonzero} non-zero pairs: p cannot fall below {min_p:.4g}"
            if min_p >= ALPHA else "")
    return PairedTest(n, mean_diff, float(res.statistic), float(res.pvalue), note)


# --------------------------------------------------------------------------- inputs


def _study_runs(params: dict[str, Any]) -> list[Run]:
    return experiment_runs(params, "loss_study")


def _runs_frame(params: dict[str, Any]) -> pd.DataFrame:
    """One row per loss-study run and metric: table, loss, train_size, seed, metric, value
    (NaN when missing) and cause (why it is missing, else None).

    Raises:
        NasrankError: a missing metrics file, or one without a metric of params.yaml's
            ``evaluation`` (written before the setting changed), naming the command.
    """
    metrics = study_metrics(params)
    rows = []
    for run in _study_runs(params):
        report = read_run_metrics(params, run)
        absent = [m for m in metrics if m not in report["metrics"]]
        if absent:
            raise NasrankError(f"{metrics_path(params, run)} has no {absent[0]!r} (params.yaml's "
                               f"evaluation changed since); rerun `{evaluate_command(run)}`")
        values, missing = finite_or_nan(report["metrics"], metrics, path="metrics",
                                        warnings=warning_causes(report))
        for m in metrics:
            rows.append({"table": run.table, "loss": run.loss, "train_size": run.train_size,
                         "seed": run.seed, "metric": m, "value": float(values[m]),
                         "cause": missing.get(m)})
    return pd.DataFrame(rows, columns=["table", "loss", "train_size", "seed", "metric",
                                       "value", "cause"])


def _cells(params: dict[str, Any]) -> list[tuple[tuple[str, int, str], pd.DataFrame]]:
    """Per (table, train size, metric), in params order: seeds x losses (params order)."""
    losses = list(params["experiments"]["loss_study"]["losses"])
    frame = _runs_frame(params)
    return [(key, g.pivot(index="seed", columns="loss", values="value").reindex(
                columns=losses).sort_index())
            for key, g in frame.groupby(["table", "train_size", "metric"], sort=False)]


def _per_seed(column: pd.Series) -> dict[int, float]:
    return {int(s): float(v) for s, v in column.items()}


def _signed(metric: str) -> float:
    """+1 where higher is better, -1 otherwise: ``_signed(m) * value`` is larger-is-better."""
    return 1.0 if higher_is_better(metric) else -1.0


def _ordered(losses: list[str], means: pd.Series, metric: str) -> list[str]:
    """Losses with a finite mean, best first; ties keep the params order (stable)."""
    finite = [lo for lo in losses if math.isfinite(means[lo])]
    return sorted(finite, key=lambda lo: -_signed(metric) * means[lo])


# --------------------------------------------------------------------------- tables


def loss_stats(params: dict[str, Any]) -> pd.DataFrame:
    """Per table, loss, train size and metric: seeds, mean and 95 % half width.

    ``n_seeds`` counts seeds with a finite value, ``n_nan`` those without; a ``note``
    column, there only when some value is missing, says why (:func:`missing_note`).
    """
    frame = _runs_frame(params)
    rows = []
    for (table, loss, size, metric), g in frame.groupby(
            ["table", "loss", "train_size", "metric"], sort=False):
        finite = g["value"].dropna()
        mean, half = mean_ci(finite)
        note = missing_note(({metric: c} if isinstance(c, str) else {} for c in g["cause"]),
                            [metric])
        rows.append({"table": table, "loss": loss, "family": loss_family(loss),
                     "train_size": size, "metric": metric, "n_seeds": len(finite),
                     "n_nan": len(g) - len(finite), "mean": mean, "ci95": half,
                     "note": note})
    columns = ["table", "loss", "family", "train_size", "metric", "n_seeds", "n_nan", "mean",
               "ci95"]
    if any(r["note"] for r in rows):
        columns.append("note")
    return pd.DataFrame(rows, columns=columns)


PAIRWISE_COLUMNS = ["table", "train_size", "metric", "loss_a", "loss_b", "n_seeds", "mean_a",
                    "mean_b", "mean_diff", "statistic", "p_value", "p_holm", "better",
                    "significant", "note"]


def loss_pairwise(params: dict[str, Any]) -> pd.DataFrame:
    """Every pair of losses per table, train size and metric: paired Wilcoxon over seeds.

    ``mean_diff`` is the mean of ``a - b`` over the paired seeds; ``better`` the loss
    that difference favours given the metric's direction (empty on a zero difference);
    ``p_holm`` Holm's correction over the pairs of the cell; ``significant`` is
    ``p_holm < ALPHA``.
    """
    rows = []
    for (table, size, metric), wide in _cells(params):
        cell = []
        for a, b in itertools.combinations(wide.columns, 2):
            t = paired_wilcoxon(_per_seed(wide[a]), _per_seed(wide[b]))
            sign = _signed(metric) * t.mean_diff
            better = a if sign > 0 else b if sign < 0 else ""
            cell.append({"table": table, "train_size": size, "metric": metric,
                         "loss_a": a, "loss_b": b, "n_seeds": t.n,
                         "mean_a": float(wide[a].mean()), "mean_b": float(wide[b].mean()),
                         "mean_diff": t.mean_diff, "statistic": t.statistic,
                         "p_value": t.p_value, "better": better, "note": t.note})
        for row, p in zip(cell, holm(r["p_value"] for r in cell), strict=True):
            row["p_holm"] = float(p)
            row["significant"] = bool(p < ALPHA)
        rows += cell
    return pd.DataFrame(rows, columns=PAIRWISE_COLUMNS)


def _friedman(matrix: np.ndarray) -> tuple[float, float, str]:
    """Friedman test over the rows (tables = blocks) of a tables x losses matrix."""
    n_tables, n_losses = matrix.shape
    if n_losses < 3 or n_tables < 2:
        return _NAN, _NAN, (f"Friedman needs >= 3 losses and >= 2 tables; "
                            f"got {n_losses} and {n_tables}")
    if all(np.all(row == row[0]) for row in matrix):
        return _NAN, _NAN, "every table ties all losses"
    res = stats.friedmanchisquare(*matrix.T)
    return float(res.statistic), float(res.pvalue), ""


RANKS_COLUMNS = ["metric", "train_size", "loss", "family", "mean_rank", "n_tables",
                 "friedman_statistic", "friedman_p", "note"]


def loss_ranks(params: dict[str, Any]) -> pd.DataFrame:
    """Per metric and train size: each loss's mean rank across tables and Friedman's test.

    A loss is ranked within a table by its mean over seeds (1 = best, ties share the
    average rank). Friedman's test needs complete blocks: a table where some loss has
    no finite mean is left out (``n_tables`` counts the others; the note says so). Its
    p-value is scipy's chi-square approximation, rough with few tables (Demšar 2006
    suggests more than about 10 blocks). Rows are sorted by mean rank, ties in params
    order.
    """
    losses = list(params["experiments"]["loss_study"]["losses"])
    means: dict[tuple[str, int], dict[str, pd.Series]] = {}
    for (table, size, metric), wide in _cells(params):
        means.setdefault((metric, size), {})[table] = wide.mean()
    rows = []
    for metric in study_metrics(params):
        for size in params["experiments"]["loss_study"]["train_sizes"]:
            rows += _rank_cell(metric, size, losses, means[(metric, size)])
    return pd.DataFrame(rows, columns=RANKS_COLUMNS)


def _rank_cell(metric: str, size: int, losses: list[str],
               by_table: dict[str, pd.Series]) -> list[dict[str, Any]]:
    """The rows of :func:`loss_ranks` for one metric and train size."""
    m = pd.DataFrame(by_table).T.reindex(columns=losses)
    complete = m.dropna()
    signed = _signed(metric) * complete.to_numpy(dtype=np.float64)
    ranks = stats.rankdata(-signed, axis=1) if len(complete) else signed
    stat, p, note = _friedman(signed)
    if len(complete) < len(m):
        note = "; ".join(filter(None, [f"{len(m) - len(complete)} table(s) without a finite "
                                       "mean for every loss left out", note]))
    cell = [{"metric": metric, "train_size": size, "loss": lo, "family": loss_family(lo),
             "mean_rank": float(ranks[:, j].mean()) if len(complete) else _NAN,
             "n_tables": len(complete), "friedman_statistic": stat, "friedman_p": p,
             "note": note} for j, lo in enumerate(losses)]
    return sorted(cell, key=lambda r: (math.isnan(r["mean_rank"]), r["mean_rank"]))


WINS_COLUMNS = ["table", "train_size", "metric", "winner", "winner_family", "winner_mean",
                "runner_up", "runner_up_family", "runner_up_mean", "n_tied_best",
                "n_seeds", "p_value", "significant", "note"]


def loss_wins(params: dict[str, Any]) -> pd.DataFrame:
    """Which loss wins where: per table, train size and metric the best loss by mean.

    The runner-up is the next best; ``p_value`` is the paired Wilcoxon test of winner vs
    runner-up (one test per cell, uncorrected) and ``significant`` is ``p < ALPHA`` with
    the paired difference in the winner's favour. Equal means keep the params order;
    ``n_tied_best`` counts the losses sharing the best mean.
    """
    rows = []
    for (table, size, metric), wide in _cells(params):
        means = wide.mean()
        order = _ordered(list(wide.columns), means, metric)
        row: dict[str, Any] = {"table": table, "train_size": size, "metric": metric,
                               "winner": "", "winner_family": "", "winner_mean": _NAN,
                               "runner_up": "", "runner_up_family": "",
                               "runner_up_mean": _NAN, "n_tied_best": 0, "n_seeds": 0,
                               "p_value": _NAN, "significant": False, "note": ""}
        if not order:
            rows.append({**row, "note": "no loss has a finite mean"})
            continue
        win = order[0]
        row.update(winner=win, winner_family=loss_family(win),
                   winner_mean=float(means[win]),
                   n_tied_best=sum(means[lo] == means[win] for lo in order))
        if len(order) < 2:
            rows.append({**row, "note": "only one loss has a finite mean"})
            continue
        up = order[1]
        t = paired_wilcoxon(_per_seed(wide[win]), _per_seed(wide[up]))
        row.update(runner_up=up, runner_up_family=loss_family(up),
                   runner_up_mean=float(means[up]), n_seeds=t.n, p_value=t.p_value,
                   significant=bool(t.p_value < ALPHA and _signed(metric) * t.mean_diff > 0),
                   note=t.note)
        rows.append(row)
    return pd.DataFrame(rows, columns=WINS_COLUMNS)


#: the values of a search report's ``results`` entry that :func:`search_stats` summarises
SEARCH_VALUES = ("best_accuracy", "best_percentile")


def search_stats(params: dict[str, Any]) -> pd.DataFrame:
    """Per table, method (a loss of predictor_nas, or a baseline) and budget of the loss
    search: mean and 95 % half width over seeds of the best-found accuracy and of its
    percentile (rank among the table's labelled architectures / their number x 100;
    lower is better)."""
    rows = []
    for job in search_jobs(params, "loss_search"):
        reports = load_results(params, [job])
        for budget in job.budgets:
            found = [finite_or_nan(next(r for r in rep["results"] if r["budget"] == budget),
                                   SEARCH_VALUES)[0] for rep in reports]
            acc = mean_ci(r["best_accuracy"] for r in found)
            pct = mean_ci(r["best_percentile"] for r in found)
            rows.append({"table": job.table, "method": job.loss or job.search,
                         "search": job.search, "target": reports[0]["target"],
                         "budget": budget, "n_seeds": len(found), "accuracy_mean": acc[0],
                         "accuracy_ci95": acc[1], "percentile_mean": pct[0],
                         "percentile_ci95": pct[1]})
    return pd.DataFrame(rows, columns=["table", "method", "search", "target", "budget",
                                       "n_seeds", "accuracy_mean", "accuracy_ci95",
                                       "percentile_mean", "percentile_ci95"])


#: table name -> builder
STATS_TABLES: dict[str, Callable[[dict[str, Any]], pd.DataFrame]] = {
    "loss_stats": loss_stats,
    "loss_pairwise": loss_pairwise,
    "loss_ranks": loss_ranks,
    "loss_wins": loss_wins,
    "search_stats": search_stats,
}


def _metrics_inputs(params: dict[str, Any]) -> list[str]:
    return metrics_inputs(params, _study_runs(params))


def _search_inputs(params: dict[str, Any]) -> list[str]:
    paths = Paths.of(params)
    return [str(job.output_dir(paths)) for job in search_jobs(params, "loss_search")]


#: table name -> the files it reads
_INPUTS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "loss_stats": _metrics_inputs,
    "loss_pairwise": _metrics_inputs,
    "loss_ranks": _metrics_inputs,
    "loss_wins": _metrics_inputs,
    "search_stats": _search_inputs,
}


def stats_inputs(params: dict[str, Any], name: str) -> list[str]:
    """The files table ``name`` reads (its workflow inputs), in a fixed order.

    Raises:
        UnknownNameError: ``name`` is not in :data:`STATS_TABLES`.
    """
    if name not in _INPUTS:
        raise UnknownNameError("statistics table", name, list(STATS_TABLES))
    return _INPUTS[name](params)
