"""The committed default DVC remote and a ``dvc push`` / ``dvc pull`` round trip.

``.dvc/config`` declares a default remote ``local`` at ``../../nasrank-dvc-remote``;
DVC resolves a relative remote url against the ``.dvc/`` directory, so it is the
directory ``nasrank-dvc-remote`` next to the repository (outside the working tree). The
tests copy that file into a tiny Git + DVC repository built two levels below ``tmp_path``
(``tmp_path/project/repo``), so the remote lands at ``tmp_path/project/nasrank-dvc-remote``.
DVC runs as a subprocess with the interpreter's bin directory first on PATH, like
tests/test_verify.py; the helpers are copied from there (test modules are not a package).
"""

from __future__ import annotations

import configparser
import json
import shutil
from pathlib import Path
from typing import Any

import yaml
from conftest import run_ok, venv_tool

from nasrank.verify import verify

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / ".dvc" / "config"
REMOTE_NAME = "local"
REMOTE_DIR = "nasrank-dvc-remote"

MAKE_PY = '''\
import pathlib

root = pathlib.Path("data")
(root / "dir" / "sub").mkdir(parents=True, exist_ok=True)
(root / "table.csv").write_text("arch_id,acc\\na,91.5\\nb,92.25\\n")
(root / "dir" / "a.txt").write_text("a\\n")
(root / "dir" / "sub" / "b.bin").write_bytes(bytes(range(256)) * 8)
'''

DVC_YAML = {
    "stages": {
        "make": {
            "cmd": "python make.py",
            "deps": ["make.py"],
            "outs": ["data/table.csv", "data/dir"],
        },
    }
}
OUTS = ("data/table.csv", "data/dir")


def _dvc(repo: Path, *args: str) -> str:
    return run_ok([venv_tool("dvc"), *args], repo)


def _status(repo: Path, *args: str) -> dict[str, Any]:
    """``dvc status --json`` ({} when up to date)."""
    return json.loads(_dvc(repo, "status", "--json", *args).strip().splitlines()[-1])


def _remotes(repo: Path) -> dict[str, str]:
    """Remote name -> url as DVC resolves it (``dvc config -l``, which does not wrap lines
    the way ``dvc remote list`` does)."""
    found = {}
    for line in _dvc(repo, "config", "-l").splitlines():
        key, _, value = line.partition("=")
        if key.startswith("remote.") and key.endswith(".url"):
            found[key.removeprefix("remote.").removesuffix(".url")] = value
    return found


def _snapshot(repo: Path) -> dict[str, bytes]:
    return {p.relative_to(repo).as_posix(): p.read_bytes()
            for p in sorted((repo / "data").rglob("*")) if p.is_file()}


def _objects(remote: Path) -> set[str]:
    """The content hashes stored in a DVC 3 remote (``files/md5/xx/yyyy``)."""
    return {f"{p.parent.name}{p.name}" for p in (remote / "files" / "md5").glob("*/*")}


def _make_repo(tmp_path: Path) -> Path:
    """``tmp_path/project/repo``: Git + DVC, with the repository's real .dvc/config."""
    git, dvc = venv_tool("git"), venv_tool("dvc")
    repo = tmp_path / "project" / "repo"
    repo.mkdir(parents=True)
    run_ok([git, "init", "-q"], repo)
    run_ok([dvc, "init", "-q"], repo)
    shutil.copyfile(CONFIG, repo / ".dvc" / "config")
    return repo


def test_committed_config_declares_the_default_remote() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(CONFIG, encoding="utf-8")
    assert parser.get("core", "analytics") == "false"
    assert parser.get("core", "remote") == REMOTE_NAME
    url = parser.get(f"'remote \"{REMOTE_NAME}\"'", "url")
    # relative to .dvc/: a sibling of the repository, never inside the working tree
    assert url == f"../../{REMOTE_DIR}"
    assert (CONFIG.parent / url).resolve() == ROOT.parent / REMOTE_DIR


def test_push_pull_round_trip_restores_every_output(tmp_path: Path) -> None:
    repo = _make_repo(tmp_path)
    remote = tmp_path / "project" / REMOTE_DIR
    assert _remotes(repo) == {REMOTE_NAME: str(remote)}
    assert _dvc(repo, "remote", "default").strip() == REMOTE_NAME

    (repo / "make.py").write_text(MAKE_PY)
    (repo / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    _dvc(repo, "repro", "-q")
    before = _snapshot(repo)
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["make"]["outs"]
    assert {o["path"] for o in lock} == set(OUTS)
    assert verify(repo).ok

    # push to the default remote: every cached object (3 files + the .dir manifest)
    assert not remote.exists()
    _dvc(repo, "push")
    cached = _objects(repo / ".dvc" / "cache")
    assert len(cached) == 4
    assert _objects(remote) == cached
    assert {o["md5"] for o in lock} <= cached
    assert _status(repo, "--cloud") == {}

    # lose the cache and the outputs; pull brings back exactly what dvc.lock recorded
    shutil.rmtree(repo / ".dvc" / "cache")
    (repo / "data/table.csv").unlink()  # data/.gitignore, written by DVC, stays as in Git
    shutil.rmtree(repo / "data/dir")
    report = verify(repo)
    assert {(p.path, p.kind) for p in report.problems} == {(o, "missing") for o in OUTS}
    _dvc(repo, "pull")
    report = verify(repo)
    assert report.ok, report.to_text()
    assert report.checked == len(OUTS)
    assert _status(repo) == {}
    assert _snapshot(repo) == before

    # a corrupted workspace output is named by verify, repaired from the cache ...
    (repo / "data/table.csv").unlink()  # replace, never write through a cache link
    (repo / "data/table.csv").write_text("tampered\n")
    assert {(p.path, p.kind) for p in verify(repo).problems} == {
        ("data/table.csv", "modified")}
    _dvc(repo, "checkout", "--force")
    assert verify(repo).ok

    # ... and, with no cache left, from the remote
    (repo / "data/dir/sub/b.bin").unlink()
    (repo / "data/dir/sub/b.bin").write_bytes(b"corrupt")
    assert {(p.path, p.kind) for p in verify(repo).problems} == {
        ("data/dir", "modified"), ("data/dir/sub/b.bin", "modified")}
    shutil.rmtree(repo / ".dvc" / "cache")
    _dvc(repo, "pull", "--force")
    assert verify(repo).ok
    assert _status(repo) == {}
    assert _snapshot(repo) == before

    # a corrupted cache object (the workspace intact) is named by verify --cache and by
    # dvc status, and dvc pull fetches the good bytes again
    md5 = next(o["md5"] for o in lock if o["path"] == "data/table.csv")
    obj = repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    obj.chmod(0o644)
    obj.write_text("bit rot\n")
    report = verify(repo, cache=True)
    assert {(p.path, p.kind) for p in report.problems} == {("data/table.csv", "corrupt")}
    assert _status(repo) == {"make": [{"changed outs": {"data/table.csv": "not in cache"}}]}
    _dvc(repo, "pull")
    assert verify(repo, cache=True).ok
    assert _status(repo) == {}
    assert _snapshot(repo) == before


def test_local_override_of_the_remote_url(tmp_path: Path) -> None:
    """``dvc remote modify --local`` wins over the committed url and stays out of Git."""
    repo = _make_repo(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    _dvc(repo, "remote", "modify", "--local", REMOTE_NAME, "url", str(elsewhere))
    assert _remotes(repo) == {REMOTE_NAME: str(elsewhere)}
    assert (repo / ".dvc" / "config").read_bytes() == CONFIG.read_bytes()
    assert "/config.local" in (repo / ".dvc" / ".gitignore").read_text().split()
