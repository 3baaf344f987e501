"""Correctly rounded float32 square roots on the CPU, where torch's are not.

On the CPU torch computes ``sqrt`` of a float32 tensor with MKL's vector maths, whose
result is within an ulp but not always the nearest float: on one AVX-512 Xeon 19 % of
4 million values differed from the correctly rounded root in ``portable`` mode (MKL's
compatible path) and 0.6 % in ``fast`` mode, and the two, like other CPUs, differ from
each other. Adam's denominator, BatchNorm's scale and the ReNAS loss's distances take a
root at every step, so training inherits the CPU's choice. :func:`sqrt` instead returns
the float nearest the true root, the value every IEEE-754 machine agrees on:

numpy's ``sqrt`` (the CPU's square-root instruction, correctly rounded by IEEE 754 on
every ISA) on a plain tensor; inside ``torch.func.vmap`` (the ReNAS loss), where a tensor
has no numpy view, a slower exact construction:

1. ``r``: the float64 root rounded to float32, at most one float32 ulp from the answer;
2. the midpoints between ``r`` and its float32 neighbours are exact in float64 (25
   significant bits) and so are their squares (50 bits), as is ``x`` itself: comparing
   ``x`` with them says exactly whether a neighbour is nearer, and never ties (a
   midpoint's square needs 50 bits, ``x`` has 24).

The gradient is torch's formula for ``sqrt``, ``grad / (2 * result)``, on the exact
result. On a GPU (CUDA's float32 sqrt is correctly rounded) it is ``torch.sqrt``.

Usage::

    from nasrank.exact import sqrt
    denom = sqrt(v) / bias2_sqrt + eps        # same bytes on every x86-64 CPU
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["sqrt", "sqrt_values"]


def sqrt_values(x: Tensor) -> Tensor:
    """The correctly rounded square root of a float32 CPU tensor (no gradient)."""
    try:
        a = x.detach().numpy()
    except (RuntimeError, TypeError):  # wrapped by torch.func (vmap): no numpy view
        return _sqrt_by_midpoints(x)
    with np.errstate(invalid="ignore"):  # sqrt(-x) is NaN, as torch.sqrt's, silently
        return torch.from_numpy(np.sqrt(a))


def _sqrt_by_midpoints(x: Tensor) -> Tensor:
    r = torch.sqrt(x.double()).to(x.dtype)
    below = torch.nextafter(r, torch.full_like(r, -torch.inf))
    above = torch.nextafter(r, torch.full_like(r, torch.inf))
    rd, xd = r.double(), x.double()
    low = (rd + below.double()) * 0.5
    high = (rd + above.double()) * 0.5
    r = torch.where((xd < low * low) & (r > 0), below, r)
    return torch.where(xd > high * high, above, r)


class _Sqrt(torch.autograd.Function):
    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor) -> Tensor:
        return sqrt_values(x)

    @staticmethod
    def setup_context(ctx: torch.autograd.function.FunctionCtx, inputs: tuple[Tensor],
                      output: Tensor) -> None:
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:
        (result,) = ctx.saved_tensors
        return grad / (2 * result)


def sqrt(x: Tensor) -> Tensor:
    """``torch.sqrt``, correctly rounded for float32 on the CPU (differentiable)."""
    if x.device.type != "cpu" or x.dtype != torch.float32:
        return torch.sqrt(x)
    if torch.is_grad_enabled():  # under vmap x.requires_grad says nothing: always apply
        return _Sqrt.apply(x)
    return sqrt_values(x)
