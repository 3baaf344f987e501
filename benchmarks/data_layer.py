"""Benchmark of nasrank's data layer: enumeration of NAS-Bench-101, fetch and ingest.

Every stage runs as the real command line (``python -m nasrank ...``, the same code as
the ``nasrank`` entry point) in its own subprocess, with a throw-away copy of the
repository's ``params.yaml`` whose data directories live in a temporary directory (the
repository's ``data/`` is never touched). For each stage the script records the wall time, the CPU
time and the peak resident memory of that one command, from GNU ``/usr/bin/time`` where
available, else from ``os.wait4`` (``ru_maxrss`` in both cases: the largest single
process of the command's tree -- for the enumeration the parent holding the table, not
the sum over its forked workers).

A reference figure measured in the same run (float64 matmul GFLOP/s) makes timings
from different machines comparable. The shared helpers (params file, stage runner,
machine info) live in ``benchmarks/harness.py``.

Usage::

    python benchmarks/data_layer.py [--mirror DIR] [--out FILE] [--keep]

The mirror defaults to ``$NASRANK_MIRROR``, else ``../shared/nasdata`` next to the
repository; fetch/ingest stages whose files are neither there nor in an installed
package are reported as ``skipped`` with the reason.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (
    cores_used,
    default_mirror,
    dir_size,
    emit,
    local_sources,
    machine_info,
    mirror_present,
    pinned_cpus,
    reference_figure,
    run_stage,
    stage_env,
    write_params,
)

BENCHES = ("nb101", "nb201", "tnb101_micro", "nbgraph", "nbmacro")
ENUM_TARGET_S = 60.0
ENUM_CORES = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, default=None,
                        help="benchmark mirror (default: $NASRANK_MIRROR or ../shared/nasdata)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    mirror = (args.mirror or default_mirror()).resolve()
    mirror_ok = mirror_present(mirror)
    report: dict[str, Any] = {
        "benchmark": "nasrank data layer",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "reference": reference_figure(),
        "mirror": {"path": str(mirror), "present": mirror_ok},
    }

    work = Path(tempfile.mkdtemp(prefix="nasrank-bench-"))
    try:
        params = write_params(work, mirror if mirror_ok else None)
        env = stage_env(mirror if mirror_ok else None)
        common = ["--params", str(params), "-q"]

        # 1. Enumerate + hash the NB101 space, on ENUM_CORES cores.
        cpus = pinned_cpus(ENUM_CORES)
        enum = run_stage([*common, "enumerate", "nb101", "--workers", str(ENUM_CORES)],
                         work, env, cpus)
        space_file = work / "data" / "processed" / "spaces" / "nb101.parquet"
        if enum["returncode"] == 0:
            import pyarrow.parquet as pq

            enum["rows"] = pq.ParquetFile(space_file).metadata.num_rows
            enum["output_bytes"] = space_file.stat().st_size
        n_cores = cores_used(cpus, ENUM_CORES)
        enum["target"] = f"<= {ENUM_TARGET_S:.0f} s on {ENUM_CORES} cores"
        enum["cores_used"] = n_cores
        enum["target_met"] = bool(enum["returncode"] == 0 and enum["wall_s"] <= ENUM_TARGET_S
                                  and n_cores <= ENUM_CORES)
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

    emit(report, args.out)
    failed = [s for s in _stage_results(report) if s.get("returncode", 0) != 0]
    return 1 if failed else 0


def _stage_results(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = [report["enumerate_nb101"]]
    for entry in report.get("fetch_ingest", {}).values():
        out += [v for v in entry.values() if isinstance(v, dict)]
    return out


if __name__ == "__main__":
    sys.exit(main())
