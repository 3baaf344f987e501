"""Performance predictors: a registry of networks (trained with a loss) and tree ensembles.

Usage::

    from nasrank.encodings import get_encoding
    from nasrank.predictors import get_predictor, count_parameters

    enc = get_encoding("nb101", "renas_tensor")
    net = get_predictor("lenet", enc.shape)              # nn.Module, kind "torch"
    pred, feats = net(torch.randn(8, *enc.shape))        # (8,), (8, 84)
    count_parameters(net)                                # 813615

    enc = get_encoding("nb101", "gcn")
    gcn = get_predictor("gcn", enc.shape, enc.layout, hidden=144, layers=4, seed=0)

    rf = get_predictor("rf", enc.shape, seed=3, n_estimators=100)   # kind "tree"
    rf.fit(x_train, y_train).predict(x_test)              # (n,)

Two kinds (``spec.kind`` and the instance's ``kind``):

* ``torch`` (``lenet``, ``mlp``, ``gcn``): ``nn.Module``; ``forward(x)`` with ``x`` ``(B,
  *input_shape)`` returns ``(pred (B,), features (B, feature_dim))``, the features being
  the penultimate activations (ReNAS's continuity loss). ``uses_loss = True``: the
  trainer fits them with a loss from :mod:`nasrank.losses`. Initialisation follows the
  global torch RNG (deterministic under ``torch.manual_seed``), or ``seed`` when given
  (the global RNG is then left untouched).
* ``tree`` (``rf``, ``xgb``, ``gp``, ``lightgbm``): ``fit(X, y)`` /
  ``predict(X)`` on the regression target; ``uses_loss = False``; tensor encodings are
  flattened; ``seed`` seeds them and ``n_jobs`` (default 1, where the model has threads)
  keeps them single-threaded and reproducible. ``gp`` and ``lightgbm`` (White et al.
  2021's model-based predictors; defaults documented in
  :mod:`nasrank.predictors.regressors`) need scikit-learn and ``lightgbm``.

Which encodings fit (:func:`check_input`): ``lenet`` needs a 3-D ``(C, H, W)`` tensor
(``renas_tensor``, ``type_matrix``); ``gcn`` needs a packed ``(V, V + T + 1)`` encoding
with a layout naming ``adjacency``, ``ops`` and ``mask`` (``gcn``); ``mlp`` and every
``tree`` predictor take any encoding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nasrank.errors import ConfigError, UnknownNameError

__all__ = [
    "PREDICTORS",
    "PredictorSpec",
    "check_input",
    "compatible",
    "count_parameters",
    "get_predictor",
    "predictor_spec",
]


@dataclass(frozen=True)
class PredictorSpec:
    """One registered predictor.

    Attributes:
        name: registry name (params.yaml, reports).
        kind: ``torch`` (an ``nn.Module`` trained with a loss) or ``tree``.
        uses_loss: whether the trainer's loss applies (``True`` for ``torch``).
        description: one line for reports.
        defaults: every option and its default (``seed`` included).
        fits: which encodings it takes, for error messages.
        build: ``(input_shape, layout, **options) -> predictor``.
        check: ``(input_shape, layout) -> None`` or the reason it cannot take them.
        standardize: whether the trainer standardises its inputs with training-split
            statistics (not for the GCN, whose input is a graph: adjacency, one-hot, mask).
    """

    name: str
    kind: str
    uses_loss: bool
    description: str
    defaults: dict[str, Any]
    fits: str
    build: Callable[..., Any]
    check: Callable[[tuple[int, ...], Mapping[str, Sequence[int]] | None], str | None] = field(
        default=lambda shape, layout: None
    )
    standardize: bool = True


# ----------------------------------------------------------------------- input checks


def _check_lenet(shape: tuple[int, ...], layout: Mapping | None) -> str | None:
    if len(shape) != 3:
        return f"it needs a 3-D (channels, height, width) tensor, got shape {shape}"
    return None


def _check_gcn(shape: tuple[int, ...], layout: Mapping | None) -> str | None:
    if len(shape) != 2:
        return f"it needs a 2-D (nodes, features) packed encoding, got shape {shape}"
    if not layout or not {"adjacency", "ops", "mask"} <= set(layout):
        return f"it needs a layout with 'adjacency', 'ops' and 'mask' slices, got {layout}"
    v, width = shape
    (a0, a1), (o0, o1), (k0, k1) = (layout[k] for k in ("adjacency", "ops", "mask"))
    if a1 - a0 != v or k1 - k0 != 1 or o1 <= o0:
        return f"its layout {dict(layout)} does not fit {v} nodes (adjacency width {v}, mask 1)"
    if max(a1, o1, k1) > width or min(a0, o0, k0) < 0:
        return f"its layout {dict(layout)} exceeds the feature width {width}"
    return None


# ----------------------------------------------------------------------- option checks


def _positive_int(pred: str, key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"predictor {pred!r}: option {key!r} must be a positive integer, "
                          f"got {value!r}")
    return value


def _int_list(pred: str, key: str, value: Any, allow_empty: bool = True) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or (not value and not allow_empty):
        raise ConfigError(f"predictor {pred!r}: option {key!r} must be a list of positive "
                          f"integers, got {value!r}")
    return [_positive_int(pred, key, v) for v in value]


def _dropout(pred: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"predictor {pred!r}: option 'dropout' must be in [0, 1), "
                          f"got {value!r}")
    return float(value)


def _seeded(build: Callable[[], Any], seed: int | None) -> Any:
    """``build()`` under ``torch.manual_seed(seed)`` without touching the global RNG."""
    import torch

    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


# ----------------------------------------------------------------------- builders


def _build_lenet(shape, layout, *, seed=None, conv_channels=(38, 128), fc_hidden=(120, 84)):
    from nasrank.predictors.networks import LeNet

    conv = _int_list("lenet", "conv_channels", conv_channels, allow_empty=False)
    fc = _int_list("lenet", "fc_hidden", fc_hidden)
    return _seeded(lambda: LeNet(shape, conv, fc), seed)


def _build_mlp(shape, layout, *, seed=None, hidden=(256, 256), dropout=0.0):
    from nasrank.predictors.networks import MLP

    widths = _int_list("mlp", "hidden", hidden)
    rate = _dropout("mlp", dropout)
    return _seeded(lambda: MLP(shape, widths, rate), seed)


def _build_gcn(shape, layout, *, seed=None, hidden=144, layers=4, dropout=0.1,
               head_hidden=None, normalization="mean"):
    from nasrank.predictors.networks import GCN

    hidden = _positive_int("gcn", "hidden", hidden)
    layers = _positive_int("gcn", "layers", layers)
    rate = _dropout("gcn", dropout)
    if head_hidden is not None:
        head_hidden = _positive_int("gcn", "head_hidden", head_hidden)
    if normalization not in ("mean", "naslib"):
        raise ConfigError(f"predictor 'gcn': option 'normalization' must be 'mean' or "
                          f"'naslib', got {normalization!r}")
    return _seeded(
        lambda: GCN(shape, layout, hidden, layers, rate, head_hidden, normalization), seed
    )


def _tree_builder(cls_name: str, pred: str) -> Callable[..., Any]:
    def build(shape, layout, *, seed=0, **options):
        from nasrank.predictors import trees

        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"predictor {pred!r}: option 'seed' must be an integer, "
                              f"got {seed!r}")
        for key in ("n_estimators", "n_jobs"):
            _positive_int(pred, key, options[key])
        return getattr(trees, cls_name)(shape, seed=seed, **options)

    return build


def _fraction(pred: str, key: str, value: Any, allow_one: bool = True) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (0 < value < 1 or (allow_one and value == 1)):
        raise ConfigError(f"predictor {pred!r}: option {key!r} must be in (0, 1], got {value!r}")
    return float(value)


def _positive_number(pred: str, key: str, value: Any) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"predictor {pred!r}: option {key!r} must be a positive number, "
                          f"got {value!r}")
    return float(value)


def _check_seed(pred: str, seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"predictor {pred!r}: option 'seed' must be an integer, got {seed!r}")
    return seed


def _build_gp(shape, layout, *, seed=0, kernel="rbf", nu=2.5, length_scale="median",
              noise_level=0.1, normalize_y=True, n_restarts_optimizer=0, alpha=1e-8):
    from nasrank.predictors.regressors import GPPredictor

    _check_seed("gp", seed)
    if kernel not in ("matern", "rbf"):
        raise ConfigError(f"predictor 'gp': option 'kernel' must be 'matern' or 'rbf', "
                          f"got {kernel!r}")
    if nu not in (0.5, 1.5, 2.5):
        raise ConfigError(f"predictor 'gp': option 'nu' must be 0.5, 1.5 or 2.5, got {nu!r}")
    if length_scale != "median":
        length_scale = _positive_number("gp", "length_scale", length_scale)
    for key, value in (("noise_level", noise_level), ("alpha", alpha)):
        _positive_number("gp", key, value)
    if isinstance(n_restarts_optimizer, bool) or not isinstance(n_restarts_optimizer, int) \
            or n_restarts_optimizer < 0:
        raise ConfigError(f"predictor 'gp': option 'n_restarts_optimizer' must be an integer "
                          f">= 0, got {n_restarts_optimizer!r}")
    return GPPredictor(shape, seed=seed, kernel=kernel, nu=float(nu),
                       length_scale=length_scale, noise_level=float(noise_level),
                       normalize_y=bool(normalize_y),
                       n_restarts_optimizer=n_restarts_optimizer, alpha=float(alpha))


def _build_lightgbm(shape, layout, *, seed=0, **options):
    from nasrank.predictors.regressors import LightGBMPredictor

    _check_seed("lightgbm", seed)
    for key in ("n_estimators", "num_leaves", "min_child_samples", "n_jobs"):
        _positive_int("lightgbm", key, options[key])
    _positive_number("lightgbm", "learning_rate", options["learning_rate"])
    for key in ("colsample_bytree", "subsample"):
        _fraction("lightgbm", key, options[key])
    if isinstance(options["subsample_freq"], bool) or not isinstance(
            options["subsample_freq"], int) or options["subsample_freq"] < 0:
        raise ConfigError(f"predictor 'lightgbm': option 'subsample_freq' must be an integer "
                          f">= 0, got {options['subsample_freq']!r}")
    return LightGBMPredictor(shape, seed=seed, **options)


_ANY = "any encoding (tensors are flattened)"

PREDICTORS: dict[str, PredictorSpec] = {
    s.name: s
    for s in (
        PredictorSpec(
            name="lenet",
            kind="torch",
            uses_loss=True,
            description="ReNAS LeNet: 2x (conv3x3 no bias + BN + ReLU) 38/128, FC 120-84-1",
            defaults={"seed": None, "conv_channels": [38, 128], "fc_hidden": [120, 84]},
            fits="3-D tensor encodings (C, H, W): renas_tensor, type_matrix",
            build=_build_lenet,
            check=_check_lenet,
        ),
        PredictorSpec(
            name="mlp",
            kind="torch",
            uses_loss=True,
            description="MLP on the flattened encoding: hidden layers with ReLU, then 1",
            defaults={"seed": None, "hidden": [256, 256], "dropout": 0.0},
            fits=_ANY,
            build=_build_mlp,
        ),
        PredictorSpec(
            name="gcn",
            kind="torch",
            uses_loss=True,
            description="directed GCN (Wen et al. / NASLib): forward+backward propagation, "
            "mean readout over real nodes",
            defaults={"seed": None, "hidden": 144, "layers": 4, "dropout": 0.1,
                      "head_hidden": None, "normalization": "mean"},
            fits="the packed gcn encoding (V, V+T+1) with its adjacency/ops/mask layout: gcn",
            standardize=False,
            build=_build_gcn,
            check=_check_gcn,
        ),
        PredictorSpec(
            name="rf",
            kind="tree",
            uses_loss=False,
            description="random forest (E2EPP): scikit-learn RandomForestRegressor",
            defaults={"seed": 0, "n_estimators": 100, "max_features": 1.0, "max_depth": None,
                      "min_samples_split": 2, "min_samples_leaf": 1, "bootstrap": True,
                      "n_jobs": 1},
            fits=_ANY,
            build=_tree_builder("RandomForestPredictor", "rf"),
        ),
        PredictorSpec(
            name="xgb",
            kind="tree",
            uses_loss=False,
            description="gradient-boosted trees: xgboost XGBRegressor (NASLib defaults)",
            defaults={"seed": 0, "n_estimators": 500, "max_depth": 6, "learning_rate": 0.3,
                      "min_child_weight": 1.0, "subsample": 1.0, "colsample_bytree": 1.0,
                      "colsample_bylevel": 1.0, "reg_lambda": 1.0, "reg_alpha": 0.0,
                      "tree_method": "hist", "n_jobs": 1},
            fits=_ANY,
            build=_tree_builder("XGBPredictor", "xgb"),
        ),
        PredictorSpec(
            name="gp",
            kind="tree",
            uses_loss=False,
            description="Gaussian process: scikit-learn GaussianProcessRegressor, "
            "Constant * RBF (or Matern) + White kernel, normalize_y, posterior mean",
            defaults={"seed": 0, "kernel": "rbf", "nu": 2.5, "length_scale": "median",
                      "noise_level": 0.1, "normalize_y": True, "n_restarts_optimizer": 0,
                      "alpha": 1e-8},
            fits=_ANY,
            build=_build_gp,
        ),
        PredictorSpec(
            name="lightgbm",
            kind="tree",
            uses_loss=False,
            description="gradient-boosted trees: LightGBM LGBMRegressor (NASLib LGBoost "
            "defaults)",
            defaults={"seed": 0, "n_estimators": 100, "learning_rate": 0.05, "num_leaves": 31,
                      "min_child_samples": 5, "colsample_bytree": 0.9, "subsample": 0.8,
                      "subsample_freq": 5, "n_jobs": 1},
            fits=_ANY,
            build=_build_lightgbm,
        ),
    )
}


def predictor_spec(name: str) -> PredictorSpec:
    """The registered spec of ``name``.

    Raises:
        UnknownNameError: listing the registered predictors.
    """
    try:
        return PREDICTORS[name]
    except KeyError:
        raise UnknownNameError("predictor", name, list(PREDICTORS)) from None


def check_input(
    name: str, input_shape: Sequence[int], layout: Mapping[str, Sequence[int]] | None = None
) -> None:
    """Raise :class:`ConfigError` if predictor ``name`` cannot take this encoding.

    Raises:
        UnknownNameError: no predictor ``name``.
        ConfigError: saying why, and which encodings fit.
    """
    spec = predictor_spec(name)
    shape = tuple(int(s) for s in input_shape)
    if not shape or math.prod(shape) < 1:
        raise ConfigError(f"predictor {name!r}: empty input shape {shape}")
    reason = spec.check(shape, layout or None)
    if reason is not None:
        raise ConfigError(
            f"predictor {name!r} cannot take this encoding: {reason}; it fits {spec.fits}"
        )


def compatible(
    name: str, input_shape: Sequence[int], layout: Mapping[str, Sequence[int]] | None = None
) -> bool:
    """Whether predictor ``name`` can take an encoding of this shape and layout."""
    try:
        check_input(name, input_shape, layout)
    except ConfigError:
        return False
    return True


def get_predictor(
    name: str,
    input_shape: Sequence[int],
    layout: Mapping[str, Sequence[int]] | None = None,
    **options: Any,
) -> Any:
    """Build predictor ``name`` for encodings of ``input_shape`` (and ``layout``).

    Args:
        name: a key of :data:`PREDICTORS`.
        input_shape: per-architecture encoding shape (``Encoding.shape``).
        layout: ``Encoding.layout`` (needed by ``gcn``).
        options: overrides of ``PREDICTORS[name].defaults``.

    Raises:
        UnknownNameError: no predictor ``name``; the message lists them.
        ConfigError: an unknown or invalid option, or an encoding the predictor cannot take.
    """
    spec = predictor_spec(name)
    unknown = sorted(set(options) - set(spec.defaults))
    if unknown:
        raise ConfigError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"for predictor {name!r}; its options: {', '.join(sorted(spec.defaults))}"
        )
    check_input(name, input_shape, layout)
    shape = tuple(int(s) for s in input_shape)
    return spec.build(shape, dict(layout) if layout else None, **{**spec.defaults, **options})


def count_parameters(module: Any, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a torch module; BN running stats excluded."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
