"""Every table and figure of the project in two registries, with the files each reads.

Tables: name -> builder(params) -> DataFrame.
The builders live with their studies (:mod:`nasrank.experiments`,
:mod:`nasrank.search.tables`, :mod:`nasrank.families.tables`), the statistics in
:mod:`nasrank.report.stats`, paper A's findings tested in :mod:`nasrank.report.findings`
and the comparisons with the papers in
:mod:`nasrank.report.compare`; ``nasrank table NAME`` writes any of them as
``reports/tables/NAME.{csv,md,tex}``. ``nb101_space_stats`` is written by
``nasrank stats nb101`` (it reads the enumerated space, not other tables).

Figures: name -> writer(params, dest_stem) -> [<stem>.png, <stem>.pdf]; the studies'
figures (:mod:`nasrank.report.figures`) and the predictor families'
(:mod:`nasrank.families.figures`); ``nasrank figure NAME`` writes
``reports/figures/NAME.{png,pdf}``.

Usage::

    df = ALL_TABLES["loss_wins"](params)
    table_inputs(params, "loss_wins")      # the files it reads (workflow inputs)
    ALL_FIGURES["zero_cost_heatmap"](params, Path("reports/figures/zero_cost_heatmap"))
    figure_inputs(params, "zero_cost_heatmap")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nasrank.errors import UnknownNameError
from nasrank.experiments import TABLES, experiment_runs, metrics_inputs
from nasrank.families.figures import FAMILY_FIGURES
from nasrank.families.tables import FAMILY_TABLES, family_table_inputs
from nasrank.paths import Paths
from nasrank.report.compare import COMPARISONS, comparison_inputs
from nasrank.report.figures import REPORT_FIGURES
from nasrank.report.figures import figure_inputs as report_figure_inputs
from nasrank.report.findings import FINDINGS_TABLES, findings_inputs
from nasrank.report.stats import STATS_TABLES, stats_inputs
from nasrank.search.tables import SEARCH_TABLES, table_jobs

__all__ = ["ALL_FIGURES", "ALL_TABLES", "figure_inputs", "figure_params", "table_inputs",
           "table_params"]

Params = Mapping[str, Any]
Builder = Callable[[Params], pd.DataFrame]
Writer = Callable[[Params, Path], list[Path]]


@dataclass(frozen=True)
class Group:
    """Tables or figures of one module: their builders, what each reads (files) and which
    params.yaml keys (dotted) it depends on."""

    members: Mapping[str, Any]
    inputs: Callable[[Params, str], list[str]]
    params: Callable[[Params, str], list[str]]


def _experiment_inputs(params: Params, name: str) -> list[str]:
    runs = experiment_runs(dict(params), TABLES[name][0])
    return metrics_inputs(dict(params), runs)


def _search_inputs(params: Params, name: str) -> list[str]:
    paths = Paths.of(params)
    return [str(job.output_dir(paths)) for job in table_jobs(dict(params), name)]


def _fixed(*keys: str) -> Callable[[Params, str], list[str]]:
    return lambda params, name: list(keys)


TABLE_GROUPS: tuple[Group, ...] = (
    Group({name: build for name, (_, build) in TABLES.items()}, _experiment_inputs,
          lambda params, name: [f"experiments.{TABLES[name][0]}"]),
    Group(SEARCH_TABLES, _search_inputs, _fixed("search")),
    Group(FAMILY_TABLES, family_table_inputs,
          lambda params, name: ["families.zero_cost" if name == "zero_cost" else "families"]),
    Group(STATS_TABLES, stats_inputs,
          _fixed("evaluation", "experiments.loss_study", "search.loss_search")),
    Group(FINDINGS_TABLES, findings_inputs,
          _fixed("evaluation", "experiments.loss_study", "search.loss_search")),
    Group(COMPARISONS, comparison_inputs, _fixed("experiments", "search")),
)
FIGURE_GROUPS: tuple[Group, ...] = (
    Group(REPORT_FIGURES, report_figure_inputs, _fixed("experiments", "search", "evaluation")),
    Group(FAMILY_FIGURES, family_table_inputs, _fixed("families")),
)

#: table name -> builder, in report order of the studies
ALL_TABLES: dict[str, Builder] = {n: b for g in TABLE_GROUPS for n, b in g.members.items()}
#: figure name -> writer(params, dest_stem) -> [png, pdf]
ALL_FIGURES: dict[str, Writer] = {n: w for g in FIGURE_GROUPS for n, w in g.members.items()}


def _group(groups: tuple[Group, ...], name: str, what: str) -> Group:
    for g in groups:
        if name in g.members:
            return g
    raise UnknownNameError(what, name, [n for g in groups for n in g.members])


def table_inputs(params: Params, name: str) -> list[str]:
    """The files table ``name`` reads (UnknownNameError for an unknown table)."""
    return _group(TABLE_GROUPS, name, "table").inputs(params, name)


def table_params(params: Params, name: str) -> list[str]:
    """The params.yaml keys (dotted) table ``name`` depends on (DVC ``params:``)."""
    return _group(TABLE_GROUPS, name, "table").params(params, name)


def figure_inputs(params: Params, name: str) -> list[str]:
    """The files figure ``name`` reads (UnknownNameError for an unknown figure)."""
    return _group(FIGURE_GROUPS, name, "figure").inputs(params, name)


def figure_params(params: Params, name: str) -> list[str]:
    """The params.yaml keys (dotted) figure ``name`` depends on besides its inputs."""
    return _group(FIGURE_GROUPS, name, "figure").params(params, name)
