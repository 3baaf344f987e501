"""Tests of the NAS-Bench-101 space (nasrank.spaces.nb101) and reader (benchmarks.nb101).

The full enumeration (423,624 cells, ~40-60 s) runs at most once per test session, in
the session fixture ``nb101_space``; every test that needs it is marked ``slow``. The
enumeration order is checked against a deliberately naive re-implementation of
NAS-Bench-101's ``generate_graphs`` on the small vertex counts, the first labellings of
larger cells against the mirror's independently decoded ``derived/`` CSVs.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from conftest import tmp_params

from nasrank.benchmarks import nb101 as reader
from nasrank.benchmarks.common import Processed
from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.io import write_parquet
from nasrank.spaces import get_space
from nasrank.spaces import nb101 as nb101_mod
from nasrank.spaces.nb101 import (
    CONV1X1,
    CONV3X3,
    INPUT,
    MAXPOOL3X3,
    OUTPUT,
    SPACE_SIZE,
    ModelSpec,
    NB101Space,
    enumerate_space,
    hash_module,
    spec_from_codes,
)
from nasrank.stats import STATS_COLUMNS, nb101_space_stats

IN, OUT, C3, C1, MP = INPUT, OUTPUT, CONV3X3, CONV1X1, MAXPOOL3X3
OP_NAMES = (C3, C1, MP)

# ReNAS (Xu et al. 2021), Table 5: cells per input->output distance 1..6.
RENAS_COUNTS = {
    True: [68552, 153056, 110863, 27227, 2516, 211],
    False: [12468, 26282, 17735, 4282, 400, 32],
}

# Hand-written cells (pruned) and their nasbench-vis keys (records of data-1k.json).
HAND_CELLS = [
    (
        "00005c142e6f48ac74fdcf73e3439874",
        [[0, 1, 0, 0, 1, 1, 0],
         [0, 0, 1, 0, 0, 0, 0],
         [0, 0, 0, 1, 0, 0, 1],
         [0, 0, 0, 0, 0, 1, 0],
         [0, 0, 0, 0, 0, 1, 0],
         [0, 0, 0, 0, 0, 0, 1],
         [0, 0, 0, 0, 0, 0, 0]],
        [IN, C3, MP, C3, C3, C1, OUT],
    ),
    (
        "00040b38293651f17fb665401c671bbb",
        [[0, 1, 0, 1, 1, 0],
         [0, 0, 1, 0, 0, 1],
         [0, 0, 0, 1, 0, 0],
         [0, 0, 0, 0, 1, 1],
         [0, 0, 0, 0, 0, 1],
         [0, 0, 0, 0, 0, 0]],
        [IN, C3, C3, MP, C3, OUT],
    ),
    (
        "001ea832563f8d635ef7d0af25926274",
        [[0, 1, 1, 1, 1],
         [0, 0, 1, 1, 1],
         [0, 0, 0, 1, 0],
         [0, 0, 0, 0, 1],
         [0, 0, 0, 0, 0]],
        [IN, MP, C3, C3, OUT],
    ),
    (
        "001a6fcc8b38cbc515be788a86bdc804",
        [[0, 1, 1, 0],
         [0, 0, 1, 0],
         [0, 0, 0, 1],
         [0, 0, 0, 0]],
        [IN, MP, MP, OUT],
    ),
]


def _labeling(ops: list[str]) -> list[int]:
    return [-1, *(OP_NAMES.index(op) for op in ops[1:-1]), -2]


def _adj_string(matrix: np.ndarray | list) -> str:
    return "".join(str(int(v)) for row in matrix for v in row)


def _bfs_distance(matrix: np.ndarray) -> int:
    """Shortest input->output path (edges), plain breadth-first search."""
    n = len(matrix)
    dist = {0: 0}
    frontier = [0]
    while frontier:
        nxt = []
        for u in frontier:
            for v in range(n):
                if matrix[u][v] and v not in dist:
                    dist[v] = dist[u] + 1
                    nxt.append(v)
        frontier = nxt
    return dist[n - 1]


def _topological_internal_orders(matrix: np.ndarray) -> list[tuple[int, ...]]:
    """Every order of the internal vertices that keeps the matrix upper-triangular."""
    n = len(matrix)
    inner = range(1, n - 1)
    out = []
    for perm in itertools.permutations(inner):
        pos = {v: k for k, v in enumerate(perm)}
        if all(pos[u] < pos[v] for u in inner for v in inner if matrix[u][v]):
            out.append(perm)
    return out


def _permute(matrix: np.ndarray, ops: list[str], order: list[int]) -> tuple[np.ndarray, list]:
    m = np.asarray(matrix)[np.ix_(order, order)]
    return m, [ops[i] for i in order]


# --- session fixtures -----------------------------------------------------------------


@pytest.fixture(scope="session")
def nb101_space() -> pa.Table:
    """The enumerated space: computed once per session (the slow part of this file)."""
    return reader.space_table(workers=2)


@pytest.fixture(scope="session")
def space_index(nb101_space: pa.Table) -> dict[str, int]:
    return {k: i for i, k in enumerate(nb101_space.column("arch_id").to_pylist())}


@pytest.fixture(scope="session")
def nb101_records(raw_root: Path, nb101_space: pa.Table) -> Processed:
    return reader.ingest(raw_root / "nb101", space=nb101_space)["nb101"]


@pytest.fixture(scope="session")
def derived_30k(mirror: Path) -> pd.DataFrame:
    return pd.read_csv(mirror / "derived/nb101_30k_with_arch.csv.gz",
                       dtype={"adjacency_rowmajor": str})


@pytest.fixture(scope="session")
def derived_zc500(mirror: Path) -> pd.DataFrame:
    return pd.read_csv(mirror / "derived/nb101_zc500.csv.gz",
                       dtype={"adjacency_rowmajor_pruned": str})


@pytest.fixture()
def cached_space(nb101_space: pa.Table, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Hand the session's enumeration to NB101Space.sample/enumerate (no re-enumeration)."""
    cols = {k: nb101_space.column(k).to_numpy(zero_copy_only=False)
            for k in ("arch_id", "n_vertices", "adj_bits", "labeling")}
    monkeypatch.setattr(nb101_mod, "_SPACE_CACHE", dict(cols))
    monkeypatch.setattr(nb101_mod, "enumerate_space", lambda *a, **k: dict(cols))
    return cols


# --- hash_module ----------------------------------------------------------------------


@pytest.mark.parametrize(("key", "matrix", "ops"), HAND_CELLS, ids=[c[0][:8] for c in HAND_CELLS])
def test_hash_module_of_hand_written_cells(key: str, matrix: list, ops: list) -> None:
    assert hash_module(np.array(matrix), _labeling(ops)) == key
    spec = ModelSpec(matrix, ops)
    assert spec.labeling == _labeling(ops)
    assert NB101Space().arch_id(spec) == key


def test_hash_module_distinguishes_ops_and_edges() -> None:
    key, matrix, ops = HAND_CELLS[0]
    other_op = [*ops]
    other_op[2] = C1
    assert hash_module(np.array(matrix), _labeling(other_op)) != key
    m = np.array(matrix)
    m[1, 6] = 1  # one more edge
    assert hash_module(m, _labeling(ops)) != key
    # Swapping input and output roles changes the hash (labels -1/-2 matter).
    chain = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]])
    assert hash_module(chain, [-1, 0, -2]) != hash_module(chain, [-2, 0, -1])


@pytest.mark.mirror
def test_hand_written_keys_are_data_1k_records(mirror: Path) -> None:
    with open(mirror / "nb101/nasbench-vis/data-1k.json", encoding="utf-8") as f:
        data = json.load(f)
    records = dict(zip(data["key"], zip(data["adjacency"], data["operations"], strict=True),
                       strict=True))
    for key, matrix, ops in HAND_CELLS:
        adj, codes = records[key]
        keep = [j for j, c in enumerate(codes) if c != -3]
        assert np.array_equal(np.asarray(adj, dtype=int)[np.ix_(keep, keep)], matrix)
        assert [codes[j] for j in keep] == _labeling(ops)


@pytest.mark.mirror
def test_check_vis_1k(raw_root: Path) -> None:
    assert reader.check_vis_1k(raw_root / "nb101") == 1000


# --- enumeration order: a naive generate_graphs ---------------------------------------


def _naive_generate_graphs(max_vertices: int) -> list[tuple[str, int, int, int, int]]:
    """NAS-Bench-101's generate_graphs.py, literally: (hash, n, bits, labeling, index)."""
    seen: set[str] = set()
    rows = []
    index = 0
    for n in range(2, max_vertices + 1):
        for bits in range(2 ** (n * (n - 1) // 2)):
            matrix = [[0] * n for _ in range(n)]
            for y in range(n):
                for x in range(y):
                    if (bits >> (x + y * (y - 1) // 2)) & 1:
                        matrix[x][y] = 1
            if sum(map(sum, matrix)) > 9:
                continue
            if any(not any(matrix[v]) for v in range(n - 1)):
                continue  # a non-output vertex without out-edge
            if any(not any(matrix[u][v] for u in range(n)) for v in range(1, n)):
                continue  # a non-input vertex without in-edge
            for li, lab in enumerate(itertools.product(range(3), repeat=n - 2)):
                h = hash_module(np.array(matrix), [-1, *lab, -2])
                if h not in seen:
                    seen.add(h)
                    rows.append((h, n, bits, li, index))
                index += 1
    return rows


def test_enumeration_order_matches_naive_generate_graphs() -> None:
    naive = _naive_generate_graphs(5)
    space = enumerate_space(max_vertices=5, workers=1)
    got = list(zip(space["arch_id"].tolist(), space["n_vertices"].tolist(),
                   space["adj_bits"].tolist(), space["labeling"].tolist(),
                   space["enum_index"].tolist(), strict=True))
    assert len(naive) > 1000
    assert got == naive
    # The decoding of (n, bits, labeling) gives back the cell that was hashed.
    for h, n, bits, li, _ in naive[::7]:
        spec = spec_from_codes(n, bits, li)
        assert hash_module(spec.array, spec.labeling) == h
        lab = list(itertools.product(range(3), repeat=n - 2))[li]
        assert spec.ops == (IN, *(OP_NAMES[c] for c in lab), OUT)


# --- the whole space (slow) -----------------------------------------------------------


@pytest.mark.slow
def test_space_size_and_keys(nb101_space: pa.Table, space_index: dict, raw_root: Path) -> None:
    assert nb101_space.num_rows == SPACE_SIZE == 423_624
    assert len(space_index) == SPACE_SIZE
    assert set(reader.SPACE_COLUMNS) == set(nb101_space.column_names)
    n_keys = 0
    for name in ("data-20k.json", "data-10k.json"):
        with open(raw_root / "nb101" / name, encoding="utf-8") as f:
            keys = json.load(f)["key"]
        n_keys += len(keys)
        missing = [k for k in keys if k not in space_index]
        assert missing == [], f"{name}: {len(missing)} keys not enumerated"
    assert n_keys == 30_001


@pytest.mark.slow
def test_space_columns_are_consistent(nb101_space: pa.Table) -> None:
    df = nb101_space.select(["n_vertices", "n_edges", "adjacency", "enum_index",
                             "io_distance"]).to_pandas()
    assert df["n_vertices"].between(2, 7).all()
    assert df["n_edges"].between(1, 9).all()
    assert df["io_distance"].between(1, 6).all()
    assert (df["adjacency"].str.len() == df["n_vertices"].astype(int) ** 2).all()
    assert (df["adjacency"].str.count("1") == df["n_edges"]).all()
    assert df["enum_index"].is_monotonic_increasing and df["enum_index"].is_unique
    counts = df["n_vertices"].value_counts().to_dict()
    assert counts[2] == 1 and counts[3] == 6 and sum(counts.values()) == SPACE_SIZE


@pytest.mark.slow
def test_sampled_rows_rehash_to_their_arch_id(nb101_space: pa.Table) -> None:
    """Decode rows by hand and recompute every derived column with plain Python."""
    rng = np.random.default_rng(101)
    rows = sorted(rng.choice(nb101_space.num_rows, 3000, replace=False).tolist())
    rows += [0, 1, 2, nb101_space.num_rows - 1]
    sub = nb101_space.take(pa.array(rows)).to_pylist()
    for r in sub:
        n = r["n_vertices"]
        matrix = np.zeros((n, n), dtype=int)
        for y in range(n):
            for x in range(y):
                matrix[x, y] = (r["adj_bits"] >> (x + y * (y - 1) // 2)) & 1
        lab = next(itertools.islice(itertools.product(range(3), repeat=n - 2),
                                    r["labeling"], None))
        ops = [IN, *(OP_NAMES[c] for c in lab), OUT]
        assert _adj_string(matrix) == r["adjacency"]
        assert ",".join(ops) == r["ops"]
        assert hash_module(matrix, [-1, *lab, -2]) == r["arch_id"]
        assert int(matrix.sum()) == r["n_edges"]
        assert _bfs_distance(matrix) == r["io_distance"]
        assert (C3 in ops) == r["uses_conv3x3"]
        assert NB101Space().validate(ModelSpec(matrix, ops)) == ModelSpec(matrix, ops)


def _vertex_channels(cin: int, cout: int, m: np.ndarray) -> list[int]:
    """nasbench model_builder.compute_vertex_channels: the output's channels are split
    over the vertices feeding it, remainder to the FIRST ones (so order matters)."""
    n = len(m)
    vc = [0] * n
    vc[0], vc[n - 1] = cin, cout
    if n == 2:
        return vc
    fan_in = int(m[1:, n - 1].sum())
    interior, extra = divmod(cout, fan_in)
    for v in range(1, n - 1):
        if m[v, n - 1]:
            vc[v] = interior + (1 if extra else 0)
            extra = max(extra - 1, 0)
    for v in range(n - 3, 0, -1):
        if not m[v, n - 1]:
            vc[v] = max(vc[d] for d in range(v + 1, n - 1) if m[v, d])
    return vc


def _trainable_params(matrix: np.ndarray, ops: list[str]) -> int:
    """Trainable parameters of the NAS-Bench-101 network built on one cell: stem conv3x3
    3->128 + BN (3,712), 3 stacks x 3 cells at 128/256/512 channels, dense 512->10
    (5,130); convs without bias, every conv (1x1 input projections too) with BN."""
    n = len(ops)
    total, cin = 3712 + 5130, 128
    for cout in (128, 256, 512):
        for _ in range(3):
            vc = _vertex_channels(cin, cout, matrix)
            for t in range(1, n - 1):
                c = vc[t]
                if matrix[0, t]:
                    total += cin * c + 2 * c
                if ops[t] == C3:
                    total += 9 * c * c + 2 * c
                elif ops[t] == C1:
                    total += c * c + 2 * c
            if matrix[0, n - 1]:
                total += cin * cout + 2 * cout
            cin = cout
    return total


def _enum_key(n: int, matrix: np.ndarray, ops: list[str]) -> tuple[int, int, int]:
    """(vertex count, edge bitmask, labelling index): generate_graphs' visiting order."""
    bits = sum(1 << (x + y * (y - 1) // 2) for y in range(n) for x in range(y) if matrix[x, y])
    lab = 0
    for op in ops[1:-1]:
        lab = 3 * lab + OP_NAMES.index(op)
    return n, bits, lab


def test_trainable_params_formula_on_hand_cells() -> None:
    # Input -> output only: one 1x1 projection per cell.
    m = np.array([[0, 1], [0, 0]])
    proj = sum(ci * co + 2 * co for ci, co in
               [(128, 128)] * 3 + [(128, 256)] + [(256, 256)] * 2 + [(256, 512)]
               + [(512, 512)] * 2)
    assert _trainable_params(m, [IN, OUT]) == 3712 + 5130 + proj
    # Remainder channels go to the first vertices feeding the output.
    three = np.array([[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1],
                      [0] * 5])
    assert _vertex_channels(128, 128, three) == [128, 43, 43, 42, 128]
    assert _trainable_params(three, [IN, C3, C1, C1, OUT]) != _trainable_params(
        three, [IN, C1, C1, C3, OUT])


@pytest.mark.slow
@pytest.mark.mirror
def test_space_specs_vs_derived_30k(nb101_space: pa.Table, space_index: dict,
                                    derived_30k: pd.DataFrame) -> None:
    """The space holds, per record, the labelling NAS-Bench-101 trained.

    The derived CSV gives each record's cell, but for some records another (isomorphic)
    labelling than the first one generate_graphs meets. The space's labelling must
    reproduce every record's upstream ``trainable_parameters`` (which depend on the
    vertex order), and wherever the CSV's differs, it is a later one in the enumeration.
    """
    d = derived_30k
    assert len(d) == 30_001
    sub = nb101_space.take(pa.array([space_index[k] for k in d["hash"]])).to_pylist()
    n_same = 0
    for r, key, n, adj, ops, params in zip(
        sub, d["hash"], d["num_vertices"], d["adjacency_rowmajor"], d["ops"],
        d["trainable_params"], strict=True,
    ):
        assert r["n_vertices"] == n
        assert len(adj) == n * n  # each cell's own n x n matrix, not padded to 7 x 7
        m = np.array([int(c) for c in r["adjacency"]]).reshape(n, n)
        o = r["ops"].split(",")
        assert _trainable_params(m, o) == params, key
        if (r["adjacency"], r["ops"]) == (adj, ops):
            n_same += 1
            continue
        dm = np.array([int(c) for c in adj]).reshape(n, n)
        do = ops.split(",")
        assert hash_module(dm, [-1, *(OP_NAMES.index(x) for x in do[1:-1]), -2]) == key
        assert _enum_key(n, m, o) < _enum_key(n, dm, do), key
        assert _enum_key(n, m, o) == (n, r["adj_bits"], r["labeling"])
    assert n_same > 29_000


@pytest.mark.slow
@pytest.mark.mirror
def test_space_stats_match_renas_table_5(nb101_space: pa.Table, nb101_records: Processed,
                                         derived_30k: pd.DataFrame) -> None:
    df = nb101_space_stats(nb101_space, nb101_records.table, "val_acc_108")
    assert list(df.columns) == STATS_COLUMNS
    assert df["uses_conv3x3"].tolist() == [True] * 6 + [False] * 6
    assert df["distance"].tolist() == list(range(1, 7)) * 2
    assert df["n_cells"].tolist() == RENAS_COUNTS[True] + RENAS_COUNTS[False]
    # Labelled groups, recomputed independently from the derived CSV.
    d = derived_30k
    dist = []
    for n, a in zip(d["num_vertices"], d["adjacency_rowmajor"], strict=True):
        dist.append(_bfs_distance(np.array([int(c) for c in a]).reshape(n, n)))
    ref = pd.DataFrame({"uses_conv3x3": d["ops"].str.contains(C3), "distance": dist,
                        "acc": 100.0 * d["val_acc_108ep"]})
    ref = ref.groupby(["uses_conv3x3", "distance"])["acc"].agg(["size", "max", "mean"])
    for row in df.itertuples(index=False):
        key = (row.uses_conv3x3, row.distance)
        if key in ref.index:
            assert row.n_labelled == ref.loc[key, "size"]
            assert row.best_acc == pytest.approx(ref.loc[key, "max"], abs=1e-9)
            assert row.mean_acc == pytest.approx(ref.loc[key, "mean"], abs=1e-9)
        else:
            assert row.n_labelled == 0 and np.isnan(row.best_acc)
    assert df["n_labelled"].sum() == 30_001


# --- NB101Space -----------------------------------------------------------------------


def test_registry_and_size() -> None:
    space = get_space("nb101")
    assert isinstance(space, NB101Space)
    assert space.size() == SPACE_SIZE


def test_validate_prunes_dangling_vertices() -> None:
    space = NB101Space()
    # Vertex 2 has no path to the output, vertex 3 none from the input.
    matrix = [[0, 1, 1, 0, 0],
              [0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0],
              [0, 0, 0, 0, 1],
              [0, 0, 0, 0, 0]]
    spec = ModelSpec(matrix, [IN, C3, C1, MP, OUT])
    pruned = space.validate(spec)
    assert pruned == ModelSpec([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [IN, C3, OUT])
    assert space.arch_id(spec) == hash_module(np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]]),
                                              [-1, 0, -2])
    # An 8-vertex spec that prunes to 7 vertices is a member.
    key, m7, ops7 = HAND_CELLS[0]
    m8 = np.zeros((8, 8), dtype=int)
    m8[:6, :6] = np.array(m7)[:6, :6]
    m8[:6, 7] = np.array(m7)[:6, 6]
    m8[0, 6] = 1  # vertex 6 is a dead end
    assert space.arch_id(ModelSpec(m8, [*ops7[:6], C1, OUT])) == key


def _chain(n: int) -> np.ndarray:
    m = np.zeros((n, n), dtype=int)
    for v in range(n - 1):
        m[v, v + 1] = 1
    return m


@pytest.mark.parametrize(
    ("matrix", "ops", "match"),
    [
        pytest.param(_chain(7) + np.array(
            [[0, 0, 1, 0, 0, 0, 1], [0, 0, 0, 1, 0, 0, 0], [0, 0, 0, 0, 1, 0, 0],
             [0] * 7, [0] * 7, [0] * 7, [0] * 7]),
            [IN, C3, C3, C3, C3, C3, OUT], r"10 edges .*> 9", id="ten-edges"),
        pytest.param(_chain(8), [IN, C3, C1, MP, C3, C1, MP, OUT], r"8 vertices .*> 7",
                     id="eight-vertices"),
        pytest.param(_chain(3), [IN, "conv5x5-bn-relu", OUT], r"unknown op.*conv5x5",
                     id="unknown-op"),
        pytest.param(_chain(3).T, [IN, C3, OUT], "upper-triangular", id="lower-triangular"),
        pytest.param(_chain(3) + np.eye(3, dtype=int), [IN, C3, OUT], "upper-triangular",
                     id="self-loop"),
        pytest.param(2 * _chain(3), [IN, C3, OUT], "0/1", id="not-binary"),
        pytest.param(np.array([[0, 1, 0], [0, 0, 0], [0, 0, 0]]), [IN, C3, OUT],
                     "output is not reachable", id="disconnected-output"),
        pytest.param(_chain(3), [C3, C3, OUT], "must start with 'input'", id="no-input"),
        pytest.param(_chain(3), [IN, C3, C1], "end with 'output'", id="no-output"),
        pytest.param([], [], "must start with", id="empty"),
    ],
)
def test_validate_rejects(matrix: np.ndarray, ops: list[str], match: str) -> None:
    with pytest.raises(OutOfDomainError, match=match):
        NB101Space().validate(ModelSpec(matrix, ops))
    with pytest.raises(OutOfDomainError):
        NB101Space().arch_id(ModelSpec(matrix, ops))


@pytest.mark.parametrize(
    ("matrix", "ops"),
    [
        pytest.param([[0, 1, 0, 0]], [IN, OUT], id="1x4-for-2-ops"),
        pytest.param(_chain(3), [IN, OUT], id="3x3-for-2-ops"),
        pytest.param([[0, 1], [0]], [IN, OUT], id="ragged"),
    ],
)
def test_validate_rejects_shape_mismatch(matrix: list, ops: list[str]) -> None:
    with pytest.raises(OutOfDomainError, match=r"shape|match"):
        NB101Space().validate(ModelSpec(matrix, ops))


def test_validate_rejects_non_integral_entries() -> None:
    with pytest.raises(OutOfDomainError, match="0/1"):
        NB101Space().validate(ModelSpec([[0, 1.5], [0, 0]], [IN, OUT]))


# The example cell of NAS-Bench-101's README: five internal vertices, many orders.
README_CELL = (
    [[0, 1, 1, 1, 0, 1, 0],
     [0, 0, 0, 0, 0, 0, 1],
     [0, 0, 0, 0, 0, 0, 1],
     [0, 0, 0, 0, 1, 0, 0],
     [0, 0, 0, 0, 0, 0, 1],
     [0, 0, 0, 0, 0, 0, 1],
     [0, 0, 0, 0, 0, 0, 0]],
    [IN, C1, C3, C3, C3, MP, OUT],
)


@pytest.mark.parametrize(("matrix", "ops", "swap"),
                         [(*HAND_CELLS[0][1:], (1, 2)), (*README_CELL, (1, 3))],
                         ids=["vis-00005c14", "readme"])
def test_arch_id_invariant_under_relabelling(matrix: list, ops: list[str],
                                             swap: tuple[int, int]) -> None:
    space = NB101Space()
    key = hash_module(np.array(matrix), _labeling(ops))
    orders = _topological_internal_orders(np.array(matrix))
    assert len(orders) > 1
    n = len(ops)
    for perm in orders:
        m, o = _permute(np.array(matrix), ops, [0, *perm, n - 1])
        assert not np.tril(m).any()
        spec = space.validate(ModelSpec(m, o))
        assert spec.ops == tuple(o)  # validate keeps the vertex order it was given
        assert space.arch_id(spec) == key
    # Swapping the ops of two structurally different vertices changes the cell.
    swapped = [*ops]
    a, b = swap
    swapped[a], swapped[b] = swapped[b], swapped[a]
    assert space.arch_id(ModelSpec(matrix, swapped)) != key


@pytest.mark.mirror
def test_naslib_specs_hash_to_derived_keys(raw_root: Path, derived_zc500: pd.DataFrame) -> None:
    """Different unpruned NASLib specs of one cell get the same arch_id (and the right one)."""
    with open(raw_root / "nb101" / reader.NASLIB_FILE, encoding="utf-8") as f:
        records = json.load(f)["nasbench101"]["cifar10"]
    assert len(records) == len(derived_zc500) == 500
    space = NB101Space()
    ids = []
    for (key, rec), ref in zip(records.items(), derived_zc500.itertuples(index=False),
                               strict=True):
        assert rec["val_accuracy"] == ref.val_accuracy_108ep
        spec = space.validate(reader.naslib_spec(key))
        ids.append(space.arch_id(spec))
        assert ids[-1] == ref.hash
        assert len(spec.ops) == ref.num_vertices
    specs_per_cell = Counter(ids)
    assert len(specs_per_cell) == 292
    assert max(specs_per_cell.values()) > 1


def test_mutate_returns_valid_different_cells() -> None:
    space = NB101Space()
    starts = [ModelSpec(m, o) for _, m, o in HAND_CELLS]
    starts.append(ModelSpec([[0, 1, 0], [0, 0, 1], [0, 0, 0]], [IN, MP, OUT]))
    starts.append(ModelSpec(*README_CELL))
    arch = starts[0]
    seen = set()
    for seed in range(200):
        parent = starts[seed % len(starts)] if seed % 2 else arch
        child = space.mutate(parent, np.random.default_rng(seed))
        assert isinstance(child, ModelSpec)
        assert space.validate(child) == child
        assert space.arch_id(child) != space.arch_id(parent)
        assert space.mutate(parent, np.random.default_rng(seed)) == child
        seen.add(space.arch_id(child))
        arch = child  # a random walk: the even seeds mutate the previous child
    assert len(seen) > 75


def test_mutate_the_two_vertex_cell() -> None:
    space = NB101Space()
    cell = ModelSpec([[0, 1], [0, 0]], [IN, OUT])
    assert space.size() == SPACE_SIZE  # the cell is one of the 423,624 (enumeration row 0)
    child = space.mutate(cell, np.random.default_rng(0))
    assert space.validate(child) == child
    assert space.arch_id(child) != space.arch_id(cell)


@pytest.mark.slow
def test_sample_valid_and_reproducible(nb101_space: pa.Table, space_index: dict,
                                       cached_space: dict) -> None:
    space = NB101Space()

    def draw(seed: int, k: int) -> list[ModelSpec]:
        rng = np.random.default_rng(seed)
        return [space.sample(rng) for _ in range(k)]

    a, b, c = draw(7, 2000), draw(7, 2000), draw(8, 2000)
    assert a == b
    assert a != c
    ids = [space.arch_id(s) for s in a]
    for s in a[:300]:
        assert space.validate(s) == s
    assert all(k in space_index for k in ids)
    assert len(set(ids)) > 1990
    share7 = np.mean([len(s.ops) == 7 for s in a])
    expected7 = np.mean(nb101_space.column("n_vertices").to_numpy() == 7)
    assert abs(share7 - expected7) < 0.04
    # enumerate() yields the table's specs in order.
    first = list(itertools.islice(space.enumerate(), 50))
    assert [space.arch_id(s) for s in first] == cached_space["arch_id"][:50].tolist()


# --- ingest ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.mirror
def test_ingest_counts(nb101_records: Processed) -> None:
    t = nb101_records.table
    assert t.num_rows == 30_267
    assert t.column_names[0] == "arch_id"
    ids = t.column("arch_id").to_pylist()
    assert ids == sorted(set(ids))
    in_vis = np.asarray(t.column("in_vis").to_pylist())
    in_naslib = np.asarray(t.column("in_naslib").to_pylist())
    assert in_vis.sum() == 30_001
    assert in_naslib.sum() == 292
    assert (in_vis & in_naslib).sum() == 26
    assert (in_vis | in_naslib).all()
    entries = np.asarray(t.column("naslib_n_entries").to_pylist())
    assert entries.sum() == 500
    assert ((entries > 0) == in_naslib).all()
    assert t.column("val_acc_108").null_count == 30_267 - 30_001
    assert t.column("naslib_val_acc").null_count == 30_267 - 292
    assert nb101_records.extra["n_vis"] == 30_001
    assert nb101_records.extra["n_naslib"] == 292
    assert nb101_records.extra["n_both"] == 26


@pytest.mark.slow
@pytest.mark.mirror
def test_ingest_values_match_derived(nb101_records: Processed, derived_30k: pd.DataFrame,
                                     derived_zc500: pd.DataFrame, nb101_space: pa.Table,
                                     space_index: dict) -> None:
    t = nb101_records.table.to_pandas().set_index("arch_id")
    vis = t.loc[derived_30k["hash"]]
    for e in (4, 12, 36, 108):
        np.testing.assert_array_equal(vis[f"val_acc_{e}"].to_numpy(),
                                      100.0 * derived_30k[f"val_acc_{e}ep"].to_numpy())
    np.testing.assert_array_equal(vis["trainable_params"].to_numpy(),
                                  derived_30k["trainable_params"].to_numpy())
    np.testing.assert_allclose(vis["train_time_108"].to_numpy(),
                               derived_30k["train_time_108ep_s"].to_numpy(), rtol=1e-12)
    for key in derived_30k["hash"].iloc[::50]:  # the cells are the space's
        row = nb101_space.slice(space_index[key], 1).to_pylist()[0]
        assert (t.loc[key, "adjacency"], t.loc[key, "ops"]) == (row["adjacency"], row["ops"])
    ref = derived_zc500.groupby("hash").agg(acc=("val_accuracy_108ep", "mean"),
                                            n=("hash", "size"), params=("params", "mean"),
                                            flops=("flops", "mean"))
    nas = t.loc[ref.index]
    np.testing.assert_allclose(nas["naslib_val_acc"], ref["acc"], rtol=1e-12)
    np.testing.assert_allclose(nas["naslib_params"], ref["params"], rtol=1e-12)
    np.testing.assert_allclose(nas["naslib_flops"], ref["flops"], rtol=1e-12)
    assert nas["naslib_n_entries"].tolist() == ref["n"].tolist()


def _raw_copy(raw_root: Path, dest: Path) -> Path:
    shutil.copytree(raw_root / "nb101", dest)
    return dest


def _tamper(path: Path, edit) -> None:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    edit(data)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)


@pytest.mark.mirror
def test_ingest_rejects_tampered_data_1k(raw_root: Path, tmp_path: Path) -> None:
    raw = _raw_copy(raw_root, tmp_path / "nb101")

    def edit(data: dict) -> None:
        k = data["key"][3]
        data["key"][3] = ("0" if k[0] != "0" else "1") + k[1:]

    _tamper(raw / "data-1k.json", edit)
    tiny_space = pa.table({"arch_id": pa.array([], pa.string())})  # never reached
    with pytest.raises(DataFormatError, match=r"data-1k\.json.*record 3"):
        reader.ingest(raw, space=tiny_space)
    with pytest.raises(DataFormatError, match=r"data-1k\.json"):
        reader.check_vis_1k(raw)


@pytest.mark.slow
@pytest.mark.mirror
def test_ingest_rejects_key_not_in_space(raw_root: Path, nb101_space: pa.Table,
                                         tmp_path: Path) -> None:
    raw = _raw_copy(raw_root, tmp_path / "nb101")
    bogus = "f" * 32

    def edit(data: dict) -> None:
        data["key"][10] = bogus

    _tamper(raw / "data-10k.json", edit)
    with pytest.raises(DataFormatError, match=f"not in the enumerated space.*{bogus}"):
        reader.ingest(raw, space=nb101_space)


# --- CLI ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.mirror
def test_cli_stats_is_byte_stable(nb101_space: pa.Table, nb101_records: Processed,
                                  tmp_path: Path) -> None:
    processed = tmp_path / "processed"
    write_parquet(processed / "spaces" / "nb101.parquet", nb101_space)
    write_parquet(processed / "nb101.parquet", nb101_records.table)
    params = tmp_path / "params.yaml"
    values = tmp_params(tmp_path, raw_dir=str(tmp_path / "raw"), processed_dir=str(processed))
    params.write_text(yaml.safe_dump(values), encoding="utf-8")
    out = tmp_path / "reports" / "tables" / "nb101_space_stats"
    outputs = []
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-m", "nasrank", "--params", str(params), "stats", "nb101"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append((out.with_suffix(".csv").read_bytes(),
                        out.with_suffix(".md").read_bytes()))
    assert outputs[0] == outputs[1]
    df = pd.read_csv(out.with_suffix(".csv"))
    assert list(df.columns) == ["uses_conv3x3", "distance", "n_cells", "n_labelled",
                                "best_acc", "mean_acc"]
    assert len(df) == 12
    assert df["n_cells"].tolist() == RENAS_COUNTS[True] + RENAS_COUNTS[False]
    assert df["n_labelled"].sum() == 30_001
    md = outputs[0][1].decode().splitlines()
    assert len(md) == 2 + 12
    assert md[0] == "| " + " | ".join(df.columns) + " |"
