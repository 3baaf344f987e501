"""Tests of the NAS-Bench-Macro space and reader against the mirrored json."""

from __future__ import annotations

import itertools
import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from nasrank.benchmarks.fetch import fetch_benchmark
from nasrank.benchmarks.nbmacro import FILE, ingest
from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.spaces import get_space
from nasrank.spaces.nbmacro import LAYER_CHOICES, NBMacroSpace, canonicalize

ALL_SPECS = ["".join(p) for p in itertools.product("012", repeat=8)]


def upstream_get_real_arch(arch: str, stages: tuple[int, ...] = (2, 3, 3)) -> str:
    """Independent transcription of xiusu/NAS-Bench-Macro train/utils.py get_real_arch."""
    layers = list(arch)
    result = ""
    for stage in stages:
        id_num = 0
        for idx in range(stage):
            op = layers.pop(0)
            if idx == 0:
                result += op
                continue
            if op != "0":
                result += op
            else:
                id_num += 1
        result += "0" * id_num
    return result


@pytest.fixture(scope="module")
def raw(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``data/raw/nbmacro`` fetched from the mirror (SHA-256 checked)."""
    dest = tmp_path_factory.mktemp("raw") / "nbmacro"
    fetch_benchmark("nbmacro", dest, mirror=mirror, progress=False)
    return dest


@pytest.fixture(scope="module")
def upstream(raw: Path) -> dict:
    return json.loads((raw / FILE).read_text())


@pytest.fixture(scope="module")
def processed(raw: Path):
    return ingest(raw)["nbmacro"]


# ---------------------------------------------------------------- table


def test_one_row_per_distinct_network_covering_all_6561_keys(processed, upstream) -> None:
    t = processed.table.to_pydict()
    assert len(upstream) == 6561
    assert processed.table.num_rows == 3969
    assert len(set(t["arch_id"])) == 3969
    aliases = [k for row in t["aliases"] for k in row]
    assert len(aliases) == len(set(aliases)) == 6561
    assert set(aliases) == set(upstream)
    assert t["arch_id"] == list(NBMacroSpace().enumerate())
    assert t["arch_id"] == sorted(t["arch_id"])  # base-3 order of equal-length strings


def test_values_are_the_upstream_values(processed, upstream) -> None:
    t = processed.table.to_pydict()
    for i, arch in enumerate(t["arch_id"]):
        for key in t["aliases"][i]:
            rec = upstream[key]
            assert t["test_acc_seeds"][i] == rec["test_acc"]
            assert t["test_acc"][i] == rec["mean_acc"]
            assert t["test_acc_std"][i] == rec["std"]
            assert t["params"][i] == rec["params"]
            assert t["flops"][i] == rec["flops"]
        assert [LAYER_CHOICES.index(t[f"op_{j}"][i]) for j in range(8)] == [int(c) for c in arch]


def test_mean_and_std_are_those_of_the_seeds_in_percent(processed) -> None:
    t = processed.table.to_pydict()
    for seeds, mean, std in zip(t["test_acc_seeds"], t["test_acc"], t["test_acc_std"], strict=True):
        assert len(seeds) == 3
        assert mean == pytest.approx(statistics.fmean(seeds), abs=1e-9)
        assert std == pytest.approx(statistics.pstdev(seeds), abs=1e-9)
    assert min(t["test_acc"]) > 40 and max(t["test_acc"]) < 100
    assert max(t["test_acc"]) == pytest.approx(93.1266632)


def test_schema_and_meanings(processed) -> None:
    schema = processed.table.schema
    assert schema.names[0] == "arch_id"
    assert str(schema.field("test_acc_seeds").type) == "list<item: double>"
    assert str(schema.field("params").type) == str(schema.field("flops").type) == "int64"
    assert processed.extra["default_target"] == "test_acc"
    assert "percent" in processed.columns["test_acc_seeds"]
    assert "BEST" in processed.columns["test_acc_seeds"]
    assert processed.sources == [FILE]


# ---------------------------------------------------------------- space


def test_canonical_form_is_upstream_get_real_arch() -> None:
    space = NBMacroSpace()
    ids = {}
    for spec in ALL_SPECS:
        assert canonicalize(spec) == upstream_get_real_arch(spec)
        ids.setdefault(space.arch_id(spec), []).append(spec)
    assert len(ids) == space.size() == 3969 == 9 * 21 * 21
    assert {k: tuple(v) for k, v in ids.items()} == {k: space.aliases(k) for k in ids}


def test_equivalent_specs_share_a_record_and_an_id(upstream) -> None:
    space = NBMacroSpace()
    for spec in ALL_SPECS:
        assert upstream[spec] == upstream[space.arch_id(spec)]
    assert space.arch_id("10002201") == space.arch_id("10020210") == "10020210"
    assert space.arch_id("01000000") == "01000000"  # a stage's first layer never moves


def test_validate_accepts_strings_indices_and_names() -> None:
    space = NBMacroSpace()
    assert space.validate([1, 0, 0, 2, 2, 0, 1, 0]) == "10022010"
    assert space.validate(np.array([1, 0, 0, 2, 2, 0, 1, 0])) == "10022010"
    names = ["MB3_K3", "Identity", "Identity", "MB6_K5", "MB6_K5", "Identity", "MB3_K3", "Identity"]
    assert space.validate(names) == "10022010"
    assert space.layer_names("10002201") == (  # names of the canonical "10020210"
        "MB3_K3", "Identity", "Identity", "MB6_K5", "Identity",
        "MB6_K5", "MB3_K3", "Identity",
    )  # fmt: skip
    assert isinstance(get_space("nbmacro"), NBMacroSpace)


@pytest.mark.parametrize(
    ("arch", "match"),
    [
        ("1111111", "need 8 layer choices"),
        ("111111111", "need 8 layer choices"),
        ("11111113", "need 8 layer choices"),
        ([1, 1, 1, 1, 1, 1, 1, 3], "layer 7 choice 3"),
        ([1, 1, 1, 1, 1, 1, 1, True], "layer 7 choice True"),
        (["MB3_K3"] * 7 + ["Conv3x3"], "layer 7 choice 'Conv3x3'"),
        (11111111, "not a NAS-Bench-Macro architecture"),
    ],
)
def test_out_of_domain(arch, match: str) -> None:
    with pytest.raises(OutOfDomainError, match=match):
        NBMacroSpace().validate(arch)


def test_sample_and_mutate() -> None:
    space = NBMacroSpace()
    rng = np.random.default_rng(0)
    counts: dict[str, int] = {}
    for _ in range(20_000):
        arch = space.sample(rng)
        counts[arch] = counts.get(arch, 0) + 1
        assert space.validate(arch) == arch
    assert len(counts) > 3900  # ~3,969 x (1 - e^-5) seen; a spec-uniform sampler sees fewer
    # a sampler uniform over the 6,561 strings would favour the 4-alias networks 4:1
    four = [c for a, c in counts.items() if len(space.aliases(a)) == 4]
    one = [c for a, c in counts.items() if len(space.aliases(a)) == 1]
    assert 0.8 < np.mean(four) / np.mean(one) < 1.25
    for _ in range(500):
        arch = space.sample(rng)
        child = space.mutate(arch, rng)
        assert space.validate(child) == child != arch
        assert sum(a != b for a, b in zip(arch, child, strict=True)) >= 1
    assert space.mutate("10002201", np.random.default_rng(3)) == space.mutate(
        "10020210", np.random.default_rng(3)
    )


# ---------------------------------------------------------------- malformed files


def _write(tmp_path: Path, data: object) -> Path:
    (tmp_path / FILE).write_text(json.dumps(data))
    return tmp_path


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.pop("22222222"), r"missing keys \['22222222'\]"),
        (lambda d: d.update({"2222222x": d["22222222"]}), "key '2222222x' is not a layer string"),
        (lambda d: d["10020210"].pop("flops"), r"key '10020210': missing keys \['flops'\]"),
        (lambda d: d["10020210"].update(seed=0), r"key '10020210': unknown keys \['seed'\]"),
        (
            lambda d: d["10020210"].update(mean_acc=50.0),
            r"key '10020210': key mean_acc: 50\.0 is not the mean",
        ),
        (
            lambda d: d["10020210"].update(std=1.0),
            r"key '10020210': key std: 1\.0 is not the population std",
        ),
        (
            lambda d: d["10020210"].update(test_acc=[90.0, 91.0]),
            r"key '10020210': key test_acc: expected 3 runs",
        ),
        (
            lambda d: d["10020210"].update(params=1.5),
            r"key '10020210': key params: expected an integer",
        ),
        (
            lambda d: d["10002201"].update(params=1),
            r"key '10002201': record differs from that of the equivalent key '10020210'",
        ),
    ],
)
def test_malformed_file_names_file_and_key(tmp_path: Path, upstream, edit, match) -> None:
    data = {k: dict(v) for k, v in upstream.items()}
    edit(data)
    with pytest.raises(DataFormatError, match=r"nas-bench-macro_cifar10\.json: " + match):
        ingest(_write(tmp_path, data))


def test_missing_or_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="missing"):
        ingest(tmp_path)
    (tmp_path / FILE).write_text("{not json")
    with pytest.raises(DataFormatError, match="not valid JSON"):
        ingest(tmp_path)
    with pytest.raises(DataFormatError, match="expected an object"):
        ingest(_write(tmp_path, [1, 2]))
