"""Benchmark of nasrank's sweep engine (:mod:`nasrank.sweep`): many small predictors
trained at once, against the one-run trainer it replaced.

Everything but part 3 runs in this one process on the chosen device (``--device auto``
takes CUDA when a GPU is visible), on the repository's real data (``params.yaml``'s data
directories: ``processed/nb201-cifar10.parquet``, ``features/nb201/gcn.parquet``,
``features/nb201/adjacency_onehot.parquet``, ``processed/nb101.parquet``,
``features/nb101/renas_tensor.parquet``; a missing NB201 ``adjacency_onehot`` file is
encoded into a temporary directory, never into ``data/``), with ``params.yaml``'s training
settings and loss options (:func:`nasrank.train.config_from_params`). Parts:

1. ``sweeps`` -- runs/s of :func:`nasrank.sweep.fit_sweep` for sweeps of R = 1, 8, 64,
   512 runs (and 1,024 on CUDA) of three predictors:

   * ``gcn``: nb201-cifar10, encoding ``gcn``, loss ``hr``, 100 training architectures,
     params' GCN settings (batch 32, 200 epochs);
   * ``mlp``: nb201-cifar10, ``adjacency_onehot``, loss ``hr``, n = 100, params' MLP
     settings (batch 32, 300 epochs);
   * ``lenet``: nb101, ``renas_tensor``, loss ``lr``, n = 424, batch 1024, 200 epochs.

   The runs of a sweep differ in seed only (seeds 0..R-1: each its own split, scaling,
   initialisation, batch order). Inputs are split and scaled per run beforehand, as
   :func:`nasrank.sweep.fit_predictors` does, so only ``fit_sweep`` is timed. A full
   sweep at the configured epochs is too long on a small CPU: each size is fitted once
   with ``--warmup-epochs`` (1) as a warm-up, then timed with ``--epochs`` epochs
   (default 3 on the CPU, the configured epochs on CUDA); a fit under a second is
   repeated (up to 5 times, at most ~2 s in all) and the best time kept. The report
   gives the ``measured`` seconds and runs/s at the measured epochs and, apart, the
   ``extrapolated`` ones at the configured epochs (linear in epochs: seconds x
   configured / measured; per-sweep fixed costs are counted as if they grew with the
   epochs, so the extrapolated runs/s err low). Each predictor gets ``--max-seconds``
   (warm-ups included): a size whose time, predicted from the largest size measured so
   far (its seconds per run and epoch), would pass the cap is skipped and reported as
   ``skipped`` with the reason.
2. ``baseline`` -- the one-run trainer that ``nasrank train`` used before the sweeps
   (``fit_torch`` of nasrank.train, copied here as :func:`one_run_fit`: the predictor's
   ``nn.Module``, its loss and ``torch.optim.Adam``, one run's mini-batches, a finiteness
   check and read-back of every step's loss), one run of each predictor with the same
   epochs, warm-up and repeat rule; on the CPU with torch's default threads (what one
   ``nasrank train`` process had) and with one thread (what a Snakemake job with
   ``OMP_NUM_THREADS=1`` has). Each sweep size's ``speedup_vs_one_run`` is its runs/s
   over the baseline's (default threads); on the CPU also ``speedup_vs_parallel_1thread``,
   over ``cpus`` one-thread baselines running side by side (an ideal, start-up-free
   ``snakemake --cores N``).
3. ``cli`` -- 12 runs as one sweep against 12 processes, start-up included, at the
   configured 200 epochs: ``python -m nasrank sweep nb201-cifar10 gcn gcn --losses hr,lr
   --train-sizes 50,100 --seeds 0,1,2`` against the 12 ``python -m nasrank train
   nb201-cifar10 gcn gcn LOSS --train-size N --seed S`` processes run ``--cli-jobs`` (2)
   at a time with ``OMP_NUM_THREADS=1`` (as ``snakemake --cores 2`` runs them). Both use
   a temporary copy of ``params.yaml`` whose ``data.models_dir`` is a temporary
   directory (one per side; the other data directories are the repository's, made
   absolute). Reported: wall time of each side, runs/s, the ratio, each process's wall
   and fit times (start-up = wall - fit - query), whether each run's trained parameters
   (``model.bin``) are bit-identical on both sides, and the largest difference between
   the two sides' predictions (the sweep process predicts on torch's default threads,
   the train processes on one). On by default on the CPU (``--no-cli`` skips
   it; a few minutes on 2 cores), off on CUDA (``--cli`` runs it).
4. ``limits`` -- the machine measured in the same run: torch float32 1024 x 1024 matmul
   GFLOP/s on one thread and on all threads, the float64 numpy reference of
   ``benchmarks/harness.py``, and on CUDA 8192 x 8192 float32 (no TF32), TF32 and
   bfloat16 matmul TFLOP/s on the GPU; CPU model (/proc/cpuinfo), torch version, threads,
   GPU name and memory. Also the load average at start and end (other work on the
   machine makes the CPU timings noisy).
5. ``exactness`` (default on CUDA, ``--exactness`` elsewhere) -- the largest absolute
   difference between a run's predictions (first 2,000 labelled architectures, label
   units) when trained in a sweep of 64 (seeds 0..63) and when trained alone (a sweep of
   one), for GCN ``hr``, GCN ``lr`` and LeNet ``lr``, through
   :func:`nasrank.sweep.fit_predictors` and ``FittedPredictor.predict``, for runs at seeds
   0 and 63, at ``--epochs`` epochs (default 200 on CUDA, 1 on the CPU).
   ``full_table`` (only with ``--full-table``) -- one loss-study table as one sweep: GCN
   on nb201-cifar10, 9 losses (mse, hr, lr, mse_sr, listmle, ew, mape, warp, piecewise)
   x 5 train sizes (50, 100, 200, 400, 800) x 10 seeds = 450 runs at ``--epochs``
   (default 200 on CUDA, 1 on the CPU) through ``fit_predictors``, plus the time to predict every
   labelled architecture with every run (on the CPU with the first 10 runs only).

Default CPU run (``--device cpu``: 3 timed epochs, ``--max-seconds 150`` per predictor,
the CLI part on): 4-7 minutes on a 2-core machine with other work running (the cap
skips the LeNet's R = 512 there). ``--device cpu --epochs 1 --exactness
--full-table --no-cli --sizes 1,8`` checks the CUDA-only parts quickly on a CPU.

Usage::

    python benchmarks/sweeps.py [--device auto|cpu|cuda] [--out FILE] [--epochs E]
                                [--warmup-epochs W] [--sizes 1,8,64,512]
                                [--predictors gcn,mlp,lenet] [--max-seconds S]
                                [--cli | --no-cli] [--cli-jobs 2] [--exactness]
                                [--full-table]

Prints one JSON document (and writes it to ``--out``). Exits 0 when every part ran
(skipped sizes are not failures), 1 when a part failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from harness import REPO, REPO_PARAMS, emit, machine_info, reference_figure, run_stage, version

# The three predictor configurations of part 1 (params.yaml supplies everything else).
CONFIGS: dict[str, dict[str, Any]] = {
    "gcn": {"bench": "nb201", "task": "cifar10", "encoding": "gcn", "predictor": "gcn",
            "loss": "hr", "train_size": 100},
    "mlp": {"bench": "nb201", "task": "cifar10", "encoding": "adjacency_onehot",
            "predictor": "mlp", "loss": "hr", "train_size": 100},
    "lenet": {"bench": "nb101", "task": None, "encoding": "renas_tensor",
              "predictor": "lenet", "loss": "lr", "train_size": 424, "batch_size": 1024},
}
CPU_SIZES = (1, 8, 64, 512)
CUDA_SIZES = (*CPU_SIZES, 1024)
CPU_EPOCHS = 3
CPU_MAX_SECONDS = 150.0
CUDA_MAX_SECONDS = 300.0
REPEAT_UNDER_S = 1.0  # a timed fit shorter than this is repeated ...
REPEAT_BUDGET_S = 2.0  # ... while the repeats take less than this in all
MAX_REPEATS = 5
# Part 3.
CLI_TABLE, CLI_ENCODING, CLI_PREDICTOR = "nb201-cifar10", "gcn", "gcn"
CLI_LOSSES, CLI_SIZES, CLI_SEEDS = ("hr", "lr"), (50, 100), (0, 1, 2)
# Part 5.
EXACT_CASES = (("gcn", "hr"), ("gcn", "lr"), ("lenet", "lr"))
EXACT_RUNS = 64
EXACT_COMPARED = (0, 63)
EXACT_ARCHS = 2000
TABLE_LOSSES = ("mse", "hr", "lr", "mse_sr", "listmle", "ew", "mape", "warp", "piecewise")
TABLE_SIZES = (50, 100, 200, 400, 800)
TABLE_SEEDS = tuple(range(10))
TABLE_CPU_PREDICT = 10
MIB = 1024**2


def log(msg: str) -> None:
    """Progress on stderr (stdout carries the JSON only)."""
    print(f"[sweeps {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def rounded(x: float, digits: int = 4) -> float:
    return float(f"{x:.{digits}g}")


# ----------------------------------------------------------------------- the old trainer


def one_run_fit(cfg: Any, x: np.ndarray, y: np.ndarray, device: str,
                layout: dict[str, list[int]] | None) -> tuple[Any, list[dict[str, float]]]:
    """The one-run trainer before the sweeps (``fit_torch`` of nasrank.train, copied).

    Trains ``cfg``'s torch predictor on scaled features ``x`` and labels ``y`` with the
    configured loss: the ``nn.Module``, ``torch.optim.Adam``, one run's mini-batches, the
    loss checked and read back at every step. Returns the model and its epoch log.
    """
    import torch

    from nasrank.losses import LossContext, get_loss
    from nasrank.metrics import ranking_metrics
    from nasrank.predictors import get_predictor
    from nasrank.train import TrainingError, _batches, predict_torch

    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True, warn_only=False)  # cuBLAS: see DETERMINISTIC_ENV
    model = get_predictor(cfg.predictor, x.shape[1:], layout or None,
                          seed=cfg.seed, **cfg.predictor_options).to(device)
    loss_fn = get_loss(cfg.loss, **cfg.loss_options).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    xt = torch.from_numpy(x).to(device)
    yt = torch.from_numpy(y.astype(np.float32)).to(device)
    rng = np.random.default_rng(cfg.seed + 1)
    history: list[dict[str, float]] = []
    best_state, best_score = None, -math.inf
    for epoch in range(cfg.epochs):
        model.train()
        ctx = LossContext(epoch=epoch, train_size=len(y))
        total = 0.0
        for step, idx in enumerate(_batches(len(y), cfg.batch_size, rng.permutation(len(y)))):
            b = torch.from_numpy(idx).to(device)
            pred, feats = model(xt[b])
            loss = loss_fn(pred, yt[b], feats if loss_fn.needs_features else None, ctx)
            if not torch.isfinite(loss):
                raise TrainingError(f"{cfg.run_id}: loss {cfg.loss} is {loss.item()} at epoch "
                                    f"{epoch}, step {step}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        row = {"epoch": epoch, "loss": total / len(y)}
        if cfg.select == "train_kendall_tau":
            score = ranking_metrics(y, predict_torch(model, x, device), precision_t=(),
                                    n_at_k=(), precision_at_k=())["kendall_tau"]
            row["train_kendall_tau"] = score
            if score > best_score:
                best_score = score
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        history.append(row)
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, history


# ----------------------------------------------------------------------- inputs


class Inputs:
    """One predictor configuration's data: raw features and labels, and per seed the
    run's scaled training split (built on demand, as fit_predictors scales them)."""

    def __init__(self, name: str, params: dict[str, Any], device: str, epochs: int) -> None:
        from nasrank.train import config_from_params, load_run_inputs

        spec = dict(CONFIGS[name])
        batch = spec.pop("batch_size", None)
        base = config_from_params(params, seed=0, **spec)
        self.configured_epochs = base.epochs
        base = replace(base, epochs=epochs, device=device)
        if batch is not None:
            base = replace(base, batch_size=batch)
        self.base = base
        t0 = time.perf_counter()
        self.ids, self.y, self.target, enc, self.x = load_run_inputs(base, params)
        self.load_s = time.perf_counter() - t0
        self.layout = enc.layout
        self.xs: list[np.ndarray] = []
        self.ys: list[np.ndarray] = []

    def cfg(self, seed: int, **changes: Any) -> Any:
        return replace(self.base, seed=seed, **changes)

    def scaled(self, runs: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Scaled training features and labels of seeds 0..runs-1."""
        from nasrank.train import Scaling, check_loss, split

        for seed in range(len(self.xs), runs):
            cfg = self.cfg(seed)
            train_idx, _ = split(len(self.ids), cfg)
            sc = Scaling.fit(self.x[train_idx], self.y[train_idx],
                             standardize=check_loss(cfg).standardize)
            self.xs.append(sc.x(self.x[train_idx]).astype(np.float32))
            self.ys.append(sc.y(self.y[train_idx]))
        return self.xs[:runs], self.ys[:runs]

    def describe(self) -> dict[str, Any]:
        b = self.base
        return {"table": b.table, "encoding": b.encoding, "predictor": b.predictor,
                "predictor_options": b.predictor_options, "loss": b.loss,
                "loss_options": b.loss_options, "train_size": b.train_size,
                "batch_size": b.batch_size, "learning_rate": b.learning_rate,
                "weight_decay": b.weight_decay,
                "select": b.select, "configured_epochs": self.configured_epochs,
                "target": self.target, "n_labelled": len(self.ids),
                "input_shape": list(self.x.shape[1:]), "load_s": round(self.load_s, 2)}


def timed(fn: Any, device: str) -> dict[str, Any]:
    """Time ``fn()``; repeat a short call (best of at most MAX_REPEATS). ``value``: the
    last call's result."""
    times: list[float] = []
    while True:
        sync(device)
        t0 = time.perf_counter()
        value = fn()
        sync(device)
        times.append(time.perf_counter() - t0)
        if (len(times) >= MAX_REPEATS or times[0] >= REPEAT_UNDER_S
                or sum(times) >= REPEAT_BUDGET_S):
            break
    return {"seconds": min(times), "repeats": len(times),
            "all_seconds": [round(t, 4) for t in times], "value": value}


def rates(runs: int, seconds: float, epochs: int, configured: int) -> dict[str, Any]:
    """Measured and (linearly) extrapolated seconds and runs/s."""
    scale = configured / epochs
    return {
        "measured": {"epochs": epochs, "seconds": round(seconds, 4),
                     "runs_per_s": rounded(runs / seconds),
                     "seconds_per_run_epoch": rounded(seconds / (runs * epochs))},
        "extrapolated": {
            "epochs": configured,
            "seconds": round(seconds * scale, 2),
            "runs_per_s": rounded(runs / (seconds * scale)),
            "method": "not extrapolated (measured at the configured epochs)" if scale == 1
                      else f"linear in epochs: measured seconds x {configured}/{epochs}"},
    }


# ----------------------------------------------------------------------- 1. sweeps


def sweep_sizes(inp: Inputs, sizes: list[int], device: str, warmup_epochs: int,
                max_seconds: float) -> list[dict[str, Any]]:
    """Warm-up and timed ``fit_sweep`` per size, within ``max_seconds`` in all."""
    import torch

    from nasrank.sweep import fit_sweep

    epochs, configured = inp.base.epochs, inp.configured_epochs
    spent = 0.0
    rate: float | None = None  # seconds per run and epoch of the largest size so far
    rows: list[dict[str, Any]] = []
    for runs in sizes:
        row: dict[str, Any] = {"runs": runs}
        if rate is not None:
            predicted = rate * runs * (epochs + warmup_epochs)
            if spent + predicted > max_seconds:
                row["status"] = "skipped"
                row["reason"] = (f"predicted {predicted:.0f} s (warm-up + timed fit, at the "
                                 f"{rate * 1e3:.2f} ms per run-epoch of R={rows[-1]['runs']}) "
                                 f"would pass --max-seconds {max_seconds:g} after {spent:.0f} s "
                                 "spent on this predictor")
                rows.append(row)
                log(f"  R={runs}: skipped ({row['reason']})")
                continue
        t_start = time.perf_counter()
        try:
            xs, ys = inp.scaled(runs)
            cfgs = [inp.cfg(s) for s in range(runs)]
            warm = [replace(c, epochs=warmup_epochs) for c in cfgs]
            t0 = time.perf_counter()
            fit_sweep(warm, xs, ys, inp.layout, device)
            sync(device)
            row["warmup"] = {"epochs": warmup_epochs,
                             "seconds": round(time.perf_counter() - t0, 3)}
            if device.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            result = timed(partial(fit_sweep, cfgs, xs, ys, inp.layout, device), device)
            last = result.pop("value")
            row["status"] = "ok"
            row.update(rates(runs, result["seconds"], epochs, configured))
            row["repeats"] = result["repeats"]
            row["all_seconds"] = result["all_seconds"]
            row["chunk_runs"] = sorted({r.chunk_runs for r in last})
            row["final_loss_mean"] = rounded(float(np.mean([r.history[-1]["loss"]
                                                            for r in last])))
            if device.startswith("cuda"):
                row["peak_memory_mib"] = round(torch.cuda.max_memory_allocated() / MIB, 1)
            rate = result["seconds"] / (runs * epochs)
            del last
        except Exception as exc:  # report and go on with the next size
            row["status"] = "failed"
            row["error"] = f"{type(exc).__name__}: {exc}"[:500]
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
        spent += time.perf_counter() - t_start
        row["wall_s_with_warmup"] = round(time.perf_counter() - t_start, 2)
        rows.append(row)
        log(f"  R={runs}: {row['status']} "
            + (f"{row['measured']['runs_per_s']} runs/s measured"
               if row["status"] == "ok" else row.get("error", "")))
    return rows


# ----------------------------------------------------------------------- 2. baseline


def baseline(inp: Inputs, device: str, warmup_epochs: int, threads: int | None
             ) -> dict[str, Any]:
    """One run (seed 0) with :func:`one_run_fit`, warm-up then timed."""
    import torch

    xs, ys = inp.scaled(1)
    cfg = inp.cfg(0)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        used = torch.get_num_threads()
        t0 = time.perf_counter()
        one_run_fit(replace(cfg, epochs=warmup_epochs), xs[0], ys[0], device, inp.layout)
        sync(device)
        warm = time.perf_counter() - t0
        result = timed(partial(one_run_fit, cfg, xs[0], ys[0], device, inp.layout), device)
    finally:
        torch.set_num_threads(before)
    return {"trainer": "one_run_fit (nasrank.train.fit_torch before the sweeps)",
            "threads": used if not device.startswith("cuda") else None,
            "warmup": {"epochs": warmup_epochs, "seconds": round(warm, 3)},
            **rates(1, result["seconds"], cfg.epochs, inp.configured_epochs),
            "repeats": result["repeats"], "all_seconds": result["all_seconds"],
            "final_loss": rounded(result["value"][1][-1]["loss"])}


def add_speedups(rows: list[dict[str, Any]], base: dict[str, Any],
                 base_1t: dict[str, Any] | None, cpus: int) -> None:
    one = base["measured"]["runs_per_s"]
    for row in rows:
        if row.get("status") != "ok":
            continue
        rps = row["measured"]["runs_per_s"]
        row["speedup_vs_one_run"] = rounded(rps / one, 3)
        if base_1t is not None:
            one_1t = base_1t["measured"]["runs_per_s"]
            row["speedup_vs_one_run_1thread"] = rounded(rps / one_1t, 3)
            row["speedup_vs_parallel_1thread"] = rounded(rps / (cpus * one_1t), 3)


# ----------------------------------------------------------------------- 3. CLI


def cli_params(work: Path, models: Path) -> Path:
    """A copy of params.yaml: models_dir ``models``, other data paths made absolute."""
    from nasrank.config import validate_params

    params = yaml.safe_load(REPO_PARAMS.read_text(encoding="utf-8"))
    for key in ("raw_dir", "processed_dir", "features_dir"):
        p = Path(params["data"][key])
        params["data"][key] = str(p if p.is_absolute() else REPO / p)
    for key, value in list(params["reports"].items()):
        if key.endswith("_dir") or key == "published":
            p = Path(value)
            params["reports"][key] = str(p if p.is_absolute() else REPO / p)
    params["data"]["models_dir"] = str(models)
    path = work / f"params-{models.name}.yaml"
    validate_params(params, source=str(path))
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def read_preds(models: Path, run_id: str) -> np.ndarray | None:
    import pyarrow.parquet as pq

    path = models / run_id / "predictions.parquet"
    if not path.is_file():
        return None
    return pq.read_table(path, columns=["y_pred"]).column("y_pred").to_numpy()


def same_parameters(a: Path, b: Path) -> bool | None:
    """Whether two runs' ``model.bin`` hold bit-identical state dicts (None: missing)."""
    import torch

    if not (a / "model.bin").is_file() or not (b / "model.bin").is_file():
        return None
    sa = torch.load(a / "model.bin", weights_only=True)["state_dict"]
    sb = torch.load(b / "model.bin", weights_only=True)["state_dict"]
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def read_timing(models: Path, run_id: str) -> dict[str, Any]:
    import json

    path = models / run_id / "timing.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def cli_part(jobs: int) -> dict[str, Any]:
    """12 runs: one ``nasrank sweep`` process vs 12 ``nasrank train`` processes."""
    work = Path(tempfile.mkdtemp(prefix="nasrank-sweeps-cli-"))
    try:
        m_sweep, m_train = work / "models_sweep", work / "models_train"
        p_sweep, p_train = cli_params(work, m_sweep), cli_params(work, m_train)
        runs = [(loss, n, s) for loss in CLI_LOSSES for n in CLI_SIZES for s in CLI_SEEDS]
        run_ids = [f"{CLI_TABLE}/{CLI_ENCODING}/{CLI_PREDICTOR}/{loss}/n{n}/s{s}"
                   for loss, n, s in runs]
        env = dict(os.environ)
        sweep_args = ["--params", str(p_sweep), "-q", "sweep", CLI_TABLE, CLI_ENCODING,
                      CLI_PREDICTOR, "--losses", ",".join(CLI_LOSSES), "--train-sizes",
                      ",".join(map(str, CLI_SIZES)), "--seeds", ",".join(map(str, CLI_SEEDS))]
        log(f"cli: nasrank sweep ({len(runs)} runs, full epochs)")
        sweep = run_stage(sweep_args, work, env)

        env1 = {**env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

        def train(run: tuple[str, int, int]) -> dict[str, Any]:
            loss, n, s = run
            return run_stage(["--params", str(p_train), "-q", "train", CLI_TABLE,
                              CLI_ENCODING, CLI_PREDICTOR, loss, "--train-size", str(n),
                              "--seed", str(s)], work, env1)

        log(f"cli: {len(runs)} nasrank train processes, {jobs} at a time")
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            procs = list(pool.map(train, runs))
        train_wall = time.perf_counter() - t0

        diffs, same, per_run = [], [], []
        for run_id, proc in zip(run_ids, procs, strict=True):
            a, b = read_preds(m_sweep, run_id), read_preds(m_train, run_id)
            diff = None if a is None or b is None else float(np.max(np.abs(a - b)))
            diffs.append(diff)
            same.append(same_parameters(m_sweep / run_id, m_train / run_id))
            t = read_timing(m_train, run_id)
            fit, query = t.get("fit_time_s"), t.get("query_time_s")
            per_run.append({
                "run_id": run_id, "returncode": proc["returncode"],
                "wall_s": proc["wall_s"], "user_cpu_s": proc["user_cpu_s"],
                "fit_s": None if fit is None else round(fit, 3),
                "query_s": None if query is None else round(query, 3),
                "startup_and_io_s": None if fit is None else
                round(proc["wall_s"] - fit - (query or 0.0), 3),
                "peak_rss_mib": proc["peak_rss_mib"],
                "parameters_identical_to_sweep": same[-1],
                "predictions_max_abs_diff_to_sweep": diff,
                **({"log_tail": proc["log_tail"]} if "log_tail" in proc else {})})
        sweep_timing = read_timing(m_sweep, run_ids[0])
        ok = sweep["returncode"] == 0 and all(p["returncode"] == 0 for p in procs)
        n = len(runs)
        startup = [r["startup_and_io_s"] for r in per_run if r["startup_and_io_s"] is not None]
        compared = [d for d in diffs if d is not None]
        return {
            "status": "ok" if ok else "failed",
            "runs": n,
            "epochs": "configured (params.yaml: gcn 200)",
            "sweep": {"command": sweep["command"], "returncode": sweep["returncode"],
                      "wall_s": sweep["wall_s"], "user_cpu_s": sweep["user_cpu_s"],
                      "peak_rss_mib": sweep["peak_rss_mib"],
                      "sweep_fit_s": sweep_timing.get("sweep_fit_time_s"),
                      "runs_per_s": rounded(n / sweep["wall_s"]),
                      "env": "inherited (torch's default threads)",
                      **({"log_tail": sweep["log_tail"]} if "log_tail" in sweep else {})},
            "processes": {"command": "nasrank --params P -q train nb201-cifar10 gcn gcn LOSS "
                                     "--train-size N --seed S",
                          "parallel_jobs": jobs, "env": "OMP_NUM_THREADS=1 MKL_NUM_THREADS=1",
                          "wall_s": round(train_wall, 3),
                          "runs_per_s": rounded(n / train_wall),
                          "sum_process_wall_s": round(sum(p["wall_s"] for p in procs), 2),
                          "mean_startup_and_io_s": round(statistics.mean(startup), 3)
                          if startup else None,
                          "per_run": per_run},
            "speedup_sweep_vs_processes": rounded(train_wall / sweep["wall_s"], 3),
            "predictions_max_abs_diff": max(compared) if compared else None,
            "predictions_identical_runs": sum(d == 0.0 for d in compared),
            "predictions_compared_runs": len(compared),
            "parameters_identical_runs": sum(x is True for x in same),
            "predictions_note": "the sweep process predicts with torch's default threads, "
                                "the train processes with one (OMP_NUM_THREADS=1)",
            "models_dirs": "temporary, removed after the comparison",
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------- 4. limits


def torch_matmul(n: int, dtype: Any, device: str, repeats: int,
                 threads: int | None = None) -> dict[str, Any]:
    """Best-of-``repeats`` ``n x n`` matmul on ``device`` in ``dtype`` (GFLOP/s)."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(0)
        a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
        b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
        a @ b
        sync(device)
        best = math.inf
        for _ in range(repeats):
            sync(device)
            t0 = time.perf_counter()
            a @ b
            sync(device)
            best = min(best, time.perf_counter() - t0)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    out = {"n": n, "dtype": str(dtype).replace("torch.", ""), "device": device,
           "best_of": repeats, "gflops": round(2.0 * n**3 / best / 1e9, 2)}
    if not device.startswith("cuda"):
        out["threads"] = used
    return out


def limits(device: str) -> dict[str, Any]:
    import torch

    out: dict[str, Any] = {
        "torch_float32_matmul_1024_cpu_1_thread": torch_matmul(1024, torch.float32, "cpu",
                                                               5, threads=1),
        "torch_float32_matmul_1024_cpu_all_threads": torch_matmul(1024, torch.float32,
                                                                  "cpu", 5),
        **reference_figure(),
    }
    if device.startswith("cuda"):
        tf32 = torch.backends.cuda.matmul.allow_tf32
        try:
            torch.backends.cuda.matmul.allow_tf32 = False
            out["cuda_float32_matmul_8192"] = torch_matmul(8192, torch.float32, device, 10)
            torch.backends.cuda.matmul.allow_tf32 = True
            out["cuda_tf32_matmul_8192"] = torch_matmul(8192, torch.float32, device, 10)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = tf32
        out["cuda_bfloat16_matmul_8192"] = torch_matmul(8192, torch.bfloat16, device, 10)
    return out


def torch_info(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "torch": torch.__version__, "torch_dist": version("torch"),
        "threads": torch.get_num_threads(), "interop_threads": torch.get_num_interop_threads(),
        "cuda_build": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                "CUBLAS_WORKSPACE_CONFIG")},
    }
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = {"name": torch.cuda.get_device_name(0),
                       "capability": ".".join(map(str, torch.cuda.get_device_capability(0))),
                       "total_memory_gib": round(props.total_memory / 1024**3, 1),
                       "multiprocessors": props.multi_processor_count,
                       "device_count": torch.cuda.device_count()}
    return info


# ----------------------------------------------------------------------- 5. exactness, table


def exactness(params: dict[str, Any], device: str, epochs: int,
              cache: dict[str, Inputs]) -> dict[str, Any]:
    """Predictions of runs trained in a sweep of 64 vs alone (max |difference|)."""
    from nasrank.sweep import fit_predictors
    from nasrank.train import config_from_params, split

    out: dict[str, Any] = {}
    for name, loss in EXACT_CASES:
        key = f"{name}_{loss}"
        log(f"exactness: {key}, {EXACT_RUNS} runs at {epochs} epochs vs alone")
        try:
            inp = cache.get(name) or Inputs(name, params, device, epochs)
            cache[name] = inp
            spec = dict(CONFIGS[name])
            batch = spec.pop("batch_size", None)
            spec["loss"] = loss
            cfgs = []
            for s in range(EXACT_RUNS):
                c = replace(config_from_params(params, seed=s, **spec), epochs=epochs,
                            device=device)
                cfgs.append(replace(c, batch_size=batch) if batch else c)
            splits = [split(len(inp.ids), c)[0] for c in cfgs]
            xs = [inp.x[tr] for tr in splits]
            ys = [inp.y[tr] for tr in splits]
            probe = inp.x[:EXACT_ARCHS]
            t0 = time.perf_counter()
            together = fit_predictors(cfgs, xs, ys, inp.layout)
            t_sweep = time.perf_counter() - t0
            runs = []
            for i in EXACT_COMPARED:
                alone = fit_predictors([cfgs[i]], [xs[i]], [ys[i]], inp.layout)[0]
                a, b = together[i].predict(probe), alone.predict(probe)
                runs.append({"seed": cfgs[i].seed,
                             "max_abs_diff": float(np.max(np.abs(a - b))),
                             "identical": bool(np.array_equal(a, b)),
                             "prediction_std": rounded(float(np.std(b)))})
            out[key] = {"status": "ok", "loss": loss, "loss_options": cfgs[0].loss_options,
                        "epochs": epochs, "sweep_runs": EXACT_RUNS,
                        "archs": len(probe), "sweep_fit_s": round(t_sweep, 2),
                        "runs": runs,
                        "max_abs_diff": max(r["max_abs_diff"] for r in runs)}
        except Exception as exc:
            out[key] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]}
    return out


def full_table(params: dict[str, Any], device: str, epochs: int) -> dict[str, Any]:
    """The loss study's GCN table on nb201-cifar10 as one sweep of 450 runs."""
    from nasrank.sweep import fit_predictors
    from nasrank.train import config_from_params, load_run_inputs, split

    cfgs = [replace(config_from_params(params, bench="nb201", task="cifar10", encoding="gcn",
                                       predictor="gcn", loss=loss, train_size=n, seed=s),
                    epochs=epochs, device=device)
            for loss in TABLE_LOSSES for n in TABLE_SIZES for s in TABLE_SEEDS]
    log(f"full table: {len(cfgs)} runs at {epochs} epochs")
    ids, y, _, enc, x = load_run_inputs(cfgs[0], params)
    splits = [split(len(ids), c)[0] for c in cfgs]
    t0 = time.perf_counter()
    fitted = fit_predictors(cfgs, [x[tr] for tr in splits], [y[tr] for tr in splits],
                            enc.layout)
    sync(device)
    fit_s = time.perf_counter() - t0
    # every run on CUDA; on the CPU (about 1.5 s per run) the first TABLE_CPU_PREDICT
    predict = fitted if device.startswith("cuda") else fitted[:TABLE_CPU_PREDICT]
    log(f"full table: fitted in {fit_s:.1f} s; predicting with {len(predict)} runs")
    t0 = time.perf_counter()
    for fp in predict:
        fp.predict(x)
    query_s = time.perf_counter() - t0
    configured = config_from_params(params, bench="nb201", task="cifar10", encoding="gcn",
                                    predictor="gcn", loss="hr", train_size=50,
                                    seed=0).epochs
    return {"status": "ok", "runs": len(cfgs), "losses": list(TABLE_LOSSES),
            "train_sizes": list(TABLE_SIZES), "seeds": len(TABLE_SEEDS),
            "loss_options": {c.loss: c.loss_options for c in cfgs},
            "batch_size": cfgs[0].batch_size,
            "fit": rates(len(cfgs), fit_s, epochs, configured),
            "predict_all_labelled": {"archs": len(ids), "runs_predicted": len(predict),
                                     "seconds": round(query_s, 2),
                                     "seconds_per_run": rounded(query_s / len(predict)),
                                     "runs_per_s": rounded(len(predict) / query_s)},
            "chunk_runs": sorted({fp.timing.get("chunk_runs") for fp in fitted})}


# ----------------------------------------------------------------------- main


def load_params_with_features(work: Path) -> tuple[dict[str, Any], list[str]]:
    """params.yaml; if NB201's adjacency_onehot features are missing, encode them into
    ``work`` (a temporary directory) and point a copy of the params there."""
    params = yaml.safe_load(REPO_PARAMS.read_text(encoding="utf-8"))
    notes: list[str] = []
    data = params["data"]
    for key in ("raw_dir", "processed_dir", "features_dir", "models_dir"):
        p = Path(data[key])
        data[key] = str(p if p.is_absolute() else REPO / p)
    feats = Path(data["features_dir"])
    if not (feats / "nb201" / "adjacency_onehot.parquet").is_file():
        tmp_feats = work / "features"
        (tmp_feats / "nb201").mkdir(parents=True)
        for f in (feats / "nb201").glob("*.parquet"):
            os.symlink(f, tmp_feats / "nb201" / f.name)
        for d in feats.iterdir():
            if d.is_dir() and d.name != "nb201":
                os.symlink(d, tmp_feats / d.name)
        enc_params = {**params, "data": {**data, "features_dir": str(tmp_feats)}}
        path = work / "params-encode.yaml"
        path.write_text(yaml.safe_dump(enc_params, sort_keys=False), encoding="utf-8")
        log("encoding nb201 adjacency_onehot into a temporary directory")
        stage = run_stage(["--params", str(path), "-q", "encode", "nb201", "adjacency_onehot"],
                          work, dict(os.environ))
        if stage["returncode"] != 0:
            raise RuntimeError(f"nasrank encode nb201 adjacency_onehot failed: "
                               f"{stage.get('log_tail', '')[-500:]}")
        params = enc_params
        notes.append(f"{feats}/nb201/adjacency_onehot.parquet was missing: encoded by this "
                     f"script into a temporary directory ({stage['wall_s']} s)")
    return params, notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"timed epochs (default: {CPU_EPOCHS} on the CPU, the "
                             "configured epochs on CUDA)")
    parser.add_argument("--warmup-epochs", type=int, default=1,
                        help="epochs of the warm-up fit before each timed one (1)")
    parser.add_argument("--sizes", default=None,
                        help=f"sweep sizes (default {','.join(map(str, CPU_SIZES))}; "
                             "CUDA adds 1024)")
    parser.add_argument("--predictors", default=",".join(CONFIGS),
                        help=f"subset of {','.join(CONFIGS)} for parts 1-2")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help=f"time cap per predictor in part 1 (default {CPU_MAX_SECONDS:g} "
                             f"on the CPU, {CUDA_MAX_SECONDS:g} on CUDA)")
    parser.add_argument("--cli", action=argparse.BooleanOptionalAction, default=None,
                        help="part 3: 12 runs as one sweep vs 12 processes (default: on "
                             "for the CPU, off for CUDA)")
    parser.add_argument("--cli-jobs", type=int, default=2,
                        help="train processes at a time in part 3 (2)")
    parser.add_argument("--exactness", action=argparse.BooleanOptionalAction, default=None,
                        help="part 5: sweep-of-64 vs alone predictions (default: on CUDA)")
    parser.add_argument("--full-table", action="store_true",
                        help="part 5: time the 450-run loss-study table as one sweep")
    args = parser.parse_args(argv)
    for name in ("epochs", "warmup_epochs", "cli_jobs"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    predictors = [p.strip() for p in args.predictors.split(",") if p.strip()]
    if not set(predictors) <= set(CONFIGS):
        parser.error(f"--predictors takes a subset of {','.join(CONFIGS)}")

    started = time.perf_counter()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    # Deterministic cuBLAS needs this before CUDA starts (fit_sweep turns deterministic
    # algorithms on; only fit_predictors sets the variable, and only if CUDA is not up).
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    if args.device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but torch sees no CUDA device")
    else:
        device = args.device
    cuda = device == "cuda"
    try:
        sizes = ([int(s) for s in args.sizes.split(",") if s.strip()] if args.sizes
                 else list(CUDA_SIZES if cuda else CPU_SIZES))
    except ValueError:
        parser.error("--sizes takes comma-separated integers")
    if not sizes or min(sizes) < 1:
        parser.error("--sizes must be positive")
    sizes = sorted(set(sizes))
    max_seconds = args.max_seconds or (CUDA_MAX_SECONDS if cuda else CPU_MAX_SECONDS)
    run_cli = (not cuda) if args.cli is None else args.cli
    run_exact = cuda if args.exactness is None else args.exactness
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)

    work = Path(tempfile.mkdtemp(prefix="nasrank-sweeps-"))
    failed = False
    notes: list[str] = []
    report: dict[str, Any] = {
        "benchmark": "nasrank sweeps: many predictors trained at once (nasrank.sweep)",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "device": device,
        "machine": machine_info(),
        "torch": torch_info(device),
        "load_average_start": load_start,
    }
    try:
        params, more = load_params_with_features(work)
        notes += more
        log("limits")
        report["limits"] = limits(device)
        cache: dict[str, Inputs] = {}
        sweeps: dict[str, Any] = {}
        for name in predictors:
            try:
                inp = Inputs(name, params, device, args.epochs or CPU_EPOCHS)
                epochs = args.epochs or (inp.configured_epochs if cuda else CPU_EPOCHS)
                inp.base = replace(inp.base, epochs=epochs)
                cache[name] = inp
                log(f"{name}: sweeps {sizes} at {epochs} epochs (cap {max_seconds:g} s)")
                rows = sweep_sizes(inp, sizes, device, args.warmup_epochs, max_seconds)
                log(f"{name}: baseline one_run_fit")
                base = baseline(inp, device, args.warmup_epochs, None)
                base_1t = None
                if not cuda:
                    base_1t = baseline(inp, device, args.warmup_epochs, 1)
                add_speedups(rows, base, base_1t, cpus)
                sweeps[name] = {"settings": inp.describe(), "timed_epochs": epochs,
                                "warmup_epochs": args.warmup_epochs,
                                "max_seconds": max_seconds,
                                "runs_differ_in": "seed (0..R-1)",
                                "by_size": rows,
                                "baseline": base,
                                **({"baseline_1_thread": base_1t} if base_1t else {})}
                failed |= any(r.get("status") == "failed" for r in rows)
            except Exception as exc:
                sweeps[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
                failed = True
        report["sweeps"] = sweeps
        report["summary"] = summary(sweeps)
        for name, part in sweeps.items():
            b, b1 = part.get("baseline"), part.get("baseline_1_thread")
            if b and b1 and b["measured"]["runs_per_s"] < 0.5 * b1["measured"]["runs_per_s"]:
                notes.append(
                    f"{name}: the one-run trainer on torch's default {b['threads']} threads was "
                    f"{b1['measured']['runs_per_s'] / b['measured']['runs_per_s']:.0f}x slower "
                    "than on one thread (an oversubscribed machine makes OpenMP threads wait "
                    "for each other): read speedup_vs_one_run_1thread and "
                    "speedup_vs_parallel_1thread too")

        if run_cli:
            try:
                report["cli"] = cli = cli_part(args.cli_jobs)
                failed |= cli["status"] != "ok"
                report["summary"]["cli_12_runs"] = {
                    "sweep_process_wall_s": cli["sweep"]["wall_s"],
                    "train_processes_wall_s": cli["processes"]["wall_s"],
                    "parallel_jobs": cli["processes"]["parallel_jobs"],
                    "speedup_sweep_vs_processes": cli["speedup_sweep_vs_processes"],
                    "parameters_identical_runs": cli["parameters_identical_runs"],
                    "predictions_max_abs_diff": cli["predictions_max_abs_diff"]}
            except Exception as exc:
                report["cli"] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
                failed = True
        else:
            report["cli"] = {"status": "skipped", "reason": "off (--cli runs it)"}

        t_epochs = args.epochs or (200 if cuda else 1)
        if run_exact:
            report["exactness"] = exactness(params, device, t_epochs, cache)
            failed |= any(v.get("status") != "ok" for v in report["exactness"].values())
        else:
            report["exactness"] = {"status": "skipped",
                                   "reason": "off (default on CUDA; --exactness runs it)"}
        cache.clear()
        if args.full_table:
            try:
                report["full_table"] = full_table(params, device, t_epochs)
            except Exception as exc:
                report["full_table"] = {"status": "failed",
                                        "error": f"{type(exc).__name__}: {exc}"[:500]}
                failed = True
        else:
            report["full_table"] = {"status": "skipped", "reason": "only with --full-table"}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load_start and load_start[0] > 0.5 * cpus:
        notes.append(f"the machine was busy (1-min load average {load_start[0]:.2f} on "
                     f"{cpus} CPUs at start): timings are noisy")
    if not cuda:
        notes.append("CPU: fit_sweep trains each chunk on one thread and runs as many chunks "
                     "as torch has threads side by side; a sweep of one therefore uses one "
                     "thread, while the baseline uses torch's default threads")
    report["notes"] = notes
    report["wall_s"] = round(time.perf_counter() - started, 1)
    emit(report, args.out)
    return 1 if failed else 0


def summary(sweeps: dict[str, Any]) -> dict[str, Any]:
    """Runs/s per size (measured and extrapolated) and speed-ups, per predictor."""
    out: dict[str, Any] = {}
    for name, part in sweeps.items():
        if "by_size" not in part:
            out[name] = part.get("status")
            continue
        sizes = {}
        for row in part["by_size"]:
            if row["status"] != "ok":
                sizes[str(row["runs"])] = row["status"]
                continue
            sizes[str(row["runs"])] = {
                "runs_per_s_measured": row["measured"]["runs_per_s"],
                "runs_per_s_extrapolated": row["extrapolated"]["runs_per_s"],
                "speedup_vs_one_run": row.get("speedup_vs_one_run"),
                **{k: row[k] for k in ("speedup_vs_one_run_1thread",
                                       "speedup_vs_parallel_1thread") if k in row}}
        base = part["baseline"]
        out[name] = {"timed_epochs": part["timed_epochs"],
                     "configured_epochs": part["settings"]["configured_epochs"],
                     "baseline_runs_per_s_measured": base["measured"]["runs_per_s"],
                     "baseline_runs_per_s_extrapolated": base["extrapolated"]["runs_per_s"],
                     "by_size": sizes}
        if "baseline_1_thread" in part:
            out[name]["baseline_1_thread_runs_per_s_measured"] = (
                part["baseline_1_thread"]["measured"]["runs_per_s"])
    return out


if __name__ == "__main__":
    sys.exit(main())
