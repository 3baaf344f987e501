"""The Snakemake profiles (workflow/profiles/*): what each one asks of the machine.

Dry runs of the whole default workflow on a copy without data, so every job is planned;
each job's printed resources show what the profile and the rules ask for. The real SLURM
run is tests/cluster (``make test-cluster``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import tool_env, venv_tool
from test_workflow import copy_workflow

from nasrank.catalog import ALL_FIGURES, ALL_TABLES

LIGHT = {"fetch", "report_html", *(f"table_{n}" for n in ALL_TABLES),
         *(f"figure_{n}" for n in ALL_FIGURES)}


def _plan(work: Path, env: dict[str, str], *args: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every planned job."""
    import subprocess

    proc = subprocess.run([venv_tool("snakemake"), "-n", *args], cwd=work, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:]
    jobs: list[tuple[str, dict[str, str]]] = []
    for line in proc.stdout.splitlines():
        if m := re.match(r"^(?:local)?rule (\S+):$", line):
            jobs.append((m.group(1), {}))
        elif (m := re.match(r"^\s+resources: (.*)$", line)) and jobs:
            jobs[-1][1].update(kv.split("=", 1) for kv in m.group(1).split(", "))
    assert jobs, proc.stdout[-4000:]
    return jobs


@pytest.fixture(scope="module")
def work(repo: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_workflow(repo, tmp_path_factory.mktemp("profiles"))


def test_slurm_profile_maps_gpu_rules_and_partitions(work: Path) -> None:
    env = {**tool_env(), "NASRANK_SLURM_PARTITION": "cpu",
           "NASRANK_SLURM_GPU_PARTITION": "gpu", "NASRANK_SLURM_ACCOUNT": "lab"}
    jobs = _plan(work, env, "--profile", "workflow/profiles/slurm")
    # the light rules run where Snakemake runs (localrule; tests/cluster checks that
    # they never reach sbatch)
    queued = [(rule, res) for rule, res in jobs if rule not in LIGHT]
    assert {rule for rule, _ in queued} >= {"sweep", "encode", "ingest_nb101"}
    for rule, res in queued:
        assert res["slurm_account"] == "lab", rule
        assert int(res["runtime"]) > 0 and int(res["mem_mb"]) >= 1000, (rule, res)
        if rule == "sweep":
            # the profile's params.yaml overlay (train.device: cuda): one GPU per sweep,
            # its runtime from the sweep's size (nasrank.experiments.Sweep.runtime_min)
            assert (res["slurm_partition"], res.get("gpu")) == ("gpu", "1"), res
            assert int(res["runtime"]) > 10
        else:
            assert res["slurm_partition"] == "cpu", (rule, res)
    # searches with a torch predictor ask for a GPU, the baselines (random, evolution) not
    searches = [res.get("gpu", "0") for rule, res in queued if rule == "search"]
    assert "1" in searches and "0" in searches, searches
    assert all(res.get("gpu", "0") == "0" for rule, res in queued if rule == "encode")


def test_slurm_profile_without_cluster_names(work: Path) -> None:
    """No partition or account in the environment: SLURM's defaults, no account."""
    env = {k: v for k, v in tool_env().items() if not k.startswith("NASRANK_SLURM_")}
    jobs = _plan(work, env, "--profile", "workflow/profiles/slurm")
    assert jobs and all("slurm_partition" not in res and "slurm_account" not in res
                        for _, res in jobs)


def test_default_profile_runs_locally_on_the_cpu(work: Path) -> None:
    jobs = _plan(work, tool_env(), "--profile", "workflow/profiles/default")
    assert all("slurm_partition" not in res for _, res in jobs)
    # params.yaml says train.device: auto, so no job waits for a GPU
    assert {res.get("gpu", "0") for rule, res in jobs if rule == "sweep"} == {"0"}


def _full_params(work: Path) -> dict[str, Any]:
    """params.yaml merged with the full profile's overlay, as Snakemake merges them."""
    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value
        return base

    base = yaml.safe_load((work / "params.yaml").read_text(encoding="utf-8"))
    over = yaml.safe_load((work / "workflow/profiles/full/params.yaml").read_text(encoding="utf-8"))
    return merge(base, over)


def test_full_profile_plans_one_job_per_sweep(work: Path) -> None:
    """The complete grids plan as sweep, search and family jobs, one per job of
    nasrank.jobs, and render as a dvc.yaml of at most 5,000 lines."""
    from collections import Counter

    from nasrank.dvcgen import render
    from nasrank.jobs import all_jobs

    planned = Counter(rule for rule, _ in _plan(work, tool_env(), "--profile",
                                                "workflow/profiles/full", "--forceall"))
    params = _full_params(work)
    expected = Counter(job.rule for job in all_jobs(params))
    assert planned == expected + Counter({"all": 1}), planned
    text = render(params)
    print(f"\nfull profile: {sum(expected.values())} jobs ({dict(expected)}), "
          f"dvc.yaml {text.count(chr(10))} lines")
    assert expected["sweep"] < sum(1 for _ in all_jobs(params)) and text.count("\n") <= 5000
