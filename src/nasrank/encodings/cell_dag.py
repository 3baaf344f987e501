"""Shared encodings of the edge-op cells of NAS-Bench-201 and TransNAS-Bench-101 micro.

Both spaces search a 4-node cell whose 6 edges carry operations, in the edge order of
NB201's arch string (:data:`EDGES`: ``1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2``, the order of
the ``op_0..op_5`` spec columns). The encodings work on the equivalent *node-op* DAG in
which every edge becomes a node (NASLib's GCN encoding of NB201 does the same):

* 8 nodes: 0 the cell input, ``1 + k`` the op-node of edge ``k`` (arch-string order),
  7 the cell output; this order is topological, so adjacencies are upper-triangular;
* the op-node of edge ``j <- i`` receives from the input node if ``i == 0``, else from
  the op-nodes of the edges that end at node ``i``; the output node receives from the
  op-nodes of the three edges that end at node 3 (:data:`BASE_ADJ`).

``none`` (zeroise) operations. A ``none`` edge passes nothing, so its op-node is
*pruned*: the node loses all its edges, its op one-hot and type code are 0 and its mask is
0, while the node keeps its slot (V stays 8, slot ``1 + k`` is always edge ``k``). This is
the ``prune: none_ops`` option (the default). With ``prune: dead`` op-nodes that are no
longer on any input -> output path after that (for example a conv whose only inputs were
``none``, or one whose successors are all ``none``) are pruned too, so cells that compute
the same function up to such dead branches share one encoding. The cell's input and
output nodes are never pruned. NASLib's own NB201 GCN encoding keeps ``none`` as an
ordinary op type; these encodings do not.

Node types: input = 1, then the space's non-``none`` ops in the space's ``OPS`` order
(NB201: skip_connect 2, nor_conv_1x1 3, nor_conv_3x3 4, avg_pool_3x3 5; TNB101:
skip_connect 2, nor_conv_1x1 3, nor_conv_3x3 4), output = last code (NB201 6, TNB101 5);
0 is "no node" (pruned). The encodings built here (see :func:`standard_encodings`):

* ``type_matrix`` (1 x 8 x 8): ``T[i, j] = A[i, j] * code[j]`` (the type code of the node
  an edge enters, as ReNAS does for NAS-Bench-101).
* ``adjacency_onehot`` (28 + 6 x n_ops): the 28 upper-triangle bits of ``A`` (row-major,
  ``i < j``) then, per op-node in slot order, a one-hot over the non-``none`` ops in type
  order (all zero for a pruned node).
* ``gcn`` (8 x (8 + n_types + 1)): per node ``[A row | one-hot type | mask]`` with the
  types input, the non-``none`` ops, output.
* ``path`` (n_ops + n_ops**2 + n_ops**3): NASLib's path encoding: one bit per input ->
  output path of the node-op DAG, indexed by its op sequence. The cell has four such
  paths (edges ``3<-0``; ``1<-0, 3<-1``; ``2<-0, 3<-2``; ``1<-0, 2<-1, 3<-2``); a path is
  present when none of its edges is ``none``; a path of ops ``c_0, ..., c_{L-1}`` (codes
  0.. in type order) sets bit ``sum_{l<L} n_ops**l + sum_j c_j * n_ops**j``, so paths
  with equal op sequences share a bit (as in NASLib). NASLib indexes over all 5 NB201 ops
  and sets bits for paths through ``none`` as well; here those paths do not exist.

Distinctness over the whole spaces (NB201 15,625 / TNB101 4,096 cells, checked in the
tests): ``gcn`` and ``adjacency_onehot`` are one-to-one with ``prune: none_ops`` (a slot
per edge; isomorphic cells, e.g. nodes 1 and 2 swapped, are not merged); with ``prune:
dead`` they take 9,445 / 2,128 values, one per cell up to ``none`` and dead edges. The
type matrix (and the ReNAS tensor, whose cost matrices follow the same column
convention) writes a node's type and costs into its *incoming* edges, so an op-node whose
inputs are all ``none`` keeps its outgoing edges but loses its type: 12,620 / 3,184
distinct matrices with ``none_ops``, 9,445 / 2,128 with ``dead``. The path encoding takes
8,045 / 1,696 values (the set of op sequences of the complete paths).

Usage::

    from nasrank.encodings.cell_dag import EdgeCellSpace, standard_encodings
    space = EdgeCellSpace("nb201", ("none", "skip_connect", ...))
    encodings = standard_encodings(space)           # type_matrix, adjacency_onehot, ...
    idx = op_indices(spec_table, space.ops)         # (N, 6) op indices
    adj, codes = node_dag(idx, space.n_types)       # (N, 8, 8), (N, 8)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nasrank.encodings import Encoding
from nasrank.errors import ConfigError, DataFormatError, OutOfDomainError

#: The 6 edges ``(to_node, from_node)`` in arch-string order (the spec columns' order).
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_EDGES = len(EDGES)
#: Nodes of the node-op DAG: input, 6 op-nodes, output.
V = NUM_EDGES + 2
INPUT, OUTPUT = 0, V - 1
SPEC_COLUMNS: tuple[str, ...] = tuple(f"op_{k}" for k in range(NUM_EDGES))
PRUNE_MODES = ("none_ops", "dead")
#: Edge positions of the four input -> output paths of the cell, input side first.
PATHS: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))
N_TRIU = V * (V - 1) // 2  # 28


def _base_adjacency() -> np.ndarray:
    adj = np.zeros((V, V), dtype=np.int8)
    for k, (dst, src) in enumerate(EDGES):
        if src == 0:
            adj[INPUT, 1 + k] = 1
        else:
            for m, (dst2, _) in enumerate(EDGES):
                if dst2 == src:
                    adj[1 + m, 1 + k] = 1
        if dst == 3:
            adj[1 + k, OUTPUT] = 1
    assert not np.tril(adj).any()
    adj.setflags(write=False)
    return adj


#: Adjacency of the node-op DAG when no edge is ``none``.
BASE_ADJ = _base_adjacency()


@dataclass(frozen=True)
class EdgeCellSpace:
    """An edge-op cell space as the encodings see it.

    Attributes:
        name: benchmark name, for messages.
        ops: the space's op names in its ``OPS`` order; ``ops[0]`` must be ``"none"``.
    """

    name: str
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.ops[0] != "none":
            raise ValueError(f"{self.name}: ops[0] must be 'none', got {self.ops}")

    @property
    def n_ops(self) -> int:
        """Number of non-``none`` ops."""
        return len(self.ops) - 1

    @property
    def types(self) -> tuple[str, ...]:
        """Node type names; ``types[c - 1]`` has type code ``c``."""
        return ("input", *self.ops[1:], "output")

    @property
    def n_types(self) -> int:
        return len(self.ops) + 1


def column_codes(table: pa.Table, column: str, names: Sequence[str]) -> np.ndarray:
    """Indices into ``names`` of the string column ``column``, as int64, vectorised.

    Raises:
        DataFormatError: the column is missing.
        OutOfDomainError: a value is null or not in ``names`` (the message lists them).
    """
    if column not in table.column_names:
        raise DataFormatError(
            f"spec table lacks column {column!r} (has {', '.join(table.column_names)})"
        )
    col = table.column(column)
    if pa.types.is_dictionary(col.type):
        col = col.cast(pa.string())
    idx = pc.index_in(col, value_set=pa.array(list(names), type=col.type))
    if idx.null_count:
        bad = pc.unique(pc.filter(col, pc.is_null(idx))).to_pylist()[:5]
        raise OutOfDomainError(
            f"column {column!r} holds {bad} (not one of {', '.join(names)})"
        )
    return idx.to_numpy(zero_copy_only=False).astype(np.int64)


def op_indices(table: pa.Table, ops: Sequence[str]) -> np.ndarray:
    """``(N, 6)`` indices into ``ops`` of the ``op_0..op_5`` columns."""
    if table.num_rows == 0:
        return np.zeros((0, NUM_EDGES), dtype=np.int64)
    return np.stack([column_codes(table, c, ops) for c in SPEC_COLUMNS], axis=1)


def _check_prune(options: dict[str, Any]) -> str:
    prune = options.get("prune", "none_ops")
    if prune not in PRUNE_MODES:
        raise ConfigError(f"unknown prune mode {prune!r}; use one of {', '.join(PRUNE_MODES)}")
    return prune


def node_dag(
    idx: np.ndarray, output_code: int, prune: str = "none_ops"
) -> tuple[np.ndarray, np.ndarray]:
    """The pruned node-op DAG of a batch of cells.

    Args:
        idx: ``(N, 6)`` op indices in the space's ``OPS`` order (0 = ``none``).
        output_code: type code of the output node (``len(OPS) + 1``).
        prune: ``"none_ops"`` or ``"dead"`` (see the module docstring).

    Returns:
        ``adj``: ``(N, 8, 8)`` int8 0/1 upper-triangular adjacency, and ``codes``:
        ``(N, 8)`` int64 node type codes (input 1, op index ``o`` -> ``o + 1``, output
        ``output_code``; 0 for pruned op-nodes).
    """
    count = idx.shape[0]
    alive = np.ones((count, V), dtype=bool)
    alive[:, 1:OUTPUT] = idx != 0
    adj = BASE_ADJ[None] * (alive[:, :, None] & alive[:, None, :])
    if prune == "dead":
        fwd = np.zeros((count, V), dtype=bool)
        fwd[:, INPUT] = True
        for j in range(1, V):
            fwd[:, j] = (adj[:, :j, j].astype(bool) & fwd[:, :j]).any(axis=1)
        bwd = np.zeros((count, V), dtype=bool)
        bwd[:, OUTPUT] = True
        for i in range(V - 2, -1, -1):
            bwd[:, i] = (adj[:, i, i + 1 :].astype(bool) & bwd[:, i + 1 :]).any(axis=1)
        alive[:, 1:OUTPUT] &= fwd[:, 1:OUTPUT] & bwd[:, 1:OUTPUT]
        adj = adj * (alive[:, :, None] & alive[:, None, :])
    codes = np.zeros((count, V), dtype=np.int64)
    codes[:, INPUT] = 1
    codes[:, 1:OUTPUT] = np.where(alive[:, 1:OUTPUT], idx + 1, 0)
    codes[:, OUTPUT] = output_code
    return adj.astype(np.int8), codes


def _dag(
    space: EdgeCellSpace, table: pa.Table, options: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    idx = op_indices(table, space.ops)
    adj, codes = node_dag(idx, space.n_types, _check_prune(options))
    return adj.astype(np.float32), codes


def type_matrix(space: EdgeCellSpace, table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    """``(N, 1, 8, 8)``: ``A[i, j] * code[j]``."""
    adj, codes = _dag(space, table, options)
    return (adj * codes[:, None, :].astype(np.float32))[:, None]


def adjacency_onehot(
    space: EdgeCellSpace, table: pa.Table, options: dict[str, Any]
) -> np.ndarray:
    """``(N, 28 + 6 * n_ops)``: upper-triangle bits, then per op-node an op one-hot."""
    adj, codes = _dag(space, table, options)
    iu = np.triu_indices(V, k=1)
    op_codes = codes[:, 1:OUTPUT] - 2  # 0.. over the non-none ops; negative when pruned
    onehot = (op_codes[:, :, None] == np.arange(space.n_ops)[None, None, :]).astype(np.float32)
    flat = onehot.reshape(len(adj), NUM_EDGES * space.n_ops)
    return np.concatenate([adj[:, iu[0], iu[1]], flat], axis=1)


def gcn(space: EdgeCellSpace, table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    """``(N, 8, 8 + n_types + 1)``: per node ``[A row | one-hot type | mask]``."""
    adj, codes = _dag(space, table, options)
    onehot = (codes[:, :, None] == np.arange(1, space.n_types + 1)[None, None, :])
    mask = (codes > 0)[:, :, None]
    return np.concatenate([adj, onehot.astype(np.float32), mask.astype(np.float32)], axis=2)


def n_paths(n_ops: int) -> int:
    """Length of the path encoding: paths of 1 to 3 op-nodes over ``n_ops`` ops."""
    return n_ops + n_ops**2 + n_ops**3


def path(space: EdgeCellSpace, table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    """``(N, n_ops + n_ops**2 + n_ops**3)``: one bit per present input -> output path."""
    idx = op_indices(table, space.ops)
    k = space.n_ops
    out = np.zeros((len(idx), n_paths(k)), dtype=np.float32)
    rows = np.arange(len(idx))
    for edges in PATHS:
        ops = idx[:, list(edges)] - 1  # 0.. over the non-none ops, -1 for none
        present = (ops >= 0).all(axis=1)
        offset = sum(k**length for length in range(1, len(edges)))
        bit = offset + (np.maximum(ops, 0) * k ** np.arange(len(edges))[None, :]).sum(axis=1)
        out[rows[present], bit[present]] = 1.0
    return out


def cost_matrices(adj: np.ndarray, edge_costs: np.ndarray) -> np.ndarray:
    """Per-cell cost matrices ``M[c, i, j] = A[i, j] * cost[c, j]``.

    Args:
        adj: ``(N, 8, 8)`` adjacency of the node-op DAG.
        edge_costs: ``(N, n_cells, 6)`` cost of each edge's op in each cell (the op-node
            of edge ``k`` is node ``1 + k``; input and output nodes cost nothing).

    Returns:
        ``(N, n_cells, 8, 8)`` float32.
    """
    count, n_cells, _ = edge_costs.shape
    node = np.zeros((count, n_cells, V), dtype=np.float32)
    node[:, :, 1:OUTPUT] = edge_costs
    return adj[:, None, :, :].astype(np.float32) * node[:, :, None, :]


def renas_tensor(
    space: EdgeCellSpace,
    table: pa.Table,
    options: dict[str, Any],
    params: np.ndarray,
    flops: np.ndarray,
) -> np.ndarray:
    """``(N, 1 + 2 * n_cells, 8, 8)``: type matrix, FLOPs matrices, parameter matrices.

    Args:
        params, flops: ``(N, n_cells, 6)`` per-edge costs of every cell of the network.
    """
    adj, codes = _dag(space, table, options)
    n_cells = params.shape[1]
    out = np.empty((len(adj), 1 + 2 * n_cells, V, V), dtype=np.float32)
    out[:, 0] = adj * codes[:, None, :].astype(np.float32)
    out[:, 1 : 1 + n_cells] = cost_matrices(adj, flops)
    out[:, 1 + n_cells :] = cost_matrices(adj, params)
    return out


def standard_encodings(space: EdgeCellSpace) -> dict[str, Encoding]:
    """``type_matrix``, ``adjacency_onehot``, ``gcn`` and ``path`` of an edge-op cell space."""
    types = ", ".join(f"{t} {c}" for c, t in enumerate(space.types, start=1))
    ops = ", ".join(space.ops[1:])
    n_types = space.n_types
    prune = {"prune": "none_ops"}
    encodings = (
        Encoding(
            name="type_matrix",
            shape=(1, V, V),
            description=f"{space.name} node-op DAG (input, 6 edge op-nodes in arch-string "
            f"order, output; 'none' op-nodes pruned): adjacency x type code of the entered "
            f"node ({types})",
            encode=functools.partial(type_matrix, space),
            options=dict(prune),
            columns=SPEC_COLUMNS,
        ),
        Encoding(
            name="adjacency_onehot",
            shape=(N_TRIU + NUM_EDGES * space.n_ops,),
            description=f"{space.name}: 28 upper-triangle bits of the node-op DAG, then per "
            f"op-node a one-hot over {ops} (all zero for a pruned 'none' node)",
            encode=functools.partial(adjacency_onehot, space),
            options=dict(prune),
            columns=SPEC_COLUMNS,
        ),
        Encoding(
            name="gcn",
            shape=(V, V + n_types + 1),
            description=f"{space.name} GCN input per node of the node-op DAG: adjacency row, "
            f"one-hot type ({', '.join(space.types)}), mask (0 for pruned 'none' nodes)",
            encode=functools.partial(gcn, space),
            options=dict(prune),
            layout={"adjacency": [0, V], "ops": [V, V + n_types],
                    "mask": [V + n_types, V + n_types + 1]},
            columns=SPEC_COLUMNS,
        ),
        Encoding(
            name="path",
            shape=(n_paths(space.n_ops),),
            description=f"{space.name} path encoding: one bit per input->output path without "
            f"'none', indexed by its op sequence over {ops}",
            encode=functools.partial(path, space),
            columns=SPEC_COLUMNS,
        ),
    )
    return {e.name: e for e in encodings}
