"""Family-study jobs of params.yaml: one (table, predictor) over its seeds (NASLib's trials).

params.yaml's ``families`` section is the grid of White et al.'s protocol. Per table it
names ONE pool (``target`` plus the ``require`` columns), so every predictor of the table
sees the same test set for a seed and their results pair up (the OMNI gain test relies on
it), and the train sizes (NASLib's 5 ... 1000, DARTS 5 ... 500; a size above the pool
minus the test set is an error). A predictor is a name of
:data:`~nasrank.families.FAMILY_PREDICTORS` or of ``families.variants`` (a registered
predictor with options, e.g. ``early_stop_4`` = early stopping at 4 epochs); per-table
``options`` override either.

A :class:`FamilyJob` is one Snakemake job / DVC stage; it runs every seed and writes

* ``reports/families/<table>/<predictor>.json``: the job's settings and one result per
  seed (:func:`nasrank.families.evaluate`): metrics and the *recorded* costs
  (``label_time_s``, ``query_time_data_s``), the same bytes on every rerun; the seed's
  test and training architectures are kept as SHA-256 digests (the splits are
  reproducible from the pool and the seed, and 100 seeds of ids would be megabytes);
* ``reports/families/<table>/<predictor>.timing.json``: the *measured* wall times of the
  same rows (``fit_time_s``, ``query_time_compute_s``, ``query_time_s``,
  ``init_time_s``), which differ from run to run and machine to machine.

Both are strict JSON (:func:`nasrank.metrics.strict_metrics`): a value that is NaN in
memory is null in the file, with a ``warnings`` entry naming it and why
(:func:`nan_causes`: a zero-cost score has no MAE, the table records no training times).

Usage::

    jobs = family_jobs(params)                   # fixed order
    job = find_family_job(params, "nb101/early_stop_12")
    run_family_job(job, params)                  # reports/families/nb101/early_stop_12.json
    results = load_family_results(params)        # every job's saved results
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasrank import numerics
from nasrank.errors import ConfigError, NasrankError, UnknownNameError
from nasrank.families.predictors import ZERO_COST
from nasrank.families.registry import FAMILY_PREDICTORS, family_spec
from nasrank.io import write_json
from nasrank.metrics import strict_metrics
from nasrank.paths import Paths, TableId

log = logging.getLogger("nasrank.families")

__all__ = [
    "FamilyJob",
    "family_jobs",
    "find_family_job",
    "load_family_results",
    "nan_causes",
    "run_family_job",
]


def _digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


@dataclass(frozen=True)
class FamilyJob:
    """One predictor on one table over the seeds of params.yaml.

    Attributes:
        table: processed table stem (``nb101``, ``nb201-cifar10``, ``darts``).
        label: the predictor's name in every output (a registry name or a variant).
        predictor: the registered family predictor it builds.
        seeds: the seeds (each the split's and the model's seed; NASLib's trials).
        settings: :func:`nasrank.families.run_family` settings (target, test_size,
            train_sizes, require, options).
    """

    table: TableId
    label: str
    predictor: str
    seeds: tuple[int, ...]
    settings: dict[str, Any] = field(compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", TableId(self.table))

    @property
    def bench(self) -> str:
        return self.table.bench

    @property
    def key(self) -> str:
        """``<table>/<label>``: the output path under ``reports/families``."""
        return f"{self.table}/{self.label}"

    @property
    def family(self) -> str:
        return family_spec(self.predictor).family

    @property
    def encoding(self) -> str | None:
        """The encoding whose features it reads (a workflow input), or ``None``."""
        spec = family_spec(self.predictor)
        if not spec.trains:
            return None
        return self.settings["options"].get("encoding") or spec.defaults.get("encoding") \
            or "adjacency_onehot"

    def output(self, paths: Paths) -> Path:
        """``reports/families/<key>.json``: the metrics report (reproducible bytes)."""
        return paths.family(self.key)

    def timing_output(self, paths: Paths) -> Path:
        """``reports/families/<key>.timing.json``: the measured times of the same rows."""
        return paths.family(self.key, timing=True)


def _resolve(params: Mapping[str, Any], label: str) -> tuple[str, dict[str, Any]]:
    """(registered predictor, options) of a predictor name or a ``families.variants`` one.

    Raises:
        UnknownNameError: neither a registered predictor nor a variant.
    """
    variants = params["families"].get("variants") or {}
    if label in variants:
        v = variants[label]
        if v["predictor"] not in FAMILY_PREDICTORS:
            raise UnknownNameError(f"family predictor (families.variants.{label}.predictor)",
                                   v["predictor"], list(FAMILY_PREDICTORS))
        return v["predictor"], dict(v.get("options") or {})
    if label not in FAMILY_PREDICTORS:
        raise UnknownNameError("family predictor (registered or in families.variants)",
                               label, [*FAMILY_PREDICTORS, *variants])
    return label, {}


def family_jobs(params: Mapping[str, Any]) -> list[FamilyJob]:
    """Every (table, predictor) job of ``families.tables``, in params.yaml's order.

    Raises:
        ConfigError / UnknownNameError: an unknown predictor, or options for a predictor
            the table does not run.
    """
    cfg = params["families"]
    seeds = tuple(cfg["seeds"])
    jobs = []
    for table, t in cfg["tables"].items():
        overrides = t.get("options") or {}
        stray = sorted(set(overrides) - set(t["predictors"]))
        if stray:
            raise ConfigError(f"families.tables.{table}.options: {', '.join(stray)} "
                              f"{'is' if len(stray) == 1 else 'are'} not among the table's "
                              "predictors")
        for label in t["predictors"]:
            predictor, options = _resolve(params, label)
            settings = {"target": t.get("target"), "test_size": t.get("test_size"),
                        "train_sizes": t.get("train_sizes"),
                        "require": list(t.get("require") or []),
                        "options": {**options, **(overrides.get(label) or {})}}
            jobs.append(FamilyJob(table, label, predictor, seeds, settings))
    return jobs


def find_family_job(params: Mapping[str, Any], key: str) -> FamilyJob:
    """The job with this ``key`` (``<table>/<predictor>``).

    Raises:
        ConfigError: no such job, listing the configured keys.
    """
    jobs = {j.key: j for j in family_jobs(params)}
    if key not in jobs:
        raise ConfigError(f"no family job {key!r} in params.yaml's families section; "
                          f"configured: {', '.join(jobs) or '(none)'}")
    return jobs[key]


#: measured wall times, kept apart from the reproducible metrics
TIMES = ("fit_time_s", "query_time_compute_s", "query_time_s", "init_time_s")

_NOT_RECORDED = "not recorded (the table has no {} for these architectures)"
#: why a family result's value is NaN, where the protocol makes it so (see nan_causes)
_NAN_CAUSES = {
    "label_time_s": _NOT_RECORDED.format("training times"),
    "query_time_data_s": _NOT_RECORDED.format("cost of the query's inputs"),
    "query_time_s": _NOT_RECORDED.format("cost of the query's inputs"),
}
_NOT_ON_SCALE = "not computed (zero-cost scores are not on the target's scale)"


def nan_causes(family: str) -> dict[str, str]:
    """Metric -> why it is NaN in a result of ``family``, for the file's warnings and the
    tables' notes (other NaN: :func:`nasrank.metrics.nonfinite_cause`).

    A zero-cost predictor has no MAE, RMSE or sparse Kendall tau (its scores do not
    estimate the target); the costs are NaN where the table records none.
    """
    out = dict(_NAN_CAUSES)
    if family == ZERO_COST:
        out |= dict.fromkeys(("mae", "rmse", "sparse_kendall_tau"), _NOT_ON_SCALE)
    return out


def run_family_job(job: FamilyJob, params: Mapping[str, Any]) -> Path:
    """Run every seed of ``job`` and write its two JSON reports atomically; returns the
    metrics report's path.

    Raises:
        ConfigError / DataFormatError: as :func:`nasrank.families.evaluate` (a missing
            proxy or fidelity, a train size above the pool minus the test set).
    """
    from nasrank.families.data import TableData
    from nasrank.families.protocol import evaluate_seeds

    paths = Paths.of(params)
    table = TableData.load(job.table, paths.processed_dir, paths.features_dir)
    s = job.settings
    results, timings = [], []
    start = time.perf_counter()
    # every seed at once: a torch predictor's seeds and train sizes train as one sweep
    evaluated = evaluate_seeds(table, job.predictor, job.seeds, target=s["target"],
                                test_size=s["test_size"], train_sizes=s["train_sizes"],
                                require=s["require"], options=s["options"], params=params)
    for i, (seed, r) in enumerate(zip(job.seeds, evaluated, strict=True)):
        r["test_ids_sha256"] = _digest(r.pop("test_ids"))
        r["train_ids_sha256"] = _digest(r.pop("train_ids"))
        r["predictor"] = job.label
        timings.append({"seed": seed, "rows": [
            {"train_size": x["train_size"], **{k: x.pop(k) for k in TIMES}} for x in r["rows"]]})
        results.append(r)
        best = max((x["kendall_tau"] for x in r["rows"]), default=float("nan"))
        log.info("%s: seed %d (%d/%d), pool %d, max Kendall tau %.3f", job.key, seed,
                 i + 1, len(job.seeds), r["pool_size"], best)
    log.info("%s: %d seeds in %.1f s", job.key, len(job.seeds), time.perf_counter() - start)
    head = {"key": job.key, "table": job.table, "predictor": job.label}
    causes = nan_causes(job.family)
    write_json(job.timing_output(paths), strict_metrics(
        {**head, "seconds": time.perf_counter() - start, "machine": numerics.machine(),
         "results": timings}, causes))
    dest = job.output(paths)
    report = strict_metrics({**head, "registered": job.predictor, "family": job.family,
                             "settings": s, "seeds": list(job.seeds),
                             "numerics": numerics.provenance(), "results": results},
                            causes)
    write_json(dest, report)
    if report.get("warnings"):
        log.info("%s: %d value(s) without a number written as null (see its warnings), "
                 "first %s", dest, len(report["warnings"]), report["warnings"][0])
    return dest


def _read(path: Path, job: FamilyJob) -> dict[str, Any]:
    if not path.is_file():
        raise NasrankError(f"{path} is missing; run `nasrank families {job.key}` first")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_family_results(params: Mapping[str, Any], jobs: Sequence[FamilyJob] | None = None,
                        timing: bool = False) -> list[dict[str, Any]]:
    """The saved reports of ``jobs`` (default: every configured job); with ``timing``,
    each row also carries its measured times (:data:`TIMES`).

    Raises:
        NasrankError: a report is missing (naming it and the command that writes it).
    """
    out = []
    paths = Paths.of(params)
    for job in family_jobs(params) if jobs is None else jobs:
        report = _read(job.output(paths), job)
        if timing:
            times = _read(job.timing_output(paths), job)["results"]
            for r, t in zip(report["results"], times, strict=True):
                for row, trow in zip(r["rows"], t["rows"], strict=True):
                    row.update({k: trow[k] for k in TIMES})
        out.append(report)
    return out
