"""exp, log, softplus and a suffix log-sum-exp from correctly rounded operations only.

PyTorch's own ``exp``/``log``/``softplus`` on the CPU take a vectorised path for most
elements and a scalar one for the last few of a tensor (or of a thread's share of it),
and the two may round differently. A loss evaluated on the stacked predictions of a sweep
would then give a run a result that depends on where its elements sit, that is on which
other runs share the sweep. The functions below use only additions, multiplications,
divisions, rounding, comparisons and selections, each exactly rounded by IEEE 754 on
any CPU and GPU (powers of two are built by exact multiplications, not bit views, so
``torch.func.vmap`` takes every function), so an element's value depends on that element alone.

Accuracy (tested against torch's float64 functions): within 2 units in the last place
in float32 and a few in float64, over the ranges the losses use. Gradients are the analytic ones
(``exp`` for exp, ``1/x`` for log, the logistic function for softplus), carried on the
computed values.

Usage::

    from nasrank.losses.portable import exp, log, softplus, suffix_logsumexp
    softplus(torch.tensor([-1.0, 0.0, 3.0]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["exp", "log", "softplus", "suffix_logsumexp"]

_LN2_HI = 0.693145751953125          # ln 2 split so that k * _LN2_HI is exact for |k| < 2048
_LN2_LO = 1.4286068203094172321e-06
_LOG2E = 1.4426950408889634
_SQRT2 = 1.4142135623730951


@dataclass(frozen=True)
class _Format:
    """Range and series lengths of one floating-point type."""

    exp_bits: int                    # |binary exponent| of normal numbers < 2**exp_bits
    exp_range: tuple[float, float]   # clamp of exp's argument (normal results)
    tiny: float                      # smallest argument of log (normal numbers)
    exp_terms: int                   # Taylor terms of exp(r), |r| <= ln2/2
    log_terms: int                   # odd terms of 2 atanh(s), |s| <= 0.172


_FORMATS = {
    torch.float32: _Format(7, (-87.0, 88.0), 1e-37, 8, 6),
    torch.float64: _Format(10, (-708.0, 709.0), 1e-307, 14, 12),
}


def _format(x: Tensor) -> _Format:
    try:
        return _FORMATS[x.dtype]
    except KeyError:
        raise TypeError(f"nasrank.losses.portable: float32 or float64 only, got {x.dtype}"
                        ) from None


def _pow2(k: Tensor, bits: int) -> Tensor:
    """2**k, exactly, for integer-valued ``k`` with |k| < 2**bits (normal results), as a
    product of the powers 2**(2**i) selected by the bits of |k| (each product exact)."""
    a = k.abs()
    out = torch.ones_like(k)
    for i in range(bits - 1, -1, -1):
        step = float(2 ** (2 ** i))
        on = a >= 2 ** i
        out = torch.where(on, out * step, out)
        a = torch.where(on, a - 2 ** i, a)
    return torch.where(k < 0, 1.0 / out, out)


def _split_exponent(x: Tensor, bits: int) -> tuple[Tensor, Tensor]:
    """(m, e) with x = m * 2**e, m in [1, 2), for positive normal ``x``: a binary search
    of the exponent, scaling by exact powers of two (no bit views, so vmap works)."""
    e = torch.zeros_like(x)
    m = x
    for i in range(bits - 1, -1, -1):
        shift = 2 ** i
        up = m >= float(2 ** shift)
        m = torch.where(up, m * float(2.0 ** -shift), m)
        e = torch.where(up, e + shift, e)
        down = m < float(2.0 ** (1 - shift))
        m = torch.where(down, m * float(2 ** shift), m)
        e = torch.where(down, e - shift, e)
    low = m < 1.0
    return torch.where(low, m * 2.0, m), torch.where(low, e - 1, e)


def _with_grad(value: Tensor, x: Tensor, slope: Tensor) -> Tensor:
    """``value`` in the forward pass, ``slope`` as d value / d x in the backward pass.

    ``x - x.detach()`` is an exact zero, so the forward value is ``value`` bit for bit.
    """
    return value.detach() + (x - x.detach()) * slope.detach()


def _exp_value(x: Tensor) -> Tensor:
    fmt = _format(x)
    x = x.clamp(*fmt.exp_range)
    k = torch.round(x * _LOG2E)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = torch.full_like(r, 1.0 / math.factorial(fmt.exp_terms - 1))
    for i in range(fmt.exp_terms - 2, -1, -1):
        p = p * r + 1.0 / math.factorial(i)
    return p * _pow2(k, fmt.exp_bits)


def exp(x: Tensor) -> Tensor:
    """e**x (float32 arguments clamped to [-87, 88], float64 to [-708, 709])."""
    value = _exp_value(x)
    return _with_grad(value, x, value)


def _log_value(x: Tensor) -> Tensor:
    fmt = _format(x)
    m, e = _split_exponent(x.clamp(min=fmt.tiny), fmt.exp_bits)
    big = m > _SQRT2
    m = torch.where(big, m * 0.5, m)
    e = torch.where(big, e + 1, e)
    f = m - 1.0
    s = f / (f + 2.0)
    s2 = s * s
    series = torch.full_like(s, 2.0 / (2 * fmt.log_terms - 1))
    for i in range(fmt.log_terms - 2, -1, -1):
        series = series * s2 + 2.0 / (2 * i + 1)
    return (e * _LN2_HI + s * series) + e * _LN2_LO


def log(x: Tensor) -> Tensor:
    """Natural logarithm of positive ``x`` (clamped to the smallest normal number)."""
    return _with_grad(_log_value(x), x, 1.0 / x.clamp(min=_format(x).tiny))


def _log1p_value(u: Tensor) -> Tensor:
    """log(1 + u) for u >= 0, accurate for tiny u (Goldberg: scale by u / ((1 + u) - 1))."""
    w = 1.0 + u
    c = w - 1.0
    safe = torch.where(c == 0, torch.ones_like(c), c)
    return torch.where(c == 0, u, _log_value(w) * (u / safe))


def softplus(z: Tensor) -> Tensor:
    """``log(1 + exp(z))``, computed as ``max(z, 0) + log1p(exp(-|z|))``."""
    e = _exp_value(-z.abs())
    value = z.clamp(min=0.0) + _log1p_value(e)
    slope = torch.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return _with_grad(value, z, slope)


def suffix_logsumexp(p: Tensor) -> Tensor:
    """``out[i] = log(sum_{k >= i} exp(p[k]))`` of a 1-D tensor.

    Each suffix is shifted by its own maximum ``M_i`` (so every term is at most 1 and the
    largest is exactly 1, whatever the spread of ``p``): ``out[i] = M_i + log(sum_{k >= i}
    exp(p[k] - M_i))``, evaluated as a masked ``(B, B)`` matrix summed along its rows.
    """
    b = p.shape[0]
    suffix_max = torch.flip(torch.cummax(torch.flip(p, (0,)), 0).values, (0,)).detach()
    idx = torch.arange(b, device=p.device)
    upper = idx[None, :] >= idx[:, None]                       # k >= i
    shifted = torch.where(upper, p[None, :] - suffix_max[:, None], torch.zeros_like(p)[None, :])
    terms = torch.where(upper, exp(shifted), torch.zeros_like(shifted))
    return log(terms.sum(1)) + suffix_max
