"""Tests of the search algorithms (nasrank.search) on synthetic accuracy landscapes.

NB201: accuracy = number of nor_conv_3x3 edges + 0.5 * uniform noise, so the unique
global optimum is the all-conv3x3 cell and the landscape is smooth under mutation.
NB101: the cells of up to 5 vertices (fast to enumerate), a few hundred of them as the pool.
"""

from __future__ import annotations

import numpy as np
import pytest

from nasrank.errors import ConfigError, UnknownNameError
from nasrank.search import SEARCHES, Pool, SearchResult, get_search
from nasrank.search.operators import crossover
from nasrank.spaces import get_space
from nasrank.spaces.nb101 import NB101Space, enumerate_space, spec_from_codes
from nasrank.spaces.nb201 import NB201Space

CONV3 = "nor_conv_3x3"
ALL_CONV3 = f"|{CONV3}~0|+|{CONV3}~0|{CONV3}~1|+|{CONV3}~0|{CONV3}~1|{CONV3}~2|"


@pytest.fixture(scope="module")
def nb201() -> tuple[NB201Space, Pool]:
    space = NB201Space()
    specs = list(space.enumerate())
    noise = np.random.default_rng(123).random(len(specs))
    acc = np.array([s.count(CONV3) for s in specs], dtype=float) + 0.5 * noise
    return space, Pool.from_specs(space, specs, acc)


@pytest.fixture(scope="module")
def small201(nb201: tuple[NB201Space, Pool]) -> Pool:
    """600 random NB201 cells (the global optimum is left out)."""
    _, pool = nb201
    keep = np.random.default_rng(7).choice(len(pool), size=600, replace=False)
    keep = keep[pool.arch_ids[keep] != ALL_CONV3]
    return Pool(pool.arch_ids[keep], pool.accuracy[keep], [pool.specs[i] for i in keep])


@pytest.fixture(scope="module")
def nb101() -> tuple[NB101Space, Pool]:
    table = enumerate_space(max_vertices=5, workers=1)
    rows = np.flatnonzero(table["n_vertices"] <= 4)
    rows = np.concatenate([rows, np.flatnonzero(table["n_vertices"] == 5)[::10]])
    specs = [spec_from_codes(int(table["n_vertices"][r]), int(table["adj_bits"][r]),
                             int(table["labeling"][r])) for r in rows]
    space = NB101Space()
    acc = np.array([s.ops.count("conv3x3-bn-relu") + 0.1 * len(s.ops) for s in specs])
    acc = acc + 0.05 * np.random.default_rng(1).random(len(specs))
    pool = Pool(table["arch_id"][rows], acc, specs)
    return space, pool


def perfect_score(pool: Pool):
    return lambda ids: pool.accuracy[[pool.index[i] for i in ids]]


def perfect_fit_predict(pool: Pool):
    calls = []

    def fit_predict(train_ids, train_acc, candidate_ids, *, n_labelled):
        assert n_labelled == len(train_ids) == len(train_acc)
        assert not set(train_ids) & set(candidate_ids)
        calls.append(n_labelled)
        return pool.accuracy[[pool.index[i] for i in candidate_ids]]

    fit_predict.calls = calls
    return fit_predict


def check_result(res: SearchResult, pool: Pool, budget: int) -> None:
    assert res.queries == len(res.queried) == len(res.trajectory) <= budget
    assert len(set(res.queried)) == res.queries
    assert all(q in pool.index for q in res.queried)
    traj = np.array(res.trajectory)
    assert (np.diff(traj) >= 0).all()
    best = pool.index[res.best_arch_id]
    assert res.best_accuracy == pool.accuracy[best]
    assert res.best_rank == 1 + int((pool.accuracy > pool.accuracy[best]).sum())
    assert res.best_percentile == pytest.approx(res.best_rank / len(pool) * 100)
    assert res.pool_size == len(pool)
    assert "labelled" in res.candidates
    assert res.to_dict()["queried"] == list(res.queried)


def test_registry_and_options() -> None:
    assert set(SEARCHES) == {"random", "regularized_evolution", "renas_ga", "predictor_nas",
                             "npenas_loop", "bananas_loop"}
    with pytest.raises(UnknownNameError,
                       match="available: bananas_loop, npenas_loop, predictor_nas, random"):
        get_search("bogus")
    with pytest.raises(ConfigError, match=r"search 'renas_ga': unknown option 'pop'"):
        get_search("renas_ga", pop=3)
    with pytest.raises(ConfigError, match="crossover_prob"):
        get_search("renas_ga", crossover_prob=1.5)
    with pytest.raises(ConfigError, match="population"):
        get_search("regularized_evolution", population=0)
    with pytest.raises(ConfigError, match="sample_size 5 exceeds population 4"):
        get_search("regularized_evolution", population=4, sample_size=5)
    assert get_search("renas_ga", generations=3).options["generations"] == 3


def test_random_finds_max_with_full_budget(small201: Pool) -> None:
    res = get_search("random").run(None, small201, np.random.default_rng(0),
                                   budget=len(small201))
    check_result(res, small201, len(small201))
    assert res.best_rank == 1 and res.best_accuracy == small201.accuracy.max()
    assert res.trajectory[-1] == small201.accuracy.max()


def test_regularized_evolution_beats_random(nb201) -> None:
    space, pool = nb201
    re_best, rs_best = [], []
    for seed in range(6):
        res = get_search("regularized_evolution").run(space, pool, np.random.default_rng(seed),
                                                      budget=100)
        check_result(res, pool, 100)
        assert res.queries == 100
        re_best.append(res.best_accuracy)
        rs_best.append(get_search("random").run(space, pool, np.random.default_rng(seed),
                                                budget=100).best_accuracy)
    assert np.mean(re_best) > np.mean(rs_best) + 0.5
    assert np.mean(np.array(re_best) >= 5) == 1.0


def test_regularized_evolution_small_pool(nb201, small201: Pool) -> None:
    space, _ = nb201
    res = get_search("regularized_evolution", population=10, sample_size=3).run(
        space, small201, np.random.default_rng(1), budget=60)
    check_result(res, small201, 60)
    assert res.queries == 60 and res.best_arch_id != ALL_CONV3


def test_renas_ga_perfect_score_finds_global_best(nb201) -> None:
    space, pool = nb201
    for seed in range(3):
        res = get_search("renas_ga").run(space, pool, np.random.default_rng(seed),
                                         score=perfect_score(pool))
        check_result(res, pool, 10)
        assert res.queries == 10 and res.budget == 10
        assert res.best_arch_id == ALL_CONV3 and res.best_rank == 1
        assert res.info["predicted_top"][0] == ALL_CONV3
        assert list(res.queried) == res.info["predicted_top"]
        scores = res.info["predicted_top_scores"]
        assert scores == sorted(scores, reverse=True)


def test_renas_ga_random_score_is_not_consistent(nb201) -> None:
    space, pool = nb201
    ranks = []
    for seed in range(4):
        noise = np.random.default_rng(1000 + seed).random(len(pool))
        res = get_search("renas_ga", generations=5).run(
            space, pool, np.random.default_rng(seed),
            score=lambda ids, noise=noise: noise[[pool.index[i] for i in ids]])
        check_result(res, pool, 10)
        ranks.append(res.best_rank)
    assert sum(r == 1 for r in ranks) < len(ranks)
    assert np.median(ranks) > 10


def test_renas_ga_restricted_to_small_pool(nb201, small201: Pool) -> None:
    space, _ = nb201
    scored: set[str] = set()

    def score(ids):
        scored.update(ids)
        return perfect_score(small201)(ids)

    res = get_search("renas_ga", population=50, generations=10).run(
        space, small201, np.random.default_rng(2), score=score, budget=5)
    check_result(res, small201, 5)
    assert scored <= set(small201.arch_ids) and ALL_CONV3 not in scored
    assert res.queries == 5 and res.best_rank == 1


def test_predictor_nas_perfect_fit_predict(nb201, small201: Pool) -> None:
    space, pool = nb201
    fp = perfect_fit_predict(pool)
    res = get_search("predictor_nas", init=10, per_iter=7).run(
        space, pool, np.random.default_rng(0), budget=30, fit_predict=fp)
    check_result(res, pool, 30)
    assert res.queries == 30 and res.best_arch_id == ALL_CONV3
    assert fp.calls == [10, 17, 24]  # last iteration queries only 6
    assert res.info["iterations"] == 3
    fp = perfect_fit_predict(small201)
    res = get_search("predictor_nas", num_candidates=50).run(
        None, small201, np.random.default_rng(0), budget=20, fit_predict=fp)
    check_result(res, small201, 20)
    assert fp.calls == [10]


def test_determinism(nb201) -> None:
    space, pool = nb201
    noise = np.random.default_rng(5).random(len(pool))

    def score(ids):
        return noise[[pool.index[i] for i in ids]]

    runs = {
        "random": {},
        "regularized_evolution": {},
        "renas_ga": {"score": score},
        "predictor_nas": {"fit_predict": perfect_fit_predict(pool)},
    }
    for name, kwargs in runs.items():
        options = {"generations": 4} if name == "renas_ga" else {}
        a, b = (get_search(name, **options).run(space, pool, np.random.default_rng(9),
                                                budget=10, **kwargs) for _ in range(2))
        assert a == b, name
        c = get_search(name, **options).run(space, pool, np.random.default_rng(10),
                                            budget=10, **kwargs)
        assert c.queried != a.queried, name


def test_errors(nb201, small201: Pool) -> None:
    space, pool = nb201
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="exceeds the pool of 3"):
        get_search("random").run(space, Pool(pool.arch_ids[:3], pool.accuracy[:3]), rng,
                                 budget=4)
    with pytest.raises(ConfigError, match="empty"):
        Pool(np.array([], dtype=object), np.array([]))
    with pytest.raises(ConfigError, match="duplicate"):
        Pool(np.array(["a", "a"], dtype=object), np.array([1.0, 2.0]))
    with pytest.raises(ConfigError, match="budget must be a positive integer"):
        get_search("random").run(space, pool, rng, budget=0)
    with pytest.raises(ConfigError, match="needs score"):
        get_search("renas_ga").run(space, pool, rng)
    with pytest.raises(ConfigError, match="needs fit_predict"):
        get_search("predictor_nas").run(space, pool, rng)
    with pytest.raises(ConfigError, match=r"needs pool\.specs"):
        get_search("regularized_evolution").run(space, Pool(pool.arch_ids, pool.accuracy), rng)
    with pytest.raises(ConfigError, match="needs the search space"):
        get_search("regularized_evolution").run(None, pool, rng)
    with pytest.raises(ConfigError, match="exceeds the population"):
        get_search("renas_ga", population=8).run(space, pool, rng, score=perfect_score(pool))
    with pytest.raises(ConfigError, match="returned shape"):
        get_search("renas_ga", generations=1).run(space, pool, rng,
                                                  score=lambda ids: np.zeros(3))
    with pytest.raises(ConfigError, match="non-finite"):
        get_search("predictor_nas").run(
            space, pool, rng, budget=20,
            fit_predict=lambda tr, ta, c, n_labelled: np.full(len(c), np.nan))


def test_crossover_cell_spaces(nb201) -> None:
    space, _ = nb201
    rng = np.random.default_rng(0)
    a, b = (CONV3,) * 6, ("none",) * 6
    children = [crossover(space, a, b, rng) for _ in range(50)]
    assert all(set(c) <= {CONV3, "none"} for c in children)
    assert len(set(children)) > 10
    macro = get_space("nbmacro")
    kids = {crossover(macro, "11111111", "22222222", rng) for _ in range(30)}
    assert all(macro.validate(k) == k and set(k) <= {"1", "2"} for k in kids)
    assert crossover(space, a, "not a tuple", rng) is None


def test_nb101_smoke(nb101) -> None:
    space, pool = nb101
    assert 300 <= len(pool) <= 400
    rng = np.random.default_rng(3)
    five = [s for s in pool.specs if len(s.ops) == 5]
    made = [crossover(space, five[i], five[i + 1], rng) for i in range(0, 40, 2)]
    assert any(c is not None for c in made)
    for c in made:
        if c is not None:
            assert space.validate(c) == c
    res = get_search("regularized_evolution", population=10, sample_size=3).run(
        space, pool, np.random.default_rng(0), budget=40)
    check_result(res, pool, 40)
    assert res.queries == 40
    res = get_search("renas_ga", population=30, generations=5).run(
        space, pool, np.random.default_rng(0), score=perfect_score(pool))
    check_result(res, pool, 10)
    assert res.queries == 10 and res.best_rank <= 3
    assert res.info["scored"] > 30


# --------------------------------------------------------------------------- NASLib loops


def ensemble_fit_predict(pool: Pool, noise: float = 0.0):
    """``fit_predict`` for the mutation loops: the true accuracy of each candidate, plus
    per member a fixed perturbation (a function of the member and the arch only), so an
    ensemble disagrees and a rerun gives the same predictions. Records every call."""
    calls = []

    def fit_predict(train_ids, train_acc, candidate_ids, *, n_labelled, members=1):
        assert n_labelled == len(train_ids) == len(train_acc)
        assert not set(train_ids) & set(candidate_ids)
        assert len(set(candidate_ids)) == len(candidate_ids)
        calls.append((n_labelled, members, list(candidate_ids), list(train_ids)))
        idx = np.array([pool.index[i] for i in candidate_ids])
        rows = [pool.accuracy[idx] + noise * np.sin(1.0 + idx * (m + 1.7)) for m in range(members)]
        return rows[0] if members == 1 else np.stack(rows)

    fit_predict.calls = calls
    return fit_predict


@pytest.mark.parametrize("name", ["npenas_loop", "bananas_loop"])
def test_mutation_loop_climbs_to_the_optimum(nb201, name: str) -> None:
    """On the smooth synthetic landscape, mutating the best 2 with a perfect predictor
    walks to the all-conv3x3 cell; every fit sees every query so far, one fit per 20
    queries, and BANANAS asks for an ensemble of 3."""
    space, pool = nb201
    fp = ensemble_fit_predict(pool, noise=0.05)
    res = get_search(name).run(space, pool, np.random.default_rng(0), budget=100,
                               fit_predict=fp)
    check_result(res, pool, 100)
    assert res.queries == 100 and res.best_arch_id == ALL_CONV3
    assert [c[0] for c in fp.calls] == [20, 40, 60, 80]
    assert {c[1] for c in fp.calls} == {3 if name == "bananas_loop" else 1}
    assert res.info["iterations"] == 4 and res.info["fallbacks"] == 0
    assert res.info["candidates"] == [len(c[2]) for c in fp.calls]
    for n, _, candidates, train in fp.calls:
        assert train == list(res.queried[:n])          # every query so far, in order
        best2 = sorted(train, key=lambda k: -pool.accuracy[pool.index[k]])[:2]
        for k in candidates:                            # one mutation of one of the best 2
            assert min(sum(a != b for a, b in zip(pool.specs[pool.index[k]],
                                                  pool.specs[pool.index[p]], strict=True))
                       for p in best2) == 1
        assert len(candidates) <= 2 * 4 * 6             # 4 other ops on 6 edges, 2 parents


@pytest.mark.parametrize("name", ["npenas_loop", "bananas_loop"])
def test_mutation_loop_budget_prefix_and_determinism(nb201, name: str) -> None:
    """The first 50 queries of a 100-query run are the 50-query run (the last batch of
    the short run is a prefix of the long run's), and a seed repeats exactly."""
    space, pool = nb201
    runs = [get_search(name).run(space, pool, np.random.default_rng(4), budget=b,
                                 fit_predict=ensemble_fit_predict(pool, noise=0.5))
            for b in (100, 50, 100)]
    assert runs[0].queried[:50] == runs[1].queried
    assert runs[0] == runs[2]
    other = get_search(name).run(space, pool, np.random.default_rng(5), budget=100,
                                 fit_predict=ensemble_fit_predict(pool, noise=0.5))
    assert other.queried != runs[0].queried


def test_bananas_loop_thompson_sampling_differs_from_the_mean(nb201) -> None:
    """BANANAS ranks candidates by one normal draw per candidate around the members'
    mean: with disagreeing members it queries other architectures than NPENAS's mean
    ranking of the same ensemble, with identical members exactly the same ones."""
    space, pool = nb201
    kw = dict(budget=60, fit_predict=None)
    for noise, same in ((0.0, True), (0.5, False)):
        its, mean = (get_search(name, ensemble=3).run(
            space, pool, np.random.default_rng(2), **{**kw, "fit_predict":
                                                     ensemble_fit_predict(pool, noise)})
            for name in ("bananas_loop", "npenas_loop"))
        assert its.queried[:20] == mean.queried[:20]    # the same random start
        assert (its.queried == mean.queried) is same


def test_mutation_loop_on_a_sparse_pool(nb201, small201: Pool) -> None:
    """A pool that labels few cells (as NB101's 30,001): mutants outside it walk on to
    the nearest labelled cell; when no candidate is left, unqueried members are drawn
    at random (fallbacks) and the budget is still spent on distinct members."""
    space, _ = nb201
    fp = ensemble_fit_predict(small201)
    res = get_search("npenas_loop", num_candidates=40, max_tries=3).run(
        space, small201, np.random.default_rng(0), budget=100, fit_predict=fp)
    check_result(res, small201, 100)
    assert res.queries == 100
    assert res.info["outside_pool"] > 0                # 3 steps often miss the 600 cells
    assert sum(min(20, c) for c in res.info["candidates"]) + res.info["fallbacks"] == 80


def test_mutation_loop_options_and_needs(nb201) -> None:
    space, pool = nb201
    with pytest.raises(ConfigError, match="num_candidates 3 gives no draw per parent"):
        get_search("npenas_loop", num_candidates=3, num_arches_to_mutate=2, max_mutations=2)
    with pytest.raises(ConfigError, match="needs the search space"):
        get_search("bananas_loop").run(None, pool, np.random.default_rng(0), budget=30,
                                       fit_predict=ensemble_fit_predict(pool))
    with pytest.raises(ConfigError, match="needs fit_predict"):
        get_search("npenas_loop").run(space, pool, np.random.default_rng(0), budget=30)
    assert get_search("bananas_loop").options["ensemble"] == 3
    assert get_search("npenas_loop").options == {
        "init": 20, "per_iter": 20, "num_candidates": 200, "num_arches_to_mutate": 2,
        "max_mutations": 1, "ensemble": 1, "max_tries": 100}
