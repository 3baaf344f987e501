"""Plugins: losses and predictors defined outside nasrank, registered without editing it.

A plugin is a Python module whose losses (:func:`nasrank.losses.register_loss`) and
predictors (:func:`nasrank.predictors.register_predictor`) register themselves when it is
imported. It reaches the registries in one of two ways:

* params.yaml's ``plugins:`` list of importable module names: :func:`import_plugins`,
  called by :func:`nasrank.config.check_params` after the schema check;
* an installed package's entry point in the group ``nasrank.losses`` or
  ``nasrank.predictors`` (:data:`ENTRY_POINT_GROUPS`; ``[project.entry-points.
  "nasrank.losses"]`` in its pyproject.toml, the value a module or ``module:object``):
  :func:`load_entry_points`, called when :mod:`nasrank.losses` (or
  :mod:`nasrank.predictors`) is first imported.

What a plugin registers is checked at once, or the plugin fails with an error naming it
and the class or builder, and nothing of it stays registered: a loss must pass
:func:`nasrank.losses.smoke.smoke_check` (a finite scalar with a gradient, alone and
under vmap), a predictor :func:`smoke_check_predictor` (built for a small encoding,
it fits and predicts finite numbers of the right shape). The registries themselves
refuse a taken name and an option without a default.

A plugin's source file is a code dependency of the DVC stages that use losses or
predictors (:func:`plugin_files`, used by :mod:`nasrank.dvcgen`).
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from nasrank.errors import ConfigError

__all__ = [
    "ENTRY_POINT_GROUPS",
    "PLUGINS",
    "Registered",
    "import_plugin",
    "import_plugins",
    "load_entry_points",
    "plugin_file",
    "plugin_files",
    "smoke_check_predictor",
]

log = logging.getLogger(__name__)

#: registry -> the entry-point group installed packages register their modules under
ENTRY_POINT_GROUPS = {"losses": "nasrank.losses", "predictors": "nasrank.predictors"}


@dataclass(frozen=True)
class Registered:
    """What one plugin module registered."""

    losses: tuple[str, ...] = ()
    predictors: tuple[str, ...] = ()


#: plugin module -> what it registered (params plugins and entry points)
PLUGINS: dict[str, Registered] = {}

#: the small encoding :func:`smoke_check_predictor` builds a predictor for
SMOKE_SHAPE = (6,)
SMOKE_BATCH = 8


def _registries() -> tuple[dict[str, Any], dict[str, Any]]:
    """The loss and predictor registries, with every built-in entry registered (so that
    the built-ins a plugin's import pulls in are not counted as the plugin's)."""
    from nasrank.losses import LOSSES
    from nasrank.predictors import PREDICTORS

    return LOSSES, PREDICTORS


def smoke_check_predictor(name: str) -> None:
    """Check that predictor ``name`` works as nasrank uses it, on :data:`SMOKE_BATCH`
    random architectures of a ``(6,)`` encoding (skipped when it does not take such an
    encoding): a ``torch`` one returns ``(pred (8,), features (8, D))`` and can be trained
    in a sweep (no dropout, :mod:`nasrank.predictors.stacked`), a ``tree`` one fits and
    predicts 8 finite numbers.

    Raises:
        PredictorRegistrationError: naming the predictor, its builder and the problem.
    """
    import numpy as np

    from nasrank.predictors import compatible, predictor_spec
    from nasrank.predictors.catalog import PredictorRegistrationError

    spec = predictor_spec(name)
    if not compatible(name, SMOKE_SHAPE):
        return
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SMOKE_BATCH, *SMOKE_SHAPE)).astype(np.float32)
    y = rng.random(SMOKE_BATCH)
    try:
        problem = (_torch_problem if spec.kind == "torch" else _tree_problem)(name, x, y)
    except Exception as exc:  # any failure of third-party code is reported
        problem = f"raised {type(exc).__name__}: {exc}"
    if problem is not None:
        raise PredictorRegistrationError(
            f"predictor {name!r} ({spec.module}) fails the smoke check: built with its "
            f"default options for {SMOKE_BATCH} architectures of shape {SMOKE_SHAPE}, it "
            f"{problem}")


def _torch_problem(name: str, x: Any, y: Any) -> str | None:
    import torch

    from nasrank.predictors import get_predictor
    from nasrank.predictors.stacked import StackedNetwork

    net = get_predictor(name, x.shape[1:], seed=0)
    if not isinstance(net, torch.nn.Module):
        return f"built a {type(net).__name__}, not a torch.nn.Module"
    out = net(torch.from_numpy(x))
    if not (isinstance(out, tuple) and len(out) == 2):
        return "returned from forward something other than (predictions, features)"
    pred, feats = out
    if tuple(pred.shape) != (len(x),) or feats.ndim != 2 or feats.shape[0] != len(x):
        return (f"returned predictions of shape {tuple(pred.shape)} and features of shape "
                f"{tuple(feats.shape)}, not ({len(x)},) and ({len(x)}, D)")
    if not bool(torch.isfinite(pred).all()):
        return "predicted numbers that are not finite"
    StackedNetwork([net], "cpu")  # refuses what sweeps cannot train run by run
    return None


def _tree_problem(name: str, x: Any, y: Any) -> str | None:
    import numpy as np

    from nasrank.predictors import get_predictor

    model = get_predictor(name, x.shape[1:], seed=0)
    fitted = model.fit(x, y)
    if fitted is not model:
        return "returned from fit something other than itself"
    pred = np.asarray(model.predict(x))
    if pred.shape != (len(x),) or not np.isfinite(pred).all():
        return f"predicted {pred.shape} values (finite: {bool(np.isfinite(pred).all())}), " \
               f"not {len(x)} finite numbers"
    return None


def _register_from(load: Callable[[], Any], what: str) -> Registered:
    """Run ``load()`` (an import), check what it registered and return its names; on any
    failure unregister them and raise, naming ``what``."""
    from nasrank.losses.catalog import LossRegistrationError, unregister_loss
    from nasrank.losses.smoke import smoke_check
    from nasrank.predictors.catalog import PredictorRegistrationError, unregister_predictor

    losses, predictors = _registries()
    before = (set(losses), set(predictors))

    def forget() -> None:
        for name in set(losses) - before[0]:
            unregister_loss(name)
        for name in set(predictors) - before[1]:
            unregister_predictor(name)

    try:
        load()
        added = Registered(tuple(n for n in losses if n not in before[0]),
                           tuple(n for n in predictors if n not in before[1]))
        for name in added.losses:
            smoke_check(name)
        for name in added.predictors:
            smoke_check_predictor(name)
    except (LossRegistrationError, PredictorRegistrationError) as exc:
        forget()
        raise type(exc)(f"{what}: {exc}") from exc
    except Exception as exc:  # an import runs arbitrary code
        forget()
        raise ConfigError(f"{what}: cannot import it: {type(exc).__name__}: {exc}") from exc
    return added


def _loaded(module: str) -> bool:
    """Whether plugin ``module`` was loaded already (its entries are in PLUGINS)."""
    return module in PLUGINS and module in sys.modules


def _load_once(module: str, load: Callable[[], Any], what: str) -> Registered:
    """What ``module`` registered: :func:`_register_from` on its first load only."""
    if not _loaded(module):
        PLUGINS[module] = _register_from(load, what)
    return PLUGINS[module]


def import_plugin(module: str, what: str | None = None) -> Registered:
    """Import plugin ``module`` so that its losses and predictors register; check them.

    Importing a module already imported registers nothing new (Python imports a module
    once); its entries are those it registered the first time.

    Args:
        module: a dotted module name, importable from ``sys.path``.
        what: how errors name the plugin (default: ``plugin module '<module>'``).

    Returns:
        What it registered.

    Raises:
        ConfigError: the module cannot be imported (naming it and the underlying error).
        LossRegistrationError, PredictorRegistrationError: an entry is refused (a taken
            name, an option without a default, a failed smoke check), naming the plugin
            and the class or builder.
    """
    return _load_once(module, lambda: importlib.import_module(module),
                      what or f"plugin module {module!r}")


def import_plugins(modules: Sequence[str], source: str = "params.yaml") -> Registered:
    """Import params.yaml's ``plugins`` (:func:`import_plugin`), errors naming
    ``plugins[i]`` and the module. Returns what they registered, together."""
    losses: list[str] = []
    predictors: list[str] = []
    for i, module in enumerate(modules):
        got = import_plugin(module, f"{source}: plugins[{i}] (module {module!r})")
        losses.extend(got.losses)
        predictors.extend(got.predictors)
    return Registered(tuple(losses), tuple(predictors))


def load_entry_points(registry: str = "losses") -> Registered:
    """Load every installed entry point of ``registry``'s group (:func:`import_plugin`
    semantics; an entry point loaded before adds nothing).

    Returns:
        What they registered.

    Raises:
        ConfigError, LossRegistrationError, PredictorRegistrationError: naming the entry
            point and its distribution.
    """
    group = ENTRY_POINT_GROUPS[registry]
    eps = list(metadata.entry_points(group=group))
    losses: list[str] = []
    predictors: list[str] = []
    for ep in eps:
        dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown distribution"
        what = f"entry point {ep.name!r} = {ep.value!r} (group {group!r}, {dist})"
        if not _loaded(ep.module):
            got = _load_once(ep.module, ep.load, what)
            losses.extend(got.losses)
            predictors.extend(got.predictors)
    return Registered(tuple(losses), tuple(predictors))


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
    dependencies of the stages that use losses or predictors.

    A file inside ``root`` (the repository) is given relative to it, POSIX style; a file
    outside it is given as an absolute path, with a warning: git does not version it and
    the path is one of this machine (DVC hashes it as an external dependency).

    Raises:
        ConfigError: a module of ``plugins`` cannot be found.
    """
    root = root.resolve()
    named = list(params.get("plugins") or [])
    modules = [*named, *(m for m in PLUGINS if m not in named)]
    out: list[str] = []
    for i, module in enumerate(modules):
        path = plugin_file(module)
        if path is None:
            if i < len(named):
                raise ConfigError(f"plugins[{i}]: cannot find the source file of module "
                                  f"{module!r}")
            continue
        if path.is_relative_to(root):
            out.append(path.relative_to(root).as_posix())
        else:
            log.warning("plugin %s (%s) lies outside the repository %s: git does not "
                        "version it, and dvc.yaml names it by this machine's absolute path",
                        module, path, root)
            out.append(path.as_posix())
    return list(dict.fromkeys(out))
