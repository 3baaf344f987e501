"""LCE-m: Domhan, Springenberg and Hutter's (IJCAI 2015) Bayesian combination of learning
curve families, as NASLib's ``lce_m`` (pybnn's ``MCMCCurveModelCombination``).

The model of a partial curve ``y(x)`` (accuracy as a fraction, ``x`` epochs) is
``sum_k w_k f_k(x; theta_k) + eps``, ``eps ~ N(0, sigma^2)``, over the families of
:mod:`nasrank.families.curves`, the weights normalised to sum to 1 (a convex
combination: it stays between its families' curves). Priors: each ``theta_k`` uniform
within its family's bounds, raw weights in [0, 1] (flat), ``log sigma`` uniform in
[log 1e-4, 0], and, as pybnn's ``monotonicity_constraint``, a combined curve that does
not decrease from the first observed epoch to the final one and stays within [0, 1]
there. The posterior is
sampled with ``emcee``'s affine-invariant ensemble sampler; walkers start around the
least-squares fit of each family (:func:`nasrank.families.curves.fit_curve`) with the
weights of their maximum-likelihood combination (non-negative least squares), as
pybnn's ``initial_model_weight_ml_estimate``. The prediction is the posterior mean of
the combined curve at the final epoch.

The sampler's defaults are pybnn's (and NASLib's): 50 walkers, 500 burn-in and 800 kept
steps. The chain of an architecture is seeded by ``seed`` and a CRC-32 of its id, so a
prediction depends on nothing else.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize

from nasrank.families.curves import CURVES, fit_curve

__all__ = ["mcmc_extrapolate"]


def _log_power(x: np.ndarray, a: Any, b: Any, c: Any) -> np.ndarray:
    """:func:`nasrank.families.curves.log_power` for parameter arrays (one per walker)."""
    return a / (1.0 + np.power(x / np.exp(b), c))


#: the families' functions for parameter arrays (the others broadcast as they are)
_VECTOR = {"log_power": _log_power}


def _layout(curves: Sequence[str]) -> list[tuple[str, slice]]:
    out, at = [], 0
    for name in curves:
        k = len(CURVES[name].params)
        out.append((name, slice(at, at + k)))
        at += k
    return out


def _combined(theta: np.ndarray, layout: list[tuple[str, slice]], x: np.ndarray) -> np.ndarray:
    """Combined curves ``(walkers, len(x))`` for parameter rows ``theta``."""
    k = len(layout)
    raw = theta[:, -k - 1:-1]
    with np.errstate(all="ignore"):
        weights = raw / raw.sum(axis=1, keepdims=True)
    total = np.zeros((len(theta), len(x)))
    with np.errstate(all="ignore"):
        for j, (name, sl) in enumerate(layout):
            f = _VECTOR.get(name, CURVES[name].func)
            params = [theta[:, i][:, None] for i in range(sl.start, sl.stop)]
            total += weights[:, j][:, None] * f(x[None, :], *params)
    return total


def mcmc_extrapolate(x: Sequence[float], y: Sequence[float], final: float, *,
                     curves: Sequence[str], walkers: int, burn_in: int, samples: int,
                     seed: int, key: str) -> float:
    """The posterior-mean value at epoch ``final`` of the weighted curve combination
    fitted to ``(x, y)``; the last observed value when no family fits."""
    import emcee

    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    fits = [(name, fit_curve(name, xa, ya)) for name in curves]
    fits = [(name, f) for name, f in fits if f is not None]
    if not fits:
        return float(ya[-1])
    layout = _layout([name for name, _ in fits])
    k = len(fits)
    theta0 = np.concatenate([list(f.params.values()) for _, f in fits])
    basis = np.stack([f(xa) for _, f in fits], axis=1)
    w0, _ = optimize.nnls(basis, ya)
    w0 = w0 / w0.sum() if w0.any() else np.full(k, 1.0 / k)
    resid = basis @ w0 - ya
    log_sigma0 = math.log(max(float(np.sqrt(np.mean(resid ** 2))), 1e-3))
    start = np.concatenate([theta0, w0, [log_sigma0]])
    lo = np.concatenate([np.concatenate([CURVES[n].lower for n, _ in fits]), np.zeros(k),
                         [math.log(1e-4)]])
    hi = np.concatenate([np.concatenate([CURVES[n].upper for n, _ in fits]), np.ones(k),
                         [0.0]])
    grid = np.linspace(xa[0], final, 16)

    def log_prob(theta: np.ndarray) -> np.ndarray:
        out = np.full(len(theta), -np.inf)
        ok = np.all((theta >= lo) & (theta <= hi), axis=1) & (theta[:, -k - 1:-1].sum(1) > 0)
        if not ok.any():
            return out
        t = theta[ok]
        curve = _combined(t, layout, grid)
        fine = (np.all(np.diff(curve, axis=1) >= -1e-9, axis=1)
                & (curve[:, -1] <= 1.0) & (curve[:, 0] >= 0.0) & np.isfinite(curve).all(1))
        pred = _combined(t, layout, xa)
        sigma2 = np.exp(2 * t[:, -1])
        ll = -0.5 * np.sum((pred - ya) ** 2, axis=1) / sigma2 - len(xa) * t[:, -1]
        ll = np.where(fine & np.isfinite(ll), ll, -np.inf)
        out[np.flatnonzero(ok)] = ll
        return out

    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    p0 = np.clip(start + 1e-4 * (hi - lo) * rng.standard_normal((walkers, len(start))),
                 lo, hi)
    sampler = emcee.EnsembleSampler(walkers, len(start), log_prob, vectorize=True)
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31))).get_state()
    with np.errstate(all="ignore"):
        sampler.run_mcmc(p0, burn_in + samples, progress=False, skip_initial_state_check=True)
    chain = sampler.get_chain(discard=burn_in, flat=True)
    lp = sampler.get_log_prob(discard=burn_in, flat=True)
    chain = chain[np.isfinite(lp)]
    if not len(chain):
        return float(ya[-1])
    value = float(np.mean(_combined(chain, layout, np.array([float(final)]))[:, 0]))
    return value if math.isfinite(value) else float(ya[-1])
