"""Loss options per benchmark or table (``losses.<loss>.by_table``): paper A's piecewise
pair per space, resolved in one place for training and searches, and checked when the
workflow is planned (a table left out, or a pair naming an unknown loss, is an error
naming the table and the key)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from nasrank.config import load_params, loss_options_for
from nasrank.errors import ConfigError, UnknownNameError
from nasrank.jobs import check_losses
from nasrank.train import config_from_params

#: paper A's pairs (../shared/papers/README.md), and nasrank's choice where it has none
PAPER_A_PAIRS = {
    "nb101": ("listmle", "warp"),
    "nb201-cifar10": ("hr", "mape"),
    "nb201-imagenet16_120": ("hr", "mape"),
    "darts": ("hr", "mape"),
    "tnb101_micro-class_object": ("hr", "warp"),
    "tnb101_micro-autoencoder": ("hr", "warp"),
    "tnb101_micro-jigsaw": ("mse", "ew"),
}


@pytest.fixture
def params(repo: Path) -> dict[str, Any]:
    return load_params(repo / "params.yaml")


@pytest.mark.parametrize("table", sorted(PAPER_A_PAIRS))
def test_piecewise_pair_per_space(params: dict[str, Any], table: str) -> None:
    opts = loss_options_for(params, "piecewise", table)
    assert (opts["first"], opts["second"]) == PAPER_A_PAIRS[table]
    assert opts["switch_epoch"] == 100 and "by_table" not in opts


def test_run_config_gets_the_tables_pair(params: dict[str, Any]) -> None:
    cfg = config_from_params(params, bench="nb101", task=None, encoding="gcn",
                             predictor="gcn", loss="piecewise", train_size=100, seed=0)
    assert cfg.loss_options == {"first": "listmle", "second": "warp", "switch_epoch": 100}
    cfg = config_from_params(params, bench="tnb101_micro", task="jigsaw", encoding="gcn",
                             predictor="gcn", loss="piecewise", train_size=100, seed=0)
    assert (cfg.loss_options["first"], cfg.loss_options["second"]) == ("mse", "ew")
    # a loss without by_table keeps its options everywhere
    cfg = config_from_params(params, bench="darts", task=None, encoding="gcn",
                             predictor="gcn", loss="hr", train_size=100, seed=0)
    assert cfg.loss_options == params["losses"]["hr"]


def test_table_entry_wins_over_benchmark(params: dict[str, Any]) -> None:
    params["losses"]["hr"] = {"margin": 0.1, "by_table": {"nb201": {"margin": 0.2},
                                                          "nb201-cifar100": {"margin": 0.5}}}
    assert loss_options_for(params, "hr", "nb201-cifar10") == {"margin": 0.2}
    assert loss_options_for(params, "hr", "nb201-cifar100") == {"margin": 0.5}


def test_search_overrides_apply_on_top(params: dict[str, Any]) -> None:
    from nasrank.search.jobs import search_jobs
    from nasrank.search.refits import run_config

    job = next(j for j in search_jobs(params) if j.loss == "piecewise")
    cfg = run_config(job, params, 10, 0)
    assert cfg.loss_options["switch_samples"] == 50 and cfg.loss_options["switch_epoch"] is None
    assert (cfg.loss_options["first"], cfg.loss_options["second"]) == ("hr", "mape")


def test_repo_grids_pass(params: dict[str, Any]) -> None:
    check_losses(params)


def test_table_left_out_names_table_and_key(params: dict[str, Any]) -> None:
    del params["losses"]["piecewise"]["by_table"]["darts"]
    with pytest.raises(ConfigError, match=r"table 'darts'.*losses\.piecewise"):
        check_losses(params)
    with pytest.raises(ConfigError, match=r"losses\.piecewise\.by_table has no entry for "
                                          r"table 'darts'"):
        config_from_params(params, bench="darts", task=None, encoding="gcn",
                           predictor="gcn", loss="piecewise", train_size=100, seed=0)


def test_unknown_pair_loss_names_table_and_key(params: dict[str, Any]) -> None:
    params["losses"]["piecewise"]["by_table"]["nb101"]["second"] = "warpp"
    with pytest.raises(ConfigError) as info:
        check_losses(params)
    msg = str(info.value)
    assert "table 'nb101'" in msg and "losses.piecewise" in msg and "'warpp'" in msg
    assert "warp" in msg.split("available:")[1]


def test_bad_option_in_entry_is_refused(params: dict[str, Any]) -> None:
    params["losses"]["piecewise"]["by_table"]["nb201"]["switch_epch"] = 3
    with pytest.raises(ConfigError, match=r"table 'nb201-cifar10'.*switch_epch"):
        check_losses(params)


def _load_error(tmp_path: Path, params: dict[str, Any], error: type[Exception]) -> str:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    with pytest.raises(error) as info:
        load_params(path)
    return str(info.value)


def test_unknown_table_key_is_refused(repo: Path, tmp_path: Path) -> None:
    raw = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    bad = copy.deepcopy(raw)
    bad["losses"]["piecewise"]["by_table"]["nb301"] = {"first": "hr"}
    msg = _load_error(tmp_path, bad, UnknownNameError)
    assert "losses.piecewise.by_table" in msg and "'nb301'" in msg and "darts" in msg
    bad = copy.deepcopy(raw)
    bad["losses"]["piecewise"]["by_table"]["nb201-cifar11"] = {"first": "hr"}
    msg = _load_error(tmp_path, bad, UnknownNameError)
    assert "nb201-cifar11" in msg and "nb201-cifar10" in msg


def test_by_table_must_be_a_mapping_of_mappings(repo: Path, tmp_path: Path) -> None:
    raw = yaml.safe_load((repo / "params.yaml").read_text(encoding="utf-8"))
    raw["losses"]["piecewise"]["by_table"]["nb101"] = "listmle"
    msg = _load_error(tmp_path, raw, ConfigError)
    assert "losses.piecewise.by_table.nb101" in msg


def test_default_grid_covers_paper_a_spaces(params: dict[str, Any]) -> None:
    """Paper A's five spaces (one task each at least) in the default loss study."""
    benches = {t.split("-")[0] for t in params["experiments"]["loss_study"]["tables"]}
    assert {"nb101", "nb201", "tnb101_micro", "nbgraph", "darts"} <= benches
