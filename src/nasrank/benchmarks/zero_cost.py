"""Zero-cost proxies: NASLib's zc files, the ``zc_*`` columns, and their look-up.

NASLib's zero-cost benchmark files (NAS-Bench-Suite-Zero, ``naslib/data/zc_*.json``)
map a dataset (or task) key to records keyed by NASLib's architecture encoding::

    {"cifar10": {"(0, 2, 3, 2, 3, 1)": {
        "idx": "534", "arch": "(0, 2, 3, 2, 3, 1)", "val_accuracy": 86.06,
        "synflow": {"score": 41.9, "time": 0.48}, "flops": {"score": 88.3, "time": 0.49},
        ...}}}

Every field other than ``idx``, ``arch`` and ``val_accuracy`` is a proxy: an object
``{"score": s, "time": t}`` (``time`` in seconds, optional) or, as in the NB101 file, a
bare number (a score without time). NASLib writes ``-1e8`` where a score came out NaN or
infinite (``naslib/predictors/zerocost.py``); such scores, and non-finite ones, are
read as ``None`` ("failed") and stored as nulls.

A processed table holds, for every proxy ``p`` of its source file, the float64 column
``zc_<p>`` (score) and, where the file records times, ``zc_<p>_time_s`` (seconds), with
nulls where a cell has no value. Its Parquet metadata has a ``zero_cost`` entry
(:func:`zc_metadata`) listing the proxies, their source files and columns, and how many
cells have a value.

Usage::

    from nasrank.benchmarks.zero_cost import read_zc_records, require_zero_cost
    recs = read_zc_records(Path("data/raw/nb201/zc_nasbench201.json"), "cifar10")
    rec = recs["(0, 2, 3, 2, 3, 1)"]
    print(rec.val_accuracy, rec.scores["synflow"], rec.times["synflow"])

    meta = nasrank.io.read_metadata("data/processed/nb201-cifar10.parquet")
    cols = require_zero_cost(meta, ["synflow", "jacov"])   # ["zc_synflow", "zc_jacov"]
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.paths import TableId

#: Prefix of a proxy's score column; ``zc_<proxy>_time_s`` is its compute time.
PREFIX = "zc_"
TIME_SUFFIX = "_time_s"
#: NASLib's score for a proxy that came out NaN or infinite.
NASLIB_FAILED = -1e8
#: Fields of a record that are not proxies.
META_FIELDS = ("idx", "arch", "val_accuracy")
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")

#: What each proxy NASLib ships measures (network at initialisation, one mini-batch).
PROXY_DOCS: dict[str, str] = {
    "flops": "FLOPs of the network in millions, as NASLib computed them",
    "params": "parameters of the network in millions, as NASLib computed them",
    "synflow": "SynFlow (Tanaka et al. 2020; Abdelfattah et al. 2021); NASLib stores "
    "the sign-preserving log of the raw score",
    "grasp": "GraSP (Wang et al. 2020) saliency summed over weights",
    "fisher": "Fisher saliency (Turner et al. 2020) summed over activations",
    "grad_norm": "Euclidean norm of the loss gradients (Abdelfattah et al. 2021)",
    "l2_norm": "L2 norm of the weights",
    "plain": "sum of gradient times weight (plain saliency, Mozer & Smolensky 1989)",
    "nwot": "NASWOT (Mellor et al. 2021): log-determinant of the binary activation-code "
    "kernel",
    "epe_nas": "EPE-NAS (Lopes et al. 2021): Jacobian correlation per class",
    "jacov": "Jacobian covariance (Mellor et al. 2020, first version of NASWOT)",
    "snip": "SNIP (Lee et al. 2019) connection sensitivity summed over weights",
    "zen": "Zen-NAS score (Lin et al. 2021)",
}


@dataclass(frozen=True)
class ZCRecord:
    """One architecture of a NASLib zc file.

    Attributes:
        arch_key: the record's key in the file (NASLib's encoding, as text).
        val_accuracy: the file's ``val_accuracy`` (for TransNAS tasks the task's own
            validation metric, whatever its unit).
        scores: proxy -> score; ``None`` where NASLib stored ``-1e8`` or a non-finite
            value (the proxy failed). Proxies the record lacks are absent.
        times: proxy -> compute time in seconds, for the proxies whose entry has one.
    """

    arch_key: str
    val_accuracy: float
    scores: dict[str, float | None] = field(default_factory=dict)
    times: dict[str, float] = field(default_factory=dict)


def score_column(proxy: str) -> str:
    """``zc_<proxy>``."""
    return f"{PREFIX}{proxy}"


def time_column(proxy: str) -> str:
    """``zc_<proxy>_time_s``."""
    return f"{PREFIX}{proxy}{TIME_SUFFIX}"


# --- reading NASLib's files -----------------------------------------------------------


def _no_duplicates(path: Path):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise DataFormatError(f"{path}: key {k!r} appears twice in one object")
            out[k] = v
        return out

    return hook


def load_zc_json(path: Path) -> Any:
    """Parse a zc file (``-Infinity``/``NaN`` allowed, as Python writes them), refusing
    an object with a repeated key."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f, object_pairs_hook=_no_duplicates(path))
    except FileNotFoundError as exc:
        raise DataFormatError(f"{path}: missing; run `nasrank fetch` first") from exc
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: not valid JSON: {exc}") from exc


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _score(value: Any, where: str) -> float | None:
    if not _is_number(value):
        raise DataFormatError(f"{where}: score {value!r} is not a number")
    value = float(value)
    if not math.isfinite(value) or value == NASLIB_FAILED:
        return None
    return value


def parse_zc_record(key: str, rec: Any, where: str) -> ZCRecord:
    """Check one record of a zc file and return it as a :class:`ZCRecord`.

    Args:
        key: the record's key (NASLib's encoding as text).
        rec: the record's parsed JSON.
        where: file and position, for error messages.

    Raises:
        DataFormatError: naming ``where`` and the field: not an object, no
            ``val_accuracy`` or a non-finite one, ``arch`` differing from the key, a
            proxy entry without ``score``, a score or time that is not a number, a
            negative time, or a proxy name that cannot be a column name.
    """
    if not isinstance(rec, dict):
        raise DataFormatError(f"{where}: record is not an object")
    if "val_accuracy" not in rec:
        raise DataFormatError(f"{where}: missing keys ['val_accuracy']")
    val = rec["val_accuracy"]
    if not _is_number(val) or not math.isfinite(val):
        raise DataFormatError(f"{where}: val_accuracy {val!r} is not a finite number")
    if "arch" in rec and rec["arch"] != key:
        raise DataFormatError(f"{where}: field 'arch' is {rec['arch']!r}, not the key")
    scores: dict[str, float | None] = {}
    times: dict[str, float] = {}
    for name, entry in rec.items():
        if name in META_FIELDS:
            continue
        at = f"{where}: proxy {name!r}"
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise DataFormatError(f"{at}: not a proxy name (lower-case letters, digits, _)")
        if isinstance(entry, dict):
            if "score" not in entry:
                raise DataFormatError(f"{at}: entry {entry!r} has no 'score'")
            scores[name] = _score(entry["score"], at)
            t = entry.get("time")
            if t is not None:
                if not _is_number(t) or not math.isfinite(t) or t < 0:
                    raise DataFormatError(f"{at}: time {t!r} is not a number of seconds")
                times[name] = float(t)
        elif _is_number(entry):
            scores[name] = _score(entry, at)
        else:
            raise DataFormatError(
                f"{at}: entry {entry!r} is neither {{'score': ..., 'time': ...}} nor a number"
            )
    return ZCRecord(str(key), float(val), scores, times)


DatasetKey = str | tuple[str, ...]


def _label(key: DatasetKey) -> str:
    return " -> ".join(key) if isinstance(key, tuple) else key


def read_zc_datasets(
    path: Path, dataset_keys: Sequence[DatasetKey]
) -> dict[DatasetKey, dict[str, ZCRecord]]:
    """Read several datasets (tasks) of one zc file, parsing it once.

    Args:
        path: the zc JSON file.
        dataset_keys: top-level keys (``"cifar10"``), or tuples of nested keys
            (``("nasbench101", "cifar10")``).

    Returns:
        ``{dataset key: {record key: ZCRecord}}`` in file order.

    Raises:
        DataFormatError: naming the file and key: a dataset (task) missing, not an
            object or empty, or a bad record (see :func:`parse_zc_record`).
    """
    path = Path(path)
    obj = load_zc_json(path)
    if not isinstance(obj, dict):
        raise DataFormatError(f"{path}: top level is {type(obj).__name__}, expected an object")
    missing = []
    for key in dataset_keys:
        node: Any = obj
        for part in key if isinstance(key, tuple) else (key,):
            if not isinstance(node, dict) or part not in node:
                missing.append(_label(key))
                break
            node = node[part]
    if missing:
        raise DataFormatError(f"{path}: missing keys {missing}")
    out: dict[DatasetKey, dict[str, ZCRecord]] = {}
    for key in dataset_keys:
        node = obj
        for part in key if isinstance(key, tuple) else (key,):
            node = node[part]
        label = _label(key)
        if not isinstance(node, dict) or not node:
            raise DataFormatError(f"{path}: key {label!r} must be a non-empty object")
        out[key] = {
            k: parse_zc_record(k, rec, f"{path}: {label}[{k!r}]") for k, rec in node.items()
        }
    return out


def read_zc_records(path: Path, dataset_key: DatasetKey) -> dict[str, ZCRecord]:
    """The records of one dataset (task) of a zc file: ``{record key: ZCRecord}``.

    ``dataset_key`` is a top-level key (``"cifar10"``, ``"class_scene"``) or a tuple of
    nested keys (``("nasbench101", "cifar10")``). Raises :class:`DataFormatError` as
    :func:`read_zc_datasets`.
    """
    return read_zc_datasets(path, [dataset_key])[dataset_key]


def require_scores(rec: ZCRecord, proxies: Iterable[str], where: str) -> None:
    """Raise a :class:`DataFormatError` naming ``where`` if ``rec`` lacks a score."""
    missing = [p for p in proxies if rec.scores.get(p) is None]
    if missing:
        raise DataFormatError(f"{where}: no score for {missing}")


def mean_record(records: Sequence[ZCRecord]) -> ZCRecord:
    """One record averaging ``records`` (entries of one cell): mean ``val_accuracy``,
    and per proxy the mean of the scores (times) the entries have; ``None`` where every
    entry's score failed."""
    if not records:
        raise ValueError("mean_record of no records")

    def mean(values: list[float]) -> float:
        # left-to-right sum, as numpy's reduction over the rows of a 2-D array
        total = 0.0
        for v in values:
            total += v
        return total / len(values)

    scores: dict[str, float | None] = {}
    times: dict[str, float] = {}
    for p in proxy_names(records):
        got = [r.scores[p] for r in records if p in r.scores]
        ok = [s for s in got if s is not None]
        scores[p] = mean(ok) if ok else None
        ts = [r.times[p] for r in records if p in r.times]
        if ts:
            times[p] = mean(ts)
    val = mean([r.val_accuracy for r in records])
    return ZCRecord(records[0].arch_key, val, scores, times)


# --- building the columns -------------------------------------------------------------


def proxy_names(records: Iterable[ZCRecord]) -> list[str]:
    """Every proxy of ``records``, sorted."""
    names: set[str] = set()
    for r in records:
        names.update(r.scores)
    return sorted(names)


def timed_proxies(records: Iterable[ZCRecord]) -> list[str]:
    """The proxies with a compute time in some record, sorted."""
    names: set[str] = set()
    for r in records:
        names.update(r.times)
    return sorted(names)


def failed_counts(records: Iterable[ZCRecord]) -> dict[str, int]:
    """Per proxy, the records whose score failed (NASLib's ``-1e8`` or non-finite)."""
    out: dict[str, int] = {}
    for r in records:
        for p, s in r.scores.items():
            out[p] = out.get(p, 0) + (s is None)
    return dict(sorted(out.items()))


def zc_columns(
    rows: Sequence[ZCRecord | None], proxies: Sequence[str], timed: Iterable[str]
) -> dict[str, pa.Array]:
    """The float64 columns ``zc_<p>`` (and ``zc_<p>_time_s`` for ``p`` in ``timed``),
    one value per row, null where the row has no record, no score or no time."""
    timed = set(timed)
    out: dict[str, pa.Array] = {}
    for p in proxies:
        scores = [None if r is None else r.scores.get(p) for r in rows]
        out[score_column(p)] = pa.array(scores, type=pa.float64())
        if p in timed:
            times = [None if r is None else r.times.get(p) for r in rows]
            out[time_column(p)] = pa.array(times, type=pa.float64())
    return out


def zc_column_docs(
    proxies: Sequence[str], timed: Iterable[str], source: str, coverage: str
) -> dict[str, str]:
    """The ``columns`` meanings of the ``zc_*`` columns.

    Args:
        source: the file the values come from.
        coverage: which rows have values (e.g. "the 725 cells NASLib sampled").
    """
    timed = set(timed)
    out: dict[str, str] = {}
    for p in proxies:
        what = PROXY_DOCS.get(p, f"zero-cost proxy {p!r} as NASLib computed it")
        out[score_column(p)] = (
            f"zero-cost proxy {p} (float64): {what}; from {source}, known for {coverage}; "
            "null elsewhere and where NASLib stored -1e8 or a non-finite "
            "score (the proxy failed)"
        )
        if p in timed:
            out[time_column(p)] = (
                f"seconds NASLib took to compute {p} for this cell (float64, from {source}; "
                "hardware not recorded); null where the score column has no row"
            )
    return out


def zc_metadata(
    table: Mapping[str, pa.Array] | pa.Table,
    proxies: Sequence[str],
    timed: Iterable[str],
    sources: Mapping[str, str],
    n_failed: Mapping[str, int],
    name: str,
) -> dict[str, Any]:
    """The ``zero_cost`` entry of a table's metadata.

    Args:
        table: the finished table (or its columns), to count the values.
        name: the table's stem (``nb201-cifar10``), for messages.
        sources: proxy -> the source file of its values.
        n_failed: proxy -> entries of the source whose score failed (stored as null).
    """
    timed = sorted(set(timed))

    def count(name: str) -> int:
        col = table[name]
        return len(col) - col.null_count

    return {
        "table": name,
        "proxies": list(proxies),
        "sources": {p: sources[p] for p in proxies},
        "score_columns": {p: score_column(p) for p in proxies},
        "time_columns": {p: time_column(p) for p in proxies if p in timed},
        "n_values": {p: count(score_column(p)) for p in proxies},
        "n_failed": {p: int(n_failed.get(p, 0)) for p in proxies},
        "failed_marker": "NASLib stores -1e8 for a NaN or infinite score; "
        "such scores and non-finite ones are nulls here",
    }


# --- looking the columns up -----------------------------------------------------------


def _metadata(source: Any) -> tuple[dict[str, Any], list[str] | None]:
    """``(nasrank metadata, column names or None)`` of a metadata mapping, a schema, a
    table, a :class:`~nasrank.benchmarks.common.Processed` or a Parquet path."""
    from nasrank.benchmarks.common import Processed

    if isinstance(source, Processed):
        return {**source.extra, "columns": source.columns}, source.table.column_names
    if isinstance(source, str | os.PathLike):
        import pyarrow.parquet as pq

        source = pq.read_schema(source)
    if isinstance(source, pa.Table):
        source = source.schema
    if isinstance(source, pa.Schema):
        raw = (source.metadata or {}).get(b"nasrank")
        return (json.loads(raw) if raw else {}), source.names
    if isinstance(source, Mapping):
        return dict(source), None
    raise TypeError(f"expected table metadata, a schema, a table or a path, got {source!r}")


def _table_name(meta: Mapping[str, Any], table: str | None) -> str:
    if table:
        return table
    entry = meta.get("zero_cost")
    if isinstance(entry, Mapping) and entry.get("table"):
        return str(entry["table"])
    bench = meta.get("benchmark") or meta.get("space")
    if bench:
        return TableId.of(str(bench), meta.get("task"))
    return "<table>"


def _entry(meta: Mapping[str, Any], names: list[str] | None) -> dict[str, Any]:
    entry = meta.get("zero_cost")
    if isinstance(entry, Mapping):
        return dict(entry)
    if names is None:
        return {}
    proxies = sorted(n[len(PREFIX):] for n in names
                     if n.startswith(PREFIX) and not n.endswith(TIME_SUFFIX))
    return {
        "proxies": proxies,
        "score_columns": {p: score_column(p) for p in proxies},
        "time_columns": {p: time_column(p) for p in proxies if time_column(p) in names},
    }


def zero_cost_proxies(source: Any) -> list[str]:
    """The proxies a table has (metadata ``zero_cost`` entry; without one, its
    ``zc_*`` columns)."""
    meta, names = _metadata(source)
    return list(_entry(meta, names).get("proxies", []))


def zero_cost_columns(source: Any, times: bool = False) -> list[str]:
    """The score columns ``zc_<p>`` of every proxy of a table (and, with ``times``, the
    ``zc_<p>_time_s`` columns it has), in proxy order.

    Args:
        source: the table's nasrank metadata (``nasrank.io.read_metadata``), its Arrow
            schema or table, a :class:`~nasrank.benchmarks.common.Processed`, or the
            path of the Parquet file.
    """
    meta, names = _metadata(source)
    entry = _entry(meta, names)
    out = []
    for p in entry.get("proxies", []):
        out.append(entry["score_columns"][p])
        if times and p in entry.get("time_columns", {}):
            out.append(entry["time_columns"][p])
    return out


def require_zero_cost(
    source: Any,
    proxies: Sequence[str],
    table: str | None = None,
    times: bool = False,
) -> list[str]:
    """The columns of ``proxies`` in a table, or a clear error.

    Args:
        source: as for :func:`zero_cost_columns`.
        proxies: the proxies a predictor needs (``["synflow", "jacov"]``).
        table: the table's name for messages (default: from the metadata).
        times: also require (and return) each proxy's compute-time column.

    Returns:
        ``[zc_<p>, ...]`` (with ``zc_<p>_time_s`` after each when ``times``).

    Raises:
        DataFormatError: naming the proxy and the table: the table has no such proxy
            (listing the ones it has), no value at all for it, or no compute time.
    """
    meta, names = _metadata(source)
    name = _table_name(meta, table)
    entry = _entry(meta, names)
    have = list(entry.get("proxies", []))
    out = []
    for p in proxies:
        if p not in have:
            listed = ", ".join(have) if have else "none"
            raise DataFormatError(
                f"table {name} has no zero-cost proxy {p!r} (its proxies: {listed})"
            )
        col = entry["score_columns"][p]
        if names is not None and col not in names:
            raise DataFormatError(f"table {name}: metadata lists proxy {p!r} but column "
                                  f"{col} is missing")
        if entry.get("n_values", {}).get(p, 1) == 0:
            raise DataFormatError(
                f"table {name}: zero-cost proxy {p!r} has no value for any cell (NASLib "
                f"could not compute it: {entry.get('n_failed', {}).get(p, '?')} failures)"
            )
        out.append(col)
        if times:
            tcol = entry.get("time_columns", {}).get(p)
            if tcol is None:
                raise DataFormatError(
                    f"table {name}: zero-cost proxy {p!r} has no compute-time column"
                )
            out.append(tcol)
    return out


def require_columns(source: Any, columns: Sequence[str], what: str = "column",
                    table: str | None = None) -> None:
    """Raise a :class:`DataFormatError` naming the table and the first of ``columns`` it
    lacks (``what`` names the kind, e.g. ``"fidelity"`` for ``val_acc_12``)."""
    meta, names = _metadata(source)
    if names is None:
        names = list(meta.get("columns", {}))
    name = _table_name(meta, table)
    for c in columns:
        if c not in names:
            raise DataFormatError(f"table {name} has no {what} {c!r} (its columns: "
                                  f"{', '.join(names)})")


def records_by_row(
    ids: Sequence[Hashable], records: Mapping[Hashable, ZCRecord]
) -> list[ZCRecord | None]:
    """``records`` aligned to the row order ``ids`` (``None`` for rows without one)."""
    return [records.get(i) for i in ids]


__all__ = [
    "NASLIB_FAILED",
    "PROXY_DOCS",
    "ZCRecord",
    "failed_counts",
    "load_zc_json",
    "mean_record",
    "parse_zc_record",
    "proxy_names",
    "read_zc_datasets",
    "read_zc_records",
    "records_by_row",
    "require_columns",
    "require_scores",
    "require_zero_cost",
    "score_column",
    "time_column",
    "timed_proxies",
    "zc_column_docs",
    "zc_columns",
    "zc_metadata",
    "zero_cost_columns",
    "zero_cost_proxies",
]


def parse_tuple_key(key: str, where: str, to_arch: Callable[[tuple[Any, ...]], str],
                    space: str) -> str:
    """The arch string of a NASLib record key such as ``"(1, 2, 4, 2, 0, 0)"``.

    Raises:
        DataFormatError: naming ``where`` and the key: not a tuple literal, or not an
            architecture of ``space`` (``to_arch`` raised ``OutOfDomainError``).
    """
    try:
        value = ast.literal_eval(key)
    except (ValueError, SyntaxError) as exc:
        raise DataFormatError(f"{where}: key {key!r} is not a tuple literal") from exc
    if not isinstance(value, tuple):
        raise DataFormatError(f"{where}: key {key!r} is not a tuple")
    try:
        return to_arch(value)
    except OutOfDomainError as exc:
        raise DataFormatError(f"{where}: key {key!r} is not {space}: {exc}") from exc
