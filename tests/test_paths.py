"""Tests of the table-id type and the one place that builds paths (nasrank.paths)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from nasrank.benchmarks import processed_stems
from nasrank.config import load_params
from nasrank.errors import ConfigError
from nasrank.experiments import Run
from nasrank.paths import Paths, TableId


@pytest.mark.parametrize(("text", "bench", "task"), [
    ("nb101", "nb101", None),
    ("nb201-cifar10", "nb201", "cifar10"),
    ("tnb101_micro-class_object", "tnb101_micro", "class_object"),
    ("nbgraph-ogbn-arxiv", "nbgraph", "ogbn-arxiv"),
])
def test_table_id_splits_once(text: str, bench: str, task: str | None) -> None:
    t = TableId(text)
    assert (t.bench, t.task) == (bench, task)
    assert type(t.bench) is str and t == text and TableId.of(bench, task) == t
    assert json.dumps({"table": t}) == json.dumps({"table": text})
    assert yaml.safe_dump([t]) == yaml.safe_dump([text])
    assert repr(t) == repr(text)


@pytest.mark.parametrize("bad", ["", "-cifar10", "nb201-", "nb 201", "nb201/cifar10"])
def test_table_id_rejects(bad: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(repr(bad))):
        TableId(bad)
    with pytest.raises(ConfigError, match="contains '-'"):
        TableId.of("nb-201", "x")


def test_every_processed_table_is_a_table_id() -> None:
    for bench in ("nb101", "nb201", "tnb101_micro", "nbgraph", "nbmacro", "darts"):
        for stem in processed_stems(bench):
            assert isinstance(stem, TableId) and stem.bench == bench


def test_runs_carry_table_ids() -> None:
    run = Run("nb201-cifar10", "gcn", "gcn", "hr", 100, 0)  # type: ignore[arg-type]
    assert isinstance(run.table, TableId) and (run.bench, run.task) == ("nb201", "cifar10")


def test_paths_of_repo_params() -> None:
    paths = Paths.of(load_params(REPO / "params.yaml"))
    t = TableId("nb201-cifar10")
    assert paths.raw("nb201") == Path("data/raw/nb201")
    assert paths.processed(t) == Path("data/processed/nb201-cifar10.parquet")
    assert paths.space("nb101") == Path("data/processed/spaces/nb101.parquet")
    assert paths.features("nb201", "gcn") == Path("data/features/nb201/gcn.parquet")
    run_id = Run(t, "gcn", "gcn", "hr", 100, 0).run_id
    assert paths.models(run_id) == Path(f"data/models/{run_id}")
    assert paths.run_metrics(run_id) == Path(f"reports/metrics/{run_id}.json")
    assert paths.family("nb101/rf", timing=True) == Path("reports/families/nb101/rf.timing.json")
    assert paths.table("loss_study") == Path("reports/tables/loss_study")
    assert paths.figure("x") == Path("reports/figures/x")
    assert paths.check("nb101_params") == Path("reports/checks/nb101_params.json")
    assert paths.report == Path("reports/index.html")
    with pytest.raises(ConfigError, match="table id"):
        paths.processed("nb201-")
