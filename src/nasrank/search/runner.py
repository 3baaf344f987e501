"""Search jobs of params.yaml: labelled pools from processed tables, predictors as fitness.

A :class:`SearchJob` is one search configuration run over several seeds (one Snakemake
job, one DVC stage): a processed table, an algorithm of :data:`nasrank.search.SEARCHES`,
its budgets and, for the predictor-guided algorithms, an encoding, a predictor and a loss.
Every seed writes ``reports/search/<job.key>/s<seed>.json``.

* ``renas_ga`` (ReNAS Algorithm 1): a training sample of ``train_size`` labelled
  architectures is drawn (``sample``: at random, or spread uniformly over the sorted
  parameter counts or FLOPs), the predictor is trained once on it, the GA runs with the
  predictor as fitness and the predicted top-``budget`` are queried.
* ``predictor_nas``: the budgeted loop; the predictor is refitted on every architecture
  queried so far (:func:`fit_predict_from`). The job runs once at its largest budget; the
  result at a smaller budget ``b`` is that of the first ``b`` queries, which is exactly what
  a run with budget ``b`` queries (tested), so one run serves every budget.

The seeds of a predictor search train together (:func:`nasrank.sweep.fit_predictors`:
each run's result is bit-identical whichever runs share the call, so every report is the
same bytes as a seed run alone; tested). ``renas_ga`` fits every seed's predictor in one
sweep before the GAs run. ``predictor_nas`` runs its seeds in lock step
(:func:`lockstep`): each seed's search runs in a thread of its own, and its
``fit_predict`` waits until every seed still searching has asked for a refit; the main
thread then fits all of them as one sweep, predicts each seed's candidates and lets the
searches go on. The reports are written after the searches, in seed order.
* ``random`` and ``regularized_evolution``: true-accuracy baselines, read off the same
  way: the first ``b`` queries of a random search are a uniform sample of ``b``, and
  regularized evolution's first ``b`` queries are what a run with budget ``b`` queries
  once ``b`` reaches its population. So a table's best-so-far never drops as the budget
  grows.

The candidates are the labelled architectures of the table (``Pool``), optionally
restricted to a ``subspace``: NAS-Bench-101 labels 30,001 of its 423,624 cells in the
files used here, so its searches pick among those, and every output says so. Ranks and
percentiles are within all labelled architectures of the table.

Usage::

    jobs = search_jobs(params)                  # list[SearchJob], fixed order
    job = find_job(params, "nb101/renas_ga/renas_tensor-lenet-lr-random-all-n424")
    run_job(job, params)                        # writes the per-seed JSON files
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from nasrank.errors import ConfigError, DataFormatError, NasrankError, UnknownNameError
from nasrank.io import read_metadata, write_json
from nasrank.search import FitPredict, Pool, SearchResult, get_search
from nasrank.spaces import get_space
from nasrank.spaces.base import SearchSpace

log = logging.getLogger("nasrank.search")

__all__ = [
    "SAMPLES",
    "SUBSPACES",
    "SearchJob",
    "find_job",
    "fit_predict_from",
    "load_pool",
    "lockstep",
    "renas_job",
    "run_job",
    "search_jobs",
]

#: algorithms that use a trained predictor (the others query true accuracies only)
PREDICTOR_SEARCHES = ("renas_ga", "predictor_nas")


def _nbgraph_space(task: str | None) -> SearchSpace:
    from nasrank.spaces.nbgraph import NBGraphSpace

    return NBGraphSpace.for_dataset(task or "")


#: benchmarks whose tables' space is not ``nasrank.spaces.get_space(bench)``
SPACE_OF_TABLE: dict[str, Callable[[str | None], SearchSpace]] = {
    "nbgraph": _nbgraph_space,                     # proteins has its own op list
    "nb101_full": lambda task: get_space("nb101"),  # the official file labels it all
}


def space_of(bench: str, task: str | None) -> SearchSpace:
    """The search space of a benchmark's table.

    Raises:
        UnknownNameError: no search space is registered for ``bench``.
    """
    if bench in SPACE_OF_TABLE:
        return SPACE_OF_TABLE[bench](task)
    return get_space(bench)


def _nb101_rows(params: dict[str, Any], ids: np.ndarray) -> pa.Table:
    """Rows of the enumerated NB101 space for ``ids`` (codes of the canonical spec)."""
    path = Path(params["data"]["processed_dir"]) / "spaces" / "nb101.parquet"
    if not path.is_file():
        raise NasrankError(f"{path} is missing; run `nasrank enumerate nb101` first")
    space = pq.read_table(path, columns=["arch_id", "n_vertices", "adj_bits", "labeling",
                                         "adjacency", "ops", "io_distance", "uses_conv3x3"])
    index = {k: i for i, k in enumerate(space.column("arch_id").to_pylist())}
    missing = [k for k in ids if k not in index]
    if missing:
        raise DataFormatError(f"{path}: {len(missing)} labelled cells are not in the "
                              f"enumerated space, e.g. {missing[0]}")
    return space.take(pa.array([index[k] for k in ids], pa.int64()))


def _specs(bench: str, space: SearchSpace, ids: np.ndarray,
           params: dict[str, Any]) -> list[Hashable]:
    """Canonical specs of ``ids`` (their ``arch_id`` strings, or NB101's enumeration codes)."""
    if bench in ("nb101", "nb101_full"):
        from nasrank.spaces.nb101 import spec_from_codes

        rows = _nb101_rows(params, ids)
        return [spec_from_codes(int(n), int(a), int(lab)) for n, a, lab in zip(
            rows.column("n_vertices").to_pylist(), rows.column("adj_bits").to_pylist(),
            rows.column("labeling").to_pylist(), strict=True)]
    if bench in ("nb201", "tnb101_micro"):
        module = {"nb201": "nasrank.spaces.nb201", "tnb101_micro": "nasrank.spaces.tnb101"}
        import importlib

        str_to_arch = importlib.import_module(module[bench]).str_to_arch
        return [str_to_arch(k) for k in ids]
    return [space.validate(k) for k in ids]


def _io1_conv3x3(params: dict[str, Any], bench: str, ids: np.ndarray) -> np.ndarray:
    rows = _nb101_rows(params, ids)
    return (rows.column("io_distance").to_numpy() == 1) & rows.column(
        "uses_conv3x3").to_numpy(zero_copy_only=False)


#: subspace -> (benchmarks it applies to, description, mask(params, bench, ids))
SUBSPACES: dict[str, tuple[tuple[str, ...], str, Callable[..., np.ndarray] | None]] = {
    "all": ((), "every labelled architecture", None),
    "io1_conv3x3": (("nb101", "nb101_full"),
                    "cells with an input->output edge and a conv3x3 (ReNAS Table 6)",
                    _io1_conv3x3),
}


def _nb101_cost(params: dict[str, Any], ids: np.ndarray, what: str) -> np.ndarray:
    from nasrank.encodings.nb101 import decode
    from nasrank.spaces.nb101_network import cell_costs, network_flops, network_params

    adj, ops, n = decode(_nb101_rows(params, ids))
    costs = cell_costs(adj, n, ops)
    if what == "params":
        return network_params(costs).astype(np.float64)
    return network_flops(costs, params["encodings"]["renas_tensor"]["flops"]).astype(np.float64)


#: cost attribute per benchmark, for the ``params`` / ``flops`` training-sample selection
COSTS: dict[str, Callable[[dict[str, Any], np.ndarray, str], np.ndarray]] = {
    "nb101": _nb101_cost,
    "nb101_full": _nb101_cost,
}


def _sample_random(pool_size: int, n: int, rng: np.random.Generator,
                   cost: np.ndarray | None) -> np.ndarray:
    return np.sort(rng.choice(pool_size, size=n, replace=False))


def _sample_uniform(pool_size: int, n: int, rng: np.random.Generator,
                    cost: np.ndarray | None) -> np.ndarray:
    """ReNAS: sort by the cost, select uniformly: positions ``floor((k + u) N / n)``."""
    assert cost is not None
    order = np.argsort(cost, kind="stable")
    u = rng.random()
    pos = np.floor((np.arange(n) + u) * pool_size / n).astype(np.int64)
    return np.sort(order[np.minimum(pos, pool_size - 1)])


#: training-sample selection -> (cost attribute or None, selector)
SAMPLES: dict[str, tuple[str | None, Callable[..., np.ndarray]]] = {
    "random": (None, _sample_random),
    "params": ("params", _sample_uniform),
    "flops": ("flops", _sample_uniform),
}


@dataclass(frozen=True)
class LabelledPool:
    """The searched pool of a table and what the outputs say about it."""

    pool: Pool
    space: SearchSpace
    target: str
    n_labelled: int              # labelled architectures of the table
    space_size: int              # architectures of the search space
    labelled_acc: np.ndarray     # every labelled accuracy of the table (for ranks)
    candidates: str


def load_pool(params: dict[str, Any], table: str, target: str | None = None,
              subspace: str = "all") -> LabelledPool:
    """The labelled architectures of ``data/processed/<table>.parquet`` as a search pool.

    Raises:
        UnknownNameError: an unknown benchmark or subspace.
        ConfigError: a subspace of another benchmark; a table with no labelled
            architecture (a search needs labels).
        NasrankError: a missing processed table.
    """
    from nasrank.train import load_labels

    bench, _, task_part = table.partition("-")
    task = task_part or None
    space = space_of(bench, task)
    if subspace not in SUBSPACES:
        raise UnknownNameError("subspace", subspace, list(SUBSPACES))
    benches, sub_text, mask_fn = SUBSPACES[subspace]
    if benches and bench not in benches:
        raise ConfigError(f"subspace {subspace!r} is defined for {', '.join(benches)}, "
                          f"not {bench!r}")
    path = Path(params["data"]["processed_dir"]) / f"{table}.parquet"
    if not path.is_file():
        raise NasrankError(f"{path} is missing; run `nasrank ingest {bench}` first")
    ids, acc, target = load_labels(path, target)
    if len(ids) == 0:
        raise ConfigError(f"{path}: no architecture is labelled with {target!r}; a search "
                          "needs labelled candidates")
    n_rows = pq.read_metadata(path).num_rows
    keep = np.ones(len(ids), dtype=bool) if mask_fn is None else mask_fn(params, bench, ids)
    if not keep.any():
        raise ConfigError(f"{path}: no labelled architecture in subspace {subspace!r}")
    specs = _specs(bench, space, ids[keep], params)
    pool = Pool(ids[keep], acc[keep], specs)
    space_size = space.size()
    words = (f"the {len(pool):,} architectures of {table} labelled with {target}"
             + ("" if subspace == "all" else f" in subspace {subspace} ({sub_text})")
             + (f"; {space_size:,} in the search space" if space_size != n_rows else "")
             + ("; the labels are surrogate predictions, not trained accuracies"
                if read_metadata(path).get("surrogate_labels") else ""))
    return LabelledPool(pool, space, target, len(ids), space_size, acc, words)


def percentile_rank(labelled_acc: np.ndarray, accuracy: float) -> tuple[int, float]:
    """Rank (1 = best; ties share) among the labelled accuracies, and rank / N * 100."""
    rank = int((labelled_acc > accuracy).sum()) + 1
    return rank, rank / len(labelled_acc) * 100


@dataclass(frozen=True)
class SearchJob:
    """One search configuration over seeds.

    Attributes:
        table: processed table (``nb101``, ``nb201-cifar10``).
        search: algorithm name (:data:`nasrank.search.SEARCHES`).
        budgets: query budgets reported (the run uses the largest; see the module).
        seeds: seeds, one output file each.
        experiment: the params.yaml grid it comes from.
        encoding, predictor, loss: the predictor (``None`` for true-accuracy searches).
        train_size: ``renas_ga``'s training sample.
        sample: how that sample is drawn (:data:`SAMPLES`).
        subspace: the candidates (:data:`SUBSPACES`).
        loss_options: overrides of ``losses.<loss>`` for this search (e.g. a piecewise
            schedule on the number of labelled samples).
    """

    table: str
    search: str
    budgets: tuple[int, ...]
    seeds: tuple[int, ...]
    experiment: str
    encoding: str | None = None
    predictor: str | None = None
    loss: str | None = None
    train_size: int | None = None
    sample: str = "random"
    subspace: str = "all"
    loss_options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.budgets or not self.seeds:
            raise ConfigError(f"search {self.table}/{self.search}: needs budgets and seeds")
        object.__setattr__(self, "budgets", tuple(sorted(set(self.budgets))))

    @property
    def bench(self) -> str:
        return self.table.split("-", 1)[0]

    @property
    def key(self) -> str:
        """Relative output directory under ``reports/search``; unique per configuration."""
        if self.search == "renas_ga":
            setting = (f"{self.encoding}-{self.predictor}-{self.loss}-{self.sample}-"
                       f"{self.subspace}-n{self.train_size}")
        elif self.search in PREDICTOR_SEARCHES:
            setting = f"{self.encoding}-{self.predictor}-{self.loss}"
        else:
            return f"{self.table}/{self.search}"
        return f"{self.table}/{self.search}/{setting}"

    @property
    def name(self) -> str:
        """``key`` as an identifier (Snakemake rule and DVC stage names)."""
        return "".join(c if c.isalnum() else "_" for c in self.key)

    def outputs(self, search_dir: str | Path) -> list[str]:
        """``<search_dir>/<key>/s<seed>.json`` for every seed."""
        return [f"{search_dir}/{self.key}/s{s}.json" for s in self.seeds]

    def output_dir(self, search_dir: str | Path) -> str:
        """``<search_dir>/<key>``: the job's output (a directory of its seeds' reports)."""
        return f"{search_dir}/{self.key}"


def renas_job(params: dict[str, Any], variant: str, sample: str = "random",
              subspace: str = "all") -> SearchJob:
    """The ``renas_ga`` job of a ReNAS predictor variant, sample selection and subspace.

    Raises:
        ConfigError: ``variant`` is not in ``experiments.renas_variants.variants``.
    """
    cfg = params["search"]["renas"]
    variants = params["experiments"]["renas_variants"]["variants"]
    if variant not in variants:
        raise ConfigError(f"search.renas: unknown variant {variant!r}; "
                          f"experiments.renas_variants.variants has {', '.join(variants)}")
    v = variants[variant]
    table = cfg["bench"] + (f"-{cfg['task']}" if cfg["task"] else "")
    return SearchJob(table, "renas_ga", (cfg["budget"],), tuple(cfg["seeds"]), "renas",
                     v["encoding"], cfg["predictor"], v["loss"], cfg["train_size"], sample,
                     subspace)


def _renas_jobs(params: dict[str, Any]) -> list[SearchJob]:
    cfg = params["search"]["renas"]
    jobs = [renas_job(params, v) for v in cfg["variants"]]
    jobs += [renas_job(params, cfg["sample_selection"]["variant"], sample=s)
             for s in cfg["sample_selection"]["samples"]]
    jobs += [renas_job(params, cfg["subspace"]["variant"], subspace=s)
             for s in cfg["subspace"]["subspaces"]]
    return jobs


def _loss_search_jobs(params: dict[str, Any]) -> list[SearchJob]:
    cfg = params["search"]["loss_search"]
    budgets = tuple(sorted(cfg["budgets"]))
    seeds = tuple(cfg["seeds"])
    jobs = []
    for table in cfg["tables"]:
        jobs += [SearchJob(table, "predictor_nas", budgets, seeds, "loss_search",
                           cfg["encoding"], cfg["predictor"], loss,
                           loss_options=dict(cfg["loss_options"].get(loss, {})))
                 for loss in cfg["losses"]]
        jobs += [SearchJob(table, b, budgets, seeds, "loss_search") for b in cfg["baselines"]]
    return jobs


#: search experiment of params.yaml -> its jobs
SEARCH_EXPERIMENTS: dict[str, Callable[[dict[str, Any]], list[SearchJob]]] = {
    "renas": _renas_jobs,
    "loss_search": _loss_search_jobs,
}


def search_jobs(params: dict[str, Any], experiment: str | None = None) -> list[SearchJob]:
    """The jobs of one search experiment (or all, each configuration once), in order.

    Raises:
        ConfigError: unknown experiment or variant, a search without its predictor.
    """
    names = list(SEARCH_EXPERIMENTS) if experiment is None else [experiment]
    seen: dict[str, SearchJob] = {}
    for name in names:
        if name not in SEARCH_EXPERIMENTS:
            raise UnknownNameError("search experiment", name, list(SEARCH_EXPERIMENTS))
        for job in SEARCH_EXPERIMENTS[name](params):
            if job.search not in get_search_names():
                raise UnknownNameError("search", job.search, get_search_names())
            seen.setdefault(job.key, job)
    return list(seen.values())


def get_search_names() -> list[str]:
    from nasrank.search import SEARCHES

    return list(SEARCHES)


def find_job(params: dict[str, Any], key: str) -> SearchJob:
    """The job of params.yaml with this ``key``.

    Raises:
        ConfigError: no such job, listing the configured keys.
    """
    jobs = {j.key: j for j in search_jobs(params)}
    if key not in jobs:
        raise ConfigError(f"no search job {key!r} in params.yaml's search section; "
                          f"configured: {', '.join(jobs) or '(none)'}")
    return jobs[key]


def _run_config(job: SearchJob, params: dict[str, Any], train_size: int, seed: int) -> Any:
    from nasrank.train import config_from_params

    cfg = config_from_params(params, bench=job.bench, task=job.table.partition("-")[2] or None,
                             encoding=job.encoding, predictor=job.predictor, loss=job.loss,
                             train_size=train_size, seed=seed)
    if job.loss_options:
        cfg = replace(cfg, loss_options={**cfg.loss_options, **job.loss_options})
    return cfg


@dataclass(frozen=True)
class Refit:
    """One ``fit_predict`` call of a seed's ``predictor_nas``: the labelled architectures
    so far (ids and accuracies, in query order) and the candidates to score."""

    seed: int
    train_ids: np.ndarray
    train_acc: np.ndarray
    candidate_ids: np.ndarray
    n_labelled: int


class _Refits:
    """Refits of ``job``'s predictor: features of ``ids`` in ``x``, one sweep per call."""

    def __init__(self, job: SearchJob, params: dict[str, Any], ids: np.ndarray, x: np.ndarray,
                 layout: dict[str, list[int]]) -> None:
        self.job, self.params, self.x, self.layout = job, params, x, layout
        self.row = {k: i for i, k in enumerate(ids)}

    def rows(self, ids: np.ndarray) -> list[int]:
        return [self.row[k] for k in ids]

    def __call__(self, refits: Sequence[Refit]) -> list[np.ndarray]:
        """Fit every refit's predictor (one :func:`nasrank.sweep.fit_predictors` call) and
        return each one's predictions of its candidates. The loss sees ``n_train`` =
        labelled samples, which a ``piecewise`` schedule with ``switch_samples``
        switches on."""
        from nasrank.sweep import fit_predictors

        cfgs = [_run_config(self.job, self.params, r.n_labelled, r.seed) for r in refits]
        fitted = fit_predictors(cfgs, [self.x[self.rows(r.train_ids)] for r in refits],
                                [r.train_acc for r in refits], self.layout)
        return [f.predict(self.x[self.rows(r.candidate_ids)])
                for f, r in zip(fitted, refits, strict=True)]


def fit_predict_from(job: SearchJob, params: dict[str, Any], ids: np.ndarray, x: np.ndarray,
                     layout: dict[str, list[int]], seed: int) -> Any:
    """``fit_predict`` of one seed's ``predictor_nas``: refit ``job``'s predictor on the
    labelled architectures so far (their features looked up in ``x``, aligned with
    ``ids``) and predict the candidates. The loss sees ``n_train`` = labelled samples,
    which a ``piecewise`` schedule with ``switch_samples`` switches on. (:func:`run_job`
    refits all seeds together, with the same results.)"""
    refits = _Refits(job, params, ids, x, layout)

    def fit_predict(train_ids: np.ndarray, train_acc: np.ndarray, candidate_ids: np.ndarray,
                    *, n_labelled: int) -> np.ndarray:
        return refits([Refit(seed, train_ids, train_acc, candidate_ids, n_labelled)])[0]

    return fit_predict


T = TypeVar("T")

#: ``fit_predict``'s arguments as one request: (train_ids, train_acc, candidate_ids,
#: n_labelled)
Request = tuple[np.ndarray, np.ndarray, np.ndarray, int]


class _Aborted(BaseException):
    """Unwinds a task's thread when the lock step stops (a task or a refit failed).
    A BaseException, so that no ``except Exception`` in a search can swallow it."""


class _Lockstep:
    """The rendezvous of :func:`lockstep`; see there."""

    def __init__(self, n: int) -> None:
        self.cond = threading.Condition()
        self.running = n                          # tasks not finished yet
        self.pending: dict[int, Request] = {}     # task -> its refit, waiting
        self.answers: dict[int, np.ndarray] = {}  # task -> its scores, not yet taken
        self.results: dict[int, Any] = {}
        self.errors: dict[int, BaseException] = {}
        self.aborted = False

    def fit_predict(self, slot: int) -> FitPredict:
        def fit_predict(train_ids: np.ndarray, train_acc: np.ndarray,
                        candidate_ids: np.ndarray, *, n_labelled: int) -> np.ndarray:
            with self.cond:
                if self.aborted:
                    raise _Aborted
                self.pending[slot] = (train_ids, train_acc, candidate_ids, n_labelled)
                self.cond.notify_all()
                while slot not in self.answers and not self.aborted:
                    self.cond.wait()
                if self.aborted:
                    raise _Aborted
                return self.answers.pop(slot)

        return fit_predict

    def work(self, slot: int, task: Callable[[FitPredict], Any]) -> None:
        try:
            self.results[slot] = task(self.fit_predict(slot))
        except _Aborted:
            pass
        except BaseException as exc:  # re-raised by the main thread
            self.errors[slot] = exc
        finally:
            with self.cond:
                self.running -= 1
                self.cond.notify_all()

    def next_round(self) -> list[tuple[int, Request]] | None:
        """Wait until every running task waits for a refit; its requests, by task, or
        ``None`` when every task has finished or one failed."""
        with self.cond:
            while len(self.pending) < self.running:
                self.cond.wait()
            if self.errors or not self.running:
                return None
            batch = sorted(self.pending.items())
            self.pending.clear()
            return batch

    def answer(self, slots: list[int], scores: Sequence[np.ndarray]) -> None:
        with self.cond:
            self.answers.update(zip(slots, scores, strict=True))
            self.cond.notify_all()

    def abort(self) -> None:
        with self.cond:
            self.aborted = True
            self.cond.notify_all()


def _name_error(exc: BaseException, where: str) -> BaseException:
    """``exc`` with ``where`` in its message (nasrank's own errors, which the command line
    prints) or as a note (the others: their text is kept as it is)."""
    if (isinstance(exc, NasrankError) and len(exc.args) == 1 and isinstance(exc.args[0], str)
            and type(exc).__str__ is BaseException.__str__):
        exc.args = (f"{where}: {exc.args[0]}",)
    else:
        exc.add_note(where)
    return exc


def lockstep(tasks: Sequence[Callable[[FitPredict], T]],
             refit: Callable[[list[tuple[int, Request]]], Sequence[np.ndarray]],
             labels: Sequence[str]) -> list[T]:
    """Run ``tasks`` side by side, their ``fit_predict`` calls answered in rounds.

    Each task runs in a thread of its own with a ``fit_predict`` (the
    :class:`~nasrank.search.base.FitPredict` protocol) that hands its arguments to this
    rendezvous and waits. When every task still running waits, the calling (main) thread
    calls ``refit`` once with every waiting ``(task index, (train_ids, train_acc,
    candidate_ids, n_labelled))``, in task order, and hands each task the scores
    ``refit`` returned for it. A task that finishes early simply leaves the rounds.

    Errors: a task's exception ends the lock step at the next round (the other tasks are
    unwound, their threads joined) and is re-raised here with ``labels[i]`` in its
    message (or as a note): of the failed tasks, the first in task order. An exception
    of ``refit`` (or an interrupt of the main thread) unwinds every task the same way and
    propagates unchanged.

    Returns:
        Each task's result, in task order.
    """
    state = _Lockstep(len(tasks))
    threads = [threading.Thread(target=state.work, args=(i, task), daemon=True,
                                name=f"lockstep {labels[i]}")
               for i, task in enumerate(tasks)]
    for t in threads:
        t.start()
    try:
        while (batch := state.next_round()) is not None:
            scores = refit(batch)
            state.answer([slot for slot, _ in batch], scores)
    finally:
        state.abort()  # unwinds tasks still waiting (none when all finished)
        for t in threads:
            t.join()
    if state.errors:
        slot = min(state.errors)
        raise _name_error(state.errors[slot], labels[slot])
    return [state.results[i] for i in range(len(tasks))]


def _best_of(pool: Pool, queried: tuple[str, ...]) -> int:
    """Pool index of the most accurate of ``queried`` (first in query order on ties)."""
    idx = [pool.index[k] for k in queried]
    return idx[int(np.argmax(pool.accuracy[idx]))]


def _budget_entry(lp: LabelledPool, queried: tuple[str, ...], budget: int) -> dict[str, Any]:
    i = _best_of(lp.pool, queried)
    acc = float(lp.pool.accuracy[i])
    rank, pct = percentile_rank(lp.labelled_acc, acc)
    return {"budget": budget, "queries": len(queried), "best_arch_id": lp.pool.arch_ids[i],
            "best_accuracy": acc, "best_rank": rank, "best_percentile": pct,
            "pool_rank": lp.pool.rank(i)}


def _seed_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for the training sample and the search itself."""
    a, b = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(a), np.random.default_rng(b)


def run_job(job: SearchJob, params: dict[str, Any], seeds: tuple[int, ...] | None = None
            ) -> list[Path]:
    """Run ``job`` for ``seeds`` (default: all of the job's) and write one JSON per seed.

    The predictor searches train every seed's predictors together (see the module);
    their reports are written once every seed has finished, in seed order, each
    atomically; the same bytes as running the seeds one at a time.

    Returns:
        The written paths.

    Raises:
        ConfigError: a budget larger than the pool, a train size that does not fit, a
            sample selection without a cost attribute for the benchmark, bad options.
        NasrankError: a predictor search's seed failed (its message names the search and
            the seed; no report of the job is written), or a fit failed (its message
            names the run, hence the seed).
    """
    seeds = job.seeds if seeds is None else tuple(dict.fromkeys(seeds))  # each seed once
    unknown = sorted(set(seeds) - set(job.seeds))
    if unknown:
        raise ConfigError(f"search {job.key}: seed {unknown[0]} is not one of the job's "
                          f"seeds {list(job.seeds)}")
    scfg = params["search"]
    options = dict(scfg["algorithms"].get(job.search, {}))
    algo = get_search(job.search, **options)
    lp = load_pool(params, job.table, subspace=job.subspace)
    pool = lp.pool
    for b in job.budgets:
        if b > len(pool):
            raise ConfigError(f"search {job.key}: budget {b} exceeds the {len(pool):,} "
                              f"labelled architectures of the pool ({lp.candidates})")
    if job.search == "predictor_nas" and min(job.budgets) < algo.options["init"]:
        raise ConfigError(f"search {job.key}: budget {min(job.budgets)} is below "
                          f"predictor_nas's init {algo.options['init']}")
    x = layout = None
    if job.search in PREDICTOR_SEARCHES:
        if job.encoding is None or job.predictor is None or job.loss is None:
            raise ConfigError(f"search {job.key}: {job.search} needs an encoding, a "
                              "predictor and a loss")
        from nasrank.train import check_loss, load_run_inputs

        probe = _run_config(job, params, job.train_size or 1, 0)
        check_loss(probe)
        _, _, _, enc, x = load_run_inputs(probe, params, ids=pool.arch_ids)
        layout = enc.layout
    cost = None
    if job.search == "renas_ga":
        n = job.train_size
        if n is None or not 2 <= n <= len(pool):
            raise ConfigError(f"search {job.key}: train size {n} does not fit the "
                              f"{len(pool):,} architectures of the pool")
        if job.sample not in SAMPLES:
            raise UnknownNameError("training-sample selection", job.sample, list(SAMPLES))
        attribute = SAMPLES[job.sample][0]
        if attribute is not None:
            if job.bench not in COSTS:
                raise ConfigError(f"search {job.key}: sample {job.sample!r} needs the "
                                  f"{attribute} of every architecture, which nasrank derives "
                                  f"for {', '.join(COSTS)} only")
            cost = COSTS[job.bench](params, pool.arch_ids, attribute)

    # predictor searches: every seed's predictors trained together (see the module)
    together: dict[int, tuple[SearchResult, dict[str, Any]]] = {}
    start = time.perf_counter()
    if job.search == "renas_ga":
        assert x is not None and layout is not None and job.train_size is not None
        together = _renas_ga_seeds(job, params, algo, lp, x, layout, cost, seeds)
    elif job.search == "predictor_nas":
        assert x is not None and layout is not None
        refits = _Refits(job, params, pool.arch_ids, x, layout)

        def task(seed: int) -> Callable[[FitPredict], SearchResult]:
            rng_search = _seed_streams(seed)[1]
            return lambda fp: algo.run(lp.space, pool, rng_search, budget=max(job.budgets),
                                       fit_predict=fp)

        def refit(batch: list[tuple[int, Request]]) -> list[np.ndarray]:
            return refits([Refit(seeds[slot], *request) for slot, request in batch])

        finals = lockstep([task(s) for s in seeds], refit,
                          [f"search {job.key}, seed {s}" for s in seeds])
        together = {s: (final, {}) for s, final in zip(seeds, finals, strict=True)}

    written = []
    out_dir = Path(params["reports"]["search_dir"]) / job.key
    for seed in seeds:
        if seed in together:
            final, extra = together[seed]
        else:
            start = time.perf_counter()
            final = algo.run(lp.space, pool, _seed_streams(seed)[1], budget=max(job.budgets))
            extra = {}
        per_budget = [_budget_entry(lp, final.queried[:b], b) for b in job.budgets]
        best = per_budget[-1]
        report = {
            "key": job.key,
            "experiment": job.experiment,
            "table": job.table,
            "search": job.search,
            "seed": seed,
            "target": lp.target,
            "candidates": lp.candidates,
            "space_size": lp.space_size,
            "n_labelled": lp.n_labelled,
            "pool_size": len(pool),
            "encoding": job.encoding,
            "predictor": job.predictor,
            "loss": job.loss,
            "loss_options": None if job.loss is None else _run_config(
                job, params, 1, seed).loss_options,
            "train_size": job.train_size,
            "sample": job.sample if job.search == "renas_ga" else None,
            "subspace": job.subspace,
            "options": final.options,
            "budgets": list(job.budgets),
            "results": per_budget,
            "best_arch_id": best["best_arch_id"],
            "best_accuracy": best["best_accuracy"],
            "best_rank": best["best_rank"],
            "best_percentile": best["best_percentile"],
            "queries": final.queries,
            "trajectory": list(final.trajectory),
            "queried": list(final.queried),
            "info": {**final.info, **extra},
        }
        dest = out_dir / f"s{seed}.json"
        write_json(dest, report)
        written.append(dest)
        log.info("%s seed %d: best %.2f (rank %d, top %.3f %%) after %d queries in %.1f s%s",
                 job.key, seed, best["best_accuracy"], best["best_rank"],
                 best["best_percentile"], final.queries, time.perf_counter() - start,
                 f" ({len(seeds)} seeds together)" if together else "")
    return written


def _renas_ga_seeds(job: SearchJob, params: dict[str, Any], algo: Any, lp: LabelledPool,
                    x: np.ndarray, layout: dict[str, list[int]], cost: np.ndarray | None,
                    seeds: tuple[int, ...]) -> dict[int, tuple[SearchResult, dict[str, Any]]]:
    """``renas_ga`` for every seed: each seed's training sample drawn, their predictors
    fitted as one sweep, then each seed's GA with its predictor as fitness (``score`` is
    called with every unscored member of a population at once; ``FittedPredictor.predict``
    runs them in batches of ``nasrank.train.PREDICT_BATCH``)."""
    from nasrank.sweep import fit_predictors

    assert job.train_size is not None
    pool = lp.pool
    trains = [SAMPLES[job.sample][1](len(pool), job.train_size, _seed_streams(s)[0], cost)
              for s in seeds]
    cfgs = [_run_config(job, params, job.train_size, s) for s in seeds]
    fitted = fit_predictors(cfgs, [x[t] for t in trains], [pool.accuracy[t] for t in trains],
                            layout)
    out = {}
    for seed, train, fp in zip(seeds, trains, fitted, strict=True):
        def score(arch_ids: np.ndarray, fp: Any = fp) -> np.ndarray:
            return fp.predict(x[[pool.index[k] for k in arch_ids]])

        try:
            final = algo.run(lp.space, pool, _seed_streams(seed)[1],
                             budget=max(job.budgets), score=score)
        except Exception as exc:
            _name_error(exc, f"search {job.key}, seed {seed}")
            raise
        out[seed] = (final, {"n_train": len(train),
                             "train_best_accuracy": float(pool.accuracy[train].max())})
    return out


def load_results(params: dict[str, Any], jobs: list[SearchJob]) -> list[dict[str, Any]]:
    """The per-seed reports of ``jobs``.

    Raises:
        NasrankError: a missing report, naming the command that writes it.
    """
    out = []
    for job in jobs:
        for path in job.outputs(params["reports"]["search_dir"]):
            if not Path(path).is_file():
                raise NasrankError(f"{path} is missing; run `nasrank search {job.key}` first")
            with open(path, encoding="utf-8") as f:
                out.append(json.load(f))
    return out

