"""Element-wise regression losses (MSE, L1)."""

from __future__ import annotations

from torch import Tensor

from nasrank.losses.base import Loss, LossContext
from nasrank.losses.catalog import register_loss

__all__ = ["L1Loss", "MSELoss"]


@register_loss("mse", family="regression", label="MSE", colour="tab:blue")
class MSELoss(Loss):
    """Mean squared error.

    Formula: ``L = (1/B) sum_i (p_i - y_i)^2``.

    Source: the element-wise baseline of ReNAS (Xu et al., Eq. 1) and the "MSE" loss of
    Ji et al. (ICCV 2025); the usual loss of NASLib's model-based predictors.
    """

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        return ((pred - target) ** 2).mean()


@register_loss("l1", family="regression", label="L1", colour="navy")
class L1Loss(Loss):
    """Mean absolute error.

    Formula: ``L = (1/B) sum_i |p_i - y_i|``.

    Source: the L1 baseline of ReNAS (Xu et al., Eq. 2).
    """

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        return (pred - target).abs().mean()
