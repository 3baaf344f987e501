"""Shared fixtures: the local benchmark mirror and the repository root.

The suite runs as params.yaml's default ``numerics: portable`` runs: a ``pytest`` started
without the pins restarts itself with them (:mod:`nasrank.numerics`) before any test
module imports numpy or torch, so in-process calls of the CLI are portable too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nasrank import numerics

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MIRROR = REPO.parent / "shared" / "nasdata"


_PINNED_RUN = "NASRANK_TESTS_PINNED"


def pytest_configure(config: pytest.Config) -> None:
    """Restart pytest with the portable pins when they are missing."""
    if not numerics.missing_pins() or os.environ.get(_PINNED_RUN):
        return
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.stop_global_capturing()
    print("conftest: restarting pytest with the portable numerics pins", file=sys.stderr)
    env = numerics.pinned_environ()
    env[_PINNED_RUN] = "1"
    os.chdir(config.invocation_params.dir)
    argv = [sys.executable, "-m", "pytest", *config.invocation_params.args]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)


def _mirror() -> Path | None:
    env = os.environ.get("NASRANK_MIRROR")
    path = Path(env) if env else DEFAULT_MIRROR
    return path if (path / "SHA256SUMS").is_file() else None


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The local mirror of upstream benchmark files; skips the test where it is absent."""
    path = _mirror()
    if path is None:
        pytest.skip(
            f"benchmark mirror not found (set NASRANK_MIRROR or provide {DEFAULT_MIRROR})"
        )
    return path


@pytest.fixture(scope="session")
def raw_root(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``data/raw`` with every mirrored benchmark fetched once per test session."""
    from nasrank.benchmarks.fetch import fetch_benchmark

    root = tmp_path_factory.mktemp("raw")
    for bench in ("nb101", "nb201", "tnb101_micro", "nbgraph", "nbmacro"):
        fetch_benchmark(bench, root / bench, mirror=mirror, progress=False)
    return root


def tmp_params(root: Path, **data: object) -> dict:
    """The repository's params.yaml with every data/report directory under ``root``.

    ``data`` overrides keys of the ``data`` section. Downloads fail fast (no network).
    """
    import yaml

    with open(REPO / "params.yaml", encoding="utf-8") as f:
        params = yaml.safe_load(f)
    params["data"].update(
        mirror=None,
        raw_dir=str(root / "data" / "raw"),
        processed_dir=str(root / "data" / "processed"),
        features_dir=str(root / "data" / "features"),
        models_dir=str(root / "data" / "models"),
        download={"timeout_s": 5, "retries": 0, "backoff_s": 0},
    )
    params["data"].update(data)
    params["reports"] = {f"{k}_dir": str(root / "reports" / k)
                         for k in ("metrics", "tables", "search", "families", "figures")}
    params["reports"]["published"] = str(REPO / "reports" / "published.yaml")
    return params


# --- external tools (dvc, git, snakemake) run as subprocesses -------------------------

VENV_BIN = Path(sys.executable).parent


def venv_tool(name: str) -> str:
    """The tool next to this interpreter (the venv's), else on PATH; skip if missing."""
    path = VENV_BIN / name
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"`{name}` is not installed (looked in {VENV_BIN} and on PATH)")
    return found


def tool_env() -> dict[str, str]:
    """The environment for a tool: the venv first on PATH, no PYTHONPATH, no DVC
    analytics, a git identity."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env["DVC_NO_ANALYTICS"] = "1"
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org")
    return env


def run_ok(argv: list[str], cwd: Path, timeout: float = 120) -> str:
    """Run ``argv`` in ``cwd``; its output, or a failure showing it."""
    proc = subprocess.run(argv, cwd=cwd, env=tool_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(argv)} failed:\n{proc.stdout}"
    return proc.stdout
