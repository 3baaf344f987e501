"""Architecture encodings, one registry per benchmark.

An :class:`Encoding` turns a table of architecture specs (``arch_id`` plus the spec
columns of the space) into a float32 tensor per architecture. ``nasrank encode BENCH
ENCODING`` writes it to ``data/features/BENCH/ENCODING.parquet`` (see
:mod:`nasrank.encodings.store`), in batches so memory stays bounded.

Usage::

    from nasrank.encodings import available, get_encoding
    enc = get_encoding("nb101", "renas_tensor")
    x = enc.encode(spec_table, enc.options)       # (N, 19, 7, 7) float32
    available("nbgraph")                          # ['adjacency_onehot', 'gcn']

Which specs are encoded: NAS-Bench-101 encodes its whole enumerated space
(``data/processed/spaces/nb101.parquet``, 423,624 cells); every other benchmark encodes
the architectures of its processed tables.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from nasrank.errors import UnknownNameError

EncodeFn = Callable[[pa.Table, dict[str, Any]], np.ndarray]


@dataclass(frozen=True)
class Encoding:
    """One encoding of one benchmark's architectures.

    Attributes:
        name: registry name, the same in params.yaml, file names and reports.
        shape: per-architecture tensor shape.
        description: what the tensor holds, stored in the file's metadata.
        encode: ``(spec table, options) -> (N, *shape) float32``.
        options: defaults of the encoding's settings (params.yaml may override them).
        layout: named slices of the last axis, for packed encodings (``gcn``).
        columns: spec columns ``encode`` reads from the table.
    """

    name: str
    shape: tuple[int, ...]
    description: str
    encode: EncodeFn
    options: dict[str, Any] = field(default_factory=dict)
    layout: dict[str, list[int]] = field(default_factory=dict)
    columns: tuple[str, ...] = ()


# benchmark -> module defining ``ENCODINGS: dict[str, Encoding]``.
MODULES: dict[str, str] = {
    "nb101": "nasrank.encodings.nb101",
    "nb201": "nasrank.encodings.nb201",
    "tnb101_micro": "nasrank.encodings.tnb101",
    "nbgraph": "nasrank.encodings.nbgraph",
    "nbmacro": "nasrank.encodings.nbmacro",
    "darts": "nasrank.encodings.darts",
}


def _registry(bench: str) -> dict[str, Encoding]:
    try:
        module = MODULES[bench]
    except KeyError:
        raise UnknownNameError("benchmark with encodings", bench, list(MODULES)) from None
    return importlib.import_module(module).ENCODINGS


def available(bench: str) -> list[str]:
    """Names of the encodings defined for ``bench``."""
    return sorted(_registry(bench))


def get_encoding(bench: str, name: str) -> Encoding:
    """The encoding ``name`` of ``bench``.

    Raises:
        UnknownNameError: listing the encodings available for ``bench``.
    """
    registry = _registry(bench)
    try:
        return registry[name]
    except KeyError:
        raise UnknownNameError(f"encoding for {bench}", name, list(registry)) from None


def spec_source(bench: str, processed_dir: str | Path) -> Path:
    """The table whose specs ``nasrank encode bench`` reads.

    NAS-Bench-101: the enumerated space. Others: the benchmark's first processed table,
    whose architectures cover every task of the benchmark (the tables of one ingest).
    """
    from nasrank.benchmarks import processed_stems

    processed_dir = Path(processed_dir)
    if bench == "nb101":
        return processed_dir / "spaces" / "nb101.parquet"
    return processed_dir / f"{processed_stems(bench)[0]}.parquet"
