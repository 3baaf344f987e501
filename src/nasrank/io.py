"""Atomic file output and hashing.

Every output of the pipeline is first written to a temporary file in the destination
directory and renamed into place only once complete, so a failed or killed stage never
leaves a half-written file that a later stage (or Snakemake/DVC) would take for done.

Usage::

    with atomic_path("data/processed/nb101.parquet") as tmp:
        pq.write_table(table, tmp)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from nasrank.errors import DataFormatError, NasrankError

CHUNK = 1 << 20
log = logging.getLogger(__name__)


#: the temporary files and directories of :func:`atomic_path` and :func:`temp_dir`:
#: ``.NAME.XXXXXXXX[SUFFIX].tmp`` and ``.NAME.new.XXXXXXXX`` / ``.NAME.old.XXXXXXXX``
TEMP_NAME = re.compile(r"\..+\.tmp|\..+\.(new|old)\.[a-z0-9_]{8}")
#: a temporary younger than this may belong to a writer that has not locked it yet
_LOCK_GRACE_S = 2.0


def _hold(path: Path) -> int:
    """An open descriptor of ``path`` holding its exclusive lock: a live writer's mark,
    released by the kernel when the writer exits, however it ends."""
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def is_stale(path: Path) -> bool:
    """Whether ``path``, a temporary of this module, was left by a writer that died (no
    process holds its lock)."""
    try:
        if time.time() - path.lstat().st_mtime < _LOCK_GRACE_S:
            return False
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def stale_temps(directory: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """The temporaries in ``directory`` left by killed writers (of ``name`` only, if
    given), sorted: what a stage removes before it writes, and what ``nasrank verify``
    names."""
    directory = Path(directory)
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    prefix = f".{name}." if name else "."
    return sorted(Path(e.path) for e in entries
                  if e.name.startswith(prefix) and TEMP_NAME.fullmatch(e.name)
                  and is_stale(Path(e.path)))


def remove_stale(directory: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Delete :func:`stale_temps` (a stage's own leftovers, before it writes again)."""
    removed = stale_temps(directory, name)
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if removed:
        log.info("removed %d temporary file(s) left by a killed run in %s: %s", len(removed),
                 directory, ", ".join(p.name for p in removed))
    return removed


class NonFiniteJSONError(NasrankError, ValueError):
    """A NaN or infinite float was about to be written to a JSON file (JSON has none)."""


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it onto ``dest`` on success.

    On any exception the temporary file is removed and ``dest`` is left untouched. The
    temporary is locked while it is written, so a later writer of ``dest`` removes one
    that a killed process left (and only such: :func:`remove_stale`).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(dest.parent, dest.name)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix + ".tmp", dir=dest.parent)
    fcntl.flock(fd, fcntl.LOCK_EX)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def temp_dir(dest: str | os.PathLike[str], kind: str = "new") -> Iterator[Path]:
    """A locked temporary directory ``.NAME.<kind>.XXXXXXXX`` next to ``dest`` (after
    removing the stale ones of ``dest``); the caller moves or deletes it."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if kind == "new":
        remove_stale(dest.parent, dest.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{kind}.", dir=dest.parent))
    fd = _hold(tmp)
    try:
        yield tmp
    finally:
        os.close(fd)


def write_text(dest: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``dest`` atomically (UTF-8, ``\\n`` line ends)."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")


def _non_finite(obj: Any, path: str = "") -> tuple[str, float] | None:
    """(key path, value) of the first NaN or infinite float in ``obj``, else None.

    Paths read ``metrics.kendall_tau``, ``results[0].rows[2].mae`` (``<top>`` for ``obj``).
    """
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (path or "<top>", obj)
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if (hit := _non_finite(v, f"{path}.{k}" if path else str(k))) is not None:
                return hit
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            if (hit := _non_finite(v, f"{path}[{i}]")) is not None:
                return hit
    return None


def write_json(dest: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON atomically (stable bytes across runs).

    Strict JSON only: Python's ``json`` would write NaN and Infinity as the bare tokens
    ``NaN``/``Infinity``, which JSON does not have (``jq``, JavaScript, R's jsonlite and
    most other readers reject the file). A metrics structure that may hold undefined
    values goes through :func:`nasrank.metrics.strict_metrics` first (null plus a
    ``warnings`` entry naming the metric and the cause).

    Raises:
        NonFiniteJSONError: (a ValueError) ``obj`` holds a NaN or infinite float; the
            message names ``dest`` and the key path of the first one. Nothing is written.
    """
    hit = _non_finite(obj)
    if hit is not None:
        raise NonFiniteJSONError(
            f"{dest}: {hit[0]} is {hit[1]!r}, which JSON cannot represent; nothing written "
            "(pass metrics through nasrank.metrics.strict_metrics: null plus a warning)")
    write_text(dest, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def write_parquet(
    dest: str | os.PathLike[str],
    table: pa.Table,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write ``table`` zstd-compressed to ``dest`` atomically.

    ``metadata`` is stored as JSON under the schema key ``nasrank`` next to any
    metadata the table already carries; ``read_metadata`` returns it.
    """
    if metadata is not None:
        meta = dict(table.schema.metadata or {})
        meta[b"nasrank"] = json.dumps(metadata, sort_keys=True).encode()
        table = table.replace_schema_metadata(meta)
    with atomic_path(dest, suffix=".parquet") as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the ``nasrank`` metadata stored by :func:`write_parquet` (empty if none).

    Raises:
        DataFormatError: the file is not a readable Parquet file (truncated, corrupt),
            naming it.
    """
    try:
        meta = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise DataFormatError(f"{path}: not a readable Parquet file ({exc}); rerun the "
                              "stage that writes it") from exc
    raw = meta.get(b"nasrank")
    return json.loads(raw) if raw else {}


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()
