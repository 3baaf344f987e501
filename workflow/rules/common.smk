from snakemake.utils import validate

from nasrank.benchmarks import processed_stems


validate(config, "../schemas/params.schema.yaml")

# The CLI re-reads (and re-validates) the same params file Snakemake loaded. It runs
# from this checkout's src/, so a `--use-conda` environment needs no install of nasrank.
PARAMS = workflow.configfiles[-1] if workflow.configfiles else "params.yaml"
SRC = f"{workflow.basedir}/src"
NASRANK = f"PYTHONPATH={SRC}${{PYTHONPATH:+:$PYTHONPATH}} python -m nasrank --params {PARAMS}"
RAW = config["data"]["raw_dir"]
PROCESSED = config["data"]["processed_dir"]
BENCHMARKS = config["benchmarks"]


def processed_files(bench):
    """The Parquet tables `nasrank ingest bench` writes."""
    return [f"{PROCESSED}/{stem}.parquet" for stem in processed_stems(bench)]


def all_targets():
    """Every processed table of the configured benchmarks and the statistics tables."""
    targets = [f for bench in BENCHMARKS for f in processed_files(bench)]
    if "nb101" in BENCHMARKS:
        targets += rules.stats_nb101.output
    return targets
