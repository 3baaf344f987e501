"""Exactness checks of the analytic NAS-Bench-101 cost model against the benchmark.

The per-vertex parameters behind ReNAS's tensor must add up to what NAS-Bench-101
reports: for each labelled record, stem + 9 cells + dense layer equals its
``trainable_parameters`` (nasbench-vis's 30,001 records on the spec NAS-Bench-101
trained; NASLib's 500 entries on their own vertex order, since the order changes the
channel split). FLOPs are cross-checked against NASLib's ``flops`` column.

Usage::

    report = nb101_cost_check(raw_dir, space, records)   # -> reports/checks/nb101_params.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from nasrank.benchmarks.nb101 import naslib_entries
from nasrank.encodings.nb101 import decode
from nasrank.spaces.nb101_network import cell_costs, network_flops, network_params

WORST = 10


def _summary(ids: list[str], ours: np.ndarray, theirs: np.ndarray, source: str) -> dict:
    diff = ours - theirs
    order = np.argsort(-np.abs(diff), kind="stable")[:WORST]
    return {
        "source": source,
        "n_checked": len(ids),
        "n_exact": int((diff == 0).sum()),
        "worst_mismatches": [
            {"arch_id": ids[i], "ours": int(ours[i]), "benchmark": int(theirs[i]),
             "difference": int(diff[i])}
            for i in order if diff[i] != 0
        ],
    }


def _naslib_costs(raw_dir: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray,
                                          np.ndarray, np.ndarray]:
    """NASLib's 500 entries on their own pruned specs: ids, our params/MACs/FLOPs, theirs."""
    entries = naslib_entries(raw_dir)
    count = len(entries)
    adj = np.zeros((count, 7, 7), dtype=np.int8)
    ops = np.full((count, 7), -9, dtype=np.int64)
    n = np.zeros(count, dtype=np.int64)
    ids, params, flops = [], [], []
    for i, (arch_id, spec, rec) in enumerate(entries):
        k = len(spec.ops)
        adj[i, :k, :k] = spec.array
        ops[i, :k] = spec.labeling
        n[i] = k
        ids.append(arch_id)
        params.append(round(rec.scores["params"] * 1e6))
        flops.append(round(rec.scores["flops"] * 1e6))
    costs = cell_costs(adj, n, ops)
    return (ids, network_params(costs), network_flops(costs, "macs"),
            network_flops(costs, "naslib"), np.asarray(params), np.asarray(flops))


def nb101_cost_check(raw_dir: Path, space: pa.Table, records: pa.Table) -> dict[str, Any]:
    """Compare derived network parameters/FLOPs with every labelled NB101 record.

    Args:
        raw_dir: ``data/raw/nb101`` (NASLib's file, read for its own specs).
        space: the enumerated space (specs NAS-Bench-101 trained).
        records: ``data/processed/nb101.parquet``.
    """
    vis = records.filter(records.column("in_vis"))
    index = {k: i for i, k in enumerate(space.column("arch_id").to_pylist())}
    ids = vis.column("arch_id").to_pylist()
    rows = space.take(pa.array([index[k] for k in ids], pa.int64()))
    adj, ops, n = decode(rows)
    ours_vis = network_params(cell_costs(adj, n, ops))
    theirs_vis = vis.column("trainable_params").to_numpy()
    vis_report = _summary(ids, ours_vis, theirs_vis, "nasbench-vis data-20k + data-10k "
                          "trainable_parameters, spec NAS-Bench-101 trained")

    nl_ids, nl_params, nl_macs, nl_flops, their_params, their_flops = _naslib_costs(raw_dir)
    nl_report = _summary(nl_ids, nl_params, their_params, "NASLib zc_nasbench101.json params "
                         "(millions, 6 decimals) on NASLib's own vertex order")
    flops_report = _summary(nl_ids, nl_flops, their_flops, "NASLib zc_nasbench101.json flops "
                            "(millions, 6 decimals), convention 'naslib'")
    flops_report["convention"] = "naslib"
    flops_report["macs_minus_naslib_flops_mean"] = float(np.mean(nl_macs - their_flops))
    n_checked = vis_report["n_checked"] + nl_report["n_checked"]
    worst = sorted(vis_report["worst_mismatches"] + nl_report["worst_mismatches"],
                   key=lambda m: -abs(m["difference"]))[:WORST]
    return {
        "n_checked": n_checked,
        "n_exact": vis_report["n_exact"] + nl_report["n_exact"],
        "worst_mismatches": worst,
        "params": {"nasbench_vis": vis_report, "naslib": nl_report},
        "flops": flops_report,
    }

