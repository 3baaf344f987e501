"""Code dependencies from the static import graph (nasrank.codedeps)."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from nasrank import codedeps
from nasrank.codedeps import (
    REPO_ROOT,
    CodeDepsError,
    closure,
    code_files,
    command_code,
    command_graph,
    command_modules,
    compress,
    import_graph,
)
from nasrank.errors import NasrankError

REPO = Path(__file__).resolve().parents[1]


# -- a synthetic package ----------------------------------------------------------------------

FAKE = {
    "nasrank/__init__.py": '__version__ = "0"\n',
    "nasrank/errors.py": "class NasrankError(Exception):\n    pass\n",
    "nasrank/util.py": "import os\n",
    "nasrank/top.py": """
        from nasrank.errors import NasrankError

        def lazy():
            from nasrank.sub.leaf import thing  # function-level import
            return thing
    """,
    "nasrank/sub/__init__.py": """
        import importlib

        READERS = {"a": "nasrank.sub.plug", "b": "nasrank.sub.other:Cls", "c": "not.a.module"}
        DOC = "nasrank.util is only mentioned in a string here"

        def load(name):
            return importlib.import_module(READERS[name])
    """,
    "nasrank/sub/leaf.py": """
        from . import rel
        from .deep.mod import VALUE
        from .. import util
        thing = rel, VALUE, util
    """,
    "nasrank/sub/rel.py": "X = 1\n",
    "nasrank/sub/plug.py": "import nasrank.errors\n",
    "nasrank/sub/other.py": "class Cls:\n    pass\n",
    "nasrank/sub/deep/__init__.py": "",
    "nasrank/sub/deep/mod.py": "VALUE = 2\n",
    "nasrank/lit.py": """
        import importlib

        def go():
            return importlib.import_module("nasrank.util")
    """,
    "nasrank/plain.py": 'NAME = "nasrank.util"  # no import_module call: not an edge\n',
    "nasrank/cli.py": """
        from nasrank.errors import NasrankError

        def _helper():
            from nasrank.util import os

        def cmd_go(args):
            from nasrank.top import lazy
            _helper()

        def cmd_other_thing(args):
            from nasrank.lit import go

        def main():
            return 0
    """,
    "nasrank/__main__.py": "from nasrank.cli import main\n",
}


@pytest.fixture()
def fake_src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    for rel, text in FAKE.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return src


def test_fake_graph_edges(fake_src: Path) -> None:
    g = import_graph(fake_src)
    assert set(g) == {
        "nasrank", "nasrank.errors", "nasrank.util", "nasrank.top", "nasrank.sub",
        "nasrank.sub.leaf", "nasrank.sub.rel", "nasrank.sub.plug", "nasrank.sub.other",
        "nasrank.sub.deep", "nasrank.sub.deep.mod", "nasrank.lit", "nasrank.plain",
        "nasrank.cli", "nasrank.__main__",
    }
    # function-level import, with the parent packages it runs
    assert g["nasrank.top"] == {"nasrank", "nasrank.errors", "nasrank.sub", "nasrank.sub.leaf"}
    # relative imports: a submodule, a name of a deeper module, the grandparent package
    assert g["nasrank.sub.leaf"] == {
        "nasrank", "nasrank.sub", "nasrank.sub.rel", "nasrank.sub.deep",
        "nasrank.sub.deep.mod", "nasrank.util",
    }
    # registry strings (exact and "module:attr"); a mere mention or a foreign name is not
    assert g["nasrank.sub"] == {"nasrank", "nasrank.sub.plug", "nasrank.sub.other"}
    assert g["nasrank.lit"] == {"nasrank", "nasrank.util"}
    assert g["nasrank.plain"] == {"nasrank"}
    assert g["nasrank"] == frozenset()


def test_fake_closure_is_transitive(fake_src: Path) -> None:
    g = import_graph(fake_src)
    assert closure(["nasrank.top"], g) == sorted({
        "nasrank", "nasrank.top", "nasrank.errors", "nasrank.sub", "nasrank.sub.leaf",
        "nasrank.sub.rel", "nasrank.sub.deep", "nasrank.sub.deep.mod", "nasrank.util",
        "nasrank.sub.plug", "nasrank.sub.other",
    })
    assert closure(["nasrank.util"], g) == ["nasrank", "nasrank.util"]
    with pytest.raises(CodeDepsError, match=r"nasrank\.nope"):
        closure(["nasrank.nope"], g)


def test_fake_commands_and_files(fake_src: Path) -> None:
    assert codedeps.commands(fake_src) == ["go", "other-thing"]
    mods = command_modules("go", src_root=fake_src)
    assert mods == ["nasrank", "nasrank.__main__", "nasrank.cli", "nasrank.errors",
                    "nasrank.top", "nasrank.util"]
    assert "nasrank.lit" in command_modules("other-thing", src_root=fake_src)
    files = command_code("go", fake_src)
    # the other handler's import (nasrank.lit) is not followed through nasrank.cli
    assert "src/nasrank/lit.py" not in files
    assert "src/nasrank/sub/deep/mod.py" in files
    assert "src/nasrank/plain.py" not in files
    assert files == sorted(files)
    assert all((fake_src.parent / f).is_file() for f in files)
    assert compress(files, fake_src.parent) == [
        "src/nasrank/__init__.py", "src/nasrank/__main__.py", "src/nasrank/cli.py",
        "src/nasrank/errors.py", "src/nasrank/sub", "src/nasrank/top.py",
        "src/nasrank/util.py",
    ]
    with pytest.raises(CodeDepsError, match=r"'nope'.*available: go, other-thing"):
        command_modules("nope", src_root=fake_src)


def test_compress_only_complete_directories(fake_src: Path) -> None:
    root = fake_src.parent
    sub = sorted(p.relative_to(root).as_posix() for p in (fake_src / "nasrank/sub").rglob("*.py"))
    assert compress(sub, root) == ["src/nasrank/sub"]
    # one file missing below: only the complete subpackage collapses
    partial = [p for p in sub if p != "src/nasrank/sub/rel.py"]
    assert compress(partial, root) == [
        "src/nasrank/sub/__init__.py", "src/nasrank/sub/deep", "src/nasrank/sub/leaf.py",
        "src/nasrank/sub/other.py", "src/nasrank/sub/plug.py",
    ]
    everything = sorted(p.relative_to(root).as_posix() for p in fake_src.rglob("*.py"))
    assert compress(everything, root) == ["src/nasrank"]
    assert compress([], root) == []


# -- the real package -------------------------------------------------------------------------


def test_report_and_families_do_not_import_each_other() -> None:
    """Figure saving (nasrank.plotting) and the published numbers (nasrank.published) sit
    below both packages, the catalog of every table and figure above them."""
    g = import_graph()
    for a, b in (("nasrank.report", "nasrank.families"), ("nasrank.families", "nasrank.report")):
        crossing = sorted((m, e) for m, edges in g.items() if m.startswith(a)
                          for e in edges if e.startswith(b))
        assert crossing == [], f"{a} imports {b}: {crossing}"
    assert "nasrank.families" in " ".join(g["nasrank.catalog"])


def test_real_graph_known_edges() -> None:
    g = import_graph()
    assert "nasrank.errors" in g["nasrank.train"]
    # lazy, function-level imports of the search runner
    assert {"nasrank.sweep", "nasrank.train"} <= g["nasrank.search.runner"]
    # importlib registries: dicts of module names, "module:class" strings too
    assert "nasrank.benchmarks.nb101" in g["nasrank.benchmarks"]
    assert {"nasrank.spaces.nb101", "nasrank.spaces.darts"} <= g["nasrank.spaces"]
    assert "nasrank.encodings.nb201" in g["nasrank.encodings"]
    assert {"nasrank.spaces.nb201", "nasrank.spaces.tnb101"} <= g["nasrank.search.pools"]
    # parent packages are edges
    assert {"nasrank", "nasrank.spaces"} <= g["nasrank.spaces.nb101"]
    assert all(m not in edges for m, edges in g.items())
    assert all(edges <= g.keys() for edges in g.values())
    assert import_graph() == g  # cached, and a copy: mutating it does not leak
    g.clear()
    assert import_graph()


def test_real_command_modules() -> None:
    train = closure(command_modules("train"), command_graph("train"))
    assert {"nasrank.sweep", "nasrank.predictors.stacked", "nasrank.experiments"} <= set(train)
    table = command_modules("table")
    assert {"nasrank.catalog", "nasrank.cli", "nasrank.__main__"} <= set(table)
    reached = closure(table, command_graph("table"))
    assert {"nasrank.experiments", "nasrank.search.tables", "nasrank.families.tables"} \
        <= set(reached)
    # cmd_train's helper _run_config is followed; other handlers are not
    assert "nasrank.experiments" in command_modules("train")
    assert "nasrank.dvcgen" not in command_modules("train")
    assert command_modules("dvc-yaml") == command_modules("dvc_yaml")
    assert "nasrank.dvcgen" in command_modules("dvc-yaml")


def test_unknown_command() -> None:
    with pytest.raises(CodeDepsError, match=r"'no-such-cmd'.*available:.*train") as info:
        command_modules("no-such-cmd")
    assert isinstance(info.value, NasrankError)


@pytest.mark.parametrize("command", ["train", "sweep", "table", "figure", "ingest", "encode",
                                     "search", "families", "report"])
def test_real_command_code_exists(command: str) -> None:
    files = command_code(command)
    assert files == sorted(set(files))
    assert {"src/nasrank/cli.py", "src/nasrank/__init__.py"} <= set(files)
    assert all((REPO / f).is_file() for f in files)
    short = compress(files)
    assert all((REPO / p).exists() for p in short)
    # compressing loses nothing and adds nothing
    expanded = {f for p in short
                for f in ([p] if p.endswith(".py") else
                          [q.relative_to(REPO).as_posix() for q in (REPO / p).rglob("*.py")])}
    assert expanded == set(files)


def test_code_files_paths() -> None:
    assert code_files(["nasrank.errors"]) == ["src/nasrank/__init__.py", "src/nasrank/errors.py"]
    assert "src/nasrank/benchmarks/nb101.py" in code_files(["nasrank.benchmarks"])


# --- dvc.yaml: every stage's code dependencies cover its command's import closure --------


def _dvc_stages() -> dict[str, dict]:
    """Stage name -> body of the committed dvc.yaml (a foreach stage: its ``do``)."""
    text = (REPO_ROOT / "dvc.yaml").read_text(encoding="utf-8")
    return {name: body.get("do", body) for name, body in yaml.safe_load(text)["stages"].items()}


def test_dvc_stage_code_covers_import_closure() -> None:
    stages = _dvc_stages()
    assert stages
    for name, body in stages.items():
        words = body["cmd"].split()
        command = next(w for w in words[1:] if not w.startswith("-"))
        deps = [d for d in body["deps"] if d.startswith("src/")]
        missing = [f for f in command_code(command)
                   if not any(f == d or f.startswith(d + "/") for d in deps)]
        assert missing == [], f"stage {name} ({command}): code deps miss {missing}"


def test_dvc_status_names_the_table_whose_builder_changed(tmp_path: Path) -> None:
    """In a copy of the repository, a table stage recorded as up to date is named by
    `dvc status` once a module its builder imports changes, and not for a module outside
    its import closure."""
    dvc, git = shutil.which("dvc"), shutil.which("git")
    if dvc is None or git is None:
        pytest.skip("dvc or git is not installed")
    work = tmp_path / "repo"
    work.mkdir()
    for name in ("dvc.yaml", "params.yaml", "src", "reports/published.yaml"):
        src = REPO_ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__",
                                                                           "*.egg-info"))
        else:
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / name)
    stage = "table_loss_study"
    body = _dvc_stages()[stage]
    for dep in body["deps"]:  # stand-ins for the metrics the table reads
        path = work / dep
        if not path.exists():
            path.mkdir(parents=True)
            (path / "s0.json").write_text("{}", encoding="utf-8")
    for entry in body["outs"]:
        (work / next(iter(entry))).parent.mkdir(parents=True, exist_ok=True)
        (work / next(iter(entry))).write_text("stand-in", encoding="utf-8")

    def run(*argv: str) -> str:
        proc = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    run(git, "init", "-q")
    run(dvc, "init", "-q")
    run(dvc, "commit", "-f", "-q", stage)
    assert stage not in run(dvc, "status", stage)
    closure = command_code("table")
    outside = "src/nasrank/checks.py"
    assert outside not in closure and "src/nasrank/experiments.py" in closure
    with open(work / outside, "a", encoding="utf-8") as f:
        f.write("\n# edited\n")
    assert stage not in run(dvc, "status", stage)
    with open(work / "src/nasrank/experiments.py", "a", encoding="utf-8") as f:
        f.write("\n# edited\n")
    status = run(dvc, "status", stage)
    assert stage in status and "src/nasrank/experiments.py" in status, status
