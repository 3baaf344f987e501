"""Tests of the statistics over seeds and the paired tests between losses
(nasrank.report.stats).

The tests and the interval are checked against scipy and hand computations on small
known data; the tables against metrics and search files the test writes in the exact
format of ``nasrank evaluate`` / ``nasrank search`` under a temporary params; one test
reads the repository's committed single-seed reports. Everything runs in a few seconds.
"""

from __future__ import annotations

import copy
import json
import math
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, tmp_params
from scipy import stats

from nasrank.config import load_params, validate_params
from nasrank.errors import NasrankError, UnknownNameError
from nasrank.experiments import Run, experiment_runs, metrics_inputs, metrics_path
from nasrank.io import write_json
from nasrank.losses import LOSSES
from nasrank.metrics import strict_metrics
from nasrank.paths import Paths
from nasrank.report.stats import (
    ALPHA,
    LOSS_FAMILIES,
    STATS_TABLES,
    higher_is_better,
    holm,
    loss_family,
    loss_pairwise,
    loss_ranks,
    loss_stats,
    loss_wins,
    mean_ci,
    paired_wilcoxon,
    search_stats,
    stats_inputs,
    study_metrics,
)
from nasrank.search.jobs import search_jobs
from nasrank.search.tables import loss_search_table

METRICS = ["kendall_tau", "precision_t_0.5", "precision_t_1", "precision_t_5",
           "precision_t_10", "n_at_10"]
T_975_3 = 3.182446305284263   # Student t quantile 0.975 with 3 degrees of freedom (tables)

# --------------------------------------------------------------------------- primitives


def test_mean_ci_against_a_hand_computation() -> None:
    mean, half = mean_ci([1.0, 2.0, 3.0, 4.0])
    s = math.sqrt(((1.5**2) * 2 + (0.5**2) * 2) / 3)         # sample std, ddof 1
    assert mean == pytest.approx(2.5, abs=1e-15)
    assert half == pytest.approx(T_975_3 * s / 2, rel=1e-12)
    assert half == pytest.approx(2.0542, abs=1e-4)
    m1, h1 = mean_ci([0.7])
    assert m1 == 0.7 and math.isnan(h1)
    assert all(math.isnan(v) for v in mean_ci([]))
    assert mean_ci([0.3, 0.3, 0.3]) == (pytest.approx(0.3), 0.0)


def test_paired_wilcoxon_matches_scipy_and_pairs_by_seed() -> None:
    x = [0.61, 0.72, 0.55, 0.68, 0.70, 0.59, 0.64, 0.66]
    y = [0.58, 0.70, 0.57, 0.61, 0.69, 0.50, 0.60, 0.66]
    a = {s: v for s, v in enumerate(x)}
    # b in another order, one seed a lacks, one NaN seed: matched by seed, NaN dropped
    b = {s: y[s] for s in reversed(range(8))} | {8: 0.9}
    b_nan = {**b, 3: float("nan")}
    t = paired_wilcoxon(a, b)
    ref = stats.wilcoxon(np.array(x) - np.array(y))
    assert t.n == 8 and t.note == ""
    assert t.mean_diff == pytest.approx(statistics.fmean(np.array(x) - np.array(y)))
    assert t.statistic == pytest.approx(float(ref.statistic))
    assert t.p_value == pytest.approx(float(ref.pvalue), rel=1e-12)
    assert t.p_value == pytest.approx(float(stats.wilcoxon(x, y).pvalue), rel=1e-12)
    t_nan = paired_wilcoxon(a, b_nan)
    keep = [s for s in range(8) if s != 3]
    assert t_nan.n == 7
    assert t_nan.p_value == pytest.approx(float(stats.wilcoxon(
        [x[s] - y[s] for s in keep]).pvalue), rel=1e-12)


def test_paired_wilcoxon_exact_small_sample() -> None:
    """Five positive differences: W- = 0 and the exact two-sided p is 2 / 2**5."""
    t = paired_wilcoxon({s: 1.0 + s for s in range(5)}, {s: 0.0 for s in range(5)})
    assert t.statistic == 0.0 and t.p_value == pytest.approx(2 / 32)
    assert "cannot fall below 0.0625" in t.note
    six = paired_wilcoxon({s: 1.0 + s for s in range(6)}, {s: 0.0 for s in range(6)})
    assert six.p_value == pytest.approx(2 / 64) and six.p_value < ALPHA and six.note == ""


def test_single_seed_and_zero_differences_give_nan_with_a_note() -> None:
    one = paired_wilcoxon({0: 0.7}, {0: 0.5})
    assert one.n == 1 and math.isnan(one.p_value) and math.isnan(one.statistic)
    assert one.mean_diff == pytest.approx(0.2) and "needs 2" in one.note
    none = paired_wilcoxon({0: 0.7}, {1: 0.5})
    assert none.n == 0 and math.isnan(none.mean_diff) and "needs 2" in none.note
    zero = paired_wilcoxon({0: 3, 1: 5, 2: 7}, {0: 3, 1: 5, 2: 7})
    assert math.isnan(zero.p_value) and zero.note == "all paired differences are zero"


def test_holm_against_a_hand_computation() -> None:
    # sorted 0.01, 0.03, 0.04 -> 3 x 0.01, 2 x 0.03, max(0.06, 1 x 0.04); NaN: no test
    out = holm([0.01, 0.04, 0.03, float("nan")])
    assert out[:3] == pytest.approx([0.03, 0.06, 0.06]) and math.isnan(out[3])
    assert holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])
    assert holm([]).shape == (0,)


def test_directions_and_families() -> None:
    assert not higher_is_better("n_at_10") and not higher_is_better("n_at_3")
    assert higher_is_better("kendall_tau") and higher_is_better("precision_t_0.5")
    assert not higher_is_better("mae")
    assert set(LOSSES) <= set(LOSS_FAMILIES)
    study = {"mse": "regression", "hr": "ranking", "lr": "ranking", "mse_sr": "ranking",
             "listmle": "ranking", "ew": "weighted", "mape": "weighted", "warp": "weighted",
             "piecewise": "piecewise"}
    assert {lo: loss_family(lo) for lo in study} == study
    with pytest.raises(UnknownNameError, match="nope"):
        loss_family("nope")


# --------------------------------------------------------------------------- fixtures

#: structure of a real ``reports/metrics/.../s0.json`` (nb201-cifar10 hr n100 s0)
METRICS_FILE: dict[str, Any] = {
    "config": {"batch_size": 32, "bench": "nb201", "device": "auto", "device_kind": "cpu",
               "encoding": "gcn", "epochs": 200, "loss": "hr", "loss_options": {"margin": 0.1},
               "learning_rate": 0.001, "model_format": "torch", "n_labelled": 15625,
               "n_test": 15525,
               "naslib_test_size": 200, "nasrank_version": "0.1.0",
               "predictor": "gcn", "predictor_options": {"dropout": 0.1, "hidden": 144,
                                                         "layers": 4},
               "protocol": "renas", "run_id": "", "seed": 0, "select": "last",
               "target": "test_acc_200", "task": "cifar10", "train_size": 100,
               "weight_decay": 0.0},
    "metrics": {"kendall_tau": 0.707507074781798, "mae": 83.81516150465312, "n": 15525,
                "n_at_10": 167, "pearson": 0.48504372087257547, "precision_at_10": 0.0,
                "precision_at_20": 0.0, "precision_t_0.5": 0.05128205128205128,
                "precision_t_1": 0.09615384615384616, "precision_t_10": 0.6142949130714745,
                "precision_t_5": 0.42985842985842987, "rmse": 87.92320218638879,
                "sparse_kendall_tau": 0.7078264358304558, "spearman": 0.889733243560379,
                "weighted_kendall_tau": 0.8543295232958741},
    "run_id": "",
    "train_metrics": {},
}

TABLES = ["nbmacro", "nb201-cifar10"]
LOSSES_SMALL = ["mse", "hr", "warp"]
SIZES = [50, 100]
SEEDS = [0, 1, 2, 3, 4, 5]
#: per table: mean Kendall tau of each loss (nb201: warp beats hr, so ranks differ)
TAU = {"nbmacro": {"mse": 0.50, "hr": 0.80, "warp": 0.70},
       "nb201-cifar10": {"mse": 0.40, "hr": 0.60, "warp": 0.65}}
#: N@10 (lower is better): hr finds the top on both tables
N_AT_10 = {"mse": 300, "hr": 4, "warp": 20}


def _values(run: Run) -> dict[str, float]:
    """Deterministic per-seed metrics with seed noise smaller than the loss gaps."""
    noise = ((run.seed * 7 + run.train_size) % 5 - 2) / 1000
    tau = TAU[run.table][run.loss] + noise + run.train_size / 10_000
    return {"kendall_tau": tau, "precision_t_0.5": 0.5 * tau, "precision_t_1": 0.6 * tau,
            "precision_t_5": 0.7 * tau, "precision_t_10": 0.8 * tau,
            "n_at_10": N_AT_10[run.loss] + run.seed % 3}


def _write_metrics(params: dict[str, Any], run: Run, values: dict[str, float],
                   old: bool = False) -> None:
    """One metrics file exactly as ``nasrank evaluate`` writes it (strict JSON: NaN as
    null plus a warning); ``old``: as it wrote them before, with NaN tokens."""
    report = copy.deepcopy(METRICS_FILE)
    report["config"].update(run_id=run.run_id, loss=run.loss, seed=run.seed,
                            train_size=run.train_size,
                            bench=run.bench, task=run.task)
    report["run_id"] = run.run_id
    report["metrics"].update(values)
    report["train_metrics"] = dict(report["metrics"])
    if old:
        path = metrics_path(params, run)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    else:
        write_json(metrics_path(params, run), strict_metrics(report))


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Params of a 2-table x 3-loss x 2-size x 6-seed grid, its files written once."""
    params = tmp_params(tmp_path_factory.mktemp("stats"))
    params["experiments"]["loss_study"].update(tables=TABLES, losses=LOSSES_SMALL,
                                               train_sizes=SIZES, seeds=SEEDS)
    validate_params(params)
    for run in experiment_runs(params, "loss_study"):
        _write_metrics(params, run, _values(run))
    return params


def _expected(params: dict[str, Any]) -> pd.DataFrame:
    rows = [{"table": r.table, "loss": r.loss, "train_size": r.train_size, "seed": r.seed,
             "metric": m, "value": v}
            for r in experiment_runs(params, "loss_study") for m, v in _values(r).items()]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- tables


def test_study_metrics_follow_params(study: dict[str, Any]) -> None:
    assert study_metrics(study) == METRICS
    p = copy.deepcopy(study)
    p["evaluation"].update(precision_t=[0.5], n_at_k=[5, 10])
    assert study_metrics(p) == ["kendall_tau", "precision_t_0.5", "n_at_5", "n_at_10"]


def test_loss_stats(study: dict[str, Any]) -> None:
    df = loss_stats(study)
    assert list(df.columns) == ["table", "loss", "family", "train_size", "metric", "n_seeds",
                                "n_nan", "mean", "ci95"]
    assert len(df) == len(TABLES) * len(LOSSES_SMALL) * len(SIZES) * len(METRICS)
    # params order: table, loss, train size, metric
    assert list(df.table.unique()) == TABLES and list(df.metric[:6]) == METRICS
    assert list(df.loss[:12]) == ["mse"] * 12 and list(df.train_size[:12]) == [50] * 6 + [100] * 6
    exp = _expected(study)
    for row in df.to_dict("records"):
        v = exp[(exp.table == row["table"]) & (exp.loss == row["loss"])
                & (exp.train_size == row["train_size"]) & (exp.metric == row["metric"])].value
        half = stats.t.ppf(0.975, len(v) - 1) * statistics.stdev(v) / math.sqrt(len(v))
        assert row["n_seeds"] == 6 and row["n_nan"] == 0
        assert row["mean"] == pytest.approx(statistics.fmean(v), abs=1e-12)
        assert row["ci95"] == pytest.approx(half, rel=1e-9)
        assert row["family"] == LOSS_FAMILIES[row["loss"]]


def _row(df: pd.DataFrame, **keys: Any) -> dict[str, Any]:
    mask = np.ones(len(df), dtype=bool)
    for k, v in keys.items():
        mask &= (df[k] == v).to_numpy()
    assert mask.sum() == 1, keys
    return df[mask].iloc[0].to_dict()


def test_loss_pairwise_against_scipy_and_directions(study: dict[str, Any]) -> None:
    df = loss_pairwise(study)
    assert len(df) == len(TABLES) * len(SIZES) * len(METRICS) * 3
    assert list(zip(df.loss_a[:3], df.loss_b[:3], strict=True)) == [
        ("mse", "hr"), ("mse", "warp"), ("hr", "warp")]
    exp = _expected(study)
    for table in TABLES:
        for size in SIZES:
            for metric in ("kendall_tau", "n_at_10"):
                sel = exp[(exp.table == table) & (exp.train_size == size)
                          & (exp.metric == metric)]
                x = sel[sel.loss == "mse"].value.to_numpy()
                y = sel[sel.loss == "hr"].value.to_numpy()
                row = _row(df, table=table, train_size=size, metric=metric, loss_a="mse",
                           loss_b="hr")
                assert row["n_seeds"] == 6
                assert row["mean_diff"] == pytest.approx((x - y).mean())
                assert row["p_value"] == pytest.approx(float(stats.wilcoxon(x, y).pvalue))
                # hr wins both: higher tau (mse - hr < 0), lower N@10 (mse - hr > 0)
                assert row["better"] == "hr"
                assert (row["mean_diff"] < 0) == (metric == "kendall_tau")
    # all six differences have one sign: exact p = 2 / 64, Holm x 3 pairs
    row = _row(df, table="nbmacro", train_size=50, metric="kendall_tau", loss_a="mse",
               loss_b="hr")
    cell = df[(df.table == "nbmacro") & (df.train_size == 50) & (df.metric == "kendall_tau")]
    assert row["p_value"] == pytest.approx(2 / 64)
    assert list(cell.p_holm) == pytest.approx(list(holm(cell.p_value)))
    assert row["p_holm"] == pytest.approx(3 * 2 / 64) and not row["significant"]
    assert (cell.note == "").all()


def test_loss_ranks_and_friedman(study: dict[str, Any]) -> None:
    df = loss_ranks(study)
    assert list(df.columns) == ["metric", "train_size", "loss", "family", "mean_rank",
                                "n_tables", "friedman_statistic", "friedman_p", "note"]
    assert len(df) == len(METRICS) * len(SIZES) * len(LOSSES_SMALL)
    tau = df[(df.metric == "kendall_tau") & (df.train_size == 100)]
    # nbmacro: hr 1, warp 2, mse 3; nb201: warp 1, hr 2, mse 3 -> hr, warp tie at 1.5
    assert list(tau.loss) == ["hr", "warp", "mse"]
    assert list(tau.mean_rank) == [1.5, 1.5, 3.0] and (tau.n_tables == 2).all()
    exp = _expected(study)
    sel = exp[(exp.metric == "kendall_tau") & (exp.train_size == 100)]
    means = sel.groupby(["table", "loss"]).value.mean().unstack()[LOSSES_SMALL]
    ref = stats.friedmanchisquare(*means.to_numpy().T)
    assert tau.friedman_statistic.iloc[0] == pytest.approx(float(ref.statistic))
    assert tau.friedman_p.iloc[0] == pytest.approx(float(ref.pvalue))
    n_at = df[(df.metric == "n_at_10") & (df.train_size == 50)]
    assert list(n_at.loss) == ["hr", "warp", "mse"] and list(n_at.mean_rank) == [1, 2, 3]
    assert list(df.metric.unique()) == METRICS


def test_friedman_needs_three_losses(study: dict[str, Any]) -> None:
    p = copy.deepcopy(study)
    p["experiments"]["loss_study"]["losses"] = ["mse", "hr"]
    df = loss_ranks(p)
    assert df.friedman_p.isna().all() and df.friedman_statistic.isna().all()
    assert df.note.str.contains("needs >= 3 losses").all()
    p["experiments"]["loss_study"].update(losses=LOSSES_SMALL, tables=["nbmacro"])
    assert loss_ranks(p).note.str.contains("2 tables; got 3 and 1").all()


def test_loss_wins(study: dict[str, Any]) -> None:
    df = loss_wins(study)
    assert len(df) == len(TABLES) * len(SIZES) * len(METRICS)
    stats_df = loss_stats(study)
    for row in df.to_dict("records"):
        means = stats_df[(stats_df.table == row["table"])
                         & (stats_df.train_size == row["train_size"])
                         & (stats_df.metric == row["metric"])].set_index("loss")["mean"]
        ordered = (means.sort_values(ascending=False, kind="stable")
                   if higher_is_better(row["metric"]) else means.sort_values(kind="stable"))
        assert row["winner"] == ordered.index[0] and row["runner_up"] == ordered.index[1]
        assert row["winner_mean"] == pytest.approx(ordered.iloc[0])
        assert row["winner_family"] == LOSS_FAMILIES[row["winner"]]
        # six seeds, every difference in the winner's favour: p = 2 / 64 < 0.05
        assert row["p_value"] == pytest.approx(2 / 64) and row["significant"]
    n_at = _row(df, table="nb201-cifar10", train_size=50, metric="n_at_10")
    assert (n_at["winner"], n_at["runner_up"]) == ("hr", "warp")     # lowest N@10 wins
    tau = _row(df, table="nb201-cifar10", train_size=50, metric="kendall_tau")
    assert (tau["winner"], tau["runner_up"]) == ("warp", "hr")


@pytest.mark.parametrize("old", [False, True], ids=["strict", "old_nan_tokens"])
def test_nan_metric_values_are_counted_and_left_out(tmp_path: Path, old: bool) -> None:
    """Undefined values (null plus a warning in the files, or NaN tokens in files written
    before issue 20 item 7) are left out, counted and explained in loss_stats' note."""
    params = tmp_params(tmp_path)
    params["experiments"]["loss_study"].update(tables=["nbmacro"], losses=LOSSES_SMALL,
                                               train_sizes=[50], seeds=[0, 1, 2])
    for run in experiment_runs(params, "loss_study"):
        v = _values(run)
        if run.loss == "mse":           # a constant predictor: undefined correlation
            v["kendall_tau"] = float("nan") if run.seed < 2 else 0.1
        if run.loss == "warp":
            v["kendall_tau"] = float("nan")
        _write_metrics(params, run, v, old=old)
    table = loss_stats(params)
    st = _row(table, loss="mse", metric="kendall_tau")
    assert (st["n_seeds"], st["n_nan"], st["mean"]) == (1, 2, pytest.approx(0.1))
    assert math.isnan(st["ci95"])
    assert st["note"] == ("kendall_tau: no value in 2 of 3 seeds, undefined (constant "
                          "predictions or labels)")
    warp = _row(table, loss="warp", metric="kendall_tau")
    assert math.isnan(warp["mean"]) and "no value in 3 of 3 seeds" in warp["note"]
    assert _row(table, loss="hr", metric="kendall_tau")["note"] == ""
    pw = _row(loss_pairwise(params), loss_a="mse", loss_b="hr", metric="kendall_tau")
    assert pw["n_seeds"] == 1 and math.isnan(pw["p_value"]) and "needs 2" in pw["note"]
    wins = _row(loss_wins(params), metric="kendall_tau")
    assert (wins["winner"], wins["runner_up"]) == ("hr", "mse")   # warp: no finite mean
    ranks = loss_ranks(params)
    tau = ranks[ranks.metric == "kendall_tau"]
    assert (tau.n_tables == 0).all() and tau.mean_rank.isna().all()
    assert tau.note.str.contains("1 table").all()


def test_missing_and_stale_metrics_files(tmp_path: Path) -> None:
    params = tmp_params(tmp_path)
    params["experiments"]["loss_study"].update(tables=["nbmacro"], losses=["hr", "mse"],
                                               train_sizes=[50], seeds=[0])
    runs = experiment_runs(params, "loss_study")
    _write_metrics(params, runs[0], _values(runs[0]))
    with pytest.raises(NasrankError, match=r"nbmacro/gcn/gcn/mse/n50/s0\.json is missing; "
                       r"run `nasrank evaluate nbmacro gcn gcn mse --train-size 50 --seed 0`"):
        loss_wins(params)
    _write_metrics(params, runs[1], _values(runs[1]))
    params["evaluation"]["n_at_k"] = [10, 3]
    with pytest.raises(NasrankError, match=r"hr/n50/s0\.json has no 'n_at_3'.*nasrank evaluate"):
        loss_stats(params)


def test_tables_are_deterministic(study: dict[str, Any]) -> None:
    for name, build in STATS_TABLES.items():
        if name != "search_stats":
            pd.testing.assert_frame_equal(build(study), build(study))


def test_stats_inputs(study: dict[str, Any]) -> None:
    paths = metrics_inputs(study, experiment_runs(study, "loss_study"))
    for name in ("loss_stats", "loss_pairwise", "loss_ranks", "loss_wins"):
        assert stats_inputs(study, name) == paths
    search = stats_inputs(study, "search_stats")
    assert search == [str(j.output_dir(Paths.of(study)))
                      for j in search_jobs(study, "loss_search")]
    assert set(STATS_TABLES) == {"loss_stats", "loss_pairwise", "loss_ranks", "loss_wins",
                                 "search_stats"}
    with pytest.raises(UnknownNameError, match="loss_stats"):
        stats_inputs(study, "nope")


# --------------------------------------------------------------------------- search


def _search_report(job: Any, seed: int, acc: dict[int, float]) -> dict[str, Any]:
    """A per-seed report with the keys ``nasrank search`` writes (values made up)."""
    results = [{"budget": b, "queries": b, "best_arch_id": f"a{b}", "best_accuracy": acc[b],
                "best_rank": int(100 - acc[b]), "best_percentile": (100 - acc[b]) / 10,
                "pool_rank": int(100 - acc[b])} for b in job.budgets]
    best = results[-1]
    return {"key": job.key, "experiment": "loss_search", "table": job.table,
            "search": job.search, "seed": seed, "target": "test_acc", "candidates": "x",
            "space_size": 3969, "n_labelled": 3969, "pool_size": 3969,
            "encoding": job.encoding, "predictor": job.predictor, "loss": job.loss,
            "loss_options": None if job.loss is None else {}, "train_size": None,
            "sample": None, "subspace": "all", "options": {}, "budgets": list(job.budgets),
            "results": results, **{k: best[k] for k in ("best_arch_id", "best_accuracy",
                                                         "best_rank", "best_percentile")},
            "queries": max(job.budgets), "trajectory": [], "queried": [], "info": {}}


def test_search_stats(tmp_path: Path) -> None:
    params = tmp_params(tmp_path)
    params["search"]["loss_search"].update(tables=["nbmacro"], losses=["hr", "mse"],
                                           baselines=["random"], budgets=[100, 50],
                                           seeds=[0, 1, 2])
    validate_params(params)
    jobs = search_jobs(params, "loss_search")
    expected: dict[tuple[str, int], list[float]] = {}
    for k, job in enumerate(jobs):
        for seed in job.seeds:
            acc = {b: 90 + k + 0.1 * seed ** 2 + b / 100 for b in job.budgets}
            for b, v in acc.items():
                expected.setdefault((job.loss or job.search, b), []).append(v)
            write_json(job.outputs(Paths.of(params))[seed],
                       _search_report(job, seed, acc))
    df = search_stats(params)
    assert list(df.columns) == ["table", "method", "search", "target", "budget", "n_seeds",
                                "accuracy_mean", "accuracy_ci95", "percentile_mean",
                                "percentile_ci95"]
    assert list(zip(df.method, df.budget, strict=True)) == [
        ("hr", 50), ("hr", 100), ("mse", 50), ("mse", 100), ("random", 50), ("random", 100)]
    for row in df.to_dict("records"):
        v = expected[(row["method"], row["budget"])]
        assert row["n_seeds"] == 3
        assert row["accuracy_mean"] == pytest.approx(statistics.fmean(v))
        assert row["accuracy_ci95"] == pytest.approx(
            stats.t.ppf(0.975, 2) * statistics.stdev(v) / math.sqrt(3))
        assert row["percentile_mean"] == pytest.approx(statistics.fmean(
            (100 - a) / 10 for a in v))
    (Path(params["reports"]["search_dir"]) / "nbmacro" / "random" / "s2.json").unlink()
    with pytest.raises(NasrankError, match=r"random/s2\.json is missing; run `nasrank search "
                                           r"nbmacro/random`"):
        search_stats(params)


def test_search_values_without_a_number_are_missing_with_a_note(tmp_path: Path) -> None:
    """A search report whose value is null (strict JSON, with a warning): left out of the
    means, and the search table's note says which and why (issue 20, item 7)."""
    params = tmp_params(tmp_path)
    params["search"]["loss_search"].update(tables=["nbmacro"], losses=["hr"], baselines=[],
                                           budgets=[50], seeds=[0, 1, 2])
    validate_params(params)
    (job,) = search_jobs(params, "loss_search")
    for seed in job.seeds:
        report = _search_report(job, seed, {50: 90.0 + seed})
        if seed == 0:
            report["results"][0]["best_percentile"] = math.inf
        dest = job.outputs(Paths.of(params))[seed]
        write_json(dest, strict_metrics(report))
    text = job.outputs(Paths.of(params))[0].read_text(encoding="utf-8")
    assert '"best_percentile": null' in text
    assert "results[0].best_percentile: inf (overflow)" in json.loads(text)["warnings"]
    row = search_stats(params).iloc[0]
    assert row["accuracy_mean"] == pytest.approx(91.0)
    assert row["percentile_mean"] == pytest.approx(((100 - 91) + (100 - 92)) / 20)
    table = loss_search_table(params).iloc[0]
    assert table["percentile_mean"] == pytest.approx(row["percentile_mean"])
    assert table["note"] == "best_percentile: no value in 1 of 3 seeds, inf (overflow)"


# --------------------------------------------------------------------------- real reports


def _committed_params() -> dict[str, Any]:
    """params.yaml pinned to the committed default-grid reports (5 tables x 9 losses x 3
    train sizes x 5 seeds; the loss search with one seed)."""
    params = load_params(REPO / "params.yaml")
    params["reports"] = {k: str(REPO / v) for k, v in params["reports"].items()}
    params["evaluation"].update(precision_t=[0.5, 1, 5, 10], n_at_k=[10])
    losses = ["mse", "hr", "lr", "mse_sr", "listmle", "ew", "mape", "warp", "piecewise"]
    params["experiments"]["loss_study"].update(
        tables=["nb101", "nb201-cifar10", "tnb101_micro-class_object", "nbgraph-cora",
                "darts"], losses=losses,
        train_sizes=[25, 50, 100], seeds=[0, 1, 2, 3, 4], predictor="gcn", encoding="gcn")
    params["search"]["loss_search"].update(
        tables=["nb201-cifar10"], losses=losses, baselines=["random", "regularized_evolution"],
        budgets=[50, 100], seeds=[0], predictor="gcn", encoding="gcn")
    return params


def test_committed_reports() -> None:
    params = _committed_params()
    for name in STATS_TABLES:
        missing = [p for p in stats_inputs(params, name) if not Path(p).exists()]
        assert not missing, missing
    raw: dict[tuple[str, int, str], list[dict[str, float]]] = {}
    for run in experiment_runs(params, "loss_study"):
        with open(metrics_path(params, run), encoding="utf-8") as f:
            raw.setdefault((run.table, run.train_size, run.loss), []).append(
                json.load(f)["metrics"])

    def mean(table: str, size: int, loss: str, metric: str) -> float:
        return float(np.mean([m[metric] for m in raw[(table, size, loss)]]))

    st = loss_stats(params)
    assert st.shape == (5 * 9 * 3 * 6, 9) and (st.n_seeds == 5).all()
    assert st.ci95.notna().all() and (st.ci95 >= 0).all()  # every cell has its interval
    row = _row(st, table="nb201-cifar10", loss="hr", train_size=100, metric="kendall_tau")
    assert row["mean"] == pytest.approx(mean("nb201-cifar10", 100, "hr", "kendall_tau"))

    pw = loss_pairwise(params)
    assert pw.shape == (5 * 3 * 6 * 36, 15)
    assert pw.p_value.notna().mean() > 0.9   # undefined only where all 5 pairs tie
    assert (pw.p_value.dropna() >= 0.0625 - 1e-12).all()  # 5 seeds: exact p >= 2 / 2**5

    wins = loss_wins(params)
    assert wins.shape == (5 * 3 * 6, 14) and (wins.n_seeds == 5).all()
    for row in wins.to_dict("records"):
        values = {lo: mean(row["table"], row["train_size"], lo, row["metric"])
                  for lo in params["experiments"]["loss_study"]["losses"]}
        best = (max if higher_is_better(row["metric"]) else min)(values.values())
        assert row["winner_mean"] == pytest.approx(best)
        assert values[row["winner"]] == pytest.approx(best)

    ranks = loss_ranks(params)
    assert ranks.shape == (6 * 3 * 9, 9) and (ranks.n_tables == 5).all()
    assert ranks.friedman_p.between(0, 1).all()
    for _, cell in ranks.groupby(["metric", "train_size"]):
        assert cell.mean_rank.sum() == pytest.approx(9 * 10 / 2)   # ranks 1..9 per table

    ss = search_stats(params)
    assert ss.shape == (11 * 2, 10) and ss.accuracy_ci95.isna().all()
    ref = loss_search_table(params)
    pd.testing.assert_series_equal(ss.accuracy_mean, ref.accuracy_mean)
    pd.testing.assert_series_equal(ss.percentile_mean, ref.percentile_mean)
