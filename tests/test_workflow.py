"""Tests of the orchestration: the Snakemake workflow and its DVC twin (dvc.yaml).

Every tool runs as a real subprocess with an explicit environment: the interpreter's
bin directory first on PATH (so ``python -m nasrank`` inside a rule is this
interpreter), no inherited PYTHONPATH, and NASRANK_MIRROR only where a test sets it.
The end-to-end test runs the real default params.yaml on a copy of the workflow.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import venv_tool

from nasrank import numerics
from nasrank.benchmarks import processed_stems
from nasrank.catalog import ALL_FIGURES, ALL_TABLES
from nasrank.config import MIRROR_ENV
from nasrank.experiments import all_runs, sweep_jobs
from nasrank.families.jobs import family_jobs
from nasrank.io import read_metadata
from nasrank.paths import Paths
from nasrank.search.jobs import search_jobs

BIN = Path(sys.executable).parent
E2E_TIMEOUT_S = 15 * 60
NB101_CELLS = 423_624
RUN_FILES = ("predictions.parquet", "model.bin", "config.json", "log.csv", "timing.json")
NB101_CHECKED = 30_001 + 500  # nasbench-vis records + NASLib entries
CHECK_REPORT = "reports/checks/nb101_params.json"

# What a workflow copy needs: the rules run `python -m nasrank` from <copy>/src, and
# every rule's `conda:` directive names environment.yml (Snakemake records its hash even
# without --use-conda, and fails the job where the file is absent).
WORKFLOW_FILES = ("Snakefile", "workflow", "params.yaml", "environment.yml", "src",
                  "reports/published.yaml")




def _env(mirror: Path | None = None) -> dict[str, str]:
    """This environment as a user's shell has it: without PYTHONPATH, the mirror unless
    given, and the numerics pins (the suite's own process has them: tests/conftest.py),
    so each job sets them itself when its params ask for portable mode."""
    env = {k: v for k, v in numerics.unpinned_environ().items()
           if k not in (MIRROR_ENV, "PYTHONPATH", "NASRANK_TESTS_PINNED")}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    if mirror is not None:
        env[MIRROR_ENV] = str(mirror)
    return env


def _run(
    argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; stdout and stderr interleaved in ``.stdout`` (Snakemake logs to both)."""
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def copy_workflow(repo: Path, dest: Path, extra: tuple[str, ...] = ()) -> Path:
    """Copy what running the workflow needs (no data, no caches) to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".snakemake")
    for name in (*WORKFLOW_FILES, *extra):
        src = repo / name
        if not src.exists():
            pytest.fail(f"{src} is missing from the repository; the workflow needs it")
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def planned_jobs(output: str) -> dict[str, list[set[str]]]:
    """Rule name -> the output sets of its jobs, from a Snakemake (dry-)run's log."""
    jobs: dict[str, list[set[str]]] = {}
    current: str | None = None
    for line in output.splitlines():
        m = re.match(r"^(?:local)?rule (\S+):$", line)
        if m:
            current = m.group(1)
            jobs.setdefault(current, []).append(set())
            continue
        m = re.match(r"^\s+output: (.*)$", line)
        if m and current is not None:
            jobs[current][-1].update(s.strip() for s in m.group(1).split(","))
        elif not line.startswith(" "):
            current = None
    return jobs


def _repo_params(repo: Path) -> dict[str, Any]:
    with open(repo / "params.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def small_loss_study(params: dict[str, Any], epochs: int = 3) -> dict[str, Any]:
    """The same params with ``epochs``-epoch trainings and the loss study cut to
    NAS-Bench-Macro, losses hr and mse, 50 training cells, seed 0."""
    small = json.loads(json.dumps(params))
    small["train"]["epochs"] = epochs
    small["train"]["by_predictor"] = {k: {**v, "epochs": epochs}
                                      for k, v in small["train"]["by_predictor"].items()}
    small["experiments"]["loss_study"].update(tables=["nbmacro"], losses=["hr", "mse"],
                                              train_sizes=[50], seeds=[0])
    return small


def shrink_training(params: dict[str, Any]) -> dict[str, Any]:
    """The same params with tiny training grids (few epochs, one size, one seed), so the
    end-to-end run covers every rule in minutes; everything else stays the default but
    ``numerics: fast``. This checks the orchestration; its jobs' bytes are compared only
    with its own reruns. ``portable`` jobs run under Snakemake in
    tests/test_plugin_workflow.py and give the same bytes across CPUs in
    tests/test_numerics.py; here they would double the suite's longest test."""
    small = small_loss_study(params)
    small["numerics"] = "fast"
    renas = small["experiments"]["renas_variants"]
    renas.update(train_sizes=[50], seeds=[0])
    search = small["search"]
    search["algorithms"]["renas_ga"].update(population=20, generations=2)
    search["renas"].update(train_size=50, seeds=[0])
    search["loss_search"].update(tables=["nbmacro"], losses=["hr", "piecewise"],
                                 budgets=[20, 30], seeds=[0],
                                 loss_options={"piecewise": {"switch_epoch": None,
                                                             "switch_samples": 20}})
    for loop in ("npenas_loop", "bananas_loop"):
        search["algorithms"][loop].update(init=10, per_iter=10, num_candidates=40)
    search["predictor_nas_by_predictor"].update(
        tables=["nbmacro"], predictors=["xgb", "gcn"], budgets=[20, 30], seeds=[0])
    families = small["families"]
    families["seeds"] = [0]
    for t in families["tables"].values():
        keep = [p for p in t["predictors"] if p in ("jacov", "nwot", "early_stop_12", "xgb",
                                                     "omni")]
        t.update(predictors=keep, train_sizes=[5, 24],
                 options={k: v for k, v in (t.get("options") or {}).items() if k in keep})
    return small


# --- static checks --------------------------------------------------------------------


def test_snakemake_lint(repo: Path) -> None:
    snakemake = venv_tool("snakemake")
    proc = _run([snakemake, "--lint"], cwd=repo, env=_env())
    assert proc.returncode == 0, proc.stdout


def test_snakemake_list_rules(repo: Path) -> None:
    """One ingest rule per configured benchmark, plus fetch, enumerate, stats and all."""
    snakemake = venv_tool("snakemake")
    proc = subprocess.run(
        [snakemake, "--list-rules"],
        cwd=repo,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rules = set(proc.stdout.split())
    params = _repo_params(repo)
    benches = params["benchmarks"]
    assert rules == {
        "all",
        "fetch",
        "encode",
        "check_nb101_params",
        "enumerate_nb101",
        "stats_nb101",
        "sweep",
        "search",
        "predictor_search",
        "families",
        "table",
        "figure",
        "report_html",
        *(f"ingest_{b}" for b in benches),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            lambda p: p["data"]["download"].update(retires=4), ["retires"], id="unknown-key"
        ),
        pytest.param(lambda p: p.update(modles={}), ["modles"], id="unknown-top-key"),
        pytest.param(
            lambda p: p["data"]["download"].update(retries="four"),
            ["'four'", "integer"],
            id="wrong-type",
        ),
        pytest.param(lambda p: p.update(benchmarks=["nb999"]), ["nb999"], id="enum"),
    ],
)
def test_snakemake_rejects_bad_configfile(
    repo: Path, tmp_path: Path, text: Any, expected: list[str]
) -> None:
    """Snakemake validates the merged config against the schema before planning."""
    snakemake = venv_tool("snakemake")
    params = _repo_params(repo)
    text(params)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(params), encoding="utf-8")
    proc = _run([snakemake, "-n", "--configfile", str(bad)], cwd=repo, env=_env())
    assert proc.returncode != 0, proc.stdout
    assert "validating config" in proc.stdout, proc.stdout
    for part in expected:
        assert part in proc.stdout, proc.stdout
    assert "Building DAG of jobs" not in proc.stdout


# --- end to end -----------------------------------------------------------------------


def _feature_targets(params: dict[str, Any]) -> list[str]:
    """data/features/<bench>/<encoding>.parquet for every configured pair."""
    features = params["data"]["features_dir"]
    return [
        f"{features}/{bench}/{encoding}.parquet"
        for bench in params["benchmarks"]
        for encoding in params["encodings"]["build"].get(bench, [])
    ]


def _expected_targets(params: dict[str, Any]) -> list[str]:
    processed = params["data"]["processed_dir"]
    targets = [
        f"{processed}/{stem}.parquet"
        for bench in params["benchmarks"]
        for stem in processed_stems(bench)
    ]
    targets.append(f"{processed}/spaces/nb101.parquet")
    targets += ["reports/tables/nb101_space_stats.csv", "reports/tables/nb101_space_stats.md"]
    targets += _feature_targets(params)
    targets.append(CHECK_REPORT)
    models, metrics = params["data"]["models_dir"], params["reports"]["metrics_dir"]
    for run in all_runs(params):
        targets += [f"{models}/{run.run_id}/{name}" for name in RUN_FILES]
        targets.append(f"{metrics}/{run.run_id}.json")
    for job in search_jobs(params):
        targets += map(str, job.outputs(Paths.of(params)))
    for job in family_jobs(params):
        targets += [str(job.output(Paths.of(params))), str(job.timing_output(Paths.of(params)))]
    tables = params["reports"]["tables_dir"]
    targets += [f"{tables}/{name}.{ext}" for name in ALL_TABLES for ext in ("csv", "md", "tex")]
    targets += [f"{params['reports']['figures_dir']}/{name}.{ext}" for name in ALL_FIGURES
                for ext in ("png", "pdf")]
    targets.append(str(Path(tables).parent / "index.html"))
    return targets


def _expected_logs(params: dict[str, Any]) -> list[str]:
    logs = [
        f"logs/{step}/{bench}.log" for step in ("fetch", "ingest") for bench in params["benchmarks"]
    ]
    logs += [
        f"logs/encode/{bench}/{encoding}.log"
        for bench in params["benchmarks"]
        for encoding in params["encodings"]["build"].get(bench, [])
    ]
    logs += [f"logs/sweep/{job.sweep_id}.log" for job in sweep_jobs(params)]
    logs += [f"logs/search/{job.key}.log" for job in search_jobs(params)]
    logs += [f"logs/families/{job.key}.log" for job in family_jobs(params)]
    logs += [f"logs/table/{name}.log" for name in ALL_TABLES]
    logs += [f"logs/figure/{name}.log" for name in ALL_FIGURES]
    logs.append("logs/report/index.log")
    return sorted([*logs, "logs/enumerate/nb101.log", "logs/stats/nb101.log",
                   "logs/check/nb101_params.log"])


def _failed_jobs(output: str) -> list[str]:
    """The jobs Snakemake reports as failed (rule and wildcards), for a readable message."""
    failed = []
    lines = output.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("Error in rule "):
            wildcards = next((x.strip() for x in lines[k + 1 : k + 12]
                              if x.strip().startswith("wildcards:")), "")
            failed.append(f"{line[len('Error in rule '):].rstrip(':')} {wildcards}".strip())
    return failed


def _check_features(work: Path, params: dict[str, Any]) -> None:
    """Each features file holds its encoding's tensors for the architectures of the table
    it encodes, in that table's order."""
    from nasrank.encodings import get_encoding, spec_source

    processed = work / params["data"]["processed_dir"]
    for target in _feature_targets(params):
        bench, name = Path(target).parent.name, Path(target).stem
        enc = get_encoding(bench, name)
        meta = read_metadata(work / target)
        assert (meta["benchmark"], meta["encoding"]) == (bench, name), target
        assert meta["shape"] == list(enc.shape) and meta["dtype"] == "float32", target
        schema = pq.read_schema(work / target)
        assert schema.names == ["arch_id", "x"], target
        assert schema.field("x").type.list_size == math.prod(enc.shape), target
        source = spec_source(bench, processed)
        ids = pq.read_table(work / target, columns=["arch_id"]).column(0)
        expected = pq.read_table(source, columns=["arch_id"]).column(0)
        assert ids.equals(expected), f"{target}: arch_id differs from {source}"
        if bench == "nb101":
            assert len(ids) == NB101_CELLS


@pytest.mark.slow
@pytest.mark.mirror
def test_end_to_end(repo: Path, tmp_path: Path, mirror: Path) -> None:
    snakemake = venv_tool("snakemake")
    work = copy_workflow(repo, tmp_path / "wf")
    env = _env(mirror)
    params = shrink_training(_repo_params(work))
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    features = _feature_targets(params)
    assert features  # the default params build encodings

    start = time.perf_counter()
    proc = _run([snakemake, "--cores", "2"], cwd=work, env=env, timeout=E2E_TIMEOUT_S)
    elapsed = time.perf_counter() - start
    print(f"\nend-to-end `snakemake --cores 2` on the default params: {elapsed:.1f} s")
    assert proc.returncode == 0, (f"failed jobs: {_failed_jobs(proc.stdout)}\n"
                                  + proc.stdout[-6000:])

    # Every target, and each job ran once.
    targets = _expected_targets(params)
    missing = [t for t in targets if not (work / t).is_file()]
    assert missing == [], missing
    jobs = planned_jobs(proc.stdout)
    assert {r: len(j) for r, j in jobs.items()} == {
        "fetch": len(params["benchmarks"]),
        "enumerate_nb101": 1,
        "stats_nb101": 1,
        "check_nb101_params": 1,
        "encode": len(features),
        "sweep": len(sweep_jobs(params)),
        "search": len([j for j in search_jobs(params)
                       if j.experiment != "predictor_nas_by_predictor"]),
        "predictor_search": len(search_jobs(params, "predictor_nas_by_predictor")),
        "families": len(family_jobs(params)),
        "table": len(ALL_TABLES),
        "figure": len(ALL_FIGURES),
        "report_html": 1,
        "all": 1,
        **{f"ingest_{b}": 1 for b in params["benchmarks"]},
    }
    assert sorted(o for outs in jobs["encode"] for o in outs) == sorted(features)

    # Each sweep job wrote exactly its runs: one directory per run, one metrics file each.
    for job in sweep_jobs(params):
        runs = {f"n{r.train_size}/s{r.seed}" for r in job.runs}
        models = work / job.models_dir(params)
        assert {str(d.relative_to(models)) for d in models.glob("n*/s*")} == runs
        metrics = work / job.metrics_dir(params)
        assert {str(f.relative_to(metrics))[:-5] for f in metrics.rglob("*.json")} == runs

    # Nothing else (no temporary or stray files) in the processed and features directories.
    processed = work / params["data"]["processed_dir"]
    on_disk = sorted(str(p.relative_to(work)) for p in processed.rglob("*") if p.is_file())
    assert on_disk == sorted(t for t in targets if t.startswith(params["data"]["processed_dir"]))
    for bench in params["benchmarks"]:
        for stem in processed_stems(bench):
            assert read_metadata(processed / f"{stem}.parquet")["benchmark"] == bench
    features_dir = work / params["data"]["features_dir"]
    on_disk = sorted(str(p.relative_to(work)) for p in features_dir.rglob("*") if p.is_file())
    assert on_disk == sorted(features)
    _check_features(work, params)

    # The cost model's exactness report: every labelled record exact.
    report = json.loads((work / CHECK_REPORT).read_text(encoding="utf-8"))
    assert report["n_exact"] == report["n_checked"] == NB101_CHECKED, report["worst_mismatches"]

    # The statistics table: 12 groups covering the whole space.
    stats = pd.read_csv(work / "reports/tables/nb101_space_stats.csv")
    assert len(stats) == 12
    assert int(stats["n_cells"].sum()) == NB101_CELLS
    assert not stats.duplicated(["uses_conv3x3", "distance"]).any()
    target = params["stats"]["nb101"]["target"]
    records = pq.read_table(processed / "nb101.parquet", columns=[target])
    assert int(stats["n_labelled"].sum()) == records.num_rows - records[target].null_count
    md = (work / "reports/tables/nb101_space_stats.md").read_text(encoding="utf-8").splitlines()
    assert len([line for line in md if line.startswith("|")]) == 12 + 2

    # One log per job (`all` runs nothing and has none).
    logs = sorted(str(p.relative_to(work)) for p in (work / "logs").rglob("*.log"))
    assert logs == _expected_logs(params)
    assert "rows ->" in (work / "logs/ingest/nbmacro.log").read_text(encoding="utf-8")

    # The HTML report embeds every figure; Snakemake's own report has them with captions.
    index = (work / "reports" / "index.html").read_text(encoding="utf-8")
    assert index.count('src="data:image/png;base64,') == len(ALL_FIGURES)
    proc = _run([snakemake, "--cores", "1", "--report", "snakemake_report.html"], cwd=work,
                env=env)
    assert proc.returncode == 0, proc.stdout[-4000:]
    snake_report = (work / "snakemake_report.html").read_text(encoding="utf-8")
    assert all(f"{name}.png" in snake_report for name in ALL_FIGURES)
    (work / "snakemake_report.html").unlink()

    # Up to date: a dry run plans nothing.
    proc = _run([snakemake, "-n"], cwd=work, env=env)
    assert proc.returncode == 0, proc.stdout
    assert "Nothing to be done" in proc.stdout, proc.stdout
    assert planned_jobs(proc.stdout) == {}

    # One table gone: the job that writes it, the encodings of its benchmark (their input
    # is rewritten by that job) and the `all` target are planned, nothing else.
    victim = processed / "nbgraph-cora.parquet"
    siblings = {p.name: p.read_bytes() for p in processed.glob("nbgraph-*.parquet")}
    nbgraph_features = sorted(t for t in features if Path(t).parent.name == "nbgraph")
    encoded = {t: (work / t).read_bytes() for t in nbgraph_features}
    victim.unlink()
    proc = _run([snakemake, "-n"], cwd=work, env=env)
    assert proc.returncode == 0, proc.stdout
    jobs = planned_jobs(proc.stdout)
    expected_rules = {"ingest_nbgraph", "all"} | ({"encode"} if nbgraph_features else set())
    assert set(jobs) == expected_rules, proc.stdout
    assert len(jobs["ingest_nbgraph"]) == 1
    assert f"{params['data']['processed_dir']}/nbgraph-cora.parquet" in jobs["ingest_nbgraph"][0]
    assert "Missing output files: data/processed/nbgraph-cora.parquet" in proc.stdout
    assert sorted(o for outs in jobs.get("encode", []) for o in outs) == nbgraph_features

    # Rebuilding it gives the same bytes for every table of that job and every encoding.
    proc = _run([snakemake, "--cores", "2"], cwd=work, env=env, timeout=E2E_TIMEOUT_S)
    assert proc.returncode == 0, (f"failed jobs: {_failed_jobs(proc.stdout)}\n"
                                  + proc.stdout[-6000:])
    assert set(planned_jobs(proc.stdout)) == expected_rules
    assert {p.name: p.read_bytes() for p in processed.glob("nbgraph-*.parquet")} == siblings
    assert {t: (work / t).read_bytes() for t in nbgraph_features} == encoded


@pytest.mark.mirror
def test_configfile_override_reaches_cli(repo: Path, tmp_path: Path, mirror: Path) -> None:
    """A --configfile that moves processed_dir is honoured by the commands the rules run."""
    snakemake = venv_tool("snakemake")
    work = copy_workflow(repo, tmp_path / "wf")
    params = _repo_params(work)
    params["benchmarks"] = ["nbmacro"]
    params["data"]["processed_dir"] = "data/alt"
    (work / "alt.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    proc = _run([snakemake, "data/alt/nbmacro.parquet", "--cores", "1", "--configfile", "alt.yaml"],
                cwd=work, env=_env(mirror))
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert (work / "data/alt/nbmacro.parquet").is_file()
    assert not (work / "data/processed").exists()


# --- dvc.yaml mirrors the Snakemake rules ---------------------------------------------


@pytest.fixture
def dvc_copy(repo: Path, tmp_path: Path) -> Path:
    """A copy of the workflow with dvc.yaml, in a fresh git + DVC repository."""
    if not (repo / "dvc.yaml").is_file():
        pytest.skip("dvc.yaml is absent from the repository")
    dvc = venv_tool("dvc")
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed (DVC needs a git repository)")
    work = copy_workflow(repo, tmp_path / "wf", extra=("dvc.yaml",))
    env = _env()
    for argv in ([git, "init", "-q"], [dvc, "init", "-q"]):
        proc = _run(argv, cwd=work, env=env, timeout=120)
        assert proc.returncode == 0, proc.stdout
    return work


def _dvc_outs(work: Path) -> dict[str, set[str]]:
    """Stage name -> its outputs, as DVC resolves dvc.yaml (foreach expanded)."""
    code = (
        "import json, os\n"
        "from dvc.repo import Repo\n"
        "repo = Repo('.')\n"
        "print(json.dumps({s.addressing: sorted(os.path.relpath(str(o.fs_path), repo.root_dir)"
        " for o in s.outs) for s in repo.index.stages}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return {k: set(v) for k, v in json.loads(proc.stdout).items()}


def _stage_rule(stage: str, rules: set[str]) -> str:
    """The Snakemake rule a DVC stage stands for: the part before ``@`` of a ``foreach``
    stage (``encode@nb101-path`` -> ``encode``), its name, or the rule it is a job of
    (``table_loss_study`` -> ``table``, the static rule with wildcard table_name)."""
    if "@" in stage:
        return stage.split("@", 1)[0]
    if stage in rules:
        return stage
    return max((r for r in rules if stage.startswith(f"{r}_")), key=len, default=stage)


def _snakemake_rules(work: Path) -> set[str]:
    proc = subprocess.run(
        [venv_tool("snakemake"), "--list-rules"],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split()) - {"all"}


def test_dvc_stage_per_snakemake_rule(dvc_copy: Path) -> None:
    """Every Snakemake rule has DVC stages named after it (``rule`` or ``rule@key``), and
    every DVC stage is named after a Snakemake rule."""
    proc = _run([venv_tool("dvc"), "stage", "list", "--name-only"], cwd=dvc_copy, env=_env())
    assert proc.returncode == 0, proc.stdout
    stages = set(proc.stdout.split())
    rules = _snakemake_rules(dvc_copy)
    missing = sorted(r for r in rules if not any(_stage_rule(s, rules) == r for s in stages))
    assert missing == [], f"no DVC stage for Snakemake rules {missing}; stages: {sorted(stages)}"
    orphans = sorted(s for s in stages if _stage_rule(s, rules) not in rules)
    assert orphans == [], f"DVC stages without a Snakemake rule: {orphans}; rules: {sorted(rules)}"
    for rule in rules:  # one form per rule: a single stage or a foreach family
        named = {s for s in stages if _stage_rule(s, rules) == rule}
        assert named == {rule} or rule not in named, (rule, sorted(named))


def test_dvc_outputs_match_snakemake(dvc_copy: Path) -> None:
    """Snakemake jobs and DVC stages correspond one to one: each job (but `all`) matches
    exactly one stage named after its rule with the same output set, and vice versa."""
    proc = _run([venv_tool("snakemake"), "-n", "--forceall"], cwd=dvc_copy, env=_env())
    assert proc.returncode == 0, proc.stdout
    jobs = [(rule, outs) for rule, sets in planned_jobs(proc.stdout).items() if rule != "all"
            for outs in sets]
    assert jobs, proc.stdout
    dvc = _dvc_outs(dvc_copy)
    rules = _snakemake_rules(dvc_copy)

    def stages_for(rule: str, outs: set[str]) -> list[str]:
        return sorted(s for s, o in dvc.items() if _stage_rule(s, rules) == rule and o == outs)

    unmatched_jobs = {f"{rule}: {sorted(outs)}": stages_for(rule, outs) for rule, outs in jobs
                      if len(stages_for(rule, outs)) != 1}
    assert unmatched_jobs == {}, f"jobs without exactly one DVC stage: {unmatched_jobs}"
    unmatched_stages = {
        stage: [sorted(o) for r, o in jobs if r == _stage_rule(stage, rules) and o == outs]
        for stage, outs in dvc.items()
        if sum(r == _stage_rule(stage, rules) and o == outs for r, o in jobs) != 1
    }
    assert unmatched_stages == {}, (
        f"DVC stages without exactly one Snakemake job: {unmatched_stages}; "
        f"stage outputs: { {s: sorted(dvc[s]) for s in unmatched_stages} }"
    )
    assert len(jobs) == len(dvc)
    # The foreach families expand to the configured benchmarks and encodings.
    params = _repo_params(dvc_copy)
    assert {s for s in dvc if _stage_rule(s, rules) == "fetch"} == {
        f"fetch@{b}" for b in params["benchmarks"]}
    assert {s for s in dvc if _stage_rule(s, rules) == "encode"} == {
        f"encode@{b}-{e}" for b in params["benchmarks"]
        for e in params["encodings"]["build"].get(b, [])}


def test_dvc_dag_is_valid(dvc_copy: Path) -> None:
    proc = _run([venv_tool("dvc"), "dag"], cwd=dvc_copy, env=_env())
    assert proc.returncode == 0, proc.stdout
    assert "stats_nb101" in proc.stdout


def test_dvc_metrics_and_plots_show(dvc_copy: Path, repo: Path) -> None:
    """`dvc metrics show` reads the evaluation metrics and `dvc plots show` the figures
    that dvc.yaml declares (the committed results copied into the fresh repository)."""
    params = _repo_params(dvc_copy)
    metrics = sorted((repo / params["reports"]["metrics_dir"]).rglob("*.json"))
    figures = sorted((repo / params["reports"]["figures_dir"]).glob("*.png"))
    if not metrics or not figures:
        pytest.skip("no committed metrics or figures to show")
    for src in [*metrics, *figures]:
        dest = dvc_copy / src.relative_to(repo)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
    dvc = venv_tool("dvc")
    proc = _run([dvc, "metrics", "show", "--json"], cwd=dvc_copy, env=_env())
    assert proc.returncode == 0, proc.stdout
    shown = json.loads(proc.stdout[proc.stdout.index("{"):])[""]["data"]
    declared = {str(p.relative_to(repo)) for p in metrics}
    assert declared & set(shown), sorted(shown)[:5]
    any_file = sorted(declared & set(shown))[0]
    assert "kendall_tau" in shown[any_file]["data"]["metrics"]
    proc = _run([dvc, "plots", "show", "--json"], cwd=dvc_copy, env=_env())
    assert proc.returncode == 0, proc.stdout
    text = proc.stdout
    for fig in figures:
        assert str(fig.relative_to(repo)) in text, fig.name
