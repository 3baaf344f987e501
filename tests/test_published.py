"""reports/published.yaml, its loader, the LaTeX writer and the ours-vs-published tables."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nasrank.errors import ConfigError, DataFormatError, NasrankError, UnknownNameError
from nasrank.published import DEFAULT_PATH, load_published, published_path
from nasrank.report.compare import COMPARISONS, comparison_inputs
from nasrank.report.latex import escape, to_latex, write_tables
from nasrank.stats import write_table

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / DEFAULT_PATH

#: headers of our tables as `nasrank table` / `nasrank stats` write them (checked below
#: against reports/tables where those exist)
HEADERS = {
    "renas_search": "variant,encoding,loss,train_size,target,pool_size,n_labelled,budget,"
                    "n_seeds,accuracy_mean,accuracy_std,percentile_mean,percentile_std,"
                    "best_rank_median,best_rank_min",
    "nb101_space_stats": "uses_conv3x3,distance,n_cells,n_labelled,best_acc,mean_acc",
    "loss_search": "table,method,search,target,pool_size,n_labelled,budget,n_seeds,"
                   "accuracy_mean,accuracy_std,percentile_mean,percentile_std,"
                   "best_rank_median,best_rank_min",
    "loss_study": "table,surrogate_labels,loss,train_size,n_seeds,kendall_tau_mean,kendall_tau_std,"
                  "spearman_mean,spearman_std,precision_t_0.5_mean,precision_t_0.5_std,"
                  "n_at_10_mean,n_at_10_std",
}


@pytest.fixture(scope="module")
def pub():
    return load_published(PUBLISHED)


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load(PUBLISHED.read_text(encoding="utf-8"))


@pytest.fixture
def params(tmp_path: Path) -> dict:
    with open(REPO / "params.yaml", encoding="utf-8") as f:
        p = yaml.safe_load(f)
    p["reports"]["tables_dir"] = str(tmp_path / "tables")
    p["reports"]["published"] = str(PUBLISHED)
    (tmp_path / "tables").mkdir()
    return p


def _write_csv(params: dict, table: str, rows: list[str]) -> None:
    path = Path(params["reports"]["tables_dir"]) / f"{table}.csv"
    path.write_text("\n".join([HEADERS[table], *rows]) + "\n", encoding="utf-8")


# --- the file ---------------------------------------------------------------------------

def test_every_entry_names_a_source(pub) -> None:
    for table in pub.tables.values():
        for entry in (*table.entries, *table.references):
            assert entry.source.paper in pub.papers
            assert entry.source.where.strip()
            assert pub.label(entry.source).startswith(pub.papers[entry.source.paper].short)
            assert entry.values and set(entry.values) <= set(table.metrics)


def test_loss_study_numbers_are_second_hand(pub) -> None:
    entries = [e for t in pub.tables.values() for e in (*t.entries, *t.references)
               if e.source.paper == "loss_study"]
    assert len(entries) >= 20
    assert all(e.source.second_hand for e in entries)
    assert all(not e.source.second_hand for t in ("renas_search", "nb101_space_stats")
               for e in pub.table(t).entries)


def test_tables_and_columns_are_ours(pub) -> None:
    from nasrank.experiments import TABLES
    from nasrank.families.tables import FAMILY_TABLES
    from nasrank.search.tables import SEARCH_TABLES

    ours = {*TABLES, *SEARCH_TABLES, *FAMILY_TABLES, "nb101_space_stats"}
    assert set(pub.tables) <= ours
    assert {f"{t}_vs_published" for t in pub.tables} == set(COMPARISONS)
    for name, table in pub.tables.items():
        header = REPO / "reports" / "tables" / f"{name}.csv"
        if not header.is_file():
            continue
        columns = set(header.read_text(encoding="utf-8").splitlines()[0].split(","))
        derived = set(COMPARISONS[f"{name}_vs_published"].derived)
        assert set(table.keys) <= columns, name
        assert set(table.metrics) <= columns | derived, name


def test_fixture_headers_match_the_real_tables() -> None:
    for name, header in HEADERS.items():
        path = REPO / "reports" / "tables" / f"{name}.csv"
        if path.is_file():
            assert path.read_text(encoding="utf-8").splitlines()[0] == header


def test_names_are_the_project_names(pub) -> None:
    from nasrank.losses import LOSSES

    variants = {"v1", "v2", "v3", "v4"}
    assert {e.keys["variant"] for e in pub.table("renas_ktau_vs_train_size").entries} \
        == variants
    assert {e.keys["loss"] for e in pub.table("loss_study").entries} <= set(LOSSES)
    methods = {e.keys["method"] for e in pub.table("loss_search").entries}
    assert methods <= set(LOSSES)
    assert {e.keys["table"] for e in pub.table("loss_search").entries} == {
        "nb201-cifar10", "nb201-cifar100", "nb201-imagenet16_120", "nb101", "darts"}


def test_renas_table2_sizes_are_the_stated_fractions(pub) -> None:
    entries = pub.table("renas_ktau_vs_train_size").entries
    assert len(entries) == 28
    for e in entries:
        assert e.keys["train_size"] == round(e.context["train_fraction_pct"] / 100 * 423_624)
    assert pub.value("renas_ktau_vs_train_size", "kendall_tau_mean",
                     variant="v4", train_size=424) == 0.6335
    assert pub.value("renas_ktau_vs_train_size", "kendall_tau_mean",
                     variant="v1", train_fraction_pct=90) == 0.8350


def test_renas_tables_agree_where_the_paper_repeats_a_row(pub) -> None:
    v4 = {m: pub.value("renas_search", m, variant="v4") for m in pub.table("renas_search")
          .metrics}
    for table, key in (("renas_sample_selection", {"sample": "random"}),
                       ("renas_subspace", {"subspace": "all"})):
        assert {m: pub.value(table, m, **key) for m in v4} == v4
    assert v4 == {"accuracy_mean": 93.90, "accuracy_std": 0.21, "percentile_mean": 0.04}


def test_space_stats_counts_cover_nb101(pub) -> None:
    table = pub.table("nb101_space_stats")
    counts = [e.values["n_cells"] for e in table.entries]
    assert len(counts) == 12 and all(isinstance(c, int) for c in counts)
    assert sum(counts) == 423_624
    assert pub.value("nb101_space_stats", "n_cells", uses_conv3x3=True, distance=1) == 68552


def test_zero_cost_published_values(pub) -> None:
    """Abdelfattah et al.'s |Spearman| as the README's notes give them (spot checks)."""
    frame = pub.table("zero_cost").frame().set_index(["table", "proxy"])["abs_spearman"]
    assert len(frame) == 24
    assert frame[("nb201-cifar10", "synflow")] == 0.737
    assert frame[("nb201-imagenet16_120", "fisher")] == 0.327
    assert frame[("nb101", "grasp")] == 0.448


def test_lookup_errors(pub) -> None:
    with pytest.raises(UnknownNameError, match="renas_search"):
        pub.table("no_such_table")
    with pytest.raises(UnknownNameError, match="accuracy_mean"):
        pub.value("renas_search", "no_metric", variant="v4")
    with pytest.raises(NasrankError, match="0 published accuracy_mean"):
        pub.value("renas_search", "accuracy_mean", variant="v9")
    with pytest.raises(NasrankError, match="2 published kendall_tau_mean"):
        pub.value("loss_study", "kendall_tau_mean", loss="hr")
    assert pub.value("loss_study", "kendall_tau_mean", loss="hr", predictor="pinat") == 0.67


def _broken(raw: dict, edit) -> dict:
    doc = copy.deepcopy(raw)
    edit(doc)
    return doc


BAD = {
    "unknown paper": (lambda d: d["tables"]["renas_search"]["source"].update(paper="nope"),
                      "tables.renas_search.source.paper"),
    "no source": (lambda d: d["tables"]["zero_cost"].pop("source"),
                  "tables.zero_cost.entries[0].source"),
    "missing key": (lambda d: d["tables"]["renas_search"]["entries"][1].pop("variant"),
                    "tables.renas_search.entries[1]: missing key fields ['variant']"),
    "not a number": (lambda d: d["tables"]["nb101_space_stats"]["entries"][0].update(
        best_acc="94.3"), "tables.nb101_space_stats.entries[0].best_acc"),
    "unknown field": (lambda d: d["tables"]["loss_search"]["entries"][0].update(acc=1.0),
                      "tables.loss_search.entries[0].acc"),
    "duplicate": (lambda d: d["tables"]["renas_subspace"]["entries"].append(
        d["tables"]["renas_subspace"]["entries"][0]), "tables.renas_subspace.entries[2]"),
    "second_hand": (lambda d: d["tables"]["loss_study"]["source"].update(second_hand="yes"),
                    "tables.loss_study.source.second_hand"),
    "paper cite": (lambda d: d["papers"]["renas"].pop("cite"), "papers.renas.cite"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_names_file_and_key(raw, tmp_path: Path, case: str) -> None:
    edit, key = BAD[case]
    path = tmp_path / "published.yaml"
    path.write_text(yaml.safe_dump(_broken(raw, edit)), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_published(path)
    assert str(path) in str(err.value)
    assert key in str(err.value)


def test_not_yaml_or_missing(tmp_path: Path) -> None:
    path = tmp_path / "published.yaml"
    path.write_text("tables: [unclosed\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=f"{path}: not valid YAML"):
        load_published(path)
    with pytest.raises(ConfigError, match="no such published-numbers file"):
        load_published(tmp_path / "absent.yaml")


# --- LaTeX --------------------------------------------------------------------------------

def test_escape() -> None:
    assert escape("nb201-cifar10") == "nb201-cifar10"
    assert escape("mse_sr 5% & $x$ #1 {a} ~^\\") == (
        r"mse\_sr 5\% \& \$x\$ \#1 \{a\} \textasciitilde{}\textasciicircum{}"
        r"\textbackslash{}")


def test_to_latex_exact_and_stable() -> None:
    df = pd.DataFrame({"table": ["nb201-cifar10", "mse_sr"], "ok": [True, False],
                       "n": np.array([424, 4236], dtype=np.int64),
                       "ranking_%": [0.04, np.nan], "diff": [-0.00001, 1.23456]})
    tex = to_latex(df, caption="ours vs 100% published", label="tab:x", floatfmt=".4f")
    assert tex == (
        "\\begin{table}[htbp]\n\\centering\n\\caption{ours vs 100\\% published}\n"
        "\\label{tab:x}\n\\begin{tabular}{llrrr}\n\\toprule\n"
        "table & ok & n & ranking\\_\\% & diff \\\\\n\\midrule\n"
        "nb201-cifar10 & True & 424 & 0.0400 & 0.0000 \\\\\n"
        "mse\\_sr & False & 4236 &  & 1.2346 \\\\\n"
        "\\bottomrule\n\\end{tabular}\n\\end{table}\n")
    again = df.copy()
    assert to_latex(again, caption="ours vs 100% published", label="tab:x") == tex
    bare = to_latex(df, floatfmt={"diff": ".1f"})
    assert bare.startswith("\\begin{tabular}") and "& 1.2 \\\\" in bare
    assert "0.0400" in bare


def test_write_tables(tmp_path: Path) -> None:
    df = pd.DataFrame({"loss": ["hr", "mse"], "kendall_tau_mean": [0.61234, np.nan]})
    stem = str(tmp_path / "out" / "loss_vs_published")
    paths = write_tables(df, stem, caption="Loss study")
    assert paths == [f"{stem}.csv", f"{stem}.md", f"{stem}.tex"]
    tex = Path(f"{stem}.tex").read_text(encoding="utf-8")
    assert tex == to_latex(df, caption="Loss study", label="tab:loss_vs_published")
    csv = Path(f"{stem}.csv").read_text(encoding="utf-8")
    assert csv == "loss,kendall_tau_mean\nhr,0.6123\nmse,\n"
    write_table(df, str(tmp_path / "ref"))
    assert Path(f"{stem}.md").read_bytes() == (tmp_path / "ref.md").read_bytes()
    assert not list((tmp_path / "out").glob(".*tmp"))


# --- comparisons --------------------------------------------------------------------------

def test_renas_search_comparison(params: dict) -> None:
    _write_csv(params, "renas_search", [
        "v1,type_matrix,mse,424,val_acc_108,30001,30001,10,5,94.4211,0.1181,0.6886,0.6052,"
        "125.0000,113",
        "v4,renas_tensor,lr,424,val_acc_108,30001,30001,10,20,94.0000,,0.0500,,8.0000,4"])
    df = COMPARISONS["renas_search_vs_published"](params)
    assert list(df["variant"]) == ["v1", "v4"]
    assert df["accuracy_mean_published"].tolist() == [91.36, 93.90]
    assert df["accuracy_mean_diff"].tolist() == pytest.approx([94.4211 - 91.36, 0.10])
    assert df["percentile_mean_diff"].tolist() == pytest.approx([0.6886 - 35.97, 0.01])
    assert np.isnan(df["accuracy_std_diff"].iloc[1])
    assert (df["source"] == "ReNAS, Table 3").all()
    v1, v4 = df["note"]
    assert "5 seeds (published: 20)" in v1 and "seeds" not in v4
    assert "nasbench-vis" in v1 and "ranking among 30,001" in v1
    assert "logistic" in v4 and "logistic" not in v1
    assert df.columns[-1] == "note"


def test_space_stats_comparison_keeps_counts_exact(params: dict) -> None:
    _write_csv(params, "nb101_space_stats", ["True,1,68552,4810,94.9119,93.0459",
                                             "False,6,32,32,86.2881,84.1413"])
    df = COMPARISONS["nb101_space_stats_vs_published"](params)
    assert df["n_cells_diff"].tolist() == [0, 0]
    assert df["n_cells_published"].dtype == np.int64
    assert df["mean_acc_diff"].tolist() == pytest.approx([93.0459 - 91.97, 84.1413 - 74.93])
    assert "4,810 labelled cells" in df["note"][0] and df["note"][1] == ""


def test_loss_search_compares_test_error(params: dict) -> None:
    _write_csv(params, "loss_search", [
        "nb201-cifar10,piecewise,predictor_nas,test_acc_200,15625,15625,50,1,93.7800,,"
        "0.9792,,153.0000,153",
        "nb201-cifar100,piecewise,predictor_nas,val_acc_200,15625,15625,50,1,73.0000,,"
        "0.9792,,153.0000,153",
        "nb201-cifar10,mse,predictor_nas,test_acc_200,15625,15625,50,1,93.7800,,0.9792,,"
        "153.0000,153"])
    df = COMPARISONS["loss_search_vs_published"](params)
    assert df["table"].tolist() == ["nb201-cifar10", "nb201-cifar100"]
    assert df["test_error_mean"].tolist() == pytest.approx([6.22, 27.0])
    assert df["test_error_mean_diff"].tolist() == pytest.approx([6.22 - 5.63, 27.0 - 26.51])
    assert df["source"].str.endswith("second-hand").all()
    assert "budget" in df["note"][0] and "val_acc_200" in df["note"][1]


def test_loss_study_sets_both_backbones_beside_ours(params: dict) -> None:
    _write_csv(params, "loss_study", [
        "nb201-cifar10,False,hr,100,1,0.7075,,0.8897,,0.0513,,167.0000,",
        "nb201-cifar10,False,lr,100,1,0.7011,,0.8871,,0.0128,,224.0000,"])
    df = COMPARISONS["loss_study_vs_published"](params)
    assert df["predictor_published"].tolist() == ["mlp", "pinat"]
    assert df["precision_t_0.5_mean_pct_diff"].tolist() == pytest.approx([5.13 - 22.15,
                                                                          5.13 - 29.32])
    assert df["n_at_10_mean_diff"].tolist() == pytest.approx([167 - 23.58, 167 - 8.44])
    assert all("train size unknown" in n and "1 seed (published: 30)" in n
               for n in df["note"])


def test_our_tables_note_leads_the_comparisons_note(params: dict) -> None:
    """Our table's own note (metrics without a value in some seeds) is kept, first in
    the comparison's note, and the comparison has one note column."""
    path = Path(params["reports"]["tables_dir"]) / "loss_study.csv"
    note = "kendall_tau: no value in 1 of 2 seeds, undefined (constant predictions or labels)"
    path.write_text("\n".join([
        HEADERS["loss_study"] + ",n_nan_kendall_tau,note",
        f'nb201-cifar10,False,hr,100,2,0.7075,,0.8897,,0.0513,,167.0000,,1,"{note}"',
        "nb201-cifar10,False,lr,100,2,0.7011,,0.8871,,0.0128,,224.0000,,0,"]) + "\n",
        encoding="utf-8")
    df = COMPARISONS["loss_study_vs_published"](params)
    assert list(df.columns).count("note") == 1 and df.columns[-1] == "note"
    assert list(df["loss"]) == ["hr", "hr"]  # one row per published backbone
    assert all(n.startswith(note + "; ") for n in df["note"])
    path.write_text(path.read_text(encoding="utf-8").replace(f'"{note}"', ""),
                    encoding="utf-8")
    df = COMPARISONS["loss_study_vs_published"](params)
    assert not any(n.startswith("kendall_tau") for n in df["note"])


def test_no_match_gives_an_empty_table(params: dict) -> None:
    _write_csv(params, "loss_study", ["nbmacro,False,ew,100,1,0.7567,,0.9223,,0.0500,,24.0000,"])
    df = COMPARISONS["loss_study_vs_published"](params)
    assert df.empty and "kendall_tau_mean_diff" in df.columns


def test_missing_input_names_the_command(params: dict) -> None:
    with pytest.raises(NasrankError, match=r"renas_search\.csv not found: `nasrank table "
                                           r"renas_search`"):
        COMPARISONS["renas_search_vs_published"](params)
    with pytest.raises(NasrankError, match="`nasrank stats nb101`"):
        COMPARISONS["nb101_space_stats_vs_published"](params)
    path = Path(params["reports"]["tables_dir"]) / "renas_search.csv"
    path.write_text("variant,accuracy_mean\nv4,94.0\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"lacks columns \['train_size'"):
        COMPARISONS["renas_search_vs_published"](params)


def test_comparison_inputs(params: dict) -> None:
    tables = params["reports"]["tables_dir"]
    assert comparison_inputs(params, "loss_study_vs_published") == [
        f"{tables}/loss_study.csv", str(PUBLISHED)]
    assert published_path({"reports": {}}) == Path(DEFAULT_PATH)
    with pytest.raises(UnknownNameError, match="renas_search_vs_published"):
        comparison_inputs(params, "renas_search")
