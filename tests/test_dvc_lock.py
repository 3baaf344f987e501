"""The committed dvc.lock records this checkout's pipeline and its committed results.

dvc.lock is written by ``dvc repro`` (or ``dvc commit`` after a Snakemake run). These
checks need no data and no DVC, so they run on a fresh clone:

* every dvc.yaml stage (foreach instances expanded as DVC names them) is in the lock with
  the same command, the same outputs and the values params.yaml has now, so a change to
  the pipeline or to params.yaml without a rerun fails here;
* the outputs Git keeps (``cache: false``: metrics, search and family results, tables,
  figures, the HTML report) have exactly the hashes the lock recorded, measured
  wall-clock times excepted (``nasrank verify``'s rule).

The lock also records the hashes of the source files each stage reads; those are not
compared here (a refactor that leaves every output unchanged is recorded with ``dvc
commit``), but ``dvc status`` shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from nasrank.verify import foreach_instances, interpolate, load_lock, output_specs, verify

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "dvc.lock"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def lock() -> dict[str, Any]:
    return load_lock(LOCK)


@pytest.fixture(scope="module")
def declared() -> dict[str, dict[str, Any]]:
    """Lock stage name -> {"cmd", "params"} as dvc.yaml declares it."""
    out = {}
    for name, stage in _yaml(ROOT / "dvc.yaml")["stages"].items():
        body = stage.get("do", stage)
        for instance, key, item in foreach_instances(name, stage):
            out[instance] = {
                "cmd": interpolate(body["cmd"], key, item),
                "params": [interpolate(p, key, item) for p in body.get("params", [])],
            }
    return out


def _value(params: dict[str, Any], dotted: str) -> Any:
    value: Any = params
    for part in dotted.split("."):
        value = value[part]
    return value


def test_every_stage_is_locked_with_its_command_and_outputs(
        lock: dict[str, Any], declared: dict[str, dict[str, Any]]) -> None:
    assert set(lock) == set(declared), (
        f"not in dvc.lock: {sorted(set(declared) - set(lock))[:5]}; "
        f"not in dvc.yaml: {sorted(set(lock) - set(declared))[:5]}")
    specs = output_specs(ROOT / "dvc.yaml")
    for name, stage in lock.items():
        assert stage["cmd"] == declared[name]["cmd"], name
        assert {o["path"] for o in stage.get("outs", [])} == set(specs[name]), name


def test_locked_params_are_params_yaml(lock: dict[str, Any],
                                       declared: dict[str, dict[str, Any]]) -> None:
    params = _yaml(ROOT / "params.yaml")
    for name, stage in lock.items():
        recorded = stage.get("params", {}).get("params.yaml", {})
        assert set(recorded) == set(declared[name]["params"]), name
        for key, value in recorded.items():
            assert value == _value(params, key), f"{name}: params.yaml key {key}"


def test_committed_results_match_the_lock(lock: dict[str, Any]) -> None:
    specs = output_specs(ROOT / "dvc.yaml")
    in_git = [name for name in lock
              if specs[name] and all(o.get("cache") is False for o in specs[name].values())]
    assert len(in_git) > 50  # metrics, search, families, tables, figures, report
    report = verify(ROOT, LOCK, stages=in_git)
    assert report.ok, report.to_text()
    assert report.checked == sum(len(lock[n]["outs"]) for n in in_git)
