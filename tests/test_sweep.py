"""Sweeps (nasrank.sweep): many runs trained at once, each exactly as if alone.

The equivalence tests compare bytes, not tolerances: a run's parameters and predictions
from a sweep must equal those of the same run trained in a sweep of one, whatever other
runs (losses, train sizes, seeds) share its sweep and however the sweep is chunked.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from test_train import build_task, cfg_of, small_params, with_models_dir

import nasrank.losses.registry as loss_registry
import nasrank.sweep as sweep_mod
from nasrank.cli import main
from nasrank.encodings import get_encoding
from nasrank.losses import LOSSES, LossContext, get_loss
from nasrank.losses.base import Loss, zero_like
from nasrank.predictors import get_predictor
from nasrank.predictors.stacked import StackedNetwork
from nasrank.sweep import SweepError, check_sweep, fit_predictors, run_sweep
from nasrank.train import RunConfig, TrainingError, load_run_inputs, split

STUDY_LOSSES = ["mse", "hr", "lr", "mse_sr", "listmle", "ew", "mape", "warp", "piecewise",
                "renas", "l1"]
RUN_FILES = ("predictions.parquet", "model.bin", "config.json", "log.csv")


@pytest.fixture(scope="module")
def task(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pa.Table]:
    root = tmp_path_factory.mktemp("sweep_task")
    return root, build_task(root)


@pytest.fixture(scope="module")
def params(task: tuple[Path, pa.Table]) -> dict[str, Any]:
    return small_params(task[0], epochs=4)


def _inputs(params: dict[str, Any], cfgs: list[RunConfig]) -> tuple[list, list, Any, Any]:
    ids, y, _, enc, x = load_run_inputs(cfgs[0], params)
    splits = [split(len(ids), c) for c in cfgs]
    return [x[a] for a, _ in splits], [y[a] for a, _ in splits], enc.layout, x


def _fit_and_predict(cfgs, xs, ys, layout, x, **kw) -> list[np.ndarray]:
    return [f.predict(x) for f in fit_predictors(cfgs, xs, ys, layout, **kw)]


def _states(cfgs, xs, ys, layout) -> list[dict[str, torch.Tensor]]:
    return [f.model.state_dict() for f in fit_predictors(cfgs, xs, ys, layout)]


# --------------------------------------------------------------------------- equivalence


@pytest.mark.parametrize(("predictor", "encoding"), [("gcn", "gcn"),
                                                      ("mlp", "adjacency_onehot")])
def test_run_in_sweep_equals_sweep_of_one(params: dict[str, Any], predictor: str,
                                          encoding: str) -> None:
    """Every loss x 2 train sizes x 2 seeds in one sweep: each run bit-identical alone."""
    p = params
    if predictor == "mlp":  # dropout on: each run's own stream must not depend on others
        p = {**params, "predictors": {**params["predictors"],
                                      "mlp": {"hidden": [64, 64], "dropout": 0.2}}}
    cfgs = [cfg_of(p, predictor, loss, encoding, n, s)
            for loss in STUDY_LOSSES for n in (40, 100) for s in (0, 1)]
    xs, ys, layout, x = _inputs(p, cfgs)
    together = _fit_and_predict(cfgs, xs, ys, layout, x)
    for i in (0, 5, 17, 30, len(cfgs) - 1):
        alone = _fit_and_predict([cfgs[i]], [xs[i]], [ys[i]], layout, x)[0]
        assert np.array_equal(alone, together[i]), cfgs[i].run_id
    # another composition and cut: reversed order, chunks of 3 runs
    order = list(reversed(range(0, len(cfgs), 3)))
    other = fit_predictors([cfgs[i] for i in order], [xs[i] for i in order],
                           [ys[i] for i in order], layout)
    for j, i in enumerate(order):
        assert np.array_equal(other[j].predict(x), together[i]), cfgs[i].run_id


def test_chunked_sweep_equals_whole(params: dict[str, Any],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cfgs = [cfg_of(params, "gcn", "hr", "gcn", 60, s) for s in range(5)]
    xs, ys, layout, _ = _inputs(params, cfgs)
    whole = _states(cfgs, xs, ys, layout)
    monkeypatch.setattr(sweep_mod, "MAX_CHUNK", 2)
    chunked = _states(cfgs, xs, ys, layout)
    for a, b in zip(whole, chunked, strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("looped", [True, False])
def test_lenet_sweep_batch_norm_per_run(looped: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """LeNets with batch statistics per run: running statistics kept per run, and each
    run bit-identical to itself alone, run by run (the CPU's form) and as one im2col
    product over all runs (the GPU's)."""
    original = StackedNetwork.__init__

    def init(self, modules, device, looped_=None):  # type: ignore[no-untyped-def]
        original(self, modules, device, looped=looped)

    monkeypatch.setattr(StackedNetwork, "__init__", init)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3, 5, 5)).astype(np.float32)
    y = x[:, 0].mean((1, 2)) * 3 + rng.normal(scale=0.1, size=120)
    base = RunConfig(bench="nbmacro", task=None, encoding="tensor", predictor="lenet",
                     loss="lr", train_size=60, seed=0, epochs=3, batch_size=32,
                     predictor_options={"conv_channels": [4, 8], "fc_hidden": [16]})
    cfgs = [replace(base, loss=loss, seed=s) for loss in ("lr", "mse", "renas")
            for s in (0, 1)]
    picks = [rng.choice(120, size=60, replace=False) for _ in cfgs]
    xs, ys = [x[p] for p in picks], [y[p] for p in picks]
    fitted = fit_predictors(cfgs, xs, ys, None)
    means = [f.model.state_dict()["features.1.running_mean"] for f in fitted]
    assert not torch.equal(means[0], means[1])
    assert all(int(f.model.state_dict()["features.1.num_batches_tracked"]) == 3 * 2
               for f in fitted)
    for i in (0, 3, 5):
        alone = fit_predictors([cfgs[i]], [xs[i]], [ys[i]], None)[0]
        assert np.array_equal(alone.predict(x), fitted[i].predict(x)), cfgs[i].run_id


@pytest.mark.parametrize(("predictor", "encoding", "looped"), [
    ("gcn", "gcn", False), ("mlp", "adjacency_onehot", False), ("lenet", None, False),
    ("lenet", None, True)])
def test_stacked_forward_equals_modules(predictor: str, encoding: str | None,
                                        looped: bool) -> None:
    """Train- and eval-mode forward of the stacked networks equals each module's own
    forward (the LeNet's im2col form used on GPUs, and its run-by-run form of the CPU),
    BatchNorm running statistics included."""
    if encoding is None:
        shape, layout = (3, 5, 5), None
        x = torch.randn(3, 7, *shape)
    else:
        enc = get_encoding("nbmacro", encoding)
        shape, layout = enc.shape, enc.layout
        x = torch.rand(3, 7, *shape).round()
    nets = [get_predictor(predictor, shape, layout, seed=s, **(
        {"dropout": 0.0} if predictor == "gcn" else {})) for s in range(3)]
    stack = StackedNetwork(nets, "cpu", looped=looped)
    for train in (True, False):
        pred, feats = stack(x, train=train)
        for r, net in enumerate(nets):
            net.train(train)
            with torch.no_grad():
                p, f = net(x[r])
            torch.testing.assert_close(pred[r], p, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(feats[r], f, rtol=1e-5, atol=1e-5)
    for r, state in enumerate(stack.state_dicts()):
        for k, v in state.items():
            torch.testing.assert_close(v, nets[r].state_dict()[k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_in_sweep_equals_single_run(name: str) -> None:
    """Each registered loss, evaluated per run on stacked predictions, gives each run the
    value and gradient of the loss called on that run alone, bit for bit."""
    gen = torch.Generator().manual_seed(3)
    r, b, d = 5, 32, 6
    pred = torch.randn(r, b, generator=gen, requires_grad=True)
    target = torch.rand(r, b, generator=gen)
    target[1, :4] = target[1, 4]  # ties
    feats = torch.randn(r, b, d, generator=gen, requires_grad=True)
    opts = {"switch_epoch": 1} if name == "piecewise" else {}
    ctx = LossContext(epoch=1, train_size=100)
    batched = sweep_mod._vmapped_loss(get_loss(name, **opts), pred, target, feats, ctx)
    g_pred, g_feats = torch.autograd.grad(batched.sum(), [pred, feats], allow_unused=True)
    for i in range(r):
        p = pred[i].detach().clone().requires_grad_(True)
        f = feats[i].detach().clone().requires_grad_(True)
        single = get_loss(name, **opts)(p, target[i], f, ctx)
        gp, gf = torch.autograd.grad(single, [p, f], allow_unused=True)
        assert torch.equal(single, batched[i]), (name, i)
        assert torch.equal(gp, g_pred[i]), (name, i)
        if gf is not None:
            assert torch.equal(gf, g_feats[i]), (name, i)


# --------------------------------------------------------------------------- outputs


def test_run_sweep_writes_each_run_like_train(params: dict[str, Any], tmp_path: Path) -> None:
    p = with_models_dir(params, tmp_path / "models")
    cfgs = [cfg_of(p, "gcn", loss, "gcn", n, 0) for loss in ("hr", "lr") for n in (40, 80)]
    results = run_sweep(cfgs, p, progress=False)
    assert len(results) == 4
    for cfg in cfgs:
        d = tmp_path / "models" / cfg.run_id
        assert sorted(f.name for f in d.iterdir()) == sorted([*RUN_FILES, "timing.json"])
        timing = json.loads((d / "timing.json").read_text())
        assert timing["sweep_runs"] == 4 and timing["fit_time_s"] > 0
        assert timing["sweep_fit_time_s"] >= timing["fit_time_s"]
    # the CLI's train of one run writes the same bytes as that run in the sweep
    one = with_models_dir(params, tmp_path / "one")
    cfg = cfgs[1]
    from nasrank.train import run

    run(cfg, one)
    for name in RUN_FILES:
        a = (tmp_path / "models" / cfg.run_id / name).read_bytes()
        b = (tmp_path / "one" / cfg.run_id / name).read_bytes()
        assert a == b, name
    assert not [f for f in (tmp_path / "models").rglob(".*") if f.name.startswith(".")]


def test_cli_sweep_with_evaluate(task: tuple[Path, pa.Table], params: dict[str, Any],
                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    root = task[0]
    p = with_models_dir(params, tmp_path / "models")
    p["reports"]["metrics_dir"] = str(tmp_path / "metrics")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p), encoding="utf-8")
    monkeypatch.chdir(root)
    assert main(["--params", str(path), "-q", "sweep", "nbmacro", "gcn", "gcn",
                 "--losses", "hr,mse", "--train-sizes", "40", "--seeds", "0,1",
                 "--evaluate"]) in (0, None)
    for loss in ("hr", "mse"):
        for s in (0, 1):
            m = json.loads((tmp_path / "metrics" / f"nbmacro/gcn/gcn/{loss}/n40/s{s}.json")
                           .read_text())
            assert m["metrics"]["n"] > 0
            pq.read_table(tmp_path / "models" / f"nbmacro/gcn/gcn/{loss}/n40/s{s}"
                          / "predictions.parquet")


# --------------------------------------------------------------------------- errors


def test_sweep_rejects_mixed_predictors_and_duplicates(params: dict[str, Any]) -> None:
    a = cfg_of(params, "gcn", "hr", "gcn")
    with pytest.raises(SweepError, match=r"share predictor.*mlp"):
        check_sweep([a, cfg_of(params, "mlp", "hr", "gcn")])
    with pytest.raises(SweepError, match=r"share encoding"):
        check_sweep([a, cfg_of(params, "gcn", "hr", "adjacency_onehot")])
    with pytest.raises(SweepError, match=r"appears twice"):
        check_sweep([a, a])
    with pytest.raises(SweepError, match=r"share epochs"):
        check_sweep([a, replace(a, seed=1, epochs=3)])


def test_cli_sweep_unknown_loss_and_bad_list(task: tuple[Path, pa.Table], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "nbmacro", "gcn", "gcn", "--losses", "hr,hinge",
                 "--train-sizes", "40", "--seeds", "0"]) != 0
    assert "hinge" in capsys.readouterr().err
    assert main(["sweep", "nbmacro", "gcn", "gcn", "--losses", "hr",
                 "--train-sizes", "40,x", "--seeds", "0"]) != 0
    assert "--train-sizes" in capsys.readouterr().err


class NaNForOneRun(Loss):
    """MSE, but NaN at the 6th call for the run whose first target is the largest."""

    name = "nan_one_run"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.calls = 0

    def compute(self, pred, target, features, ctx):  # type: ignore[override]
        self.calls += 1
        mse = ((pred - target) ** 2).mean()
        if self.calls == 6:
            return torch.where(target[0] == target.max(), mse * float("nan"), mse)
        return mse


def test_nan_in_one_run_names_it_and_writes_nothing(params: dict[str, Any], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(loss_registry.LOSSES, NaNForOneRun.name, NaNForOneRun)
    p = with_models_dir(params, tmp_path)
    cfgs = [cfg_of(p, "gcn", NaNForOneRun.name, "gcn", 100, s) for s in range(6)]
    cfgs.append(cfg_of(p, "gcn", "hr", "gcn", 100, 0))
    with pytest.raises(TrainingError, match=r"nan_one_run/n100/s\d+: loss nan_one_run is nan "
                                            r"at epoch 1, step 2"):
        run_sweep(cfgs, p, progress=False)
    assert not list(tmp_path.rglob("*.parquet"))
    assert not list(tmp_path.rglob("model.bin"))


def test_one_run_too_large_for_memory_names_the_sweep(params: dict[str, Any],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep_mod, "_free_bytes", lambda device: 1000)
    cfgs = [cfg_of(params, "gcn", "hr", "gcn", 60, s) for s in range(2)]
    xs, ys, layout, _ = _inputs(params, cfgs)
    with pytest.raises(SweepError, match=r"sweep nbmacro/gcn/gcn \(2 runs\): one run"):
        fit_predictors(cfgs, xs, ys, layout)


def test_zero_like_under_vmap_keeps_graph() -> None:
    """A batch without pairs gives each run an exact zero that still back-propagates."""
    pred = torch.randn(3, 4, requires_grad=True)
    target = torch.ones(3, 4)
    out = sweep_mod._vmapped_loss(get_loss("hr"), pred, target, None, LossContext())
    assert torch.equal(out, torch.zeros(3))
    out.sum().backward()
    assert torch.equal(pred.grad, torch.zeros(3, 4))
    assert zero_like(pred).item() == 0.0
