"""End to end: the example plugin package (examples/plugin/) through a small study.

The plugin is used as a user without installing it would: params.yaml names its modules
(``plugins: [nasrank_example_plugin.losses, nasrank_example_plugin.predictors]``) and
``examples/plugin/src`` is on the PYTHONPATH of Snakemake and of the ``nasrank`` commands
its jobs run. A loss study of one table (NAS-Bench-Macro), one train size, two seeds and
the losses focal_rank, hr and mse runs through Snakemake to the loss tables
(``loss_study``, the paired statistics ``loss_pairwise``) and the loss figures, and a
family study of the same table with the plugin's predictor knn beside rf and the GCN to
the table ``predictor_families`` and its figure; the HTML report then shows focal_rank's
and knn's rows.
The report embeds every table and figure of the project, most of them from studies this
test does not run: those are stubs (an empty table, a 1-pixel PNG), written only for
``nasrank report`` (tests/test_workflow.py's end-to-end test runs the full workflow,
without the plugin).
"""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from conftest import venv_tool
from test_workflow import _env, _failed_jobs, _repo_params, _run, copy_workflow, planned_jobs

from nasrank.report.html import report_items

PLUGIN = "examples/plugin"
MODULES = ["nasrank_example_plugin.losses", "nasrank_example_plugin.predictors"]
LOSSES = ["focal_rank", "hr", "mse"]
PREDICTORS = ["knn", "rf", "gcn"]
SEEDS = [0, 1]
TIMEOUT_S = 600
#: the tables and figures of the loss study that this test builds with Snakemake
TABLES = ("loss_study", "loss_stats", "loss_pairwise", "loss_ranks", "loss_wins",
          "predictor_families")
FIGURES = ("loss_ktau_vs_train_size", "loss_heatmap_kendall_tau",
           "loss_heatmap_precision_t", "loss_heatmap_n_at_k", "families_tau_vs_train_size")
#: a 1 x 1 PNG, the stub of a figure this test does not build
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8"
                         "BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def plugin_params(params: dict[str, Any]) -> dict[str, Any]:
    """params.yaml with the example plugin, a loss study of NAS-Bench-Macro (losses
    focal_rank, hr and mse, 50 training cells, seeds 0 and 1, 3 epochs) and a family
    study of it (knn, rf and gcn; 20 and 50 training cells; seeds 0 and 1)."""
    small = yaml.safe_load(yaml.safe_dump(params))
    small["plugins"] = MODULES
    small["train"]["epochs"] = 3
    small["train"]["by_predictor"] = {k: {**v, "epochs": 3}
                                      for k, v in small["train"]["by_predictor"].items()}
    small["experiments"]["loss_study"].update(tables=["nbmacro"], losses=LOSSES,
                                              train_sizes=[50], seeds=SEEDS)
    small["families"].update(seeds=SEEDS, variants={}, init_time_tables=[], tables={
        "nbmacro": {"target": None, "test_size": 100, "train_sizes": [20, 50], "require": [],
                    "predictors": PREDICTORS}})
    return small


@pytest.mark.mirror
def test_plugin_loss_study(repo: Path, tmp_path: Path, mirror: Path) -> None:
    snakemake = venv_tool("snakemake")
    work = copy_workflow(repo, tmp_path / "wf", extra=(PLUGIN,))
    env = _env(mirror)
    env["PYTHONPATH"] = str(work / PLUGIN / "src")
    params = plugin_params(_repo_params(work))
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    tables = params["reports"]["tables_dir"]
    figures = params["reports"]["figures_dir"]
    targets = ([f"{tables}/{name}.csv" for name in TABLES]
               + [f"{figures}/{name}.png" for name in FIGURES])

    start = time.perf_counter()
    proc = _run([snakemake, "--cores", "2", *targets], cwd=work, env=env, timeout=TIMEOUT_S)
    elapsed = time.perf_counter() - start
    print(f"\nplugin loss study `snakemake --cores 2`: {elapsed:.1f} s")
    assert proc.returncode == 0, (f"failed jobs: {_failed_jobs(proc.stdout)}\n"
                                  + proc.stdout[-6000:])
    jobs = planned_jobs(proc.stdout)
    sweeps = sorted(o for outs in jobs["sweep"] for o in outs if "/models/" in o)
    assert [Path(s).name for s in sweeps] == sorted(LOSSES), sweeps

    # The loss study: focal_rank's row beside the built-in losses', over both seeds.
    study = pd.read_csv(work / f"{tables}/loss_study.csv")
    assert sorted(study["loss"]) == sorted(LOSSES), study
    focal = study[study["loss"] == "focal_rank"]
    assert focal["n_seeds"].tolist() == [len(SEEDS)], focal
    assert focal["kendall_tau_mean"].between(-1, 1).all(), focal
    # The paired statistics: focal_rank against every built-in loss of the study, on
    # every metric.
    pairwise = pd.read_csv(work / f"{tables}/loss_pairwise.csv")
    pairs = {(m, frozenset(ab)) for m, *ab in
             pairwise[["metric", "loss_a", "loss_b"]].itertuples(index=False)}
    for metric in set(pairwise["metric"]):
        for other in ("hr", "mse"):
            assert (metric, frozenset({"focal_rank", other})) in pairs, (metric, other)
    focal_pairs = pairwise[(pairwise["loss_a"] == "focal_rank")
                           | (pairwise["loss_b"] == "focal_rank")]
    assert (focal_pairs["n_seeds"] == len(SEEDS)).all(), focal_pairs
    for name in ("loss_stats", "loss_ranks"):
        df = pd.read_csv(work / f"{tables}/{name}.csv")
        assert df.astype(str).isin(["focal_rank", "Focal"]).any().any(), (name, df)
    for name in FIGURES:
        for ext in ("png", "pdf"):
            assert (work / f"{figures}/{name}.{ext}").stat().st_size > 1000, (name, ext)

    # The family study: knn's row beside the built-in predictors' at each train size.
    families = pd.read_csv(work / f"{tables}/predictor_families.csv")
    assert set(families["predictor"]) == set(PREDICTORS), families
    knn = families[families["predictor"] == "knn"]
    assert sorted(knn["train_size"]) == [20, 50] and (knn["family"] == "model_based").all()
    assert knn["kendall_tau_mean"].between(-1, 1).all(), knn

    # The HTML report (other studies' items stubbed): focal_rank's and knn's rows.
    for item in report_items():
        path = work / (f"{tables}/{item.name}.csv" if item.kind == "table"
                       else f"{figures}/{item.name}.png")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            if item.kind == "table":
                path.write_text("stub\n", encoding="utf-8")
            else:
                path.write_bytes(PIXEL)
    cli = [sys.executable, "-m", "nasrank", "--params", "params.yaml"]
    env["PYTHONPATH"] = os.pathsep.join([str(work / "src"), env["PYTHONPATH"]])
    proc = _run([*cli, "report"], cwd=work, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:]
    index = (work / "reports/index.html").read_text(encoding="utf-8")
    section = index[index.index('id="table-loss_study"'):]
    section = section[:section.index("</table>")]
    assert section.count(">focal_rank<") == 1, section[:2000]
    section = index[index.index('id="table-loss_pairwise"'):]
    section = section[:section.index("</table>")]
    cells = int((pairwise.astype(str) == "focal_rank").to_numpy().sum())  # loss_a/b, better
    assert section.count(">focal_rank<") == cells >= len(focal_pairs), section[:2000]
    section = index[index.index('id="table-predictor_families"'):]
    section = section[:section.index("</table>")]
    assert section.count(">knn<") == len(knn), section[:2000]
    for name in FIGURES:
        assert f'id="figure-{name}"' in index
