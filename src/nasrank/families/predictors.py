"""The family predictors: one fit/query interface over White et al.'s four families.

Every predictor is a :class:`FamilyPredictor`:

* :meth:`~FamilyPredictor.prepare` ``(table, target, context)`` checks that the table
  has what the predictor needs and returns its :class:`Needs` (the table columns every
  architecture must have, and the encoding, if any); a missing proxy or fidelity is a
  :class:`~nasrank.errors.DataFormatError` naming the predictor and the table
  (benchmark).
* :meth:`~FamilyPredictor.fit` ``(batch, y, seed)`` trains it (a no-op for predictors
  with ``trains = False``: zero-cost proxies and learning-curve methods).
* :meth:`~FamilyPredictor.sweep_fit` ``(batch, y, seed)``: the same training as one run
  of a sweep (:class:`SweepFit`), for predictors that train a torch network, else
  ``None``; the protocol fits every seed's and train size's runs in one
  :func:`nasrank.sweep.fit_predictors` call and hands each result back with
  :meth:`~FamilyPredictor.use_fitted` instead of calling ``fit`` (same predictions).
* :meth:`~FamilyPredictor.query` ``(batch)`` returns one prediction per architecture
  (higher = better).
* :meth:`~FamilyPredictor.data_time` ``(batch)``: the mean *recorded* per-architecture
  cost of the inputs a query reads (a proxy's compute time, the training to a lower
  fidelity), NaN where the table does not record it, 0 when the query reads nothing
  costly (model-based predictors). The protocol adds the measured wall time of
  :meth:`query` to it.

``predicts_target`` says whether the predictions are on the target's scale (so MAE,
RMSE and the sparse Kendall tau mean something): not for zero-cost scores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from nasrank import options as opt
from nasrank.benchmarks.zero_cost import require_zero_cost
from nasrank.errors import ConfigError, DataFormatError
from nasrank.families.curves import CURVES, DEFAULT_CURVES, check_curves, extrapolate
from nasrank.families.data import ArchBatch, TableData

ZERO_COST = "zero_cost"
LEARNING_CURVE = "learning_curve"
MODEL_BASED = "model_based"
COMBINED = "combined"
FAMILY_NAMES = (ZERO_COST, LEARNING_CURVE, MODEL_BASED, COMBINED)

#: Trainer settings a model-based predictor may override (``None``: params.yaml's
#: ``train`` section, or :class:`nasrank.train.RunConfig`'s defaults without params).
TRAINER_KEYS = ("epochs", "batch_size", "learning_rate", "weight_decay", "device", "select")


@dataclass(frozen=True)
class Needs:
    """What a prepared predictor reads from a table.

    Attributes:
        columns: table columns every architecture of the pool must have (besides the
            target).
        encoding: the encoding whose features it reads, or ``None``.
        details: resolved choices for the report (fidelity, proxies, ...).
    """

    columns: tuple[str, ...] = ()
    encoding: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepFit:
    """One torch training of a family predictor, as a run of a sweep: the inputs of
    :func:`nasrank.sweep.fit_predictors` (raw features and labels)."""

    cfg: Any
    x: np.ndarray
    y: np.ndarray
    layout: dict[str, list[int]]


@dataclass
class Context:
    """Where a predictor runs: its table's identity and the trainer settings."""

    bench: str
    task: str | None
    table: str
    target: str
    params: Mapping[str, Any] | None = None
    test_size: int = 200


class FamilyPredictor:
    """Base class; see the module docstring."""

    name = ""
    family = ""
    trains = False
    predicts_target = True

    def __init__(self, name: str, **options: Any) -> None:
        self.name = name
        self.options = dict(options)

    def prepare(self, table: TableData, target: str, context: Context) -> Needs:
        raise NotImplementedError

    def fit(self, batch: ArchBatch, y: np.ndarray, seed: int) -> None:
        """Train on ``batch`` with labels ``y`` (no-op unless ``trains``)."""

    @property
    def wants_unlabeled(self) -> bool:
        """Whether :meth:`fit` also takes ``unlabeled=`` (an :class:`ArchBatch` of pool
        architectures outside the training and test sets: SemiNAS)."""
        return False

    def sweep_fit(self, batch: ArchBatch, y: np.ndarray, seed: int) -> SweepFit | None:
        """What :meth:`fit` would train, as one run of a sweep; ``None`` unless it
        trains a torch network (then the caller calls :meth:`fit`)."""
        return None

    def use_fitted(self, fitted: Any) -> None:
        """Take ``fitted`` (the :class:`nasrank.train.FittedPredictor` a sweep trained
        for :meth:`sweep_fit`'s run) as if :meth:`fit` had trained it."""
        raise NotImplementedError(f"predictor {self.name!r} is not fitted in sweeps")

    def query(self, batch: ArchBatch) -> np.ndarray:
        raise NotImplementedError

    def data_time(self, batch: ArchBatch) -> float:
        return 0.0

    def fit_details(self) -> dict[str, Any]:
        """What the last :meth:`fit` chose, for the result row (tuning); ``{}`` if
        nothing."""
        return {}

    def _where(self, table: TableData) -> str:
        return f"predictor {self.name!r} ({self.family}) on table {table.name} " \
               f"(benchmark {table.bench})"


def _mean_or_nan(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(values)
    return float(values[ok].mean()) if ok.any() else math.nan


# ----------------------------------------------------------------------- zero-cost


class ZeroCostPredictor(FamilyPredictor):
    """A zero-cost proxy: the ``zc_<proxy>`` score is the prediction; nothing is fitted.

    Query cost: the mean recorded compute time of the proxy (``zc_<proxy>_time_s``) over
    the queried architectures, NaN where the table records none (NB101).
    """

    family = ZERO_COST
    predicts_target = False

    def __init__(self, name: str, proxy: str) -> None:
        super().__init__(name, proxy=proxy)
        self.proxy = proxy
        self.score_col = ""
        self.time_col: str | None = None

    def prepare(self, table: TableData, target: str, context: Context) -> Needs:
        try:
            (self.score_col,) = require_zero_cost(table.path, [self.proxy], table=table.name)
        except DataFormatError as exc:
            raise DataFormatError(f"{self._where(table)}: {exc}") from None
        tcol = (table.meta.get("zero_cost") or {}).get("time_columns", {}).get(self.proxy)
        self.time_col = tcol if tcol and table.has(tcol) else None
        return Needs((self.score_col,), None, {"proxy": self.proxy,
                                               "time_column": self.time_col})

    def query(self, batch: ArchBatch) -> np.ndarray:
        return batch.column(self.score_col)

    def data_time(self, batch: ArchBatch) -> float:
        return math.nan if self.time_col is None else _mean_or_nan(batch.column(self.time_col))


# ----------------------------------------------------------------------- learning curves


def default_fidelity(fidelities: Mapping[int, str], final: int | None) -> int:
    """The largest fidelity at most a quarter of the final budget (NB101 12 of 108, NB201
    12 of 200), else the smallest."""
    epochs = sorted(fidelities)
    if final is not None:
        low = [e for e in epochs if e <= final / 4]
        if low:
            return low[-1]
    return epochs[0]


def _resolve_fidelity(pred: FamilyPredictor, table: TableData, target: str,
                      fidelity: Any) -> tuple[int, str]:
    fids = table.fidelities(target)
    final = table.final_epochs(target)
    if fidelity is None:
        if not fids:
            raise DataFormatError(
                f"{pred._where(table)}: needs a lower-fidelity validation accuracy (a "
                f"val_acc_<epochs> column below the target {target!r}), and the table has "
                "none")
        e = default_fidelity(fids, final)
        return e, fids[e]
    if isinstance(fidelity, bool) or not isinstance(fidelity, int) or fidelity < 1:
        raise ConfigError(f"predictor {pred.name!r}: option 'fidelity' must be a positive "
                          f"number of epochs or null, got {fidelity!r}")
    col = f"val_acc_{fidelity}"
    if not table.has(col):
        have = ", ".join(map(str, fids)) or "none"
        raise DataFormatError(f"{pred._where(table)}: the table has no fidelity {col!r} "
                              f"(its lower fidelities, in epochs: {have})")
    if fidelity not in fids:
        raise ConfigError(f"predictor {pred.name!r}: fidelity {fidelity} is not below the "
                          f"target {target!r} ({final} epochs)")
    return fidelity, col


class EarlyStopPredictor(FamilyPredictor):
    """Early stopping (validation accuracy): the accuracy at a lower fidelity predicts the
    final one. Option ``fidelity`` (epochs; default :func:`default_fidelity`).

    Query cost: training to that fidelity, ``train_time_<E> * fidelity / E`` where the
    table records a training time (NB101, an approximation), else NaN.
    """

    family = LEARNING_CURVE

    def __init__(self, name: str, fidelity: int | None = None) -> None:
        super().__init__(name, fidelity=fidelity)
        self.epochs = 0
        self.col = ""
        self.table: TableData | None = None

    def prepare(self, table: TableData, target: str, context: Context) -> Needs:
        self.epochs, self.col = _resolve_fidelity(self, table, target, self.options["fidelity"])
        self.table = table
        return Needs((self.col,), None, {"fidelity": self.epochs, "column": self.col})

    def query(self, batch: ArchBatch) -> np.ndarray:
        return batch.column(self.col)

    def data_time(self, batch: ArchBatch) -> float:
        assert self.table is not None
        return _mean_or_nan(self.table.training_time(batch.frame, self.epochs))


class LCEPredictor(FamilyPredictor):
    """Learning-curve extrapolation: parametric curves fitted to each architecture's
    partial curve (accuracy at the lower fidelities), extrapolated to the final epoch
    (see :mod:`nasrank.families.curves`). Needs at least 3 fidelities (NB101: 4, 12, 36
    -> 108); NB201 (one lower fidelity), DARTS and TransNAS tables cannot run it.

    Options: ``fidelities`` (epochs; default all below the target), ``curves``,
    ``combine`` (``mean`` | ``median``). Query cost: training to the last fidelity (as
    for early stopping) plus the measured curve fitting.
    """

    family = LEARNING_CURVE

    def __init__(self, name: str, fidelities: Sequence[int] | None = None,
                 curves: Sequence[str] = DEFAULT_CURVES,
                 combine: str = "mean") -> None:
        super().__init__(name, fidelities=fidelities, curves=list(curves), combine=combine)
        self.curves = check_curves(list(curves))
        if combine not in ("mean", "median"):
            raise ConfigError(f"predictor {name!r}: option 'combine' must be 'mean' or "
                              f"'median', got {combine!r}")
        self.combine = combine
        self.epochs: list[int] = []
        self.cols: list[str] = []
        self.final = 0
        self.table: TableData | None = None

    def prepare(self, table: TableData, target: str, context: Context) -> Needs:
        fids = table.fidelities(target)
        wanted = self.options["fidelities"]
        if wanted is None:
            chosen = dict(fids)
        else:
            chosen = {}
            for e in wanted:
                chosen[_resolve_fidelity(self, table, target, e)[0]] = f"val_acc_{e}"
        if len(chosen) < 3:
            have = ", ".join(f"val_acc_{e}" for e in chosen) or "none"
            raise DataFormatError(
                f"{self._where(table)}: learning-curve extrapolation needs at least 3 "
                f"lower-fidelity validation accuracies below the target {target!r}; it "
                f"has {len(chosen)} ({have})")
        final = table.final_epochs(target)
        if final is None:
            raise DataFormatError(f"{self._where(table)}: cannot tell the final epoch of "
                                  f"target {target!r}")
        self.epochs = sorted(chosen)
        self.cols = [chosen[e] for e in self.epochs]
        self.final = final
        self.table = table
        return Needs(tuple(self.cols), None, {"fidelities": self.epochs, "final_epochs": final,
                                              "curves": self.curves, "combine": self.combine})

    def query(self, batch: ArchBatch) -> np.ndarray:
        ys = np.stack([batch.column(c) for c in self.cols], axis=1)
        scale = 100.0 if np.nanmax(ys) > 1.5 else 1.0  # percent or fraction
        x = np.asarray(self.epochs, dtype=np.float64)
        out = np.empty(len(ys))
        for i, row in enumerate(ys / scale):
            out[i] = extrapolate(x, row, self.final, self.curves, self.combine) * scale
        return out

    def data_time(self, batch: ArchBatch) -> float:
        assert self.table is not None
        return _mean_or_nan(self.table.training_time(batch.frame, self.epochs[-1]))


class LCEMPredictor(LCEPredictor):
    """LCE-m: Domhan et al.'s Bayesian weighted combination of the curve families,
    sampled by MCMC (:mod:`nasrank.families.curves_mcmc`); the posterior mean at the
    final epoch predicts it. Same data as ``lce`` (at least 3 fidelities: NB101 only).

    Options: ``fidelities``, ``curves`` (as ``lce``), ``walkers``, ``burn_in``,
    ``samples``, ``seed`` (with the architecture's id, it seeds each chain). Query cost:
    training to the last fidelity plus the measured sampling (about 0.3 s per
    architecture on a CPU core with the defaults).

    On NB101's three observed points (4, 12, 36 epochs) the posterior is wide: its mean
    ranks worse than ``lce``'s least-squares extrapolation (Kendall tau 0.37 against 0.55
    on the test suite's NB101 pool, seed 0), and shorter chains rank worse still (0.24
    with 32 walkers, 300 + 300 steps): the Monte Carlo noise of the mean is of the order
    of the differences between cells.
    """

    def __init__(self, name: str, fidelities: Sequence[int] | None = None,
                 curves: Sequence[str] = DEFAULT_CURVES,
                 walkers: int = 50, burn_in: int = 500, samples: int = 800,
                 seed: int = 0) -> None:
        super().__init__(name, fidelities=fidelities, curves=curves)
        what = opt.subject("family predictor", name)
        n_params = sum(len(CURVES[c].params) + 1 for c in self.curves) + 1
        opt.integer(what, "walkers", walkers, min_value=2 * n_params)
        opt.integer(what, "burn_in", burn_in, min_value=0)
        opt.integer(what, "samples", samples, min_value=1)
        opt.integer(what, "seed", seed)
        self.options = {"fidelities": fidelities, "curves": self.curves, "walkers": walkers,
                        "burn_in": burn_in, "samples": samples, "seed": seed}

    def prepare(self, table: TableData, target: str, context: Context) -> Needs:
        needs = super().prepare(table, target, context)
        details = {k: v for k, v in needs.details.items() if k != "combine"}
        details.update({k: self.options[k] for k in ("walkers", "burn_in", "samples",
                                                     "seed")})
        return replace(needs, details=details)

    def query(self, batch: ArchBatch) -> np.ndarray:
        from nasrank.families.curves_mcmc import mcmc_extrapolate

        ys = np.stack([batch.column(c) for c in self.cols], axis=1)
        scale = 100.0 if np.nanmax(ys) > 1.5 else 1.0  # percent or fraction
        x = np.asarray(self.epochs, dtype=np.float64)
        o = self.options
        out = np.empty(len(ys))
        for i, (row, arch) in enumerate(zip(ys / scale, batch.ids, strict=True)):
            out[i] = mcmc_extrapolate(
                x, row, self.final, curves=self.curves, walkers=o["walkers"],
                burn_in=o["burn_in"], samples=o["samples"], seed=o["seed"],
                key=str(arch)) * scale
        return out


class LcSVRPredictor(FamilyPredictor):
    """LcSVR (Baker et al. 2017): support-vector regression on the architecture's
    encoding, its partial learning curve (the validation accuracies at the lower
    fidelities) and the curve's first and second differences, trained on the labelled
    training architectures. scikit-learn's ``NuSVR`` (RBF kernel) on standardised
    features and the standardised target; ``C``, ``nu`` and ``gamma`` by a seeded random
    search (``n_iter`` draws, C and gamma log-uniform in [1e-5, 10], nu uniform in (0, 1),
    as NASLib's LcSVR) scored by 3-fold cross-validated mean squared error when there are at least
    ``min_tune`` training architectures, else the defaults ``C`` 1, ``nu`` 0.5,
    ``gamma`` ``scale``.

    Options: ``encoding`` (``adjacency_onehot``), ``fidelities`` (epochs; default all
    below the target), ``n_iter``, ``min_tune``. Query cost: training to the last
    fidelity (as for early stopping) plus the measured SVR inference.
    """

    family = LEARNING_CURVE
    trains = True

    def __init__(self, name: str, encoding: str = "adjacency_onehot",
                 fidelities: Sequence[int] | None = None, n_iter: int = 20,
                 min_tune: int = 10) -> None:
        super().__init__(name, encoding=encoding, fidelities=fidelities, n_iter=n_iter,
                         min_tune=min_tune)
        what = opt.subject("family predictor", name)
        opt.integer(what, "n_iter", n_iter, min_value=1)
        opt.integer(what, "min_tune", min_tune, min_value=3)
        self.encoding = encoding
        self.epochs: list[int] = []
        self.cols: list[str] = []
        self.table: TableData | None = None
        self.model: Any = None

    def prepare(self, table: TableData, target: str, context: Context) -> Needs:
        from nasrank.encodings import get_encoding

        wanted = self.options["fidelities"]
        if wanted is None:
            chosen = dict(table.fidelities(target))
            if not chosen:
                raise DataFormatError(
                    f"{self._where(table)}: needs a partial learning curve, columns "
                    f"val_acc_<epochs> below the target {target!r}; the table has none")
        else:
            chosen = dict(_resolve_fidelity(self, table, target, e) for e in wanted)
        get_encoding(table.bench, self.encoding)
        self.epochs = sorted(chosen)
        self.cols = [chosen[e] for e in self.epochs]
        self.table = table
        return Needs(tuple(self.cols), self.encoding,
                     {"encoding": self.encoding, "fidelities": self.epochs})

    def _matrix(self, batch: ArchBatch) -> np.ndarray:
        assert batch.x is not None
        curve = np.stack([batch.column(c) for c in self.cols], axis=1)
        parts = [batch.x.reshape(len(batch), -1).astype(np.float64), curve]
        for order in (1, 2):
            if curve.shape[1] > order:
                parts.append(np.diff(curve, n=order, axis=1))
        return np.concatenate(parts, axis=1)

    def fit(self, batch: ArchBatch, y: np.ndarray, seed: int) -> None:
        from scipy.stats import loguniform, uniform
        from sklearn.compose import TransformedTargetRegressor
        from sklearn.model_selection import KFold, RandomizedSearchCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import NuSVR

        x = self._matrix(batch)
        model = make_pipeline(StandardScaler(), NuSVR(kernel="rbf"))
        if len(y) >= self.options["min_tune"]:
            space = {"nusvr__C": loguniform(1e-5, 10), "nusvr__gamma": loguniform(1e-5, 10),
                     "nusvr__nu": uniform(1e-3, 1 - 2e-3)}
            model = RandomizedSearchCV(
                model, space, n_iter=self.options["n_iter"],
                scoring="neg_mean_squared_error",
                cv=KFold(3, shuffle=True, random_state=seed), random_state=seed, n_jobs=1)
        # the SVR fits the standardised target (C bounds the dual coefficients)
        self.model = TransformedTargetRegressor(model, transformer=StandardScaler())
        self.model.fit(x, np.asarray(y, dtype=np.float64))

    def query(self, batch: ArchBatch) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("query() before fit()")
        return np.asarray(self.model.predict(self._matrix(batch)), dtype=np.float64)

    def data_time(self, batch: ArchBatch) -> float:
        assert self.table is not None
        return _mean_or_nan(self.table.training_time(batch.frame, self.epochs[-1]))


# ----------------------------------------------------------------------- model-based


def default_encoding(predictor: str) -> str:
    """The encoding registered with the predictor (``gcn`` for the GCN, ``renas_tensor``
    for the LeNet, else ``adjacency_onehot`` unless a plugin says otherwise)."""
    from nasrank.predictors import predictor_spec

    return predictor_spec(predictor).encoding


class _Trainer:
    """Fits one registered predictor through :func:`nasrank.train.fit_predictor`."""

    def __init__(self, predictor: str, loss: str | None, trainer: Mapping[str, Any],
                 options: Mapping[str, Any]) -> None:
        from nasrank.predictors import predictor_spec

        spec = predictor_spec(predictor)
        self.predictor = predictor
        self.loss = spec.loss_for(loss or "mse")
        self.trainer = {k: v for k, v in trainer.items() if v is not None}
        own = {k: v for k, v in spec.defaults.items() if k != "seed"}  # the split's seed
        opt.resolve(opt.subject("predictor", predictor), own, options)
        self.options = dict(options)
        self.fitted: Any = None

    def config(self, context: Context, encoding: str, n: int, seed: int) -> Any:
        from nasrank.train import RunConfig, check_loss, config_from_params

        cell = dict(bench=context.bench, task=context.task, encoding=encoding,
                    predictor=self.predictor, loss=self.loss, train_size=n, seed=seed)
        params = context.params
        if params is not None and "train" in params:
            cfg = config_from_params(dict(params), **cell)
        else:
            cfg = RunConfig(**cell)
        cfg = replace(cfg, target=context.target, protocol="naslib",
                      naslib_test_size=context.test_size, **self.trainer,
                      predictor_options={**cfg.predictor_options, **self.options})
        check_loss(cfg)
        return cfg

    @property
    def torch(self) -> bool:
        """Whether the predictor is a torch network (trained with a loss)."""
        from nasrank.predictors import predictor_spec

        return predictor_spec(self.predictor).kind == "torch"

    def request(self, context: Context, encoding: str, x: np.ndarray, y: np.ndarray,
                layout: dict, seed: int) -> SweepFit:
        """The run :meth:`fit` trains, for :func:`nasrank.sweep.fit_predictors`."""
        cfg = self.config(context, encoding, len(y), seed)
        return SweepFit(cfg, x, np.asarray(y, dtype=np.float64), layout)

    def fit(self, context: Context, encoding: str, x: np.ndarray, y: np.ndarray,
            layout: dict, seed: int, unlabeled: np.ndarray | None = None) -> None:
        from nasrank.train import fit_predictor

        run = self.request(context, encoding, x, y, layout, seed)
        self.fitted = fit_predictor(run.cfg, run.x, run.y, run.layout, unlabeled)

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.fitted is None:
            raise RuntimeError("query() before fit()")
        return self.fitted.predict(x)


def _split_options(options: Mapping[str, Any]) -> tuple[dict, dict]:
    trainer = {k: options[k] for k in TRAINER_KEYS if k in options}
    rest = {k: v for k, v in options.items() if k not in TRAINER_KEYS}
    return trainer, rest


class ModelBasedPredictor(FamilyPredictor):
    """A registered predictor of :mod:`nasrank.predictors` on an encoding, trained on the
    labelled training architectures with :func:`nasrank.train.fit_predictor` (inputs
    standardised and the target min-max scaled on the training split).

    Options: ``encoding`` (default :func:`default_encoding`), ``loss`` (torch predictors;
    default ``mse``; trees fit the target, ``regression``), the trainer settings
    :data:`TRAINER_KEYS`, and the predictor's own options (over params.yaml's
    ``predictors.<name>``) and the seed of the split. ``tune`` (``bananas``, ``bonas``,
    ``gcn``, ``mlp``): NASLib's cross-validated random search from 10 training
    architectures on (:mod:`nasrank.families.tuning`; ``tune_trials``,
    ``tune_budget_s``); each tuned row records the search.
    """

    family = MODEL_BASED
    trains = True

    def __init__(self, name: str, encoding: str | None = None, loss: str | None = None,
                 tune: bool = False, tune_trials: int = 10, tune_budget_s: float | None = None,
                 **options: Any) -> None:
        from nasrank.families.tuning import SPACES

        super().__init__(name, encoding=encoding, loss=loss, **options)
        what = opt.subject("family predictor", name)
        if not isinstance(tune, bool):
            raise ConfigError(f"{what}: option 'tune' must be true or false, got {tune!r}")
        if tune and name not in SPACES:
            raise ConfigError(f"{what}: option 'tune': NASLib tunes only "
                              f"{', '.join(SPACES)}")
        if tune:
            self.options.update(tune=True, tune_trials=tune_trials, tune_budget_s=tune_budget_s)
            opt.integer(what, "tune_trials", tune_trials, min_value=1)
            if tune_budget_s is not None:
                opt.number(what, "tune_budget_s", tune_budget_s, min_value=0, strict_min=True)
        self.tune = tune
        self.tune_trials = tune_trials
        self.tune_budget_s = tune_budget_s
        trainer, rest = _split_options(options)
        self.encoding = encoding or default_encoding(name)
        self.base_trainer = _Trainer(name, loss, trainer, rest)
        self.trainer = self.base_trainer  # the one query() uses: a tuned one after tuning
        self.context: Context | None = None
        self.tuned: dict[str, Any] | None = None

    def prepare(self, table: TableData, target: str, context: Context) -> Needs:
        from nasrank.encodings import get_encoding
        from nasrank.predictors import check_input

        enc = get_encoding(table.bench, self.encoding)
        check_input(self.name, enc.shape, enc.layout)
        self.context = context
        return Needs((), self.encoding, {"encoding": self.encoding, "loss": self.trainer.loss})

    def _tunes(self, n: int) -> bool:
        from nasrank.families.tuning import MIN_TUNE_SIZE

        return self.tune and n >= MIN_TUNE_SIZE

    def _configured(self, config: Mapping[str, Any]) -> _Trainer:
        """The trainer with ``config`` over the predictor's options (a torch network's
        trainer settings go to the trainer, everything else to the predictor)."""
        base = self.base_trainer
        trainer, rest = dict(base.trainer), dict(base.options)
        for key, value in config.items():
            (trainer if key in TRAINER_KEYS and base.torch else rest)[key] = value
        return _Trainer(self.name, base.loss, trainer, rest)

    def _cv_tau(self, config: Mapping[str, Any], x: np.ndarray, y: np.ndarray,
                layout: dict, seed: int) -> float:
        """3-fold cross-validated Kendall tau of ``config`` on the training data."""
        from scipy.stats import kendalltau
        from sklearn.model_selection import KFold

        assert self.context is not None
        taus = []
        for tr, va in KFold(3, shuffle=True, random_state=seed).split(x):
            trainer = self._configured(config)
            trainer.fit(self.context, self.encoding, x[tr], y[tr], layout, seed)
            tau = kendalltau(y[va], trainer.predict(x[va])).statistic
            taus.append(tau if np.isfinite(tau) else -1.0)
        return float(np.mean(taus))

    @property
    def wants_unlabeled(self) -> bool:
        from nasrank.predictors import predictor_spec

        return predictor_spec(self.name).unlabeled

    def fit(self, batch: ArchBatch, y: np.ndarray, seed: int,
            unlabeled: ArchBatch | None = None) -> None:
        from nasrank.families.tuning import naslib_budget_s, random_search

        assert self.context is not None and batch.x is not None
        self.tuned = None
        extra = None if unlabeled is None else unlabeled.x
        if not self._tunes(len(y)):
            self.trainer = self.base_trainer
            self.trainer.fit(self.context, self.encoding, batch.x, y, batch.layout, seed,
                             extra)
            return
        budget = self.tune_budget_s or naslib_budget_s(len(y))
        self.tuned = random_search(
            lambda c: self._cv_tau(c, batch.x, y, batch.layout, seed), self.name, seed,
            self.tune_trials, budget)
        self.trainer = self._configured(self.tuned["options"])
        self.trainer.fit(self.context, self.encoding, batch.x, y, batch.layout, seed, extra)

    def fit_details(self) -> dict[str, Any]:
        if self.tuned is None:
            return {}
        return {"tune_trials": self.tuned["trials"], "tune_budget_cut": self.tuned["budget_cut"],
                "tune_cv_kendall_tau": self.tuned["score"],
                "tune_options": json.dumps(self.tuned["options"], sort_keys=True)}

    def sweep_fit(self, batch: ArchBatch, y: np.ndarray, seed: int) -> SweepFit | None:
        if not self.base_trainer.torch or self._tunes(len(y)):
            return None
        assert self.context is not None and batch.x is not None
        return self.base_trainer.request(self.context, self.encoding, batch.x, y,
                                         batch.layout, seed)

    def use_fitted(self, fitted: Any) -> None:
        self.trainer = self.base_trainer
        self.trainer.fitted = fitted

    def query(self, batch: ArchBatch) -> np.ndarray:
        assert batch.x is not None
        return self.trainer.predict(batch.x)


# ----------------------------------------------------------------------- combined


class OmniPredictor(FamilyPredictor):
    """OMNI (White et al. 2021): a boosted-tree model on the concatenation of the
    encoding (adjacency one-hot), zero-cost scores and a learning-curve feature.

    White et al. used NGBoost on one-hot + jacov + SoTL-E (sum of training losses).
    ``omni`` uses NGBoost (the registered ``ngboost`` predictor, NASLib's settings) and
    ``omni_lgb`` LightGBM; our tables hold no training losses, so the learning-curve
    feature is the *validation accuracy at a lower fidelity* (early stopping's signal;
    ``fidelity`` as for ``early_stop``, or ``low_fidelity: false`` to leave it out).

    Options: ``model`` (a registered predictor), ``encoding`` (``adjacency_onehot``),
    ``proxies`` (``[jacov]``), ``fidelity``, ``low_fidelity``, ``model_options`` (the
    model's own options), ``loss`` and trainer settings for a torch model.

    Query cost: the proxies' recorded compute time plus the training to the fidelity
    (NaN where either is not recorded), plus the measured model inference.
    """

    family = COMBINED
    trains = True

    def __init__(self, name: str, model: str = "ngboost", encoding: str = "adjacency_onehot",
                 proxies: Sequence[str] = ("jacov",), fidelity: int | None = None,
                 low_fidelity: bool = True, model_options: Mapping[str, Any] | None = None,
                 loss: str | None = None, **trainer: Any) -> None:
        if isinstance(proxies, str):
            proxies = [proxies]
        super().__init__(name, model=model, encoding=encoding, proxies=list(proxies),
                         fidelity=fidelity, low_fidelity=bool(low_fidelity),
                         model_options=dict(model_options or {}), loss=loss, **trainer)
        opt.resolve(opt.subject("family predictor", name), dict.fromkeys(TRAINER_KEYS),
                    trainer)
        self.model = model
        self.encoding = encoding
        self.proxies = list(proxies)
        self.trainer = _Trainer(model, loss, trainer, dict(model_options or {}))
        self.zc_cols: list[str] = []
        self.time_cols: list[str | None] = []
        self.fid: tuple[int, str] | None = None
        self.context: Context | None = None
        self.table: TableData | None = None

    def prepare(self, table: TableData, target: str, context: Context) -> Needs:
        from nasrank.encodings import get_encoding

        get_encoding(table.bench, self.encoding)
        try:
            self.zc_cols = require_zero_cost(table.path, self.proxies, table=table.name)
        except DataFormatError as exc:
            raise DataFormatError(f"{self._where(table)}: {exc}") from None
        tmap = (table.meta.get("zero_cost") or {}).get("time_columns", {})
        self.time_cols = [tmap.get(p) if table.has(tmap.get(p, "")) else None
                          for p in self.proxies]
        self.fid = (_resolve_fidelity(self, table, target, self.options["fidelity"])
                    if self.options["low_fidelity"] else None)
        if not self.zc_cols and self.fid is None:
            raise ConfigError(f"predictor {self.name!r}: no proxies and no low fidelity: "
                              f"that is the model-based predictor {self.model!r}")
        self.context = context
        self.table = table
        cols = tuple(self.zc_cols) + ((self.fid[1],) if self.fid else ())
        return Needs(cols, self.encoding,
                     {"model": self.model, "encoding": self.encoding, "proxies": self.proxies,
                      "fidelity": self.fid[0] if self.fid else None,
                      "learning_curve_feature": "validation accuracy at the fidelity "
                      "(White et al.: SoTL-E; the tables hold no training losses)"})

    def _matrix(self, batch: ArchBatch) -> np.ndarray:
        assert batch.x is not None
        parts = [batch.x.reshape(len(batch), -1).astype(np.float32)]
        extra = list(self.zc_cols) + ([self.fid[1]] if self.fid else [])
        if extra:
            parts.append(np.stack([batch.column(c) for c in extra], axis=1).astype(np.float32))
        return np.concatenate(parts, axis=1)

    def fit(self, batch: ArchBatch, y: np.ndarray, seed: int) -> None:
        assert self.context is not None
        self.trainer.fit(self.context, "omni", self._matrix(batch), y, {}, seed)

    def sweep_fit(self, batch: ArchBatch, y: np.ndarray, seed: int) -> SweepFit | None:
        if not self.trainer.torch:
            return None
        assert self.context is not None
        return self.trainer.request(self.context, "omni", self._matrix(batch), y, {}, seed)

    def use_fitted(self, fitted: Any) -> None:
        self.trainer.fitted = fitted

    def query(self, batch: ArchBatch) -> np.ndarray:
        return self.trainer.predict(self._matrix(batch))

    def data_time(self, batch: ArchBatch) -> float:
        assert self.table is not None
        total = 0.0
        for tcol in self.time_cols:
            total += math.nan if tcol is None else _mean_or_nan(batch.column(tcol))
        if self.fid is not None:
            total += _mean_or_nan(self.table.training_time(batch.frame, self.fid[0]))
        return total


__all__ = [
    "COMBINED",
    "FAMILY_NAMES",
    "LEARNING_CURVE",
    "MODEL_BASED",
    "TRAINER_KEYS",
    "ZERO_COST",
    "Context",
    "EarlyStopPredictor",
    "FamilyPredictor",
    "LCEMPredictor",
    "LCEPredictor",
    "LcSVRPredictor",
    "ModelBasedPredictor",
    "Needs",
    "OmniPredictor",
    "SweepFit",
    "ZeroCostPredictor",
    "default_encoding",
    "default_fidelity",
]
