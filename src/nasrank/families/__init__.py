"""Predictor families of White et al. (NeurIPS 2021), "How Powerful are Performance
Predictors in Neural Architecture Search?", under NASLib's evaluation protocol.

One registry (:data:`FAMILY_PREDICTORS`), one fit/query interface
(:class:`~nasrank.families.predictors.FamilyPredictor`) and one protocol
(:mod:`nasrank.families.protocol`) for four families:

``zero_cost``
    One predictor per proxy NASLib ships (``jacov``, ``synflow``, ``snip``,
    ``grad_norm``, ``grasp``, ``fisher``, ``epe_nas``, ``nwot``, ``l2_norm``, ``plain``,
    ``flops``, ``params``, ``zen``): the table's ``zc_<proxy>`` score is the prediction;
    nothing is fitted. Query time: the proxy's mean recorded compute time on the queried
    cells (``zc_<proxy>_time_s``; NaN on NB101, whose file records none).
``learning_curve``
    ``early_stop``: the validation accuracy at a lower fidelity (NB101 ``val_acc_4/12/36``
    -> ``val_acc_108``; NB201 ``val_acc_12`` -> the target), option ``fidelity``.
    ``lce``: parametric learning curves (pow3, log power, exp3, ilog2;
    :mod:`nasrank.families.curves`) fitted to each architecture's partial curve and
    extrapolated to the final epoch; needs >= 3 fidelities (NB101 only). Query time: the
    training to the fidelity (NB101: ``train_time_108 * epochs / 108``, an
    approximation), NaN where the table records no training time.
``model_based``
    Every predictor of :mod:`nasrank.predictors` (``rf``, ``xgb``, ``gp``, ``lightgbm``,
    ``mlp``, ``gcn``, ``lenet``) on an encoding (default
    ``adjacency_onehot``; ``gcn`` for the GCN), trained with
    :func:`nasrank.train.fit_predictor`.
``combined``
    ``omni``: LightGBM on [adjacency one-hot, zero-cost scores (default ``jacov``),
    validation accuracy at a lower fidelity]. White et al.'s OMNI used NGBoost and SoTL-E
    (a sum of training losses) as its learning-curve feature; NGBoost pins an older
    scikit-learn and the tables hold no training losses, so we use LightGBM and the
    low-fidelity validation accuracy instead.

What each needs is checked against the table: a missing proxy or fidelity is a
:class:`~nasrank.errors.DataFormatError` naming the predictor, the proxy or fidelity and
the table (benchmark).

Data caveats: NB101's zero-cost proxies exist for NASLib's 292 cells, of which only 26
carry ``val_acc_108`` (use ``target: naslib_val_acc`` for the 292); NB201's proxies and
``val_acc_200`` (White et al.'s label) exist for NASLib's 725 cells, while the tables'
default target ``test_acc_200`` covers all 15,625; DARTS labels are NB301 surrogate
predictions (``surrogate_labels`` in every result).

Usage::

    from nasrank.families import FAMILY_PREDICTORS, run_family, zero_cost_table

    res = run_family("nb101", "early_stop", seed=0, params=params,
                     settings={"options": {"fidelity": 12}})
    res["pool_size"], res["rows"][0]["kendall_tau"], res["rows"][0]["query_time_s"]

    res = run_family("nb201-cifar10", "omni", seed=3, params=params,
                     settings={"target": "val_acc_200", "train_sizes": [14, 121]})
"""

from nasrank.families.curves import CURVES, extrapolate, fit_curve
from nasrank.families.data import ArchBatch, TableData
from nasrank.families.predictors import (
    COMBINED,
    FAMILY_NAMES,
    LEARNING_CURVE,
    MODEL_BASED,
    ZERO_COST,
    FamilyPredictor,
    Needs,
)
from nasrank.families.protocol import (
    DARTS_TRAIN_SIZES,
    NASLIB_TRAIN_SIZES,
    SETTINGS_DEFAULTS,
    evaluate,
    evaluate_seeds,
    naslib_split,
    results_frame,
    run_family,
    zero_cost_table,
)
from nasrank.families.registry import (
    FAMILY_PREDICTORS,
    FamilySpec,
    family_predictors,
    family_spec,
    get_family_predictor,
)

__all__ = [
    "COMBINED",
    "CURVES",
    "DARTS_TRAIN_SIZES",
    "FAMILY_NAMES",
    "FAMILY_PREDICTORS",
    "LEARNING_CURVE",
    "MODEL_BASED",
    "NASLIB_TRAIN_SIZES",
    "SETTINGS_DEFAULTS",
    "ZERO_COST",
    "ArchBatch",
    "FamilyPredictor",
    "FamilySpec",
    "Needs",
    "TableData",
    "evaluate",
    "evaluate_seeds",
    "extrapolate",
    "family_predictors",
    "family_spec",
    "fit_curve",
    "get_family_predictor",
    "naslib_split",
    "results_frame",
    "run_family",
    "zero_cost_table",
]
