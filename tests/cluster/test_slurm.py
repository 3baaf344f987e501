"""The workflow on a real single-node SLURM cluster, with ``--profile workflow/profiles/slurm``.

``make test-cluster`` runs these (marker ``cluster``; ``make test`` leaves them out). A
module fixture installs Debian's slurm-wlm and munge where they are missing and starts
munged, slurmctld and slurmd on this host (tests/cluster/slurm.py); where that cannot
be done (not root, no apt-get) every test skips with the reason.

The small workflow is the loss study on NAS-Bench-Macro with two losses (hr, mse) and
short GCN trainings. It runs once locally (``--profile workflow/profiles/default``) for
reference, then:

* through SLURM, with faults: a sweep job (training and evaluation of one loss) killed
  with scancel mid-run leaves no file behind and the next invocation reruns it, failing
  once there (a wrapper in front of the job's python) and passing on the profile's retry;
* every job but the local rules (fetch, the table) went through sbatch, which the
  Snakemake log (SLURM job ids), the SLURM logs and squeue confirm; the node has one
  GPU-like generic resource (``Gres=gpu:1`` backed by /dev/null, since CI has no GPU),
  which the sweep jobs ask for (``--gpus=1``, the profile's mapping of the ``gpu``
  resource) and are granted;
* the end result is byte-identical to the local run's.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import tool_env, venv_tool
from slurm import SingleNodeSlurm
from test_workflow import copy_workflow, small_loss_study

pytestmark = [pytest.mark.cluster, pytest.mark.mirror, pytest.mark.slow]

TABLE = "reports/tables/loss_study.csv"
RUNS = {loss: f"nbmacro/gcn/gcn/{loss}/n50/s0" for loss in ("hr", "mse")}
EPOCHS = 60  # long enough for scancel to catch a training mid-run (a few seconds)
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")
# the test node has no GPU: keep torch on the CPU, but still ask SLURM for the node's
# (fake) GPU in training jobs, as the profile does for train.device: cuda
CLUSTER_ARGS = ("--profile", "workflow/profiles/slurm", "--configfile", "params.yaml",
                "--set-resources", "sweep:gpu=1", "sweep:runtime=30",
                "--slurm-init-seconds-before-status-checks", "1",
                "--seconds-between-status-checks", "1", "--jobs", "4")
TIMEOUT_S = 600
TRAIN_MSE = ["sweep", "nbmacro", "gcn", "gcn", "--losses", "mse"]  # the job scancel stops


def _workflow(repo: Path, dest: Path) -> Path:
    work = copy_workflow(repo, dest)
    params = yaml.safe_load((work / "params.yaml").read_text(encoding="utf-8"))
    params = small_loss_study(params, EPOCHS)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), "utf-8")
    return work


def _env(cluster: SingleNodeSlurm | None, mirror: Path, **extra: str) -> dict[str, str]:
    env = {**tool_env(), "NASRANK_MIRROR": str(mirror), **extra}
    return cluster.env(env) if cluster is not None else env


def _snakemake(work: Path, env: dict[str, str], *args: str,
               check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([venv_tool("snakemake"), *args, TABLE], cwd=work, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=TIMEOUT_S)
    if check:
        assert proc.returncode == 0, f"snakemake {' '.join(args)} failed:\n{proc.stdout[-6000:]}"
    return proc


def _results(work: Path) -> dict[str, bytes]:
    """The files that must not depend on where the jobs ran (not the measured times)."""
    files = [work / TABLE, work / "data/processed/nbmacro.parquet",
             work / "data/features/nbmacro/gcn.parquet"]
    for run in RUNS.values():
        files += [work / "reports/metrics" / f"{run}.json",
                  work / "data/models" / run / "predictions.parquet",
                  work / "data/models" / run / "model.bin"]
    return {p.relative_to(work).as_posix(): p.read_bytes() for p in files}


def _squeue(cluster: SingleNodeSlurm) -> dict[str, tuple[str, str]]:
    """SLURM job id -> (state, comment) of every job squeue still knows."""
    out = subprocess.run(["squeue", "--states=all", "--noheader", "-o", "%i|%T|%k"],
                         env=cluster.env(), capture_output=True, text=True,
                         check=True).stdout
    rows = (line.split("|", 2) for line in out.splitlines() if line.strip())
    return {job: (state, comment) for job, state, comment in rows}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SingleNodeSlurm]:
    reason = SingleNodeSlurm.unavailable()
    if reason is not None:
        pytest.skip(reason)
    with SingleNodeSlurm(tmp_path_factory.mktemp("slurm"), gpus=1) as running:
        yield running


@pytest.fixture(scope="module")
def local(repo: Path, mirror: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> dict[str, bytes]:
    """The small workflow's results from a local run."""
    work = _workflow(repo, tmp_path_factory.mktemp("local"))
    _snakemake(work, _env(None, mirror), "--profile", "workflow/profiles/default",
               "--cores", "2")
    return _results(work)


def _wait_running(cluster: SingleNodeSlurm, prefix: str, proc: subprocess.Popen[str],
                  timeout: float = 240) -> str:
    """The id of the first job whose comment starts with ``prefix`` once it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for job, (state, comment) in _squeue(cluster).items():
            if comment.startswith(prefix) and state == "RUNNING":
                return job
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    pytest.fail(f"no RUNNING job {prefix}* (snakemake exit code {proc.poll()})")


def _find_process(words: list[str]) -> int | None:
    """The pid of a ``python -m nasrank`` process whose arguments hold ``words``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "nasrank" in argv and " ".join(words) in " ".join(argv):
            return int(entry.name)
    return None


def _wait_process(words: list[str], proc: subprocess.Popen[str], timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if (pid := _find_process(words)) is not None:
            return pid
        time.sleep(0.1)
    pytest.fail(f"no process `{' '.join(words)}` (snakemake exit code {proc.poll()})")


def test_jobs_go_through_sbatch_survive_faults_and_match_a_local_run(
        cluster: SingleNodeSlurm, local: dict[str, bytes], repo: Path, mirror: Path,
        tmp_path: Path) -> None:
    work = _workflow(repo, tmp_path / "wf")

    # 1. no retries: the mse sweep is cancelled mid-run, and nothing of it is left
    run_dir = work / "data/models/nbmacro/gcn/gcn/mse"
    argv = [venv_tool("snakemake"), *CLUSTER_ARGS, "--retries", "0", TABLE]
    proc = subprocess.Popen(argv, cwd=work, env=_env(cluster, mirror),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = _wait_running(cluster, "rule_sweep_wildcards_nbmacro_gcn_gcn_mse", proc)
    # this is the only node: the job's `nasrank sweep` is a process here. Let it import
    # and start training (fit takes about 6 s), then cancel the job.
    _wait_process(TRAIN_MSE, proc)
    time.sleep(2.5)
    assert _find_process(TRAIN_MSE), "the training finished before it could be cancelled"
    subprocess.run(["scancel", killed], env=cluster.env(), check=True)
    first, _ = proc.communicate(timeout=TIMEOUT_S)
    assert proc.returncode != 0, first[-3000:]
    assert "Error in rule sweep" in first, first[-3000:]
    left = sorted(str(p) for p in run_dir.rglob("*")) if run_dir.is_dir() else []
    assert left == [], f"the killed job left {left} in {run_dir}"

    # 2. the next invocation (the profile's retries) reruns it; it fails once (a wrapper
    # in front of the job's python) and passes on the retry
    shim = tmp_path / "shim"
    shim.mkdir()
    marker = tmp_path / "failed-once"
    (shim / "python").write_text(
        "#!/bin/sh\n"
        f'case "$*" in *" sweep "*) if [ ! -e {marker} ]; then touch {marker}; '
        'echo "injected failure" >&2; exit 1; fi;; esac\n'
        f'exec {venv_tool("python")} "$@"\n')
    (shim / "python").chmod(0o755)
    env = _env(cluster, mirror)
    env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"
    second = _snakemake(work, env, *CLUSTER_ARGS).stdout
    assert marker.is_file()
    assert "Trying to restart job" in second, second[-3000:]

    # every job but the local rules (fetch, the table) went through sbatch
    submitted = {slurm: Path(path) for _, slurm, path in SUBMITTED.findall(first + second)}
    known = _squeue(cluster)
    rule_of = {job: known[job][1].split("_wildcards_")[0].removeprefix("rule_")
               for job in submitted}
    assert set(rule_of.values()) == {"ingest_nbmacro", "encode", "sweep"}
    states = {job: known[job][0] for job in submitted}
    assert states[killed] == "CANCELLED"
    failed = [job for job, state in states.items() if state == "FAILED"]
    assert [rule_of[job] for job in failed] == ["sweep"], states
    done = [job for job, state in states.items() if state == "COMPLETED"]
    assert sorted(rule_of[j] for j in done).count("sweep") == 2  # hr, then mse again
    for job in done:
        path = submitted[job]
        text = (path if path.is_absolute() else work / path).read_text()
        assert "Finished job" in text or "Finished jobid" in text, (job, text[-2000:])
    # the sweep jobs asked for, and were granted, the node's GPU resource
    for job in (j for j in submitted if rule_of[j] == "sweep"):
        shown = subprocess.run(["scontrol", "show", "job", job], env=cluster.env(),
                               capture_output=True, text=True).stdout
        assert "TresPerJob=gres:gpu:1" in shown, shown
    assert _results(work) == local
