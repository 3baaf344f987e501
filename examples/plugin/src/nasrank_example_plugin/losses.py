"""An example loss plugin for nasrank: ``focal_rank``, a focal-weighted pairwise
logistic ranking loss.

This module is an example of how to add a loss to nasrank without editing it; importing
it registers the loss. Name it in params.yaml (``plugins: [nasrank_example_plugin.losses]``)
or install this package (``pip install -e examples/plugin``: its entry point in the group
``nasrank.losses`` is loaded when :mod:`nasrank.losses` is imported), then list
``focal_rank`` in a loss grid like any built-in loss.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from nasrank.losses import Loss, LossContext, portable, register_loss
from nasrank.losses.base import check_number

__all__ = ["FocalRankLoss"]


@register_loss("focal_rank", family="ranking", label="Focal")
class FocalRankLoss(Loss):
    r"""Focal-weighted pairwise logistic ranking loss (an example plugin).

    For the predictions p and targets y of a batch, over the ordered pairs (i, j) with
    y_i != y_j, with s_ij = sign(y_i - y_j) and z_ij = s_ij (p_i - p_j)::

        L = mean_{(i, j): y_i != y_j}  sigmoid(-z_ij)^gamma * softplus(-z_ij)

    softplus(-z) = log(1 + exp(-z)) is the logistic (RankNet) loss of the pair and
    sigmoid(-z)^gamma = exp(-gamma * softplus(z)) its focal weight (Lin et al., 2017):
    pairs already ordered right with a wide margin count less, misordered pairs keep
    almost their full loss. gamma = 0 is the plain logistic pairwise loss.

    Written for sweeps: it runs under ``torch.func.vmap`` (the pair mask multiplies, no
    boolean indexing or data-dependent shapes) and takes ``exp`` and ``softplus`` from
    :mod:`nasrank.losses.portable`, so a run's value does not depend on its sweep-mates.

    Options:
        gamma: the focusing exponent, >= 0 (default 2.0).
    """

    OPTIONS: ClassVar[dict[str, Any]] = {"gamma": 2.0}

    def check_options(self, opts: dict[str, Any]) -> None:
        check_number(self.name, "gamma", opts["gamma"], min_value=0.0)

    def compute(self, pred: Tensor, target: Tensor, features: Tensor | None,
                ctx: LossContext | None) -> Tensor:
        diff = pred[:, None] - pred[None, :]
        sign = (target[:, None] - target[None, :]).sign()
        z = sign * diff
        weight = portable.exp(-self.options["gamma"] * portable.softplus(z))
        pairs = (sign != 0).to(pred.dtype)  # a mask by multiplication (vmap)
        terms = weight * portable.softplus(-z) * pairs
        return terms.sum() / pairs.sum().clamp(min=1.0)
