"""A numerics fingerprint: digests of a small training grid, to compare machines.

Trains, through the code paths the studies use, a GCN sweep with the ``lr`` loss
(exp/log) and the ``hr`` loss (two seeds), a ReNAS LeNet with ``lr`` and ``renas``
(convolutions, BatchNorm, the triplet distances), a GP
(numpy/scipy linear algebra, L-BFGS-B) and a learning-curve extrapolation (scipy's
curve fit), on fixed synthetic inputs, and prints the SHA-256 of every prediction and
parameter. Two machines that print the same digests in the same numerics mode produce
the same bytes in the studies; ``tests/test_numerics.py`` runs it natively and under
``qemu-x86_64`` with other CPU models.

Usage::

    nasrank fingerprint                      # JSON: mode, machine, digests, seconds
    python -m nasrank.numerics python -m nasrank.fingerprint   # the same, in-process
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from typing import Any

import numpy as np

from nasrank import numerics

#: the grid: small enough for a minute under CPU emulation
N_ARCHS, TRAIN_SIZE, EPOCHS, BATCH = 96, 48, 3, 16


def _digest(*arrays: Any) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _inputs(shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Binary features and labels that depend on them non-linearly (exp, tanh)."""
    rng = np.random.default_rng(seed)
    x = rng.random((N_ARCHS, *shape)).round()
    flat = x.reshape(N_ARCHS, -1)
    w = rng.standard_normal(flat.shape[1])
    y = 90.0 + 5.0 * np.tanh(flat @ w / np.sqrt(flat.shape[1])) + np.exp(-flat.mean(1))
    return x.astype(np.float64), y


def _torch_runs(bench: str, encoding: str, predictor: str, losses: list[str],
                seeds: list[int]) -> dict[str, str]:
    from nasrank.encodings import get_encoding
    from nasrank.sweep import fit_predictors
    from nasrank.train import RunConfig

    enc = get_encoding(bench, encoding)
    x, y = _inputs(tuple(enc.shape), 0)
    cfgs = [RunConfig(bench=bench, task=None, encoding=encoding, predictor=predictor,
                      loss=loss, train_size=TRAIN_SIZE, seed=s, epochs=EPOCHS,
                      batch_size=BATCH, device="cpu") for loss in losses for s in seeds]
    fitted = fit_predictors(cfgs, [x[:TRAIN_SIZE]] * len(cfgs), [y[:TRAIN_SIZE]] * len(cfgs),
                            enc.layout)
    out = {}
    for cfg, fp in zip(cfgs, fitted, strict=True):
        state = [v.detach().cpu().numpy() for _, v in sorted(fp.model.state_dict().items())]
        out[f"{predictor}-{cfg.loss}-s{cfg.seed}"] = _digest(fp.predict(x), *state)
    return out


def _gp() -> dict[str, str]:
    from nasrank.sweep import fit_predictors
    from nasrank.train import RunConfig

    x, y = _inputs((30,), 1)
    cfg = RunConfig(bench="nb201", task=None, encoding="adjacency_onehot", predictor="gp",
                    loss="regression", train_size=TRAIN_SIZE, seed=0, device="cpu")
    fp = fit_predictors([cfg], [x[:TRAIN_SIZE]], [y[:TRAIN_SIZE]], None)[0]
    return {"gp": _digest(fp.predict(x))}


def _curves() -> dict[str, str]:
    from nasrank.families.curves import extrapolate

    rng = np.random.default_rng(2)
    epochs = np.arange(1, 21, dtype=np.float64)
    values = [extrapolate(epochs, 0.9 - 0.5 * epochs ** -rng.uniform(0.3, 1.0)
                          + 0.002 * rng.standard_normal(20), 200.0) for _ in range(8)]
    return {"lce": _digest(np.asarray(values))}


def fingerprint() -> dict[str, Any]:
    """The digests of the grid, this process's numerics mode and machine, the seconds."""
    start = time.perf_counter()
    digests: dict[str, str] = {}
    digests.update(_torch_runs("nb201", "gcn", "gcn", ["lr", "hr"], [0, 1]))
    digests.update(_torch_runs("nb101", "renas_tensor", "lenet", ["lr", "renas"], [0]))
    digests.update(_gp())
    digests.update(_curves())
    return {"mode": numerics.active(), "machine": numerics.machine(), "digests": digests,
            "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    json.dump(fingerprint(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
