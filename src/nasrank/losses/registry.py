"""The registry of predictor losses: one name per loss, used everywhere.

Each loss registers itself where it is defined (:func:`nasrank.losses.catalog.register_loss`);
this module imports the modules that define them, in the order of :data:`LOSS_MODULES`,
which is the order of :data:`LOSSES` (a loss in a module of its own: add the module here).
"""

from __future__ import annotations

import importlib

from nasrank.losses.catalog import LOSSES, get_loss, loss_options, sort_by_module

__all__ = ["LOSSES", "LOSS_MODULES", "get_loss", "loss_options"]

#: the modules defining the losses, in the order of LOSSES (in a module: its order of definition)
LOSS_MODULES: tuple[str, ...] = (
    "nasrank.losses.regression",
    "nasrank.losses.ranking",
    "nasrank.losses.weighted",
    "nasrank.losses.renas",
    "nasrank.losses.piecewise",
)

for _module in LOSS_MODULES:
    importlib.import_module(_module)
sort_by_module(LOSS_MODULES)
