"""Paper A's findings, each stated and tested on our numbers (table ``loss_findings``).

Ji et al. (2025) summarise their loss study in five claims (second-hand, from summaries
of the paper: ``../shared/papers/README.md``). Each claim becomes one or more paired
comparisons over the cells of our grids, where a cell is one (table, train size, seed)
of the loss study, or one (table, seed) of the loss search at its largest budget. The
same cell draws the same training sample (or the same initial queries) for every loss,
so the comparison is paired: per cell the difference between the two sides, a side
being one loss or the mean of a loss family (:data:`nasrank.report.stats.LOSS_FAMILIES`),
and a two-sided Wilcoxon signed-rank test over the cells.

Columns: the claim, what is compared (``side_a`` vs ``side_b``), the metric and its
direction, the train sizes used, ``n_cells``, ``mean_diff`` (a - b, in the metric's
units), ``a_better_share`` (cells where ``a`` is better), the p-value and the verdict:

* ``supports``: p < 0.05 and ``a`` is better on average, as the claim says;
* ``contradicts``: p < 0.05 and ``b`` is better;
* ``inconclusive``: p >= 0.05 (the note says when too few cells make p < 0.05
  impossible), or the test is undefined;
* ``not testable``: a loss of the claim is not in the grid.

Usage::

    df = loss_findings(params)          # after the loss-study and loss-search runs
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nasrank.report.stats import (
    ALPHA,
    LOSS_FAMILIES,
    _runs_frame,
    higher_is_better,
    paired_wilcoxon,
    stats_inputs,
    study_metrics,
)
from nasrank.search.jobs import search_jobs
from nasrank.search.results import load_results

__all__ = ["CLAIMS", "FINDINGS_COLUMNS", "Claim", "findings_inputs", "loss_findings"]

FINDINGS_COLUMNS = ["claim", "side_a", "side_b", "metric", "higher_is_better",
                    "train_sizes", "n_cells", "mean_a", "mean_b", "mean_diff",
                    "a_better_share", "p_value", "verdict", "note"]


@dataclass(frozen=True)
class Claim:
    """One comparison that tests a claim of paper A.

    Attributes:
        claim: the claim as the paper states it (second-hand).
        side_a, side_b: a loss, ``family:<name>`` (mean of the grid's losses of that
            family) or ``others`` (mean of every other loss of the grid); ``a`` is the
            side the claim says is better.
        metric: ``kendall_tau``, ``precision_t`` / ``n_at_k`` (the first T / K of
            params.yaml's evaluation) or ``best_accuracy`` (the loss search).
        sizes: ``smallest``, ``largest`` or ``all`` train sizes of the loss study.
        note: a caveat printed with the row.
    """

    claim: str
    side_a: str
    side_b: str
    metric: str
    sizes: str = "all"
    note: str = ""


#: paper A's claims, as comparisons (see the module docstring)
CLAIMS: tuple[Claim, ...] = (
    Claim("ranking losses are best with very little data", "family:ranking",
          "family:regression", "kendall_tau", "smallest"),
    Claim("ranking losses are best with very little data", "family:ranking",
          "family:weighted", "kendall_tau", "smallest"),
    Claim("weighted losses are best on top-K metrics once data suffice", "family:weighted",
          "family:ranking", "precision_t", "largest"),
    Claim("weighted losses are best on top-K metrics once data suffice", "family:weighted",
          "family:ranking", "n_at_k", "largest"),
    Claim("MSE is the worst at finding the top", "others", "mse", "n_at_k"),
    Claim("MSE is the worst at finding the top", "others", "mse", "precision_t"),
    Claim("MSE+SR is below its parts", "mse", "mse_sr", "kendall_tau",
          note="the SR part alone is not a loss of the study; compared with MSE only"),
    Claim("the piecewise loss is best for search", "piecewise", "others", "best_accuracy",
          note="loss search (predictor_nas), best accuracy found at the largest budget"),
)


def _metric_key(params: dict[str, Any], metric: str) -> str:
    """The metrics-file key: ``precision_t`` / ``n_at_k`` at the first T / K."""
    prefix = {"precision_t": "precision_t_", "n_at_k": "n_at_"}.get(metric)
    if prefix is None:
        return metric
    return next(m for m in study_metrics(params) if m.startswith(prefix))


def _side(wide: pd.DataFrame, side: str, other: str) -> pd.Series | None:
    """Per cell, the value of one side: a loss, a family's mean or the others' mean
    (NaN where a loss of the side has no value); None when the grid lacks it."""
    if side.startswith("family:"):
        cols = [c for c in wide.columns if LOSS_FAMILIES.get(c) == side.split(":", 1)[1]]
    elif side == "others":
        cols = [c for c in wide.columns if c != other]
    else:
        cols = [side] if side in wide.columns else []
    if not cols:
        return None
    return wide[cols].mean(axis=1, skipna=False)


def _study_cells(runs: pd.DataFrame, metric: str, sizes: str) -> tuple[pd.DataFrame,
                                                                      list[int]]:
    """Loss-study cells (table, train size, seed) x losses for ``metric``, from the
    runs' values (:func:`nasrank.report.stats._runs_frame`)."""
    frame = runs[runs["metric"] == metric]
    all_sizes = sorted(frame["train_size"].unique().tolist())
    chosen = {"smallest": all_sizes[:1], "largest": all_sizes[-1:]}.get(sizes, all_sizes)
    frame = frame[frame["train_size"].isin(chosen)]
    wide = frame.pivot_table(index=["table", "train_size", "seed"], columns="loss",
                             values="value", dropna=False, sort=False)
    return wide, [int(s) for s in chosen]


def _search_cells(params: dict[str, Any]) -> pd.DataFrame:
    """Loss-search cells (table, seed) x losses: best accuracy at the largest budget."""
    rows = []
    for job in search_jobs(params, "loss_search"):
        if job.loss is None:
            continue
        budget = max(job.budgets)
        for rep in load_results(params, [job]):
            found = next(r for r in rep["results"] if r["budget"] == budget)
            value = found.get("best_accuracy")
            rows.append({"table": job.table, "seed": rep["seed"], "loss": job.loss,
                         "value": float("nan") if value is None else float(value)})
    frame = pd.DataFrame(rows, columns=["table", "seed", "loss", "value"])
    return frame.pivot_table(index=["table", "seed"], columns="loss", values="value",
                             dropna=False, sort=False)


def _verdict(p: float, diff: float, higher: bool) -> str:
    if not math.isfinite(p) or p >= ALPHA:
        return "inconclusive"
    return "supports" if (diff > 0) == higher else "contradicts"


def loss_findings(params: dict[str, Any]) -> pd.DataFrame:
    """One row per comparison of :data:`CLAIMS` (see the module docstring)."""
    rows = []
    runs = _runs_frame(params)  # every metrics file read once
    study: dict[tuple[str, str], tuple[pd.DataFrame, list[int]]] = {}
    search = None
    for c in CLAIMS:
        metric = _metric_key(params, c.metric)
        higher = higher_is_better(metric)
        if c.metric == "best_accuracy":
            if search is None:
                search = _search_cells(params)
            wide, sizes = search, []
        else:
            if (metric, c.sizes) not in study:
                study[(metric, c.sizes)] = _study_cells(runs, metric, c.sizes)
            wide, sizes = study[(metric, c.sizes)]
        row = {"claim": c.claim, "side_a": c.side_a, "side_b": c.side_b, "metric": metric,
               "higher_is_better": higher,
               "train_sizes": ",".join(map(str, sizes)) if sizes else "",
               "n_cells": 0, "mean_a": float("nan"), "mean_b": float("nan"),
               "mean_diff": float("nan"), "a_better_share": float("nan"),
               "p_value": float("nan"), "verdict": "not testable", "note": c.note}
        a = _side(wide, c.side_a, c.side_b)
        b = _side(wide, c.side_b, c.side_a)
        if a is None or b is None:
            missing = c.side_a if a is None else c.side_b
            row["note"] = "; ".join(filter(None, [f"{missing} is not in the grid", c.note]))
            rows.append(row)
            continue
        a_vals = {i: float(v) for i, v in enumerate(a.to_numpy())}
        b_vals = {i: float(v) for i, v in enumerate(b.to_numpy())}
        t = paired_wilcoxon(a_vals, b_vals)
        both = [i for i in a_vals if math.isfinite(a_vals[i]) and math.isfinite(b_vals[i])]
        diffs = np.array([a_vals[i] - b_vals[i] for i in both])
        row.update(n_cells=t.n,
                   mean_a=float(np.mean([a_vals[i] for i in both])) if both else float("nan"),
                   mean_b=float(np.mean([b_vals[i] for i in both])) if both else float("nan"),
                   mean_diff=t.mean_diff,
                   a_better_share=float(np.mean(diffs > 0 if higher else diffs < 0))
                   if both else float("nan"),
                   p_value=t.p_value, verdict=_verdict(t.p_value, t.mean_diff, higher),
                   note="; ".join(filter(None, [c.note, t.note.replace("seed", "cell")])))
        if len(sizes) == 1 and c.sizes != "all":
            all_sizes = sorted(params["experiments"]["loss_study"]["train_sizes"])
            if len(all_sizes) == 1:
                row["note"] = "; ".join(filter(None, [
                    row["note"], "one train size in the grid: 'little' and 'enough' data "
                    "are the same"]))
        rows.append(row)
    return pd.DataFrame(rows, columns=FINDINGS_COLUMNS)


def findings_inputs(params: dict[str, Any], name: str = "loss_findings") -> list[str]:
    """The loss study's metrics directories and the loss search's result directories."""
    return stats_inputs(params, "loss_stats") + stats_inputs(params, "search_stats")


#: table name -> builder
FINDINGS_TABLES = {"loss_findings": loss_findings}
