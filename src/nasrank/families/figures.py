"""Figures of the predictor-family study (matplotlib, written as PNG and PDF).

* ``families_tau_vs_train_size``: one panel per table; Kendall tau (mean over seeds,
  shaded 95 % interval) against the train size for every predictor that trains; the
  predictors that train on nothing (learning-curve methods, the best zero-cost proxy of
  the table) as dashed horizontal lines in their family's colour. A trained predictor
  has its own colour and marker and its family's line style (:data:`FAMILY_STYLES`).
* ``families_tau_vs_init_time``: White et al.'s view on the tables of
  ``families.init_time_tables`` (NB101 records training times): Kendall tau against the
  initialization time (label training time + measured fit time); predictors that need no
  initialization as horizontal lines labelled with their per-query cost.
* ``families_recommendation``: White et al.'s Fig. 1 view on the same tables: over a
  grid of initialization-time budgets (x) and per-query budgets (y), the predictor with
  the highest mean Kendall tau among those (at any train size) whose initialization and
  query times fit the budgets, one colour per predictor. Predictors whose query cost
  the table does not record (zero-cost proxies on NB101) cannot be placed and are left
  out, as the title says.
* ``zero_cost_heatmap``: |Spearman| of every proxy (rows) on every table (columns).

Usage::

    FAMILY_FIGURES["zero_cost_heatmap"](params, "reports/figures/zero_cost_heatmap")
    # -> [reports/figures/zero_cost_heatmap.png, reports/figures/zero_cost_heatmap.pdf]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nasrank.errors import ConfigError
from nasrank.families.jobs import load_family_results
from nasrank.families.predictors import COMBINED, LEARNING_CURVE, MODEL_BASED, ZERO_COST
from nasrank.families.tables import _records, summarise, zero_cost_summary
from nasrank.plotting import curve_style

__all__ = ["FAMILY_FIGURES", "write_figure"]

FAMILY_COLOURS = {ZERO_COST: "tab:green", LEARNING_CURVE: "tab:orange",
                  MODEL_BASED: "tab:blue", COMBINED: "tab:red"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_figure(fig: Any, dest_stem: str | Path) -> list[Path]:
    """Save ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` atomically, with the report's fixed
    metadata (the same bytes for the same data)."""
    from nasrank.plotting import save_figure

    try:
        return save_figure(fig, dest_stem)
    finally:
        _pyplot().close(fig)


def _panels(n: int, width: float = 5.0, height: float = 3.8) -> tuple[Any, list[Any]]:
    plt = _pyplot()
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _title(table: str, sub: pd.DataFrame) -> str:
    first = sub.iloc[0]
    label = f"{table} ({first['target']}"
    return label + (", surrogate labels)" if first["surrogate_labels"] else ")")


def _flat_lines(ax: Any, flat: pd.DataFrame, note: Callable[[pd.Series], str]) -> None:
    """Predictors that train on nothing: dashed lines at their mean Kendall tau."""
    zc = flat[flat["family"] == ZERO_COST]
    keep = flat[flat["family"] != ZERO_COST]
    if not zc.empty:  # the best proxy stands for the family
        keep = pd.concat([keep, zc.loc[[zc["kendall_tau_mean"].idxmax()]]])
    for i, (_, r) in enumerate(keep.iterrows()):
        ax.axhline(r["kendall_tau_mean"], color=FAMILY_COLOURS[r["family"]],
                   ls=(0, (4, 1 + i % 3)), lw=1.2, label=f"{r['predictor']}{note(r)}")


#: line style of a trained predictor's curve, by family (its colour is its own)
FAMILY_STYLES = {MODEL_BASED: "-", COMBINED: "--", LEARNING_CURVE: "-.", ZERO_COST: ":"}


def _curve_style(i: int, family: str) -> dict[str, Any]:
    """The ``i``-th trained predictor of a panel: its own colour (tab20, then tab20b), a
    marker, and its family's line style (thicker for OMNI)."""
    return {**curve_style(i), "ls": FAMILY_STYLES[family],
            "lw": 2.0 if family == COMBINED else 1.2}


def _room_below(fig: Any, n: int) -> None:
    """Space under each row of panels for its legend (placed below the axes)."""
    rows = math.ceil(n / min(n, 3))
    fig.subplots_adjust(bottom=0.34 / rows, hspace=0.9, top=1 - 0.08 / rows)


def tau_vs_train_size(params: Mapping[str, Any], dest: str | Path) -> list[Path]:
    df = summarise(_records(load_family_results(params)), ["kendall_tau"])
    tables = list(dict.fromkeys(df["table"]))
    fig, axes = _panels(len(tables), height=6.0)
    for ax, table in zip(axes, tables, strict=True):
        sub = df[df["table"] == table]
        trained = sub[sub["train_size"] > 0]
        for i, (name, g) in enumerate(trained.groupby("predictor", sort=False)):
            style = _curve_style(i, g["family"].iloc[0])
            x, y, ci = g["train_size"], g["kendall_tau_mean"], g["kendall_tau_ci95"].fillna(0)
            ax.plot(x, y, ms=4, label=name, alpha=0.9, **style)
            ax.fill_between(x, y - ci, y + ci, color=style["color"], alpha=0.05, lw=0)
        _flat_lines(ax, sub[sub["train_size"] == 0], lambda r: "")
        ax.set_xscale("log")
        ax.set_xlabel("training architectures")
        ax.set_ylabel("Kendall tau")
        n = int(sub["n_seeds"].max())
        ax.set_title(f"{_title(table, sub)}, {n} seed{'s' if n > 1 else ''}", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    _room_below(fig, len(axes))
    fig.suptitle("Predictor families under NASLib's protocol: Kendall tau vs train size "
                 "(trained predictors: solid model-based, dashed OMNI, dash-dot learning "
                 "curve; flat lines: untrained, orange learning curve, green best zero-cost "
                 "proxy)", fontsize=9)
    return write_figure(fig, dest)


def _seconds(v: float) -> str:
    if not np.isfinite(v):
        return "unrecorded"
    return f"{v:.3g} s" if v >= 1 else f"{v * 1e3:.3g} ms"


def _timed(params: Mapping[str, Any], figure: str) -> tuple[list[str], pd.DataFrame]:
    """``families.init_time_tables`` and the mean Kendall tau, initialization and query
    times of their rows."""
    tables = list(params["families"].get("init_time_tables") or [])
    if not tables:
        raise ConfigError(f"families.init_time_tables names no table for {figure}")
    df = summarise(_records(load_family_results(params, timing=True)),
                   ["kendall_tau", "init_time_s", "query_time_s"], ci=False)
    missing = [t for t in tables if t not in set(df["table"])]
    if missing:
        raise ConfigError(f"families.init_time_tables: {', '.join(missing)} "
                          "not in families.tables")
    return tables, df


def tau_vs_init_time(params: Mapping[str, Any], dest: str | Path) -> list[Path]:
    tables, df = _timed(params, "families_tau_vs_init_time")
    fig, axes = _panels(len(tables), width=6.5, height=6.5)
    for ax, table in zip(axes, tables, strict=True):
        sub = df[df["table"] == table]
        trained = sub[sub["train_size"] > 0]
        for i, (name, g) in enumerate(trained.groupby("predictor", sort=False)):
            ax.plot(g["init_time_s_mean"], g["kendall_tau_mean"], ms=4, label=name,
                    **_curve_style(i, g["family"].iloc[0]))
        _flat_lines(ax, sub[sub["train_size"] == 0],
                    lambda r: f" (query {_seconds(r['query_time_s_mean'])}/arch)")
        ax.set_xscale("log")
        ax.set_xlabel("initialization time (s): training the labelled architectures + fit")
        ax.set_ylabel("Kendall tau")
        ax.set_title(_title(table, sub), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    _room_below(fig, len(axes))
    fig.suptitle("Kendall tau vs initialization time (White et al. 2021, Fig. 2 style)",
                 fontsize=9)
    return write_figure(fig, dest)


def _budgets(values: pd.Series, n: int = 48) -> np.ndarray:
    """Log-spaced budgets from a decade below the smallest positive value to a decade
    above the largest."""
    pos = values[values > 0]
    lo = math.floor(math.log10(pos.min())) - 1 if len(pos) else -3
    hi = math.ceil(math.log10(pos.max())) + 1 if len(pos) else 0
    return np.logspace(lo, hi, n)


def best_under_budgets(rows: pd.DataFrame, init: np.ndarray,
                       query: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """``(len(query), len(init))`` index into the returned predictor names of the best
    mean Kendall tau among ``rows`` within both budgets (-1 where none fits)."""
    names = list(dict.fromkeys(rows["predictor"]))
    code = rows["predictor"].map({n: i for i, n in enumerate(names)}).to_numpy()
    it = rows["init_time_s_mean"].fillna(0).to_numpy(dtype=np.float64)
    qt = rows["query_time_s_mean"].to_numpy(dtype=np.float64)
    tau = rows["kendall_tau_mean"].to_numpy(dtype=np.float64)
    out = np.full((len(query), len(init)), -1, dtype=np.int64)
    for i, q in enumerate(query):
        for j, b in enumerate(init):
            ok = (it <= b) & (qt <= q)
            if ok.any():
                out[i, j] = code[ok][int(np.argmax(np.where(ok, tau, -np.inf)[ok]))]
    return out, names


def recommendation(params: Mapping[str, Any], dest: str | Path) -> list[Path]:
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    tables, df = _timed(params, "families_recommendation")
    plt = _pyplot()
    fig, axes = _panels(len(tables), width=8.0, height=5.0)
    for ax, table in zip(axes, tables, strict=True):
        sub = df[df["table"] == table]
        placed = sub[np.isfinite(sub["query_time_s_mean"])
                     & np.isfinite(sub["kendall_tau_mean"])]
        unplaced = sorted(set(sub["predictor"]) - set(placed["predictor"]))
        init, query = _budgets(placed["init_time_s_mean"]), _budgets(placed["query_time_s_mean"])
        grid, names = best_under_budgets(placed, init, query)
        winners = sorted({int(v) for v in grid.ravel() if v >= 0})
        palette = plt.get_cmap("tab20").colors
        colours = {w: palette[k % len(palette)] for k, w in enumerate(winners)}
        slot = {w: k for k, w in enumerate(winners)}
        shown = np.ma.masked_less(np.array([[slot.get(int(v), -1) for v in row]
                                            for row in grid]), 0)
        cmap = ListedColormap([colours[w] for w in winners] or ["white"]).with_extremes(
            bad="white")
        ax.pcolormesh(init, query, shown, cmap=cmap, vmin=-0.5,
                      vmax=max(len(winners), 1) - 0.5, shading="nearest")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("initialization budget (s): labels' training + fit")
        ax.set_ylabel("query budget per architecture (s)")
        title = f"{_title(table, sub)}: best predictor within both budgets"
        if unplaced:
            title += f"\nquery cost unrecorded, left out: {', '.join(unplaced)}"
        ax.set_title(title, fontsize=8)
        fam = dict(zip(sub["predictor"], sub["family"], strict=False))
        ax.legend(handles=[Patch(color=colours[w], label=f"{names[w]} ({fam[names[w]]})")
                           for w in winners], fontsize=6, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.suptitle("Which predictor to use, given the time to initialize and to query\n"
                 "(White et al. 2021, Fig. 1 style; white: nothing fits)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return write_figure(fig, dest)


def zero_cost_heatmap(params: Mapping[str, Any], dest: str | Path) -> list[Path]:
    df = zero_cost_summary(params)
    grid = df.pivot(index="proxy", columns="table", values="abs_spearman")
    grid = grid.loc[list(dict.fromkeys(df["proxy"])), list(dict.fromkeys(df["table"]))]
    grid = grid.loc[grid.mean(axis=1).sort_values(ascending=False).index]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * grid.shape[1], 1.2 + 0.36 * grid.shape[0]))
    values = np.ma.masked_invalid(grid.to_numpy(dtype=np.float64))
    cmap = plt.get_cmap("viridis").with_extremes(bad="lightgrey")
    im = ax.imshow(values, cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=np.float64)):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if v < 0.6 else "black")
    surrogate = set(df.loc[df["surrogate_labels"], "table"])
    ax.set_xticks(range(grid.shape[1]),
                  [f"{t}*" if t in surrogate else t for t in grid.columns],
                  rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=7)
    fig.colorbar(im, ax=ax, label="|Spearman| with the target", shrink=0.8)
    ax.set_title("Zero-cost proxies (NASLib's scored cells; grey: not scored)"
                 + ("\n* surrogate labels" if surrogate else ""), fontsize=9)
    return write_figure(fig, dest)


#: figure name -> writer(params, dest_stem) -> [png, pdf]
FAMILY_FIGURES: dict[str, Callable[[Mapping[str, Any], str | Path], list[Path]]] = {
    "families_tau_vs_train_size": tau_vs_train_size,
    "families_tau_vs_init_time": tau_vs_init_time,
    "families_recommendation": recommendation,
    "zero_cost_heatmap": zero_cost_heatmap,
}
