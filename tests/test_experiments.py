"""Tests of the experiment grids (nasrank.experiments), their tables, and the generated
dvc.yaml (nasrank.dvcgen).

The tables are built from synthetic metrics files written in the format of ``nasrank
evaluate`` (``{"run_id", "config", "metrics", "train_metrics"}``), with means and sample
standard deviations over seeds computed by hand.
"""

from __future__ import annotations

import copy
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from conftest import REPO, tmp_params

from nasrank.cli import main
from nasrank.config import load_params
from nasrank.dvcgen import render
from nasrank.errors import ConfigError
from nasrank.experiments import (
    EXPERIMENTS,
    LOSS_STUDY_METRICS,
    TABLES,
    Run,
    all_runs,
    experiment_runs,
    loss_study_table,
    metrics_path,
    renas_table,
    sweep_jobs,
)
from nasrank.io import write_json
from nasrank.metrics import strict_metrics
from nasrank.train import config_from_params


@pytest.fixture
def repo_params() -> dict[str, Any]:
    return yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- grids


def test_renas_variants_runs(repo_params: dict[str, Any]) -> None:
    cfg = repo_params["experiments"]["renas_variants"]
    runs = experiment_runs(repo_params, "renas_variants")
    variants = list(cfg["variants"].values())
    assert len(runs) == len(variants) * len(cfg["train_sizes"]) * len(cfg["seeds"])
    expected = [(v["encoding"], v["loss"], size, seed) for v in variants
                for size in cfg["train_sizes"] for seed in cfg["seeds"]]
    assert [(r.encoding, r.loss, r.train_size, r.seed) for r in runs] == expected
    table = cfg["bench"] + (f"-{cfg['task']}" if cfg["task"] else "")
    assert {(r.table, r.predictor) for r in runs} == {(table, cfg["predictor"])}


def test_loss_study_runs(repo_params: dict[str, Any]) -> None:
    cfg = repo_params["experiments"]["loss_study"]
    runs = experiment_runs(repo_params, "loss_study")
    expected = [(t, loss, size, seed) for t in cfg["tables"] for loss in cfg["losses"]
                for size in cfg["train_sizes"] for seed in cfg["seeds"]]
    assert [(r.table, r.loss, r.train_size, r.seed) for r in runs] == expected
    assert {(r.encoding, r.predictor) for r in runs} == {(cfg["encoding"], cfg["predictor"])}


def test_grids_follow_params_order_and_counts(repo_params: dict[str, Any]) -> None:
    p = copy.deepcopy(repo_params)
    p["experiments"]["renas_variants"].update(
        bench="nb201", task="cifar100", train_sizes=[50, 10], seeds=[3, 1, 2],
        variants={"b": {"encoding": "path", "loss": "hr"},
                  "a": {"encoding": "gcn", "loss": "mse"}})
    runs = experiment_runs(p, "renas_variants")
    assert len(runs) == 2 * 2 * 3
    assert [(r.encoding, r.train_size, r.seed) for r in runs[:6]] == [
        ("path", 50, 3), ("path", 50, 1), ("path", 50, 2),
        ("path", 10, 3), ("path", 10, 1), ("path", 10, 2)]
    assert runs[6].encoding == "gcn"
    assert {r.table for r in runs} == {"nb201-cifar100"}

    p["experiments"]["loss_study"].update(tables=["nbmacro", "nb201-cifar10"],
                                          losses=["warp", "mse"], train_sizes=[7],
                                          seeds=[0, 5])
    runs = experiment_runs(p, "loss_study")
    assert [(r.table, r.loss, r.seed) for r in runs] == [
        ("nbmacro", "warp", 0), ("nbmacro", "warp", 5), ("nbmacro", "mse", 0),
        ("nbmacro", "mse", 5), ("nb201-cifar10", "warp", 0), ("nb201-cifar10", "warp", 5),
        ("nb201-cifar10", "mse", 0), ("nb201-cifar10", "mse", 5)]


def test_all_runs_dedupes(repo_params: dict[str, Any]) -> None:
    n_renas = len(experiment_runs(repo_params, "renas_variants"))
    n_loss = len(experiment_runs(repo_params, "loss_study"))
    ablation = {r.run_id for r in experiment_runs(repo_params, "loss_ablation")}
    shared = ablation & {r.run_id for r in experiment_runs(repo_params, "loss_study")}
    assert shared  # the ablations' references are loss-study runs, trained once
    runs = all_runs(repo_params)
    assert len(runs) == n_renas + n_loss + len(ablation) - len(shared)
    assert len({r.run_id for r in runs}) == len(runs)

    p = copy.deepcopy(repo_params)
    study = p["experiments"]["loss_study"]
    del p["experiments"]["loss_ablation"]
    p["experiments"]["renas_variants"].update(
        bench="nbgraph", task="cora", predictor=study["predictor"],
        variants={"x": {"encoding": study["encoding"], "loss": study["losses"][0]},
                  "y": {"encoding": study["encoding"], "loss": "l1"}},
        train_sizes=[study["train_sizes"][0]], seeds=[study["seeds"][0]])
    renas = experiment_runs(p, "renas_variants")
    loss = experiment_runs(p, "loss_study")
    assert renas[0] in loss and renas[1] not in loss
    runs = all_runs(p)
    assert len(runs) == len(renas) + len(loss) - 1
    assert len({r.run_id for r in runs}) == len(runs)
    assert runs[: len(renas)] == renas  # first-seen order


def test_run_ids_and_names() -> None:
    r = Run("nb201-cifar10", "gcn", "gcn", "hr", 100, 3)
    assert r.run_id == "nb201-cifar10/gcn/gcn/hr/n100/s3"
    assert (r.bench, r.task) == ("nb201", "cifar10")
    m = Run("tnb101_micro-class_object", "path", "mlp", "mse", 5, 0)
    assert (m.bench, m.task) == ("tnb101_micro", "class_object")
    n = Run("nbmacro", "adjacency_onehot", "rf", "regression", 424, 0)
    assert (n.bench, n.task) == ("nbmacro", None)
    assert n.run_id == "nbmacro/adjacency_onehot/rf/regression/n424/s0"


def test_run_id_matches_the_trainer(repo_params: dict[str, Any]) -> None:
    """The grid and the trainer agree on where a run lives (train writes, table reads)."""
    for r in all_runs(repo_params):
        cfg = config_from_params(repo_params, bench=r.bench, task=r.task,
                                 encoding=r.encoding, predictor=r.predictor, loss=r.loss,
                                 train_size=r.train_size, seed=r.seed)
        assert cfg.run_id == r.run_id and cfg.table == r.table


def test_unknown_experiment(repo_params: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as err:
        experiment_runs(repo_params, "renas")
    assert "'renas'" in str(err.value)
    assert all(name in str(err.value) for name in EXPERIMENTS)


def test_tables_registry() -> None:
    assert set(TABLES) == {"renas_ktau_vs_train_size", "loss_study", "loss_ablation"}
    assert {exp for exp, _ in TABLES.values()} == set(EXPERIMENTS)


# --------------------------------------------------------------------------- tables


def _write_metrics(params: dict[str, Any], run: Run, metrics: dict[str, float],
                   old: bool = False) -> None:
    """One metrics file as ``nasrank evaluate`` writes it (strict JSON); ``old``: as it
    wrote them before issue 20 item 7, with NaN/Infinity tokens."""
    full = {"n": 100, "kendall_tau": 0.0, "spearman": 0.0, "pearson": 0.0,
            "precision_t_0.5": 0.0, "n_at_10": 1, "mae": 1.0, "rmse": 1.0, **metrics}
    report = {
        "run_id": run.run_id,
        "config": {"run_id": run.run_id, "predictor": run.predictor, "loss": run.loss,
                   **({"surrogate_labels": True} if run.bench == "darts" else {})},
        "metrics": full,
        "train_metrics": {**full, "kendall_tau": 0.99},
    }
    if old:
        path = metrics_path(params, run)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    else:
        write_json(metrics_path(params, run), strict_metrics(report))


def test_renas_table(tmp_path: Path) -> None:
    params = tmp_params(tmp_path)
    params["experiments"]["renas_variants"].update(
        train_sizes=[424, 4236], seeds=[0, 1, 2],
        variants={"v1": {"encoding": "type_matrix", "loss": "mse"},
                  "v4": {"encoding": "renas_tensor", "loss": "lr"}})
    taus: dict[tuple[str, int], list[float]] = {}
    for k, r in enumerate(experiment_runs(params, "renas_variants")):
        tau = round(0.1 + 0.037 * k + 0.011 * (k % 3) ** 2, 6)
        taus.setdefault((r.encoding, r.train_size), []).append(tau)
        _write_metrics(params, r, {"kendall_tau": tau})

    df = renas_table(params)
    assert list(df.columns) == ["variant", "encoding", "loss", "train_size", "n_seeds",
                                "kendall_tau_mean", "kendall_tau_std"]
    assert list(zip(df.variant, df.train_size, strict=True)) == [
        ("v1", 424), ("v1", 4236), ("v4", 424), ("v4", 4236)]
    assert list(df.loss) == ["mse", "mse", "lr", "lr"]
    assert (df.n_seeds == 3).all()
    for row in df.itertuples(index=False):
        values = taus[(row.encoding, row.train_size)]
        assert row.kendall_tau_mean == pytest.approx(statistics.fmean(values), abs=1e-12)
        assert row.kendall_tau_std == pytest.approx(statistics.stdev(values), abs=1e-12)


def test_loss_study_table(tmp_path: Path) -> None:
    params = tmp_params(tmp_path)
    params["experiments"]["loss_study"].update(
        tables=["nbmacro", "darts"], losses=["hr", "mse"], train_sizes=[50, 100],
        seeds=[0, 1])
    expected: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    for k, r in enumerate(experiment_runs(params, "loss_study")):
        m = {"kendall_tau": 0.01 * k, "spearman": 0.5 - 0.013 * k,
             "precision_t_0.5": (k % 4) / 4, "n_at_10": 1 + k % 5}
        expected.setdefault((r.table, r.loss, r.train_size), []).append(m)
        _write_metrics(params, r, m)

    df = loss_study_table(params)
    cols = ["table", "surrogate_labels", "loss", "train_size", "n_seeds"]
    for m in LOSS_STUDY_METRICS:
        cols += [f"{m}_mean", f"{m}_std"]
    assert list(df.columns) == cols
    assert len(df) == 2 * 2 * 2
    # DARTS labels are NB301 surrogate predictions: every DARTS row says so
    assert (df.surrogate_labels == (df.table == "darts")).all()
    assert list(zip(df.table, df.loss, df.train_size, strict=True)) == list(expected)
    assert (df.n_seeds == 2).all()
    for row in df.to_dict("records"):
        runs = expected[(row["table"], row["loss"], row["train_size"])]
        for m in LOSS_STUDY_METRICS:
            values = [r[m] for r in runs]
            assert row[f"{m}_mean"] == pytest.approx(statistics.fmean(values), abs=1e-12)
            assert row[f"{m}_std"] == pytest.approx(statistics.stdev(values), abs=1e-12)


def test_table_with_a_missing_metrics_file(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A grid run not evaluated yet: exit 2 and one line naming the file, no traceback."""
    params = tmp_params(tmp_path)
    params["experiments"]["loss_study"].update(tables=["nbmacro"], losses=["hr"],
                                               train_sizes=[50], seeds=[0, 1])
    _write_metrics(params, experiment_runs(params, "loss_study")[0], {})
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    capsys.readouterr()
    assert main(["--params", str(params_file), "table", "loss_study"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasrank: error: ") and len(err.strip().splitlines()) == 1
    assert "nbmacro/gcn/gcn/hr/n50/s1.json" in err and "nasrank evaluate" in err
    assert not (tmp_path / "reports" / "tables" / "loss_study.csv").exists()


@pytest.mark.parametrize("old", [False, True], ids=["strict", "old_nan_tokens"])
def test_undefined_metrics_are_missing_cells_with_a_note(tmp_path: Path, old: bool) -> None:
    """A metric without a value (null plus a warning, or an old file's NaN/Infinity) is
    left out of the mean and std; where no seed has one the cell is empty, and the row's
    note says which metric and why (issue 20, item 7)."""
    params = tmp_params(tmp_path)
    params["experiments"]["loss_study"].update(tables=["nbmacro"], losses=["hr", "mse"],
                                               train_sizes=[50], seeds=[0, 1, 2])
    for r in experiment_runs(params, "loss_study"):
        m: dict[str, float] = {"kendall_tau": 0.5 + 0.1 * r.seed, "spearman": 0.6}
        if r.loss == "mse":          # a constant predictor: every correlation undefined
            m.update(kendall_tau=math.nan, spearman=math.nan)
        elif r.seed == 0:            # one seed's labels near 1e308: RMSE overflowed
            m.update(rmse=math.inf, kendall_tau=math.nan)
        _write_metrics(params, r, m, old=old)
    if not old:
        text = metrics_path(params, experiment_runs(params, "loss_study")[3]).read_text()
        assert "NaN" not in text and '"kendall_tau": null' in text
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    assert main(["--params", str(params_file), "table", "loss_study"]) == 0
    stem = tmp_path / "reports" / "tables" / "loss_study"
    csv = pd.read_csv(f"{stem}.csv").set_index("loss")
    assert list(csv.columns)[-1] == "note"
    hr, mse = csv.loc["hr"], csv.loc["mse"]
    assert hr["kendall_tau_mean"] == pytest.approx(0.65, abs=1e-4)   # seeds 1 and 2
    assert (hr["n_nan_kendall_tau"], mse["n_nan_kendall_tau"]) == (1, 3)
    assert math.isnan(mse["kendall_tau_mean"]) and math.isnan(mse["spearman_mean"])
    assert mse["note"] == ("kendall_tau, spearman: no value in 3 of 3 seeds, undefined "
                           "(constant predictions or labels)")
    assert hr["note"] == ("kendall_tau: no value in 1 of 3 seeds, undefined (constant "
                          "predictions or labels)")
    md = Path(f"{stem}.md").read_text(encoding="utf-8").splitlines()
    assert md[0].endswith("| note |")
    mse_md = next(line for line in md if line.startswith("| nbmacro | False | mse |"))
    cells = [c.strip() for c in mse_md.strip("|").split("|")]
    assert cells[md[0].strip("|").split("|").index(" kendall_tau_mean ")] == ""
    assert cells[-1] == mse["note"]
    assert "no value in 3 of 3 seeds" in Path(f"{stem}.tex").read_text(encoding="utf-8")
    # the RMSE is not in the table; the run's own file says what happened to it
    if not old:
        hr0 = json.loads(metrics_path(params, experiment_runs(params, "loss_study")[0])
                         .read_text())
        assert "metrics.rmse: inf (overflow)" in hr0["warnings"]


def test_cli_table_renas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = tmp_params(tmp_path)
    params["experiments"]["renas_variants"].update(seeds=[0, 1])
    for k, r in enumerate(experiment_runs(params, "renas_variants")):
        _write_metrics(params, r, {"kendall_tau": 0.5 + 0.01 * k})
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    assert main(["--params", str(params_file), "table", "renas_ktau_vs_train_size"]) == 0
    stem = tmp_path / "reports" / "tables" / "renas_ktau_vs_train_size"
    csv = pd.read_csv(f"{stem}.csv")
    pd.testing.assert_frame_equal(csv, renas_table(params), check_exact=False, atol=1e-4)
    md = Path(f"{stem}.md").read_text(encoding="utf-8").splitlines()
    assert md[0].startswith("| variant | encoding | loss | train_size | n_seeds |")
    assert len(md) == 2 + len(csv)


# --------------------------------------------------------------------------- dvc.yaml


def test_dvc_yaml_is_up_to_date() -> None:
    text = render(load_params(REPO / "params.yaml"))
    assert text == (REPO / "dvc.yaml").read_text(encoding="utf-8")
    stages = yaml.safe_load(text)["stages"]
    params = load_params(REPO / "params.yaml")
    assert len(stages["sweep"]["foreach"]) == len(sweep_jobs(params))
    assert "train" not in stages and "evaluate" not in stages
    assert {f"table_{name}" for name in TABLES} <= set(stages)


def _has_key(params: dict[str, Any], dotted: str) -> bool:
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_dvc_train_params_exist_for_tree_runs(repo_params: dict[str, Any]) -> None:
    """Every ``params:`` key of a train stage resolves in params.yaml for every run, also
    for the tree predictors, whose loss is 'regression' (DVC refuses a stage whose params
    are missing: "Parameters 'losses.regression' are missing from 'params.yaml'")."""
    from nasrank.dvcgen import stages

    p = copy.deepcopy(repo_params)
    p["experiments"]["loss_study"].update(predictor="rf", encoding="adjacency_onehot",
                                          losses=["regression"])
    train = stages(p)["sweep"]
    assert len(train["foreach"]) == len(sweep_jobs(p))
    for key, item in train["foreach"].items():
        for template in train["do"]["params"]:
            name = template
            for field, value in item.items():
                name = name.replace(f"${{item.{field}}}", str(value))
            assert _has_key(p, name), f"{key}: params key {name!r} is not in params.yaml"


def test_dvc_yaml_check_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NASRANK_MIRROR")}
    proc = subprocess.run([sys.executable, "-m", "nasrank", "dvc-yaml", "--check"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr

    stale = tmp_path / "dvc.yaml"
    content = (REPO / "dvc.yaml").read_text(encoding="utf-8") + "# edited\n"
    stale.write_text(content, encoding="utf-8")
    argv = ["--params", str(REPO / "params.yaml"), "dvc-yaml", "--output", str(stale)]
    capsys.readouterr()
    assert main([*argv, "--check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasrank: error: ") and str(stale) in err
    assert stale.read_text(encoding="utf-8") == content  # --check never writes

    missing = tmp_path / "absent.yaml"
    assert main(["--params", str(REPO / "params.yaml"), "dvc-yaml", "--output",
                 str(missing), "--check"]) == 2
    assert not missing.exists()

    assert main(argv) == 0  # regenerate, then the check passes
    assert stale.read_text(encoding="utf-8") == (REPO / "dvc.yaml").read_text(encoding="utf-8")
    assert main([*argv, "--check"]) == 0
