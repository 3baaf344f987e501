"""Ranking losses: pairwise hinge (HR), pairwise logistic (LR), MSE + sequence ranking
(MSE+SR) and ListMLE. All are vectorised over the batch (B x B pair matrices)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from nasrank.losses import portable
from nasrank.losses.base import (
    Loss,
    LossContext,
    check_number,
    masked_mean,
    pair_matrices,
    pair_penalty,
)
from nasrank.losses.catalog import register_loss

__all__ = ["HingeRankingLoss", "ListMLELoss", "LogisticRankingLoss", "MSESequenceRankingLoss"]


@register_loss("hr", family="ranking", label="HR", colour="tab:orange")
class HingeRankingLoss(Loss):
    """Pairwise hinge ranking loss ("HR").

    Formula, over the ordered pairs P = {(i, j): i != j, y_i != y_j}:
    ``L = (1/|P|) sum_{(i,j) in P} max(0, m - s_ij (p_i - p_j))``, ``s_ij = sign(y_i - y_j)``.
    Each unordered pair is counted twice with the same value, so this equals the mean
    over unordered pairs. Ties are ignored; no valid pair gives 0.

    Options: ``margin`` m (default 0.1; targets are in [0, 1]).

    Source: ReNAS (Xu et al.), Eq. 3 with the hinge function; "HR" of Ji et al. (ICCV
    2025). The margin of either paper is not known; 0.1 is our choice.
    """

    OPTIONS: ClassVar[dict[str, Any]] = {"margin": 0.1}

    def check_options(self, opts: dict[str, Any]) -> None:
        check_number(self.name, "margin", opts["margin"], min_value=0.0)

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        diff, sign = pair_matrices(pred, target)
        pen = pair_penalty(sign * diff, "hinge", self.options["margin"])
        return masked_mean(pen, sign != 0)


@register_loss("lr", family="ranking", label="LR", colour="tab:green")
class LogisticRankingLoss(Loss):
    """Pairwise logistic ranking loss ("LR").

    Formula, over the ordered pairs P = {(i, j): i != j, y_i != y_j}:
    ``L = (1/|P|) sum_{(i,j) in P} log(1 + exp(-s_ij (p_i - p_j)))``, computed as
    ``softplus(-s_ij (p_i - p_j))``; ``s_ij = sign(y_i - y_j)``. Ties are ignored.

    Source: the released ReNAS code (huawei-noah/Efficient-Computing, ``pair_loss`` in
    Efficient-NAS/ReNAS), which averages over all B(B-1) ordered pairs *including* ties
    (a tie adds the constant log 2 and no gradient); "LR" of Ji et al. (ICCV 2025).
    """

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        diff, sign = pair_matrices(pred, target)
        return masked_mean(pair_penalty(sign * diff, "logistic", 0.0), sign != 0)


def sequence_ranking_term(pred: Tensor, target: Tensor) -> Tensor:
    """Mean pairwise logistic loss over neighbours in the true order.

    Sort the batch by true accuracy, descending (stable, so tied items keep batch order):
    pi(1), ..., pi(B). The term is the mean over t = 1..B-1 with y_pi(t) > y_pi(t+1) of
    ``softplus(-(p_pi(t) - p_pi(t+1)))``; tied neighbours are skipped.
    """
    order = torch.argsort(target, descending=True, stable=True)
    p, y = pred[order], target[order]
    return masked_mean(portable.softplus(-(p[:-1] - p[1:])), y[:-1] > y[1:])


@register_loss("mse_sr", family="ranking", label="MSE+SR", colour="tab:red")
class MSESequenceRankingLoss(Loss):
    """MSE plus a sequence-ranking term ("MSE+SR").

    Formula: ``L = (1/B) sum_i (p_i - y_i)^2 + lambda * SR`` where, with pi sorting the
    batch by true accuracy descending (stable),
    ``SR = mean_{t: y_pi(t) > y_pi(t+1)} log(1 + exp(-(p_pi(t) - p_pi(t+1))))``,
    i.e. the pairwise logistic loss restricted to the B - 1 consecutive pairs of the
    true order (tied neighbours skipped).

    Options: ``lambda`` (default 1.0).

    Source: "MSE+SR" of Ji et al. (ICCV 2025). The exact SR term of the study is not
    available to us; restricting the logistic pair loss to consecutive items of the true
    order (a chain that implies the whole order, O(B) pairs) is our choice.
    """

    OPTIONS: ClassVar[dict[str, Any]] = {"lambda": 1.0}

    def check_options(self, opts: dict[str, Any]) -> None:
        check_number(self.name, "lambda", opts["lambda"], min_value=0.0)

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        mse = ((pred - target) ** 2).mean()
        return mse + self.options["lambda"] * sequence_ranking_term(pred, target)


@register_loss("listmle", family="ranking", label="ListMLE", colour="tab:purple")
class ListMLELoss(Loss):
    """ListMLE (Plackett-Luce negative log-likelihood of the true order).

    Formula, with pi sorting the batch by true accuracy descending (stable sort, so tied
    items keep their batch order):
    ``L = -(1/B) sum_{i=1..B} log( exp(p_pi(i)) / sum_{k>=i} exp(p_pi(k)) )
        = (1/B) sum_i [ logsumexp_{k>=i} p_pi(k) - p_pi(i) ]``,
    the suffix log-sum-exp shifted by the batch maximum (numerically stable), from
    :mod:`nasrank.losses.portable`. B = 1 gives 0.

    Source: Xia et al. (ICML 2008), "ListMLE" of Ji et al. (ICCV 2025).
    """

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        order = torch.argsort(target, descending=True, stable=True)
        p = pred[order]
        suffix_lse = portable.suffix_logsumexp(p)
        return (suffix_lse - p).mean()
