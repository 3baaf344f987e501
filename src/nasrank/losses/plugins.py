"""Loss plugins: losses defined outside nasrank, registered without editing it.

A plugin is a Python module whose :class:`~nasrank.losses.base.Loss` subclasses register
themselves with :func:`~nasrank.losses.catalog.register_loss`. It reaches the catalogue
in one of two ways:

* params.yaml's ``plugins:`` list of importable module names: :func:`import_plugins`,
  called by :func:`nasrank.config.check_params` after the schema check;
* an installed package's entry point in the group ``nasrank.losses``
  (:data:`ENTRY_POINT_GROUP`; ``[project.entry-points."nasrank.losses"]`` in its
  pyproject.toml, the value a module or ``module:object``): :func:`load_entry_points`,
  called when :mod:`nasrank.losses` is first imported.

Every loss a plugin registers passes :func:`smoke_check` (its forward on a tiny batch is
a finite scalar with a gradient) or the plugin fails with a
:class:`~nasrank.losses.catalog.LossRegistrationError` naming the plugin and the class,
and none of its losses stays registered. :func:`register_loss` itself refuses a taken
name and an option without a default.

A plugin's source file is a code dependency of the DVC stages that train or report
losses (:func:`plugin_files`, used by :mod:`nasrank.dvcgen`).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from nasrank.errors import ConfigError
from nasrank.losses.catalog import LOSSES, LossRegistrationError, unregister_loss

__all__ = [
    "ENTRY_POINT_GROUP",
    "PLUGINS",
    "import_plugin",
    "import_plugins",
    "load_entry_points",
    "plugin_file",
    "plugin_files",
    "smoke_check",
]

log = logging.getLogger(__name__)

#: the entry-point group installed packages register their loss modules under
ENTRY_POINT_GROUP = "nasrank.losses"

#: plugin module -> the names of the losses it registered (params plugins and entry points)
PLUGINS: dict[str, tuple[str, ...]] = {}

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


def _register_from(load: Any, what: str) -> tuple[str, ...]:
    """Run ``load()`` (an import), smoke-check the losses it registered and return their
    names; on any failure unregister them and raise, naming ``what``."""
    before = set(LOSSES)
    try:
        load()
        added = tuple(n for n in LOSSES if n not in before)
        for name in added:
            smoke_check(name)
    except LossRegistrationError as exc:
        _forget(set(LOSSES) - before)
        raise LossRegistrationError(f"{what}: {exc}") from exc
    except Exception as exc:  # an import runs arbitrary code
        _forget(set(LOSSES) - before)
        raise ConfigError(f"{what}: cannot import it: {type(exc).__name__}: {exc}") from exc
    return added


def _forget(names: Iterable[str]) -> None:
    for name in names:
        unregister_loss(name)


def import_plugin(module: str, what: str | None = None) -> tuple[str, ...]:
    """Import plugin ``module`` so that its losses register, and smoke-check them.

    Importing a module already imported registers nothing new (Python imports a module
    once); its losses are those it registered the first time.

    Args:
        module: a dotted module name, importable from ``sys.path``.
        what: how errors name the plugin (default: ``plugin module '<module>'``).

    Returns:
        The names of the losses it registered.

    Raises:
        ConfigError: the module cannot be imported (naming it and the underlying error).
        LossRegistrationError: a loss is refused (a taken name, an option without a
            default, a failed :func:`smoke_check`), naming the plugin and the class.
    """
    return _load_once(module, lambda: importlib.import_module(module),
                      what or f"plugin module {module!r}")


def _loaded(module: str) -> bool:
    """Whether plugin ``module`` was loaded already (its losses are in PLUGINS)."""
    return module in PLUGINS and module in sys.modules


def _load_once(module: str, load: Any, what: str) -> tuple[str, ...]:
    """The losses ``module`` registered: :func:`_register_from` on its first load only."""
    if not _loaded(module):
        PLUGINS[module] = _register_from(load, what)
    return PLUGINS[module]


def import_plugins(modules: Sequence[str], source: str = "params.yaml") -> list[str]:
    """Import params.yaml's ``plugins`` (:func:`import_plugin`), errors naming
    ``plugins[i]`` and the module. Returns the names of the losses they registered."""
    names: list[str] = []
    for i, module in enumerate(modules):
        names.extend(import_plugin(module, f"{source}: plugins[{i}] (module {module!r})"))
    return names


def load_entry_points(group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Load every installed entry point of ``group`` (:func:`import_plugin` semantics).

    Returns:
        The names of the losses they registered.

    Raises:
        ConfigError, LossRegistrationError: naming the entry point and its distribution.
    """
    names: list[str] = []
    for ep in metadata.entry_points(group=group):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown distribution"
        what = f"entry point {ep.name!r} = {ep.value!r} (group {group!r}, {dist})"
        if not _loaded(ep.module):  # an entry point loaded before adds no names
            names.extend(_load_once(ep.module, ep.load, what))
    return names


def plugin_file(module: str) -> Path | None:
    """The source file of plugin ``module`` (None for a namespace package or a module
    without a file), found without importing it where it is not imported yet."""
    mod = sys.modules.get(module)
    origin = getattr(mod, "__file__", None) if mod is not None else None
    if origin is None:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        origin = spec.origin if spec is not None and spec.has_location else None
    return Path(origin).resolve() if origin else None


def plugin_files(params: dict[str, Any], root: Path) -> list[str]:
    """The source files of params.yaml's ``plugins`` and of the entry-point plugins: code
    dependencies of the stages that use losses.

    A file inside ``root`` (the repository) is given relative to it, POSIX style; a file
    outside it is given as an absolute path, with a warning: git does not version it and
    the path is one of this machine (DVC hashes it as an external dependency).

    Raises:
        ConfigError: a module of ``plugins`` cannot be found.
    """
    root = root.resolve()
    modules = [*(params.get("plugins") or []),
               *(m for m in PLUGINS if m not in (params.get("plugins") or []))]
    out: list[str] = []
    for i, module in enumerate(modules):
        path = plugin_file(module)
        if path is None:
            if i < len(params.get("plugins") or []):
                raise ConfigError(f"plugins[{i}]: cannot find the source file of module "
                                  f"{module!r}")
            continue
        if path.is_relative_to(root):
            out.append(path.relative_to(root).as_posix())
        else:
            log.warning("loss plugin %s (%s) lies outside the repository %s: git does not "
                        "version it, and dvc.yaml names it by this machine's absolute path",
                        module, path, root)
            out.append(path.as_posix())
    return list(dict.fromkeys(out))
