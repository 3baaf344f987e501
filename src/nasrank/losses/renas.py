"""ReNAS loss: pairwise ranking on the outputs + continuity (triplet) loss on features."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from nasrank.exact import sqrt
from nasrank.losses.base import (
    Loss,
    LossContext,
    check_choice,
    check_int,
    check_number,
    masked_mean,
    pair_matrices,
    pair_penalty,
)
from nasrank.losses.catalog import register_loss

__all__ = ["ReNASLoss", "sample_triplets"]

#: the continuity term computes all B x B feature distances of a batch when B^2 x D is
#: at most this many elements (64 MiB of float32), else only those of its triplets
ALL_PAIRS_MAX = 2**24


def safe_distance(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distance along the last axis, with a zero (not NaN) gradient at 0."""
    sq = ((a - b) ** 2).sum(-1)
    pos = sq > 0
    return torch.where(pos, sqrt(torch.where(pos, sq, torch.ones_like(sq))), 0.0 * sq)


def sample_triplets(b: int, n: int, generator: torch.Generator) -> Tensor:
    """``n`` ordered triplets (i, j, k) of pairwise distinct indices in [0, b), uniformly,
    with replacement, drawn on the CPU from ``generator``. Returns an (n, 3) long tensor."""
    i = torch.randint(0, b, (n,), generator=generator)
    j = torch.randint(0, b - 1, (n,), generator=generator)
    j = j + (j >= i).long()
    k = torch.randint(0, b - 2, (n,), generator=generator)
    lo, hi = torch.minimum(i, j), torch.maximum(i, j)
    k = k + (k >= lo).long()
    k = k + (k >= hi).long()
    return torch.stack([i, j, k], dim=1)


@register_loss("renas", family="ranking", label="ReNAS", colour="goldenrod")
class ReNASLoss(Loss):
    """ReNAS loss: ranking loss on the predictions + lambda x continuity loss on features.

    Let phi be the hinge ``phi_m(z) = max(0, m - z)`` (``pairwise: hinge``, the paper) or
    the logistic ``phi(z) = log(1 + exp(-z))`` (``pairwise: logistic``, the released code,
    no margin); it is used in both terms ("Eq. 3 and Eq. 4 are similar").

    Formula: ``L = L_rank + lambda * L_cont`` with

    Ranking term (ReNAS Eq. 3), over ordered pairs P = {(i, j): i != j, y_i != y_j}:
    ``L_rank = (1/|P|) sum_P phi_m(s_ij (p_i - p_j))``, ``s_ij = sign(y_i - y_j)``.
    With ``ties: include`` the mean runs over all B(B-1) ordered pairs, ties contributing
    phi(0) (a constant: m, resp. log 2), which is the normalisation of the released code.

    Continuity term (ReNAS Eq. 4), on the penultimate features f (input of the last FC):
    for a triplet (i, j, k) of distinct items, ``d_ij = ||f_i - f_j||_2`` and the
    performance difference ``r_ij = |y_i - y_j|``; the feature distances seen from the
    anchor i must be ordered like the performance differences:
    ``L_cont = mean_{(i,j,k) in T} phi_mc( sign(r_ij - r_ik) (d_ij - d_ik) )`` over
    T = {(i, j, k) distinct: r_ij != r_ik}. Each unordered {j, k} appears twice with the
    same value. ``L = L_rank + lambda * L_cont``.

    Triplets: all B(B-1)(B-2) ordered triplets when that is <= ``max_triplets``; else
    ``max_triplets`` triplets drawn uniformly with replacement from the distinct ordered
    triplets by a CPU ``torch.Generator`` seeded with ``seed * 2**32`` + the number of earlier
    continuity calls of this instance (reproducible for a given seed and call sequence, different
    from one step to the next). Cost: O(max_triplets x D).

    Options: ``pairwise`` (hinge|logistic, default hinge), ``margin`` m (0.1),
    ``triplet_margin`` mc (0.1), ``lambda`` (1.0), ``ties`` (exclude|include, ranking
    term only), ``max_triplets`` (100000), ``seed`` (0).

    Source: Xu et al., "ReNAS: Relativistic Evaluation of Neural Architecture Search"
    (CVPR 2021; arXiv 1910.01523), section 3.3, Eqs. 3-5. The equations are lost in our
    copy of the text; the form above is reconstructed from the prose (hinge on the
    order-signed difference; Euclidean feature distance vs. absolute accuracy difference
    over triplets; weighted sum). The margins, lambda and the normalisation (means instead
    of sums) are our choices. Released code: logistic pair loss only (lambda = 0).
    """

    needs_features = True
    OPTIONS: ClassVar[dict[str, Any]] = {
        "pairwise": "hinge",
        "margin": 0.1,
        "triplet_margin": 0.1,
        "lambda": 1.0,
        "ties": "exclude",
        "max_triplets": 100_000,
        "seed": 0,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._calls = 0

    def check_options(self, opts: dict[str, Any]) -> None:
        check_choice(self.name, "pairwise", opts["pairwise"], ("hinge", "logistic"))
        check_number(self.name, "margin", opts["margin"], min_value=0.0)
        check_number(self.name, "triplet_margin", opts["triplet_margin"], min_value=0.0)
        check_number(self.name, "lambda", opts["lambda"], min_value=0.0)
        check_choice(self.name, "ties", opts["ties"], ("exclude", "include"))
        check_int(self.name, "max_triplets", opts["max_triplets"], min_value=1)
        check_int(self.name, "seed", opts["seed"], min_value=0)

    # -- the two terms -------------------------------------------------------------------
    def ranking_term(self, pred: Tensor, target: Tensor) -> Tensor:
        diff, sign = pair_matrices(pred, target)
        pen = pair_penalty(sign * diff, self.options["pairwise"], self.options["margin"])
        if self.options["ties"] == "include":
            off_diag = ~torch.eye(pred.shape[0], dtype=torch.bool, device=pred.device)
            return masked_mean(pen, off_diag)
        return masked_mean(pen, sign != 0)

    def triplets(self, b: int, device: torch.device) -> Tensor | None:
        """The (n, 3) triplets used for a batch of ``b``; None means all of them."""
        if b * (b - 1) * (b - 2) <= self.options["max_triplets"]:
            return None
        gen = torch.Generator().manual_seed((self.options["seed"] << 32) + self._calls)
        return sample_triplets(b, self.options["max_triplets"], gen).to(device)

    def continuity_term(self, features: Tensor, target: Tensor) -> Tensor:
        b = features.shape[0]
        if b < 3:
            return features.sum() * 0.0
        kind, mc = self.options["pairwise"], self.options["triplet_margin"]
        trip = self.triplets(b, features.device)
        self._calls += 1
        if trip is None:  # all triplets, as (B, B, B) arrays indexed [i, j, k]
            d = safe_distance(features[:, None, :], features[None, :, :])  # d[i, j]
            r = (target[:, None] - target[None, :]).abs()
            z = torch.sign(r[:, :, None] - r[:, None, :]) * (d[:, :, None] - d[:, None, :])
            idx = torch.arange(b, device=features.device)
            distinct = (
                (idx[:, None, None] != idx[None, :, None])
                & (idx[:, None, None] != idx[None, None, :])
                & (idx[None, :, None] != idx[None, None, :])
            )
            valid = distinct & (r[:, :, None] != r[:, None, :])
        else:
            i, j, k = trip.unbind(1)
            if b * b * features.shape[1] <= ALL_PAIRS_MAX:
                # every pair's distance once, then the triplets' pairs looked up: the
                # batch's B^2 distances cost less than 2 x max_triplets feature rows
                d = safe_distance(features[:, None, :], features[None, :, :])
                d_ij, d_ik = d[i, j], d[i, k]
            else:
                d_ij = safe_distance(features[i], features[j])
                d_ik = safe_distance(features[i], features[k])
            r_ij = (target[i] - target[j]).abs()
            r_ik = (target[i] - target[k]).abs()
            z = torch.sign(r_ij - r_ik) * (d_ij - d_ik)
            valid = r_ij != r_ik
        return masked_mean(pair_penalty(z, kind, mc), valid)

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        assert features is not None  # checked in forward
        rank = self.ranking_term(pred, target)
        if self.options["lambda"] == 0:
            return rank
        features = features.to(pred.dtype)
        return rank + self.options["lambda"] * self.continuity_term(features, target)
