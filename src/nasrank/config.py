"""Loading and validating params.yaml, the single configuration of nasrank.

The same JSON schema (``workflow/schemas/params.schema.yaml``) is used by Snakemake's
``validate`` and by :func:`load_params`, so the CLI and the workflow reject exactly the
same files, naming the offending key.

Usage::

    params = load_params("params.yaml")
    mirror = mirror_dir(params)
"""

from __future__ import annotations

import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from nasrank.errors import ConfigError, NasrankError

MIRROR_ENV = "NASRANK_MIRROR"
SCHEMA_NAME = "params.schema.yaml"


def _schema_path() -> Path:
    """The schema shipped inside the package (``workflow/schemas`` links to it)."""
    return Path(str(resources.files("nasrank") / "schemas" / SCHEMA_NAME))


@cache
def schema() -> dict[str, Any]:
    """The parsed params schema."""
    with open(_schema_path(), encoding="utf-8") as f:
        return yaml.safe_load(f)


def validate_params(params: Any, source: str = "params.yaml") -> dict[str, Any]:
    """Validate ``params`` against the schema.

    Raises:
        ConfigError: naming the dotted key and what is wrong with it.
    """
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for err in errors:
            key = ".".join(str(p) for p in err.absolute_path) or "<top level>"
            where = f"{key}." if err.absolute_path else ""
            if err.validator == "additionalProperties":
                extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
                lines.extend(f"unknown key '{where}{k}'" for k in extra)
            elif err.validator == "required" and isinstance(err.instance, dict):
                missing = [k for k in err.validator_value if k not in err.instance]
                lines.extend(f"missing key '{where}{k}'" for k in missing)
            else:
                lines.append(f"key '{key}': {err.message}")
        raise ConfigError(f"{source}: " + "; ".join(lines))
    return params


def _one_line(exc: yaml.YAMLError) -> str:
    """PyYAML's multi-line message as one line: the problem and where it is."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    return f"{problem}{where}"


def read_yaml(path: str | os.PathLike[str], what: str,
              invalid: type[NasrankError] = ConfigError) -> Any:
    """The parsed YAML of ``path``, or an error naming the file: ``ConfigError`` when it is
    missing or unreadable, ``invalid`` (default ConfigError) when it is not YAML."""
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such {what}") from exc
    except yaml.YAMLError as exc:
        raise invalid(f"{path}: not valid YAML: {_one_line(exc)}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc}") from exc


def load_params(path: str | os.PathLike[str] = "params.yaml") -> dict[str, Any]:
    """Read and validate a params file.

    Raises:
        ConfigError: if the file is missing, is not YAML, or fails the schema.
    """
    path = Path(path)
    return validate_params(read_yaml(path, "params file"), str(path))


def mirror_dir(params: dict[str, Any] | None) -> Path | None:
    """The local mirror directory: ``$NASRANK_MIRROR`` if set, else ``data.mirror``."""
    env = os.environ.get(MIRROR_ENV)
    if env:
        return Path(env)
    value = (params or {}).get("data", {}).get("mirror")
    return Path(value) if value else None
