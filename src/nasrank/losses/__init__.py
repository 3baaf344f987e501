"""Losses of performance predictors for NAS, behind one registry.

Names: ``mse``, ``l1``, ``hr``, ``lr``, ``mse_sr``, ``listmle``, ``ew``, ``mape``,
``warp``, ``renas``, ``piecewise``. Each class documents its formula and source, and
registers itself with its family, label and colour (:func:`register_loss`, in
:mod:`nasrank.losses.catalog`): a new loss is one decorated class.

Usage::

    from nasrank.losses import LossContext, get_loss

    loss_fn = get_loss("hr", margin=0.1)
    loss = loss_fn(pred, target, features=None, ctx=LossContext(epoch=3, train_size=100))
    loss.backward()

``pred`` and ``target`` are (B,) tensors, targets min-max scaled to [0, 1] on the
training split (higher is better). ``features`` (B, D) are the predictor's penultimate
features, needed only where ``loss_fn.needs_features`` is true (``renas``).

Losses defined outside nasrank register as plugins (:mod:`nasrank.plugins`):
params.yaml's ``plugins:`` modules, imported by :func:`nasrank.config.check_params`, and
installed packages' entry points of the group ``nasrank.losses``, loaded here, when the
package is first imported (after the built-in losses, so that a plugin module can import
anything of :mod:`nasrank.losses`).
"""

from nasrank.losses.base import Loss, LossContext
from nasrank.losses.catalog import ENTRIES, LossEntry, loss_entry, register_loss
from nasrank.losses.piecewise import PiecewiseLoss
from nasrank.losses.ranking import (
    HingeRankingLoss,
    ListMLELoss,
    LogisticRankingLoss,
    MSESequenceRankingLoss,
)
from nasrank.losses.registry import LOSSES, get_loss, loss_options
from nasrank.losses.regression import L1Loss, MSELoss
from nasrank.losses.renas import ReNASLoss
from nasrank.losses.weighted import ExponentialWeightedLoss, MAPELoss, WARPLoss
from nasrank.plugins import load_entry_points

__all__ = [
    "ENTRIES",
    "LOSSES",
    "ExponentialWeightedLoss",
    "HingeRankingLoss",
    "L1Loss",
    "ListMLELoss",
    "LogisticRankingLoss",
    "Loss",
    "LossContext",
    "LossEntry",
    "MAPELoss",
    "MSELoss",
    "MSESequenceRankingLoss",
    "PiecewiseLoss",
    "ReNASLoss",
    "WARPLoss",
    "get_loss",
    "loss_entry",
    "loss_options",
    "register_loss",
]

load_entry_points("losses")  # after the built-ins: a plugin may import them
