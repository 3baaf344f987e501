"""Tests of the TransNAS-Bench-101 micro space and its reader (NASLib's Zen zip).

Values are cross-checked against the mirror's independently decoded
``derived/tnb101_micro_full4096_7tasks.csv.gz``.
"""

from __future__ import annotations

import collections
import io
import itertools
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nasrank.benchmarks import tnb101_micro as reader
from nasrank.benchmarks.common import Processed
from nasrank.benchmarks.registry import TNB101_TASKS
from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.spaces import get_space
from nasrank.spaces.tnb101 import (
    EDGES,
    OPS,
    SPACE_SIZE,
    TNB101MicroSpace,
    arch_to_naslib,
    arch_to_str,
    naslib_to_arch,
    str_to_arch,
)

# --- space ----------------------------------------------------------------------------


def test_round_trip_over_whole_space() -> None:
    space = TNB101MicroSpace()
    archs = list(space.enumerate())
    ids = [space.arch_id(a) for a in archs]
    assert len(set(ids)) == SPACE_SIZE == space.size() == 4096
    assert ids == sorted(ids)
    for arch, arch_id in zip(archs, ids, strict=True):
        assert str_to_arch(arch_id) == arch
        t = arch_to_naslib(arch)
        assert naslib_to_arch(t) == arch
        assert arch_id == "64-41414-{}_{}{}_{}{}{}".format(*t)
    assert {arch_to_naslib(a) for a in archs} == set(itertools.product(range(4), repeat=6))


def test_arch_string_by_hand() -> None:
    arch = str_to_arch("64-41414-0_02_333")
    assert arch == ("none", "none", "nor_conv_1x1", "nor_conv_3x3", "nor_conv_3x3",
                    "nor_conv_3x3")
    assert arch_to_str(arch) == "64-41414-0_02_333"
    assert arch_to_naslib(str_to_arch("64-41414-1_23_012")) == (1, 2, 3, 0, 1, 2)
    assert isinstance(get_space("tnb101_micro"), TNB101MicroSpace)


@pytest.mark.parametrize(
    "bad",
    [
        "64-41414-basic",
        "64-4141-basic",
        "64-41414-0_02_33",
        "64-41414-0_023_33",
        "64-41414-4_02_333",
        "32-41414-0_02_333",
        "64-41414-0-02-333",
        "",
    ],
)
def test_str_to_arch_rejects(bad: str) -> None:
    with pytest.raises(OutOfDomainError, match=re.escape(repr(bad))):
        str_to_arch(bad)


@pytest.mark.parametrize(
    ("bad", "pattern"),
    [
        (("none",) * 5, "must have 6 ops, got 5"),
        (("none",) * 5 + ("avg_pool_3x3",), "unknown TNB101-micro op 'avg_pool_3x3'"),
        ("64-41414-0_02_333", "str_to_arch"),
        (None, "got None"),
    ],
)
def test_validate_rejects(bad: object, pattern: str) -> None:
    with pytest.raises(OutOfDomainError, match=re.escape(pattern)):
        TNB101MicroSpace().validate(bad)


@pytest.mark.parametrize("bad", [(0, 0, 0, 0, 0, 4), (0, 0, 0, 0, 0), (0, 0, 0, 0, 0, -1),
                                 (0, 0, 0, 0, 0, True), "000000"])
def test_naslib_to_arch_rejects(bad: object) -> None:
    with pytest.raises(OutOfDomainError):
        naslib_to_arch(bad)  # type: ignore[arg-type]


def test_mutate_and_sample() -> None:
    space = TNB101MicroSpace()
    rng = np.random.default_rng(0)
    n = 20000
    counts = np.zeros((6, 4))
    for _ in range(n):
        arch = space.sample(rng)
        for k, op in enumerate(arch):
            counts[k, OPS.index(op)] += 1
        child = space.mutate(arch, rng)
        assert space.validate(child) == child
        assert space.arch_id(child) != space.arch_id(arch)
        assert sum(a != b for a, b in zip(arch, child, strict=True)) == 1
    expected = n / 4
    chi2 = ((counts - expected) ** 2 / expected).sum(axis=1)
    assert (chi2 < 16.3).all(), chi2  # chi2(3) p=0.001 quantile


# --- reader ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zip_path(raw_root: Path) -> Path:
    return raw_root / "tnb101_micro" / reader.ZIP_FILE


@pytest.fixture(scope="module")
def tables(zip_path: Path) -> dict[str, Processed]:
    return reader.ingest(zip_path.parent)


def _disconnected(arch: tuple[str, ...]) -> bool:
    """True when no path of non-``none`` edges leads from node 0 to node 3."""
    live = {e for e, op in zip(EDGES, arch, strict=True) if op != "none"}
    reach = {0}
    for to_node in (1, 2, 3):
        if any((to_node, src) in live for src in reach):
            reach.add(to_node)
    return 3 not in reach


@pytest.mark.mirror
def test_ingest_shapes(tables: dict[str, Processed]) -> None:
    assert sorted(tables) == sorted(f"tnb101_micro-{t}" for t in TNB101_TASKS)
    ids = [arch_to_str(a) for a in TNB101MicroSpace().enumerate()]
    for task in TNB101_TASKS:
        p = tables[f"tnb101_micro-{task}"]
        t = p.table
        assert t.num_rows == 4096
        # then naslib_val_score and the zero-cost columns (tests/test_zero_cost.py)
        assert t.column_names[:9] == ["arch_id", *[f"op_{k}" for k in range(6)], "val_score",
                                      "zen"]
        assert t["arch_id"].to_pylist() == ids
        assert t["val_score"].null_count == 0
        assert t["zen"].null_count == 169
        assert p.extra["default_target"] == "val_score"
        assert p.extra["higher_is_better"] is True
        assert p.sources == [reader.ZIP_FILE, reader.ZC_FILE]
        val = t["val_score"].to_numpy()
        unit = reader.TASK_METRICS[task].unit
        if task == "room_layout":
            assert val.max() <= 0
            assert "negated" in p.columns["val_score"].lower()
        elif unit.startswith("SSIM"):
            assert val.min() >= 0 and val.max() <= 1
        else:
            assert val.min() >= 0 and val.max() <= 100
            assert val.max() > 1  # percent, not a fraction


@pytest.mark.mirror
def test_ingest_matches_derived_csv(tables: dict[str, Processed], mirror: Path) -> None:
    df = pd.read_csv(mirror / "derived/tnb101_micro_full4096_7tasks.csv.gz")
    assert len(df) == 4096
    ids = [
        arch_to_str(naslib_to_arch(tuple(int(x) for x in k.strip("()").split(","))))
        for k in df["naslib_tuple"]
    ]
    for task in TNB101_TASKS:
        t = tables[f"tnb101_micro-{task}"].table
        row = {a: i for i, a in enumerate(t["arch_id"].to_pylist())}
        order = [row[a] for a in ids]
        ours_val = t["val_score"].to_numpy()[order]
        np.testing.assert_allclose(ours_val, df[f"{task}_val"].to_numpy(), rtol=0, atol=1e-12)
        ours_zen = t["zen"].to_numpy(zero_copy_only=False)[order]
        theirs_zen = df[f"{task}_zen"].to_numpy()
        failed = theirs_zen == reader.ZEN_FAILED
        assert failed.sum() == 169
        assert np.isnan(ours_zen[failed]).all()
        np.testing.assert_allclose(ours_zen[~failed], theirs_zen[~failed], rtol=0, atol=1e-12)


@pytest.mark.mirror
def test_zen_failures_are_exactly_the_disconnected_cells(tables: dict[str, Processed]) -> None:
    """Confirms the decoding: code 0 is 'none' and positions follow the arch string."""
    space = TNB101MicroSpace()
    disconnected = np.array([_disconnected(a) for a in space.enumerate()])
    assert disconnected.sum() == 169
    for task in TNB101_TASKS:
        t = tables[f"tnb101_micro-{task}"].table
        assert (t["zen"].is_null().to_numpy(zero_copy_only=False) == disconnected).all()
    scene = tables["tnb101_micro-class_scene"].table["val_score"].to_numpy()
    assert len(set(scene[disconnected])) == 1
    assert scene[disconnected][0] < scene[~disconnected].min()


def _rewrite_zip(src: Path, dest: Path, edit) -> Path:
    """Copy the zip to ``dest``, passing each member's parsed JSON through ``edit``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name.endswith(".json"):
                new = edit(name, json.loads(data))
                if new is None:
                    continue
                data = json.dumps(new).encode()
            zout.writestr(name, data)
    return dest


@pytest.mark.mirror
def test_missing_task_is_named(zip_path: Path, tmp_path: Path) -> None:
    path = _rewrite_zip(zip_path, tmp_path / reader.ZIP_FILE,
                        lambda n, d: None if "--jigsaw--" in n else d)
    with pytest.raises(DataFormatError, match=r"all_benchmarks_zen\.zip.*'jigsaw'"):
        reader.ingest(tmp_path)
    assert path.is_file()


@pytest.mark.mirror
def test_missing_chunk_is_reported(zip_path: Path, tmp_path: Path) -> None:
    _rewrite_zip(zip_path, tmp_path / reader.ZIP_FILE,
                 lambda n, d: None if n.endswith("--normal--2000.json") else d)
    with pytest.raises(DataFormatError, match=r"'normal'.*offset 3000"):
        reader.ingest(tmp_path)


@pytest.mark.mirror
def test_bad_arch_is_reported(zip_path: Path, tmp_path: Path) -> None:
    def edit(name: str, records: list) -> list:
        if name.endswith("--class_scene--1000.json"):
            records[5]["arch"] = "(0, 0, 0, 0, 0, 4)"
        return records

    _rewrite_zip(zip_path, tmp_path / reader.ZIP_FILE, edit)
    with pytest.raises(DataFormatError, match=r"record 1005.*\(0, 0, 0, 0, 0, 4\)") as exc:
        reader.ingest(tmp_path)
    assert reader.ZIP_FILE in str(exc.value)


@pytest.mark.mirror
def test_non_finite_value_is_reported(zip_path: Path, tmp_path: Path) -> None:
    def edit(name: str, records: list) -> list:
        if name.endswith("--autoencoder--0.json"):
            records[7]["val_accuracy"] = float("nan")
        return records

    _rewrite_zip(zip_path, tmp_path / reader.ZIP_FILE, edit)
    with pytest.raises(DataFormatError, match=r"'autoencoder' record 7.*val_accuracy"):
        reader.ingest(tmp_path)


def test_unexpected_member_and_not_a_zip(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("zen/readme.txt", "hello")
    (tmp_path / reader.ZIP_FILE).write_bytes(buf.getvalue())
    with pytest.raises(DataFormatError, match=r"unexpected member 'zen/readme\.txt'"):
        reader.ingest(tmp_path)
    (tmp_path / reader.ZIP_FILE).write_bytes(b"not a zip")
    with pytest.raises(DataFormatError, match="not a zip"):
        reader.ingest(tmp_path)
    (tmp_path / reader.ZIP_FILE).unlink()
    with pytest.raises(DataFormatError, match="missing"):
        reader.ingest(tmp_path)


def test_metric_table_covers_every_task() -> None:
    assert set(reader.TASK_METRICS) == set(TNB101_TASKS)
    assert collections.Counter(m.metric for m in reader.TASK_METRICS.values()) == {
        "valid_top1": 3, "valid_ssim": 2, "valid_neg_loss": 1, "valid_acc": 1,
    }
