"""Neural performance predictors: ReNAS's LeNet, an MLP and the directed GCN.

Every network maps a batch of encodings ``x`` of shape ``(B, *input_shape)`` (float32) to
``(pred, features)``: ``pred`` ``(B,)`` is the predicted score and ``features`` ``(B, d)``
the activations that enter the last linear layer (ReNAS's continuity loss is computed on
them; ``feature_dim`` is ``d``). They are built on the CPU with PyTorch's default
initialisation (and Xavier-uniform for the GCN's propagation weights), so two networks
built after the same ``torch.manual_seed`` have identical parameters.

* :class:`LeNet`: ReNAS (Xu et al., CVPR 2021, Table 1 and the official ``renas.py``):
  conv3x3 ``C_in -> 38`` (padding 1, no bias) + BN + ReLU, conv3x3 ``38 -> 128`` (padding
  1, no bias) + BN + ReLU, flatten, FC ``128*H*W -> 120`` + ReLU, FC ``120 -> 84`` + ReLU,
  FC ``84 -> 1``; features are the 84-d activations. 19x7x7 input: 813,615 parameters.
* :class:`MLP`: flatten, then ``Linear + ReLU (+ Dropout)`` per entry of ``hidden``, then
  ``Linear -> 1``; features are the last hidden layer's output (after dropout).
* :class:`GCN`: the directed GCN of Wen et al.'s neural predictor as implemented in
  ``neuralpredictor.pytorch`` and NASLib (``gcn.py``; used, second-hand, as the loss
  study's backbone): each layer propagates forwards and backwards along the edges with
  separate weights and averages the two; mean readout over the real nodes.

GCN propagation (exact). For a packed ``gcn`` encoding with rows ``[A | ops | mask]`` (``A[i, j]
= 1`` for an edge ``i -> j``, ``m`` the 0/1 mask, thresholded at 0.5):

    Ã   = (A with zero diagonal) * m mᵀ + I          (padded nodes lose every edge)
    P_f = D_f⁻¹ Ã,    D_f = diag(Ã 1)                 (node i: mean of itself + successors)
    P_b = D_b⁻¹ Ãᵀ,   D_b = diag(Ãᵀ 1)                (node i: mean of itself + predecessors)
    H⁰  = ops * m
    Hˡ⁺¹ = Dropout( (ReLU(P_f Hˡ W_fˡ) + ReLU(P_b Hˡ W_bˡ)) / 2 )      (no biases)
    z   = Σ_i m_i Hᴸ_i / Σ_i m_i                      (features, ``hidden``-d)
    pred = w·z + b     (or Linear(z -> head_hidden) -> Dropout -> Linear(-> 1), no
                        activation and no biases, as NASLib, with ``head_hidden``)

``normalization: naslib`` reproduces NASLib's backward operator exactly: NASLib first
row-normalises ``A + I`` and then row-normalises the *transpose of that normalised
matrix*, ``P_b = rownorm((D_f⁻¹ Ã)ᵀ)``, which weights each predecessor ``j`` by
``1 / (out-degree(j) + 1)`` before averaging (its forward operator equals ``P_f``).
Masking makes padded nodes (mask 0) irrelevant to real ones, and every operation is
equivariant under a relabelling of the nodes, so the output is invariant to permuting the
nodes (adjacency rows and columns, ops and mask alike).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class LeNet(nn.Module):
    """ReNAS's LeNet predictor on a ``(C, H, W)`` tensor encoding."""

    kind = "torch"
    uses_loss = True

    def __init__(
        self,
        input_shape: Sequence[int],
        conv_channels: Sequence[int] = (38, 128),
        fc_hidden: Sequence[int] = (120, 84),
    ) -> None:
        super().__init__()
        c_in, height, width = (int(s) for s in input_shape)
        self.input_shape = (c_in, height, width)
        layers: list[nn.Module] = []
        prev = c_in
        for ch in conv_channels:
            layers += [
                nn.Conv2d(prev, int(ch), kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(int(ch)),
                nn.ReLU(inplace=True),
            ]
            prev = int(ch)
        self.features = nn.Sequential(*layers)
        fcs: list[nn.Module] = []
        prev = prev * height * width
        for width_ in fc_hidden:
            fcs += [nn.Linear(prev, int(width_)), nn.ReLU(inplace=True)]
            prev = int(width_)
        self.fc = nn.Sequential(*fcs)
        self.out = nn.Linear(prev, 1)
        self.feature_dim = prev

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        z = self.fc(torch.flatten(h, 1))
        return self.out(z).squeeze(-1), z


class MLP(nn.Module):
    """Fully connected predictor on any (flattened) encoding."""

    kind = "torch"
    uses_loss = True

    def __init__(
        self,
        input_shape: Sequence[int],
        hidden: Sequence[int] = (256, 256),
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        prev = math.prod(self.input_shape)
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(prev, int(width)), nn.ReLU(inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            prev = int(width)
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(prev, 1)
        self.feature_dim = prev

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.body(torch.flatten(x, 1))
        return self.out(z).squeeze(-1), z


class DirectedGraphConv(nn.Module):
    """One bidirectional propagation: ``(ReLU(P_f H W_f) + ReLU(P_b H W_b)) / 2``."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.forward_weight = nn.Linear(in_features, out_features, bias=False)
        self.backward_weight = nn.Linear(in_features, out_features, bias=False)
        nn.init.xavier_uniform_(self.forward_weight.weight)
        nn.init.xavier_uniform_(self.backward_weight.weight)

    def forward(
        self, h: torch.Tensor, p_forward: torch.Tensor, p_backward: torch.Tensor
    ) -> torch.Tensor:
        out_f = F.relu(p_forward @ self.forward_weight(h))
        out_b = F.relu(p_backward @ self.backward_weight(h))
        return (out_f + out_b) / 2


def _row_normalise(a: torch.Tensor) -> torch.Tensor:
    return a / a.sum(-1, keepdim=True)


def propagation_matrices(
    adjacency: torch.Tensor, mask: torch.Tensor, normalization: str = "mean"
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(P_f, P_b)``, each ``(B, V, V)``, from 0/1 ``adjacency`` and ``mask`` ``(B, V)``.

    See the module docstring for the formulas of ``mean`` and ``naslib``.
    """
    v = adjacency.shape[-1]
    eye = torch.eye(v, dtype=adjacency.dtype, device=adjacency.device)
    a = adjacency * (1 - eye) * mask[:, :, None] * mask[:, None, :] + eye
    p_forward = _row_normalise(a)
    if normalization == "naslib":
        p_backward = _row_normalise(p_forward.transpose(1, 2))
    else:
        p_backward = _row_normalise(a.transpose(1, 2))
    return p_forward, p_backward


class GCN(nn.Module):
    """Directed GCN on the packed ``gcn`` encoding ``(V, V + T + 1)``.

    Args:
        input_shape: ``(V, F)`` of the packed encoding.
        layout: ``{"adjacency": [a0, a1], "ops": [o0, o1], "mask": [k0, k1]}``, slices of
            the last axis (``a1 - a0 == V``, ``k1 - k0 == 1``).
        hidden: width of every graph layer (and of the features).
        layers: number of graph layers.
        dropout: after every graph layer (and inside the head).
        head_hidden: ``None``: one ``Linear(hidden -> 1)``; an int: NASLib's head
            ``Linear(hidden -> head_hidden, no bias) -> Dropout -> Linear(-> 1, no bias)``.
        normalization: ``mean`` or ``naslib`` (see the module docstring).
    """

    kind = "torch"
    uses_loss = True

    def __init__(
        self,
        input_shape: Sequence[int],
        layout: dict[str, Sequence[int]],
        hidden: int = 144,
        layers: int = 4,
        dropout: float = 0.1,
        head_hidden: int | None = None,
        normalization: str = "mean",
    ) -> None:
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.adjacency = slice(*(int(i) for i in layout["adjacency"]))
        self.ops = slice(*(int(i) for i in layout["ops"]))
        self.mask = int(layout["mask"][0])
        self.normalization = normalization
        n_ops = self.ops.stop - self.ops.start
        self.convs = nn.ModuleList(
            DirectedGraphConv(n_ops if i == 0 else hidden, hidden) for i in range(layers)
        )
        self.dropout = nn.Dropout(dropout)
        if head_hidden is None:
            self.head = nn.Linear(hidden, 1)
        else:
            self.head = nn.Sequential(
                nn.Linear(hidden, head_hidden, bias=False),
                nn.Dropout(dropout),
                nn.Linear(head_hidden, 1, bias=False),
            )
        self.feature_dim = hidden

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mask = (x[..., self.mask] > 0.5).to(x.dtype)
        p_forward, p_backward = propagation_matrices(
            x[..., self.adjacency], mask, self.normalization
        )
        h = x[..., self.ops] * mask[..., None]
        for conv in self.convs:
            h = self.dropout(conv(h, p_forward, p_backward))
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
        return self.head(pooled).squeeze(-1), pooled
