"""NAS-Bench-Graph encodings of the GNN layer DAG.

A spec is ``link_0..link_3`` (computing node ``i + 1`` reads node ``link_i``: 0 the raw
input, ``j`` the ``j``-th computing node) and ``op_0..op_3`` (GNN op names). The DAG has
6 nodes in topological order: 0 input, 1..4 the computing nodes, 5 output; edges
``link_i -> i + 1`` and, from every computing node without a child, ``-> 5`` (such
nodes feed the output). Ops are indexed over the full list
:data:`~nasrank.spaces.nbgraph.GNN_OPS` (gat, gcn, gin, cheb, sage, arma, graph, fc,
skip) on every dataset, so one encoding covers proteins (benchmarked on a subset of the
ops) too. The tables hold canonical specs (link one of the 9 patterns); the encodings
encode what they are given.

* ``adjacency_onehot`` (52): per layer position a one-hot of ``link_i`` over 0..3
  (4 x 4 = 16, entries above ``i`` always 0), then per layer a one-hot of its op over
  the 9 ops (4 x 9 = 36).
* ``gcn`` (6 x 18): per node ``[A row (6) | one-hot type (11: input, the 9 ops, output) |
  mask (1, always 1)]``.

Usage::

    enc = get_encoding("nbgraph", "gcn")
    x = enc.encode(spec_table, enc.options)   # (N, 6, 18) float32
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from nasrank.encodings import Encoding
from nasrank.encodings.cell_dag import column_codes
from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.spaces.nbgraph import GNN_OPS, NUM_NODES

V = NUM_NODES + 2  # input, 4 computing nodes, output
INPUT, OUTPUT = 0, V - 1
N_OPS = len(GNN_OPS)
TYPES: tuple[str, ...] = ("input", *GNN_OPS, "output")
N_TYPES = len(TYPES)  # 11
LINK_COLUMNS = tuple(f"link_{i}" for i in range(NUM_NODES))
OP_COLUMNS = tuple(f"op_{i}" for i in range(NUM_NODES))
SPEC_COLUMNS = LINK_COLUMNS + OP_COLUMNS


def decode(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """``link`` ``(N, 4)`` and op indices into GNN_OPS ``(N, 4)``, both int64.

    Raises:
        DataFormatError: a column is missing.
        OutOfDomainError: a link outside ``0..i`` or an unknown op name.
    """
    for c in LINK_COLUMNS:
        if c not in table.column_names:
            raise DataFormatError(
                f"spec table lacks column {c!r} (has {', '.join(table.column_names)})"
            )
    count = table.num_rows
    link = np.zeros((count, NUM_NODES), dtype=np.int64)
    ops = np.zeros((count, NUM_NODES), dtype=np.int64)
    for i in range(NUM_NODES):
        col = table.column(LINK_COLUMNS[i])
        if col.null_count:
            raise OutOfDomainError(f"column {LINK_COLUMNS[i]!r} holds nulls")
        link[:, i] = col.to_numpy().astype(np.int64)
        bad = (link[:, i] < 0) | (link[:, i] > i)
        if bad.any():
            raise OutOfDomainError(
                f"column {LINK_COLUMNS[i]!r} holds {sorted(set(link[bad, i].tolist()))[:5]} "
                f"(must be in 0..{i})"
            )
        ops[:, i] = column_codes(table, OP_COLUMNS[i], GNN_OPS)
    return link, ops


def adjacency(link: np.ndarray) -> np.ndarray:
    """``(N, 6, 6)`` int8 adjacency of the layer DAG (upper-triangular)."""
    count = link.shape[0]
    adj = np.zeros((count, V, V), dtype=np.int8)
    rows = np.arange(count)
    for i in range(NUM_NODES):
        adj[rows, link[:, i], i + 1] = 1
    has_child = adj[:, 1 : NUM_NODES + 1, 1 : NUM_NODES + 1].any(axis=2)
    adj[:, 1 : NUM_NODES + 1, OUTPUT] = ~has_child
    return adj


def encode_adjacency_onehot(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    link, ops = decode(table)
    link_hot = link[:, :, None] == np.arange(NUM_NODES)[None, None, :]
    op_hot = ops[:, :, None] == np.arange(N_OPS)[None, None, :]
    count = link.shape[0]
    return np.concatenate(
        [link_hot.reshape(count, NUM_NODES * NUM_NODES), op_hot.reshape(count, NUM_NODES * N_OPS)],
        axis=1,
    ).astype(np.float32)


def encode_gcn(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    link, ops = decode(table)
    count = link.shape[0]
    codes = np.empty((count, V), dtype=np.int64)  # 0-based type index
    codes[:, INPUT] = 0
    codes[:, 1:OUTPUT] = ops + 1
    codes[:, OUTPUT] = N_TYPES - 1
    onehot = codes[:, :, None] == np.arange(N_TYPES)[None, None, :]
    mask = np.ones((count, V, 1), dtype=np.float32)
    return np.concatenate(
        [adjacency(link).astype(np.float32), onehot.astype(np.float32), mask], axis=2
    )


ENCODINGS: dict[str, Encoding] = {
    "adjacency_onehot": Encoding(
        name="adjacency_onehot",
        shape=(NUM_NODES * NUM_NODES + NUM_NODES * N_OPS,),
        description="NAS-Bench-Graph: one-hot of each layer's input link (4 x 4), then "
        f"one-hot of each layer's op (4 x 9: {', '.join(GNN_OPS)})",
        encode=encode_adjacency_onehot,
        columns=SPEC_COLUMNS,
    ),
    "gcn": Encoding(
        name="gcn",
        shape=(V, V + N_TYPES + 1),
        description="NAS-Bench-Graph GCN input per node of the layer DAG (input, 4 layers, "
        f"output; childless layers feed the output): adjacency row, one-hot type "
        f"({', '.join(TYPES)}), mask",
        encode=encode_gcn,
        layout={"adjacency": [0, V], "ops": [V, V + N_TYPES],
                "mask": [V + N_TYPES, V + N_TYPES + 1]},
        columns=SPEC_COLUMNS,
    ),
}
