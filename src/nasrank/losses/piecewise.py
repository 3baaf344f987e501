"""Piecewise loss (PWLNAS): one loss before a switch point, another after it."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor

from nasrank.errors import ConfigError
from nasrank.losses.base import Loss, LossContext, check_int
from nasrank.losses.catalog import get_loss, register_loss

__all__ = ["PiecewiseLoss"]


@register_loss("piecewise", family="piecewise", label="PW", colour="tab:cyan")
class PiecewiseLoss(Loss):
    """Piecewise loss: ``first`` before the switch point, ``second`` from it on.

    Formula: ``L = L_second`` if the switch condition holds, else ``L_first``, where the
    condition is exactly one of
      * ``switch_samples: n`` -> ``ctx.train_size >= n`` (a per-run choice: with few labelled
        samples use ``first``, with more use ``second``);
      * ``switch_epoch: e`` -> ``ctx.epoch >= e`` (a schedule within one run).
    ``first_options`` / ``second_options`` are passed to the two losses, validated at
    construction. ``ctx`` is required (a missing context would silently select
    ``first``). ``needs_features`` is true when either part needs them.

    Options: ``first`` (default hr), ``second`` (default mape), ``first_options``,
    ``second_options`` (default {}), ``switch_samples``, ``switch_epoch`` (default None;
    exactly one must be set).

    Source: PWLNAS of Ji et al. (ICCV 2025): NB201 HR -> MAPE, NB101 ListMLE -> WARP,
    DARTS HR -> MAPE, TransNAS-Bench-101 micro MSE -> EW (Jigsaw) and HR -> WARP (other
    tasks); the study sets the switch points by hand and they are not known to us.
    """

    OPTIONS: ClassVar[dict[str, Any]] = {
        "first": "hr",
        "second": "mape",
        "first_options": {},
        "second_options": {},
        "switch_samples": None,
        "switch_epoch": None,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        opts = self.options
        for part in ("first", "second"):
            if not isinstance(opts[part], str):
                raise ConfigError(
                    f"loss 'piecewise': option {part!r} must be a loss name, got {opts[part]!r}"
                )
            if opts[part] == self.name:
                raise ConfigError(f"loss 'piecewise': option {part!r} cannot be 'piecewise'")
            sub = opts[f"{part}_options"]
            if sub is None:
                sub = {}
            if not isinstance(sub, dict):
                raise ConfigError(
                    f"loss 'piecewise': option '{part}_options' must be a mapping, got {sub!r}"
                )
        self.first = get_loss(opts["first"], **(opts["first_options"] or {}))
        self.second = get_loss(opts["second"], **(opts["second_options"] or {}))
        self.needs_features = self.first.needs_features or self.second.needs_features

    def check_options(self, opts: dict[str, Any]) -> None:
        given = [k for k in ("switch_samples", "switch_epoch") if opts[k] is not None]
        if len(given) != 1:
            raise ConfigError(
                "loss 'piecewise': set exactly one of options 'switch_samples' and "
                f"'switch_epoch' (got {', '.join(given) or 'neither'})"
            )
        check_int(self.name, given[0], opts[given[0]], min_value=0)

    def use_second(self, ctx: LossContext) -> bool:
        """Whether ``second`` is the active loss in context ``ctx``."""
        if self.options["switch_samples"] is not None:
            return ctx.train_size >= self.options["switch_samples"]
        return ctx.epoch >= self.options["switch_epoch"]

    def active(self, ctx: LossContext) -> Loss:
        return self.second if self.use_second(ctx) else self.first

    def compute(
        self, pred: Tensor, target: Tensor, features: Tensor | None, ctx: LossContext | None
    ) -> Tensor:
        if ctx is None:
            raise ValueError("loss 'piecewise' needs ctx (a LossContext) to choose its part")
        return self.active(ctx)(pred, target, features, ctx)
