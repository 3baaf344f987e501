"""Benchmark of nasrank's data layer: enumeration of NAS-Bench-101, fetch and ingest.

Every stage runs as the real command line (``python -m nasrank ...``, the same code as
the ``nasrank`` entry point) in its own subprocess, with a throw-away params file whose
``data/raw`` and ``data/processed`` live in a temporary directory (the repository's
``data/`` is never touched). For each stage the script records the wall time, the CPU
time and the peak resident memory of that one command, from GNU ``/usr/bin/time`` where
available, else from ``os.wait4`` (``ru_maxrss`` in both cases: the largest single
process of the command's tree -- for the enumeration the parent holding the table, not
the sum over its forked workers).

A reference figure measured in the same run (float64 matmul GFLOP/s) makes timings
from different machines comparable.

Usage::

    python benchmarks/data_layer.py [--mirror DIR] [--out FILE] [--keep]

The mirror defaults to ``$NASRANK_MIRROR``, else ``../shared/nasdata`` next to the
repository; fetch/ingest stages whose files are neither there nor in an installed
package are reported as ``skipped`` with the reason.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BENCHES = ("nb101", "nb201", "tnb101_micro", "nbgraph", "nbmacro")
ENUM_TARGET_S = 60.0
ENUM_CORES = 2


def default_mirror() -> Path:
    env = os.environ.get("NASRANK_MIRROR")
    return Path(env) if env else REPO.parent / "shared" / "nasdata"


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


def machine_info() -> dict[str, Any]:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_available": affinity,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pyarrow": _version("pyarrow"),
        "nasrank": _version("nasrank"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
    }


def _version(dist: str) -> str | None:
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
    """A params file whose data directories are inside ``work``."""
    path = work / "params.yaml"
    mirror_value = json.dumps(str(mirror)) if mirror else "null"
    path.write_text(
        "data:\n"
        f"  mirror: {mirror_value}\n"
        f"  raw_dir: {json.dumps(str(work / 'data' / 'raw'))}\n"
        f"  processed_dir: {json.dumps(str(work / 'data' / 'processed'))}\n"
        "  download: {timeout_s: 10, retries: 0, backoff_s: 0}\n"
        f"benchmarks: [{', '.join(BENCHES)}]\n"
        "stats:\n"
        "  nb101: {target: val_acc_108}\n",
        encoding="utf-8",
    )
    return path


GNU_TIME = "/usr/bin/time"


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
    of the forked copy of this (numpy-importing) process before exec as a floor.
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
    result = {
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
        if rf.package is not None and _version(rf.package[0]) is not None:
            continue
        missing.append(rf.name)
    return missing


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, default=None,
                        help="benchmark mirror (default: $NASRANK_MIRROR or ../shared/nasdata)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    mirror = (args.mirror or default_mirror()).resolve()
    mirror_ok = (mirror / "SHA256SUMS").is_file()
    report: dict[str, Any] = {
        "benchmark": "nasrank data layer",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "reference": {"float64_matmul_2048_gflops_best_of_3": round(matmul_gflops(), 2)},
        "mirror": {"path": str(mirror), "present": mirror_ok},
    }

    work = Path(tempfile.mkdtemp(prefix="nasrank-bench-"))
    try:
        params = write_params(work, mirror if mirror_ok else None)
        env = dict(os.environ)
        env.pop("NASRANK_MIRROR", None)  # the params file names the mirror
        if mirror_ok:
            env["NASRANK_MIRROR"] = str(mirror)
        common = ["--params", str(params), "-q"]

        # 1. Enumerate + hash the NB101 space, on ENUM_CORES cores.
        cpus = None
        if hasattr(os, "sched_getaffinity"):
            avail = sorted(os.sched_getaffinity(0))
            if len(avail) > ENUM_CORES:
                cpus = avail[:ENUM_CORES]
        enum = run_stage([*common, "enumerate", "nb101", "--workers", str(ENUM_CORES)],
                         work, env, cpus)
        space_file = work / "data" / "processed" / "spaces" / "nb101.parquet"
        if enum["returncode"] == 0:
            import pyarrow.parquet as pq

            enum["rows"] = pq.ParquetFile(space_file).metadata.num_rows
            enum["output_bytes"] = space_file.stat().st_size
        cores_used = len(cpus) if cpus else min(ENUM_CORES, os.cpu_count() or 1)
        enum["target"] = f"<= {ENUM_TARGET_S:.0f} s on {ENUM_CORES} cores"
        enum["cores_used"] = cores_used
        enum["target_met"] = bool(enum["returncode"] == 0 and enum["wall_s"] <= ENUM_TARGET_S
                                  and cores_used <= ENUM_CORES)
        report["enumerate_nb101"] = enum

        # 2. fetch + ingest each benchmark, each command in its own subprocess.
        stages: dict[str, Any] = {}
        for bench in BENCHES:
            missing = local_sources(bench, mirror if mirror_ok else None)
            if missing:
                where = f"mirror {mirror}" if mirror_ok else f"no mirror at {mirror}"
                stages[bench] = {"skipped": f"{where}; files not available offline: "
                                            f"{', '.join(missing)}"}
                continue
            entry: dict[str, Any] = {"fetch": run_stage([*common, "fetch", bench], work, env)}
            raw = work / "data" / "raw" / bench
            if entry["fetch"]["returncode"] != 0:
                entry["ingest"] = {"skipped": "fetch failed"}
            elif bench == "nb101" and enum["returncode"] != 0:
                entry["ingest"] = {"skipped": "enumeration of the nb101 space failed"}
            else:
                entry["fetch"]["raw_bytes"] = dir_size(raw)
                before = set((work / "data" / "processed").glob("*.parquet"))
                entry["ingest"] = run_stage([*common, "ingest", bench], work, env)
                new = sorted(set((work / "data" / "processed").glob("*.parquet")) - before)
                entry["ingest"]["outputs"] = {p.name: p.stat().st_size for p in new}
            stages[bench] = entry
        report["fetch_ingest"] = stages
    finally:
        if args.keep:
            report["workdir"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    failed = [s for s in _stage_results(report) if s.get("returncode", 0) != 0]
    return 1 if failed else 0


def _stage_results(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = [report["enumerate_nb101"]]
    for entry in report.get("fetch_ingest", {}).values():
        out += [v for v in entry.values() if isinstance(v, dict)]
    return out


if __name__ == "__main__":
    sys.exit(main())
