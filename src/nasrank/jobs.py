"""Every job of the workflow, built from params.yaml: the one spec that both orchestrators read.

A :class:`Job` is one ``nasrank`` invocation: its rule (the Snakemake rule and the DVC
stage family), its key (the wildcards that pick it out), the files it reads and writes,
the params.yaml keys it depends on, and its code: the source files of the import closure
of the modules its command runs (:mod:`nasrank.codedeps`), never a hand-kept list.
``workflow/rules/*.smk`` look jobs up by their wildcards for inputs and settings, and
``nasrank dvc-yaml`` (:mod:`nasrank.dvcgen`) renders the same jobs as DVC stages; a
``foreach`` stage's template is the job built from ``${item.<field>}`` placeholders.

Usage::

    from nasrank.jobs import all_jobs, jobs_by_key
    for job in all_jobs(params):
        job.rule, job.key, job.argv, job.inputs, job.outputs, job.params, job.code
    sweep = jobs_by_key(params, "sweep")["nbmacro/gcn/gcn/hr"]
    sweep.settings(params)     # the values of its params keys (Snakemake's rerun trigger)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from nasrank.benchmarks import processed_stems
from nasrank.catalog import (
    ALL_FIGURES,
    ALL_TABLES,
    figure_inputs,
    figure_params,
    table_inputs,
    table_params,
)
from nasrank.codedeps import command_code
from nasrank.encodings import spec_source
from nasrank.errors import UnknownNameError
from nasrank.experiments import Sweep, sweep_jobs
from nasrank.families.jobs import FamilyJob, family_jobs
from nasrank.paths import Paths, TableId
from nasrank.report.html import report_inputs
from nasrank.search.jobs import SearchJob, search_jobs

Params = Mapping[str, Any]

#: DVC sections an output can be declared in
KINDS = ("outs", "metrics", "plots")


@dataclass(frozen=True)
class Output:
    """One output of a job and how DVC keeps it.

    Attributes:
        path: file or directory, relative to the repository root.
        cache: False for small results that git versions (tables, metrics, figures).
        measured: True when it holds wall-clock times (its bytes differ on every run), or
            the names of such files inside a directory output.
        kind: the dvc.yaml section (``outs``, ``metrics`` or ``plots``).
        directory: a directory written whole by the job.
    """

    path: str
    cache: bool = True
    measured: bool | tuple[str, ...] = False
    kind: str = "outs"
    directory: bool = False


@dataclass(frozen=True)
class Job:
    """One ``nasrank`` invocation of the workflow.

    Attributes:
        rule: the Snakemake rule, and the name of its DVC stage(s).
        key: the job's id within its rule (``""`` for a rule of one job); Snakemake's
            wildcards select it, DVC names its stage ``<rule>_<key>`` or
            ``<rule>@<item>``.
        argv: the arguments after ``nasrank`` (DVC's ``cmd``).
        inputs: files and directories it reads.
        outputs: what it writes.
        params: dotted params.yaml keys it depends on.
        fields: the values a ``foreach`` template is filled with (empty: own stage).
    """

    rule: str
    key: str
    argv: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[Output, ...]
    params: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def command(self) -> str:
        """The ``nasrank`` subcommand (its first argument that is not an option)."""
        return next(a for a in self.argv if not a.startswith("-"))

    @property
    def code(self) -> list[str]:
        """The source files (package directories where whole) the command imports."""
        return command_code(self.command)

    @property
    def stage(self) -> str:
        """The DVC stage name of a job with its own stage."""
        if not self.key:
            return self.rule
        return f"{self.rule}_" + "".join(c if c.isalnum() else "_" for c in self.key)

    def settings(self, params: Params) -> dict[str, Any]:
        """``{key: value}`` of its params keys: Snakemake reruns the job when they change."""
        return {key: _at(params, key) for key in self.params}


def _at(params: Params, dotted: str) -> Any:
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _paths(params: Params) -> Paths:
    return Paths.of(params)


# --- data ---------------------------------------------------------------------------


def fetch_job(params: Params, bench: str) -> Job:
    """Download (or copy from the mirror) one benchmark's raw files."""
    return Job("fetch", bench, ("--quiet", "fetch", bench), (),
               (Output(str(_paths(params).raw(bench)), directory=True),),
               fields={"bench": bench})


def _space(params: Params) -> str:
    return str(_paths(params).space("nb101"))


def enumerate_job(params: Params) -> Job:
    """The 423,624 NB101 cells with their costs."""
    return Job("enumerate_nb101", "", ("enumerate", "nb101"), (), (Output(_space(params)),))


def ingest_job(params: Params, bench: str) -> Job:
    """One benchmark's raw files as Parquet tables (one per task)."""
    p = _paths(params)
    inputs = (str(p.raw(bench)),) + ((_space(params),) if bench == "nb101" else ())
    outputs = tuple(Output(str(p.processed(stem))) for stem in processed_stems(bench))
    return Job(f"ingest_{bench}", "", ("ingest", bench), inputs, outputs)


def stats_job(params: Params) -> Job:
    """The NB101 space statistics table."""
    p = _paths(params)
    return Job("stats_nb101", "", ("stats", "nb101", "--out-dir", str(p.tables_dir)),
               (_space(params), str(p.processed("nb101"))),
               tuple(Output(f"{p.table('nb101_space_stats')}.{ext}", cache=False)
                     for ext in ("csv", "md")),
               ("stats.nb101.target",))


def encode_job(params: Params, bench: str, encoding: str, specs: str | None = None) -> Job:
    """One encoding of one benchmark's architectures. Every encoding stage depends on
    the ``encodings.renas_tensor`` options, the only encoding options of params.yaml."""
    p = _paths(params)
    specs = specs if specs is not None else str(spec_source(bench, p.processed_dir))
    return Job("encode", f"{bench}/{encoding}", ("encode", bench, encoding), (specs,),
               (Output(str(p.features(bench, encoding))),),
               ("encodings.renas_tensor",),
               fields={"bench": bench, "encoding": encoding, "specs": specs})


def check_job(params: Params) -> Job:
    """The exactness check of the NB101 cost model against the published parameters."""
    p = _paths(params)
    return Job("check_nb101_params", "",
               ("check", "nb101_params", "--out-dir", str(p.checks_dir)),
               (str(p.raw("nb101")), _space(params), str(p.processed("nb101"))),
               (Output(str(p.check("nb101_params")), cache=False, kind="metrics"),))


# --- training, searches, families -----------------------------------------------------


def sweep_job(params: Params, table: str, bench: str, encoding: str, predictor: str,
              loss: str, train_sizes: str, seeds: str, loss_base: str | None = None,
              loss_entry: str | None = None) -> Job:
    """One sweep (:class:`nasrank.experiments.Sweep`): its runs trained and evaluated.

    ``loss`` may be a loss variant: its params are the base loss's ``losses.<base>``
    (``loss_base``) and its own ``loss_variants.<loss>`` (``loss_entry``; a plain loss's
    entry is ``losses.<loss>`` again), filled in from params.yaml unless given (the
    dvc.yaml template passes placeholders).
    """
    p = _paths(params)
    if loss_base is None or loss_entry is None:
        loss_base, loss_entry = _loss_keys(params, loss)
    sweep = f"{table}/{encoding}/{predictor}/{loss}"
    return Job(
        "sweep", sweep,
        ("sweep", table, encoding, predictor, "--losses", loss, "--train-sizes", train_sizes,
         "--seeds", seeds, "--evaluate"),
        (f"{p.processed_dir}/{table}.parquet", str(p.features(bench, encoding))),
        (Output(str(p.models(sweep)), measured=("timing.json",), directory=True),
         Output(str(p.metrics(sweep)), cache=False, kind="metrics", directory=True)),
        tuple(dict.fromkeys(("train", f"losses.{loss_base}", loss_entry,
                             f"predictors.{predictor}", "evaluation"))),
        fields={"table": table, "bench": bench, "encoding": encoding, "predictor": predictor,
                "loss": loss, "loss_base": loss_base, "loss_entry": loss_entry,
                "train_sizes": train_sizes, "seeds": seeds})


def _loss_keys(params: Params, loss: str) -> tuple[str, str]:
    """A loss's base loss and its own params.yaml entry: ``(loss, "losses.<loss>")``
    for a loss, ``(base, "loss_variants.<loss>")`` for a loss variant."""
    from nasrank.config import LOSS_VARIANTS, resolve_loss

    base, _ = resolve_loss(dict(params), loss)
    return base, f"losses.{loss}" if base == loss else f"{LOSS_VARIANTS}.{loss}"


def _sweep(params: Params, sweep: Sweep) -> Job:
    return sweep_job(params, sweep.table, sweep.bench, sweep.encoding, sweep.predictor,
                     sweep.loss, ",".join(map(str, sweep.train_sizes)),
                     ",".join(map(str, sweep.seeds)))


def search_job(params: Params, job: SearchJob) -> Job:
    """One search configuration over its seeds."""
    p = _paths(params)
    inputs = [str(p.processed(job.table))]
    inputs += [_space(params)] if job.bench == "nb101" else []
    if job.encoding is not None:
        inputs.append(str(p.features(job.bench, job.encoding)))
    keys = [f"search.algorithms.{job.search}", f"search.{job.experiment}"]
    if job.predictor is not None:
        base, entry = _loss_keys(params, job.loss)
        keys += list(dict.fromkeys(["train", f"losses.{base}", entry,
                                    f"predictors.{job.predictor}"]))
    if job.experiment == "renas":
        keys += ["experiments.renas_variants.variants", "encodings.renas_tensor"]
    return Job("search", job.key, ("search", job.key), tuple(inputs),
               (Output(str(job.output_dir(p)), cache=False, directory=True),), tuple(keys))


#: the search experiment whose jobs are rule ``predictor_search`` (one DVC ``foreach``
#: stage): many jobs that differ only in table, loop and predictor
PREDICTOR_SEARCH = "predictor_nas_by_predictor"


def predictor_search_job(params: Params, job: SearchJob) -> Job:
    """One job of ``search.predictor_nas_by_predictor`` (a loop with one predictor on one
    table, over its seeds): what it reads exactly. Its params are the whole ``losses``
    and ``predictors`` sections (a superset: most predictors have no entry there)."""
    p = _paths(params)
    inputs = [str(p.processed(job.table))]
    inputs += [_space(params)] if job.bench == "nb101" else []
    assert job.encoding is not None and job.predictor is not None and job.loss is not None
    inputs.append(str(p.features(job.bench, job.encoding)))
    return _predictor_search(params, str(job.table), job.bench, job.search, job.encoding,
                             job.predictor, job.loss, tuple(inputs))


def _predictor_search(params: Params, table: str, bench: str, search: str, encoding: str,
                      predictor: str, loss: str, inputs: tuple[str, ...]) -> Job:
    key = f"{table}/{search}/{encoding}-{predictor}-{loss}"
    p = _paths(params)
    return Job("predictor_search", key, ("search", key), inputs,
               (Output(str(p.search(key)), cache=False, directory=True),),
               (f"search.algorithms.{search}", f"search.{PREDICTOR_SEARCH}", "train",
                "losses", "predictors"),
               fields={"table": table, "bench": bench, "search": search,
                       "encoding": encoding, "predictor": predictor, "loss": loss})


def predictor_search_template(params: Params, table: str, bench: str, search: str,
                              encoding: str, predictor: str, loss: str) -> Job:
    """The DVC template of the ``predictor_search`` jobs (``predictor_search@<table>-
    <loop>-<encoding>-<predictor>-<loss>``): the table, the benchmark's features
    directory and (with NB101 in the grid) the enumerated spaces' directory, a superset
    of what a job reads, so every job has the same form."""
    p = _paths(params)
    inputs = [f"{p.processed_dir}/{table}.parquet"]
    if "nb101" in params["benchmarks"]:
        inputs.append(str(p.space("nb101").parent))
    inputs.append(f"{p.features_dir}/{bench}")
    return _predictor_search(params, table, bench, search, encoding, predictor, loss,
                             tuple(inputs))


def families_job(params: Params, job: FamilyJob) -> Job:
    """One predictor of the family study on one table, over every seed (its inputs: the
    table and the features it reads)."""
    p = _paths(params)
    inputs = [str(p.processed(job.table))]
    if job.encoding is not None:
        inputs.append(str(p.features(job.bench, job.encoding)))
    return _families(params, str(job.table), job.bench, job.label, tuple(inputs))


def _families(params: Params, table: str, bench: str, label: str,
              inputs: tuple[str, ...]) -> Job:
    p = _paths(params)
    key = f"{table}/{label}"
    return Job("families", key, ("families", key), inputs,
               (Output(str(p.family(key)), cache=False),
                Output(str(p.family(key, timing=True)), cache=False, measured=True)),
               (f"families.tables.{table}", "families.seeds", "families.variants",
                "evaluation", "train", "predictors"),
               fields={"table": table, "bench": bench, "label": label})


def families_template(params: Params, table: str, bench: str, label: str) -> Job:
    """The DVC template of the family jobs (one ``foreach`` stage, ``families@<table>-
    <label>``): the table and the benchmark's features directory, a superset of what a
    job reads (DVC follows a directory to the encode stages writing below it), so every
    job has the same form. Its params are a superset too (``train`` and ``predictors``
    matter to the model-based predictors only)."""
    p = _paths(params)
    return _families(params, table, bench, label,
                     (f"{p.processed_dir}/{table}.parquet", f"{p.features_dir}/{bench}"))


# --- report ---------------------------------------------------------------------------


def table_job(params: Params, name: str) -> Job:
    """One table of the registry (reports/tables/NAME.{csv,md,tex})."""
    stem = _paths(params).table(name)
    return Job("table", name, ("table", name), tuple(table_inputs(params, name)),
               tuple(Output(f"{stem}.{ext}", cache=False) for ext in ("csv", "md", "tex")),
               tuple(table_params(params, name)))


def figure_job(params: Params, name: str) -> Job:
    """One figure of the registry (reports/figures/NAME.{png,pdf})."""
    stem = _paths(params).figure(name)
    return Job("figure", name, ("figure", name), tuple(map(str, figure_inputs(params, name))),
               (Output(f"{stem}.pdf", cache=False),
                Output(f"{stem}.png", cache=False, kind="plots")),
               tuple(figure_params(params, name)))


def report_job(params: Params) -> Job:
    """The HTML report embedding every table and figure."""
    return Job("report_html", "", ("report",), tuple(report_inputs(params)),
               (Output(str(_paths(params).report), cache=False),))


# --- all of them ------------------------------------------------------------------------


#: rules whose outputs hold no number computed here (downloads): the numerics mode does
#: not change them, so changing it does not rerun them
NUMERICS_FREE = frozenset({"fetch"})


def _numerics(job: Job) -> Job:
    """``job`` depending on params.yaml's ``numerics`` mode too (it changes the bytes)."""
    if job.rule in NUMERICS_FREE or "numerics" in job.params:
        return job
    return replace(job, params=(*job.params, "numerics"))


def all_jobs(params: Params) -> Iterator[Job]:
    """Every job, rule by rule in dependency order (a rule's jobs in params order)."""
    yield from map(_numerics, _all_jobs(params))


def _all_jobs(params: Params) -> Iterator[Job]:
    p = dict(params)
    benches = p["benchmarks"]
    yield from (fetch_job(p, b) for b in benches)
    if "nb101" in benches:
        yield enumerate_job(p)
    yield from (ingest_job(p, b) for b in benches)
    if "nb101" in benches:
        yield stats_job(p)
    yield from (encode_job(p, b, e) for b in benches
                for e in p["encodings"]["build"].get(b, []))
    if "nb101" in benches:
        yield check_job(p)
    yield from (_sweep(p, s) for s in sweep_jobs(p))
    yield from (predictor_search_job(p, j) if j.experiment == PREDICTOR_SEARCH
                else search_job(p, j) for j in search_jobs(p))
    yield from (families_job(p, j) for j in family_jobs(p))
    yield from (table_job(p, n) for n in ALL_TABLES)
    yield from (figure_job(p, n) for n in ALL_FIGURES)
    yield report_job(p)


#: rules whose DVC stages are ``foreach`` families: their jobs differ only in ``fields``,
#: and the template is the job built from placeholders
TEMPLATES: dict[str, Callable[[Params, dict[str, str]], Job]] = {
    "fetch": lambda p, f: fetch_job(p, f["bench"]),
    "encode": lambda p, f: encode_job(p, f["bench"], f["encoding"], f["specs"]),
    "sweep": lambda p, f: sweep_job(p, **f),
    "families": lambda p, f: families_template(p, **f),
    "predictor_search": lambda p, f: predictor_search_template(p, **f),
}


def template(params: Params, rule: str, fields: list[str]) -> Job:
    """The job of ``rule`` with every field a DVC ``${item.<field>}`` placeholder."""
    if rule not in TEMPLATES:
        raise UnknownNameError("templated rule", rule, list(TEMPLATES))
    return _numerics(TEMPLATES[rule](params, {f: f"${{item.{f}}}" for f in fields}))


def jobs_by_key(params: Params, rule: str) -> dict[str, Job]:
    """``{key: job}`` of one rule (what a Snakemake input function looks up)."""
    return {job.key: job for job in all_jobs(params) if job.rule == rule}


def _labelled(path: Any, columns: list[str | None]) -> int:
    """Rows of a processed table with a finite value in every column (``None``: the
    table's default target)."""
    import numpy as np
    import pyarrow.parquet as pq

    from nasrank.io import read_metadata

    names = [c or read_metadata(path).get("default_target") for c in columns]
    present = set(pq.read_schema(path).names)
    if any(c is None or c not in present for c in names):
        return -1  # no such column: the job names it when it runs
    table = pq.read_table(path, columns=list(dict.fromkeys(names)))
    ok = np.ones(table.num_rows, dtype=bool)
    for c in table.column_names:
        ok &= np.isfinite(table.column(c).to_numpy(zero_copy_only=False).astype(np.float64))
    return int(ok.sum())


def check_train_sizes(params: Params, source: str = "params.yaml") -> None:
    """Every train size of the grids fits its table, checked when the workflow is planned
    (Snakemake start-up, ``nasrank dvc-yaml``) instead of hours later when the job runs.

    Only tables already ingested are checked (a fresh clone has none; their jobs check
    again when they run). The sweeps (``experiments``) need ``train_size`` labelled
    architectures and a test set (train.protocol's); a family table needs its largest
    train size plus ``test_size`` architectures with the target and every ``require``
    column (an upper bound of each predictor's pool).

    Raises:
        ConfigError: naming the grid key, the table, the size and the pool.
    """
    from nasrank.errors import ConfigError
    from nasrank.families.protocol import default_test_size, default_train_sizes
    from nasrank.train import config_from_params, split

    paths = Paths.of(params)
    counted: dict[Any, int] = {}
    for sweep in sweep_jobs(dict(params)):
        path = paths.processed(sweep.table)
        if not path.is_file():
            continue
        if path not in counted:
            counted[path] = _labelled(path, [None])
        n = counted[path]
        cfg = config_from_params(dict(params), bench=sweep.table.bench, task=sweep.table.task,
                                 encoding=sweep.encoding, predictor=sweep.predictor,
                                 loss=sweep.loss, train_size=max(sweep.train_sizes), seed=0)
        if n >= 0:
            try:
                split(n, cfg)
            except ConfigError as exc:
                raise ConfigError(f"{source}: experiments (train_sizes): {exc}") from None
    for name, spec in params["families"]["tables"].items():
        path = paths.processed(name)
        if not path.is_file():
            continue
        pool = _labelled(path, [spec.get("target"), *spec.get("require", [])])
        bench = TableId(name).bench
        test = spec.get("test_size") or default_test_size(bench)
        biggest = max(spec.get("train_sizes") or default_train_sizes(bench))
        if 0 <= pool < biggest + test:
            raise ConfigError(f"{source}: families.tables.{name}.train_sizes: {biggest} plus "
                              f"a test set of {test} exceeds the {pool} architectures of "
                              f"{path} with the target and every required column")


def check_losses(params: Params, source: str = "params.yaml") -> None:
    """Every loss of the grids builds with its options on every table it runs on,
    checked when the workflow is planned: a ``by_table`` mapping that leaves a table out,
    or a piecewise pair naming an unknown loss, fails here instead of in the job.

    Raises:
        ConfigError: naming the grid, the table and the loss's key.
    """
    from nasrank.config import NO_LOSS, loss_options_for
    from nasrank.errors import ConfigError, NasrankError
    from nasrank.losses import get_loss

    uses: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for sweep in sweep_jobs(dict(params)):
        uses.setdefault((sweep.table, sweep.loss), ("experiments", {}))
    for job in search_jobs(dict(params)):
        if job.loss not in (None, NO_LOSS):
            uses.setdefault((job.table, job.loss), (f"search.{job.experiment}",
                                                     job.loss_options))
    for (table, loss), (grid, overrides) in uses.items():
        base, key = _loss_keys(params, loss)
        try:
            get_loss(base, **{**loss_options_for(dict(params), loss, table, source),
                              **overrides})
        except NasrankError as exc:
            raise ConfigError(f"{source}: {grid}, table {str(table)!r}, {key}: "
                              f"{str(exc).removeprefix(source + ': ')}") from None
