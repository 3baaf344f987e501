"""Search jobs of params.yaml: one search configuration over its seeds.

A :class:`SearchJob` is one Snakemake job and one DVC stage: a processed table, an
algorithm of :data:`nasrank.search.SEARCHES`, its budgets and, for the predictor-guided
algorithms, an encoding, a predictor and a loss. Its one id is :attr:`SearchJob.key`,
which is also its output directory: every seed writes ``reports/search/<key>/s<seed>.json``.

Usage::

    jobs = search_jobs(params)                  # list[SearchJob], fixed order
    job = find_job(params, "nb101/renas_ga/renas_tensor-lenet-lr-random-all-n424")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasrank.errors import ConfigError, UnknownNameError
from nasrank.paths import Paths, TableId

__all__ = ["PREDICTOR_SEARCHES", "SEARCH_EXPERIMENTS", "SearchJob", "find_job", "renas_job",
           "search_jobs"]

#: algorithms that use a trained predictor (the others query true accuracies only)
PREDICTOR_SEARCHES = ("renas_ga", "predictor_nas", "npenas_loop", "bananas_loop")

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

    table: TableId
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
        object.__setattr__(self, "table", TableId(self.table))

    @property
    def bench(self) -> str:
        return self.table.bench

    @property
    def key(self) -> str:
        """The job's one id: its Snakemake wildcard, its DVC stage's name (made an
        identifier) and its output directory under ``reports/search``."""
        if self.search == "renas_ga":
            setting = (f"{self.encoding}-{self.predictor}-{self.loss}-{self.sample}-"
                       f"{self.subspace}-n{self.train_size}")
        elif self.search in PREDICTOR_SEARCHES:
            setting = f"{self.encoding}-{self.predictor}-{self.loss}"
        else:
            return f"{self.table}/{self.search}"
        return f"{self.table}/{self.search}/{setting}"

    def outputs(self, paths: Paths) -> list[Path]:
        """``reports/search/<key>/s<seed>.json`` for every seed."""
        return [self.output_dir(paths) / f"s{s}.json" for s in self.seeds]

    def output_dir(self, paths: Paths) -> Path:
        """``reports/search/<key>``: the job's output (a directory of its seeds' reports)."""
        return paths.search(self.key)


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
    return SearchJob(TableId.of(cfg["bench"], cfg["task"]), "renas_ga", (cfg["budget"],),
                     tuple(cfg["seeds"]), "renas", v["encoding"], cfg["predictor"], v["loss"],
                     cfg["train_size"], sample, subspace)


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


def _by_predictor_jobs(params: dict[str, Any]) -> list[SearchJob]:
    """White et al.'s predictor-based NAS: every (table, loop, predictor) of
    ``search.predictor_nas_by_predictor``, each predictor on its own encoding (the
    predictor's registered one unless ``encodings`` says otherwise); torch networks train
    with the section's ``loss``, the others fit the target, as in the family study."""
    from nasrank.predictors import predictor_spec

    cfg = params["search"].get("predictor_nas_by_predictor")
    if not cfg:
        return []
    budgets, seeds = tuple(sorted(cfg["budgets"])), tuple(cfg["seeds"])
    return [SearchJob(table, search, budgets, seeds, "predictor_nas_by_predictor",
                      cfg["encodings"].get(p) or predictor_spec(p).encoding, p,
                      predictor_spec(p).loss_for(cfg["loss"]))
            for table in cfg["tables"] for search in cfg["searches"]
            for p in cfg["predictors"]]


#: search experiment of params.yaml -> its jobs
SEARCH_EXPERIMENTS: dict[str, Callable[[dict[str, Any]], list[SearchJob]]] = {
    "renas": _renas_jobs,
    "loss_search": _loss_search_jobs,
    "predictor_nas_by_predictor": _by_predictor_jobs,
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

