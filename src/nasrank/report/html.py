"""One self-contained HTML report of every study: ``reports/index.html``.

The report is declarative: :data:`SECTIONS` lists, per study, the tables (read from
``reports/tables/<name>.csv``) and figures (``reports/figures/<name>.png``, embedded as
base64 data URIs, so the file travels alone) with their captions. The same captions feed
Snakemake's ``--report`` (``workflow/report/<name>.rst``, checked by the tests). The
bytes depend only on the inputs: no timestamps, stable number formatting.

Usage::

    build_report(params)                        # -> Path("reports/index.html")
    report_inputs(params)                       # the tables and figures it embeds
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nasrank.errors import NasrankError
from nasrank.io import write_text
from nasrank.paths import Paths

__all__ = ["SECTIONS", "Item", "Section", "build_report", "caption_of", "report_inputs",
           "report_items", "section_of"]


@dataclass(frozen=True)
class Item:
    """A table or a figure of the report."""

    kind: str      # "table" | "figure"
    name: str      # reports/tables/<name>.csv or reports/figures/<name>.png
    caption: str


@dataclass(frozen=True)
class Section:
    short: str     # the study in a few words (Snakemake report category)
    title: str
    intro: str
    items: tuple[Item, ...]


def _t(name: str, caption: str) -> Item:
    return Item("table", name, caption)


def _f(name: str, caption: str) -> Item:
    return Item("figure", name, caption)


SECTIONS: tuple[Section, ...] = (
    Section(
        "ReNAS",
        "ReNAS: architecture ranking on NAS-Bench-101 (Xu et al.)",
        "A LeNet on the 19x7x7 feature tensor (or the type matrix), trained with MSE or a "
        "pairwise ranking loss on 0.1 % / 1 % of NAS-Bench-101, then an evolutionary search "
        "with the predictor as fitness. Labels: the 108-epoch validation accuracy of the "
        "30,001 labelled cells (one seed), not the paper's full three-seed benchmark.",
        (
            _t("nb101_space_stats", "NAS-Bench-101 statistics by input->output distance and "
               "use of conv3x3 (ReNAS Table 5)."),
            _f("nb101_space_stats", "Models, best and average accuracy per input->output "
               "distance, with and without conv3x3."),
            _t("renas_ktau_vs_train_size", "Kendall tau of the predictor variants v1-v6 per "
               "training-set size (ReNAS Table 2)."),
            _t("renas_ktau_vs_train_size_vs_published", "Ours beside ReNAS Table 2."),
            _f("renas_ktau_vs_train_size", "Kendall tau vs training-set size per variant."),
            _f("renas_rank_scatter", "Predicted rank vs true rank of 1,000 random test "
               "architectures per variant (ReNAS's ranking figure)."),
            _t("renas_search", "The GA with each predictor variant, 0.1 % training data: best "
               "accuracy and ranking of the top-10 (ReNAS Table 3)."),
            _t("renas_search_vs_published", "Ours beside ReNAS Table 3."),
            _t("renas_sample_selection", "Training cells at random or spread uniformly over "
               "parameters / FLOPs (ReNAS Table 4)."),
            _t("renas_sample_selection_vs_published", "Ours beside ReNAS Table 4."),
            _t("renas_subspace", "Trained and searched on all labelled cells vs the sub-space "
               "with an input->output edge and a conv3x3 (ReNAS Table 6)."),
            _t("renas_subspace_vs_published", "Ours beside ReNAS Table 6."),
        ),
    ),
    Section(
        "Loss study",
        "Loss functions for predictor-based NAS (Ji et al. 2025)",
        "One GCN per loss (regression mse; ranking hr, lr, mse_sr, listmle; weighted ew, "
        "mape, warp; piecewise with the paper's pair per space: NB201 and DARTS hr->mape, "
        "NB101 listmle->warp, TransNAS micro hr->warp, Jigsaw mse->ew), Kendall tau, "
        "Precision@T and N@K over the whole space, and the budgeted predictor-guided "
        "search. DARTS labels are NB301 surrogate predictions (surrogate_labels). The "
        "paper's numbers are second-hand (summaries of the paper).",
        (
            _t("loss_study", "Every loss per table and train size."),
            _t("loss_stats", "Mean and 95 % interval over seeds of every metric."),
            _t("loss_wins", "Which loss wins where, and whether significantly (Wilcoxon)."),
            _t("loss_ranks", "Average rank of each loss across tables, with Friedman's test."),
            _t("loss_pairwise", "Paired Wilcoxon signed-rank tests between losses per table."),
            _t("loss_findings", "Paper A's findings (second-hand), each tested on our grids: "
               "paired Wilcoxon over tables, train sizes and seeds; supports, contradicts "
               "or inconclusive."),
            _t("loss_ablation", "One ablation per loss option on one task (HR's margin, "
               "MAPE's lower bound, WARP's rank or accuracy weights, EW's BOGCN or exp(y-1) "
               "form, the piecewise switch epoch): mean and 95 % interval over seeds, and "
               "the paired Wilcoxon test against params.yaml's own setting."),
            _f("loss_piecewise_switch", "Piecewise loss: Kendall tau, Precision@T and N@K vs "
               "the switch epoch per table and train size (dotted: params.yaml's switch "
               "point)."),
            _f("loss_ktau_vs_train_size", "Kendall tau vs train size per loss."),
            _f("loss_heatmap_kendall_tau", "Kendall tau, loss x table."),
            _f("loss_heatmap_precision_t", "Precision@T, loss x table."),
            _f("loss_heatmap_n_at_k", "N@K (true rank of the best of the predicted top K; "
               "lower is better), loss x table."),
            _t("loss_search", "Best accuracy found by the predictor-guided search per loss "
               "and by the baselines, per budget."),
            _t("search_stats", "Mean and 95 % interval over seeds of the search results."),
            _t("loss_search_vs_published", "Ours beside the published search results."),
            _f("search_best_so_far", "Best-so-far accuracy vs queries per loss and baseline "
               "(mean and 95 % interval over seeds)."),
        ),
    ),
    Section(
        "Predictor families",
        "Predictor families under NASLib's protocol (White et al. 2021)",
        "Zero-cost proxies, learning-curve methods, model-based predictors and OMNI on one "
        "pool and one test set per table and seed. DARTS labels are NB301 surrogate "
        "predictions.",
        (
            _t("zero_cost", "Absolute Spearman and Kendall tau of every zero-cost proxy per table, "
               "beside Abdelfattah et al.'s values (over all 15,625 NB201 cells; ours over "
               "NASLib's 725)."),
            _f("zero_cost_heatmap", "Absolute Spearman correlation of every proxy on every table."),
            _f("families_tau_vs_train_size", "Kendall tau vs train size per predictor and "
               "family."),
            _f("families_tau_vs_init_time", "Kendall tau vs initialization time on NB101."),
            _f("families_recommendation", "The best predictor within each pair of "
               "initialization and per-query time budgets on NB101."),
            _t("omni_gain", "OMNI (NGBoost) and OMNI with LightGBM vs the best single "
               "predictor per train size (paired over seeds)."),
            _t("predictor_families", "Mean and 95 % interval over seeds of every metric."),
            _t("predictor_families_time", "Measured fit, query and initialization times."),
            _t("predictor_nas_by_predictor", "Predictor-based NAS with each model-based "
               "predictor as the surrogate in NASLib's NPENAS and BANANAS loops (20 random "
               "initial queries, 20 per fit, candidates by mutating the best 2; BANANAS: an "
               "ensemble of 3 with Thompson sampling): best accuracy found per budget, mean "
               "and 95 % interval over seeds, and each predictor's rank. NB101: among its "
               "30,001 labelled cells."),
            _f("predictor_nas_by_predictor", "Best-so-far accuracy vs queries per surrogate "
               "predictor, a panel per table and loop (mean over seeds)."),
        ),
    ),
)


def report_items() -> list[Item]:
    """Every item of the report, in order."""
    return [item for section in SECTIONS for item in section.items]


def section_of(name: str, kind: str) -> str:
    """The short name of the study whose section shows a table or figure ("Other" if none)."""
    return next((s.short for s in SECTIONS for i in s.items
                 if i.name == name and i.kind == kind), "Other")


def caption_of(name: str, kind: str) -> str | None:
    """The report's caption of a table or figure (``None`` when the report omits it)."""
    return next((i.caption for i in report_items() if i.name == name and i.kind == kind),
                None)


def _path(params: Mapping[str, Any], item: Item) -> Path:
    paths = Paths.of(params)
    if item.kind == "table":
        return Path(f"{paths.table(item.name)}.csv")
    return Path(f"{paths.figure(item.name)}.png")


def report_inputs(params: Mapping[str, Any]) -> list[str]:
    """The files the report embeds (the workflow's inputs of ``nasrank report``)."""
    return [str(_path(params, item)) for item in report_items()]


CSS = """
body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:2px solid #ccc;margin-top:2em}
figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ddd}
figcaption,caption{font-size:.9em;color:#444;text-align:left;padding:.3em 0}
.scroll{overflow-x:auto;margin:1em 0}
table{border-collapse:collapse;font-size:.8em}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td.s{text-align:left}
nav li{margin:.2em 0}
"""


#: on load, the body records how many figures decoded (``data-figures-loaded="n/m"``), so
#: a headless browser's DOM dump shows whether every embedded image loads
CHECK_IMAGES = (
    "window.addEventListener('load',function(){var im=document.images,n=0;"
    "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0){n++;}}"
    "document.body.setAttribute('data-figures-loaded',n+'/'+im.length);});"
)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return html.escape(str(value))


def _table_html(path: Path, item: Item) -> str:
    df = pd.read_csv(path)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = []
    for rec in df.itertuples(index=False):
        cells = "".join(
            f'<td class="s">{_cell(v)}</td>' if isinstance(v, str) else f"<td>{_cell(v)}</td>"
            for v in rec)
        rows.append(f"<tr>{cells}</tr>")
    return (f'<div class="scroll" id="table-{item.name}"><table><caption><b>{item.name}</b>: '
            f"{html.escape(item.caption)}</caption><thead><tr>{head}</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table></div>")


def _figure_html(path: Path, item: Item) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure id="figure-{item.name}"><img alt="{item.name}" '
            f'src="data:image/png;base64,{data}"><figcaption><b>{item.name}</b>: '
            f"{html.escape(item.caption)}</figcaption></figure>")


RENDER = {"table": _table_html, "figure": _figure_html}


def build_report(params: Mapping[str, Any], dest: str | Path | None = None) -> Path:
    """Write the HTML report atomically; returns its path (default ``reports/index.html``
    next to the tables directory).

    Raises:
        NasrankError: an input is missing, naming it and the command that writes it.
    """
    missing = [item for item in report_items() if not _path(params, item).is_file()]
    if missing:
        listed = ", ".join(str(_path(params, i)) for i in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        first = missing[0]
        raise NasrankError(f"the report's inputs are missing: {listed}{more}; run `nasrank "
                           f"{first.kind} {first.name}` (or the workflow) first")
    dest = Path(dest) if dest is not None else Paths.of(params).report
    parts = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<title>nasrank report</title>", f"<style>{CSS}</style></head><body>",
             "<h1>nasrank: performance predictors in NAS, reproduced</h1>",
             "<p>Every table and figure regenerated by the workflow from the configured "
             "benchmarks; tables named <code>*_vs_published</code> put the papers' numbers "
             "beside ours.</p><nav><ul>"]
    parts += [f'<li><a href="#section-{i}">{html.escape(s.title)}</a></li>'
              for i, s in enumerate(SECTIONS)]
    parts.append("</ul></nav>")
    for i, section in enumerate(SECTIONS):
        parts.append(f'<h2 id="section-{i}">{html.escape(section.title)}</h2>'
                     f"<p>{html.escape(section.intro)}</p>")
        parts += [RENDER[item.kind](_path(params, item), item) for item in section.items]
    parts.append(f"<script>{CHECK_IMAGES}</script></body></html>\n")
    write_text(dest, "\n".join(parts))
    return dest
