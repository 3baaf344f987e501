"""Tests of ``nasrank.verify`` against dvc.lock files written by the real DVC.

A tiny Git + DVC repository is built once per module (three stages: file and directory
outputs, a ``cache: false`` output, a foreach stage, a CRLF text file, files that
``.dvcignore`` and DVC's defaults exclude) and copied for every test that damages it.
DVC runs as a subprocess with the interpreter's bin directory first on PATH, like
tests/test_workflow.py. The lock-format errors need no DVC.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, run_ok, venv_tool

from nasrank.errors import NasrankError, UnknownNameError
from nasrank.io import remove_stale, stale_temps
from nasrank.verify import (
    LockFormatError,
    LockNotFoundError,
    VerifyError,
    dir_hash,
    file_md5,
    manifest_md5,
    prune_lock,
    verify,
)

CRLF_TEXT = b"alpha,beta\r\n1,2\r\n3,4\r\n"

MAKE_PY = f'''\
import pathlib

root = pathlib.Path("data")
(root / "dir" / "sub").mkdir(parents=True, exist_ok=True)
(root / "dir" / "__pycache__").mkdir(exist_ok=True)
(root / "text.txt").write_bytes({CRLF_TEXT!r})
(root / "blob.bin").write_bytes(bytes(range(256)) * 4)
(root / "dir" / "a.txt").write_text("a\\n")
(root / "dir" / "sub" / "b.bin").write_bytes(b"\\x00\\x01\\r\\n" * 10)
(root / "dir" / "sub" / "empty").write_bytes(b"")
(root / "dir" / "scratch.tmp").write_text("ignored by .dvcignore")
(root / "dir" / "__pycache__" / "x.pyc").write_bytes(b"ignored too")
'''

DVC_YAML = {
    "stages": {
        "make": {
            "cmd": "python make.py",
            "deps": ["make.py"],
            "params": ["seed"],
            "outs": ["data/text.txt", "data/blob.bin", "data/dir"],
        },
        "count": {
            "cmd": "python -c \"import os; n = sum(len(f) for _, _, f in os.walk('data/dir')); "
                   "open('count.txt', 'w').write(str(n))\"",
            "deps": ["data/dir"],
            "outs": [{"count.txt": {"cache": False}}],
        },
        "copy": {
            "foreach": ["a", "b"],
            "do": {
                "cmd": "python -c \"import shutil, time; "
                       "shutil.copy('data/text.txt', 'copy_${item}.txt'); "
                       "open('time_${item}.txt', 'w').write(str(time.perf_counter_ns()))\"",
                "deps": ["data/text.txt"],
                "outs": ["copy_${item}.txt",
                         {"time_${item}.txt": {"cache": False, "meta": {"measured": True}}}],
            },
        },
    }
}


def _dvc(repo: Path, *args: str) -> str:
    return run_ok([venv_tool("dvc"), *args], repo)


def _status(repo: Path) -> dict[str, Any]:
    """``dvc status --json``: stage -> list of changes ({} when up to date)."""
    return json.loads(_dvc(repo, "status", "--json").strip().splitlines()[-1])


def _lock(repo: Path) -> dict[str, Any]:
    return yaml.safe_load((repo / "dvc.lock").read_text())["stages"]


def _snapshot(repo: Path) -> dict[str, bytes]:
    """Every workspace file's bytes, outside .git and .dvc."""
    return {p.relative_to(repo).as_posix(): p.read_bytes() for p in sorted(repo.rglob("*"))
            if p.is_file() and not {".git", ".dvc"} & set(p.relative_to(repo).parts)}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Git + DVC repository after ``dvc repro``, shared read-only by the tests."""
    git, dvc = venv_tool("git"), venv_tool("dvc")
    repo = tmp_path_factory.mktemp("dvcrepo")
    run_ok([git, "init", "-q"], repo)
    run_ok([dvc, "init", "-q"], repo)
    (repo / "make.py").write_text(MAKE_PY)
    (repo / "params.yaml").write_text("seed: 0\n")
    (repo / ".dvcignore").write_text("# test patterns\n__pycache__/\ndata/dir/*.tmp\n")
    (repo / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False, width=200))
    run_ok([dvc, "repro", "-q"], repo)
    assert _status(repo) == {}
    return repo


@pytest.fixture
def repo(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the pristine repository (the cache is copied, not linked)."""
    return Path(shutil.copytree(pristine, tmp_path / "repo", symlinks=True))


def _kinds(report: Any) -> set[tuple[str, str, str]]:
    return {(p.stage, p.path, p.kind) for p in report.problems}


# --- DVC-backed tests -------------------------------------------------------------------


def test_clean_workspace_is_ok_and_hashes_equal_dvcs(pristine: Path) -> None:
    report = verify(pristine, deps=True)
    assert report.ok, report.to_text()
    lock = _lock(pristine)
    assert set(lock) == {"make", "count", "copy@a", "copy@b"}
    assert report.checked == sum(len(s.get("deps", [])) + len(s["outs"]) for s in lock.values())
    assert report.to_text().endswith(f"all {report.checked} checked entries match")
    for stage in lock.values():
        for entry in stage["outs"]:
            assert entry["hash"] == "md5"
            path = pristine / entry["path"]
            if entry["md5"].endswith(".dir"):
                found = dir_hash(path, repo_root=pristine)
                assert (found.md5, found.size, found.nfiles) == (
                    entry["md5"], entry["size"], entry["nfiles"])
            else:
                assert file_md5(path) == entry["md5"]
                assert path.stat().st_size == entry["size"]


def test_directory_manifest_is_dvcs(pristine: Path) -> None:
    entry = next(o for o in _lock(pristine)["make"]["outs"] if o["path"] == "data/dir")
    md5 = entry["md5"]
    cached = pristine / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    manifest = json.loads(cached.read_bytes())
    found = dir_hash(pristine / "data/dir", repo_root=pristine)
    # same rows, same serialisation: the .dir object's own MD5 is the recorded hash
    assert manifest == [{"md5": m, "relpath": r} for r, (m, _) in sorted(found.files.items())]
    assert hashlib.md5(cached.read_bytes()).hexdigest() + ".dir" == md5 == manifest_md5(manifest)
    # .dvcignore patterns and DVC's defaults keep these out; the empty file is in
    assert sorted(found.files) == ["a.txt", "sub/b.bin", "sub/empty"]
    assert (pristine / "data/dir/scratch.tmp").is_file()
    assert (pristine / "data/dir/__pycache__/x.pyc").is_file()


def test_crlf_text_is_hashed_raw_as_dvc3_does(pristine: Path) -> None:
    entry = next(o for o in _lock(pristine)["make"]["outs"] if o["path"] == "data/text.txt")
    assert (pristine / "data/text.txt").read_bytes() == CRLF_TEXT
    assert entry["md5"] == hashlib.md5(CRLF_TEXT).hexdigest() == file_md5(
        pristine / "data/text.txt")
    assert entry["md5"] != hashlib.md5(CRLF_TEXT.replace(b"\r\n", b"\n")).hexdigest()
    assert entry["size"] == len(CRLF_TEXT)


def test_damage_is_named_and_repaired(repo: Path) -> None:
    before = _snapshot(repo)
    (repo / "data/blob.bin").write_bytes(b"tampered")
    (repo / "copy_a.txt").unlink()
    (repo / "data/dir/sub/b.bin").write_bytes(b"corrupt")
    (repo / "data/dir/a.txt").unlink()
    (repo / "data/dir/new.txt").write_text("new")
    (repo / "count.txt").write_text("999")

    report = verify(repo)
    assert not report.ok
    assert _kinds(report) == {
        ("make", "data/blob.bin", "modified"),
        ("make", "data/dir", "modified"),
        ("make", "data/dir/a.txt", "missing"),
        ("make", "data/dir/sub/b.bin", "modified"),
        ("make", "data/dir/new.txt", "added"),
        ("copy@a", "copy_a.txt", "missing"),
        ("count", "count.txt", "modified"),
    }
    blob = next(p for p in report.problems if p.path == "data/blob.bin")
    assert (blob.actual, blob.actual_size) == (hashlib.md5(b"tampered").hexdigest(), 8)
    assert blob.expected == hashlib.md5(before["data/blob.bin"]).hexdigest()
    assert blob.expected_size == 1024
    inner = next(p for p in report.problems if p.path == "data/dir/sub/b.bin")
    assert inner.directory == "data/dir"
    assert inner.actual == hashlib.md5(b"corrupt").hexdigest()
    text = report.to_text().splitlines()
    assert len(text) == len(report.problems) + 1
    assert any(line.startswith("missing  copy_a.txt [stage copy@a, out]") for line in text)
    assert "8 entries checked" in text[-1] and "(in 3 stages)" in text[-1]
    assert json.loads(json.dumps(report.to_dict()))["ok"] is False

    # DVC agrees on which outputs changed
    changed = {(stage, path) for stage, changes in _status(repo).items()
               for change in changes for path in change.get("changed outs", {})}
    assert changed == {(p.stage, p.path) for p in report.problems if p.directory is None}

    # deps too: the stages reading a damaged output name it
    with_deps = verify(repo, deps=True)
    assert ("count", "data/dir", "modified") in _kinds(with_deps)

    _dvc(repo, "checkout", "--force")
    assert _kinds(verify(repo)) == {("count", "count.txt", "modified")}  # not cached
    _dvc(repo, "repro", "-q")
    assert verify(repo, deps=True).ok
    assert _snapshot(repo) == before


def test_measured_outputs_are_named_but_pass(repo: Path) -> None:
    """A rerun changes the measured time (``meta: {measured: true}``) and nothing else."""
    before = repo / "before.lock"
    shutil.copyfile(repo / "dvc.lock", before)
    _dvc(repo, "repro", "-q", "--force", "copy@a")
    report = verify(repo, lock=before)
    assert _kinds(report) == {("copy@a", "time_a.txt", "modified")}
    assert report.problems[0].measured and report.ok and not report.failures
    assert "except 1 measured-time files" in report.to_text()
    strict = verify(repo, lock=before, strict=True)
    assert not strict.ok and strict.failures == strict.problems
    # a measured output that is missing is named the same way
    (repo / "time_b.txt").unlink()
    assert {p.kind for p in verify(repo, lock=before).problems} == {"modified", "missing"}


def _object(repo: Path, md5: str) -> Path:
    return repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]


def test_cache_objects_are_checked_and_repaired(repo: Path) -> None:
    """A corrupted or lost cache object (the workspace intact) is named with ``cache``;
    DVC sees it too, and ``dvc repro`` rebuilds it with nothing else lost."""
    before = _snapshot(repo)
    assert verify(repo, cache=True).ok
    lock = _lock(repo)["make"]["outs"]
    blob = _object(repo, next(o["md5"] for o in lock if o["path"] == "data/blob.bin"))
    blob.chmod(0o644)
    blob.write_bytes(b"bit rot")
    manifest = json.loads(_object(repo, next(
        o["md5"] for o in lock if o["path"] == "data/dir")).read_bytes())
    _object(repo, next(r["md5"] for r in manifest if r["relpath"] == "a.txt")).unlink()

    assert verify(repo).ok  # the workspace is fine
    report = verify(repo, cache=True)
    assert _kinds(report) == {("make", "data/blob.bin", "corrupt"),
                              ("make", "data/dir/a.txt", "uncached")}
    corrupt = next(p for p in report.problems if p.kind == "corrupt")
    assert corrupt.actual == hashlib.md5(b"bit rot").hexdigest()
    assert str(blob) in report.to_text()
    changed = {path for changes in _status(repo).values() for change in changes
               for path, what in change.get("changed outs", {}).items()
               if what == "not in cache"}
    assert changed == {"data/blob.bin", "data/dir"}

    _dvc(repo, "repro", "-q")
    assert verify(repo, cache=True).ok
    assert _status(repo) == {}
    assert {k: v for k, v in _snapshot(repo).items() if not k.startswith("time_")} == {
        k: v for k, v in before.items() if not k.startswith("time_")}


def test_directory_without_cached_manifest(repo: Path) -> None:
    shutil.rmtree(repo / ".dvc/cache")
    (repo / "data/dir/a.txt").write_text("changed")
    (problem,) = verify(repo, stages=["make"]).problems
    assert (problem.path, problem.kind) == ("data/dir", "modified")
    assert "cannot be named" in problem.detail
    assert problem.actual == dir_hash(repo / "data/dir", repo_root=repo).md5


def test_stale_temporaries_are_named(repo: Path) -> None:
    """Issue 20 item 9: what a killed writer left (nasrank.io's temporaries) is named, beside
    a file output and inside a directory output, with or without the cached manifest; a
    live writer's locked temporary is not."""
    long_ago = time.time() - 600
    beside = repo / ".copy_a.txt.k2j3h4g5.tmp"
    inside = repo / "data/dir/sub/.b.bin.abcd1234.tmp"
    new_dir = repo / "data/dir/.s0.new.x1y2z3w4"
    new_dir.mkdir()
    (new_dir / "config.json").write_text("{}")
    live = repo / ".copy_b.txt.livelive.tmp"
    for path in (beside, inside, live):
        path.write_text("half")
    for path in (beside, inside, live, new_dir, new_dir / "config.json"):
        os.utime(path, (long_ago, long_ago))
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        expected = {("copy@a", ".copy_a.txt.k2j3h4g5.tmp", "stale"),
                    ("make", "data/dir/sub/.b.bin.abcd1234.tmp", "stale"),
                    ("make", "data/dir/.s0.new.x1y2z3w4/config.json", "stale"),
                    ("make", "data/dir", "modified")}
        report = verify(repo)
        assert _kinds(report) == expected
        assert not report.ok
        assert "left by a killed stage" in report.to_text()
        shutil.rmtree(repo / ".dvc/cache")
        assert _kinds(verify(repo)) == expected
    finally:
        os.close(fd)
    assert stale_temps(repo) == [beside, live]   # the lock is gone with its holder
    assert remove_stale(repo / "data/dir") == [new_dir]
    assert not new_dir.exists()


def test_stage_selection(pristine: Path) -> None:
    assert verify(pristine, stages=["copy"]).checked == 4  # copy@a, copy@b: 2 outs each
    assert verify(pristine, stages=["copy@b", "count"]).checked == 3
    with pytest.raises(UnknownNameError, match=r"'nope'.*copy, count, make"):
        verify(pristine, stages=["nope"])


def test_entries_of_dropped_stages_are_named_and_pruned(repo: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """A grid that shrinks leaves DVC's entries of the dropped stages in dvc.lock: verify
    names them (exit 1), ``--prune`` removes them and keeps the other entries' bytes."""
    from nasrank.cli import main

    spec = yaml.safe_load((repo / "dvc.yaml").read_text())
    spec["stages"]["copy"]["foreach"] = ["a"]
    del spec["stages"]["count"]
    (repo / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, width=200))
    before = (repo / "dvc.lock").read_text()
    report = verify(repo)
    assert not report.ok
    assert {(p.stage, p.kind) for p in report.problems} == {("copy@b", "orphan"),
                                                            ("count", "orphan")}
    assert "orphan   stage copy@b [dvc.lock]" in report.to_text()
    assert "--prune" in report.to_text()

    rc = main(["--params", str(REPO / "params.yaml"), "verify", "--lock",
               str(repo / "dvc.lock"), "--prune"])
    assert rc == 0, capsys.readouterr()
    after = (repo / "dvc.lock").read_text()
    assert set(yaml.safe_load(after)["stages"]) == {"make", "copy@a"}
    kept = [b for b in before.split("\n  ") if b.split(":")[0] in ("make", "copy@a")]
    assert all(block in after for block in kept)   # the kept entries byte for byte
    assert prune_lock(repo) == []                  # nothing left to prune
    assert _status(repo) == {}                     # DVC agrees


def test_legacy_dvc2_entries_hash_dos2unix(repo: Path) -> None:
    """A lock entry without ``hash`` (DVC 2.x) is md5-dos2unix: the CRLF file differs."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    for entry in lock["stages"]["make"]["outs"]:
        entry.pop("hash")
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    report = verify(repo, stages=["make"])
    assert _kinds(report) == {("make", "data/text.txt", "modified")}
    (problem,) = report.problems
    assert problem.actual == hashlib.md5(CRLF_TEXT.replace(b"\r\n", b"\n")).hexdigest()
    assert "data/text.txt" in _status(repo).get("make", [{}])[0].get("changed outs", {})


# --- hashing and lock errors (no DVC needed) --------------------------------------------


def test_dos2unix_matches_dvc_data(tmp_path: Path) -> None:
    dvc_hash = pytest.importorskip("dvc_data.hashfile.hash")
    files = {
        "text": b"x,y\r\n" * 300_000,  # > 1 MiB: normalised chunk by chunk
        "binary": b"\x00\r\n" * 100,
        "mixed": b"a\r\n" * 10 + bytes(range(256)) * 2,
        "empty": b"",
    }
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert file_md5(path) == hashlib.md5(data).hexdigest()
        for algo in ("md5", "md5-dos2unix"):
            assert file_md5(path, algo) == dvc_hash.file_md5(str(path), name=algo), (name, algo)


def _write_lock(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dvc.lock"
    path.write_text(text)
    return path


def test_missing_lock_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(LockNotFoundError, match=r"dvc\.lock does not exist.*dvc repro.*dvc commit"):
        verify(tmp_path)
    assert issubclass(LockNotFoundError, NasrankError)


@pytest.mark.parametrize(("text", "match"), [
    ("stages: [unclosed\n", r"dvc\.lock is not valid YAML"),
    ("- a list\n", r"dvc\.lock: expected a mapping"),
    ("schema: '3.0'\nstages: {}\n", r"key 'schema' is '3\.0'.*2\.0"),
    ("stages: {}\n", r"key 'schema' is None"),
    ("schema: '2.0'\nstages: [a]\n", r"key 'stages' must be a mapping"),
    ("schema: '2.0'\nstages:\n  s:\n    outs:\n    - path: f\n      hash: md5\n",
     r"key 'stages\.s\.outs\[0\]\.md5' is missing"),
    ("schema: '2.0'\nstages:\n  s:\n    outs:\n    - path: f\n      hash: sha1\n      md5: x\n",
     r"key 'stages\.s\.outs\[0\]\.hash' is 'sha1'"),
    ("schema: '2.0'\nstages:\n  s:\n    outs:\n    - f\n",
     r"key 'stages\.s\.outs\[0\]' must be a mapping"),
])
def test_malformed_lock_names_file_and_key(tmp_path: Path, text: str, match: str) -> None:
    lock = _write_lock(tmp_path, text)
    with pytest.raises(LockFormatError, match=match) as info:
        verify(tmp_path, lock=lock)
    assert str(lock) in str(info.value)


def test_remote_entries_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"data")
    md5 = hashlib.md5(b"data").hexdigest()
    lock = _write_lock(tmp_path, (
        "schema: '2.0'\nstages:\n  s:\n    deps:\n    - path: https://example.org/f\n"
        f"      hash: md5\n      md5: x\n    outs:\n    - path: f\n      hash: md5\n"
        f"      md5: {md5}\n      size: 4\n"))
    report = verify(tmp_path, lock=lock, deps=True)
    assert report.ok and report.checked == 1
    assert report.skipped == ["https://example.org/f"]
    assert "1 remote entries not checked" in report.to_text()


# a training sweep's directory output: one run dir with its measured timing.json
SWEEP = "models/t/e/p/l"
RUN_FILES = {"n10/s0/timing.json": b'{"fit_s": 1.25}\n',
             "n10/s0/predictions.parquet": b"PAR1 predictions PAR1"}


def _sweep_repo(tmp_path: Path, measured: Any = ("timing.json",)) -> Path:
    """dvc.yaml + dvc.lock of one stage writing ``SWEEP``, and its manifest in the cache,
    as ``dvc commit`` leaves them (built by hand: no DVC needed)."""
    for rel, data in RUN_FILES.items():
        (tmp_path / SWEEP / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / SWEEP / rel).write_bytes(data)
    found = dir_hash(tmp_path / SWEEP, repo_root=tmp_path)
    rows = [{"md5": m, "relpath": r} for r, (m, _) in sorted(found.files.items())]
    obj = _object(tmp_path, found.md5)
    obj.parent.mkdir(parents=True)
    obj.write_text(json.dumps(rows, sort_keys=True))
    assert manifest_md5(rows) == found.md5
    meta = {"measured": list(measured) if isinstance(measured, tuple) else measured}
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": {
        "cmd": "nasrank train", "outs": [{SWEEP: {"meta": meta}}]}}}))
    _write_lock(tmp_path, yaml.safe_dump({"schema": "2.0", "stages": {"train": {
        "cmd": "nasrank train", "outs": [{"path": SWEEP, "hash": "md5", "md5": found.md5,
                                          "size": found.size, "nfiles": found.nfiles}]}}}))
    assert verify(tmp_path).problems == []
    return tmp_path


def _measured(report: Any) -> dict[tuple[str, str], bool]:
    return {(p.path, p.kind): p.measured for p in report.problems}


@pytest.mark.parametrize("change", ["modify", "remove", "add"])
def test_measured_files_inside_a_directory_pass(tmp_path: Path, change: str) -> None:
    """``measured: [timing.json]``: a rerun that changes only the timing files passes."""
    repo = _sweep_repo(tmp_path)
    timing = repo / SWEEP / "n10/s0/timing.json"
    if change == "modify":
        timing.write_bytes(b'{"fit_s": 1.31}\n')
    elif change == "remove":
        timing.unlink()
    else:
        (repo / SWEEP / "n20/s0").mkdir(parents=True)
        (repo / SWEEP / "n20/s0/timing.json").write_bytes(b"{}")
    kind, name = {"modify": ("modified", "n10/s0"), "remove": ("missing", "n10/s0"),
                  "add": ("added", "n20/s0")}[change]
    report = verify(repo)
    assert _measured(report) == {(SWEEP, "modified"): True,
                                 (f"{SWEEP}/{name}/timing.json", kind): True}
    assert report.ok and not report.failures, report.to_text()
    assert "except 2 measured-time files" in report.to_text()
    strict = verify(repo, strict=True)
    assert not strict.ok and strict.failures == strict.problems


def test_other_files_inside_a_measured_directory_fail(tmp_path: Path) -> None:
    repo = _sweep_repo(tmp_path)
    (repo / SWEEP / "n10/s0/timing.json").write_bytes(b'{"fit_s": 1.31}\n')
    (repo / SWEEP / "n10/s0/predictions.parquet").write_bytes(b"PAR1 other PAR1")
    report = verify(repo)
    assert _measured(report) == {(SWEEP, "modified"): False,
                                 (f"{SWEEP}/n10/s0/predictions.parquet", "modified"): False,
                                 (f"{SWEEP}/n10/s0/timing.json", "modified"): True}
    assert not report.ok
    assert {p.path for p in report.failures} == {SWEEP, f"{SWEEP}/n10/s0/predictions.parquet"}
    # patterns are fnmatch patterns on the file name, at any depth below the directory
    (tmp_path / "glob").mkdir()
    glob = _sweep_repo(tmp_path / "glob", ("timing.*", "*.parquet"))
    (glob / SWEEP / "n10/s0/predictions.parquet").write_bytes(b"PAR1 other PAR1")
    report = verify(glob)
    assert report.ok and [p.measured for p in report.problems] == [True, True]


def test_measured_directory_without_manifest_fails(tmp_path: Path) -> None:
    """The inner files cannot be named without the manifest, so nothing says the
    directory differs only in its measured files."""
    repo = _sweep_repo(tmp_path)
    shutil.rmtree(repo / ".dvc")
    (repo / SWEEP / "n10/s0/timing.json").write_bytes(b'{"fit_s": 1.31}\n')
    (problem,) = verify(repo).problems
    assert (problem.path, problem.kind, problem.measured) == (SWEEP, "modified", False)
    assert "cannot be named" in problem.detail


def test_measured_true_still_covers_the_whole_directory(tmp_path: Path) -> None:
    repo = _sweep_repo(tmp_path, measured=True)
    (repo / SWEEP / "n10/s0/predictions.parquet").write_bytes(b"PAR1 other PAR1")
    report = verify(repo)
    assert report.ok and len(report.problems) == 2
    assert all(p.measured for p in report.problems)


@pytest.mark.parametrize("bad", [False, None, "timing.json", [""], ["timing.json", 3],
                                 {"files": ["timing.json"]}])
def test_bad_measured_meta_names_stage_and_output(tmp_path: Path, bad: Any) -> None:
    repo = _sweep_repo(tmp_path)
    spec = yaml.safe_load((repo / "dvc.yaml").read_text())
    spec["stages"]["train"]["outs"] = [{SWEEP: {"meta": {"measured": bad}}}]
    (repo / "dvc.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(VerifyError, match=r"meta\.measured") as info:
        verify(repo)
    message = str(info.value)
    assert "train" in message and SWEEP in message and repr(bad) in message

def test_cli_exit_codes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`nasrank verify`: 0 when every output matches, 1 naming the file that differs, 2
    without a lock; --json gives the same report as data."""
    import json

    from nasrank.cli import main

    params = str(Path(__file__).resolve().parents[1] / "params.yaml")
    lock = str(repo / "dvc.lock")
    assert main(["--params", params, "verify", "--lock", lock]) == 0
    capsys.readouterr()
    (repo / "data/blob.bin").write_bytes(b"tampered")
    assert main(["--params", params, "verify", "--lock", lock]) == 1
    assert "data/blob.bin" in capsys.readouterr().out
    assert main(["--params", params, "verify", "--lock", lock, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [p["path"] for p in report["problems"]] == ["data/blob.bin"]
    assert main(["--params", params, "verify", "--lock", str(repo / "nope.lock")]) == 2
    assert "nope.lock" in capsys.readouterr().err


def test_snakemake_marker_is_not_part_of_a_directory_output(tmp_path: Path) -> None:
    """A raw directory fetched by Snakemake (with its ``.snakemake_timestamp``) hashes like
    one fetched by the CLI or DVC, so the committed lock matches either (issue 20, item 2)."""
    from nasrank.verify import dir_hash

    shutil.copy(REPO / ".dvcignore", tmp_path / ".dvcignore")
    raw = tmp_path / "data" / "raw" / "nbmacro"
    raw.mkdir(parents=True)
    (raw / "a.json").write_text("{}", encoding="utf-8")
    by_cli = dir_hash(raw, repo_root=tmp_path)
    (raw / ".snakemake_timestamp").touch()
    by_snakemake = dir_hash(raw, repo_root=tmp_path)
    assert by_snakemake == by_cli and by_cli.nfiles == 1
    # and DVC itself agrees
    run_ok(["git", "init", "-q"], cwd=tmp_path)
    run_ok([venv_tool("dvc"), "init", "-q"], cwd=tmp_path)
    out = run_ok([venv_tool("dvc"), "check-ignore", "data/raw/nbmacro/.snakemake_timestamp"],
                 cwd=tmp_path)
    assert ".snakemake_timestamp" in out


# --- --tolerance: result files compared with the seed-to-seed spread --------------------

RESULTS = "reports/metrics/t/e/p/l"  # a sweep's metrics directory (cache: false)
FAMILY = "reports/families/t/gp.json"  # a family result file: its seeds inside it
TAUS = {0: 0.5, 1: 0.6, 2: 0.7}  # seed-to-seed spread (sample standard deviation) 0.1


def _run_metrics(seed: int, tau: float) -> dict[str, Any]:
    """A run metrics file: the spread of kendall_tau is 0.1, of mae and n_at_10 1; n is the
    same for every seed."""
    return {"config": {"device_kind": "cpu", "seed": seed, "train_size": 10},
            "metrics": {"kendall_tau": tau, "mae": 1.0 + seed, "n": 100, "n_at_10": 5 + seed,
                        "pearson": None}}


def _family_result() -> dict[str, Any]:
    return {"family": "model_based", "seeds": [0, 1, 2], "settings": {"train_sizes": [5, 10]},
            "results": [{"seed": s, "rows": [{"train_size": 5, "kendall_tau": 0.1 + 0.1 * s},
                                             {"train_size": 10, "kendall_tau": 0.2 + 0.2 * s}]}
                        for s in (0, 1, 2)]}


def _dump(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _edit(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    _dump(path, doc)


def _results_repo(tmp_path: Path, manifest: str = "git") -> Path:
    """A Git repository with committed results recorded in dvc.lock (built by hand, as the
    project's are): three seeds at n10, one at n20, and a family result file. ``manifest``
    "cache" also puts the metrics directory's recorded file list in the DVC cache."""
    for seed, tau in TAUS.items():
        _dump(tmp_path / RESULTS / f"n10/s{seed}.json", _run_metrics(seed, tau))
    _dump(tmp_path / RESULTS / "n20/s0.json", _run_metrics(0, 0.8))
    _dump(tmp_path / FAMILY, _family_result())
    found = dir_hash(tmp_path / RESULTS, repo_root=tmp_path)
    if manifest == "cache":
        obj = _object(tmp_path, found.md5)
        obj.parent.mkdir(parents=True)
        obj.write_text(json.dumps([{"md5": m, "relpath": r}
                                   for r, (m, _) in sorted(found.files.items())]))
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        "sweep": {"cmd": "nasrank sweep", "metrics": [{RESULTS: {"cache": False}}]},
        "families": {"cmd": "nasrank families", "outs": [{FAMILY: {"cache": False}}]}}}))
    family = tmp_path / FAMILY
    _write_lock(tmp_path, yaml.safe_dump({"schema": "2.0", "stages": {
        "sweep": {"cmd": "nasrank sweep", "outs": [
            {"path": RESULTS, "hash": "md5", "md5": found.md5, "size": found.size,
             "nfiles": found.nfiles}]},
        "families": {"cmd": "nasrank families", "outs": [
            {"path": FAMILY, "hash": "md5", "md5": file_md5(family),
             "size": family.stat().st_size}]}}}))
    git = venv_tool("git")
    run_ok([git, "init", "-q"], tmp_path)
    run_ok([git, "add", "-A"], tmp_path)
    run_ok([git, "commit", "-q", "-m", "results"], tmp_path)
    assert verify(tmp_path, tolerance=1.0).problems == []
    return tmp_path


def _checks(report: Any) -> dict[str, Any]:
    return {c.path: c for c in report.numeric}


@pytest.mark.parametrize("manifest", ["git", "cache"])
def test_tolerance_passes_numbers_within_the_seed_spread(tmp_path: Path,
                                                         manifest: str) -> None:
    """A rerun on a GPU: other last digits and device_kind. The bytes differ, so plain
    verify fails; within one spread (a count metric compared the same way) it passes."""
    repo = _results_repo(tmp_path, manifest)
    path = f"{RESULTS}/n10/s1.json"

    def gpu(doc: dict[str, Any]) -> None:
        doc["config"]["device_kind"] = "cuda"
        doc["metrics"]["kendall_tau"] += 0.05  # half a spread
        doc["metrics"]["n_at_10"] += 1  # one spread: within K = 1
    _edit(repo / path, gpu)

    plain = verify(repo)
    assert not plain.ok and plain.numeric == [] and plain.tolerance is None
    assert "tolerance" not in plain.to_dict()
    report = verify(repo, tolerance=1.0)
    assert report.ok, report.to_text()
    (check,) = report.numeric
    assert (check.path, check.within, check.metric, check.ratio, check.seeds) == (
        path, True, "metrics.n_at_10", pytest.approx(1.0), 3)
    assert (check.compared, check.differ) == (6, 2)  # config.seed and .train_size too
    assert "config.device_kind" in check.message  # named, not judged
    assert report.tolerated == {("sweep", RESULTS), ("sweep", path)}
    text = report.to_text()
    assert f"within   {path} [stage sweep, out, in {RESULTS}]: 1 x the seed-to-seed spread " \
           "at metrics.n_at_10 (recorded 6, found 7, spread 1 over 3 seeds)" in text
    assert "1 of 1 differing result files within the seed-to-seed spread" in text
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] and data["tolerance"] == 1.0
    assert [(c["path"], c["within"]) for c in data["numeric"]] == [(path, True)]
    # K smaller than the largest ratio: outside, and the directory fails with it
    tight = verify(repo, tolerance=0.9)
    assert not tight.ok
    assert {p.path for p in tight.failures} == {RESULTS, path}
    assert "> --tolerance 0.9 at metrics.n_at_10" in _checks(tight)[path].message


def test_tolerance_names_the_file_outside_the_spread(tmp_path: Path) -> None:
    repo = _results_repo(tmp_path)
    inside, outside = f"{RESULTS}/n10/s0.json", f"{RESULTS}/n10/s2.json"
    _edit(repo / inside, lambda d: d["metrics"].update(mae=1.5))
    _edit(repo / outside, lambda d: d["metrics"].update(kendall_tau=1.0))  # 3 spreads
    report = verify(repo, tolerance=1.0)
    assert not report.ok
    checks = _checks(report)
    assert checks[inside].within and not checks[outside].within
    assert checks[outside].ratio == pytest.approx(3.0)
    assert {p.path for p in report.failures} == {RESULTS, outside}
    text = report.to_text()
    assert f"outside  {outside} [stage sweep, out, in {RESULTS}]: 3 x the seed-to-seed " \
           "spread > --tolerance 1 at metrics.kendall_tau (recorded 0.7, found 1.0" in text
    assert "1 of 2 differing result files within the seed-to-seed spread" in text
    assert verify(repo, tolerance=3.5).ok


@pytest.mark.parametrize(("path", "change", "reason"), [
    (f"{RESULTS}/n20/s0.json", lambda d: d["metrics"].update(kendall_tau=0.81),
     f"metrics.kendall_tau differs (recorded 0.8, found 0.81) and only 1 seed recorded in "
     f"{RESULTS}/n20/s*.json: no seed-to-seed spread"),
    (f"{RESULTS}/n10/s1.json", lambda d: d["metrics"].update(n=99),
     f"metrics.n differs (recorded 100, found 99) and all 3 recorded seeds of "
     f"{RESULTS}/n10/s*.json have 100"),
    (f"{RESULTS}/n10/s1.json", lambda d: d["metrics"].update(pearson=0.3),
     "metrics.pearson is null in the recorded version, 0.3 in the found one"),
    (f"{RESULTS}/n10/s1.json", lambda d: d["metrics"].pop("mae"),
     "metrics.mae is 2.0 in the recorded version, absent in the found one"),
], ids=["one-seed", "no-spread", "null", "absent"])
def test_tolerance_without_a_spread_is_outside(tmp_path: Path, path: str, change: Any,
                                               reason: str) -> None:
    """A group of one seed, a value all seeds agree on, a value on one side only: no spread
    to measure the difference with, so the file is outside whatever K, and says why."""
    repo = _results_repo(tmp_path)
    _edit(repo / path, change)
    report = verify(repo, tolerance=100.0)
    assert not report.ok
    (check,) = report.numeric
    assert check.path == path and not check.within and check.ratio is None
    assert reason in check.message
    assert f"outside  {path} [stage sweep" in report.to_text()


def test_tolerance_compares_a_family_file_seed_by_seed(tmp_path: Path) -> None:
    repo = _results_repo(tmp_path)
    family = repo / FAMILY
    # rows at train size 10: 0.2, 0.4, 0.6, spread 0.2
    _edit(family, lambda d: d["results"][1]["rows"][1].update(kendall_tau=0.5))
    report = verify(repo, tolerance=1.0)
    assert report.ok, report.to_text()
    (check,) = report.numeric
    assert (check.path, check.metric, check.ratio, check.seeds) == (
        FAMILY, "results.seed=1.rows[train_size=10].kendall_tau", pytest.approx(0.5), 3)
    _edit(family, lambda d: d["results"][1]["rows"][1].update(kendall_tau=0.9))
    assert not verify(repo, tolerance=2.0).ok and verify(repo, tolerance=2.5).ok
    # a setting is not a per-seed value: any change is outside
    _edit(family, lambda d: d["settings"].update(train_sizes=[5, 11]))
    (check,) = verify(repo, tolerance=100.0).numeric
    assert not check.within
    assert "settings.train_sizes[1] differs (recorded 10, found 11) and it is not a " \
           "per-seed value" in check.message


def test_tolerance_reference_from_the_cache_else_unavailable(tmp_path: Path) -> None:
    """Without Git, the recorded version is DVC's cache object, when there is one; else the
    file is outside, saying so. A directory whose file list is in neither is named whole."""
    repo = _results_repo(tmp_path)
    recorded = (repo / FAMILY).read_bytes()
    shutil.rmtree(repo / ".git")
    _edit(repo / FAMILY, lambda d: d["results"][0]["rows"][0].update(kendall_tau=0.11))
    _edit(repo / RESULTS / "n10/s0.json", lambda d: d["metrics"].update(mae=1.01))
    report = verify(repo, tolerance=1.0)
    (check,) = report.numeric
    assert check.path == FAMILY and not check.within
    assert "no recorded version to compare with: Git HEAD cannot be read" in check.message
    assert "the DVC cache has no object" in check.message
    head = next(p for p in report.problems if p.path == RESULTS)
    assert "cannot be named" in head.detail and head in report.failures
    md5 = _lock(repo)["families"]["outs"][0]["md5"]
    _object(repo, md5).parent.mkdir(parents=True)
    _object(repo, md5).write_bytes(recorded)
    (check,) = verify(repo, tolerance=1.0).numeric
    assert check.within, check.message


def test_tolerance_needs_a_non_negative_k(tmp_path: Path) -> None:
    repo = _results_repo(tmp_path)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(VerifyError, match="--tolerance must be a non-negative number"):
            verify(repo, tolerance=bad)


def test_cli_tolerance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`nasrank verify --tolerance [K]`: exit 0 when every differing result file is within
    K spreads (1 without K), 1 naming the file otherwise; --json carries the checks."""
    from nasrank.cli import main

    repo = _results_repo(tmp_path)
    path = f"{RESULTS}/n10/s1.json"
    _edit(repo / path, lambda d: d["metrics"].update(kendall_tau=0.75))  # 1.5 spreads
    argv = ["--params", str(REPO / "params.yaml"), "verify", "--lock", str(repo / "dvc.lock")]
    assert main(argv) == 1
    capsys.readouterr()
    assert main([*argv, "--tolerance"]) == 1
    assert f"outside  {path}" in capsys.readouterr().out
    assert main([*argv, "--tolerance", "2"]) == 0
    assert f"within   {path}" in capsys.readouterr().out
    assert main([*argv, "--tolerance", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["tolerance"] == 1.0
    assert [(c["path"], c["within"], c["metric"]) for c in report["numeric"]] == [
        (path, False, "metrics.kendall_tau")]
    assert main([*argv, "--tolerance=-1"]) == 2
    assert "--tolerance must be a non-negative number" in capsys.readouterr().err
