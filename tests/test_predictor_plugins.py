"""Tests of predictor plugins (nasrank.plugins, nasrank.predictors.catalog): predictors
defined outside nasrank, named in params.yaml's ``plugins:`` or installed as entry points
of the group ``nasrank.predictors``, checked when they register, trained in sweeps and
listed by the family study."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from test_train import build_task, cfg_of, small_params

from nasrank import plugins as plugins_mod
from nasrank.config import load_params
from nasrank.errors import ConfigError, UnknownNameError
from nasrank.families import FAMILY_PREDICTORS, get_family_predictor
from nasrank.predictors import PREDICTORS, get_predictor, register_predictor
from nasrank.predictors.catalog import PredictorRegistrationError, unregister_predictor
from nasrank.sweep import fit_predictors
from nasrank.train import load_run_inputs, split

#: a torch predictor without a stacked form: trained run by run in a sweep
TINY_NET = '''
"""A plugin of the tests: a two-layer network with LayerNorm."""

import math

from torch import nn

from nasrank.predictors import register_predictor


class TinyNet(nn.Module):
    def __init__(self, shape, width):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), width),
                                  nn.LayerNorm(width), nn.ReLU())
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        h = self.body(x)
        return self.out(h).squeeze(-1), h


@register_predictor("tiny_net", kind="torch")
def build(shape, layout, *, width=16):
    """Linear, LayerNorm, ReLU, linear: a test network."""
    return TinyNet(shape, width)
'''


def _tree_source(name: str, predict: str = "np.zeros(len(x))", options: str = "seed=0") -> str:
    return textwrap.dedent(f'''
        import numpy as np
        from nasrank.predictors import register_predictor


        class Mean:
            def fit(self, x, y):
                self.mean = float(np.mean(y))
                return self

            def predict(self, x):
                return {predict}


        @register_predictor("{name}", kind="tree")
        def build(shape, layout, *, {options}):
            """The training mean: a test predictor."""
            return Mean()
        ''')


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[Callable[[str, str], Path]]:
    """``write(module, source)``: an importable plugin module in tmp_path; its predictors,
    its import and its record are undone after the test (the registry is global)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(module: str, source: str) -> Path:
        path = tmp_path / f"{module}.py"
        path.write_text(source, encoding="utf-8")
        importlib.invalidate_caches()
        written.append(module)
        return path

    yield write
    for name in [n for n, s in PREDICTORS.items() if s.module in written]:
        unregister_predictor(name)
    for module in written:
        sys.modules.pop(module, None)
        plugins_mod.PLUGINS.pop(module, None)


def _params_file(repo: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    edit(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def test_plugin_predictor_loads_from_params(repo: Path, tmp_path: Path,
                                            plugin: Callable[[str, str], Path]) -> None:
    plugin("nasrank_test_mean", _tree_source("train_mean", "np.full(len(x), self.mean)"))

    def edit(p: dict[str, Any]) -> None:
        p["plugins"] = ["nasrank_test_mean"]
        p["predictors"]["train_mean"] = {"seed": 3}

    load_params(_params_file(repo, tmp_path, edit))
    assert plugins_mod.PLUGINS["nasrank_test_mean"] == plugins_mod.Registered(
        predictors=("train_mean",))
    spec = PREDICTORS["train_mean"]
    assert (spec.kind, spec.uses_loss, spec.description, spec.defaults) == (
        "tree", False, "The training mean: a test predictor.", {"seed": 0})
    model = get_predictor("train_mean", (3,)).fit(np.zeros((4, 3)), np.arange(4.0))
    assert model.predict(np.zeros((2, 3))).tolist() == [1.5, 1.5]
    # a model-based family predictor, with the registry's default encoding
    assert FAMILY_PREDICTORS["train_mean"].family == "model_based"
    assert get_family_predictor("train_mean").options["encoding"] == "adjacency_onehot"
    with pytest.raises(ConfigError, match=r"predictor 'train_mean': unknown option 'sed'"):
        get_predictor("train_mean", (3,), sed=1)


def test_unknown_predictor_in_params_names_the_key(repo: Path, tmp_path: Path) -> None:
    path = _params_file(repo, tmp_path,
                        lambda p: p["experiments"]["loss_study"].update(predictor="tiny_net"))
    with pytest.raises(UnknownNameError, match=r"predictor \(.*: experiments\.loss_study\."
                                               r"predictor\) 'tiny_net'; available: .*gcn"):
        load_params(path)


@pytest.mark.parametrize(("source", "message"), [
    (_tree_source("bad_shape", "np.zeros(3)"),
     r"plugins\[0\] \(module 'nasrank_test_bad'\): predictor 'bad_shape' "
     r"\(nasrank_test_bad\) fails the smoke check: .* it predicted \(3,\) values"),
    (_tree_source("bad_nan", "np.full(len(x), np.nan)"),
     r"predictor 'bad_nan' .*fails the smoke check: .*\(finite: False\)"),
    (_tree_source("no_default", options="seed=0, k"),
     r"predictor 'no_default' \(nasrank_test_bad.build\): option 'k' has no default"),
    (_tree_source("no_seed", options="k=1"),
     r"predictor 'no_seed' .*a tree builder takes the option 'seed'"),
    (_tree_source("rf"), r"predictor 'rf' is registered twice: by nasrank.predictors and "
                         r"by nasrank_test_bad.build"),
    (TINY_NET.replace("nn.LayerNorm(width), nn.ReLU()", "nn.ReLU(), nn.Dropout(0.5)"),
     r"predictor 'tiny_net' .*fails the smoke check: .*dropout layers \(body.3\) in a "
     r"network without a stacked form"),
])
def test_bad_plugin_predictor_is_refused_naming_it(plugin: Callable[[str, str], Path],
                                                   source: str, message: str) -> None:
    plugin("nasrank_test_bad", source)
    before = dict(PREDICTORS)
    with pytest.raises((PredictorRegistrationError, ConfigError), match=message):
        plugins_mod.import_plugins(["nasrank_test_bad"])
    assert list(PREDICTORS) == list(before)  # nothing of it stays registered


def test_registration_checks() -> None:
    with pytest.raises(PredictorRegistrationError, match="kind must be one of torch, tree"):
        register_predictor("x_pred", kind="sklearn")
    with pytest.raises(PredictorRegistrationError, match="name must match"):
        register_predictor("X-pred", kind="tree")
    assert "x_pred" not in PREDICTORS


def test_entry_points_register_predictors(plugin: Callable[[str, str], Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    plugin("nasrank_test_mean", _tree_source("train_mean", "np.full(len(x), self.mean)"))
    eps = [metadata.EntryPoint(name="mean", value="nasrank_test_mean",
                               group="nasrank.predictors")]
    monkeypatch.setattr(plugins_mod.metadata, "entry_points",
                        lambda group: eps if group == "nasrank.predictors" else [])
    assert plugins_mod.load_entry_points("predictors").predictors == ("train_mean",)
    assert "train_mean" in PREDICTORS
    assert plugins_mod.load_entry_points("predictors") == plugins_mod.Registered()


def test_plugin_torch_predictor_trains_in_sweeps_run_by_run(
        tmp_path: Path, plugin: Callable[[str, str], Path]) -> None:
    """A torch predictor without a stacked form trains in a sweep through its own forward,
    each run bit-identical to the same run in a sweep of one."""
    plugin("nasrank_test_tiny", TINY_NET)
    plugins_mod.import_plugins(["nasrank_test_tiny"])
    build_task(tmp_path)
    params = small_params(tmp_path, epochs=3)
    params["train"]["by_predictor"]["tiny_net"] = {"batch_size": 32, "epochs": 3}
    cfgs = [cfg_of(params, "tiny_net", loss, "adjacency_onehot", n, s)
            for loss in ("hr", "mse") for n in (40, 80) for s in (0, 1)]
    ids, y, _, enc, x = load_run_inputs(cfgs[0], params)
    splits = [split(len(ids), c) for c in cfgs]
    xs, ys = [x[a] for a, _ in splits], [y[a] for a, _ in splits]
    together = [f.predict(x) for f in fit_predictors(cfgs, xs, ys, enc.layout)]
    assert all(np.isfinite(p).all() and np.ptp(p) > 0 for p in together)
    for i in (0, 3, len(cfgs) - 1):
        alone = fit_predictors([cfgs[i]], [xs[i]], [ys[i]], enc.layout)[0].predict(x)
        assert np.array_equal(alone, together[i]), cfgs[i].run_id


def test_installed_example_plugin_registers_through_entry_points(repo: Path,
                                                                 tmp_path: Path) -> None:
    """examples/plugin installed as a package (pip, into a directory on the path): its
    entry points register focal_rank and knn in a fresh process, without ``plugins:``."""
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                          "--no-build-isolation", "--target", str(site),
                          str(repo / "examples/plugin")],
                         capture_output=True, text=True, timeout=300)
    if pip.returncode != 0 and "No module named" in pip.stderr:
        pytest.skip(f"pip cannot build the example here: {pip.stderr.strip()[-300:]}")
    assert pip.returncode == 0, pip.stderr
    code = ("from nasrank.predictors import PREDICTORS; from nasrank.losses import LOSSES; "
            "from nasrank.plugins import PLUGINS; "
            "print(PREDICTORS['knn'].module, LOSSES['focal_rank'].__module__, sorted(PLUGINS))")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [
        "nasrank_example_plugin.predictors", "nasrank_example_plugin.losses",
        "['nasrank_example_plugin.losses',", "'nasrank_example_plugin.predictors']"]


def test_plugin_file_is_a_code_dependency_of_family_stages(
        repo: Path, tmp_path: Path, plugin: Callable[[str, str], Path]) -> None:
    from nasrank.dvcgen import render

    file = plugin("nasrank_test_mean", _tree_source("train_mean", "np.full(len(x), 0.5)"))

    def edit(p: dict[str, Any]) -> None:
        p["plugins"] = ["nasrank_test_mean"]
        p["families"]["tables"]["nb101"]["predictors"].append("train_mean")

    params = load_params(_params_file(repo, tmp_path, edit))
    stages = yaml.safe_load(render(params))["stages"]
    where = str(file.resolve())  # outside the repository: its absolute path
    families = stages["families"]
    assert "nb101-train_mean" in families["foreach"]
    assert where in families["do"]["deps"]  # every family job builds predictors
    assert where not in stages["ingest_nb101"]["deps"]
