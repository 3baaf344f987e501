"""Search jobs of params.yaml: labelled pools from processed tables, predictors as fitness.

A :class:`SearchJob` is one search configuration run over several seeds (one Snakemake
job, one DVC stage): a processed table, an algorithm of :data:`nasrank.search.SEARCHES`,
its budgets and, for the predictor-guided algorithms, an encoding, a predictor and a loss.
Every seed writes ``reports/search/<job.key>/s<seed>.json``.

* ``renas_ga`` (ReNAS Algorithm 1): a training sample of ``train_size`` labelled
  architectures is drawn (``sample``: at random, or spread uniformly over the sorted
  parameter counts or FLOPs), the predictor is trained once on it, the GA runs with the
  predictor as fitness and the predicted top-``budget`` are queried.
* ``predictor_nas``, ``npenas_loop``, ``bananas_loop``: budgeted loops; the predictor (an
  ensemble of them for ``bananas_loop``) is refitted on every architecture queried so far
  (:func:`fit_predict_from`). The job runs once at its largest budget; the
  result at a smaller budget ``b`` is that of the first ``b`` queries, which is exactly what
  a run with budget ``b`` queries (tested), so one run serves every budget.

The seeds of a predictor search train together (:func:`nasrank.sweep.fit_predictors`:
each run's result is bit-identical whichever runs share the call, so every report is the
same bytes as a seed run alone; tested). ``renas_ga`` fits every seed's predictor in one
sweep before the GAs run. The refitting searches run their seeds in lock step
(:func:`lockstep`): each seed's search runs in a thread of its own, and its
``fit_predict`` waits until every seed still searching has asked for a refit; the main
thread then fits all of them as one sweep, predicts each seed's candidates and lets the
searches go on. The reports are written after the searches, in seed order.
* ``random`` and ``regularized_evolution``: true-accuracy baselines, read off the same
  way: the first ``b`` queries of a random search are a uniform sample of ``b``, and
  regularized evolution's first ``b`` queries are what a run with budget ``b`` queries
  once ``b`` reaches its population. So a table's best-so-far never drops as the budget
  grows.

The candidates are the labelled architectures of the table (``Pool``), optionally
restricted to a ``subspace``: NAS-Bench-101 labels 30,001 of its 423,624 cells in the
files used here, so its searches pick among those, and every output says so. Ranks and
percentiles are within all labelled architectures of the table.

The package is cut along what a search job does: :mod:`~nasrank.search.jobs` (the jobs
of params.yaml), :mod:`~nasrank.search.pools` (the labelled candidates and training
samples), :mod:`~nasrank.search.refits` (predictors refitted in lock step), this module
(running a job) and :mod:`~nasrank.search.results` (reading the reports back).

Usage::

    job = find_job(params, "nb101/renas_ga/renas_tensor-lenet-lr-random-all-n424")
    run_job(job, params)                        # writes the per-seed JSON files
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nasrank import numerics
from nasrank.errors import ConfigError, UnknownNameError
from nasrank.io import write_json
from nasrank.metrics import strict_metrics
from nasrank.paths import Paths
from nasrank.search import FitPredict, Pool, SearchResult, get_search
from nasrank.search.jobs import PREDICTOR_SEARCHES, SearchJob
from nasrank.search.pools import COSTS, SAMPLES, LabelledPool, load_pool, percentile_rank
from nasrank.search.refits import Refit, Refits, Request, lockstep, name_error, run_config

log = logging.getLogger("nasrank.search")

__all__ = ["run_job"]


def _best_of(pool: Pool, queried: tuple[str, ...]) -> int:
    """Pool index of the most accurate of ``queried`` (first in query order on ties)."""
    idx = [pool.index[k] for k in queried]
    return idx[int(np.argmax(pool.accuracy[idx]))]


def _budget_entry(lp: LabelledPool, queried: tuple[str, ...], budget: int) -> dict[str, Any]:
    i = _best_of(lp.pool, queried)
    acc = float(lp.pool.accuracy[i])
    rank, pct = percentile_rank(lp.labelled_acc, acc)
    return {"budget": budget, "queries": len(queried), "best_arch_id": lp.pool.arch_ids[i],
            "best_accuracy": acc, "best_rank": rank, "best_percentile": pct,
            "pool_rank": lp.pool.rank(i)}


def _seed_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for the training sample and the search itself."""
    a, b = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(a), np.random.default_rng(b)


def run_job(job: SearchJob, params: dict[str, Any], seeds: tuple[int, ...] | None = None
            ) -> list[Path]:
    """Run ``job`` for ``seeds`` (default: all of the job's) and write one JSON per seed.

    The predictor searches train every seed's predictors together (see the module);
    their reports are written once every seed has finished, in seed order, each
    atomically; the same bytes as running the seeds one at a time.

    Returns:
        The written paths.

    Raises:
        ConfigError: a budget larger than the pool, a train size that does not fit, a
            sample selection without a cost attribute for the benchmark, bad options.
        NasrankError: a predictor search's seed failed (its message names the search and
            the seed; no report of the job is written), or a fit failed (its message
            names the run, hence the seed).
    """
    seeds = job.seeds if seeds is None else tuple(dict.fromkeys(seeds))  # each seed once
    unknown = sorted(set(seeds) - set(job.seeds))
    if unknown:
        raise ConfigError(f"search {job.key}: seed {unknown[0]} is not one of the job's "
                          f"seeds {list(job.seeds)}")
    scfg = params["search"]
    options = dict(scfg["algorithms"].get(job.search, {}))
    algo = get_search(job.search, **options)
    lp = load_pool(params, job.table, subspace=job.subspace)
    pool = lp.pool
    for b in job.budgets:
        if b > len(pool):
            raise ConfigError(f"search {job.key}: budget {b} exceeds the {len(pool):,} "
                              f"labelled architectures of the pool ({lp.candidates})")
    refitting = algo.needs == "fit_predict"    # predictor_nas and NASLib's loops
    if refitting and min(job.budgets) < algo.options["init"]:
        raise ConfigError(f"search {job.key}: budget {min(job.budgets)} is below "
                          f"{job.search}'s init {algo.options['init']}")
    x = layout = None
    if job.search in PREDICTOR_SEARCHES:
        if job.encoding is None or job.predictor is None or job.loss is None:
            raise ConfigError(f"search {job.key}: {job.search} needs an encoding, a "
                              "predictor and a loss")
        from nasrank.train import check_loss, load_run_inputs

        probe = run_config(job, params, job.train_size or 1, 0)
        check_loss(probe)
        _, _, _, enc, x = load_run_inputs(probe, params, ids=pool.arch_ids)
        layout = enc.layout
    cost = None
    if job.search == "renas_ga":
        n = job.train_size
        if n is None or not 2 <= n <= len(pool):
            raise ConfigError(f"search {job.key}: train size {n} does not fit the "
                              f"{len(pool):,} architectures of the pool")
        if job.sample not in SAMPLES:
            raise UnknownNameError("training-sample selection", job.sample, list(SAMPLES))
        attribute = SAMPLES[job.sample][0]
        if attribute is not None:
            if job.bench not in COSTS:
                raise ConfigError(f"search {job.key}: sample {job.sample!r} needs the "
                                  f"{attribute} of every architecture, which nasrank derives "
                                  f"for {', '.join(COSTS)} only")
            cost = COSTS[job.bench](params, pool.arch_ids, attribute)

    # predictor searches: every seed's predictors trained together (see the module)
    together: dict[int, tuple[SearchResult, dict[str, Any]]] = {}
    start = time.perf_counter()
    if job.search == "renas_ga":
        assert x is not None and layout is not None and job.train_size is not None
        together = _renas_ga_seeds(job, params, algo, lp, x, layout, cost, seeds)
    elif refitting:
        assert x is not None and layout is not None
        refits = Refits(job, params, pool.arch_ids, x, layout)

        def task(seed: int) -> Callable[[FitPredict], SearchResult]:
            rng_search = _seed_streams(seed)[1]
            return lambda fp: algo.run(lp.space, pool, rng_search, budget=max(job.budgets),
                                       fit_predict=fp)

        def refit(batch: list[tuple[int, Request]]) -> list[np.ndarray]:
            return refits([Refit(seeds[slot], *request) for slot, request in batch])

        finals = lockstep([task(s) for s in seeds], refit,
                          [f"search {job.key}, seed {s}" for s in seeds])
        together = {s: (final, {}) for s, final in zip(seeds, finals, strict=True)}

    written = []
    out_dir = job.output_dir(Paths.of(params))
    for seed in seeds:
        if seed in together:
            final, extra = together[seed]
        else:
            start = time.perf_counter()
            final = algo.run(lp.space, pool, _seed_streams(seed)[1], budget=max(job.budgets))
            extra = {}
        per_budget = [_budget_entry(lp, final.queried[:b], b) for b in job.budgets]
        best = per_budget[-1]
        report = {
            "key": job.key,
            "experiment": job.experiment,
            "table": job.table,
            "search": job.search,
            "seed": seed,
            "target": lp.target,
            "candidates": lp.candidates,
            "space_size": lp.space_size,
            "n_labelled": lp.n_labelled,
            "pool_size": len(pool),
            "encoding": job.encoding,
            "predictor": job.predictor,
            "loss": job.loss,
            "loss_options": None if job.loss is None else run_config(
                job, params, 1, seed).loss_options,
            "train_size": job.train_size,
            "sample": job.sample if job.search == "renas_ga" else None,
            "subspace": job.subspace,
            "options": final.options,
            "budgets": list(job.budgets),
            "results": per_budget,
            "best_arch_id": best["best_arch_id"],
            "best_accuracy": best["best_accuracy"],
            "best_rank": best["best_rank"],
            "best_percentile": best["best_percentile"],
            "queries": final.queries,
            "trajectory": list(final.trajectory),
            "queried": list(final.queried),
            "info": {**final.info, **extra},
            "numerics": numerics.provenance(),
        }
        dest = out_dir / f"s{seed}.json"
        write_json(dest, strict_metrics(report))
        written.append(dest)
        log.info("%s seed %d: best %.2f (rank %d, top %.3f %%) after %d queries in %.1f s%s",
                 job.key, seed, best["best_accuracy"], best["best_rank"],
                 best["best_percentile"], final.queries, time.perf_counter() - start,
                 f" ({len(seeds)} seeds together)" if together else "")
    return written


def _renas_ga_seeds(job: SearchJob, params: dict[str, Any], algo: Any, lp: LabelledPool,
                    x: np.ndarray, layout: dict[str, list[int]], cost: np.ndarray | None,
                    seeds: tuple[int, ...]) -> dict[int, tuple[SearchResult, dict[str, Any]]]:
    """``renas_ga`` for every seed: each seed's training sample drawn, their predictors
    fitted as one sweep, then each seed's GA with its predictor as fitness (``score`` is
    called with every unscored member of a population at once; ``FittedPredictor.predict``
    runs them in batches of ``nasrank.train.PREDICT_BATCH``)."""
    from nasrank.sweep import fit_predictors

    assert job.train_size is not None
    pool = lp.pool
    trains = [SAMPLES[job.sample][1](len(pool), job.train_size, _seed_streams(s)[0], cost)
              for s in seeds]
    cfgs = [run_config(job, params, job.train_size, s) for s in seeds]
    fitted = fit_predictors(cfgs, [x[t] for t in trains], [pool.accuracy[t] for t in trains],
                            layout)
    out = {}
    for seed, train, fp in zip(seeds, trains, fitted, strict=True):
        def score(arch_ids: np.ndarray, fp: Any = fp) -> np.ndarray:
            return fp.predict(x[[pool.index[k] for k in arch_ids]])

        try:
            final = algo.run(lp.space, pool, _seed_streams(seed)[1],
                             budget=max(job.budgets), score=score)
        except Exception as exc:
            name_error(exc, f"search {job.key}, seed {seed}")
            raise
        out[seed] = (final, {"train_best_accuracy": float(pool.accuracy[train].max())})
    return out

