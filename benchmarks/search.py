"""Benchmark of nasrank's predictor-guided searches on the CPU: GA generations/s and
candidates scored/s.

Predictor scoring in the searches is batched (``renas_ga`` scores a whole generation in
one call, ``predictor_nas`` every candidate in one call); this script measures what that
costs, in this one process, on the repository's real data, with the code the search jobs
run (:mod:`nasrank.search.runner`), torch limited to ``--threads`` threads (default 1, as
a Snakemake search job runs with ``OMP_NUM_THREADS=1``) and the predictors on the CPU
(``--device`` changes that). Three parts:

1. ``renas_ga`` -- the ReNAS GA on the NB101 labelled pool, exactly as ``run_job`` builds
   it: the pool (:func:`nasrank.search.pools.load_pool`), the features of its cells
   (:func:`nasrank.train.load_run_inputs`), a LeNet fitted with
   :func:`nasrank.train.fit_predictor` on ``search.renas.train_size`` (424) cells drawn
   at random from the seed's sample stream, then ``get_search("renas_ga", ...)`` with the
   options of ``search.algorithms.renas_ga`` and the LeNet as fitness. Reported: pool
   build, feature read and fit times; GA wall time and generations/s; the architectures
   scored (``info["scored"]``) and the score function's own time (wrapped: the feature
   gather apart from ``FittedPredictor.predict``), hence candidates scored/s; and the
   GA's non-scoring overhead (selection, mutation, crossover, pool look-ups) per
   generation = (GA wall - score time) / generations, broken down into the GA's calls
   of the space's ``mutate``, ``arch_id`` and ``validate`` (counted and timed by
   wrappers on the space object) and the rest, with the child attempts per accepted
   child (a child outside the labelled pool is drawn again).
2. ``batching`` -- ``FittedPredictor.predict`` of that LeNet over all labelled NB101
   feature tensors in one call vs in batches of 1, 10, 100 (a GA generation's typical
   batch) and 1,000 (at most 3,000 calls each: the small sizes time a prefix):
   architectures/s and ms per call of each, and the largest difference from the
   one-call output.
3. ``predictor_nas`` -- one iteration of the loss study's search on ``nb201-cifar10``
   (the ``search.loss_search`` predictor and encoding, the GCN): a
   :func:`nasrank.search.refits.fit_predict_from` call with 10, 50 and 100 labelled
   architectures and every other pool member as a candidate (~15.6k), as
   ``predictor_nas`` makes it; the fit and the prediction are timed apart by wrapping
   :func:`nasrank.sweep.fit_predictors` for the call. Also an estimate of one search's
   total fit/predict time at the largest ``loss_search`` budget (interpolated).

Inputs come from the params file's data directories (relative ones are taken from the
params file's directory; by default the repository's ``params.yaml`` and ``data/``):
``processed/nb101.parquet``, ``processed/spaces/nb101.parquet`` and
``features/nb101/renas_tensor.parquet`` for parts 1-2, ``processed/nb201-cifar10.parquet``
and ``features/nb201/gcn.parquet`` for part 3. A part whose inputs are missing is
reported as ``skipped`` with the reason (nothing is made up); with every part skipped the
report says so at the top level and the script still exits 0.

The report holds machine and torch details and two reference figures measured in the
same run (the float64 numpy matmul GFLOP/s of ``benchmarks/harness.py`` and a torch
float32 matmul GFLOP/s under the benchmark's thread setting), so timings from different
machines can be compared, and the load average at start and end (other work on the
machine makes timings noisy), and the peak RSS of the process. The full run takes about
two minutes on one thread of a busy 2-core machine (the LeNet's 200-epoch fit and the
batching passes dominate); ``--quick`` runs 2 GA generations, 5-epoch fits, one pass over
5,000 tensors (at most 300 calls per batch size) for the batching part and finishes in
well under a minute.

Usage::

    python benchmarks/search.py [--params FILE] [--quick] [--threads N] [--device cpu]
                                [--seed S] [--variant v4] [--nas-loss mse]
                                [--parts ga,batching,predictor_nas] [--out FILE]

Exits 0 when every part ran or was skipped for missing inputs, 1 when a part failed,
2 on a usage error.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from harness import REPO_PARAMS, emit, machine_info, reference_figure, version

NAS_TABLE = "nb201-cifar10"
NAS_SIZES = (10, 50, 100)
SCORE_BATCHES = (1, 10, 100, 1000)
SPACE_METHODS = ("mutate", "arch_id", "validate")
PARTS = ("ga", "batching", "predictor_nas")
# Full: the params' own GA generations and epochs, all labelled tensors, best of 2 passes,
# at most 3,000 predict calls per batch size (batch 1 and 10 then time a prefix).
FULL: dict[str, Any] = {"generations": None, "epochs": None, "score_rows": None,
                        "passes": 2, "max_calls": 3000}
QUICK: dict[str, Any] = {"generations": 2, "epochs": 5, "score_rows": 5000, "passes": 1,
                         "max_calls": 300}


# ----------------------------------------------------------------------- helpers


def load_bench_params(path: Path, device: str, epochs: int | None) -> dict[str, Any]:
    """The validated params with absolute data directories, ``device`` and ``epochs`` set.

    Relative data directories are resolved against the params file's directory (the
    repository root for its ``params.yaml``), so the script runs from anywhere. The
    device and the quick epochs override ``train`` and every ``train.by_predictor`` entry
    that sets them (the GCN sets its own epochs).
    """
    from nasrank.config import load_params

    params = copy.deepcopy(load_params(path))
    base = path.resolve().parent
    data = params["data"]
    for key in ("raw_dir", "processed_dir", "features_dir", "models_dir"):
        if data.get(key) and not Path(data[key]).is_absolute():
            data[key] = str(base / data[key])
    train = params["train"]
    train["device"] = device
    if epochs is not None:
        train["epochs"] = epochs
    for opts in (train.get("by_predictor") or {}).values():
        if "device" in opts:
            opts["device"] = device
        if epochs is not None and "epochs" in opts:
            opts["epochs"] = epochs
    return params


def missing_inputs(paths: list[Path]) -> str | None:
    """A ``skipped`` reason naming the missing input files, or None when all exist."""
    missing = [str(p) for p in paths if not p.is_file()]
    if not missing:
        return None
    return ("input files missing (build them with the pipeline: nasrank ingest / "
            f"enumerate / encode): {', '.join(missing)}")


def ga_inputs(params: dict[str, Any], variant: str) -> list[Path]:
    """The labelled table, the enumerated space (NB101) and the features the GA reads."""
    from nasrank.search.jobs import renas_job

    job = renas_job(params, variant)
    processed = Path(params["data"]["processed_dir"])
    paths = [processed / f"{job.table}.parquet"]
    if job.bench in ("nb101", "nb101_full"):  # NB101 specs come from the enumeration
        paths.append(processed / "spaces" / "nb101.parquet")
    return [*paths, Path(params["data"]["features_dir"]) / job.bench /
            f"{job.encoding}.parquet"]


def nas_inputs(params: dict[str, Any]) -> list[Path]:
    """The labelled table and the features of the predictor_nas part."""
    data = params["data"]
    bench = NAS_TABLE.split("-", 1)[0]
    encoding = params["search"]["loss_search"]["encoding"]
    return [Path(data["processed_dir"]) / f"{NAS_TABLE}.parquet",
            Path(data["features_dir"]) / bench / f"{encoding}.parquet"]


def seed_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """The training-sample and search generators of a seed, as ``run_job`` spawns them."""
    a, b = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(a), np.random.default_rng(b)


def torch_info() -> dict[str, Any]:
    """Torch version and the thread settings in effect."""
    import torch

    return {
        "torch": torch.__version__,
        "torch_dist": version("torch"),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "cuda_available": torch.cuda.is_available(),
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")},
    }


def torch_matmul_gflops(n: int = 1024, repeats: int = 5) -> dict[str, Any]:
    """Best-of float32 ``n x n`` CPU matmul throughput of torch with the threads in effect.

    The harness's float64 figure uses numpy's BLAS threads; this one shows what the
    predictors get under ``--threads``.
    """
    import torch

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    a @ b  # warm-up (thread pool)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return {f"torch_float32_matmul_{n}_gflops_best_of_{repeats}":
            round(2.0 * n**3 / best / 1e9, 2), "torch_threads": torch.get_num_threads()}


def peak_rss_mib() -> float | None:
    """This process's high-water resident memory (MiB), where ``resource`` exists."""
    try:
        import resource
    except ImportError:  # not on Unix
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (1024**2 if sys.platform == "darwin" else 1024), 1)


def rate(count: float, seconds: float) -> float | None:
    """``count / seconds`` rounded, or None for a zero time."""
    return round(count / seconds, 1) if seconds > 0 else None


class ScoreTimer:
    """Wraps a GA score function; counts calls, architectures and the time spent in it."""

    def __init__(self, gather: Callable[[np.ndarray], np.ndarray],
                 predict: Callable[[np.ndarray], np.ndarray]) -> None:
        self.gather, self.predict = gather, predict
        self.calls = self.archs = 0
        self.gather_s = self.predict_s = 0.0
        self.batches: list[int] = []

    def __call__(self, arch_ids: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        xb = self.gather(arch_ids)
        t1 = time.perf_counter()
        out = self.predict(xb)
        t2 = time.perf_counter()
        self.calls += 1
        self.archs += len(arch_ids)
        self.batches.append(len(arch_ids))
        self.gather_s += t1 - t0
        self.predict_s += t2 - t1
        return out

    @property
    def total_s(self) -> float:
        return self.gather_s + self.predict_s


class SpaceProbe:
    """Counts and times the GA's own calls of the space's ``mutate``, ``arch_id`` and
    ``validate`` (crossover validates its child; ``draw_in_pool`` identifies every child).

    Installed as instance attributes of the (benchmark-owned) space object; calls made
    from inside another probed call (``mutate`` identifies its children, ``arch_id``
    validates) count towards the outer one only, so the times do not overlap. The
    wrappers cost about a microsecond per call.
    """

    def __init__(self, space: Any) -> None:
        self.space = space
        self.depth = 0
        self.calls = dict.fromkeys(SPACE_METHODS, 0)
        self.seconds = dict.fromkeys(SPACE_METHODS, 0.0)
        for name in SPACE_METHODS:
            setattr(space, name, self._wrap(name, getattr(space, name)))

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if self.depth:
                return fn(*args, **kwargs)
            self.depth += 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t0
                self.calls[name] += 1
                self.depth -= 1

        return wrapped

    def remove(self) -> None:
        """Back to the class's methods."""
        for name in SPACE_METHODS:
            self.space.__dict__.pop(name, None)


# ----------------------------------------------------------------------- 1. renas_ga


def bench_ga(params: dict[str, Any], variant: str, seed: int, generations: int | None
             ) -> tuple[dict[str, Any], Any, np.ndarray]:
    """One seed of the ReNAS GA job as ``run_job`` runs it, every phase timed.

    Returns the report, the fitted predictor and the pool's features (for part 2).
    """
    from nasrank.search import get_search
    from nasrank.search.base import ceil_fraction
    from nasrank.search.jobs import renas_job
    from nasrank.search.pools import SAMPLES, load_pool
    from nasrank.train import check_loss, config_from_params, fit_predictor, load_run_inputs

    job = renas_job(params, variant)
    options = dict(params["search"]["algorithms"].get("renas_ga", {}))
    if generations is not None:
        options["generations"] = generations
    algo = get_search("renas_ga", **options)

    t0 = time.perf_counter()
    lp = load_pool(params, job.table, subspace=job.subspace)
    pool_s = time.perf_counter() - t0
    pool = lp.pool
    cfg = config_from_params(params, bench=job.bench,
                             task=job.table.partition("-")[2] or None, encoding=job.encoding,
                             predictor=job.predictor, loss=job.loss,
                             train_size=job.train_size, seed=seed)
    check_loss(cfg)
    t0 = time.perf_counter()
    _, _, _, enc, x = load_run_inputs(cfg, params, ids=pool.arch_ids)
    read_s = time.perf_counter() - t0

    rng_sample, rng_search = seed_streams(seed)
    assert job.train_size is not None
    train = SAMPLES[job.sample][1](len(pool), job.train_size, rng_sample, None)
    t0 = time.perf_counter()
    fitted = fit_predictor(cfg, x[train], pool.accuracy[train], enc.layout)
    fit_s = time.perf_counter() - t0

    # The score function of run_job (features gathered by pool index, then predict),
    # split in two so the gather and the predictor are timed apart.
    timer = ScoreTimer(lambda ids: x[[pool.index[k] for k in ids]], fitted.predict)
    probe = SpaceProbe(lp.space)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        result = algo.run(lp.space, pool, rng_search, budget=max(job.budgets), score=timer)
        ga_s, ga_cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        probe.remove()

    gens = algo.options["generations"]
    scored = int(result.info["scored"])
    overhead = ga_s - timer.total_s
    size = min(algo.options["population"], len(pool))
    children = gens * (size - min(size, ceil_fraction(algo.options["selection"], size)))
    space_s = sum(probe.seconds.values())
    breakdown = {
        "space_calls": dict(probe.calls),
        "space_s": {k: round(v, 4) for k, v in probe.seconds.items()},
        "space_us_per_call": {k: round(probe.seconds[k] / c * 1e6, 1)
                              for k, c in probe.calls.items() if c},
        "rest_s": round(overhead - space_s, 4),
        "children": children,
        "child_attempts": probe.calls["arch_id"],
        "attempts_per_child": round(probe.calls["arch_id"] / children, 2) if children else None,
        "timed": "outer calls of the space's methods made by the GA (mutate includes the "
                 "arch_id of its own children); rest: selection, crossover's own row/op "
                 "mixing, pool look-ups, random draws, fallbacks; children: those added "
                 "to the populations (fallbacks included); child_attempts: children "
                 "identified with arch_id in draw_in_pool (outside the pool or already in "
                 "the population -> drawn again)",
    }
    report: dict[str, Any] = {
        "job": job.key,
        "variant": variant,
        "seed": seed,
        "pool": {"table": job.table, "size": len(pool), "candidates": lp.candidates,
                 "build_s": round(pool_s, 3)},
        "features": {"encoding": job.encoding, "shape": list(x.shape),
                     "read_s": round(read_s, 3)},
        "fit": {
            "predictor": cfg.predictor, "loss": cfg.loss, "n_train": len(train),
            "epochs": cfg.epochs, "batch_size": cfg.batch_size, "device": fitted.device,
            "wall_s": round(fit_s, 3),
            "samples_per_s": rate(cfg.epochs * len(train), fit_s),
        },
        "ga": {
            "options": dict(algo.options),
            "budget": max(job.budgets),
            "wall_s": round(ga_s, 3),
            "process_cpu_s": round(ga_cpu, 3),
            "generations": gens,
            "generations_per_s": rate(gens, ga_s),
            "scored": scored,
            "score_calls": timer.calls,
            "score_batch_mean": round(timer.archs / timer.calls, 1) if timer.calls else None,
            "score_batch_min_max": [min(timer.batches), max(timer.batches)]
            if timer.batches else None,
            "score_s": round(timer.total_s, 4),
            "score_gather_s": round(timer.gather_s, 4),
            "score_predict_s": round(timer.predict_s, 4),
            "candidates_scored_per_s": rate(timer.archs, timer.total_s),
            "candidates_scored_per_s_ga_wall": rate(scored, ga_s),
            "non_scoring_overhead_s": round(overhead, 4),
            "non_scoring_overhead_ms_per_generation": round(overhead / gens * 1e3, 2),
            "score_share_of_wall": round(timer.total_s / ga_s, 3) if ga_s > 0 else None,
            "overhead_breakdown": breakdown,
            "fallbacks": result.info.get("fallbacks"),
            "crossover_fallbacks": result.info.get("crossover_fallbacks"),
            "queries": result.queries,
            "best_accuracy": result.best_accuracy,
            "best_rank_in_pool": result.best_rank,
        },
        "job_seed_total_s": round(pool_s + read_s + fit_s + ga_s, 3),
        "timed": "score_s: the score function alone (wrapped), i.e. the feature gather "
                 "x[[pool.index[k] for k in ids]] plus FittedPredictor.predict; overhead: "
                 "the GA wall time less score_s (selection, crossover, mutation, arch_id "
                 "and pool look-ups, the final top-k queries), per generation",
    }
    if timer.archs != scored:  # each architecture is scored once (the GA caches)
        report["ga"]["note"] = f"{timer.archs} architectures passed to score, " \
                               f"{scored} distinct scored"
    return report, fitted, x


# ----------------------------------------------------------------------- 2. batching


def bench_batching(fitted: Any, x: np.ndarray, rows: int | None, passes: int,
                   max_calls: int, seed: int) -> dict[str, Any]:
    """``FittedPredictor.predict`` over the tensors in one call vs in small batches.

    Each batch size runs at most ``max_calls`` calls (a prefix of the tensors for the
    small sizes), so batch 1 shows the per-call cost without 30,000 calls.
    """
    n_all = x.shape[0]
    subset = None
    if rows is not None and rows < n_all:
        pick = np.sort(np.random.default_rng(seed).choice(n_all, size=rows, replace=False))
        x = x[pick]
        subset = f"random {rows} of the {n_all} labelled tensors (seed {seed})"
    x = np.ascontiguousarray(x)
    n = x.shape[0]
    fitted.predict(x[:100])  # warm-up

    def best_of(fn: Callable[[], np.ndarray]) -> tuple[float, list[float], np.ndarray]:
        times, out = [], np.empty(0)
        for _ in range(passes):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        return min(times), times, out

    one_s, one_times, ref = best_of(lambda: fitted.predict(x))
    from nasrank.train import predict_batch

    rows_out: list[dict[str, Any]] = [{
        "batch": "all (one call)", "calls": 1, "wall_s_per_pass": [round(t, 4) for t in
                                                                     one_times],
        "archs_per_s": rate(n, one_s), "ms_per_call": round(one_s * 1e3, 3)}]
    for b in SCORE_BATCHES:
        m = min(n, max_calls * b)

        def batched(b: int = b, m: int = m) -> np.ndarray:
            return np.concatenate([fitted.predict(x[i : min(i + b, m)])
                                   for i in range(0, m, b)])

        best, times, out = best_of(batched)
        calls = math.ceil(m / b)
        per_s = m / best if best > 0 else math.nan
        rows_out.append({
            "batch": b, "n_archs_timed": m, "calls": calls,
            "wall_s_per_pass": [round(t, 4) for t in times],
            "archs_per_s": rate(m, best), "ms_per_call": round(best / calls * 1e3, 3),
            "one_call_over_batched_throughput": round(n / one_s / per_s, 2) if one_s > 0 else None,
            "max_abs_diff_vs_one_call": float(np.abs(out - ref[:m]).max()),
        })
    return {
        "timed": "FittedPredictor.predict (feature scaling, eval-mode no_grad forward in "
                 f"chunks of at most {predict_batch(fitted.device)}, label scaling back) of "
                 "the part-1 LeNet; best of the passes",
        "n_archs": n,
        "subset": subset,
        "passes": passes,
        "by_batch": rows_out,
    }


# ----------------------------------------------------------------------- 3. predictor_nas


@contextmanager
def timed_fit_predictor(log: list[dict[str, Any]]) -> Iterator[None]:
    """Time the fits and predictions behind ``fit_predict_from``'s closure.

    ``fit_predict_from`` refits through :func:`nasrank.sweep.fit_predictors` (imported when
    it is called), so a wrapper installed here for the call records each fit's time (one
    entry per run of the sweep, a single run here) and the time of the returned
    predictor's ``predict``; the original is restored on exit.
    """
    import nasrank.sweep as sweep_mod

    original = sweep_mod.fit_predictors

    def wrapped(cfgs: Any, xs: Any, ys: Any, layout: dict[str, list[int]], **kw: Any) -> Any:
        t0 = time.perf_counter()
        fitted = original(cfgs, xs, ys, layout, **kw)
        fit_s = time.perf_counter() - t0
        for cfg, y, fp in zip(cfgs, ys, fitted, strict=True):
            entry: dict[str, Any] = {"fit_s": fit_s / len(cfgs), "train_size": len(y),
                                     "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                                     "loss": cfg.loss, "device": fp.device}
            predict = fp.predict

            def timed_predict(xc: np.ndarray, predict: Any = predict,
                              entry: dict[str, Any] = entry) -> np.ndarray:
                t1 = time.perf_counter()
                out = predict(xc)
                entry["predict_s"] = time.perf_counter() - t1
                entry["n_predicted"] = len(xc)
                return out

            fp.predict = timed_predict
            log.append(entry)
        return fitted

    sweep_mod.fit_predictors = wrapped
    try:
        yield
    finally:
        sweep_mod.fit_predictors = original


def bench_predictor_nas(params: dict[str, Any], loss: str, seed: int) -> dict[str, Any]:
    """One ``fit_predict`` call of the loss study's search per labelled-set size."""
    from nasrank.search.jobs import SearchJob
    from nasrank.search.pools import load_pool
    from nasrank.search.refits import fit_predict_from
    from nasrank.train import check_loss, config_from_params, load_run_inputs

    ls = params["search"]["loss_search"]
    job = SearchJob(NAS_TABLE, "predictor_nas", tuple(sorted(ls["budgets"])),
                    tuple(ls["seeds"]), "loss_search", ls["encoding"], ls["predictor"], loss,
                    loss_options=dict(ls["loss_options"].get(loss, {})))
    t0 = time.perf_counter()
    lp = load_pool(params, job.table, subspace=job.subspace)
    pool_s = time.perf_counter() - t0
    pool = lp.pool
    probe = config_from_params(params, bench=job.bench, task=NAS_TABLE.partition("-")[2],
                               encoding=job.encoding, predictor=job.predictor, loss=loss,
                               train_size=1, seed=seed)
    check_loss(probe)
    t0 = time.perf_counter()
    _, _, _, enc, x = load_run_inputs(probe, params, ids=pool.arch_ids)
    read_s = time.perf_counter() - t0

    rows: list[dict[str, Any]] = []
    for n in NAS_SIZES:
        if n >= len(pool):
            rows.append({"n_labelled": n, "skipped": f"pool of {len(pool)} only"})
            continue
        # As predictor_nas calls it: the labelled set in query order, every other pool
        # member (in pool order) a candidate.
        rng = np.random.default_rng([seed, n])
        train = rng.choice(len(pool), size=n, replace=False)
        queried = np.zeros(len(pool), dtype=bool)
        queried[train] = True
        candidates = np.flatnonzero(~queried)
        log: list[dict[str, Any]] = []
        with timed_fit_predictor(log):
            fp = fit_predict_from(job, params, pool.arch_ids, x, enc.layout, seed)
            t0 = time.perf_counter()
            scores = fp(pool.arch_ids[train], pool.accuracy[train].copy(),
                        pool.arch_ids[candidates], n_labelled=n)
            call_s = time.perf_counter() - t0
        entry = log[0]
        predict_s = entry.get("predict_s", math.nan)
        rows.append({
            "n_labelled": n,
            "n_candidates": len(candidates),
            "epochs": entry["epochs"],
            "batch_size": entry["batch_size"],
            "fit_predict_s": round(call_s, 3),
            "fit_s": round(entry["fit_s"], 3),
            "fit_steps": entry["epochs"] * _steps_per_epoch(n, entry["batch_size"]),
            "predict_s": round(predict_s, 4),
            "other_s": round(call_s - entry["fit_s"] - predict_s, 4),
            "candidates_scored_per_s": rate(len(candidates), predict_s),
            "scores_finite": bool(np.isfinite(scores).all()),
        })

    done = [r for r in rows if "fit_predict_s" in r]
    opts = params["search"]["algorithms"].get("predictor_nas", {})
    init, per_iter = int(opts.get("init", 10)), int(opts.get("per_iter", 10))
    budget = max(job.budgets)
    calls = list(range(init, budget, per_iter))
    estimate = None
    if len(done) >= 2 and calls:
        est = np.interp(calls, [r["n_labelled"] for r in done],
                        [r["fit_predict_s"] for r in done])
        estimate = {
            "budget": budget, "fit_predict_calls": len(calls),
            "n_labelled_per_call": calls,
            "est_fit_predict_s": round(float(est.sum()), 1),
            "method": "linear interpolation of the measured fit_predict_s over n_labelled "
                      "(one search seed; the queries themselves cost nothing)",
        }
    return {
        "table": NAS_TABLE,
        "job": job.key,
        "encoding": job.encoding,
        "predictor": job.predictor,
        "loss": loss,
        "loss_options": {**probe.loss_options, **job.loss_options},
        "pool": {"size": len(pool), "candidates": lp.candidates, "build_s": round(pool_s, 3)},
        "features": {"shape": list(x.shape), "read_s": round(read_s, 3)},
        "timed": "fit_predict_from(...)(train_ids, train_acc, candidate_ids, n_labelled=n): "
                 "fit_s and predict_s from nasrank.sweep.fit_predictors and the returned "
                 "FittedPredictor.predict, wrapped for the call; other_s: config and "
                 "feature gathers",
        "by_n_labelled": rows,
        "search_estimate": estimate,
    }


def _steps_per_epoch(n: int, batch: int) -> int:
    """Optimiser steps of one epoch (``nasrank.train._batches`` folds a last batch of 1)."""
    steps = math.ceil(n / batch)
    return steps - 1 if steps > 1 and n % batch == 1 else steps


# ----------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=Path, default=REPO_PARAMS,
                        help="params file (default: the repository's params.yaml); its data "
                             "directories hold the inputs")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--quick", action="store_true",
                        help="2 GA generations, 5-epoch fits, 5,000 tensors for batching")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (default 1, one Snakemake search job)")
    parser.add_argument("--device", choices=("cpu", "auto", "cuda"), default="cpu",
                        help="where the predictors run (default cpu)")
    parser.add_argument("--seed", type=int, default=0, help="search seed (0)")
    parser.add_argument("--variant", default=None,
                        help="ReNAS variant of experiments.renas_variants for the GA "
                             "(default: search.renas.subspace.variant, v4: renas_tensor + lr)")
    parser.add_argument("--nas-loss", default=None,
                        help="loss of the predictor_nas part (default: the first of "
                             "search.loss_search.losses)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated parts to run (default: {','.join(PARTS)})")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or not set(parts) <= set(PARTS):
        parser.error(f"--parts takes a comma-separated subset of {', '.join(PARTS)}")

    started = time.perf_counter()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    cfg = dict(QUICK if args.quick else FULL)
    from nasrank.errors import NasrankError

    try:
        params = load_bench_params(args.params, args.device, cfg["epochs"])
    except NasrankError as exc:
        parser.error(str(exc))
    variant = args.variant or params["search"]["renas"]["subspace"]["variant"]
    variants = params["experiments"]["renas_variants"]["variants"]
    if variant not in variants:
        parser.error(f"--variant {variant!r}: experiments.renas_variants.variants has "
                     f"{', '.join(variants)}")
    nas_losses = params["search"]["loss_search"]["losses"]
    nas_loss = args.nas_loss or nas_losses[0]
    if nas_loss not in nas_losses:
        parser.error(f"--nas-loss {nas_loss!r}: search.loss_search.losses has "
                     f"{', '.join(nas_losses)}")

    report: dict[str, Any] = {
        "benchmark": "nasrank search: GA generations/s and candidates scored/s",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if args.quick else "full",
        "params": str(args.params.resolve()),
        "machine": machine_info(),
    }
    skipped: dict[str, str] = {}
    ga_missing = missing_inputs(ga_inputs(params, variant))
    nas_missing = missing_inputs(nas_inputs(params))
    for part in parts:
        reason = nas_missing if part == "predictor_nas" else ga_missing
        if reason:
            skipped[part] = reason
    if len(skipped) == len(parts):
        report["skipped"] = "no input files for any requested part; nothing was timed " \
                            "(reasons per part in skipped_parts)"
        report["skipped_parts"] = skipped
        emit(report, args.out)
        return 0

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from nasrank.train import resolve_device

    try:
        device = resolve_device(args.device)
    except NasrankError as exc:
        parser.error(str(exc))
    report["torch"] = torch_info()
    report["device"] = device
    report["threads_requested"] = args.threads
    report["load_average_start"] = load_start
    report["reference"] = {**reference_figure(), **torch_matmul_gflops()}
    report["settings"] = {"parts": parts, "seed": args.seed, "variant": variant,
                          "nas_loss": nas_loss, **cfg,
                          "epochs_source": "params train (by_predictor)" if cfg["epochs"]
                          is None else "--quick override of every predictor's epochs"}
    failed = False

    # 1. + 2. The GA on NB101, then the batching comparison with its LeNet.
    fitted = x = None
    if "ga" in parts or "batching" in parts:
        if ga_missing:
            for part in ("ga", "batching"):
                if part in parts:
                    report[part] = {"skipped": ga_missing}
        else:
            try:
                ga, fitted, x = bench_ga(params, variant, args.seed, cfg["generations"])
                if "ga" in parts:
                    report["ga"] = ga
                elif "batching" in parts:  # the fit the batching part uses
                    report["batching_fit"] = ga["fit"]
            except Exception as exc:  # report and go on with the other parts
                report["ga"] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
                failed = True
    if "batching" in parts and fitted is not None and x is not None:
        try:
            report["batching"] = bench_batching(fitted, x, cfg["score_rows"], cfg["passes"],
                                                cfg["max_calls"], args.seed)
        except Exception as exc:
            report["batching"] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            failed = True
    elif "batching" in parts and "batching" not in report:
        report["batching"] = {"skipped": "the GA part's fit failed"}
    del fitted, x

    # 3. predictor_nas iterations on NB201 with the GCN.
    if "predictor_nas" in parts:
        if nas_missing:
            report["predictor_nas"] = {"skipped": nas_missing}
        else:
            try:
                report["predictor_nas"] = bench_predictor_nas(params, nas_loss, args.seed)
            except Exception as exc:
                report["predictor_nas"] = {"status": "failed",
                                           "error": f"{type(exc).__name__}: {exc}"}
                failed = True

    notes: list[str] = []
    report["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    report["peak_rss_mib"] = peak_rss_mib()
    if load_start and load_start[0] > 0.5 * (os.cpu_count() or 1):
        notes.append(f"the machine was busy (1-min load average {load_start[0]:.2f} on "
                     f"{os.cpu_count()} CPUs at start): timings are noisy")
    if args.quick:
        notes.append("quick mode: 5-epoch fits and 2 generations; the fitted predictors are "
                     "barely trained (scores meaningless), their per-call timings are not")
    report["notes"] = notes
    report["wall_s"] = round(time.perf_counter() - started, 2)
    emit(report, args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
