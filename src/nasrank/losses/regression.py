"""Element-wise regression losses (MSE, L1)."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from nasrank.losses.base import Loss, LossContext

__all__ = ["L1Loss", "MSELoss"]


class MSELoss(Loss):
    """Mean squared error.

    Formula: ``L = (1/B) sum_i (p_i - y_i)^2``.

    Source: the element-wise baseline of ReNAS (Xu et al., Eq. 1) and the "MSE" loss of
    Ji et al. (ICCV 2025); the usual loss of NASLib's model-based predictors.
    """

    name: ClassVar[str] = "mse"

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        return ((pred - target) ** 2).mean()


class L1Loss(Loss):
    """Mean absolute error.

    Formula: ``L = (1/B) sum_i |p_i - y_i|``.

    Source: the L1 baseline of ReNAS (Xu et al., Eq. 2).
    """

    name: ClassVar[str] = "l1"

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        return (pred - target).abs().mean()
