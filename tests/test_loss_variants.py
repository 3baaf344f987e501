"""Loss variants (params.yaml ``loss_variants``) and the loss ablations of paper A
(``experiments.loss_ablation``): resolution, run ids, workflow keys, bad input, the
``loss_ablation`` table and the switch-point figure."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, tmp_params

from nasrank.config import check_params, load_params, loss_options_for, resolve_loss
from nasrank.errors import ConfigError, NasrankError, UnknownNameError
from nasrank.experiments import experiment_runs, loss_ablation_table, metrics_path
from nasrank.io import write_json
from nasrank.jobs import check_losses, jobs_by_key
from nasrank.metrics import strict_metrics
from nasrank.report.stats import paired_wilcoxon
from nasrank.train import config_from_params


@pytest.fixture()
def params() -> dict[str, Any]:
    return copy.deepcopy(load_params(REPO / "params.yaml"))


def test_a_variant_is_its_loss_with_changed_options(params: dict[str, Any]) -> None:
    assert resolve_loss(params, "warp_accuracy") == ("warp", {"weights": "accuracy"})
    assert resolve_loss(params, "warp") == ("warp", {})
    cfg = config_from_params(params, bench="nb201", task="cifar10", encoding="gcn",
                             predictor="gcn", loss="warp_accuracy", train_size=100, seed=3)
    assert (cfg.loss, cfg.loss_variant, cfg.loss_name) == ("warp", "warp_accuracy",
                                                           "warp_accuracy")
    assert cfg.loss_options == {"weights": "accuracy"}
    assert cfg.run_id == "nb201-cifar10/gcn/gcn/warp_accuracy/n100/s3"
    plain = config_from_params(params, bench="nb201", task="cifar10", encoding="gcn",
                               predictor="gcn", loss="warp", train_size=100, seed=3)
    assert plain.loss_variant is None and plain.run_id.endswith("/warp/n100/s3")


def test_a_piecewise_variant_keeps_the_pair_of_its_table(params: dict[str, Any]) -> None:
    """The variant's changes go over the per-table options, not instead of them."""
    nb201 = loss_options_for(params, "piecewise_switch_50", "nb201-cifar10")
    assert nb201 == {"switch_epoch": 50, "first": "hr", "second": "mape"}
    nb101 = loss_options_for(params, "piecewise_switch_50", "nb101")
    assert (nb101["first"], nb101["second"], nb101["switch_epoch"]) == ("listmle", "warp", 50)


def test_variant_sweeps_depend_on_the_variant_and_its_loss(params: dict[str, Any]) -> None:
    jobs = jobs_by_key(params, "sweep")
    variant = jobs["nb201-cifar10/gcn/gcn/piecewise_switch_25"]
    assert {"losses.piecewise", "loss_variants.piecewise_switch_25"} <= set(variant.params)
    plain = jobs["nb201-cifar10/gcn/gcn/piecewise"]
    assert "losses.piecewise" in plain.params
    assert not any(k.startswith("loss_variants") for k in plain.params)
    assert variant.argv[variant.argv.index("--losses") + 1] == "piecewise_switch_25"


def test_a_variant_named_like_a_loss_is_refused(params: dict[str, Any]) -> None:
    params["loss_variants"]["hr"] = {"loss": "mse", "options": {}}
    with pytest.raises(ConfigError, match=r"loss_variants\.hr is the name of a loss"):
        check_params(params)


def test_an_ablation_naming_no_loss_is_refused(params: dict[str, Any]) -> None:
    params["experiments"]["loss_ablation"]["ablations"]["warp_weights"] = ["warp", "warp_acc"]
    with pytest.raises(UnknownNameError) as err:
        check_params(params)
    assert "experiments.loss_ablation.ablations.warp_weights" in str(err.value)
    assert "warp_acc" in str(err.value) and "warp_accuracy" in str(err.value)


def test_a_variant_with_a_bad_option_is_refused_at_start_up(params: dict[str, Any]) -> None:
    params["loss_variants"]["warp_accuracy"]["options"] = {"weights": "accurate"}
    with pytest.raises(ConfigError) as err:
        check_losses(params)
    text = str(err.value)
    assert "loss_variants.warp_accuracy" in text and "nb201-cifar10" in text
    assert "accurate" in text


def test_the_cli_accepts_variants_and_names_unknown_ones(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    from nasrank.cli import main

    p = tmp_params(tmp_path)
    dest = tmp_path / "params.yaml"
    import yaml

    dest.write_text(yaml.safe_dump(p), encoding="utf-8")
    rc = main(["--params", str(dest), "sweep", "nb201-cifar10", "gcn", "gcn", "--losses",
               "warp_acc", "--train-sizes", "10", "--seeds", "0"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "warp_acc" in err and "warp_accuracy" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- table


def _write(params: dict[str, Any], run: Any, tau: float, p_t: float, n_at: int) -> None:
    """A metrics file as `nasrank evaluate` writes it, its config as the sweep records it."""
    cfg = config_from_params(params, bench=run.bench, task=run.task, encoding=run.encoding,
                             predictor=run.predictor, loss=run.loss,
                             train_size=run.train_size, seed=run.seed)
    metrics = {"n": 100, "kendall_tau": tau, "spearman": tau, "precision_t_0.5": p_t,
               "n_at_10": n_at}
    report = {"run_id": run.run_id,
              "config": {"run_id": run.run_id, "loss": cfg.loss,
                         "loss_options": cfg.loss_options,
                         **({"loss_variant": cfg.loss_variant} if cfg.loss_variant else {})},
              "metrics": metrics, "train_metrics": metrics}
    write_json(metrics_path(params, run), strict_metrics(report))


def _ablation_params(tmp_path: Path) -> dict[str, Any]:
    p = tmp_params(tmp_path)
    p["experiments"]["loss_ablation"].update(
        tables=["nb201-cifar10"], train_sizes=[50, 100], seeds=[0, 1, 2, 3, 4, 5],
        ablations={"warp_weights": ["warp", "warp_accuracy"],
                   "piecewise_switch_epoch": ["piecewise", "piecewise_switch_25",
                                              "piecewise_switch_150"]})
    return p


def test_loss_ablation_table(tmp_path: Path) -> None:
    p = _ablation_params(tmp_path)
    taus: dict[tuple[str, int], dict[int, float]] = {}
    for k, r in enumerate(experiment_runs(p, "loss_ablation")):
        tau = round(0.3 + 0.011 * k + 0.02 * (r.seed % 2), 6)
        taus.setdefault((r.loss, r.train_size), {})[r.seed] = tau
        _write(p, r, tau, (k % 4) / 4, 1 + k % 7)

    df = loss_ablation_table(p)
    assert len(df) == (2 + 3) * 2
    assert list(df.ablation[:4]) == ["warp_weights"] * 4
    assert list(zip(df.train_size[:4], df.loss[:4], strict=True)) == [
        (50, "warp"), (50, "warp_accuracy"), (100, "warp"), (100, "warp_accuracy")]
    # options as trained: the loss's defaults fill what params.yaml leaves out
    assert list(df.options[:2]) == ["weights=rank", "weights=accuracy"]
    switch = df[df.ablation == "piecewise_switch_epoch"]
    assert list(switch.options[:3]) == ["switch_epoch=100", "switch_epoch=25",
                                        "switch_epoch=150"]
    assert list(df.reference) == [lo in ("warp", "piecewise") for lo in df.loss]
    assert (df.n_seeds == 6).all()
    for row in df.to_dict("records"):
        vals = taus[(row["loss"], row["train_size"])]
        assert row["kendall_tau_mean"] == pytest.approx(sum(vals.values()) / 6, abs=1e-12)
        assert row["kendall_tau_ci95"] > 0
        if row["reference"]:
            assert math.isnan(row["kendall_tau_p"]) and math.isnan(row["kendall_tau_diff"])
            continue
        ref = "warp" if row["ablation"] == "warp_weights" else "piecewise"
        expected = paired_wilcoxon(vals, taus[(ref, row["train_size"])])
        assert row["kendall_tau_diff"] == pytest.approx(expected.mean_diff, abs=1e-12)
        assert row["kendall_tau_p"] == pytest.approx(expected.p_value)


def test_loss_ablation_table_names_a_missing_run(tmp_path: Path) -> None:
    p = _ablation_params(tmp_path)
    with pytest.raises(NasrankError, match="nasrank evaluate nb201-cifar10 gcn gcn warp "):
        loss_ablation_table(p)


def test_switch_figure(tmp_path: Path) -> None:
    from nasrank.catalog import ALL_FIGURES, figure_inputs

    p = _ablation_params(tmp_path)
    for k, r in enumerate(experiment_runs(p, "loss_ablation")):
        _write(p, r, 0.4 + 0.01 * k, 0.1, 3)
    inputs = figure_inputs(p, "loss_piecewise_switch")
    assert all("piecewise" in path for path in inputs) and len(inputs) == 3
    out = ALL_FIGURES["loss_piecewise_switch"](p, tmp_path / "fig")
    assert [f.suffix for f in out] == [".png", ".pdf"] and all(f.stat().st_size for f in out)

    del p["experiments"]["loss_ablation"]["ablations"]["piecewise_switch_epoch"]
    with pytest.raises(ConfigError, match="no ablation of piecewise losses only"):
        ALL_FIGURES["loss_piecewise_switch"](p, tmp_path / "fig2")
