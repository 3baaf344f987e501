"""Tests of the ``nasrank`` command line (nasrank.cli), in-process and as a subprocess.

The contract: any error a user can cause exits with status 2 and one line
``nasrank: error: ...`` on stderr, naming what to fix, never a traceback; outputs land
atomically, carry their provenance, and are byte-identical when rebuilt.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import tmp_params

from nasrank.benchmarks.registry import BENCHMARKS, get_benchmark
from nasrank.cli import ENUMERABLE, main
from nasrank.config import MIRROR_ENV
from nasrank.io import read_metadata, sha256_file

ERROR_PREFIX = "nasrank: error: "


def _params(tmp_path: Path, **data: Any) -> dict[str, Any]:
    return tmp_params(tmp_path, **data)


def _write_params(path: Path, params: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def params_file(tmp_path: Path) -> Path:
    """A valid params file whose data directories lie under tmp_path."""
    return _write_params(tmp_path / "params.yaml", _params(tmp_path))


@pytest.fixture
def processed(tmp_path: Path) -> Path:
    return tmp_path / "data" / "processed"


@pytest.fixture
def with_mirror(mirror: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    return mirror


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``nasrank ARGV`` in-process: (exit status, stdout, stderr)."""
    capsys.readouterr()
    try:
        rc = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return rc, out, err


def run_subprocess(
    *argv: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m nasrank ARGV`` as a real process with an explicit environment."""
    full_env = {k: v for k, v in os.environ.items() if k != MIRROR_ENV}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "nasrank", *argv],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_line_error(rc: int, err: str, *parts: str) -> str:
    """Exit status 2, exactly one line on stderr, ``nasrank: error:``, naming ``parts``."""
    assert rc == 2, err
    assert "Traceback" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith(ERROR_PREFIX), err
    for part in parts:
        assert part in lines[0], f"{part!r} not in {lines[0]!r}"
    return lines[0]


def _listing(path: Path) -> list[str]:
    """Every entry below ``path`` (dot files included), relative; [] if it is absent."""
    if not path.exists():
        return []
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# --- malformed configuration ----------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        pytest.param(
            lambda p: p["data"]["download"].update(retires=4), "data.download.retires", id="typo"
        ),
        pytest.param(
            lambda p: p["data"]["download"].update(retries="four"),
            "data.download.retries",
            id="type",
        ),
        pytest.param(lambda p: p.update(benchmarks=["nb999"]), "benchmarks.0", id="enum"),
        pytest.param(lambda p: p.update(modles={}), "modles", id="unknown-top"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [["fetch", "nbmacro"], ["ingest", "nbmacro"], ["enumerate", "nb101"], ["stats", "nb101"]],
)
def test_malformed_params_in_process(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mutate: Any,
    key: str,
    command: list[str],
) -> None:
    params = _params(tmp_path)
    mutate(params)
    path = _write_params(tmp_path / "bad.yaml", params)
    rc, out, err = run_cli(capsys, "--params", str(path), *command)
    assert_one_line_error(rc, err, key, str(path))
    assert out == ""
    # Nothing was started: no directory was created.
    assert not (tmp_path / "data").exists()


def test_malformed_params_subprocess(tmp_path: Path) -> None:
    params = _params(tmp_path)
    params["data"]["download"]["retires"] = 4
    _write_params(tmp_path / "bad.yaml", params)
    proc = run_subprocess("--params", "bad.yaml", "fetch", "nbmacro", cwd=tmp_path)
    assert_one_line_error(
        proc.returncode, proc.stderr, "unknown key 'data.download.retires'", "bad.yaml"
    )
    assert proc.stdout == ""


def test_default_params_is_cwd_params_yaml(tmp_path: Path) -> None:
    """Without --params the CLI reads ./params.yaml and says so when it is missing."""
    proc = run_subprocess("fetch", "nbmacro", cwd=tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, "params.yaml", "no such params file")


def test_missing_params_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "absent.yaml"
    rc, _, err = run_cli(capsys, "--params", str(path), "fetch", "nbmacro")
    assert_one_line_error(rc, err, str(path), "no such params file")


def test_invalid_yaml_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("data:\n  raw_dir: [a\nbenchmarks: x\n", encoding="utf-8")
    rc, _, err = run_cli(capsys, "--params", str(path), "fetch", "nbmacro")
    assert rc == 2
    assert "Traceback" not in err
    assert err.startswith(ERROR_PREFIX) and str(path) in err and "not valid YAML" in err


def test_invalid_yaml_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("data:\n  raw_dir: [a\nbenchmarks: x\n", encoding="utf-8")
    rc, _, err = run_cli(capsys, "--params", str(path), "fetch", "nbmacro")
    assert_one_line_error(rc, err, str(path), "line 3")


@pytest.mark.parametrize("kind", ["directory", "binary"])
def test_unreadable_params_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "params.yaml"
    if kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(b"\xff\xfe\x00binary")
    proc = run_subprocess("--params", str(path), "fetch", "nbmacro", cwd=tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, str(path))


# --- unknown names --------------------------------------------------------------------


@pytest.mark.parametrize("command", ["fetch", "ingest"])
def test_unknown_benchmark(
    params_file: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    rc, _, err = run_cli(capsys, "--params", str(params_file), command, "nb999")
    line = assert_one_line_error(rc, err, "nb999", "available")
    listed = line.split("available:", 1)[1]
    for name in BENCHMARKS:
        assert name in listed


def test_unknown_benchmark_subprocess(params_file: Path, tmp_path: Path) -> None:
    proc = run_subprocess("--params", str(params_file), "fetch", "nb999", cwd=tmp_path)
    line = assert_one_line_error(proc.returncode, proc.stderr, "unknown benchmark 'nb999'")
    assert line.endswith("available: " + ", ".join(sorted(BENCHMARKS)))
    assert not (tmp_path / "data").exists()


def test_enumerate_not_enumerable(params_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(capsys, "--params", str(params_file), "enumerate", "nb201")
    line = assert_one_line_error(rc, err, "'nb201'", "available")
    for space in ENUMERABLE:
        assert space in line.split("available", 1)[1]
    assert "nb101" in ENUMERABLE


def test_stats_only_nb101(params_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(capsys, "--params", str(params_file), "stats", "nb201")
    assert_one_line_error(rc, err, "nb101", "'nb201'")


def test_ingest_nb101_without_space(
    params_file: Path, processed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(capsys, "--params", str(params_file), "ingest", "nb101")
    assert_one_line_error(
        rc, err, "nasrank enumerate nb101", str(processed / "spaces" / "nb101.parquet")
    )
    assert _listing(processed) == []


def test_ingest_without_fetch(
    params_file: Path, processed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ingesting before fetching names the missing raw file and tells to fetch."""
    rc, _, err = run_cli(capsys, "--params", str(params_file), "ingest", "nbmacro")
    assert_one_line_error(rc, err, "nas-bench-macro_cifar10.json", "nasrank fetch")
    assert _listing(processed) == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from nasrank import __version__

    rc, out, _ = run_cli(capsys, "--version")
    assert rc == 0
    assert out.strip() == f"nasrank {__version__}"


# --- fetch + ingest of a real benchmark -----------------------------------------------


def _fetch_ingest(capsys: pytest.CaptureFixture[str], params_file: Path, bench: str) -> None:
    rc, _, err = run_cli(capsys, "--params", str(params_file), "-q", "fetch", bench)
    assert rc == 0, err
    rc, _, err = run_cli(capsys, "--params", str(params_file), "-q", "ingest", bench)
    assert rc == 0, err


def test_fetch_and_ingest_nbmacro(
    params_file: Path,
    tmp_path: Path,
    processed: Path,
    with_mirror: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = get_benchmark("nbmacro")
    _fetch_ingest(capsys, params_file, "nbmacro")

    raw = tmp_path / "data" / "raw" / "nbmacro"
    assert _listing(raw) == [f.name for f in bench.files]
    dest = processed / "nbmacro.parquet"
    assert _listing(processed) == ["nbmacro.parquet"]  # no temporary file left behind

    table = pq.read_table(dest)
    assert table.num_rows == 3969
    assert table.column_names[0] == "arch_id"
    meta = read_metadata(dest)
    assert meta["benchmark"] == "nbmacro"
    assert meta["task"] is None
    assert set(meta["columns"]) == set(table.column_names)
    assert all(isinstance(v, str) and v for v in meta["columns"].values())
    assert meta["sources"] == [
        {"file": f.name, "sha256": f.sha256, "url": f.url} for f in bench.files
    ]
    assert meta["license"] == bench.license
    assert meta["citation"] == bench.citation
    assert meta["notes"]

    # A second ingest rebuilds the very same bytes.
    first = dest.read_bytes()
    rc, _, err = run_cli(capsys, "--params", str(params_file), "-q", "ingest", "nbmacro")
    assert rc == 0, err
    assert dest.read_bytes() == first
    assert _listing(processed) == ["nbmacro.parquet"]


def test_fetch_and_ingest_subprocess(tmp_path: Path, mirror: Path) -> None:
    """The real ``python -m nasrank`` with relative data dirs below its working directory."""
    params = _params(tmp_path)
    params["data"].update(raw_dir="data/raw", processed_dir="data/processed")
    _write_params(tmp_path / "params.yaml", params)
    env = {MIRROR_ENV: str(mirror)}
    for command in ("fetch", "ingest"):
        proc = run_subprocess("--quiet", command, "nbmacro", cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
    dest = tmp_path / "data" / "processed" / "nbmacro.parquet"
    assert read_metadata(dest)["benchmark"] == "nbmacro"


def test_relative_paths_are_the_projects(tmp_path: Path, mirror: Path) -> None:
    """Issue 20 item 10: run from another directory, ``--params proj/params.yaml`` writes
    into proj/data, never into ./data of the current directory."""
    proj, elsewhere = tmp_path / "proj", tmp_path / "elsewhere"
    elsewhere.mkdir()
    proj.mkdir()
    params = _params(proj)
    params["data"].update(raw_dir="data/raw", processed_dir="data/processed")
    _write_params(proj / "params.yaml", params)
    env = {MIRROR_ENV: str(mirror)}
    for command in ("fetch", "ingest"):
        proc = run_subprocess("--quiet", "--params", "../proj/params.yaml", command,
                              "nbmacro", cwd=elsewhere, env=env)
        assert proc.returncode == 0, proc.stderr
    assert (proj / "data" / "raw" / "nbmacro" / "nas-bench-macro_cifar10.json").is_file()
    assert read_metadata(proj / "data" / "processed" / "nbmacro.parquet")["benchmark"] == \
        "nbmacro"
    assert not any(elsewhere.iterdir())


def test_root_key_moves_the_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``root`` (relative to the params file) is what relative paths are relative to, as in
    Snakemake's merged copy of the configuration under .snakemake/nasrank/."""
    from nasrank.config import load_params
    from nasrank.paths import Paths

    params = _params(tmp_path)
    params["data"].update(raw_dir="data/raw", processed_dir="/abs/processed")
    params["root"] = "../.."
    copy = tmp_path / ".snakemake" / "nasrank" / "params.yaml"
    copy.parent.mkdir(parents=True)
    _write_params(copy, params)
    monkeypatch.chdir(tmp_path)
    paths = Paths.of(load_params(copy))
    assert paths.raw("nb101") == Path("data/raw/nb101")
    assert paths.processed_dir == Path("/abs/processed")
    monkeypatch.chdir(copy.parent)
    assert Paths.of(load_params("params.yaml")).raw("nb101") == Path("../../data/raw/nb101")


def test_mirror_from_params_file(
    tmp_path: Path,
    mirror: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """data.mirror is used when NASRANK_MIRROR is unset (or empty)."""
    monkeypatch.setenv(MIRROR_ENV, "")
    path = _write_params(tmp_path / "params.yaml", _params(tmp_path, mirror=str(mirror)))
    rc, _, err = run_cli(capsys, "--params", str(path), "-q", "fetch", "nbmacro")
    assert rc == 0, err
    assert (tmp_path / "data" / "raw" / "nbmacro" / "nas-bench-macro_cifar10.json").is_file()


def test_mirror_env_beats_params_file(
    tmp_path: Path, with_mirror: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """NASRANK_MIRROR wins over a data.mirror that does not hold the file."""
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    path = _write_params(tmp_path / "params.yaml", _params(tmp_path, mirror=str(empty)))
    rc, _, err = run_cli(capsys, "--params", str(path), "-q", "fetch", "nbmacro")
    assert rc == 0, err
    assert (tmp_path / "data" / "raw" / "nbmacro" / "nas-bench-macro_cifar10.json").is_file()


# --- failures leave nothing behind ----------------------------------------------------


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_failing_ingest_leaves_no_file(
    params_file: Path,
    tmp_path: Path,
    processed: Path,
    with_mirror: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rc, _, err = run_cli(capsys, "--params", str(params_file), "-q", "fetch", "nbmacro")
    assert rc == 0, err
    raw_file = tmp_path / "data" / "raw" / "nbmacro" / "nas-bench-macro_cifar10.json"
    _truncate(raw_file)

    rc, _, err = run_cli(capsys, "--params", str(params_file), "-q", "ingest", "nbmacro")
    assert_one_line_error(rc, err, str(raw_file), "SHA-256 mismatch")
    assert _listing(processed) == []


def test_failing_ingest_keeps_previous_output(
    params_file: Path,
    tmp_path: Path,
    processed: Path,
    with_mirror: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A failed rebuild neither corrupts the previous table nor leaves a temporary file."""
    _fetch_ingest(capsys, params_file, "nbmacro")
    dest = processed / "nbmacro.parquet"
    before = dest.read_bytes()
    _truncate(tmp_path / "data" / "raw" / "nbmacro" / "nas-bench-macro_cifar10.json")

    proc = run_subprocess("--params", str(params_file), "ingest", "nbmacro", cwd=tmp_path)
    assert_one_line_error(proc.returncode, proc.stderr, "nas-bench-macro_cifar10.json")
    assert _listing(processed) == ["nbmacro.parquet"]
    assert dest.read_bytes() == before


def test_failing_fetch_corrupt_mirror(
    tmp_path: Path,
    mirror: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A mirror file with other bytes is a one-line checksum error; no raw file is kept."""
    rel = get_benchmark("nbmacro").files[0].mirror_path
    assert rel is not None
    bad_mirror = tmp_path / "bad-mirror"
    (bad_mirror / rel).parent.mkdir(parents=True)
    (bad_mirror / rel).write_bytes((mirror / rel).read_bytes()[:-10])
    monkeypatch.setenv(MIRROR_ENV, str(bad_mirror))
    path = _write_params(tmp_path / "params.yaml", _params(tmp_path))
    rc, _, err = run_cli(capsys, "--params", str(path), "-q", "fetch", "nbmacro")
    assert_one_line_error(rc, err, "SHA-256")
    assert _listing(tmp_path / "data" / "raw" / "nbmacro") == []


SLOW_WRITER = '''
import sys, time
from pathlib import Path
from nasrank import cli
from nasrank.io import atomic_path

def slow(args, params):
    with atomic_path(Path(sys.argv[2]) / "out.parquet") as tmp:
        tmp.write_bytes(b"half written")
        print("writing", flush=True)
        time.sleep(120)

cli.COMMANDS["verify"] = slow
sys.exit(cli.main(["--params", sys.argv[1], "verify"]))
'''


def test_sigterm_leaves_no_partial_output(params_file: Path, tmp_path: Path) -> None:
    """``scancel`` (or Snakemake, DVC) stops a job with SIGTERM: the command exits with
    128 + 15 and the temporary file it was writing is gone."""
    import signal

    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k != MIRROR_ENV}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(params_file), str(out)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    assert next(p.name for p in out.iterdir()).startswith(".out.parquet.")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert list(out.iterdir()) == []


def test_ingest_refuses_edited_raw_file(
    params_file: Path,
    tmp_path: Path,
    processed: Path,
    with_mirror: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A raw file changed after fetch (one digit of a "params" value) is refused, naming the
    file and both hashes, and nothing is ingested (issue 20, item 1)."""
    rc, _, err = run_cli(capsys, "--params", str(params_file), "-q", "fetch", "nbmacro")
    assert rc == 0, err
    raw = tmp_path / "data" / "raw" / "nbmacro" / "nas-bench-macro_cifar10.json"
    text = raw.read_text(encoding="utf-8")
    edited = re.sub(r'("params": \d*)(\d)', lambda m: m[1] + str((int(m[2]) + 1) % 10),
                    text, count=1)
    assert edited != text
    raw.chmod(0o644)
    raw.write_text(edited, encoding="utf-8")
    pinned = next(f.sha256 for f in get_benchmark("nbmacro").files if f.name == raw.name)
    rc, _, err = run_cli(capsys, "--params", str(params_file), "-q", "ingest", "nbmacro")
    assert rc != 0
    assert f"SHA-256 mismatch for {raw}: expected {pinned}, got {sha256_file(raw)}" in err
    assert _listing(processed) == []


@pytest.mark.parametrize("seed", ["-1", str(2**32), "x"])
def test_bad_seed_is_one_line(params_file: Path, capsys: pytest.CaptureFixture[str],
                              seed: str) -> None:
    """A negative, too large or non-integer seed: a usage error, not a traceback
    (issue 20, item 8)."""
    for argv in (["evaluate", "nbmacro", "gcn", "gcn", "hr", "--train-size", "100",
                  "--seed", seed],
                 ["sweep", "nbmacro", "gcn", "gcn", "--losses", "hr", "--train-sizes", "100",
                  "--seeds", f"0,{seed}"]):
        rc, _, err = run_cli(capsys, "--params", str(params_file), *argv)
        assert rc == 2 and "Traceback" not in err and "seed" in err, err


def test_evaluate_missing_run_names_it(params_file: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(capsys, "--params", str(params_file), "evaluate", "nbmacro", "gcn",
                         "gcn", "hr", "--train-size", "77", "--seed", "0")
    assert_one_line_error(rc, err, "nbmacro/gcn/gcn/hr/n77/s0/predictions.parquet is missing",
                          "nasrank train")


def test_truncated_parquet_names_the_file(tmp_path: Path) -> None:
    from nasrank.errors import DataFormatError
    from nasrank.io import read_metadata, write_parquet

    path = tmp_path / "t.parquet"
    write_parquet(path, pa.table({"arch_id": ["a", "b"]}), {"x": 1})
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataFormatError, match=rf"{re.escape(str(path))}: not a readable Parquet"):
        read_metadata(path)
