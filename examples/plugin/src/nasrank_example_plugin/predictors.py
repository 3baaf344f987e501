"""An example predictor plugin for nasrank: ``knn``, k-nearest-neighbour regression on an
architecture encoding.

This module is an example of how to add a predictor to nasrank without editing it;
importing it registers the predictor. Name it in params.yaml (``plugins:
[nasrank_example_plugin.predictors]``) or install this package (``pip install -e
examples/plugin``: its entry point in the group ``nasrank.predictors`` is loaded when
:mod:`nasrank.predictors` is imported), then list ``knn`` in a family table's
``predictors`` like any built-in predictor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from nasrank.options import choice, integer, subject
from nasrank.predictors import register_predictor

__all__ = ["KNNPredictor", "build_knn"]


class KNNPredictor:
    """scikit-learn's ``KNeighborsRegressor`` on the flattened encoding: the prediction for
    an architecture is the (distance-weighted) mean target of its ``n_neighbors`` nearest
    training architectures (Euclidean distance on the standardised encoding)."""

    def __init__(self, input_shape: Sequence[int], n_neighbors: int, weights: str) -> None:
        self.n_features = int(np.prod(input_shape))
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.model: Any = None

    def fit(self, x: Any, y: Any) -> KNNPredictor:
        from sklearn.neighbors import KNeighborsRegressor

        x = np.asarray(x, dtype=np.float64).reshape(len(y), self.n_features)
        # fewer training architectures than neighbours: all of them
        k = min(self.n_neighbors, len(x))
        self.model = KNeighborsRegressor(n_neighbors=k, weights=self.weights,
                                         algorithm="brute").fit(x, np.asarray(y, float))
        return self

    def predict(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.n_features)
        return np.asarray(self.model.predict(x), dtype=np.float64)


@register_predictor("knn", kind="tree", label="kNN")
def build_knn(input_shape: Sequence[int], layout: Any, *, seed: int = 0, n_neighbors: int = 5,
              weights: str = "distance") -> KNNPredictor:
    """k-nearest-neighbour regression (scikit-learn KNeighborsRegressor) on the flattened
    encoding, distance-weighted (an example plugin).

    ``seed`` is taken as every nasrank predictor takes it; a kNN fit draws no random
    number (brute-force search, ties broken by training order).
    """
    what = subject("predictor", "knn")
    integer(what, "seed", seed)
    integer(what, "n_neighbors", n_neighbors, min_value=1)
    choice(what, "weights", weights, ("uniform", "distance"))
    return KNNPredictor(input_shape, n_neighbors, weights)
