"""Tests of nasrank.config: params.yaml validation against the shared schema, mirror_dir.

Every invalid file is a real file on disk read by :func:`load_params`, and the error must
name what is wrong (the dotted key, or the file) so a user can fix it without a traceback.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nasrank.config import MIRROR_ENV, load_params, mirror_dir, read_yaml, schema, validate_params
from nasrank.errors import ConfigError, NasrankError, UnknownNameError


@pytest.fixture
def params(repo: Path) -> dict[str, Any]:
    """A fresh, mutable copy of the repository's params.yaml."""
    with open(repo / "params.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def _write(path: Path, params: Any) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def _load_error(tmp_path: Path, params: Any) -> str:
    """The message of the ConfigError that loading ``params`` from a file raises."""
    path = _write(tmp_path / "params.yaml", params)
    with pytest.raises(ConfigError) as info:
        load_params(path)
    msg = str(info.value)
    assert str(path) in msg, f"error does not name the file: {msg}"
    return msg


# --- the repository's own file --------------------------------------------------------


def test_repo_params_is_valid(repo: Path) -> None:
    params = load_params(repo / "params.yaml")
    # root is optional: the default is the params file's directory
    # root and plugins are optional
    assert set(params) - {"plugins"} == set(schema()["required"])
    assert set(params) == set(schema()["properties"]) - {"root"}
    assert params["plugins"] == []
    assert params["benchmarks"] == ["nb101", "nb201", "tnb101_micro", "tnb101_macro", "nbgraph",
                                   "nbmacro", "darts"]
    assert params["data"]["raw_dir"] == "data/raw"
    assert params["data"]["processed_dir"] == "data/processed"
    assert params["stats"]["nb101"]["target"] == "val_acc_108"


def test_repo_params_default_path(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an argument load_params reads ./params.yaml."""
    monkeypatch.chdir(repo)
    assert load_params() == load_params(repo / "params.yaml")


def test_schema_is_the_workflow_schema(repo: Path) -> None:
    """The CLI validates with the very schema Snakemake's validate() uses."""
    with open(repo / "workflow" / "schemas" / "params.schema.yaml", encoding="utf-8") as f:
        assert schema() == yaml.safe_load(f)


def test_every_benchmark_of_the_schema_is_registered() -> None:
    from nasrank.benchmarks import READERS
    from nasrank.benchmarks.registry import BENCHMARKS

    allowed = set(schema()["properties"]["benchmarks"]["items"]["enum"])
    assert allowed == set(BENCHMARKS) == set(READERS)


def test_config_error_is_a_nasrank_error() -> None:
    """The CLI turns NasrankError into a one-line message; ConfigError must be one."""
    assert issubclass(ConfigError, NasrankError)


# --- invalid contents: each names the dotted key --------------------------------------


def _set(keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(p: dict[str, Any]) -> None:
        *parents, last = keys.split(".")
        node = p
        for k in parents:
            node = node[k]
        node[last] = value

    return mutate


def _drop(keys: str) -> Callable[[dict[str, Any]], None]:
    def mutate(p: dict[str, Any]) -> None:
        *parents, last = keys.split(".")
        node = p
        for k in parents:
            node = node[k]
        del node[last]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(_set("models", {"gp": 1}), ["unknown key 'models'"], id="unknown-top"),
        pytest.param(
            _set("data.download.retires", 3),
            ["unknown key 'data.download.retires'"],
            id="unknown-nested",
        ),
        pytest.param(
            _set("stats.nb101.targte", "val_acc_108"),
            ["unknown key 'stats.nb101.targte'"],
            id="unknown-deep",
        ),
        pytest.param(
            _set("data.download.retries", "four"),
            ["data.download.retries", "'four'", "integer"],
            id="wrong-type-str",
        ),
        pytest.param(
            _set("data.download.retries", 2.5),
            ["data.download.retries", "integer"],
            id="wrong-type-float",
        ),
        pytest.param(
            _set("data.download.retries", True),
            ["data.download.retries", "integer"],
            id="wrong-type-bool",
        ),
        pytest.param(
            _set("data.download.retries", -1), ["data.download.retries", "minimum"], id="negative"
        ),
        pytest.param(
            _set("data.download.timeout_s", 0), ["data.download.timeout_s"], id="zero-timeout"
        ),
        pytest.param(_set("data.mirror", 5), ["data.mirror"], id="mirror-not-string"),
        pytest.param(_set("data.raw_dir", None), ["data.raw_dir"], id="raw-dir-null"),
        pytest.param(
            _set("benchmarks", ["nb201", "nb999"]),
            ["benchmarks.1", "'nb999'", "nb201", "nbmacro"],
            id="enum-benchmark",
        ),
        pytest.param(
            _set("stats.nb101.target", "val_acc_200"),
            ["stats.nb101.target", "'val_acc_200'", "val_acc_108"],
            id="enum-target",
        ),
        pytest.param(_set("benchmarks", []), ["benchmarks"], id="no-benchmarks"),
        pytest.param(
            _set("benchmarks", ["nb101", "nb101"]), ["benchmarks", "non-unique"], id="duplicate"
        ),
        pytest.param(_set("benchmarks", "nb101"), ["benchmarks", "array"], id="not-a-list"),
        pytest.param(_drop("data.raw_dir"), ["missing key 'data.raw_dir'"], id="missing"),
        pytest.param(
            _drop("data.download.backoff_s"),
            ["missing key 'data.download.backoff_s'"],
            id="missing-nested",
        ),
        pytest.param(_drop("stats"), ["missing key 'stats'"], id="missing-top"),
    ],
)
def test_invalid_params(
    tmp_path: Path,
    params: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None],
    expected: list[str],
) -> None:
    mutate(params)
    msg = _load_error(tmp_path, params)
    for part in expected:
        assert part in msg, f"{part!r} not in {msg!r}"
    assert "\n" not in msg


def test_every_error_is_reported(tmp_path: Path, params: dict[str, Any]) -> None:
    """Several mistakes in one file are all listed, not only the first."""
    params["data"]["download"]["retires"] = 3
    params["data"]["download"]["retries"] = "four"
    params["benchmarks"] = ["nb999"]
    params["extra"] = True
    msg = _load_error(tmp_path, params)
    for part in ("data.download.retires", "data.download.retries", "benchmarks.0", "'extra'"):
        assert part in msg


def test_validate_params_names_source(params: dict[str, Any]) -> None:
    params["data"]["download"]["retires"] = 3
    with pytest.raises(ConfigError, match=r"^custom\.yaml: unknown key 'data\.download\.retires'"):
        validate_params(params, "custom.yaml")


def test_validate_params_returns_valid_params(params: dict[str, Any]) -> None:
    before = copy.deepcopy(params)
    assert validate_params(params) == before


# --- files that are not a params mapping ----------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("data:\n  raw_dir: [a\nbenchmarks: x\n", id="unclosed-flow"),
        pytest.param("data: {a: 1}\n  b: 2\n", id="bad-indent"),
        pytest.param("data: !!python/object:os.system x\n", id="unsafe-tag"),
    ],
)
def test_invalid_yaml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_params(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", "object", id="empty"),
        pytest.param("- nb101\n- nb201\n", "object", id="list"),
        pytest.param("just a string\n", "object", id="scalar"),
    ],
)
def test_not_a_mapping(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected) as info:
        load_params(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "params.yaml"
    with pytest.raises(ConfigError, match="no such params file") as info:
        load_params(path)
    assert str(path) in str(info.value)


# --- mirror_dir -----------------------------------------------------------------------


def test_mirror_from_params(monkeypatch: pytest.MonkeyPatch, params: dict[str, Any]) -> None:
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    params["data"]["mirror"] = "/srv/mirror"
    assert mirror_dir(params) == Path("/srv/mirror")


def test_mirror_none(monkeypatch: pytest.MonkeyPatch, params: dict[str, Any]) -> None:
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert params["data"]["mirror"] is None
    assert mirror_dir(params) is None
    assert mirror_dir(None) is None


def test_mirror_env_beats_params(monkeypatch: pytest.MonkeyPatch, params: dict[str, Any]) -> None:
    params["data"]["mirror"] = "/srv/mirror"
    monkeypatch.setenv(MIRROR_ENV, "/env/mirror")
    assert mirror_dir(params) == Path("/env/mirror")


def test_mirror_env_without_params(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MIRROR_ENV, "/env/mirror")
    assert mirror_dir(None) == Path("/env/mirror")


def test_mirror_empty_env_falls_back(
    monkeypatch: pytest.MonkeyPatch, params: dict[str, Any]
) -> None:
    params["data"]["mirror"] = "/srv/mirror"
    monkeypatch.setenv(MIRROR_ENV, "")
    assert mirror_dir(params) == Path("/srv/mirror")
    params["data"]["mirror"] = None
    assert mirror_dir(params) is None


def test_mirror_from_loaded_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, params: dict[str, Any]
) -> None:
    """A params file's data.mirror survives load_params and reaches mirror_dir."""
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    params["data"]["mirror"] = str(tmp_path / "m")
    loaded = load_params(_write(tmp_path / "params.yaml", params))
    assert mirror_dir(loaded) == tmp_path / "m"


def test_duplicate_key_names_key_and_lines(repo: Path, tmp_path: Path) -> None:
    """PyYAML keeps the last of two equal keys; params.yaml must not (issue 20, item 4)."""
    text = (repo / "params.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("  epochs:")) + 1
    dup = text.replace("  epochs: 200\n", "  epochs: 200\n  epochs: 20\n", 1)
    path = tmp_path / "params.yaml"
    path.write_text(dup, encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path}: not valid YAML: duplicate key 'epochs' "
                                          rf"\(lines {first} and {first + 1}\)"):
        load_params(path)
    nested = tmp_path / "nested.yaml"
    nested.write_text("a: {b: 1, b: 2}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"duplicate key 'b' \(lines 1 and 1\)"):
        read_yaml(nested, "file")


def test_by_predictor_typo_lists_predictors(repo: Path, tmp_path: Path) -> None:
    """``train.by_predictor.<typo>`` is an error listing the predictors (issue 20, item 4)."""
    params = load_params(repo / "params.yaml")
    params["train"]["by_predictor"]["gnc"] = {"epochs": 5}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    with pytest.raises(UnknownNameError, match=r"predictor \(.*train.by_predictor.gnc\) 'gnc'; "
                                               r"available: .*gcn.*lenet.*mlp"):
        load_params(path)


@pytest.mark.parametrize("key", ["learning_rate", "weight_decay"])
def test_nan_setting_is_refused(repo: Path, tmp_path: Path, key: str) -> None:
    """``.nan`` passes every JSON-schema bound; load_params names it (issue 20, item 8)."""
    text = (repo / "params.yaml").read_text(encoding="utf-8")
    path = tmp_path / "params.yaml"
    path.write_text(re.sub(rf"(?m)^  {key}: .*$", f"  {key}: .nan", text, count=1),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"key 'train.{key}' is not a finite number"):
        load_params(path)


def test_schema_names_are_the_registries() -> None:
    """The grids' enum of encodings is nasrank's registry; loss and predictor names are a
    pattern (plugins add them), checked against the registries by check_params."""
    from nasrank.encodings import MODULES, available
    from nasrank.losses import LOSSES
    from nasrank.predictors import PREDICTORS

    defs = schema()["$defs"]
    assert all(re.match(defs["loss"]["pattern"], n) for n in [*LOSSES, "regression"])
    assert all(re.match(defs["predictor"]["pattern"], n) for n in PREDICTORS)
    assert set(defs["encoding"]["enum"]) == {e for b in MODULES for e in available(b)}


def test_predictor_names_cover_every_predictor_of_the_schema(repo: Path) -> None:
    """nasrank.config.predictor_names lists the places the schema refers to
    $defs/predictor: the five grids, the keys of two sections and the predictor list of
    search.predictor_nas_by_predictor."""
    from nasrank.config import predictor_names

    text = yaml.safe_dump(schema())
    assert text.count("'#/$defs/predictor'") == 8
    params = load_params(repo / "params.yaml")
    keys = [k for k, _ in predictor_names(params)]
    assert {k for k in keys if k.endswith(".predictor")} == {
        "experiments.renas_variants.predictor", "experiments.loss_study.predictor",
        "experiments.loss_ablation.predictor", "search.renas.predictor",
        "search.loss_search.predictor"}
    listed = params["search"]["predictor_nas_by_predictor"]["predictors"]
    assert [n for k, n in predictor_names(params)
            if k.startswith("search.predictor_nas_by_predictor.")] == listed


@pytest.mark.parametrize(("edit", "message"), [
    (lambda p: p["predictors"].update(gnn={"hidden": 3}),
     r"unknown predictor \(.*: predictors.gnn\) 'gnn'"),
    (lambda p: p["experiments"]["loss_study"]["losses"].append("hrr"),
     r"unknown loss \(.*: experiments.loss_study.losses\[\d+\]\) 'hrr'; available: .*hr"),
    (lambda p: p["search"]["loss_search"]["losses"].append("Hr"),
     r"key 'search.loss_search.losses.\d+': 'Hr' does not match"),
    (lambda p: p["loss_variants"]["hr_margin_0"].update(loss="hinge"),
     r"unknown loss \(.*: loss_variants.hr_margin_0.loss\) 'hinge'; available: "),
    (lambda p: p["losses"].update(hinge={"margin": 0.1}),
     r"unknown loss \(.*: losses.hinge\) 'hinge'; available: "),
    (lambda p: p["experiments"]["loss_study"].update(losses=[]),
     r"key 'experiments.loss_study.losses': \[\] should be non-empty"),
    (lambda p: p["search"]["loss_search"].update(tables=[]),
     r"key 'search.loss_search.tables': \[\] should be non-empty"),
    (lambda p: p["experiments"]["loss_study"].update(predictor="gnc"),
     r"unknown predictor \(.*: experiments.loss_study.predictor\) 'gnc'; available: .*gcn"),
    (lambda p: p["experiments"]["renas_variants"]["variants"]["v1"].update(encoding="tensor"),
     r"key 'experiments.renas_variants.variants.v1.encoding': 'tensor' is not one of"),
    (lambda p: p["experiments"]["loss_study"]["tables"].append("nb201-cifar11"),
     r"experiments.loss_study.tables\) 'nb201-cifar11'; available: nb201-cifar10, "),
    (lambda p: p["search"]["loss_search"]["tables"].append("nb999"),
     r"search.loss_search.tables: 'nb999'\) 'nb999'; available: darts, "),
    (lambda p: p["experiments"]["renas_variants"].update(task="cifar10"),
     r"experiments.renas_variants\) 'nb101-cifar10'; available: nb101"),
])
def test_grid_typos_are_refused_naming_the_key(repo: Path, tmp_path: Path,
                                               edit: Callable[[dict[str, Any]], None],
                                               message: str) -> None:
    """Misspelled grid values and empty lists fail when params are loaded, before anything
    runs (issue 20, item 5)."""
    params = load_params(repo / "params.yaml")
    edit(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    with pytest.raises(NasrankError, match=message):
        load_params(path)
