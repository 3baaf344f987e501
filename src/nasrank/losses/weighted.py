"""Weighted losses that emphasise the top architectures: EW, MAPE and WARP."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from nasrank.losses import portable
from nasrank.losses.base import (
    Loss,
    LossContext,
    check_bool,
    check_choice,
    check_number,
    masked_mean,
    pair_matrices,
)
from nasrank.losses.catalog import register_loss

__all__ = ["ExponentialWeightedLoss", "MAPELoss", "WARPLoss"]


@register_loss("ew", family="weighted", label="EW", colour="tab:brown")
class ExponentialWeightedLoss(Loss):
    """Exponentially weighted squared error ("EW").

    Formula: ``L = (1/B) sum_i w(y_i) (y_i - p_i)^2`` with
    ``w(y) = (exp(y) - 1) / (e - 1)`` (``form: bogcn``, default; w(0) = 0, w(1) = 1) or
    ``w(y) = exp(y - 1)`` (``form: exp``; w(0) = 1/e, w(1) = 1).

    Source: BOGCN-NAS (Shi et al., 2020) for the ``bogcn`` form; "EW" of Ji et al. (ICCV
    2025), summarised second-hand as exp(y - 1)(y - p)^2, for the ``exp`` form.
    """

    OPTIONS: ClassVar[dict[str, Any]] = {"form": "bogcn"}

    def check_options(self, opts: dict[str, Any]) -> None:
        check_choice(self.name, "form", opts["form"], ("bogcn", "exp"))

    def weights(self, target: Tensor) -> Tensor:
        if self.options["form"] == "bogcn":
            return (portable.exp(target) - 1.0) / (math.e - 1.0)
        return portable.exp(target - 1.0)

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        return (self.weights(target) * (target - pred) ** 2).mean()


@register_loss("mape", family="weighted", label="MAPE", colour="tab:pink")
class MAPELoss(Loss):
    """Mean absolute percentage error on the error scale, with a lower bound ("MAPE").

    Formula, with errors e = 1 - y (true) and 1 - p (predicted) and lower bound b:
    ``L = (1/B) sum_i | ((1 - p_i) - b) / ((1 - y_i) - b) - 1 |``
    ``  = (1/B) sum_i |y_i - p_i| / (1 - y_i - b)``,
    an L1 loss weighted by 1 / (1 - y - b), largest for the best architectures.

    Options: ``lower_bound`` b (default -0.1). b must lie below the smallest error; the
    smallest scaled training error is 0, so b < 0 is required (denominators then lie in
    [-b, 1 - b] on the training split). Guard: the denominator is clamped to >= 1e-6 for
    targets outside the training range (y >= 1 - b).

    Source: BANANAS (White et al., AAAI 2021), ``mape_loss`` with a lower bound on the
    validation error; "MAPE" of Ji et al. (ICCV 2025). The study's b is not known.
    """

    OPTIONS: ClassVar[dict[str, Any]] = {"lower_bound": -0.1}
    EPS: ClassVar[float] = 1e-6

    def check_options(self, opts: dict[str, Any]) -> None:
        check_number(self.name, "lower_bound", opts["lower_bound"], max_value=0.0, strict_max=True)

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        b = self.options["lower_bound"]
        denom = torch.clamp((1.0 - target) - b, min=self.EPS)
        return (((1.0 - pred) - b) / denom - 1.0).abs().mean()


@register_loss("warp", family="weighted", label="WARP", colour="tab:olive")
class WARPLoss(Loss):
    """Weighted approximate-rank pairwise loss ("WARP"), counted over the whole batch.

    Formula: for each item i, the candidates are the items j with y_j < y_i, each with hinge
    ``h_ij = max(0, m - (p_i - p_j))``; the violators of i are the candidates with
    h_ij > 0 and ``r_i`` is their number (the rank of i is approximated by counting in
    the batch instead of Weston's sampling; r_i carries no gradient). Then
    ``L = (1/|P|) sum_i w_i sum_{j: y_j < y_i} h_ij``, ``P = {(i, j): y_i > y_j}``,
    with
      * ``weights: rank`` (default): ``w_i = L(r_i) = sum_{r=1..r_i} 1/r`` (harmonic
        number, L(0) = 0); with ``normalise_rank: true``, ``w_i = L(r_i) / r_i`` (the
        expectation of Weston's single sampled violator, 0 if r_i = 0);
      * ``weights: accuracy``: ``w_i = y_i`` (the variant the study found better).
    Non-violating candidates add 0, so the inner sum is the sum over violators.
    Ties (y_i == y_j) are ignored; no valid pair gives 0.

    Options: ``margin`` m (default 1.0, as in WARP), ``weights`` (rank|accuracy),
    ``normalise_rank`` (default false).

    Source: Weston et al., WSABIE (IJCAI 2011); "WARP" of Ji et al. (ICCV 2025), summarised
    second-hand as sum_i sum_{j violating} L(rank_i) max(0, 1 - p_i + p_j).
    """

    OPTIONS: ClassVar[dict[str, Any]] = {
        "margin": 1.0,
        "weights": "rank",
        "normalise_rank": False,
    }

    def check_options(self, opts: dict[str, Any]) -> None:
        check_number(self.name, "margin", opts["margin"], min_value=0.0)
        check_choice(self.name, "weights", opts["weights"], ("rank", "accuracy"))
        check_bool(self.name, "normalise_rank", opts["normalise_rank"])

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        diff, sign = pair_matrices(pred, target)
        cand = sign > 0  # (i, j): y_i > y_j, i.e. j should be ranked below i
        hinge = torch.clamp(self.options["margin"] - diff, min=0.0)
        if self.options["weights"] == "accuracy":
            w = target
        else:
            with torch.no_grad():
                ranks = (cand & (hinge > 0)).sum(dim=1)  # r_i
                b = pred.shape[0]
                harmonic = torch.cat(
                    [
                        torch.zeros(1, dtype=pred.dtype, device=pred.device),
                        torch.cumsum(
                            1.0 / torch.arange(1, b + 1, dtype=pred.dtype, device=pred.device), 0
                        ),
                    ]
                )
                w = harmonic[ranks]
                if self.options["normalise_rank"]:
                    w = w / ranks.clamp(min=1).to(pred.dtype)
        return masked_mean(w[:, None] * hinge, cand)
