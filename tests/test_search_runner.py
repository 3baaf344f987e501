"""Tests of the search jobs of params.yaml (nasrank.search.jobs, .runner), their tables
(nasrank.search.tables) and the ``nasrank search`` / ``nasrank table`` commands.

Data:

* NAS-Bench-Macro (3,969 labelled architectures) and NAS-Bench-201 are fetched from the
  local mirror, ingested and encoded (``gcn``, ``adjacency_onehot``) once per module
  (about 2 s); those tests skip where the mirror is absent.
* A small synthetic NAS-Bench-101: the enumerated cells of up to 5 vertices (2,532) as
  ``data/processed/spaces/nb101.parquet``, two thirds of them labelled with a monotone
  function of the network's parameter count (so a cost-spread training sample provably
  contains a top-stratum cell). It serves the ``io1_conv3x3`` subspace and the
  ``params``/``flops`` sample selections, which only NAS-Bench-101 has.

Training is cut to 2 epochs and tiny models, and the GA to a few generations, so the file
runs in well under a minute on 2 busy cores. The search algorithms themselves are tested
in test_search.py; here it is the glue: pools, jobs, reports, tables and commands.
"""

from __future__ import annotations

import copy
import json
import statistics
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import REPO, tmp_params

from nasrank.benchmarks.nb101 import space_table
from nasrank.cli import main
from nasrank.config import check_params
from nasrank.encodings.store import read_features
from nasrank.errors import ConfigError, NasrankError, UnknownNameError
from nasrank.io import write_parquet
from nasrank.jobs import search_job
from nasrank.paths import Paths
from nasrank.search import get_search
from nasrank.search.jobs import SearchJob, find_job, renas_job, search_jobs
from nasrank.search.pools import COSTS, SAMPLES, load_pool
from nasrank.search.refits import fit_predict_from, lockstep
from nasrank.search.runner import run_job
from nasrank.search.tables import (
    loss_search_table,
    renas_sample_selection_table,
    renas_search_table,
    renas_subspace_table,
)
from nasrank.train import config_from_params, fit_predictor, load_run_inputs

NB101_STEM_AND_DENSE = (3 * 3 * 3 * 128 + 2 * 128) + (512 * 10 + 10)
NBMACRO_SIZE = 3969
NB201_SIZE = 15625


# --------------------------------------------------------------------------- helpers


def repo_params() -> dict[str, Any]:
    """The repository's params.yaml, untouched (the default jobs)."""
    return yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))


def small_params(root: Path, reports: Path | None = None) -> dict[str, Any]:
    """params.yaml with data under ``root``, reports under ``reports`` (default ``root``),
    2-epoch training, tiny predictors and a short GA: fast enough for a unit test."""
    params = tmp_params(root)
    if reports is not None:
        params["reports"].update({k: str(reports / k.removesuffix("_dir"))
                                  for k in ("metrics_dir", "tables_dir", "search_dir",
                                            "families_dir", "figures_dir")})
    params["train"]["epochs"] = 2
    params["train"]["by_predictor"] = {"gcn": {"batch_size": 32, "epochs": 2},
                                       "mlp": {"batch_size": 32, "epochs": 2}}
    params["predictors"].update(gcn={"hidden": 16, "layers": 2, "dropout": 0.0},
                                mlp={"hidden": [32]})
    params["search"]["algorithms"].update(
        regularized_evolution={"population": 10, "sample_size": 5},
        renas_ga={"population": 20, "generations": 3, "selection": 0.5,
                  "crossover_prob": 0.5, "mutation_prob": 0.5},
        predictor_nas={"init": 10, "per_iter": 10, "num_candidates": None})
    return params


def write_params(params: dict[str, Any], path: Path) -> str:
    """Dump ``params`` for ``nasrank --params``; returns the path as a string."""
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return str(path)


def labels(params: dict[str, Any], table: str, target: str) -> pd.Series:
    """The labelled ``target`` values of a processed table, indexed by arch_id."""
    path = Path(params["data"]["processed_dir"]) / f"{table}.parquet"
    df = pq.read_table(path, columns=["arch_id", target]).to_pandas()
    return df.dropna().set_index("arch_id")[target]


def read_report(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def check_rank(entry: dict[str, Any], acc: pd.Series) -> None:
    """``best_*`` of a report entry agree with the table's labels (rank 1 = best)."""
    assert entry["best_accuracy"] == acc[entry["best_arch_id"]]
    rank = int((acc.to_numpy() > entry["best_accuracy"]).sum()) + 1
    assert entry["best_rank"] == rank
    assert entry["best_percentile"] == pytest.approx(rank / len(acc) * 100)


def check_queries(rep: dict[str, Any], acc: pd.Series) -> None:
    """The final run's queries: distinct labelled archs, a non-decreasing trajectory of
    their running maximum, and the best of them as the reported result."""
    queried = rep["queried"]
    assert len(queried) == len(set(queried)) == rep["queries"] == len(rep["trajectory"])
    values = acc[queried].to_numpy()
    np.testing.assert_array_equal(rep["trajectory"], np.maximum.accumulate(values))
    assert np.all(np.diff(rep["trajectory"]) >= 0)
    assert rep["trajectory"][-1] == rep["best_accuracy"] == values.max()
    assert rep["best_arch_id"] == queried[int(np.argmax(values))]


def loss_search_params(params: dict[str, Any], **cfg: Any) -> dict[str, Any]:
    """``params`` with a one-table loss_search on nbmacro (the GCN), overridden by ``cfg``."""
    out = copy.deepcopy(params)
    out["search"]["loss_search"].update(
        tables=["nbmacro"], losses=["hr"], baselines=["random", "regularized_evolution"],
        budgets=[30, 20], seeds=[0, 1], loss_options={}, predictor="gcn", encoding="gcn")
    out["search"]["loss_search"].update(cfg)
    return out


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def bench_root(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nbmacro and nb201 fetched from the mirror, ingested and encoded (gcn, one-hot)."""
    root = tmp_path_factory.mktemp("search_benchmarks")
    path = write_params(tmp_params(root, mirror=str(mirror)), root / "params.yaml")
    for bench in ("nbmacro", "nb201", "darts"):
        assert main(["--params", path, "-q", "fetch", bench]) == 0
        assert main(["--params", path, "-q", "ingest", bench]) == 0
        for enc in ("gcn", "adjacency_onehot"):
            assert main(["--params", path, "-q", "encode", bench, enc]) == 0
    return root


@pytest.fixture
def params(bench_root: Path, tmp_path: Path) -> dict[str, Any]:
    """Small params on the mirrored benchmarks; reports in this test's tmp_path."""
    return small_params(bench_root, tmp_path)


def _nb101_space_table(max_vertices: int) -> pa.Table:
    """The columns of ``nasrank enumerate nb101`` for cells of up to ``max_vertices``."""
    return space_table(workers=1, max_vertices=max_vertices)


def nb101_network_params(features: Path, ids: np.ndarray) -> np.ndarray:
    """Network parameters from the renas_tensor file (independent of the runner's costs):
    per-vertex maxima of the 9 parameter channels, plus stem and dense layer."""
    feats = read_features(features, ids=ids)
    x = feats.x.reshape(len(ids), *feats.meta["shape"])
    return x[:, 10:].max(axis=2).astype(np.int64).sum(axis=(1, 2)) + NB101_STEM_AND_DENSE


@pytest.fixture(scope="module")
def nb101_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic nb101: cells of <= 5 vertices, renas_tensor encoded; every third cell
    unlabelled, the others labelled 80 + 10 x (scaled network parameters)."""
    root = tmp_path_factory.mktemp("search_nb101")
    params = tmp_params(root)
    processed = Path(params["data"]["processed_dir"])
    space = _nb101_space_table(5)
    write_parquet(processed / "spaces" / "nb101.parquet", space, {"space": "nb101"})
    path = write_params(params, root / "params.yaml")
    assert main(["--params", path, "-q", "encode", "nb101", "renas_tensor"]) == 0
    ids = np.asarray(space.column("arch_id").to_pylist(), dtype=object)
    n_params = nb101_network_params(
        Path(params["data"]["features_dir"]) / "nb101" / "renas_tensor.parquet", ids)
    acc = 80 + 10 * (n_params - n_params.min()) / (n_params.max() - n_params.min())
    acc[::3] = np.nan
    write_parquet(processed / "nb101.parquet",
                  pa.table({"arch_id": space.column("arch_id"),
                            "val_acc_108": pa.array(acc, pa.float64())}),
                  {"benchmark": "nb101", "task": None, "default_target": "val_acc_108"})
    return root


@pytest.fixture
def nb101_params(nb101_root: Path, tmp_path: Path) -> dict[str, Any]:
    """Small params on the synthetic nb101; ReNAS jobs with 40 training cells, budget 5."""
    params = small_params(nb101_root, tmp_path)
    params["search"]["renas"].update(train_size=40, budget=5, seeds=[0])
    return params


# --------------------------------------------------------------------------- jobs


def test_default_renas_jobs() -> None:
    """Tables 3, 4 and 6 share the v4-random-all job: 6 + 2 + 1 jobs, in params order."""
    params = repo_params()
    cfg = params["search"]["renas"]
    jobs = search_jobs(params, "renas")
    stem, n = "nb101/renas_ga", cfg["train_size"]
    assert [j.key for j in jobs] == [
        f"{stem}/type_matrix-lenet-mse-random-all-n{n}",
        f"{stem}/renas_tensor-lenet-mse-random-all-n{n}",
        f"{stem}/type_matrix-lenet-lr-random-all-n{n}",
        f"{stem}/renas_tensor-lenet-lr-random-all-n{n}",
        f"{stem}/type_matrix-lenet-renas-random-all-n{n}",
        f"{stem}/renas_tensor-lenet-renas-random-all-n{n}",
        f"{stem}/renas_tensor-lenet-lr-params-all-n{n}",
        f"{stem}/renas_tensor-lenet-lr-flops-all-n{n}",
        f"{stem}/renas_tensor-lenet-lr-random-io1_conv3x3-n{n}",
    ]
    for job in jobs:
        assert (job.table, job.search, job.experiment) == ("nb101", "renas_ga", "renas")
        assert job.budgets == (cfg["budget"],) and job.seeds == tuple(cfg["seeds"])
        assert (job.predictor, job.train_size) == ("lenet", n)
    assert jobs[3].key == f"nb101/renas_ga/renas_tensor-lenet-lr-random-all-n{n}"
    out = Paths.of({**params, "reports": {**params["reports"], "search_dir": "out"}})
    assert jobs[3].outputs(out) == [Path(f"out/{jobs[3].key}/s{s}.json") for s in cfg["seeds"]]


def test_default_loss_search_jobs() -> None:
    """One predictor_nas job per loss, then the baselines, per table; sorted budgets; the
    piecewise job carries its loss_options override."""
    params = repo_params()
    cfg = params["search"]["loss_search"]
    jobs = search_jobs(params, "loss_search")
    table = cfg["tables"][0]
    assert [j.key for j in jobs] == (
        [f"{table}/predictor_nas/gcn-gcn-{loss}" for loss in cfg["losses"]]
        + [f"{table}/{b}" for b in cfg["baselines"]])
    for job in jobs:
        assert job.budgets == tuple(sorted(cfg["budgets"]))
        assert job.seeds == tuple(cfg["seeds"])
        assert job.experiment == "loss_search"
    by_loss = {j.loss: j for j in jobs}
    assert by_loss["piecewise"].loss_options == {"switch_epoch": None, "switch_samples": 50}
    assert by_loss["hr"].loss_options == {}
    assert by_loss[None].search == "regularized_evolution"
    assert by_loss[None].encoding is None and by_loss[None].predictor is None


def test_all_jobs_once_with_unique_keys() -> None:
    """``search_jobs(params)`` = renas, loss_search then predictor_nas_by_predictor jobs;
    each job's one id, its key, is unique, and so is the DVC stage named after it."""
    params = repo_params()
    jobs = search_jobs(params)
    by_predictor = params["search"]["predictor_nas_by_predictor"]
    n = (len(by_predictor["tables"]) * len(by_predictor["searches"])
         * len(by_predictor["predictors"]))
    assert len(jobs) == 9 + 11 + n
    assert jobs == (search_jobs(params, "renas") + search_jobs(params, "loss_search")
                    + search_jobs(params, "predictor_nas_by_predictor"))
    keys = [j.key for j in jobs]
    stages = [search_job(params, j).stage for j in jobs]
    assert len(set(keys)) == len(keys) == len(set(stages))
    assert all(s.isidentifier() for s in stages)
    with pytest.raises(UnknownNameError, match="nope"):
        search_jobs(params, "nope")


def test_loss_search_budgets_sorted_and_tables() -> None:
    """Budgets are sorted (the run uses the largest) and every table gets its jobs."""
    params = repo_params()
    params["search"]["loss_search"].update(budgets=[100, 20, 50], losses=["hr"],
                                           tables=["nbmacro", "nb201-cifar100"])
    jobs = search_jobs(params, "loss_search")
    assert [j.key for j in jobs] == [
        "nbmacro/predictor_nas/gcn-gcn-hr", "nbmacro/random", "nbmacro/regularized_evolution",
        "nb201-cifar100/predictor_nas/gcn-gcn-hr", "nb201-cifar100/random",
        "nb201-cifar100/regularized_evolution"]
    assert {j.budgets for j in jobs} == {(20, 50, 100)}


def test_renas_job_unknown_variant() -> None:
    """An unknown variant is named, with the variants that exist."""
    params = repo_params()
    with pytest.raises(ConfigError, match=r"unknown variant 'v9'.*v1, v2, v3, v4"):
        renas_job(params, "v9")
    params["search"]["renas"]["subspace"]["variant"] = "v7"
    with pytest.raises(ConfigError, match="'v7'"):
        search_jobs(params)


def test_find_job() -> None:
    """A configured key finds its job; an unknown one lists every configured key."""
    params = repo_params()
    jobs = search_jobs(params)
    assert find_job(params, jobs[5].key) == jobs[5]
    with pytest.raises(ConfigError, match="no search job 'nb101/nope'") as err:
        find_job(params, "nb101/nope")
    assert all(j.key in str(err.value) for j in jobs)


# --------------------------------------------------------------------------- pools


def test_load_pool_missing_table(tmp_path: Path) -> None:
    """A missing processed table names the file and the command that writes it."""
    params = tmp_params(tmp_path)
    with pytest.raises(NasrankError, match=r"nbmacro\.parquet is missing.*`nasrank ingest "
                       r"nbmacro`"):
        load_pool(params, "nbmacro")
    with pytest.raises(NasrankError, match=r"nb201-cifar10\.parquet.*`nasrank ingest nb201`"):
        load_pool(params, "nb201-cifar10")


def test_load_pool_unlabelled_table(tmp_path: Path) -> None:
    """A table whose target is null everywhere cannot be searched."""
    params = tmp_params(tmp_path)
    table = pa.table({"arch_id": pa.array(["00000000", "11111111"]),
                      "test_acc": pa.array([None, None], pa.float64())})
    write_parquet(Path(params["data"]["processed_dir"]) / "nbmacro.parquet", table,
                  {"benchmark": "nbmacro", "task": None, "default_target": "test_acc"})
    with pytest.raises(ConfigError, match="no architecture is labelled with 'test_acc'"):
        load_pool(params, "nbmacro")


def test_load_pool_bad_subspace_or_benchmark(tmp_path: Path) -> None:
    """io1_conv3x3 is NAS-Bench-101's; unknown subspaces and benchmarks are named."""
    params = tmp_params(tmp_path)
    with pytest.raises(ConfigError, match=r"'io1_conv3x3' is defined for nb101.*'nbmacro'"):
        load_pool(params, "nbmacro", subspace="io1_conv3x3")
    with pytest.raises(UnknownNameError, match=r"subspace 'nope'.*all, io1_conv3x3"):
        load_pool(params, "nbmacro", subspace="nope")
    with pytest.raises(UnknownNameError, match="search space 'nb999'"):
        load_pool(params, "nb999")


@pytest.mark.mirror
@pytest.mark.parametrize(("table", "size"), [("nbmacro", NBMACRO_SIZE),
                                             ("nb201-cifar10", NB201_SIZE)])
def test_load_pool_real_table(params: dict[str, Any], table: str, size: int) -> None:
    """The pool is every labelled architecture with its label; the specs are the pool's
    architectures (the mutating searches identify children by ``space.arch_id``)."""
    lp = load_pool(params, table)
    acc = labels(params, table, lp.target)
    assert len(lp.pool) == lp.n_labelled == len(acc) == size == lp.space_size
    assert sorted(lp.pool.arch_ids) == sorted(acc.index)
    np.testing.assert_array_equal(lp.pool.accuracy, acc[lp.pool.arch_ids].to_numpy())
    np.testing.assert_array_equal(np.sort(lp.labelled_acc), np.sort(acc.to_numpy()))
    assert [lp.space.arch_id(s) for s in lp.pool.specs] == list(lp.pool.arch_ids)
    assert lp.candidates == f"the {size:,} architectures of {table} labelled with {lp.target}"


# --------------------------------------------------------------------------- selectors


def test_sample_random() -> None:
    """Sorted distinct pool indices of the requested count, a function of the rng."""
    attribute, select = SAMPLES["random"]
    assert attribute is None
    got = select(50, 20, np.random.default_rng(3), None)
    assert len(got) == 20 and np.all(np.diff(got) > 0) and got[0] >= 0 and got[-1] < 50
    np.testing.assert_array_equal(got, select(50, 20, np.random.default_rng(3), None))
    np.testing.assert_array_equal(select(7, 7, np.random.default_rng(0), None), np.arange(7))


@pytest.mark.parametrize("seed", range(5))
def test_sample_uniform_one_per_stratum(seed: int) -> None:
    """Spread over the sorted cost: with N = 100 and n = 10, one index per stratum of 10
    consecutive cost ranks; with N = 97, consecutive ranks 9 or 10 apart."""
    assert SAMPLES["params"][0] == "params" and SAMPLES["flops"][0] == "flops"
    select = SAMPLES["params"][1]
    assert SAMPLES["flops"][1] is select
    rng = np.random.default_rng(100 + seed)
    for n_pool, gaps in ((100, {10}), (97, {9, 10})):
        cost = rng.permutation(n_pool).astype(np.float64) * 3.5
        got = select(n_pool, 10, np.random.default_rng(seed), cost)
        assert len(got) == 10 and np.all(np.diff(got) > 0)
        cost_rank = np.argsort(np.argsort(cost))[got]
        if n_pool == 100:
            assert sorted(cost_rank // 10) == list(range(10))
        assert set(np.diff(np.sort(cost_rank))) <= gaps
    everything = select(12, 12, np.random.default_rng(seed), np.ones(12))
    np.testing.assert_array_equal(everything, np.arange(12))


# --------------------------------------------------------------------------- baselines


@pytest.mark.mirror
@pytest.mark.parametrize("search", ["random", "regularized_evolution"])
def test_baseline_reports(params: dict[str, Any], search: str) -> None:
    """One JSON per seed with the documented fields, ranks from the table's labels, each
    budget's result, and different seeds searching differently."""
    job = SearchJob("nbmacro", search, (20, 50), (0, 1), "t")
    paths = run_job(job, params)
    assert paths == job.outputs(Paths.of(params))
    acc = labels(params, "nbmacro", "test_acc")
    reports = [read_report(p) for p in paths]
    for seed, rep in zip((0, 1), reports, strict=True):
        assert (rep["key"], rep["search"], rep["seed"], rep["table"]) == (
            f"nbmacro/{search}", search, seed, "nbmacro")
        assert (rep["target"], rep["pool_size"], rep["n_labelled"]) == (
            "test_acc", NBMACRO_SIZE, NBMACRO_SIZE)
        assert rep["candidates"] == "the 3,969 architectures of nbmacro labelled with test_acc"
        assert rep["encoding"] is rep["predictor"] is rep["loss"] is rep["loss_options"] is None
        assert rep["budgets"] == [20, 50] and rep["queries"] == 50
        assert [r["budget"] for r in rep["results"]] == [20, 50]
        assert [r["queries"] for r in rep["results"]] == [20, 50]
        for entry in rep["results"]:
            check_rank(entry, acc)
            assert entry["pool_rank"] == entry["best_rank"]
            # each budget is read off the one run: its best is that of the first queries
            first = [acc[k] for k in rep["queried"][: entry["budget"]]]
            assert entry["best_accuracy"] == max(first)
        assert rep["results"][0]["best_accuracy"] <= rep["results"][1]["best_accuracy"]
        assert {k: rep[k] for k in ("best_arch_id", "best_accuracy", "best_rank",
                                    "best_percentile")} == {
            k: rep["results"][-1][k] for k in ("best_arch_id", "best_accuracy", "best_rank",
                                               "best_percentile")}
        check_queries(rep, acc)
    assert reports[0]["queried"] != reports[1]["queried"]


@pytest.mark.mirror
def test_darts_search_says_labels_are_surrogate(params: dict[str, Any]) -> None:
    """DARTS: 725 labelled cells of a ~1e18 space whose labels are NB301 surrogate
    predictions; the report says both, and the predictor search runs on its GCN input."""
    for job in (SearchJob("darts", "regularized_evolution", (30,), (0,), "t"),
                SearchJob("darts", "predictor_nas", (20,), (0,), "t", "gcn", "gcn", "hr")):
        rep = read_report(run_job(job, params)[0])
        assert rep["pool_size"] == 725 and rep["queries"] == job.budgets[-1]
        assert "surrogate predictions" in rep["candidates"]
        assert "1,076,746,950,455,072,400 in the search space" in rep["candidates"]
        check_queries(rep, labels(params, "darts", "val_acc"))


@pytest.mark.mirror
def test_baseline_reports_are_reproducible(params: dict[str, Any], tmp_path: Path) -> None:
    """Two runs of a job write byte-identical files (no timings in the reports)."""
    job = SearchJob("nbmacro", "regularized_evolution", (15, 25), (0, 3), "t")
    other = copy.deepcopy(params)
    other["reports"]["search_dir"] = str(tmp_path / "again")
    first, second = run_job(job, params), run_job(job, other)
    assert first != second
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    only = run_job(job, params, seeds=(3,))
    assert only == [first[1]] and only[0].read_bytes() == second[1].read_bytes()


@pytest.mark.mirror
def test_baseline_bad_budget_or_seed(params: dict[str, Any]) -> None:
    """A budget beyond the pool names its size; a seed outside the job is refused."""
    job = SearchJob("nbmacro", "random", (10, 5000), (0,), "t")
    with pytest.raises(ConfigError, match=r"budget 5000 exceeds the 3,969 labelled"):
        run_job(job, params)
    job = SearchJob("nbmacro", "random", (10,), (0, 1), "t")
    with pytest.raises(ConfigError, match=r"seed 7 is not one of the job's seeds \[0, 1\]"):
        run_job(job, params, seeds=(0, 7))
    assert not Path(params["reports"]["search_dir"]).exists()


# --------------------------------------------------------------------------- predictor_nas


def pnas_job(loss: str, budgets: tuple[int, ...], **loss_options: Any) -> SearchJob:
    """predictor_nas with the GCN on nbmacro, seed 0."""
    return SearchJob("nbmacro", "predictor_nas", budgets, (0,), "t", "gcn", "gcn", loss,
                     loss_options=loss_options)


@pytest.mark.mirror
def test_predictor_nas_prefix_property(params: dict[str, Any]) -> None:
    """The result at budget 15 of a (15, 30) job is that of a (15,) job: same queries
    (10 initial + the predicted top 5) and best; budget 30 adds a second refit."""
    (long_path,) = run_job(pnas_job("hr", (15, 30)), params)
    long = read_report(long_path)
    (short_path,) = run_job(pnas_job("hr", (15,)), params)
    short = read_report(short_path)
    assert short["queries"] == 15 and long["queries"] == 30
    assert long["queried"][:15] == short["queried"]
    assert long["results"][0] == short["results"][0]
    assert (long["info"]["iterations"], short["info"]["iterations"]) == (2, 1)
    acc = labels(params, "nbmacro", "test_acc")
    check_queries(long, acc)
    check_queries(short, acc)
    for entry in long["results"]:
        check_rank(entry, acc)
    first15 = acc[long["queried"][:15]]
    assert long["results"][0]["best_accuracy"] == first15.max()
    assert long["encoding"] == long["predictor"] == "gcn" and long["loss"] == "hr"
    assert long["loss_options"] == {"margin": 0.1}


@pytest.mark.mirror
def test_predictor_nas_piecewise_switches_on_samples(params: dict[str, Any]) -> None:
    """``loss_options`` of loss_search reach the loss: piecewise(hr -> mape) switching at
    15 labelled samples fits hr at 10 samples and mape at 20; switching at 0 is mape."""
    p = loss_search_params(params, losses=["hr", "mape", "piecewise"],
                           loss_options={"piecewise": {"switch_epoch": None,
                                                       "switch_samples": 15}})
    jobs = {j.loss: j for j in search_jobs(p, "loss_search") if j.loss}
    reps = {loss: read_report(run_job(j, p, seeds=(0,))[0]) for loss, j in jobs.items()}
    hr, mape, pw = reps["hr"]["queried"], reps["mape"]["queried"], reps["piecewise"]["queried"]
    assert hr[:10] == mape[:10] == pw[:10]      # the same initial sample
    assert hr[10:20] != mape[10:20]              # the loss matters
    assert pw[:20] == hr[:20]
    assert reps["piecewise"]["loss_options"] == {
        "first": "hr", "second": "mape", "switch_epoch": None, "switch_samples": 15}
    # the second refit (20 labelled) used mape: redo it with the mape job's fit_predict
    lp = load_pool(p, "nbmacro")
    cfg = config_from_params(p, bench="nbmacro", task=None, encoding="gcn", predictor="gcn",
                             loss="mape", train_size=20, seed=0)
    _, _, _, enc, x = load_run_inputs(cfg, p, ids=lp.pool.arch_ids)
    fit_predict = fit_predict_from(jobs["mape"], p, lp.pool.arch_ids, x, enc.layout, 0)
    train = np.array(pw[:20], dtype=object)
    candidates = np.array([k for k in lp.pool.arch_ids if k not in set(pw[:20])], dtype=object)
    scores = fit_predict(train, lp.pool.accuracy[[lp.pool.index[k] for k in train]],
                         candidates, n_labelled=20)
    assert list(candidates[np.argsort(-scores, kind="stable")[:10]]) == pw[20:30]
    # switching at 0 samples is mape throughout
    always = jobs["piecewise"].loss_options | {"switch_samples": 0}
    (path,) = run_job(pnas_job("piecewise", (15, 30), **always), p)
    assert read_report(path)["queried"] == mape


def count_fits(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record the run ids of every ``nasrank.sweep.fit_predictors`` call."""
    import nasrank.sweep

    calls: list[list[str]] = []
    real = nasrank.sweep.fit_predictors

    def counted(cfgs: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append([c.run_id for c in cfgs])
        return real(cfgs, *args, **kwargs)

    monkeypatch.setattr(nasrank.sweep, "fit_predictors", counted)
    return calls


@pytest.mark.mirror
def test_predictor_nas_seeds_in_lock_step(params: dict[str, Any], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Three seeds refit together (one sweep of 3 runs per round) and write the same bytes
    as each seed run alone, which finds what the search finds with a plain fit_predict
    in this thread."""
    calls = count_fits(monkeypatch)
    job = SearchJob("nbmacro", "predictor_nas", (20, 30), (0, 1, 2), "t", "gcn", "gcn", "hr")
    together = run_job(job, params)
    assert [len(c) for c in calls] == [3, 3]                # 2 refits: 10 -> 20 -> 30
    assert [c[0].rsplit("/", 2)[1] for c in calls] == ["n10", "n20"]
    alone = copy.deepcopy(params)
    alone["reports"]["search_dir"] = str(tmp_path / "alone")
    calls.clear()
    for seed, path in zip(job.seeds, together, strict=True):
        (single,) = run_job(job, alone, seeds=(seed,))
        assert single != path and single.read_bytes() == path.read_bytes()
    assert [len(c) for c in calls] == [1] * 6
    # seed 2 without threads: the search with fit_predict_from called directly
    lp = load_pool(params, "nbmacro")
    cfg = config_from_params(params, bench="nbmacro", task=None, encoding="gcn",
                             predictor="gcn", loss="hr", train_size=10, seed=2)
    _, _, _, enc, x = load_run_inputs(cfg, params, ids=lp.pool.arch_ids)
    fp = fit_predict_from(job, params, lp.pool.arch_ids, x, enc.layout, 2)
    algo = get_search("predictor_nas", **params["search"]["algorithms"]["predictor_nas"])
    rng = np.random.default_rng(np.random.SeedSequence(2).spawn(2)[1])
    final = algo.run(None, lp.pool, rng, budget=30, fit_predict=fp)
    assert list(final.queried) == read_report(together[2])["queried"]


@pytest.mark.mirror
def test_predictor_nas_failing_seed_is_named(params: dict[str, Any],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A seed whose predictions are not finite fails the job naming the seed; the other
    seeds are stopped and nothing is written."""
    from nasrank.search import refits

    def refit(self: Any, refits: Any) -> list[np.ndarray]:
        return [np.full(len(r.candidate_ids), np.nan if r.seed == 1 else 0.0) for r in refits]

    monkeypatch.setattr(refits.Refits, "__call__", refit)
    job = SearchJob("nbmacro", "predictor_nas", (30,), (0, 1, 2), "t", "gcn", "gcn", "hr")
    with pytest.raises(ConfigError, match=r"search nbmacro/predictor_nas/gcn-gcn-hr, seed 1: "
                                          r"search 'predictor_nas': fit_predict returned "
                                          r"non-finite scores"):
        run_job(job, params)
    assert not Path(params["reports"]["search_dir"]).exists()
    assert not [t for t in threading.enumerate() if t.name.startswith("lockstep")]


@pytest.mark.mirror
def test_predictor_nas_budget_below_init(params: dict[str, Any]) -> None:
    """Every budget must cover predictor_nas's initial random sample."""
    with pytest.raises(ConfigError, match="budget 5 is below predictor_nas's init 10"):
        run_job(pnas_job("hr", (5, 30)), params)


# --------------------------------------------------------------------------- renas_ga


def renas_nbmacro(params: dict[str, Any], **cfg: Any) -> dict[str, Any]:
    """``params`` whose ReNAS search runs on nbmacro with an MLP on the one-hot encoding."""
    out = copy.deepcopy(params)
    out["experiments"]["renas_variants"]["variants"] = {
        "m1": {"encoding": "adjacency_onehot", "loss": "hr"}}
    out["search"]["renas"] = {
        "bench": "nbmacro", "task": None, "predictor": "mlp", "train_size": 40, "budget": 5,
        "seeds": [0, 1], "variants": ["m1"],
        "sample_selection": {"variant": "m1", "samples": ["random", "params"]},
        "subspace": {"variant": "m1", "subspaces": ["all"]}, **cfg}
    return out


@pytest.mark.mirror
def test_renas_ga_on_nbmacro(params: dict[str, Any]) -> None:
    """The GA with a trained MLP as fitness queries its predicted top-5 in order; the
    reports feed ReNAS Tables 3 and 6 (one row, two seeds)."""
    p = renas_nbmacro(params)
    jobs = search_jobs(p, "renas")
    assert [j.key for j in jobs] == ["nbmacro/renas_ga/adjacency_onehot-mlp-hr-random-all-n40",
                                     "nbmacro/renas_ga/adjacency_onehot-mlp-hr-params-all-n40"]
    paths = run_job(jobs[0], p)
    acc = labels(p, "nbmacro", "test_acc")
    reports = [read_report(path) for path in paths]
    for rep in reports:
        assert (rep["sample"], rep["subspace"], rep["train_size"]) == ("random", "all", 40)
        assert rep["queries"] == 5 and [r["budget"] for r in rep["results"]] == [5]
        info = rep["info"]
        assert info["predicted_top"] == rep["queried"]
        assert np.all(np.diff(info["predicted_top_scores"]) <= 0)
        assert "n_train" not in info and info["train_best_accuracy"] in set(acc)
        assert 5 <= info["scored"] <= 20 * 4
        check_queries(rep, acc)
        check_rank(rep["results"][0], acc)
    table = renas_search_table(p)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["variant"], row["encoding"], row["loss"], row["n_seeds"], row["budget"]) == (
        "m1", "adjacency_onehot", "hr", 2, 5)
    assert row["accuracy_mean"] == pytest.approx(
        statistics.mean(r["best_accuracy"] for r in reports))
    assert row["percentile_std"] == pytest.approx(
        statistics.stdev(r["best_percentile"] for r in reports))
    assert renas_subspace_table(p)["subspace"].tolist() == ["all"]


@pytest.mark.mirror
def test_renas_ga_fitness_is_the_trained_predictor(params: dict[str, Any]) -> None:
    """Trained on the whole pool (so the sample is known), the GA's scores are the
    predictions of that predictor refitted here on the same data and config."""
    p = renas_nbmacro(params, train_size=NBMACRO_SIZE, seeds=[3])
    job = renas_job(p, "m1")
    rep = read_report(run_job(job, p)[0])
    lp = load_pool(p, "nbmacro")
    assert rep["info"]["train_best_accuracy"] == lp.pool.accuracy.max()
    cfg = config_from_params(p, bench="nbmacro", task=None, encoding="adjacency_onehot",
                             predictor="mlp", loss="hr", train_size=NBMACRO_SIZE, seed=3)
    _, _, _, enc, x = load_run_inputs(cfg, p, ids=lp.pool.arch_ids)
    fitted = fit_predictor(cfg, x, lp.pool.accuracy, enc.layout)
    top = [lp.pool.index[k] for k in rep["info"]["predicted_top"]]
    # float32 inference in batches of another size: equal up to rounding
    np.testing.assert_allclose(fitted.predict(x[top]), rep["info"]["predicted_top_scores"],
                               rtol=1e-6)


@pytest.mark.mirror
def test_renas_ga_seeds_fitted_in_one_sweep(params: dict[str, Any], tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The seeds' predictors are fitted as one sweep; each report is the bytes of the seed
    run alone. The GA scores whole populations at once (each architecture once)."""
    from nasrank.train import FittedPredictor

    calls = count_fits(monkeypatch)
    sizes: list[int] = []
    predict = FittedPredictor.predict

    def counted(self: FittedPredictor, x: np.ndarray) -> np.ndarray:
        sizes.append(len(x))
        return predict(self, x)

    monkeypatch.setattr(FittedPredictor, "predict", counted)
    p = renas_nbmacro(params, seeds=[0, 1, 2])
    job = renas_job(p, "m1")
    together = run_job(job, p)
    assert [len(c) for c in calls] == [3]
    # population 20, 3 generations: the initial population whole, then its new children
    assert sizes[0] == 20 and len(sizes) == 3 * 4
    assert sum(sizes) == sum(read_report(q)["info"]["scored"] for q in together)
    alone = copy.deepcopy(p)
    alone["reports"]["search_dir"] = str(tmp_path / "alone")
    for seed, path in zip(job.seeds, together, strict=True):
        (single,) = run_job(job, alone, seeds=(seed,))
        assert single.read_bytes() == path.read_bytes()


@pytest.mark.mirror
def test_renas_ga_bad_sample_or_train_size(params: dict[str, Any]) -> None:
    """A cost-spread sample needs costs nasrank derives for NAS-Bench-101 only; the
    training sample must fit the pool."""
    p = renas_nbmacro(params)
    with pytest.raises(ConfigError, match=r"sample 'params' needs the params .*nb101"):
        run_job(renas_job(p, "m1", sample="params"), p)
    p = renas_nbmacro(params, train_size=5000)
    with pytest.raises(ConfigError, match=r"train size 5000 does not fit the 3,969"):
        run_job(renas_job(p, "m1"), p)


# --------------------------------------------------------------------------- lock step


def run_with_timeout(fn: Any, timeout: float = 20.0) -> Any:
    """``fn()`` in a thread; fails the test instead of hanging on a deadlock."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed to the test
            out["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "lockstep deadlocked"
    if "error" in out:
        raise out["error"]
    return out["value"]


def rounds_task(n: int, fail_at: int | None = None,
                error: type[Exception] = ConfigError) -> Any:
    """A task that calls fit_predict ``n`` times (train size 10, 20, ...) and returns the
    scores it got; raises ``error`` before call ``fail_at``."""
    def task(fp: Any) -> list[float]:
        got = []
        for i in range(n):
            if i == fail_at:
                raise error(f"failed at round {i}")
            ids = np.array([f"a{j}" for j in range(10 * (i + 1))], dtype=object)
            got.append(float(fp(ids, np.zeros(len(ids)), ids[:3], n_labelled=len(ids))[0]))
        return got
    return task


def echo_refit(batches: list[list[tuple[int, int]]]) -> Any:
    """A refit recording (task, n_labelled) per round; scores = task * 100 + n."""
    def refit(batch: list[tuple[int, Any]]) -> list[np.ndarray]:
        batches.append([(slot, req[3]) for slot, req in batch])
        return [np.full(len(req[2]), slot * 100.0 + req[3]) for slot, req in batch]
    return refit


def test_lockstep_rounds_and_early_finish() -> None:
    """Every round's refit gets every task still running, in task order; tasks that
    finish early (or never refit) leave the rounds; each task gets its own scores."""
    batches: list[list[tuple[int, int]]] = []
    tasks = [rounds_task(3), rounds_task(1), rounds_task(0), rounds_task(2)]
    got = run_with_timeout(lambda: lockstep(tasks, echo_refit(batches), list("abcd")))
    assert batches == [[(0, 10), (1, 10), (3, 10)], [(0, 20), (3, 20)], [(0, 30)]]
    assert got == [[10.0, 20.0, 30.0], [110.0], [], [310.0, 320.0]]
    assert run_with_timeout(lambda: lockstep([], echo_refit([]), [])) == []


def test_lockstep_task_error_names_the_task() -> None:
    """A failing task stops the others at the next round; of the tasks failing in the
    same round, the first in task order is raised, its type kept, its label in the
    message (nasrank errors) or as a note (others); no thread is left behind."""
    batches: list[list[tuple[int, int]]] = []
    tasks = [rounds_task(5), rounds_task(5, fail_at=2), rounds_task(5, fail_at=2),
             rounds_task(1)]
    with pytest.raises(ConfigError, match=r"^seed 1: failed at round 2$"):
        run_with_timeout(lambda: lockstep(tasks, echo_refit(batches),
                                          [f"seed {i}" for i in range(4)]))
    assert [len(b) for b in batches] == [4, 3]  # no third round
    with pytest.raises(ValueError, match="failed at round 0") as err:
        run_with_timeout(lambda: lockstep([rounds_task(2), rounds_task(2, 0, ValueError)],
                                          echo_refit([]), ["seed 0", "seed 1"]))
    assert err.value.__notes__ == ["seed 1"]
    assert not [t for t in threading.enumerate() if t.name.startswith("lockstep")]


def test_lockstep_refit_error_propagates() -> None:
    """An exception of refit (a diverged fit) unwinds every task and propagates as is."""
    def refit(batch: list[tuple[int, Any]]) -> list[np.ndarray]:
        if batch[0][1][3] == 20:
            raise NasrankError("run x/s1: loss is nan")
        return [np.zeros(len(req[2])) for _, req in batch]

    with pytest.raises(NasrankError, match=r"^run x/s1: loss is nan$"):
        run_with_timeout(lambda: lockstep([rounds_task(4), rounds_task(3)], refit,
                                          ["a", "b"]))
    assert not [t for t in threading.enumerate() if t.name.startswith("lockstep")]


# --------------------------------------------------------------------------- nb101


def test_nb101_pool_and_subspace(nb101_params: dict[str, Any]) -> None:
    """NB101's pool: the labelled cells, specs from the enumeration codes; io1_conv3x3
    keeps those with an input->output edge and a conv3x3, computed from the specs."""
    p = nb101_params
    full = load_pool(p, "nb101")
    acc = labels(p, "nb101", "val_acc_108")
    assert len(full.pool) == full.n_labelled == len(acc) == 1688
    assert full.space_size == 423_624
    assert full.candidates.endswith("; 423,624 in the search space")
    assert [full.space.arch_id(s) for s in full.pool.specs] == list(full.pool.arch_ids)
    sub = load_pool(p, "nb101", subspace="io1_conv3x3")
    expected = [k for k, s in zip(full.pool.arch_ids, full.pool.specs, strict=True)
                if s.matrix[0][-1] == 1 and "conv3x3-bn-relu" in s.ops]
    assert list(sub.pool.arch_ids) == expected and 0 < len(expected) < len(full.pool)
    assert sub.n_labelled == 1688
    np.testing.assert_array_equal(sub.labelled_acc, full.labelled_acc)
    assert "in subspace io1_conv3x3" in sub.candidates


def test_nb101_missing_space_table(nb101_root: Path, tmp_path: Path) -> None:
    """NB101 specs come from the enumerated space; without it, the command is named."""
    params = tmp_params(tmp_path)
    dest = Path(params["data"]["processed_dir"]) / "nb101.parquet"
    dest.parent.mkdir(parents=True)
    dest.write_bytes((nb101_root / "data" / "processed" / "nb101.parquet").read_bytes())
    with pytest.raises(NasrankError, match=r"spaces/nb101\.parquet is missing.*`nasrank "
                       r"enumerate nb101`"):
        load_pool(params, "nb101")


def test_renas_ga_nb101_subspace(nb101_params: dict[str, Any]) -> None:
    """Searched in the subspace, ranked among all labelled cells (ReNAS Table 6)."""
    p = nb101_params
    jobs = search_jobs(p, "renas")
    job = jobs[-1]
    assert job.key == "nb101/renas_ga/renas_tensor-lenet-lr-random-io1_conv3x3-n40"
    (path,) = run_job(job, p)
    rep = read_report(path)
    sub = load_pool(p, "nb101", subspace="io1_conv3x3")
    assert rep["pool_size"] == len(sub.pool) and rep["n_labelled"] == 1688
    assert set(rep["queried"]) <= set(sub.pool.arch_ids)
    entry = rep["results"][0]
    check_rank(entry, labels(p, "nb101", "val_acc_108"))
    assert entry["pool_rank"] == int((sub.pool.accuracy > entry["best_accuracy"]).sum()) + 1


def test_nb101_costs(nb101_params: dict[str, Any]) -> None:
    """The parameter counts behind the ``params`` sample are the network's (as the
    renas_tensor's parameter channels add up to); FLOPs grow with them on average."""
    p = nb101_params
    pool = load_pool(p, "nb101").pool
    features = Path(p["data"]["features_dir"]) / "nb101" / "renas_tensor.parquet"
    n_params = COSTS["nb101"](p, pool.arch_ids, "params")
    np.testing.assert_array_equal(n_params, nb101_network_params(features, pool.arch_ids))
    flops = COSTS["nb101"](p, pool.arch_ids, "flops")
    assert flops.shape == (len(pool),) and np.all(flops > 0)
    assert np.corrcoef(n_params, flops)[0, 1] > 0.9


def test_renas_ga_nb101_cost_samples(nb101_params: dict[str, Any]) -> None:
    """``params``/``flops`` samples run on NB101. Labels grow with the parameter count, so
    a sample spread over it holds a cell of the top 1/40 of the labels; Table 4 reads
    one row per selection."""
    p = nb101_params
    p["search"]["renas"]["sample_selection"]["samples"] = ["params", "flops"]
    acc = np.sort(labels(p, "nb101", "val_acc_108").to_numpy())
    for sample in ("params", "flops"):
        (path,) = run_job(renas_job(p, "v4", sample=sample), p)
        rep = read_report(path)
        assert rep["sample"] == sample and rep["train_size"] == 40
        if sample == "params":
            assert rep["info"]["train_best_accuracy"] >= acc[39 * len(acc) // 40]
    table = renas_sample_selection_table(p)
    assert table["sample"].tolist() == ["params", "flops"]
    assert table["n_seeds"].tolist() == [1, 1]


# --------------------------------------------------------------------------- tables & CLI


@pytest.mark.mirror
def test_loss_search_table_and_commands(params: dict[str, Any], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """``nasrank search KEY`` per job, then the loss_search table: one row per (table,
    method, budget) with seed means; ``nasrank table`` writes it; a missing report
    names the command that writes it."""
    p = loss_search_params(params)
    path = write_params(p, tmp_path / "params.yaml")
    keys = [j.key for j in search_jobs(p, "loss_search")]
    assert keys == ["nbmacro/predictor_nas/gcn-gcn-hr", "nbmacro/random",
                    "nbmacro/regularized_evolution"]
    search_dir = Path(p["reports"]["search_dir"])
    assert main(["--params", path, "-q", "search", keys[1], "--seed", "1"]) == 0
    assert sorted(q.name for q in (search_dir / keys[1]).iterdir()) == ["s1.json"]
    for key in keys:
        assert main(["--params", path, "-q", "search", key]) == 0
    reports = {(k, s): read_report(search_dir / k / f"s{s}.json") for k in keys for s in (0, 1)}

    df = loss_search_table(p)
    assert [(r.table, r.method, r.search, r.budget) for r in df.itertuples()] == [
        ("nbmacro", m, s, b) for m, s in (("hr", "predictor_nas"), ("random", "random"),
                                          ("regularized_evolution", "regularized_evolution"))
        for b in (20, 30)]
    assert set(df["n_seeds"]) == {2} and set(df["pool_size"]) == {NBMACRO_SIZE}
    for row, (key, i) in zip(df.itertuples(), [(k, i) for k in keys for i in (0, 1)],
                             strict=True):
        entries = [reports[key, s]["results"][i] for s in (0, 1)]
        assert all(e["budget"] == row.budget for e in entries)
        acc = [e["best_accuracy"] for e in entries]
        assert row.accuracy_mean == pytest.approx(statistics.mean(acc))
        assert row.accuracy_std == pytest.approx(statistics.stdev(acc))
        assert row.percentile_mean == pytest.approx(
            statistics.mean(e["best_percentile"] for e in entries))
        assert row.best_rank_min == min(e["best_rank"] for e in entries)

    capsys.readouterr()
    assert main(["--params", path, "-q", "table", "loss_search"]) == 0
    tables_dir = Path(p["reports"]["tables_dir"])
    csv = pd.read_csv(tables_dir / "loss_search.csv")
    assert list(csv.columns) == list(df.columns) and len(csv) == len(df)
    assert csv["accuracy_mean"].to_numpy() == pytest.approx(df["accuracy_mean"], abs=1e-4)
    assert "regularized_evolution" in (tables_dir / "loss_search.md").read_text()

    (search_dir / keys[1] / "s1.json").unlink()
    with pytest.raises(NasrankError, match=r"s1\.json is missing; run `nasrank search "
                       r"nbmacro/random` first"):
        loss_search_table(p)
    capsys.readouterr()
    assert main(["--params", path, "-q", "table", "loss_search"]) == 2
    assert "`nasrank search nbmacro/random`" in capsys.readouterr().err


def test_cli_search_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``nasrank search --list`` prints every configured job: key, search, budgets, seeds."""
    params = tmp_params(tmp_path)
    path = write_params(params, tmp_path / "params.yaml")
    assert main(["--params", path, "-q", "search", "--list"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    jobs = search_jobs(params)
    assert [line.split("\t")[0] for line in lines] == [j.key for j in jobs]
    for line, job in zip(lines, jobs, strict=True):
        assert line.split("\t")[1:] == [job.search,
                                        "budgets " + ",".join(map(str, job.budgets)),
                                        f"{len(job.seeds)} seeds"]
    assert {line.split("\t")[1] for line in lines} >= {"regularized_evolution", "renas_ga",
                                                      "npenas_loop", "bananas_loop"}


@pytest.mark.parametrize(("argv", "message"), [
    (["search", "nope"], "no search job 'nope'"),
    (["search"], "name a search job"),
    (["search", "nb201-cifar10/random", "--seed", "999"], "seed 999 is not one of"),
    (["table", "nope"], "unknown table 'nope'"),
])
def test_cli_search_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           argv: list[str], message: str) -> None:
    """A bad key, no key, a seed outside the job or an unknown table: exit 2 and one line
    ``nasrank: error: ...`` on stderr, nothing written."""
    params = tmp_params(tmp_path)
    path = write_params(params, tmp_path / "params.yaml")
    assert main(["--params", path, *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nasrank: error: ") and message in err[0]
    assert not (tmp_path / "reports").exists()


@pytest.mark.mirror
def test_bananas_loop_ensemble_refits_in_lock_step(params: dict[str, Any], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """bananas_loop refits an ensemble of 3 per seed, every seed's members as one sweep
    per round (member j of seed s trains with seed s + j * 1,000,000); each seed's report
    is the same bytes run alone, and the result at 20 queries is the prefix of 30."""
    calls = count_fits(monkeypatch)
    p = copy.deepcopy(params)
    p["search"]["algorithms"]["bananas_loop"] = {"init": 10, "per_iter": 10,
                                                 "num_candidates": 40}
    job = SearchJob("nb201-cifar10", "bananas_loop", (20, 30), (0, 1), "t", "gcn", "gcn",
                    "mse")
    together = run_job(job, p)
    assert [len(c) for c in calls] == [6, 6]                # 2 rounds: 10 -> 20 -> 30
    assert [c.rsplit("/", 1)[1] for c in calls[0]] == [
        "s0", "s1000000", "s2000000", "s1", "s1000001", "s2000001"]
    rep = read_report(together[0])
    assert rep["search"] == "bananas_loop" and rep["info"]["iterations"] == 2
    assert rep["options"]["ensemble"] == 3
    check_queries(rep, labels(p, "nb201-cifar10", rep["target"]))
    short = copy.deepcopy(p)
    short["reports"]["search_dir"] = str(tmp_path / "short")
    (alone,) = run_job(SearchJob("nb201-cifar10", "bananas_loop", (20,), (0, 1), "t", "gcn",
                                 "gcn", "mse"), short, seeds=(1,))
    assert read_report(alone)["queried"] == read_report(together[1])["queried"][:20]
    calls.clear()
    solo = copy.deepcopy(p)
    solo["reports"]["search_dir"] = str(tmp_path / "solo")
    (single,) = run_job(job, solo, seeds=(1,))
    assert single.read_bytes() == together[1].read_bytes()
    assert [len(c) for c in calls] == [3, 3]


@pytest.mark.mirror
def test_predictor_nas_by_predictor_jobs_and_table(params: dict[str, Any]) -> None:
    """search.predictor_nas_by_predictor: one job per (table, loop, predictor), each on
    its registered encoding, trees fitting the target; the table summarises every
    budget with a 95 % interval and ranks the predictors per loop and budget."""
    from nasrank.search.tables import predictor_nas_by_predictor_table

    p = copy.deepcopy(params)
    p["search"]["algorithms"].update(
        npenas_loop={"init": 10, "per_iter": 10, "num_candidates": 40},
        bananas_loop={"init": 10, "per_iter": 10, "num_candidates": 40, "ensemble": 2})
    p["search"]["predictor_nas_by_predictor"] = {
        "tables": ["nb201-cifar10"], "searches": ["npenas_loop", "bananas_loop"],
        "predictors": ["rf", "mlp"], "loss": "hr", "encodings": {}, "budgets": [20, 30],
        "seeds": [0, 1]}
    jobs = search_jobs(p, "predictor_nas_by_predictor")
    assert [j.key for j in jobs] == [
        "nb201-cifar10/npenas_loop/adjacency_onehot-rf-regression",
        "nb201-cifar10/npenas_loop/adjacency_onehot-mlp-hr",
        "nb201-cifar10/bananas_loop/adjacency_onehot-rf-regression",
        "nb201-cifar10/bananas_loop/adjacency_onehot-mlp-hr"]
    for job in jobs:
        run_job(job, p)
    df = predictor_nas_by_predictor_table(p)
    assert len(df) == 4 * 2 and set(df["n_seeds"]) == {2}
    assert list(df.columns[:6]) == ["table", "search", "predictor", "encoding", "loss",
                                    "target"]
    assert (df["accuracy_ci95"] > 0).any() and df["accuracy_ci95"].notna().all()
    for _, g in df.groupby(["search", "budget"]):
        assert sorted(g["rank"]) in ([1, 2], [1, 1])
    p["search"]["predictor_nas_by_predictor"]["encodings"] = {"gcn": "gcn"}
    with pytest.raises(ConfigError, match=r"predictor_nas_by_predictor.encodings.gcn: 'gcn' "
                                          "is not one of the section's predictors"):
        check_params(p)
