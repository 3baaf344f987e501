"""Exact per-vertex parameters and FLOPs of the NAS-Bench-101 network built from a cell.

NAS-Bench-101 stacks a cell 9 times: a conv3x3 stem (3 -> 128 channels, BN, no bias) on
32x32 input, 3 stacks of 3 cells with 128/256/512 output channels and a 2x2 max-pool
between stacks, global average pooling and a dense layer to 10 classes. Inside a cell
(``model_builder.build_module``):

* vertex channels follow ``compute_vertex_channels``: the output's channels are split
  evenly over the vertices feeding it, the remainder going to the FIRST of them (so the
  vertex order matters), and every other vertex takes the max of its successors;
* an edge from the cell input to vertex t is a 1x1 conv-BN-ReLU projection
  (``in_channels -> channels[t]``, no bias); edges between interior vertices truncate
  channels (no parameters) and are summed;
* conv3x3/conv1x1 vertices are conv-BN-ReLU (no bias), max-pool has no parameters;
* the output concatenates its interior predecessors and, with an input->output edge,
  adds a projection of the input to the output channels.

BatchNorm has 2 trainable parameters per channel (gamma, beta). FLOPs come in two
conventions: ``macs`` counts multiply-accumulates of convolutions and the dense layer;
``naslib`` adds 3 per output element of every conv-BN-ReLU (BN scale and shift, ReLU)
and k*k per output element of every k x k max-pool, global pooling and additions
excluded. The ``naslib`` totals equal NASLib's ``flops`` column exactly for all 500 of
its NAS-Bench-101 cells (found by fitting, then checked cell by cell).

Per-vertex attribution (used by ReNAS's tensor): a vertex owns its op and the 1x1
projection that feeds it; the output vertex owns the input->output projection; the
input vertex owns nothing. Summed over the 9 cells plus stem (3,712 parameters) and dense
layer (5,130), these give the network's total.

Usage::

    costs = cell_costs(adjacency, n_vertices, op_codes)   # batched over cells
    costs.params.shape   # (N, 9, 7): per cell position, per vertex (padded to 7)
    total = network_params(costs)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEM_CHANNELS = 128
NUM_STACKS = 3
CELLS_PER_STACK = 3
NUM_CELLS = NUM_STACKS * CELLS_PER_STACK
IMAGE_SIZE = 32
NUM_CLASSES = 10
STEM_PARAMS = 3 * 3 * 3 * STEM_CHANNELS + 2 * STEM_CHANNELS  # 3,712
DENSE_PARAMS = STEM_CHANNELS * 4 * NUM_CLASSES + NUM_CLASSES  # 5,130
STEM_FLOPS = IMAGE_SIZE * IMAGE_SIZE * 3 * 3 * 3 * STEM_CHANNELS
DENSE_FLOPS = STEM_CHANNELS * 4 * NUM_CLASSES
BN_RELU_FLOPS = 3  # per output element of a conv-BN-ReLU (NASLib's convention)
POOL_KERNEL = 3 * 3
DOWNSAMPLE_KERNEL = 2 * 2
# NASLib's convention outside the cells: the stem's BN-ReLU and the two 2x2 max-pools.
NETWORK_EXTRA_NASLIB = BN_RELU_FLOPS * IMAGE_SIZE**2 * STEM_CHANNELS + DOWNSAMPLE_KERNEL * (
    (IMAGE_SIZE // 2) ** 2 * STEM_CHANNELS + (IMAGE_SIZE // 4) ** 2 * STEM_CHANNELS * 2
)
# Op codes of the cell vertices (nasrank.spaces.nb101.OP_CODE).
INPUT, OUTPUT, CONV3X3, CONV1X1, MAXPOOL = -1, -2, 0, 1, 2
MAX_VERTICES = 7


@dataclass(frozen=True)
class CellCosts:
    """Per-vertex costs of every cell of the network, vertices in the spec's order.

    Attributes:
        params: ``(N, 9, 7)`` int64 trainable parameters per cell position and vertex;
            vertices beyond a cell's ``n_vertices`` are 0 and the output vertex of an
            n-vertex cell sits at index ``n - 1``.
        flops: ``(N, 9, 7)`` int64 multiply-accumulates, same layout.
        flops_naslib: ``(N, 9, 7)`` int64 FLOPs in NASLib's convention.
        channels: ``(N, 9, 7)`` int64 output channels of each vertex.
    """

    params: np.ndarray
    flops: np.ndarray
    flops_naslib: np.ndarray
    channels: np.ndarray


def cell_layout() -> list[tuple[int, int, int]]:
    """``(in_channels, out_channels, spatial size)`` of the 9 cells in network order."""
    out, channels, size, in_ch = [], STEM_CHANNELS, IMAGE_SIZE, STEM_CHANNELS
    for stack in range(NUM_STACKS):
        if stack > 0:
            channels *= 2
            size //= 2
        for _ in range(CELLS_PER_STACK):
            out.append((in_ch, channels, size))
            in_ch = channels
    return out


def vertex_channels(adj: np.ndarray, n: int, in_ch: int, out_ch: int) -> np.ndarray:
    """``compute_vertex_channels`` for a batch of n-vertex cells.

    Args:
        adj: ``(N, n, n)`` 0/1 adjacency, vertices in the spec's order.
        n: vertex count of every cell in the batch.
        in_ch, out_ch: channels of the cell's input and output.

    Returns:
        ``(N, n)`` int64 channels per vertex.
    """
    count = adj.shape[0]
    ch = np.zeros((count, n), dtype=np.int64)
    ch[:, 0] = in_ch
    ch[:, n - 1] = out_ch
    if n == 2:
        return ch
    feeds_out = adj[:, 1 : n - 1, n - 1].astype(bool)  # interior vertices -> output
    fan_in = feeds_out.sum(axis=1)
    base = out_ch // fan_in
    extra = out_ch % fan_in
    # the first `extra` vertices feeding the output (in vertex order) get one more channel
    rank = np.cumsum(feeds_out, axis=1) - 1
    interior = np.where(feeds_out, base[:, None] + (rank < extra[:, None]), 0)
    ch[:, 1 : n - 1] = interior
    for v in range(n - 3, 0, -1):
        succ = adj[:, v, v + 1 : n - 1].astype(bool)
        best = np.where(succ, ch[:, v + 1 : n - 1], 0).max(axis=1)
        ch[:, v] = np.where(feeds_out[:, v - 1], ch[:, v], best)
    return ch


def cell_costs(adjacency: np.ndarray, n_vertices: np.ndarray, ops: np.ndarray) -> CellCosts:
    """Per-vertex parameters and FLOPs of all 9 cells for a batch of cells.

    Args:
        adjacency: ``(N, 7, 7)`` 0/1 adjacency in the spec's vertex order, cells with
            n < 7 vertices in the top-left ``n x n`` block.
        n_vertices: ``(N,)`` vertex counts (2..7).
        ops: ``(N, 7)`` op codes (-1 input, 0 conv3x3, 1 conv1x1, 2 maxpool, -2 output)
            in the same order; padding entries are ignored.

    Returns:
        :class:`CellCosts` with arrays of shape ``(N, 9, 7)``.
    """
    adjacency = np.asarray(adjacency)
    n_vertices = np.asarray(n_vertices)
    ops = np.asarray(ops)
    count = adjacency.shape[0]
    params = np.zeros((count, NUM_CELLS, MAX_VERTICES), dtype=np.int64)
    flops = np.zeros_like(params)
    flops_naslib = np.zeros_like(params)
    channels = np.zeros_like(params)
    for n in np.unique(n_vertices).tolist():
        rows = np.flatnonzero(n_vertices == n)
        adj = adjacency[rows][:, :n, :n].astype(np.int64)
        op = ops[rows][:, :n]
        for cell, (in_ch, out_ch, size) in enumerate(cell_layout()):
            ch = vertex_channels(adj, n, in_ch, out_ch)
            hw = size * size
            p = np.zeros((len(rows), n), dtype=np.int64)
            f = np.zeros_like(p)
            extra = np.zeros_like(p)  # NASLib's BN/ReLU/pooling terms
            interior_ch = ch[:, 1 : n - 1]
            # 1x1 projection of the cell input feeding vertex t
            proj = adj[:, 0, 1 : n - 1] * interior_ch
            p[:, 1 : n - 1] += proj * in_ch + 2 * proj
            f[:, 1 : n - 1] += proj * in_ch * hw
            extra[:, 1 : n - 1] += BN_RELU_FLOPS * proj * hw
            # the vertex op (input channels = output channels = channels[t])
            interior_op = op[:, 1 : n - 1]
            kernel = np.select([interior_op == CONV3X3, interior_op == CONV1X1], [9, 1], 0)
            conv = np.where(kernel > 0, 1, 0)
            p[:, 1 : n - 1] += kernel * interior_ch * interior_ch + 2 * interior_ch * conv
            f[:, 1 : n - 1] += kernel * interior_ch * interior_ch * hw
            extra[:, 1 : n - 1] += np.where(interior_op == MAXPOOL, POOL_KERNEL,
                                            BN_RELU_FLOPS * conv) * interior_ch * hw
            # projection of the input to the output (an input->output edge, or no
            # interior vertex at all)
            out_proj = adj[:, 0, n - 1] if n > 2 else np.ones(len(rows), dtype=np.int64)
            p[:, n - 1] += out_proj * (in_ch * out_ch + 2 * out_ch)
            f[:, n - 1] += out_proj * in_ch * out_ch * hw
            extra[:, n - 1] += BN_RELU_FLOPS * out_proj * out_ch * hw
            params[rows, cell, :n] = p
            flops[rows, cell, :n] = f
            flops_naslib[rows, cell, :n] = f + extra
            channels[rows, cell, :n] = ch
    return CellCosts(params=params, flops=flops, flops_naslib=flops_naslib, channels=channels)


def network_params(costs: CellCosts) -> np.ndarray:
    """Total trainable parameters of each network: stem + 9 cells + dense layer."""
    return costs.params.sum(axis=(1, 2)) + STEM_PARAMS + DENSE_PARAMS


def network_flops(costs: CellCosts, convention: str = "macs") -> np.ndarray:
    """Total FLOPs of each network for one 32x32 image (``macs`` or ``naslib``)."""
    if convention == "macs":
        return costs.flops.sum(axis=(1, 2)) + STEM_FLOPS + DENSE_FLOPS
    if convention == "naslib":
        return (costs.flops_naslib.sum(axis=(1, 2)) + STEM_FLOPS + DENSE_FLOPS
                + NETWORK_EXTRA_NASLIB)
    raise ValueError(f"unknown FLOPs convention {convention!r}; use 'macs' or 'naslib'")
