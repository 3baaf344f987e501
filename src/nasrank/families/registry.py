"""The registry of family predictors: name -> :class:`FamilySpec`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from nasrank import options as opt
from nasrank.benchmarks.zero_cost import PROXY_DOCS
from nasrank.errors import UnknownNameError
from nasrank.families.curves import DEFAULT_CURVES
from nasrank.families.predictors import (
    COMBINED,
    FAMILY_NAMES,
    LEARNING_CURVE,
    MODEL_BASED,
    TRAINER_KEYS,
    ZERO_COST,
    EarlyStopPredictor,
    FamilyPredictor,
    LCEMPredictor,
    LCEPredictor,
    LcSVRPredictor,
    ModelBasedPredictor,
    OmniPredictor,
    ZeroCostPredictor,
    default_encoding,
)


@dataclass(frozen=True)
class FamilySpec:
    """One family predictor.

    Attributes:
        name: registry name (``jacov``, ``early_stop``, ``xgb``, ``omni``, ...).
        family: ``zero_cost`` | ``learning_curve`` | ``model_based`` | ``combined``.
        description: one line for reports.
        needs: what data it needs, in words.
        defaults: its options and their defaults.
        trains: whether it is fitted on labelled training architectures (only those
            depend on the train size).
        build: ``(**options) -> FamilyPredictor``.
        passed_options: further options it accepts without a default here: a
            model-based predictor's own options (defaults: params.yaml's
            ``predictors.<name>``, then ``nasrank.predictors.PREDICTORS[name].defaults``).
    """

    name: str
    family: str
    description: str
    needs: str
    defaults: dict[str, Any]
    trains: bool
    build: Callable[..., FamilyPredictor]
    passed_options: tuple[str, ...] = ()


def _zero_cost(proxy: str) -> FamilySpec:
    return FamilySpec(
        name=proxy, family=ZERO_COST,
        description=f"zero-cost proxy {proxy}: {PROXY_DOCS[proxy]}",
        needs=f"the table's zc_{proxy} column (zc_{proxy}_time_s for the query time)",
        defaults={}, trains=False,
        build=lambda **o: ZeroCostPredictor(proxy, proxy=proxy, **o),
    )


def _model_based(name: str) -> FamilySpec:
    from nasrank.families.tuning import SPACES
    from nasrank.predictors import PREDICTORS

    spec = PREDICTORS[name]
    own = tuple(sorted(k for k in spec.defaults if k != "seed"))
    tuning = {"tune": False, "tune_trials": 10, "tune_budget_s": None} if name in SPACES else {}
    return FamilySpec(
        name=name, family=MODEL_BASED,
        description=f"{spec.description} on an encoding (default {default_encoding(name)})",
        needs=f"the target and an encoding's features ({spec.fits})",
        defaults={"encoding": default_encoding(name),
                  "loss": spec.loss_for("mse"),
                  **dict.fromkeys(TRAINER_KEYS), **tuning},
        trains=True,
        build=lambda **o: ModelBasedPredictor(name, **o),
        passed_options=own,
    )


def _fixed() -> tuple[list[FamilySpec], list[FamilySpec]]:
    """The predictors that are not registered predictors: before and after them."""
    specs = [_zero_cost(p) for p in PROXY_DOCS]
    specs += [
        FamilySpec(
            name="early_stop", family=LEARNING_CURVE,
            description="early stopping (validation accuracy): the accuracy at a lower "
            "fidelity predicts the final one",
            needs="a val_acc_<epochs> column below the target (NB101 4/12/36, NB201 12)",
            defaults={"fidelity": None}, trains=False,
            build=lambda **o: EarlyStopPredictor("early_stop", **o),
        ),
        FamilySpec(
            name="lce", family=LEARNING_CURVE,
            description="learning-curve extrapolation: parametric curves (pow3, log power, "
            "exp3, ilog2) fitted per architecture, extrapolated to the final epoch",
            needs="at least 3 val_acc_<epochs> columns below the target (NB101 only)",
            defaults={"fidelities": None, "curves": list(DEFAULT_CURVES),
                      "combine": "mean"},
            trains=False,
            build=lambda **o: LCEPredictor("lce", **o),
        ),
        FamilySpec(
            name="lce_m", family=LEARNING_CURVE,
            description="LCE-m: Bayesian weighted combination of the curve families "
            "(Domhan et al.), sampled by MCMC (emcee), posterior mean at the final epoch",
            needs="at least 3 val_acc_<epochs> columns below the target (NB101 only)",
            defaults={"fidelities": None, "curves": list(DEFAULT_CURVES),
                      "walkers": 50, "burn_in": 500, "samples": 800, "seed": 0},
            trains=False,
            build=lambda **o: LCEMPredictor("lce_m", **o),
        ),
        FamilySpec(
            name="lcsvr", family=LEARNING_CURVE,
            description="LcSVR: nu-SVR on the encoding, the partial learning curve and its "
            "differences, C/nu/gamma by 3-fold cross-validated random search",
            needs="the encoding's features and at least one val_acc_<epochs> column below "
            "the target (NB101, NB201)",
            defaults={"encoding": "adjacency_onehot", "fidelities": None, "n_iter": 20,
                      "min_tune": 10},
            trains=True,
            build=lambda **o: LcSVRPredictor("lcsvr", **o),
        ),
    ]
    omni_needs = ("the encoding's features, the zero-cost proxies' columns and a "
                  "val_acc_<epochs> column below the target")
    omni_defaults = {"encoding": "adjacency_onehot", "proxies": ["jacov"], "fidelity": None,
                     "low_fidelity": True, "model_options": {}, "loss": None,
                     **dict.fromkeys(TRAINER_KEYS)}
    after = [
        FamilySpec(
            name="omni", family=COMBINED,
            description="OMNI (White et al.): NGBoost on [adjacency one-hot, jacov, "
            "low-fidelity validation accuracy] (the paper: SoTL-E for the last)",
            needs=omni_needs, defaults={"model": "ngboost", **omni_defaults}, trains=True,
            build=lambda **o: OmniPredictor("omni", **o),
        ),
        FamilySpec(
            name="omni_lgb", family=COMBINED,
            description="OMNI with LightGBM in place of NGBoost, on the same features",
            needs=omni_needs, defaults={"model": "lightgbm", **omni_defaults}, trains=True,
            build=lambda **o: OmniPredictor("omni_lgb", **o),
        ),
    ]
    return specs, after


class _FamilyRegistry(Mapping[str, FamilySpec]):
    """Name -> :class:`FamilySpec`: the zero-cost proxies, the learning-curve methods,
    every predictor of :data:`nasrank.predictors.PREDICTORS` as a model-based one (read
    at each lookup, so a plugin's predictor registered later is one too), then OMNI
    (NGBoost) and OMNI with LightGBM."""

    def __init__(self) -> None:
        self._before, self._after = _fixed()

    def _specs(self) -> dict[str, FamilySpec]:
        from nasrank.predictors import PREDICTORS

        specs = [*self._before, *(_model_based(n) for n in PREDICTORS), *self._after]
        return {s.name: s for s in specs}

    def __getitem__(self, name: str) -> FamilySpec:
        return self._specs()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs())

    def __len__(self) -> int:
        return len(self._specs())


FAMILY_PREDICTORS: Mapping[str, FamilySpec] = _FamilyRegistry()


def family_spec(name: str) -> FamilySpec:
    """The spec of ``name``.

    Raises:
        UnknownNameError: listing the registered family predictors.
    """
    try:
        return FAMILY_PREDICTORS[name]
    except KeyError:
        raise UnknownNameError("family predictor", name, list(FAMILY_PREDICTORS)) from None


def family_predictors(family: str | None = None) -> list[str]:
    """Names of the registered predictors (of one family)."""
    if family is not None and family not in FAMILY_NAMES:
        raise UnknownNameError("predictor family", family, list(FAMILY_NAMES))
    return [n for n, s in FAMILY_PREDICTORS.items() if family is None or s.family == family]


def get_family_predictor(name: str, **options: Any) -> FamilyPredictor:
    """A fresh predictor ``name`` with ``options`` over its defaults.

    Raises:
        UnknownNameError: no such predictor.
        ConfigError: an unknown or invalid option.
    """
    spec = family_spec(name)
    accepted = {**dict.fromkeys(spec.passed_options), **spec.defaults}
    opt.resolve(opt.subject("family predictor", name), accepted, options)
    return spec.build(**{**spec.defaults, **options})


__all__ = ["FAMILY_PREDICTORS", "FamilySpec", "family_predictors", "family_spec",
           "get_family_predictor"]
