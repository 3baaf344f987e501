"""Evaluation metrics of performance predictors: correlations, top-K metrics, errors.

One function, :func:`ranking_metrics`, computes every metric of the three studies that
nasrank reproduces for one set of (true, predicted) values and returns a flat dictionary
with stable keys; :func:`mean_ci` summarises one metric over repeated runs.

Usage::

    from nasrank.metrics import ranking_metrics, mean_ci

    m = ranking_metrics(y_true, y_pred)          # accuracies in percent
    m["kendall_tau"], m["precision_t_0.5"], m["n_at_10"], m["precision_at_10"]

    mean, lo, hi = mean_ci([run["kendall_tau"] for run in runs])

Keys, in this order (with the default arguments)::

    n, kendall_tau, spearman, pearson, weighted_kendall_tau, sparse_kendall_tau,
    precision_t_0.5, precision_t_1, precision_t_5, precision_t_10, n_at_10,
    precision_at_10, precision_at_20, mae, rmse

``precision_t_{T}`` is named with ``format(T, "g")`` (0.5 -> ``precision_t_0.5``,
1.0 -> ``precision_t_1``); ``n_at_{K}`` and ``precision_at_{k}`` with the integer.

Conventions
-----------
* Higher is better for both arrays: ``y_true`` is an accuracy (percent for the sparse
  Kendall tau; see there), ``y_pred`` any score that should order architectures the
  same way. Pass ``-error`` rather than an error.
* Deterministic ties. "Top-k" sets and the predicted order come from a *stable* sort on
  the negated value: equal values are ordered by their position in the input (lower
  index first). So ``precision_t_*`` and ``precision_at_*`` break ties in ``y_true``
  and ``y_pred`` by input position, and ``n_at_*`` breaks ties in ``y_pred`` at the
  K-th place by input position. The *true rank* reported by ``n_at_*`` does not depend
  on the input order: it is the competition ("min") rank, 1 + the number of
  architectures with a strictly higher true value, so tied best architectures all have
  rank 1. The correlations use scipy's own tie handling (tau-b, average ranks).
* The same predictions give the same bits on every CPU. Pearson and Spearman (Pearson
  on scipy's average ranks), MAE and RMSE sum with ``math.fsum``, which is exactly
  rounded; scipy's ``pearsonr`` goes through BLAS dot products, whose last bits depend
  on the CPU's vector width (seen: ``pearson`` 0.38277192344495087 on one machine,
  ...508 on another, from identical predictions). Kendall's tau, weighted tau and the
  top-K metrics count or sum in a fixed order already.
* Undefined values are ``float('nan')``, never an exception: every correlation is nan
  when ``y_true`` or ``y_pred`` is constant (``sparse_kendall_tau`` also when the
  *rounded* predictions are constant), and ``precision_at_{k}`` is nan when k > n.
  The top-K metrics stay defined for constant predictions (ties by input position).
  No warnings are emitted for these cases.
* Invalid input (different lengths, fewer than 2 items, not 1-D, non-numeric, NaN or
  infinite values, bad metric parameters) raises :class:`MetricInputError`, a
  ``ValueError`` (and a :class:`~nasrank.errors.NasrankError`) naming the problem.
* Every value is a Python ``float`` except ``n`` and ``n_at_*``, which are ``int``. JSON
  has no NaN or infinity, so a file gets :func:`strict_metrics` of the dictionary (or of
  the report holding it): each non-finite value becomes null and a ``warnings`` entry
  says which metric and why (``"metrics.kendall_tau: undefined (constant predictions or
  labels)"``). Readers take null back as missing (:func:`finite_or_nan`) and the tables
  say so in a note (:func:`missing_note`).

Cost: two stable argsorts plus scipy's O(n log n) Kendall tau, Spearman and weighted
tau: about 2.3 s for n = 423,624 (random or correlated values, one AMD EPYC core), of
which ``scipy.stats.weightedtau`` takes about 2.0 s and everything else about 0.5 s.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from nasrank.errors import NasrankError

__all__ = ["MetricInputError", "finite_or_nan", "mean_ci", "metric_keys", "missing_note",
           "nonfinite_cause", "ranking_metrics", "strict_metrics", "warning_causes"]


class MetricInputError(NasrankError, ValueError):
    """Inputs or parameters of a metric are invalid (wrong length, non-finite, ...)."""


_NAN = float("nan")


# --------------------------------------------------------------------------- helpers


def _as_vector(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """``values`` as a 1-D float64 array of finite numbers, else MetricInputError."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MetricInputError(f"{name} must be numeric: {exc}") from exc
    if arr.ndim != 1:
        raise MetricInputError(f"{name} must be 1-D, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise MetricInputError(
            f"{name} has {int(bad.sum())} non-finite value(s) (NaN or inf), "
            f"first at index {first}: {arr[first]}"
        )
    return arr


def _is_constant(x: NDArray[np.float64]) -> bool:
    return bool(x[0] == x[-1] and np.all(x == x[0]))


def _correlation(func, x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """``func(x, y)`` as a float; nan (silently) when an input is constant."""
    if _is_constant(x) or _is_constant(y):
        return _NAN
    with warnings.catch_warnings():
        # Near-constant inputs: scipy warns about precision; the value is still returned.
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        warnings.simplefilter("ignore", stats.NearConstantInputWarning)
        value = func(x, y)
        return float(getattr(value, "statistic", value))


def _exact_mean(x: NDArray[np.float64]) -> float:
    return math.fsum(x.tolist()) / x.size


def pearson(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """Pearson's r with exactly rounded sums (``math.fsum``): the same bits on every CPU,
    equal to ``scipy.stats.pearsonr`` to about 1e-15."""
    dx = x - _exact_mean(x)
    dy = y - _exact_mean(y)
    sxx, syy = math.fsum((dx * dx).tolist()), math.fsum((dy * dy).tolist())
    r = math.fsum((dx * dy).tolist()) / (math.sqrt(sxx) * math.sqrt(syy))
    return max(-1.0, min(1.0, r))


def spearman(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """Spearman's rho: :func:`pearson` on average ranks (ties as ``scipy.stats.spearmanr``)."""
    return pearson(stats.rankdata(x), stats.rankdata(y))


def _round_to(x: NDArray[np.float64], step: float) -> NDArray[np.float64]:
    """Round to multiples of ``step``; exactly ``np.round(x, d)`` when step = 10**-d."""
    decimals = -math.log10(step)
    if abs(decimals - round(decimals)) < 1e-9:
        return np.round(x, decimals=round(decimals))
    return np.rint(x / step) * step


def _t_label(t: float) -> str:
    return format(float(t), "g")


def _positive_ints(values: Iterable[int], name: str) -> list[int]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise MetricInputError(f"{name} must hold positive integers, got {v!r}")
        out.append(int(v))
    return out


def _percentages(values: Iterable[float], name: str) -> list[float]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise MetricInputError(f"{name} must hold numbers in (0, 100], got {v!r}")
        if not (0 < float(v) <= 100):
            raise MetricInputError(f"{name} must hold percentages in (0, 100], got {v!r}")
        out.append(float(v))
    return out


def top_t_count(t_percent: float, n: int) -> int:
    """Items in the top ``t_percent`` % of ``n``: ceil(T/100 * n), at least 1.

    Computed in exact decimal arithmetic (0.5 % of 200 is 1, not 2 through a rounding
    error of 0.005 * 200).
    """
    exact = Fraction(repr(float(t_percent))) * n / 100
    return max(1, math.ceil(exact))


def metric_keys(
    *,
    precision_t: Sequence[float] = (0.5, 1, 5, 10),
    n_at_k: Sequence[int] = (10,),
    precision_at_k: Sequence[int] = (10, 20),
) -> list[str]:
    """The keys :func:`ranking_metrics` returns for these arguments, in its order."""
    return [
        "n",
        "kendall_tau",
        "spearman",
        "pearson",
        "weighted_kendall_tau",
        "sparse_kendall_tau",
        *(f"precision_t_{_t_label(t)}" for t in precision_t),
        *(f"n_at_{int(k)}" for k in n_at_k),
        *(f"precision_at_{int(k)}" for k in precision_at_k),
        "mae",
        "rmse",
    ]


# --------------------------------------------------------------------------- metrics


def ranking_metrics(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    precision_t: Sequence[float] = (0.5, 1, 5, 10),
    n_at_k: Sequence[int] = (10,),
    precision_at_k: Sequence[int] = (10, 20),
    sparse_round: float = 0.1,
) -> dict[str, float]:
    """Every predictor metric of ReNAS, the loss-function study and NASLib, in one dict.

    Args:
        y_true: true performance of each architecture (higher is better; percent).
        y_pred: predicted score of the same architectures, same order (higher is better).
        precision_t: the T values (percent of the architectures) of ``precision_t_{T}``.
        n_at_k: the K values of ``n_at_{K}``.
        precision_at_k: the k values of ``precision_at_{k}``.
        sparse_round: rounding step of the predictions for ``sparse_kendall_tau``, in
            the units of ``y_pred`` (0.1 = 0.1 accuracy points when in percent).

    Returns:
        ``{key: value}`` in the order of :func:`metric_keys`:

        ``n``
            Number of architectures.
        ``kendall_tau``
            Kendall's tau-b, ``scipy.stats.kendalltau(y_true, y_pred)`` (O(n log n)):
            (concordant - discordant) / sqrt((n0 - n1)(n0 - n2)), tie-corrected.
            ReNAS Table 2; loss study "KT"; NASLib ``kendalltau``.
        ``spearman``
            Spearman's rho, Pearson on average ranks as ``scipy.stats.spearmanr``
            (:func:`spearman`).
            NASLib ``spearman``.
        ``pearson``
            Pearson's r as ``scipy.stats.pearsonr`` (:func:`pearson`), *signed*. NASLib reports
            ``abs(np.corrcoef(...)[1, 0])``; take ``abs`` to compare with it.
        ``weighted_kendall_tau``
            ``scipy.stats.weightedtau(y_true, y_pred)`` with its defaults: hyperbolic
            weigher 1/(r + 1) on the rank r (0 = highest value), additive weights
            (a pair weighs w(r_i) + w(r_j)), ``rank=True`` = the mean of the values
            obtained ranking by decreasing (y_true, y_pred) and by (y_pred, y_true).
            Exchanges among the top architectures weigh most. Earlier version of the
            loss study (and NASLib's zero-cost evaluator ``weightedtau``).
        ``sparse_kendall_tau``
            Kendall tau-b of y_true against y_pred rounded to multiples of
            ``sparse_round`` (``np.round(y_pred, 1)`` for 0.1, bit-for-bit as NASLib's
            ``kt_1dec``): White et al.'s "sparse Kendall tau", which ignores rank
            swaps between predictions within 0.1 %. Only meaningful when y_pred is on
            the percent-accuracy scale; y_true is not rounded.
        ``precision_t_{T}``
            Loss study's Precision@T: with k = ceil(T/100 * n) (at least 1), the
            fraction of the true top-k that is in the predicted top-k,
            |true top-k ∩ predicted top-k| / k (Ning et al. 2021's P@topK; the paper
            reports it in percent, e.g. Ptop@0.5 - multiply by 100).
        ``n_at_{K}``
            Loss study's N@K: among the min(K, n) architectures with the highest
            predictions, take the best by true value and report its true rank
            (1 = best of all n, competition rank); lower is better. 1 is perfect;
            for distinct values a reversed ranking gives n - K + 1.
        ``precision_at_{k}``
            NASLib's precision@k: |true top-k ∩ predicted top-k| / k; nan when k > n.
            (NASLib marks values strictly above the (k+1)-th largest, so on ties it
            may count fewer than k; here ties are broken by input position.)
        ``mae``, ``rmse``
            mean |y_pred - y_true| and sqrt(mean (y_pred - y_true)^2) on the given
            scale (only meaningful when y_pred estimates y_true; NASLib, ReNAS).

    Raises:
        MetricInputError: (a ValueError) for arrays of different lengths, fewer than 2
            items, not 1-D, non-numeric or non-finite values, or invalid parameters.
    """
    yt = _as_vector(y_true, "y_true")
    yp = _as_vector(y_pred, "y_pred")
    if yt.shape != yp.shape:
        raise MetricInputError(
            f"y_true and y_pred must have the same length, got {yt.size} and {yp.size}"
        )
    n = int(yt.size)
    if n < 2:
        raise MetricInputError(f"need at least 2 architectures, got {n}")
    ts = _percentages(precision_t, "precision_t")
    ks_n = _positive_ints(n_at_k, "n_at_k")
    ks_p = _positive_ints(precision_at_k, "precision_at_k")
    if isinstance(sparse_round, bool) or not (
        isinstance(sparse_round, (int, float, np.integer, np.floating))
        and math.isfinite(sparse_round)
        and sparse_round > 0
    ):
        raise MetricInputError(f"sparse_round must be a positive number, got {sparse_round!r}")

    out: dict[str, float] = {"n": n}
    out["kendall_tau"] = _correlation(stats.kendalltau, yt, yp)
    out["spearman"] = _correlation(spearman, yt, yp)
    out["pearson"] = _correlation(pearson, yt, yp)
    out["weighted_kendall_tau"] = _correlation(stats.weightedtau, yt, yp)
    out["sparse_kendall_tau"] = _correlation(
        stats.kendalltau, yt, _round_to(yp, float(sparse_round))
    )

    # Stable descending orders: ties by input position (lower index first).
    order_true = np.argsort(-yt, kind="stable")
    order_pred = np.argsort(-yp, kind="stable")
    pos_true = np.empty(n, dtype=np.int64)  # position of each item in the true order
    pos_true[order_true] = np.arange(n)

    def overlap(k: int) -> int:
        return int(np.count_nonzero(pos_true[order_pred[:k]] < k))

    for t in ts:
        k = top_t_count(t, n)
        out[f"precision_t_{_t_label(t)}"] = overlap(k) / k
    for k in ks_n:
        best = yt[order_pred[: min(k, n)]].max()
        out[f"n_at_{k}"] = 1 + int(np.count_nonzero(yt > best))
    for k in ks_p:
        out[f"precision_at_{k}"] = overlap(k) / k if k <= n else _NAN

    diff = yp - yt
    out["mae"] = _exact_mean(np.abs(diff))
    out["rmse"] = math.sqrt(_exact_mean(diff * diff))
    return out


def mean_ci(values: ArrayLike, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval of repeated measurements.

    ``mean ± t_{(1+confidence)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard
    deviation (ddof = 1). One value gives ``(v, nan, nan)``; identical values give a
    zero-width interval.

    Args:
        values: one metric over independent runs (1-D, finite; drop nan runs first).
        confidence: coverage of the interval, in (0, 1).

    Returns:
        ``(mean, lo, hi)`` as floats.

    Raises:
        MetricInputError: (a ValueError) for no values, non-finite values, a non 1-D
            input, or a confidence outside (0, 1).
    """
    v = _as_vector(values, "values")
    if not (isinstance(confidence, (int, float, np.floating)) and 0 < confidence < 1):
        raise MetricInputError(f"confidence must be in (0, 1), got {confidence!r}")
    n = int(v.size)
    if n == 0:
        raise MetricInputError("values is empty")
    mean = float(np.mean(v))
    if n == 1:
        return mean, _NAN, _NAN
    sem = float(np.std(v, ddof=1)) / math.sqrt(n)
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sem
    return mean, mean - half, mean + half


def mean_ci_half(values: ArrayLike) -> tuple[float, float, int]:
    """Mean, 95 % half width (:func:`mean_ci`) and count of the *finite* values.

    The summaries over seeds and seeds drop NaN runs (an undefined correlation) and
    report ``mean ± half``: one value gives a NaN half width, none gives NaN for both.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return _NAN, _NAN, 0
    mean, lo, hi = mean_ci(v)
    return mean, (hi - lo) / 2, int(v.size)


# --------------------------------------------------------------------------- JSON files

#: the correlations of :func:`ranking_metrics`: NaN when y_true or y_pred is constant
CORRELATIONS = ("kendall_tau", "spearman", "pearson", "weighted_kendall_tau")


def nonfinite_cause(name: str, value: float, causes: Mapping[str, str] | None = None) -> str:
    """Why metric ``name`` has the non-finite ``value``, in a few words.

    NaN is "undefined" with the reason :func:`ranking_metrics` gives one for that metric
    (a correlation of a constant input; ``precision_at_{k}`` with k > n), or
    ``causes[name]`` where the caller knows better (a predictor family that does not
    compute the metric); +/-inf is an overflow (e.g. labels near 1e308 squared in the
    RMSE).
    """
    if math.isnan(value):
        if causes and name in causes:
            return causes[name]
        if name in CORRELATIONS:
            return "undefined (constant predictions or labels)"
        if name == "sparse_kendall_tau":
            return "undefined (constant rounded predictions or labels)"
        if name.startswith("precision_at_"):
            return "undefined (k > n)"
        return "undefined (NaN)"
    return f"{'inf' if value > 0 else '-inf'} (overflow)"


def strict_metrics(obj: Mapping[str, Any], causes: Mapping[str, str] | None = None
                   ) -> dict[str, Any]:
    """A copy of ``obj`` (a metrics dict or a report holding them) for strict JSON.

    Why: undefined metrics are NaN in memory (:func:`ranking_metrics`), but JSON has no
    NaN or infinity; Python's ``json`` writes the bare tokens ``NaN``/``Infinity``, which
    other readers (``jq``, JavaScript, R) reject, and a bare null would not say why the
    value is missing. So every non-finite float becomes ``None`` (null) and the copy gets
    a ``warnings`` list with one string per value: its key path and
    :func:`nonfinite_cause`, e.g. ``"metrics.kendall_tau: undefined (constant
    predictions or labels)"``, ``"results[0].rows[2].rmse: inf (overflow)"``.

    Without non-finite values the copy equals ``obj`` and has no ``warnings`` key, so its
    JSON is byte for byte what ``obj``'s was. Warnings ``obj`` already holds are kept,
    new ones appended. Tuples become lists (as JSON writes them).

    Args:
        obj: nested dicts, lists and tuples of JSON values and floats.
        causes: metric name -> cause of a NaN value, where the caller knows it better
            than :func:`nonfinite_cause` (the name is the last key of the path).
    """
    found: list[str] = []

    def walk(value: Any, path: str, name: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            found.append(f"{path}: {nonfinite_cause(name, value, causes)}")
            return None
        if isinstance(value, Mapping):
            return {k: walk(v, f"{path}.{k}" if path else str(k), str(k))
                    for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v, f"{path}[{i}]", name) for i, v in enumerate(value)]
        return value

    out = walk(obj, "", "")
    if found:
        before = out.get("warnings") or []
        if not isinstance(before, list):
            raise TypeError(f"'warnings' must be a list, got {type(before).__name__}")
        out["warnings"] = [*before, *found]
    return out


def warning_causes(report: Mapping[str, Any]) -> dict[str, str]:
    """``{key path: cause}`` of the ``warnings`` :func:`strict_metrics` wrote in ``report``."""
    out = {}
    for w in report.get("warnings") or []:
        path, sep, cause = str(w).partition(": ")
        if sep:
            out[path] = cause
    return out


def finite_or_nan(values: Mapping[str, Any], names: Iterable[str], *, path: str = "",
                  warnings: Mapping[str, str] | None = None,
                  causes: Mapping[str, str] | None = None
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    """The metrics ``names`` of ``values`` (as read from a file), missing ones as NaN.

    A metric is missing when it is null (a strict file: the cause is the file's warning
    for ``<path>.<name>``, see :func:`warning_causes`) or a non-finite number (a file
    written before, with ``NaN``/``Infinity`` tokens, which ``json`` reads: the cause is
    :func:`nonfinite_cause`). Names ``values`` lacks are left out.

    Returns:
        (``{name: value}`` with NaN for the missing ones, ``{name: cause}`` of those).
    """
    out: dict[str, Any] = {}
    why: dict[str, str] = {}
    for name in names:
        if name not in values:
            continue
        v = values[name]
        if v is None:
            key = f"{path}.{name}" if path else name
            why[name] = (warnings or {}).get(key) or nonfinite_cause(name, _NAN, causes)
            v = _NAN
        elif isinstance(v, float) and not math.isfinite(v):
            why[name] = nonfinite_cause(name, v, causes)
            v = _NAN
        out[name] = v
    return out, why


def missing_note(missing: Iterable[Mapping[str, str]], names: Iterable[str]) -> str:
    """A table cell's note on the metrics without a value in some of its seeds.

    Args:
        missing: per seed aggregated into the cell, ``{name: cause}`` of its missing
            metrics (:func:`finite_or_nan`).
        names: the metrics the row shows, in its column order.

    Returns:
        ``""`` when none is missing, else e.g. ``"mae, rmse: no value in 3 of 3 seeds,
        undefined (...)"``; metrics with the same count and cause share one part, parts
        are joined by ``"; "``.
    """
    seeds = list(missing)
    parts: dict[tuple[int, str], list[str]] = {}
    for name in names:
        causes = [m[name] for m in seeds if name in m]
        if causes:
            parts.setdefault((len(causes), "; ".join(sorted(set(causes)))), []).append(name)
    return "; ".join(f"{', '.join(ns)}: no value in {k} of {len(seeds)} seed"
                     f"{'s' if len(seeds) > 1 else ''}, {cause}"
                     for (k, cause), ns in parts.items())
