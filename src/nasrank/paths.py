"""Where every file of a study lives: one table-id type and one place that builds paths.

A processed table is named by a :class:`TableId`: ``bench`` for a benchmark with one
table (``nb101``, ``nbmacro``, ``darts``) or ``bench-task`` (``nb201-cifar10``,
``tnb101_micro-jigsaw``). Benchmark names never contain ``-``, so the id splits in one
way, here and nowhere else. :class:`Paths` turns params.yaml's ``data`` and ``reports``
directories into every file and directory the workflow reads or writes; the CLI, the job
layer (:mod:`nasrank.jobs`), the report and the Snakemake rules all build paths with it.

Usage::

    from nasrank.paths import Paths, TableId
    t = TableId("nb201-cifar10")           # a str: t.bench "nb201", t.task "cifar10"
    TableId.of("nbmacro", None)            # TableId("nbmacro")
    paths = Paths.of(params)
    paths.processed(t)                     # data/processed/nb201-cifar10.parquet
    paths.features("nb201", "gcn")         # data/features/nb201/gcn.parquet
    paths.run_metrics("nbmacro/gcn/gcn/hr/n100/s0")
                                           # reports/metrics/nbmacro/gcn/gcn/hr/n100/s0.json
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nasrank.errors import ConfigError

_NAME = re.compile(r"[A-Za-z0-9_.]+")


class TableId(str):
    """A processed table's id, ``bench`` or ``bench-task``; it is the string itself, so it
    is its own file stem, JSON value and report label.

    Raises:
        ConfigError: an empty part, or a character outside ``[A-Za-z0-9_.-]``.
    """

    __slots__ = ()

    def __new__(cls, text: str) -> TableId:
        bench, sep, task = str(text).partition("-")
        if not _NAME.fullmatch(bench) or (sep and not re.fullmatch(r"[A-Za-z0-9_.-]+", task)):
            raise ConfigError(f"table id {text!r}: expected 'bench' or 'bench-task' "
                              "(letters, digits, '_' and '.'; the benchmark name has no '-')")
        return super().__new__(cls, text)

    @classmethod
    def of(cls, bench: str, task: str | None = None) -> TableId:
        """The id of ``bench``'s table for ``task`` (``None``: its only table)."""
        if "-" in bench:
            raise ConfigError(f"benchmark name {bench!r} contains '-'")
        return cls(f"{bench}-{task}" if task else bench)

    @property
    def bench(self) -> str:
        """The benchmark (the raw-data directory and the encodings' owner)."""
        return str(self.partition("-")[0])

    @property
    def task(self) -> str | None:
        """The task, or ``None`` for a benchmark with one table."""
        return str(self.partition("-")[2]) or None


# a TableId is written to YAML (dvc.yaml, configs) as the plain string it is
yaml.SafeDumper.add_representer(TableId, lambda dumper, t: dumper.represent_str(str(t)))


@dataclass(frozen=True)
class Paths:
    """Every path of the workflow, from params.yaml's directories.

    Attributes:
        raw_dir, processed_dir, features_dir, models_dir: ``data.*_dir``.
        metrics_dir, tables_dir, search_dir, families_dir, figures_dir: ``reports.*_dir``.
        published: ``reports.published``, the papers' numbers.
    """

    raw_dir: Path
    processed_dir: Path
    features_dir: Path
    models_dir: Path
    metrics_dir: Path
    tables_dir: Path
    search_dir: Path
    families_dir: Path
    figures_dir: Path
    published: Path

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> Paths:
        """The paths of a params.yaml (its ``data`` and ``reports`` sections)."""
        data, reports = params["data"], params["reports"]
        return cls(*(Path(data[k]) for k in ("raw_dir", "processed_dir", "features_dir",
                                              "models_dir")),
                   *(Path(reports[k]) for k in ("metrics_dir", "tables_dir", "search_dir",
                                                 "families_dir", "figures_dir")),
                   Path(reports.get("published", "reports/published.yaml")))

    # --- data ---------------------------------------------------------------------------

    def raw(self, bench: str) -> Path:
        """``data/raw/<bench>``: the benchmark's downloaded files."""
        return self.raw_dir / bench

    def processed(self, table: str) -> Path:
        """``data/processed/<table>.parquet``."""
        return self.processed_dir / f"{TableId(table)}.parquet"

    def space(self, space: str) -> Path:
        """``data/processed/spaces/<space>.parquet``: an enumerated search space."""
        return self.processed_dir / "spaces" / f"{space}.parquet"

    def features(self, bench: str, encoding: str) -> Path:
        """``data/features/<bench>/<encoding>.parquet``."""
        return self.features_dir / bench / f"{encoding}.parquet"

    def models(self, run_or_sweep: str) -> Path:
        """``data/models/<sweep_id>`` (a sweep's runs) or ``data/models/<run_id>``."""
        return self.models_dir / run_or_sweep

    # --- reports ------------------------------------------------------------------------

    def metrics(self, sweep: str) -> Path:
        """``reports/metrics/<sweep_id>``: a sweep's ``n<size>/s<seed>.json``."""
        return self.metrics_dir / sweep

    def run_metrics(self, run_id: str) -> Path:
        """``reports/metrics/<run_id>.json``: one run's evaluation."""
        return self.metrics_dir / f"{run_id}.json"

    def search(self, key: str) -> Path:
        """``reports/search/<key>``: a search job's ``s<seed>.json``."""
        return self.search_dir / key

    def family(self, key: str, timing: bool = False) -> Path:
        """``reports/families/<key>.json`` (or ``.timing.json``, the measured times)."""
        return self.families_dir / f"{key}{'.timing' if timing else ''}.json"

    def table(self, name: str) -> Path:
        """``reports/tables/<name>``: the stem of its ``.csv``, ``.md`` and ``.tex``."""
        return self.tables_dir / name

    def figure(self, name: str) -> Path:
        """``reports/figures/<name>``: the stem of its ``.png`` and ``.pdf``."""
        return self.figures_dir / name

    @property
    def checks_dir(self) -> Path:
        """``reports/checks``: exactness checks against published numbers."""
        return self.tables_dir.parent / "checks"

    def check(self, name: str) -> Path:
        """``reports/checks/<name>.json``."""
        return self.checks_dir / f"{name}.json"

    @property
    def report(self) -> Path:
        """``reports/index.html``: the HTML report, beside the tables directory."""
        return self.tables_dir.parent / "index.html"
