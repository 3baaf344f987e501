"""Tests of the NAS-Bench-Graph space and reader against the real ``.bench`` files.

The installed package ``nas_bench_graph`` is imported here only, as an independent
reference for the hash and the canonical form (product code re-implements both).
"""

from __future__ import annotations

import itertools
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from nas_bench_graph.architecture import Arch
from nas_bench_graph.readbench import read as package_read
from scipy import stats

from nasrank.benchmarks.fetch import fetch_benchmark
from nasrank.benchmarks.nbgraph import ingest, ingest_dataset
from nasrank.benchmarks.registry import NB_GRAPH_DATASETS
from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.spaces import get_space
from nasrank.spaces.nbgraph import (
    GNN_OPS,
    LINK_PATTERNS,
    PROTEINS_OPS,
    NBGraphArch,
    NBGraphSpace,
)

ALL_LINKS = [(0, a, b, c) for a in range(2) for b in range(3) for c in range(4)]


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``data/raw/nbgraph``, fetched from the installed distribution (SHA-256 checked)."""
    dest = tmp_path_factory.mktemp("raw") / "nbgraph"
    fetch_benchmark("nbgraph", dest, progress=False)
    return dest


@pytest.fixture(scope="module")
def tables(raw: Path) -> dict:
    return ingest(raw)


@pytest.fixture(scope="module")
def reference(raw: Path) -> dict[str, dict]:
    """The bench dicts as the package reads them (plain pickle)."""
    return {d: package_read(str(raw / f"{d}.bench")) for d in NB_GRAPH_DATASETS}


def _write_bench(path: Path, bench: dict) -> None:
    """Pickle ``bench`` with numpy floats made plain Python floats (no globals at all)."""
    plain = {
        k: {f: float(v) if isinstance(v, np.floating) else v for f, v in rec.items()}
        if isinstance(rec, dict)
        else rec
        for k, rec in bench.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(plain, f)


def _package_arch(arch: NBGraphArch) -> Arch:
    return Arch(list(arch.link), list(arch.ops))


# ---------------------------------------------------------------- tables


def test_one_table_per_dataset_with_a_row_per_bench_key(tables, reference) -> None:
    assert sorted(tables) == sorted(f"nbgraph-{d}" for d in NB_GRAPH_DATASETS)
    for d in NB_GRAPH_DATASETS:
        table = tables[f"nbgraph-{d}"].table
        keys = reference[d]
        assert table.num_rows == len(keys) == (2021 if d == "proteins" else 26206)
        hashes = table.column("nbgraph_hash").to_pylist()
        assert hashes == sorted(keys)
        ids = table.column("arch_id").to_pylist()
        assert len(set(ids)) == len(ids), "distinct bench keys must get distinct ids"


def test_values_are_the_bench_values_in_percent(tables, reference) -> None:
    for d in ("cora", "proteins", "physics"):
        t = tables[f"nbgraph-{d}"].table.to_pydict()
        bench = reference[d]
        for i, h in enumerate(t["nbgraph_hash"]):
            rec = bench[h]
            assert t["val_acc"][i] == pytest.approx(100 * rec["valid_perf"], abs=1e-12)
            assert t["test_acc"][i] == pytest.approx(100 * rec["perf"], abs=1e-12)
            assert t["latency_s"][i] == rec["latency"]
            assert t["params_m"][i] == rec["para"]
        assert min(t["test_acc"]) > 0 and max(t["test_acc"]) <= 100
        assert max(t["val_acc"]) > 1, "accuracies must be in percent"


def test_schema_meanings_and_targets(tables) -> None:
    cora = tables["nbgraph-cora"]
    names = cora.table.column_names
    assert names[:2] == ["arch_id", "nbgraph_hash"]
    assert str(cora.table.schema.field("nbgraph_hash").type) == "int64"
    assert all(str(cora.table.schema.field(f"link_{i}").type) == "int8" for i in range(4))
    assert {"val_acc", "test_acc", "latency_s", "params_m"} <= set(names)
    assert "percent" in cora.columns["test_acc"]
    assert cora.extra["default_target"] == "val_acc" and cora.extra["metric"] == "accuracy"
    proteins = tables["nbgraph-proteins"]
    assert proteins.extra["metric"] == "roc_auc"
    assert "ROC-AUC" in proteins.columns["test_acc"] and "ROC-AUC" in proteins.notes
    assert proteins.sources == ["proteins.bench"]
    ops = set()
    for i in range(4):
        ops |= set(proteins.table.column(f"op_{i}").to_pylist())
    assert ops == set(PROTEINS_OPS)


def test_spec_columns_rebuild_the_id(tables) -> None:
    t = tables["nbgraph-citeseer"].table.slice(0, 2000).to_pydict()
    space = NBGraphSpace()
    for i, arch_id in enumerate(t["arch_id"]):
        link = tuple(t[f"link_{j}"][i] for j in range(4))
        ops = tuple(t[f"op_{j}"][i] for j in range(4))
        assert space.arch_id((link, ops)) == arch_id
        assert space.nbgraph_hash((link, ops)) == t["nbgraph_hash"][i]


# ---------------------------------------------------------------- hash and canonical form


def test_hash_reimplementation_equals_package_on_every_key(reference) -> None:
    for d in ("cora", "proteins"):
        space = NBGraphSpace.for_dataset(d)
        for key in reference[d]:
            arch = space.from_hash(key)
            assert _package_arch(arch).hash_arch() == key
            assert _package_arch(arch).valid_hash() == key
            assert space.nbgraph_hash(arch) == key


def test_canonical_form_equals_package_valid_hash_on_all_specs() -> None:
    """All 24 link vectors x 9^4 op lists (identity network excluded)."""
    space = NBGraphSpace()
    id_of_hash: dict[int, str] = {}
    for link in ALL_LINKS:
        for ops in itertools.product(GNN_OPS, repeat=4):
            if set(ops) == {"skip"}:
                continue
            expected = Arch(list(link), list(ops)).valid_hash()
            arch = space.validate((link, ops))
            assert space.nbgraph_hash(arch) == expected, (link, ops)
            assert id_of_hash.setdefault(expected, str(arch)) == str(arch)
    assert len(id_of_hash) == space.size() == 26206


def test_equivalent_specs_share_an_id() -> None:
    space = NBGraphSpace()
    # the package README's example DAG (gcn -> gin -> fc, gcn -> cheb) in two node orders
    a = ((0, 1, 2, 1), ("gcn", "gin", "fc", "cheb"))
    b = ((0, 1, 1, 2), ("gcn", "gin", "cheb", "fc"))
    assert space.arch_id(a) == space.arch_id(b) == "0,1,1,2|gcn,gin,cheb,fc"
    # the README's "same architecture" (0,1,1,2)|gcn,cheb,gin,fc hangs fc under cheb, not
    # under gin: a different DAG, and upstream hashes it differently too
    readme = ((0, 1, 1, 2), ("gcn", "cheb", "gin", "fc"))
    assert space.arch_id(readme) != space.arch_id(a)
    assert Arch(*map(list, readme)).valid_hash() != Arch(*map(list, a)).valid_hash()
    # four parallel nodes: any order of the ops
    c = ((0, 0, 0, 0), ("sage", "gat", "fc", "gcn"))
    d = ((0, 0, 0, 0), ("gcn", "fc", "gat", "sage"))
    assert space.arch_id(c) == space.arch_id(d) == "0,0,0,0|gat,gcn,sage,fc"
    # arch_id and NBGraphArch round-trip through validate
    assert space.arch_id(space.arch_id(a)) == space.arch_id(a)
    assert space.validate(NBGraphArch(*a)) == space.validate(b)


def test_enumerate_is_canonical_and_sorted_by_hash() -> None:
    for variant, n in (("full", 26206), ("proteins", 2021)):
        space = NBGraphSpace(variant)
        archs = list(space.enumerate())
        assert len(archs) == space.size() == n
        hashes = [space.nbgraph_hash(a) for a in archs]
        assert hashes == sorted(hashes) == list(space.hashes())
        assert all(space.validate(a) == a for a in archs[:: 7 if variant == "full" else 1])
        assert {a.link for a in archs} == set(LINK_PATTERNS)
        assert list(space.arch_ids()) == [str(a) for a in archs]
    full = {str(a) for a in NBGraphSpace().enumerate()}
    assert {str(a) for a in NBGraphSpace("proteins").enumerate()} <= full


def test_registry_gives_the_full_space() -> None:
    space = get_space("nbgraph")
    assert isinstance(space, NBGraphSpace) and space.variant == "full"


# ---------------------------------------------------------------- sample and mutate


@pytest.mark.parametrize("variant", ["full", "proteins"])
def test_sample_and_mutate_stay_in_the_space(variant: str) -> None:
    space = NBGraphSpace(variant)
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        arch = space.sample(rng)
        assert space.validate(arch) == arch
        assert set(arch.ops) <= set(space.ops)
        child = space.mutate(arch, rng)
        assert space.validate(child) == child
        assert space.arch_id(child) != space.arch_id(arch)
        assert set(child.ops) <= set(space.ops)
        seen.add(arch)
    assert len(seen) > 250  # 300 draws from 2,021+ archs rarely repeat much


def test_sample_is_uniform_over_distinct_architectures() -> None:
    space = NBGraphSpace("proteins")
    rng = np.random.default_rng(1)
    index = {a: i for i, a in enumerate(space.enumerate())}
    counts = np.zeros(space.size())
    for _ in range(40_000):
        counts[index[space.sample(rng)]] += 1
    assert stats.chisquare(counts).pvalue > 1e-4
    # per link pattern, a sensitive check against pattern- or spec-weighted sampling
    pattern_of = [a.link for a in index]
    patterns = sorted(set(pattern_of))
    observed = [sum(c for c, p in zip(counts, pattern_of, strict=True) if p == q) for q in patterns]
    expected = [pattern_of.count(q) / len(pattern_of) * counts.sum() for q in patterns]
    assert stats.chisquare(observed, expected).pvalue > 1e-4


def test_mutate_is_reproducible_and_accepts_non_canonical_specs() -> None:
    space = NBGraphSpace()
    spec = ((0, 1, 2, 1), ("gcn", "gin", "fc", "cheb"))
    a = space.mutate(spec, np.random.default_rng(5))
    b = space.mutate(spec, np.random.default_rng(5))
    assert a == b and space.arch_id(a) != space.arch_id(spec)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("arch", "match"),
    [
        (((0, 0, 3, 0), ("gcn", "gcn", "gcn", "gcn")), r"link\[2\]=3"),
        (((0, 0, -1, 0), ("gcn", "gcn", "gcn", "gcn")), r"link\[2\]=-1"),
        (((1, 0, 0, 0), ("gcn", "gcn", "gcn", "gcn")), r"link\[0\]=1"),
        (((0, 0, 0), ("gcn", "gcn", "gcn")), "need 4 links"),
        (((0, 0, 0, 0), ("gcn", "gcn", "gcn", "mlp")), r"ops\[3\]='mlp'"),
        (((0, 0, 0, 0), ("skip",) * 4), "all ops are 'skip'"),
        (((0, True, 0, 0), ("gcn",) * 4), r"link\[1\]=True"),
        ("0,0,0,0", "expected 'l0,l1,l2,l3"),
        ("a,0,0,0|gcn,gcn,gcn,gcn", "expected 'l0,l1,l2,l3"),
        (42, "not a NAS-Bench-Graph architecture"),
    ],
)
def test_out_of_domain(arch, match: str) -> None:
    with pytest.raises(OutOfDomainError, match=match):
        NBGraphSpace().validate(arch)


def test_out_of_domain_in_the_proteins_variant() -> None:
    space = NBGraphSpace("proteins")
    with pytest.raises(OutOfDomainError, match=r"'cheb' is not one of gcn, sage.*proteins"):
        space.validate(((0, 0, 0, 0), ("gcn", "gcn", "gcn", "cheb")))
    with pytest.raises(OutOfDomainError, match="not the hash"):
        space.from_hash(0)  # gat x4: in the full space only
    assert NBGraphSpace().from_hash(0) == NBGraphArch((0, 0, 0, 0), ("gat",) * 4)
    with pytest.raises(OutOfDomainError, match="not the hash"):
        NBGraphSpace().from_hash(8)  # (0,0,0,0)|gat,gat,gat,skip is stored under 58000
    assert Arch([0, 0, 0, 0], ["gat", "gat", "gat", "skip"]).valid_hash() == 58000
    assert NBGraphSpace().nbgraph_hash(((0, 0, 0, 0), ("gat", "gat", "gat", "skip"))) == 58000
    with pytest.raises(OutOfDomainError, match="variant"):
        NBGraphSpace("mini")


# ---------------------------------------------------------------- malformed files


def test_restricted_unpickler_refuses_os_system(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    (tmp_path / "cora.bench").write_bytes(payload)
    with pytest.raises(DataFormatError, match=r"cora\.bench.*refusing.*os\.system"):
        ingest_dataset(tmp_path, "cora")
    assert not marker.exists()

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (tmp_path / "cora.bench").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(DataFormatError, match=r"refusing.*system"):
        ingest_dataset(tmp_path, "cora")
    assert not marker.exists()


@pytest.fixture(scope="module")
def cora(reference) -> dict:
    return reference["cora"]


def _edited(cora: dict, edit) -> dict:
    bench = {k: dict(v) for k, v in cora.items()}
    edit(bench)
    return bench


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda b: b[10000].pop("perf"), r"key 10000: missing fields \['perf'\]"),
        (lambda b: b[10000].update(seed=1.0), r"key 10000: unknown fields \['seed'\]"),
        (lambda b: b.pop(20000), r"1 of the 26206 architectures .* missing, e.g. keys \[20000\]"),
        (lambda b: b.update({8: b[0]}), "key 8: not the hash of a canonical"),
        (lambda b: b.update({"0": b.pop(0)}), "key '0': not an integer hash"),
        (lambda b: b[1].update(perf=1.5), r"key 1: field 'perf': 1\.5 not a fraction"),
        (lambda b: b[1].update(latency=float("nan")), "key 1: field 'latency': nan"),
        (lambda b: b[2].update(para=-1.0), r"key 2: field 'para': -1\.0 not a finite positive"),
    ],
)
def test_malformed_records_name_file_and_key(tmp_path: Path, cora, edit, match) -> None:
    _write_bench(tmp_path / "cora.bench", _edited(cora, edit))
    with pytest.raises(DataFormatError, match=r"cora\.bench: " + match):
        ingest_dataset(tmp_path, "cora")


def test_non_numeric_value_and_wrong_container(tmp_path: Path, cora) -> None:
    _write_bench(tmp_path / "cora.bench", _edited(cora, lambda b: b[3].update(perf="0.5")))
    with pytest.raises(DataFormatError, match=r"key 3: field 'perf': not a number: '0\.5'"):
        ingest_dataset(tmp_path, "cora")
    with open(tmp_path / "cora.bench", "wb") as f:
        pickle.dump([1, 2, 3], f)
    with pytest.raises(DataFormatError, match="expected a dict, got list"):
        ingest_dataset(tmp_path, "cora")


def test_missing_or_truncated_file(tmp_path: Path, raw: Path) -> None:
    with pytest.raises(DataFormatError, match=r"cora\.bench: missing"):
        ingest_dataset(tmp_path, "cora")
    (tmp_path / "cora.bench").write_bytes((raw / "cora.bench").read_bytes()[:5000])
    with pytest.raises(DataFormatError, match=r"cora\.bench"):
        ingest_dataset(tmp_path, "cora")
    with pytest.raises(DataFormatError, match="unknown NAS-Bench-Graph dataset"):
        ingest_dataset(tmp_path, "reddit")
