"""Tests of the DARTS (NAS-Bench-301) space, reader and encodings.

Space: parsing and validation errors, the canonical key (the two inputs of a node are
unordered), size, NASLib's sampling and mutation. Reader: NASLib's 725 labelled cells of
``zc_nasbench301.json`` from the mirror (surrogate labels, proxies, no duplicates) and
synthetic files for duplicates and format errors. Encodings: shapes, one hand-checked
cell, distinctness. End to end: ``nasrank fetch/ingest/encode darts`` through the CLI,
then a GCN trained for 2 epochs on 50 cells with the HR loss (and a few other losses).
"""

from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import tmp_params

from nasrank.benchmarks import ingest, processed_stems
from nasrank.benchmarks.darts import FILE, genotype_columns
from nasrank.benchmarks.registry import get_benchmark
from nasrank.benchmarks.zero_cost import require_zero_cost
from nasrank.cli import main
from nasrank.encodings import available, get_encoding
from nasrank.errors import DataFormatError, NasrankError, NotEnumerableError, OutOfDomainError
from nasrank.io import read_metadata
from nasrank.predictors import check_input, get_predictor
from nasrank.spaces import get_space
from nasrank.spaces.darts import (
    CELL_SIZE,
    NUM_COMPACT,
    OPS,
    SPACE_SIZE,
    DartsSpace,
    from_genotype,
    to_genotype,
    to_string,
)
from nasrank.train import config_from_params, run

SPACE = DartsSpace()
# The first record of zc_nasbench301.json (NASLib idx 534), upstream (non-canonical) order.
KEY = ("[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], "
       "[(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]")
KEY_CANONICAL = ("[[(0, 0), (1, 5), (0, 1), (1, 1), (0, 3), (1, 3), (1, 3), (3, 2)], "
                 "[(0, 2), (1, 0), (0, 3), (1, 3), (0, 1), (3, 0), (2, 0), (3, 6)]]")
# A hand-made cell (already canonical) for the encoding checks:
# normal: n0 <- c_k-2 sep3, c_k-1 sep5; n1 <- c_k-1 skip, n0 maxpool; n2 <- c_k-2 dil3,
#         n1 dil5; n3 <- n0 avgpool, n2 sep3
# reduce: n0 <- c_k-2 maxpool, c_k-1 avgpool; n1 <- c_k-2 skip, c_k-1 sep3;
#         n2 <- n0 sep5, n1 dil3; n3 <- c_k-1 dil5, n1 maxpool
HAND = (((0, 3), (1, 4), (1, 2), (2, 0), (0, 5), (3, 6), (2, 1), (4, 3)),
        ((0, 0), (1, 1), (0, 2), (1, 3), (2, 4), (3, 5), (1, 6), (3, 0)))
# DARTS' own genotype format (genotypes.py style): (op name, input) pairs.
GENOTYPE_NORMAL = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0),
                   ("sep_conv_3x3", 1), ("sep_conv_3x3", 1), ("skip_connect", 0),
                   ("skip_connect", 0), ("dil_conv_3x3", 2)]
GENOTYPE_REDUCE = [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2),
                   ("max_pool_3x3", 1), ("max_pool_3x3", 0), ("skip_connect", 2),
                   ("skip_connect", 2), ("max_pool_3x3", 1)]


def swap_node(arch: Any, cell: int, node: int) -> list[list[tuple[int, int]]]:
    """``arch`` with the two pairs of ``node`` in ``cell`` in the other order."""
    cells = [list(c) for c in arch]
    a, b = cells[cell][2 * node], cells[cell][2 * node + 1]
    cells[cell][2 * node], cells[cell][2 * node + 1] = b, a
    return cells


def spec_table(archs: list[Any]) -> pa.Table:
    """The genotype columns of the darts table for canonical ``archs``."""
    cols: dict[str, list[Any]] = {"arch_id": [to_string(a) for a in archs]}
    for name in genotype_columns():
        cell, part, j = name.split("_")
        c, j = ("normal", "reduce").index(cell), int(j)
        cols[name] = [a[c][j][0] if part == "in" else OPS[a[c][j][1]] for a in archs]
    return pa.table(cols)


def changed_pairs(a: Any, b: Any) -> list[tuple[int, int, frozenset, frozenset]]:
    """Per (cell, node) whose pair sets differ: the pairs only in ``a`` and only in ``b``."""
    out = []
    for c in range(2):
        for k in range(4):
            sa, sb = set(a[c][2 * k : 2 * k + 2]), set(b[c][2 * k : 2 * k + 2])
            if sa != sb:
                out.append((c, k, frozenset(sa - sb), frozenset(sb - sa)))
    return out


# ------------------------------------------------------------------------------ space


def test_registered_space_and_benchmark() -> None:
    assert isinstance(get_space("darts"), DartsSpace)
    assert processed_stems("darts") == ["darts"]
    bench = get_benchmark("darts")
    (f,) = bench.files
    assert f.name == FILE and f.url.endswith(
        "automl/NASLib/1bdbd960ee3e08b4b71dfbae57ff4d4e43ec25c1/naslib/data/zc_nasbench301.json")
    assert "SURROGATE" in bench.notes
    assert available("darts") == ["adjacency_onehot", "gcn"]


def test_parse_string_tuples_lists_and_op_names_agree() -> None:
    from_str = SPACE.validate(KEY)
    as_lists = json.loads(KEY.replace("(", "[").replace(")", "]"))
    assert SPACE.validate(as_lists) == from_str
    assert SPACE.validate(tuple(tuple(tuple(p) for p in c) for c in as_lists)) == from_str
    named = [[(i, OPS[o]) for i, o in cell] for cell in as_lists]
    assert SPACE.validate(named) == from_str
    np_cells = [np.asarray(c, dtype=np.int64) for c in as_lists]
    assert SPACE.validate(np_cells) == from_str
    assert SPACE.arch_id(KEY) == KEY_CANONICAL
    # the canonical string parses back to itself
    assert SPACE.validate(KEY_CANONICAL) == from_str
    assert SPACE.arch_id(from_str) == KEY_CANONICAL
    assert all(isinstance(x, int) for c in from_str for p in c for x in p)


@pytest.mark.parametrize(("arch", "needles"), [
    ("not a genotype", ["not a literal"]),
    ("[[(0, 0)]]", ["two cells"]),
    ([HAND[0]], ["two cells"]),
    ([HAND[0][:7], HAND[1]], ["normal cell has 7 pairs"]),
    ([HAND[0], (*HAND[1][:3], (0, 1, 2), *HAND[1][4:])], ["reduce cell pair 3", "(0, 1, 2)"]),
    ([((2, 0), *HAND[0][1:]), HAND[1]], ["normal cell pair 0 (node 0)", "input 2", "0..1"]),
    ([HAND[0], (*HAND[1][:7], (5, 0))], ["reduce cell pair 7 (node 3)", "input 5", "0..4"]),
    ([HAND[0], (*HAND[1][:6], (-1, 0), HAND[1][7])], ["pair 6", "input -1"]),
    ([((0, 7), *HAND[0][1:]), HAND[1]], ["normal cell pair 0", "op 7", "0..6"]),
    ([((0, "conv_3x3"), *HAND[0][1:]), HAND[1]], ["op 'conv_3x3'"]),
    ([((0, True), *HAND[0][1:]), HAND[1]], ["op True"]),
    ([((0.0, 1), *HAND[0][1:]), HAND[1]], ["input 0.0"]),
    ([HAND[0], (*HAND[1][:4], (3, 4), (3, 5), *HAND[1][6:])],
     ["reduce cell node 2 reads input 3 twice", "pairs 4, 5"]),
    (42, ["two cells"]),
])
def test_validation_errors_name_the_bad_value(arch: Any, needles: list[str]) -> None:
    with pytest.raises(OutOfDomainError) as err:
        SPACE.validate(arch)
    for needle in needles:
        assert needle in str(err.value)


def test_canonical_key_ignores_the_order_of_a_node_s_inputs() -> None:
    rng = np.random.default_rng(1)
    archs = [HAND, SPACE.validate(KEY), *(SPACE.sample(rng) for _ in range(50))]
    for arch in archs:
        key = SPACE.arch_id(arch)
        for cell, node in itertools.product(range(2), range(4)):
            swapped = swap_node(arch, cell, node)
            assert swapped != [list(c) for c in arch]
            assert SPACE.arch_id(swapped) == key
        # all 2**8 orders at once
        flips = rng.integers(2, size=(2, 4))
        every = [list(c) for c in arch]
        for cell, node in zip(*np.nonzero(flips), strict=True):
            every = swap_node(every, int(cell), int(node))
        assert SPACE.arch_id(every) == key
        # canonical form: smaller input first in every node
        canon = SPACE.validate(arch)
        assert all(c[2 * k][0] < c[2 * k + 1][0] for c in canon for k in range(4))


def test_canonical_key_tells_different_cells_apart() -> None:
    base = SPACE.arch_id(HAND)
    # the same ops on the other cell, or normal/reduce swapped
    assert SPACE.arch_id((HAND[1], HAND[0])) != base
    # swapping the OPS (not the inputs) of a node's pairs is another cell
    cells = [list(c) for c in HAND]
    (i0, o0), (i1, o1) = cells[0][0], cells[0][1]
    cells[0][0], cells[0][1] = (i0, o1), (i1, o0)
    assert SPACE.arch_id(cells) != base
    # deeper isomorphisms are not merged: normal nodes 0 and 1 of this cell both read only
    # the cell inputs, and relabelling them (and the inputs that refer to them) gives
    # another id
    a = ((0, 3), (1, 4), (0, 2), (1, 0), (2, 5), (3, 6), (2, 1), (4, 3))
    b = ((0, 2), (1, 0), (0, 3), (1, 4), (2, 6), (3, 5), (3, 1), (4, 3))
    assert SPACE.arch_id((a, HAND[1])) != SPACE.arch_id((b, HAND[1]))


def test_size_counts() -> None:
    per_cell_inputs = 1
    for k in range(4):
        ordered = [(a, b) for a in range(k + 2) for b in range(k + 2) if a != b]
        per_cell_inputs *= len({frozenset(p) for p in ordered})
    assert per_cell_inputs == 180
    assert CELL_SIZE == 180 * 7**8 == 1_037_664_180
    assert SPACE.size() == SPACE_SIZE == CELL_SIZE**2 == 1_076_746_950_455_072_400
    assert NUM_COMPACT == 2**8 * SPACE_SIZE


def test_enumerate_is_refused_with_a_domain_error() -> None:
    with pytest.raises(NotEnumerableError) as err:
        SPACE.enumerate()
    assert isinstance(err.value, NasrankError) and isinstance(err.value, NotImplementedError)
    assert "1,076,746,950,455,072,400" in str(err.value)


def test_sample_is_valid_canonical_reproducible_and_covers_choices() -> None:
    draws = [SPACE.sample(np.random.default_rng(7)) for _ in range(2)]
    assert draws[0] == draws[1]
    rng = np.random.default_rng(0)
    archs = [SPACE.sample(rng) for _ in range(400)]
    assert all(SPACE.validate(a) == a for a in archs)
    assert len({SPACE.arch_id(a) for a in archs}) == 400
    last_inputs = {p[0] for a in archs for c in a for p in c[6:]}
    assert last_inputs == {0, 1, 2, 3, 4}
    assert {p[1] for a in archs for c in a for p in c} == set(range(7))
    # node k reads 2 of its k + 2 predecessors uniformly: P(input 0 used by node 3) = 2/5
    used = np.mean([any(p[0] == 0 for p in a[0][6:]) for a in archs])
    assert abs(used - 0.4) < 0.08


def test_mutate_changes_exactly_one_op_or_input_and_is_valid() -> None:
    rng = np.random.default_rng(3)
    kinds = {"op": 0, "input": 0}
    for _ in range(300):
        parent = SPACE.sample(rng)
        child = SPACE.mutate(parent, rng)
        assert SPACE.validate(child) == child
        assert SPACE.arch_id(child) != SPACE.arch_id(parent)
        assert child in SPACE.neighbours(parent)
        (change,) = changed_pairs(parent, child)
        _, _, old, new = change
        assert len(old) == len(new) == 1
        (i_old, o_old), (i_new, o_new) = next(iter(old)), next(iter(new))
        assert (i_old == i_new) != (o_old == o_new)
        kinds["op" if i_old == i_new else "input"] += 1
    # NASLib: op and input changes are drawn with probability 1/2 each, but node 0's
    # inputs cannot move and other rejected input draws are redrawn
    assert kinds["op"] > kinds["input"] > 30


def test_mutate_accepts_any_spelling_and_rejects_outsiders() -> None:
    child = SPACE.mutate(KEY, np.random.default_rng(0))
    assert SPACE.arch_id(child) != KEY_CANONICAL
    with pytest.raises(OutOfDomainError):
        SPACE.mutate([HAND[0]], np.random.default_rng(0))


def test_neighbourhood_size_is_constant() -> None:
    rng = np.random.default_rng(5)
    for arch in (HAND, *(SPACE.sample(rng) for _ in range(5))):
        nbrs = SPACE.neighbours(arch)
        # 16 pairs x 6 other ops; per cell and node k, each of its 2 pairs has k other
        # inputs (k + 2 predecessors minus its own and its sibling's)
        assert len(nbrs) == len(set(nbrs)) == 16 * 6 + 2 * 2 * (0 + 1 + 2 + 3)
        assert SPACE.validate(arch) not in nbrs


def test_genotype_round_trip() -> None:
    arch = from_genotype(GENOTYPE_NORMAL, GENOTYPE_REDUCE)
    assert SPACE.validate(arch) == arch
    normal, reduce = to_genotype(arch)
    assert sorted(normal) == sorted(GENOTYPE_NORMAL)
    assert sorted(reduce) == sorted(GENOTYPE_REDUCE)
    assert from_genotype(normal, reduce) == arch
    with pytest.raises(OutOfDomainError, match="reads input 2 twice"):
        from_genotype(GENOTYPE_NORMAL, GENOTYPE_REDUCE[:4] + [("skip_connect", 2)] * 4)


# ------------------------------------------------------------------------------ reader


def _record(key: str, idx: int, val: float, proxies: dict[str, tuple[float, float]]) -> dict:
    rec: dict[str, Any] = {"idx": str(idx), "arch": key, "val_accuracy": val}
    rec.update({p: {"score": s, "time": t} for p, (s, t) in proxies.items()})
    return rec


def _write(tmp: Path, records: dict[str, dict], top: str = "cifar10") -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / FILE).write_text(json.dumps({top: records}), encoding="utf-8")
    return tmp


def test_duplicates_under_the_canonical_key_are_merged(tmp_path: Path) -> None:
    other = to_string(HAND)
    swapped = str([list(c) for c in swap_node(SPACE.validate(KEY), 1, 3)])
    records = {
        KEY: _record(KEY, 5, 90.0, {"synflow": (10.0, 1.0), "snip": (1.0, 0.5)}),
        other: _record(other, 2, 93.0, {"synflow": (20.0, 2.0), "snip": (2.0, 0.5)}),
        swapped: _record(swapped, 9, 92.0, {"synflow": (30.0, 3.0), "snip": (3.0, 1.5)}),
    }
    proc = ingest("darts", _write(tmp_path, records))["darts"]
    df = proc.table.to_pandas()
    assert list(df["arch_id"]) == [other, KEY_CANONICAL]  # by smallest idx
    row = df.iloc[1]
    assert list(row["naslib_keys"]) == [KEY, swapped] and list(row["naslib_idx"]) == [5, 9]
    assert row["val_acc"] == pytest.approx(91.0)
    assert row["zc_synflow"] == pytest.approx(20.0)
    assert row["zc_snip_time_s"] == pytest.approx(1.0)
    assert proc.extra["duplicates_merged"] == 1 and proc.extra["upstream_records"] == 3
    assert "1 duplicate records merged" in proc.notes


def test_failed_or_missing_proxy_scores_are_nulls(tmp_path: Path) -> None:
    other = to_string(HAND)
    records = {
        KEY: _record(KEY, 1, 90.0, {"synflow": (-1e8, 1.0), "snip": (1.0, 0.5)}),
        other: _record(other, 2, 93.0, {"synflow": (20.0, 2.0)}),
    }
    proc = ingest("darts", _write(tmp_path, records))["darts"]
    assert proc.table.column("zc_synflow").to_pylist() == [None, 20.0]
    assert proc.table.column("zc_snip").to_pylist() == [1.0, None]
    assert proc.table.column("zc_synflow_time_s").to_pylist() == [1.0, 2.0]
    assert proc.extra["zero_cost"]["n_failed"] == {"snip": 0, "synflow": 1}


@pytest.mark.parametrize(("mutate", "needle"), [
    (lambda r: r[KEY].update(arch="[[...]]"), "not the key"),
    (lambda r: r[KEY].update(val_accuracy=101.0), "not a percentage"),
    (lambda r: r[KEY].update(val_accuracy=float("nan")), "finite number"),
    (lambda r: r[KEY].pop("idx"), "missing keys ['idx']"),
    (lambda r: r[KEY].update(idx="x"), "not an integer"),
    (lambda r: r[KEY].update(synflow="x"), "proxy 'synflow'"),
    (lambda r: r[KEY].update(synflow={"score": 1.0, "time": -1.0}), "not a number of seconds"),
    (lambda r: r.update({"[[(0, 0)]]": _record("[[(0, 0)]]", 7, 90.0, {})}),
     "not a DARTS cell"),
])
def test_format_errors(tmp_path: Path, mutate: Any, needle: str) -> None:
    other = to_string(HAND)
    records = {
        other: _record(other, 1, 93.0, {"synflow": (1.0, 1.0), "snip": (1.0, 1.0)}),
        KEY: _record(KEY, 2, 92.0, {"synflow": (1.0, 1.0), "snip": (1.0, 1.0)}),
    }
    mutate(records)
    with pytest.raises(DataFormatError) as err:
        ingest("darts", _write(tmp_path, records))
    assert needle in str(err.value)


def test_wrong_dataset_key(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="one key 'cifar10'"):
        ingest("darts", _write(tmp_path, {}, top="cifar100"))


# ------------------------------------------------------------------------------ encodings


def test_encoding_shapes_and_gcn_layout() -> None:
    table = spec_table([HAND, SPACE.validate(KEY)])
    onehot = get_encoding("darts", "adjacency_onehot")
    gcn = get_encoding("darts", "gcn")
    assert onehot.shape == (192,) and gcn.shape == (22, 35)
    assert gcn.layout == {"adjacency": [0, 22], "ops": [22, 34], "mask": [34, 35]}
    check_input("gcn", gcn.shape, gcn.layout)
    for enc in (onehot, gcn):
        x = enc.encode(table, enc.options)
        assert x.dtype == np.float32 and x.shape == (2, *enc.shape)


def test_adjacency_onehot_hand_checked() -> None:
    x = get_encoding("darts", "adjacency_onehot").encode(spec_table([HAND]), {})[0]
    # normal block: inputs at 5 * j + input, ops at 40 + 7 * j + op
    normal = [0, 6, 11, 17, 20, 28, 32, 39, 43, 51, 56, 61, 73, 81, 83, 92]
    # reduce block, offset 96
    reduce = [96 + i for i in (0, 6, 10, 16, 22, 28, 31, 38, 40, 48, 56, 64, 72, 80, 88, 89)]
    assert sorted(np.flatnonzero(x).tolist()) == normal + reduce


def test_gcn_hand_checked() -> None:
    x = get_encoding("darts", "gcn").encode(spec_table([HAND]), {})[0]
    adj, feats, mask = x[:, :22], x[:, 22:34], x[:, 34]
    out = [(j, 10) for j in range(2, 10)]
    normal = [(0, 2), (1, 3), (1, 4), (2, 5), (3, 5), (0, 6), (4, 7), (5, 7), (2, 8), (3, 8),
              (6, 9), (7, 9), *out]
    reduce = [(0, 2), (1, 3), (0, 4), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (1, 8), (4, 9),
              (5, 9), *out]
    expected = sorted(normal + [(a + 11, b + 11) for a, b in reduce])
    assert sorted(zip(*(v.tolist() for v in np.nonzero(adj)), strict=True)) == expected
    # types: c_k-2 0, c_k-1 1, op + 2, output 9; then the cell flag (10 normal, 11 reduce)
    types = [0, 1, *(op + 2 for _, op in HAND[0]), 9, 0, 1, *(op + 2 for _, op in HAND[1]), 9]
    assert feats[:, :10].argmax(axis=1).tolist() == types
    assert feats[:11, 10:].tolist() == [[1.0, 0.0]] * 11
    assert feats[11:, 10:].tolist() == [[0.0, 1.0]] * 11
    assert feats.sum(axis=1).tolist() == [2.0] * 22
    assert mask.tolist() == [1.0] * 22


def test_gcn_tells_the_two_cells_apart() -> None:
    """Without the cell flag a permutation-invariant GCN could not see which cell is which."""
    import torch

    enc = get_encoding("darts", "gcn")
    x = enc.encode(spec_table([HAND, (HAND[1], HAND[0])]), {})
    torch.manual_seed(0)
    model = get_predictor("gcn", enc.shape, enc.layout, hidden=16, layers=2, seed=0)
    model.eval()
    with torch.no_grad():
        pred, _ = model(torch.from_numpy(x))
    assert not torch.isclose(pred[0], pred[1])


def test_encodings_are_one_to_one_on_samples() -> None:
    rng = np.random.default_rng(11)
    archs = list({SPACE.arch_id(a): a for a in (SPACE.sample(rng) for _ in range(1000))}.values())
    # near neighbours are the hard case
    archs += SPACE.neighbours(archs[0])
    table = spec_table(archs)
    for name in ("adjacency_onehot", "gcn"):
        x = get_encoding("darts", name).encode(table, {})
        assert len(np.unique(x.reshape(len(archs), -1), axis=0)) == len(archs), name


@pytest.mark.parametrize(("column", "value", "needle"), [
    ("normal_in_1", 2, "inputs must be in 0..1"),
    ("reduce_in_5", 2, "are equal (2)"),
    ("reduce_op_5", "conv", "not one of"),
])
def test_encoding_rejects_bad_specs(column: str, value: Any, needle: str) -> None:
    table = spec_table([HAND])
    i = table.column_names.index(column)
    table = table.set_column(i, column, pa.array([value], table.schema.field(column).type))
    with pytest.raises(OutOfDomainError) as err:
        get_encoding("darts", "gcn").encode(table, {})
    assert needle in str(err.value)
    with pytest.raises(DataFormatError, match="lacks column 'normal_in_0'"):
        get_encoding("darts", "adjacency_onehot").encode(table.drop(["normal_in_0"]), {})


# ------------------------------------------------------------------------------ mirror


@pytest.fixture(scope="module")
def workdir(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """``nasrank fetch/ingest/encode darts`` through the CLI, mirror from NASRANK_MIRROR."""
    root = tmp_path_factory.mktemp("darts")
    params = tmp_params(root)
    params["train"]["by_predictor"] = {"gcn": {"batch_size": 32, "epochs": 2},
                                       "mlp": {"batch_size": 32, "epochs": 2}}
    params["predictors"].update(gcn={"hidden": 32, "layers": 2}, mlp={"hidden": [32]})
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NASRANK_MIRROR", str(mirror))
        for argv in (["fetch", "darts"], ["ingest", "darts"], ["encode", "darts", "gcn"],
                     ["encode", "darts", "adjacency_onehot"]):
            assert main(["--params", str(path), "-q", *argv]) == 0, argv
    return root, params


@pytest.fixture(scope="module")
def table(workdir: tuple[Path, dict]) -> pa.Table:
    return pq.read_table(workdir[0] / "data" / "processed" / "darts.parquet")


@pytest.fixture(scope="module")
def upstream(workdir: tuple[Path, dict]) -> dict[str, dict]:
    raw = workdir[0] / "data" / "raw" / "darts" / FILE
    return json.loads(raw.read_text(encoding="utf-8"))["cifar10"]


@pytest.mark.mirror
def test_ingest_table_and_metadata(workdir: tuple[Path, dict], table: pa.Table) -> None:
    proxies = ["epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm", "nwot",
               "params", "plain", "snip", "synflow"]
    assert table.num_rows == 725
    assert table.column_names == [
        "arch_id", *genotype_columns(), "naslib_keys", "naslib_idx", "val_acc",
        *(c for p in proxies for c in (f"zc_{p}", f"zc_{p}_time_s")),
    ]
    for name in ("val_acc", *(c for c in table.column_names if c.startswith("zc_"))):
        assert table.schema.field(name).type == pa.float64(), name
    assert len(set(table.column("arch_id").to_pylist())) == 725
    meta = read_metadata(workdir[0] / "data" / "processed" / "darts.parquet")
    assert meta["surrogate_labels"] is True
    assert "SURROGATE" in meta["notes"] and "No duplicate cells" in meta["notes"]
    assert "SURROGATE" in meta["columns"]["val_acc"]
    assert meta["default_target"] == "val_acc"
    assert meta["duplicates_merged"] == 0 and meta["upstream_records"] == 725
    assert meta["zero_cost"]["proxies"] == proxies
    assert meta["zero_cost"]["n_values"] == dict.fromkeys(proxies, 725)
    assert require_zero_cost(meta, ["synflow", "jacov"], times=True) == [
        "zc_synflow", "zc_synflow_time_s", "zc_jacov", "zc_jacov_time_s"]
    assert meta["sources"][0]["sha256"] == get_benchmark("darts").files[0].sha256
    df = table.to_pandas()
    assert df["val_acc"].between(90, 95).all()
    assert (df["naslib_idx"].map(list) == [[i] for i in range(725)]).all()


@pytest.mark.mirror
def test_ingest_values_match_upstream(table: pa.Table, upstream: dict[str, dict]) -> None:
    rows = table.to_pylist()
    for row in rows:
        (key,) = row["naslib_keys"]
        rec = upstream[key]
        assert row["arch_id"] == SPACE.arch_id(key)
        assert row["naslib_idx"] == [int(rec["idx"])]
        assert row["val_acc"] == rec["val_accuracy"]
        for name, value in rec.items():
            if isinstance(value, dict):
                assert row[f"zc_{name}"] == value["score"]
                assert row[f"zc_{name}_time_s"] == value["time"]
        # the genotype columns spell the arch_id
        arch = [[(row[f"{c}_in_{j}"], OPS.index(row[f"{c}_op_{j}"])) for j in range(8)]
                for c in ("normal", "reduce")]
        assert to_string(arch) == row["arch_id"]


@pytest.mark.mirror
def test_ingest_agrees_with_the_derived_csv(mirror: Path, table: pa.Table) -> None:
    import pandas as pd

    path = mirror / "derived" / "nb301_zc725.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} not in the mirror")
    derived = pd.read_csv(path).set_index("naslib_compact_genotype")
    df = table.to_pandas()
    df["key"] = df["naslib_keys"].map(lambda k: k[0])
    df = df.set_index("key").loc[derived.index]
    assert np.allclose(df["val_acc"], derived["val_accuracy"], rtol=0, atol=1e-12)
    assert np.allclose(df["zc_synflow"], derived["synflow"], rtol=1e-12)


@pytest.mark.mirror
def test_op_and_input_codes_match_naslib_parameter_counts(table: pa.Table) -> None:
    """NASLib's params proxy is linear in per-(cell, op, input is a cell input) counts.

    This checks the decoding of the compact genotype independently of NASLib's source:
    the pools (0, 1) cost the same, sep/dil convs are ordered by size, and only op 2 read
    from a cell input of the reduction cell costs extra (the strided skip_connect is a
    FactorizedReduce).
    """
    df = table.to_pandas()
    x = np.zeros((len(df), 2, 2, 7))
    for c, cell in enumerate(("normal", "reduce")):
        for j in range(8):
            inp = df[f"{cell}_in_{j}"].to_numpy()
            op = df[f"{cell}_op_{j}"].map(OPS.index).to_numpy()
            np.add.at(x, (np.arange(len(df)), c, (inp < 2).astype(int), op), 1)
    # the counts of a cell sum to 8, so the fit is only defined up to a constant per cell:
    # compare coefficients within a (cell, input kind) group, where that constant cancels
    design = x.reshape(len(df), -1)
    a = np.c_[design, np.ones(len(df))]
    y = df["zc_params"].to_numpy()
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    assert np.abs(a @ coef - y).max() < 1e-9
    w = coef[:-1].reshape(2, 2, 7)
    w = w - w[:, :, :1]  # relative to max_pool_3x3 of the same group
    sep3, sep5, dil3, dil5 = (OPS.index(n) for n in
                              ("sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"))
    skip = OPS.index("skip_connect")
    for c in range(2):
        for kind in range(2):
            g = w[c, kind]
            assert g[1] == pytest.approx(0, abs=1e-9)  # avg_pool = max_pool
            assert g[sep5] > g[sep3] > g[dil5] > g[dil3] > 1e-3
    # skip costs nothing except from a cell input of the reduction cell
    assert abs(w[0, 0, skip]) < 1e-9 and abs(w[0, 1, skip]) < 1e-9 and abs(w[1, 0, skip]) < 1e-9
    assert w[1, 1, skip] > 1e-3


@pytest.mark.mirror
def test_cli_features_match_the_encoder(workdir: tuple[Path, dict], table: pa.Table) -> None:
    from nasrank.encodings.store import read_features

    root = workdir[0]
    for name in ("gcn", "adjacency_onehot"):
        enc = get_encoding("darts", name)
        feats = read_features(root / "data" / "features" / "darts" / f"{name}.parquet")
        assert tuple(feats.meta["shape"]) == enc.shape
        x = feats.x.reshape(-1, *enc.shape)
        assert x.shape[0] == 725
        assert np.array_equal(x, enc.encode(table, {}))
    x = enc.encode(table, {})
    assert len(np.unique(x, axis=0)) == 725


@pytest.mark.mirror
@pytest.mark.parametrize(("predictor", "encoding", "loss"), [
    ("gcn", "gcn", "hr"),
    ("gcn", "gcn", "mape"),
    ("gcn", "gcn", "listmle"),
    ("mlp", "adjacency_onehot", "warp"),
])
def test_train_two_epochs_on_50_cells(workdir: tuple[Path, dict], predictor: str,
                                      encoding: str, loss: str) -> None:
    params = workdir[1]
    cfg = config_from_params(params, bench="darts", task=None, encoding=encoding,
                             predictor=predictor, loss=loss, train_size=50, seed=0)
    result = run(cfg, params)
    assert result["config"]["target"] == "val_acc" and result["config"]["train_size"] == 50
    out = Path(params["data"]["models_dir"]) / cfg.run_id
    pred = pq.read_table(out / "predictions.parquet").to_pandas()
    assert len(pred) == 725 and (pred["split"] == "train").sum() == 50
    assert np.isfinite(pred["y_pred"]).all()
    log = (out / "log.csv").read_text(encoding="utf-8").strip().splitlines()
    assert len(log) == 1 + 2  # header + 2 epochs
    assert all(math.isfinite(float(v)) for line in log[1:] for v in line.split(",")[1:2])
    assert os.path.getsize(out / "model.bin") > 0
