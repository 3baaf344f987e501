"""Figures of the studies' reports, each written as PNG and PDF at paper size.

Every figure is drawn at a journal column width (3.5 in single, 7 in double) with fonts of
7-8 pt, so it is readable when placed at 100 %. A loss (and a search baseline) has the same
colour and name in every figure (:data:`LOSS_COLOURS`, :data:`LOSS_LABELS`: a loss's are
those it registered with); means over seeds carry a 95 % Student-t interval
(:func:`nasrank.metrics.mean_ci`), drawn only where there are at least two seeds.
Metadata are fixed (no software tag in the PNG, no creation date in the PDF), so the same
data give the same bytes.

* ``renas_rank_scatter``: ReNAS's ranking figure, predicted vs true rank of 1,000 random
  test architectures per predictor variant (smallest train size, first seed).
* ``renas_ktau_vs_train_size``: Kendall tau vs train size per ReNAS variant.
* ``loss_ktau_vs_train_size``: Kendall tau vs train size per loss, a panel per table.
* ``loss_heatmap_kendall_tau``, ``loss_heatmap_precision_t``, ``loss_heatmap_n_at_k``:
  loss x table at the largest train size (Precision@T at the first T, N@K at the first K
  of ``evaluation``).
* ``search_best_so_far``: the loss study's search, best-so-far accuracy vs queries.
* ``predictor_nas_by_predictor``: White et al.'s predictor-based NAS, best-so-far
  accuracy vs queries per surrogate predictor, a panel per table and loop.
* ``nb101_space_stats``: NAS-Bench-101 models and accuracy by input->output distance.

Usage::

    from nasrank.report.figures import REPORT_FIGURES, figure_inputs

    figure_inputs(params, "search_best_so_far")     # files it reads (workflow inputs)
    REPORT_FIGURES["search_best_so_far"](params, Path("reports/figures/search_best_so_far"))
    # -> [Path(".../search_best_so_far.png"), Path(".../search_best_so_far.pdf")]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nasrank.errors import ConfigError, NasrankError, UnknownNameError
from nasrank.experiments import Run, _load, experiment_runs, metrics_inputs, sweep_of
from nasrank.metrics import mean_ci_half
from nasrank.paths import Paths, TableId
from nasrank.plotting import curve_style, save_figure, style
from nasrank.report.stats import RegisteredLosses

__all__ = [
    "BASELINE_COLOURS",
    "BASELINE_LABELS",
    "LOSS_COLOURS",
    "LOSS_LABELS",
    "REPORT_FIGURES",
    "figure_inputs",
]

SINGLE_COLUMN = 3.5  # inches
DOUBLE_COLUMN = 7.0

#: the search baselines' colours and printed names (not losses: a loss declares its own
#: with :func:`nasrank.losses.catalog.register_loss`)
BASELINE_COLOURS: dict[str, str] = {"random": "tab:gray", "regularized_evolution": "black"}
BASELINE_LABELS: dict[str, str] = {"random": "random search",
                                   "regularized_evolution": "reg. evolution"}
#: one colour per loss and search baseline, the same in every figure: each registered
#: loss's (a live view of the registry), then the baselines'
LOSS_COLOURS: Mapping[str, str] = RegisteredLosses("colour", BASELINE_COLOURS)
#: the printed name of each loss and baseline (the loss study's abbreviations)
LOSS_LABELS: Mapping[str, str] = RegisteredLosses("label", BASELINE_LABELS)
#: line style per encoding of the ReNAS variants (colour is the loss)
ENCODING_STYLES: dict[str, str] = {"type_matrix": "--", "renas_tensor": "-"}
MARKERS = "osD^v<>pPX*h"
#: NAS-Bench-101 cells with / without a conv3x3 (not losses: colours of their own)
CONV_COLOURS: dict[bool, str] = {True: "#332288", False: "#DDAA33"}

SCATTER_SAMPLE = 1000  # test architectures per panel of the rank scatter
SCATTER_SEED = 0       # which ones: a fixed draw, the same for every variant
DODGE = 1.025          # x factor between neighbouring losses at one train size (log axis)

Draw = Callable[[Mapping[str, Any]], Any]
Writer = Callable[[Mapping[str, Any], Path], list[Path]]


# --------------------------------------------------------------------------- helpers


def _figure(width: float, height: float) -> Any:
    """A figure not registered with pyplot (no global state, nothing to close)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _panels(n: int, cols: int, width: float, panel_height: float) -> tuple[Any, list[Any]]:
    cols = min(n, cols)
    rows = math.ceil(n / cols)
    fig = _figure(width, panel_height * rows)
    flat = list(np.asarray(fig.subplots(rows, cols, squeeze=False)).ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _colour(name: str) -> str:
    if name not in LOSS_COLOURS:
        raise UnknownNameError("loss colour", name, list(LOSS_COLOURS))
    return LOSS_COLOURS[name]


def _label(name: str) -> str:
    return LOSS_LABELS.get(name, name)


def _summary(df: pd.DataFrame, keys: list[str], metric: str) -> pd.DataFrame:
    """``keys`` + mean, half (95 % CI half width) and n (seeds) of ``metric``."""
    rows = [(*k, *mean_ci_half(g[metric])) for k, g in df.groupby(keys, sort=False)]
    return pd.DataFrame(rows, columns=[*keys, "mean", "half", "n"])


def _line(ax: Any, x: np.ndarray, mean: np.ndarray, half: np.ndarray, colour: str,
          steps: bool = False, band_alpha: float = 0.15, **kw: Any) -> Any:
    """Mean line with its interval: a band over several x, error bars at a single x;
    ``steps`` for a best-so-far curve, constant between queries."""
    (line,) = ax.plot(x, mean, color=colour, drawstyle="steps-post" if steps else "default",
                      **kw)
    if np.isfinite(half).any():
        if len(x) > 1:
            ax.fill_between(x, mean - half, mean + half, color=colour, alpha=band_alpha, lw=0,
                            step="post" if steps else None)
        else:
            ax.errorbar(x, mean, yerr=half, color=colour, capsize=2, lw=0.8, fmt="none")
    return line


def _seeds_note(n: pd.Series, interval: bool = True) -> str:
    """How many seeds, and (``interval``, where drawn) that bands are 95 % intervals."""
    lo, hi = int(n.min()), int(n.max())
    seeds = f"{lo}" if lo == hi else f"{lo}-{hi}"
    band = "; 95 % CI" if interval and lo > 1 else ""
    return f"{seeds} seed{'s' if hi > 1 else ''}{band}"


def _size_axis(ax: Any, sizes: Sequence[int]) -> None:
    """Log-scaled train sizes with a tick at each size of the grid."""
    ax.set_xscale("log")
    ax.set_xticks(list(sizes), [f"{s:,}" for s in sizes])
    ax.minorticks_off()
    if len(sizes) == 1:
        ax.set_xlim(sizes[0] / 1.5, sizes[0] * 1.5)
    ax.set_xlabel("training architectures")


def _legend_below(fig: Any, handles: list[Any], ncol: int) -> None:
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol, frameon=False)


def _table_of(cfg: Mapping[str, Any]) -> TableId:
    return TableId.of(cfg["bench"], cfg["task"])


def _table_label(table: str) -> str:
    """A table's label in figures: its id, marked where its labels are a surrogate's
    predictions (DARTS: NB301), so no reader takes them for trained accuracies."""
    from nasrank.benchmarks.registry import BENCHMARKS

    bench = BENCHMARKS.get(TableId(table).bench)
    return f"{table} (surrogate labels)" if bench and bench.surrogate_labels else str(table)


# --------------------------------------------------------------------------- inputs


def _predictions_path(params: Mapping[str, Any], run: Run) -> Path:
    return Paths.of(params).models(run.run_id) / "predictions.parquet"


def _scatter_runs(params: Mapping[str, Any]) -> list[tuple[str, Run]]:
    """(variant, run) at the smallest train size and the first seed of the ReNAS grid."""
    cfg = params["experiments"]["renas_variants"]
    size, seed = min(cfg["train_sizes"]), cfg["seeds"][0]
    name_of = {(v["encoding"], v["loss"]): k for k, v in cfg["variants"].items()}
    return [(name_of[(r.encoding, r.loss)], r)
            for r in experiment_runs(dict(params), "renas_variants")
            if r.train_size == size and r.seed == seed]


def _largest_size_runs(params: Mapping[str, Any]) -> list[Run]:
    largest = max(params["experiments"]["loss_study"]["train_sizes"])
    return [r for r in experiment_runs(dict(params), "loss_study") if r.train_size == largest]


def _metrics_files(runs: list[Run], params: Mapping[str, Any]) -> list[Path]:
    return [Path(d) for d in metrics_inputs(dict(params), runs)]


def _models_dirs(runs: list[Run], params: Mapping[str, Any]) -> list[Path]:
    """The sweep model directories holding ``runs`` (what a figure over their predictions
    depends on)."""
    paths = Paths.of(params)
    return [paths.models(s) for s in dict.fromkeys(sweep_of(r) for r in runs)]


def _search_jobs(params: Mapping[str, Any]) -> list[Any]:
    from nasrank.search.jobs import search_jobs

    return search_jobs(dict(params), "loss_search")


def _stats_path(params: Mapping[str, Any]) -> Path:
    return Path(f"{Paths.of(params).table('nb101_space_stats')}.csv")


def _metrics(params: Mapping[str, Any], runs: list[Run]) -> pd.DataFrame:
    """Test metrics of ``runs``; a missing file names its ``nasrank evaluate`` command."""
    return _load(dict(params), runs)


# --------------------------------------------------------------------------- ReNAS


def _ranks(values: np.ndarray) -> np.ndarray:
    """Rank 1 = highest value (ties share their average rank)."""
    from scipy.stats import rankdata

    return rankdata(-values, method="average")


def _kendall_tau(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Kendall tau exactly as the metrics files compute it."""
    from nasrank.metrics import ranking_metrics

    return ranking_metrics(y_true, y_pred, precision_t=(), n_at_k=(),
                           precision_at_k=())["kendall_tau"]


def _test_predictions(params: Mapping[str, Any], run: Run) -> pd.DataFrame:
    import pyarrow.parquet as pq

    path = _predictions_path(params, run)
    if not path.is_file():
        raise NasrankError(f"{path} is missing; run `nasrank train {run.table} {run.encoding} "
                           f"{run.predictor} {run.loss} --train-size {run.train_size} "
                           f"--seed {run.seed}` first")
    df = pq.read_table(path, columns=["arch_id", "split", "y_true", "y_pred"]).to_pandas()
    return df[df["split"] == "test"].set_index("arch_id")


def renas_rank_scatter(params: Mapping[str, Any]) -> Any:
    """ReNAS's ranking figure: a good ranker puts the points on the diagonal."""
    runs = _scatter_runs(params)
    tests = [_test_predictions(params, r) for _, r in runs]
    fig, axes = _panels(len(runs), 4, DOUBLE_COLUMN, 2.05)
    # the same architectures in every panel (the variants share their split)
    common = np.sort(list(set.intersection(*(set(t.index) for t in tests))))
    k = min(SCATTER_SAMPLE, len(common))
    pick = np.sort(np.random.default_rng(SCATTER_SEED).choice(common, size=k, replace=False))
    for i, (ax, (variant, run), test) in enumerate(zip(axes, runs, tests, strict=True)):
        y_true, y_pred = test["y_true"].to_numpy(), test["y_pred"].to_numpy()
        tau = _kendall_tau(y_true, y_pred)
        shown_true = test.loc[pick, "y_true"].to_numpy()
        shown_pred = test.loc[pick, "y_pred"].to_numpy()
        ax.scatter(_ranks(shown_true), _ranks(shown_pred), s=2, lw=0, alpha=0.6,
                   color=_colour(run.loss), rasterized=True)
        ax.plot([1, k], [1, k], color="0.3", lw=0.6, ls="--")
        ax.set_xlim(0, k + 1)
        ax.set_ylim(0, k + 1)
        ax.set_aspect("equal")
        # lower right: away from the diagonal, where a good ranker leaves it empty
        ax.text(0.97, 0.03, f"τ = {tau:.3f} (all {len(y_true):,})\n"
                f"τ = {_kendall_tau(shown_true, shown_pred):.3f} (shown)",
                transform=ax.transAxes, va="bottom", ha="right", fontsize=7,
                bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.7", "lw": 0.4,
                      "alpha": 0.85})
        ax.set_title(f"{variant}: {run.encoding}, {_label(run.loss)}")
        ax.set_xlabel("true rank")
        if i == 0:
            ax.set_ylabel("predicted rank")
    first = runs[0][1]
    fig.suptitle(f"{first.table}, {first.predictor}: {first.train_size:,} training "
                 f"architectures, seed {first.seed}; {k:,} random test "
                 "architectures (rank 1 = best)")
    return fig


def renas_ktau_vs_train_size(params: Mapping[str, Any]) -> Any:
    """ReNAS Table 2 as lines: colour = loss, line style = encoding."""
    cfg = params["experiments"]["renas_variants"]
    df = _metrics(params, experiment_runs(dict(params), "renas_variants"))
    name_of = {(v["encoding"], v["loss"]): k for k, v in cfg["variants"].items()}
    df["variant"] = [name_of[(e, lo)] for e, lo in zip(df["encoding"], df["loss"], strict=True)]
    summary = _summary(df, ["variant", "encoding", "loss", "train_size"], "kendall_tau")
    fig = _figure(SINGLE_COLUMN, 2.6)
    ax = fig.subplots()
    for i, (variant, g) in enumerate(summary.groupby("variant", sort=False)):
        g = g.sort_values("train_size")
        encoding, loss = g["encoding"].iloc[0], g["loss"].iloc[0]
        _line(ax, g["train_size"].to_numpy(), g["mean"].to_numpy(), g["half"].to_numpy(),
              _colour(loss), ls=ENCODING_STYLES.get(encoding, ":"),
              marker=MARKERS[i % len(MARKERS)],
              label=f"{variant}: {encoding}, {_label(loss)}")
    _size_axis(ax, sorted(cfg["train_sizes"]))
    ax.set_ylabel("Kendall tau (test split)")
    ax.grid(True)
    ax.legend(loc="upper left")
    ax.set_title(f"ReNAS variants on {_table_of(cfg)} ({cfg['predictor']}), "
                 f"{_seeds_note(summary['n'])}")
    return fig


# --------------------------------------------------------------------------- loss study


def loss_ktau_vs_train_size(params: Mapping[str, Any]) -> Any:
    """Kendall tau of every loss against the train size, one panel per table."""
    cfg = params["experiments"]["loss_study"]
    summary = _summary(_metrics(params, experiment_runs(dict(params), "loss_study")),
                       ["table", "loss", "train_size"], "kendall_tau")
    fig, axes = _panels(len(cfg["tables"]), 3, DOUBLE_COLUMN, 2.3)
    handles: list[Any] = []
    for i, (ax, table) in enumerate(zip(axes, cfg["tables"], strict=True)):
        sub = summary[summary["table"] == table]
        for j, loss in enumerate(cfg["losses"]):
            g = sub[sub["loss"] == loss].sort_values("train_size")
            dodge = DODGE ** (j - (len(cfg["losses"]) - 1) / 2)  # points side by side
            line = _line(ax, g["train_size"].to_numpy() * dodge, g["mean"].to_numpy(),
                         g["half"].to_numpy(), _colour(loss), marker=MARKERS[j % len(MARKERS)],
                         label=_label(loss))
            if i == 0:
                handles.append(line)
        _size_axis(ax, sorted(cfg["train_sizes"]))
        ax.set_title(_table_label(table))
        ax.grid(True)
        if i % 3 == 0:
            ax.set_ylabel("Kendall tau (test split)")
    _legend_below(fig, handles, ncol=min(len(handles), 9))
    fig.suptitle(f"Loss study ({cfg['predictor']} predictor, {cfg['encoding']} encoding): "
                 f"Kendall tau vs train size, {_seeds_note(summary['n'])}")
    return fig


def _switch_ablation(params: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The ablation of ``experiments.loss_ablation`` whose losses are all the piecewise
    loss (its switch point varied).

    Raises:
        ConfigError: there is none.
    """
    from nasrank.config import resolve_loss

    cfg = params["experiments"].get("loss_ablation") or {}
    for name, losses in (cfg.get("ablations") or {}).items():
        if all(resolve_loss(dict(params), lo)[0] == "piecewise" for lo in losses):
            return name, list(losses)
    raise ConfigError("params.yaml: experiments.loss_ablation has no ablation of piecewise "
                      "losses only (the switch-point sensitivity figure needs one)")


def _switch_runs(params: Mapping[str, Any]) -> list[Run]:
    losses = set(_switch_ablation(params)[1])
    return [r for r in experiment_runs(dict(params), "loss_ablation") if r.loss in losses]


def loss_piecewise_switch(params: Mapping[str, Any]) -> Any:
    """The piecewise loss's sensitivity to its switch point: each metric against the
    epoch at which it switches from its first loss to its second, per table and train
    size (paper A gives no switch point; nasrank's default is marked)."""
    from nasrank.train import config_from_params

    cfg = params["experiments"]["loss_ablation"]
    _, losses = _switch_ablation(params)
    df = _metrics(params, _switch_runs(params))
    switch: dict[tuple[str, str], float] = {}
    pairs: dict[str, str] = {}
    for table in cfg["tables"]:
        t = TableId(table)
        for lo in losses:
            run = config_from_params(dict(params), bench=t.bench, task=t.task,
                                     encoding=cfg["encoding"], predictor=cfg["predictor"],
                                     loss=lo, train_size=1, seed=0)
            switch[(table, lo)] = float(run.loss_options["switch_epoch"])
            pairs[table] = (f"{_label(run.loss_options['first'])}->"
                            f"{_label(run.loss_options['second'])}")
            epochs = run.epochs
    df["switch_epoch"] = [switch[(str(t), lo)] for t, lo in zip(df["table"], df["loss"],
                                                                strict=True)]
    default = config_from_params(dict(params), bench=TableId(cfg["tables"][0]).bench,
                                 task=TableId(cfg["tables"][0]).task,
                                 encoding=cfg["encoding"], predictor=cfg["predictor"],
                                 loss="piecewise", train_size=1, seed=0
                                 ).loss_options.get("switch_epoch")
    metrics = [("kendall_tau", "Kendall tau"),
               (f"precision_t_{_first_t(params):g}", f"Precision@T, T = {_first_t(params):g} %"),
               (f"n_at_{_first_k(params)}", f"N@{_first_k(params)} (lower is better)")]
    fig, axes = _panels(len(metrics), 3, DOUBLE_COLUMN, 2.6)
    handles: list[Any] = []
    colours = [LOSS_COLOURS[k] for k in ("piecewise", "hr", "mape", "warp", "mse", "lr")]
    for i, (ax, (metric, label)) in enumerate(zip(axes, metrics, strict=True)):
        summary = _summary(df, ["table", "train_size", "switch_epoch"], metric)
        for j, ((table, size), g) in enumerate(summary.groupby(["table", "train_size"],
                                                               sort=False)):
            g = g.sort_values("switch_epoch")
            line = _line(ax, g["switch_epoch"].to_numpy(), g["mean"].to_numpy(),
                         g["half"].to_numpy(), colours[j % len(colours)],
                         marker=MARKERS[j % len(MARKERS)],
                         label=f"{_table_label(str(table))} ({pairs[str(table)]}), "
                               f"n = {size}")
            if i == 0:
                handles.append(line)
        if default is not None:
            ax.axvline(float(default), color="0.5", ls=":", lw=1)
        ax.set_xlabel(f"switch epoch (of {epochs})")
        ax.set_ylabel(label)
        ax.grid(True)
    _legend_below(fig, handles, ncol=min(len(handles), 2))
    seeds = _seeds_note(_summary(df, ["table", "train_size", "loss"], "kendall_tau")["n"])
    fig.suptitle(f"Piecewise loss: sensitivity to the switch point ({cfg['predictor']} "
                 f"predictor, {seeds}; dotted: params.yaml's switch epoch)")
    return fig


@dataclass(frozen=True)
class Heatmap:
    """One loss x table heatmap: the metrics-file key and how to show it."""

    metric: Callable[[Mapping[str, Any]], str]
    label: Callable[[Mapping[str, Any]], str]
    lower_is_better: bool = False
    log_scale: bool = False
    cell: Callable[[float], str] = "{:.2f}".format


def _first_t(params: Mapping[str, Any]) -> float:
    return float(params["evaluation"]["precision_t"][0])


def _first_k(params: Mapping[str, Any]) -> int:
    return int(params["evaluation"]["n_at_k"][0])


def _rank_text(v: float) -> str:
    """A mean rank: whole numbers as such, else one decimal."""
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


HEATMAPS: dict[str, Heatmap] = {
    "kendall_tau": Heatmap(lambda p: "kendall_tau", lambda p: "Kendall tau"),
    "precision_t": Heatmap(lambda p: f"precision_t_{_first_t(p):g}",
                           lambda p: f"Precision@T, T = {_first_t(p):g} %: share of the "
                                     "true top T % predicted there"),
    "n_at_k": Heatmap(lambda p: f"n_at_{_first_k(p)}",
                      lambda p: f"N@{_first_k(p)}: true rank of the best of the "
                                f"predicted top {_first_k(p)}",
                      lower_is_better=True, log_scale=True, cell=_rank_text),
}


def _heatmap(spec: Heatmap, params: Mapping[str, Any]) -> Any:
    """Mean over seeds per loss (rows, params order) and table (columns); best bold."""
    import matplotlib
    from matplotlib.colors import LogNorm, Normalize

    cfg = params["experiments"]["loss_study"]
    metric = spec.metric(params)
    df = _metrics(params, _largest_size_runs(params))
    summary = _summary(df, ["loss", "table"], metric)
    grid = summary.pivot(index="loss", columns="table", values="mean")
    grid = grid.reindex(index=cfg["losses"], columns=cfg["tables"])
    values = grid.to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    norm = (LogNorm(max(lo, 1.0), max(hi, 1.0 + 1e-9)) if spec.log_scale
            else Normalize(lo, hi if hi > lo else lo + 1e-9))
    cmap = matplotlib.colormaps["viridis_r" if spec.lower_is_better else "viridis"]
    cmap = cmap.with_extremes(bad="lightgrey")
    fig = _figure(SINGLE_COLUMN, 1.3 + 0.24 * len(grid))
    ax = fig.subplots()
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, aspect="auto")
    best = (grid.min() if spec.lower_is_better else grid.max()).to_numpy()  # NaN skipped
    for (i, j), v in np.ndenumerate(values):
        r, g, b, _ = cmap(norm(v)) if np.isfinite(v) else (0.8, 0.8, 0.8, 1.0)
        dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5
        ax.text(j, i, spec.cell(v) if np.isfinite(v) else "n/a", ha="center", va="center",
                fontsize=7, color="white" if dark else "black",
                fontweight="bold" if np.isfinite(v) and v == best[j] else "normal")
    ax.set_xticks(range(len(grid.columns)), [_table_label(t) for t in grid.columns],
                  rotation=30, ha="right")
    ax.set_yticks(range(len(grid.index)), [_label(x) for x in grid.index])
    direction = ("lower is better (reversed colours)" if spec.lower_is_better
                 else "higher is better")
    bar = fig.colorbar(im, ax=ax, pad=0.03)
    bar.set_label(direction + ("; log scale" if spec.log_scale else ""), fontsize=7)
    size = max(cfg["train_sizes"])
    ax.set_title(f"{spec.label(params)}\n{cfg['predictor']}, {size:,} training archs, "
                 f"mean of {_seeds_note(summary['n'])}; bold: best", fontsize=7)
    return fig


# --------------------------------------------------------------------------- search


def _loop_init(params: Mapping[str, Any], search: str) -> int:
    """The random initial queries of a predictor-guided search (params.yaml's options)."""
    from nasrank.search import get_search

    options = params["search"]["algorithms"].get(search, {})
    return int(get_search(search, **options).options["init"])


def _trajectories(params: Mapping[str, Any], job: Any) -> tuple[np.ndarray, str]:
    """A search job's best-so-far trajectories ``(seeds, queries)`` (cut to the shortest)
    and its target."""
    from nasrank.search.results import load_results

    reports = load_results(dict(params), [job])
    length = min(len(r["trajectory"]) for r in reports)
    traj = np.array([r["trajectory"][:length] for r in reports], dtype=np.float64)
    return traj, reports[0]["target"]


def _start_at(ax: Any, floor: float) -> None:
    """Start the y axis just below ``floor`` (the lowest mean after the random initial
    queries), where the loops start to differ."""
    top = ax.get_ylim()[1]
    if np.isfinite(floor) and floor < top:
        ax.set_ylim(floor - 0.05 * (top - floor), top)


def search_best_so_far(params: Mapping[str, Any]) -> Any:
    """Best true accuracy found so far against the number of queries, per loss and
    baseline; the y axis starts where the predictor-guided loop starts to differ from
    random (after its ``init`` random queries)."""
    cfg = params["search"]["loss_search"]
    jobs = _search_jobs(params)
    init = _loop_init(params, "predictor_nas")
    fig, axes = _panels(len(cfg["tables"]), 3, DOUBLE_COLUMN if len(cfg["tables"]) > 1
                        else SINGLE_COLUMN, 2.6)
    handles: list[Any] = []
    for i, (ax, table) in enumerate(zip(axes, cfg["tables"], strict=True)):
        floor, n_seeds, target = math.inf, [], ""
        for job in (j for j in jobs if j.table == table):
            traj, target = _trajectories(params, job)
            length = traj.shape[1]
            stats = [mean_ci_half(traj[:, q]) for q in range(length)]
            mean = np.array([s[0] for s in stats])
            half = np.array([s[1] for s in stats])
            name = job.loss if job.search == "predictor_nas" else job.search
            line = _line(ax, np.arange(1, length + 1), mean, half, _colour(name),
                         steps=True, band_alpha=0.08, label=_label(name), lw=1.0,
                         ls="-" if job.search == "predictor_nas" else "--",
                         zorder=3 if job.search == "predictor_nas" else 2)
            if i == 0:
                handles.append(line)
            floor = min(floor, float(mean[min(init, length) - 1]))
            n_seeds.append(len(traj))
        for b in cfg["budgets"]:
            ax.axvline(b, color="0.6", lw=0.5, ls=":")
        _start_at(ax, floor)
        ax.set_xlim(1, max(cfg["budgets"]))
        ax.set_xlabel("queried architectures")
        if i % 3 == 0:
            ax.set_ylabel(f"best {target} so far (%)")
        ax.set_title(f"{_table_label(table)}, {_seeds_note(pd.Series(n_seeds))}")
        ax.grid(True)
    _legend_below(fig, handles, ncol=4 if len(cfg["tables"]) == 1 else 6)
    return fig


def _by_predictor_jobs(params: Mapping[str, Any]) -> list[Any]:
    from nasrank.search.jobs import search_jobs

    return search_jobs(dict(params), "predictor_nas_by_predictor")


def predictor_nas_by_predictor(params: Mapping[str, Any]) -> Any:
    """White et al.'s predictor-based NAS: best true accuracy so far against the queries,
    one panel per table (rows) and loop (columns), one curve per surrogate predictor
    (mean over seeds; the 95 % intervals are in the table of the same name). Each
    predictor keeps its colour and marker across panels; the y axis starts at the
    lowest mean after the loop's random initial queries."""
    cfg = params["search"]["predictor_nas_by_predictor"]
    jobs = _by_predictor_jobs(params)
    style = {p: curve_style(i) for i, p in enumerate(cfg["predictors"])}
    tables, searches = cfg["tables"], cfg["searches"]
    fig = _figure(DOUBLE_COLUMN, 2.5 * len(tables) + 0.9)
    axes = np.atleast_2d(fig.subplots(len(tables), len(searches), squeeze=False))
    handles: dict[str, Any] = {}
    budget = max(cfg["budgets"])
    for r, table in enumerate(tables):
        for c, search in enumerate(searches):
            ax = axes[r][c]
            init = _loop_init(params, search)
            floor, n_seeds, target = math.inf, [], ""
            for job in (j for j in jobs if j.table == table and j.search == search):
                traj, target = _trajectories(params, job)
                length = traj.shape[1]
                mean = traj.mean(axis=0)
                x = np.arange(1, length + 1)
                (line,) = ax.plot(x, mean, drawstyle="steps-post", lw=1.0,
                                  markevery=list(range(init - 1, length, 20)), ms=3.5,
                                  label=job.predictor, **style[job.predictor])
                handles.setdefault(job.predictor, line)
                floor = min(floor, float(mean[min(init, length) - 1]))
                n_seeds.append(len(traj))
            _start_at(ax, floor)
            ax.set_xlim(1, budget)
            ax.axvline(init, color="0.6", lw=0.5, ls=":")
            ax.set_xlabel("queried architectures")
            if c == 0:
                ax.set_ylabel(f"best {target} so far (%)")
            seeds = _seeds_note(pd.Series(n_seeds), interval=False)
            ax.set_title(f"{_table_label(table)}, {search}, {seeds}")
            ax.grid(True)
    _legend_below(fig, [handles[p] for p in cfg["predictors"] if p in handles], ncol=7)
    return fig


# --------------------------------------------------------------------------- NB101 space


def nb101_space_stats(params: Mapping[str, Any]) -> Any:
    """ReNAS Table 5 as two panels: how many cells, and how good, per distance."""
    path = _stats_path(params)
    if not path.is_file():
        raise NasrankError(f"{path} is missing; run `nasrank stats nb101` first")
    df = pd.read_csv(path)
    target = params["stats"]["nb101"]["target"]
    fig = _figure(DOUBLE_COLUMN, 2.4)
    ax_n, ax_acc = fig.subplots(1, 2)
    width = 0.4
    for k, (conv, g) in enumerate(df.groupby("uses_conv3x3", sort=False)):
        g = g.sort_values("distance")
        x = g["distance"].to_numpy() + (k - 0.5) * width
        colour = CONV_COLOURS[bool(conv)]
        word = "with" if conv else "without"
        ax_n.bar(x, g["n_cells"], width, color=colour, alpha=0.45,
                 label=f"{word} conv3x3: all cells")
        ax_n.bar(x, g["n_labelled"], width * 0.55, color=colour,
                 label=f"{word} conv3x3: labelled")
        ax_acc.plot(g["distance"], g["best_acc"], color=colour, marker="o",
                    label=f"{word} conv3x3: best")
        ax_acc.plot(g["distance"], g["mean_acc"], color=colour, marker="s", ls="--",
                    label=f"{word} conv3x3: average")
    ax_n.set_yscale("log")
    ax_n.set_ylabel("number of models")
    ax_n.set_title("models per input->output distance")
    ax_acc.set_ylabel(f"{target} of labelled cells (%)")
    ax_acc.set_title("accuracy per input->output distance")
    for ax in (ax_n, ax_acc):
        ax.set_xlabel("input->output distance (edges)")
        ax.set_xticks(sorted(df["distance"].unique()))
        ax.grid(True, axis="y")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, frameon=False)
    fig.suptitle("NAS-Bench-101 space by input->output distance (ReNAS Table 5)")
    return fig


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class ReportFigure:
    """A figure's drawing function and the files it reads."""

    draw: Draw
    inputs: Callable[[Mapping[str, Any]], list[Path]]


def _heatmap_figure(key: str) -> ReportFigure:
    return ReportFigure(lambda p: _heatmap(HEATMAPS[key], p),
                        lambda p: _metrics_files(_largest_size_runs(p), p))


FIGURES: dict[str, ReportFigure] = {
    "renas_rank_scatter": ReportFigure(
        renas_rank_scatter,
        lambda p: _models_dirs([r for _, r in _scatter_runs(p)], p)),
    "renas_ktau_vs_train_size": ReportFigure(
        renas_ktau_vs_train_size,
        lambda p: _metrics_files(experiment_runs(dict(p), "renas_variants"), p)),
    "loss_ktau_vs_train_size": ReportFigure(
        loss_ktau_vs_train_size,
        lambda p: _metrics_files(experiment_runs(dict(p), "loss_study"), p)),
    **{f"loss_heatmap_{key}": _heatmap_figure(key) for key in HEATMAPS},
    "loss_piecewise_switch": ReportFigure(
        loss_piecewise_switch, lambda p: _metrics_files(_switch_runs(p), p)),
    "search_best_so_far": ReportFigure(
        search_best_so_far,
        lambda p: [job.output_dir(Paths.of(p)) for job in _search_jobs(p)]),
    "predictor_nas_by_predictor": ReportFigure(
        predictor_nas_by_predictor,
        lambda p: [job.output_dir(Paths.of(p)) for job in _by_predictor_jobs(p)]),
    "nb101_space_stats": ReportFigure(nb101_space_stats, lambda p: [_stats_path(p)]),
}


def _writer(draw: Draw) -> Writer:
    def write(params: Mapping[str, Any], dest_stem: Path) -> list[Path]:
        with style():
            return save_figure(draw(params), dest_stem)

    write.__doc__ = draw.__doc__
    return write


#: figure name -> writer(params, dest_stem) -> [<stem>.png, <stem>.pdf]
REPORT_FIGURES: dict[str, Writer] = {name: _writer(f.draw) for name, f in FIGURES.items()}


def figure_inputs(params: Mapping[str, Any], name: str) -> list[str]:
    """The files figure ``name`` reads (the workflow's inputs of its rule).

    Raises:
        UnknownNameError: no such figure.
    """
    if name not in FIGURES:
        raise UnknownNameError("report figure", name, list(FIGURES))
    return [str(p) for p in FIGURES[name].inputs(params)]
