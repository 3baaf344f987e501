"""Tests of loss plugins (nasrank.plugins): losses defined outside nasrank, named in
params.yaml's ``plugins:`` or installed as entry points of the group ``nasrank.losses``,
checked when they register, and DVC code dependencies of the stages that use them."""

from __future__ import annotations

import importlib
import logging
import sys
import textwrap
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
import yaml

from nasrank import plugins as plugins_mod
from nasrank.config import load_params, schema
from nasrank.errors import ConfigError, UnknownNameError
from nasrank.losses import LOSSES, Loss, get_loss, loss_entry
from nasrank.losses.catalog import LossRegistrationError, register_loss, unregister_loss
from nasrank.losses.smoke import smoke_check
from nasrank.plugins import load_entry_points, plugin_files

FOCAL = "nasrank_test_focal_plugin"

FOCAL_SOURCE = '''
"""A plugin of the tests: a focal-weighted pairwise logistic ranking loss."""

from typing import Any, ClassVar

import torch

from nasrank.losses import Loss, register_loss
from nasrank.losses.base import check_number, masked_mean, pair_matrices


@register_loss("focal_rank", family="ranking", label="Focal")
class FocalRankLoss(Loss):
    """Focal-weighted pairwise logistic ranking loss.

    Each ordered pair's logistic loss softplus(-s_ij (p_i - p_j)) is weighted by
    (1 - sigmoid(s_ij (p_i - p_j)))^gamma: pairs already ordered right count less."""

    OPTIONS: ClassVar[dict[str, Any]] = {"gamma": 2.0}

    def check_options(self, opts):
        check_number(self.name, "gamma", opts["gamma"], min_value=0.0)

    def compute(self, pred, target, features, ctx):
        diff, sign = pair_matrices(pred, target)
        z = sign * diff
        weight = (1.0 - torch.sigmoid(z)).pow(self.options["gamma"])
        return masked_mean(weight * torch.nn.functional.softplus(-z), sign != 0)
'''


def _bad_source(name: str, body: str, options: str = "{}") -> str:
    return textwrap.dedent(f'''
        from typing import Any, ClassVar
        import torch
        from nasrank.losses import Loss, register_loss

        @register_loss("{name}", family="ranking")
        class BadLoss(Loss):
            """A broken loss."""

            OPTIONS: ClassVar[dict[str, Any]] = {options}

            def compute(self, pred, target, features, ctx):
                return {body}
        ''')


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[Callable[[str, str], Path]]:
    """``write(module, source)``: a plugin module in tmp_path, importable; its losses,
    its import and its record are undone after the test (the catalogue is global)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(module: str, source: str) -> Path:
        path = tmp_path / f"{module}.py"
        path.write_text(source, encoding="utf-8")
        importlib.invalidate_caches()
        written.append(module)
        return path

    yield write
    for name in [n for n, cls in LOSSES.items() if cls.__module__ in written]:
        unregister_loss(name)
    for module in written:
        sys.modules.pop(module, None)
        plugins_mod.PLUGINS.pop(module, None)


def _params(repo: Path, tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    params = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    edit(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def _with_focal(p: dict[str, Any]) -> None:
    p["plugins"] = [FOCAL]
    p["losses"]["focal_rank"] = {"gamma": 1.0}
    p["experiments"]["loss_study"]["losses"].append("focal_rank")


def test_plugin_loss_loads_from_params(repo: Path, tmp_path: Path,
                                       plugin: Callable[[str, str], Path]) -> None:
    from nasrank.jobs import check_losses

    plugin(FOCAL, FOCAL_SOURCE)
    params = load_params(_params(repo, tmp_path, _with_focal))
    assert params["plugins"] == [FOCAL] and "focal_rank" in LOSSES
    assert plugins_mod.PLUGINS[FOCAL] == plugins_mod.Registered(losses=("focal_rank",))
    entry = loss_entry("focal_rank")
    assert (entry.family, entry.label, dict(entry.options)) == ("ranking", "Focal",
                                                                {"gamma": 2.0})
    loss = get_loss("focal_rank", **params["losses"]["focal_rank"])
    pred = torch.tensor([0.1, 0.5, 0.9], requires_grad=True)
    out = loss(pred, torch.tensor([0.0, 0.5, 1.0]))
    out.backward()
    assert out.ndim == 0 and torch.isfinite(out) and pred.grad is not None
    # the grids' losses build with their options: the one way options are validated
    check_losses(params)
    params["losses"]["focal_rank"] = {"gama": 1.0}
    with pytest.raises(ConfigError, match=r"loss 'focal_rank': unknown option 'gama'"):
        check_losses(params)
    # loading again imports nothing twice
    assert load_params(tmp_path / "params.yaml")["plugins"] == [FOCAL]


def test_unknown_loss_names_the_key(repo: Path, tmp_path: Path) -> None:
    path = _params(repo, tmp_path,
                   lambda p: p["experiments"]["loss_study"]["losses"].append("focal_rank"))
    with pytest.raises(UnknownNameError,
                       match=r"unknown loss \(.*params.yaml: experiments\.loss_study\.losses"
                             r"\[9\]\) 'focal_rank'; available: .*hr, .*regression"):
        load_params(path)


def test_options_of_an_unknown_loss_name_the_key(repo: Path, tmp_path: Path) -> None:
    path = _params(repo, tmp_path, lambda p: p["losses"].update(focal_rank={"gamma": 1}))
    with pytest.raises(UnknownNameError, match=r"\(.*: losses\.focal_rank\) 'focal_rank'"):
        load_params(path)


@pytest.mark.parametrize(("source", "message"), [
    (None, r"plugins\[0\] \(module 'nasrank_test_missing'\): cannot import it: "
           r"ModuleNotFoundError: No module named 'nasrank_test_missing'"),
    ("raise RuntimeError('boom')\n",
     r"plugins\[0\] \(module 'nasrank_test_missing'\): cannot import it: RuntimeError: boom"),
])
def test_plugin_that_fails_to_import(repo: Path, tmp_path: Path,
                                     plugin: Callable[[str, str], Path],
                                     source: str | None, message: str) -> None:
    if source is not None:
        plugin("nasrank_test_missing", source)
    path = _params(repo, tmp_path, lambda p: p.update(plugins=["nasrank_test_missing"]))
    with pytest.raises(ConfigError, match=message):
        load_params(path)


def test_plugin_module_name_is_checked_by_the_schema(repo: Path, tmp_path: Path) -> None:
    path = _params(repo, tmp_path, lambda p: p.update(plugins=["my-losses.py"]))
    with pytest.raises(ConfigError, match=r"key 'plugins.0': 'my-losses.py' does not match"):
        load_params(path)


@pytest.mark.parametrize(("body", "options", "problem"), [
    ("(pred - target).pow(2).mean() * float('nan')", "{}", r"returned nan, not a finite"),
    ("(pred - target).pow(2)", "{}", r"returned a tensor of shape \(8,\), not a scalar"),
    ("torch.tensor(1.0)", "{}", r"without a gradient"),
    ("1.0", "{}", r"returned float, not a tensor"),
    ("pred.sum() * self.options['scale'].x", "{'scale': 1.0}", r"raised AttributeError"),
])
def test_broken_loss_fails_registration(repo: Path, tmp_path: Path,
                                        plugin: Callable[[str, str], Path],
                                        body: str, options: str, problem: str) -> None:
    plugin("nasrank_test_bad", _bad_source("bad_loss", body, options))
    path = _params(repo, tmp_path, lambda p: p.update(plugins=["nasrank_test_bad"]))
    with pytest.raises(LossRegistrationError,
                       match=r"plugins\[0\] \(module 'nasrank_test_bad'\): loss 'bad_loss' "
                             r"\(nasrank_test_bad\.BadLoss\) fails the smoke check: .*"
                             + problem):
        load_params(path)
    assert "bad_loss" not in LOSSES


def test_duplicate_name_and_missing_default_fail_naming_the_plugin(
        repo: Path, tmp_path: Path, plugin: Callable[[str, str], Path]) -> None:
    plugin("nasrank_test_dup", _bad_source("hr", "pred.sum()"))
    path = _params(repo, tmp_path, lambda p: p.update(plugins=["nasrank_test_dup"]))
    with pytest.raises(LossRegistrationError,
                       match=r"plugins\[0\] \(module 'nasrank_test_dup'\): loss 'hr' is "
                             r"registered twice: .*HingeRankingLoss and by "
                             r"nasrank_test_dup\.BadLoss"):
        load_params(path)
    plugin("nasrank_test_nodefault",
           _bad_source("no_default", "pred.sum()", "{'gamma': float}"))
    path = _params(repo, tmp_path, lambda p: p.update(plugins=["nasrank_test_nodefault"]))
    with pytest.raises(LossRegistrationError,
                       match=r"plugins\[0\] .*nasrank_test_nodefault\.BadLoss: option 'gamma' "
                             r"has no default"):
        load_params(path)
    assert "no_default" not in LOSSES


def test_register_loss_refuses_options_without_defaults() -> None:
    for options, message in (({"gamma": ...}, "option 'gamma' has no default"),
                             ({"by_table": {}}, "'by_table' is reserved"),
                             ({1: 0.5}, "option names must be non-empty strings")):
        with pytest.raises(LossRegistrationError, match=message):
            @register_loss("test_no_default", family="ranking")
            class NoDefault(Loss):
                OPTIONS: ClassVar[dict[Any, Any]] = options
        assert "test_no_default" not in LOSSES


def test_builtin_losses_pass_the_smoke_check() -> None:
    for name in LOSSES:
        smoke_check(name, {"switch_epoch": 1} if name == "piecewise" else None)


def test_entry_points_register_plugins(plugin: Callable[[str, str], Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    plugin(FOCAL, FOCAL_SOURCE)
    eps = [metadata.EntryPoint(name="focal", value=FOCAL, group="nasrank.losses")]
    monkeypatch.setattr(plugins_mod.metadata, "entry_points", lambda group: eps)
    assert load_entry_points().losses == ("focal_rank",) and "focal_rank" in LOSSES
    assert load_entry_points() == plugins_mod.Registered()  # loaded once
    plugin("nasrank_test_bad", _bad_source("bad_loss", "(pred - target).pow(2)"))
    eps[:] = [metadata.EntryPoint(name="bad", value="nasrank_test_bad:BadLoss",
                                  group="nasrank.losses")]
    with pytest.raises(LossRegistrationError,
                       match=r"entry point 'bad' = 'nasrank_test_bad:BadLoss' \(group "
                             r"'nasrank.losses', .*\): loss 'bad_loss' .*not a scalar"):
        load_entry_points()
    eps[:] = [metadata.EntryPoint(name="gone", value="nasrank_test_gone",
                                  group="nasrank.losses")]
    with pytest.raises(ConfigError, match=r"entry point 'gone' .*ModuleNotFoundError"):
        load_entry_points()


def test_plugin_file_is_a_code_dependency(repo: Path, tmp_path: Path,
                                          plugin: Callable[[str, str], Path],
                                          caplog: pytest.LogCaptureFixture) -> None:
    from nasrank.dvcgen import render

    file = plugin(FOCAL, FOCAL_SOURCE)
    params = load_params(_params(repo, tmp_path, _with_focal))
    # inside the repository: relative to it
    assert plugin_files(params, tmp_path) == [file.name]
    # outside: its absolute path, with a warning
    with caplog.at_level(logging.WARNING, logger="nasrank.plugins"):
        stages = yaml.safe_load(render(params))["stages"]
    assert "outside the repository" in caplog.text
    where = str(file.resolve())
    assert where in stages["sweep"]["do"]["deps"]
    assert "sweep" in stages and any("focal_rank" in item for item in stages["sweep"]["foreach"])
    assert not any(where in stage.get("deps", []) for stage in stages.values()
                   if "foreach" not in stage and "losses" not in " ".join(stage["deps"]))


def test_loss_names_cover_every_loss_of_the_schema() -> None:
    """nasrank.config.loss_names lists the places the schema refers to $defs/loss."""
    text = yaml.safe_dump(schema())
    # 2 variants + the losses' keys + the list + search.predictor_nas_by_predictor.loss
    assert text.count("'#/$defs/loss'") == 5
    assert text.count("'#/$defs/losses'") == 2  # the two grids
