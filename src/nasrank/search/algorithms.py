"""The four search algorithms (see :mod:`nasrank.search` for the registry).

All draw every random number from the ``rng`` given to ``run``, query distinct pool
members only, and report the best true accuracy found after each query.
"""

from __future__ import annotations

import collections
from typing import Any, ClassVar

import numpy as np

from nasrank.errors import ConfigError
from nasrank.search.base import (
    FitPredict,
    Oracle,
    Pool,
    Score,
    Search,
    ceil_fraction,
    check_scores,
    top_indices,
)
from nasrank.search.operators import crossover, draw_in_pool, mutant, random_member
from nasrank.spaces.base import SearchSpace

__all__ = ["BananasLoop", "MutationLoop", "NpenasLoop", "PredictorNAS", "RandomSearch",
           "RegularizedEvolution", "RenasGA"]


class RandomSearch(Search):
    """Query ``budget`` distinct pool members drawn uniformly; report the best of them."""

    name = "random"
    description = "uniform random sampling of distinct pool members"
    default_budget = 100

    def _run(self, space: SearchSpace | None, pool: Pool, rng: np.random.Generator,
             oracle: Oracle, *, score: Score | None,
             fit_predict: FitPredict | None) -> dict[str, Any]:
        for i in rng.choice(len(pool), size=oracle.budget, replace=False):
            oracle.query(int(i))
        return {}


class RegularizedEvolution(Search):
    """Regularized (aging) evolution, Real et al. (AAAI 2019), on the pool.

    1. Query ``min(population, budget)`` distinct pool members drawn uniformly: the
       initial population (a queue, oldest first).
    2. Until ``budget`` queries: draw ``sample_size`` members of the population uniformly
       without replacement (the tournament); mutate the most accurate one (true accuracy)
       with ``space.mutate``; query the child, append it, remove the oldest member.

    A child must be a pool member not queried before (queries are distinct); otherwise it
    is drawn again from the same parent, up to ``max_tries`` mutations, after which a
    uniformly drawn unqueried pool member is used (counted in ``info["fallbacks"]``).
    Result: the best queried architecture.
    """

    name = "regularized_evolution"
    description = "regularized (aging) evolution with tournament selection (Real et al. 2019)"
    default_budget = 100
    options_spec: ClassVar[dict[str, tuple[str, Any]]] = {
        "population": ("int", 30),
        "sample_size": ("int", 10),
        "max_tries": ("int", 100),
    }
    needs_space = True

    def _check_options(self) -> None:
        if self.options["sample_size"] > self.options["population"]:
            raise ConfigError(
                f"search {self.name!r}: sample_size {self.options['sample_size']} exceeds "
                f"population {self.options['population']}"
            )

    def _run(self, space: SearchSpace | None, pool: Pool, rng: np.random.Generator,
             oracle: Oracle, *, score: Score | None,
             fit_predict: FitPredict | None) -> dict[str, Any]:
        assert space is not None and pool.specs is not None
        specs = pool.specs
        n_init = min(self.options["population"], oracle.budget)
        population: collections.deque[int] = collections.deque()
        for i in rng.choice(len(pool), size=n_init, replace=False):
            oracle.query(int(i))
            population.append(int(i))
        fallbacks = 0
        while oracle.left > 0:
            members = list(population)
            k = min(self.options["sample_size"], len(members))
            tournament = [members[j] for j in rng.choice(len(members), size=k, replace=False)]
            parent = max(tournament, key=lambda i: pool.accuracy[i])  # first on ties
            child = draw_in_pool(
                space, pool, lambda p=parent: space.mutate(specs[p], rng),
                lambda i: i not in oracle.seen, self.options["max_tries"],
            )
            if child is None:
                fallbacks += 1
                child = random_member(pool, rng, oracle.seen)
            oracle.query(child)
            population.append(child)
            if len(population) > self.options["population"]:
                population.popleft()
        return {"initial_population": n_init, "fallbacks": fallbacks}


class RenasGA(Search):
    """ReNAS Algorithm 1: a genetic algorithm whose fitness is the predictor's score.

    The paper's values of these settings were lost in the text extraction; the defaults
    are this package's choices. With ``P = population``:

    1. Initial population: ``min(P, pool size)`` distinct pool members drawn uniformly.
    2. For each of ``generations`` generations: score the population with ``score``
       (batched; each architecture is scored once and cached, so ``score`` must be
       deterministic); keep the ``ceil(selection * P)`` best by score (truncation
       selection, elitist: they survive); fill the population back to ``P`` with
       children: two distinct parents drawn uniformly from the survivors; with
       probability ``crossover_prob`` the child is their crossover
       (:func:`~nasrank.search.operators.crossover`; the first parent is mutated
       instead when crossover is impossible or invalid), otherwise a copy of the first
       parent; then with probability ``mutation_prob`` it is mutated with
       ``space.mutate``. A child must be a pool member not already in the new population
       (a plain copy never is); otherwise it is drawn again, up to ``max_tries`` times,
       after which a uniformly drawn pool member is used (``info["fallbacks"]``).
    3. The last population is scored too; the predicted top-``budget`` (default 10)
       among all architectures scored during the run are queried for their true
       accuracy, in predicted order: ``queries == budget``.

    Result: the best of the predicted top-``budget`` by true accuracy. ``info`` holds the
    predicted top list (ids and scores), the number of architectures scored, the
    number of pool fallbacks and ``crossover_fallbacks`` (crossover attempts replaced by a
    mutation: parents of different NB101 vertex counts, an invalid child, or a spec type
    without crossover). No true accuracy is used before step 3.
    """

    name = "renas_ga"
    description = "ReNAS Algorithm 1: GA with the predictor as fitness, then top-k queried"
    default_budget = 10
    options_spec: ClassVar[dict[str, tuple[str, Any]]] = {
        "population": ("int", 100),
        "generations": ("int", 20),
        "selection": ("fraction", 0.5),
        "crossover_prob": ("prob", 0.5),
        "mutation_prob": ("prob", 0.5),
        "max_tries": ("int", 100),
    }
    needs = "score"
    needs_space = True

    def _run(self, space: SearchSpace | None, pool: Pool, rng: np.random.Generator,
             oracle: Oracle, *, score: Score | None,
             fit_predict: FitPredict | None) -> dict[str, Any]:
        assert space is not None and pool.specs is not None and score is not None
        specs = pool.specs
        opts = self.options
        size = min(opts["population"], len(pool))
        if oracle.budget > size:
            raise ConfigError(
                f"search {self.name!r}: budget {oracle.budget} (the predicted top-k that is "
                f"queried) exceeds the population of {size}"
            )
        cache: dict[int, float] = {}  # pool index -> score, in first-scored order

        def fitness(members: list[int]) -> np.ndarray:
            new = [i for i in dict.fromkeys(members) if i not in cache]
            if new:
                got = check_scores(self.name, "score", score(pool.arch_ids[new]), len(new))
                cache.update(zip(new, got.tolist(), strict=True))
            return np.array([cache[i] for i in members])

        population = [int(i) for i in rng.choice(len(pool), size=size, replace=False)]
        n_keep = min(size, ceil_fraction(opts["selection"], size))
        fallbacks = crossover_fallbacks = 0
        for _ in range(opts["generations"]):
            order = top_indices(fitness(population), n_keep)
            survivors = [population[j] for j in order]
            nxt = list(survivors)
            taken = set(nxt)

            def make(survivors: list[int] = survivors) -> Any:
                nonlocal crossover_fallbacks
                if len(survivors) > 1:
                    pa, pb = rng.choice(len(survivors), size=2, replace=False)
                    a, b = specs[survivors[pa]], specs[survivors[pb]]
                else:
                    a = b = specs[survivors[0]]
                child = a
                if rng.random() < opts["crossover_prob"]:
                    child = crossover(space, a, b, rng)
                    if child is None:
                        crossover_fallbacks += 1
                        return space.mutate(a, rng)
                if rng.random() < opts["mutation_prob"]:
                    child = space.mutate(child, rng)
                return child

            while len(nxt) < size:
                child = draw_in_pool(space, pool, make, lambda i, taken=taken: i not in taken,
                                     opts["max_tries"])
                if child is None:
                    fallbacks += 1
                    child = random_member(pool, rng, taken)
                nxt.append(child)
                taken.add(child)
            population = nxt
        fitness(population)
        scored = np.fromiter(cache.keys(), dtype=np.int64, count=len(cache))
        values = np.fromiter(cache.values(), dtype=np.float64, count=len(cache))
        top = top_indices(values, oracle.budget)
        for j in top:
            oracle.query(int(scored[j]))
        return {
            "predicted_top": [str(pool.arch_ids[scored[j]]) for j in top],
            "predicted_top_scores": [float(values[j]) for j in top],
            "scored": len(cache),
            "fallbacks": fallbacks,
            "crossover_fallbacks": crossover_fallbacks,
        }


class PredictorNAS(Search):
    """Budgeted predictor-based NAS (the loss-function study's search loop).

    1. Query ``min(init, budget)`` distinct pool members drawn uniformly.
    2. Until ``budget`` queries: call ``fit_predict(train_ids, train_acc, candidate_ids,
       n_labelled=len(train_ids))`` with every queried architecture and its true
       accuracy (in query order) and the candidates: every unqueried pool member in pool
       order, or ``num_candidates`` of them drawn uniformly (kept in pool order) when
       that option is set; query the ``min(per_iter, budget left)`` best-scored
       candidates (ties: pool order). The loss and any piecewise schedule are the
       caller's, inside ``fit_predict``.

    Result: the best queried architecture. ``info["iterations"]``: ``fit_predict`` calls.
    """

    name = "predictor_nas"
    description = "iterative predictor-based search: fit, query the top-scored, repeat"
    default_budget = 100
    options_spec: ClassVar[dict[str, tuple[str, Any]]] = {
        "init": ("int", 10),
        "per_iter": ("int", 10),
        "num_candidates": ("int?", None),
    }
    needs = "fit_predict"

    def _run(self, space: SearchSpace | None, pool: Pool, rng: np.random.Generator,
             oracle: Oracle, *, score: Score | None,
             fit_predict: FitPredict | None) -> dict[str, Any]:
        assert fit_predict is not None
        opts = self.options
        n_init = min(opts["init"], oracle.budget)
        for i in rng.choice(len(pool), size=n_init, replace=False):
            oracle.query(int(i))
        iterations = 0
        queried = np.zeros(len(pool), dtype=bool)
        queried[oracle.order] = True
        while oracle.left > 0:
            candidates = np.flatnonzero(~queried)
            if opts["num_candidates"] is not None and opts["num_candidates"] < len(candidates):
                pick = rng.choice(len(candidates), size=opts["num_candidates"], replace=False)
                candidates = candidates[np.sort(pick)]
            train = np.asarray(oracle.order, dtype=np.int64)
            scores = fit_predict(pool.arch_ids[train], pool.accuracy[train].copy(),
                                 pool.arch_ids[candidates], n_labelled=len(train))
            scores = check_scores(self.name, "fit_predict", scores, len(candidates))
            iterations += 1
            for j in top_indices(scores, min(opts["per_iter"], oracle.left)):
                oracle.query(int(candidates[j]))
                queried[candidates[j]] = True
        return {"initial": n_init, "iterations": iterations}


class MutationLoop(Search):
    """Predictor-based NAS as NASLib runs it for White et al. (2021), Section 6.

    NASLib's ``Bananas`` and ``Npenas`` optimizers (``naslib/optimizers/discrete``) with
    a predictor of nasrank as the surrogate:

    1. Query ``min(init, budget)`` distinct pool members drawn uniformly.
    2. Until ``budget`` queries: fit ``ensemble`` predictors on every queried architecture
       (``fit_predict(..., members=ensemble)``: each member its own seed, see
       :mod:`nasrank.search.refits`); make candidates by mutating the
       ``num_arches_to_mutate`` most accurate queried architectures:
       ``num_candidates // num_arches_to_mutate // max_mutations`` draws per parent, each
       ``max_mutations`` successive ``space.mutate`` steps (NASLib's acquisition
       optimisation ``mutation``). A mutant outside the pool is mutated again, a random
       walk of at most ``max_tries`` further steps that stops at the first pool member
       (NB101: only 30,001 of its cells are labelled, and a labelled cell has 0-3
       labelled cells among its one-step neighbours, so one step mostly leaves the pool;
       on a fully labelled table the walk never starts). A draw that lands on an
       architecture already queried or already a candidate is dropped (NASLib scores
       duplicates again, which changes nothing but the cost). The candidates are
       scored by the acquisition function and the ``min(per_iter, budget left)`` best
       queried, best first (ties: draw order). When fewer distinct candidates than
       that exist, the rest are pool members drawn uniformly among the unqueried
       (``info["fallbacks"]``).

    Acquisition (:attr:`acquisition`): ``exploit`` (NPENAS: the members' mean
    prediction) or ``its`` (BANANAS: independent Thompson sampling, one draw of
    ``Normal(mean, std)`` over the members per candidate, from the search's ``rng``).

    The first ``b`` queries of a run are exactly what a run with budget ``b`` queries
    (every random number is drawn in the same order; a smaller last batch is a prefix of
    the larger), so one run serves every budget. Result: the best queried architecture.
    ``info``: ``iterations`` (fits), ``candidates`` (distinct candidates per iteration),
    ``fallbacks``, ``outside_pool`` (draws with no pool member after ``max_tries``).
    """

    acquisition: ClassVar[str]
    default_budget = 100
    options_spec: ClassVar[dict[str, tuple[str, Any]]] = {
        "init": ("int", 20),
        "per_iter": ("int", 20),
        "num_candidates": ("int", 200),
        "num_arches_to_mutate": ("int", 2),
        "max_mutations": ("int", 1),
        "ensemble": ("int", 1),
        "max_tries": ("int", 100),
    }
    needs = "fit_predict"
    needs_space = True

    def _check_options(self) -> None:
        o = self.options
        if o["num_candidates"] < o["num_arches_to_mutate"] * o["max_mutations"]:
            raise ConfigError(
                f"search {self.name!r}: num_candidates {o['num_candidates']} gives no draw "
                f"per parent ({o['num_arches_to_mutate']} parents x {o['max_mutations']} "
                "mutations each)")

    def _acquire(self, predictions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Acquisition values of the candidates from the members' ``(members, n)``
        predictions."""
        mean = predictions.mean(axis=0)
        if self.acquisition == "exploit":
            return mean
        return rng.normal(mean, predictions.std(axis=0))

    def _candidates(self, space: SearchSpace, pool: Pool, rng: np.random.Generator,
                    oracle: Oracle) -> tuple[list[int], int]:
        """Distinct unqueried pool members made by mutating the best queried, in draw
        order, and the number of draws that found no pool member."""
        assert pool.specs is not None
        o = self.options
        order = np.asarray(oracle.order, dtype=np.int64)
        best_first = order[np.argsort(-pool.accuracy[order], kind="stable")]
        parents = best_first[:o["num_arches_to_mutate"]]
        draws = o["num_candidates"] // len(parents) // o["max_mutations"]
        chosen: dict[int, None] = {}
        outside = 0
        for parent in parents:
            for _ in range(draws):
                spec = mutant(space, pool.specs[int(parent)], o["max_mutations"], rng)
                child = pool.index.get(space.arch_id(spec))
                for _ in range(o["max_tries"]):
                    if child is not None:
                        break
                    spec = space.mutate(spec, rng)
                    child = pool.index.get(space.arch_id(spec))
                if child is None:
                    outside += 1
                elif child not in oracle.seen:
                    chosen.setdefault(child)
        return list(chosen), outside

    def _run(self, space: SearchSpace | None, pool: Pool, rng: np.random.Generator,
             oracle: Oracle, *, score: Score | None,
             fit_predict: FitPredict | None) -> dict[str, Any]:
        assert space is not None and fit_predict is not None
        o = self.options
        n_init = min(o["init"], oracle.budget)
        for i in rng.choice(len(pool), size=n_init, replace=False):
            oracle.query(int(i))
        sizes: list[int] = []
        fallbacks = outside = 0
        while oracle.left > 0:
            want = min(o["per_iter"], oracle.left)
            candidates, missed = self._candidates(space, pool, rng, oracle)
            outside += missed
            sizes.append(len(candidates))
            if candidates:
                train = np.asarray(oracle.order, dtype=np.int64)
                ids = np.asarray(candidates, dtype=np.int64)
                got = fit_predict(pool.arch_ids[train], pool.accuracy[train].copy(),
                                  pool.arch_ids[ids], n_labelled=len(train),
                                  members=o["ensemble"])
                got = np.asarray(got, dtype=np.float64).reshape(o["ensemble"], -1)
                values = self._acquire(
                    np.stack([check_scores(self.name, "fit_predict", row, len(ids))
                              for row in got]), rng)
                for j in top_indices(values, want):
                    oracle.query(int(ids[j]))
            for _ in range(want - min(want, len(candidates))):
                fallbacks += 1
                oracle.query(random_member(pool, rng, oracle.seen))
        return {"initial": n_init, "iterations": len(sizes), "candidates": sizes,
                "fallbacks": fallbacks, "outside_pool": outside}


class NpenasLoop(MutationLoop):
    """NPENAS in NASLib (Wei et al. 2020): one predictor, its prediction as the
    acquisition. See :class:`MutationLoop`."""

    name = "npenas_loop"
    description = "NPENAS: mutate the best, query the predicted top (NASLib, White et al.)"
    acquisition = "exploit"


class BananasLoop(MutationLoop):
    """BANANAS in NASLib (White et al. 2021a): an ensemble of 3 predictors, independent
    Thompson sampling as the acquisition. See :class:`MutationLoop`."""

    name = "bananas_loop"
    description = ("BANANAS: mutate the best, Thompson-sample an ensemble's predictions "
                   "(NASLib, White et al.)")
    acquisition = "its"
    options_spec: ClassVar[dict[str, tuple[str, Any]]] = {
        **MutationLoop.options_spec, "ensemble": ("int", 3)}
