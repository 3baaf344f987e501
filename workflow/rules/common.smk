import os
import sys
from pathlib import Path

import yaml
from snakemake.utils import validate

# The workflow imports nasrank from this checkout, installed or not.
sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from nasrank.benchmarks import processed_stems
from nasrank.encodings import spec_source
from nasrank.families.jobs import family_jobs
from nasrank.report.html import report_inputs, section_of
from nasrank.report.registry import (
    ALL_FIGURES,
    ALL_TABLES,
    figure_inputs,
    figure_params,
    table_inputs,
    table_params,
)
from nasrank.predictors import PREDICTORS
from nasrank.io import write_text
from nasrank.search.runner import search_jobs


validate(config, "../schemas/params.schema.yaml")


def effective_params(cfg, path=".snakemake/nasrank/params.yaml"):
    """Write the configuration Snakemake ended up with (params.yaml merged with any
    --configfile/--config) for the CLI, which re-validates it; rewritten only on change.
    Keys keep params.yaml's order: tables follow it (families.tables), so a rule writes
    the same bytes as `nasrank` run on params.yaml (DVC)."""
    text = yaml.safe_dump(cfg, sort_keys=False)
    target = Path(path)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        write_text(target, text)
    return path


# The CLI runs from this checkout's src/, so a `--use-conda` environment needs no
# install of nasrank.
PARAMS = effective_params(config)
SRC = os.path.relpath(f"{workflow.basedir}/src")  # relative: no rerun when moved
NASRANK = f"PYTHONPATH={SRC}${{PYTHONPATH:+:$PYTHONPATH}} python -m nasrank --params {PARAMS}"
RAW = config["data"]["raw_dir"]
PROCESSED = config["data"]["processed_dir"]
FEATURES = config["data"]["features_dir"]
MODELS = config["data"]["models_dir"]
METRICS = config["reports"]["metrics_dir"]
TABLES_DIR = config["reports"]["tables_dir"]
SEARCH = config["reports"]["search_dir"]
FAMILIES = config["reports"]["families_dir"]
FIGURES = config["reports"]["figures_dir"]
REPORT_HTML = str(Path(TABLES_DIR).parent / "index.html")
TORCH_PREDICTORS = [n for n, spec in PREDICTORS.items() if spec.kind == "torch"]
# Training jobs ask the scheduler for a GPU when params.yaml says train.device: cuda.
GPUS = 1 if config["train"]["device"] == "cuda" else 0
BENCHMARKS = config["benchmarks"]


def processed_files(bench):
    """The Parquet tables `nasrank ingest bench` writes."""
    return [f"{PROCESSED}/{stem}.parquet" for stem in processed_stems(bench)]


def train_settings(predictor, loss):
    """What a training job depends on besides its wildcards (Snakemake reruns it when
    these change)."""
    return {
        "train": config["train"],
        "loss": config["losses"].get(loss, {}),
        "predictor": config["predictors"].get(predictor, {}),
    }


def all_targets():
    """Every processed table of the configured benchmarks and the statistics tables."""
    targets = [f for bench in BENCHMARKS for f in processed_files(bench)]
    targets += [
        f"{FEATURES}/{bench}/{encoding}.parquet"
        for bench in BENCHMARKS
        for encoding in config["encodings"]["build"].get(bench, [])
    ]
    if "nb101" in BENCHMARKS:
        targets += rules.stats_nb101.output
        targets += rules.check_nb101_params.output
    targets += [
        f"{TABLES_DIR}/{name}.{ext}" for name in ALL_TABLES for ext in ("csv", "md", "tex")
    ]
    targets += [f"{FIGURES}/{name}.{ext}" for name in ALL_FIGURES for ext in ("png", "pdf")]
    targets.append(REPORT_HTML)
    return targets


def search_inputs(job):
    """The processed table, the NB101 space (specs, costs) and the predictor's features."""
    inputs = [f"{PROCESSED}/{job.table}.parquet"]
    if job.bench == "nb101":
        inputs.append(f"{PROCESSED}/spaces/nb101.parquet")
    if job.encoding is not None:
        inputs.append(f"{FEATURES}/{job.bench}/{job.encoding}.parquet")
    return inputs


def search_settings(job):
    """What a search job depends on besides its key (Snakemake reruns it on change)."""
    settings = {"algorithm": config["search"]["algorithms"].get(job.search, {}),
                "seeds": list(job.seeds), "budgets": list(job.budgets),
                "train_size": job.train_size, "loss_options": job.loss_options}
    if job.predictor is not None:
        settings.update(train_settings(job.predictor, job.loss))
        settings["flops"] = config["encodings"]["renas_tensor"]["flops"]
    return settings


def family_inputs(job):
    """The processed table and, for predictors that read an encoding, its features."""
    inputs = [f"{PROCESSED}/{job.table}.parquet"]
    if job.encoding is not None:
        inputs.append(f"{FEATURES}/{job.bench}/{job.encoding}.parquet")
    return inputs


def family_settings(job):
    """What a family job depends on besides its key (Snakemake reruns it on change)."""
    settings = {"settings": job.settings, "trials": list(job.trials),
                "evaluation": config["evaluation"]}
    if job.encoding is not None:
        settings.update(train=config["train"], predictors=config["predictors"])
    return settings


def _config_at(dotted):
    value = config
    for part in dotted.split("."):
        value = value[part]
    return value


def table_settings(name):
    """The params a table depends on (Snakemake reruns it when they change)."""
    return {key: _config_at(key) for key in table_params(config, name)}


def figure_settings(name):
    """The params a figure reads besides its input files."""
    return {key: _config_at(key) for key in figure_params(config, name)}


def figure_category(name):
    """The study of a figure (its category in `snakemake --report`)."""
    return section_of(name, "figure")
