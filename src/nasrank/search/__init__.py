"""Search algorithms on a labelled pool, one registry.

Usage::

    import numpy as np
    from nasrank.search import Pool, get_search
    from nasrank.spaces.nb201 import NB201Space

    space = NB201Space()
    specs = list(space.enumerate())
    pool = Pool.from_specs(space, specs, accuracy)          # the labelled candidates
    rng = np.random.default_rng(0)

    get_search("random").run(space, pool, rng, budget=100)
    get_search("regularized_evolution", population=30, sample_size=10).run(
        space, pool, rng, budget=100)
    get_search("renas_ga", generations=20).run(space, pool, rng, score=predict)   # 10 queries
    get_search("predictor_nas", init=10, per_iter=10).run(
        space, pool, rng, budget=100, fit_predict=fit_predict)
    get_search("bananas_loop").run(space, pool, rng, budget=100, fit_predict=fit_predict)

The candidates of every search are the pool's labelled architectures; the space only
mutates, crosses over and identifies (``arch_id``) them. See
:mod:`nasrank.search.algorithms` for what each algorithm does and
:class:`nasrank.search.base.SearchResult` for what it returns.
"""

from __future__ import annotations

from typing import Any

from nasrank.errors import UnknownNameError
from nasrank.search.algorithms import (
    BananasLoop,
    NpenasLoop,
    PredictorNAS,
    RandomSearch,
    RegularizedEvolution,
    RenasGA,
)
from nasrank.search.base import FitPredict, Pool, Score, Search, SearchResult

__all__ = [
    "SEARCHES",
    "FitPredict",
    "Pool",
    "Score",
    "Search",
    "SearchResult",
    "get_search",
]

#: name -> algorithm class (options and defaults: ``cls.options_spec``).
SEARCHES: dict[str, type[Search]] = {
    cls.name: cls for cls in (RandomSearch, RegularizedEvolution, RenasGA, PredictorNAS,
                              NpenasLoop, BananasLoop)
}


def get_search(name: str, **options: Any) -> Search:
    """The search ``name`` configured with ``options``.

    Raises:
        UnknownNameError: listing the registered searches.
        ConfigError: an option the search does not have (naming both) or a bad value.
    """
    try:
        cls = SEARCHES[name]
    except KeyError:
        raise UnknownNameError("search", name, list(SEARCHES)) from None
    return cls(**options)
