"""The pool, the result and the common machinery of every search algorithm.

Every algorithm searches a labelled **pool**: the candidates are exactly the pool's
architectures (those a benchmark labelled with a true accuracy), never the rest of the
space. The search space is used only to sample neighbours (``mutate``) and to validate and
identify children (``validate``, ``arch_id``); a child outside the pool is rejected and
drawn again (see :mod:`nasrank.search.operators`).

A *query* is one look-up of a true accuracy. Queries are of distinct architectures: an
algorithm never pays twice for the same one. ``SearchResult.trajectory`` has one value per
query, the best true accuracy found so far.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

from nasrank import options
from nasrank.errors import ConfigError
from nasrank.spaces.base import SearchSpace

__all__ = ["FitPredict", "Pool", "Score", "Search", "SearchResult"]

#: ``score(arch_ids) -> np.ndarray``: predicted fitness of a batch (higher is better).
Score = Callable[[np.ndarray], np.ndarray]


class FitPredict(Protocol):
    """Fit a predictor on the labelled architectures and score the candidates.

    Called as ``fit_predict(train_ids, train_acc, candidate_ids, n_labelled=n)`` with
    ``n == len(train_ids)``, the number of labelled samples so far (a piecewise-loss
    schedule switches on it); returns one score per candidate, higher is better. With
    ``members=m > 1`` it fits an ensemble of ``m`` predictors (each its own seed) and
    returns their ``(m, len(candidate_ids))`` predictions.
    """

    def __call__(
        self,
        train_ids: np.ndarray,
        train_acc: np.ndarray,
        candidate_ids: np.ndarray,
        *,
        n_labelled: int,
        members: int = 1,
    ) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)
class Pool:
    """The labelled architectures a search may query.

    Attributes:
        arch_ids: ``(N,)`` distinct canonical ids (``space.arch_id`` of the specs).
        accuracy: ``(N,)`` finite true accuracies (higher is better).
        specs: ``N`` architecture specs of the space, aligned with ``arch_ids``, or
            ``None``; the algorithms that mutate (``regularized_evolution``,
            ``renas_ga``) need them. They are trusted to match ``arch_ids``
            (:meth:`from_specs` computes the ids).

    Raises:
        ConfigError: empty, misaligned, duplicate ids or non-finite accuracies.
    """

    arch_ids: np.ndarray
    accuracy: np.ndarray
    specs: Sequence[Hashable] | None = None
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ids = np.asarray(self.arch_ids, dtype=object)
        acc = np.asarray(self.accuracy, dtype=np.float64)
        if ids.ndim != 1 or acc.ndim != 1 or len(ids) != len(acc):
            raise ConfigError(
                f"pool: arch_ids {ids.shape} and accuracy {acc.shape} must be 1-d and aligned"
            )
        if len(ids) == 0:
            raise ConfigError("pool is empty: a search needs at least one labelled architecture")
        if not np.isfinite(acc).all():
            raise ConfigError(f"pool: {int((~np.isfinite(acc)).sum())} accuracies are not finite")
        index = {str(a): i for i, a in enumerate(ids)}
        if len(index) != len(ids):
            raise ConfigError(f"pool: {len(ids) - len(index)} duplicate arch_ids")
        specs = self.specs
        if specs is not None:
            specs = list(specs)
            if len(specs) != len(ids):
                raise ConfigError(f"pool: {len(specs)} specs for {len(ids)} arch_ids")
        object.__setattr__(self, "arch_ids", np.array([str(a) for a in ids], dtype=object))
        object.__setattr__(self, "accuracy", acc)
        object.__setattr__(self, "specs", specs)
        object.__setattr__(self, "index", index)

    @classmethod
    def from_specs(
        cls, space: SearchSpace, specs: Sequence[Hashable], accuracy: Sequence[float]
    ) -> Pool:
        """A pool whose ids are ``space.arch_id`` of ``specs`` (specs kept validated)."""
        valid = [space.validate(s) for s in specs]
        return cls(np.array([space.arch_id(s) for s in valid], dtype=object),
                   np.asarray(accuracy, dtype=np.float64), valid)

    def __len__(self) -> int:
        return len(self.arch_ids)

    def rank(self, i: int) -> int:
        """1 + the number of pool members strictly more accurate than member ``i``."""
        return int((self.accuracy > self.accuracy[i]).sum()) + 1


@dataclass(frozen=True)
class SearchResult:
    """What a search found.

    Attributes:
        search: algorithm name.
        space: the space's name (``None`` when run without one).
        candidates: what was searched, in words (always the labelled pool).
        pool_size: number of pool architectures.
        budget: the query budget it ran under.
        queries: true-accuracy look-ups used (distinct architectures, ``<= budget``).
        best_arch_id: the result's architecture (see each algorithm for which one).
        best_accuracy: its true accuracy.
        best_rank: its rank in the pool by true accuracy (1 = best; ties share a rank).
        best_percentile: ``best_rank / pool_size * 100``.
        trajectory: best true accuracy so far after each query (non-decreasing).
        queried: the arch ids queried, in order.
        options: the algorithm's options.
        info: algorithm-specific details (JSON-able).
    """

    search: str
    space: str | None
    candidates: str
    pool_size: int
    budget: int
    queries: int
    best_arch_id: str
    best_accuracy: float
    best_rank: int
    best_percentile: float
    trajectory: tuple[float, ...]
    queried: tuple[str, ...]
    options: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field."""
        return {
            "search": self.search, "space": self.space, "candidates": self.candidates,
            "pool_size": self.pool_size, "budget": self.budget, "queries": self.queries,
            "best_arch_id": self.best_arch_id, "best_accuracy": self.best_accuracy,
            "best_rank": self.best_rank, "best_percentile": self.best_percentile,
            "trajectory": list(self.trajectory), "queried": list(self.queried),
            "options": dict(self.options), "info": dict(self.info),
        }


class Oracle:
    """True-accuracy look-ups on a pool: counts distinct queries, keeps the trajectory."""

    def __init__(self, pool: Pool, budget: int) -> None:
        self.pool = pool
        self.budget = budget
        self.order: list[int] = []
        self.seen: set[int] = set()
        self.trajectory: list[float] = []

    @property
    def left(self) -> int:
        return self.budget - len(self.order)

    def query(self, i: int) -> float:
        """Accuracy of pool member ``i``; a first look-up costs one query."""
        i = int(i)
        if i not in self.seen:
            if self.left <= 0:
                raise AssertionError("query past the budget")  # a bug in an algorithm
            self.seen.add(i)
            self.order.append(i)
            acc = float(self.pool.accuracy[i])
            self.trajectory.append(max(acc, self.trajectory[-1]) if self.trajectory else acc)
        return float(self.pool.accuracy[i])

    def best(self) -> int:
        """The queried member with the highest true accuracy (first one on ties)."""
        acc = self.pool.accuracy[self.order]
        return self.order[int(np.argmax(acc))]


def _positive_int(what: str, key: str, value: Any) -> int:
    return options.integer(what, key, value, min_value=1)


def _optional_positive_int(what: str, key: str, value: Any) -> int | None:
    return None if value is None else _positive_int(what, key, value)


def _probability(what: str, key: str, value: Any) -> float:
    return options.number(what, key, value, min_value=0, max_value=1)


def _fraction(what: str, key: str, value: Any) -> float:
    return options.number(what, key, value, min_value=0, max_value=1, strict_min=True)


#: option kind -> checker(what, key, value) -> normalised value (:mod:`nasrank.options`)
CHECKS: dict[str, Callable[[str, str, Any], Any]] = {
    "int": _positive_int,
    "int?": _optional_positive_int,
    "prob": _probability,
    "fraction": _fraction,
}


class Search:
    """Base class: option handling and the argument checks of :meth:`run`.

    Subclasses set ``name``, ``default_budget``, ``options_spec`` (option -> (kind,
    default)), ``needs`` (``"score"``, ``"fit_predict"`` or ``None``), ``needs_space``
    and implement :meth:`_run`.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    default_budget: ClassVar[int]
    options_spec: ClassVar[dict[str, tuple[str, Any]]] = {}
    needs: ClassVar[str | None] = None
    needs_space: ClassVar[bool] = False

    def __init__(self, **given: Any) -> None:
        what = options.subject("search", self.name)
        defaults = {k: default for k, (_, default) in self.options_spec.items()}
        self.options: dict[str, Any] = {
            k: CHECKS[self.options_spec[k][0]](what, k, v)
            for k, v in options.resolve(what, defaults, given).items()
        }
        self._check_options()

    def _check_options(self) -> None:
        """Cross-option checks (override)."""

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}({opts})"

    def run(
        self,
        space: SearchSpace | None,
        pool: Pool,
        rng: np.random.Generator,
        *,
        budget: int | None = None,
        score: Score | None = None,
        fit_predict: FitPredict | None = None,
    ) -> SearchResult:
        """Search ``pool`` with at most ``budget`` true-accuracy queries.

        Args:
            space: the pool's search space (for mutation and crossover; may be ``None``
                for ``random`` and ``predictor_nas``).
            pool: the labelled candidates.
            rng: the only source of randomness (same state -> same result).
            budget: query budget; ``None`` -> the algorithm's ``default_budget``.
            score: the predictor's batched fitness (``renas_ga``).
            fit_predict: fit-and-score callable (``predictor_nas``).

        Raises:
            ConfigError: bad budget (not positive, larger than the pool), empty pool,
                a missing space / specs / score / fit_predict the algorithm needs, or a
                callable returning the wrong shape or non-finite values.
        """
        if not isinstance(pool, Pool):
            raise ConfigError(f"search {self.name!r}: pool must be a nasrank.search.Pool, "
                              f"got {type(pool).__name__}")
        if len(pool) == 0:  # pragma: no cover - Pool refuses to be empty
            raise ConfigError(f"search {self.name!r}: the pool is empty")
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(f"search {self.name!r}: rng must be a numpy Generator "
                              "(np.random.default_rng(seed))")
        budget = self.default_budget if budget is None else budget
        if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 1:
            raise ConfigError(f"search {self.name!r}: budget must be a positive integer, "
                              f"got {budget!r}")
        budget = int(budget)
        if budget > len(pool):
            raise ConfigError(f"search {self.name!r}: budget {budget} exceeds the pool of "
                              f"{len(pool)} labelled architectures (queries are distinct)")
        if self.needs == "score" and score is None:
            raise ConfigError(f"search {self.name!r} needs score(arch_ids) -> np.ndarray "
                              "(the trained predictor) as its fitness")
        if self.needs == "fit_predict" and fit_predict is None:
            raise ConfigError(f"search {self.name!r} needs fit_predict(train_ids, train_acc, "
                              "candidate_ids, n_labelled=...) -> scores")
        if self.needs_space:
            if space is None:
                raise ConfigError(f"search {self.name!r} needs the search space (it mutates)")
            if pool.specs is None:
                raise ConfigError(f"search {self.name!r} needs pool.specs (the architectures "
                                  "of the pool) to mutate and cross them over")
        oracle = Oracle(pool, budget)
        info = self._run(space, pool, rng, oracle, score=score, fit_predict=fit_predict)
        best = info.pop("_best", None)
        best = oracle.best() if best is None else best
        rank = pool.rank(best)
        return SearchResult(
            search=self.name,
            space=getattr(space, "name", None),
            candidates=f"the {len(pool)} labelled architectures of the pool",
            pool_size=len(pool),
            budget=budget,
            queries=len(oracle.order),
            best_arch_id=str(pool.arch_ids[best]),
            best_accuracy=float(pool.accuracy[best]),
            best_rank=rank,
            best_percentile=rank / len(pool) * 100.0,
            trajectory=tuple(oracle.trajectory),
            queried=tuple(str(pool.arch_ids[i]) for i in oracle.order),
            options=dict(self.options),
            info=info,
        )

    def _run(
        self,
        space: SearchSpace | None,
        pool: Pool,
        rng: np.random.Generator,
        oracle: Oracle,
        *,
        score: Score | None,
        fit_predict: FitPredict | None,
    ) -> dict[str, Any]:
        """Query through ``oracle``; return ``info`` (``"_best"``: a pool index to report
        instead of the best queried one)."""
        raise NotImplementedError


def check_scores(search: str, what: str, scores: Any, n: int) -> np.ndarray:
    """``scores`` as a finite float ``(n,)`` array.

    Raises:
        ConfigError: another shape or a non-finite value.
    """
    arr = np.asarray(scores, dtype=np.float64).reshape(-1) if np.ndim(scores) else None
    if arr is None or np.shape(scores) not in ((n,), (n, 1)) or len(arr) != n:
        raise ConfigError(f"search {search!r}: {what} returned shape {np.shape(scores)} for "
                          f"{n} architectures (expected ({n},))")
    if not np.isfinite(arr).all():
        raise ConfigError(f"search {search!r}: {what} returned non-finite scores")
    return arr


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` highest scores, best first; ties keep input order."""
    return np.argsort(-scores, kind="stable")[:k]


def ceil_fraction(fraction: float, n: int) -> int:
    """``ceil(fraction * n)``, at least 1."""
    return max(1, math.ceil(fraction * n - 1e-9))
