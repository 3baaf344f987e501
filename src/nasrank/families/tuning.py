"""NASLib's hyper-parameter tuning of model-based predictors (White et al. 2021).

NASLib tunes BANANAS, BONAS, the GCN and the MLP when a predictor trains on at least 10
architectures: a random search, each configuration scored by 3-fold cross-validated
Kendall tau on the training architectures, the default configuration first, for a time
budget of ``900 * n / 1000 + 20`` seconds; the best configuration is then fitted on all
``n``. Here the same, with one change for reproducibility: the search stops after
``tune_trials`` configurations (default 10) *or* when the budget runs out, whichever
comes first, and the result records how many were scored and whether the budget cut
the search (then the result depends on the machine's speed).

The search spaces (:data:`SPACES`) follow NASLib's ``set_random_hyperparams`` ranges
as we read them; each draws from a ``numpy`` generator seeded by the run's seed, so the
configurations (and, when the trial cap binds, the result) are a function of the seed.

Usage (a model-based family predictor's options)::

    families:
      tables:
        nb201-cifar10:
          options:
            bananas: {tune: true}             # tune_trials: 10, tune_budget_s: null (NASLib's)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["MIN_TUNE_SIZE", "SPACES", "naslib_budget_s", "random_search"]

#: NASLib tunes from this many training architectures on
MIN_TUNE_SIZE = 10


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _bananas(rng: np.random.Generator) -> dict[str, Any]:
    return {"layers": int(rng.integers(5, 26)), "width": int(rng.integers(5, 26)),
            "learning_rate": _loguniform(rng, 1e-4, 1e-1)}


def _bonas(rng: np.random.Generator) -> dict[str, Any]:
    return {"hidden": int(rng.choice([16, 32, 64, 128])),
            "batch_size": int(rng.choice([32, 64, 128])),
            "learning_rate": _loguniform(rng, 1e-4, 1e-1)}


def _gcn(rng: np.random.Generator) -> dict[str, Any]:
    return {"hidden": int(rng.choice([16, 32, 64, 128, 144, 256])),
            "learning_rate": _loguniform(rng, 1e-5, 1e-1),
            "weight_decay": _loguniform(rng, 1e-5, 1e-3)}


def _mlp(rng: np.random.Generator) -> dict[str, Any]:
    layers = int(rng.integers(2, 6))
    width = int(rng.choice([16, 32, 64, 128, 256]))
    return {"hidden": [width] * layers, "learning_rate": _loguniform(rng, 1e-4, 1e-1)}


#: predictor -> draw of one configuration (its options and trainer settings)
SPACES: dict[str, Callable[[np.random.Generator], dict[str, Any]]] = {
    "bananas": _bananas, "bonas": _bonas, "gcn": _gcn, "mlp": _mlp,
}


def naslib_budget_s(n: int) -> float:
    """NASLib's tuning budget for ``n`` training architectures, in seconds."""
    return 900.0 * n / 1000.0 + 20.0


def random_search(score: Callable[[Mapping[str, Any]], float], space: str, seed: int,
                  trials: int, budget_s: float) -> dict[str, Any]:
    """Score the default (``{}``) and then random configurations of ``space``.

    Args:
        score: configuration -> cross-validated Kendall tau (NaN counts as -inf).
        space: a key of :data:`SPACES`.
        seed: seeds the draws.
        trials: most configurations scored, the default included.
        budget_s: no configuration starts after this many seconds.

    Returns:
        ``{"options": best configuration, "score": its tau, "trials": scored,
        "budget_cut": whether the budget ended the search}``.
    """
    rng = np.random.default_rng([int(seed), 1729])
    start = time.perf_counter()
    best: dict[str, Any] = {}
    best_score = -np.inf
    scored = 0
    cut = False
    while scored < trials:
        if scored and time.perf_counter() - start > budget_s:
            cut = True
            break
        config = {} if scored == 0 else SPACES[space](rng)
        value = score(config)
        scored += 1
        if np.isfinite(value) and value > best_score:
            best, best_score = config, float(value)
    return {"options": best, "score": best_score if np.isfinite(best_score) else None,
            "trials": scored, "budget_cut": cut}
