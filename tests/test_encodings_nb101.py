"""Tests of the NAS-Bench-101 encodings (nasrank.encodings.nb101) and ``nasrank encode``.

Expected values are computed by hand here from NAS-Bench-101's ``model_builder`` rules
(vertex channels, 1x1 input projections, conv-BN-ReLU without bias, BN = 2 parameters
per channel) and ReNAS section 3.2 (depth sort, padding before the output, node values
broadcast over the columns), and by a literal copy of NASLib's path enumeration. The
vectorised ReNAS tensor is compared with the plain per-cell reference on every cell with
at most 5 vertices, on random 6/7-vertex specs and on a sample of the enumerated space.

Only the tests marked ``slow`` need the full enumeration (423,624 cells, ~40 s); it is
computed once per test session and shared with tests/test_nb101.py (see ``nb101_space``).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import yaml

from nasrank.benchmarks import nb101 as reader
from nasrank.checks import nb101_cost_check
from nasrank.encodings import available, get_encoding
from nasrank.encodings.nb101 import ENCODINGS, SPEC_COLUMNS, decode
from nasrank.encodings.nb101_reference import renas_tensor_reference
from nasrank.encodings.store import read_features
from nasrank.errors import OutOfDomainError, UnknownNameError
from nasrank.io import read_metadata, write_parquet
from nasrank.spaces.nb101 import (
    CONV1X1,
    CONV3X3,
    INPUT,
    MAXPOOL3X3,
    OUTPUT,
    ModelSpec,
    NB101Space,
    enumerate_space,
    hash_module,
    spec_from_codes,
)
from nasrank.spaces.nb101_network import cell_costs, network_params

IN, OUT, C3, C1, MP = INPUT, OUTPUT, CONV3X3, CONV1X1, MAXPOOL3X3
OP_CODE = {C3: 0, C1: 1, MP: 2}  # the space's labelling codes
TYPE = {IN: 1, C1: 2, C3: 3, MP: 4, OUT: 5}  # ReNAS type codes
NASLIB_ONEHOT = {MP: [1, 0, 0], C3: [0, 1, 0], C1: [0, 0, 1]}  # NASLib's encode_adj
NASLIB_PATH_CODE = {C3: 0, C1: 1, MP: 2}  # NASLib's get_path_indices
STEM_AND_DENSE = (3 * 3 * 3 * 128 + 2 * 128) + (512 * 10 + 10)
ENCODING_NAMES = ["adjacency_onehot", "gcn", "path", "renas_tensor", "type_matrix"]

# --- hand-written cells ---------------------------------------------------------------
#
# name -> (matrix, ops in spec order, op at each of the 7 tensor positions (None: padding),
#          type matrix entries {(row, col): code} in tensor positions).
HAND = {
    "conv3x3": (
        [[0, 1, 0],
         [0, 0, 1],
         [0, 0, 0]],
        [IN, C3, OUT],
        [IN, C3, None, None, None, None, OUT],
        {(0, 1): 3, (1, 6): 5},
    ),
    "skip": (
        [[0, 1],
         [0, 0]],
        [IN, OUT],
        [IN, None, None, None, None, None, OUT],
        {(0, 6): 5},
    ),
    "maxpool_skip": (
        [[0, 1, 1],
         [0, 0, 1],
         [0, 0, 0]],
        [IN, MP, OUT],
        [IN, MP, None, None, None, None, OUT],
        {(0, 1): 4, (0, 6): 5, (1, 6): 5},
    ),
    "chain_c1_c3": (
        [[0, 1, 0, 0],
         [0, 0, 1, 0],
         [0, 0, 0, 1],
         [0, 0, 0, 0]],
        [IN, C1, C3, OUT],
        [IN, C1, C3, None, None, None, OUT],
        {(0, 1): 2, (1, 2): 3, (2, 6): 5},
    ),
    # Vertex 2 (depth 2) comes after vertex 3 (depth 1): tensor positions 0, 1, 3, 2, 6.
    "reorder": (
        [[0, 1, 0, 1, 0],
         [0, 0, 1, 0, 0],
         [0, 0, 0, 0, 1],
         [0, 0, 0, 0, 1],
         [0, 0, 0, 0, 0]],
        [IN, C3, C1, MP, OUT],
        [IN, C3, MP, C1, None, None, OUT],
        {(0, 1): 3, (1, 3): 2, (0, 2): 4, (3, 6): 5, (2, 6): 5},
    ),
    # Three vertices feed the output: 128 = 43 + 43 + 42, the remainder to the first ones.
    "split3": (
        [[0, 1, 1, 1, 0],
         [0, 0, 0, 0, 1],
         [0, 0, 0, 0, 1],
         [0, 0, 0, 0, 1],
         [0, 0, 0, 0, 0]],
        [IN, C3, C3, C1, OUT],
        [IN, C3, C3, C1, None, None, OUT],
        {(0, 1): 3, (0, 2): 3, (0, 3): 2, (1, 6): 5, (2, 6): 5, (3, 6): 5},
    ),
}

# (cell, channel of the 19x7x7 tensor, (row, col), value): channel 1 + k holds the
# multiply-accumulates of the k-th cell of the network, channel 10 + k its parameters.
# Cells 0-2: 128 -> 128 channels at 32x32; cell 3: 128 -> 256 at 16x16 (the cell input
# has fewer channels: the projections grow); cells 4-5: 256 at 16x16; cell 6: 256 -> 512
# at 8x8; cells 7-8: 512 at 8x8.
HW0, HW3, HW6 = 32 * 32, 16 * 16, 8 * 8
HAND_COSTS = [
    # input -> conv3x3 -> output: the vertex owns its 1x1 input projection and its conv.
    ("conv3x3", 10, (0, 1), (128 * 128 + 256) + (9 * 128 * 128 + 256)),
    ("conv3x3", 1, (0, 1), (128 * 128 + 9 * 128 * 128) * HW0),
    ("conv3x3", 13, (0, 1), (128 * 256 + 512) + (9 * 256 * 256 + 512)),
    ("conv3x3", 4, (0, 1), (128 * 256 + 9 * 256 * 256) * HW3),
    ("conv3x3", 14, (0, 1), (256 * 256 + 512) + (9 * 256 * 256 + 512)),
    ("conv3x3", 16, (0, 1), (256 * 512 + 1024) + (9 * 512 * 512 + 1024)),
    ("conv3x3", 7, (0, 1), (256 * 512 + 9 * 512 * 512) * HW6),
    ("conv3x3", 10, (1, 6), 0),  # the output concatenates: no parameters
    ("conv3x3", 1, (1, 6), 0),
    # input -> output: the output owns the projection of the input.
    ("skip", 10, (0, 6), 128 * 128 + 256),
    ("skip", 1, (0, 6), 128 * 128 * HW0),
    ("skip", 13, (0, 6), 128 * 256 + 512),
    ("skip", 4, (0, 6), 128 * 256 * HW3),
    ("skip", 16, (0, 6), 256 * 512 + 1024),
    ("skip", 18, (0, 6), 512 * 512 + 1024),
    ("skip", 7, (0, 6), 256 * 512 * HW6),
    # max-pool: only its input projection; both in-edges of the output carry its value.
    ("maxpool_skip", 10, (0, 1), 128 * 128 + 256),
    ("maxpool_skip", 1, (0, 1), 128 * 128 * HW0),
    ("maxpool_skip", 10, (0, 6), 128 * 128 + 256),
    ("maxpool_skip", 10, (1, 6), 128 * 128 + 256),
    ("maxpool_skip", 13, (1, 6), 128 * 256 + 512),
    # conv3x3 not fed by the input: 9*128*128 + 256 in stack 1.
    ("chain_c1_c3", 10, (1, 2), 9 * 128 * 128 + 256),
    ("chain_c1_c3", 1, (1, 2), 9 * 128 * 128 * HW0),
    ("chain_c1_c3", 13, (1, 2), 9 * 256 * 256 + 512),
    ("chain_c1_c3", 10, (0, 1), (128 * 128 + 256) + (128 * 128 + 256)),
    # conv1x1 does not feed the output: it takes its successor's 256 channels.
    ("chain_c1_c3", 13, (0, 1), (128 * 256 + 512) + (256 * 256 + 512)),
    ("chain_c1_c3", 4, (0, 1), (128 * 256 + 256 * 256) * HW3),
    ("chain_c1_c3", 10, (2, 6), 0),
    # 64 + 64 channels for the two vertices feeding the output; vertex 1 takes 64.
    ("reorder", 10, (0, 1), (128 * 64 + 128) + (9 * 64 * 64 + 128)),
    ("reorder", 10, (1, 3), 64 * 64 + 128),
    ("reorder", 10, (0, 2), 128 * 64 + 128),
    ("reorder", 10, (3, 6), 0),
    # 128 = 43 + 43 + 42 (stack 1), 256 = 86 + 85 + 85 (stack 2).
    ("split3", 10, (0, 1), (128 * 43 + 86) + (9 * 43 * 43 + 86)),
    ("split3", 10, (0, 2), (128 * 43 + 86) + (9 * 43 * 43 + 86)),
    ("split3", 10, (0, 3), (128 * 42 + 84) + (42 * 42 + 84)),
    ("split3", 1, (0, 3), (128 * 42 + 42 * 42) * HW0),
    ("split3", 13, (0, 1), (128 * 86 + 172) + (9 * 86 * 86 + 172)),
    ("split3", 13, (0, 2), (128 * 85 + 170) + (9 * 85 * 85 + 170)),
    ("split3", 13, (0, 3), (128 * 85 + 170) + (85 * 85 + 170)),
    ("split3", 10, (1, 6), 0),
]

# NASLib's FLOPs convention adds 3 per output element of a conv-BN-ReLU and 9 per output
# element of a 3x3 max-pool.
HAND_NASLIB_FLOPS = [
    ("maxpool_skip", 1, (0, 1), 128 * 128 * HW0 + 3 * 128 * HW0 + 9 * 128 * HW0),
    ("maxpool_skip", 1, (0, 6), 128 * 128 * HW0 + 3 * 128 * HW0),
    ("conv3x3", 1, (0, 1), (128 * 128 + 9 * 128 * 128) * HW0 + 2 * 3 * 128 * HW0),
    ("skip", 4, (0, 6), 128 * 256 * HW3 + 3 * 256 * HW3),
]

# Input->output paths by hand: index sum_i 3**i * (code_i + 1), conv3x3 0, conv1x1 1,
# maxpool 2.
HAND_PATHS = {
    "conv3x3": [1],                   # [conv3x3]
    "skip": [0],                      # []
    "maxpool_skip": [0, 3],           # [], [maxpool]
    "chain_c1_c3": [2 + 3 * 1],       # [conv1x1, conv3x3]
    "reorder": [3, 1 + 3 * 2],        # [maxpool], [conv3x3, conv1x1]
    "split3": [1, 1, 2],              # two [conv3x3] paths share one index
}

# The ones of adjacency_onehot, by hand: upper-triangle bits in row-major order (row 0:
# 0..5, row 1: 6..10, row 2: 11..14, row 3: 15..17, ...), then 3 bits per position 1..5.
HAND_ADJ_ONEHOT = {
    "skip": [5],
    "maxpool_skip": [0, 5, 10, 21],
    "reorder": [0, 1, 7, 14, 17, 22, 24, 29],
}


def codes_of(matrix: list[list[int]], ops: list[str]) -> tuple[int, int, int]:
    """(n_vertices, adj_bits, labeling) of a spec, as the enumeration stores it."""
    n = len(ops)
    bits = sum(1 << (x + y * (y - 1) // 2) for y in range(n) for x in range(y) if matrix[x][y])
    labeling = 0
    for op in ops[1:-1]:  # vertex 1 is the most significant base-3 digit
        labeling = 3 * labeling + OP_CODE[op]
    return n, bits, labeling


def spec_table(specs: list[ModelSpec]) -> pa.Table:
    """A space-like table (the columns the encodings read) of the given specs."""
    rows = [codes_of([list(r) for r in s.matrix], list(s.ops)) for s in specs]
    return pa.table({
        "arch_id": pa.array([hash_module(s.array, s.labeling) for s in specs], pa.string()),
        "n_vertices": pa.array([r[0] for r in rows], pa.int8()),
        "adj_bits": pa.array([r[1] for r in rows], pa.int32()),
        "labeling": pa.array([r[2] for r in rows], pa.int16()),
    })


def specs_of(table: pa.Table) -> list[ModelSpec]:
    return [spec_from_codes(n, b, lab) for n, b, lab in zip(
        table.column("n_vertices").to_pylist(), table.column("adj_bits").to_pylist(),
        table.column("labeling").to_pylist(), strict=True)]


def random_specs(count: int, seed: int, sizes: tuple[int, ...] = (6, 7)) -> list[ModelSpec]:
    """Random valid (pruned) specs, drawn without the enumeration."""
    rng = np.random.default_rng(seed)
    space = NB101Space()
    out: list[ModelSpec] = []
    while len(out) < count:
        n = int(rng.choice(sizes))
        matrix = np.triu(rng.random((n, n)) < 0.45, k=1).astype(int)
        ops = [IN, *(str(op) for op in rng.choice([C3, C1, MP], n - 2)), OUT]
        try:
            out.append(space.validate(ModelSpec(matrix, ops)))
        except OutOfDomainError:
            continue
    return out


def naslib_path_indices(matrix: tuple | list, ops: tuple | list) -> list[int]:
    """NASLib's ``get_paths`` + ``get_path_indices`` (nasbench101 encodings), literally."""
    n = len(ops)
    paths: list[list[list[str]]] = [[[]] if matrix[0][j] else [] for j in range(n)]
    for i in range(1, n - 1):
        for j in range(1, n):
            if matrix[i][j]:
                for path in paths[i]:
                    paths[j].append([*path, ops[i]])
    indices = []
    for path in paths[-1]:
        indices.append(sum(3**i * (NASLIB_PATH_CODE[op] + 1) for i, op in enumerate(path)))
    return sorted(indices)


def reference(table: pa.Table) -> np.ndarray:
    return np.stack([renas_tensor_reference([list(r) for r in s.matrix], list(s.ops))
                     for s in specs_of(table)])


def encode(name: str, table: pa.Table, **options: object) -> np.ndarray:
    enc = ENCODINGS[name]
    return enc.encode(table, {**enc.options, **options})


@pytest.fixture(scope="module")
def hand() -> dict[str, np.ndarray | pa.Table]:
    """The hand cells as a table and every encoding of them, keyed by encoding name."""
    specs = [ModelSpec(m, ops) for m, ops, _, _ in HAND.values()]
    for spec in specs:
        assert NB101Space().validate(spec) == spec  # already pruned
        assert spec_from_codes(*codes_of([list(r) for r in spec.matrix], list(spec.ops))) == spec
    table = spec_table(specs)
    out: dict[str, np.ndarray | pa.Table] = {"table": table}
    for name in ENCODINGS:
        out[name] = encode(name, table)
    return out


def _row(name: str) -> int:
    return list(HAND).index(name)


@pytest.fixture(scope="module")
def small_space() -> pa.Table:
    """Every cell of the space with at most 5 vertices (2,532), from the enumeration."""
    cols = enumerate_space(max_vertices=5, workers=1)
    return pa.table({
        "arch_id": pa.array(cols["arch_id"].tolist(), pa.string()),
        "n_vertices": pa.array(cols["n_vertices"], pa.int8()),
        "adj_bits": pa.array(cols["adj_bits"], pa.int32()),
        "labeling": pa.array(cols["labeling"], pa.int16()),
    })


@pytest.fixture(scope="module")
def random_table() -> pa.Table:
    return spec_table(random_specs(3000, seed=2024))


_SHARED_SPACE: list[pa.Table] = []


@pytest.fixture(scope="session")
def nb101_space() -> Iterator[pa.Table]:
    """The enumerated space, computed once per session and shared with test_nb101.py.

    tests/test_nb101.py builds its own session fixture with ``reader.space_table``; a
    memo installed on that function for the rest of the session hands it this table
    instead of enumerating again. (A fixture in tests/conftest.py would be simpler.)
    """
    original = reader.space_table

    def shared(workers: int | None = None) -> pa.Table:
        if not _SHARED_SPACE:
            _SHARED_SPACE.append(original(workers=workers))
        return _SHARED_SPACE[0]

    patch = pytest.MonkeyPatch()
    patch.setattr(reader, "space_table", shared)
    try:
        yield shared(workers=2)
    finally:
        patch.undo()


@pytest.fixture(scope="module")
def space_sample(nb101_space: pa.Table) -> pa.Table:
    rng = np.random.default_rng(101)
    rows = np.sort(rng.choice(nb101_space.num_rows, 3000, replace=False))
    return nb101_space.take(pa.array(rows)).select(["arch_id", *SPEC_COLUMNS])


# --- registry -------------------------------------------------------------------------


def test_registry() -> None:
    assert available("nb101") == ENCODING_NAMES
    assert sorted(ENCODINGS) == ENCODING_NAMES
    shapes = {"renas_tensor": (19, 7, 7), "type_matrix": (1, 7, 7), "adjacency_onehot": (36,),
              "path": (364,), "gcn": (7, 13)}
    for name in ENCODING_NAMES:
        enc = get_encoding("nb101", name)
        assert enc.name == name
        assert enc.shape == shapes[name]
        assert set(enc.columns) == set(SPEC_COLUMNS)
        assert enc.description
    with pytest.raises(UnknownNameError) as info:
        get_encoding("nb101", "nope")
    message = str(info.value)
    assert "'nope'" in message and all(name in message for name in ENCODING_NAMES)
    with pytest.raises(UnknownNameError, match="nb999"):
        available("nb999")


def test_shapes_and_dtype(hand: dict, small_space: pa.Table) -> None:
    for name, enc in ENCODINGS.items():
        x = hand[name]
        assert x.dtype == np.float32, name
        assert x.shape == (len(HAND), *enc.shape), name
        assert np.isfinite(x).all()
        y = encode(name, small_space.slice(0, 10))
        assert y.shape == (10, *enc.shape)


def test_encoding_is_batch_invariant(random_table: pa.Table) -> None:
    """Encoding a table at once equals encoding its slices (what `--batch-size` relies on)."""
    part = random_table.slice(0, 500)
    for name in ENCODINGS:
        whole = encode(name, part)
        pieces = np.concatenate([encode(name, part.slice(lo, 77)) for lo in range(0, 500, 77)])
        np.testing.assert_array_equal(whole, pieces, err_msg=name)


# --- ReNAS tensor: hand-computed values ------------------------------------------------


@pytest.mark.parametrize("name", list(HAND))
def test_type_matrix_by_hand(hand: dict, name: str) -> None:
    _, _, _, entries = HAND[name]
    expected = np.zeros((7, 7), dtype=np.float32)
    for (i, j), code in entries.items():
        expected[i, j] = code
    np.testing.assert_array_equal(hand["type_matrix"][_row(name), 0], expected)
    np.testing.assert_array_equal(hand["renas_tensor"][_row(name), 0], expected)


@pytest.mark.parametrize("name", list(HAND))
def test_padding_sits_before_the_output(hand: dict, name: str) -> None:
    matrix, ops, positions, _ = HAND[name]
    n = len(ops)
    x = hand["renas_tensor"][_row(name)]
    # The input at 0, the output at 6, padding in positions n-1 .. 5: all-zero rows and
    # columns in every channel.
    assert [p is None for p in positions] == [False] * (n - 1) + [True] * (7 - n) + [False]
    pad = list(range(n - 1, 6))
    assert not x[:, pad, :].any() and not x[:, :, pad].any()
    # Every in-edge of the output lands in column 6 with the output's type code.
    in_degree = sum(row[n - 1] for row in matrix)
    assert np.count_nonzero(x[0, :, 6]) == in_degree
    assert set(x[0, :, 6][x[0, :, 6] != 0].tolist()) == {5.0}
    # Codes along each column are the code of the vertex at that position.
    for j, op in enumerate(positions):
        col = x[0, :, j]
        assert set(col[col != 0].tolist()) <= ({TYPE[op]} if op and j else set())


@pytest.mark.parametrize(("name", "channel", "ij", "value"), HAND_COSTS,
                         ids=[f"{c[0]}-ch{c[1]}-{c[2][0]}{c[2][1]}" for c in HAND_COSTS])
def test_costs_by_hand(hand: dict, name: str, channel: int, ij: tuple[int, int],
                       value: int) -> None:
    x = hand["renas_tensor"][_row(name)]
    assert x[channel][ij] == np.float32(value)
    # Each cost channel is nonzero exactly where there is an edge entering a costly vertex.
    assert not x[channel][x[0] == 0].any()


@pytest.mark.parametrize(("name", "channel", "ij", "value"), HAND_NASLIB_FLOPS,
                         ids=[f"{c[0]}-ch{c[1]}" for c in HAND_NASLIB_FLOPS])
def test_naslib_flops_option(hand: dict, name: str, channel: int, ij: tuple[int, int],
                             value: int) -> None:
    x = encode("renas_tensor", hand["table"], flops="naslib")
    assert x[_row(name), channel][ij] == np.float32(value)
    # Parameters and types do not depend on the FLOPs convention.
    np.testing.assert_array_equal(x[:, 10:], hand["renas_tensor"][:, 10:])
    np.testing.assert_array_equal(x[:, 0], hand["renas_tensor"][:, 0])
    assert (x[:, 1:10] >= hand["renas_tensor"][:, 1:10]).all()


def test_network_params_of_the_skip_cell(hand: dict) -> None:
    """Stem + 9 projections + dense layer, and the tensor holds each cell's share."""
    cells = ([128 * 128 + 256] * 3 + [128 * 256 + 512] + [256 * 256 + 512] * 2
             + [256 * 512 + 1024] + [512 * 512 + 1024] * 2)
    x = hand["renas_tensor"][_row("skip")]
    assert [int(v) for v in x[10:, 0, 6]] == cells
    adj, ops, n = _decode_hand()
    total = network_params(cell_costs(adj, n, ops))[_row("skip")]
    assert total == STEM_AND_DENSE + sum(cells) == 3712 + 5130 + sum(cells)


def _decode_hand() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    specs = [ModelSpec(m, ops) for m, ops, _, _ in HAND.values()]
    return decode(spec_table(specs))


def test_tensor_adds_up_to_network_params(random_table: pa.Table,
                                          small_space: pa.Table) -> None:
    """Each column of a parameter channel carries the entered vertex's parameters, so the
    column maxima add up to the network's total (stem and dense layer aside)."""
    for table in (small_space, random_table):
        x = encode("renas_tensor", table)
        per_vertex = x[:, 10:].max(axis=2).astype(np.int64)  # (N, 9, 7)
        total = per_vertex.sum(axis=(1, 2)) + STEM_AND_DENSE
        adj, ops, n = decode(table)
        np.testing.assert_array_equal(total, network_params(cell_costs(adj, n, ops)))


# --- ReNAS tensor: vectorised == reference ---------------------------------------------


def test_matches_reference_on_all_small_cells(small_space: pa.Table) -> None:
    assert small_space.num_rows == 1 + 6 + 84 + 2441
    np.testing.assert_array_equal(encode("renas_tensor", small_space), reference(small_space))


def test_matches_reference_on_random_specs(random_table: pa.Table) -> None:
    assert set(random_table.column("n_vertices").to_pylist()) >= {6, 7}
    np.testing.assert_array_equal(encode("renas_tensor", random_table), reference(random_table))


@pytest.mark.slow
def test_matches_reference_on_space_sample(space_sample: pa.Table) -> None:
    np.testing.assert_array_equal(encode("renas_tensor", space_sample), reference(space_sample))


# --- structure of the canonical form -------------------------------------------------


def check_canonical_form(table: pa.Table) -> None:
    n = table.column("n_vertices").to_numpy().astype(int)
    x = encode("renas_tensor", table)
    t = encode("type_matrix", table)
    np.testing.assert_array_equal(t[:, 0], x[:, 0])
    lower = np.tril(np.ones((7, 7), dtype=bool))
    assert not x[:, :, lower].any(), "the depth sort must keep every matrix upper-triangular"
    edges = (x[:, 0] != 0).sum(axis=(1, 2))
    specs = specs_of(table)
    np.testing.assert_array_equal(edges, [int(s.array.sum()) for s in specs])
    for k in range(len(n)):
        pad = list(range(n[k] - 1, 6))
        assert not x[k][:, pad].any() and not x[k][:, :, pad].any()
        assert x[k, 0, :, 6].any()  # the output is last
    # adjacency_onehot's 21 bits are the same adjacency.
    a = encode("adjacency_onehot", table)
    iu = np.triu_indices(7, k=1)
    np.testing.assert_array_equal(a[:, :21], (x[:, 0] != 0)[:, iu[0], iu[1]])


def test_canonical_form_small_and_random(small_space: pa.Table, random_table: pa.Table) -> None:
    check_canonical_form(small_space)
    check_canonical_form(random_table)


@pytest.mark.slow
def test_canonical_form_space_sample(space_sample: pa.Table) -> None:
    check_canonical_form(space_sample)


def test_depth_sort_orders_by_longest_path(random_table: pa.Table) -> None:
    """Positions follow the longest-path depth: no edge from a deeper vertex to a
    shallower-or-equal one, and depths along positions never decrease."""
    t = encode("type_matrix", random_table)[:, 0] != 0
    for adj in t[:400]:
        depth = np.zeros(7, dtype=int)
        for v in range(1, 7):
            preds = np.flatnonzero(adj[:, v])
            depth[v] = max((depth[u] + 1 for u in preds), default=0)
        real = [v for v in range(7) if v == 0 or adj[:, v].any()]
        assert [depth[v] for v in real] == sorted(depth[v] for v in real)


# --- path ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(HAND))
def test_path_by_hand(hand: dict, name: str) -> None:
    matrix, ops, _, _ = HAND[name]
    assert naslib_path_indices(matrix, ops) == sorted(HAND_PATHS[name])
    expected = np.zeros(364, dtype=np.float32)
    expected[HAND_PATHS[name]] = 1
    np.testing.assert_array_equal(hand["path"][_row(name)], expected)


def test_path_matches_naslib_enumeration(small_space: pa.Table, random_table: pa.Table) -> None:
    n_with_shared_index = 0
    for table in (small_space, random_table):
        x = encode("path", table)
        assert set(np.unique(x).tolist()) <= {0.0, 1.0}
        for k, spec in enumerate(specs_of(table)):
            indices = naslib_path_indices(spec.matrix, spec.ops)
            expected = np.zeros(364, dtype=np.float32)
            expected[indices] = 1
            np.testing.assert_array_equal(x[k], expected, err_msg=str(spec))
            # One bit per distinct op sequence: parallel paths through vertices with the
            # same ops share their bit, so the ones count the distinct input->output paths.
            assert x[k].sum() == len(set(indices)) <= len(indices)
            n_with_shared_index += len(set(indices)) < len(indices)
    assert n_with_shared_index > 0


# --- adjacency_onehot -----------------------------------------------------------------


@pytest.mark.parametrize("name", list(HAND))
def test_adjacency_onehot_by_hand(hand: dict, name: str) -> None:
    _, _, positions, entries = HAND[name]
    bits = np.zeros((7, 7), dtype=np.float32)
    for ij in entries:
        bits[ij] = 1
    expected = [bits[i, j] for i in range(6) for j in range(i + 1, 7)]
    for op in positions[1:6]:
        expected += NASLIB_ONEHOT[op] if op else [0, 0, 0]
    got = hand["adjacency_onehot"][_row(name)]
    assert got.shape == (36,)
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.float32))
    if name in HAND_ADJ_ONEHOT:
        assert np.flatnonzero(got).tolist() == HAND_ADJ_ONEHOT[name]


def test_adjacency_onehot_one_op_per_real_vertex(random_table: pa.Table) -> None:
    a = encode("adjacency_onehot", random_table)
    n = random_table.column("n_vertices").to_numpy().astype(int)
    onehot = a[:, 21:].reshape(-1, 5, 3)
    np.testing.assert_array_equal(onehot.sum(axis=(1, 2)), n - 2)
    assert set(onehot.sum(axis=2).ravel().tolist()) <= {0.0, 1.0}


# --- gcn -------------------------------------------------------------------------------


def test_gcn_layout_and_content(hand: dict, random_table: pa.Table) -> None:
    enc = get_encoding("nb101", "gcn")
    layout = enc.layout
    assert set(layout) == {"adjacency", "ops", "mask"}
    bounds = sorted(layout.values())
    assert bounds[0][0] == 0 and bounds[-1][1] == enc.shape[-1] == 13
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert layout["adjacency"][1] - layout["adjacency"][0] == 7
    assert layout["ops"][1] - layout["ops"][0] == 5
    for table, names in ((hand["table"], list(HAND)), (random_table, None)):
        g = encode("gcn", table)
        t = encode("type_matrix", table)[:, 0]
        n = table.column("n_vertices").to_numpy().astype(int)
        adj = g[..., slice(*layout["adjacency"])]
        ops = g[..., slice(*layout["ops"])]
        mask = g[..., slice(*layout["mask"])][..., 0]
        np.testing.assert_array_equal(adj, (t != 0).astype(np.float32))
        np.testing.assert_array_equal(mask.sum(axis=1), n)
        np.testing.assert_array_equal(ops.sum(axis=2), mask)
        assert (mask[:, 0] == 1).all() and (mask[:, 6] == 1).all()
        assert (ops[:, 0, 0] == 1).all() and (ops[:, 6, 4] == 1).all()  # input, output
        # A vertex's one-hot type is the code it carries in the type matrix's column.
        codes = np.where(ops.any(axis=2), ops.argmax(axis=2) + 1, 0)
        cols = t.max(axis=1)
        np.testing.assert_array_equal(cols[:, 1:], codes[:, 1:])
        if names:
            for k, name in enumerate(names):
                positions = HAND[name][2]
                assert codes[k].tolist() == [TYPE[op] if op else 0 for op in positions]


# --- exactness against the benchmark (slow, mirror) ------------------------------------


@pytest.fixture(scope="module")
def nb101_records(raw_root: Path, nb101_space: pa.Table) -> pa.Table:
    return reader.ingest(raw_root / "nb101", space=nb101_space)["nb101"].table


@pytest.mark.slow
@pytest.mark.mirror
def test_cost_model_exact(raw_root: Path, nb101_space: pa.Table, nb101_records: pa.Table) -> None:
    report = nb101_cost_check(raw_root / "nb101", nb101_space, nb101_records)
    vis, naslib = report["params"]["nasbench_vis"], report["params"]["naslib"]
    assert (vis["n_checked"], vis["n_exact"]) == (30_001, 30_001), vis["worst_mismatches"]
    assert (naslib["n_checked"], naslib["n_exact"]) == (500, 500), naslib["worst_mismatches"]
    assert report["n_checked"] == report["n_exact"] == 30_501
    assert report["worst_mismatches"] == []
    flops = report["flops"]
    assert flops["convention"] == "naslib"
    assert (flops["n_checked"], flops["n_exact"]) == (500, 500), flops["worst_mismatches"]


@pytest.mark.slow
@pytest.mark.mirror
def test_tensor_params_equal_trainable_params(nb101_space: pa.Table,
                                              nb101_records: pa.Table) -> None:
    """The ReNAS tensor itself, not only the cost model, adds up to NAS-Bench-101's count."""
    vis = nb101_records.filter(nb101_records.column("in_vis"))
    vis = vis.take(pa.array(np.arange(0, vis.num_rows, 10)))
    index = {k: i for i, k in enumerate(nb101_space.column("arch_id").to_pylist())}
    rows = nb101_space.take(pa.array([index[k] for k in vis.column("arch_id").to_pylist()]))
    x = encode("renas_tensor", rows)
    total = x[:, 10:].max(axis=2).astype(np.int64).sum(axis=(1, 2)) + STEM_AND_DENSE
    np.testing.assert_array_equal(total, vis.column("trainable_params").to_numpy())


# --- nasrank encode --------------------------------------------------------------------


def _cli(tmp: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-m", "nasrank", "--params", str(tmp / "params.yaml"),
                           *argv], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture
def cli_project(tmp_path: Path, repo: Path, small_space: pa.Table,
                random_table: pa.Table) -> tuple[Path, pa.Table]:
    """params.yaml with every data directory under tmp_path, and a partial space file in
    a shuffled (not enumeration) order."""
    with open(repo / "params.yaml", encoding="utf-8") as f:
        params = yaml.safe_load(f)
    params["data"].update(mirror=None, raw_dir=str(tmp_path / "raw"),
                          processed_dir=str(tmp_path / "processed"),
                          features_dir=str(tmp_path / "features"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    table = pa.concat_tables([small_space, random_table.slice(0, 500)])
    _, first = np.unique(table.column("arch_id").to_numpy(zero_copy_only=False),
                         return_index=True)
    order = np.random.default_rng(7).permutation(np.sort(first))
    table = table.take(pa.array(order))
    write_parquet(tmp_path / "processed" / "spaces" / "nb101.parquet", table, {"space": "nb101"})
    return tmp_path, table


def test_cli_encode_type_matrix(cli_project: tuple[Path, pa.Table]) -> None:
    tmp, table = cli_project
    proc = _cli(tmp, "encode", "nb101", "type_matrix")
    assert proc.returncode == 0, proc.stderr
    dest = tmp / "features" / "nb101" / "type_matrix.parquet"
    feats = read_features(dest)
    assert feats.meta["shape"] == [1, 7, 7]
    assert feats.meta["encoding"] == "type_matrix" and feats.meta["benchmark"] == "nb101"
    assert read_metadata(dest) == feats.meta
    assert feats.x.shape == (table.num_rows, 1, 7, 7)
    assert feats.arch_id.tolist() == table.column("arch_id").to_pylist()
    np.testing.assert_array_equal(feats.x, encode("type_matrix", table))
    assert sorted(p.name for p in dest.parent.iterdir()) == ["type_matrix.parquet"]
    first = dest.read_bytes()
    proc = _cli(tmp, "encode", "nb101", "type_matrix")
    assert proc.returncode == 0, proc.stderr
    assert dest.read_bytes() == first


def test_cli_batch_size_does_not_change_the_file(cli_project: tuple[Path, pa.Table]) -> None:
    tmp, table = cli_project
    dest = tmp / "features" / "nb101" / "type_matrix.parquet"
    assert _cli(tmp, "encode", "nb101", "type_matrix").returncode == 0
    default = dest.read_bytes()
    proc = _cli(tmp, "encode", "nb101", "type_matrix", "--batch-size", "100")
    assert proc.returncode == 0, proc.stderr
    feats = read_features(dest)
    assert feats.arch_id.tolist() == table.column("arch_id").to_pylist()
    np.testing.assert_array_equal(feats.x, encode("type_matrix", table))
    assert dest.read_bytes() == default, "--batch-size 100 changed the file's bytes"


def test_cli_encode_options_from_params(cli_project: tuple[Path, pa.Table]) -> None:
    tmp, table = cli_project
    params = yaml.safe_load((tmp / "params.yaml").read_text(encoding="utf-8"))
    params["encodings"]["renas_tensor"]["flops"] = "naslib"
    (tmp / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    proc = _cli(tmp, "encode", "nb101", "renas_tensor")
    assert proc.returncode == 0, proc.stderr
    feats = read_features(tmp / "features" / "nb101" / "renas_tensor.parquet")
    assert feats.meta["options"] == {"flops": "naslib"}
    assert feats.meta["shape"] == [19, 7, 7]
    np.testing.assert_array_equal(feats.x, encode("renas_tensor", table, flops="naslib"))


def test_cli_unknown_encoding(cli_project: tuple[Path, pa.Table]) -> None:
    tmp, _ = cli_project
    proc = _cli(tmp, "encode", "nb101", "nope")
    assert proc.returncode == 2, proc.stderr
    assert "'nope'" in proc.stderr
    for name in ENCODING_NAMES:
        assert name in proc.stderr
    assert not (tmp / "features").exists()


def test_cli_encoding_not_defined_for_benchmark(cli_project: tuple[Path, pa.Table]) -> None:
    try:
        names = available("nbmacro")
    except ImportError as exc:
        pytest.skip(f"nasrank.encodings.nbmacro cannot be imported yet: {exc}")
    assert "renas_tensor" not in names
    tmp, _ = cli_project
    proc = _cli(tmp, "encode", "nbmacro", "renas_tensor")
    assert proc.returncode == 2, proc.stderr
    assert "renas_tensor" in proc.stderr
    for name in names:
        assert name in proc.stderr
    assert not (tmp / "features").exists()


def test_cli_missing_space(tmp_path: Path, repo: Path) -> None:
    with open(repo / "params.yaml", encoding="utf-8") as f:
        params = yaml.safe_load(f)
    params["data"].update(processed_dir=str(tmp_path / "processed"),
                          features_dir=str(tmp_path / "features"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    proc = _cli(tmp_path, "encode", "nb101", "path")
    assert proc.returncode == 2
    assert "nb101.parquet is missing" in proc.stderr and "nasrank enumerate nb101" in proc.stderr
