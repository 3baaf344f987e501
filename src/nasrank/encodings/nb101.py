"""NAS-Bench-101 encodings: ReNAS's 19x7x7 tensor and NASLib's encodings.

All encodings read the enumerated space's compact columns (``n_vertices``, ``adj_bits``,
``labeling``: the spec NAS-Bench-101 trained) and work on whole batches with numpy.

The canonical 7x7 form (ReNAS, section 3.2): vertices sorted by depth (longest path from
the input, ties kept in spec order), which keeps the matrix upper-triangular; a cell with
n < 7 vertices is zero-padded at the penultimate rows/columns so the input stays first
and the output last. A node vector ``v`` becomes a matrix by broadcasting over columns
and multiplying by the adjacency: ``M[i, j] = A[i, j] * v[j]`` (each edge carries the value
of the vertex it enters, so the output's input projection is kept; the input vertex owns
no cost).

* ``renas_tensor`` (19x7x7): type matrix, then the FLOPs matrices of the 9 cells, then
  their parameter matrices (per-vertex costs of :mod:`nasrank.spaces.nb101_network`;
  FLOPs convention from the ``flops`` option, ``macs`` by default).
* ``type_matrix`` (1x7x7): ReNAS's type matrix alone (its variants v1/v3).
* ``adjacency_onehot`` (36): NASLib's ``encode_adj``: 21 upper-triangle bits, then a
  one-hot per interior vertex in NASLib's order (maxpool3x3, conv3x3, conv1x1).
* ``path`` (364): NASLib's ``encode_paths``: one bit per input->output path, indexed by
  its op sequence (``sum_i 3**i * (code_i + 1)``, conv3x3=0, conv1x1=1, maxpool3x3=2).
* ``gcn`` (7x13): per vertex ``[adjacency row (7) | one-hot type (5) | mask (1)]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from nasrank.encodings import Encoding
from nasrank.spaces.nb101_network import NUM_CELLS, cell_costs

V = 7
# ReNAS type codes: input, conv1x1, conv3x3, maxpool3x3, output (0 = no vertex)
TYPE_CODE = {-1: 1, 1: 2, 0: 3, 2: 4, -2: 5}
N_TYPES = 5
SPEC_COLUMNS = ("n_vertices", "adj_bits", "labeling")
PAD = -9  # op code of padding vertices


def decode(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjacency ``(N, 7, 7)`` int8 and op codes ``(N, 7)`` in spec order, and ``n``.

    A cell with n vertices fills the top-left ``n x n`` block; op codes are -1 input,
    0 conv3x3, 1 conv1x1, 2 maxpool3x3, -2 output and -9 beyond ``n``.
    """
    n = table.column("n_vertices").to_numpy().astype(np.int64)
    bits = table.column("adj_bits").to_numpy().astype(np.int64)
    lab = table.column("labeling").to_numpy().astype(np.int64)
    count = len(n)
    adj = np.zeros((count, V, V), dtype=np.int8)
    for y in range(V):
        for x in range(y):
            adj[:, x, y] = (bits >> (x + y * (y - 1) // 2)) & 1
    ops = np.full((count, V), PAD, dtype=np.int64)
    ops[:, 0] = -1
    ops[np.arange(count), n - 1] = -2
    for v in range(1, V - 1):
        present = v < n - 1
        exponent = np.where(present, n - 2 - v, 0)  # vertex 1 is the most significant digit
        digit = (lab // 3**exponent) % 3
        ops[present, v] = digit[present]
    return adj, ops, n


def canonical_order(adj: np.ndarray, n: np.ndarray) -> np.ndarray:
    """For each cell, the spec vertex placed at each of the 7 tensor positions (-1: pad).

    Vertices are sorted by depth (longest path from the input), ties in spec order;
    the output goes to position 6 and padding fills positions n-1..5.
    """
    count = adj.shape[0]
    depth = np.zeros((count, V), dtype=np.int64)
    for v in range(1, V):
        pred_depth = np.where(adj[:, :v, v] > 0, depth[:, :v] + 1, 0)
        depth[:, v] = pred_depth.max(axis=1)
    valid = np.arange(V)[None, :] < n[:, None]
    key = np.where(valid, depth * V + np.arange(V)[None, :], 10**6)
    order = np.argsort(key, axis=1, kind="stable")  # real vertices first, by depth
    out = np.full((count, V), -1, dtype=np.int64)
    rows = np.arange(count)
    for k in range(V - 1):
        real = k < n - 1
        out[real, k] = order[real, k]
    out[rows, V - 1] = order[rows, n - 1]  # the output vertex
    return out


def _canonical(
    adj: np.ndarray, ops: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adjacency (float32) and op codes in canonical order, and the order itself."""
    order = canonical_order(adj, n)
    valid = order >= 0
    idx = np.where(valid, order, 0)
    rows = np.arange(adj.shape[0])[:, None, None]
    a = adj[rows, idx[:, :, None], idx[:, None, :]] * (valid[:, :, None] & valid[:, None, :])
    o = np.where(valid, np.take_along_axis(ops, idx, axis=1), PAD)
    return a.astype(np.float32), o, order


def _type_codes(ops: np.ndarray) -> np.ndarray:
    codes = np.zeros(ops.shape, dtype=np.float32)
    for op, code in TYPE_CODE.items():
        codes[ops == op] = code
    return codes


def encode_type_matrix(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    a, o, _ = _canonical(*decode(table))
    return (a * _type_codes(o)[:, None, :])[:, None, :, :]


def encode_renas_tensor(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    adj, ops, n = decode(table)
    a, o, order = _canonical(adj, ops, n)
    costs = cell_costs(adj, n, ops)
    flops = {"macs": costs.flops, "naslib": costs.flops_naslib}[options.get("flops", "macs")]
    valid = order >= 0
    idx = np.where(valid, order, 0)[:, None, :].repeat(NUM_CELLS, axis=1)
    f = np.where(valid[:, None, :], np.take_along_axis(flops, idx, axis=2), 0)
    p = np.where(valid[:, None, :], np.take_along_axis(costs.params, idx, axis=2), 0)
    out = np.empty((a.shape[0], 1 + 2 * NUM_CELLS, V, V), dtype=np.float32)
    out[:, 0] = a * _type_codes(o)[:, None, :]
    out[:, 1 : 1 + NUM_CELLS] = a[:, None] * f[:, :, None, :].astype(np.float32)
    out[:, 1 + NUM_CELLS :] = a[:, None] * p[:, :, None, :].astype(np.float32)
    return out


# NASLib's encode_adj one-hot per interior op: maxpool3x3, conv3x3, conv1x1
_NASLIB_ONEHOT = {2: 0, 0: 1, 1: 2}


def encode_adjacency_onehot(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    a, o, _ = _canonical(*decode(table))
    iu = np.triu_indices(V, k=1)
    onehot = np.zeros((a.shape[0], V - 2, 3), dtype=np.float32)
    for op, pos in _NASLIB_ONEHOT.items():
        onehot[:, :, pos] = o[:, 1 : V - 1] == op
    return np.concatenate([a[:, iu[0], iu[1]], onehot.reshape(a.shape[0], -1)], axis=1)


N_PATHS = sum(3**k for k in range(V - 1))  # 364


def _path_shift() -> np.ndarray:
    """``shift[c, i]``: index of path i extended by an op of code c (-1 if too long)."""
    shift = np.full((3, N_PATHS), -1, dtype=np.int64)
    for i in range(N_PATHS):
        length, rest = 0, i
        while rest:
            rest = (rest - 1) // 3
            length += 1
        for c in range(3):
            j = i + 3**length * (c + 1)
            if length < V - 2 and j < N_PATHS:
                shift[c, i] = j
    return shift


_SHIFT = _path_shift()


def encode_path(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    adj, ops, n = decode(table)
    count = adj.shape[0]
    rows = np.arange(count)
    # reach[:, v, i]: a path from the input to v whose interior ops have index i
    reach = np.zeros((count, V, N_PATHS), dtype=bool)
    reach[:, 0, 0] = True
    for v in range(1, V):
        for u in range(v):
            edge = adj[:, u, v] > 0
            if not edge.any():
                continue
            if u == 0:
                reach[edge, v] |= reach[edge, 0]
                continue
            for c in range(3):
                sel = edge & (ops[:, u] == c)
                if not sel.any():
                    continue
                ok = _SHIFT[c] >= 0
                moved = np.zeros((int(sel.sum()), N_PATHS), dtype=bool)
                moved[:, _SHIFT[c][ok]] = reach[sel, u][:, ok]
                reach[sel, v] |= moved
    return reach[rows, n - 1].astype(np.float32)


def encode_gcn(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    a, o, order = _canonical(*decode(table))
    onehot = np.zeros((a.shape[0], V, N_TYPES), dtype=np.float32)
    codes = _type_codes(o).astype(np.int64)
    for code in range(1, N_TYPES + 1):
        onehot[:, :, code - 1] = codes == code
    mask = (order >= 0).astype(np.float32)[:, :, None]
    return np.concatenate([a, onehot, mask], axis=2)


ENCODINGS: dict[str, Encoding] = {
    e.name: e
    for e in (
        Encoding(
            name="renas_tensor",
            shape=(1 + 2 * NUM_CELLS, V, V),
            description="ReNAS feature tensor: type matrix, FLOPs matrices of the 9 cells, "
            "parameter matrices of the 9 cells; node values broadcast over columns",
            encode=encode_renas_tensor,
            options={"flops": "macs"},
            columns=SPEC_COLUMNS,
        ),
        Encoding(
            name="type_matrix",
            shape=(1, V, V),
            description="ReNAS type matrix: adjacency x node type code of the entered vertex "
            "(input 1, conv1x1 2, conv3x3 3, maxpool3x3 4, output 5)",
            encode=encode_type_matrix,
            columns=SPEC_COLUMNS,
        ),
        Encoding(
            name="adjacency_onehot",
            shape=(21 + 3 * (V - 2),),
            description="NASLib encode_adj: 21 upper-triangle bits + one-hot of the 5 "
            "interior ops (maxpool3x3, conv3x3, conv1x1)",
            encode=encode_adjacency_onehot,
            columns=SPEC_COLUMNS,
        ),
        Encoding(
            name="path",
            shape=(N_PATHS,),
            description="NASLib encode_paths: one bit per input->output path, indexed by its "
            "op sequence",
            encode=encode_path,
            columns=SPEC_COLUMNS,
        ),
        Encoding(
            name="gcn",
            shape=(V, V + N_TYPES + 1),
            description="GCN input per vertex: adjacency row, one-hot type (input, conv1x1, "
            "conv3x3, maxpool3x3, output), mask",
            encode=encode_gcn,
            layout={"adjacency": [0, V], "ops": [V, V + N_TYPES],
                    "mask": [V + N_TYPES, V + N_TYPES + 1]},
            columns=SPEC_COLUMNS,
        ),
    )
}
