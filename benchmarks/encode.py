"""Benchmark of nasrank's NAS-Bench-101 encodings, checked against the plain reference.

In a temporary work directory (the repository's ``data/`` is never touched; the params
file is the repository's own with its data directories moved there, see
``benchmarks/harness.py``) the script runs nasrank's real command line, one subprocess
per stage, recording wall time, CPU time and peak RSS of each:

1. the prerequisites ``nasrank fetch nb101``, ``nasrank enumerate nb101`` (the 423,624
   cells every NB101 encoding reads) and ``nasrank ingest nb101``;
2. ``nasrank encode nb101 renas_tensor`` against its target (<= 60 s wall and <= 4 GiB
   peak RSS on 2 cores; ``target_met`` per criterion), with the output's size and rows;
   then the other NB101 encodings (``type_matrix``, ``adjacency_onehot``, ``path``,
   ``gcn``) the same way;
3. the side-by-side: the plain one-cell-at-a-time Python reference
   (:func:`nasrank.encodings.nb101_reference.renas_tensor_reference`, each spec built
   with :func:`nasrank.spaces.nb101.spec_from_codes` from the space table -- that
   decoding is part of the reference's time) over all cells, or a seeded random sample
   of ``--reference-sample N`` cells; its tensors must equal the CLI's output
   (:func:`nasrank.encodings.store.read_features`, rows matched by ``arch_id``) exactly.
   The speed ratio compares the whole CLI stage (process start, Parquet read, encode,
   zstd write) with the reference on the same cells -- extrapolated from the sample to
   all cells when sampling, which the report says -- and, for the pure computation, the
   vectorised ``Encoding.encode`` in this process on exactly the reference's cells.

Stages run pinned to 2 CPUs where the machine has more. A reference figure measured in
the same run (float64 matmul GFLOP/s) makes timings from different machines comparable.

Usage::

    python benchmarks/encode.py [--mirror DIR] [--out FILE] [--reference-sample N]
                                   [--seed S] [--keep]

Exits 1 if a stage fails or a reference tensor differs from the CLI's; a missed time or
memory target is reported (``target_met: false``) but is not a failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from harness import (
    cores_used,
    default_mirror,
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

BENCH = "nb101"
MAIN_ENCODING = "renas_tensor"
OTHER_ENCODINGS = ("type_matrix", "adjacency_onehot", "path", "gcn")
TARGET_WALL_S = 60.0
TARGET_RSS_GIB = 4.0
ENUM_TARGET_S = 60.0  # benchmarks/data_layer.py's target for the prerequisite
CORES = 2
BATCH = 65_536  # the CLI's default --batch-size, for the in-process timing
MIB = 1024**2


def encode_stage(common: list[str], work: Path, env: dict[str, str],
                 cpus: list[int] | None, encoding: str) -> dict[str, Any]:
    """``nasrank encode nb101 ENCODING`` timed, with its output and the targets."""
    stage = run_stage([*common, "encode", BENCH, encoding], work, env, cpus)
    dest = work / "data" / "features" / BENCH / f"{encoding}.parquet"
    if stage["returncode"] == 0:
        from nasrank.io import read_metadata

        size = dest.stat().st_size
        stage["output"] = str(dest.relative_to(work))
        stage["output_bytes"] = size
        stage["output_mib"] = round(size / MIB, 2)
        stage["rows"] = pq.ParquetFile(dest).metadata.num_rows
        stage["shape"] = read_metadata(dest).get("shape")
    n_cores = cores_used(cpus, CORES)
    stage["cores_used"] = n_cores
    stage["cpu_s"] = round(stage["user_cpu_s"] + stage["sys_cpu_s"], 3)
    stage["target"] = (f"<= {TARGET_WALL_S:.0f} s wall and <= {TARGET_RSS_GIB:.0f} GiB peak "
                       f"RSS on {CORES} cores")
    ok = stage["returncode"] == 0 and n_cores <= CORES
    stage["target_met"] = {
        "wall": bool(ok and stage["wall_s"] <= TARGET_WALL_S),
        "peak_rss": bool(ok and stage["peak_rss_mib"] <= TARGET_RSS_GIB * 1024),
    }
    return stage


def reference_tensors(space: pa.Table) -> tuple[np.ndarray, float, float]:
    """ReNAS tensors of ``space``'s cells by the plain reference; wall and CPU seconds.

    Timed from the Arrow columns in memory: conversion to Python ints, ``spec_from_codes``
    and ``renas_tensor_reference`` per cell, and the copy into the result array.
    """
    from nasrank.encodings.nb101_reference import renas_tensor_reference
    from nasrank.spaces.nb101 import spec_from_codes

    out = np.empty((space.num_rows, 19, 7, 7), dtype=np.float32)
    t0, c0 = time.perf_counter(), time.process_time()
    cols = zip(space.column("n_vertices").to_pylist(), space.column("adj_bits").to_pylist(),
               space.column("labeling").to_pylist(), strict=True)
    for i, (n, bits, lab) in enumerate(cols):
        spec = spec_from_codes(n, bits, lab)
        out[i] = renas_tensor_reference(spec.matrix, spec.ops)
    return out, time.perf_counter() - t0, time.process_time() - c0


def vectorised_in_process(space: pa.Table, options: dict[str, Any]) -> tuple[float, float]:
    """Wall and CPU seconds of ``Encoding.encode`` alone on ``space``, in CLI-sized batches."""
    from nasrank.encodings import get_encoding

    enc = get_encoding(BENCH, MAIN_ENCODING)
    t0, c0 = time.perf_counter(), time.process_time()
    for batch in space.to_batches(max_chunksize=BATCH):
        enc.encode(pa.Table.from_batches([batch]), options)
    return time.perf_counter() - t0, time.process_time() - c0


def side_by_side(work: Path, params_path: Path, encode: dict[str, Any],
                 sample: int | None, seed: int, cpus: list[int] | None) -> dict[str, Any]:
    """Reference vs CLI output: exact equality on the compared cells and the speed ratio."""
    import yaml

    from nasrank.encodings.store import read_features

    space_file = work / "data" / "processed" / "spaces" / f"{BENCH}.parquet"
    space = pq.read_table(space_file, columns=["arch_id", "n_vertices", "adj_bits",
                                               "labeling"])
    total = space.num_rows
    if sample is not None and sample < total:
        rng = np.random.default_rng(seed)
        picked = np.sort(rng.choice(total, size=sample, replace=False))
        space = space.take(pa.array(picked))
        cells = f"random sample of {sample} of {total} cells (seed {seed})"
    else:
        cells = f"all {total} cells"
    n = space.num_rows

    params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
    options = {"flops": "macs", **params["encodings"].get(MAIN_ENCODING, {})}
    saved = os.sched_getaffinity(0) if cpus and hasattr(os, "sched_setaffinity") else None
    if saved is not None:
        os.sched_setaffinity(0, cpus)
    try:
        ref, ref_wall, ref_cpu = reference_tensors(space)
        vec_wall, vec_cpu = vectorised_in_process(space, options)
    finally:
        if saved is not None:
            os.sched_setaffinity(0, saved)

    t0 = time.perf_counter()
    feats = read_features(work / "data" / "features" / BENCH / f"{MAIN_ENCODING}.parquet")
    read_s = time.perf_counter() - t0
    row_of = {a: i for i, a in enumerate(feats.arch_id.tolist())}
    ids = space.column("arch_id").to_pylist()
    missing = [a for a in ids if a not in row_of]
    result: dict[str, Any] = {"cells": cells, "n_compared": n, "options": options}
    if missing:
        result["equal"] = False
        result["error"] = f"{len(missing)} arch_ids missing from the CLI output, e.g. " \
                          f"{missing[:3]}"
    else:
        vec = feats.x[np.fromiter((row_of[a] for a in ids), dtype=np.int64, count=n)]
        equal = bool(np.array_equal(vec, ref))
        result["equal"] = equal
        result["check"] = "np.array_equal of the (N, 19, 7, 7) float32 tensors, rows " \
                          "matched by arch_id"
        if not equal:
            bad = np.flatnonzero((vec != ref).reshape(n, -1).any(axis=1))
            result["n_differing_cells"] = int(bad.size)
            result["differing_arch_ids"] = [ids[i] for i in bad[:5]]
            result["max_abs_diff"] = float(np.abs(vec.astype(np.float64) - ref).max())
    result["read_features_s"] = round(read_s, 3)

    scale = total / n
    ref_full_wall, ref_full_cpu = ref_wall * scale, ref_cpu * scale
    result["reference"] = {
        "function": "nasrank.encodings.nb101_reference.renas_tensor_reference",
        "timed": "one cell at a time in this process: Arrow columns to Python ints, "
                 "spec decoding (spec_from_codes) and the reference tensor per cell",
        "wall_s": round(ref_wall, 3),
        "cpu_s": round(ref_cpu, 3),
        "per_cell_us": round(ref_wall / n * 1e6, 2),
    }
    if n != total:
        result["reference"]["extrapolated_all_cells_wall_s"] = round(ref_full_wall, 1)
        result["reference"]["extrapolated_all_cells_cpu_s"] = round(ref_full_cpu, 1)
    cli_cpu = encode["user_cpu_s"] + encode["sys_cpu_s"]
    result["vectorised_cli"] = {
        "command": encode["command"],
        "timed": "the whole stage: process start, Parquet read, encode, zstd write of all "
                 f"{total} cells",
        "wall_s": encode["wall_s"],
        "cpu_s": round(cli_cpu, 3),
    }
    result["vectorised_in_process"] = {
        "timed": f"Encoding.encode alone on the same {n} cells, batches of {BATCH}",
        "wall_s": round(vec_wall, 3),
        "cpu_s": round(vec_cpu, 3),
    }
    basis = "measured on all cells" if n == total else \
        f"reference extrapolated linearly from {n} sampled cells to all {total}"
    result["speed_ratio"] = {
        "reference_over_cli_wall": round(ref_full_wall / encode["wall_s"], 1),
        "reference_over_cli_cpu": round(ref_full_cpu / cli_cpu, 1) if cli_cpu else None,
        "cli_basis": basis,
        "reference_over_in_process_wall": round(ref_wall / vec_wall, 1),
        "in_process_basis": f"measured on the same {n} cells, no extrapolation",
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, default=None,
                        help="benchmark mirror (default: $NASRANK_MIRROR or ../shared/nasdata)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--reference-sample", type=int, default=None, metavar="N",
                        help="compare a random sample of N cells (default: all 423,624)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (0)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    if args.reference_sample is not None and args.reference_sample < 1:
        parser.error("--reference-sample must be at least 1")

    mirror = (args.mirror or default_mirror()).resolve()
    mirror_ok = mirror_present(mirror)
    report: dict[str, Any] = {
        "benchmark": "nasrank NB101 encodings",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "reference": reference_figure(),
        "mirror": {"path": str(mirror), "present": mirror_ok},
    }
    failed = False
    work = Path(tempfile.mkdtemp(prefix="nasrank-bench-enc-"))
    try:
        params = write_params(work, mirror if mirror_ok else None)
        env = stage_env(mirror if mirror_ok else None)
        common = ["--params", str(params), "-q"]
        cpus = pinned_cpus(CORES)

        # 1. Prerequisites: fetch, enumerate (what the encodings read), ingest.
        pre: dict[str, Any] = {}
        missing = local_sources(BENCH, mirror if mirror_ok else None)
        if missing:
            where = f"mirror {mirror}" if mirror_ok else f"no mirror at {mirror}"
            pre["fetch"] = {"skipped": f"{where}; files not available offline: "
                                       f"{', '.join(missing)}"}
        else:
            pre["fetch"] = run_stage([*common, "fetch", BENCH], work, env)
        enum = run_stage([*common, "enumerate", BENCH, "--workers", str(CORES)], work, env,
                         cpus)
        space_file = work / "data" / "processed" / "spaces" / f"{BENCH}.parquet"
        if enum["returncode"] == 0:
            enum["rows"] = pq.ParquetFile(space_file).metadata.num_rows
            enum["output_bytes"] = space_file.stat().st_size
        enum["cores_used"] = cores_used(cpus, CORES)
        enum["target"] = f"<= {ENUM_TARGET_S:.0f} s on {CORES} cores"
        enum["target_met"] = bool(enum["returncode"] == 0 and enum["wall_s"] <= ENUM_TARGET_S
                                  and enum["cores_used"] <= CORES)
        pre["enumerate"] = enum
        if pre["fetch"].get("returncode") != 0:
            pre["ingest"] = {"skipped": "fetch skipped or failed"}
        elif enum["returncode"] != 0:
            pre["ingest"] = {"skipped": "enumeration of the nb101 space failed"}
        else:
            pre["ingest"] = run_stage([*common, "ingest", BENCH], work, env)
        report["prerequisites"] = pre
        failed = any(s.get("returncode", 0) != 0 for s in pre.values())
        if enum["returncode"] != 0:
            return 1

        # 2. The encodings, each its own `nasrank encode` subprocess.
        main_stage = encode_stage(common, work, env, cpus, MAIN_ENCODING)
        report[f"encode_{MAIN_ENCODING}"] = main_stage
        others = {name: encode_stage(common, work, env, cpus, name)
                  for name in OTHER_ENCODINGS}
        report["encode_others"] = others
        failed |= any(s["returncode"] != 0 for s in [main_stage, *others.values()])

        # 3. Side-by-side with the plain reference.
        if main_stage["returncode"] != 0:
            report["side_by_side"] = {"skipped": f"encode {MAIN_ENCODING} failed"}
        else:
            sbs = side_by_side(work, params, main_stage, args.reference_sample, args.seed,
                               cpus)
            report["side_by_side"] = sbs
            failed |= not sbs["equal"]
    finally:
        if args.keep:
            report["workdir"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
        emit(report, args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
