"""Reader of the official NAS-Bench-101 files (``nasbench_only108.tfrecord``,
``nasbench_full.tfrecord``) without TensorFlow.

Each TFRecord record (see :mod:`nasrank.benchmarks.tfrecord`) holds the UTF-8 JSON
list ``[module_hash, epochs, raw_adjacency, raw_operations, raw_metrics]``:

* ``module_hash``: the 32 lowercase hex digits of the cell's graph hash;
* ``epochs``: the training budget of this run (4, 12, 36 or 108);
* ``raw_adjacency``: ``n*n`` characters ``0``/``1``, the row-major ``n x n`` adjacency
  matrix (``n`` vertices, input first, output last);
* ``raw_operations``: the ``n`` comma-separated vertex operations;
* ``raw_metrics``: base64 (MIME style, a newline every 76 characters) of a serialized
  ``nasbench.ModelMetrics`` protobuf (google-research/nasbench,
  ``nasbench/lib/model_metrics.proto``).

There is one record per (hash, budget, repeat): three repeats (training seeds) per cell
and budget. As in the official ``nasbench.api``, a run's ``evaluation_data`` holds three
evaluations (at initialisation, halfway and at the end of training); the last one gives
the final accuracies and training time.

The protobuf message classes are built at runtime from a ``FileDescriptorProto`` in a
private descriptor pool (no ``protoc``, no generated ``_pb2`` module), so they never
clash with a real ``nasbench`` installation in the same process.

Usage::

    from nasrank.benchmarks.nb101_full import ingest
    tables = ingest(Path("data/raw/nb101_full"))     # {"nb101_full": Processed}
"""

from __future__ import annotations

import binascii
import functools
import json
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from nasrank.benchmarks.common import Processed
from nasrank.benchmarks.tfrecord import iter_records_with_offsets
from nasrank.errors import DataFormatError

__all__ = [
    "DEFAULT_FILE",
    "EVALUATION_FIELDS",
    "OPS",
    "build_metrics",
    "encode_row",
    "evaluation_data_class",
    "ingest",
    "model_metrics_class",
    "parse_row",
]

NAME = "nb101_full"
DEFAULT_FILE = "nasbench_only108.tfrecord"
PROTO_FILE = "nasbench/lib/model_metrics.proto"

INPUT, OUTPUT = "input", "output"
OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
_MIDDLE_OPS = frozenset(OPS)

# Double fields of nasbench.EvaluationData, field numbers 1..5 (6 is checkpoint_path).
EVALUATION_FIELDS = (
    "current_epoch",
    "training_time",
    "train_accuracy",
    "validation_accuracy",
    "test_accuracy",
)
# Fields the final evaluation must carry (an unset proto2 double would read as 0.0).
_REQUIRED_FINAL = ("training_time", "validation_accuracy", "test_accuracy")
N_EVALUATIONS = 3  # initial, halfway, final: what nasbench.api indexes ([1], [2])

_HEX = "0123456789abcdef"
_JSON_DECODE = json.JSONDecoder().decode


# ---------------------------------------------------------------------------- protobuf


def _file_descriptor_proto() -> descriptor_pb2.FileDescriptorProto:
    """``nasbench/lib/model_metrics.proto`` (proto2, package ``nasbench``) as a descriptor."""
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name=PROTO_FILE, package="nasbench", syntax="proto2"
    )
    mm = fdp.message_type.add(name="ModelMetrics")
    mm.field.add(
        name="evaluation_data", number=1, label=F.LABEL_REPEATED, type=F.TYPE_MESSAGE,
        type_name=".nasbench.EvaluationData",
    )
    mm.field.add(
        name="trainable_parameters", number=2, label=F.LABEL_OPTIONAL, type=F.TYPE_INT32
    )
    mm.field.add(name="total_time", number=3, label=F.LABEL_OPTIONAL, type=F.TYPE_DOUBLE)
    ev = fdp.message_type.add(name="EvaluationData")
    for number, name in enumerate(EVALUATION_FIELDS, start=1):
        ev.field.add(name=name, number=number, label=F.LABEL_OPTIONAL, type=F.TYPE_DOUBLE)
    ev.field.add(name="checkpoint_path", number=6, label=F.LABEL_OPTIONAL, type=F.TYPE_STRING)
    return fdp


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_file_descriptor_proto())
    return pool


@functools.cache
def model_metrics_class() -> type[Message]:
    """The runtime-built message class of ``nasbench.ModelMetrics``."""
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName("nasbench.ModelMetrics"))


@functools.cache
def evaluation_data_class() -> type[Message]:
    """The runtime-built message class of ``nasbench.EvaluationData``."""
    return message_factory.GetMessageClass(
        _pool().FindMessageTypeByName("nasbench.EvaluationData")
    )


def build_metrics(
    trainable_parameters: int,
    evaluations: Sequence[Mapping[str, float]],
    total_time: float | None = None,
) -> Message:
    """A ``ModelMetrics`` message; ``evaluations`` map :data:`EVALUATION_FIELDS` names
    (and optionally ``checkpoint_path``) to values."""
    msg = model_metrics_class()(trainable_parameters=trainable_parameters)
    if total_time is not None:
        msg.total_time = total_time
    for ev in evaluations:
        msg.evaluation_data.add(**ev)
    return msg


# ------------------------------------------------------------------------------- rows


def encode_row(
    module_hash: str,
    epochs: int,
    adjacency: str | Sequence[Sequence[int]],
    ops: str | Sequence[str],
    metrics: Message | bytes,
) -> bytes:
    """One record's data exactly as upstream writes it (inverse of :func:`parse_row`).

    ``adjacency`` is the ``0``/``1`` string or an ``n x n`` matrix; ``ops`` the
    comma-separated string or a sequence of names; ``metrics`` a ``ModelMetrics``
    message or its serialization. The JSON uses ``json.dumps`` defaults and the metrics
    ``base64.encodebytes`` (newline every 76 characters), as the upstream file does.
    """
    if not isinstance(adjacency, str):
        adjacency = "".join(str(int(v)) for row in adjacency for v in row)
    if not isinstance(ops, str):
        ops = ",".join(ops)
    raw = metrics if isinstance(metrics, bytes) else metrics.SerializeToString()
    b64 = binascii.b2a_base64(raw, newline=False).decode("ascii")
    b64 = "".join(b64[i : i + 76] + "\n" for i in range(0, len(b64), 76))
    return json.dumps([module_hash, int(epochs), adjacency, ops, b64]).encode("utf-8")


def _split(data: bytes) -> tuple[str, int, str, str, str]:
    """The five JSON fields of a record, type-checked."""
    try:
        row = _JSON_DECODE(data.decode("utf-8"))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise DataFormatError(f"not a UTF-8 JSON row: {exc}") from exc
    if not isinstance(row, list) or len(row) != 5:
        raise DataFormatError(
            f"expected a JSON list [hash, epochs, adjacency, ops, metrics], got {str(row)[:80]}"
        )
    module_hash, epochs, adjacency, ops, metrics = row
    if not (isinstance(module_hash, str) and len(module_hash) == 32
            and not module_hash.strip(_HEX)):
        raise DataFormatError(f"module hash must be 32 lowercase hex digits, got {module_hash!r}")
    if type(epochs) is not int or epochs <= 0:
        raise DataFormatError(f"{module_hash}: epochs must be a positive integer, got {epochs!r}")
    if not isinstance(adjacency, str) or not isinstance(ops, str) or not isinstance(metrics, str):
        raise DataFormatError(f"{module_hash}: adjacency, ops and metrics must be strings")
    return module_hash, epochs, adjacency, ops, metrics


def _check_spec(module_hash: str, adjacency: str, ops: str) -> int:
    """Validate the adjacency string and op list; return the number of vertices."""
    names = ops.split(",")
    n = len(names)
    if len(adjacency) != n * n or adjacency.strip("01"):
        raise DataFormatError(
            f"{module_hash}: adjacency must be {n}*{n} characters 0/1 for {n} ops, "
            f"got {adjacency!r}"
        )
    if n < 2 or names[0] != INPUT or names[-1] != OUTPUT or not _MIDDLE_OPS.issuperset(
        names[1:-1]
    ):
        raise DataFormatError(
            f"{module_hash}: ops must be input, then some of {list(OPS)}, then output; "
            f"got {ops!r}"
        )
    return n


def _b64decode(text: str) -> bytes:
    """Strict base64 decoding of the metrics, allowing only the MIME line breaks."""
    return binascii.a2b_base64(text.replace("\n", ""), strict_mode=True)


def _metrics(module_hash: str, raw_metrics: str) -> Message:
    try:
        raw = _b64decode(raw_metrics)
        msg = model_metrics_class().FromString(raw)
    except (ValueError, DecodeError) as exc:  # binascii.Error is a ValueError
        raise DataFormatError(f"{module_hash}: corrupt metrics: {exc}") from exc
    n_eval = len(msg.evaluation_data)
    if n_eval != N_EVALUATIONS:
        raise DataFormatError(
            f"{module_hash}: expected {N_EVALUATIONS} evaluations (initial, halfway, final), "
            f"got {n_eval}"
        )
    if not msg.HasField("trainable_parameters"):
        raise DataFormatError(f"{module_hash}: metrics lack trainable_parameters")
    final = msg.evaluation_data[-1]
    for field in _REQUIRED_FINAL:
        if not final.HasField(field):
            raise DataFormatError(f"{module_hash}: final evaluation lacks {field}")
    return msg


def _evaluation_dict(ev: Message) -> dict[str, float | None]:
    return {f: (getattr(ev, f) if ev.HasField(f) else None) for f in EVALUATION_FIELDS}


def parse_row(data: bytes) -> dict[str, Any]:
    """Decode and validate one record of the upstream file.

    Returns:
        ``module_hash`` (str), ``epochs`` (int), ``adjacency`` (the ``0``/``1`` string),
        ``ops`` (the comma-separated string), ``n_vertices`` (int),
        ``trainable_parameters`` (int), ``total_time`` (float or None),
        ``evaluations`` (list of dicts of :data:`EVALUATION_FIELDS`, unset fields None;
        accuracies are fractions as in the file), ``halfway`` and ``final`` (the
        second and last of them, as ``nasbench.api`` reports them).

    Raises:
        DataFormatError: the row does not have the upstream structure.
    """
    module_hash, epochs, adjacency, ops, raw_metrics = _split(data)
    n = _check_spec(module_hash, adjacency, ops)
    msg = _metrics(module_hash, raw_metrics)
    evaluations = [_evaluation_dict(ev) for ev in msg.evaluation_data]
    return {
        "module_hash": module_hash,
        "epochs": epochs,
        "adjacency": adjacency,
        "ops": ops,
        "n_vertices": n,
        "trainable_parameters": msg.trainable_parameters,
        "total_time": msg.total_time if msg.HasField("total_time") else None,
        "evaluations": evaluations,
        "halfway": evaluations[1],
        "final": evaluations[-1],
    }


# ----------------------------------------------------------------------------- ingest


class _Budget:
    """Per-record columns of one epoch budget, in file order (compact typed arrays)."""

    __slots__ = ("hash_idx", "test", "time", "val")

    def __init__(self) -> None:
        self.hash_idx = array("i")
        self.val = array("d")
        self.test = array("d")
        self.time = array("d")


def _columns_doc(budgets: Sequence[int], repeats: Mapping[int, int]) -> dict[str, str]:
    cols = {
        "arch_id": "The cell's NAS-Bench-101 module hash (32 lowercase hex digits), as "
        "stored in the upstream file; unique per row.",
        "n_vertices": "Number of vertices of the cell's graph, input and output included "
        "(at most 7 in NAS-Bench-101).",
        "adjacency": "The n_vertices x n_vertices adjacency matrix as stored upstream: "
        "n_vertices**2 characters '0'/'1' in row-major order, where character "
        "i*n_vertices + j is '1' iff there is an edge from vertex i to vertex j.",
        "ops": "The operations of the vertices in adjacency order, comma-separated: "
        "'input', then each of conv3x3-bn-relu, conv1x1-bn-relu or maxpool3x3, then "
        "'output'.",
        "trainable_params": "Number of trainable parameters of the network built from "
        "the cell (ModelMetrics.trainable_parameters, identical across all runs).",
    }
    for e in budgets:
        r = repeats[e]
        cols.update({
            f"val_acc_{e}_mean": f"CIFAR-10 validation accuracy in percent (100 x the "
            f"fraction) after training for {e} epochs, at the final evaluation, averaged "
            f"over the {r} repeats (training runs with different seeds).",
            f"test_acc_{e}_mean": f"CIFAR-10 test accuracy in percent (100 x the fraction) "
            f"after training for {e} epochs, at the final evaluation, averaged over the "
            f"{r} repeats.",
            f"val_acc_{e}_seeds": f"The {r} per-repeat validation accuracies in percent "
            f"behind val_acc_{e}_mean, in the order of the records in the upstream file.",
            f"test_acc_{e}_seeds": f"The {r} per-repeat test accuracies in percent behind "
            f"test_acc_{e}_mean, in the order of the records in the upstream file.",
            f"train_time_{e}_mean": f"Training time in seconds up to the final evaluation "
            f"of a {e}-epoch run (EvaluationData.training_time, excluding evaluation time), "
            f"averaged over the {r} repeats.",
        })
    return cols


def ingest(
    raw_dir: Path, filename: str = DEFAULT_FILE, *, check_crc: bool = True
) -> dict[str, Processed]:
    """Read the upstream TFRecord ``raw_dir/filename`` into one row per cell.

    Args:
        raw_dir: directory holding the downloaded file.
        filename: ``nasbench_only108.tfrecord`` or ``nasbench_full.tfrecord``.
        check_crc: verify the TFRecord CRCs.

    Returns:
        ``{"nb101_full": Processed}``; rows sorted by ``arch_id``, columns described in
        ``Processed.columns``; one group of budget columns per epoch budget in the file.

    Raises:
        DataFormatError: a framing or row error (naming file, record and byte offset),
            or an inconsistency between the records of one hash (naming file and hash).
    """
    path = Path(raw_dir) / filename
    if not path.is_file():
        raise DataFormatError(f"{path}: missing; run `nasrank fetch {NAME}` first")

    index: dict[str, int] = {}
    hashes: list[str] = []
    adjacencies: list[str] = []
    op_lists: list[str] = []
    n_vertices = array("b")
    params = array("q")
    budgets: dict[int, _Budget] = {}
    interned: dict[str, str] = {}  # many cells share an adjacency or op string

    new_metrics = model_metrics_class().FromString
    a2b = _b64decode
    record = -1
    for record, (offset, data) in enumerate(iter_records_with_offsets(path, check_crc=check_crc)):
        try:
            module_hash, epochs, adjacency, ops, raw_metrics = _split(data)
            i = index.get(module_hash)
            if i is None:
                n = _check_spec(module_hash, adjacency, ops)
                msg = _metrics(module_hash, raw_metrics)
                i = index[module_hash] = len(hashes)
                hashes.append(module_hash)
                adjacencies.append(interned.setdefault(adjacency, adjacency))
                op_lists.append(interned.setdefault(ops, ops))
                n_vertices.append(n)
                params.append(msg.trainable_parameters)
            else:
                if adjacency != adjacencies[i] or ops != op_lists[i]:
                    raise DataFormatError(
                        f"{module_hash}: adjacency/ops differ from an earlier record of "
                        "the same hash"
                    )
                try:
                    msg = new_metrics(a2b(raw_metrics))
                except (ValueError, DecodeError):
                    msg = None
                if (msg is None or len(msg.evaluation_data) != N_EVALUATIONS
                        or not msg.HasField("trainable_parameters")):
                    msg = _metrics(module_hash, raw_metrics)  # raises the precise error
                if msg.trainable_parameters != params[i]:
                    raise DataFormatError(
                        f"{module_hash}: trainable_parameters {msg.trainable_parameters} "
                        f"differ from {params[i]} in an earlier record of the same hash"
                    )
            final = msg.evaluation_data[-1]
            if not (final.HasField("validation_accuracy") and final.HasField("test_accuracy")
                    and final.HasField("training_time")):
                _metrics(module_hash, raw_metrics)  # raises the precise error
        except DataFormatError as exc:
            raise DataFormatError(
                f"{path}: record {record} at byte offset {offset}: {exc}"
            ) from exc
        b = budgets.get(epochs)
        if b is None:
            b = budgets[epochs] = _Budget()
        b.hash_idx.append(i)
        b.val.append(final.validation_accuracy)
        b.test.append(final.test_accuracy)
        b.time.append(final.training_time)

    n_records = record + 1
    if not hashes:
        raise DataFormatError(f"{path}: no records")

    n_hash = len(hashes)
    arch_id = pa.array(hashes, type=pa.string())
    order = pc.sort_indices(arch_id).to_numpy()
    columns: dict[str, pa.Array] = {
        "arch_id": arch_id.take(order),
        "n_vertices": pa.array(np.frombuffer(n_vertices, dtype=np.int8)[order]),
        "adjacency": pa.array(adjacencies, type=pa.string()).take(order),
        "ops": pa.array(op_lists, type=pa.string()).take(order),
        "trainable_params": pa.array(np.frombuffer(params, dtype=np.int64)[order]),
    }
    del adjacencies, op_lists, index, interned

    repeats: dict[int, int] = {}
    for e in sorted(budgets):
        b = budgets[e]
        idx = np.frombuffer(b.hash_idx, dtype=np.int32)
        counts = np.bincount(idx, minlength=n_hash)
        r = int(np.bincount(counts).argmax())  # the most common number of repeats
        bad = np.flatnonzero(counts != r)
        if bad.size:
            j = min(bad, key=hashes.__getitem__)
            raise DataFormatError(
                f"{path}: hash {hashes[j]} has {counts[j]} records for {e} epochs, "
                f"most have {r} ({bad.size} of {n_hash} hashes differ)"
            )
        repeats[e] = r
        # Group the records of each hash, keeping file order among its repeats.
        rows = np.argsort(idx, kind="stable").reshape(n_hash, r)[order]
        offsets = pa.array(np.arange(0, n_hash * r + 1, r, dtype=np.int32))
        for name, values in (("val", b.val), ("test", b.test)):
            pct = 100.0 * np.frombuffer(values, dtype=np.float64)[rows]
            columns[f"{name}_acc_{e}_mean"] = pa.array(pct.mean(axis=1))
            columns[f"{name}_acc_{e}_seeds"] = pa.ListArray.from_arrays(
                offsets, pa.array(pct.reshape(-1))
            )
        times = np.frombuffer(b.time, dtype=np.float64)[rows]
        columns[f"train_time_{e}_mean"] = pa.array(times.mean(axis=1))

    budget_list = sorted(budgets)
    names = ["arch_id", "n_vertices", "adjacency", "ops", "trainable_params"]
    for e in budget_list:
        names += [f"val_acc_{e}_mean", f"test_acc_{e}_mean", f"val_acc_{e}_seeds",
                  f"test_acc_{e}_seeds", f"train_time_{e}_mean"]
    table = pa.table({c: columns[c] for c in names})
    reps = ", ".join(f"{repeats[e]} at {e} epochs" for e in budget_list)
    return {
        NAME: Processed(
            table=table,
            columns=_columns_doc(budget_list, repeats),
            sources=[filename],
            notes=(
                f"Official NAS-Bench-101 data read from {filename} ({n_records} records, "
                f"{n_hash} cells; repeats per cell: {reps}). Accuracies are in percent; "
                "'final' is the last of the three evaluations of a run, as in "
                "nasbench.api. Cells are keyed by the upstream module hash, which "
                "identifies isomorphic graphs."
            ),
            extra={"epochs": budget_list, "repeats": {str(e): repeats[e] for e in budget_list},
                   "n_records": n_records},
        )
    }
