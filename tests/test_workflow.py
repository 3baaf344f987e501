"""Tests of the orchestration: the Snakemake workflow and its DVC twin (dvc.yaml).

Every tool runs as a real subprocess with an explicit environment: the interpreter's
bin directory first on PATH (so ``python -m nasrank`` inside a rule is this
interpreter), no inherited PYTHONPATH, and NASRANK_MIRROR only where a test sets it.
The end-to-end test runs the real default params.yaml on a copy of the workflow.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from nasrank.benchmarks import processed_stems
from nasrank.config import MIRROR_ENV
from nasrank.io import read_metadata

BIN = Path(sys.executable).parent
E2E_TIMEOUT_S = 15 * 60
NB101_CELLS = 423_624

# What a workflow copy needs: the rules run `python -m nasrank` from <copy>/src, and
# every rule's `conda:` directive names environment.yml (Snakemake records its hash even
# without --use-conda, and fails the job where the file is absent).
WORKFLOW_FILES = ("Snakefile", "workflow", "params.yaml", "environment.yml", "src")


def _tool(name: str) -> str:
    """The tool next to this interpreter (the venv's), else on PATH; skip if missing."""
    path = BIN / name
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"`{name}` is not installed (looked in {BIN} and on PATH)")
    return found


def _env(mirror: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (MIRROR_ENV, "PYTHONPATH")}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    if mirror is not None:
        env[MIRROR_ENV] = str(mirror)
    return env


def _run(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; stdout and stderr interleaved in ``.stdout`` (Snakemake logs to both)."""
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def copy_workflow(repo: Path, dest: Path, extra: tuple[str, ...] = ()) -> Path:
    """Copy what running the workflow needs (no data, no caches) to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".snakemake")
    for name in (*WORKFLOW_FILES, *extra):
        src = repo / name
        if not src.exists():
            pytest.fail(f"{src} is missing from the repository; the workflow needs it")
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    return dest


def planned_jobs(output: str) -> dict[str, list[set[str]]]:
    """Rule name -> the output sets of its jobs, from a Snakemake (dry-)run's log."""
    jobs: dict[str, list[set[str]]] = {}
    current: str | None = None
    for line in output.splitlines():
        m = re.match(r"^(?:local)?rule (\S+):$", line)
        if m:
            current = m.group(1)
            jobs.setdefault(current, []).append(set())
            continue
        m = re.match(r"^\s+output: (.*)$", line)
        if m and current is not None:
            jobs[current][-1].update(s.strip() for s in m.group(1).split(","))
        elif not line.startswith(" "):
            current = None
    return jobs


def _repo_params(repo: Path) -> dict[str, Any]:
    with open(repo / "params.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


# --- static checks --------------------------------------------------------------------


def test_snakemake_lint(repo: Path) -> None:
    snakemake = _tool("snakemake")
    proc = _run([snakemake, "--lint"], cwd=repo, env=_env())
    assert proc.returncode == 0, proc.stdout


def test_snakemake_list_rules(repo: Path) -> None:
    """One ingest rule per configured benchmark, plus fetch, enumerate, stats and all."""
    snakemake = _tool("snakemake")
    proc = subprocess.run(
        [snakemake, "--list-rules"],
        cwd=repo,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rules = set(proc.stdout.split())
    benches = _repo_params(repo)["benchmarks"]
    assert rules == {
        "all",
        "fetch",
        "enumerate_nb101",
        "stats_nb101",
        *(f"ingest_{b}" for b in benches),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            lambda p: p["data"]["download"].update(retires=4), ["retires"], id="unknown-key"
        ),
        pytest.param(lambda p: p.update(modles={}), ["modles"], id="unknown-top-key"),
        pytest.param(
            lambda p: p["data"]["download"].update(retries="four"),
            ["'four'", "integer"],
            id="wrong-type",
        ),
        pytest.param(lambda p: p.update(benchmarks=["nb999"]), ["nb999"], id="enum"),
    ],
)
def test_snakemake_rejects_bad_configfile(
    repo: Path, tmp_path: Path, text: Any, expected: list[str]
) -> None:
    """Snakemake validates the merged config against the schema before planning."""
    snakemake = _tool("snakemake")
    params = _repo_params(repo)
    text(params)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(params), encoding="utf-8")
    proc = _run([snakemake, "-n", "--configfile", str(bad)], cwd=repo, env=_env())
    assert proc.returncode != 0, proc.stdout
    assert "validating config" in proc.stdout, proc.stdout
    for part in expected:
        assert part in proc.stdout, proc.stdout
    assert "Building DAG of jobs" not in proc.stdout


# --- end to end -----------------------------------------------------------------------


def _expected_targets(params: dict[str, Any]) -> list[str]:
    processed = params["data"]["processed_dir"]
    targets = [
        f"{processed}/{stem}.parquet"
        for bench in params["benchmarks"]
        for stem in processed_stems(bench)
    ]
    targets.append(f"{processed}/spaces/nb101.parquet")
    targets += ["reports/tables/nb101_space_stats.csv", "reports/tables/nb101_space_stats.md"]
    return targets


def _expected_logs(params: dict[str, Any]) -> list[str]:
    logs = [
        f"logs/{step}/{bench}.log" for step in ("fetch", "ingest") for bench in params["benchmarks"]
    ]
    return sorted([*logs, "logs/enumerate/nb101.log", "logs/stats/nb101.log"])


@pytest.mark.slow
@pytest.mark.mirror
def test_end_to_end(repo: Path, tmp_path: Path, mirror: Path) -> None:
    snakemake = _tool("snakemake")
    work = copy_workflow(repo, tmp_path / "wf")
    env = _env(mirror)
    params = _repo_params(work)
    assert params == _repo_params(repo)  # the real defaults, not a reduced copy

    start = time.perf_counter()
    proc = _run([snakemake, "--cores", "2"], cwd=work, env=env, timeout=E2E_TIMEOUT_S)
    elapsed = time.perf_counter() - start
    print(f"\nend-to-end `snakemake --cores 2` on the default params: {elapsed:.1f} s")
    assert proc.returncode == 0, proc.stdout[-6000:]

    # Every target, and each job ran once.
    targets = _expected_targets(params)
    missing = [t for t in targets if not (work / t).is_file()]
    assert missing == [], missing
    jobs = planned_jobs(proc.stdout)
    assert {r: len(j) for r, j in jobs.items()} == {
        "fetch": len(params["benchmarks"]),
        "enumerate_nb101": 1,
        "stats_nb101": 1,
        "all": 1,
        **{f"ingest_{b}": 1 for b in params["benchmarks"]},
    }

    # Nothing else (no temporary or stray files) in the processed directory.
    processed = work / params["data"]["processed_dir"]
    on_disk = sorted(str(p.relative_to(work)) for p in processed.rglob("*") if p.is_file())
    assert on_disk == sorted(t for t in targets if t.startswith(params["data"]["processed_dir"]))
    for bench in params["benchmarks"]:
        for stem in processed_stems(bench):
            assert read_metadata(processed / f"{stem}.parquet")["benchmark"] == bench

    # The statistics table: 12 groups covering the whole space.
    stats = pd.read_csv(work / "reports/tables/nb101_space_stats.csv")
    assert len(stats) == 12
    assert int(stats["n_cells"].sum()) == NB101_CELLS
    assert not stats.duplicated(["uses_conv3x3", "distance"]).any()
    target = params["stats"]["nb101"]["target"]
    records = pq.read_table(processed / "nb101.parquet", columns=[target])
    assert int(stats["n_labelled"].sum()) == records.num_rows - records[target].null_count
    md = (work / "reports/tables/nb101_space_stats.md").read_text(encoding="utf-8").splitlines()
    assert len([line for line in md if line.startswith("|")]) == 12 + 2

    # One log per job (`all` runs nothing and has none).
    logs = sorted(str(p.relative_to(work)) for p in (work / "logs").rglob("*.log"))
    assert logs == _expected_logs(params)
    assert "rows ->" in (work / "logs/ingest/nbmacro.log").read_text(encoding="utf-8")

    # Up to date: a dry run plans nothing.
    proc = _run([snakemake, "-n"], cwd=work, env=env)
    assert proc.returncode == 0, proc.stdout
    assert "Nothing to be done" in proc.stdout, proc.stdout
    assert planned_jobs(proc.stdout) == {}

    # One table gone: exactly the job that writes it (and the `all` target) is planned.
    victim = processed / "nbgraph-cora.parquet"
    siblings = {p.name: p.read_bytes() for p in processed.glob("nbgraph-*.parquet")}
    victim.unlink()
    proc = _run([snakemake, "-n"], cwd=work, env=env)
    assert proc.returncode == 0, proc.stdout
    jobs = planned_jobs(proc.stdout)
    assert set(jobs) == {"ingest_nbgraph", "all"}, proc.stdout
    assert len(jobs["ingest_nbgraph"]) == 1
    assert f"{params['data']['processed_dir']}/nbgraph-cora.parquet" in jobs["ingest_nbgraph"][0]
    assert "Missing output files: data/processed/nbgraph-cora.parquet" in proc.stdout

    # Rebuilding it gives the same bytes for every table of that job.
    proc = _run([snakemake, "--cores", "2"], cwd=work, env=env, timeout=E2E_TIMEOUT_S)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert set(planned_jobs(proc.stdout)) == {"ingest_nbgraph", "all"}
    assert {p.name: p.read_bytes() for p in processed.glob("nbgraph-*.parquet")} == siblings


@pytest.mark.mirror
def test_configfile_override_reaches_cli(repo: Path, tmp_path: Path, mirror: Path) -> None:
    """A --configfile that moves processed_dir is honoured by the commands the rules run."""
    snakemake = _tool("snakemake")
    work = copy_workflow(repo, tmp_path / "wf")
    params = _repo_params(work)
    params["benchmarks"] = ["nbmacro"]
    params["data"]["processed_dir"] = "data/alt"
    (work / "alt.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    proc = _run([snakemake, "--cores", "1", "--configfile", "alt.yaml"], cwd=work, env=_env(mirror))
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert (work / "data/alt/nbmacro.parquet").is_file()
    assert not (work / "data/processed").exists()


# --- dvc.yaml mirrors the Snakemake rules ---------------------------------------------


@pytest.fixture
def dvc_copy(repo: Path, tmp_path: Path) -> Path:
    """A copy of the workflow with dvc.yaml, in a fresh git + DVC repository."""
    if not (repo / "dvc.yaml").is_file():
        pytest.skip("dvc.yaml is absent from the repository")
    dvc = _tool("dvc")
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed (DVC needs a git repository)")
    work = copy_workflow(repo, tmp_path / "wf", extra=("dvc.yaml",))
    env = _env()
    for argv in ([git, "init", "-q"], [dvc, "init", "-q"]):
        proc = _run(argv, cwd=work, env=env, timeout=120)
        assert proc.returncode == 0, proc.stdout
    return work


def _dvc_outs(work: Path) -> dict[str, set[str]]:
    """Stage name -> its outputs, as DVC resolves dvc.yaml (foreach expanded)."""
    code = (
        "import json, os\n"
        "from dvc.repo import Repo\n"
        "repo = Repo('.')\n"
        "print(json.dumps({s.addressing: sorted(os.path.relpath(str(o.fs_path), repo.root_dir)"
        " for o in s.outs) for s in repo.index.stages}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return {k: set(v) for k, v in json.loads(proc.stdout).items()}


def test_dvc_stage_per_snakemake_rule(dvc_copy: Path) -> None:
    snakemake = _tool("snakemake")
    proc = _run([_tool("dvc"), "stage", "list", "--name-only"], cwd=dvc_copy, env=_env())
    assert proc.returncode == 0, proc.stdout
    stages = set(proc.stdout.split())
    proc = subprocess.run(
        [snakemake, "--list-rules"],
        cwd=dvc_copy,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rules = set(proc.stdout.split()) - {"all"}
    benches = _repo_params(dvc_copy)["benchmarks"]

    def has_stage(rule: str) -> bool:
        if rule in stages:
            return True
        suffixes = {s.split("@", 1)[1] for s in stages if s.startswith(f"{rule}@")}
        return bool(suffixes) and (not suffixes <= set(benches) or suffixes == set(benches))

    missing = sorted(r for r in rules if not has_stage(r))
    assert missing == [], f"no DVC stage for Snakemake rules {missing}; stages: {sorted(stages)}"
    fetch = {s for s in stages if s.startswith("fetch@")}
    if fetch:  # foreach over the benchmarks: one stage per configured benchmark
        assert fetch == {f"fetch@{b}" for b in benches}


def test_dvc_outputs_match_snakemake(dvc_copy: Path) -> None:
    """Each DVC stage writes exactly what the Snakemake rule of the same name writes."""
    snakemake = _tool("snakemake")
    proc = _run([snakemake, "-n", "--forceall"], cwd=dvc_copy, env=_env())
    assert proc.returncode == 0, proc.stdout
    snake: dict[str, set[str]] = {}
    for rule, outputs in planned_jobs(proc.stdout).items():
        for out in outputs:
            key = rule if rule != "fetch" else f"fetch@{next(iter(out)).rsplit('/', 1)[1]}"
            snake[key] = out
    snake.pop("all", None)
    dvc = _dvc_outs(dvc_copy)
    if "fetch" in dvc:  # one stage fetching everything
        snake["fetch"] = set().union(*(v for k, v in snake.items() if k.startswith("fetch@")))
        snake = {k: v for k, v in snake.items() if not k.startswith("fetch@")}
    assert dvc == snake


def test_dvc_dag_is_valid(dvc_copy: Path) -> None:
    proc = _run([_tool("dvc"), "dag"], cwd=dvc_copy, env=_env())
    assert proc.returncode == 0, proc.stdout
    assert "stats_nb101" in proc.stdout
