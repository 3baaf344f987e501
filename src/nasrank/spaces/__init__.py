"""Search spaces, one registry.

Usage::

    from nasrank.spaces import get_space, SPACES
    space = get_space("nb101")
"""

from __future__ import annotations

import importlib

from nasrank.errors import UnknownNameError
from nasrank.spaces.base import SearchSpace

# name -> "module:class"; imported lazily so that one space's dependencies never slow
# down or break another's.
SPACES: dict[str, str] = {
    "nb101": "nasrank.spaces.nb101:NB101Space",
    "nb201": "nasrank.spaces.nb201:NB201Space",
    "tnb101_micro": "nasrank.spaces.tnb101:TNB101MicroSpace",
    "nbgraph": "nasrank.spaces.nbgraph:NBGraphSpace",
    "nbmacro": "nasrank.spaces.nbmacro:NBMacroSpace",
    "darts": "nasrank.spaces.darts:DartsSpace",
}


def get_space(name: str) -> SearchSpace:
    """An instance of the registered space ``name``.

    Raises:
        UnknownNameError: listing the registered spaces.
    """
    try:
        target = SPACES[name]
    except KeyError:
        raise UnknownNameError("search space", name, list(SPACES)) from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)()
