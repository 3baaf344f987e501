"""Tests of nasrank.io: strict JSON only, the same bytes as before for finite data (issue
20, item 7); atomic writes whose temporaries a killed writer leaves are removed by the next
writer, never a live one's (issue 20, item 9)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nasrank.errors import NasrankError
from nasrank.io import (
    TEMP_NAME,
    NonFiniteJSONError,
    atomic_path,
    stale_temps,
    temp_dir,
    write_json,
)
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

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _killed_while_writing(code: str, tmp_path: Path) -> None:
    """Run ``code`` (with ``dest`` and ``kill()`` defined) in a process that SIGKILLs itself."""
    prelude = ("import os, signal, sys\nsys.path.insert(0, sys.argv[1])\n"
               "from pathlib import Path\nfrom nasrank.io import atomic_path, temp_dir\n"
               "dest = Path(sys.argv[2])\n"
               "def kill():\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", prelude + code, SRC,
                           str(tmp_path / "out" / "s0")], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr


def _age(directory: Path) -> list[Path]:
    """The temporaries in ``directory``, made old enough to be judged."""
    found = sorted(p for p in directory.iterdir() if TEMP_NAME.fullmatch(p.name))
    long_ago = time.time() - 600
    for path in found:
        os.utime(path, (long_ago, long_ago))
    return found


def test_killed_file_writer_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    _killed_while_writing("with atomic_path(dest) as tmp:\n"
                          "    tmp.write_text('half')\n    kill()\n", tmp_path)
    out = tmp_path / "out"
    (left,) = _age(out)
    assert left.name.startswith(".s0.") and left.read_text() == "half"
    assert stale_temps(out) == [left]
    write_json(out / "s0", {"a": 1})
    assert sorted(p.name for p in out.iterdir()) == ["s0"]
    assert json.loads((out / "s0").read_text()) == {"a": 1}


def test_killed_directory_writer_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    _killed_while_writing("with temp_dir(dest) as tmp:\n"
                          "    (tmp / 'model.bin').write_bytes(b'half')\n    kill()\n",
                          tmp_path)
    out = tmp_path / "out"
    (left,) = _age(out)
    assert ".s0.new." in left.name and left.is_dir()
    with temp_dir(out / "s0") as tmp:
        assert not left.exists()
        assert tmp.parent == out


def test_a_live_writers_temporary_is_kept(tmp_path: Path) -> None:
    dest = tmp_path / "a.json"
    with atomic_path(dest) as tmp:
        tmp.write_text("first")
        long_ago = time.time() - 600
        os.utime(tmp, (long_ago, long_ago))
        assert stale_temps(tmp_path) == []
        write_json(dest, {"second": True})       # another writer of the same file
        assert tmp.read_text() == "first"
    assert dest.read_text() == "first"           # the last rename wins, nothing lost
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.parametrize("name", [".a.json.abcd1234.tmp", ".model.bin.x2.parquet.tmp",
                                  ".s0.new.ab_cd123", ".s0.old.00000000"])
def test_temp_names(name: str) -> None:
    assert TEMP_NAME.fullmatch(name)


@pytest.mark.parametrize("name", ["a.tmp", ".dvcignore", ".snakemake_timestamp",
                                  ".s0.new.short"])
def test_not_temp_names(name: str) -> None:
    assert not TEMP_NAME.fullmatch(name)
