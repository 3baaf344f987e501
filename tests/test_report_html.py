"""Tests of the report's assembly: the registries, the captions of `snakemake --report`,
the CLI and the self-contained HTML report (opened in headless Chromium where installed).
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from conftest import tmp_params

from nasrank.catalog import ALL_FIGURES, ALL_TABLES, figure_inputs, table_inputs
from nasrank.cli import main
from nasrank.errors import NasrankError
from nasrank.report.html import SECTIONS, build_report, caption_of, report_inputs, report_items

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
SMALL_TABLE = "omni_gain"  # replaced by a small frame whose cells the test checks


def test_registries_cover_the_report() -> None:
    """Every item of the report is a registered table or figure (or the NB101 statistics
    table `nasrank stats` writes), and every figure is in the report."""
    for item in report_items():
        registry = ALL_TABLES if item.kind == "table" else ALL_FIGURES
        assert item.name in registry or item.name == "nb101_space_stats", item
    shown = {i.name for i in report_items() if i.kind == "figure"}
    assert shown == set(ALL_FIGURES)
    names = [(i.kind, i.name) for i in report_items()]
    assert len(names) == len(set(names))
    assert [s.short for s in SECTIONS] == ["ReNAS", "Loss study", "Predictor families"]


def test_snakemake_report_captions_match() -> None:
    """workflow/report/NAME.rst (Snakemake's --report captions) say what the HTML says."""
    for name in ALL_FIGURES:
        rst = (REPO / "workflow" / "report" / f"{name}.rst").read_text(encoding="utf-8")
        caption = caption_of(name, "figure")
        assert rst.splitlines()[0] == caption, name
        assert f"nasrank figure {name}" in rst
        # reStructuredText: |x| is a substitution, *x* emphasis, `x` a role
        assert not re.search(r"[|*`]", caption), caption


def test_inputs_are_declared() -> None:
    params = tmp_params(Path("/tmp/none"))
    for name in ALL_TABLES:
        assert isinstance(table_inputs(params, name), list), name
    for name in ALL_FIGURES:
        assert figure_inputs(params, name), name
    assert len(report_inputs(params)) == len(report_items())


def _fake_inputs(params: dict) -> None:
    """Every input of the report: real committed tables where they exist, small ones
    otherwise, and a small real PNG per figure."""
    import matplotlib.pyplot as plt

    for item in report_items():
        if item.kind == "table":
            dest = Path(params["reports"]["tables_dir"]) / f"{item.name}.csv"
            dest.parent.mkdir(parents=True, exist_ok=True)
            real = REPO / "reports" / "tables" / f"{item.name}.csv"
            if real.is_file() and item.name != SMALL_TABLE:
                shutil.copy(real, dest)
            else:
                pd.DataFrame({"table": ["nb201-cifar10", "nb101"], "value": [0.5, float("nan")],
                              "n": [3, 4]}).to_csv(dest, index=False)
        else:
            dest = Path(params["reports"]["figures_dir"]) / f"{item.name}.png"
            dest.parent.mkdir(parents=True, exist_ok=True)
            fig, ax = plt.subplots(figsize=(2, 1.5))
            ax.plot([0, 1], [0, 1])
            ax.set_title(item.name, fontsize=6)
            fig.savefig(dest, format="png", metadata={"Software": None})
            plt.close(fig)


@pytest.fixture
def report(tmp_path: Path) -> tuple[dict, Path]:
    params = tmp_params(tmp_path)
    _fake_inputs(params)
    return params, build_report(params)


def test_html_is_self_contained_and_stable(report: tuple[dict, Path]) -> None:
    params, path = report
    assert path == Path(params["reports"]["tables_dir"]).parent / "index.html"
    text = path.read_text(encoding="utf-8")
    assert not re.search(r'(src|href)="(https?:|//|file:)', text)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == len(ALL_FIGURES)
    assert all(base64.b64decode(i).startswith(PNG) for i in images)
    for item in report_items():
        assert f'id="{item.kind}-{item.name}"' in text, item
    # table cells: strings left-aligned, NaN empty, numbers formatted
    assert '<td class="s">nb201-cifar10</td><td>0.5</td><td>3</td>' in text
    assert '<td class="s">nb101</td><td></td><td>4</td>' in text
    before = path.read_bytes()
    build_report(params)
    assert path.read_bytes() == before


def test_html_missing_input(report: tuple[dict, Path]) -> None:
    params, path = report
    (Path(params["reports"]["figures_dir"]) / "zero_cost_heatmap.png").unlink()
    before = path.read_bytes()
    with pytest.raises(NasrankError, match=r"zero_cost_heatmap.png.*`nasrank figure "
                                           r"zero_cost_heatmap`"):
        build_report(params)
    assert path.read_bytes() == before  # nothing half-written


def test_cli_table_writes_latex_and_report(tmp_path: Path) -> None:
    """`nasrank table` writes CSV, Markdown and LaTeX; `nasrank report` the HTML."""
    import yaml

    params = tmp_params(tmp_path)
    for name in ("loss_study", "renas_search"):  # a comparison's input tables
        dest = Path(params["reports"]["tables_dir"]) / f"{name}.csv"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "reports" / "tables" / f"{name}.csv", dest)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    assert main(["--params", str(path), "-q", "table", "renas_search_vs_published"]) == 0
    stem = Path(params["reports"]["tables_dir"]) / "renas_search_vs_published"
    tex = stem.with_suffix(".tex").read_text(encoding="utf-8")
    assert "\\begin{tabular}" in tex and "\\caption{Ours beside ReNAS Table 3.}" in tex
    df = pd.read_csv(stem.with_suffix(".csv"))
    assert set(df["variant"]) == {"v1", "v2", "v3", "v4"}
    assert {"accuracy_mean_published", "accuracy_mean_diff", "note"} <= set(df.columns)
    assert main(["--params", str(path), "report"]) == 2  # inputs missing: a clear error


def _browser() -> str | None:
    return next((b for name in BROWSERS if (b := shutil.which(name))), None)


def test_html_opens_in_headless_chromium(report: tuple[dict, Path], tmp_path: Path) -> None:
    """Chromium loads the report and decodes every embedded figure (the page records
    how many in ``data-figures-loaded``)."""
    browser = _browser()
    if browser is None:
        pytest.skip("no headless browser: install Debian's `chromium` to run this test")
    _, path = report
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
         "--dump-dom", path.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'data-figures-loaded="(\d+)/(\d+)"', proc.stdout)
    assert m, proc.stdout[:500]
    assert m.group(1) == m.group(2) == str(len(ALL_FIGURES))
