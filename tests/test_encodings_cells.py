"""Tests of the NB201, TNB101-micro, NB-Graph and NB-Macro encodings.

The vectorised cell encodings are compared with a per-cell loop reference written here
from the definitions (node-op DAG built from successors rather than from predecessors),
over the whole NB201 and TNB101 spaces; a few cells are checked entry by entry by hand;
the NB201 and TNB101 cost models are checked against NASLib's ``params``/``flops``.
"""

from __future__ import annotations

import ast
import itertools
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from nasrank.encodings import available, cell_dag, get_encoding, tnb101
from nasrank.errors import ConfigError, OutOfDomainError, UnknownNameError
from nasrank.spaces import nb201_network
from nasrank.spaces.nb201 import OPS as NB201_OPS
from nasrank.spaces.nb201 import NB201Space, naslib_to_arch, str_to_arch
from nasrank.spaces.nbgraph import GNN_OPS, NBGraphSpace
from nasrank.spaces.nbmacro import LAYER_CHOICES, NBMacroSpace
from nasrank.spaces.tnb101 import OPS as TNB101_OPS
from nasrank.spaces.tnb101 import TNB101MicroSpace
from nasrank.spaces.tnb101 import naslib_to_arch as tnb_naslib_to_arch
from nasrank.spaces.tnb101 import str_to_arch as tnb_str_to_arch

CELL_BENCHES = {"nb201": NB201_OPS, "tnb101_micro": TNB101_OPS}
CELL_NAMES = ("renas_tensor", "type_matrix", "adjacency_onehot", "gcn", "path")
ARCH0 = str_to_arch(
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
    "skip_connect~2|"
)
# edge 1<-0 none, so the conv1x1 on 2<-1 has no input; 3<-1 none
ORPHAN = ("none", "nor_conv_3x3", "nor_conv_1x1", "skip_connect", "none", "avg_pool_3x3")


def cell_table(archs: list[tuple[str, ...]]) -> pa.Table:
    return pa.table({f"op_{k}": [a[k] for a in archs] for k in range(6)})


def encode(bench: str, name: str, table: pa.Table, **options: object) -> np.ndarray:
    enc = get_encoding(bench, name)
    x = enc.encode(table, {**enc.options, **options})
    assert x.dtype == np.float32
    assert x.shape == (table.num_rows, *enc.shape)
    return x


@pytest.fixture(scope="module")
def nb201_all() -> tuple[list[tuple[str, ...]], pa.Table]:
    archs = list(NB201Space().enumerate())
    return archs, cell_table(archs)


@pytest.fixture(scope="module")
def tnb101_all() -> tuple[list[tuple[str, ...]], pa.Table]:
    archs = list(TNB101MicroSpace().enumerate())
    return archs, cell_table(archs)


# --- a per-cell reference of the node-op DAG encodings ----------------------------------


def ref_dag(arch: tuple[str, ...], ops: tuple[str, ...], prune: str):
    """Adjacency (8x8) and type codes of one cell, by loops over the cell's edges."""
    edges = cell_dag.EDGES
    alive = [True] + [op != "none" for op in arch] + [True]
    links = set()
    for k, (dst, src) in enumerate(edges):
        if src == 0:
            links.add((0, 1 + k))
        for m, (_, src2) in enumerate(edges):
            if src2 == dst:  # edge m leaves the node edge k enters
                links.add((1 + k, 1 + m))
        if dst == 3:
            links.add((1 + k, 7))
    links = {(i, j) for i, j in links if alive[i] and alive[j]}
    if prune == "dead":
        def closure(start: int, forward: bool) -> set[int]:
            seen, todo = {start}, [start]
            while todo:
                u = todo.pop()
                for i, j in links:
                    a, b = (i, j) if forward else (j, i)
                    if a == u and b not in seen:
                        seen.add(b)
                        todo.append(b)
            return seen

        live = closure(0, True) & closure(7, False)
        alive = [alive[n] and (n in (0, 7) or n in live) for n in range(8)]
        links = {(i, j) for i, j in links if alive[i] and alive[j]}
    adj = np.zeros((8, 8), dtype=np.float32)
    for i, j in links:
        adj[i, j] = 1
    codes = [1] + [ops.index(op) + 1 if alive[1 + k] else 0 for k, op in enumerate(arch)]
    codes.append(len(ops) + 1)
    return adj, np.array(codes)


def ref_encodings(arch: tuple[str, ...], ops: tuple[str, ...], prune: str) -> dict:
    adj, codes = ref_dag(arch, ops, prune)
    n_ops, n_types = len(ops) - 1, len(ops) + 1
    tm = adj * codes[None, :]
    iu = [(i, j) for i in range(8) for j in range(i + 1, 8)]
    onehot = []
    for k in range(6):
        onehot += [1.0 if codes[1 + k] == c + 2 else 0.0 for c in range(n_ops)]
    aoh = np.array([adj[i, j] for i, j in iu] + onehot, dtype=np.float32)
    g = np.zeros((8, 8 + n_types + 1), dtype=np.float32)
    g[:, :8] = adj
    for n in range(8):
        if codes[n]:
            g[n, 8 + codes[n] - 1] = 1
            g[n, -1] = 1
    bits = np.zeros(n_ops + n_ops**2 + n_ops**3, dtype=np.float32)
    for path in ((3,), (0, 4), (1, 5), (0, 2, 5)):
        seq = [ops.index(arch[e]) - 1 for e in path]
        if min(seq) >= 0:
            offset = sum(n_ops**length for length in range(1, len(seq)))
            bits[offset + sum(c * n_ops**j for j, c in enumerate(seq))] = 1
    return {"type_matrix": tm[None], "adjacency_onehot": aoh, "gcn": g, "path": bits}


@pytest.mark.slow
@pytest.mark.parametrize("prune", ["none_ops", "dead"])
@pytest.mark.parametrize("bench", list(CELL_BENCHES))
def test_cell_encodings_equal_loop_reference_over_whole_space(
    bench: str, prune: str, nb201_all, tnb101_all
) -> None:
    archs, table = nb201_all if bench == "nb201" else tnb101_all
    ops = CELL_BENCHES[bench]
    got = {name: encode(bench, name, table, prune=prune)
           for name in ("type_matrix", "adjacency_onehot", "gcn", "path")}
    for row, arch in enumerate(archs):
        ref = ref_encodings(arch, ops, prune)
        for name, x in got.items():
            np.testing.assert_array_equal(x[row], ref[name], err_msg=f"{name} {arch}")


# --- shapes, registry, options -----------------------------------------------------------


EXPECTED_SHAPES = {
    "nb201": {"renas_tensor": (31, 8, 8), "type_matrix": (1, 8, 8),
              "adjacency_onehot": (52,), "gcn": (8, 15), "path": (84,)},
    "tnb101_micro": {"renas_tensor": (21, 8, 8), "type_matrix": (1, 8, 8),
                     "adjacency_onehot": (46,), "gcn": (8, 14), "path": (39,)},
    "nbgraph": {"adjacency_onehot": (52,), "gcn": (6, 18)},
    "nbmacro": {"adjacency_onehot": (24,), "gcn": (10, 16)},
}


@pytest.mark.parametrize("bench", list(EXPECTED_SHAPES))
def test_registry_shapes_and_layouts(bench: str) -> None:
    assert available(bench) == sorted(EXPECTED_SHAPES[bench])
    for name, shape in EXPECTED_SHAPES[bench].items():
        enc = get_encoding(bench, name)
        assert enc.name == name and enc.shape == shape and enc.description and enc.columns
        if name == "gcn":
            v, width = shape
            assert enc.layout["adjacency"] == [0, v]
            assert enc.layout["ops"][0] == v
            assert enc.layout["mask"] == [width - 1, width]


@pytest.mark.parametrize("bench", list(EXPECTED_SHAPES))
def test_unknown_encoding_lists_the_available_ones(bench: str) -> None:
    with pytest.raises(UnknownNameError) as err:
        get_encoding(bench, "no_such_encoding")
    msg = str(err.value)
    assert "no_such_encoding" in msg
    assert f"available: {', '.join(sorted(EXPECTED_SHAPES[bench]))}" in msg


def test_bad_options_and_bad_ops_are_domain_errors() -> None:
    table = cell_table([ARCH0])
    with pytest.raises(ConfigError, match="prune"):
        encode("nb201", "gcn", table, prune="everything")
    with pytest.raises(ConfigError, match="macs"):
        encode("nb201", "renas_tensor", table, flops="gflops")
    with pytest.raises(ConfigError, match="macs"):
        encode("tnb101_micro", "renas_tensor", cell_table([("none",) * 6]), flops="x")
    with pytest.raises(OutOfDomainError, match="avg_pool_3x3"):  # not a TNB101 op
        encode("tnb101_micro", "gcn", table)
    with pytest.raises(OutOfDomainError, match="conv5x5"):
        encode("nb201", "path", cell_table([("conv5x5",) * 6]))


def test_dictionary_columns_and_empty_tables() -> None:
    table = cell_table([ARCH0, ORPHAN])
    dict_table = pa.table({c: table.column(c).dictionary_encode() for c in table.column_names})
    for name in CELL_NAMES:
        np.testing.assert_array_equal(encode("nb201", name, dict_table),
                                      encode("nb201", name, table))
        assert encode("nb201", name, table.slice(0, 0)).shape[0] == 0


# --- hand-computed cells -----------------------------------------------------------------


def _matrix(entries: dict[tuple[int, int], float], v: int = 8) -> np.ndarray:
    m = np.zeros((v, v), dtype=np.float32)
    for (i, j), value in entries.items():
        m[i, j] = value
    return m


BASE_EDGES = [(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7)]


def test_nb201_all_skip_cell() -> None:
    table = cell_table([("skip_connect",) * 6])
    tm = encode("nb201", "type_matrix", table)[0, 0]
    expected = _matrix({(i, j): 6.0 if j == 7 else 2.0 for i, j in BASE_EDGES})
    np.testing.assert_array_equal(tm, expected)
    g = encode("nb201", "gcn", table)[0]
    np.testing.assert_array_equal(g[:, :8], expected > 0)
    # types: input, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3, output
    assert g[0, 8] == 1 and (g[1:7, 9] == 1).all() and g[7, 13] == 1
    assert (g[:, 8:14].sum(axis=1) == 1).all() and (g[:, 14] == 1).all()
    # four paths, all of skips: lengths 1, 2, 2 (same bit), 3
    assert np.flatnonzero(encode("nb201", "path", table)[0]).tolist() == [0, 4, 20]
    # skips cost nothing in the NB201 network
    assert not encode("nb201", "renas_tensor", table, flops="naslib")[0, 1:].any()


def test_nb201_all_none_cell() -> None:
    table = cell_table([("none",) * 6])
    for prune in ("none_ops", "dead"):
        g = encode("nb201", "gcn", table, prune=prune)[0]
        assert not g[:, :8].any()
        assert g[:, 14].tolist() == [1, 0, 0, 0, 0, 0, 0, 1]
        assert g[0, 8] == 1 and g[7, 13] == 1 and g[1:7, 8:14].sum() == 0
        for name in ("type_matrix", "adjacency_onehot", "path", "renas_tensor"):
            assert not encode("nb201", name, table, prune=prune).any(), name


def test_nb201_index0_cell() -> None:
    table = cell_table([ARCH0])  # avg_pool, conv1x1, skip | conv1x1, skip, skip
    tm = encode("nb201", "type_matrix", table)[0, 0]
    codes = {1: 5, 2: 3, 3: 2, 4: 3, 5: 2, 6: 2, 7: 6}
    np.testing.assert_array_equal(tm, _matrix({(i, j): codes[j] for i, j in BASE_EDGES}))
    # paths: [conv1x1], [avg_pool, skip], [conv1x1, skip], [avg_pool, skip, skip]
    # codes skip 0, conv1x1 1, conv3x3 2, avg_pool 3 -> bits 1, 4+3, 4+1, 20+3
    assert np.flatnonzero(encode("nb201", "path", table)[0]).tolist() == [1, 5, 7, 23]
    x = encode("nb201", "renas_tensor", table)[0]
    np.testing.assert_array_equal(x[0], tm)
    # cell 0: C=16 on 32x32; conv1x1 = 16*16*1024 MACs, 16*16 + 2*16 parameters
    assert x[1, 0, 2] == x[1, 0, 4] == 262_144 and x[16, 0, 2] == x[16, 0, 4] == 288
    # cell 14: C=64 on 8x8: 64*64*64 MACs, 64*64 + 128 parameters
    assert x[15, 0, 2] == 262_144 and x[30, 0, 4] == 4_224
    assert x[1, 0, 1] == 0  # avg pool: no MACs ...
    xn = encode("nb201", "renas_tensor", table, flops="naslib")[0]
    assert xn[1, 0, 1] == 9 * 16 * 32 * 32  # ... but 9 per output element for NASLib
    assert xn[1, 0, 2] == 262_144 + 3 * 16 * 32 * 32
    np.testing.assert_array_equal(xn[16:], x[16:])  # parameters do not change
    # only op-node columns carry costs; row/column structure follows the adjacency
    assert not x[1:, :, 0].any() and not x[1:, :, 7].any()
    assert ((x[1:] != 0) <= (tm > 0)[None]).all()


def test_nb201_cell_with_orphan_and_dead_nodes() -> None:
    table = cell_table([ORPHAN])
    tm = encode("nb201", "type_matrix", table)[0, 0]
    # node 3 (conv1x1 on 2<-1) has no input: its column is empty, its edge 3->6 stays
    expected = {(0, 2): 4, (0, 4): 2, (2, 6): 5, (3, 6): 5, (4, 7): 6, (6, 7): 6}
    np.testing.assert_array_equal(tm, _matrix(expected))
    g = encode("nb201", "gcn", table)[0]
    assert g[:, 14].tolist() == [1, 0, 1, 1, 1, 0, 1, 1]
    assert g[3, 10] == 1  # still typed nor_conv_1x1
    a = encode("nb201", "adjacency_onehot", table)[0]
    assert np.flatnonzero(a).tolist() == [1, 3, 16, 20, 24, 27, 34, 37, 40, 51]
    dead = encode("nb201", "gcn", table, prune="dead")[0]
    assert dead[:, 14].tolist() == [1, 0, 1, 0, 1, 0, 1, 1]
    assert not dead[3].any()
    a = encode("nb201", "adjacency_onehot", table, prune="dead")[0]
    assert np.flatnonzero(a).tolist() == [1, 3, 16, 24, 27, 34, 40, 51]
    # paths: [skip] and [conv3x3, avg_pool] (bit 4 + 2 + 3*4) in both modes
    for prune in ("none_ops", "dead"):
        bits = encode("nb201", "path", table, prune=prune)[0]
        assert np.flatnonzero(bits).tolist() == [0, 18]


def test_tnb101_hand_computed_cells() -> None:
    convs = tnb_str_to_arch("64-41414-3_33_333")
    skips = tnb_str_to_arch("64-41414-1_11_111")
    table = cell_table([convs, skips, tnb_str_to_arch("64-41414-0_00_000")])
    tm = encode("tnb101_micro", "type_matrix", table)[:, 0]
    np.testing.assert_array_equal(
        tm[0], _matrix({(i, j): 5.0 if j == 7 else 4.0 for i, j in BASE_EDGES}))
    np.testing.assert_array_equal(tm[1], (tm[0] > 0) * np.where(np.arange(8) == 7, 5, 2))
    assert not tm[2].any()
    x = encode("tnb101_micro", "renas_tensor", table)
    flops, params = x[:, 1:11], x[:, 11:]
    # cell 0: 64 -> 128 channels, stride 2, 64x64 -> 32x32; edges from the cell input
    # (nodes 1, 2, 4) use (64, 128, stride 2), the others (128, 128, stride 1)
    assert params[0, 0, 0, 1] == 9 * 64 * 128 + 256 and params[0, 0, 1, 3] == 9 * 128**2 + 256
    assert flops[0, 0, 0, 4] == 9 * 64 * 128 * 32 * 32
    assert flops[0, 0, 3, 6] == flops[0, 0, 2, 6] == 9 * 128 * 128 * 32 * 32
    # cell 9: 512 channels on 8x8
    assert params[0, 9, 6, 7] == 0 and params[0, 9, 5, 7] == 0  # output owns nothing
    assert params[0, 9, 1, 5] == 9 * 512**2 + 1024 and flops[0, 9, 1, 5] == 9 * 512**2 * 64
    # skips: a FactorizedReduce on input edges of the 3 reduction cells, else free
    for cell, (c_in, c_out, size) in {0: (64, 128, 32), 4: (128, 256, 16),
                                      8: (256, 512, 8)}.items():
        assert params[1, cell, 0, 2] == c_in * c_out + 2 * c_out
        assert flops[1, cell, 0, 2] == c_in * c_out * size * size
        assert params[1, cell, 1, 3] == 0
    assert not params[1, [1, 2, 3, 5, 6, 7, 9]].any()
    assert not x[2].any()


def test_nbgraph_hand_computed() -> None:
    specs = [((0, 1, 1, 2), ("gcn", "gin", "cheb", "fc")),
             ((0, 0, 0, 0), ("gat", "gat", "skip", "sage")),
             ((0, 1, 2, 3), ("arma", "graph", "fc", "skip"))]
    table = pa.table(
        {**{f"link_{i}": [s[0][i] for s in specs] for i in range(4)},
         **{f"op_{i}": [s[1][i] for s in specs] for i in range(4)}}
    )
    g = encode("nbgraph", "gcn", table)
    edges = [
        [(0, 1), (1, 2), (1, 3), (2, 4), (3, 5), (4, 5)],
        [(0, 1), (0, 2), (0, 3), (0, 4), (1, 5), (2, 5), (3, 5), (4, 5)],
        [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)],
    ]
    for row, (spec, es) in enumerate(zip(specs, edges, strict=True)):
        np.testing.assert_array_equal(g[row, :, :6], _matrix({e: 1 for e in es}, 6))
        types = [0] + [1 + GNN_OPS.index(op) for op in spec[1]] + [10]
        assert [int(np.flatnonzero(g[row, n, 6:17])[0]) for n in range(6)] == types
        assert (g[row, :, 17] == 1).all()
    a = encode("nbgraph", "adjacency_onehot", table)
    # links 0,1,1,2 -> 0, 4+1, 8+1, 12+2; ops gcn, gin, cheb, fc at 16 + 9i + index
    assert np.flatnonzero(a[0]).tolist() == [0, 5, 9, 14, 17, 27, 37, 50]


def test_nbmacro_hand_computed() -> None:
    spec = "10020210"
    table = pa.table({f"op_{i}": [LAYER_CHOICES[int(spec[i])]] for i in range(8)})
    a = encode("nbmacro", "adjacency_onehot", table)[0]
    assert np.flatnonzero(a).tolist() == [1, 3, 6, 11, 12, 17, 19, 21]
    g = encode("nbmacro", "gcn", table)[0]
    np.testing.assert_array_equal(g[:, :10], np.eye(10, k=1))
    types = [0] + [1 + int(c) for c in spec] + [4]
    assert [int(np.flatnonzero(g[n, 10:15])[0]) for n in range(10)] == types
    assert (g[:, 15] == 1).all()


# --- whole spaces: structure and distinctness --------------------------------------------


def _unique_rows(x: np.ndarray) -> int:
    rows = np.ascontiguousarray(x.reshape(len(x), -1))
    return len(np.unique(rows.view(np.dtype((np.void, rows.shape[1] * rows.itemsize)))))


def _dead_classes(archs: list[tuple[str, ...]]) -> int:
    """Cells equal up to 'none' edges and edges off every input->output path."""
    keys = set()
    for arch in archs:
        live_edges = [(dst, src) for (dst, src), op in zip(cell_dag.EDGES, arch, strict=True)
                      if op != "none"]
        reach, coreach = {0}, {3}
        for dst, src in sorted(live_edges, key=lambda e: e[1]):
            if src in reach:
                reach.add(dst)
        for dst, src in sorted(live_edges, key=lambda e: -e[0]):
            if dst in coreach:
                coreach.add(src)
        keys.add(tuple(op if op != "none" and src in reach and dst in coreach else None
                       for (dst, src), op in zip(cell_dag.EDGES, arch, strict=True)))
    return len(keys)


def _path_classes(archs: list[tuple[str, ...]]) -> int:
    """Cells with the same set of op sequences along their input->output paths."""
    return len({frozenset(tuple(arch[e] for e in path) for path in cell_dag.PATHS
                          if all(arch[e] != "none" for e in path)) for arch in archs})


# Distinct encodings over the whole space. gcn and adjacency_onehot keep one slot per edge
# and show 'none' as a pruned slot, so every cell is distinct (isomorphic cells, e.g.
# nodes 1 and 2 swapped, are not merged). With prune=dead, cells that differ only by
# 'none' and by dead op-nodes coincide (the classes of _dead_classes). The type matrix
# (and the ReNAS tensor built on it) writes a node's type into its incoming edges, so an
# op-node whose inputs are all 'none' loses its type: fewer distinct matrices. The path
# encoding keeps only the set of op sequences of complete paths.
EXPECTED_UNIQUE = {
    "nb201": {"none_ops": {"gcn": 15_625, "adjacency_onehot": 15_625, "type_matrix": 12_620,
                           "renas_tensor": 12_620, "path": 8_045},
              "dead": {"gcn": 9_445, "adjacency_onehot": 9_445, "type_matrix": 9_445,
                       "renas_tensor": 9_445, "path": 8_045}},
    "tnb101_micro": {"none_ops": {"gcn": 4_096, "adjacency_onehot": 4_096,
                                  "type_matrix": 3_184, "renas_tensor": 3_184, "path": 1_696},
                     "dead": {"gcn": 2_128, "adjacency_onehot": 2_128, "type_matrix": 2_128,
                              "renas_tensor": 2_128, "path": 1_696}},
}


@pytest.mark.slow
@pytest.mark.parametrize("bench", list(CELL_BENCHES))
def test_distinct_encodings_over_whole_space(bench: str, nb201_all, tnb101_all) -> None:
    archs, table = nb201_all if bench == "nb201" else tnb101_all
    assert _dead_classes(archs) == EXPECTED_UNIQUE[bench]["dead"]["gcn"]
    assert _path_classes(archs) == EXPECTED_UNIQUE[bench]["none_ops"]["path"]
    for prune, expected in EXPECTED_UNIQUE[bench].items():
        for name, count in expected.items():
            start = time.perf_counter()
            x = encode(bench, name, table, prune=prune)
            elapsed = time.perf_counter() - start
            print(f"{bench} {name} prune={prune}: {len(x)} cells in {elapsed:.3f}s")
            assert _unique_rows(x) == count, (name, prune)


@pytest.mark.parametrize("bench", list(CELL_BENCHES))
def test_adjacencies_are_upper_triangular(bench: str, nb201_all, tnb101_all) -> None:
    _, table = nb201_all if bench == "nb201" else tnb101_all
    for prune in ("none_ops", "dead"):
        g = encode(bench, "gcn", table, prune=prune)
        assert not np.tril(g[:, :, :8]).any()
        x = encode(bench, "renas_tensor", table, prune=prune)
        assert not np.tril(x).any()
        # the mask is 1 exactly for the typed nodes, and pruned nodes have no edges
        mask = g[:, :, -1]
        np.testing.assert_array_equal(mask, g[:, :, 8:-1].sum(axis=2))
        dead = mask == 0
        assert not g[:, :, :8][dead].any() and not g[:, :, :8].transpose(0, 2, 1)[dead].any()


def test_nbgraph_and_nbmacro_whole_spaces_are_distinct() -> None:
    for variant in ("full", "proteins"):
        archs = list(NBGraphSpace(variant).enumerate())
        table = pa.table(
            {**{f"link_{i}": [a.link[i] for a in archs] for i in range(4)},
             **{f"op_{i}": [a.ops[i] for a in archs] for i in range(4)}}
        )
        for name in ("adjacency_onehot", "gcn"):
            x = encode("nbgraph", name, table)
            assert _unique_rows(x) == len(archs) == {"full": 26_206, "proteins": 2_021}[variant]
        g = encode("nbgraph", "gcn", table)
        assert not np.tril(g[:, :, :6]).any()
        # every computing node has one parent; the output has at least one
        adj = g[:, :, :6]
        assert (adj[:, :, 1:5].sum(axis=1) == 1).all()
        assert (adj[:, :, 5].sum(axis=1) >= 1).all()
    specs = list(NBMacroSpace().enumerate())
    table = pa.table({f"op_{i}": [LAYER_CHOICES[int(s[i])] for s in specs] for i in range(8)})
    for name in ("adjacency_onehot", "gcn"):
        assert _unique_rows(encode("nbmacro", name, table)) == len(specs) == 3_969


# --- ReNAS tensors and cost models -------------------------------------------------------


def test_nb201_renas_tensor_equals_loop_reference(nb201_all) -> None:
    archs, table = nb201_all
    x = encode("nb201", "renas_tensor", table)
    sample = np.random.default_rng(0).choice(len(archs), 300, replace=False)
    layout = [(c, s) for c, s in ((16, 32), (32, 16), (64, 8)) for _ in range(5)]
    for row in sample:
        arch = archs[row]
        adj, codes = ref_dag(arch, NB201_OPS, "none_ops")
        ref = np.zeros((31, 8, 8), dtype=np.float32)
        ref[0] = adj * codes[None, :]
        for cell, (c, s) in enumerate(layout):
            for k, op in enumerate(arch):
                kk = {"nor_conv_1x1": 1, "nor_conv_3x3": 9}.get(op, 0)
                ref[1 + cell, :, 1 + k] = adj[:, 1 + k] * kk * c * c * s * s
                ref[16 + cell, :, 1 + k] = adj[:, 1 + k] * (kk * c * c + 2 * c * (kk > 0))
        np.testing.assert_array_equal(x[row], ref, err_msg=str(arch))
    # the type channel is the type matrix, in both pruning modes
    for prune in ("none_ops", "dead"):
        np.testing.assert_array_equal(
            encode("nb201", "renas_tensor", table, prune=prune)[:, :1],
            encode("nb201", "type_matrix", table, prune=prune))


def _naslib_scores(rows: dict, key: str) -> np.ndarray:
    """NASLib's score (in millions) as an integer count."""
    return np.array([round(v[key]["score"] * 1e6) for v in rows.values()], dtype=np.int64)


@pytest.mark.mirror
def test_nb201_cost_model_matches_naslib_exactly(mirror: Path) -> None:
    with open(mirror / "naslib-zc" / "zc_nasbench201.json", encoding="utf-8") as f:
        data = json.load(f)
    checked = {}
    for dataset, rows in data.items():
        archs = [naslib_to_arch(ast.literal_eval(k)) for k in rows]
        idx = cell_dag.op_indices(cell_table(archs), NB201_OPS)
        costs = nb201_network.cell_costs(idx, dataset)
        n_params = int((nb201_network.network_params(costs) == _naslib_scores(rows, "params"))
                       .sum())
        n_flops = int((nb201_network.network_flops(costs, "naslib")
                       == _naslib_scores(rows, "flops")).sum())
        checked[dataset] = (len(rows), n_params, n_flops)
    assert checked == {"cifar10": (725, 725, 725), "cifar100": (725, 725, 725),
                       "ImageNet16-120": (724, 724, 724)}


def test_nb201_network_totals_by_hand() -> None:
    idx = np.array([[NB201_OPS.index("nor_conv_3x3")] * 6, [0] * 6])
    costs = nb201_network.cell_costs(idx)
    cells = 9 * 16 * 16 + 32 + 9 * 32 * 32 + 64 + 9 * 64 * 64 + 128
    fixed = (27 * 16 + 32) + (9 * 16 * 32 + 64 + 9 * 32 * 32 + 64 + 16 * 32) \
        + (9 * 32 * 64 + 128 + 9 * 64 * 64 + 128 + 32 * 64) + 128 + 650
    assert nb201_network.network_params(costs).tolist() == [fixed + 30 * cells, fixed]
    # the largest cell: about 1.53 M parameters and 220 M MACs (NAS-Bench-201's figures)
    assert nb201_network.network_params(costs)[0] == 1_531_546
    assert round(nb201_network.network_flops(costs)[0] / 1e6, 1) == 220.1
    with pytest.raises(ValueError, match="macs"):
        nb201_network.network_flops(costs, "other")
    with pytest.raises(ValueError, match="cifar10"):
        nb201_network.cell_costs(idx, "svhn")


@pytest.mark.mirror
def test_tnb101_cost_model_matches_naslib_exactly(mirror: Path) -> None:
    with open(mirror / "naslib-zc" / "zc_transbench101_micro.json", encoding="utf-8") as f:
        data = json.load(f)
    checked = {}
    for task, rows in data.items():
        archs = [tnb_naslib_to_arch(ast.literal_eval(k)) for k in rows]
        totals = tnb101.network_totals(cell_dag.op_indices(cell_table(archs), TNB101_OPS),
                                       task)
        n_params = int((totals["params"] == _naslib_scores(rows, "params")).sum())
        n_flops = int((totals["naslib"] == _naslib_scores(rows, "flops")).sum())
        checked[task] = (len(rows), n_params, n_flops)
    assert set(checked) == set(tnb101.TASKS)
    assert all(v == (711, 711, 711) for v in checked.values()), checked


def test_tnb101_renas_tensor_uses_the_cell_cost_model(tnb101_all) -> None:
    _, table = tnb101_all
    x = encode("tnb101_micro", "renas_tensor", table, flops="naslib")
    costs = tnb101.cell_costs(cell_dag.op_indices(table, TNB101_OPS))
    adj = encode("tnb101_micro", "gcn", table)[:, :, :8]
    np.testing.assert_array_equal(
        x[:, 1:11, :, 1:7], adj[:, None, :, 1:7] * costs.flops_naslib[:, :, None, :])
    np.testing.assert_array_equal(
        x[:, 11:, :, 1:7], adj[:, None, :, 1:7] * costs.params[:, :, None, :])
    # jigsaw tiles are 4x smaller per side: 16x fewer FLOPs, the same parameters
    tile = tnb101.cell_costs(cell_dag.op_indices(table, TNB101_OPS), tnb101.JIGSAW_TILE)
    np.testing.assert_array_equal(tile.flops_naslib * 16, costs.flops_naslib)
    np.testing.assert_array_equal(tile.params, costs.params)
    # every op-node's params are those of the op on (C_in or C_out) -> C_out channels
    layout = tnb101.cell_layout()
    assert [c[:3] for c in layout] == [(64, 128, 2), (128, 128, 1), (128, 128, 1),
                                       (128, 128, 1), (128, 256, 2), (256, 256, 1),
                                       (256, 256, 1), (256, 256, 1), (256, 512, 2),
                                       (512, 512, 1)]
    with pytest.raises(ValueError, match="class_scene"):
        tnb101.head_costs("depth")


def test_every_registered_encoding_accepts_itertools_built_tables() -> None:
    # a table with every op on every edge at least once, in an arbitrary order
    for bench, ops in CELL_BENCHES.items():
        archs = [tuple(ops[(i + k) % len(ops)] for k in range(6)) for i in range(len(ops))]
        archs += list(itertools.islice(itertools.product(ops, repeat=6), 50))
        for name in available(bench):
            x = encode(bench, name, cell_table(archs))
            assert np.isfinite(x).all() and (x >= 0).all()
