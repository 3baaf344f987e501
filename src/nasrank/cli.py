"""The ``nasrank`` command line: one subcommand per pipeline stage.

Snakemake rules and DVC stages both call these commands, so a stage behaves the same
under either orchestrator. Every command reads ``params.yaml`` (``--params``), validates
it, and writes its outputs atomically.

Usage::

    nasrank fetch nb201                  # data/raw/nb201/*  (mirror, package or download)
    nasrank enumerate nb101              # data/processed/spaces/nb101.parquet
    nasrank ingest nb201                 # data/processed/nb201-{cifar10,...}.parquet
    nasrank stats nb101                  # reports/tables/nb101_space_stats.{csv,md}
    nasrank encode nb101 renas_tensor    # data/features/nb101/renas_tensor.parquet
    nasrank check nb101_params           # reports/checks/nb101_params.json
    nasrank train nb101 renas_tensor lenet lr --train-size 424 --seed 0
                                         # data/models/nb101/renas_tensor/lenet/lr/n424/s0/
    nasrank evaluate nb101 renas_tensor lenet lr --train-size 424 --seed 0
                                         # reports/metrics/<the same run>.json
    nasrank sweep nb201-cifar10 gcn gcn --losses hr,mse --train-sizes 50,100 --seeds 0,1,2
                                         # 12 runs trained at once; each run's directory
                                         # as `train` writes it (add --evaluate: metrics)
    nasrank search --list                # the search jobs of params.yaml
    nasrank search nb101/renas_ga/renas_tensor-lenet-lr-random-all-n424
                                         # reports/search/<the job>/s<seed>.json
    nasrank families --list              # the predictor-family jobs of params.yaml
    nasrank families nb101/early_stop_12 # reports/families/nb101/early_stop_12{,.timing}.json
    nasrank table renas_ktau_vs_train_size   # reports/tables/<name>.{csv,md}
    nasrank figure zero_cost_heatmap     # reports/figures/<name>.{png,pdf}
    nasrank report                       # reports/index.html (every table and figure)
    nasrank dvc-yaml [--check]           # dvc.yaml generated from params.yaml
    nasrank verify [--cache] [--json]    # the workspace against dvc.lock (exit 1: differs)
    nasrank verify --tolerance 1         # ... numbers within 1 seed-to-seed std pass
    nasrank fingerprint                  # digests of a tiny grid: compare two machines
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from nasrank import __version__, numerics
from nasrank.config import load_params, mirror_dir
from nasrank.errors import ConfigError, NasrankError, UnknownNameError
from nasrank.paths import Paths, TableId

log = logging.getLogger("nasrank")

ENUMERABLE = ("nb101",)


def cmd_fetch(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.benchmarks.fetch import fetch_benchmark

    dl = params["data"]["download"]
    paths = fetch_benchmark(
        args.bench,
        Paths.of(params).raw(args.bench),
        mirror=mirror_dir(params),
        timeout_s=dl["timeout_s"],
        retries=dl["retries"],
        backoff_s=dl["backoff_s"],
        accept_unpinned=args.accept_unpinned,
        progress=not args.quiet,
    )
    for p in paths:
        log.info("fetched %s", p)


def cmd_enumerate(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.benchmarks.nb101 import SPACE_COLUMNS, space_table
    from nasrank.io import write_parquet

    if args.space not in ENUMERABLE:
        raise ConfigError(f"space {args.space!r} has no enumeration stage; available: "
                          f"{', '.join(ENUMERABLE)}")
    start = time.perf_counter()
    table = space_table(workers=args.workers)
    dest = Paths.of(params).space(args.space)
    write_parquet(dest, table, {"space": args.space, "columns": SPACE_COLUMNS,
                                "nasrank_version": __version__})
    log.info("enumerated %d cells of %s in %.1f s -> %s", table.num_rows, args.space,
             time.perf_counter() - start, dest)


def cmd_ingest(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.benchmarks import ingest
    from nasrank.benchmarks.fetch import check_raw
    from nasrank.benchmarks.registry import get_benchmark
    from nasrank.io import sha256_file, write_parquet

    bench = get_benchmark(args.bench)
    paths = Paths.of(params)
    src = paths.raw(args.bench)
    check_raw(args.bench, src)
    kwargs: dict[str, Any] = {}
    if args.bench == "nb101":
        path = paths.space("nb101")
        if not path.is_file():
            raise NasrankError(f"{path} is missing; run `nasrank enumerate nb101` first")
        kwargs["space"] = pq.read_table(path)
    results = ingest(args.bench, src, **kwargs)
    for stem, proc in results.items():
        sources = [
            {"file": name, "sha256": sha256_file(src / name), "url": bench.file(name).url}
            for name in proc.sources
        ]
        meta = {
            "benchmark": args.bench,
            "task": TableId(stem).task,
            "columns": proc.columns,
            "sources": sources,
            "notes": proc.notes,
            "license": bench.license,
            "citation": bench.citation,
            "nasrank_version": __version__,
            **proc.extra,
        }
        dest = paths.processed(stem)
        write_parquet(dest, proc.table, meta)
        log.info("%s: %d rows -> %s", stem, proc.table.num_rows, dest)


def cmd_stats(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.stats import nb101_space_stats, write_table

    if args.bench != "nb101":
        raise ConfigError(f"stats exist for nb101 only, not {args.bench!r}")
    target = params["stats"]["nb101"]["target"]
    paths = Paths.of(params)
    space = pq.read_table(paths.space("nb101"))
    records = pq.read_table(paths.processed("nb101"))
    df = nb101_space_stats(space, records, target)
    out = Path(args.out_dir) / "nb101_space_stats"
    for p in write_table(df, str(out)):
        log.info("wrote %s", p)


def cmd_encode(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.encodings import get_encoding, spec_source
    from nasrank.encodings.store import FeatureWriter

    enc = get_encoding(args.bench, args.encoding)
    paths = Paths.of(params)
    source = spec_source(args.bench, paths.processed_dir)
    if not source.is_file():
        stage = "enumerate" if args.bench == "nb101" else "ingest"
        raise NasrankError(f"{source} is missing; run `nasrank {stage} {args.bench}` first")
    table = pq.read_table(source, columns=["arch_id", *enc.columns])
    options = {**enc.options, **params["encodings"].get(args.encoding, {})}
    dest = paths.features(args.bench, args.encoding)
    meta = {"encoding": enc.name, "benchmark": args.bench, "description": enc.description,
            "options": options, "layout": enc.layout, "source": str(source),
            "nasrank_version": __version__}
    start = time.perf_counter()
    with FeatureWriter(dest, enc.shape, meta) as writer:
        for batch in table.to_batches(max_chunksize=args.batch_size):
            part = pa.Table.from_batches([batch])
            writer.write(part.column("arch_id"), enc.encode(part, options))
            log.info("%s/%s: %d of %d architectures", args.bench, args.encoding,
                     writer.rows, table.num_rows)
    log.info("encoded %d architectures in %.1f s -> %s", table.num_rows,
             time.perf_counter() - start, dest)


def cmd_check(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.checks import nb101_cost_check
    from nasrank.io import write_json

    if args.check != "nb101_params":
        raise ConfigError(f"unknown check {args.check!r}; available: nb101_params")
    from nasrank.benchmarks.fetch import check_raw

    paths = Paths.of(params)
    check_raw("nb101", paths.raw("nb101"))
    report = nb101_cost_check(paths.raw("nb101"), pq.read_table(paths.space("nb101")),
                              pq.read_table(paths.processed("nb101")))
    dest = Path(args.out_dir) / f"{args.check}.json"
    write_json(dest, report)
    log.info("params exact for %d of %d records; FLOPs exact for %d of %d -> %s",
             report["n_exact"], report["n_checked"], report["flops"]["n_exact"],
             report["flops"]["n_checked"], dest)
    if report["n_exact"] != report["n_checked"]:
        log.warning("%d records differ from the benchmark's parameter count; see %s",
                    report["n_checked"] - report["n_exact"], dest)


def _run_config(args: argparse.Namespace, params: dict[str, Any]) -> Any:
    from nasrank.experiments import Run
    from nasrank.train import config_from_params

    run = Run(args.table, args.encoding, args.predictor, args.loss, args.train_size, args.seed)
    return config_from_params(params, bench=run.bench, task=run.task, encoding=run.encoding,
                              predictor=run.predictor, loss=run.loss,
                              train_size=run.train_size, seed=run.seed)


def cmd_train(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.train import run

    run(_run_config(args, params), params)


MAX_SEED = 2**32 - 1  # numpy's legacy seeding and torch's generators accept all of these


def seed_arg(text: str) -> int:
    """An argparse type: a seed, an integer in 0..2**32-1."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is an integer in 0..{MAX_SEED}, got {seed}")
    return seed


def _csv(kind: str, text: str, cast: Callable[[str], Any] = str) -> list[Any]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigError(f"--{kind}: give a comma-separated list, got {text!r}")
    try:
        return [cast(t) for t in items]
    except (ValueError, argparse.ArgumentTypeError) as exc:
        detail = f" ({exc})" if isinstance(exc, argparse.ArgumentTypeError) else ""
        raise ConfigError(f"--{kind}: {text!r} is not a list of integers{detail}") from None


def cmd_sweep(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.config import LOSS_VARIANTS
    from nasrank.experiments import Run
    from nasrank.losses import LOSSES
    from nasrank.sweep import run_sweep
    from nasrank.train import REGRESSION, config_from_params

    losses = _csv("losses", args.losses)
    variants = list(params.get(LOSS_VARIANTS) or {})
    for loss in losses:
        if loss not in LOSSES and loss != REGRESSION and loss not in variants:
            raise UnknownNameError(f"loss (or {LOSS_VARIANTS} entry of params.yaml)", loss,
                                   [*LOSSES, REGRESSION, *variants])
    cfgs = []
    for loss in losses:
        for size in _csv("train-sizes", args.train_sizes, int):
            for seed in _csv("seeds", args.seeds, seed_arg):
                run = Run(args.table, args.encoding, args.predictor, loss, size, seed)
                cfgs.append(config_from_params(
                    params, bench=run.bench, task=run.task, encoding=run.encoding,
                    predictor=run.predictor, loss=run.loss, train_size=run.train_size,
                    seed=run.seed))
    start = time.perf_counter()
    results = run_sweep(cfgs, params, progress=not args.quiet)
    log.info("sweep of %d runs in %.1f s (%.2f runs/s)", len(cfgs),
             time.perf_counter() - start, len(cfgs) / (time.perf_counter() - start))
    if args.evaluate:
        from nasrank.train import evaluate

        paths = Paths.of(params)
        for res in results:
            run_id = res["config"]["run_id"]
            _write_metrics(paths.run_metrics(run_id), evaluate(params, paths.models(run_id)))


def _write_metrics(dest: Path, report: dict[str, Any]) -> None:
    """Write an evaluation report as strict JSON (undefined metrics: null plus a warning,
    :func:`nasrank.metrics.strict_metrics`) and log each warning."""
    from nasrank.io import write_json
    from nasrank.metrics import strict_metrics

    strict = strict_metrics(report)
    write_json(dest, strict)
    for w in strict.get("warnings", []):
        log.warning("%s: %s", dest, w)


def cmd_evaluate(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.train import evaluate

    cfg = _run_config(args, params)
    paths = Paths.of(params)
    report = evaluate(params, paths.models(cfg.run_id))
    dest = paths.run_metrics(cfg.run_id)
    _write_metrics(dest, report)
    m = report["metrics"]
    log.info("%s: Kendall tau %.4f, Spearman %.4f on %d test architectures -> %s",
             cfg.run_id, m["kendall_tau"], m["spearman"], m["n"], dest)


def cmd_search(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.search.jobs import find_job, search_jobs
    from nasrank.search.runner import run_job

    if args.list:
        for job in search_jobs(params):
            print(f"{job.key}\t{job.search}\tbudgets {','.join(map(str, job.budgets))}\t"
                  f"{len(job.seeds)} seeds")
        return
    if args.key is None:
        raise ConfigError("name a search job (see `nasrank search --list`)")
    job = find_job(params, args.key)
    start = time.perf_counter()
    paths = run_job(job, params, seeds=tuple(args.seed) if args.seed else None)
    log.info("%s: %d seeds in %.1f s -> %s", job.key, len(paths),
             time.perf_counter() - start, paths[0].parent)


def cmd_families(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.families.jobs import family_jobs, find_family_job, run_family_job

    if args.list:
        for job in family_jobs(params):
            print(f"{job.key}\t{job.family}\t{job.predictor}\t{len(job.seeds)} seeds")
        return
    if args.key is None:
        raise ConfigError("name a family job (see `nasrank families --list`)")
    job = find_family_job(params, args.key)
    start = time.perf_counter()
    path = run_family_job(job, params)
    log.info("%s: %d seeds in %.1f s -> %s", job.key, len(job.seeds),
             time.perf_counter() - start, path)


def cmd_figure(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.catalog import ALL_FIGURES

    if args.name not in ALL_FIGURES:
        raise ConfigError(f"unknown figure {args.name!r}; available: "
                          f"{', '.join(ALL_FIGURES)}")
    for path in ALL_FIGURES[args.name](params, Paths.of(params).figure(args.name)):
        log.info("wrote %s", path)


def cmd_report(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.report.html import build_report

    log.info("wrote %s", build_report(params))


def cmd_table(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.catalog import ALL_TABLES
    from nasrank.report.html import caption_of
    from nasrank.report.latex import write_tables

    if args.name not in ALL_TABLES:
        raise ConfigError(f"unknown table {args.name!r}; available: {', '.join(ALL_TABLES)}")
    df = ALL_TABLES[args.name](params)
    stem = str(Paths.of(params).table(args.name))
    for p in write_tables(df, stem, caption=caption_of(args.name, "table")):
        log.info("wrote %s", p)


def cmd_verify(args: argparse.Namespace, params: dict[str, Any]) -> int:
    from nasrank.verify import prune_lock, verify

    lock = Path(args.lock)
    root = Path(args.root) if args.root else lock.resolve().parent
    if args.prune:
        for name in prune_lock(root, lock):
            log.info("removed the entry of stage %s from %s (not in dvc.yaml)", name, lock)
    report = verify(root, lock, stages=args.stage or None, deps=args.deps,
                    cache=args.cache, strict=args.strict, tolerance=args.tolerance)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_text())
    return 0 if report.ok else 1


def cmd_fingerprint(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.fingerprint import fingerprint

    print(json.dumps(fingerprint(), indent=2, sort_keys=True))


def cmd_dvc_yaml(args: argparse.Namespace, params: dict[str, Any]) -> None:
    from nasrank.dvcgen import render
    from nasrank.io import write_text
    from nasrank.jobs import check_losses, check_train_sizes

    check_losses(params, args.params)
    check_train_sizes(params, args.params)
    text = render(params)
    dest = Path(args.output)
    if args.check:
        current = dest.read_text(encoding="utf-8") if dest.is_file() else ""
        if current != text:
            raise NasrankError(f"{dest} is not what `nasrank dvc-yaml` generates from "
                               f"{args.params}; rerun it and commit the result")
        log.info("%s is up to date", dest)
        return
    write_text(dest, text)
    log.info("wrote %s", dest)


#: commands whose outputs hold no number nasrank computes: they run in any numerics mode
UNPINNED = frozenset({"fetch", "verify", "dvc-yaml"})

#: command -> handler; a handler may return an exit code (``nasrank verify``: 1 = differs)
COMMANDS: dict[str, Callable[[argparse.Namespace, dict[str, Any]], int | None]] = {
    "fetch": cmd_fetch,
    "enumerate": cmd_enumerate,
    "ingest": cmd_ingest,
    "stats": cmd_stats,
    "encode": cmd_encode,
    "check": cmd_check,
    "train": cmd_train,
    "sweep": cmd_sweep,
    "evaluate": cmd_evaluate,
    "search": cmd_search,
    "table": cmd_table,
    "families": cmd_families,
    "figure": cmd_figure,
    "report": cmd_report,
    "verify": cmd_verify,
    "dvc-yaml": cmd_dvc_yaml,
    "fingerprint": cmd_fingerprint,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nasrank", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"nasrank {__version__}")
    parser.add_argument("--params", default="params.yaml", help="params file (params.yaml)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fetch", help="fetch a benchmark's files into data/raw/BENCH")
    p.add_argument("bench")
    p.add_argument("--accept-unpinned", action="store_true",
                   help="download files whose upstream publishes no checksum, print the hash")

    p = sub.add_parser("enumerate", help="enumerate a search space into a Parquet table")
    p.add_argument("space")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")

    p = sub.add_parser("ingest", help="read raw files into data/processed/BENCH[-TASK].parquet")
    p.add_argument("bench")

    p = sub.add_parser("stats", help="search-space statistics table")
    p.add_argument("bench")
    p.add_argument("--out-dir", default="reports/tables")
    p = sub.add_parser("encode", help="encode a benchmark's architectures into a tensor file")
    p.add_argument("bench")
    p.add_argument("encoding")
    p.add_argument("--batch-size", type=int, default=65_536, help="architectures per batch")

    for name, text in (("train", "train one predictor (one cell of a grid)"),
                       ("evaluate", "ranking metrics of a trained run's test split")):
        p = sub.add_parser(name, help=text)
        p.add_argument("table", help="processed table: BENCH or BENCH-TASK")
        p.add_argument("encoding")
        p.add_argument("predictor")
        p.add_argument("loss", help="a loss name, or 'regression' for rf/xgb")
        p.add_argument("--train-size", type=int, required=True)
        p.add_argument("--seed", type=seed_arg, required=True)

    p = sub.add_parser("sweep", help="train many runs of one table, encoding and predictor "
                       "at once (losses x train sizes x seeds)")
    p.add_argument("table", help="processed table: BENCH or BENCH-TASK")
    p.add_argument("encoding")
    p.add_argument("predictor")
    p.add_argument("--losses", required=True,
                   help="comma-separated loss names (or loss variants of params.yaml)")
    p.add_argument("--train-sizes", required=True, help="comma-separated train sizes")
    p.add_argument("--seeds", required=True, help="comma-separated seeds")
    p.add_argument("--evaluate", action="store_true",
                   help="also write each run's metrics (as `nasrank evaluate`)")

    p = sub.add_parser("search", help="run one search job of params.yaml over its seeds")
    p.add_argument("key", nargs="?", help="job key (reports/search/KEY/); see --list")
    p.add_argument("--seed", type=seed_arg, action="append",
                   help="only this seed of the job (repeatable; default: all)")
    p.add_argument("--list", action="store_true", help="list the configured search jobs")

    p = sub.add_parser("families", help="run one predictor-family job of params.yaml over "
                       "its seeds (NASLib's protocol)")
    p.add_argument("key", nargs="?", help="job key TABLE/PREDICTOR; see --list")
    p.add_argument("--list", action="store_true", help="list the configured family jobs")

    p = sub.add_parser("table", help="aggregate evaluated runs, searches or family jobs "
                       "into a table")
    p.add_argument("name", help="a table of nasrank.catalog.ALL_TABLES, e.g. "
                   "renas_search, loss_wins, zero_cost, renas_search_vs_published")

    p = sub.add_parser("figure", help="draw a figure into reports/figures/NAME.{png,pdf}")
    p.add_argument("name", help="a figure of nasrank.catalog.ALL_FIGURES, e.g. "
                   "renas_rank_scatter, loss_heatmap_kendall_tau, zero_cost_heatmap")

    p = sub.add_parser("report", help="the HTML report of every table and figure: "
                       "reports/index.html")

    p = sub.add_parser("verify", help="check the workspace's outputs against dvc.lock; "
                       "exit 1 naming every file that differs")
    p.add_argument("--lock", default="dvc.lock", help="the lock file (dvc.lock)")
    p.add_argument("--root", help="the workspace its paths are relative to (default: the "
                   "lock's directory), e.g. --lock saved/dvc.lock --root .")
    p.add_argument("--stage", action="append", help="only this stage (repeatable; NAME "
                   "selects every NAME@item)")
    p.add_argument("--deps", action="store_true", help="check the dependencies too")
    p.add_argument("--cache", action="store_true", help="check the DVC cache objects of "
                   "every cached output too (present and uncorrupted)")
    p.add_argument("--strict", action="store_true", help="fail on measured-time outputs "
                   "(timing.json, the tables and figures of fit times) too")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--prune", action="store_true", help="first remove the entries of stages "
                   "that dvc.yaml no longer has (DVC keeps them when a grid shrinks)")
    p.add_argument("--tolerance", nargs="?", const=1.0, type=float, metavar="K",
                   help="where bytes differ (GPU, another CPU), compare the numbers of each "
                   "run metrics, search and family result file with its recorded version "
                   "(Git HEAD, else the DVC cache): it passes when every number is within K "
                   "times the seed-to-seed spread of the recorded seeds (K default 1)")

    sub.add_parser("fingerprint", help="digests of a small training grid in this "
                   "process's numerics mode (compare machines: nasrank.fingerprint)")

    p = sub.add_parser("dvc-yaml", help="generate dvc.yaml from params.yaml")
    p.add_argument("--output", default="dvc.yaml")
    p.add_argument("--check", action="store_true", help="fail if the file is stale")

    p = sub.add_parser("check", help="exactness checks of the cost model")
    p.add_argument("check", help="nb101_params")
    p.add_argument("--out-dir", default="reports/checks")
    return parser


def _exit_on_signal(signum: int, frame: object) -> None:
    """SIGTERM (``scancel``, Snakemake or DVC stopping a job) unwinds like an exception,
    so every half-written temporary file is removed before the process ends."""
    raise SystemExit(128 + signum)


# glibc's mallopt parameters (malloc.h): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's largest on 64-bit


def _keep_freed_memory() -> None:
    """Let glibc keep freed blocks up to 32 MiB instead of unmapping them.

    A training step or an inference batch allocates and frees the same tensors of a few
    MiB again and again; by default glibc maps each anew and the kernel zeroes its pages
    on first touch. A one-run LeNet sweep on NB101 (20 epochs) took 12.9 s, 4.0 s of it in
    the kernel, and 11.4 s (2.6 s) with the memory kept. Results do not change. Without
    glibc (macOS) nothing is done.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD_MAX)
    except (OSError, AttributeError):
        return


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _keep_freed_memory()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_signal) if in_main else None
    try:
        return _run(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="nasrank %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        params = load_params(args.params)
        if args.command not in UNPINNED:
            numerics.check(params["numerics"], args.params)
        rc = COMMANDS[args.command](args, params)
    except NasrankError as exc:
        print(f"nasrank: error: {exc}", file=sys.stderr)
        return 2
    return rc or 0


if __name__ == "__main__":
    from nasrank.__main__ import run

    run()
