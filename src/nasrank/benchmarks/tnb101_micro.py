"""Reader of TransNAS-Bench-101 micro: 4,096 cells x 7 tasks from NASLib's Zen files,
with NASLib's zero-cost proxies for 711 of them.

Sources: ``data/raw/tnb101_micro/all_benchmarks_zen.zip`` (NASLib
``naslib/data/zc_benchmarks/``) and ``zc_transbench101_micro.json`` (NASLib
``naslib/data/``, NAS-Bench-Suite-Zero; see below). The zip holds, under ``zen/``, 35 JSON files
``benchmark--transbench101_micro--<task>--<offset>.json``: for each of the 7 tasks, five
chunks of the same list of 4,096 records, starting at record ``offset`` (0, 1000, 2000,
3000 with 1,000 records each, 4000 with 96). The number is an offset into the list, not
an epoch or a seed. A record reads::

    {"idx": "0", "arch": "(2, 3, 2, 3, 2, 3)",
     "zen": {"score": 140.8, "time": 2.98}, "val_accuracy": 53.8}

``idx`` is the record's position in NASLib's list (the same cell at the same ``idx`` in
every task); ``arch`` is the NASLib tuple (see :mod:`nasrank.spaces.tnb101`);
``val_accuracy`` is, despite its name, the task's own validation metric (see
:data:`TASK_METRICS`); ``zen`` is the Zen-NAS proxy score NASLib computed at
initialisation, with ``-1e8`` where it could not compute one. The files record neither
seeds nor epochs: per NASLib's query code the value is TransNAS-Bench-101's
``get_single_metric(arch, task, metric)`` in its default ``mode='best'``, the maximum of
the metric over the training epochs of the one released training run.

``zc_transbench101_micro.json`` maps each task to 711 records keyed by the same NASLib
tuple, each with ``val_accuracy`` (the task's metric as NASLib queried it when it built
that file: it differs from the zip's for some tasks, Spearman 0.91-1.00) and 11 proxies
``{"score", "time"}`` (no Zen, no SynFlow); it is read by
:func:`nasrank.benchmarks.zero_cost.read_zc_datasets`.

Usage::

    from nasrank.benchmarks import tnb101_micro
    tables = tnb101_micro.ingest(Path("data/raw/tnb101_micro"))
    t = tables["tnb101_micro-room_layout"]
    print(t.extra["metric"], t.extra["higher_is_better"])   # valid_neg_loss True

Each table has ``arch_id`` (TNB101 arch string), ``op_0..op_5``, ``val_score`` and ``zen``,
then ``naslib_val_score`` and the zero-cost columns ``zc_<proxy>``/``zc_<proxy>_time_s``
(the zc file's proxies for its 711 cells, and ``zen`` from the zip for all cells); 4,096
rows sorted by ``arch_id``.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from nasrank.benchmarks.common import Processed, require_keys
from nasrank.benchmarks.registry import TNB101_TASKS
from nasrank.benchmarks.zero_cost import (
    ZCRecord,
    failed_counts,
    parse_zc_record,
    proxy_names,
    read_zc_datasets,
    records_by_row,
    timed_proxies,
    zc_column_docs,
    zc_columns,
    zc_metadata,
)
from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.spaces.tnb101 import (
    EDGES,
    OPS,
    SPACE_SIZE,
    TNB101MicroSpace,
    arch_to_str,
    naslib_to_arch,
)

BENCH = "tnb101_micro"
ZIP_FILE = "all_benchmarks_zen.zip"
ZC_FILE = "zc_transbench101_micro.json"
MEMBER_RE = re.compile(
    r"zen/benchmark--transbench101_micro--(?P<task>[a-z_]+)--(?P<offset>\d+)\.json"
)
#: NASLib's value for a Zen score it could not compute; stored as null.
ZEN_FAILED = -1e8


@dataclass(frozen=True)
class TaskMetric:
    """What ``val_score`` is for one task."""

    metric: str
    meaning: str
    unit: str
    higher_is_better: bool = True


#: The TNB101 metric NASLib stored as ``val_accuracy`` for each task.
TASK_METRICS: dict[str, TaskMetric] = {
    "class_scene": TaskMetric(
        "valid_top1",
        "top-1 accuracy of scene classification (63 classes)",
        "percent (0-100)",
    ),
    "class_object": TaskMetric(
        "valid_top1",
        "top-1 accuracy of object classification (100 classes)",
        "percent (0-100)",
    ),
    "jigsaw": TaskMetric(
        "valid_top1",
        "top-1 accuracy of predicting which of 1,000 tile permutations shuffled the "
        "3x3 jigsaw puzzle",
        "percent (0-100)",
    ),
    "room_layout": TaskMetric(
        "valid_neg_loss",
        "NEGATED L2 loss of room-layout regression, kept with TNB101's sign (all values "
        "are <= 0; closer to 0 is better)",
        "negative loss (<= 0)",
    ),
    "segmentsemantic": TaskMetric(
        "valid_acc",
        "pixel-wise accuracy of semantic segmentation (not mIoU)",
        "percent (0-100)",
    ),
    "normal": TaskMetric(
        "valid_ssim",
        "SSIM between predicted and true surface-normal images",
        "SSIM (0-1)",
    ),
    "autoencoder": TaskMetric(
        "valid_ssim",
        "SSIM between reconstructed and input images",
        "SSIM (0-1)",
    ),
}


def _parse_arch(key: Any, where: str) -> str:
    if not isinstance(key, str):
        raise DataFormatError(f"{where}: field 'arch' is {key!r}, not a tuple literal")
    try:
        value = ast.literal_eval(key)
    except (ValueError, SyntaxError) as exc:
        raise DataFormatError(f"{where}: field 'arch' {key!r} is not a tuple literal") from exc
    if not isinstance(value, tuple):
        raise DataFormatError(f"{where}: field 'arch' {key!r} is not a tuple")
    try:
        return arch_to_str(naslib_to_arch(value))
    except OutOfDomainError as exc:
        raise DataFormatError(f"{where}: field 'arch' {key!r}: {exc}") from exc


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataFormatError(f"{where}: {value!r} is not a finite number")
    return float(value)


def read_zen_zip(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The records of every task, in ``idx`` order, with chunks checked and joined.

    Returns:
        ``{task: [record, ...]}`` with 4,096 records per task of
        :data:`~nasrank.benchmarks.registry.TNB101_TASKS`.

    Raises:
        DataFormatError: a missing file, an unexpected member, a task missing or
            unknown, chunks that overlap or leave gaps, or a record whose ``idx`` is not
            its position.
    """
    if not path.is_file():
        raise DataFormatError(f"{path}: missing; run `nasrank fetch {BENCH}` first")
    chunks: dict[str, dict[int, list[Any]]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if name.endswith("/"):
                    continue
                m = MEMBER_RE.fullmatch(name)
                if not m:
                    raise DataFormatError(f"{path}: unexpected member {name!r}")
                task, offset = m["task"], int(m["offset"])
                if task not in TNB101_TASKS:
                    raise DataFormatError(f"{path}: member {name!r} names unknown task {task!r}")
                try:
                    data = json.loads(zf.read(name))
                except json.JSONDecodeError as exc:
                    raise DataFormatError(f"{path}: member {name!r} is not JSON: {exc}") from exc
                if not isinstance(data, list):
                    raise DataFormatError(f"{path}: member {name!r} is not a list of records")
                chunks.setdefault(task, {})[offset] = data
    except zipfile.BadZipFile as exc:
        raise DataFormatError(f"{path}: not a zip file: {exc}") from exc

    out: dict[str, list[dict[str, Any]]] = {}
    for task in TNB101_TASKS:
        if task not in chunks:
            raise DataFormatError(f"{path}: no member for task {task!r}")
        records: list[dict[str, Any]] = []
        for offset in sorted(chunks[task]):
            if offset != len(records):
                raise DataFormatError(
                    f"{path}: task {task!r}: chunk at offset {offset} but {len(records)} "
                    "records before it"
                )
            records.extend(chunks[task][offset])
        if len(records) != SPACE_SIZE:
            raise DataFormatError(
                f"{path}: task {task!r} has {len(records)} records, expected {SPACE_SIZE}"
            )
        for i, rec in enumerate(records):
            where = f"{path}: task {task!r} record {i}"
            if not isinstance(rec, dict):
                raise DataFormatError(f"{where}: not an object")
            require_keys(rec, ["idx", "arch", "val_accuracy"], where)
            if str(rec["idx"]) != str(i):
                raise DataFormatError(f"{where}: field 'idx' is {rec['idx']!r}, expected {i}")
        out[task] = records
    return out


@functools.cache
def _sorted_ids() -> list[str]:
    return [arch_to_str(a) for a in TNB101MicroSpace().enumerate()]


@functools.cache
def _op_columns() -> list[list[str]]:
    archs = list(TNB101MicroSpace().enumerate())
    return [[a[k] for a in archs] for k in range(len(EDGES))]


def _task_table(
    task: str, records: list[dict[str, Any]], arch_ids: list[str], path: Path
) -> tuple[pa.Table, int]:
    by_id: dict[str, tuple[float, float | None]] = {}
    n_failed = 0
    for i, (rec, arch_id) in enumerate(zip(records, arch_ids, strict=True)):
        where = f"{path}: task {task!r} record {i}"
        if arch_id in by_id:
            raise DataFormatError(f"{where}: second record for cell {arch_id}")
        val = _number(rec["val_accuracy"], f"{where}: field 'val_accuracy'")
        zen: float | None = None
        if "zen" in rec:
            z = rec["zen"]
            if not isinstance(z, dict) or "score" not in z:
                raise DataFormatError(f"{where}: field 'zen' is {z!r}, expected {{'score': ...}}")
            zen = _number(z["score"], f"{where}: field 'zen.score'")
            if zen == ZEN_FAILED:
                zen, n_failed = None, n_failed + 1
        by_id[arch_id] = (val, zen)
    ids = _sorted_ids()
    cols: dict[str, pa.Array] = {"arch_id": pa.array(ids, type=pa.string())}
    for k, ops in enumerate(_op_columns()):
        cols[f"op_{k}"] = pa.array(ops, type=pa.string())
    cols["val_score"] = pa.array([by_id[i][0] for i in ids], type=pa.float64())
    cols["zen"] = pa.array([by_id[i][1] for i in ids], type=pa.float64())
    return pa.table(cols), n_failed


def _columns(task: str) -> dict[str, str]:
    m = TASK_METRICS[task]
    cols = {
        "arch_id": "TNB101 micro arch string 64-41414-a_bc_def (op codes 0 none, "
        "1 skip_connect, 2 nor_conv_1x1, 3 nor_conv_3x3 on edges 1<-0 | 2<-0, 2<-1 | 3<-0, "
        "3<-1, 3<-2); the key of nasrank.spaces.tnb101; rows are sorted by it",
    }
    for k, (to_node, from_node) in enumerate(EDGES):
        cols[f"op_{k}"] = (
            f"operation on edge {to_node}<-{from_node} (digit {k} of the arch string): "
            f"one of {', '.join(OPS)}"
        )
    cols["val_score"] = (
        f"{task} validation {m.meaning}; TNB101 metric '{m.metric}', best value over the "
        f"training epochs of the released run (as NASLib queried it); unit: {m.unit}; "
        f"{'higher' if m.higher_is_better else 'lower'} is better"
    )
    cols["zen"] = (
        "Zen-NAS score (NASLib, at initialisation, this task's network); higher is "
        "predicted better; null where NASLib stored -1e8 because it could not compute one"
    )
    return cols


def read_zc_micro(path: Path) -> dict[str, dict[str, ZCRecord]]:
    """NASLib's ``zc_transbench101_micro.json``: per task, ``{arch_id: ZCRecord}``.

    Raises:
        DataFormatError: naming the file and key: a task missing, a key that is no
            TNB101-micro cell, two keys for one cell, or a malformed record.
    """
    data = read_zc_datasets(path, list(TNB101_TASKS))
    out: dict[str, dict[str, ZCRecord]] = {}
    for task in TNB101_TASKS:
        cells: dict[str, ZCRecord] = {}
        for key, rec in data[task].items():
            where = f"{path}: {task}[{key!r}]"
            arch_id = _parse_arch(key, where)
            if arch_id in cells:
                raise DataFormatError(f"{where}: second record for cell {arch_id}")
            cells[arch_id] = rec
        out[task] = cells
    return out


def _zc_part(
    task: str, zip_records: list[dict[str, Any]], arch_ids: list[str],
    zc: dict[str, ZCRecord], path: Path,
) -> tuple[dict[str, pa.Array], dict[str, str], dict[str, Any]]:
    """``naslib_val_score`` and the ``zc_*`` columns of one task, their meanings and
    the ``zero_cost`` metadata entry."""
    zen = {
        arch_id: parse_zc_record(rec["arch"], rec, f"{path}: task {task!r} record {i}")
        for i, (rec, arch_id) in enumerate(zip(zip_records, arch_ids, strict=True))
    }
    ids = _sorted_ids()
    proxies, timed = proxy_names(zc.values()), timed_proxies(zc.values())
    zen_proxies = [p for p in proxy_names(zen.values()) if p not in proxies]
    zen_timed = [p for p in timed_proxies(zen.values()) if p in zen_proxies]
    cols = {"naslib_val_score": pa.array([zc[i].val_accuracy if i in zc else None
                                          for i in ids], type=pa.float64())}
    zcols = zc_columns(records_by_row(ids, zc), proxies, timed)
    zcols.update(zc_columns(records_by_row(ids, zen), zen_proxies, zen_timed))
    every = sorted([*proxies, *zen_proxies])
    order = [c for p in every for c in (f"zc_{p}", f"zc_{p}_time_s") if c in zcols]
    cols.update({c: zcols[c] for c in order})
    m = TASK_METRICS[task]
    docs = {
        "naslib_val_score": f"{task} validation metric '{m.metric}' ({m.unit}) as stored in "
        f"{ZC_FILE} for its {len(zc)} cells (the values NASLib evaluated its proxies "
        "against); differs from val_score for some cells; null for the other cells",
        **zc_column_docs(proxies, timed, f"{ZC_FILE} (key {task!r})",
                         f"the {len(zc)} cells of that file"),
        **zc_column_docs(zen_proxies, zen_timed, ZIP_FILE,
                         "every cell (same values as column zen)"),
    }
    sources = {**dict.fromkeys(proxies, ZC_FILE), **dict.fromkeys(zen_proxies, ZIP_FILE)}
    failed = {**failed_counts(zc.values()), **{
        p: n for p, n in failed_counts(zen.values()).items() if p in zen_proxies}}
    entry = zc_metadata(cols, every, [*timed, *zen_timed], sources, failed, f"{BENCH}-{task}")
    return cols, docs, entry


def ingest(raw_dir: Path) -> dict[str, Processed]:
    """Build the 7 TNB101-micro tables from ``raw_dir`` (``data/raw/tnb101_micro``).

    Args:
        raw_dir: folder holding ``all_benchmarks_zen.zip`` and
            ``zc_transbench101_micro.json``.

    Returns:
        ``{"tnb101_micro-<task>": Processed}`` for every task of
        :data:`~nasrank.benchmarks.registry.TNB101_TASKS`, 4,096 rows each.

    Raises:
        DataFormatError: the zip, the zc file or a record is not as described in this
            module.
    """
    path = Path(raw_dir) / ZIP_FILE
    records = read_zen_zip(path)
    first = TNB101_TASKS[0]
    arch_by_idx = [r["arch"] for r in records[first]]
    arch_ids = [
        _parse_arch(key, f"{path}: task {first!r} record {i}")
        for i, key in enumerate(arch_by_idx)
    ]
    for task in TNB101_TASKS:
        for i, rec in enumerate(records[task]):
            if rec["arch"] != arch_by_idx[i]:
                raise DataFormatError(
                    f"{path}: task {task!r} record {i} is cell {rec['arch']}, but task "
                    f"{TNB101_TASKS[0]!r} has {arch_by_idx[i]} there"
                )
    tables = {task: _task_table(task, records[task], arch_ids, path) for task in TNB101_TASKS}
    zc_path = Path(raw_dir) / ZC_FILE
    zc = read_zc_micro(zc_path)
    out: dict[str, Processed] = {}
    for task in TNB101_TASKS:
        table, n_failed = tables[task]
        zc_cols, zc_docs, zero_cost = _zc_part(task, records[task], arch_ids, zc[task], path)
        for name, col in zc_cols.items():
            table = table.append_column(name, col)
        m = TASK_METRICS[task]
        notes = (
            f"val_score is TNB101's '{m.metric}' ({m.unit}), the best value over the "
            "training epochs of TNB101's single released run per cell, as stored by NASLib "
            "(the file records no seed or epoch). "
            f"zen is null for the {n_failed} cells where NASLib stored -1e8 (in the pinned "
            "file: the 169 cells whose output has no path from the input because 'none' "
            "edges cut it, which also get a constant or the lowest val_score). "
            f"naslib_val_score and the zc_* columns other than zc_zen come from {ZC_FILE} "
            f"({len(zc[task])} cells): its metric values disagree with val_score for some "
            "tasks (Spearman 0.91-1.00 over its cells), so evaluate proxies against one of "
            "the two and say which; failed proxy scores (NASLib's -1e8) are null."
        )
        if task == "room_layout":
            notes += " room_layout's val_score is a negated loss: values are <= 0."
        out[f"{BENCH}-{task}"] = Processed(
            table=table,
            columns={**_columns(task), **zc_docs},
            sources=[ZIP_FILE, ZC_FILE],
            notes=notes,
            extra={
                "default_target": "val_score",
                "space": BENCH,
                "metric": m.metric,
                "unit": m.unit,
                "higher_is_better": m.higher_is_better,
                "zero_cost": zero_cost,
            },
        )
    return out


__all__ = ["TASK_METRICS", "ZC_FILE", "ZIP_FILE", "TaskMetric", "ingest", "read_zc_micro",
           "read_zen_zip"]
