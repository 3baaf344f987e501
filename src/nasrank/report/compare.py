"""Our tables beside the published numbers: ``<table>_vs_published``.

For every generated table with a published counterpart in reports/published.yaml, the
rows of ours that match a published entry on the entry's keys (see the file), with per
compared metric ``<metric>`` (ours), ``<metric>_published`` and ``<metric>_diff`` (ours -
published), the published context as ``<field>_published``, ``source`` and a ``note``
saying where the data behind the two numbers differ (labels, population, seeds, setting),
after our table's own ``note`` where it has one (e.g. metrics without a value in some
seeds).
Some metrics are derived from ours first, to the published unit (``test_error_mean`` =
100 - ``accuracy_mean``; ``precision_t_0.5_mean_pct`` = 100 x ``precision_t_0.5_mean``).

Our tables are read from ``params["reports"]["tables_dir"]`` (the CSVs ``nasrank table``
writes), the published numbers from ``reports.published`` (default
``reports/published.yaml``).

Usage::

    df = COMPARISONS["renas_search_vs_published"](params)
    comparison_inputs(params, "renas_search_vs_published")
    # -> ['reports/tables/renas_search.csv', 'reports/published.yaml']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nasrank.errors import DataFormatError, NasrankError, UnknownNameError
from nasrank.paths import Paths, TableId
from nasrank.published import load_published, published_path

__all__ = ["COMPARISONS", "Comparison", "comparison_inputs"]

Params = Mapping[str, Any]
#: (our row merged with its published entry, params) -> what differs, or None
NoteRule = Callable[[pd.Series, Params], str | None]
Derive = Callable[[pd.DataFrame], pd.Series]

#: all cells of NAS-Bench-101 (ReNAS's population)
NB101_CELLS = 423_624

#: what our labels are, per benchmark of a table, where they differ from the papers'
LABEL_NOTES: dict[str, str] = {
    "nb101": ("ours: single-seed 108-epoch validation accuracy of the 30,001 cells of "
              "nasbench-vis (ReNAS: the full three-seed NAS-Bench-101)"),
    "darts": "ours: NB301 surrogate predictions of the CIFAR-10 validation accuracy",
}

#: our loss where it is not the paper's
LOSS_NOTES: dict[str, str] = {
    "lr": ("ours: the pairwise logistic loss of ReNAS's released code "
           "(paper: hinge ranking + continuity loss, our `renas`)"),
}


def _bench(table: str) -> str:
    return TableId(table).bench


def _label_note(bench_of: Callable[[pd.Series, Params], str]) -> NoteRule:
    """The label caveat of the row's benchmark (ReNAS tables: from params)."""
    def rule(row: pd.Series, params: Params) -> str | None:
        return LABEL_NOTES.get(bench_of(row, params))
    return rule


def _loss_note(row: pd.Series, params: Params) -> str | None:
    return LOSS_NOTES.get(str(row.get("loss")))


def _seeds_note(row: pd.Series, params: Params) -> str | None:
    published = row.get("n_seeds_published")
    if published is None or pd.isna(published) or int(row["n_seeds"]) == int(published):
        return None
    n = int(row["n_seeds"])
    return f"ours: {n} seed{'s' if n != 1 else ''} (published: {int(published)})"


def _search_pool_note(row: pd.Series, params: Params) -> str | None:
    if int(row["n_labelled"]) >= NB101_CELLS:
        return None
    return (f"ours: searched {int(row['pool_size']):,} labelled cells, ranking among "
            f"{int(row['n_labelled']):,}")


def _space_stats_note(row: pd.Series, params: Params) -> str | None:
    if int(row["n_labelled"]) >= int(row["n_cells"]):
        return None
    target = params.get("stats", {}).get("nb101", {}).get("target", "the target")
    return (f"ours: best/mean over the {int(row['n_labelled']):,} labelled cells of the "
            f"group ({target}, one seed of nasbench-vis), ReNAS over all "
            f"{int(row['n_cells']):,}")


def _target_note(row: pd.Series, params: Params) -> str | None:
    target = str(row["target"])
    if target.startswith("test_acc"):
        return None
    return f"ours: 100 - {target} (published: test error)"


def _loss_study_note(row: pd.Series, params: Params) -> str | None:
    ours = params["experiments"]["loss_study"]["predictor"]
    return (f"ours: {ours} on {row['table']}, {int(row['train_size'])} training samples; "
            f"published: {row['predictor_published']} backbone")


def _zero_cost_note(row: pd.Series, params: Params) -> str | None:
    over = row.get("published_over")
    over = over if isinstance(over, str) and over else "the whole space"
    return (f"ours: NASLib's {int(row['n']):,} scored cells vs {row['target']} "
            f"(published: {over})")


@dataclass(frozen=True)
class Comparison:
    """How one of our tables is set beside its published counterpart."""

    table: str
    command: str = ""  # the command that writes our table (default: nasrank table NAME)
    derived: Mapping[str, Derive] = field(default_factory=dict)
    notes: tuple[NoteRule, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.table}_vs_published"

    def csv(self, params: Params) -> Path:
        return Path(f"{Paths.of(params).table(self.table)}.csv")

    def inputs(self, params: Params) -> list[str]:
        """Our table's CSV and the published-numbers file."""
        return [str(self.csv(params)), str(published_path(params))]

    def ours(self, params: Params) -> pd.DataFrame:
        """Our table with the derived columns.

        Raises:
            NasrankError: the CSV is missing (names the command that writes it).
        """
        path = self.csv(params)
        if not path.is_file():
            command = self.command or f"nasrank table {self.table}"
            raise NasrankError(f"{path} not found: `{command}` writes it "
                               f"(needed by {self.name})")
        df = pd.read_csv(path)
        for name, derive in self.derived.items():
            df[name] = derive(df)
        return df

    def __call__(self, params: Params) -> pd.DataFrame:
        """Our matched rows with published values, differences, source and note.

        Raises:
            NasrankError: our table is missing.
            DataFormatError: it lacks a key or compared column of the published table.
            ConfigError / DataFormatError: invalid published-numbers file.
        """
        published = load_published(published_path(params))
        pub = published.table(self.table)
        ours = self.ours(params)
        missing = [c for c in (*pub.keys, *pub.metrics) if c not in ours.columns]
        if missing:
            raise DataFormatError(f"{self.csv(params)} lacks columns {missing} that "
                                  f"{published.path} compares")
        own_notes = ours.pop("note") if "note" in ours else None
        rows = []
        for i, row in enumerate(ours.to_dict("records")):
            ident = {k: row[k] for k in pub.keys}
            for entry in (e for e in pub.entries if e.matches(**ident)):
                out = dict(row)
                out["_own_note"] = None if own_notes is None else own_notes.iloc[i]
                for m in pub.metrics:
                    value = entry.values.get(m, np.nan)
                    out[f"{m}_published"] = value
                    out[f"{m}_diff"] = row[m] - value
                out |= {f"{c}_published": entry.context.get(c) for c in pub.context}
                out["source"] = published.label(entry.source)
                out["_entry_note"] = entry.note
                out["_row"] = i
                rows.append(out)
        columns = [*ours.columns, *(f"{m}_{s}" for m in pub.metrics
                                    for s in ("published", "diff")),
                   *(f"{c}_published" for c in pub.context), "source", "note"]
        if not rows:
            return pd.DataFrame(columns=columns)
        df = pd.DataFrame(rows)
        df["note"] = [self.note(r, params) for _, r in df.iterrows()]
        return df[columns].reset_index(drop=True)

    def note(self, row: pd.Series, params: Params) -> str:
        """Our table's own note, the published entry's, then every rule's, joined by '; '."""
        parts = [row.get("_own_note"), row["_entry_note"]] + [rule(row, params)
                                                               for rule in self.notes]
        return "; ".join(p for p in parts if isinstance(p, str) and p)


def _renas_bench(section: str) -> Callable[[pd.Series, Params], str]:
    """The benchmark of a ReNAS grid of params (``experiments.X`` or ``search.X``)."""
    group, name = section.split(".")
    return lambda row, params: str(params[group][name]["bench"])


def _row_bench(row: pd.Series, params: Params) -> str:
    return _bench(str(row["table"]))


_RENAS_SEARCH_NOTES: tuple[NoteRule, ...] = (
    _label_note(_renas_bench("search.renas")), _loss_note, _search_pool_note, _seeds_note)

_TEST_ERROR: dict[str, Derive] = {
    "test_error_mean": lambda df: 100.0 - df["accuracy_mean"],
    "test_error_std": lambda df: df["accuracy_std"],
}

#: comparison name (``<table>_vs_published``) -> builder
COMPARISONS: dict[str, Comparison] = {c.name: c for c in (
    Comparison("renas_ktau_vs_train_size",
               notes=(_label_note(_renas_bench("experiments.renas_variants")), _loss_note)),
    Comparison("renas_search", notes=_RENAS_SEARCH_NOTES),
    Comparison("renas_sample_selection", notes=_RENAS_SEARCH_NOTES),
    Comparison("renas_subspace", notes=_RENAS_SEARCH_NOTES),
    Comparison("nb101_space_stats", command="nasrank stats nb101",
               notes=(_space_stats_note,)),
    Comparison("loss_search", derived=_TEST_ERROR,
               notes=(_label_note(_row_bench), _target_note)),
    Comparison("loss_study",
               derived={"precision_t_0.5_mean_pct": lambda df: 100.0
                        * df["precision_t_0.5_mean"]},
               notes=(_loss_study_note, _seeds_note)),
    Comparison("zero_cost", notes=(_zero_cost_note,)),
)}


def comparison_inputs(params: Params, name: str) -> list[str]:
    """The files comparison ``name`` reads (its workflow inputs).

    Raises:
        UnknownNameError: no such comparison.
    """
    if name not in COMPARISONS:
        raise UnknownNameError("comparison", name, list(COMPARISONS))
    return COMPARISONS[name].inputs(params)
