"""Sweeps: many training runs of one (table, encoding, predictor, settings) trained at once.

A sweep is a set of runs (:class:`nasrank.train.RunConfig`) that share the table, the
encoding, the predictor, its options and the training settings, and differ in loss, loss
options, train size and seed. The torch predictors of all its runs are trained together
on one device: their parameters are stacked along a run axis
(:class:`nasrank.predictors.stacked.StackedNetwork`), every step is one batched forward
and backward pass over all runs, each on its own mini-batch, and one Adam update over the
stacked tensors. ``nasrank train`` is a sweep of one.

Usage::

    cfgs = [config_from_params(params, bench="nb201", task="cifar10", encoding="gcn",
                               predictor="gcn", loss=loss, train_size=n, seed=s)
            for loss in ("hr", "mse") for n in (50, 100) for s in (0, 1, 2)]
    results = run_sweep(cfgs, params)     # writes data/models/<run_id>/ for each run

What each run keeps of its own, exactly as if it were trained alone:

* split, feature standardisation and label scaling (functions of its config);
* initialisation: the network built after ``torch.manual_seed(seed)``;
* batch order: ``numpy.random.default_rng(seed + 1)``, one permutation per epoch;
* dropout stream: a ``torch.Generator`` of its own (seeded ``seed + DROPOUT_SEED_OFFSET``)
  draws the masks of every step of an epoch at once, in :func:`dropout_sites` order;
* loss and its options, and the Adam moments of its parameters.

How runs share a step. Runs with the same train size have the same batch sizes, so they
are grouped by train size and every group trains in lock step (a sweep of several train
sizes runs its groups one after the other). Within a group each loss (with its options)
is evaluated with ``torch.func.vmap`` on its runs' slice of the stacked predictions. A
group larger than the device's memory allows is split into chunks; the chunk size comes
from the bytes one run's step was measured to keep alive.

Exactness. On the CPU a run's parameters and predictions are bit-identical whichever runs
share its sweep, its group or its chunk (tested): the batched layers and the optimiser
use per-run matrix products and correctly rounded element-wise operations only. On CUDA,
deterministic algorithms are on; whether results depend on the sweep's size there is
measured by ``benchmarks/sweeps.py``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from nasrank import __version__, numerics
from nasrank.errors import ConfigError, NasrankError
from nasrank.paths import Paths

log = logging.getLogger("nasrank.sweep")

DROPOUT_SEED_OFFSET = 2  # seed + 1 orders the batches
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
# Keys of RunConfig that every run of a sweep shares (the rest may differ per run).
SHARED_KEYS = ("bench", "task", "target", "encoding", "predictor", "protocol",
               "naslib_test_size", "epochs", "batch_size", "learning_rate", "weight_decay",
               "device", "select", "predictor_options")
MEMORY_FRACTION = 0.5  # of the free device memory a chunk may use
MAX_CHUNK = 4096
# On the CPU small chunks run fastest (their activations stay in cache): measured GCN
# throughput peaked at chunks of 4-8 runs and fell by a third at 128 (benchmarks/sweeps.py).
MAX_CPU_CHUNK = 8


class SweepError(NasrankError):
    """A sweep cannot be formed or cannot run (mixed settings, no memory for one run)."""


@dataclass
class TrainedRun:
    """One run's result of :func:`fit_sweep`: its state dict, epoch log and fit time."""

    state_dict: dict[str, Any]
    history: list[dict[str, float]]
    fit_time_s: float
    sweep_fit_time_s: float
    sweep_runs: int
    chunk_runs: int


def sweep_name(cfgs: Sequence[Any]) -> str:
    """``table/encoding/predictor`` plus the number of runs, for messages."""
    c = cfgs[0]
    return f"{c.table}/{c.encoding}/{c.predictor} ({len(cfgs)} run{'s' * (len(cfgs) > 1)})"


def check_sweep(cfgs: Sequence[Any]) -> None:
    """Raise :class:`SweepError` unless the runs may share one sweep.

    Raises:
        SweepError: no runs, a duplicate run id, or runs that differ in a shared key
            (naming the key, both values and both run ids).
    """
    if not cfgs:
        raise SweepError("a sweep needs at least one run")
    first = cfgs[0]
    seen: dict[str, int] = {}
    for cfg in cfgs:
        if cfg.run_id in seen:
            raise SweepError(f"run {cfg.run_id} appears twice in the sweep")
        seen[cfg.run_id] = 1
        for key in SHARED_KEYS:
            a, b = getattr(first, key), getattr(cfg, key)
            if a != b:
                raise SweepError(f"runs of one sweep share {key}: {first.run_id} has {a!r}, "
                                 f"{cfg.run_id} has {b!r}")


# ----------------------------------------------------------------------------- pieces


def _loss_key(cfg: Any) -> str:
    return json.dumps([cfg.loss, cfg.loss_options], sort_keys=True, default=str)


class _Adam:
    """Adam (Kingma & Ba) over stacked tensors, with torch.optim.Adam's formula and
    L2 weight decay, written with separate correctly rounded operations (the root too:
    :mod:`nasrank.exact`) so each element's update does not depend on where it sits in
    the tensor, nor on the CPU."""

    def __init__(self, params: dict[str, Any], lr: float, weight_decay: float) -> None:
        import torch

        self.params = params
        self.lr, self.weight_decay = lr, weight_decay
        self.m = {k: torch.zeros_like(v) for k, v in params.items()}
        self.v = {k: torch.zeros_like(v) for k, v in params.items()}
        self.step_count = 0

    def step(self) -> None:
        import torch

        from nasrank.exact import sqrt

        b1, b2 = ADAM_BETAS
        self.step_count += 1
        step_size = self.lr / (1 - b1 ** self.step_count)
        bias2_sqrt = math.sqrt(1 - b2 ** self.step_count)
        with torch.no_grad():
            for k, p in self.params.items():
                g = p.grad
                if g is None:
                    continue
                if self.weight_decay:
                    g = g + p * self.weight_decay
                m, v = self.m[k], self.v[k]
                m.mul_(b1).add_(g * (1 - b1))
                v.mul_(b2).add_((g * g) * (1 - b2))
                denom = sqrt(v) / bias2_sqrt + ADAM_EPS
                p.sub_((m / denom) * step_size)
                p.grad = None


def _batch_sizes(n: int, size: int) -> list[slice]:
    """Positions of each mini-batch in an epoch's permutation (as nasrank.train._batches)."""
    from nasrank.train import _batches

    bounds = _batches(n, size, np.arange(n))
    return [slice(int(b[0]), int(b[-1]) + 1) for b in bounds]


def _measure_run_bytes(cfg: Any, module: Any, x: Any, y: Any, loss_fn: Any,
                       batch: int, device: str) -> int:
    """Bytes one run keeps alive in a training step: tensors saved for backward in a
    measured forward pass, its parameters with gradients and Adam moments, its training
    data and one epoch of dropout masks."""
    import torch

    from nasrank.predictors.stacked import StackedNetwork, dropout_sites

    saved = 0

    def pack(t: Any) -> Any:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    stack = StackedNetwork([module], device)
    xb = x[None, :batch]
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        pred, feats = stack(xb, train=True)
        from nasrank.losses import LossContext

        _vmapped_loss(loss_fn, pred, y[None, :batch].to(pred.dtype), feats,
                      LossContext(epoch=0, train_size=int(x.shape[0])))
    params = sum(p.numel() * p.element_size() for p in module.parameters())
    steps = math.ceil(x.shape[0] / batch)
    masks = sum(math.prod(s) for s, _ in dropout_sites(module, batch)) * steps * 8
    data = x.numel() * x.element_size() + y.numel() * 8
    # twice the saved activations: the forward's temporaries and the backward's gradients
    return 2 * saved + 4 * params + masks + data


def _free_bytes(device: str) -> int:
    import torch

    if device.startswith("cuda"):
        free, _ = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    import psutil

    return int(psutil.virtual_memory().available)


def _vmapped_loss(loss_fn: Any, pred: Any, target: Any, feats: Any, ctx: Any) -> Any:
    """``loss_fn`` per run: ``(R, B)`` predictions -> ``(R,)`` losses."""
    from torch.func import vmap

    if loss_fn.needs_features:
        return vmap(lambda p, t, f: loss_fn(p, t, f, ctx), randomness="same")(pred, target, feats)
    return vmap(lambda p, t: loss_fn(p, t, None, ctx))(pred, target)


# ----------------------------------------------------------------------------- training


def fit_sweep(cfgs: Sequence[Any], xs: Sequence[np.ndarray], ys: Sequence[np.ndarray],
              layout: dict[str, list[int]] | None, device: str,
              progress: Callable[[int, int], None] | None = None,
              chunk_size: int | None = None) -> list[TrainedRun]:
    """Train the torch predictors of ``cfgs`` on scaled features ``xs`` and labels ``ys``.

    Args:
        cfgs: the runs (checked with :func:`check_sweep`).
        xs, ys: per run, its scaled training features ``(n, *shape)`` (float32) and
            labels ``(n,)`` in [0, 1].
        layout: the encoding's layout (the GCN needs it).
        device: ``cpu`` or ``cuda[:i]``.
        progress: called with (runs finished, epochs done in the latest chunk).
        chunk_size: at most this many runs at once (default: measured from memory).

    On the CPU every chunk trains on one thread (each kernel's order of operations then
    does not depend on how many runs share it); the group is cut into as many chunks as
    torch has threads, trained side by side in a thread pool.

    Returns:
        One :class:`TrainedRun` per run, in the order of ``cfgs``.

    Raises:
        SweepError: the runs cannot share a sweep, or one run does not fit the device.
        TrainingError: a non-finite loss, naming the run, epoch and step.
    """
    for key, value in _deterministic_env().items():
        os.environ.setdefault(key, value)  # before CUDA starts (cuBLAS reads it then)
    import torch

    check_sweep(cfgs)
    groups: dict[int, list[int]] = {}
    for i, y in enumerate(ys):
        groups.setdefault(len(y), []).append(i)
    results: list[TrainedRun | None] = [None] * len(cfgs)
    cpu = not device.startswith("cuda")
    workers = max(1, torch.get_num_threads()) if cpu else 1
    lock = threading.Lock()
    done = 0

    def report(epoch: int, finished: int = 0) -> None:
        nonlocal done
        if progress is None:
            return
        with lock:
            done += finished
            progress(done, epoch)

    start = time.perf_counter()
    threads_before = torch.get_num_threads()
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=False)
    if cpu:
        torch.set_num_threads(1)  # one thread per chunk: see the module docstring
    try:
        for n in sorted(groups):
            members = groups[n]
            size = chunk_size or _chunk_size(cfgs, members, xs, ys, layout, device)
            size = min(size, math.ceil(len(members) / workers))
            if cpu:
                size = min(size, MAX_CPU_CHUNK)
            chunks = [members[c:c + size] for c in range(0, len(members), size)]

            # built here, not in the pool: initialisation seeds torch's global generator
            modules = {i: _build(cfgs[i], xs[i].shape[1:], layout) for i in members}

            def train(chunk: list[int], modules: dict[int, Any] = modules
                      ) -> list[tuple[dict[str, Any], list[dict[str, float]]]]:
                out = _fit_group([cfgs[i] for i in chunk], [modules[i] for i in chunk],
                                 [xs[i] for i in chunk],
                                 [ys[i] for i in chunk], layout, device,
                                 report if progress else None)
                report(0, len(chunk))
                return out

            t0 = time.perf_counter()
            if len(chunks) > 1 and workers > 1:
                with ThreadPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
                    trained = list(pool.map(train, chunks))
            else:
                trained = [train(c) for c in chunks]
            each = (time.perf_counter() - t0) / len(members)
            for chunk, part in zip(chunks, trained, strict=True):
                for i, (state, history) in zip(chunk, part, strict=True):
                    results[i] = TrainedRun(state, history, each, 0.0, len(cfgs), len(chunk))
    finally:
        torch.set_num_threads(threads_before)
        torch.use_deterministic_algorithms(deterministic_before)
    total = time.perf_counter() - start
    out = []
    for r in results:
        assert r is not None
        r.sweep_fit_time_s = total
        out.append(r)
    return out


def _chunk_size(cfgs: Sequence[Any], members: list[int], xs: Sequence[np.ndarray],
                ys: Sequence[np.ndarray], layout: Any, device: str) -> int:
    """Runs per chunk: free memory x MEMORY_FRACTION over one run's measured bytes."""
    import torch

    from nasrank.losses import get_loss
    from nasrank.predictors import get_predictor

    cfg = cfgs[members[0]]
    module = get_predictor(cfg.predictor, xs[members[0]].shape[1:], layout or None,
                           seed=cfg.seed, **cfg.predictor_options)
    x = torch.from_numpy(xs[members[0]]).to(device)
    y = torch.from_numpy(ys[members[0]].astype(np.float32)).to(device)
    loss_fn = get_loss(cfg.loss, **cfg.loss_options).to(device)
    batch = min(cfg.batch_size, len(ys[members[0]]))
    per_run = _measure_run_bytes(cfg, module, x, y, loss_fn, batch, device)
    budget = _free_bytes(device) * MEMORY_FRACTION
    if per_run > budget:
        raise SweepError(f"sweep {sweep_name(cfgs)}: one run ({cfg.run_id}) needs about "
                         f"{per_run / 2**20:,.0f} MiB, more than {MEMORY_FRACTION:.0%} of the "
                         f"{budget / MEMORY_FRACTION / 2**20:,.0f} MiB free on {device}")
    size = int(max(1, min(MAX_CHUNK, budget // per_run)))
    if size < len(members):
        log.info("sweep %s: %d runs of train size %d in chunks of %d (%.1f MiB per run, "
                 "measured)", sweep_name(cfgs), len(members), len(ys[members[0]]), size,
                 per_run / 2**20)
    return size


def _deterministic_env() -> dict[str, str]:
    from nasrank.train import DETERMINISTIC_ENV

    return DETERMINISTIC_ENV


def _build(cfg: Any, shape: tuple[int, ...], layout: Any) -> Any:
    """The run's network, initialised from its seed (as a run alone is)."""
    from nasrank.predictors import get_predictor

    return get_predictor(cfg.predictor, shape, layout or None, seed=cfg.seed,
                         **cfg.predictor_options)


def _fit_group(cfgs: list[Any], modules: list[Any], xs: list[np.ndarray], ys: list[np.ndarray],
               layout: Any, device: str, progress: Callable[[int], None] | None
               ) -> list[tuple[dict[str, Any], list[dict[str, float]]]]:
    """Train runs of one train size in lock step; returns (state dict, epoch log) each.

    The runs are ordered by loss so that each loss's runs are one contiguous slice of the
    stacked predictions (a view: no index gather, whose CUDA backward accumulates).
    """
    import torch

    from nasrank.losses import LossContext, get_loss
    from nasrank.metrics import ranking_metrics
    from nasrank.predictors.stacked import StackedNetwork, dropout_sites
    from nasrank.train import TrainingError

    keys = list(dict.fromkeys(_loss_key(c) for c in cfgs))
    order = sorted(range(len(cfgs)), key=lambda i: keys.index(_loss_key(cfgs[i])))
    cfgs = [cfgs[i] for i in order]
    modules = [modules[i] for i in order]
    xs, ys = [xs[i] for i in order], [ys[i] for i in order]
    ref = cfgs[0]
    r_count, n = len(cfgs), len(ys[0])
    stack = StackedNetwork(modules, device)
    opt = _Adam(stack.params, ref.learning_rate, ref.weight_decay)
    slices: dict[str, slice] = {}
    for i, c in enumerate(cfgs):
        k = _loss_key(c)
        slices[k] = slice(slices[k].start if k in slices else i, i + 1)
    losses = {k: get_loss(cfgs[sl.start].loss, **cfgs[sl.start].loss_options).to(device)
              for k, sl in slices.items()}
    x_all = torch.from_numpy(np.stack(xs)).to(device)                      # (R, n, ...)
    y_all = torch.from_numpy(np.stack(ys).astype(np.float32)).to(device)   # (R, n)
    runs = torch.arange(r_count, device=device)[:, None]
    rngs = [np.random.default_rng(c.seed + 1) for c in cfgs]
    gens = [torch.Generator(device=device).manual_seed(c.seed + DROPOUT_SEED_OFFSET)
            for c in cfgs]
    batches = _batch_sizes(n, ref.batch_size)
    histories: list[list[dict[str, float]]] = [[] for _ in cfgs]
    select = ref.select == "train_kendall_tau"
    best_score = torch.full((r_count,), -math.inf, dtype=torch.float64)
    has_best = torch.zeros(r_count, dtype=torch.bool)
    best = None
    for epoch in range(ref.epochs):
        ctx = LossContext(epoch=epoch, train_size=n)
        perm = torch.from_numpy(np.stack([g.permutation(n) for g in rngs])).to(device)
        step_sites = [dropout_sites(modules[0], b.stop - b.start) for b in batches]
        per_step: list[list[Any]] = []
        if any(step_sites):
            per_step = _epoch_masks(gens, step_sites, device)
        step_losses = []
        for step, part in enumerate(batches):
            idx = perm[:, part]
            xb, yb = x_all[runs, idx], y_all[runs, idx]
            pred, feats = stack(xb, train=True, dropout=per_step[step] if per_step else None)
            parts = [_vmapped_loss(losses[k], pred[sl], yb[sl], feats[sl], ctx)
                     for k, sl in slices.items()]
            value = parts[0] if len(parts) == 1 else torch.cat(parts)
            value.sum().backward()
            opt.step()
            step_losses.append(value.detach())
        values = torch.stack(step_losses).cpu().numpy().astype(np.float64)  # (steps, R)
        finite = np.isfinite(values)
        if not finite.all():
            step, r = (int(a[0]) for a in np.nonzero(~finite))
            bad = cfgs[r]
            raise TrainingError(f"{bad.run_id}: loss {bad.loss} is {values[step, r]} at "
                                f"epoch {epoch}, step {step}")
        sizes = [p.stop - p.start for p in batches]
        for r in range(r_count):
            acc = 0.0
            for s, size in enumerate(sizes):
                acc += float(np.float32(values[s, r])) * size
            histories[r].append({"epoch": epoch, "loss": acc / n})
        if select:
            with torch.no_grad():
                pred, _ = stack(x_all, train=False)
            pred_np = pred.double().cpu().numpy()
            scores = torch.tensor([ranking_metrics(ys[r], pred_np[r], precision_t=(),
                                                   n_at_k=(), precision_at_k=())[
                                                       "kendall_tau"] for r in range(r_count)],
                                  dtype=torch.float64)
            for r in range(r_count):
                histories[r][-1]["train_kendall_tau"] = float(scores[r])
            better = scores > best_score
            if bool(better.any()):
                snap = stack.snapshot()
                if best is None:
                    best = snap
                else:
                    mask = better.to(device)
                    for k in best:
                        sel = mask.reshape(-1, *([1] * (best[k].ndim - 1)))
                        best[k] = torch.where(sel, snap[k], best[k])
                best_score = torch.where(better, scores, best_score)
                has_best |= better
        if progress:
            progress(epoch + 1)
    if best is not None:
        stack.restore(best, has_best.to(device))
    trained = list(zip(stack.state_dicts(), histories, strict=True))
    back = [0] * len(order)
    for pos, i in enumerate(order):
        back[i] = pos
    return [trained[back[i]] for i in range(len(order))]


def _epoch_masks(gens: list[Any], step_sites: list[list[tuple[tuple[int, ...], float]]],
                 device: str) -> list[list[Any]]:
    """Dropout masks of one epoch: per step, per site ``(R, *shape)`` of 0 or
    ``1/(1-p)``; each run's drawn in one call from its own generator."""
    import torch

    counts = [sum(math.prod(s) for s, _ in sites) for sites in step_sites]
    u = torch.stack([torch.rand(sum(counts), generator=g, device=device) for g in gens])
    out, off = [], 0
    for sites in step_sites:
        row = []
        for shape, p in sites:
            k = math.prod(shape)
            # 0 or 1/(1-p) (the bytes torch.where gives, in half its time)
            mask = (u[:, off:off + k] >= p).to(u.dtype).mul_(1.0 / (1.0 - p))
            row.append(mask.reshape(len(gens), *shape))
            off += k
        out.append(row)
    return out


# ----------------------------------------------------------------------------- fitted runs


def fit_predictors(cfgs: Sequence[Any], xs: Sequence[np.ndarray], ys: Sequence[np.ndarray],
                   layout: dict[str, list[int]] | None, *, progress: bool = False,
                   unlabeled: Sequence[np.ndarray | None] | None = None) -> list[Any]:
    """Fit each run's predictor on its raw features and labels, the torch ones as one sweep.

    Feature and label scaling use each run's own training samples only. Tree predictors
    are fitted one after the other. ``unlabeled``: per run, raw features of architectures
    without labels, for the predictors that read them (``spec.unlabeled``: SemiNAS),
    scaled as the run's inputs; such a predictor without them is an error naming it.

    Returns:
        One :class:`nasrank.train.FittedPredictor` per run, in order, each with
        ``timing`` (the run's share of the sweep's fit time and the sweep's total).

    Raises:
        SweepError, TrainingError, ConfigError: see :func:`fit_sweep` and
            :func:`nasrank.train.check_loss`.
    """
    from nasrank.predictors import get_predictor
    from nasrank.train import (
        DETERMINISTIC_ENV,
        FittedPredictor,
        Scaling,
        check_loss,
        resolve_device,
    )

    for key, value in DETERMINISTIC_ENV.items():
        os.environ.setdefault(key, value)
    if not cfgs:
        return []
    check_sweep(cfgs)
    specs = [check_loss(c) for c in cfgs]
    scalings = [Scaling.fit(x, y, standardize=s.standardize)
                for x, y, s in zip(xs, ys, specs, strict=True)]
    xs_s = [sc.x(x).astype(np.float32) for sc, x in zip(scalings, xs, strict=True)]
    ys_s = [sc.y(y) for sc, y in zip(scalings, ys, strict=True)]
    if specs[0].kind != "torch":
        out = []
        extra = list(unlabeled) if unlabeled is not None else [None] * len(cfgs)
        for cfg, sc, x, y, u, spec in zip(cfgs, scalings, xs_s, ys_s, extra, specs,
                                          strict=True):
            t0 = time.perf_counter()
            model = get_predictor(cfg.predictor, x.shape[1:], layout or None,
                                  seed=cfg.seed, **cfg.predictor_options)
            if spec.unlabeled:
                if u is None or len(u) == 0:
                    raise ConfigError(
                        f"run {cfg.run_id}: predictor {cfg.predictor!r} trains on unlabeled "
                        "architectures too, which nasrank passes in the family study and the "
                        "predictor searches only")
                model.fit(x, y, unlabeled=sc.x(u).astype(np.float32))
            else:
                model.fit(x, y)
            fit_s = time.perf_counter() - t0
            out.append(FittedPredictor(cfg, model, sc, "tree", "cpu", [],
                                       {"fit_time_s": fit_s, "sweep_fit_time_s": fit_s,
                                        "sweep_runs": 1}))
        return out
    device = resolve_device(cfgs[0].device)
    bar = _progress_bar(cfgs) if progress else None
    try:
        trained = fit_sweep(cfgs, xs_s, ys_s, layout, device,
                            progress=bar.update_to if bar else None)
    finally:
        if bar:
            bar.close()
    out = []
    for cfg, sc, x, tr in zip(cfgs, scalings, xs_s, trained, strict=True):
        model = get_predictor(cfg.predictor, x.shape[1:], layout or None, seed=cfg.seed,
                              **cfg.predictor_options)
        model.load_state_dict(tr.state_dict)
        model = model.to(device)
        out.append(FittedPredictor(cfg, model, sc, "torch", device, tr.history,
                                   {"fit_time_s": tr.fit_time_s,
                                    "sweep_fit_time_s": tr.sweep_fit_time_s,
                                    "sweep_runs": tr.sweep_runs, "chunk_runs": tr.chunk_runs}))
    return out


class _Bar:
    """One tqdm bar per sweep: runs done / total, with the epoch and runs/s."""

    def __init__(self, cfgs: Sequence[Any]) -> None:
        from tqdm import tqdm

        self.epochs = cfgs[0].epochs
        self.bar = tqdm(total=len(cfgs), unit="run", desc=f"sweep {sweep_name(cfgs)}",
                        disable=None, mininterval=1.0, leave=False)
        self.done = 0

    def update_to(self, done: int, epoch: int) -> None:
        if done > self.done:
            self.bar.update(done - self.done)
            self.done = done
        if epoch:
            self.bar.set_postfix_str(f"epoch {epoch}/{self.epochs}", refresh=False)

    def close(self) -> None:
        self.bar.close()


def _progress_bar(cfgs: Sequence[Any]) -> _Bar:
    return _Bar(cfgs)


def _predict_all(fitted: Sequence[Any], x: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Each run's predictions of ``x`` and the seconds they took; on the CPU the runs are
    predicted side by side, one thread each (a run's predictions are the same bytes as
    when it is predicted alone: :func:`nasrank.train.one_thread`)."""
    import torch

    def one(fp: Any) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        y = fp.predict(x)
        return y, time.perf_counter() - t0

    workers = torch.get_num_threads()
    if len(fitted) < 2 or workers < 2 or fitted[0].device.startswith("cuda"):
        return [one(fp) for fp in fitted]
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(one, fitted))
    finally:
        torch.set_num_threads(workers)


@contextlib.contextmanager
def _removed_on_error(tmp: Path) -> Iterator[None]:
    """Delete the directory ``tmp`` when the block fails (it was not moved into place)."""
    try:
        yield
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_dir(tmp: Path, dest: Path) -> None:
    """Move the complete directory ``tmp`` onto ``dest`` (replacing an old ``dest``)."""
    from nasrank.io import temp_dir

    if not dest.exists():
        os.replace(tmp, dest)
        return
    with temp_dir(dest, "old") as old:
        os.replace(dest, old / dest.name)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)


def _config_fields(cfg: Any) -> dict[str, Any]:
    """The run config as config.json records it: ``loss_variant`` only for a variant."""
    fields = asdict(cfg)
    if fields.get("loss_variant") is None:
        fields.pop("loss_variant", None)
    return fields


def run_sweep(cfgs: Sequence[Any], params: dict[str, Any], *, progress: bool = True
              ) -> list[dict[str, Any]]:
    """Train every run of the sweep, predict all labelled architectures, write each run.

    Writes, per run, ``data/models/<run_id>/`` as :func:`nasrank.train.run` documents:
    ``model.bin``, ``config.json``, ``log.csv``, ``predictions.parquet`` and
    ``timing.json`` (the run's share of the sweep's fit time, the sweep's total and its
    number of runs). Nothing is written before every run has trained; each run's
    directory is written whole in a temporary directory and renamed into place.

    Returns:
        Per run ``{"config", "timing"}``.

    Raises:
        SweepError: runs that cannot share a sweep.
        TrainingError: a run diverged (no run of the sweep is written).
    """
    from nasrank.io import read_metadata, temp_dir, write_json, write_parquet
    from nasrank.train import load_run_inputs, non_finite_labels, split

    check_sweep(cfgs)
    ids, y, target, enc, x = load_run_inputs(cfgs[0], params)
    splits = [split(len(ids), c) for c in cfgs]
    fitted = fit_predictors(cfgs, [x[tr] for tr, _ in splits], [y[tr] for tr, _ in splits],
                            enc.layout, progress=progress)
    paths = Paths.of(params)
    # broken (NaN or infinite) labels left out: counted in each config.json where any are
    dropped = non_finite_labels(paths.processed(cfgs[0].table), target)
    # DARTS: the labels are NB301 surrogate predictions, said in every run's config
    surrogate = bool(read_metadata(paths.processed(cfgs[0].table)).get("surrogate_labels"))
    predictions = _predict_all(fitted, x)
    out = []
    for cfg, (train_idx, test_idx), fp, (y_pred, query_s) in zip(
            cfgs, splits, fitted, predictions, strict=True):
        dest = paths.models(cfg.run_id)
        with temp_dir(dest) as tmp, _removed_on_error(tmp):
            fp.save(tmp / "model.bin")
            split_col = np.full(len(ids), "test", dtype=object)
            split_col[train_idx] = "train"
            table = pa.table({
                "arch_id": pa.array(ids, pa.string()),
                "split": pa.array(split_col, pa.string()),
                "y_true": pa.array(y, pa.float64()),
                "y_pred": pa.array(y_pred, pa.float64()),
            })
            config = {**_config_fields(cfg), "run_id": cfg.run_id, "target": target,
                      "n_labelled": len(ids),
                      "n_test": len(test_idx), "nasrank_version": __version__,
                      "device_kind": fp.device.split(":")[0],
                      "model_format": "torch" if fp.kind == "torch" else "joblib",
                      **({"non_finite_labels": dropped} if dropped else {}),
                      **({"surrogate_labels": True} if surrogate else {}),
                      "numerics": numerics.provenance()}
            write_parquet(tmp / "predictions.parquet", table, config)
            write_json(tmp / "config.json", config)
            history = fp.history
            keys = list(history[0]) if history else ["epoch", "loss"]
            lines = [",".join(keys)] + [",".join(repr(r[k]) for k in keys) for r in history]
            (tmp / "log.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
            timing = {**fp.timing, "query_time_s": query_s,
                      "query_time_per_arch_s": query_s / len(ids), "device": fp.device,
                      "n_queried": len(ids), "machine": numerics.machine()}
            write_json(tmp / "timing.json", timing)
            for f in tmp.iterdir():
                os.chmod(f, 0o644)
            os.chmod(tmp, 0o755)
            _replace_dir(tmp, dest)
        log.info("%s: trained on %d (%.2f s of a %.1f s sweep of %d), predicted %d in "
                 "%.2f s on %s", cfg.run_id, len(train_idx), fp.timing["fit_time_s"],
                 fp.timing["sweep_fit_time_s"], fp.timing["sweep_runs"], len(ids), query_s,
                 fp.device)
        out.append({"config": config, "timing": timing})
    return out
