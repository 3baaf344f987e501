"""Benchmark of nasrank's predictor training, inference and losses on one device.

Everything runs in this one process, on the chosen device (``--device auto`` takes CUDA
when a GPU is visible), with fixed seeds and ``torch.set_num_threads`` applied as given
(``--threads``; the number in effect is reported). The settings mirror the trainer
(the one-run loop of ``nasrank.train.fit_torch`` before the sweeps; the sweep engine
is measured by ``benchmarks/sweeps.py``): deterministic algorithms on (``--no-deterministic``
turns them off), the loss options of the repository's ``params.yaml`` and its ``train``
learning rate and weight decay. The report holds machine and torch details and two
reference figures measured in the same run -- the CPU float64 matmul GFLOP/s of
``benchmarks/harness.py`` and a torch float32 matmul TFLOP/s on the device -- so that
timings from different machines can be compared; then:

1. training throughput (samples/s) of the ReNAS LeNet (19x7x7 input) with Adam, batch
   1024, for the losses ``lr`` (pairwise logistic), ``mse`` and ``renas`` (which uses the
   network's penultimate features): timed steps after a warm-up, each step exactly
   as ``fit_torch`` does it (gather of the batch from a device-resident pool, forward,
   loss, its finiteness check and the loss read-back -- two host syncs per step --,
   backward, Adam step), timed with ``torch.cuda.synchronize`` on a GPU; the inputs are
   random (training speed does not depend on the values);
2. inference throughput (architectures/s) over the encoded NB101 space: the ReNAS tensors
   of all 423,624 cells read with :func:`nasrank.encodings.store.read_features` (read time
   reported apart, not in the throughput), then the pipeline's own
   :func:`nasrank.train.predict_torch` (eval mode, ``no_grad``, batches of 8,192, host array
   in, host array out) on them; on a GPU also with the tensors already on the device.
   Without the features file, random tensors of the same count (the report says so).
   Target: >= 50,000 architectures/s (``target_met``);
3. the cost of the ranking losses ``hr``, ``lr``, ``listmle``, ``warp`` and ``renas`` for
   batch sizes 64, 256, 1024 and 4096: forward + backward of the loss alone on random
   predictions, targets (and 84-d features for ``renas``), milliseconds per call and, on a
   GPU, the peak memory (``torch.cuda.max_memory_allocated``); a size that runs out of
   memory is reported as such.

Step counts (``settings`` in the report): on a GPU 20 warm-up + 300 timed training steps
per loss, 3 + 20 calls per loss and batch size, 3 inference passes (best reported); on
the CPU, where a LeNet step at batch 1024 takes about a second, 3 + 30 steps, 1 + 5 calls
and 1 pass. ``--quick`` shrinks them to 2 + 5 steps, 1 + 2 calls and 1 pass and times
inference on a random subset of 50,000 cells (the whole file is still read), so the
script finishes in about a minute on an idle small CPU. ``--parts`` runs a subset of the
three parts. Timings on a machine with other work running are noisy: the load average at
start and end is in the report, and ``--threads 1`` then often gives steadier figures.

Usage::

    python benchmarks/training.py [--device auto|cpu|cuda] [--features PATH] [--out FILE]
                                  [--quick] [--threads N] [--seed S] [--steps N]
                                  [--parts training,inference,losses] [--no-deterministic]

Exits 0 when every part ran (a missed target is reported, not a failure), 1 when a
part failed, 2 on a usage error (e.g. ``--device cuda`` without a GPU).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from harness import REPO, REPO_PARAMS, emit, machine_info, reference_figure, version

BENCH = "nb101"
ENCODING = "renas_tensor"
DEFAULT_FEATURES = REPO / "data" / "features" / BENCH / f"{ENCODING}.parquet"
SHAPE = (19, 7, 7)
N_ARCHS = 423_624  # cells of the NB101 space
QUICK_ARCHS = 50_000
TARGET_ARCHS_PER_S = 50_000.0
TRAIN_BATCH = 1024
TRAIN_LOSSES = ("lr", "mse", "renas")
SWEEP_LOSSES = ("hr", "lr", "listmle", "warp", "renas")
SWEEP_BATCHES = (64, 256, 1024, 4096)
FEATURE_DIM = 84  # the LeNet's penultimate width (renas's continuity term)
MIB = 1024**2
PARTS = ("training", "inference", "losses")
# Step counts: training warm-up and timed steps per loss, loss-sweep warm-up and timed
# calls per (loss, batch), inference passes. The full CPU counts are smaller than the GPU
# ones: a LeNet step at batch 1024 takes ~0.3-1.5 s on two CPU cores.
FULL = {
    "cuda": {"warmup": 20, "steps": 300, "loss_warmup": 3, "loss_calls": 20, "passes": 3},
    "cpu": {"warmup": 3, "steps": 30, "loss_warmup": 1, "loss_calls": 5, "passes": 1},
}
QUICK = {"warmup": 2, "steps": 5, "loss_warmup": 1, "loss_calls": 2, "passes": 1}


# ----------------------------------------------------------------------- helpers


def sync(device: str) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def load_params() -> dict[str, Any]:
    """The repository's params.yaml (train settings and loss options), or {}."""
    try:
        return yaml.safe_load(REPO_PARAMS.read_text(encoding="utf-8")) or {}
    except OSError:
        return {}


def loss_opts(params: dict[str, Any], name: str) -> dict[str, Any]:
    return dict((params.get("losses") or {}).get(name) or {})


def train_settings(params: dict[str, Any]) -> dict[str, float]:
    """Adam's learning rate and weight decay for the LeNet as the trainer takes them."""
    train = dict(params.get("train") or {})
    train.update((train.get("by_predictor") or {}).get("lenet") or {})
    return {"learning_rate": float(train.get("learning_rate", 1e-3)),
            "weight_decay": float(train.get("weight_decay", 0.0))}


def torch_info(device: str, deterministic: bool) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {
        "torch": torch.__version__,
        "torch_dist": version("torch"),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "cuda_build": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                "CUBLAS_WORKSPACE_CONFIG")},
    }
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        info["device"] = {
            "kind": "cuda",
            "name": torch.cuda.get_device_name(0),
            "capability": ".".join(map(str, torch.cuda.get_device_capability(0))),
            "total_memory_gib": round(props.total_memory / 1024**3, 1),
            "multiprocessors": props.multi_processor_count,
            "device_count": torch.cuda.device_count(),
            "cudnn": torch.backends.cudnn.version(),
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        }
    else:
        info["device"] = {"kind": "cpu", "name": machine_info()["processor"]}
    info["deterministic_requested"] = deterministic
    return info


def torch_matmul_tflops(device: str) -> dict[str, Any]:
    """Best-of float32 ``n x n`` matmul throughput of torch on ``device`` (TFLOP/s)."""
    import torch

    cuda = device.startswith("cuda")
    n = 8192 if cuda else 2048
    repeats = 5 if cuda else 3
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device)
    b = torch.randn(n, n, generator=g).to(device)
    a @ b  # warm-up (library handles, thread pool)
    sync(device)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t0)
    del a, b
    return {"name": f"torch_float32_matmul_{n}_tflops_best_of_{repeats}",
            "tflops": round(2.0 * n**3 / best / 1e12, 4), "n": n, "device": device,
            "precision": torch.get_float32_matmul_precision()}


# ----------------------------------------------------------------------- 1. training


def train_throughput(loss_name: str, device: str, seed: int, batch: int, warmup: int,
                     steps: int, options: dict[str, Any], adam: dict[str, float]
                     ) -> dict[str, Any]:
    """LeNet training steps with ``loss_name``, each as ``fit_torch`` makes it."""
    import torch

    from nasrank.losses import LossContext, get_loss
    from nasrank.predictors import get_predictor

    torch.manual_seed(seed)
    model = get_predictor("lenet", SHAPE, seed=seed).to(device)
    loss_fn = get_loss(loss_name, **options).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=adam["learning_rate"],
                           weight_decay=adam["weight_decay"])
    pool = 8 * batch  # a device-resident "training set"; full batches only
    g = torch.Generator().manual_seed(seed)
    xt = torch.randn(pool, *SHAPE, generator=g).to(device)
    yt = torch.rand(pool, generator=g).to(device)
    rng = np.random.default_rng(seed + 1)
    ctx = LossContext(epoch=0, train_size=pool)
    order: list[np.ndarray] = []
    model.train()

    def step() -> float:
        if not order:
            perm = rng.permutation(pool)
            order.extend(perm[i : i + batch] for i in range(0, pool, batch))
        b = torch.from_numpy(order.pop()).to(device)
        pred, feats = model(xt[b])
        loss = loss_fn(pred, yt[b], feats if loss_fn.needs_features else None, ctx)
        if not torch.isfinite(loss):
            raise RuntimeError(f"loss {loss_name} is {loss.item()}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    for _ in range(warmup):
        step()
    sync(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0, c0 = time.perf_counter(), time.process_time()
    last = math.nan
    for _ in range(steps):
        last = step()
    sync(device)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out: dict[str, Any] = {
        "loss": loss_name,
        "loss_options": loss_fn.options,
        "steps_timed": steps,
        "warmup_steps": warmup,
        "batch": batch,
        "wall_s": round(wall, 3),
        "process_cpu_s": round(cpu, 3),
        "ms_per_step": round(wall / steps * 1e3, 3),
        "samples_per_s": round(steps * batch / wall, 1),
        "last_loss": round(last, 6),
        # one ReNAS run: 200 epochs on 4,236 architectures (1 % of NB101)
        "est_fit_s_200_epochs_n4236": round(200 * 4236 / (steps * batch / wall), 1),
    }
    if device.startswith("cuda"):
        out["peak_memory_mib"] = round(torch.cuda.max_memory_allocated() / MIB, 1)
    return out


# ----------------------------------------------------------------------- 2. inference


def load_inputs(features: Path | None, quick: bool, seed: int
                ) -> tuple[np.ndarray, dict[str, Any]]:
    """The (N, 19, 7, 7) float32 inputs and how they were obtained."""
    from nasrank.encodings.store import read_features

    rng = np.random.default_rng(seed)
    info: dict[str, Any] = {}
    if features is not None and features.is_file():
        t0 = time.perf_counter()
        feats = read_features(features)
        info["read_features_s"] = round(time.perf_counter() - t0, 3)
        x = feats.x
        info["source"] = str(features)
        info["file_mib"] = round(features.stat().st_size / MIB, 2)
        info["rows_in_file"] = int(x.shape[0])
        info["shape"] = list(x.shape[1:])
        if x.shape[1:] != SHAPE:
            raise ValueError(f"{features}: tensors of shape {x.shape[1:]}, expected {SHAPE}")
        if quick and x.shape[0] > QUICK_ARCHS:
            pick = np.sort(rng.choice(x.shape[0], size=QUICK_ARCHS, replace=False))
            x = x[pick]
            info["subset"] = f"random {QUICK_ARCHS} of {info['rows_in_file']} rows (seed {seed})"
        del feats
    else:
        n = QUICK_ARCHS if quick else N_ARCHS
        x = rng.standard_normal((n, *SHAPE), dtype=np.float32)
        why = "no --features file" if features is None else f"{features} not found"
        info["source"] = f"random standard-normal tensors ({why}): {n} x {SHAPE}"
    info["n_archs"] = int(x.shape[0])
    return np.ascontiguousarray(x), info


def forward_flops(model: Any) -> int:
    """Multiply-add FLOPs (2 per MAC) of the convolutions and linear layers for one input."""
    import torch
    from torch import nn

    total = 0

    def hook(mod: nn.Module, inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            total += 2 * out.numel() * (mod.in_channels // mod.groups) * kh * kw
        elif isinstance(mod, nn.Linear):
            total += 2 * out.numel() * mod.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *SHAPE, device=next(model.parameters()).device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total


def inference_throughput(x: np.ndarray, device: str, seed: int, passes: int
                         ) -> dict[str, Any]:
    """``nasrank.train.predict_torch`` over ``x``; on CUDA also from device memory."""
    import torch

    from nasrank.predictors import get_predictor
    from nasrank.train import predict_batch, predict_torch

    model = get_predictor("lenet", SHAPE, seed=seed).to(device)
    batch = predict_batch(device)
    predict_torch(model, x[:batch], device)  # warm-up (kernels, allocator)
    sync(device)
    n = x.shape[0]
    times = []
    out = np.empty(0)
    for _ in range(passes):
        t0 = time.perf_counter()
        out = predict_torch(model, x, device)
        sync(device)
        times.append(time.perf_counter() - t0)
    best = min(times)
    flops = forward_flops(model)
    result: dict[str, Any] = {
        "timed": "nasrank.train.predict_torch: eval mode, torch.no_grad, batches of "
                 f"{batch}, numpy float32 in -> device -> numpy float64 out; "
                 "file reading excluded",
        "batch": batch,
        "n_archs": n,
        "passes": passes,
        "wall_s_per_pass": [round(t, 3) for t in times],
        "archs_per_s": round(n / best, 1),
        "archs_per_s_median": round(n / statistics.median(times), 1),
        "outputs_finite": bool(np.isfinite(out).all()),
        "forward_mflop_per_arch": round(flops / 1e6, 3),
        "effective_gflops": round(flops * n / best / 1e9, 2),
        "est_all_archs_s": round(N_ARCHS / (n / best), 2),
        "target": f">= {TARGET_ARCHS_PER_S:,.0f} architectures/s",
        "target_met": bool(n / best >= TARGET_ARCHS_PER_S),
    }
    if device.startswith("cuda"):
        xd = torch.from_numpy(x).to(device)
        model.eval()
        dev_times = []
        with torch.no_grad():
            for _ in range(passes):
                sync(device)
                t0 = time.perf_counter()
                preds = [model(xd[i : i + batch])[0] for i in range(0, n, batch)]
                torch.cat(preds)
                sync(device)
                dev_times.append(time.perf_counter() - t0)
        result["device_resident"] = {
            "timed": "same batches with the inputs already on the GPU and the outputs left "
                     "there (no host transfers)",
            "wall_s_per_pass": [round(t, 4) for t in dev_times],
            "archs_per_s": round(n / min(dev_times), 1),
        }
        del xd
    return result


# ----------------------------------------------------------------------- 3. loss cost


def loss_cost(name: str, batch: int, device: str, seed: int, warmup: int, calls: int,
              options: dict[str, Any]) -> dict[str, Any]:
    """Forward + backward of loss ``name`` alone on random inputs of ``batch`` items."""
    import torch

    from nasrank.losses import LossContext, get_loss

    cuda = device.startswith("cuda")
    fn = get_loss(name, **options).to(device)
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(batch, generator=g).to(device).requires_grad_()
    target = torch.rand(batch, generator=g).to(device)
    feats = None
    if fn.needs_features:
        feats = torch.randn(batch, FEATURE_DIM, generator=g).to(device).requires_grad_()
    ctx = LossContext(epoch=0, train_size=batch)

    def call() -> None:
        pred.grad = None
        if feats is not None:
            feats.grad = None
        fn(pred, target, feats, ctx).backward()

    row: dict[str, Any] = {"batch": batch, "ordered_pairs": batch * (batch - 1)}
    try:
        for _ in range(warmup):
            call()
        sync(device)
        if cuda:
            torch.cuda.empty_cache()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            call()
            sync(device)
            times.append(time.perf_counter() - t0)
    except (torch.cuda.OutOfMemoryError, MemoryError) as exc:
        row["status"] = "out of memory"
        row["error"] = str(exc).splitlines()[0][:200]
        if cuda:
            torch.cuda.empty_cache()
        return row
    except RuntimeError as exc:
        if "memory" not in str(exc).lower():
            raise
        row["status"] = "out of memory"
        row["error"] = str(exc).splitlines()[0][:200]
        return row
    row["status"] = "ok"
    row["calls"] = calls
    row["ms_median"] = round(statistics.median(times) * 1e3, 3)
    row["ms_min"] = round(min(times) * 1e3, 3)
    if cuda:
        peak = torch.cuda.max_memory_allocated()
        row["peak_memory_mib"] = round(peak / MIB, 2)
        row["peak_memory_over_inputs_mib"] = round((peak - base) / MIB, 2)
    return row


# ----------------------------------------------------------------------- main


def resolve(device: str) -> str | None:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        return None
    return device


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where to run (auto: cuda when available, else cpu)")
    parser.add_argument("--features", type=Path, default=None,
                        help=f"NB101 renas_tensor features (default: {DEFAULT_FEATURES} "
                             "if present, else random tensors)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--quick", action="store_true",
                        help=f"few steps, inference on {QUICK_ARCHS} random cells")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's own choice)")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (0)")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed training steps per loss (override)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated parts to run (default: {','.join(PARTS)})")
    parser.add_argument("--no-deterministic", dest="deterministic", action="store_false",
                        help="do not enable torch deterministic algorithms (the trainer does)")
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or not set(parts) <= set(PARTS):
        parser.error(f"--parts takes a comma-separated subset of {', '.join(PARTS)}")

    started = time.perf_counter()
    load_start = os.getloadavg() if hasattr(os, "getloadavg") else None
    notes: list[str] = []
    cublas_set = False
    if args.deterministic and "CUBLAS_WORKSPACE_CONFIG" not in os.environ:
        # Must be in the environment before cuBLAS starts; deterministic mode raises on
        # CUDA matmuls without it.
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
        cublas_set = True

    import torch

    device = resolve(args.device)
    if device is None:
        parser.error("--device cuda but torch sees no CUDA device")
    cfg = dict(QUICK if args.quick else FULL["cuda" if device == "cuda" else "cpu"])
    if args.steps is not None:
        cfg["steps"] = args.steps
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if device == "cuda":
        torch.cuda.manual_seed_all(args.seed)
    torch.use_deterministic_algorithms(args.deterministic)
    if cublas_set and device == "cuda":
        notes.append("CUBLAS_WORKSPACE_CONFIG=:4096:8 was set by this script: with "
                     "torch.use_deterministic_algorithms(True), as nasrank.train.fit_torch "
                     "sets it, CUDA matmuls raise without it")

    params = load_params()
    adam = train_settings(params)
    report: dict[str, Any] = {
        "benchmark": "nasrank predictor training / inference / loss cost",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if args.quick else "full",
        "machine": machine_info(),
        "torch": torch_info(device, args.deterministic),
        "device": device,
        "threads": torch.get_num_threads(),
        "threads_requested": args.threads,
        "seed": args.seed,
        "cublas_workspace_config_set_by_script": cublas_set,
        "load_average_start": load_start,
    }
    report["reference"] = {**reference_figure(),
                           "torch_matmul": torch_matmul_tflops(device)}
    report["settings"] = {
        "predictor": "lenet (ReNAS), input 19x7x7, default options",
        "optimizer": {"name": "Adam", **adam, "source": "params.yaml train (lenet)"},
        "train_batch": TRAIN_BATCH,
        "parts": parts,
        **cfg,
    }
    failed = False

    # 1. Training throughput.
    training: dict[str, Any] = {}
    for name in TRAIN_LOSSES if "training" in parts else ():
        try:
            training[name] = train_throughput(name, device, args.seed, TRAIN_BATCH,
                                              cfg["warmup"], cfg["steps"],
                                              loss_opts(params, name), adam)
        except Exception as exc:  # report and go on with the other parts
            training[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            failed = True
    if training:
        report["training"] = training

    # 2. Inference over the encoded space.
    features = args.features
    if features is None and DEFAULT_FEATURES.is_file():
        features = DEFAULT_FEATURES
    try:
        if "inference" in parts:
            x, inputs = load_inputs(features, args.quick, args.seed)
            report["inference"] = {"inputs": inputs, **inference_throughput(
                x, device, args.seed, cfg["passes"])}
            del x
    except Exception as exc:
        report["inference"] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        failed = True

    # 3. Loss cost vs batch size.
    sweep: dict[str, Any] = {}
    for name in SWEEP_LOSSES if "losses" in parts else ():
        rows = []
        for b in SWEEP_BATCHES:
            try:
                rows.append(loss_cost(name, b, device, args.seed, cfg["loss_warmup"],
                                      cfg["loss_calls"], loss_opts(params, name)))
            except Exception as exc:
                rows.append({"batch": b, "status": "failed",
                             "error": f"{type(exc).__name__}: {exc}"})
                failed = True
        sweep[name] = {"options": {**get_loss_defaults(name), **loss_opts(params, name)},
                       "by_batch": rows}
    if sweep:
        report["loss_cost"] = {
            "timed": "forward + backward of the loss alone (random predictions, targets in "
                     f"[0, 1], {FEATURE_DIM}-d features for renas), synchronised per call",
            "memory": "peak torch.cuda.max_memory_allocated during the calls"
                      if device == "cuda" else "not measured on the CPU",
            "losses": sweep,
        }

    report["load_average_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load_start and load_start[0] > 0.5 * (os.cpu_count() or 1):
        notes.append(f"the machine was busy (1-min load average {load_start[0]:.2f} on "
                     f"{os.cpu_count()} CPUs at start): timings are noisy")
    report["notes"] = notes
    report["wall_s"] = round(time.perf_counter() - started, 2)
    emit(report, args.out)
    return 1 if failed else 0


def get_loss_defaults(name: str) -> dict[str, Any]:
    from nasrank.losses import loss_options

    return loss_options(name)


if __name__ == "__main__":
    sys.exit(main())
