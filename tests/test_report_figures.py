"""Tests of the report figures (nasrank.report.figures).

Every figure but the rank scatter is drawn from the real results committed under
``reports/`` (metrics, search, the NB101 space statistics). The rank scatter needs
``data/models/*/predictions.parquet``, which is not committed: its fixture trains the four
ReNAS variants with the real trainer (one epoch) on a small synthetic NAS-Bench-101-shaped
task (1,100 cells with random ``type_matrix``/``renas_tensor`` tensors and a linear label),
so the files have exactly the format ``nasrank train`` writes.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO, tmp_params

from nasrank.encodings import get_encoding
from nasrank.encodings.store import write_features
from nasrank.errors import NasrankError, UnknownNameError
from nasrank.experiments import experiment_runs
from nasrank.io import write_parquet
from nasrank.plotting import PNG_DPI, STYLE
from nasrank.report.figures import (
    DOUBLE_COLUMN,
    FIGURES,
    LOSS_COLOURS,
    REPORT_FIGURES,
    SINGLE_COLUMN,
    _summary,
    figure_inputs,
)
from nasrank.train import config_from_params, run

SCATTER = "renas_rank_scatter"
FROM_REPORTS = [name for name in REPORT_FIGURES if name != SCATTER]
N_CELLS = 1100
SCATTER_SIZE = 50
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _repo_params() -> dict[str, Any]:
    """params.yaml with the report directories as absolute paths into the repository."""
    with open(REPO / "params.yaml", encoding="utf-8") as f:
        params = yaml.safe_load(f)
    params["reports"] = {k: str(REPO / v) for k, v in params["reports"].items()}
    return params


@pytest.fixture(scope="module")
def real_params() -> dict[str, Any]:
    params = _repo_params()
    for name in FROM_REPORTS:
        missing = [p for p in figure_inputs(params, name) if not Path(p).exists()]
        if missing:
            pytest.skip(f"committed report {missing[0]} is missing")
    return params


@pytest.fixture(scope="module")
def scatter_params(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A synthetic nb101 table + features, and every variant trained by ``run``."""
    root = tmp_path_factory.mktemp("renas")
    rng = np.random.default_rng(0)
    ids = [f"{v:032x}" for v in rng.choice(2**62, size=N_CELLS, replace=False)]
    tensor = rng.normal(size=(N_CELLS, 19, 7, 7)).astype(np.float32)
    y = 90 + tensor.reshape(N_CELLS, -1) @ rng.normal(size=19 * 49) / 20
    write_parquet(root / "data" / "processed" / "nb101.parquet",
                  pa.table({"arch_id": ids, "val_acc_108": y}),
                  {"benchmark": "nb101", "task": None, "default_target": "val_acc_108"})
    for name, x in (("renas_tensor", tensor), ("type_matrix", tensor[:, :1])):
        enc = get_encoding("nb101", name)
        assert x.shape[1:] == enc.shape
        write_features(root / "data" / "features" / "nb101" / f"{name}.parquet", ids, x,
                       {"encoding": name, "benchmark": "nb101", "layout": enc.layout})
    params = tmp_params(root)
    params["experiments"]["renas_variants"].update(train_sizes=[SCATTER_SIZE, 500],
                                                   seeds=[0, 1])
    params["train"].update(epochs=1, batch_size=64)
    for r in experiment_runs(params, "renas_variants"):
        if r.train_size == SCATTER_SIZE and r.seed == 0:  # what the figure reads
            run(config_from_params(params, bench=r.bench, task=r.task, encoding=r.encoding,
                                   predictor=r.predictor, loss=r.loss,
                                   train_size=r.train_size, seed=r.seed), params)
    return params


def _png_size_in(data: bytes) -> tuple[float, float]:
    width, height = struct.unpack(">II", data[16:24])
    return width / PNG_DPI, height / PNG_DPI


def _check_outputs(paths: list[Path], stem: Path) -> None:
    assert paths == [stem.with_name(f"{stem.name}.png"), stem.with_name(f"{stem.name}.pdf")]
    png, pdf = (p.read_bytes() for p in paths)
    assert png.startswith(PNG_SIGNATURE) and len(png) > 20_000
    assert pdf.startswith(b"%PDF-") and len(pdf) > 5_000
    assert b"CreationDate" not in pdf
    width, height = _png_size_in(png)
    # a single (3.5 in) or double (7 in) journal column, placed at 100 %
    assert (3.0 < width <= SINGLE_COLUMN + 0.05 or 6.5 < width <= DOUBLE_COLUMN + 0.05)
    assert 1.5 < height < 9
    assert not list(stem.parent.glob(".*.tmp"))


def _draw_twice(params: dict[str, Any], name: str, tmp_path: Path) -> list[Path]:
    first = REPORT_FIGURES[name](params, tmp_path / "a" / name)
    again = REPORT_FIGURES[name](params, tmp_path / "b" / name)
    _check_outputs(first, tmp_path / "a" / name)
    for a, b in zip(first, again, strict=True):
        assert a.read_bytes() == b.read_bytes(), f"{a.name} differs on redraw"
    return first


def _texts(params: dict[str, Any], name: str) -> list[Any]:
    import matplotlib
    from matplotlib.text import Text

    with matplotlib.rc_context(STYLE):
        fig = FIGURES[name].draw(params)
        fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


@pytest.mark.parametrize("name", FROM_REPORTS)
def test_figure_from_committed_reports(real_params: dict[str, Any], name: str,
                                       tmp_path: Path) -> None:
    _draw_twice(real_params, name, tmp_path)


@pytest.mark.parametrize("name", ["loss_heatmap_n_at_k", "nb101_space_stats",
                                  "search_best_so_far"])
def test_fonts_readable_at_paper_size(real_params: dict[str, Any], name: str) -> None:
    texts = _texts(real_params, name)
    assert texts and min(t.get_fontsize() for t in texts) >= 7


def test_heatmap_says_lower_is_better(real_params: dict[str, Any]) -> None:
    words = " ".join(t.get_text() for t in _texts(real_params, "loss_heatmap_n_at_k"))
    assert "N@10" in words and "lower is better (reversed colours)" in words
    tau = " ".join(t.get_text() for t in _texts(real_params, "loss_heatmap_kendall_tau"))
    assert "0.70" in tau  # nb201-cifar10 ListMLE at 100, the committed 0.6991


def test_rank_scatter_from_trained_runs(scatter_params: dict[str, Any],
                                        tmp_path: Path) -> None:
    inputs = figure_inputs(scatter_params, SCATTER)
    variants = list(scatter_params["experiments"]["renas_variants"]["variants"])
    # the sweep directories of every variant's runs
    assert len(inputs) == len(variants)
    assert all(Path(p, f"n{SCATTER_SIZE}/s0").is_dir() for p in inputs)
    predictions = Path(inputs[0], f"n{SCATTER_SIZE}/s0/predictions.parquet")
    split = pq.read_table(predictions, columns=["split"]).column("split").to_pylist()
    assert split.count("test") == N_CELLS - SCATTER_SIZE
    _draw_twice(scatter_params, SCATTER, tmp_path)
    words = " ".join(t.get_text() for t in _texts(scatter_params, SCATTER))
    # tau of the test split, one per variant
    assert words.count(f"(all {N_CELLS - SCATTER_SIZE:,})") == len(variants)
    assert "1,000 random test architectures" in words
    for v in variants:
        assert f"{v}: " in words


def test_inputs_are_relative_params_paths() -> None:
    with open(REPO / "params.yaml", encoding="utf-8") as f:
        params = yaml.safe_load(f)
    assert figure_inputs(params, "nb101_space_stats") == ["reports/tables/nb101_space_stats.csv"]
    assert figure_inputs(params, SCATTER)[0] == "data/models/nb101/type_matrix/lenet/mse"
    search = figure_inputs(params, "search_best_so_far")
    assert "reports/search/nb201-cifar10/random" in search
    heat = figure_inputs(params, "loss_heatmap_precision_t")
    cfg = params["experiments"]["loss_study"]
    # one metrics directory per sweep (table and loss), holding every train size and seed
    assert len(heat) == len(cfg["tables"]) * len(cfg["losses"])
    assert "reports/metrics/nbgraph-cora/gcn/gcn/hr" in heat
    with pytest.raises(UnknownNameError, match="unknown report figure 'nope'"):
        figure_inputs(params, "nope")


MISSING = {
    SCATTER: "nasrank train nb101 type_matrix lenet mse --train-size 424 --seed 0",
    "renas_ktau_vs_train_size": "nasrank evaluate nb101 type_matrix lenet mse",
    "loss_ktau_vs_train_size": "nasrank evaluate nb101 gcn gcn mse",
    "loss_heatmap_kendall_tau": "nasrank evaluate nb101 gcn gcn mse",
    "loss_heatmap_precision_t": "nasrank evaluate nb101 gcn gcn mse",
    "loss_heatmap_n_at_k": "nasrank evaluate nb101 gcn gcn mse",
    "loss_piecewise_switch": "nasrank evaluate nb201-cifar10 gcn gcn piecewise",
    "search_best_so_far": "nasrank search nb201-cifar10/predictor_nas/gcn-gcn-mse",
    "predictor_nas_by_predictor": "nasrank search nb201-cifar10/npenas_loop/gcn-gcn-mse",
    "nb101_space_stats": "nasrank stats nb101",
}


@pytest.mark.parametrize("name", list(REPORT_FIGURES))
def test_missing_input_names_the_command(name: str, tmp_path: Path) -> None:
    params = tmp_params(tmp_path)
    with pytest.raises(NasrankError, match=f"`{MISSING[name]}"):
        REPORT_FIGURES[name](params, tmp_path / "figures" / name)
    assert not (tmp_path / "figures").exists() or not any((tmp_path / "figures").iterdir())


def test_every_figure_has_its_missing_input_case() -> None:
    assert set(MISSING) == set(REPORT_FIGURES)


def test_loss_colours_cover_the_studies_and_differ() -> None:
    params = _repo_params()
    names = [*params["experiments"]["loss_study"]["losses"],
             *params["search"]["loss_search"]["baselines"]]
    assert set(names) <= set(LOSS_COLOURS)
    assert len(set(LOSS_COLOURS.values())) == len(LOSS_COLOURS)


def test_summary_student_t_interval() -> None:
    import pandas as pd

    df = pd.DataFrame({"k": ["a", "a", "b", "c", "c"],
                       "m": [0.5, 0.7, 0.4, 0.3, float("nan")]})
    out = _summary(df, ["k"], "m").set_index("k")
    assert out.loc["a", "mean"] == pytest.approx(0.6)
    # t_{0.975, 1} = 12.706; s = 0.1414; half = 12.706 * 0.1414 / sqrt(2)
    assert out.loc["a", "half"] == pytest.approx(12.7062 * 0.1, rel=1e-4)
    assert np.isnan(out.loc["b", "half"]) and out.loc["b", "n"] == 1
    assert out.loc["c", "n"] == 1  # a NaN seed is left out

