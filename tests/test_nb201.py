"""Tests of the NAS-Bench-201 space (nasrank.spaces.nb201) and reader (benchmarks.nb201).

The reader's values are cross-checked against the decoded CSVs in the mirror's
``derived/`` folder, which were produced independently of this code.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import pickle
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nasrank.benchmarks import nb201 as reader
from nasrank.benchmarks.common import Processed
from nasrank.benchmarks.pickles import load_restricted
from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.spaces import get_space
from nasrank.spaces.nb201 import (
    OPS,
    SPACE_SIZE,
    NB201Space,
    all_arch_strings,
    arch_to_index,
    arch_to_naslib,
    arch_to_str,
    index_to_arch,
    naslib_to_arch,
    str_to_arch,
)

TASKS = ("cifar10", "cifar100", "imagenet16_120")
NASLIB_DATASET = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16_120": "ImageNet16-120"}
MINI_PREFIX = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16_120": "imagenet"}
ARCH0 = (
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
    "skip_connect~2|"
)


# --- space ----------------------------------------------------------------------------


def test_round_trip_string_index_naslib_over_whole_space() -> None:
    seen_str, seen_naslib = set(), set()
    for i in range(SPACE_SIZE):
        arch = index_to_arch(i)
        s = arch_to_str(arch)
        assert str_to_arch(s) == arch
        assert arch_to_index(arch) == i
        assert arch_to_index(str_to_arch(s)) == i
        t = arch_to_naslib(arch)
        assert naslib_to_arch(t) == arch
        seen_str.add(s)
        seen_naslib.add(t)
    assert len(seen_str) == len(seen_naslib) == SPACE_SIZE
    assert seen_naslib == set(itertools.product(range(5), repeat=6))


def test_index_order_is_a_permutation_of_the_product() -> None:
    archs = list(NB201Space().enumerate())
    assert sorted(archs, key=lambda a: [OPS.index(op) for op in a]) == list(
        itertools.product(OPS, repeat=6)
    )
    assert arch_to_str(archs[0]) == ARCH0
    assert all_arch_strings()[0] == ARCH0


def test_naslib_convention_by_hand() -> None:
    # NASLib edges (1<-0, 2<-0, 3<-0, 2<-1, 3<-1, 3<-2); codes 0 skip 1 none 2 3x3 3 1x1 4 avg.
    arch = naslib_to_arch((0, 2, 3, 2, 3, 1))
    assert arch_to_str(arch) == (
        "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|"
    )
    assert arch_to_naslib(str_to_arch("|none~0|+|skip_connect~0|nor_conv_3x3~1|+|"
                                      "nor_conv_1x1~0|avg_pool_3x3~1|none~2|")) == (
        1, 0, 3, 2, 4, 1,
    )


@pytest.mark.mirror
def test_index_order_matches_nas_201_arch_json(mirror: Path) -> None:
    with open(mirror / "nb201/nasbench-vis/nas-201-arch.json", encoding="utf-8") as f:
        archs = json.load(f)["archs"]
    assert all_arch_strings() == archs


@pytest.mark.mirror
def test_naslib_mapping_matches_derived_csv(mirror: Path) -> None:
    df = pd.read_csv(mirror / "derived/nb201_zc_val200ep.csv.gz")
    for key, arch_str in zip(df["naslib_tuple"], df["arch_str"], strict=True):
        t = tuple(int(x) for x in key.strip("()").split(","))
        assert arch_to_str(naslib_to_arch(t)) == arch_str
        assert arch_to_naslib(str_to_arch(arch_str)) == t


def test_space_interface() -> None:
    space = get_space("nb201")
    assert isinstance(space, NB201Space)
    assert space.size() == SPACE_SIZE
    arch = index_to_arch(123)
    assert space.validate(list(arch)) == arch
    assert space.arch_id(arch) == arch_to_str(arch)


def test_mutate_changes_exactly_one_edge_and_stays_valid() -> None:
    space = NB201Space()
    rng = np.random.default_rng(0)
    edges_hit = collections.Counter()
    for _ in range(3000):
        arch = space.sample(rng)
        child = space.mutate(arch, rng)
        assert space.validate(child) == child
        assert space.arch_id(child) != space.arch_id(arch)
        diff = [k for k in range(6) if arch[k] != child[k]]
        assert len(diff) == 1
        edges_hit[diff[0]] += 1
    assert set(edges_hit) == set(range(6))
    assert min(edges_hit.values()) > 400  # expected 500 each


def test_sample_is_uniform() -> None:
    space = NB201Space()
    rng = np.random.default_rng(1)
    n = 30000
    counts = np.zeros((6, 5))
    index_bins = np.zeros(25)
    for _ in range(n):
        arch = space.sample(rng)
        for k, op in enumerate(arch):
            counts[k, OPS.index(op)] += 1
        index_bins[arch_to_index(arch) * 25 // SPACE_SIZE] += 1
    expected = n / 5
    chi2_per_edge = ((counts - expected) ** 2 / expected).sum(axis=1)
    assert (chi2_per_edge < 18.5).all(), chi2_per_edge  # chi2(4) p=0.001 quantile
    chi2_index = ((index_bins - n / 25) ** 2 / (n / 25)).sum()
    assert chi2_index < 51.2, chi2_index  # chi2(24) p=0.001 quantile


@pytest.mark.parametrize(
    ("bad", "pattern"),
    [
        (("none",) * 5, "must have 6 ops, got 5"),
        (("none",) * 7, "must have 6 ops, got 7"),
        (("none", "none", "none", "none", "none", "conv3x3"), "unknown NB201 op 'conv3x3'"),
        (("none", "none", "none", "none", "none", 3), "unknown NB201 op 3"),
        (ARCH0, "str_to_arch"),  # a string is not an architecture tuple
        (42, "got 42"),
    ],
)
def test_validate_rejects(bad: object, pattern: str) -> None:
    with pytest.raises(OutOfDomainError, match=re.escape(pattern)):
        NB201Space().validate(bad)
    with pytest.raises(OutOfDomainError):
        NB201Space().mutate(bad, np.random.default_rng(0))


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "|none~0|+|none~0|none~1|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|",
        "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|max_pool_3x3~2|",
        "|none|+|none~0|none~1|+|none~0|none~1|none~2|",
        "none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    ],
)
def test_str_to_arch_rejects(bad: str) -> None:
    with pytest.raises(OutOfDomainError, match=re.escape(repr(bad))):
        str_to_arch(bad)


def test_str_to_arch_names_the_unknown_op() -> None:
    with pytest.raises(OutOfDomainError, match="max_pool_3x3"):
        str_to_arch("|none~0|+|none~0|none~1|+|none~0|none~1|max_pool_3x3~2|")


@pytest.mark.parametrize("bad", [-1, SPACE_SIZE, 1.0, True, "0"])
def test_index_to_arch_rejects(bad: object) -> None:
    with pytest.raises(OutOfDomainError, match=re.escape(repr(bad))):
        index_to_arch(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [(0, 0, 0, 0, 0), (0, 0, 0, 0, 0, 5), (0, 0, 0, 0, 0, -1),
                                 (0, 0, 0, 0, 0, 1.0), "(0, 0, 0, 0, 0, 0)"])
def test_naslib_to_arch_rejects(bad: object) -> None:
    with pytest.raises(OutOfDomainError):
        naslib_to_arch(bad)  # type: ignore[arg-type]


# --- reader ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nb201_raw(raw_root: Path) -> Path:
    return raw_root / "nb201"


@pytest.fixture(scope="module")
def tables(nb201_raw: Path) -> dict[str, Processed]:
    return reader.ingest(nb201_raw)


@pytest.mark.mirror
def test_ingest_shapes_and_columns(tables: dict[str, Processed]) -> None:
    assert sorted(tables) == [f"nb201-{t}" for t in sorted(TASKS)]
    expected_ids = all_arch_strings()
    for task in TASKS:
        p = tables[f"nb201-{task}"]
        t = p.table
        assert t.num_rows == SPACE_SIZE
        names = ["arch_id", "nb201_index", *[f"op_{k}" for k in range(6)],
                 "val_acc_12", "test_acc_12", "val_acc_200"]
        if task == "cifar10":
            names.append("test_acc_200")
        # then the zero-cost columns (tests/test_zero_cost.py)
        assert t.column_names[:len(names)] == names
        assert all(c.startswith("zc_") for c in t.column_names[len(names):])
        assert t["nb201_index"].to_pylist() == list(range(SPACE_SIZE))
        assert str(t.schema.field("nb201_index").type) == "int32"
        assert t["arch_id"].to_pylist() == expected_ids
        ops = list(zip(*(t[f"op_{k}"].to_pylist() for k in range(6)), strict=True))
        assert [arch_to_str(a) for a in ops[:500]] == expected_ids[:500]
        assert set(p.columns) == set(t.column_names)
        assert "12" in p.notes and "epoch" in p.notes
        want = "test_acc_200" if task == "cifar10" else "test_acc_12"
        assert p.extra["default_target"] == want
        for col in names[8:]:
            arr = t[col].to_numpy(zero_copy_only=False)
            arr = arr[~np.isnan(arr)]
            assert arr.min() >= 0 and arr.max() <= 100
    assert tables["nb201-cifar10"].table["val_acc_200"].null_count == SPACE_SIZE - 725
    assert tables["nb201-cifar100"].table["val_acc_200"].null_count == SPACE_SIZE - 725
    assert tables["nb201-imagenet16_120"].table["val_acc_200"].null_count == SPACE_SIZE - 724


@pytest.mark.mirror
def test_ingest_matches_derived_12_epoch_csv(tables: dict[str, Processed], mirror: Path) -> None:
    df = pd.read_csv(mirror / "derived/nb201_12ep_all3datasets.csv.gz")
    assert df["arch"].tolist() == list(range(SPACE_SIZE))
    assert df["cellstr"].tolist() == tables["nb201-cifar10"].table["arch_id"].to_pylist()
    for task in TASKS:
        t = tables[f"nb201-{task}"].table
        for split in ("val", "test"):
            ours = t[f"{split}_acc_12"].to_numpy()
            theirs = df[f"{MINI_PREFIX[task]}-{split}"].to_numpy()
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    # the 12-epoch maximum on CIFAR-10 test is 89.16, not the 200-epoch 94.37
    assert tables["nb201-cifar10"].table["test_acc_12"].to_numpy().max() == pytest.approx(89.16)


@pytest.mark.mirror
def test_ingest_matches_derived_200_epoch_csv(tables: dict[str, Processed], mirror: Path) -> None:
    df = pd.read_csv(mirror / "derived/nb201_cifar10_200ep.csv.gz")
    t = tables["nb201-cifar10"].table
    assert df["arch_str"].tolist() == t["arch_id"].to_pylist()
    np.testing.assert_allclose(
        t["test_acc_200"].to_numpy(), df["cifar10_test_acc_200ep_mean"].to_numpy(), atol=1e-9
    )
    assert t["test_acc_200"].to_numpy().max() == pytest.approx(94.37, abs=0.01)


@pytest.mark.mirror
def test_ingest_matches_derived_naslib_csv(tables: dict[str, Processed], mirror: Path) -> None:
    df = pd.read_csv(mirror / "derived/nb201_zc_val200ep.csv.gz")
    for task in TASKS:
        t = tables[f"nb201-{task}"].table
        ours = {
            a: v
            for a, v in zip(t["arch_id"].to_pylist(), t["val_acc_200"].to_pylist(), strict=True)
            if v is not None
        }
        sub = df[df["dataset"] == NASLIB_DATASET[task]]
        theirs = dict(zip(sub["arch_str"], sub["val_accuracy_200ep"], strict=True))
        assert ours.keys() == theirs.keys()
        for a, v in theirs.items():
            assert ours[a] == pytest.approx(v, abs=1e-9)


# --- restricted unpickling and corrupt inputs ----------------------------------------


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned > pwned.txt",))


def _copy_raw(src: Path, dest: Path) -> Path:
    dest.mkdir()
    for name in (reader.PD_FILE, reader.ARCH_JSON, reader.ZC_JSON):
        shutil.copy(src / name, dest / name)
    return dest


def test_restricted_unpickler_refuses_os_system(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / reader.PD_FILE
    path.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(DataFormatError, match=r"system") as exc:
        load_restricted(path, reader.PANDAS_PICKLE_GLOBALS)
    assert str(path) in str(exc.value)
    with pytest.raises(DataFormatError, match=r"refusing to unpickle"):
        reader.load_mini_bench(path, all_arch_strings())
    assert not (tmp_path / "pwned.txt").exists()


def test_restricted_unpickler_refuses_builtins_eval(tmp_path: Path) -> None:
    path = tmp_path / "x.pd"
    # GLOBAL builtins.eval, then call it: the textbook malicious pickle
    path.write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(DataFormatError, match=r"builtins\.eval"):
        load_restricted(path, reader.PANDAS_PICKLE_GLOBALS)


def test_mini_bench_rejects_non_dataframe(tmp_path: Path) -> None:
    path = tmp_path / reader.PD_FILE
    path.write_bytes(pickle.dumps({"arch": [0]}))
    with pytest.raises(DataFormatError, match="DataFrame"):
        reader.load_mini_bench(path, all_arch_strings())


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=reader.PD_FILE):
        reader.ingest(tmp_path)


@pytest.mark.mirror
def test_arch_json_out_of_order_is_reported(nb201_raw: Path, tmp_path: Path) -> None:
    with open(nb201_raw / reader.ARCH_JSON, encoding="utf-8") as f:
        obj = json.load(f)
    obj["archs"][5], obj["archs"][6] = obj["archs"][6], obj["archs"][5]
    path = tmp_path / reader.ARCH_JSON
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"nas-201-arch\.json.*'archs'.*row 5"):
        reader.load_arch_json(path, all_arch_strings())


@pytest.mark.mirror
@pytest.mark.parametrize(
    ("key", "pattern"),
    [("(0, 2, 3, 2, 3, 7)", r"'\(0, 2, 3, 2, 3, 7\)'"), ("not a tuple", "not a tuple")],
)
def test_naslib_json_bad_key_is_reported(
    nb201_raw: Path, tmp_path: Path, key: str, pattern: str
) -> None:
    with open(nb201_raw / reader.ZC_JSON, encoding="utf-8") as f:
        obj = json.load(f)
    obj["cifar100"][key] = {"arch": key, "val_accuracy": 50.0}
    path = tmp_path / reader.ZC_JSON
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(DataFormatError, match=pattern) as exc:
        reader.load_naslib_val(path)
    assert reader.ZC_JSON in str(exc.value) and "cifar100" in str(exc.value)


@pytest.mark.mirror
def test_naslib_json_bad_value_is_reported(nb201_raw: Path, tmp_path: Path) -> None:
    with open(nb201_raw / reader.ZC_JSON, encoding="utf-8") as f:
        obj = json.load(f)
    key = next(iter(obj["ImageNet16-120"]))
    obj["ImageNet16-120"][key]["val_accuracy"] = 0.93e3
    path = tmp_path / reader.ZC_JSON
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"ImageNet16-120.*val_accuracy 930"):
        reader.load_naslib_val(path)


@pytest.mark.mirror
def test_ingest_of_corrupt_dir_fails_cleanly(nb201_raw: Path, tmp_path: Path) -> None:
    raw = _copy_raw(nb201_raw, tmp_path / "raw")
    (raw / reader.ZC_JSON).write_text('{"cifar10": {}}', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"zc_nasbench201\.json.*missing keys"):
        reader.ingest(raw)


@pytest.mark.mirror
@pytest.mark.filterwarnings("error")
def test_mini_bench_loads_without_warnings(nb201_raw: Path) -> None:
    values = reader.load_mini_bench(nb201_raw / reader.PD_FILE, all_arch_strings())
    assert sorted(values) == sorted(
        f"{p}-{s}" for p in ("cifar10", "cifar100", "imagenet") for s in ("val", "test")
    )
