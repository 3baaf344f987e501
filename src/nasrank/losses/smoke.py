"""The registration check of a plugin's loss: it trains as nasrank trains it.

:func:`smoke_check` runs a loss a plugin registered (:mod:`nasrank.plugins`) on a tiny
batch, alone and as a sweep runs it (under ``torch.func.vmap``), and refuses it with a
:class:`~nasrank.losses.catalog.LossRegistrationError` naming the loss, its class and
what went wrong: not a finite scalar, no gradient reaching the predictions, a gradient
that is not finite, a failure under vmap or another value there.
"""

from __future__ import annotations

from typing import Any

from nasrank.losses.catalog import LOSSES, LossRegistrationError

__all__ = ["SMOKE_BATCH", "smoke_check"]

#: the size of the batch of :func:`smoke_check`
SMOKE_BATCH = 8


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def smoke_check(name: str, options: dict[str, Any] | None = None) -> None:
    """Check that loss ``name`` (with its default ``options``) gives a finite scalar with a
    gradient on a tiny batch: 8 random predictions and targets in [0, 1],
    ``LossContext(epoch=1, train_size=8)``, 8 x 4 random features when the loss needs
    them. A private random generator is used: the global RNG is left alone.

    Raises:
        LossRegistrationError: naming the loss and its class, and what went wrong.
    """
    import torch

    from nasrank.losses.base import LossContext

    cls = LOSSES[name]
    gen = torch.Generator().manual_seed(0)
    pred = torch.randn(SMOKE_BATCH, generator=gen, requires_grad=True)
    target = torch.rand(SMOKE_BATCH, generator=gen)
    try:
        with torch.enable_grad():
            loss = cls(**(options or {}))
            features = None
            if loss.needs_features:
                features = torch.randn(SMOKE_BATCH, 4, generator=gen,
                                       requires_grad=True)
            out = loss(pred, target, features, LossContext(epoch=1, train_size=SMOKE_BATCH))
            problem = None
            if not isinstance(out, torch.Tensor):
                problem = f"returned {type(out).__name__}, not a tensor"
            elif out.ndim != 0:
                problem = f"returned a tensor of shape {tuple(out.shape)}, not a scalar"
            elif not bool(torch.isfinite(out.detach())):
                problem = f"returned {out.item()}, not a finite number"
            elif not out.requires_grad or out.grad_fn is None:
                problem = "returned a tensor without a gradient (no grad_fn)"
            else:
                out.backward()
                if pred.grad is None:
                    problem = "returned a tensor whose gradient does not reach the predictions"
                elif not bool(torch.isfinite(pred.grad).all()):
                    problem = "has a gradient that is not finite"
                else:
                    problem = _vmap_problem(loss, pred.detach(), target, features, gen)
    except Exception as exc:  # any failure of third-party code is reported
        problem = f"raised {type(exc).__name__}: {exc}"
    if problem is not None:
        raise LossRegistrationError(
            f"loss {name!r} ({_qualname(cls)}) fails the smoke check: on a batch of "
            f"{SMOKE_BATCH} with its default options, its forward {problem}")


def _vmap_problem(loss: Any, pred: Any, target: Any, features: Any, gen: Any) -> str | None:
    """What goes wrong when the loss runs as a sweep runs it: on two runs' batches at once
    under ``torch.func.vmap`` (:func:`nasrank.sweep._vmapped_loss`), where boolean-mask
    indexing, ``.item()`` and data-dependent shapes fail; None when it works and gives
    each run the loss of its batch alone."""
    import torch

    from nasrank.losses.base import LossContext
    from nasrank.sweep import _vmapped_loss

    ctx = LossContext(epoch=1, train_size=SMOKE_BATCH)
    preds = torch.stack([pred, torch.randn(SMOKE_BATCH, generator=gen)])
    targets = torch.stack([target, torch.rand(SMOKE_BATCH, generator=gen)])
    feats = None if features is None else torch.stack([features.detach()] * 2)
    try:
        batched = _vmapped_loss(loss, preds, targets, feats, ctx)
    except Exception as exc:
        return (f"cannot run under torch.func.vmap, as sweeps train it ({type(exc).__name__}: "
                f"{exc}); compute masked terms with torch.where instead of boolean indexing")
    alone = loss(preds[1], targets[1], None if feats is None else feats[1], ctx)
    if not torch.allclose(batched[1], alone, rtol=1e-5, atol=1e-6):
        return (f"gives under torch.func.vmap {batched[1].item()} for a run whose loss alone "
                f"is {alone.item()}")
    return None
