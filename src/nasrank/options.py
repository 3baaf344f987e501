"""Options of registered losses, predictors and searches: one way of checking them.

Every registry entry documents its options as defaults (name -> value); params.yaml or a
caller changes some of them. :func:`resolve` merges the two and refuses a name the entry
does not have; the value checks below refuse a bad value. Every error names the entry
and the option the same way, whichever registry it comes from::

    from nasrank import options

    what = options.subject("predictor", "gcn")            # "predictor 'gcn'"
    opts = options.resolve(what, {"hidden": 144, "dropout": 0.1}, {"hiden": 64})
    # ConfigError: predictor 'gcn': unknown option 'hiden'; its options: dropout, hidden
    options.integer(what, "hidden", 0, min_value=1)
    # ConfigError: predictor 'gcn': option 'hidden' must be an integer >= 1, got 0

:func:`is_default` says whether a value can be a documented default (a value
params.yaml can hold): registration refuses an option without one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import Any

from nasrank.errors import ConfigError

__all__ = [
    "boolean",
    "choice",
    "int_list",
    "integer",
    "is_default",
    "number",
    "resolve",
    "subject",
]

#: what an option's default may be: the values params.yaml can hold (YAML's plain types)
_PLAIN = (type(None), bool, int, float, str)


def subject(kind: str, name: str) -> str:
    """How errors name a registry entry: ``loss 'hr'``, ``predictor 'gcn'``."""
    return f"{kind} {name!r}"


def resolve(what: str, defaults: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """``defaults`` updated with ``options`` (a new dict).

    Raises:
        ConfigError: ``options`` names an option ``defaults`` lacks (naming ``what``, the
            unknown names and the valid ones).
    """
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise ConfigError(f"{what}: unknown option{plural} {', '.join(map(repr, unknown))}; "
                          f"its options: {', '.join(sorted(defaults)) or 'none'}")
    return {**defaults, **options}


def is_default(value: Any) -> bool:
    """Whether ``value`` is a usable default: a value params.yaml can hold (None, a bool,
    number or string, or a list or mapping of such), not a placeholder such as ``...``,
    a type (``{"gamma": float}``) or ``inspect.Parameter.empty``."""
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, list | tuple):
        return all(is_default(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and is_default(v) for k, v in value.items())
    return False


def _fail(what: str, key: str, must: str, value: Any) -> ConfigError:
    return ConfigError(f"{what}: option {key!r} must be {must}, got {value!r}")


def number(what: str, key: str, value: Any, *, min_value: float | None = None,
           max_value: float | None = None, strict_min: bool = False,
           strict_max: bool = False) -> float:
    """``value`` as a float: a finite number (not a bool) within the bounds.

    Raises:
        ConfigError: naming ``what``, ``key``, the bound and the value.
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise _fail(what, key, "a finite number", value)
    if min_value is not None and (value <= min_value if strict_min else value < min_value):
        raise _fail(what, key, f"{'>' if strict_min else '>='} {min_value}", value)
    if max_value is not None and (value >= max_value if strict_max else value > max_value):
        raise _fail(what, key, f"{'<' if strict_max else '<='} {max_value}", value)
    return float(value)


def integer(what: str, key: str, value: Any, *, min_value: int | None = None) -> int:
    """``value`` as an int: an integer (not a bool; numpy integers too) >= ``min_value``.

    Raises:
        ConfigError: naming ``what``, ``key`` and the value.
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or (
            min_value is not None and value < min_value):
        must = "an integer" if min_value is None else f"an integer >= {min_value}"
        raise _fail(what, key, must, value)
    return int(value)


def int_list(what: str, key: str, value: Any, *, min_value: int = 1,
             allow_empty: bool = True) -> list[int]:
    """``value`` (one integer or a list of them) as a list of integers >= ``min_value``.

    Raises:
        ConfigError: naming ``what``, ``key`` and the value.
    """
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple) or (not value and not allow_empty):
        raise _fail(what, key, f"a{'' if allow_empty else ' non-empty'} list of integers "
                               f">= {min_value}", value)
    return [integer(what, key, v, min_value=min_value) for v in value]


def choice(what: str, key: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` when it is one of ``choices``.

    Raises:
        ConfigError: naming ``what``, ``key``, the choices and the value.
    """
    choices = list(choices)
    if isinstance(value, bool) or value not in choices:
        raise _fail(what, key, f"one of {', '.join(map(str, choices))}", value)
    return value


def boolean(what: str, key: str, value: Any) -> bool:
    """``value`` when it is ``True`` or ``False``.

    Raises:
        ConfigError: naming ``what``, ``key`` and the value.
    """
    if not isinstance(value, bool):
        raise _fail(what, key, "true or false", value)
    return value
