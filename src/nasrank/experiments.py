"""Experiment grids of params.yaml expanded into training runs, and their result tables.

Each grid cell is one :class:`Run`: a processed table, an encoding, a predictor, a loss,
a train size and a seed. The runs that share a table, encoding, predictor and loss form
one :class:`Sweep` (one Snakemake job, one DVC stage: ``nasrank sweep ... --evaluate``),
trained together over all their train sizes and seeds. Tables aggregate the evaluated
runs over seeds.

A metric without a value in a run's file (null with a warning, or an old file's
``NaN``/``Infinity``: an undefined correlation, an overflow) is missing (NaN): left out
of the mean and std over seeds, counted in ``n_nan_<metric>`` and explained in the
table's ``note`` column, which is there only when some value is missing.

Usage::

    runs = experiment_runs(params, "renas_variants")     # list[Run]
    jobs = sweep_jobs(params)                             # list[Sweep], one per job
    df = renas_table(params)                              # after the runs are evaluated
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nasrank.errors import ConfigError, NasrankError
from nasrank.metrics import finite_or_nan, missing_note, warning_causes
from nasrank.paths import Paths, TableId

EXPERIMENTS = ("renas_variants", "loss_study", "loss_ablation")
# Metrics summarised in the tables (mean and std over seeds).
RENAS_METRICS = ("kendall_tau",)
LOSS_STUDY_METRICS = ("kendall_tau", "spearman", "precision_t_0.5", "n_at_10")


@dataclass(frozen=True)
class Run:
    """One training/evaluation run of a grid."""

    table: TableId
    encoding: str
    predictor: str
    loss: str
    train_size: int
    seed: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", TableId(self.table))

    @property
    def bench(self) -> str:
        return self.table.bench

    @property
    def task(self) -> str | None:
        return self.table.task

    @property
    def run_id(self) -> str:
        return (f"{self.table}/{self.encoding}/{self.predictor}/{self.loss}/"
                f"n{self.train_size}/s{self.seed}")


def experiment_runs(params: dict[str, Any], name: str) -> list[Run]:
    """The runs of one experiment grid, in a fixed order.

    Raises:
        ConfigError: unknown experiment name.
    """
    exp = params["experiments"]
    if name == "renas_variants":
        cfg = exp[name]
        table = TableId.of(cfg["bench"], cfg["task"])
        return [
            Run(table, v["encoding"], cfg["predictor"], v["loss"], size, seed)
            for v in cfg["variants"].values()
            for size in cfg["train_sizes"]
            for seed in cfg["seeds"]
        ]
    if name == "loss_study":
        cfg = exp[name]
        return [
            Run(TableId(table), cfg["encoding"], cfg["predictor"], loss, size, seed)
            for table in cfg["tables"]
            for loss in cfg["losses"]
            for size in cfg["train_sizes"]
            for seed in cfg["seeds"]
        ]
    if name == "loss_ablation":
        # optional: every loss of its ablations once (a loss in two ablations trains once)
        cfg = exp.get(name)
        if cfg is None:
            return []
        losses = list(dict.fromkeys(lo for group in cfg["ablations"].values() for lo in group))
        return [
            Run(TableId(table), cfg["encoding"], cfg["predictor"], loss, size, seed)
            for table in cfg["tables"]
            for loss in losses
            for size in cfg["train_sizes"]
            for seed in cfg["seeds"]
        ]
    raise ConfigError(f"unknown experiment {name!r}; available: {', '.join(EXPERIMENTS)}")


def all_runs(params: dict[str, Any]) -> list[Run]:
    """Every run of every grid, each once."""
    seen: dict[str, Run] = {}
    for name in EXPERIMENTS:
        for r in experiment_runs(params, name):
            seen.setdefault(r.run_id, r)
    return list(seen.values())


@dataclass(frozen=True)
class Sweep:
    """The runs of the grids that share a table, encoding, predictor and loss: trained as
    one sweep (every train size and seed), evaluated by the same job.

    A cell shared by two grids trains the product of their train sizes and seeds.
    """

    table: TableId
    encoding: str
    predictor: str
    loss: str
    train_sizes: tuple[int, ...]
    seeds: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", TableId(self.table))

    @property
    def bench(self) -> str:
        return self.table.bench

    @property
    def sweep_id(self) -> str:
        """``<table>/<encoding>/<predictor>/<loss>``: the directory of its runs."""
        return f"{self.table}/{self.encoding}/{self.predictor}/{self.loss}"

    @property
    def runs(self) -> list[Run]:
        return [Run(self.table, self.encoding, self.predictor, self.loss, size, seed)
                for size in self.train_sizes for seed in self.seeds]

    def models_dir(self, params: dict[str, Any]) -> str:
        """``data/models/<sweep_id>``: every run directory of the sweep."""
        return str(Paths.of(params).models(self.sweep_id))

    def metrics_dir(self, params: dict[str, Any]) -> str:
        """``reports/metrics/<sweep_id>``: every run's ``n<size>/s<seed>.json``."""
        return str(Paths.of(params).metrics(self.sweep_id))

    def sample_epochs(self, params: dict[str, Any]) -> int:
        """Training samples times epochs over all runs: what its run time scales with."""
        epochs = params["train"].get("by_predictor", {}).get(self.predictor, {}).get(
            "epochs", params["train"]["epochs"])
        return sum(self.train_sizes) * len(self.seeds) * int(epochs)

    def runtime_min(self, params: dict[str, Any]) -> int:
        """A cluster time limit: 1 ms per training sample and epoch on one CPU core, about
        three times the measured cost (NB101 LeNet 0.27 ms, GCN 0.4 ms), plus 10 min."""
        return 10 + math.ceil(self.sample_epochs(params) * 1e-3 / 60)

    def memory_mb(self) -> int:
        """A memory request: the table and its features (NB101's are large) and a little
        per run (stacked parameters and optimiser state, predictions)."""
        return (6000 if self.bench == "nb101" else 3000) + 10 * len(self.runs)


def sweep_jobs(params: dict[str, Any]) -> list[Sweep]:
    """One :class:`Sweep` per (table, encoding, predictor, loss) of the grids, in grid
    order; train sizes and seeds sorted."""
    cells: dict[tuple[str, str, str, str], tuple[set[int], set[int]]] = {}
    for r in all_runs(params):
        sizes, seeds = cells.setdefault((r.table, r.encoding, r.predictor, r.loss),
                                        (set(), set()))
        sizes.add(r.train_size)
        seeds.add(r.seed)
    return [Sweep(*cell, tuple(sorted(sizes)), tuple(sorted(seeds)))
            for cell, (sizes, seeds) in cells.items()]


def sweep_of(run: Run) -> str:
    """The sweep id of a run."""
    return f"{run.table}/{run.encoding}/{run.predictor}/{run.loss}"


def metrics_inputs(params: dict[str, Any], runs: list[Run]) -> list[str]:
    """The sweep metrics directories holding ``runs``' metrics: what a table or figure
    over them depends on (one directory per sweep, not one file per run)."""
    paths = Paths.of(params)
    return list(dict.fromkeys(str(paths.metrics(sweep_of(r))) for r in runs))


def metrics_path(params: dict[str, Any], run: Run) -> Path:
    """``reports/metrics/<run_id>.json``."""
    return Paths.of(params).run_metrics(run.run_id)


def evaluate_command(run: Run) -> str:
    """The command that writes ``run``'s metrics file."""
    return (f"nasrank evaluate {run.table} {run.encoding} {run.predictor} {run.loss} "
            f"--train-size {run.train_size} --seed {run.seed}")


def read_run_metrics(params: dict[str, Any], run: Run) -> dict[str, Any]:
    """``run``'s metrics file as ``nasrank evaluate`` wrote it (run id, config, metrics).

    Raises:
        NasrankError: the file is missing, naming the command that writes it.
    """
    path = metrics_path(params, run)
    if not path.is_file():
        raise NasrankError(f"{path} is missing; run `{evaluate_command(run)}` first")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


#: the column of :func:`_load` holding each run's ``{metric: cause}`` of missing values
MISSING = "_missing"


def _load(params: dict[str, Any], runs: list[Run]) -> pd.DataFrame:
    """One row per run: its labels and test metrics, a missing metric NaN (null in a
    strict file, or an old file's NaN/Infinity) and its cause in :data:`MISSING`."""
    rows = []
    for r in runs:
        m = read_run_metrics(params, r)
        values, missing = finite_or_nan(m["metrics"], m["metrics"], path="metrics",
                                        warnings=warning_causes(m))
        rows.append({"table": r.table,
                     "surrogate_labels": bool(m["config"].get("surrogate_labels", False)),
                     "encoding": r.encoding, "predictor": r.predictor,
                     "loss": r.loss, "train_size": r.train_size, "seed": r.seed,
                     **values, MISSING: missing})
    return pd.DataFrame(rows)


def _summarise(df: pd.DataFrame, keys: list[str], metrics: tuple[str, ...]) -> pd.DataFrame:
    """Mean and sample std over seeds; NaN values (e.g. the correlation of a predictor
    that output a constant) are counted in ``n_nan_<metric>`` and left out; the std of a
    single value is NaN (empty in the Markdown table), not 0. A ``note`` column, there
    only when some value is missing, says which and why (:func:`missing_note`)."""
    grouped = df.groupby(keys, sort=False)
    out = grouped.size().rename("n_seeds").to_frame()
    for m in metrics:
        values = grouped[m]
        out[f"{m}_mean"] = values.mean()
        out[f"{m}_std"] = values.std(ddof=1)
        nan = values.apply(lambda v: int(v.isna().sum()))
        if nan.any():
            out[f"n_nan_{m}"] = nan
    notes = grouped[MISSING].agg(lambda s: missing_note(s, metrics))
    if (notes != "").any():
        out["note"] = notes
    return out.reset_index()


def renas_table(params: dict[str, Any]) -> pd.DataFrame:
    """ReNAS Table 2 layout: Kendall tau per variant and train size (mean, std over seeds)."""
    cfg = params["experiments"]["renas_variants"]
    runs = experiment_runs(params, "renas_variants")
    df = _load(params, runs)
    variant_of = {(v["encoding"], v["loss"]): name for name, v in cfg["variants"].items()}
    df.insert(0, "variant", [variant_of[(e, lo)] for e, lo in zip(df.encoding, df.loss,
                                                                  strict=True)])
    return _summarise(df, ["variant", "encoding", "loss", "train_size"], RENAS_METRICS)


def loss_study_table(params: dict[str, Any]) -> pd.DataFrame:
    """Per benchmark/task, loss and train size: ranking metrics (mean, std over seeds).
    ``surrogate_labels`` marks tables whose labels are a surrogate's predictions (DARTS:
    NB301), not trained networks."""
    df = _load(params, experiment_runs(params, "loss_study"))
    return _summarise(df, ["table", "surrogate_labels", "loss", "train_size"],
                      LOSS_STUDY_METRICS)


def _differing_options(configs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Per loss, ``key=value`` of the loss options that differ within its ablation (the
    keys any two members disagree on, shown for every member, the reference included)."""
    keys = sorted({k for c in configs.values() for k in c})
    differ = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True)
                                      for c in configs.values()}) > 1]
    return {name: ", ".join(f"{k}={c.get(k)}" for k in differ) for name, c in configs.items()}


def loss_ablation_table(params: dict[str, Any]) -> pd.DataFrame:
    """One ablation per loss option (``experiments.loss_ablation.ablations``): per table,
    train size and loss, the options that differ within the ablation, and per metric the
    mean and 95 % interval over seeds, and the paired Wilcoxon test over seeds against
    the ablation's first loss (the reference: params.yaml's own setting), whose mean
    difference is ``<metric>_diff`` (loss minus reference) and p-value ``<metric>_p``.

    Metrics: Kendall tau, the first Precision@T and the first N@K of ``evaluation``. The
    options are the runs' own (their metrics files' configs) completed with the loss's
    defaults, so the table states what was trained.
    """
    from nasrank.losses import get_loss
    from nasrank.report.stats import mean_ci, paired_wilcoxon

    cfg = params["experiments"].get("loss_ablation")
    if cfg is None:
        raise ConfigError("params.yaml has no experiments.loss_ablation")
    ev = params["evaluation"]
    metrics = ["kendall_tau", f"precision_t_{float(ev['precision_t'][0]):g}",
               f"n_at_{int(ev['n_at_k'][0])}"]
    runs = experiment_runs(params, "loss_ablation")
    values: dict[tuple[str, str, int], dict[str, dict[int, float]]] = {}
    options: dict[tuple[str, str], dict[str, Any]] = {}
    surrogate: dict[str, bool] = {}
    for r in runs:
        report = read_run_metrics(params, r)
        vals, _ = finite_or_nan(report["metrics"], metrics, path="metrics",
                                warnings=warning_causes(report))
        per_metric = values.setdefault((str(r.table), r.loss, r.train_size), {})
        for m in metrics:
            per_metric.setdefault(m, {})[r.seed] = float(vals[m])
        if (str(r.table), r.loss) not in options:
            config = report["config"]
            options[(str(r.table), r.loss)] = dict(
                get_loss(config["loss"], **config.get("loss_options", {})).options)
        surrogate[str(r.table)] = bool(report["config"].get("surrogate_labels", False))
    rows = []
    for ablation, members in cfg["ablations"].items():
        for table in cfg["tables"]:
            shown = _differing_options({lo: options[(table, lo)] for lo in members})
            for size in cfg["train_sizes"]:
                ref = values[(table, members[0], size)]
                for loss in members:
                    cell = values[(table, loss, size)]
                    row: dict[str, Any] = {
                        "ablation": ablation, "table": table,
                        "surrogate_labels": surrogate[table], "train_size": size,
                        "loss": loss, "reference": loss == members[0],
                        "options": shown[loss]}
                    notes = []
                    for m in metrics:
                        finite = [v for v in cell[m].values() if math.isfinite(v)]
                        mean, half = mean_ci(finite)
                        row.update({f"{m}_mean": mean, f"{m}_ci95": half})
                        test = paired_wilcoxon(cell[m], ref[m]) if loss != members[0] else None
                        row.update({f"{m}_diff": test.mean_diff if test else math.nan,
                                    f"{m}_p": test.p_value if test else math.nan})
                        if test and test.note:
                            notes.append(f"{m}: {test.note}")
                    row["n_seeds"] = len(cell[metrics[0]])
                    row["note"] = "; ".join(notes)
                    rows.append(row)
    return pd.DataFrame(rows)


TABLES = {
    "renas_ktau_vs_train_size": ("renas_variants", renas_table),
    "loss_study": ("loss_study", loss_study_table),
    "loss_ablation": ("loss_ablation", loss_ablation_table),
}
