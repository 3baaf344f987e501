"""NASLib's predictor-evaluation protocol (White et al. 2021) for every family.

For one table, predictor and seed:

1. **Pool.** Only the architectures that have every column the predictor needs -- the
   target, its proxies or fidelities, any extra ``require`` columns -- and, for
   predictors with an encoding, an encoded tensor form the pool (``pool_size`` in the
   result). Give predictors the same ``require`` (e.g. ``["zc_jacov", "val_acc_12"]``)
   to evaluate them on one pool, hence one test set per seed.
2. **Split.** With ``rng = numpy.random.default_rng(seed)``: the test set is drawn
   first (``test_size`` pool positions without replacement: 200; 100 on DARTS), then ONE
   permutation of the rest is the training order; each train size is a prefix of it,
   so smaller training sets are contained in larger ones. A train size larger than the
   pool minus the test set is a :class:`~nasrank.errors.ConfigError` (never a silent
   shrink). The split depends on the seed and the pool only, not on the predictor.
3. **Per train size** (predictors that train: model-based and ``omni``): fit on the
   prefix, query the test set, and report
   :func:`nasrank.metrics.ranking_metrics` (Kendall tau, Spearman, Pearson, sparse
   Kendall tau with predictions rounded to 0.1 accuracy points, precision@10/@20, MAE,
   RMSE, ...) plus times. Zero-cost and learning-curve predictors fit nothing: they are
   evaluated once per seed on the same test set and reported with ``train_size`` 0.

Times (seconds):

* ``fit_time_s``: wall time of the fit (0 for predictors that do not train); for a
  torch predictor, whose seeds and train sizes train as one sweep
  (:func:`evaluate_seeds`), the run's share of the sweep's fit time.
* ``query_time_compute_s``: wall time of the query per test architecture (model
  inference, curve fitting, column look-up).
* ``query_time_data_s``: the recorded per-architecture cost of the inputs a query reads
  -- a proxy's compute time, the training to a lower fidelity
  (``train_time_108 * epochs / 108`` on NB101, an approximation) -- NaN where the table
  does not record it, 0 for model-based predictors.
* ``query_time_s``: their sum (NaN when the data cost is unknown).
* ``label_time_s``: summed real training time of the training architectures' labels,
  where the table records one (NB101: ``train_time_108``); NaN when it records none
  (NB201, DARTS, TransNAS); ``label_time_known`` counts the training architectures with
  a recorded time.
* ``init_time_s``: initialization time = ``label_time_s`` (the known part, 0 if none) +
  ``fit_time_s``.

For zero-cost scores (not on the target's scale) MAE, RMSE and the sparse Kendall tau
are NaN. Results are plain dicts of Python scalars, lists and strings (NaN for
undefined values, as :mod:`nasrank.metrics`), JSON-serialisable with :mod:`json`.

Usage::

    from nasrank.families import run_family, results_frame, zero_cost_table
    res = run_family("nb201-cifar10", "xgb", seed=0, params=params,
                     settings={"target": "val_acc_200", "train_sizes": [5, 24, 121]})
    res["pool_size"], res["rows"][0]["kendall_tau"]
    df = results_frame([res])
    zc = zero_cost_table("nb201-cifar10", params["data"]["processed_dir"], "val_acc_200")
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nasrank.benchmarks.zero_cost import (
    require_zero_cost,
    zero_cost_columns,
    zero_cost_proxies,
)
from nasrank.errors import ConfigError, DataFormatError
from nasrank.families.data import ArchBatch, TableData
from nasrank.families.predictors import Context, FamilyPredictor, Needs
from nasrank.families.registry import family_spec, get_family_predictor
from nasrank.metrics import ranking_metrics

#: NASLib's train sizes for NAS-Bench-101/201 (and every other table) and for DARTS.
NASLIB_TRAIN_SIZES = (5, 8, 14, 24, 42, 71, 121, 205, 347, 589, 1000)
DARTS_TRAIN_SIZES = (5, 8, 12, 20, 31, 50, 79, 126, 199, 316, 500)

#: ``run_family`` settings and their defaults (``None``: per benchmark / table).
SETTINGS_DEFAULTS: dict[str, Any] = {
    "target": None,        # the table's default_target
    "test_size": None,     # 200; 100 on DARTS
    "train_sizes": None,   # NASLIB_TRAIN_SIZES; DARTS_TRAIN_SIZES on DARTS
    "require": [],         # extra columns every pool architecture must have
    "options": {},         # the predictor's options
}


def default_test_size(bench: str) -> int:
    """200 test architectures; 100 on DARTS (White et al.)."""
    return 100 if bench == "darts" else 200


def default_train_sizes(bench: str) -> list[int]:
    """NASLib's train sizes: DARTS 5..500, every other benchmark 5..1000."""
    return list(DARTS_TRAIN_SIZES if bench == "darts" else NASLIB_TRAIN_SIZES)


@dataclass(frozen=True)
class Split:
    """Positions in the pool: the test set, then the training order (one permutation
    of the rest; a train size ``n`` uses ``train[:n]``)."""

    test: np.ndarray
    train: np.ndarray


def naslib_split(pool_size: int, test_size: int, seed: int) -> Split:
    """The test set first, then one permutation of the rest (see the module docstring).

    Raises:
        ConfigError: a test size that leaves no training architecture.
    """
    if isinstance(test_size, bool) or not isinstance(test_size, int | np.integer) \
            or test_size < 2:
        raise ConfigError(f"test size must be an integer >= 2, got {test_size!r}")
    if test_size >= pool_size:
        raise ConfigError(f"test size {test_size} leaves no training architecture in a "
                          f"pool of {pool_size}")
    rng = np.random.default_rng(seed)
    test = rng.choice(pool_size, size=int(test_size), replace=False)
    rest = np.setdiff1d(np.arange(pool_size), test)
    return Split(test, rng.permutation(rest))


def check_train_sizes(train_sizes: Iterable[Any], available: int, where: str) -> list[int]:
    """Train sizes as ints, or ConfigError: not integers >= 2, or above ``available``
    (the pool minus the test set)."""
    sizes = list(train_sizes)
    if not sizes:
        raise ConfigError(f"{where}: no train sizes")
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 2:
            raise ConfigError(f"{where}: train sizes must be integers >= 2, got {n!r}")
    too_big = [int(n) for n in sizes if n > available]
    if too_big:
        raise ConfigError(f"{where}: train size{'s' if len(too_big) > 1 else ''} "
                          f"{', '.join(map(str, too_big))} exceed{'' if len(too_big) > 1 else 's'}"
                          f" the {available} architectures left for training (pool minus "
                          "test set); choose smaller train sizes, another target, or a "
                          "smaller test set")
    return [int(n) for n in sizes]


def pool_rows(table: TableData, target: str, needs: Needs,
              require: Sequence[str] = ()) -> np.ndarray:
    """Table rows of the architectures that have the target, every needed and required
    column, and (if an encoding is needed) an encoded tensor; in table order.

    Raises:
        DataFormatError: a ``require`` column the table lacks (naming the table).
    """
    table.require_target(target)
    mask = table.valid(target)
    for c in (*needs.columns, *require):
        if not table.has(c):
            raise DataFormatError(f"table {table.name} has no numeric column {c!r} (required "
                                  "for the pool)")
        mask &= table.valid(c)
    if needs.encoding is not None:
        encoded = table.encoded_ids(needs.encoding)
        mask &= table.frame["arch_id"].isin(encoded).to_numpy()
    return np.flatnonzero(mask)


def _metric_options(params: Mapping[str, Any] | None) -> dict[str, Any]:
    ev = (params or {}).get("evaluation") or {}
    return {"precision_t": tuple(ev.get("precision_t", (0.5, 1, 5, 10))),
            "n_at_k": tuple(ev.get("n_at_k", (10,))),
            "precision_at_k": tuple(ev.get("precision_at_k", (10, 20))),
            "sparse_round": 0.1}


def _metrics(y: np.ndarray, pred: np.ndarray, predictor: FamilyPredictor,
             options: Mapping[str, Any]) -> dict[str, Any]:
    m = ranking_metrics(y, pred, **options)
    if not predictor.predicts_target:
        m["mae"] = m["rmse"] = m["sparse_kendall_tau"] = math.nan
    return m


def _plain(value: Any) -> Any:
    """numpy scalars and containers -> Python ones (JSON-able)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def evaluate(
    table: TableData,
    predictor: FamilyPredictor | str,
    seed: int,
    *,
    target: str | None = None,
    test_size: int | None = None,
    train_sizes: Sequence[int] | None = None,
    require: Sequence[str] = (),
    options: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate one predictor on one table for one seed (see the module docstring).

    Args:
        table: the loaded table (with its features directory for encoded predictors).
        predictor: a registry name (built with ``options``) or a built predictor.
        seed: the split's and the model's seed (NASLib's trial).
        target: default the table's ``default_target``.
        test_size: default :func:`default_test_size`.
        train_sizes: default :func:`default_train_sizes` (ignored by predictors that do
            not train).
        require: extra columns every pool architecture must have.
        options: the predictor's options (only with a registry name).
        params: params.yaml-like mapping: ``train``/``predictors``/``losses`` for
            model-based predictors, ``evaluation`` for the metric options.

    Returns:
        ``{"table", "benchmark", "predictor", "family", "seed", "target",
        "surrogate_labels", "pool_size", "test_size", "train_sizes", "needs",
        "options", "test_ids", "train_ids", "rows"}``; ``rows`` holds one dict per train
        size (one with ``train_size`` 0 for predictors that do not train).

    Raises:
        ConfigError: bad options or sizes (a train size above the pool minus the test
            set), naming the predictor and the table.
        DataFormatError: the table lacks the target, a proxy or a fidelity (naming the
            predictor, the proxy/fidelity and the table).
    """
    return evaluate_seeds(table, predictor, [seed], target=target, test_size=test_size,
                           train_sizes=train_sizes, require=require, options=options,
                           params=params)[0]


@dataclass
class _SeedRun:
    """One seed of :func:`evaluate_seeds`, set up: its predictor, pool and split."""

    seed: int
    pred: FamilyPredictor
    needs: Needs
    pool: int
    split: Split
    sizes: list[int]
    batch: ArchBatch
    target: str
    test_size: int


def evaluate_seeds(
    table: TableData,
    predictor: FamilyPredictor | str,
    seeds: Sequence[int],
    *,
    target: str | None = None,
    test_size: int | None = None,
    train_sizes: Sequence[int] | None = None,
    require: Sequence[str] = (),
    options: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """:func:`evaluate` for each of ``seeds``, with the same results, in order.

    A predictor that trains a torch network (``mlp``, ``gcn``, ``lenet``; ``omni`` with
    one: :meth:`~nasrank.families.predictors.FamilyPredictor.sweep_fit`) is trained for
    every seed and train size in ONE :func:`nasrank.sweep.fit_predictors` call before
    the seeds are evaluated: each run's predictions are bit-identical whichever runs
    share the sweep, so the metrics are those of fitting one at a time (tested), and
    each row's ``fit_time_s`` is the run's share of the sweep's fit time. Every other
    predictor (trees, zero-cost, learning curves) is fitted seed by seed, size by size.
    A registry name builds a fresh predictor per seed (as :func:`evaluate`).
    """
    runs = []
    batches: dict[tuple[bytes, str | None], ArchBatch] = {}  # one pool read for all seeds
    for seed in seeds:
        runs.append(_setup(table, predictor, seed, target, test_size, train_sizes, require,
                           options, params, batches))
    fitted = _sweep_fits(runs)
    metric_options = _metric_options(params)
    return [_result(table, predictor, options, t,
                    _rows(table, t, metric_options, fitted.get(i, {})))
            for i, t in enumerate(runs)]


def _setup(table: TableData, predictor: FamilyPredictor | str, seed: int,
           target: str | None, test_size: int | None, train_sizes: Sequence[int] | None,
           require: Sequence[str], options: Mapping[str, Any] | None,
           params: Mapping[str, Any] | None,
           batches: dict[tuple[bytes, str | None], ArchBatch]) -> _SeedRun:
    """Build (or take) the predictor, prepare it, draw the pool and the split."""
    if isinstance(predictor, str):
        name = predictor
        pred = get_family_predictor(name, **dict(options or {}))
    else:
        if options:
            raise ConfigError("options are for a predictor given by name")
        pred, name = predictor, predictor.name
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    target = target or table.default_target
    table.require_target(target)
    test_size = default_test_size(table.bench) if test_size is None else test_size
    where = f"predictor {name!r} on table {table.name}"
    context = Context(bench=table.bench, task=table.meta.get("task"), table=table.name,
                      target=target, params=params, test_size=int(test_size))
    needs = pred.prepare(table, target, context)
    rows = pool_rows(table, target, needs, require)
    pool = len(rows)
    if pool <= test_size:
        raise ConfigError(f"{where}: only {pool} architectures have the target {target!r} "
                          f"and every column the predictor needs "
                          f"({', '.join(needs.columns) or 'none'}"
                          f"{', encoding ' + needs.encoding if needs.encoding else ''}); "
                          f"a test set of {test_size} leaves none to train on")
    split = naslib_split(pool, int(test_size), int(seed))
    if pred.trains:
        sizes = check_train_sizes(
            default_train_sizes(table.bench) if train_sizes is None else train_sizes,
            len(split.train), where)
    else:
        sizes = [0]
    key = (rows.tobytes(), needs.encoding)
    if key not in batches:
        batches[key] = table.batch(rows, needs.encoding)
    return _SeedRun(int(seed), pred, needs, pool, split, sizes, batches[key], target,
                  int(test_size))


def _sweep_fits(runs: Sequence[_SeedRun]) -> dict[int, dict[int, Any]]:
    """Per seed (position in ``runs``) and train size, the predictor fitted by one sweep
    of every torch training (:meth:`FamilyPredictor.sweep_fit`); empty for the others."""
    from nasrank.sweep import fit_predictors

    wanted: dict[str, Any] = {}                      # run id -> SweepFit, once each
    where: list[tuple[int, int, str]] = []           # (seed position, size, run id)
    for i, t in enumerate(runs):
        if not t.pred.trains:
            continue
        y_all = t.batch.column(t.target)
        for n in dict.fromkeys(t.sizes):
            idx = t.split.train[:n]
            run = t.pred.sweep_fit(t.batch.take(idx), y_all[idx], t.seed)
            if run is None:
                break
            wanted.setdefault(run.cfg.run_id, run)
            where.append((i, n, run.cfg.run_id))
    if not wanted:
        return {}
    groups: dict[str, list[str]] = {}                # one sweep per layout (one in practice)
    for run_id, run in wanted.items():
        groups.setdefault(json.dumps(run.layout, sort_keys=True), []).append(run_id)
    fitted: dict[str, Any] = {}
    for ids in groups.values():
        todo = [wanted[k] for k in ids]
        fitted.update(zip(ids, fit_predictors([r.cfg for r in todo], [r.x for r in todo],
                                              [r.y for r in todo], todo[0].layout),
                          strict=True))
    out: dict[int, dict[int, Any]] = {}
    for i, n, run_id in where:
        out.setdefault(i, {})[n] = fitted[run_id]
    return out


def _rows(table: TableData, t: _SeedRun, metric_options: Mapping[str, Any],
          fitted: Mapping[int, Any]) -> list[dict[str, Any]]:
    """One result row per train size: fit (or take the sweep's fit), query, metrics."""
    pred, batch, split = t.pred, t.batch, t.split
    y_all = batch.column(t.target)
    test = batch.take(split.test)
    y_test = y_all[split.test]
    label_times = table.training_time(batch.frame, table.final_epochs(t.target) or math.nan)

    out_rows = []
    for n in t.sizes:
        fit_s, label_s, known = 0.0, 0.0, 0  # nothing trained: no labels, no fit
        if pred.trains:
            idx = split.train[:n]
            if n in fitted:
                pred.use_fitted(fitted[n])
                fit_s = float(fitted[n].timing["fit_time_s"])
            else:
                train = batch.take(idx)
                t0 = time.perf_counter()
                if pred.wants_unlabeled:   # SemiNAS: the pool outside train and test sets
                    pred.fit(train, y_all[idx], t.seed,
                             unlabeled=batch.take(split.train[n:]))
                else:
                    pred.fit(train, y_all[idx], t.seed)
                fit_s = time.perf_counter() - t0
            lt = label_times[idx]
            known = int(np.isfinite(lt).sum())
            label_s = float(np.nansum(lt)) if known else math.nan  # NaN: none recorded
        t0 = time.perf_counter()
        y_pred = np.asarray(pred.query(test), dtype=np.float64)
        compute_s = (time.perf_counter() - t0) / len(test)
        data_s = float(pred.data_time(test))
        row: dict[str, Any] = {"train_size": int(n), "n_test": len(test)}
        row.update(_metrics(y_test, y_pred, pred, metric_options))
        row.update({
            "fit_time_s": fit_s,
            "query_time_compute_s": compute_s,
            "query_time_data_s": data_s,
            "query_time_s": compute_s + data_s,
            "label_time_s": label_s,
            "label_time_known": known,
            "init_time_s": fit_s + (label_s if known else 0.0),
        })
        row.update(pred.fit_details() if n not in fitted else {})
        out_rows.append(row)
    return out_rows


def _result(table: TableData, predictor: FamilyPredictor | str,
            options: Mapping[str, Any] | None, t: _SeedRun,
            rows: list[dict[str, Any]]) -> dict[str, Any]:
    pred, sizes = t.pred, t.sizes
    name = predictor if isinstance(predictor, str) else predictor.name
    spec = family_spec(name) if isinstance(predictor, str) else None
    ids = t.batch.ids
    return _plain({
        "table": table.name,
        "benchmark": table.bench,
        "predictor": name,
        "family": pred.family,
        "seed": t.seed,
        "target": t.target,
        "surrogate_labels": table.surrogate_labels,
        "pool_size": t.pool,
        "test_size": t.test_size,
        "train_sizes": sizes,
        "needs": {"columns": list(t.needs.columns), "encoding": t.needs.encoding,
                  **t.needs.details},
        "options": dict(pred.options) if spec is None else
        {**spec.defaults, **dict(options or {})},
        "test_ids": list(ids[t.split.test]),
        "train_ids": list(ids[t.split.train[: max(sizes)]]) if pred.trains else [],
        "rows": rows,
    })


def run_family(
    table: str,
    predictor: str,
    seed: int,
    settings: Mapping[str, Any] | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    processed_dir: str | Path | None = None,
    features_dir: str | Path | None = None,
) -> dict[str, Any]:
    """The entry point for a CLI command or a Snakemake rule: one (table, predictor,
    seed) under NASLib's protocol.

    Args:
        table: processed table stem (``nb201-cifar10``, ``nb101``, ``darts``).
        predictor: a family predictor name (:data:`~nasrank.families.FAMILY_PREDICTORS`).
        seed: the split's and the model's seed.
        settings: keys of :data:`SETTINGS_DEFAULTS` (``target``, ``test_size``,
            ``train_sizes``, ``require``, ``options``); others are a ConfigError.
        params: params.yaml-like mapping: ``data.processed_dir``/``features_dir`` (unless
            given here), ``train``/``predictors``/``losses`` (model-based trainers) and
            ``evaluation`` (metric options).
        processed_dir, features_dir: override ``params["data"]``.

    Returns:
        As :func:`evaluate`, plus ``"settings"`` (the resolved settings).
    """
    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(SETTINGS_DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown family settings {unknown}; known: "
                          f"{', '.join(SETTINGS_DEFAULTS)}")
    s = {**SETTINGS_DEFAULTS, **settings}
    data = (params or {}).get("data") or {}
    processed_dir = processed_dir or data.get("processed_dir")
    features_dir = features_dir or data.get("features_dir")
    if processed_dir is None:
        raise ConfigError("run_family needs processed_dir (or params['data'])")
    td = TableData.load(table, processed_dir, features_dir)
    require = s["require"]
    if isinstance(require, str):
        require = [require]
    result = evaluate(td, predictor, seed, target=s["target"], test_size=s["test_size"],
                      train_sizes=s["train_sizes"], require=list(require),
                      options=s["options"], params=params)
    result["settings"] = _plain({**s, "target": result["target"],
                                 "test_size": result["test_size"]})
    return result


def results_frame(results: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (result, train size): the result's identity columns, then the row."""
    keys = ("table", "predictor", "family", "seed", "target", "pool_size", "test_size")
    records = []
    for r in results:
        for row in r["rows"]:
            records.append({**{k: r[k] for k in keys}, **row})
    return pd.DataFrame.from_records(records)


def zero_cost_table(
    table: TableData | str,
    processed_dir: str | Path | None = None,
    target: str | None = None,
    proxies: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Rank correlation of every zero-cost proxy of a table with its target.

    Over all architectures that have both the proxy's score and the target (``n``):
    Spearman's rho and Kendall's tau-b (signed, and their absolute values), plus the
    proxy's mean recorded compute time (NaN without one).

    Args:
        table: a loaded table, or a table stem with ``processed_dir``.
        target: default the table's ``default_target``.
        proxies: default every proxy of the table (``n`` 0 and NaN correlations for a
            proxy without values); named ones must have values.

    Returns:
        Columns ``table, target, proxy, n, spearman, abs_spearman, kendall_tau,
        abs_kendall_tau, mean_time_s``; one row per proxy, in proxy order.

    Raises:
        DataFormatError: a proxy the table lacks (naming both) or a missing target.
    """
    if isinstance(table, str):
        if processed_dir is None:
            raise ConfigError("zero_cost_table needs processed_dir with a table name")
        table = TableData.load(table, processed_dir)
    target = target or table.default_target
    table.require_target(target)
    if proxies is None:
        # every proxy, with n = 0 for those NASLib could not compute on this table
        proxies = zero_cost_proxies(table.path)
        cols = zero_cost_columns(table.path)
    else:
        cols = require_zero_cost(table.path, proxies, table=table.name)
    if not proxies:
        raise DataFormatError(f"table {table.name} has no zero-cost proxies")
    tmap = (table.meta.get("zero_cost") or {}).get("time_columns", {})
    y = table.frame[target].to_numpy(dtype=np.float64)
    records = []
    for proxy, col in zip(proxies, cols, strict=True):
        s = table.frame[col].to_numpy(dtype=np.float64)
        ok = np.isfinite(s) & np.isfinite(y)
        n = int(ok.sum())
        if n >= 2 and np.ptp(s[ok]) > 0 and np.ptp(y[ok]) > 0:
            rho = float(stats.spearmanr(y[ok], s[ok]).statistic)
            tau = float(stats.kendalltau(y[ok], s[ok]).statistic)
        else:
            rho = tau = math.nan
        tcol = tmap.get(proxy)
        if tcol and table.has(tcol):
            t = table.frame[tcol].to_numpy(dtype=np.float64)[ok]
            mean_t = float(np.nanmean(t)) if np.isfinite(t).any() else math.nan
        else:
            mean_t = math.nan
        records.append({"table": table.name, "target": target, "proxy": proxy, "n": n,
                        "spearman": rho, "abs_spearman": abs(rho), "kendall_tau": tau,
                        "abs_kendall_tau": abs(tau), "mean_time_s": mean_t})
    return pd.DataFrame.from_records(records)


__all__ = [
    "DARTS_TRAIN_SIZES",
    "NASLIB_TRAIN_SIZES",
    "SETTINGS_DEFAULTS",
    "Split",
    "check_train_sizes",
    "default_test_size",
    "default_train_sizes",
    "evaluate",
    "evaluate_seeds",
    "naslib_split",
    "pool_rows",
    "results_frame",
    "run_family",
    "zero_cost_table",
]
