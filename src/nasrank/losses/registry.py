"""The registry of predictor losses: one name per loss, used everywhere."""

from __future__ import annotations

import copy
from typing import Any

from nasrank.errors import UnknownNameError
from nasrank.losses.base import Loss
from nasrank.losses.piecewise import PiecewiseLoss
from nasrank.losses.ranking import (
    HingeRankingLoss,
    ListMLELoss,
    LogisticRankingLoss,
    MSESequenceRankingLoss,
)
from nasrank.losses.regression import L1Loss, MSELoss
from nasrank.losses.renas import ReNASLoss
from nasrank.losses.weighted import ExponentialWeightedLoss, MAPELoss, WARPLoss

__all__ = ["LOSSES", "get_loss", "loss_options"]

LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (
        MSELoss,
        L1Loss,
        HingeRankingLoss,
        LogisticRankingLoss,
        MSESequenceRankingLoss,
        ListMLELoss,
        ExponentialWeightedLoss,
        MAPELoss,
        WARPLoss,
        ReNASLoss,
        PiecewiseLoss,
    )
}


def _lookup(name: str) -> type[Loss]:
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise UnknownNameError("loss", str(name), list(LOSSES)) from None


def get_loss(name: str, **options: Any) -> Loss:
    """A new instance of loss ``name`` configured with ``options``.

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists all names).
        ConfigError: an unknown option or an invalid value (naming loss and option).
    """
    return _lookup(name)(**options)


def loss_options(name: str) -> dict[str, Any]:
    """The documented default options of loss ``name`` (a fresh copy)."""
    return copy.deepcopy(dict(_lookup(name).OPTIONS))
