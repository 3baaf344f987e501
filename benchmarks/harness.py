"""Shared helpers of the benchmark scripts in ``benchmarks/``.

Every benchmark runs nasrank's real command line (``python -m nasrank ...``, the same
code as the ``nasrank`` entry point), one subprocess per stage, against a throw-away
params file whose data directories live in a temporary work directory (the repository's
``data/`` is never touched). This module holds what the scripts share:

* :func:`write_params` -- the repository's own ``params.yaml`` with its data directories
  moved into the work directory, the mirror set and short download settings, validated
  against the schema, so new params keys never break the benchmarks;
* :func:`run_stage` -- wall time, CPU time and peak RSS of one command (GNU
  ``/usr/bin/time`` where available, else ``os.wait4``);
* :func:`machine_info` and :func:`reference_figure` (float64 matmul GFLOP/s, measured in
  the same run, to compare timings across machines);
* :func:`default_mirror`, :func:`stage_env`, :func:`pinned_cpus`, :func:`local_sources`,
  :func:`dir_size`, :func:`emit`.

Usage (the scripts run from ``benchmarks/``, which Python puts on ``sys.path``)::

    from harness import reference_figure, run_stage, stage_env, write_params

    params = write_params(work, mirror)
    stage = run_stage(["--params", str(params), "-q", "enumerate", "nb101"], work,
                      stage_env(mirror), cpus=pinned_cpus(2))
    stage["wall_s"], stage["peak_rss_mib"]
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
REPO_PARAMS = REPO / "params.yaml"
GNU_TIME = "/usr/bin/time"
# Short download settings: a benchmark must not wait minutes on an unreachable host.
BENCH_DOWNLOAD = {"timeout_s": 10, "retries": 0, "backoff_s": 0}


def default_mirror() -> Path:
    """``$NASRANK_MIRROR``, else ``../shared/nasdata`` next to the repository."""
    env = os.environ.get("NASRANK_MIRROR")
    return Path(env) if env else REPO.parent / "shared" / "nasdata"


def mirror_present(mirror: Path) -> bool:
    """Whether ``mirror`` looks like a benchmark mirror (it holds ``SHA256SUMS``)."""
    return (mirror / "SHA256SUMS").is_file()


def matmul_gflops(n: int = 2048, repeats: int = 3) -> float:
    """Best-of-``repeats`` float64 ``n x n`` matmul throughput (GFLOP/s)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    a @ b  # warm-up (thread pool, page faults)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def reference_figure() -> dict[str, float]:
    """The machine's reference figure, measured now, as the reports record it."""
    return {"float64_matmul_2048_gflops_best_of_3": round(matmul_gflops(), 2)}


def machine_info() -> dict[str, Any]:
    """Cores, versions and CPU model of this machine."""
    try:
        affinity: int | None = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_available": affinity,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pyarrow": version("pyarrow"),
        "nasrank": version("nasrank"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
    }


def version(dist: str) -> str | None:
    """Installed version of the distribution ``dist``, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def write_params(work: Path, mirror: Path | None) -> Path:
    """``work/params.yaml``: the repository's params with its data directories in ``work``.

    Starts from the repository's ``params.yaml`` (every other key kept as it is there),
    points ``data.raw_dir``, ``data.processed_dir`` and ``data.features_dir`` at
    ``work/data/{raw,processed,features}``, sets ``data.mirror`` and short download
    settings, and validates the result against the params schema before writing it.

    Raises:
        nasrank.errors.ConfigError: the resulting params fail the schema.
    """
    from nasrank.config import validate_params

    params = yaml.safe_load(REPO_PARAMS.read_text(encoding="utf-8"))
    data = params.setdefault("data", {})
    data["mirror"] = str(mirror) if mirror else None
    data["raw_dir"] = str(work / "data" / "raw")
    data["processed_dir"] = str(work / "data" / "processed")
    data["features_dir"] = str(work / "data" / "features")
    data["download"] = dict(BENCH_DOWNLOAD)
    path = work / "params.yaml"
    validate_params(params, source=f"{REPO_PARAMS} as rewritten for {path}")
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def stage_env(mirror: Path | None) -> dict[str, str]:
    """This environment for the stage subprocesses, ``NASRANK_MIRROR`` set to ``mirror``.

    The params file names the mirror too; the variable (which wins over it) is dropped
    when there is no mirror, so a stray value cannot point the stages elsewhere.
    """
    env = dict(os.environ)
    env.pop("NASRANK_MIRROR", None)
    if mirror is not None:
        env["NASRANK_MIRROR"] = str(mirror)
    return env


def pinned_cpus(cores: int) -> list[int] | None:
    """The first ``cores`` CPUs of this process's affinity, or None when pinning is moot.

    None where ``sched_setaffinity`` does not exist or no more than ``cores`` CPUs are
    available (the stage then runs unpinned, on at most ``cores`` CPUs anyway).
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    avail = sorted(os.sched_getaffinity(0))
    return avail[:cores] if len(avail) > cores else None


def cores_used(cpus: list[int] | None, cores: int) -> int:
    """CPUs a stage run with ``cpus`` (from :func:`pinned_cpus`) could use."""
    return len(cpus) if cpus else min(cores, os.cpu_count() or 1)


def _gnu_time_ok() -> bool:
    """Whether /usr/bin/time is GNU time (``-f``/``-o``), not a BSD one."""
    if not os.access(GNU_TIME, os.X_OK):
        return False
    probe = subprocess.run([GNU_TIME, "-f", "%M", "true"], capture_output=True, text=True,
                           check=False)
    return probe.returncode == 0 and probe.stderr.strip().isdigit()


def run_stage(args: list[str], cwd: Path, env: dict[str, str],
              cpus: list[int] | None = None) -> dict[str, Any]:
    """Run ``python -m nasrank ARGS`` in a subprocess; time and peak RSS of that child.

    Peak RSS comes from GNU time where available: it forks the command from a process of
    a few MiB. Otherwise from ``os.wait4`` here, where Linux counts the high-water RSS
    of the forked copy of this (numpy-importing) process before exec as a floor. Either
    way it is ``ru_maxrss``: the largest single process of the command's tree, not the
    sum over forked workers.

    Returns:
        ``command``, ``returncode``, ``wall_s``, ``user_cpu_s``, ``sys_cpu_s``,
        ``peak_rss_mib``, ``peak_rss_method``, ``cpus_pinned`` when pinned, and
        ``log_tail`` (the command's last output) when it failed.
    """
    cmd = [sys.executable, "-m", "nasrank", *args]
    use_time = _gnu_time_ok()
    stats_path = cwd / f".stage-{time.monotonic_ns()}.time"
    if use_time:
        cmd = [GNU_TIME, "-o", str(stats_path), "-f", "%M %U %S %x", *cmd]

    def pin() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)

    log_path = cwd / f".stage-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log_file:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log_file,
                                stderr=subprocess.STDOUT, preexec_fn=pin if cpus else None)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    log = log_path.read_text(encoding="utf-8", errors="replace")
    log_path.unlink()
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    maxrss_kib = usage.ru_maxrss / (1024 if sys.platform == "darwin" else 1)
    user, system, method = usage.ru_utime, usage.ru_stime, "os.wait4 ru_maxrss"
    if use_time and stats_path.is_file():
        fields = stats_path.read_text().split()
        stats_path.unlink()
        if len(fields) >= 4 and fields[-4].isdigit():
            maxrss_kib = int(fields[-4])
            user, system = float(fields[-3]), float(fields[-2])
            method = "GNU time %M"
    result: dict[str, Any] = {
        "command": "nasrank " + " ".join(args),
        "returncode": proc.returncode,
        "wall_s": round(wall, 3),
        "user_cpu_s": round(user, 3),
        "sys_cpu_s": round(system, 3),
        "peak_rss_mib": round(maxrss_kib / 1024, 1),
        "peak_rss_method": method,
    }
    if cpus is not None:
        result["cpus_pinned"] = cpus
    if proc.returncode != 0:
        result["log_tail"] = log[-2000:]
    return result


def local_sources(bench: str, mirror: Path | None) -> list[str]:
    """Files of ``bench`` that neither the mirror nor an installed package provides."""
    from nasrank.benchmarks.registry import get_benchmark

    missing = []
    for rf in get_benchmark(bench).files:
        if mirror is not None and rf.mirror_path and (mirror / rf.mirror_path).is_file():
            continue
        if rf.package is not None and version(rf.package[0]) is not None:
            continue
        missing.append(rf.name)
    return missing


def dir_size(path: Path) -> int:
    """Bytes of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def emit(report: dict[str, Any], out: Path | None) -> None:
    """Print ``report`` as indented JSON, and write it to ``out`` too when given."""
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
