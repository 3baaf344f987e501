"""What every benchmark reader returns, and helpers shared by the readers.

A reader module ``nasrank.benchmarks.<bench>`` exposes ``ingest(raw_dir) ->
dict[str, Processed]``: one entry per output table, keyed by its stem
(``"nb201-cifar10"`` -> ``data/processed/nb201-cifar10.parquet``). The CLI adds the
source files and their SHA-256 to the metadata and writes the tables atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from nasrank.errors import DataFormatError


@dataclass
class Processed:
    """One canonical table of a benchmark.

    Attributes:
        table: ``arch_id`` first (the space's canonical key), then spec columns,
            targets and costs. Missing values are nulls, never sentinels.
        columns: meaning of every column, stored in the Parquet metadata.
        sources: names of the raw files (under ``data/raw/<bench>/``) it was built from.
        notes: caveats a user must know (e.g. "single seed", "surrogate labels").
    """

    table: pa.Table
    columns: dict[str, str]
    sources: list[str]
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = self.table.column_names
        if not names or names[0] != "arch_id":
            raise ValueError(f"first column must be arch_id, got {names[:1]}")
        missing = [c for c in names if c not in self.columns]
        if missing:
            raise ValueError(f"columns without a meaning: {missing}")


def load_json(path: Path) -> Any:
    """Parse a JSON file, naming the file on failure."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError as exc:
        raise DataFormatError(f"{path}: missing; run `nasrank fetch` first") from exc
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: not valid JSON: {exc}") from exc


def require_keys(obj: dict[str, Any], keys: list[str], where: str) -> None:
    """Raise a :class:`DataFormatError` naming ``where`` and the missing keys."""
    missing = [k for k in keys if k not in obj]
    if missing:
        raise DataFormatError(f"{where}: missing keys {missing}")
