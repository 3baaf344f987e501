"""Tree-ensemble predictors fitted on the regression target (no ranking loss).

* ``rf``: scikit-learn's ``RandomForestRegressor`` (E2EPP's random forest; NASLib's RF).
* ``xgb``: xgboost's ``XGBRegressor`` with squared error (NASLib's XGBoost defaults:
  ``max_depth`` 6, ``learning_rate`` 0.3, ``min_child_weight`` 1, full column sampling,
  500 boosting rounds).

Both flatten any tensor encoding to ``(n, prod(shape))`` float32, take their seed from
``seed`` and run single-threaded unless ``n_jobs`` says otherwise, so a fit is a pure
function of (data, options). scikit-learn and xgboost are imported on first fit, so the
rest of nasrank works without them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nasrank.errors import ConfigError


class TreePredictor:
    """Common interface: ``fit(X, y) -> self``, ``predict(X) -> (n,) float64``."""

    kind = "tree"
    uses_loss = False
    name = ""

    def __init__(self, input_shape: Sequence[int], seed: int = 0, **options: Any) -> None:
        self.input_shape = tuple(int(s) for s in input_shape)
        self.n_features = math.prod(self.input_shape)
        self.seed = int(seed)
        self.options = dict(options)
        self.model: Any = None

    def _matrix(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if x.ndim == 0 or math.prod(x.shape[1:]) != self.n_features:
            shape = ", ".join(map(str, self.input_shape))
            raise ValueError(
                f"{self.name}: expected inputs of shape (n, {shape}) (or (n, {self.n_features})),"
                f" got {x.shape}"
            )
        return x.reshape(x.shape[0], self.n_features)

    def _make_model(self) -> Any:
        raise NotImplementedError

    def fit(self, x: Any, y: Any) -> TreePredictor:
        """Fit on encodings ``x`` ``(n, *input_shape)`` and targets ``y`` ``(n,)``."""
        matrix = self._matrix(x)
        target = np.asarray(y, dtype=np.float64).reshape(-1)
        if target.shape[0] != matrix.shape[0]:
            raise ValueError(f"{self.name}: {matrix.shape[0]} inputs but {target.shape[0]} targets")
        self.model = self._make_model()
        self.model.fit(matrix, target)
        return self

    def predict(self, x: Any) -> np.ndarray:
        """Predicted targets ``(n,)`` float64."""
        if self.model is None:
            raise RuntimeError(f"{self.name}: predict() before fit()")
        return np.asarray(self.model.predict(self._matrix(x)), dtype=np.float64).reshape(-1)


def _require(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"this predictor needs the Python package {package!r} (pip install {package})"
        ) from None


class RandomForestPredictor(TreePredictor):
    """scikit-learn ``RandomForestRegressor``; options are its keyword arguments."""

    name = "rf"

    def _make_model(self) -> Any:
        ensemble = _require("sklearn.ensemble", "scikit-learn")
        return ensemble.RandomForestRegressor(random_state=self.seed, **self.options)


class XGBPredictor(TreePredictor):
    """xgboost ``XGBRegressor`` (``reg:squarederror``); options are its keyword arguments."""

    name = "xgb"

    def _make_model(self) -> Any:
        xgboost = _require("xgboost", "xgboost-cpu")
        return xgboost.XGBRegressor(
            objective="reg:squarederror", random_state=self.seed, verbosity=0, **self.options
        )
