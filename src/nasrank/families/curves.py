"""Parametric learning-curve families for learning-curve extrapolation (LCE).

Domhan, Springenberg, Hutter (IJCAI 2015) extrapolate a partial learning curve with a
weighted combination of parametric families fitted by MCMC; NASLib's ``LCE`` follows
them. Here each family is fitted by bounded least squares
(``scipy.optimize.curve_fit``, trust-region reflective) to the observed points -- epochs
``x`` and accuracy as a *fraction* ``y`` in [0, 1] -- and extrapolated to the final
epoch; :func:`extrapolate` averages (or takes the median of) the families that fitted.
This is a point-estimate simplification of Domhan et al.'s Bayesian ensemble.

Families (``x`` epochs; all increasing in ``x`` within their bounds, and bounded by 1):

* ``pow3``: ``c - a * x**(-alpha)``; ``c`` in [0, 1], ``a`` in [0, 10], ``alpha`` in
  [0, 5].
* ``log_power``: ``a / (1 + (x / exp(b))**c)``; ``a`` in [0, 1], ``b`` in [-10, 20],
  ``c`` in [-10, 0].
* ``exp3``: ``c - exp(-a * x + b)``; ``c`` in [0, 1], ``a`` in [0, 10], ``b`` in [-20, 5].
* ``ilog2``: ``c - a / log(x + 1)``; ``c`` in [0, 1], ``a`` in [0, 10].

With three observed points (NB101: 4, 12, 36 epochs) the 3-parameter families can
interpolate them exactly; the families differ in how they extrapolate, which is why they
are combined.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from nasrank.errors import ConfigError

Curve = Callable[..., np.ndarray]


def pow3(x: np.ndarray, c: float, a: float, alpha: float) -> np.ndarray:
    return c - a * np.power(x, -alpha)


def log_power(x: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    with np.errstate(over="ignore"):
        return a / (1.0 + np.power(x / math.exp(b), c))


def exp3(x: np.ndarray, c: float, a: float, b: float) -> np.ndarray:
    with np.errstate(over="ignore"):
        return c - np.exp(-a * x + b)


def ilog2(x: np.ndarray, c: float, a: float) -> np.ndarray:
    return c - a / np.log(x + 1.0)


@dataclass(frozen=True)
class CurveFamily:
    """One parametric family: its function, parameter names, bounds and a start."""

    name: str
    func: Curve
    params: tuple[str, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    start: Callable[[np.ndarray, np.ndarray], list[float]]


def _start_pow3(x: np.ndarray, y: np.ndarray) -> list[float]:
    c = min(1.0, float(y.max()) + 0.02)
    alpha = 0.5
    a = max(1e-3, (c - float(y[0])) * float(x[0]) ** alpha)
    return [c, min(a, 10.0), alpha]


def _start_log_power(x: np.ndarray, y: np.ndarray) -> list[float]:
    a = min(1.0, float(y.max()) + 0.02)
    ratio = max(a / max(float(y[0]), 1e-3) - 1.0, 1e-3)
    b = float(np.clip(math.log(float(x[0]) * ratio), -10, 20))
    return [a, b, -1.0]


def _start_exp3(x: np.ndarray, y: np.ndarray) -> list[float]:
    c = min(1.0, float(y.max()) + 0.02)
    a = 0.1
    b = float(np.clip(math.log(max(c - float(y[0]), 1e-6)) + a * float(x[0]), -20, 5))
    return [c, a, b]


def _start_ilog2(x: np.ndarray, y: np.ndarray) -> list[float]:
    c = min(1.0, float(y.max()) + 0.02)
    a = float(np.clip((c - float(y[0])) * math.log(float(x[0]) + 1.0), 0, 10))
    return [c, a]


CURVES: dict[str, CurveFamily] = {
    f.name: f
    for f in (
        CurveFamily("pow3", pow3, ("c", "a", "alpha"), (0, 0, 0), (1, 10, 5), _start_pow3),
        CurveFamily("log_power", log_power, ("a", "b", "c"), (0, -10, -10), (1, 20, 0),
                    _start_log_power),
        CurveFamily("exp3", exp3, ("c", "a", "b"), (0, 0, -20), (1, 10, 5), _start_exp3),
        CurveFamily("ilog2", ilog2, ("c", "a"), (0, 0), (1, 10), _start_ilog2),
    )
}


#: the families LCE and LCE-m combine by default: all of them
DEFAULT_CURVES: tuple[str, ...] = tuple(CURVES)


def check_curves(names: Sequence[str]) -> list[str]:
    """``names`` as a list, or ConfigError naming the unknown ones."""
    if isinstance(names, str) or not names:
        raise ConfigError(f"LCE curves must be a non-empty list of {', '.join(CURVES)}, "
                          f"got {names!r}")
    unknown = [n for n in names if n not in CURVES]
    if unknown:
        raise ConfigError(f"unknown learning-curve families {unknown}; "
                          f"available: {', '.join(CURVES)}")
    return list(names)


@dataclass(frozen=True)
class CurveFit:
    """A fitted family: its parameters (by name) and the squared error of the fit."""

    family: str
    params: dict[str, float]
    sse: float

    def __call__(self, x: float | np.ndarray) -> np.ndarray:
        f = CURVES[self.family]
        return f.func(np.asarray(x, dtype=np.float64), *self.params.values())


def fit_curve(family: str, x: Sequence[float], y: Sequence[float],
              max_nfev: int = 2000) -> CurveFit | None:
    """Bounded least-squares fit of one family to the points ``(x, y)``; ``None`` when
    the optimiser fails or the fit is not finite."""
    f = CURVES[family]
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    lo, hi = np.asarray(f.lower, float), np.asarray(f.upper, float)
    p0 = np.clip(np.asarray(f.start(xa, ya), dtype=np.float64), lo, hi)
    # strictly inside the bounds (curve_fit requires it)
    p0 = np.minimum(np.maximum(p0, lo + 1e-9 * (hi - lo)), hi - 1e-9 * (hi - lo))
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            popt, _ = optimize.curve_fit(f.func, xa, ya, p0=p0, bounds=(lo, hi),
                                         method="trf", max_nfev=max_nfev)
    except (RuntimeError, ValueError, optimize.OptimizeWarning):
        return None
    resid = f.func(xa, *popt) - ya
    sse = float(np.sum(resid * resid))
    if not (np.all(np.isfinite(popt)) and math.isfinite(sse)):
        return None
    return CurveFit(family, {k: float(v) for k, v in zip(f.params, popt, strict=True)}, sse)


def extrapolate(x: Sequence[float], y: Sequence[float], final: float,
                curves: Sequence[str] = DEFAULT_CURVES,
                combine: str = "mean") -> float:
    """The value at epoch ``final`` extrapolated from the points ``(x, y)``.

    Every family in ``curves`` is fitted; fits whose extrapolation is not finite or not
    in [0, 1] are dropped; the rest are combined by ``mean`` or ``median``. With no
    usable fit the last observed value is returned (early stopping's prediction).
    """
    values = []
    for name in curves:
        fit = fit_curve(name, x, y)
        if fit is None:
            continue
        v = float(fit(final))
        if math.isfinite(v) and 0.0 <= v <= 1.0:
            values.append(v)
    if not values:
        return float(np.asarray(y, dtype=np.float64)[-1])
    return float(np.median(values) if combine == "median" else np.mean(values))


__all__ = ["CURVES", "DEFAULT_CURVES", "CurveFamily", "CurveFit", "check_curves", "exp3",
           "extrapolate", "fit_curve", "ilog2", "log_power", "pow3"]
