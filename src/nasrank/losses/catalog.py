"""The catalogue of predictor losses: a loss class registers itself with its metadata.

Adding a loss is one class, decorated where it is defined::

    from nasrank.losses.base import Loss
    from nasrank.losses.catalog import register_loss

    @register_loss("my_loss", family="ranking", label="Mine")   # colour: derived from the name
    class MyLoss(Loss):
        "My loss: what it computes (the docstring's first paragraph is its ``doc``)."

        OPTIONS = {"margin": 0.1}

        def compute(self, pred, target, features, ctx): ...

Registration sets the class's ``name``, puts the class in :data:`LOSSES` (name -> class,
what :func:`get_loss` and :func:`loss_options` look up) and its :class:`LossEntry` in
:data:`ENTRIES`. The report reads each loss's family, label and colour from the entries
(:data:`nasrank.report.stats.LOSS_FAMILIES`, :data:`nasrank.report.figures.LOSS_COLOURS`,
:data:`nasrank.report.figures.LOSS_LABELS`), so it needs no edit for a new loss.

This module imports no concrete loss (:mod:`nasrank.losses.registry` imports them, in the
order of :data:`nasrank.losses.registry.LOSS_MODULES`), so a loss made of other losses
(``piecewise``) looks its parts up here without an import cycle.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

from nasrank.errors import NasrankError, UnknownNameError
from nasrank.losses.base import Loss
from nasrank.options import is_default

__all__ = [
    "DERIVED_PALETTE",
    "ENTRIES",
    "LOSSES",
    "LossEntry",
    "LossRegistrationError",
    "derived_colour",
    "get_loss",
    "loss_entry",
    "loss_options",
    "register_loss",
    "sort_by_module",
    "unregister_loss",
]

L = TypeVar("L", bound=type[Loss])

#: colours a loss registered without one gets, chosen by a hash of its name: Paul Tol's
#: colour-blind-safe "muted" scheme (https://personal.sron.nl/~pault/#sec:qualitative)
DERIVED_PALETTE: tuple[str, ...] = (
    "#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE",
    "#882255", "#44AA99", "#999933", "#AA4499",
)

#: what a loss's name and family may look like (they name files, stages and table columns)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class LossRegistrationError(NasrankError, ValueError):
    """A loss class cannot be registered (a taken name, an invalid name or family)."""


@dataclass(frozen=True)
class LossEntry:
    """A registered loss and what the report shows of it.

    Attributes:
        name: the loss's name in params.yaml, paths and tables (``hr``).
        cls: the :class:`~nasrank.losses.base.Loss` subclass.
        family: its family in Ji et al. (2025): ``regression``, ``ranking``, ``weighted``,
            ``piecewise`` (or a new one).
        label: its printed name in figures (``HR``).
        colour: its colour in every figure (a matplotlib colour).
        doc: the first paragraph of the class's docstring, on one line.
        options: the documented default options (a read-only copy of ``cls.OPTIONS``).
    """

    name: str
    cls: type[Loss]
    family: str
    label: str
    colour: str
    doc: str
    options: Mapping[str, Any]


#: name -> loss class, in the order of registration (see :func:`sort_by_module`)
LOSSES: dict[str, type[Loss]] = {}
_ENTRIES: dict[str, LossEntry] = {}
#: name -> :class:`LossEntry` of every registered loss (read-only, in the order of LOSSES)
ENTRIES: Mapping[str, LossEntry] = MappingProxyType(_ENTRIES)


def derived_colour(name: str) -> str:
    """The colour of a loss registered without one: a fixed function of its name.

    The SHA-256 of the name picks an entry of :data:`DERIVED_PALETTE` (Python's ``hash``
    is salted per process, so it is not used): the same name has the same colour in every
    run. Two names can share a colour; pass ``colour=`` to tell such losses apart.
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return DERIVED_PALETTE[int.from_bytes(digest[:8], "big") % len(DERIVED_PALETTE)]


def _first_paragraph(cls: type) -> str:
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    return " ".join(doc.split("\n\n", 1)[0].split())


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register_loss(name: str, *, family: str, label: str | None = None,
                  colour: str | None = None) -> Callable[[L], L]:
    """Class decorator: register a :class:`~nasrank.losses.base.Loss` subclass as ``name``.

    Args:
        name: the loss's name (lower case, digits, ``_``); set as the class's ``name``.
        family: its family (``regression``, ``ranking``, ``weighted``, ``piecewise``, ...).
        label: its printed name in figures (default: ``name``).
        colour: its colour in figures, any matplotlib colour (default:
            :func:`derived_colour` of ``name``, the same in every run).

    Returns:
        The decorator, which returns the class unchanged but for its ``name``.

    Raises:
        LossRegistrationError: ``name`` is taken (the message names both classes), the
            class already has another ``name``, ``name`` or ``family`` is malformed, or
            an option has no default (a value of ``OPTIONS`` that params.yaml cannot
            hold, such as ``...`` or a type; None is a default, "not set").
        TypeError: the decorated object is not a ``Loss`` subclass.
    """
    for what, value in (("name", name), ("family", family)):
        if not isinstance(value, str) or not _NAME.match(value):
            raise LossRegistrationError(
                f"loss {what} must match {_NAME.pattern} (lower case, digits, '_'), "
                f"got {value!r}")
    for what, value in (("label", label), ("colour", colour)):
        if value is not None and (not isinstance(value, str) or not value):
            raise LossRegistrationError(
                f"loss {name!r}: {what} must be a non-empty string, got {value!r}")

    def decorate(cls: L) -> L:
        if not (isinstance(cls, type) and issubclass(cls, Loss)):
            raise TypeError(f"register_loss({name!r}) decorates a Loss subclass, got {cls!r}")
        if name in LOSSES:
            raise LossRegistrationError(
                f"loss {name!r} is registered twice: by {_qualname(LOSSES[name])} and by "
                f"{_qualname(cls)}")
        _check_options(cls)
        own = cls.__dict__.get("name")
        if own not in (None, "", name):
            raise LossRegistrationError(
                f"{_qualname(cls)} has name {own!r} but is registered as {name!r}")
        cls.name = name
        _ENTRIES[name] = LossEntry(
            name=name, cls=cls, family=family, label=name if label is None else label,
            colour=derived_colour(name) if colour is None else colour,
            doc=_first_paragraph(cls),
            options=MappingProxyType(copy.deepcopy(dict(cls.OPTIONS))))
        LOSSES[name] = cls
        return cls

    return decorate


#: the option name reserved by params.yaml's ``losses.<loss>`` blocks
#: (:data:`nasrank.config.BY_TABLE`)
_RESERVED_OPTIONS = frozenset({"by_table"})


def _check_options(cls: type[Loss]) -> None:
    """Every option of ``cls.OPTIONS`` has a default (:func:`nasrank.options.is_default`;
    None is a default: "not set", as piecewise's switch points), so that ``get_loss(name)`` and a
    params.yaml block that changes only some options both work."""
    options = cls.__dict__.get("OPTIONS", cls.OPTIONS)
    if not isinstance(options, Mapping):
        raise LossRegistrationError(
            f"{_qualname(cls)}: OPTIONS must be a mapping of option name -> default, got "
            f"{type(options).__name__}")
    for key, value in options.items():
        if not isinstance(key, str) or not key:
            raise LossRegistrationError(
                f"{_qualname(cls)}: option names must be non-empty strings, got {key!r}")
        if key in _RESERVED_OPTIONS:
            raise LossRegistrationError(
                f"{_qualname(cls)}: option name {key!r} is reserved by params.yaml's "
                "losses section")
        if not is_default(value):
            raise LossRegistrationError(
                f"{_qualname(cls)}: option {key!r} has no default (got {value!r}); give "
                "every option a value params.yaml can hold (None for 'not set')")


def unregister_loss(name: str) -> LossEntry:
    """Remove loss ``name`` from the catalogue (tests, interactive work) and return its entry.

    Raises:
        UnknownNameError: ``name`` is not registered.
    """
    entry = loss_entry(name)
    del _ENTRIES[name]
    LOSSES.pop(name, None)
    return entry


def sort_by_module(modules: Sequence[str]) -> None:
    """Order :data:`LOSSES` and :data:`ENTRIES` by the position of each class's module in
    ``modules`` (losses of other modules last), keeping the order of registration within a
    module, i.e. the order of definition. The order no longer depends on which loss module
    happened to be imported first."""
    rank = {module: i for i, module in enumerate(modules)}

    def key(item: tuple[str, type[Loss]]) -> int:
        return rank.get(item[1].__module__, len(rank))

    ordered = sorted(LOSSES.items(), key=key)
    LOSSES.clear()
    LOSSES.update(ordered)
    entries = {name: _ENTRIES[name] for name, _ in ordered if name in _ENTRIES}
    _ENTRIES.clear()
    _ENTRIES.update(entries)


def _lookup(name: str) -> type[Loss]:
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise UnknownNameError("loss", str(name), list(LOSSES)) from None


def loss_entry(name: str) -> LossEntry:
    """The :class:`LossEntry` of loss ``name``.

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists all names).
    """
    try:
        return _ENTRIES[name]
    except (KeyError, TypeError):
        raise UnknownNameError("loss", str(name), list(_ENTRIES)) from None


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
