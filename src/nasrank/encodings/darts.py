"""DARTS (NAS-Bench-301) encodings of the compact genotype.

A spec is the 32 genotype columns of the ``darts`` table
(:func:`nasrank.benchmarks.darts.genotype_columns`): for each cell ``c`` in
(``normal``, ``reduce``) and pair ``j = 0..7``, ``c_in_j`` (the node pair ``j`` reads:
0 ``c_{k-2}``, 1 ``c_{k-1}``, ``2 + m`` intermediate node ``m``) and ``c_op_j`` (an op
name of :data:`~nasrank.spaces.darts.OPS`); pairs ``2k`` and ``2k + 1`` feed
intermediate node ``k``. The tables hold the canonical form (each node's two pairs
sorted by input), so both encodings are the same for the two orders of a node's inputs;
the encodings encode what they are given.

* ``adjacency_onehot`` (192): NASLib's ``encode_adj`` (nasbench301/encodings.py) made
  fully one-hot and pair-aligned. Per cell (normal block first, then reduce), 96
  entries: for pairs ``j = 0..7`` a one-hot of its input over 0..4 (8 x 5 = 40; entries
  above ``k + 1`` for node ``k`` are always 0), then for pairs ``j = 0..7`` a one-hot of
  its op over the 7 ops (8 x 7 = 56). NASLib's own version writes a 7 x 7 cell adjacency
  (which pair an input belongs to is lost) and integer op codes (length 114).
* ``gcn`` (22 x 35): NASLib's ``encode_gcn`` node-op graph. Each cell is 11 nodes, the
  normal cell nodes 0..10 and the reduction cell nodes 11..21 (two components, no edge
  between them, as NASLib): node 0 ``c_{k-2}``, node 1 ``c_{k-1}``, node ``2 + j`` the
  op of pair ``j``, node 10 the cell output. The op-node of pair ``j`` receives from
  node 0 or 1 if its input is a cell input, else from both op-nodes (``2 + 2m``,
  ``3 + 2m``) of intermediate node ``m`` (their sum); all 8 op-nodes feed the output
  (the concatenation). Per node ``[A row (22) | features (12) | mask (1)]`` where the
  features are a one-hot type over (c_k-2, c_k-1, the 7 ops, output) followed by a
  one-hot of the cell (normal, reduce). The cell flag is needed because the GCN is
  invariant to node permutations: without it, swapping the normal and reduction cells
  would give the same prediction. (NASLib's version types the inputs with the column of
  max_pool_3x3; here they have their own types.) The layout's ``ops`` slice is the 12
  features.

Usage::

    enc = get_encoding("darts", "gcn")
    x = enc.encode(spec_table, enc.options)   # (N, 22, 35) float32
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from nasrank.encodings import Encoding
from nasrank.encodings.cell_dag import column_codes
from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.spaces.darts import CELLS, NUM_INPUTS, NUM_NODES, NUM_OPS, NUM_PAIRS, OPS

N_CELLS = len(CELLS)
IN_COLUMNS: tuple[tuple[str, ...], ...] = tuple(
    tuple(f"{c}_in_{j}" for j in range(NUM_PAIRS)) for c in CELLS
)
OP_COLUMNS: tuple[tuple[str, ...], ...] = tuple(
    tuple(f"{c}_op_{j}" for j in range(NUM_PAIRS)) for c in CELLS
)
SPEC_COLUMNS: tuple[str, ...] = tuple(
    col for c in range(N_CELLS) for j in range(NUM_PAIRS)
    for col in (IN_COLUMNS[c][j], OP_COLUMNS[c][j])
)
#: Length of one cell's block of ``adjacency_onehot``.
CELL_ONEHOT = NUM_PAIRS * NUM_INPUTS + NUM_PAIRS * NUM_OPS  # 40 + 56 = 96
#: Nodes per cell in the gcn graph: 2 inputs, 8 op-nodes, output.
CELL_V = 2 + NUM_PAIRS + 1  # 11
V = N_CELLS * CELL_V  # 22
CELL_OUTPUT = CELL_V - 1
TYPES: tuple[str, ...] = ("c_k-2", "c_k-1", *OPS, "output")
N_TYPES = len(TYPES)  # 10
N_FEATURES = N_TYPES + N_CELLS  # 12


def decode(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """``inputs`` and op indices, each ``(N, 2, 8)`` int64 (cell, pair).

    Raises:
        DataFormatError: a genotype column is missing.
        OutOfDomainError: a null, an input outside ``0..k+1`` for node ``k``, a node
            whose two inputs are equal, or an op name outside OPS (naming the column).
    """
    count = table.num_rows
    inputs = np.zeros((count, N_CELLS, NUM_PAIRS), dtype=np.int64)
    ops = np.zeros((count, N_CELLS, NUM_PAIRS), dtype=np.int64)
    for c in range(N_CELLS):
        for j in range(NUM_PAIRS):
            name = IN_COLUMNS[c][j]
            if name not in table.column_names:
                raise DataFormatError(
                    f"spec table lacks column {name!r} (has {', '.join(table.column_names)})"
                )
            col = table.column(name)
            if col.null_count:
                raise OutOfDomainError(f"column {name!r} holds nulls")
            values = col.to_numpy().astype(np.int64)
            bad = (values < 0) | (values > j // 2 + 1)
            if bad.any():
                raise OutOfDomainError(
                    f"column {name!r} holds {sorted(set(values[bad].tolist()))[:5]} (pair {j} "
                    f"feeds node {j // 2}: inputs must be in 0..{j // 2 + 1})"
                )
            inputs[:, c, j] = values
            ops[:, c, j] = column_codes(table, OP_COLUMNS[c][j], OPS)
        for k in range(NUM_NODES):
            same = inputs[:, c, 2 * k] == inputs[:, c, 2 * k + 1]
            if same.any():
                raise OutOfDomainError(
                    f"columns {IN_COLUMNS[c][2 * k]!r} and {IN_COLUMNS[c][2 * k + 1]!r} are "
                    f"equal ({int(inputs[same, c, 2 * k][0])}) in {int(same.sum())} rows: a "
                    "node's two inputs must be different nodes"
                )
    return inputs, ops


def encode_adjacency_onehot(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    inputs, ops = decode(table)
    count = inputs.shape[0]
    in_hot = inputs[..., None] == np.arange(NUM_INPUTS)  # (N, 2, 8, 5)
    op_hot = ops[..., None] == np.arange(NUM_OPS)  # (N, 2, 8, 7)
    blocks = np.concatenate(
        [in_hot.reshape(count, N_CELLS, -1), op_hot.reshape(count, N_CELLS, -1)], axis=2
    )
    return blocks.reshape(count, N_CELLS * CELL_ONEHOT).astype(np.float32)


def adjacency(inputs: np.ndarray) -> np.ndarray:
    """``(N, 22, 22)`` float32 adjacency of the two-cell node-op graph (upper-triangular)."""
    count = inputs.shape[0]
    adj = np.zeros((count, V, V), dtype=np.float32)
    rows = np.arange(count)
    for c in range(N_CELLS):
        base = c * CELL_V
        for j in range(NUM_PAIRS):
            dst = base + 2 + j
            src = inputs[:, c, j]
            from_input = src < 2
            adj[rows[from_input], base + src[from_input], dst] = 1.0
            m = src[~from_input] - 2
            adj[rows[~from_input], base + 2 + 2 * m, dst] = 1.0
            adj[rows[~from_input], base + 3 + 2 * m, dst] = 1.0
            adj[:, dst, base + CELL_OUTPUT] = 1.0
    return adj


def encode_gcn(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    inputs, ops = decode(table)
    count = inputs.shape[0]
    types = np.empty((count, N_CELLS, CELL_V), dtype=np.int64)
    types[:, :, 0] = 0
    types[:, :, 1] = 1
    types[:, :, 2:CELL_OUTPUT] = ops + 2
    types[:, :, CELL_OUTPUT] = N_TYPES - 1
    type_hot = types.reshape(count, V)[:, :, None] == np.arange(N_TYPES)
    cell_of_node = np.repeat(np.arange(N_CELLS), CELL_V)
    cell_hot = np.broadcast_to(cell_of_node[:, None] == np.arange(N_CELLS), (count, V, N_CELLS))
    mask = np.ones((count, V, 1), dtype=np.float32)
    return np.concatenate(
        [adjacency(inputs), type_hot.astype(np.float32), cell_hot.astype(np.float32), mask],
        axis=2,
    )


ENCODINGS: dict[str, Encoding] = {
    "adjacency_onehot": Encoding(
        name="adjacency_onehot",
        shape=(N_CELLS * CELL_ONEHOT,),
        description="DARTS: per cell (normal, then reduce) a one-hot of each of the 8 "
        "pairs' input node over 0..4 (8 x 5), then a one-hot of each pair's op over "
        f"{', '.join(OPS)} (8 x 7)",
        encode=encode_adjacency_onehot,
        columns=SPEC_COLUMNS,
    ),
    "gcn": Encoding(
        name="gcn",
        shape=(V, V + N_FEATURES + 1),
        description="DARTS GCN input per node of the node-op graphs of the normal (nodes "
        "0-10) and reduction (11-21) cells (c_k-2, c_k-1, the 8 pair ops, output): "
        f"adjacency row, one-hot type ({', '.join(TYPES)}), one-hot cell (normal, reduce), "
        "mask",
        encode=encode_gcn,
        layout={"adjacency": [0, V], "ops": [V, V + N_FEATURES],
                "mask": [V + N_FEATURES, V + N_FEATURES + 1]},
        columns=SPEC_COLUMNS,
    ),
}
