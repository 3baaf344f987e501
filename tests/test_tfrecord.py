"""TFRecord framing and the official NAS-Bench-101 reader (nb101_full), on small files
written in the exact upstream format."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import pyarrow as pa
import pytest

from nasrank.benchmarks import ingest as ingest_bench
from nasrank.benchmarks.nb101_full import (
    build_metrics,
    encode_row,
    evaluation_data_class,
    ingest,
    model_metrics_class,
    parse_row,
)
from nasrank.benchmarks.tfrecord import (
    iter_records,
    iter_records_with_offsets,
    masked_crc32c,
    write_records,
)
from nasrank.errors import DataFormatError

OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")


# ------------------------------------------------------------------------------ CRC


def _crc32c_bitwise(data: bytes) -> int:
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one bit at a time."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def _mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def test_masked_crc_matches_independent_bit_loop() -> None:
    assert _crc32c_bitwise(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    assert masked_crc32c(b"123456789") == _mask(_crc32c_bitwise(b"123456789")) == 0xC78AB0E5
    assert masked_crc32c(b"") == _mask(_crc32c_bitwise(b"")) == 0xA282EAD8
    # The length header of a 401-byte record as stored in the upstream NAS-Bench-101 file
    # (bytes 98 25 ed 9b after the length, written by TensorFlow).
    length = (401).to_bytes(8, "little")
    assert masked_crc32c(length) == _mask(_crc32c_bitwise(length)) == 0x9BED2598
    blob = bytes(range(256)) * 3
    assert masked_crc32c(blob) == _mask(_crc32c_bitwise(blob))


# ------------------------------------------------------------------------- framing


def test_write_and_iter_records_roundtrip(tmp_path: Path) -> None:
    records = [b"", b"a", bytes(range(256)) * 40, b"\x00" * 7]
    path = tmp_path / "x.tfrecord"
    assert write_records(path, records) == 4
    assert list(iter_records(path)) == records
    offsets = [off for off, _ in iter_records_with_offsets(path)]
    expected, pos = [], 0
    for r in records:
        expected.append(pos)
        pos += len(r) + 16
    assert offsets == expected
    assert path.stat().st_size == pos
    # Framing, byte by byte, for the second record.
    raw = path.read_bytes()[16 : 16 + 17]
    assert struct.unpack("<QI", raw[:12]) == (1, masked_crc32c(struct.pack("<Q", 1)))
    assert raw[12:13] == b"a"
    assert struct.unpack("<I", raw[13:]) == (masked_crc32c(b"a"),)
    assert [p.name for p in tmp_path.iterdir()] == ["x.tfrecord"]  # no temp file left


def test_empty_file_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "empty.tfrecord"
    write_records(path, [])
    assert list(iter_records(path)) == []


def _framed(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "f.tfrecord"
    write_records(path, [b"first record", b"second record", b"third"])
    return path, path.read_bytes()


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (5, r"record 0 at byte offset 0: truncated header"),
        (12 + 3, r"record 0 at byte offset 0: truncated data"),
        (28 + 12 + 13 + 2, r"record 1 at byte offset 28: truncated data"),
        (28 + 29 + 11, r"record 2 at byte offset 57: truncated header"),
    ],
)
def test_truncated_file(tmp_path: Path, cut: int, message: str) -> None:
    path, raw = _framed(tmp_path)
    path.write_bytes(raw[:cut])
    with pytest.raises(DataFormatError, match=message) as err:
        list(iter_records(path))
    assert str(path) in str(err.value)


def test_flipped_data_byte_is_a_data_crc_error(tmp_path: Path) -> None:
    path, raw = _framed(tmp_path)
    bad = bytearray(raw)
    bad[28 + 12 + 4] ^= 0x01  # inside the data of record 1
    path.write_bytes(bytes(bad))
    with pytest.raises(DataFormatError, match=r"record 1 at byte offset 28: data CRC") as err:
        list(iter_records(path))
    assert str(path) in str(err.value)
    # Without CRC checks the corrupt data comes through.
    assert list(iter_records(path, check_crc=False))[1] == b"secood record"


def test_flipped_data_crc_byte_is_a_data_crc_error(tmp_path: Path) -> None:
    path, raw = _framed(tmp_path)
    bad = bytearray(raw)
    bad[27] ^= 0x80  # last byte of record 0's data CRC
    path.write_bytes(bytes(bad))
    with pytest.raises(DataFormatError, match=r"record 0 at byte offset 0: data CRC"):
        list(iter_records(path))


def test_flipped_length_byte_is_a_length_crc_error(tmp_path: Path) -> None:
    path, raw = _framed(tmp_path)
    bad = bytearray(raw)
    bad[57] ^= 0x01  # lowest length byte of record 2: 5 -> 4
    path.write_bytes(bytes(bad))
    with pytest.raises(DataFormatError, match=r"record 2 at byte offset 57: length CRC") as err:
        list(iter_records(path))
    assert str(path) in str(err.value)


def test_huge_length_without_crc_check_is_truncated_not_allocated(tmp_path: Path) -> None:
    path, raw = _framed(tmp_path)
    bad = bytearray(raw)
    bad[7] = 0x7F  # length ~ 2**62
    path.write_bytes(bytes(bad))
    with pytest.raises(DataFormatError, match=r"record 0 at byte offset 0: truncated data"):
        list(iter_records(path, check_crc=False))


# ------------------------------------------------------------------------ protobuf


def test_protobuf_schema_and_roundtrip() -> None:
    cls = model_metrics_class()
    assert cls is model_metrics_class()
    desc = cls.DESCRIPTOR
    assert desc.full_name == "nasbench.ModelMetrics"
    assert desc.file.name == "nasbench/lib/model_metrics.proto"
    assert {f.name: f.number for f in desc.fields} == {
        "evaluation_data": 1, "trainable_parameters": 2, "total_time": 3,
    }
    assert {f.name: f.number for f in evaluation_data_class().DESCRIPTOR.fields} == {
        "current_epoch": 1, "training_time": 2, "train_accuracy": 3,
        "validation_accuracy": 4, "test_accuracy": 5, "checkpoint_path": 6,
    }
    evals = [
        {"current_epoch": 0.0, "training_time": 0.0, "train_accuracy": 0.1,
         "validation_accuracy": 0.09, "test_accuracy": 0.1},
        {"current_epoch": 54.0, "training_time": 1234.5, "train_accuracy": 0.8,
         "validation_accuracy": 0.79, "test_accuracy": 0.78, "checkpoint_path": "/m/ck-1"},
        {"current_epoch": 108.0, "training_time": 2469.25, "train_accuracy": 1.0,
         "validation_accuracy": 0.9421, "test_accuracy": 0.9375},
    ]
    msg = build_metrics(2_694_282, evals, total_time=2690.5)
    raw = msg.SerializeToString()
    back = cls.FromString(raw)
    assert back == msg
    assert back.trainable_parameters == 2_694_282
    assert back.evaluation_data[1].checkpoint_path == "/m/ck-1"
    assert back.evaluation_data[-1].test_accuracy == 0.9375
    # Wire format by hand: field 2 (int32, varint) is tag 0x10.
    assert cls.FromString(b"\x10\x05").trainable_parameters == 5

    adj = "0110000" + "0001000" * 2 + "0000100" + "0000010" + "0000001" + "0000000"
    ops = "input,conv3x3-bn-relu,conv1x1-bn-relu,maxpool3x3,conv3x3-bn-relu,maxpool3x3,output"
    data = encode_row("0" * 31 + "a", 108, adj, ops, msg)
    row = parse_row(data)
    assert row["module_hash"] == "0" * 31 + "a"
    assert row["epochs"] == 108
    assert row["adjacency"] == adj
    assert row["ops"] == ops
    assert row["n_vertices"] == 7
    assert row["trainable_parameters"] == 2_694_282
    assert row["total_time"] == 2690.5
    assert row["final"] == {k: v for k, v in evals[2].items()}
    assert row["halfway"]["validation_accuracy"] == 0.79
    # The upstream layout: json.dumps defaults, MIME base64 with newlines.
    fields = json.loads(data)
    assert data.startswith(b'["' + b"0" * 31 + b'a", 108, "')
    assert fields[4].endswith("\n") and all(len(x) <= 76 for x in fields[4].split("\n"))
    # Matrix and list inputs encode the same bytes.
    matrix = [[int(adj[7 * i + j]) for j in range(7)] for i in range(7)]
    assert encode_row("0" * 31 + "a", 108, matrix, ops.split(","), raw) == data


def _good_row() -> list:
    return json.loads(encode_row("f" * 32, 108, "0100", "input,output", _metrics(0.9, 0.8)))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r[:4], "expected a JSON list"),
        (lambda r: ["F" * 32, *r[1:]], "32 lowercase hex"),
        (lambda r: ["f" * 31, *r[1:]], "32 lowercase hex"),
        (lambda r: [r[0], "108", *r[2:]], "epochs must be a positive integer"),
        (lambda r: [r[0], True, *r[2:]], "epochs must be a positive integer"),
        (lambda r: [*r[:2], "010", *r[3:]], "adjacency must be 2\\*2"),
        (lambda r: [*r[:2], "0120", *r[3:]], "adjacency must be 2\\*2"),
        (lambda r: [*r[:3], "input,conv5x5,output", r[4]], "adjacency must be 3\\*3"),
        (lambda r: [*r[:2], "0" * 9, "input,conv5x5,output", r[4]], "ops must be input"),
        (lambda r: [*r[:3], "output,input", r[4]], "ops must be input"),
        (lambda r: [*r[:4], "!!!"], "corrupt metrics"),
        (lambda r: [*r[:4], "AQID"], "corrupt metrics"),  # bytes 01 02 03
        (lambda r: [*r[:4], r[4][:-3]], "corrupt metrics"),  # bad padding
        (lambda r: [*r[:4], "AQ==AQ=="], "corrupt metrics"),
        (lambda r: [*r[:4], ""], "expected 3 evaluations"),
    ],
)
def test_parse_row_rejects(mutate, message: str) -> None:
    with pytest.raises(DataFormatError, match=message):
        parse_row(json.dumps(mutate(_good_row())).encode())


def test_parse_row_rejects_non_json_and_missing_fields() -> None:
    with pytest.raises(DataFormatError, match="not a UTF-8 JSON row"):
        parse_row(b"[not json")
    with pytest.raises(DataFormatError, match="not a UTF-8 JSON row"):
        parse_row(b"\xff\xfe")
    no_params = model_metrics_class()()
    for _ in range(3):
        no_params.evaluation_data.add(validation_accuracy=0.5, test_accuracy=0.5,
                                      training_time=1.0)
    with pytest.raises(DataFormatError, match="lack trainable_parameters"):
        parse_row(encode_row("f" * 32, 108, "0100", "input,output", no_params))
    no_test = build_metrics(7, [{}, {}, {"validation_accuracy": 0.5, "training_time": 1.0}])
    with pytest.raises(DataFormatError, match="final evaluation lacks test_accuracy"):
        parse_row(encode_row("f" * 32, 108, "0100", "input,output", no_test))


# -------------------------------------------------------------------------- ingest


def _metrics(val: float, test: float, time: float = 100.0, params: int = 1000):
    return build_metrics(
        params,
        [
            {"current_epoch": 0.0, "training_time": 0.0, "train_accuracy": 0.1,
             "validation_accuracy": 0.1, "test_accuracy": 0.1},
            {"current_epoch": 1.0, "training_time": time / 2, "train_accuracy": 0.5,
             "validation_accuracy": val / 2, "test_accuracy": test / 2},
            {"current_epoch": 2.0, "training_time": time, "train_accuracy": 0.99,
             "validation_accuracy": val, "test_accuracy": test},
        ],
        total_time=time * 1.1,
    )


def _make_cells(n: int, rng: random.Random) -> list[dict]:
    cells = []
    for _ in range(n):
        nv = rng.randint(2, 7)
        adj = "".join(
            "1" if j > i and rng.random() < 0.5 else "0" for i in range(nv) for j in range(nv)
        )
        ops = ",".join(["input", *(rng.choice(OPS) for _ in range(nv - 2)), "output"])
        cells.append({"hash": f"{rng.getrandbits(128):032x}", "n": nv, "adj": adj, "ops": ops,
                      "params": rng.randint(10_000, 50_000_000)})
    return cells


def _write_bench(path: Path, cells: list[dict], budgets: list[int], rng: random.Random,
                 repeats: int = 3) -> dict:
    """Write one record per (cell, budget, repeat), interleaved in a random order; return
    {(hash, budget): [(val, test, time) per repeat in file order]}."""
    jobs = [(c, e) for c in cells for e in budgets for _ in range(repeats)]
    rng.shuffle(jobs)
    runs: dict = {}
    records = []
    for c, e in jobs:
        val, test, time = rng.random(), rng.random(), rng.uniform(10, 5000)
        runs.setdefault((c["hash"], e), []).append((val, test, time))
        records.append(encode_row(c["hash"], e, c["adj"], c["ops"],
                                  _metrics(val, test, time, c["params"])))
    write_records(path, records)
    return runs


def _check_table(proc, cells: list[dict], budgets: list[int], runs: dict) -> None:
    t = proc.table
    names = ["arch_id", "n_vertices", "adjacency", "ops", "trainable_params"]
    for e in sorted(budgets):
        names += [f"val_acc_{e}_mean", f"test_acc_{e}_mean", f"val_acc_{e}_seeds",
                  f"test_acc_{e}_seeds", f"train_time_{e}_mean"]
    assert t.column_names == names
    assert set(proc.columns) == set(names)
    assert all(len(proc.columns[c]) > 30 and proc.columns[c].endswith(".") for c in names)
    assert t.schema.field("n_vertices").type == pa.int8()
    assert t.schema.field("trainable_params").type == pa.int64()
    assert t.schema.field(f"val_acc_{budgets[0]}_seeds").type == pa.list_(pa.float64())
    assert t.schema.field(f"train_time_{budgets[0]}_mean").type == pa.float64()
    rows = t.to_pylist()
    by_hash = {c["hash"]: c for c in cells}
    assert [r["arch_id"] for r in rows] == sorted(by_hash)
    for r in rows:
        c = by_hash[r["arch_id"]]
        assert (r["n_vertices"], r["adjacency"], r["ops"], r["trainable_params"]) == (
            c["n"], c["adj"], c["ops"], c["params"])
        for e in budgets:
            reps = runs[(c["hash"], e)]
            vals = [100.0 * v for v, _, _ in reps]
            tests = [100.0 * t_ for _, t_, _ in reps]
            assert r[f"val_acc_{e}_seeds"] == vals
            assert r[f"test_acc_{e}_seeds"] == tests
            assert r[f"val_acc_{e}_mean"] == sum(vals) / len(vals)
            assert r[f"test_acc_{e}_mean"] == sum(tests) / len(tests)
            assert r[f"train_time_{e}_mean"] == sum(x for _, _, x in reps) / len(reps)


def test_ingest_only108(tmp_path: Path) -> None:
    rng = random.Random(101)
    cells = _make_cells(6, rng)
    runs = _write_bench(tmp_path / "nasbench_only108.tfrecord", cells, [108], rng)
    out = ingest(tmp_path)
    assert list(out) == ["nb101_full"]
    proc = out["nb101_full"]
    assert proc.sources == ["nasbench_only108.tfrecord"]
    assert proc.extra == {"epochs": [108], "repeats": {"108": 3}, "n_records": 18}
    _check_table(proc, cells, [108], runs)
    # Same result through the package-level dispatcher.
    assert ingest_bench("nb101_full", tmp_path)["nb101_full"].table.equals(proc.table)


def test_ingest_full_multi_budget(tmp_path: Path) -> None:
    rng = random.Random(4)
    cells = _make_cells(5, rng)
    budgets = [108, 4, 36, 12]
    runs = _write_bench(tmp_path / "nasbench_full.tfrecord", cells, budgets, rng)
    proc = ingest(tmp_path, "nasbench_full.tfrecord")["nb101_full"]
    assert proc.extra["epochs"] == [4, 12, 36, 108]
    assert proc.table.num_rows == 5
    _check_table(proc, cells, budgets, runs)


def test_ingest_two_repeats_everywhere_is_fine(tmp_path: Path) -> None:
    rng = random.Random(2)
    cells = _make_cells(3, rng)
    runs = _write_bench(tmp_path / "nasbench_only108.tfrecord", cells, [108], rng, repeats=2)
    proc = ingest(tmp_path)["nb101_full"]
    assert proc.extra["repeats"] == {"108": 2}
    _check_table(proc, cells, [108], runs)


def _ingest_error(tmp_path: Path, records: list[bytes]) -> str:
    path = tmp_path / "nasbench_only108.tfrecord"
    write_records(path, records)
    with pytest.raises(DataFormatError) as err:
        ingest(tmp_path)
    msg = str(err.value)
    assert str(path) in msg
    return msg


def _cell_records(c: dict, budget: int = 108, n: int = 3, params: int | None = None):
    p = c["params"] if params is None else params
    return [encode_row(c["hash"], budget, c["adj"], c["ops"], _metrics(0.9, 0.8, 50.0, p))
            for _ in range(n)]


def test_ingest_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="missing"):
        ingest(tmp_path)


def test_ingest_bad_json_row(tmp_path: Path) -> None:
    c = _make_cells(1, random.Random(0))[0]
    recs = _cell_records(c)
    recs.insert(1, b'["abc", 108')
    msg = _ingest_error(tmp_path, recs)
    assert "record 1 at byte offset" in msg and "not a UTF-8 JSON row" in msg


def test_ingest_truncated_file(tmp_path: Path) -> None:
    c = _make_cells(1, random.Random(0))[0]
    path = tmp_path / "nasbench_only108.tfrecord"
    write_records(path, _cell_records(c))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 40])
    with pytest.raises(DataFormatError, match=r"record 2 at byte offset .*truncated data") as e:
        ingest(tmp_path)
    assert str(path) in str(e.value)


def test_ingest_flipped_bytes(tmp_path: Path) -> None:
    c = _make_cells(1, random.Random(0))[0]
    path = tmp_path / "nasbench_only108.tfrecord"
    write_records(path, _cell_records(c))
    raw = path.read_bytes()
    for pos, what in ((30, "data CRC"), (0, "length CRC")):
        bad = bytearray(raw)
        bad[pos] ^= 0x04
        path.write_bytes(bytes(bad))
        with pytest.raises(DataFormatError, match=f"record 0 at byte offset 0: {what}") as e:
            ingest(tmp_path)
        assert str(path) in str(e.value)


def test_ingest_inconsistent_repeats(tmp_path: Path) -> None:
    a, b, c = _make_cells(3, random.Random(1))
    msg = _ingest_error(tmp_path, _cell_records(a) + _cell_records(b, n=2) + _cell_records(c))
    assert f"hash {b['hash']} has 2 records for 108 epochs, most have 3" in msg
    msg = _ingest_error(tmp_path, _cell_records(a) + _cell_records(b, n=4) + _cell_records(c))
    assert f"hash {b['hash']} has 4 records for 108 epochs, most have 3" in msg


def test_ingest_hash_missing_a_budget(tmp_path: Path) -> None:
    a, b, c = _make_cells(3, random.Random(1))
    recs = _cell_records(a, 4) + _cell_records(c, 4) + _cell_records(a) + _cell_records(b)
    recs += _cell_records(c)
    msg = _ingest_error(tmp_path, recs)
    assert f"hash {b['hash']} has 0 records for 4 epochs" in msg


def test_ingest_inconsistent_params(tmp_path: Path) -> None:
    a, b = _make_cells(2, random.Random(1))
    recs = _cell_records(a) + _cell_records(b, n=2) + _cell_records(b, n=1, params=7)
    msg = _ingest_error(tmp_path, recs)
    assert "record 5 at byte offset" in msg
    assert f"{b['hash']}: trainable_parameters 7 differ" in msg


def test_ingest_inconsistent_spec(tmp_path: Path) -> None:
    a, b = _make_cells(2, random.Random(1))
    other = dict(b, ops=a["ops"], adj=a["adj"]) if a["ops"] != b["ops"] else dict(
        b, adj="0" * len(b["adj"]))
    recs = _cell_records(b, n=2) + _cell_records(other, n=1)
    msg = _ingest_error(tmp_path, recs)
    assert f"{b['hash']}: adjacency/ops differ" in msg


def test_ingest_bad_metrics_in_a_later_repeat(tmp_path: Path) -> None:
    c = _make_cells(1, random.Random(3))[0]
    recs = _cell_records(c, n=2)
    two_evals = build_metrics(c["params"], [{}, {"validation_accuracy": 0.5,
                                                 "test_accuracy": 0.5, "training_time": 1.0}])
    recs.append(encode_row(c["hash"], 108, c["adj"], c["ops"], two_evals))
    msg = _ingest_error(tmp_path, recs)
    assert "record 2 at byte offset" in msg and "expected 3 evaluations" in msg
    no_time = build_metrics(c["params"], [{}, {}, {"validation_accuracy": 0.5,
                                                   "test_accuracy": 0.5}])
    recs[2] = encode_row(c["hash"], 108, c["adj"], c["ops"], no_time)
    msg = _ingest_error(tmp_path, recs)
    assert "final evaluation lacks training_time" in msg
    no_params = model_metrics_class()()
    for _ in range(3):
        no_params.evaluation_data.add(validation_accuracy=0.5, test_accuracy=0.5,
                                      training_time=1.0)
    recs[2] = encode_row(c["hash"], 108, c["adj"], c["ops"], no_params)
    assert "lack trainable_parameters" in _ingest_error(tmp_path, recs)
