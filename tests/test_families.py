"""Tests of White et al.'s predictor families (nasrank.families) under NASLib's protocol,
and of the model-based predictors they added (gp, lightgbm).

Data (module fixtures, from the mirror; those tests skip where it is absent):

* NAS-Bench-201 and DARTS: fetched, ingested and encoded (``adjacency_onehot``; ``gcn``
  for NB201) through ``nasrank.cli.main``, about 1 s.
* NAS-Bench-101 without the 423,624-cell enumeration: the ingest runs on a stub space
  of the 30,267 record keys (as in test_zero_cost.py), in which the 1,000 cells of
  nasbench-vis's data-1k.json and NASLib's 292 cells carry their real specs (the only
  record files with adjacency and ops); the other rows are placeholders. The processed
  table is therefore real (accuracies at 4/12/36/108 epochs, training times, zero-cost
  columns) and the ``adjacency_onehot`` features cover those 1,2xx real specs, so
  model-based pools on NB101 hold about a thousand cells here.

Models run with few trees/epochs and small train sizes so the file stays well under a
minute on 2 busy cores.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from conftest import tmp_params
from scipy import stats

from nasrank.benchmarks import nb101
from nasrank.benchmarks.common import load_json
from nasrank.cli import main
from nasrank.errors import ConfigError, DataFormatError, UnknownNameError
from nasrank.families import (
    FAMILY_NAMES,
    FAMILY_PREDICTORS,
    TableData,
    evaluate,
    evaluate_seeds,
    extrapolate,
    family_predictors,
    fit_curve,
    get_family_predictor,
    naslib_split,
    results_frame,
    run_family,
    zero_cost_table,
)
from nasrank.families.curves import log_power, pow3
from nasrank.io import write_parquet
from nasrank.paths import Paths
from nasrank.predictors import get_predictor
from nasrank.spaces.nb101 import OPS, ModelSpec, NB101Space, io_distance, spec_from_codes
from nasrank.train import RunConfig, fit_predictor

FAST = {
    "rf": {"n_estimators": 20},
    "xgb": {"n_estimators": 20},
    "lightgbm": {"n_estimators": 30},
    "gp": {},
    "mlp": {"hidden": [16], "epochs": 3, "batch_size": 16},
    "gcn": {"hidden": 8, "layers": 1, "epochs": 2, "batch_size": 16},
    "blr": {},
    "ngboost": {"n_estimators": 40},
    "dngo": {"hidden": [16, 16], "epochs": 5},
    "bananas": {"encoding": "adjacency_onehot", "layers": 3, "epochs": 5},
    "bonas": {"hidden": 16, "layers": 2, "epochs": 3},
    "bohamiann": {"steps": 200, "burn_in": 100, "keep_every": 20},
    "sparse_gp": {"steps": 30},
    "var_sparse_gp": {"steps": 30},
}
SHARED = ["zc_jacov", "val_acc_12"]  # one pool (and test set) for every NB201 predictor


def cli(params_path: str, *args: str) -> None:
    assert main(["--params", params_path, "-q", *args]) == 0, args


def write_params(params: dict[str, Any], root: Path) -> str:
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def root(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """NB201 and DARTS fetched, ingested, encoded; NB101 fetched (see the docstring)."""
    root = tmp_path_factory.mktemp("families")
    path = write_params(tmp_params(root, mirror=str(mirror)), root)
    for bench, encodings in (("nb201", ("adjacency_onehot", "gcn")),
                             ("darts", ("adjacency_onehot",))):
        cli(path, "fetch", bench)
        cli(path, "ingest", bench)
        for enc in encodings:
            cli(path, "encode", bench, enc)
    cli(path, "fetch", "nb101")
    _nb101_without_enumeration(root, path)
    return root


@pytest.fixture(scope="module")
def params(root: Path) -> dict[str, Any]:
    return yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))


def _codes(spec: ModelSpec) -> tuple[int, int]:
    """(adj_bits, labeling) of a spec in the enumeration's coding (spec_from_codes)."""
    m = spec.array
    n = len(spec.ops)
    bits = sum(1 << (x + y * (y - 1) // 2) for y in range(n) for x in range(y) if m[x, y])
    labeling = 0
    for op in spec.ops[1:-1]:
        labeling = labeling * 3 + OPS.index(op)
    return bits, labeling


def _nb101_without_enumeration(root: Path, params_path: str) -> None:
    """data/processed/nb101.parquet through `nasrank ingest nb101` on a stub space with
    real specs for the data-1k and NASLib cells, then the adjacency_onehot features of
    those real specs (`nasrank encode nb101` on a space table of just them)."""
    raw = root / "data" / "raw" / "nb101"
    space = NB101Space()
    specs: dict[str, ModelSpec] = {}
    data = load_json(raw / nb101.VIS_1K)
    for key, adj, codes in zip(data["key"], data["adjacency"], data["operations"],
                               strict=True):
        keep = [j for j, c in enumerate(codes) if c != nb101.VIS_PAD]
        matrix = np.asarray(adj, dtype=np.int8)[np.ix_(keep, keep)]
        specs[key] = space.validate(ModelSpec(matrix, [nb101.VIS_OPS[codes[j]] for j in keep]))
    for arch_id, spec, _ in nb101.naslib_entries(raw):
        specs.setdefault(arch_id, spec)
    vis = nb101._read_vis(raw)
    ids = sorted(set(vis["key"].tolist()) | set(specs))
    rows = []
    for a in ids:
        s = specs.get(a)
        if s is None:
            rows.append((a, 7, "stub", "stub", 0, 0, 1, True))
            continue
        bits, lab = _codes(s)
        back = spec_from_codes(len(s.ops), bits, lab)
        assert back.matrix == s.matrix and back.ops == s.ops
        rows.append((a, len(s.ops), "".join(map(str, s.array.ravel())), ",".join(s.ops), bits,
                     lab, io_distance(s.array), "conv3x3-bn-relu" in s.ops))
    cols = list(zip(*rows, strict=True))
    table = pa.table({
        "arch_id": pa.array(cols[0], pa.string()),
        "n_vertices": pa.array(cols[1], pa.int8()),
        "adjacency": pa.array(cols[2], pa.string()),
        "ops": pa.array(cols[3], pa.string()),
        "adj_bits": pa.array(cols[4], pa.int32()),
        "labeling": pa.array(cols[5], pa.int16()),
        "io_distance": pa.array(cols[6], pa.int8()),
        "uses_conv3x3": pa.array(cols[7], pa.bool_()),
    })
    space_path = root / "data" / "processed" / "spaces" / "nb101.parquet"
    write_parquet(space_path, table, {"space": "nb101"})
    cli(params_path, "ingest", "nb101")
    real = pa.array([a in specs for a in cols[0]], pa.bool_())
    write_parquet(space_path, table.filter(real), {"space": "nb101"})
    cli(params_path, "encode", "nb101", "adjacency_onehot")


def run(params: dict, table: str, predictor: str, seed: int = 0, **settings: Any) -> dict:
    return run_family(table, predictor, seed, settings, params=params)


# --------------------------------------------------------------------------- registry


def test_registry() -> None:
    assert FAMILY_NAMES == ("zero_cost", "learning_curve", "model_based", "combined")
    assert {"jacov", "synflow", "snip", "grad_norm", "grasp", "fisher"} <= set(
        family_predictors("zero_cost"))
    assert family_predictors("learning_curve") == ["early_stop", "lce", "lce_m", "lcsvr"]
    assert {"rf", "xgb", "gp", "lightgbm", "mlp", "gcn", "blr", "ngboost", "dngo",
            "bananas", "bonas", "bohamiann", "sparse_gp", "var_sparse_gp"} <= set(
        family_predictors("model_based"))
    assert family_predictors("combined") == ["omni", "omni_lgb"]
    for name, spec in FAMILY_PREDICTORS.items():
        assert spec.needs and spec.description, name
        trains = spec.family in ("model_based", "combined") or name == "lcsvr"
        assert spec.trains == trains, name
    assert FAMILY_PREDICTORS["omni"].defaults["model"] == "ngboost"
    assert FAMILY_PREDICTORS["omni_lgb"].defaults["model"] == "lightgbm"
    with pytest.raises(UnknownNameError, match="family predictor 'nope'"):
        get_family_predictor("nope")
    with pytest.raises(ConfigError, match="family predictor 'xgb': unknown option 'depth'"):
        get_family_predictor("xgb", depth=3)
    with pytest.raises(ConfigError, match="unknown learning-curve families"):
        get_family_predictor("lce", curves=["pow4"])
    get_family_predictor("xgb", max_depth=3, encoding="path")  # the model's own options


# --------------------------------------------------------------------------- new predictors


@pytest.mark.parametrize("name", ["gp", "lightgbm", "blr", "ngboost", "dngo", "bananas",
                                  "bohamiann", "sparse_gp", "var_sparse_gp"])
def test_new_regressors_through_fit_predictor(name: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(180, 6)).astype(np.float32)
    y = 90 + 3 * np.sin(2 * x[:, 0]) + 2 * x[:, 1] ** 2 + 0.05 * rng.normal(size=180)
    opts: dict[str, Any] = {}
    cfg = RunConfig(bench="nb201", task="cifar10", encoding="x", predictor=name,
                    loss="regression", train_size=120, seed=1, predictor_options=opts)
    fitted = fit_predictor(cfg, x[:120], y[:120], {})
    pred = fitted.predict(x[120:])
    assert pred.shape == (60,)
    assert stats.kendalltau(y[120:], pred).statistic > 0.6
    again = fit_predictor(cfg, x[:120], y[:120], {}).predict(x[120:])
    np.testing.assert_array_equal(pred, again)
    # a handful of architectures still gives a fitted, non-constant model
    small = get_predictor(name, (6,), seed=0, **opts).fit(x[:5], y[:5]).predict(x[120:])
    assert np.ptp(small) > 0


def test_new_regressor_options() -> None:
    with pytest.raises(ConfigError, match="'gp': option 'kernel' must be one of matern, rbf"):
        get_predictor("gp", (4,), kernel="linear")
    with pytest.raises(ConfigError, match="predictor 'lightgbm': option 'subsample' must be <= 1"):
        get_predictor("lightgbm", (4,), subsample=1.5)
    with pytest.raises(ConfigError, match="'seed' must be an integer"):
        get_predictor("lightgbm", (4,), seed=None)
    with pytest.raises(ConfigError, match="'ngboost': option 'minibatch_frac' must be <= 1"):
        get_predictor("ngboost", (4,), minibatch_frac=2)
    with pytest.raises(ConfigError, match="'dngo': option 'epochs' must be an integer >= 1"):
        get_predictor("dngo", (4,), epochs=0)
    with pytest.raises(ConfigError, match=r"'bohamiann': option 'burn_in' .* below 'steps'"):
        get_predictor("bohamiann", (4,), steps=10, burn_in=10)
    with pytest.raises(ConfigError, match="'bananas': option 'lower_bound' must be < 0"):
        get_predictor("bananas", (4,), lower_bound=0.5)
    with pytest.raises(ValueError, match=r"bananas: lower_bound -0\.1 is not below every label"):
        get_predictor("bananas", (4,)).fit(np.zeros((3, 4)), np.array([-0.5, 0.0, 1.0]))


def test_bananas_members_train_as_if_alone() -> None:
    """The stacked ensemble: members start from their own initialisation (and see their
    own batch order) and all train to finite outputs."""
    from nasrank.predictors.bayesian import train_stacked

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    y = x[:, 0] - x[:, 1] ** 2
    kw = dict(hidden=[8, 8], activation="relu", epochs=3, batch_size=16,
              learning_rate=0.01, loss=lambda p, t: (p - t) ** 2, seed=4)
    three = train_stacked(x, y, members=3, **kw)
    w = [p.detach() for p in three.parameters()]
    assert not np.allclose(w[0][0].numpy(), w[0][1].numpy())  # own initialisation
    import torch

    with torch.no_grad():
        out = three(torch.from_numpy(x).expand(3, -1, -1))
    assert out.shape == (3, 40) and torch.isfinite(out).all()


# --------------------------------------------------------------------------- curves


def test_lce_recovers_a_synthetic_pow3_curve() -> None:
    x = np.arange(1, 51, dtype=float)
    fit = fit_curve("pow3", x, pow3(x, 0.95, 0.6, 0.5))
    assert fit is not None
    assert fit.params == pytest.approx({"c": 0.95, "a": 0.6, "alpha": 0.5}, abs=1e-5)
    assert fit.sse < 1e-12
    noisy = pow3(x, 0.93, 0.5, 0.7) + np.random.default_rng(0).normal(0, 2e-3, x.size)
    fit = fit_curve("pow3", x, noisy)
    assert fit.params == pytest.approx({"c": 0.93, "a": 0.5, "alpha": 0.7}, abs=0.03)
    # three points of a pow3 curve (NB101's 4, 12, 36 epochs) extrapolate to 108
    e = np.array([4.0, 12.0, 36.0])
    assert extrapolate(e, pow3(e, 0.94, 0.8, 0.6), 108, curves=["pow3"]) == pytest.approx(
        float(pow3(108.0, 0.94, 0.8, 0.6)), abs=1e-4)
    fit = fit_curve("log_power", x, log_power(x, 0.9, 1.0, -1.2))
    assert fit.params == pytest.approx({"a": 0.9, "b": 1.0, "c": -1.2}, abs=1e-4)
    # no usable fit: the last observed value (early stopping)
    assert extrapolate([4, 12], [0.5, 0.6], 108, curves=["pow3"]) <= 1.0


# --------------------------------------------------------------------------- protocol


def test_naslib_split() -> None:
    s = naslib_split(1000, 200, seed=3)
    assert len(s.test) == 200 and len(s.train) == 800
    assert not set(s.test) & set(s.train)
    assert sorted([*s.test, *s.train]) == list(range(1000))
    again = naslib_split(1000, 200, seed=3)
    np.testing.assert_array_equal(s.test, again.test)
    np.testing.assert_array_equal(s.train, again.train)
    assert set(naslib_split(1000, 200, seed=4).test) != set(s.test)
    with pytest.raises(ConfigError, match="leaves no training"):
        naslib_split(100, 100, 0)


@pytest.mark.mirror
def test_zero_cost_table_nb201(root: Path) -> None:
    df = zero_cost_table("nb201-cifar10", root / "data" / "processed", target="val_acc_200")
    assert len(df) == 12 and set(df["target"]) == {"val_acc_200"}
    row = df.set_index("proxy")
    assert row.loc["flops", "n"] == 725 and row.loc["jacov", "n"] == 724
    assert 0.65 < row.loc["synflow", "abs_spearman"] < 0.85
    assert 0.65 < row.loc["jacov", "abs_spearman"] < 0.85
    assert (row["abs_kendall_tau"] < row["abs_spearman"]).all()
    assert row["mean_time_s"].between(0, 10).all()
    td = TableData.load("nb201-cifar10", root / "data" / "processed")
    sub = td.frame[["val_acc_200", "zc_jacov"]].dropna()
    assert row.loc["jacov", "kendall_tau"] == pytest.approx(
        stats.kendalltau(sub["val_acc_200"], sub["zc_jacov"]).statistic)
    with pytest.raises(DataFormatError, match=r"table nb201-cifar10 has no zero-cost proxy "
                                              r"'zen'"):
        zero_cost_table(td, proxies=["zen"])


@pytest.mark.mirror
def test_every_family_on_nb201(params: dict) -> None:
    """One pool (the 724 cells with jacov, val_acc_200 and val_acc_12), hence one test
    set, for a zero-cost, a learning-curve, every fast model-based predictor and OMNI."""
    common = {"target": "val_acc_200", "test_size": 100, "require": SHARED}
    results = {"jacov": run(params, "nb201-cifar10", "jacov", **common),
               "early_stop": run(params, "nb201-cifar10", "early_stop", **common)}
    for name, opts in FAST.items():
        results[name] = run(params, "nb201-cifar10", name, train_sizes=[5, 40],
                            options=opts, **common)
    results["omni"] = run(params, "nb201-cifar10", "omni", train_sizes=[5, 40],
                          options={"model_options": {"n_estimators": 60}}, **common)
    test_ids = results["jacov"]["test_ids"]
    assert len(test_ids) == 100
    for name, r in results.items():
        json.dumps(r)
        assert r["pool_size"] == 724, name
        assert r["test_ids"] == test_ids, name
        assert r["table"] == "nb201-cifar10" and r["target"] == "val_acc_200"
        for row in r["rows"]:
            assert row["n_test"] == 100
            assert np.isfinite(row["query_time_compute_s"]) and row["query_time_compute_s"] >= 0
            # NB201 records no training time: label cost unknown for trained predictors
            assert math.isnan(row["label_time_s"]) == (row["train_size"] > 0), name
    # zero-cost: no fit, score is the prediction, query time = recorded compute time
    zc = results["jacov"]
    assert zc["family"] == "zero_cost" and zc["train_sizes"] == [0]
    (row,) = zc["rows"]
    assert row["fit_time_s"] == 0 and row["init_time_s"] == 0
    assert math.isnan(row["mae"]) and math.isnan(row["sparse_kendall_tau"])
    td = TableData.load("nb201-cifar10", params["data"]["processed_dir"])
    frame = td.frame.set_index("arch_id").loc[test_ids]
    assert row["query_time_data_s"] == pytest.approx(frame["zc_jacov_time_s"].mean())
    assert row["kendall_tau"] == pytest.approx(
        stats.kendalltau(frame["val_acc_200"], frame["zc_jacov"]).statistic)
    assert row["kendall_tau"] > 0.3
    # early stopping at 12 epochs; NB201 records no training time
    (row,) = results["early_stop"]["rows"]
    assert results["early_stop"]["needs"]["fidelity"] == 12
    assert row["kendall_tau"] > 0.4 and math.isnan(row["query_time_data_s"])
    # model-based and omni: one row per train size, fit and init times recorded
    for name in [*FAST, "omni"]:
        r = results[name]
        assert [x["train_size"] for x in r["rows"]] == [5, 40], name
        for x in r["rows"]:
            assert x["fit_time_s"] > 0 and x["init_time_s"] == x["fit_time_s"], name
            assert x["label_time_known"] == 0
        assert np.isfinite(r["rows"][-1]["mae"]), name
    assert results["omni"]["rows"][-1]["kendall_tau"] > 0.4
    assert results["omni"]["needs"]["fidelity"] == 12
    assert math.isnan(results["omni"]["rows"][0]["query_time_data_s"])  # no training time
    df = results_frame(results.values())
    assert len(df) == 2 + 2 * (len(FAST) + 1)
    assert {"predictor", "family", "train_size", "kendall_tau", "precision_at_10",
            "precision_at_20", "sparse_kendall_tau", "init_time_s"} <= set(df.columns)


def count_fits(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record the run ids of every ``nasrank.sweep.fit_predictors`` call."""
    import nasrank.sweep

    calls: list[list[str]] = []
    real = nasrank.sweep.fit_predictors

    def counted(cfgs: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append([c.run_id for c in cfgs])
        return real(cfgs, *args, **kwargs)

    monkeypatch.setattr(nasrank.sweep, "fit_predictors", counted)
    return calls


def one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """No sweep fits: every seed and size fitted by its own ``fit`` (the old way)."""
    from nasrank.families.predictors import ModelBasedPredictor, OmniPredictor

    for cls in (ModelBasedPredictor, OmniPredictor):
        monkeypatch.setattr(cls, "sweep_fit", lambda self, batch, y, seed: None)


def without_times(result: dict) -> str:
    """The result without its measured times, as JSON (NaN equal to NaN)."""
    from nasrank.families.jobs import TIMES

    return json.dumps({**result, "rows": [{k: v for k, v in row.items() if k not in TIMES}
                                          for row in result["rows"]]})


@pytest.mark.mirror
def test_torch_seeds_and_sizes_in_one_sweep(params: dict,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """mlp, gcn and an OMNI with an MLP train every seed and train size in one
    fit_predictors call, with the metrics of fitting each alone; trees do not."""
    td = TableData.load("nb201-cifar10", params["data"]["processed_dir"],
                        params["data"]["features_dir"])
    common = {"target": "val_acc_200", "test_size": 100, "require": SHARED,
              "train_sizes": [5, 40], "params": params}
    cases = {"mlp": FAST["mlp"], "gcn": FAST["gcn"],
             "omni": {"model": "mlp", "model_options": {"hidden": [16]}, "epochs": 3,
                      "batch_size": 16, "loss": "hr"},
             "xgb": FAST["xgb"]}
    calls = count_fits(monkeypatch)
    swept = {name: evaluate_seeds(td, name, [0, 1, 2], options=opts, **common)
             for name, opts in cases.items()}
    # one sweep of 3 seeds x 2 sizes per torch predictor; xgb: one call per fit
    assert [len(c) for c in calls] == [6, 6, 6] + [1] * 6
    assert calls[0][:2] == ["nb201-cifar10/adjacency_onehot/mlp/mse/n5/s0",
                            "nb201-cifar10/adjacency_onehot/mlp/mse/n40/s0"]
    assert calls[2][0] == "nb201-cifar10/omni/mlp/hr/n5/s0"
    for name in ("mlp", "gcn", "omni"):
        for r in swept[name]:
            assert all(row["fit_time_s"] > 0 for row in r["rows"]), name
    one_at_a_time(monkeypatch)
    calls.clear()
    for name, opts in cases.items():
        alone = [evaluate(td, name, seed, options=opts, **common) for seed in (0, 1, 2)]
        assert [without_times(r) for r in alone] == [without_times(r)
                                                    for r in swept[name]], name
    assert [len(c) for c in calls] == [1] * 6 * 4


@pytest.mark.mirror
def test_torch_family_job_bytes(params: dict, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A gcn family job (3 seeds, 2 sizes: one sweep) writes the report bytes of fitting
    every seed and size alone."""
    from nasrank.families.jobs import FamilyJob, run_family_job

    settings = {"target": "val_acc_200", "test_size": 100, "train_sizes": [5, 40],
                "require": SHARED, "options": FAST["gcn"]}
    job = FamilyJob("nb201-cifar10", "gcn", "gcn", (0, 1, 2), settings)
    p = json.loads(json.dumps(params))
    p["reports"]["families_dir"] = str(tmp_path / "swept")
    calls = count_fits(monkeypatch)
    swept = run_family_job(job, p)
    assert [len(c) for c in calls] == [6]
    one_at_a_time(monkeypatch)
    p["reports"]["families_dir"] = str(tmp_path / "alone")
    alone = run_family_job(job, p)
    assert swept != alone and swept.read_bytes() == alone.read_bytes()
    timing = json.loads(swept.with_name(swept.name.replace(".json", ".timing.json"))
                        .read_text("utf-8"))
    assert all(r["fit_time_s"] > 0 for t in timing["results"] for r in t["rows"])


@pytest.mark.mirror
def test_train_sets_are_prefixes_and_test_set_is_fixed(params: dict) -> None:
    opts = {"options": FAST["xgb"], "target": "val_acc_200"}
    a = run(params, "nb201-cifar10", "xgb", train_sizes=[5, 24, 71], **opts)
    b = run(params, "nb201-cifar10", "xgb", train_sizes=[24], **opts)
    c = run(params, "nb201-cifar10", "xgb", seed=1, train_sizes=[24], **opts)
    assert a["pool_size"] == 725 and a["test_size"] == 200
    assert len(a["train_ids"]) == 71 and b["train_ids"] == a["train_ids"][:24]
    assert a["test_ids"] == b["test_ids"]
    assert not set(a["test_ids"]) & set(a["train_ids"])
    assert set(c["test_ids"]) != set(a["test_ids"])
    # the same training set and seed give the same model, whatever the other sizes
    assert a["rows"][1]["kendall_tau"] == b["rows"][0]["kendall_tau"]
    # the default target (test_acc_200) labels all 15,625 cells
    d = run(params, "nb201-cifar10", "xgb", train_sizes=[5], options=FAST["xgb"])
    assert d["target"] == "test_acc_200" and d["pool_size"] == 15_625


@pytest.mark.mirror
def test_protocol_errors(params: dict) -> None:
    with pytest.raises(ConfigError, match=r"predictor 'xgb' on table nb201-cifar10: train "
                                          r"size 600 exceeds the 525 architectures"):
        run(params, "nb201-cifar10", "xgb", target="val_acc_200", train_sizes=[5, 600])
    with pytest.raises(ConfigError, match="integers >= 2"):
        run(params, "nb201-cifar10", "xgb", train_sizes=[1])
    with pytest.raises(ConfigError, match=r"only 724 architectures .* test set of 800"):
        run(params, "nb201-cifar10", "jacov", target="val_acc_200", test_size=800)
    with pytest.raises(ConfigError, match="unknown family settings"):
        run(params, "nb201-cifar10", "jacov", seeds=[1])
    with pytest.raises(DataFormatError, match="no target column 'val_acc_108'"):
        run(params, "nb201-cifar10", "jacov", target="val_acc_108")
    with pytest.raises(DataFormatError, match="nb201-cifar10 has no numeric column 'zc_zen'"):
        run(params, "nb201-cifar10", "jacov", require=["zc_zen"])


@pytest.mark.mirror
def test_missing_proxies_and_fidelities_name_both(params: dict) -> None:
    with pytest.raises(DataFormatError, match=r"predictor 'zen' .*nb201-cifar10.*no "
                                              r"zero-cost proxy 'zen'"):
        run(params, "nb201-cifar10", "zen")
    with pytest.raises(DataFormatError, match=r"predictor 'omni' .*nb201-cifar10.*proxy "
                                              r"'zen'"):
        run(params, "nb201-cifar10", "omni", options={"proxies": ["jacov", "zen"]})
    with pytest.raises(DataFormatError, match=r"predictor 'early_stop' .*nb201-cifar10 "
                                              r"\(benchmark nb201\).*no fidelity 'val_acc_36'"):
        run(params, "nb201-cifar10", "early_stop", options={"fidelity": 36})
    with pytest.raises(ConfigError, match="fidelity 200 is not below the target"):
        run(params, "nb201-cifar10", "early_stop", options={"fidelity": 200})
    with pytest.raises(DataFormatError, match=r"predictor 'lce' .*nb201-cifar10 \(benchmark "
                                              r"nb201\).*at least 3 .*has 1 \(val_acc_12\)"):
        run(params, "nb201-cifar10", "lce")
    for pred in ("early_stop", "lce", "lce_m", "omni", "lcsvr"):
        with pytest.raises(DataFormatError, match=rf"predictor '{pred}' .*table darts "
                                                  r"\(benchmark darts\)"):
            run(params, "darts", pred)
    with pytest.raises(DataFormatError, match=r"predictor 'lcsvr' \(learning_curve\) on "
                       r"table darts .*val_acc_<epochs> below the target .*has none"):
        run(params, "darts", "lcsvr")


@pytest.mark.mirror
def test_naslib_tuning(params: dict) -> None:
    """tune: from 10 training architectures on, a seeded cross-validated random search
    (the default configuration first); below 10 the default, as NASLib."""
    common = {"target": "val_acc_200", "test_size": 100, "require": SHARED,
              "train_sizes": [5, 30]}
    cases = {"bananas": {"encoding": "adjacency_onehot", "layers": 3, "epochs": 5},
             "gcn": {"hidden": 8, "layers": 1, "epochs": 2, "batch_size": 16}}
    for name, opts in cases.items():
        r = run(params, "nb201-cifar10", name, options={**opts, "tune": True,
                                                        "tune_trials": 3}, **common)
        small, big = r["rows"]
        assert "tune_trials" not in small, name
        assert big["tune_trials"] == 3 and big["tune_budget_cut"] is False, name
        assert -1 <= big["tune_cv_kendall_tau"] <= 1, name
        assert isinstance(json.loads(big["tune_options"]), dict), name
        again = run(params, "nb201-cifar10", name, options={**opts, "tune": True,
                                                            "tune_trials": 3}, **common)
        assert again["rows"][1]["tune_options"] == big["tune_options"], name
        assert again["rows"][1]["kendall_tau"] == big["kendall_tau"], name
        assert r["options"]["tune"] is True
    with pytest.raises(ConfigError, match="'rf': unknown option 'tune'"):
        get_family_predictor("rf", tune=True)
    with pytest.raises(ConfigError, match="'mlp': option 'tune_trials' must be an integer"):
        get_family_predictor("mlp", tune=True, tune_trials=0)


@pytest.mark.mirror
def test_lcsvr_on_nb201(params: dict) -> None:
    """LcSVR: encoding + the 12-epoch accuracy; the random search runs from 10 cells."""
    common = {"target": "val_acc_200", "test_size": 100, "require": SHARED}
    r = run(params, "nb201-cifar10", "lcsvr", train_sizes=[5, 40],
            **common)
    assert r["family"] == "learning_curve" and r["needs"]["fidelities"] == [12]
    assert [row["train_size"] for row in r["rows"]] == [5, 40]
    assert r["rows"][-1]["kendall_tau"] > 0.4 and r["rows"][-1]["fit_time_s"] > 0
    again = run(params, "nb201-cifar10", "lcsvr", train_sizes=[5, 40],
                **common)
    assert [x["kendall_tau"] for x in again["rows"]] == [x["kendall_tau"] for x in r["rows"]]


@pytest.mark.mirror
def test_darts_defaults(params: dict) -> None:
    """DARTS: 100 test cells, NASLib's DARTS train sizes (5..500) by default."""
    zc = run(params, "darts", "synflow")
    assert zc["test_size"] == 100 and zc["surrogate_labels"] is True
    assert zc["pool_size"] == 725
    r = run(params, "darts", "lightgbm", options={"n_estimators": 10})
    assert r["train_sizes"] == [5, 8, 12, 20, 31, 50, 79, 126, 199, 316, 500]
    assert len(r["train_ids"]) == 500 and r["rows"][-1]["kendall_tau"] > 0.2
    omni = run(params, "darts", "omni", train_sizes=[20],
               options={"low_fidelity": False, "model_options": {"n_estimators": 30}})
    assert omni["needs"]["fidelity"] is None and omni["pool_size"] == 725


# --------------------------------------------------------------------------- NB101


@pytest.mark.mirror
def test_nb101_learning_curves(params: dict) -> None:
    td = TableData.load("nb101", params["data"]["processed_dir"])
    taus = {}
    for e in (4, 12, 36):
        r = run(params, "nb101", "early_stop", options={"fidelity": e})
        assert r["pool_size"] == 30_001 and r["target"] == "val_acc_108"
        (row,) = r["rows"]
        taus[e] = row["kendall_tau"]
        test = td.frame.set_index("arch_id").loc[r["test_ids"]]
        assert row["query_time_data_s"] == pytest.approx(
            (test["train_time_108"] * e / 108).mean())
    assert min(taus.values()) > 0.15 and taus[36] > 0.5 and taus[36] > taus[4]
    lce = run(params, "nb101", "lce")
    assert lce["needs"]["fidelities"] == [4, 12, 36] and lce["needs"]["final_epochs"] == 108
    assert lce["test_ids"] == r["test_ids"]  # same pool, same seed: same test set
    (row,) = lce["rows"]
    assert row["kendall_tau"] > 0.3 and np.isfinite(row["mae"])
    assert row["query_time_data_s"] == pytest.approx(
        (test["train_time_108"] * 36 / 108).mean())
    assert row["query_time_compute_s"] > 0  # curve fitting
    lce_m = run(params, "nb101", "lce_m", options={"walkers": 24, "burn_in": 40,
                                                   "samples": 40, "curves": ["pow3", "exp3"]})
    assert lce_m["test_ids"] == r["test_ids"] and lce_m["needs"]["walkers"] == 24
    (m,) = lce_m["rows"]
    assert np.isfinite(m["kendall_tau"]) and np.isfinite(m["mae"])  # short chains: noisy
    assert m["query_time_data_s"] == row["query_time_data_s"]
    again = run(params, "nb101", "lce_m", options={"walkers": 24, "burn_in": 40,
                                                   "samples": 40, "curves": ["pow3", "exp3"]})
    assert again["rows"][0]["kendall_tau"] == m["kendall_tau"]
    with pytest.raises(ConfigError, match="'lce_m': option 'walkers' must be an integer >= "):
        get_family_predictor("lce_m", walkers=3)


@pytest.mark.mirror
def test_nb101_zero_cost_model_based_and_omni(params: dict) -> None:
    td = TableData.load("nb101", params["data"]["processed_dir"])
    by_id = td.frame.set_index("arch_id")
    zc = run(params, "nb101", "jacov", target="naslib_val_acc", test_size=100)
    assert zc["pool_size"] == 292
    assert math.isnan(zc["rows"][0]["query_time_data_s"])  # NB101's file has no times
    # model-based: the cells with real specs that carry val_acc_108
    r = run(params, "nb101", "xgb", train_sizes=[5, 50], options=FAST["xgb"])
    assert 900 < r["pool_size"] < 1300
    for row in r["rows"]:
        ids = r["train_ids"][: row["train_size"]]
        want = by_id.loc[ids, "train_time_108"].sum()
        assert row["label_time_known"] == row["train_size"]
        assert row["label_time_s"] == pytest.approx(want)
        assert row["init_time_s"] == pytest.approx(want + row["fit_time_s"])
    assert r["rows"][-1]["kendall_tau"] > 0.1
    # OMNI with jacov: NB101's proxies and accuracies overlap in 26 cells only
    omni = run(params, "nb101", "omni", test_size=10, train_sizes=[5, 16],
               options={"model_options": {"n_estimators": 30}})
    assert omni["pool_size"] == 26 and omni["needs"]["columns"] == ["zc_jacov", "val_acc_12"]
    assert all(np.isfinite(x["kendall_tau"]) or np.isnan(x["kendall_tau"])
               for x in omni["rows"])
    assert math.isnan(omni["rows"][0]["query_time_data_s"])  # no proxy times on NB101
    without = run(params, "nb101", "omni", train_sizes=[50],
                  options={"proxies": [], "fidelity": 4, "model_options": {"n_estimators": 60}})
    assert without["pool_size"] == r["pool_size"] and without["needs"]["fidelity"] == 4
    (row,) = without["rows"]
    test = by_id.loc[without["test_ids"]]
    assert row["query_time_data_s"] == pytest.approx((test["train_time_108"] * 4 / 108).mean())
    assert row["query_time_s"] == pytest.approx(row["query_time_data_s"]
                                                + row["query_time_compute_s"])
    assert row["kendall_tau"] > 0.2
    # evaluate() takes a built predictor too
    pred = get_family_predictor("early_stop", fidelity=12)
    direct = evaluate(td, pred, 0)
    assert direct["predictor"] == "early_stop" and direct["rows"][0]["kendall_tau"] > 0.2


# --------------------------------------------------------------------------- jobs, tables, figures


def test_family_jobs_from_params() -> None:
    from nasrank.config import load_params
    from nasrank.families.jobs import family_jobs, find_family_job

    params = load_params(str(Path(__file__).resolve().parents[1] / "params.yaml"))
    jobs = family_jobs(params)
    keys = [j.key for j in jobs]
    assert len(keys) == len(set(keys))
    assert {"nb101/early_stop_4", "nb101/omni", "nb201-cifar10/jacov", "darts/gp"} <= set(keys)
    es = find_family_job(params, "nb101/early_stop_36")
    assert es.predictor == "early_stop" and es.settings["options"] == {"fidelity": 36}
    assert es.family == "learning_curve" and es.encoding is None
    assert es.seeds == tuple(params["families"]["seeds"])
    omni = find_family_job(params, "nb101/omni")
    assert omni.settings["options"] == {"proxies": [], "fidelity": 12}
    assert omni.encoding == "adjacency_onehot" and omni.key == "nb101/omni"
    out = Paths.of({**params, "reports": {**params["reports"], "families_dir": "r"}})
    assert find_family_job(params, "nb201-cifar10/rf").output(out) == Path(
        "r/nb201-cifar10/rf.json")
    # every table's predictors share its pool settings
    for job in jobs:
        t = params["families"]["tables"][job.table]
        assert job.settings["require"] == t["require"] and job.settings["target"] == t["target"]
    with pytest.raises(ConfigError, match="no family job 'nb101/zen'"):
        find_family_job(params, "nb101/zen")
    bad = json.loads(json.dumps(params))
    bad["families"]["tables"]["nb101"]["predictors"].append("early_stop_99")
    with pytest.raises(UnknownNameError, match="early_stop_99"):
        family_jobs(bad)
    bad = json.loads(json.dumps(params))
    bad["families"]["tables"]["darts"]["options"]["lce"] = {}
    with pytest.raises(ConfigError, match=r"families.tables.darts.options: lce is not among"):
        family_jobs(bad)


def test_summaries_and_paired_test() -> None:
    from nasrank.families.tables import _ci95, _paired

    v = [0.5, 0.6, 0.7, 0.9]
    half = stats.t.ppf(0.975, 3) * np.std(v, ddof=1) / 2
    assert _ci95(pd.Series(v)) == pytest.approx(half)
    assert math.isnan(_ci95(pd.Series([0.5])))
    assert math.isnan(_ci95(pd.Series([0.5, float("nan")])))
    gain = np.array([0.1, 0.2, 0.05, 0.15, 0.12])
    p_t, p_w = _paired(gain)
    assert p_t == pytest.approx(stats.ttest_rel(gain + 0.3, np.full(5, 0.3)).pvalue)
    assert p_w == pytest.approx(stats.wilcoxon(gain).pvalue) and p_w == pytest.approx(0.0625)
    assert all(math.isnan(p) for p in _paired(np.zeros(4)))
    assert all(math.isnan(p) for p in _paired(np.array([0.2])))


def _family_report(job: Any, rows_of: Any) -> dict[str, Any]:
    """A job report with the keys ``nasrank families`` writes (values made up)."""
    results = [{"benchmark": "darts", "target": "val_acc", "surrogate_labels": True,
                "seed": s, "pool_size": 725, "test_size": 100,
                "test_ids_sha256": f"t{s}", "rows": rows_of(s)} for s in job.seeds]
    return {"key": job.key, "table": job.table, "predictor": job.label,
            "registered": job.predictor, "family": job.family, "settings": job.settings,
            "seeds": list(job.seeds), "results": results}


@pytest.mark.parametrize("old", [False, True], ids=["strict", "old_nan_tokens"])
def test_predictor_families_table_notes_missing_metrics(tmp_path: Path, old: bool) -> None:
    """Job reports with undefined metrics (a zero-cost proxy has no MAE; a constant
    prediction has no correlation) as strict JSON (null plus a warning) or, written
    before issue 20 item 7, with NaN tokens: the same table, the missing means empty
    and a note naming the metrics and why."""
    from nasrank.families.jobs import family_jobs, nan_causes
    from nasrank.families.tables import metric_names, predictor_families_table
    from nasrank.io import write_json
    from nasrank.metrics import strict_metrics
    from nasrank.report.latex import write_tables

    params = tmp_params(tmp_path)
    params["families"].update(seeds=[0, 1, 2])
    params["families"]["tables"] = {"darts": {
        **params["families"]["tables"]["darts"], "train_sizes": [5],
        "predictors": ["jacov", "xgb"], "options": {}}}
    names = metric_names(params)

    def rows(family: str, seed: int) -> list[dict[str, Any]]:
        m = dict.fromkeys(names, 0.1 * (seed + 1))
        if family == "zero_cost":
            m.update(mae=math.nan, rmse=math.nan, sparse_kendall_tau=math.nan)
        elif seed == 2:
            m.update(kendall_tau=math.nan, spearman=math.nan, pearson=math.nan)
        return [{"train_size": 0 if family == "zero_cost" else 5, "n_test": 100, **m,
                 "label_time_s": 0.0 if family == "zero_cost" else math.nan,
                 "label_time_known": 0, "query_time_data_s": 0.5}]

    for job in family_jobs(params):
        report = _family_report(job, lambda s, f=job.family: rows(f, s))
        dest = job.output(Paths.of(params))
        if old:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", "utf-8")
        else:
            write_json(dest, strict_metrics(report, nan_causes(job.family)))
            text = dest.read_text("utf-8")
            assert "NaN" not in text and "null" in text
    if not old:
        jacov = json.loads((tmp_path / "reports" / "families" / "darts" / "jacov.json")
                           .read_text("utf-8"))
        assert jacov["results"][0]["rows"][0]["mae"] is None
        assert ("results[2].rows[0].rmse: not computed (zero-cost scores are not on the "
                "target's scale)") in jacov["warnings"]

    df = predictor_families_table(params).set_index("predictor")
    assert list(df.columns)[-1] == "note"
    jacov, xgb = df.loc["jacov"], df.loc["xgb"]
    assert math.isnan(jacov["mae_mean"]) and math.isnan(jacov["rmse_ci95"])
    assert jacov["kendall_tau_mean"] == pytest.approx(0.2)
    assert jacov["note"] == ("sparse_kendall_tau, mae, rmse: no value in 3 of 3 seeds, not "
                             "computed (zero-cost scores are not on the target's scale)")
    assert xgb["kendall_tau_mean"] == pytest.approx(0.15)      # seeds 0 and 1
    assert xgb["note"] == ("kendall_tau, spearman, pearson: no value in 1 of 3 seeds, "
                           "undefined (constant predictions or labels)")
    assert math.isnan(xgb["label_time_s_mean"])   # not recorded: no note, an empty cell
    stem = str(tmp_path / "tables" / "predictor_families")
    write_tables(df.reset_index(), stem)
    md = Path(f"{stem}.md").read_text("utf-8").splitlines()
    head = [c.strip() for c in md[0].strip("|").split("|")]
    line = next(x for x in md if "| jacov |" in x)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[head.index("mae_mean")] == "" and cells[-1] == jacov["note"]


def _study_params(params: dict, root: Path) -> dict:
    """NB201 CIFAR-10 and DARTS with few predictors, 2 seeds, small train sizes."""
    p = json.loads(json.dumps(params))
    p["predictors"]["xgb"] = {"n_estimators": 20}
    p["families"].update(seeds=[0, 1], init_time_tables=["nb201-cifar10"])
    shared = {"test_size": 100, "train_sizes": [5, 24, 71]}
    p["families"]["tables"] = {
        "nb201-cifar10": {**params["families"]["tables"]["nb201-cifar10"], **shared,
                          "predictors": ["jacov", "synflow", "early_stop_12", "xgb", "omni"],
                          "options": {"omni": {"model_options": {"n_estimators": 40}}}},
        "darts": {**params["families"]["tables"]["darts"], **shared,
                  "predictors": ["nwot", "xgb"], "options": {}},
    }
    p["families"]["zero_cost"] = {"benchmarks": ["nb201", "darts"],
                                  "targets": {"nb201": "val_acc_200",
                                              "nb201-cifar10": "test_acc_200"}}
    p["reports"]["families_dir"] = str(root / "reports" / "families")
    return p


@pytest.mark.mirror
def test_family_workflow_commands(params: dict, root: Path, tmp_path: Path) -> None:
    """`nasrank families` for every job, then the tables and figures, reproducibly."""
    from nasrank.families.jobs import family_jobs

    study = _study_params(params, tmp_path)
    study["reports"]["tables_dir"] = str(tmp_path / "tables")
    study["reports"]["figures_dir"] = str(tmp_path / "figures")
    path = write_params(study, tmp_path)
    jobs = family_jobs(study)
    assert len(jobs) == 7
    for job in jobs:
        cli(path, "families", job.key)
    fam = Path(study["reports"]["families_dir"])
    report = json.loads((fam / "nb201-cifar10" / "omni.json").read_text(encoding="utf-8"))
    assert report["predictor"] == "omni" and report["seeds"] == [0, 1]
    assert [r["seed"] for r in report["results"]] == [0, 1]
    assert {r["pool_size"] for r in report["results"]} == {723}  # cells every proxy scored
    first = report["results"][0]
    assert "test_ids" not in first and len(first["test_ids_sha256"]) == 64
    assert not {"fit_time_s", "init_time_s", "query_time_s"} & set(first["rows"][0])
    timing = json.loads((fam / "nb201-cifar10" / "omni.timing.json").read_text("utf-8"))
    assert [r["train_size"] for r in timing["results"][0]["rows"]] == [5, 24, 71]
    assert all(r["fit_time_s"] > 0 for t in timing["results"] for r in t["rows"])
    # one pool per table: every predictor of a seed saw the same test set
    for table in ("nb201-cifar10", "darts"):
        digests = {json.loads(p.read_text("utf-8"))["results"][1]["test_ids_sha256"]
                   for p in (fam / table).glob("*.json") if not p.name.endswith("timing.json")}
        assert len(digests) == 1, table
    # strict JSON: a zero-cost proxy's MAE is null, with a warning saying why
    jacov_text = (fam / "nb201-cifar10" / "jacov.json").read_text(encoding="utf-8")
    assert not re.search(r"\bNaN\b|Infinity", jacov_text)
    jacov = json.loads(jacov_text)
    assert jacov["results"][0]["rows"][0]["mae"] is None
    assert ("results[0].rows[0].mae: not computed (zero-cost scores are not on the target's "
            "scale)") in jacov["warnings"]
    # rerunning a job gives the same report bytes
    before = (fam / "nb201-cifar10" / "xgb.json").read_bytes()
    cli(path, "families", "nb201-cifar10/xgb")
    assert (fam / "nb201-cifar10" / "xgb.json").read_bytes() == before

    for name in ("predictor_families", "predictor_families_time", "omni_gain", "zero_cost"):
        cli(path, "table", name)
    tables = tmp_path / "tables"
    pf = pd.read_csv(tables / "predictor_families.csv")
    assert len(pf) == 2 + 1 + 3 * 2 + 1 + 3  # zero-cost and early stop once, trained per size
    row = pf[(pf["table"] == "nb201-cifar10") & (pf["predictor"] == "xgb")
             & (pf["train_size"] == 71)].iloc[0]
    taus = [r["rows"][2]["kendall_tau"] for r in json.loads(before)["results"]]
    assert row["kendall_tau_mean"] == pytest.approx(np.mean(taus), abs=1e-4)
    half = stats.t.ppf(0.975, 1) * np.std(taus, ddof=1) / math.sqrt(2)
    assert row["kendall_tau_ci95"] == pytest.approx(half, abs=1e-4)
    assert {"precision_at_10_mean", "sparse_kendall_tau_ci95", "label_time_s_mean"} <= set(pf)
    zc = pf[pf["predictor"] == "jacov"].iloc[0]
    assert math.isnan(zc["mae_mean"]) and "mae, rmse: no value in 2 of 2 seeds" in zc["note"]
    assert set(pf.loc[pf["table"] == "darts", "surrogate_labels"]) == {True}
    assert "surrogate_labels" in (tables / "predictor_families.md").read_text("utf-8")
    pt = pd.read_csv(tables / "predictor_families_time.csv")
    assert (pt.loc[pt["train_size"] > 0, "fit_time_s_mean"] > 0).all()
    gain = pd.read_csv(tables / "omni_gain.csv")
    assert list(gain["train_size"]) == [5, 24, 71] and set(gain["table"]) == {"nb201-cifar10"}
    assert set(gain["omni"]) == {"omni"}
    assert set(gain["best_single"]) <= {"jacov", "synflow", "early_stop_12", "xgb"}
    assert (gain["n_seeds"] == 2).all()
    assert gain["gain_mean"].to_numpy() == pytest.approx(
        (gain["omni_kendall_tau"] - gain["best_single_kendall_tau"]).to_numpy(), abs=1e-3)
    zc = pd.read_csv(tables / "zero_cost.csv")
    assert set(zc["table"]) == {"nb201-cifar10", "nb201-cifar100", "nb201-imagenet16_120",
                                "darts"}
    c10 = zc[zc["table"] == "nb201-cifar10"].set_index("proxy")
    assert set(c10["target"]) == {"test_acc_200"}
    assert c10.loc["synflow", "published_abs_spearman"] == pytest.approx(0.737)
    assert "15,625" in c10.loc["synflow", "published_over"]
    assert math.isnan(c10.loc["nwot", "published_abs_spearman"])
    assert set(zc.loc[zc["table"] == "nb201-cifar100", "target"]) == {"val_acc_200"}

    for name in ("families_tau_vs_train_size", "families_tau_vs_init_time",
                 "families_recommendation", "zero_cost_heatmap"):
        cli(path, "figure", name)
        png = (tmp_path / "figures" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000, name
    # the same data draw the same bytes
    heat = (tmp_path / "figures" / "zero_cost_heatmap.png").read_bytes()
    cli(path, "figure", "zero_cost_heatmap")
    assert (tmp_path / "figures" / "zero_cost_heatmap.png").read_bytes() == heat


@pytest.mark.mirror
def test_family_command_errors(params: dict, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    study = _study_params(params, tmp_path)
    study["families"]["tables"]["darts"]["train_sizes"] = [5, 700]
    path = write_params(study, tmp_path)
    assert main(["--params", path, "families", "darts/xgb"]) == 2
    err = capsys.readouterr().err
    assert "train size 700 exceeds the 625 architectures" in err and "darts" in err
    assert not (tmp_path / "reports" / "families" / "darts" / "xgb.json").exists()
    # a table of a job never run names the command that writes it
    assert main(["--params", path, "table", "predictor_families"]) == 2
    assert re.search(r"families/darts/nwot.json is missing; run `nasrank families darts/nwot` "
                     "first", capsys.readouterr().err)
    assert main(["--params", path, "figure", "nope"]) == 2
    assert "unknown figure 'nope'" in capsys.readouterr().err
    # predictors on different pools cannot be paired
    study["families"]["tables"]["nb201-cifar10"]["require"] = []
    study["families"]["tables"]["nb201-cifar10"]["predictors"] = ["synflow", "omni"]
    study["families"]["tables"]["nb201-cifar10"]["options"] = {
        "omni": {"model_options": {"n_estimators": 10}}}
    del study["families"]["tables"]["darts"]
    path = write_params(study, tmp_path)
    for key in ("nb201-cifar10/synflow", "nb201-cifar10/omni"):
        assert main(["--params", path, "-q", "families", key]) == 0
    assert main(["--params", path, "table", "omni_gain"]) == 2
    assert "different test sets" in capsys.readouterr().err


def test_best_under_budgets() -> None:
    """Each cell: the best mean tau among the rows within both budgets (-1: none fits)."""
    from nasrank.families.figures import best_under_budgets

    rows = pd.DataFrame({
        "predictor": ["es", "xgb", "xgb", "lce"],
        "init_time_s_mean": [0.0, 10.0, 100.0, 0.0],
        "query_time_s_mean": [5.0, 1e-3, 1e-3, 6.0],
        "kendall_tau_mean": [0.5, 0.4, 0.7, 0.6],
    })
    grid, names = best_under_budgets(rows, np.array([1.0, 50.0, 500.0]),
                                     np.array([1e-4, 1e-2, 10.0]))
    assert names == ["es", "xgb", "lce"]
    assert grid.tolist() == [[-1, -1, -1],   # nothing queries in 0.1 ms
                             [-1, 1, 1],     # xgb once 10 s of init fit (then its 0.7)
                             [2, 2, 1]]      # lce (0.6) until xgb's 100 s init (0.7) fits


def test_gp_starts_from_the_median_distance() -> None:
    """On wide one-hot inputs (DARTS: 192 bits) the GP starts its length scale at the
    median pairwise distance and does not collapse to the constant mean."""
    from scipy.spatial.distance import pdist

    rng = np.random.default_rng(0)
    x = (rng.random((260, 192)) < 0.1).astype(np.float32)
    y = x[:, :12] @ rng.normal(size=12) + 0.05 * rng.normal(size=260)
    model = get_predictor("gp", (192,), seed=0)
    assert model.options["length_scale"] == "median"
    model.fit(x[:200], y[:200])
    assert model._length_scale == pytest.approx(float(np.median(pdist(x[:200]))))
    pred = model.predict(x[200:])
    assert np.ptp(pred) > 0 and stats.kendalltau(y[200:], pred).statistic > 0.3
    with pytest.raises(ConfigError, match="'gp': option 'length_scale' must be a finite "):
        get_predictor("gp", (4,), length_scale="mean")


@pytest.mark.mirror
def test_seminas_pseudo_labels_the_pool_outside_train_and_test(
        params: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """SemiNAS in the family study gets, besides its n training cells, the pool's other
    non-test cells as unlabelled data (never a test cell); NAO gets none."""
    from nasrank.predictors.nao import NAOPredictor

    td = TableData.load("nb201-cifar10", params["data"]["processed_dir"],
                        params["data"]["features_dir"])
    seen: list[tuple[str, int, int]] = []
    real = NAOPredictor.fit

    def fit(self: Any, x: Any, y: Any, unlabeled: Any = None) -> Any:
        seen.append((self.name, len(x), 0 if unlabeled is None else len(unlabeled)))
        return real(self, x, y, unlabeled)

    monkeypatch.setattr(NAOPredictor, "fit", fit)
    common = {"target": "val_acc_200", "test_size": 100, "require": SHARED,
              "train_sizes": [5, 40], "params": params}
    opts = {"pretrain_epochs": 2, "epochs": 1, "hidden": 8}
    rows = {name: evaluate(td, name, 0, options=opts, **common)["rows"]
            for name in ("nao", "seminas")}
    pool = evaluate(td, "rf", 0, options=FAST["rf"], **common)["pool_size"]
    assert seen == [("nao", 5, 0), ("nao", 40, 0),
                    ("seminas", 5, pool - 100 - 5), ("seminas", 40, pool - 100 - 40)]
    for name, got in rows.items():
        assert [r["train_size"] for r in got] == [5, 40], name
        assert all(np.isfinite(r["kendall_tau"]) for r in got), name
