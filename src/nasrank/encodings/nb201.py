"""NAS-Bench-201 encodings: ReNAS's tensor and NASLib-style encodings of the node-op DAG.

The cell is encoded as the 8-node DAG of :mod:`nasrank.encodings.cell_dag` (input, the 6
edges' op-nodes in arch-string order, output; ``none`` op-nodes pruned, slots kept).
Node type codes: input 1, skip_connect 2, nor_conv_1x1 3, nor_conv_3x3 4,
avg_pool_3x3 5, output 6 (0 = pruned / no node).

* ``renas_tensor`` (31 x 8 x 8): the type matrix, then the FLOPs matrices of the 15 cells
  of the CIFAR-10 network (3 stages of 5 cells, C = 16/32/64 on 32x32/16x16/8x8), then
  their parameter matrices: ``M[c, i, j] = A[i, j] * cost_c[j]`` (each edge carries the
  cost of the op-node it enters; the input and output nodes own nothing). Per-op costs
  come from :mod:`nasrank.spaces.nb201_network` (exact: the network totals equal NASLib's
  ``params``/``flops`` for every cell NASLib lists); the FLOPs convention is the ``flops``
  option (``macs`` by default; ``naslib`` adds BN/ReLU and pooling terms). Parameters do
  not depend on the dataset except for the classifier, which is outside the cells, so the
  CIFAR-10 tensor serves all three NB201 datasets (ImageNet16-120 runs the same cells on
  16x16 inputs: its FLOPs matrices would be the CIFAR ones divided by 4).
* ``type_matrix`` (1 x 8 x 8), ``adjacency_onehot`` (52 = 28 + 6 x 4), ``gcn``
  (8 x 15: adjacency 8 | type one-hot 6 | mask 1), ``path`` (84 = 4 + 16 + 64): see
  :mod:`nasrank.encodings.cell_dag`.

All take the ``op_0..op_5`` columns (NB201 op names in arch-string edge order).
``prune`` (``none_ops`` or ``dead``) chooses which op-nodes are removed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from nasrank.encodings import Encoding
from nasrank.encodings.cell_dag import (
    SPEC_COLUMNS,
    EdgeCellSpace,
    V,
    op_indices,
    renas_tensor,
    standard_encodings,
)
from nasrank.errors import ConfigError
from nasrank.spaces import nb201_network
from nasrank.spaces.nb201 import OPS

SPACE = EdgeCellSpace("nb201", OPS)
NUM_CELLS = nb201_network.NUM_CELLS
#: The network whose per-cell costs fill the ReNAS tensor.
TENSOR_DATASET = "cifar10"


def edge_costs(table: pa.Table, flops: str = "macs") -> tuple[np.ndarray, np.ndarray]:
    """``(params, flops)``, each ``(N, 15, 6)`` int64: per-edge costs in the CIFAR-10 network.

    Raises:
        ConfigError: ``flops`` is not ``macs`` or ``naslib``.
    """
    if flops not in nb201_network.CONVENTIONS:
        raise ConfigError(
            f"unknown FLOPs convention {flops!r} for nb201 renas_tensor; "
            f"use one of {', '.join(nb201_network.CONVENTIONS)}"
        )
    costs = nb201_network.cell_costs(op_indices(table, OPS), TENSOR_DATASET)
    return costs.params, costs.flops if flops == "macs" else costs.flops_naslib


def encode_renas_tensor(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    params, flops = edge_costs(table, options.get("flops", "macs"))
    return renas_tensor(SPACE, table, options, params, flops)


ENCODINGS: dict[str, Encoding] = {
    "renas_tensor": Encoding(
        name="renas_tensor",
        shape=(1 + 2 * NUM_CELLS, V, V),
        description="ReNAS feature tensor of the NB201 node-op DAG: type matrix, FLOPs "
        "matrices of the 15 cells of the CIFAR-10 network, parameter matrices of the 15 "
        "cells; node values broadcast over columns",
        encode=encode_renas_tensor,
        options={"flops": "macs", "prune": "none_ops"},
        columns=SPEC_COLUMNS,
    ),
    **standard_encodings(SPACE),
}
