"""NAS-Bench-Macro encodings: 8 searchable layers, 3 choices each, on a chain.

A spec is ``op_0..op_7``, the choice names of :data:`~nasrank.spaces.nbmacro.LAYER_CHOICES`
(Identity, MB3_K3, MB6_K5) of the 8 layers (stages of 2, 3 and 3). The tables hold the
canonical form (identities after a stage's first layer moved to the stage end); the
encodings encode what they are given. An Identity in a stage's first layer is a strided
1x1 conv + BN upstream; it gets the same type as the other identities (its position
tells them apart).

* ``adjacency_onehot`` (24): per layer a one-hot of its choice (8 x 3). The adjacency
  is a fixed chain and carries no information, so it is left out.
* ``gcn`` (10 x 16): the chain input -> layer 0 -> ... -> layer 7 -> output; per node
  ``[A row (10) | one-hot type (5: input, Identity, MB3_K3, MB6_K5, output) | mask (1)]``.

Usage::

    enc = get_encoding("nbmacro", "adjacency_onehot")
    x = enc.encode(spec_table, enc.options)   # (N, 24) float32
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from nasrank.encodings import Encoding
from nasrank.encodings.cell_dag import column_codes
from nasrank.spaces.nbmacro import LAYER_CHOICES, NUM_LAYERS

V = NUM_LAYERS + 2  # input, 8 layers, output
N_CHOICES = len(LAYER_CHOICES)
TYPES: tuple[str, ...] = ("input", *LAYER_CHOICES, "output")
N_TYPES = len(TYPES)  # 5
SPEC_COLUMNS = tuple(f"op_{i}" for i in range(NUM_LAYERS))
#: The chain's adjacency.
CHAIN = np.eye(V, k=1, dtype=np.float32)
CHAIN.setflags(write=False)


def decode(table: pa.Table) -> np.ndarray:
    """``(N, 8)`` int64 choice indices into LAYER_CHOICES.

    Raises:
        DataFormatError: a column is missing.
        OutOfDomainError: a name outside LAYER_CHOICES.
    """
    choices = np.zeros((table.num_rows, NUM_LAYERS), dtype=np.int64)
    for i, column in enumerate(SPEC_COLUMNS):
        choices[:, i] = column_codes(table, column, LAYER_CHOICES)
    return choices


def encode_adjacency_onehot(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    choices = decode(table)
    onehot = choices[:, :, None] == np.arange(N_CHOICES)[None, None, :]
    return onehot.reshape(len(choices), NUM_LAYERS * N_CHOICES).astype(np.float32)


def encode_gcn(table: pa.Table, options: dict[str, Any]) -> np.ndarray:
    choices = decode(table)
    count = len(choices)
    codes = np.empty((count, V), dtype=np.int64)  # 0-based type index
    codes[:, 0] = 0
    codes[:, 1 : V - 1] = choices + 1
    codes[:, V - 1] = N_TYPES - 1
    onehot = (codes[:, :, None] == np.arange(N_TYPES)[None, None, :]).astype(np.float32)
    adj = np.broadcast_to(CHAIN, (count, V, V))
    mask = np.ones((count, V, 1), dtype=np.float32)
    return np.concatenate([adj, onehot, mask], axis=2)


ENCODINGS: dict[str, Encoding] = {
    "adjacency_onehot": Encoding(
        name="adjacency_onehot",
        shape=(NUM_LAYERS * N_CHOICES,),
        description="NAS-Bench-Macro: one-hot of each of the 8 layers' choice "
        f"({', '.join(LAYER_CHOICES)}); the chain adjacency is constant and left out",
        encode=encode_adjacency_onehot,
        columns=SPEC_COLUMNS,
    ),
    "gcn": Encoding(
        name="gcn",
        shape=(V, V + N_TYPES + 1),
        description="NAS-Bench-Macro GCN input per node of the chain input -> 8 layers -> "
        f"output: adjacency row, one-hot type ({', '.join(TYPES)}), mask",
        encode=encode_gcn,
        layout={"adjacency": [0, V], "ops": [V, V + N_TYPES],
                "mask": [V + N_TYPES, V + N_TYPES + 1]},
        columns=SPEC_COLUMNS,
    ),
}
