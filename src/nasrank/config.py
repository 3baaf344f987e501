"""Loading and validating params.yaml, the single configuration of nasrank.

The same JSON schema (``workflow/schemas/params.schema.yaml``) is used by Snakemake's
``validate`` and by :func:`load_params`, so the CLI and the workflow reject exactly the
same files, naming the offending key.

Usage::

    params = load_params("params.yaml")
    mirror = mirror_dir(params)
"""

from __future__ import annotations

import importlib
import math
import os
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from nasrank.errors import ConfigError, NasrankError, UnknownNameError

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


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that repeats a key (PyYAML keeps the last
    one without a word, so a typo'd duplicate silently replaces the first value)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            if isinstance(key, list | dict):
                continue  # unhashable: PyYAML's own error follows
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (lines {seen[key]} and {line})",
                    key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


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
            return yaml.load(f, Loader=UniqueKeyLoader)
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
    params = check_params(validate_params(read_yaml(path, "params file"), str(path)), str(path))
    return resolve_paths(params, path.parent / params.get("root", "."))


#: the params keys that name files or directories (``data.mirror`` may be null)
PATH_KEYS = (("data", "mirror"), ("data", "raw_dir"), ("data", "processed_dir"),
             ("data", "features_dir"), ("data", "models_dir"), ("reports", "metrics_dir"),
             ("reports", "tables_dir"), ("reports", "search_dir"), ("reports", "families_dir"),
             ("reports", "figures_dir"), ("reports", "published"))


def resolve_paths(params: dict[str, Any], root: str | os.PathLike[str]) -> dict[str, Any]:
    """``params`` with its relative paths made relative to the working directory instead
    of ``root`` (the project: the params file's directory, or its ``root`` key).

    Run from the project, as DVC and Snakemake do, nothing changes (the same strings, so
    the same outputs); run from elsewhere (``nasrank --params ../proj/params.yaml``), the
    files still go to the project's ``data/`` and ``reports/``, never to the current
    directory. Absolute paths are kept.
    """
    root = Path(root).resolve()
    here = Path.cwd().resolve()
    if root == here:
        return params
    for section, key in PATH_KEYS:
        value = params.get(section, {}).get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            params[section][key] = os.path.relpath(root / value, here)
    return params


def _non_finite(node: Any, key: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _non_finite(v, f"{key}.{k}" if key else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _non_finite(v, f"{key}[{i}]")
    elif isinstance(node, float) and not math.isfinite(node):
        yield key


#: the name standing for "no loss" (tree predictors fit the target directly)
NO_LOSS = "regression"
#: the built-in losses, in the registry's order (tests/test_loss_registry.py checks they
#: are what nasrank.losses registers): params.yaml naming only these, with no plugins, is
#: checked without importing the losses (torch: 1.5 s at every command's start)
BUILTIN_LOSSES = ("mse", "l1", "hr", "lr", "mse_sr", "listmle", "ew", "mape", "warp",
                  "renas", "piecewise")


def loss_names(params: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(key, name)`` of every loss params.yaml names where the schema says
    ``$ref: "#/$defs/loss"`` (tests/test_loss_plugins.py checks the list is complete),
    and the keys of the ``losses`` options section."""
    for name in params.get("losses") or {}:
        yield f"losses.{name}", name
    for name, variant in (params.get(LOSS_VARIANTS) or {}).items():
        yield f"{LOSS_VARIANTS}.{name}.loss", variant["loss"]
    exp = params["experiments"]
    for name, variant in exp["renas_variants"]["variants"].items():
        yield f"experiments.renas_variants.variants.{name}.loss", variant["loss"]
    for key, grid in (("experiments.loss_study", exp["loss_study"]),
                      ("search.loss_search", params["search"]["loss_search"])):
        for i, name in enumerate(grid["losses"]):
            yield f"{key}.losses[{i}]", name
    by_predictor = params["search"].get("predictor_nas_by_predictor")
    if by_predictor:
        yield "search.predictor_nas_by_predictor.loss", by_predictor["loss"]


def predictor_names(params: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """``(key, name)`` of every predictor params.yaml names where the schema says
    ``$ref: "#/$defs/predictor"`` (tests/test_config.py checks the list is complete), and
    the keys of the ``predictors`` options section and of ``train.by_predictor``."""
    for section, block in (("predictors", params.get("predictors") or {}),
                           ("train.by_predictor", params["train"]["by_predictor"])):
        for name in block:
            yield f"{section}.{name}", name
    for section, grids in (("experiments", ("renas_variants", "loss_study", "loss_ablation")),
                           ("search", ("renas", "loss_search"))):
        for grid in grids:
            if "predictor" in (params[section].get(grid) or {}):
                yield f"{section}.{grid}.predictor", params[section][grid]["predictor"]
    by_predictor = params["search"].get("predictor_nas_by_predictor") or {}
    for i, name in enumerate(by_predictor.get("predictors", [])):
        yield f"search.predictor_nas_by_predictor.predictors[{i}]", name


def _registry(name: str) -> Any:
    """:mod:`nasrank.plugins` or a registry package, imported by a computed name on purpose.

    Every command loads params.yaml, so a literal import here would make the loss and
    predictor code a DVC code dependency of every stage (nasrank.codedeps follows literal
    imports). The checks only raise or pass, they change no stage's output; the stages
    that do use losses or predictors import them themselves (and depend on the plugins'
    files: nasrank.dvcgen).
    """
    return importlib.import_module(f"{__package__}.{name}")


def check_registered_names(params: dict[str, Any], source: str = "params.yaml") -> list[str]:
    """Import the ``plugins`` modules, then check that every loss (:func:`loss_names`) and
    predictor (:func:`predictor_names`) params.yaml names is registered. Without plugins
    and with built-in loss names only, the losses (and torch) are not imported:
    :data:`BUILTIN_LOSSES`.

    Returns:
        The registered loss names and ``regression``.

    Raises:
        UnknownNameError: naming the key and listing the registered names.
        ConfigError, LossRegistrationError, PredictorRegistrationError: a plugin fails
            (naming ``plugins[i]``).
    """
    if params.get("plugins"):
        _registry("plugins").import_plugins(params["plugins"], source)
    named = list(loss_names(params))
    known = [*BUILTIN_LOSSES, NO_LOSS]
    if params.get("plugins") or any(name not in known for _, name in named):
        known = [*_registry("losses").LOSSES, NO_LOSS]  # entry points load with it
    for key, name in named:
        if name not in known:
            raise UnknownNameError(f"loss ({source}: {key})", str(name), known)
    predictors = list(_registry("predictors").PREDICTORS)
    for key, name in predictor_names(params):
        if name not in predictors:
            raise UnknownNameError(f"predictor ({source}: {key})", str(name), predictors)
    return known


def check_params(params: dict[str, Any], source: str = "params.yaml") -> dict[str, Any]:
    """What the schema cannot check: names of registry entries, and numbers that are not
    finite (JSON schema bounds let ``.nan`` through: every comparison with NaN is false).

    Checks every loss and predictor name (the schema only checks their spelling: plugins
    add names it cannot list), first importing the ``plugins`` modules where there are any
    (:func:`check_registered_names`).

    Raises:
        UnknownNameError: a grid's table that no benchmark has; a loss (a grid's, a
            ``losses`` options block's, a variant's) or a predictor (a grid's, a
            ``predictors`` options block's, a ``train.by_predictor`` key) that is not
            registered (encodings of the grids are an enum of the schema).
        ConfigError: a ``.nan`` or ``.inf`` value, naming its key; a plugin that cannot
            be imported, naming ``plugins[i]``.
        LossRegistrationError, PredictorRegistrationError: a plugin's entry is refused
            (nasrank.plugins).
    """
    bad = list(_non_finite(params))
    if bad:
        raise ConfigError(f"{source}: key '{bad[0]}' is not a finite number"
                          + (f" (nor {', '.join(bad[1:])})" if len(bad) > 1 else ""))
    from nasrank.paths import TableId

    exp, search = params["experiments"], params["search"]
    renas_variants, renas = exp["renas_variants"], search["renas"]
    tables = {"experiments.renas_variants": [TableId.of(renas_variants["bench"],
                                                        renas_variants["task"])],
              "experiments.loss_study.tables": exp["loss_study"]["tables"],
              "search.renas": [TableId.of(renas["bench"], renas["task"])],
              "search.loss_search.tables": search["loss_search"]["tables"],
              "search.predictor_nas_by_predictor.tables":
                  (search.get("predictor_nas_by_predictor") or {}).get("tables", []),
              "families.tables": list(params["families"]["tables"])}
    for key, names in tables.items():
        for name in names:
            check_table(name, f"{source}: {key}")
    losses = check_registered_names(params, source)
    for name in params.get(LOSS_VARIANTS) or {}:
        if name in losses:
            raise ConfigError(f"{source}: {LOSS_VARIANTS}.{name} is the name of a loss; a "
                              "variant needs a name of its own")
    by_predictor = search.get("predictor_nas_by_predictor") or {}
    for name in by_predictor.get("encodings") or {}:
        if name not in by_predictor["predictors"]:
            raise ConfigError(f"{source}: search.predictor_nas_by_predictor.encodings.{name}: "
                              f"{name!r} is not one of the section's predictors "
                              f"({', '.join(by_predictor['predictors'])})")
    if "loss_ablation" in exp:
        for name in exp["loss_ablation"]["tables"]:
            check_table(name, f"{source}: experiments.loss_ablation.tables")
        known = [*losses, *(params.get(LOSS_VARIANTS) or {})]
        for ablation, names in exp["loss_ablation"]["ablations"].items():
            for name in names:
                if name not in known:
                    raise UnknownNameError(f"loss or loss variant ({source}: experiments."
                                           f"loss_ablation.ablations.{ablation})", name, known)
    for loss, opts in params["losses"].items():
        for name in (opts or {}).get(BY_TABLE) or {}:
            where = f"{source}: losses.{loss}.{BY_TABLE}"
            if "-" in name:
                check_table(name, where)
            else:
                from nasrank.benchmarks.registry import BENCHMARKS

                if name not in BENCHMARKS:
                    raise UnknownNameError(f"benchmark or table ({where})", name,
                                           list(BENCHMARKS))
    return params


#: the key of a loss's options that holds its per-benchmark or per-table changes
BY_TABLE = "by_table"
#: params.yaml's section of named loss variants (:func:`resolve_loss`)
LOSS_VARIANTS = "loss_variants"


def resolve_loss(params: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    """The loss behind ``name`` and the options a variant changes.

    ``name`` is a loss of the registry (no changes) or a key of params.yaml's
    ``loss_variants``: a loss with some options changed (``warp_accuracy: {loss: warp,
    options: {weights: accuracy}}``), trained and reported under its own name.
    """
    variant = (params.get(LOSS_VARIANTS) or {}).get(name)
    if variant is None:
        return name, {}
    return variant["loss"], dict(variant["options"])


def loss_options_for(params: dict[str, Any], loss: str, table: str,
                     source: str = "params.yaml") -> dict[str, Any]:
    """The options of ``loss`` (a loss or a loss variant) for runs on ``table``:
    ``losses.<loss>`` with its ``by_table`` entries applied, the benchmark's first, then
    the table's own (paper A's piecewise pair depends on the space, and on TransNAS micro
    on the task), then a variant's changes.

    A loss with a ``by_table`` mapping must name every table it runs on, by its
    benchmark or its id: a table left out would silently get the common settings.

    Raises:
        ConfigError: ``by_table`` has no entry for ``table`` nor its benchmark.
    """
    from nasrank.paths import TableId

    base, changes = resolve_loss(params, loss)
    opts = dict(params["losses"].get(base) or {})
    by_table = opts.pop(BY_TABLE, None)
    if by_table is not None:
        table = TableId(table)
        entries = [by_table[k] for k in dict.fromkeys((table.bench, str(table)))
                   if k in by_table]
        if not entries:
            raise ConfigError(f"{source}: losses.{base}.{BY_TABLE} has no entry for table "
                              f"{str(table)!r} (nor its benchmark {table.bench!r}); it "
                              f"names {', '.join(map(repr, by_table))}")
        for entry in entries:
            opts.update(entry or {})
    return {**opts, **changes}


def check_table(name: str, where: str) -> None:
    """A processed table of a registered benchmark (and one of its tasks).

    Raises:
        UnknownNameError: naming ``where``, the table and what exists.
    """
    from nasrank.benchmarks.registry import BENCHMARKS
    from nasrank.paths import TableId

    table = TableId(name)
    if table.bench not in BENCHMARKS:
        raise UnknownNameError(f"benchmark ({where}: {name!r})", table.bench,
                               list(BENCHMARKS))
    tasks = BENCHMARKS[table.bench].tasks
    if (table.task is None) != (not tasks) or (tasks and table.task not in tasks):
        raise UnknownNameError(f"table ({where})", name,
                               [f"{table.bench}-{t}" for t in tasks] or [table.bench])


def mirror_dir(params: dict[str, Any] | None) -> Path | None:
    """The local mirror directory: ``$NASRANK_MIRROR`` if set, else ``data.mirror``."""
    env = os.environ.get(MIRROR_ENV)
    if env:
        return Path(env)
    value = (params or {}).get("data", {}).get("mirror")
    return Path(value) if value else None
