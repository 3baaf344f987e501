"""A restricted unpickler for upstream pickle files.

Upstream benchmark files that are pickles (NAS-Bench-Graph's ``*.bench``,
mini-NAS-Bench-201's pandas ``.pd``) can execute arbitrary code when loaded with plain
``pickle``. :func:`load_restricted` resolves only the globals of an explicit allow-list
and refuses anything else with an error naming the file and the global.

Usage::

    obj = load_restricted(path, allowed={("numpy", "dtype"), ...})
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterable
from typing import Any

from nasrank.errors import DataFormatError


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only allow-listed ``(module, name)`` globals."""

    def __init__(self, file: Any, allowed: Iterable[tuple[str, str]], source: str) -> None:
        super().__init__(file)
        self._allowed = frozenset(allowed)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._allowed:
            raise DataFormatError(
                f"{self._source}: refusing to unpickle global {module}.{name} "
                "(not on the allow-list of this reader)"
            )
        return super().find_class(module, name)


def load_restricted(path: str | os.PathLike[str], allowed: Iterable[tuple[str, str]]) -> Any:
    """Unpickle ``path`` resolving only the ``allowed`` globals.

    Raises:
        DataFormatError: a global outside the allow-list, or a truncated/corrupt file.
    """
    with open(path, "rb") as f:
        try:
            return RestrictedUnpickler(f, allowed, str(path)).load()
        except DataFormatError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
            raise DataFormatError(f"{path}: corrupt pickle: {exc}") from exc
