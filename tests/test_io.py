"""Tests of nasrank.io's JSON output: strict JSON only, the same bytes as before for
finite data (issue 20, item 7)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from nasrank.errors import NasrankError
from nasrank.io import NonFiniteJSONError, write_json
from nasrank.metrics import ranking_metrics, strict_metrics


def _strict_loads(text: str) -> Any:
    """``json.loads`` that refuses the non-standard NaN/Infinity tokens."""
    def refuse(token: str) -> Any:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_write_json_refuses_non_finite_naming_file_and_key(tmp_path: Path,
                                                           value: float) -> None:
    dest = tmp_path / "m.json"
    obj = {"run_id": "r", "results": [{"rows": [{"n": 3, "mae": 1.0}, {"mae": value}]}]}
    with pytest.raises(NonFiniteJSONError) as err:
        write_json(dest, obj)
    msg = str(err.value)
    assert str(dest) in msg and "results[0].rows[1].mae" in msg and repr(value) in msg
    assert isinstance(err.value, NasrankError) and isinstance(err.value, ValueError)
    assert list(tmp_path.iterdir()) == []   # nothing written, no temporary file left


def test_write_json_refusal_leaves_the_previous_file(tmp_path: Path) -> None:
    dest = tmp_path / "m.json"
    write_json(dest, {"kendall_tau": 0.5})
    before = dest.read_bytes()
    with pytest.raises(NonFiniteJSONError, match=r"m\.json: kendall_tau is nan"):
        write_json(dest, {"kendall_tau": math.nan})
    assert dest.read_bytes() == before


def test_finite_metrics_keep_their_bytes(tmp_path: Path) -> None:
    """Without a non-finite value, strict_metrics changes nothing and write_json writes
    exactly what it wrote before it became strict (``json.dumps`` defaults)."""
    m = ranking_metrics([90.1, 91.5, 89.0, 93.2, 92.0], [0.2, 0.4, 0.1, 0.3, 0.5],
                        precision_at_k=(2,))
    report = {"run_id": "x/s0", "config": {"seed": 0, "options": (1, 2)}, "metrics": m,
              "train_metrics": dict(m)}
    strict = strict_metrics(report)
    assert strict == {**report, "config": {"seed": 0, "options": [1, 2]}}
    assert "warnings" not in strict
    dest = tmp_path / "m.json"
    write_json(dest, strict)
    assert dest.read_text(encoding="utf-8") == json.dumps(report, indent=2,
                                                          sort_keys=True) + "\n"


def test_strict_metrics_file_is_standard_json(tmp_path: Path) -> None:
    """Undefined metrics (constant predictions) reach the file as null plus a warning."""
    report = {"metrics": ranking_metrics([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])}
    dest = tmp_path / "m.json"
    write_json(dest, strict_metrics(report))
    data = _strict_loads(dest.read_text(encoding="utf-8"))
    assert data["metrics"]["kendall_tau"] is None
    assert "metrics.kendall_tau: undefined (constant predictions or labels)" in data["warnings"]
