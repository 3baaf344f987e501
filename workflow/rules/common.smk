import os
import re
import sys
from pathlib import Path

import yaml
from snakemake.utils import validate

# The workflow imports nasrank from this checkout, installed or not.
sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from nasrank.config import check_params, read_yaml
from nasrank.experiments import sweep_jobs
from nasrank.families.jobs import family_jobs
from nasrank.io import write_text
from nasrank.jobs import all_jobs, check_losses, check_train_sizes
from nasrank.predictors import PREDICTORS
from nasrank.report.html import section_of
from nasrank.search.jobs import search_jobs


# Snakemake's YAML loading keeps the last of two equal keys: read each config file again
# with nasrank's loader, which names a duplicate key and both its lines.
for _configfile in workflow.configfiles:
    read_yaml(_configfile, "params file")
validate(config, "../schemas/params.schema.yaml")
check_params(config)
check_losses(config)
check_train_sizes(config)


def effective_params(cfg, path=".snakemake/nasrank/params.yaml"):
    """Write the configuration Snakemake ended up with (params.yaml merged with any
    --configfile/--config) for the CLI, which re-validates it; rewritten only on change.
    Keys keep params.yaml's order: tables follow it (families.tables), so a rule writes
    the same bytes as `nasrank` run on params.yaml (DVC). Its `root` points back at the
    working directory, which relative data and reports paths are relative to."""
    target = Path(path)
    root = os.path.relpath(Path(cfg.get("root", ".")).resolve(), target.parent.resolve())
    text = yaml.safe_dump({**cfg, "root": root}, sort_keys=False)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        write_text(target, text)
    return path


# The CLI runs from this checkout's src/, so a `--use-conda` environment needs no
# install of nasrank.
PARAMS = effective_params(config)
SRC = os.path.relpath(f"{workflow.basedir}/src")  # relative: no rerun when moved
CAPTIONS = Path(workflow.basedir, "workflow", "report")
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
TORCH_PREDICTORS = [n for n, spec in PREDICTORS.items() if spec.kind == "torch"]
# Training jobs ask the scheduler for a GPU when params.yaml says train.device: cuda.
GPUS = 1 if config["train"]["device"] == "cuda" else 0
BENCHMARKS = config["benchmarks"]

# Every job of the workflow (nasrank.jobs, which `nasrank dvc-yaml` renders too): a rule
# looks its job up by its wildcards for inputs and settings.
def _jobs_by_rule(cfg):
    """{rule: {key: job}} of every job of the configuration."""
    out = {}
    for job in all_jobs(cfg):
        out.setdefault(job.rule, {})[job.key] = job
    return out


JOBS = _jobs_by_rule(config)
# The domain objects behind the sweep, search and family jobs (sizes, devices, memory).
SWEEPS = {job.sweep_id: job for job in sweep_jobs(config)}
SEARCHES = {job.key: job for job in search_jobs(config)}
FAMILY_JOBS = {job.key: job for job in family_jobs(config)}


def one_of(rule):
    """A wildcard constraint matching exactly the keys of a rule's jobs."""
    return "|".join(re.escape(key) for key in JOBS.get(rule, {})) or "(?!)"


def job_of(rule, key=""):
    """The job of a rule with this key (key "" where the rule has one job)."""
    return JOBS[rule][key]


def job_inputs(rule, key=""):
    """The files a job reads."""
    return list(job_of(rule, key).inputs)


def job_outputs(rule, key=""):
    """The files a job writes (for rules generated per job: ingest)."""
    return [o.path for o in job_of(rule, key).outputs]


def job_settings(rule, key=""):
    """The values of the params keys a job depends on (Snakemake reruns it on change)."""
    return job_of(rule, key).settings(config)


def sweep_job(wc):
    """The sweep of a `sweep` job's wildcards."""
    return SWEEPS[f"{wc.table}/{wc.encoding}/{wc.predictor}/{wc.loss}"]


def sweep_key(wc):
    return f"{wc.table}/{wc.encoding}/{wc.predictor}/{wc.loss}"


def all_targets():
    """Every output of every job (`snakemake` with no target builds them all)."""
    return [o.path for rule in JOBS.values() for job in rule.values() for o in job.outputs]


def figure_category(name):
    """The study of a figure (its category in `snakemake --report`)."""
    return section_of(name, "figure")


def figure_caption(name):
    """A figure's caption for `snakemake --report` (workflow/report/NAME.rst)."""
    return Path(CAPTIONS, f"{name}.rst").read_text(encoding="utf-8")


def family_gpus(job):
    """A GPU for the family jobs that train torch predictors, when train.device is cuda."""
    return GPUS if job.family == "model_based" and job.predictor in TORCH_PREDICTORS else 0
