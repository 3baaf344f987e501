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
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from nasrank.errors import DataFormatError, NasrankError

CHUNK = 1 << 20


class NonFiniteJSONError(NasrankError, ValueError):
    """A NaN or infinite float was about to be written to a JSON file (JSON has none)."""


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; rename it onto ``dest`` on success.

    On any exception the temporary file is removed and ``dest`` is left untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=suffix + ".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
