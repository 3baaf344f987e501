"""Partial reruns with DVC on a small configuration of the real workflow.

The loss study on NAS-Bench-Macro with two losses (`hr`, `mse`), 3-epoch GCNs: `dvc repro
table_loss_study` builds it from the mirror, and a forced second run from scratch gives
the same bytes. Changing `losses.hr.margin` in params.yaml then reruns exactly hr's
sweep (training and evaluation) and the table, and `dvc status` is clean afterwards. Snakemake
keeps no record of files DVC wrote, so the rule after `dvc checkout` / `dvc pull` is
`snakemake --touch` on the same targets: it stamps the outputs in DAG order, and
`snakemake -n` then has nothing to do. (Only cached outputs come back with `dvc
checkout`; the `cache: false` tables and metrics are versioned by git.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import tool_env, venv_tool
from test_workflow import copy_workflow, small_loss_study

from nasrank.verify import verify

TABLE = "reports/tables/loss_study.csv"


def _run(argv: list[str], cwd: Path, mirror: Path) -> str:
    env = {**tool_env(), "NASRANK_MIRROR": str(mirror)}
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(argv)} failed:\n{proc.stdout[-4000:]}"
    return proc.stdout


def _status(dvc: str, work: Path, mirror: Path) -> dict[str, Any]:
    """`dvc status` of the loss-study table and the stages it depends on."""
    out = _run([dvc, "status", "--json", "--with-deps", "table_loss_study"], work, mirror)
    return json.loads(out)


def _ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.mark.slow
@pytest.mark.mirror
def test_one_loss_hyperparameter_reruns_only_its_runs(repo: Path, tmp_path: Path,
                                                      mirror: Path) -> None:
    dvc, git, snakemake = venv_tool("dvc"), venv_tool("git"), venv_tool("snakemake")
    work = copy_workflow(repo, tmp_path / "wf")
    params = small_loss_study(yaml.safe_load((work / "params.yaml").read_text(encoding="utf-8")))
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), "utf-8")
    python = str(Path(venv_tool("python")))
    _run([python, "-m", "nasrank", "-q", "dvc-yaml"], work, mirror)
    _run([git, "init", "-q"], work, mirror)
    _run([dvc, "init", "-q"], work, mirror)

    first = _run([dvc, "repro", "table_loss_study"], work, mirror)
    hr, mse = "nbmacro-gcn-gcn-hr", "nbmacro-gcn-gcn-mse"
    assert {f"sweep@{hr}", f"sweep@{mse}", "table_loss_study", "ingest_nbmacro"} <= _ran(first)
    assert _status(dvc, work, mirror) == {}
    # a second run from scratch gives the same bytes (processed table, metrics, table)
    exact = [*sorted((work / "reports/metrics").rglob("*.json")), work / TABLE,
             work / "data/processed/nbmacro.parquet"]
    before = {p: p.read_bytes() for p in exact}
    shutil.copyfile(work / "dvc.lock", work / "first.lock")
    again = _run([dvc, "repro", "--force", "table_loss_study"], work, mirror)
    assert {f"sweep@{hr}", f"sweep@{mse}", "ingest_nbmacro"} <= _ran(again)
    assert {p: p.read_bytes() for p in exact} == before
    # every recorded output of the first run is matched, but the measured fit times
    report = verify(work, lock=work / "first.lock", cache=True)
    assert report.ok, report.to_text()
    assert {p.path for p in report.problems} <= {
        f"data/models/nbmacro/gcn/gcn/{loss}{run}" for loss in ("hr", "mse")
        for run in ("", "/n50/s0/timing.json")}
    assert all(p.measured for p in report.problems)
    mse_metrics = (work / "reports/metrics/nbmacro/gcn/gcn/mse/n50/s0.json").read_bytes()
    hr_metrics = (work / "reports/metrics/nbmacro/gcn/gcn/hr/n50/s0.json").read_bytes()

    params["losses"]["hr"]["margin"] = 0.3
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), "utf-8")
    changed = _status(dvc, work, mirror)
    assert set(changed) == {f"sweep@{hr}"}, changed
    second = _run([dvc, "repro", "table_loss_study"], work, mirror)
    assert _ran(second) == {f"sweep@{hr}", "table_loss_study"}
    assert _status(dvc, work, mirror) == {}
    assert (work / "reports/metrics/nbmacro/gcn/gcn/mse/n50/s0.json").read_bytes() == \
        mse_metrics
    assert (work / "reports/metrics/nbmacro/gcn/gcn/hr/n50/s0.json").read_bytes() != hr_metrics

    # DVC restores a cached output (the tables are `cache: false`, git keeps them);
    # Snakemake, which has no record of files DVC wrote, is told they are current with
    # --touch, and then plans nothing.
    predictions = work / "data/models/nbmacro/gcn/gcn/mse/n50/s0/predictions.parquet"
    saved = predictions.read_bytes()
    predictions.unlink()
    _run([dvc, "checkout", f"sweep@{mse}"], work, mirror)
    assert predictions.read_bytes() == saved
    _run([snakemake, "--cores", "1", "--touch", TABLE], work, mirror)
    plan = _run([snakemake, "-n", TABLE], work, mirror)
    assert "Nothing to be done" in plan, plan[-3000:]
