"""Tests of NASLib's zero-cost proxies: the shared parser (benchmarks.zero_cost), the
``zc_*`` columns of the NB101, NB201 and TNB101-micro tables, and the TNB101-macro
benchmark (benchmarks.tnb101_macro).

Real data come from the mirror (``mirror``/``raw_root`` fixtures); the error paths use
small JSON files the tests write. The NB101 table is built on a stub space (the
30,267 record keys with placeholder spec columns) so that no test here needs the
423,624-cell enumeration: the zero-cost and record columns do not depend on it.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import tmp_params
from scipy.stats import kendalltau, spearmanr

from nasrank.benchmarks import READERS, nb101, nb201, tnb101_macro, tnb101_micro
from nasrank.benchmarks.common import Processed
from nasrank.benchmarks.fetch import fetch_benchmark
from nasrank.benchmarks.registry import TNB101_TASKS, get_benchmark
from nasrank.benchmarks.zero_cost import (
    ZCRecord,
    mean_record,
    parse_zc_record,
    read_zc_datasets,
    read_zc_records,
    require_columns,
    require_zero_cost,
    zc_columns,
    zc_metadata,
    zero_cost_columns,
    zero_cost_proxies,
)
from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.io import read_metadata, write_parquet

NB201_PROXIES = ["epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm",
                 "nwot", "params", "plain", "snip", "synflow"]
TNB_PROXIES = ["epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm",
               "nwot", "params", "plain", "snip"]
NB201_NASLIB_KEY = {"cifar10": "cifar10", "cifar100": "cifar100",
                    "imagenet16_120": "ImageNet16-120"}
MACRO_ROWS = {"class_scene": 662, "class_object": 662, "autoencoder": 725, "normal": 725,
              "jigsaw": 725, "room_layout": 725, "segmentsemantic": 725}

#: Fingerprints (null count, SHA-256 prefix of the JSON of the values) of columns the
#: ingests wrote before the zero-cost columns were added; they must not change.
OLD_COLUMNS = {
    "nb101": {
        "val_acc_108": [266, "c765ad126812aadd"],
        "trainable_params": [266, "7937301203ae8857"],
        "naslib_val_acc": [29975, "8cd2ae60e0e0ad33"],
        "naslib_params": [29975, "1a10a367f30a73e6"],
        "naslib_flops": [29975, "e82a012be4623711"],
        "naslib_n_entries": [0, "e0d299fd56bef370"],
        "in_naslib": [0, "be010bed788393f2"],
    },
    "nb201-cifar10": {
        "arch_id": [0, "4cff63450907509e"],
        "val_acc_12": [0, "a92e9a87bf7b276b"],
        "test_acc_12": [0, "0d7aeb34dacd3daf"],
        "val_acc_200": [14900, "dedab43048de5eac"],
        "test_acc_200": [0, "74ba5833a3f1ee31"],
    },
    "nb201-cifar100": {
        "val_acc_12": [0, "8b274f16b5c6b595"],
        "test_acc_12": [0, "69a8a69775f9414b"],
        "val_acc_200": [14900, "9b20e5a0447cac4c"],
    },
    "nb201-imagenet16_120": {
        "val_acc_12": [0, "88664a823dad26ba"],
        "test_acc_12": [0, "8d86d6085f8f2787"],
        "val_acc_200": [14901, "db1b9053bbdc6aba"],
    },
    "tnb101_micro-class_scene": {
        "arch_id": [0, "49e605998a626056"],
        "val_score": [0, "5231b970f9b452b2"],
        "zen": [169, "d8638e74cbacd139"],
    },
    "tnb101_micro-class_object": {
        "val_score": [0, "8c9be6a8b9c50ac4"],
        "zen": [169, "d202c9258c84730e"],
    },
    "tnb101_micro-room_layout": {
        "val_score": [0, "5cbb5a2a6ecc6f59"],
        "zen": [169, "579d89fbfb7ef894"],
    },
}


def _fingerprint(col: pa.ChunkedArray) -> list:
    digest = hashlib.sha256(json.dumps(col.to_pylist()).encode()).hexdigest()[:16]
    return [col.null_count, digest]


def _write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def _rec(arch: str, val: float, **proxies: float) -> dict:
    out: dict = {"idx": "0", "arch": arch, "val_accuracy": val}
    for name, score in proxies.items():
        out[name] = {"score": score, "time": 0.5}
    return out


# --- the shared parser ----------------------------------------------------------------


def test_parse_record_forms() -> None:
    rec = parse_zc_record("(1, 2)", {
        "idx": "3", "arch": "(1, 2)", "val_accuracy": 91.5,
        "synflow": {"score": 42.0, "time": 0.25},
        "jacov": {"score": -1e8, "time": 1.0},
        "nwot": {"score": float("-inf"), "time": 0.5},
        "flops": 12.5,                       # NB101 form: a bare score, no time
        "snip": {"score": 3},                # no time
    }, "f.json: cifar10['(1, 2)']")
    assert rec == ZCRecord("(1, 2)", 91.5,
                           {"synflow": 42.0, "jacov": None, "nwot": None, "flops": 12.5,
                            "snip": 3.0},
                           {"synflow": 0.25, "jacov": 1.0, "nwot": 0.5})


@pytest.mark.parametrize(
    ("rec", "pattern"),
    [
        ({"val_accuracy": 90, "synflow": {"time": 1.0}}, r"proxy 'synflow'.*no 'score'"),
        ({"val_accuracy": 90, "synflow": {"score": "high"}}, r"'synflow'.*not a number"),
        ({"val_accuracy": 90, "synflow": {"score": 1, "time": -2}}, r"'synflow'.*time -2"),
        ({"val_accuracy": 90, "synflow": [1, 2]}, r"'synflow'.*neither"),
        ({"val_accuracy": 90, "Syn Flow": 1.0}, r"'Syn Flow'.*not a proxy name"),
        ({"synflow": {"score": 1}}, r"missing keys \['val_accuracy'\]"),
        ({"val_accuracy": float("nan")}, r"val_accuracy nan"),
        ({"val_accuracy": True}, r"val_accuracy True"),
        ({"val_accuracy": 90, "arch": "(2, 1)"}, r"field 'arch' is '\(2, 1\)'"),
        ([1, 2], "not an object"),
    ],
)
def test_parse_record_rejects(rec: object, pattern: str) -> None:
    with pytest.raises(DataFormatError, match=pattern) as exc:
        parse_zc_record("(1, 2)", rec, "zc_x.json: cifar10['(1, 2)']")
    assert "zc_x.json: cifar10['(1, 2)']" in str(exc.value)


def test_read_records_nested_and_missing_keys(tmp_path: Path) -> None:
    path = _write(tmp_path / "zc.json", {
        "nasbench101": {"cifar10": {"(0, 1)": {"val_accuracy": 90.0, "flops": 1.0}}},
        "cifar10": {"a": _rec("a", 50.0, synflow=1.0)},
    })
    recs = read_zc_records(path, ("nasbench101", "cifar10"))
    assert recs["(0, 1)"].scores == {"flops": 1.0} and recs["(0, 1)"].times == {}
    assert read_zc_records(path, "cifar10")["a"].times == {"synflow": 0.5}
    with pytest.raises(DataFormatError, match=r"zc\.json: missing keys \['cifar100'\]"):
        read_zc_records(path, "cifar100")
    with pytest.raises(DataFormatError, match=r"missing keys \['nasbench101 -> cifar100'\]"):
        read_zc_records(path, ("nasbench101", "cifar100"))
    with pytest.raises(DataFormatError, match=r"missing keys \['jigsaw', 'normal'\]"):
        read_zc_datasets(path, ["cifar10", "jigsaw", "normal"])


def test_read_records_rejects_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "zc.json"
    path.write_text('{"cifar10": {"a": {"val_accuracy": 1}, "a": {"val_accuracy": 2}}}',
                    encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"zc\.json: key 'a' appears twice"):
        read_zc_records(path, "cifar10")
    path.write_text('{"cifar10": {"a": ', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"zc\.json: not valid JSON"):
        read_zc_records(path, "cifar10")
    _write(path, {"cifar10": {}})
    with pytest.raises(DataFormatError, match=r"'cifar10' must be a non-empty object"):
        read_zc_records(path, "cifar10")
    _write(path, [1, 2])
    with pytest.raises(DataFormatError, match="top level is list"):
        read_zc_records(path, "cifar10")
    with pytest.raises(DataFormatError, match=r"nothere\.json: missing"):
        read_zc_records(tmp_path / "nothere.json", "cifar10")


def test_mean_record_skips_failed_scores() -> None:
    a = ZCRecord("k1", 90.0, {"snip": 1.0, "jacov": None}, {"snip": 1.0})
    b = ZCRecord("k2", 92.0, {"snip": 3.0, "jacov": None, "grasp": 5.0}, {"snip": 3.0})
    m = mean_record([a, b])
    assert m.val_accuracy == 91.0
    assert m.scores == {"grasp": 5.0, "jacov": None, "snip": 2.0}
    assert m.times == {"snip": 2.0}


# --- looking proxies up ---------------------------------------------------------------


def _small_processed() -> Processed:
    rows = [ZCRecord("a", 1.0, {"synflow": 2.0, "epe_nas": None}, {"synflow": 0.1}), None]
    cols = {"arch_id": pa.array(["a", "b"]),
            **zc_columns(rows, ["epe_nas", "synflow"], ["synflow"])}
    entry = zc_metadata(cols, ["epe_nas", "synflow"], ["synflow"],
                        {"epe_nas": "x.json", "synflow": "x.json"}, {"epe_nas": 1}, "toy-t1")
    table = pa.table(cols)
    return Processed(table, dict.fromkeys(table.column_names, "meaning"), ["x.json"],
                     extra={"zero_cost": entry})


def test_zero_cost_lookup_and_errors(tmp_path: Path) -> None:
    proc = _small_processed()
    assert proc.table["zc_synflow"].to_pylist() == [2.0, None]
    assert proc.table["zc_epe_nas"].to_pylist() == [None, None]
    assert proc.table.schema.field("zc_synflow").type == pa.float64()
    assert zero_cost_proxies(proc) == ["epe_nas", "synflow"]
    assert zero_cost_columns(proc) == ["zc_epe_nas", "zc_synflow"]
    assert zero_cost_columns(proc, times=True) == ["zc_epe_nas", "zc_synflow",
                                                   "zc_synflow_time_s"]
    assert require_zero_cost(proc, ["synflow"], times=True) == ["zc_synflow",
                                                                 "zc_synflow_time_s"]
    with pytest.raises(DataFormatError, match=r"table toy-t1 has no zero-cost proxy 'zen'"):
        require_zero_cost(proc, ["synflow", "zen"])
    with pytest.raises(DataFormatError, match=r"toy-t1: zero-cost proxy 'epe_nas' has no value"):
        require_zero_cost(proc, ["epe_nas"])
    # the same through a written Parquet file, its schema and its metadata
    path = tmp_path / "toy-t1.parquet"
    write_parquet(path, proc.table, {"benchmark": "toy", "task": "t1", **proc.extra})
    for source in (path, read_metadata(path), pq.read_schema(path)):
        assert zero_cost_columns(source) == ["zc_epe_nas", "zc_synflow"]
        with pytest.raises(DataFormatError, match=r"table toy-t1 has no zero-cost proxy 'fisher'"):
            require_zero_cost(source, ["fisher"])
    # without a zero_cost entry: the schema's zc_* columns; none at all is a clear error
    bare = pa.table({"arch_id": ["a"], "zc_snip": [1.0], "zc_snip_time_s": [0.1]})
    assert zero_cost_columns(bare.schema, times=True) == ["zc_snip", "zc_snip_time_s"]
    with pytest.raises(DataFormatError, match=r"table acc has no zero-cost proxy 'snip' "
                                              r"\(its proxies: none\)"):
        require_zero_cost(pa.table({"arch_id": ["a"]}), ["snip"], table="acc")
    with pytest.raises(DataFormatError, match=r"table toy-t1 has no fidelity 'val_acc_12'"):
        require_columns(path, ["arch_id", "val_acc_12"], what="fidelity")


# --- NB201 ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nb201_tables(raw_root: Path) -> dict[str, Processed]:
    return nb201.ingest(raw_root / "nb201")


@pytest.fixture(scope="module")
def nb201_json(raw_root: Path) -> dict:
    with open(raw_root / "nb201" / nb201.ZC_JSON, encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.mirror
def test_nb201_zc_columns(nb201_tables: dict[str, Processed], nb201_json: dict) -> None:
    for task, n in (("cifar10", 725), ("cifar100", 725), ("imagenet16_120", 724)):
        p = nb201_tables[f"nb201-{task}"]
        t = p.table
        assert zero_cost_proxies(p) == NB201_PROXIES
        zc = zero_cost_columns(p, times=True)
        assert len(zc) == 24 and t.column_names[-24:] == zc
        for c in zc:
            assert t.schema.field(c).type == pa.float64()
            assert c in p.columns
        any_value = np.zeros(t.num_rows, dtype=bool)
        for c in zero_cost_columns(p):
            any_value |= t[c].is_valid().to_numpy(zero_copy_only=False)
        assert any_value.sum() == n
        assert (any_value == t["val_acc_200"].is_valid().to_numpy(zero_copy_only=False)).all()
        entry = p.extra["zero_cost"]
        assert entry["table"] == f"nb201-{task}"
        assert set(entry["sources"].values()) == {nb201.ZC_JSON}
        assert entry["n_values"]["flops"] == n
        # a few cells against the JSON itself, failed scores included
        row = {a: i for i, a in enumerate(t["arch_id"].to_pylist())}
        records = nb201_json[NB201_NASLIB_KEY[task]]
        keys = list(records)[:3] + [k for k, r in records.items()
                                    if r["jacov"]["score"] == -1e8
                                    or not math.isfinite(r["nwot"]["score"])]
        for key in keys:
            i = row[nb201.parse_naslib_key(key, "test")]
            for proxy, value in records[key].items():
                if proxy in ("idx", "arch", "val_accuracy"):
                    continue
                score = value["score"]
                want = None if score == -1e8 or not math.isfinite(score) else score
                assert t[f"zc_{proxy}"][i].as_py() == want, (key, proxy)
                assert t[f"zc_{proxy}_time_s"][i].as_py() == value["time"]
    c10 = nb201_tables["nb201-cifar10"].extra["zero_cost"]
    assert c10["n_values"]["synflow"] == 724  # one record of the file has no synflow
    assert c10["n_failed"] == {**dict.fromkeys(NB201_PROXIES, 0),
                               "epe_nas": 1, "jacov": 1, "nwot": 1}


@pytest.mark.mirror
def test_nb201_old_columns_unchanged(nb201_tables: dict[str, Processed]) -> None:
    for stem in ("nb201-cifar10", "nb201-cifar100", "nb201-imagenet16_120"):
        t = nb201_tables[stem].table
        for col, want in OLD_COLUMNS[stem].items():
            assert _fingerprint(t[col]) == want, (stem, col)
        assert t.column_names[:11] == ["arch_id", "nb201_index", *[f"op_{k}" for k in range(6)],
                                       "val_acc_12", "test_acc_12", "val_acc_200"]


@pytest.mark.mirror
def test_nb201_cifar10_proxy_rank_correlations(nb201_tables: dict[str, Processed]) -> None:
    """Abdelfattah et al. report |Spearman| 0.737 (synflow) and 0.731 (jacov) over all
    15,625 cells vs test accuracy; over NASLib's 725 vs val_acc_200 both are clearly
    positive too."""
    df = nb201_tables["nb201-cifar10"].table.to_pandas()
    rho = {}
    for proxy in NB201_PROXIES:
        sub = df[["val_acc_200", f"zc_{proxy}"]].dropna()
        rho[proxy] = spearmanr(sub.iloc[:, 0], sub.iloc[:, 1]).statistic
        tau = kendalltau(sub.iloc[:, 0], sub.iloc[:, 1]).statistic
        print(f"nb201-cifar10 {proxy:10s} n={len(sub)} |spearman|={abs(rho[proxy]):.3f} "
              f"|kendall|={abs(tau):.3f}")
    assert 0.65 < abs(rho["synflow"]) < 0.85
    assert 0.65 < abs(rho["jacov"]) < 0.85


def test_nb201_reader_errors(tmp_path: Path) -> None:
    good = {"arch": "(0, 2, 3, 2, 3, 1)", "val_accuracy": 86.0,
            "synflow": {"score": 1.0, "time": 0.1}}
    obj = {"cifar10": {"(0, 2, 3, 2, 3, 1)": good},
           "cifar100": {"(0, 2, 3, 2, 3, 1)": {**good, "synflow": {"time": 0.1}}},
           "ImageNet16-120": {"(0, 2, 3, 2, 3, 1)": good}}
    path = _write(tmp_path / nb201.ZC_JSON, obj)
    with pytest.raises(DataFormatError, match=r"zc_nasbench201\.json: cifar100\['\(0, 2, 3, "
                                              r"2, 3, 1\)'\]: proxy 'synflow'.*no 'score'"):
        nb201.load_naslib_zc(path)
    del obj["cifar100"]
    _write(path, obj)
    with pytest.raises(DataFormatError, match=r"zc_nasbench201\.json: missing keys "
                                              r"\['cifar100'\]"):
        nb201.load_naslib_zc(path)


# --- NB101 ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nb101_table(raw_root: Path) -> Processed:
    raw = raw_root / "nb101"
    vis = nb101._read_vis(raw)
    ids = sorted(set(vis["key"].tolist()) | {a for a, _, _ in nb101.naslib_entries(raw)})
    n = len(ids)
    stub = pa.table({
        "arch_id": ids,
        "n_vertices": pa.array([7] * n, pa.int8()),
        "adjacency": ["stub"] * n,
        "ops": ["stub"] * n,
        "io_distance": pa.array([1] * n, pa.int8()),
        "uses_conv3x3": [True] * n,
    })
    return nb101.ingest(raw, space=stub)["nb101"]


@pytest.mark.mirror
def test_nb101_zc_columns(nb101_table: Processed, mirror: Path) -> None:
    t = nb101_table.table
    proxies = ["epe_nas", "fisher", "flops", "grad_norm", "grasp", "jacov", "l2_norm",
               "params", "plain", "snip", "synflow"]
    assert zero_cost_proxies(nb101_table) == proxies
    assert zero_cost_columns(nb101_table, times=True) == [f"zc_{p}" for p in proxies]
    assert t.column_names[-11:] == [f"zc_{p}" for p in proxies]
    assert t.num_rows == 30_267
    for p in proxies:
        assert t[f"zc_{p}"].null_count == 30_267 - 292
        assert f"zc_{p}" in nb101_table.columns
    assert nb101_table.extra["zero_cost"]["n_values"] == dict.fromkeys(proxies, 292)
    assert t["zc_params"].to_pylist() == t["naslib_params"].to_pylist()
    assert t["zc_flops"].to_pylist() == t["naslib_flops"].to_pylist()
    # every cell's proxies are the mean over its entries in the derived CSV
    df = pd.read_csv(mirror / "derived/nb101_zc500.csv.gz")
    assert len(df) == 500
    means = df.groupby("hash")[proxies].mean()
    assert len(means) == 292
    sub = t.filter(t["in_naslib"]).to_pandas().set_index("arch_id").loc[means.index]
    for p in proxies:
        np.testing.assert_allclose(sub[f"zc_{p}"], means[p], rtol=1e-12)
    # and one duplicated cell by hand from the JSON
    with open(mirror / "naslib-zc/zc_nasbench101.json", encoding="utf-8") as f:
        records = json.load(f)["nasbench101"]["cifar10"]
    counts = df["hash"].value_counts()
    cell = counts.index[0]
    assert counts.iloc[0] > 1
    entries = [records[k] for k, (a, _, _) in zip(
        records, nb101.naslib_entries(mirror / "naslib-zc"), strict=True) if a == cell]
    assert len(entries) == counts.iloc[0]
    row = t["arch_id"].to_pylist().index(cell)
    assert t["zc_synflow"][row].as_py() == pytest.approx(
        np.mean([e["synflow"] for e in entries]), rel=1e-12)
    assert t["naslib_n_entries"][row].as_py() == len(entries)


@pytest.mark.mirror
def test_nb101_old_columns_unchanged(nb101_table: Processed) -> None:
    for col, want in OLD_COLUMNS["nb101"].items():
        assert _fingerprint(nb101_table.table[col]) == want, col


def test_nb101_reader_errors(tmp_path: Path) -> None:
    key = str(tuple([0, 1, 0, 0, 0, 0, 0] + [0] * 42 + [0, 1, 0, 0, 0, 0, 0]))
    good = {"val_accuracy": 90.0, "params": 1.0, "flops": 2.0, "snip": 3.0}
    path = tmp_path / nb101.NASLIB_FILE
    _write(path, {"nasbench101": {"cifar10": {key: {"val_accuracy": 90.0, "flops": 2.0}}}})
    with pytest.raises(DataFormatError, match=r"zc_nasbench101\.json: .*no score for "
                                              r"\['params'\]"):
        nb101.naslib_entries(tmp_path)
    _write(path, {"nasbench101": {"cifar10": {"(1, 2": good}}})
    with pytest.raises(DataFormatError, match=r"zc_nasbench101\.json: key '\(1, 2'"):
        nb101.naslib_entries(tmp_path)
    _write(path, {"nasbench101": {"cifar100": {key: good}}})
    with pytest.raises(DataFormatError, match=r"missing keys \['nasbench101 -> cifar10'\]"):
        nb101.naslib_entries(tmp_path)


# --- TNB101 micro ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def micro_tables(raw_root: Path) -> dict[str, Processed]:
    return tnb101_micro.ingest(raw_root / "tnb101_micro")


def test_micro_registry_lists_the_zc_file() -> None:
    f = get_benchmark("tnb101_micro").file(tnb101_micro.ZC_FILE)
    assert f.sha256 == "f9f2c5d6d9b9a73964f1bffb2869f218e1110755d84ddd4a46a8cf482f799cd1"
    assert f.url == ("https://raw.githubusercontent.com/automl/NASLib/"
                     "e5a821c2dadf608042e4e046e386006cf6bd0564/naslib/data/"
                     "zc_transbench101_micro.json")
    assert f.mirror_path == "naslib-zc/zc_transbench101_micro.json"


@pytest.mark.mirror
def test_micro_zc_columns(micro_tables: dict[str, Processed], mirror: Path) -> None:
    df = pd.read_csv(mirror / "derived/tnb101_micro_zc.csv.gz")
    for task in TNB101_TASKS:
        p = micro_tables[f"tnb101_micro-{task}"]
        t = p.table
        assert t.num_rows == 4096
        assert p.sources == [tnb101_micro.ZIP_FILE, tnb101_micro.ZC_FILE]
        assert zero_cost_proxies(p) == [*TNB_PROXIES, "zen"]
        assert t.column_names[:10] == ["arch_id", *[f"op_{k}" for k in range(6)],
                                       "val_score", "zen", "naslib_val_score"]
        assert t.column_names[10:] == zero_cost_columns(p, times=True)
        assert t["zc_flops"].null_count == 4096 - 711
        assert t["naslib_val_score"].null_count == 4096 - 711
        assert t["zc_zen"].to_pylist() == t["zen"].to_pylist()
        assert t["zc_zen_time_s"].null_count == 0
        assert p.extra["zero_cost"]["sources"]["zen"] == tnb101_micro.ZIP_FILE
        assert p.extra["zero_cost"]["sources"]["snip"] == tnb101_micro.ZC_FILE
        # every cell of the derived CSV; -1e8 there is a null here
        sub = df[df["task"] == task]
        assert len(sub) == 711
        ids = [tnb101_micro._parse_arch(k, "test") for k in sub["naslib_tuple"]]
        rows = t.to_pandas().set_index("arch_id").loc[ids]
        np.testing.assert_allclose(rows["naslib_val_score"], sub["val_metric"], rtol=1e-12)
        for proxy in TNB_PROXIES:
            theirs = sub[proxy].to_numpy()
            failed = theirs == -1e8
            ours = rows[f"zc_{proxy}"].to_numpy(dtype=float)
            assert np.isnan(ours[failed]).all()
            np.testing.assert_allclose(ours[~failed], theirs[~failed], rtol=1e-12)
    assert micro_tables["tnb101_micro-class_scene"].extra["zero_cost"]["n_failed"]["jacov"] == 20
    with pytest.raises(DataFormatError, match=r"tnb101_micro-normal: zero-cost proxy "
                                              r"'epe_nas' has no value"):
        require_zero_cost(micro_tables["tnb101_micro-normal"], ["epe_nas"])


@pytest.mark.mirror
def test_micro_old_columns_unchanged(micro_tables: dict[str, Processed]) -> None:
    for stem in ("tnb101_micro-class_scene", "tnb101_micro-class_object",
                 "tnb101_micro-room_layout"):
        for col, want in OLD_COLUMNS[stem].items():
            assert _fingerprint(micro_tables[stem].table[col]) == want, (stem, col)


def test_micro_zc_reader_errors(tmp_path: Path) -> None:
    rec = _rec("(1, 0, 0, 2, 1, 0)", 30.0, snip=1.0)
    obj = {t: {"(1, 0, 0, 2, 1, 0)": rec} for t in TNB101_TASKS}
    path = _write(tmp_path / tnb101_micro.ZC_FILE, obj)
    assert len(tnb101_micro.read_zc_micro(path)["jigsaw"]) == 1
    obj["normal"] = {"(1, 0, 0, 2, 1, 4)": _rec("(1, 0, 0, 2, 1, 4)", 0.5, snip=1.0)}
    _write(path, obj)
    with pytest.raises(DataFormatError, match=r"zc_transbench101_micro\.json: normal\['\(1, 0,"
                                              r" 0, 2, 1, 4\)'\]"):
        tnb101_micro.read_zc_micro(path)
    del obj["normal"]
    _write(path, obj)
    with pytest.raises(DataFormatError, match=r"zc_transbench101_micro\.json: missing keys "
                                              r"\['normal'\]"):
        tnb101_micro.read_zc_micro(path)


# --- TNB101 macro ---------------------------------------------------------------------


def test_macro_arch_strings() -> None:
    archs = list(tnb101_macro.enumerate_arch_strs())
    assert len(archs) == len(set(archs)) == tnb101_macro.SPACE_SIZE == 3256
    for a in archs[::97]:
        t = tnb101_macro.arch_str_to_naslib(a)
        assert len(t) == 6 and tnb101_macro.naslib_to_arch_str(t) == a
    assert tnb101_macro.naslib_to_arch_str((1, 2, 4, 2, 0, 0)) == "64-1242-basic"
    assert tnb101_macro.naslib_to_arch_str((1, 2, 4, 2)) == "64-1242-basic"
    assert tnb101_macro.arch_str_to_naslib("64-413121-basic") == (4, 1, 3, 1, 2, 1)


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ((0, 1, 2, 4, 2, 0), "padding 0 before"),
        ((1, 1, 1, 1, 0, 0), "downsamples 0 times"),
        ((4, 4, 4, 4, 0, 0), "doubles its channels 4 times"),
        ((3, 3, 3, 3, 3, 2), "downsamples 5 times"),
        ((1, 2, 3, 0, 0, 0), "4-6 modules"),
        ((1, 2, 3, 5, 0, 0), "code 5"),
        ((1, 2, 3, 4, 1, 1, 0), "longer than 6"),
        ("64-1234-basic", "must be a tuple"),
    ],
)
def test_macro_naslib_rejects(value: object, pattern: str) -> None:
    with pytest.raises(OutOfDomainError, match=pattern):
        tnb101_macro.naslib_to_arch_str(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["64-41414-1_02_333", "64-1234-bottleneck", "32-1234-basic",
                                 "64-12a4-basic"])
def test_macro_arch_str_rejects(bad: str) -> None:
    with pytest.raises(OutOfDomainError, match="TNB101-macro"):
        tnb101_macro.arch_str_to_codes(bad)


def _macro_obj() -> dict:
    metric = {"class_scene": 50.0, "class_object": 45.0, "autoencoder": 0.5, "normal": 0.6,
              "jigsaw": 90.0, "room_layout": -0.6, "segmentsemantic": 94.0}
    return {
        t: {k: _rec(k, v, snip=1.0 + i, epe_nas=-1e8)
            for i, k in enumerate(["(1, 2, 4, 2, 0, 0)", "(4, 1, 3, 3, 3, 1)"])}
        for t, v in metric.items()
    }


def test_macro_ingest_small_file(tmp_path: Path) -> None:
    _write(tmp_path / tnb101_macro.ZC_FILE, _macro_obj())
    tables = tnb101_macro.ingest(tmp_path)
    assert sorted(tables) == sorted(f"tnb101_macro-{t}" for t in TNB101_TASKS)
    p = tables["tnb101_macro-room_layout"]
    assert p.table.to_pylist() == [
        {"arch_id": "64-1242-basic", "macro_code": "1242", "n_modules": 4,
         "n_downsample": 1, "n_widen": 3, "val_score": -0.6, "zc_epe_nas": None,
         "zc_epe_nas_time_s": 0.5, "zc_snip": 1.0, "zc_snip_time_s": 0.5},
        {"arch_id": "64-413331-basic", "macro_code": "413331", "n_modules": 6,
         "n_downsample": 4, "n_widen": 1, "val_score": -0.6, "zc_epe_nas": None,
         "zc_epe_nas_time_s": 0.5, "zc_snip": 2.0, "zc_snip_time_s": 0.5},
    ]
    assert p.extra["zero_cost"]["n_failed"] == {"epe_nas": 2, "snip": 0}
    assert "negated loss" in p.notes


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda o: o.pop("jigsaw"), r"zc_transbench101_macro\.json: missing keys \['jigsaw'\]"),
        (lambda o: o["normal"].update({"(1, 2, 4": _rec("(1, 2, 4", 0.5)}),
         r"zc_transbench101_macro\.json: normal: key '\(1, 2, 4' is not a tuple literal"),
        (lambda o: o["jigsaw"].update({"(1, 1, 1, 1, 0, 0)": _rec("(1, 1, 1, 1, 0, 0)", 90.0)}),
         r"jigsaw: key '\(1, 1, 1, 1, 0, 0\)' is not a TNB101-macro network"),
        (lambda o: o["jigsaw"].update({"(1, 2, 4, 2)": _rec("(1, 2, 4, 2)", 90.0)}),
         r"jigsaw\['\(1, 2, 4, 2\)'\]: second record for network 64-1242-basic"),
        (lambda o: o["normal"]["(1, 2, 4, 2, 0, 0)"]["snip"].pop("score"),
         r"normal\['\(1, 2, 4, 2, 0, 0\)'\]: proxy 'snip'.*no 'score'"),
        (lambda o: o["normal"]["(1, 2, 4, 2, 0, 0)"].update({"val_accuracy": 60.0}),
         r"normal\['\(1, 2, 4, 2, 0, 0\)'\]: val_accuracy 60.0 is not a normal metric"),
    ],
)
def test_macro_ingest_errors(tmp_path: Path, edit, pattern: str) -> None:
    obj = _macro_obj()
    edit(obj)
    _write(tmp_path / tnb101_macro.ZC_FILE, obj)
    with pytest.raises(DataFormatError, match=pattern):
        tnb101_macro.ingest(tmp_path)


@pytest.fixture(scope="module")
def macro_raw(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("raw") / "tnb101_macro"
    fetch_benchmark("tnb101_macro", raw, mirror=mirror, progress=False)
    return raw


@pytest.mark.mirror
def test_macro_ingest_real(macro_raw: Path, mirror: Path) -> None:
    assert READERS["tnb101_macro"] == "nasrank.benchmarks.tnb101_macro"
    tables = tnb101_macro.ingest(macro_raw)
    df = pd.read_csv(mirror / "derived/tnb101_macro_zc.csv.gz")
    for task in TNB101_TASKS:
        p = tables[f"tnb101_macro-{task}"]
        t = p.table
        assert t.num_rows == MACRO_ROWS[task]
        assert p.extra["default_target"] == "val_score"
        assert p.extra["metric"] == tnb101_micro.TASK_METRICS[task].metric
        assert p.sources == [tnb101_macro.ZC_FILE]
        assert zero_cost_proxies(p) == TNB_PROXIES
        assert t.column_names == ["arch_id", "macro_code", "n_modules", "n_downsample",
                                  "n_widen", "val_score", *zero_cost_columns(p, times=True)]
        assert set(t.column_names) == set(p.columns)
        ids = t["arch_id"].to_pylist()
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        assert t["val_score"].null_count == 0
        assert t["zc_flops"].null_count == 0
        sub = df[df["task"] == task]
        assert len(sub) == MACRO_ROWS[task]
        order = [tnb101_macro.naslib_to_arch_str(
            tuple(int(x) for x in k.strip("()").split(","))) for k in sub["naslib_tuple"]]
        rows = t.to_pandas().set_index("arch_id").loc[order]
        np.testing.assert_allclose(rows["val_score"], sub["val_metric"], rtol=1e-12)
        for proxy in TNB_PROXIES:
            theirs = sub[proxy].to_numpy()
            failed = theirs == -1e8
            ours = rows[f"zc_{proxy}"].to_numpy(dtype=float)
            assert np.isnan(ours[failed]).all()
            np.testing.assert_allclose(ours[~failed], theirs[~failed], rtol=1e-12)
        assert (rows["n_modules"] == rows["macro_code"].str.len()).all()
    # the class tasks hold a subset of the others' networks
    scene = set(tables["tnb101_macro-class_scene"].table["arch_id"].to_pylist())
    assert scene < set(tables["tnb101_macro-jigsaw"].table["arch_id"].to_pylist())
    assert tables["tnb101_macro-jigsaw"].extra["zero_cost"]["n_failed"]["epe_nas"] == 319


@pytest.mark.mirror
def test_macro_cli_fetch_and_ingest(mirror: Path, tmp_path: Path) -> None:
    from nasrank.cli import main

    params = tmp_params(tmp_path, mirror=str(mirror))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    assert main(["--quiet", "--params", str(path), "fetch", "tnb101_macro"]) == 0
    assert main(["--quiet", "--params", str(path), "ingest", "tnb101_macro"]) == 0
    out = tmp_path / "data" / "processed" / "tnb101_macro-segmentsemantic.parquet"
    meta = read_metadata(out)
    assert meta["benchmark"] == "tnb101_macro" and meta["task"] == "segmentsemantic"
    assert meta["sources"][0]["file"] == tnb101_macro.ZC_FILE
    assert meta["zero_cost"]["proxies"] == TNB_PROXIES
    assert zero_cost_columns(out)[:2] == ["zc_epe_nas", "zc_fisher"]
    with pytest.raises(DataFormatError, match=r"table tnb101_macro-segmentsemantic has no "
                                              r"zero-cost proxy 'synflow'"):
        require_zero_cost(out, ["jacov", "synflow"])
