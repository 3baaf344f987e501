"""A plain, one-cell-at-a-time reference of the ReNAS tensor, to check the vectorised one.

Written as directly as possible from NAS-Bench-101's ``model_builder`` (vertex channels,
projections, op costs) and ReNAS section 3.2 (depth sort, padding before the output,
broadcast over columns), with Python loops and no shared code with
:mod:`nasrank.encodings.nb101` or :mod:`nasrank.spaces.nb101_network` beyond the cell
decoding. Tests assert both give identical tensors; ``benchmarks/encode.py``
reports the speed ratio.

Usage::

    x = renas_tensor_reference(matrix, ops)   # (19, 7, 7) float32 for one spec
"""

from __future__ import annotations

import numpy as np

from nasrank.spaces.nb101 import CONV1X1, CONV3X3, INPUT, MAXPOOL3X3, OUTPUT

TYPE_CODES = {INPUT: 1, CONV1X1: 2, CONV3X3: 3, MAXPOOL3X3: 4, OUTPUT: 5}


def vertex_channels(in_ch: int, out_ch: int, matrix: list[list[int]]) -> list[int]:
    """``compute_vertex_channels`` of NAS-Bench-101, loop by loop."""
    n = len(matrix)
    ch = [0] * n
    ch[0] = in_ch
    ch[n - 1] = out_ch
    if n == 2:
        return ch
    fan_in = sum(matrix[v][n - 1] for v in range(1, n))
    interior, correction = divmod(out_ch, fan_in)
    for v in range(1, n - 1):
        if matrix[v][n - 1]:
            ch[v] = interior
            if correction:
                ch[v] += 1
                correction -= 1
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            for dst in range(v + 1, n - 1):
                if matrix[v][dst]:
                    ch[v] = max(ch[v], ch[dst])
    return ch


def cell_vertex_costs(
    matrix: list[list[int]], ops: list[str], in_ch: int, out_ch: int, size: int
) -> tuple[list[int], list[int]]:
    """Parameters and multiply-accumulates owned by each vertex of one cell."""
    n = len(matrix)
    ch = vertex_channels(in_ch, out_ch, matrix)
    params = [0] * n
    macs = [0] * n
    for t in range(1, n - 1):
        if matrix[0][t]:
            params[t] += in_ch * ch[t] + 2 * ch[t]
            macs[t] += in_ch * ch[t] * size * size
        k = {CONV3X3: 3, CONV1X1: 1}.get(ops[t], 0)
        if k:
            params[t] += k * k * ch[t] * ch[t] + 2 * ch[t]
            macs[t] += k * k * ch[t] * ch[t] * size * size
    if matrix[0][n - 1] or n == 2:
        params[n - 1] += in_ch * out_ch + 2 * out_ch
        macs[n - 1] += in_ch * out_ch * size * size
    return params, macs


def renas_tensor_reference(matrix: list[list[int]], ops: list[str]) -> np.ndarray:
    """The 19x7x7 ReNAS tensor of one pruned spec (vertex order as NAS-Bench-101 trained)."""
    n = len(matrix)
    layout = []
    channels, size, in_ch = 128, 32, 128
    for stack in range(3):
        if stack:
            channels, size = channels * 2, size // 2
        for _ in range(3):
            layout.append((in_ch, channels, size))
            in_ch = channels
    costs = [cell_vertex_costs(matrix, ops, i, o, s) for i, o, s in layout]

    depth = [0] * n
    for v in range(1, n):
        depth[v] = max(depth[u] + 1 for u in range(v) if matrix[u][v])
    order = sorted(range(n), key=lambda v: (depth[v], v))
    position = {v: (6 if v == n - 1 else k) for k, v in enumerate(order)}

    x = np.zeros((19, 7, 7), dtype=np.float32)
    for u in range(n):
        for v in range(n):
            if not matrix[u][v]:
                continue
            i, j = position[u], position[v]
            x[0, i, j] = TYPE_CODES[ops[v]]
            for cell, (params, macs) in enumerate(costs):
                x[1 + cell, i, j] = macs[v]
                x[10 + cell, i, j] = params[v]
    return x
