"""Paper A's findings tested on our grids (nasrank.report.findings, table loss_findings).

Metrics and search files are written under a temporary params in the format of
``nasrank evaluate`` / ``nasrank search`` (the helpers of test_report_stats), with values
made so that each claim clearly holds, clearly fails, or cannot be tested.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import tmp_params
from scipy import stats
from test_report_stats import _search_report, _write_metrics

from nasrank.catalog import ALL_TABLES, table_inputs
from nasrank.config import validate_params
from nasrank.experiments import Run, experiment_runs
from nasrank.io import write_json
from nasrank.paths import Paths
from nasrank.report.findings import CLAIMS, FINDINGS_COLUMNS, loss_findings
from nasrank.search.jobs import search_jobs

LOSSES = ["mse", "hr", "listmle", "warp", "mape", "mse_sr", "piecewise"]
TABLES = ["nbmacro", "nb201-cifar10"]
SIZES = [50, 400]
SEEDS = [0, 1, 2, 3]
#: Kendall tau per loss at the small and the large size: ranking best with little data
TAU = {50: {"mse": 0.40, "hr": 0.60, "listmle": 0.58, "warp": 0.45, "mape": 0.44,
            "mse_sr": 0.50, "piecewise": 0.55},
       400: {"mse": 0.60, "hr": 0.70, "listmle": 0.70, "warp": 0.72, "mape": 0.71,
             "mse_sr": 0.65, "piecewise": 0.72}}


def _noise(run: Run) -> float:
    return ((run.seed * 7 + len(run.table)) % 5 - 2) / 1000


def _values(run: Run, weighted_top: bool) -> dict[str, float]:
    tau = TAU[run.train_size][run.loss] + _noise(run)
    weighted = run.loss in ("warp", "mape")
    top = 0.4 if (weighted == weighted_top and run.loss != "mse") else 0.2
    if run.loss == "mse":
        top = 0.05
    return {"kendall_tau": tau, "precision_t_0.5": top + _noise(run),
            "n_at_10": (5 if top == 0.4 else 50 if top == 0.2 else 400) + run.seed}


def _grid(tmp_path: Path, weighted_top: bool = True,
          losses: list[str] | None = None) -> dict[str, Any]:
    params = tmp_params(tmp_path)
    losses = losses or LOSSES
    params["experiments"]["loss_study"].update(tables=TABLES, losses=losses,
                                               train_sizes=SIZES, seeds=SEEDS)
    params["search"]["loss_search"].update(tables=TABLES, losses=losses, baselines=[],
                                           budgets=[50], seeds=SEEDS)
    validate_params(params)
    for run in experiment_runs(params, "loss_study"):
        _write_metrics(params, run, _values(run, weighted_top))
    for job in search_jobs(params, "loss_search"):
        for seed in job.seeds:
            acc = 94.0 + (0.5 if job.loss == "piecewise" else 0.0) - 0.01 * seed
            write_json(job.outputs(Paths.of(params))[SEEDS.index(seed)],
                       _search_report(job, seed, {50: acc}))
    return params


def _row(df: Any, claim: str, metric: str, side_b: str | None = None) -> dict[str, Any]:
    sel = df[(df.claim.str.startswith(claim)) & (df.metric == metric)]
    if side_b is not None:
        sel = sel[sel.side_b == side_b]
    assert len(sel) == 1, sel
    return sel.iloc[0].to_dict()


def test_claims_that_hold_are_supported(tmp_path: Path) -> None:
    df = loss_findings(_grid(tmp_path))
    assert list(df.columns) == FINDINGS_COLUMNS and len(df) == len(CLAIMS)
    ranking = _row(df, "ranking losses", "kendall_tau", "family:regression")
    # smallest size only: 2 tables x 4 seeds; ranking = mean(hr, listmle, mse_sr)
    assert ranking["train_sizes"] == "50" and ranking["n_cells"] == 8
    assert ranking["mean_a"] == pytest.approx((0.60 + 0.58 + 0.50) / 3, abs=0.003)
    assert ranking["a_better_share"] == 1.0 and ranking["verdict"] == "supports"
    assert ranking["p_value"] == pytest.approx(stats.wilcoxon([1] * 8).pvalue)
    weighted = _row(df, "weighted losses", "n_at_10")
    assert weighted["train_sizes"] == "400" and weighted["higher_is_better"] is False
    assert weighted["mean_diff"] < 0 and weighted["verdict"] == "supports"
    for metric in ("n_at_10", "precision_t_0.5"):
        assert _row(df, "MSE is the worst", metric)["verdict"] == "supports"
    assert _row(df, "MSE+SR", "kendall_tau")["verdict"] == "contradicts"   # 0.50 > 0.40
    search = _row(df, "the piecewise", "best_accuracy")
    assert search["n_cells"] == 8 and search["mean_diff"] == pytest.approx(0.5)
    assert search["verdict"] == "supports"


def test_claims_that_fail_are_contradicted(tmp_path: Path) -> None:
    df = loss_findings(_grid(tmp_path, weighted_top=False))
    for metric in ("n_at_10", "precision_t_0.5"):
        assert _row(df, "weighted losses", metric)["verdict"] == "contradicts"


def test_a_loss_missing_from_the_grid_is_not_testable(tmp_path: Path) -> None:
    df = loss_findings(_grid(tmp_path, losses=["hr", "warp", "mape"]))
    row = _row(df, "MSE+SR", "kendall_tau")
    assert row["verdict"] == "not testable" and "mse is not in the grid" in row["note"]
    row = _row(df, "ranking losses", "kendall_tau", "family:regression")
    assert row["verdict"] == "not testable"
    assert "family:regression is not in the grid" in row["note"]


def test_few_cells_say_why_inconclusive(tmp_path: Path) -> None:
    params = tmp_params(tmp_path)
    params["experiments"]["loss_study"].update(tables=["nbmacro"], losses=["mse", "hr"],
                                               train_sizes=[100], seeds=[0, 1, 2])
    params["search"]["loss_search"].update(tables=["nbmacro"], losses=["hr", "piecewise"],
                                           baselines=[], budgets=[50], seeds=[0])
    for run in experiment_runs(params, "loss_study"):
        _write_metrics(params, run, {"kendall_tau": 0.5 + 0.1 * (run.loss == "hr")
                                     + 0.01 * run.seed})
    for job in search_jobs(params, "loss_search"):
        write_json(job.outputs(Paths.of(params))[0], _search_report(job, 0, {50: 93.0}))
    df = loss_findings(params)
    row = _row(df, "ranking losses", "kendall_tau", "family:regression")
    assert row["verdict"] == "inconclusive" and row["mean_diff"] == pytest.approx(0.1)
    assert "3 non-zero pairs: p cannot fall below 0.25" in row["note"]
    assert "one train size in the grid" in row["note"]
    search = _row(df, "the piecewise", "best_accuracy")
    assert search["verdict"] == "inconclusive" and "the test needs 2" in search["note"]


def test_registered_with_its_inputs(tmp_path: Path) -> None:
    params = _grid(tmp_path)
    assert ALL_TABLES["loss_findings"] is loss_findings
    inputs = table_inputs(params, "loss_findings")
    assert all(Path(p).is_dir() for p in inputs)
    assert any("metrics" in p for p in inputs) and any("search" in p for p in inputs)
