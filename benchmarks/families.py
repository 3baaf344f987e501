"""Benchmark of the predictor families: fit time and query time per architecture of every
predictor at 1,000 training architectures (White et al. 2021's cost axes), on the CPU.

Each predictor runs through :func:`nasrank.families.evaluate` -- the code the family jobs
run -- for one seed with one train size, so the times are exactly those the study
reports: ``fit_time_s`` (wall time of the fit), ``query_time_compute_s`` (measured wall
time of the query per test architecture) and ``query_time_data_s`` (the *recorded* cost
of the inputs a query reads: a proxy's compute time, the training to a lower fidelity;
NaN where the table records none). Two parts:

1. ``trained`` -- on ``nb101`` (val_acc_108, the 30,001 labelled cells, 200 test cells):
   every model-based predictor of the registry whose encoding has been built (``rf``,
   ``xgb``, ``gp``, ``lightgbm``, ``mlp``, ``gcn``, ``lenet``), OMNI (one-hot + the
   12-epoch accuracy) and the learning-curve predictors (``early_stop`` at 12 epochs,
   ``lce``), with ``--train-size`` (1,000) training cells. The torch predictors train
   with params.yaml's epochs and batch sizes (``--epochs`` overrides them; the MLP's 300
   and the GCN's 200 epochs at batch 32 take minutes each on one core).
2. ``zero_cost`` -- on ``nb201-cifar10``: every proxy as a predictor (no fit): the query
   cost is NASLib's recorded compute time per cell.

Torch runs on ``--threads`` threads (default 1, as a Snakemake job with
``OMP_NUM_THREADS=1``). The report holds machine details, the reference float64 matmul
GFLOP/s of ``benchmarks/harness.py`` measured in the same run, the load average at start
and end (other work makes timings noisy) and the peak RSS. A predictor whose inputs are
missing is reported as ``skipped`` with the reason.

Usage::

    python benchmarks/families.py [--params FILE] [--quick] [--train-size N]
                                  [--predictors rf,xgb,...] [--epochs E] [--threads N]
                                  [--out FILE]

``--quick``: 100 training cells and 3 epochs for torch predictors (well under a minute).
Exits 0 when every predictor ran or was skipped, 1 when one failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from harness import REPO_PARAMS, emit, machine_info, reference_figure

TRAINED_TABLE = "nb101"
ZERO_COST_TABLE = "nb201-cifar10"
LEARNING_CURVE = {"early_stop": {"fidelity": 12}, "lce": {}}
OMNI = {"proxies": [], "fidelity": 12}


def load_bench_params(path: Path, epochs: int | None) -> dict[str, Any]:
    """Validated params with absolute data directories and, if given, torch epochs."""
    from nasrank.config import load_params

    params = copy.deepcopy(load_params(path))
    base = path.resolve().parent
    for key in ("raw_dir", "processed_dir", "features_dir", "models_dir"):
        value = params["data"].get(key)
        if value and not Path(value).is_absolute():
            params["data"][key] = str(base / value)
    params["train"]["device"] = "cpu"
    if epochs is not None:
        params["train"]["epochs"] = epochs
        for opts in (params["train"].get("by_predictor") or {}).values():
            opts["epochs"] = epochs
    return params


def _row(result: dict[str, Any]) -> dict[str, Any]:
    row = result["rows"][0]
    keys = ("train_size", "n_test", "kendall_tau", "fit_time_s", "query_time_compute_s",
            "query_time_data_s", "query_time_s")
    out = {k: row[k] for k in keys}
    out["pool_size"] = result["pool_size"]
    out["queries_per_s"] = (1.0 / row["query_time_compute_s"]
                            if row["query_time_compute_s"] > 0 else math.inf)
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def run_one(table: Any, name: str, options: dict[str, Any], train_size: int,
            params: dict[str, Any]) -> dict[str, Any]:
    from nasrank.families import evaluate

    result = evaluate(table, name, 0, train_sizes=[train_size], options=options,
                      params=params)
    return _row(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=Path, default=REPO_PARAMS)
    parser.add_argument("--quick", action="store_true", help="100 cells, 3 torch epochs")
    parser.add_argument("--train-size", type=int, default=None, help="default 1000")
    parser.add_argument("--epochs", type=int, default=None, help="torch epochs override")
    parser.add_argument("--predictors", default=None,
                        help="comma-separated subset (default: every applicable one)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    train_size = args.train_size or (100 if args.quick else 1000)
    epochs = args.epochs if args.epochs is not None else (3 if args.quick else None)

    import torch

    from nasrank.errors import NasrankError
    from nasrank.families import TableData, family_predictors
    from nasrank.predictors import PREDICTORS

    torch.set_num_threads(args.threads)
    try:
        params = load_bench_params(args.params, epochs)
    except NasrankError as exc:
        parser.error(str(exc))
    model_based = family_predictors("model_based")
    zero_cost = family_predictors("zero_cost")
    known = [*model_based, "omni", *LEARNING_CURVE, *zero_cost]
    wanted = known if args.predictors is None else [
        p.strip() for p in args.predictors.split(",") if p.strip()]
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        parser.error(f"--predictors: unknown {', '.join(unknown)}; known: {', '.join(known)}")

    load_start = os.getloadavg()
    started = time.perf_counter()
    report: dict[str, Any] = {
        "benchmark": "nasrank families: fit and query time per predictor",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if args.quick else "full",
        "params": str(args.params.resolve()),
        "threads": args.threads,
        "machine": machine_info(),
        "reference": reference_figure(),
        "trained": {"table": TRAINED_TABLE, "train_size": train_size,
                    "torch_epochs": epochs or "params.yaml", "predictors": {}},
        "zero_cost": {"table": ZERO_COST_TABLE, "predictors": {}},
    }
    failed = False
    processed = Path(params["data"]["processed_dir"])
    features = Path(params["data"]["features_dir"])
    parts = ((TRAINED_TABLE, report["trained"]["predictors"],
              [p for p in wanted if p not in zero_cost]),
             (ZERO_COST_TABLE, report["zero_cost"]["predictors"],
              [p for p in wanted if p in zero_cost]))
    for table_name, out, names in parts:
        if not names:
            continue
        path = processed / f"{table_name}.parquet"
        if not path.is_file():
            for n in names:
                out[n] = {"skipped": f"{path} is missing (run the pipeline first)"}
            continue
        table = TableData.load(table_name, processed, features)
        for name in names:
            options: dict[str, Any] = dict(LEARNING_CURVE.get(name, {}))
            if name == "omni":
                options = dict(OMNI)
            if name in model_based or name == "omni":
                enc = options.get("encoding") or (
                    "gcn" if name == "gcn" else
                    "renas_tensor" if name == "lenet" else "adjacency_onehot")
                feat = features / table.bench / f"{enc}.parquet"
                if not feat.is_file():
                    out[name] = {"skipped": f"{feat} is missing (nasrank encode "
                                            f"{table.bench} {enc})"}
                    continue
                if name in PREDICTORS and PREDICTORS[name].kind == "torch":
                    options["epochs"] = epochs
            print(f"families benchmark: {table_name}/{name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                out[name] = {**run_one(table, name, {k: v for k, v in options.items()
                                                     if v is not None}, train_size, params),
                             "wall_s": round(time.perf_counter() - t0, 3)}
            except Exception as exc:  # report the failure, go on with the others
                failed = True
                out[name] = {"error": f"{type(exc).__name__}: {exc}",
                             "traceback": traceback.format_exc(limit=3)}
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["loadavg"] = {"start": load_start, "end": os.getloadavg()}
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    emit(report, args.out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
