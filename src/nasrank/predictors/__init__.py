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
* ``tree`` (``rf``, ``xgb``, ``gp``, ``lightgbm``, ``blr``, ``ngboost``, ``dngo``,
  ``bananas``, ``bonas``, ``bohamiann``, ``sparse_gp``, ``var_sparse_gp``, ``nao``,
  ``seminas``): ``fit(X, y)`` /
  ``predict(X)`` on the regression target; ``uses_loss = False``; tensor encodings are
  flattened; ``seed`` seeds them and ``n_jobs`` (default 1, where the model has threads)
  keeps them single-threaded and reproducible. ``gp`` and ``lightgbm`` (White et al.
  2021's model-based predictors; defaults documented in
  :mod:`nasrank.predictors.regressors`) need scikit-learn and ``lightgbm``; ``blr``,
  ``ngboost``, ``dngo``, ``bananas``, ``bonas`` and ``bohamiann``
  (:mod:`nasrank.predictors.bayesian`) need scikit-learn and ``ngboost``, the last four
  train (or sample) small torch networks inside ``fit``;
  ``sparse_gp`` and ``var_sparse_gp`` (:mod:`nasrank.predictors.sparse_gp`) need
  ``gpytorch``; ``nao`` and ``seminas`` (:mod:`nasrank.predictors.nao`) train an LSTM
  encoder-decoder, and ``seminas`` (``spec.unlabeled``) also takes unlabelled
  architectures: ``fit(X, y, unlabeled=U)``.

Which encodings fit (:func:`check_input`): ``lenet`` needs a 3-D ``(C, H, W)`` tensor
(``renas_tensor``, ``type_matrix``); ``gcn`` needs a packed ``(V, V + T + 1)`` encoding
with a layout naming ``adjacency``, ``ops`` and ``mask`` (``gcn``), and so do ``bonas``,
``nao`` and ``seminas``;
``mlp`` and every other ``tree`` predictor take any encoding.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from nasrank import options as opt
from nasrank.errors import ConfigError
from nasrank.plugins import load_entry_points
from nasrank.predictors.catalog import (
    ANY_ENCODING,
    PREDICTORS,
    PredictorSpec,
    predictor_spec,
    register_predictor,
)

__all__ = [
    "ANY_ENCODING",
    "PREDICTORS",
    "PredictorSpec",
    "check_input",
    "compatible",
    "count_parameters",
    "get_predictor",
    "predictor_spec",
    "register_predictor",
]


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


# ----------------------------------------------------------------------- builders


def _dropout(what: str, value: Any) -> float:
    return opt.number(what, "dropout", value, min_value=0, max_value=1, strict_max=True)


@register_predictor(
    "lenet", kind="torch", encoding="renas_tensor", check=_check_lenet,
    description="ReNAS LeNet: 2x (conv3x3 no bias + BN + ReLU) 38/128, FC 120-84-1",
    fits="3-D tensor encodings (C, H, W): renas_tensor, type_matrix",
    defaults={"conv_channels": [38, 128], "fc_hidden": [120, 84]})
def _build_lenet(shape, layout, *, conv_channels=(38, 128), fc_hidden=(120, 84)):
    from nasrank.predictors.networks import LeNet

    what = opt.subject("predictor", "lenet")
    conv = opt.int_list(what, "conv_channels", conv_channels, allow_empty=False)
    return LeNet(shape, conv, opt.int_list(what, "fc_hidden", fc_hidden))


@register_predictor(
    "mlp", kind="torch",
    description="MLP on the flattened encoding: hidden layers with ReLU, then 1",
    defaults={"hidden": [256, 256], "dropout": 0.0})
def _build_mlp(shape, layout, *, hidden=(256, 256), dropout=0.0):
    from nasrank.predictors.networks import MLP

    what = opt.subject("predictor", "mlp")
    return MLP(shape, opt.int_list(what, "hidden", hidden), _dropout(what, dropout))


@register_predictor(
    "gcn", kind="torch", encoding="gcn", check=_check_gcn, standardize=False,
    description="directed GCN (Wen et al. / NASLib): forward+backward propagation, "
    "mean readout over real nodes",
    fits="the packed gcn encoding (V, V+T+1) with its adjacency/ops/mask layout: gcn")
def _build_gcn(shape, layout, *, hidden=144, layers=4, dropout=0.1, head_hidden=None,
               normalization="mean"):
    from nasrank.predictors.networks import GCN

    what = opt.subject("predictor", "gcn")
    hidden = opt.integer(what, "hidden", hidden, min_value=1)
    layers = opt.integer(what, "layers", layers, min_value=1)
    rate = _dropout(what, dropout)
    if head_hidden is not None:
        head_hidden = opt.integer(what, "head_hidden", head_hidden, min_value=1)
    opt.choice(what, "normalization", normalization, ("mean", "naslib"))
    return GCN(shape, layout, hidden, layers, rate, head_hidden, normalization)


def _tree_builder(cls_name: str, pred: str) -> Any:
    def build(shape, layout, *, seed=0, **options):
        from nasrank.predictors import trees

        what = opt.subject("predictor", pred)
        opt.integer(what, "seed", seed)
        for key in ("n_estimators", "n_jobs"):
            opt.integer(what, key, options[key], min_value=1)
        return getattr(trees, cls_name)(shape, seed=seed, **options)

    return build


register_predictor(
    "rf", kind="tree",
    description="random forest (E2EPP): scikit-learn RandomForestRegressor",
    defaults={"seed": 0, "n_estimators": 100, "max_features": 1.0, "max_depth": None,
              "min_samples_split": 2, "min_samples_leaf": 1, "bootstrap": True, "n_jobs": 1},
)(_tree_builder("RandomForestPredictor", "rf"))

register_predictor(
    "xgb", kind="tree",
    description="gradient-boosted trees: xgboost XGBRegressor (NASLib defaults)",
    defaults={"seed": 0, "n_estimators": 500, "max_depth": 6, "learning_rate": 0.3,
              "min_child_weight": 1.0, "subsample": 1.0, "colsample_bytree": 1.0,
              "colsample_bylevel": 1.0, "reg_lambda": 1.0, "reg_alpha": 0.0,
              "tree_method": "hist", "n_jobs": 1},
)(_tree_builder("XGBPredictor", "xgb"))


@register_predictor(
    "gp", kind="tree",
    description="Gaussian process: scikit-learn GaussianProcessRegressor, "
    "Constant * RBF (or Matern) + White kernel, normalize_y, posterior mean")
def _build_gp(shape, layout, *, seed=0, kernel="rbf", nu=2.5, length_scale="median",
              noise_level=0.1, normalize_y=True, n_restarts_optimizer=0, alpha=1e-8):
    from nasrank.predictors.regressors import GPPredictor

    what = opt.subject("predictor", "gp")
    opt.integer(what, "seed", seed)
    opt.choice(what, "kernel", kernel, ("matern", "rbf"))
    opt.choice(what, "nu", nu, (0.5, 1.5, 2.5))
    if length_scale != "median":
        length_scale = opt.number(what, "length_scale", length_scale, min_value=0,
                                  strict_min=True)
    for key, value in (("noise_level", noise_level), ("alpha", alpha)):
        opt.number(what, key, value, min_value=0, strict_min=True)
    opt.integer(what, "n_restarts_optimizer", n_restarts_optimizer, min_value=0)
    return GPPredictor(shape, seed=seed, kernel=kernel, nu=float(nu),
                       length_scale=length_scale, noise_level=float(noise_level),
                       normalize_y=bool(normalize_y),
                       n_restarts_optimizer=n_restarts_optimizer, alpha=float(alpha))


@register_predictor(
    "lightgbm", kind="tree",
    description="gradient-boosted trees: LightGBM LGBMRegressor (NASLib LGBoost defaults)",
    defaults={"seed": 0, "n_estimators": 100, "learning_rate": 0.05, "num_leaves": 31,
              "min_child_samples": 5, "colsample_bytree": 0.9, "subsample": 0.8,
              "subsample_freq": 5, "n_jobs": 1})
def _build_lightgbm(shape, layout, *, seed=0, **options):
    from nasrank.predictors.regressors import LightGBMPredictor

    what = opt.subject("predictor", "lightgbm")
    opt.integer(what, "seed", seed)
    for key in ("n_estimators", "num_leaves", "min_child_samples", "n_jobs"):
        opt.integer(what, key, options[key], min_value=1)
    opt.number(what, "learning_rate", options["learning_rate"], min_value=0, strict_min=True)
    for key in ("colsample_bytree", "subsample"):
        opt.number(what, key, options[key], min_value=0, max_value=1, strict_min=True)
    opt.integer(what, "subsample_freq", options["subsample_freq"], min_value=0)
    return LightGBMPredictor(shape, seed=seed, **options)


@register_predictor(
    "blr", kind="tree",
    description="Bayesian linear regression: scikit-learn BayesianRidge, posterior mean",
    defaults={"seed": 0, "max_iter": 300, "tol": 1e-3, "fit_intercept": True})
def _build_blr(shape, layout, *, seed=0, **options):
    from nasrank.predictors.bayesian import BLRPredictor

    what = opt.subject("predictor", "blr")
    opt.integer(what, "seed", seed)
    opt.integer(what, "max_iter", options["max_iter"], min_value=1)
    opt.number(what, "tol", options["tol"], min_value=0, strict_min=True)
    return BLRPredictor(shape, seed=seed, **options)


@register_predictor(
    "ngboost", kind="tree",
    description="natural-gradient boosting: ngboost NGBRegressor, Normal, log score, "
    "regression trees (NASLib defaults)",
    defaults={"seed": 0, "n_estimators": 505, "learning_rate": 0.0813,
              "minibatch_frac": 0.508, "max_depth": 6, "max_features": 0.792,
              "min_samples_leaf": 15, "min_samples_split": 20})
def _build_ngboost(shape, layout, *, seed=0, **options):
    from nasrank.predictors.bayesian import NGBoostPredictor

    what = opt.subject("predictor", "ngboost")
    opt.integer(what, "seed", seed)
    for key in ("n_estimators", "max_depth", "min_samples_leaf"):
        opt.integer(what, key, options[key], min_value=1)
    opt.integer(what, "min_samples_split", options["min_samples_split"], min_value=2)
    opt.number(what, "learning_rate", options["learning_rate"], min_value=0, strict_min=True)
    for key in ("minibatch_frac", "max_features"):
        opt.number(what, key, options[key], min_value=0, max_value=1, strict_min=True)
    return NGBoostPredictor(shape, seed=seed, **options)


@register_predictor(
    "dngo", kind="tree",
    description="DNGO: MLP (tanh) features, Bayesian linear regression on the last "
    "hidden layer")
def _build_dngo(shape, layout, *, seed=0, hidden=(50, 50, 50), epochs=200, batch_size=32,
                learning_rate=0.01):
    from nasrank.predictors.bayesian import DNGOPredictor

    what = opt.subject("predictor", "dngo")
    opt.integer(what, "seed", seed)
    pred = DNGOPredictor(shape, seed=seed, hidden=opt.int_list(what, "hidden", hidden,
                                                               allow_empty=False),
                         epochs=epochs, batch_size=batch_size, learning_rate=learning_rate)
    pred._check_training()
    return pred


@register_predictor(
    "bananas", kind="tree", encoding="path",
    description="BANANAS: ensemble of MLPs trained with the MAPE loss, ensemble mean")
def _build_bananas(shape, layout, *, seed=0, members=3, layers=10, width=20, epochs=200,
                   batch_size=32, learning_rate=0.01, lower_bound=-0.1):
    from nasrank.predictors.bayesian import BananasPredictor

    what = opt.subject("predictor", "bananas")
    opt.integer(what, "seed", seed)
    for key, value in (("members", members), ("layers", layers), ("width", width)):
        opt.integer(what, key, value, min_value=1)
    opt.number(what, "lower_bound", lower_bound, max_value=0, strict_max=True)
    pred = BananasPredictor(shape, seed=seed, members=members, layers=layers, width=width,
                            epochs=epochs, batch_size=batch_size,
                            learning_rate=learning_rate, lower_bound=float(lower_bound))
    pred._check_training()
    return pred


@register_predictor(
    "bonas", kind="tree", encoding="gcn", check=_check_gcn, standardize=False,
    description="BONAS: GCN embedding trained with MSE, Bayesian linear regression on it",
    fits="the packed gcn encoding (V, V+T+1) with its adjacency/ops/mask layout: gcn")
def _build_bonas(shape, layout, *, seed=0, hidden=64, layers=4, epochs=100, batch_size=128,
                 learning_rate=0.01):
    from nasrank.predictors.bayesian import BONASPredictor

    what = opt.subject("predictor", "bonas")
    opt.integer(what, "seed", seed)
    for key, value in (("hidden", hidden), ("layers", layers), ("epochs", epochs),
                       ("batch_size", batch_size)):
        opt.integer(what, key, value, min_value=1)
    opt.number(what, "learning_rate", learning_rate, min_value=0, strict_min=True)
    return BONASPredictor(shape, layout, seed=seed, hidden=hidden, layers=layers,
                          epochs=epochs, batch_size=batch_size, learning_rate=learning_rate)


@register_predictor(
    "bohamiann", kind="tree",
    description="BOHAMIANN: Bayesian MLP (tanh) sampled by scale-adapted SGHMC, mean over "
    "samples")
def _build_bohamiann(shape, layout, *, seed=0, hidden=(50, 50, 50), steps=3000,
                     burn_in=1000, keep_every=50, batch_size=20, step_size=0.01,
                     mdecay=0.05):
    from nasrank.predictors.bayesian import BOHAMIANNPredictor

    what = opt.subject("predictor", "bohamiann")
    opt.integer(what, "seed", seed)
    for key, value in (("steps", steps), ("keep_every", keep_every),
                       ("batch_size", batch_size)):
        opt.integer(what, key, value, min_value=1)
    if opt.integer(what, "burn_in", burn_in, min_value=0) >= steps:
        raise ConfigError(f"{what}: option 'burn_in' ({burn_in}) must be below 'steps' "
                          f"({steps}): no sample would be kept")
    opt.number(what, "step_size", step_size, min_value=0, strict_min=True)
    opt.number(what, "mdecay", mdecay, min_value=0, max_value=1, strict_min=True)
    return BOHAMIANNPredictor(shape, seed=seed, steps=steps, burn_in=burn_in,
                              keep_every=keep_every, batch_size=batch_size,
                              step_size=step_size, mdecay=mdecay,
                              hidden=opt.int_list(what, "hidden", hidden, allow_empty=False))


def _sparse_gp_builder(name: str, cls_name: str) -> Any:
    def build(shape, layout, *, seed=0, num_inducing=10, steps=200, learning_rate=0.05):
        from nasrank.predictors import sparse_gp

        what = opt.subject("predictor", name)
        opt.integer(what, "seed", seed)
        opt.integer(what, "num_inducing", num_inducing, min_value=1)
        opt.integer(what, "steps", steps, min_value=1)
        opt.number(what, "learning_rate", learning_rate, min_value=0, strict_min=True)
        return getattr(sparse_gp, cls_name)(shape, seed=seed, num_inducing=num_inducing,
                                            steps=steps, learning_rate=learning_rate)

    return build


register_predictor(
    "sparse_gp", kind="tree",
    description="sparse GP (SGPR, Titsias 2009): GPyTorch InducingPointKernel over an RBF "
    "kernel, 10 inducing points, posterior mean",
)(_sparse_gp_builder("sparse_gp", "SparseGPPredictor"))

register_predictor(
    "var_sparse_gp", kind="tree",
    description="variational sparse GP (SVGP, Hensman et al. 2015): GPyTorch "
    "VariationalStrategy, 10 learned inducing points, ELBO, posterior mean",
)(_sparse_gp_builder("var_sparse_gp", "VarSparseGPPredictor"))


def _nao_builder(name: str, semi: bool) -> Any:
    def build(shape, layout, *, seed=0, hidden=64, mlp_hidden=16, dropout=0.1,
              pretrain_epochs=50, epochs=50, batch_size=100, learning_rate=0.001,
              weight_decay=1e-4, trade_off=0.8, grad_bound=5.0, unlabeled_factor=1,
              up_sample_ratio=10):
        from nasrank.predictors.nao import NAOPredictor

        what = opt.subject("predictor", name)
        opt.integer(what, "seed", seed)
        for key, value in (("hidden", hidden), ("mlp_hidden", mlp_hidden),
                           ("pretrain_epochs", pretrain_epochs), ("epochs", epochs),
                           ("batch_size", batch_size), ("unlabeled_factor", unlabeled_factor),
                           ("up_sample_ratio", up_sample_ratio)):
            opt.integer(what, key, value, min_value=1)
        opt.number(what, "learning_rate", learning_rate, min_value=0, strict_min=True)
        opt.number(what, "weight_decay", weight_decay, min_value=0)
        opt.number(what, "grad_bound", grad_bound, min_value=0, strict_min=True)
        opt.number(what, "trade_off", trade_off, min_value=0, max_value=1)
        return NAOPredictor(shape, layout, seed=seed, semi=semi, hidden=hidden,
                            mlp_hidden=mlp_hidden, dropout=_dropout(what, dropout),
                            pretrain_epochs=pretrain_epochs, epochs=epochs,
                            batch_size=batch_size, learning_rate=learning_rate,
                            weight_decay=weight_decay, trade_off=trade_off,
                            grad_bound=grad_bound, unlabeled_factor=unlabeled_factor,
                            up_sample_ratio=up_sample_ratio)

    return build


register_predictor(
    "nao", kind="tree", encoding="gcn", check=_check_gcn, standardize=False,
    fits="the packed gcn encoding (V, V+T+1) with its adjacency/ops/mask layout: gcn",
    description="NAO (Luo et al. 2018): LSTM encoder-predictor-decoder on the cell as a "
    "token sequence, MSE + reconstruction (NASLib's SemiNASPredictor, semi=False)",
)(_nao_builder("nao", semi=False))

register_predictor(
    "seminas", kind="tree", encoding="gcn", check=_check_gcn, standardize=False,
    unlabeled=True,
    fits="the packed gcn encoding (V, V+T+1) with its adjacency/ops/mask layout: gcn",
    description="SemiNAS (Luo et al. 2020): NAO pre-trained, then trained again on the "
    "labelled cells (x10) and as many unlabelled ones pseudo-labelled by itself",
)(_nao_builder("seminas", semi=True))


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
    merged = opt.resolve(opt.subject("predictor", name), spec.defaults, options)
    check_input(name, input_shape, layout)
    shape = tuple(int(s) for s in input_shape)
    return spec.build(shape, dict(layout) if layout else None, **merged)


def count_parameters(module: Any, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of a torch module; BN running stats excluded."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


load_entry_points("predictors")  # after the built-ins: a plugin may import them
