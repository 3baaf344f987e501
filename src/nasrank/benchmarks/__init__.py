"""Benchmarks: the file registry, fetching, and one reader module per benchmark.

Usage::

    from nasrank.benchmarks import ingest, processed_stems
    tables = ingest("nb201", Path("data/raw/nb201"))   # {"nb201-cifar10": Processed, ...}
"""

from __future__ import annotations

import importlib
from pathlib import Path

from nasrank.benchmarks.common import Processed
from nasrank.benchmarks.registry import get_benchmark
from nasrank.paths import TableId

# benchmark -> reader module exposing ``ingest(raw_dir) -> dict[str, Processed]``.
READERS: dict[str, str] = {
    "nb101": "nasrank.benchmarks.nb101",
    "nb201": "nasrank.benchmarks.nb201",
    "tnb101_micro": "nasrank.benchmarks.tnb101_micro",
    "tnb101_macro": "nasrank.benchmarks.tnb101_macro",
    "nbgraph": "nasrank.benchmarks.nbgraph",
    "nbmacro": "nasrank.benchmarks.nbmacro",
    "nb101_full": "nasrank.benchmarks.nb101_full",
    "darts": "nasrank.benchmarks.darts",
}


def processed_stems(bench: str) -> list[str]:
    """Stems of the processed tables ``nasrank ingest bench`` writes (one per task)."""
    b = get_benchmark(bench)
    return [TableId.of(bench, t) for t in b.tasks] if b.tasks else [TableId(bench)]


def ingest(bench: str, raw_dir: Path, **kwargs: object) -> dict[str, Processed]:
    """Read the raw files of ``bench`` into its canonical tables."""
    get_benchmark(bench)
    module = importlib.import_module(READERS[bench])
    return module.ingest(Path(raw_dir), **kwargs)
