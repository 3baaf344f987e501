"""Base class, context and shared (vectorised) helpers of the predictor losses.

Conventions shared by every loss in :mod:`nasrank.losses`:

* ``pred`` and ``target`` are 1-D tensors of the same length ``B``; ``target`` holds
  accuracies min-max scaled to [0, 1] on the training split (higher is better), so
  values outside [0, 1] can occur on other splits.
* A loss returns a scalar tensor. A batch without any usable pair (B = 1, all targets
  tied) gives an exact zero that still has a ``grad_fn`` connected to ``pred``, so the
  trainer can call ``backward()`` unconditionally.
* "Ordered pairs" are all (i, j) with i != j; pairs with y_i == y_j (ties) are ignored
  by the ranking losses unless stated otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from nasrank.losses import portable
from nasrank.options import boolean, choice, integer, number, resolve, subject

__all__ = ["Loss", "LossContext"]


@dataclass(frozen=True)
class LossContext:
    """Training state a loss may depend on (only ``piecewise`` uses it).

    Attributes:
        epoch: current epoch, 0-based.
        train_size: number of labelled training samples of the run.
    """

    epoch: int = 0
    train_size: int = 0


class Loss(torch.nn.Module):
    """A predictor loss: ``loss(pred, target, features=None, ctx=None) -> scalar``.

    Subclasses set ``name``, ``OPTIONS`` (option name -> documented default) and
    implement :meth:`compute`; options are validated in :meth:`check_options`.
    Construct them with keyword options, e.g. ``HingeRankingLoss(margin=0.2)``, or
    through :func:`nasrank.losses.get_loss`.
    """

    name: ClassVar[str] = ""
    OPTIONS: ClassVar[Mapping[str, Any]] = {}
    needs_features: bool = False

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.options: dict[str, Any] = resolve(subject("loss", self.name), self.OPTIONS,
                                               options)
        self.check_options(self.options)

    # -- to be specialised -------------------------------------------------------------
    def check_options(self, opts: dict[str, Any]) -> None:
        """Validate option values (raise :class:`ConfigError`); default: nothing."""

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        raise NotImplementedError

    # -- public --------------------------------------------------------------------------
    def forward(
        self,
        pred: Tensor,
        target: Tensor,
        features: Tensor | None = None,
        ctx: LossContext | None = None,
    ) -> Tensor:
        if pred.ndim != 1:
            raise ValueError(f"loss {self.name!r}: pred must be 1-D (B,), got {tuple(pred.shape)}")
        if target.shape != pred.shape:
            raise ValueError(
                f"loss {self.name!r}: target shape {tuple(target.shape)} "
                f"!= pred shape {tuple(pred.shape)}"
            )
        target = target.to(dtype=pred.dtype, device=pred.device)
        if self.needs_features:
            if features is None:
                raise ValueError(f"loss {self.name!r} needs the penultimate features")
            if features.ndim != 2 or features.shape[0] != pred.shape[0]:
                raise ValueError(
                    f"loss {self.name!r}: features must be (B, D) with B={pred.shape[0]}, "
                    f"got {tuple(features.shape)}"
                )
        if pred.numel() == 0:
            return zero_like(pred)
        return self.compute(pred, target, features, ctx)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items())


# -- option checks (nasrank.options, with the loss named as every registry names it) -------
def check_number(
    loss: str,
    key: str,
    value: Any,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    strict_max: bool = False,
) -> None:
    number(subject("loss", loss), key, value, min_value=min_value, max_value=max_value,
           strict_max=strict_max)


def check_choice(loss: str, key: str, value: Any, choices: Iterable[str]) -> None:
    choice(subject("loss", loss), key, value, choices)


def check_int(loss: str, key: str, value: Any, *, min_value: int = 0) -> None:
    integer(subject("loss", loss), key, value, min_value=min_value)


def check_bool(loss: str, key: str, value: Any) -> None:
    boolean(subject("loss", loss), key, value)


# -- vectorised helpers ------------------------------------------------------------------
def zero_like(pred: Tensor) -> Tensor:
    """An exact scalar zero connected to ``pred``'s graph."""
    return pred.sum() * 0.0


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values[mask]``; an exact zero (still connected to the graph of ``values``)
    when the mask is empty. No host-device synchronisation.

    ``torch.where`` (not multiplication) is used so that non-finite values outside the
    mask can leak neither into the value nor into the gradient.
    """
    total = torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device))
    return total.sum() / mask.sum().clamp(min=1).to(values.dtype)


def pair_matrices(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """``(D, S)`` with ``D[i, j] = p_i - p_j`` and ``S[i, j] = sign(y_i - y_j)``.

    ``S`` is 0 on the diagonal and on ties, so ``S != 0`` selects the valid ordered pairs.
    """
    diff = pred[:, None] - pred[None, :]
    sign = torch.sign(target[:, None] - target[None, :])
    return diff, sign


def pair_penalty(z: Tensor, kind: str, margin: float) -> Tensor:
    """phi(z) for an order-signed difference z: hinge max(0, m - z) or softplus(-z)."""
    if kind == "hinge":
        return torch.clamp(margin - z, min=0.0)
    return portable.softplus(-z)
