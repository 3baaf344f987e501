"""Tests of the trainer (nasrank.train) and its commands ``train``/``evaluate``/``table``.

Everything runs on a small synthetic NAS-Bench-Macro task built under tmp_path: 300
architectures of the real space, encoded with the real ``adjacency_onehot`` and ``gcn``
encoders, whose label is a linear function of the layer choices plus a little noise (so a
predictor can learn it). Epochs and model sizes are cut down so the file runs in well under
a minute on a busy 2-core machine.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from conftest import REPO, tmp_params
from scipy import stats

import nasrank.losses.registry as loss_registry
from nasrank.cli import main
from nasrank.encodings import get_encoding
from nasrank.encodings.store import write_features
from nasrank.errors import ConfigError, DataFormatError, NasrankError
from nasrank.io import read_metadata, write_json, write_parquet
from nasrank.losses.base import Loss, zero_like
from nasrank.metrics import metric_keys
from nasrank.spaces.nbmacro import LAYER_CHOICES, NUM_LAYERS, NBMacroSpace
from nasrank.train import (
    RunConfig,
    Scaling,
    TrainingError,
    config_from_params,
    evaluate,
    load_labels,
    run,
    split,
)

N_ARCHS = 300
TRAIN_SIZE = 100
EPOCHS = 15
RUN_FILES = ("predictions.parquet", "model.bin", "config.json", "log.csv", "timing.json")


# --------------------------------------------------------------------------- fixtures


def _spec_table(n: int, seed: int) -> pa.Table:
    """``n`` distinct canonical NB-Macro architectures (arch_id, op_0..op_7 names)."""
    members = list(NBMacroSpace().enumerate())
    rng = np.random.default_rng(seed)
    ids = sorted(members[i] for i in rng.choice(len(members), size=n, replace=False))
    cols: dict[str, Any] = {"arch_id": pa.array(ids, pa.string())}
    for layer in range(NUM_LAYERS):
        cols[f"op_{layer}"] = pa.array([LAYER_CHOICES[int(a[layer])] for a in ids], pa.string())
    return pa.table(cols)


def build_task(root: Path, n: int = N_ARCHS, seed: int = 0) -> pa.Table:
    """Write ``data/processed/nbmacro.parquet`` and both feature files under ``root``.

    The label ``test_acc`` (percent) is 90 + a per-layer effect of each choice + noise
    with 5 % of the signal's spread: linear in the one-hot encoding, so learnable.
    """
    specs = _spec_table(n, seed)
    rng = np.random.default_rng(seed + 100)
    onehot_enc = get_encoding("nbmacro", "adjacency_onehot")
    onehot = onehot_enc.encode(specs, {})
    effect = rng.normal(size=onehot.shape[1])
    signal = onehot.astype(np.float64) @ effect
    y = 90.0 + signal + rng.normal(scale=0.05 * signal.std(), size=n)
    table = specs.append_column("test_acc", pa.array(y, pa.float64()))
    write_parquet(root / "data" / "processed" / "nbmacro.parquet", table,
                  {"benchmark": "nbmacro", "task": None, "default_target": "test_acc"})
    for name in ("adjacency_onehot", "gcn"):
        enc = get_encoding("nbmacro", name)
        write_features(root / "data" / "features" / "nbmacro" / f"{name}.parquet",
                       specs.column("arch_id"), enc.encode(specs, {}),
                       {"encoding": name, "benchmark": "nbmacro", "layout": enc.layout})
    return table


def small_params(root: Path, epochs: int = EPOCHS) -> dict[str, Any]:
    """The repository params with data under ``root`` and tiny models/epochs."""
    params = tmp_params(root)
    params["train"]["by_predictor"] = {"gcn": {"batch_size": 32, "epochs": epochs},
                                       "mlp": {"batch_size": 32, "epochs": epochs}}
    params["predictors"].update(mlp={"hidden": [64, 64]}, gcn={"hidden": 32, "layers": 2},
                                rf={"n_estimators": 20}, xgb={"n_estimators": 30})
    return params


def with_models_dir(params: dict[str, Any], path: Path) -> dict[str, Any]:
    out = copy.deepcopy(params)
    out["data"]["models_dir"] = str(path)
    return out


def cfg_of(params: dict[str, Any], predictor: str = "mlp", loss: str = "hr",
           encoding: str = "adjacency_onehot", train_size: int = TRAIN_SIZE,
           seed: int = 0) -> RunConfig:
    return config_from_params(params, bench="nbmacro", task=None, encoding=encoding,
                              predictor=predictor, loss=loss, train_size=train_size,
                              seed=seed)


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table]:
    root = tmp_path_factory.mktemp("task")
    return root, build_task(root)


@pytest.fixture(scope="module")
def params(task: tuple[Path, pa.Table]) -> dict[str, Any]:
    return small_params(task[0])


@pytest.fixture(scope="module")
def mlp_hr(params: dict[str, Any]) -> tuple[RunConfig, Path]:
    """One trained mlp/hr run, shared by the output, metric and determinism tests."""
    cfg = cfg_of(params)
    run(cfg, params)
    return cfg, Path(params["data"]["models_dir"]) / cfg.run_id


def _read_predictions(run_dir: Path) -> pd.DataFrame:
    return pq.read_table(run_dir / "predictions.parquet").to_pandas()


# --------------------------------------------------------------------------- split


def _cfg(**kw: Any) -> RunConfig:
    base = {"bench": "nbmacro", "task": None, "encoding": "gcn", "predictor": "gcn",
            "loss": "mse", "train_size": 10, "seed": 0}
    return RunConfig(**{**base, **kw})


@pytest.mark.parametrize("train_size", [2, 10, 98])
def test_split_renas_sizes_disjoint_cover(train_size: int) -> None:
    train, test = split(100, _cfg(train_size=train_size, seed=3))
    assert len(train) == train_size and len(test) == 100 - train_size
    assert not set(train) & set(test)
    assert sorted({*train, *test}) == list(range(100))
    assert (np.diff(train) > 0).all() and (np.diff(test) > 0).all()


def test_split_renas_depends_on_seed_only() -> None:
    a = split(100, _cfg(seed=1))
    b = split(100, _cfg(seed=1, loss="hr", predictor="mlp", encoding="adjacency_onehot"))
    c = split(100, _cfg(seed=2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_split_naslib_fixed_test_and_nested_train() -> None:
    n, test_size = 500, 120
    splits = {size: split(n, _cfg(protocol="naslib", naslib_test_size=test_size,
                                  train_size=size, seed=7))
              for size in (5, 50, 200, n - test_size)}
    tests = [t for _, t in splits.values()]
    assert all(len(t) == test_size for t in tests)
    assert all(np.array_equal(t, tests[0]) for t in tests)
    for size, (train, test) in splits.items():
        assert len(train) == size
        assert not set(train) & set(test)
    sizes = sorted(splits)
    for small, large in itertools.pairwise(sizes):
        assert set(splits[small][0]) < set(splits[large][0])
    # another seed: another test set
    other = split(n, _cfg(protocol="naslib", naslib_test_size=test_size, train_size=5, seed=8))
    assert not np.array_equal(other[1], tests[0])


@pytest.mark.parametrize(("kw", "n", "pool"), [
    ({"train_size": 99}, 100, "100 labelled"),
    ({"train_size": 1}, 100, "100 labelled"),
    ({"train_size": 81, "protocol": "naslib", "naslib_test_size": 20}, 100, "80 labelled"),
    ({"train_size": 5, "protocol": "naslib", "naslib_test_size": 100}, 100, "0 labelled"),
])
def test_split_sizes_that_do_not_fit(kw: dict[str, Any], n: int, pool: str) -> None:
    cfg = _cfg(**kw)
    with pytest.raises(ConfigError) as err:
        split(n, cfg)
    msg = str(err.value)
    assert cfg.run_id in msg and pool in msg and str(cfg.train_size) in msg


def test_split_unknown_protocol() -> None:
    with pytest.raises(ConfigError, match="protocol"):
        split(100, _cfg(protocol="other"))


# --------------------------------------------------------------------------- scaling


def test_scaling_uses_only_the_given_split() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4, 3)).astype(np.float32)
    y = rng.uniform(80, 95, size=50)
    s = Scaling.fit(x[:30], y[:30])
    np.testing.assert_allclose(s.x_mean, x[:30].mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.x_std, x[:30].std(axis=0), rtol=1e-5)
    assert s.x_mean.dtype == np.float32 and s.x_mean.shape == (4, 3)
    assert (s.y_min, s.y_max) == (y[:30].min(), y[:30].max())
    z = s.x(x[:30])
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-4)
    scaled = s.y(y[:30])
    assert scaled.min() == 0.0 and scaled.max() == 1.0


def test_scaling_constant_feature_and_label() -> None:
    x = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]], dtype=np.float32)
    s = Scaling.fit(x, np.array([7.0, 7.0, 7.0]))
    assert s.x_std[1] == 1.0 and s.x_mean[1] == 5.0
    assert np.isfinite(s.x(x)).all() and (s.x(x)[:, 1] == 0).all()
    assert s.y_max > s.y_min
    assert np.isfinite(s.y(np.array([7.0, 8.0]))).all()


def test_scaling_identity_without_standardize() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(3, 2, size=(20, 10, 16)).astype(np.float32)
    s = Scaling.fit(x, rng.normal(size=20), standardize=False)
    assert np.array_equal(s.x(x), x)


def test_scaling_y_round_trip() -> None:
    rng = np.random.default_rng(2)
    y = rng.uniform(60, 95, size=40)
    s = Scaling.fit(np.zeros((40, 2), np.float32), y[:20])
    np.testing.assert_allclose(s.y_inverse(s.y(y)), y, rtol=0, atol=1e-10)


def test_run_scaling_ignores_test_rows(task: tuple[Path, pa.Table], params: dict[str, Any],
                                       tmp_path: Path) -> None:
    """Changing a test architecture's features and label in the files changes neither the
    stored scaling nor any other prediction: statistics come from the training split."""
    root, table = task
    params = small_params(tmp_path, epochs=3)
    params["data"]["processed_dir"] = str(root / "data" / "processed")
    params["data"]["features_dir"] = str(root / "data" / "features")
    cfg = cfg_of(params, loss="mse")
    run(cfg, params)
    base = _read_predictions(tmp_path / "data" / "models" / cfg.run_id)

    ids = table.column("arch_id").to_pylist()
    victim = base.loc[base.split == "test", "arch_id"].iloc[0]
    i = ids.index(victim)
    alt = tmp_path / "alt"
    enc = get_encoding("nbmacro", "adjacency_onehot")
    x = enc.encode(table, {})
    x[i] = 50.0
    write_features(alt / "data" / "features" / "nbmacro" / "adjacency_onehot.parquet",
                   table.column("arch_id"), x, {"encoding": "adjacency_onehot"})
    y = table.column("test_acc").to_numpy().copy()
    y[i] = 1e4
    changed = table.set_column(table.schema.get_field_index("test_acc"), "test_acc",
                               pa.array(y, pa.float64()))
    write_parquet(alt / "data" / "processed" / "nbmacro.parquet", changed,
                  {"default_target": "test_acc"})
    alt_params = small_params(alt, epochs=3)
    run(cfg, alt_params)
    moved = _read_predictions(alt / "data" / "models" / cfg.run_id)

    a = torch.load(tmp_path / "data" / "models" / cfg.run_id / "model.bin")
    b = torch.load(alt / "data" / "models" / cfg.run_id / "model.bin")
    for key in ("x_mean", "x_std", "y_range"):
        assert torch.equal(a[key], b[key]), key
    keep = base.arch_id != victim
    assert (base.split == moved.split).all()
    np.testing.assert_array_equal(base.y_pred[keep], moved.y_pred[keep])
    assert moved.y_pred[~keep].item() != base.y_pred[~keep].item()


# --------------------------------------------------------------------------- run + evaluate


def _check_outputs(run_dir: Path, cfg: RunConfig, table: pa.Table,
                   params: dict[str, Any]) -> dict[str, Any]:
    for name in RUN_FILES:
        assert (run_dir / name).is_file(), name
    pred = _read_predictions(run_dir)
    assert list(pred.columns) == ["arch_id", "split", "y_true", "y_pred"]
    labels = dict(zip(table.column("arch_id").to_pylist(),
                      table.column("test_acc").to_pylist(), strict=True))
    assert sorted(pred.arch_id) == sorted(labels)
    assert [labels[a] for a in pred.arch_id] == pred.y_true.tolist()
    assert (pred.split == "train").sum() == cfg.train_size
    assert (pred.split == "test").sum() == len(labels) - cfg.train_size
    assert np.isfinite(pred.y_pred).all()
    # label units (percent around 90), not the [0, 1] training scale
    spread = pred.y_true.max() - pred.y_true.min()
    assert abs(pred.y_pred.median() - pred.y_true.median()) < spread
    config = json.loads((run_dir / "config.json").read_text())
    assert config["run_id"] == cfg.run_id and config["target"] == "test_acc"
    assert (config["train_size"], config["n_test"], config["n_labelled"]) == (
        cfg.train_size, len(labels) - cfg.train_size, len(labels))
    assert read_metadata(run_dir / "predictions.parquet") == config
    timing = json.loads((run_dir / "timing.json").read_text())
    assert {"fit_time_s", "query_time_s", "query_time_per_arch_s", "device",
            "n_queried"} <= set(timing)
    assert timing["n_queried"] == len(labels)

    report = evaluate(params, run_dir)
    ev = params["evaluation"]
    keys = metric_keys(precision_t=ev["precision_t"], n_at_k=ev["n_at_k"],
                       precision_at_k=ev["precision_at_k"])
    assert list(report["metrics"]) == keys and list(report["train_metrics"]) == keys
    assert report["metrics"]["n"] == len(labels) - cfg.train_size
    assert report["train_metrics"]["n"] == cfg.train_size
    assert report["run_id"] == cfg.run_id and report["config"] == config
    test = pred[pred.split == "test"]
    tau = stats.kendalltau(test.y_true, test.y_pred).statistic
    assert report["metrics"]["kendall_tau"] == pytest.approx(tau)
    return report


def _log_rows(run_dir: Path) -> list[str]:
    return (run_dir / "log.csv").read_text().splitlines()


def test_run_mlp_hr_outputs_and_learns(mlp_hr: tuple[RunConfig, Path],
                                       task: tuple[Path, pa.Table],
                                       params: dict[str, Any]) -> None:
    cfg, run_dir = mlp_hr
    assert (cfg.epochs, cfg.batch_size) == (EPOCHS, 32)
    report = _check_outputs(run_dir, cfg, task[1], params)
    rows = _log_rows(run_dir)
    assert rows[0] == "epoch,loss" and len(rows) == 1 + EPOCHS
    assert [int(r.split(",")[0]) for r in rows[1:]] == list(range(EPOCHS))
    assert all(math.isfinite(float(r.split(",")[1])) for r in rows[1:])
    assert report["metrics"]["kendall_tau"] > 0.3
    assert json.loads((run_dir / "config.json").read_text())["model_format"] == "torch"


@pytest.mark.parametrize(("predictor", "encoding", "loss"), [
    ("mlp", "adjacency_onehot", "mse"),
    ("gcn", "gcn", "hr"),
])
def test_run_torch_predictors(predictor: str, encoding: str, loss: str,
                              task: tuple[Path, pa.Table], tmp_path: Path) -> None:
    params = with_models_dir(small_params(task[0], epochs=4), tmp_path)
    cfg = cfg_of(params, predictor, loss, encoding)
    run(cfg, params)
    run_dir = tmp_path / cfg.run_id
    _check_outputs(run_dir, cfg, task[1], params)
    assert len(_log_rows(run_dir)) == 1 + 4
    state = torch.load(run_dir / "model.bin")
    assert {"state_dict", "x_mean", "x_std", "y_range"} <= set(state)
    if predictor == "gcn":  # graph input: no standardisation
        assert torch.equal(state["x_mean"], torch.zeros(10, 16))
        assert torch.equal(state["x_std"], torch.ones(10, 16))


@pytest.mark.parametrize("predictor", ["rf", "xgb"])
def test_run_tree_predictors(predictor: str, task: tuple[Path, pa.Table],
                             params: dict[str, Any], tmp_path: Path) -> None:
    import joblib

    params = with_models_dir(params, tmp_path)
    cfg = cfg_of(params, predictor, "regression")
    run(cfg, params)
    run_dir = tmp_path / cfg.run_id
    report = _check_outputs(run_dir, cfg, task[1], params)
    assert _log_rows(run_dir) == ["epoch,loss"]
    assert json.loads((run_dir / "config.json").read_text())["model_format"] == "joblib"
    saved = joblib.load(run_dir / "model.bin")
    assert set(saved) == {"model", "scaling"}
    assert report["metrics"]["kendall_tau"] > 0.3
    again = with_models_dir(params, tmp_path / "again")
    run(cfg, again)
    for name in ("predictions.parquet", "config.json", "log.csv", "model.bin"):
        assert (run_dir / name).read_bytes() == (tmp_path / "again" / cfg.run_id / name
                                                 ).read_bytes(), name
    if predictor == "rf":  # averages of training labels stay within their range
        pred = _read_predictions(run_dir)
        train = pred[pred.split == "train"]
        assert pred.y_pred.min() >= train.y_true.min() - 1e-9
        assert pred.y_pred.max() <= train.y_true.max() + 1e-9


def test_select_best_train_kendall_tau(task: tuple[Path, pa.Table], tmp_path: Path) -> None:
    """``select: train_kendall_tau`` logs the train tau per epoch and keeps the best
    epoch's weights: the saved run's train tau is the logged maximum."""
    params = with_models_dir(small_params(task[0], epochs=6), tmp_path)
    params["train"]["select"] = "train_kendall_tau"
    params["train"]["by_predictor"]["mlp"]["learning_rate"] = 0.01  # train tau peaks before the end
    cfg = cfg_of(params, loss="mse")
    assert cfg.select == "train_kendall_tau"
    run(cfg, params)
    log = pd.read_csv(tmp_path / cfg.run_id / "log.csv")
    assert list(log.columns) == ["epoch", "loss", "train_kendall_tau"]
    assert list(log.epoch) == list(range(6)) and log.notna().all().all()
    assert log.train_kendall_tau.idxmax() < 5  # else this test could not tell it from last
    report = evaluate(params, tmp_path / cfg.run_id)
    assert report["train_metrics"]["kendall_tau"] == pytest.approx(
        log.train_kendall_tau.max(), abs=1e-9)


def test_unlabelled_architectures_are_left_out(task: tuple[Path, pa.Table],
                                               tmp_path: Path) -> None:
    root, table = task
    y = table.column("test_acc").to_pylist()
    for i in (3, 50, 299):
        y[i] = None
    y[7] = float("nan")
    table = table.set_column(table.schema.get_field_index("test_acc"), "test_acc",
                             pa.array(y, pa.float64()))
    write_parquet(tmp_path / "data" / "processed" / "nbmacro.parquet", table,
                  {"default_target": "test_acc"})
    params = small_params(tmp_path)
    params["data"]["features_dir"] = str(root / "data" / "features")
    cfg = cfg_of(params, "rf", "regression")
    out = run(cfg, params)
    assert out["config"]["n_labelled"] == N_ARCHS - 4
    assert out["config"]["n_test"] == N_ARCHS - 4 - TRAIN_SIZE
    pred = _read_predictions(tmp_path / "data" / "models" / cfg.run_id)
    ids = table.column("arch_id").to_pylist()
    assert set(pred.arch_id) == set(ids) - {ids[i] for i in (3, 7, 50, 299)}
    assert np.isfinite(pred.y_true).all()


def test_unknown_predictor(params: dict[str, Any], tmp_path: Path) -> None:
    params = with_models_dir(params, tmp_path)
    with pytest.raises(NasrankError, match="unknown predictor 'svm'"):
        run(cfg_of(params, "svm", "regression"), params)


# --------------------------------------------------------------------------- determinism


def test_run_is_deterministic(mlp_hr: tuple[RunConfig, Path], params: dict[str, Any],
                              tmp_path: Path) -> None:
    cfg, first = mlp_hr
    again = with_models_dir(params, tmp_path / "again")
    run(cfg, again)
    second = tmp_path / "again" / cfg.run_id
    differ = [name for name in ("predictions.parquet", "config.json", "log.csv", "model.bin")
              if (first / name).read_bytes() != (second / name).read_bytes()]
    assert json.dumps(evaluate(params, first), sort_keys=True) == json.dumps(
        evaluate(again, second), sort_keys=True)

    other = cfg_of(params, seed=1)
    run(other, again)
    a = _read_predictions(first).set_index("arch_id")
    b = _read_predictions(tmp_path / "again" / other.run_id).set_index("arch_id").loc[a.index]
    assert not np.array_equal(a.y_pred.to_numpy(), b.y_pred.to_numpy())
    assert not (a.split == b.split).all()
    assert not differ, f"not byte-identical across two runs: {differ}"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("predictor", "loss", "match"), [
    ("rf", "hr", "use loss 'regression'"),
    ("xgb", "mse", "use loss 'regression'"),
    ("mlp", "regression", "needs a loss"),
    ("gcn", "regression", "needs a loss"),
])
def test_predictor_loss_mismatch(predictor: str, loss: str, match: str,
                                 params: dict[str, Any], tmp_path: Path) -> None:
    params = with_models_dir(params, tmp_path)
    with pytest.raises(ConfigError, match=match):
        run(cfg_of(params, predictor, loss), params)
    assert not any(tmp_path.iterdir())


def test_missing_features_file(task: tuple[Path, pa.Table], tmp_path: Path) -> None:
    params = small_params(tmp_path)
    params["data"]["processed_dir"] = str(task[0] / "data" / "processed")
    with pytest.raises(NasrankError, match=r"run `nasrank encode nbmacro adjacency_onehot`"):
        run(cfg_of(params), params)


def test_stale_features_file(task: tuple[Path, pa.Table], tmp_path: Path) -> None:
    """A features file of another shape (encoded before the encoding changed) is a data
    error telling to re-encode, not a numpy reshape traceback."""
    root, table = task
    params = small_params(tmp_path)
    params["data"]["processed_dir"] = str(root / "data" / "processed")
    write_features(tmp_path / "data" / "features" / "nbmacro" / "adjacency_onehot.parquet",
                   table.column("arch_id"), np.zeros((table.num_rows, 10, 16), np.float32),
                   {"encoding": "adjacency_onehot"})
    with pytest.raises(DataFormatError, match=r"nasrank encode nbmacro adjacency_onehot"):
        run(cfg_of(params, "rf", "regression"), params)


def test_missing_processed_table(tmp_path: Path) -> None:
    params = small_params(tmp_path)
    with pytest.raises(NasrankError, match=r"run `nasrank ingest nbmacro`"):
        run(cfg_of(params), params)


def test_missing_target_column(params: dict[str, Any], tmp_path: Path) -> None:
    params = with_models_dir(params, tmp_path)
    cfg = RunConfig(**{**cfg_of(params).__dict__, "target": "val_acc"})
    with pytest.raises(DataFormatError) as err:
        run(cfg, params)
    msg = str(err.value)
    assert "val_acc" in msg and "test_acc" in msg and "op_0" in msg


class NaNAtCall(Loss):
    """MSE until the 7th call of the run, then NaN (epoch 1, step 2 with 4 steps/epoch)."""

    name = "nan_at_call"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.calls = 0

    def compute(self, pred, target, features, ctx):  # type: ignore[override]
        self.calls += 1
        if self.calls == 7:
            return zero_like(pred) * float("nan")
        return ((pred - target) ** 2).mean()


def test_non_finite_loss_names_epoch_and_step(params: dict[str, Any], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(loss_registry.LOSSES, NaNAtCall.name, NaNAtCall)
    params = with_models_dir(params, tmp_path)
    cfg = cfg_of(params, loss=NaNAtCall.name)  # 100 train, batch 32: 4 steps per epoch
    with pytest.raises(TrainingError, match=r"nan at epoch 1, step 2") as err:
        run(cfg, params)
    assert cfg.run_id in str(err.value)
    assert not (tmp_path / cfg.run_id / "predictions.parquet").exists()


# --------------------------------------------------------------------------- config


def test_config_from_params_overrides_and_options() -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    before = copy.deepcopy(params)
    train = params["train"]

    gcn = config_from_params(params, bench="nb201", task="cifar10", encoding="gcn",
                             predictor="gcn", loss="piecewise", train_size=100, seed=2)
    over = train["by_predictor"]["gcn"]
    assert (gcn.batch_size, gcn.epochs) == (over["batch_size"], over["epochs"])
    assert gcn.batch_size != train["batch_size"]
    assert (gcn.learning_rate, gcn.weight_decay, gcn.device, gcn.select, gcn.protocol,
            gcn.naslib_test_size) == (train["learning_rate"], train["weight_decay"],
                                      train["device"], train["select"], train["protocol"],
                                      train["naslib_test_size"])
    assert gcn.predictor_options == params["predictors"]["gcn"]
    # the piecewise pair of the table's space (losses.piecewise.by_table.nb201)
    piecewise = {k: v for k, v in params["losses"]["piecewise"].items() if k != "by_table"}
    assert gcn.loss_options == {**piecewise, **params["losses"]["piecewise"]["by_table"]["nb201"]}
    assert gcn.run_id == "nb201-cifar10/gcn/gcn/piecewise/n100/s2"
    assert gcn.table == "nb201-cifar10"

    lenet = config_from_params(params, bench="nb101", task=None, encoding="renas_tensor",
                               predictor="lenet", loss="hr", train_size=424, seed=0)
    assert "lenet" not in train["by_predictor"]
    assert (lenet.batch_size, lenet.epochs) == (train["batch_size"], train["epochs"])
    assert lenet.loss_options == {"margin": 0.1}
    assert lenet.table == "nb101"

    params["train"]["by_predictor"]["mlp"] = {"learning_rate": 0.01}
    mlp = config_from_params(params, bench="nbmacro", task=None, encoding="path",
                             predictor="mlp", loss="brand_new", train_size=5, seed=0)
    assert (mlp.learning_rate, mlp.batch_size, mlp.epochs) == (0.01, train["batch_size"],
                                                                train["epochs"])
    assert mlp.loss_options == {}
    mlp.predictor_options["hidden"] = [1]
    params["train"]["by_predictor"]["mlp"] = before["train"]["by_predictor"]["mlp"]
    assert params == before


# --------------------------------------------------------------------------- CLI


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NASRANK_MIRROR")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _nasrank(params_file: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nasrank", "--params", str(params_file),
                           *argv], capture_output=True, text=True, env=_env(),
                          cwd=params_file.parent, timeout=120)


def test_cli_train_evaluate_table(task: tuple[Path, pa.Table], tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    params = small_params(tmp_path, epochs=3)
    params["data"]["processed_dir"] = str(task[0] / "data" / "processed")
    params["data"]["features_dir"] = str(task[0] / "data" / "features")
    params["experiments"]["loss_study"].update(
        predictor="mlp", encoding="adjacency_onehot", tables=["nbmacro"], losses=["hr"],
        train_sizes=[50], seeds=[0, 1])
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    args = ["nbmacro", "adjacency_onehot", "mlp", "hr", "--train-size", "50", "--seed", "0"]
    run_id = "nbmacro/adjacency_onehot/mlp/hr/n50/s0"

    proc = _nasrank(params_file, "train", *args)
    assert proc.returncode == 0, proc.stderr
    for name in RUN_FILES:
        assert (tmp_path / "data" / "models" / run_id / name).is_file()
    proc = _nasrank(params_file, "evaluate", *args)
    assert proc.returncode == 0, proc.stderr
    metrics_file = tmp_path / "reports" / "metrics" / f"{run_id}.json"
    report = json.loads(metrics_file.read_text())
    assert report["run_id"] == run_id and report["metrics"]["n"] == N_ARCHS - 50
    assert report == json.loads(json.dumps(
        evaluate(params, tmp_path / "data" / "models" / run_id)))

    # seed 1 of the grid: the same report with another Kendall tau
    tau0 = report["metrics"]["kendall_tau"]
    tau1 = tau0 - 0.2
    seed1 = copy.deepcopy(report)
    seed1["metrics"]["kendall_tau"] = tau1
    seed1["run_id"] = run_id.replace("/s0", "/s1")
    write_json(tmp_path / "reports" / "metrics" / f"{seed1['run_id']}.json", seed1)

    capsys.readouterr()
    assert main(["--params", str(params_file), "table", "loss_study"]) == 0
    csv = pd.read_csv(tmp_path / "reports" / "tables" / "loss_study.csv")
    md = (tmp_path / "reports" / "tables" / "loss_study.md").read_text()
    assert len(csv) == 1
    row = csv.iloc[0]
    assert (row["table"], row["loss"], row["train_size"], row["n_seeds"]) == (
        "nbmacro", "hr", 50, 2)
    assert row["kendall_tau_mean"] == pytest.approx((tau0 + tau1) / 2, abs=1e-4)
    assert row["kendall_tau_std"] == pytest.approx(0.2 / math.sqrt(2), abs=1e-4)
    assert row["spearman_std"] == pytest.approx(0.0, abs=1e-4)
    for col in ("kendall_tau_mean", "kendall_tau_std", "spearman_mean", "n_at_10_mean",
                "precision_t_0.5_std"):
        assert col in csv.columns and col in md.splitlines()[0]

    capsys.readouterr()
    assert main(["--params", str(params_file), "table", "no_such_table"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasrank: error: ") and "loss_study" in err


def test_killed_rerun_leaves_the_previous_run_whole(task: tuple[Path, pa.Table],
                                                    tmp_path: Path) -> None:
    """SIGKILL between the file writes of a rerun with other settings: the run directory
    is still the previous run's, file for file, and evaluates (issue 20, item 3)."""
    params = small_params(tmp_path, epochs=3)
    params["data"]["processed_dir"] = str(task[0] / "data" / "processed")
    params["data"]["features_dir"] = str(task[0] / "data" / "features")
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    args = ["nbmacro", "adjacency_onehot", "mlp", "hr", "--train-size", "50", "--seed", "0"]
    run_dir = tmp_path / "data" / "models" / "nbmacro/adjacency_onehot/mlp/hr/n50/s0"
    proc = _nasrank(params_file, "train", *args)
    assert proc.returncode == 0, proc.stderr
    before = {f.name: f.read_bytes() for f in run_dir.iterdir()}

    params["train"]["by_predictor"]["mlp"]["epochs"] = 4  # the rerun's other settings
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    kill_at_config = (
        "import os, signal, sys\n"
        "import nasrank.io as io\n"
        "write = io.write_json\n"
        "def killing(path, *a, **k):\n"
        "    if str(path).endswith('config.json'):\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return write(path, *a, **k)\n"
        "io.write_json = killing\n"
        "from nasrank.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n")
    killed = subprocess.run([sys.executable, "-c", kill_at_config, "--params", str(params_file),
                             "train", *args], capture_output=True, text=True, env=_env(),
                            cwd=tmp_path, timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert {f.name: f.read_bytes() for f in run_dir.iterdir()} == before
    params["train"]["by_predictor"]["mlp"]["epochs"] = 3
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    proc = _nasrank(params_file, "evaluate", *args)
    assert proc.returncode == 0, proc.stderr


def test_non_finite_labels_are_named(task: tuple[Path, pa.Table], tmp_path: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """NaN/inf labels (not nulls) are left out with a warning saying how many; a table of
    only such labels is refused (issue 20, item 6)."""
    _, table = task
    path = tmp_path / "t.parquet"
    y = table.column("test_acc").to_pylist()
    y[3], y[4], y[5] = float("inf"), float("nan"), None
    write_parquet(path, table.set_column(table.schema.get_field_index("test_acc"), "test_acc",
                                         pa.array(y, pa.float64())), {"default_target": "x"})
    with caplog.at_level("WARNING", logger="nasrank.train"):
        ids, acc, _ = load_labels(path, "test_acc")
    assert len(ids) == table.num_rows - 3 and np.isfinite(acc).all()
    assert re.search(rf"{re.escape(str(path))}: 2 'test_acc' labels are NaN or infinite "
                     rf"\(e.g. architecture {table.column('arch_id')[3]}\)", caplog.text)
    bad = pa.array([float("nan")] * table.num_rows, pa.float64())
    write_parquet(path, table.set_column(table.schema.get_field_index("test_acc"), "test_acc",
                                         bad), {"default_target": "x"})
    with pytest.raises(DataFormatError, match=r"every 'test_acc' label is NaN or infinite"):
        load_labels(path, "test_acc")


def _strict_loads(text: str) -> Any:
    """``json.loads`` that refuses the non-standard NaN/Infinity tokens."""
    def refuse(token: str) -> Any:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(("case", "expected"), [
    ("constant_predictions", {"kendall_tau": "undefined (constant predictions or labels)",
                              "spearman": "undefined (constant predictions or labels)"}),
    ("constant_labels", {"kendall_tau": "undefined (constant predictions or labels)",
                         "pearson": "undefined (constant predictions or labels)"}),
    ("label_1e308", {"rmse": "inf (overflow)"}),
])
def test_evaluate_writes_strict_json(tmp_path: Path, case: str, expected: dict[str, str],
                                     caplog: pytest.LogCaptureFixture) -> None:
    """Undefined or overflowing metrics: exit 0 and a standard JSON file, each such metric
    null with a warning naming it and the cause (issue 20, item 7)."""
    params = small_params(tmp_path)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    run_id = "nbmacro/gcn/gcn/hr/n25/s0"
    rng = np.random.default_rng(0)
    y_true = rng.uniform(89, 94, 50)
    y_pred = y_true / 100 + rng.normal(0, 0.01, 50)
    test = slice(25, None)  # the first 25 train, the rest test
    if case == "constant_predictions":
        y_pred[test] = 0.5
    elif case == "constant_labels":
        y_true[test] = 93.0
    else:
        y_true[30] = 1e308
    write_parquet(tmp_path / "data" / "models" / run_id / "predictions.parquet", pa.table({
        "arch_id": [f"a{i}" for i in range(50)], "split": ["train"] * 25 + ["test"] * 25,
        "y_true": pa.array(y_true, pa.float64()), "y_pred": pa.array(y_pred, pa.float64())}),
        {"run_id": run_id})
    with caplog.at_level("WARNING", logger="nasrank"), np.errstate(over="ignore"):
        rc = main(["--params", str(params_file), "evaluate", "nbmacro", "gcn", "gcn", "hr",
                   "--train-size", "25", "--seed", "0"])
    assert rc == 0
    dest = tmp_path / "reports" / "metrics" / f"{run_id}.json"
    report = _strict_loads(dest.read_text(encoding="utf-8"))
    for key, cause in expected.items():
        assert report["metrics"][key] is None, key
        assert f"metrics.{key}: {cause}" in report["warnings"]
        assert f"metrics.{key}: {cause}" in caplog.text
    assert all(w.startswith("metrics.") for w in report["warnings"])  # train split finite
    assert None not in report["train_metrics"].values()
    assert isinstance(report["metrics"]["mae"], float)
def test_non_finite_labels_are_counted_in_the_run_config(task: tuple[Path, pa.Table],
                                                         tmp_path: Path) -> None:
    """A run on a table with broken labels says how many it left out (config.json and the
    predictions' metadata); runs on clean tables carry no such key (issue 20, item 6)."""
    _, table = task
    build_task(tmp_path)
    y = table.column("test_acc").to_pylist()
    y[3], y[4], y[5] = float("inf"), float("nan"), None
    write_parquet(tmp_path / "data" / "processed" / "nbmacro.parquet",
                  table.set_column(table.schema.get_field_index("test_acc"), "test_acc",
                                   pa.array(y, pa.float64())),
                  {"benchmark": "nbmacro", "task": None, "default_target": "test_acc"})
    params = small_params(tmp_path, epochs=2)
    cfg = cfg_of(params)
    run(cfg, params)
    config = json.loads((tmp_path / "data" / "models" / cfg.run_id / "config.json").read_text())
    assert config["non_finite_labels"] == 2
    assert config["n_labelled"] == table.num_rows - 3
    build_task(tmp_path / "clean")
    clean = small_params(tmp_path / "clean", epochs=2)
    run(cfg, clean)
    clean_dir = Path(clean["data"]["models_dir"]) / cfg.run_id
    assert "non_finite_labels" not in json.loads((clean_dir / "config.json").read_text())


def test_non_finite_features_name_the_file_and_architecture(tmp_path: Path) -> None:
    """NaN in a features file is reported as such, not as the predictor's output."""
    table = build_task(tmp_path)
    enc = get_encoding("nbmacro", "adjacency_onehot")
    path = tmp_path / "data" / "features" / "nbmacro" / "adjacency_onehot.parquet"
    stored = pq.read_table(path)  # written whole by build_task; now damaged by hand
    flat = np.asarray(enc.encode(_spec_table(N_ARCHS, 0), {}), np.float32)
    flat[7, 2] = np.nan
    x = pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel()), flat.shape[1])
    pq.write_table(stored.set_column(1, "x", x), path)
    params = small_params(tmp_path, epochs=2)
    with pytest.raises(DataFormatError, match=rf"{re.escape(str(path))}: the features of 1 "
                       rf"architectures hold NaN or infinite values "
                       rf"\(e.g. {table.column('arch_id')[7]}\)"):
        run(cfg_of(params), params)


def test_train_sizes_beyond_the_pool_are_refused_when_planned(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A loss-study train size or a family table's sizes that do not fit an ingested table
    fail `nasrank dvc-yaml` (and Snakemake's start-up) naming the key (issue 20, item 5)."""
    from nasrank.cli import main
    from nasrank.jobs import check_train_sizes

    build_task(tmp_path)
    params = small_params(tmp_path)
    params["experiments"]["loss_study"]["tables"] = ["nbmacro"]
    check_train_sizes(params)                                   # 100 of 300: fits
    params["experiments"]["loss_study"]["train_sizes"] = [100, N_ARCHS - 1]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    capsys.readouterr()
    assert main(["--params", str(path), "dvc-yaml", "--output", str(tmp_path / "d.yaml")]) == 2
    err = capsys.readouterr().err
    assert "experiments (train_sizes)" in err and f"train size {N_ARCHS - 1} does not fit " \
        f"the {N_ARCHS} labelled architectures of nbmacro" in err
    assert not (tmp_path / "d.yaml").exists()

    params["experiments"]["loss_study"]["train_sizes"] = [100]
    params["families"]["tables"] = {"nbmacro": {"target": "test_acc", "test_size": 200,
                                                "train_sizes": [5, 101], "predictors": ["rf"]}}
    with pytest.raises(ConfigError, match=r"families.tables.nbmacro.train_sizes: 101 plus a "
                       rf"test set of 200 exceeds the {N_ARCHS} architectures"):
        check_train_sizes(params)
    params["families"]["tables"]["nbmacro"]["train_sizes"] = [5, 100]
    check_train_sizes(params)
