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
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from nasrank.errors import DataFormatError

CHUNK = 1 << 20


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


def write_json(dest: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON atomically (stable bytes across runs)."""
    write_text(dest, json.dumps(obj, indent=2, sort_keys=True) + "\n")


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
