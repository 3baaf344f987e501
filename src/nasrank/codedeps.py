"""The code a pipeline stage depends on, computed from the package's static import graph.

A DVC stage must rerun when the code it runs changes, and only then. Hand-listed code
dependencies drift as modules gain imports; this module derives them instead: it parses
every module of :mod:`nasrank` with :mod:`ast` (no module is imported, so it is fast and
has no side effects) and follows the imports a ``nasrank <command>`` invocation can run.

What counts as an import of module ``m``:

* ``import nasrank.a.b`` and ``from nasrank.a import b`` (an edge to ``nasrank.a.b`` when
  that is a module, else to ``nasrank.a``), at module level *and* inside functions (the
  command line imports lazily inside its handlers);
* relative imports (``from . import x``, ``from .y import z``), resolved against the
  package of ``m``;
* ``importlib.import_module("nasrank.x")`` with a literal name;
* registries: when ``m`` calls ``import_module`` (or ``__import__``) anywhere, every string
  constant in ``m`` that names a module of the package, exactly or as ``"module:attr"``
  (``nasrank.spaces.SPACES``, ``nasrank.benchmarks.READERS``);
* the parent packages of each of those, and of ``m`` itself, since importing
  ``nasrank.a.b`` first runs ``nasrank/__init__.py`` and ``nasrank/a/__init__.py``.

Function-level imports make the graph conservative (a module depends on everything any of
its functions may import). The one place where that would be far too coarse is
``nasrank.cli``, whose handlers each import one stage's code: :func:`command_modules` and
:func:`command_code` therefore read only the handler of the command (and the helpers it
calls), not the whole of ``cli.py``.

Usage::

    from nasrank import codedeps

    graph = codedeps.import_graph()                  # {"nasrank.train": frozenset({...}), ...}
    codedeps.closure(["nasrank.sweep"])              # ['nasrank', 'nasrank.errors', ...]
    codedeps.command_modules("train")                # entry modules of `nasrank train`
    files = codedeps.command_code("sweep")           # ['src/nasrank/__init__.py', ...]
    codedeps.compress(files)                         # [..., 'src/nasrank/losses', ...]
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from nasrank.errors import NasrankError

#: the package whose modules the graph holds
PACKAGE = "nasrank"

#: the repository root: paths returned here are relative to it (``src/nasrank/...``)
REPO_ROOT = Path(__file__).resolve().parents[2]

#: the default source root, holding the ``nasrank`` package directory
SRC_ROOT = REPO_ROOT / "src"

#: functions of ``cli.py`` every command runs (argument parsing and dispatch)
_CLI_MAIN = "main"

_IMPORT_FUNCTIONS = frozenset({"import_module", "__import__"})

Graph = Mapping[str, frozenset[str]]


class CodeDepsError(NasrankError):
    """The code of a command cannot be determined (unknown command, missing ``cli.py``)."""


# -- the module table -----------------------------------------------------------------------


@functools.cache
def _module_files(src_root: Path) -> dict[str, Path]:
    """Module name -> file of every module of the package under ``src_root`` (resolved).

    Cached so that the file system is walked once per source root.
    """
    pkg_dir = src_root / PACKAGE
    if not pkg_dir.is_dir():
        raise CodeDepsError(f"no package directory {pkg_dir}")
    modules: dict[str, Path] = {}
    for path in sorted(pkg_dir.rglob("*.py")):
        parts = path.relative_to(src_root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if all(p.isidentifier() for p in parts):
            modules[".".join(parts)] = path
    return modules


def _resolved(src_root: Path | None) -> Path:
    return (SRC_ROOT if src_root is None else Path(src_root)).resolve()


def _parents(name: str) -> Iterator[str]:
    """``a.b.c`` -> ``a``, ``a.b``: the packages Python runs before ``name``."""
    parts = name.split(".")
    for i in range(1, len(parts)):
        yield ".".join(parts[:i])


def _in_package(name: str) -> bool:
    return name == PACKAGE or name.startswith(PACKAGE + ".")


# -- finding the imports of a syntax tree -------------------------------------------------


class _Resolver:
    """Turns the import statements of one module (or one function of it) into edges."""

    def __init__(self, module: str, is_package: bool, modules: Iterable[str]) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.modules = frozenset(modules)

    def target(self, name: str) -> set[str]:
        """The module that ``import name`` runs (its longest prefix that is a module of the
        package: ``from nasrank.a import f`` imports ``nasrank.a``) and its parents."""
        if not _in_package(name):
            return set()
        parts = name.split(".")
        for i in range(len(parts), 0, -1):
            candidate = ".".join(parts[:i])
            if candidate in self.modules:
                return {candidate, *(p for p in _parents(candidate) if p in self.modules)}
        return set()

    def absolute(self, node: ast.ImportFrom) -> str | None:
        """The absolute module name of ``from <node.module> import ...`` (None: the
        relative import climbs above the top-level package)."""
        if node.level == 0:
            return node.module
        parts = self.package.split(".") if self.package else []
        up = node.level - 1
        if up > len(parts) or (up == len(parts) and not node.module):
            return None
        base = parts[: len(parts) - up]
        if node.module:
            base.append(node.module)
        return ".".join(base)

    def edges(self, nodes: Iterable[ast.AST]) -> set[str]:
        """The modules of the package imported by the statements among ``nodes``."""
        nodes = list(nodes)
        found: set[str] = set()
        calls_import = False
        for node in nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found |= self.target(alias.name)
            elif isinstance(node, ast.ImportFrom):
                base = self.absolute(node)
                if base is None:
                    continue
                for alias in node.names:
                    found |= self.target(base if alias.name == "*" else f"{base}.{alias.name}")
            elif isinstance(node, ast.Call) and _is_import_call(node):
                calls_import = True
                if node.args and isinstance(node.args[0], ast.Constant) \
                        and isinstance(node.args[0].value, str):
                    found |= self.target(node.args[0].value)
        if calls_import:
            # registries hold module names in dicts; only exact names count, so that prose
            # mentioning a module does not become an edge by accident
            for node in nodes:
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    name = node.value.partition(":")[0]
                    if name in self.modules:
                        found |= self.target(name)
        found.discard(self.module)
        return found


def _is_import_call(node: ast.Call) -> bool:
    """``importlib.import_module(...)``, ``import_module(...)`` or ``__import__(...)``."""
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr in _IMPORT_FUNCTIONS
    return isinstance(func, ast.Name) and func.id in _IMPORT_FUNCTIONS


def _walk_module_level(tree: ast.AST) -> Iterator[ast.AST]:
    """The nodes that run when a module is imported: everything but function bodies
    (decorators and default values do run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            stack.extend(node.decorator_list)
            stack.extend(node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
        elif isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
        else:
            stack.extend(ast.iter_child_nodes(node))


@functools.cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# -- the graph --------------------------------------------------------------------------------


@functools.cache
def _graph(src_root: Path) -> dict[str, frozenset[str]]:
    files = _module_files(src_root)
    graph: dict[str, frozenset[str]] = {}
    for module, path in files.items():
        resolver = _Resolver(module, path.name == "__init__.py", files)
        edges = resolver.edges(ast.walk(_parse(path)))
        edges |= {p for p in _parents(module) if p in files}
        graph[module] = frozenset(edges)
    return graph


def import_graph(src_root: Path | None = None) -> dict[str, frozenset[str]]:
    """The static import graph of the ``nasrank`` package under ``src_root``.

    Parsed once per source root; later calls return a copy of the cached graph.

    Args:
        src_root: directory holding the ``nasrank`` package directory (default: the
            ``src`` directory of this repository).

    Returns:
        Module name (``nasrank.x`` for ``nasrank/x.py`` and ``nasrank/x/__init__.py``) ->
        the modules of the package it imports, directly (see the module docstring for
        what counts). A module is never its own edge.

    Raises:
        CodeDepsError: ``src_root`` holds no ``nasrank`` directory.
        SyntaxError: a module does not parse.
    """
    return dict(_graph(_resolved(src_root)))


def closure(modules: Iterable[str], graph: Graph | None = None) -> list[str]:
    """Every module that importing ``modules`` may run, the given ones included.

    Args:
        modules: module names (``nasrank.train``).
        graph: an import graph (default: :func:`import_graph` of this repository).

    Returns:
        The module names, sorted.

    Raises:
        CodeDepsError: a module is not in the graph (a typo would otherwise yield a
            silently empty dependency list).
    """
    graph = import_graph() if graph is None else graph
    todo = list(modules)
    unknown = sorted(m for m in todo if m not in graph)
    if unknown:
        raise CodeDepsError(f"not modules of {PACKAGE}: {', '.join(unknown)}")
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph.get(module, ()))
    return sorted(seen)


# -- commands ---------------------------------------------------------------------------------


def _cli_functions(src_root: Path) -> tuple[_Resolver, dict[str, ast.FunctionDef]]:
    module = f"{PACKAGE}.cli"
    files = _module_files(src_root)
    if module not in files:
        raise CodeDepsError(f"no {PACKAGE}/cli.py under {src_root}")
    tree = _parse(files[module])
    functions = {n.name: n for n in tree.body
                 if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    return _Resolver(module, False, files), functions


def commands(src_root: Path | None = None) -> list[str]:
    """The commands of the CLI (``cmd_dvc_yaml`` -> ``dvc-yaml``), sorted."""
    _, functions = _cli_functions(_resolved(src_root))
    return sorted(n.removeprefix("cmd_").replace("_", "-") for n in functions
                  if n.startswith("cmd_"))


def _cli_module_level(src_root: Path) -> frozenset[str]:
    """What importing ``nasrank.cli`` runs, without the lazy imports of its handlers."""
    resolver, _ = _cli_functions(src_root)
    files = _module_files(src_root)
    edges = resolver.edges(_walk_module_level(_parse(files[resolver.module])))
    return frozenset(edges | {p for p in _parents(resolver.module) if p in files})


def command_modules(command: str, graph: Graph | None = None,
                    src_root: Path | None = None) -> list[str]:
    """The entry modules of ``nasrank <command>``: what the command line imports for it.

    That is ``nasrank.__main__``, ``nasrank.cli`` and the module-level imports of
    ``cli.py``, plus the modules imported inside ``cmd_<command>`` and inside the
    functions of ``cli.py`` it (or ``main``, which dispatches every command) refers to by
    name, transitively (``cmd_train`` -> ``_run_config``). The handlers of other commands
    are not followed.

    Args:
        command: the subcommand as typed (``train``, ``dvc-yaml``).
        graph: an import graph, only to check the result against (default:
            :func:`import_graph` of ``src_root``).
        src_root: directory holding the ``nasrank`` package (default: this repository's).

    Returns:
        The module names, sorted; pass them to :func:`code_files` with
        :func:`command_graph` (or use :func:`command_code`) to get the files.

    Raises:
        CodeDepsError: ``cli.py`` has no ``cmd_<command>`` (the message lists the
            commands that exist).
    """
    root = _resolved(src_root)
    resolver, functions = _cli_functions(root)
    handler = "cmd_" + command.replace("-", "_")
    if handler not in functions:
        raise CodeDepsError(f"unknown command {command!r}: {PACKAGE}/cli.py has no "
                            f"function {handler}; available: {', '.join(commands(root))}")
    todo, seen = [handler, _CLI_MAIN], set()
    found = set(_cli_module_level(root)) | {resolver.module}
    while todo:
        name = todo.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        nodes = list(ast.walk(functions[name]))
        found |= resolver.edges(nodes)
        todo.extend(n.id for n in nodes if isinstance(n, ast.Name) and n.id in functions)
    main = f"{PACKAGE}.__main__"
    if main in _module_files(root):
        found.add(main)
    graph = import_graph(root) if graph is None else graph
    return sorted(m for m in found if m in graph)


def command_graph(command: str, src_root: Path | None = None) -> dict[str, frozenset[str]]:
    """The import graph as ``nasrank <command>`` sees it: ``nasrank.cli``'s edges are only
    its module-level imports plus the command's own (its other handlers never run).

    Raises:
        CodeDepsError: unknown command.
    """
    root = _resolved(src_root)
    graph = import_graph(root)
    cli = f"{PACKAGE}.cli"
    entry = command_modules(command, graph, root)
    graph[cli] = frozenset(m for m in entry if m != cli)
    return graph


# -- files ------------------------------------------------------------------------------------


def code_files(modules: Iterable[str], src_root: Path | None = None,
               graph: Graph | None = None) -> list[str]:
    """The files of ``modules`` and of every module they import, transitively.

    Args:
        modules: module names.
        src_root: directory holding the ``nasrank`` package (default: this repository's
            ``src``); paths are relative to its parent, the repository root.
        graph: the graph to follow (default: :func:`import_graph` of ``src_root``).

    Returns:
        POSIX paths relative to the repository root (``src/nasrank/train.py``), sorted.

    Raises:
        CodeDepsError: a module is not in the graph.
    """
    root = _resolved(src_root)
    graph = import_graph(root) if graph is None else graph
    files = _module_files(root)
    return sorted(files[m].relative_to(root.parent).as_posix() for m in closure(modules, graph))


def command_code(command: str, src_root: Path | None = None) -> list[str]:
    """The code files ``nasrank <command>`` may run: the code dependencies of its stage.

    Args:
        command: the subcommand (``train``, ``dvc-yaml``).
        src_root: directory holding the ``nasrank`` package (default: this repository's).

    Returns:
        Repository-relative POSIX paths, sorted (see :func:`compress` to shorten them).

    Raises:
        CodeDepsError: unknown command.
    """
    root = _resolved(src_root)
    return code_files(command_modules(command, src_root=root), root, command_graph(command, root))


def compress(paths: Iterable[str], root: Path | None = None, min_share: float = 1.0
             ) -> list[str]:
    """``paths`` with every complete package directory in place of its files.

    A package directory (one with an ``__init__.py``) replaces its files only when every
    ``*.py`` file below it, recursively, is among ``paths``, so the result names exactly
    the same Python files; the outermost such directory wins. This keeps ``dvc.yaml``
    short (``src/nasrank/losses`` instead of its modules). With ``min_share`` below 1, a
    subpackage (not the top package) replaces its files already when that share of its
    files is among ``paths``: a superset, so a dependency list built this way still
    covers every file (a stage may rerun for a sibling module it does not import).

    Args:
        paths: POSIX paths relative to ``root``.
        root: the directory they are relative to (default: the repository root).
        min_share: the share of a subpackage's files that stands for all of them.

    Returns:
        Directories and the remaining files, sorted.
    """
    base = REPO_ROOT if root is None else Path(root)
    wanted = set(paths)
    candidates = sorted({p for path in wanted for p in _dir_prefixes(path)},
                        key=lambda d: (d.count("/"), d))
    chosen: list[str] = []
    for directory in candidates:
        if any(directory.startswith(c + "/") for c in chosen):
            continue
        d = base / directory
        if not (d / "__init__.py").is_file():
            continue
        below = {p.relative_to(base).as_posix() for p in d.rglob("*.py")}
        top = (d.parent / "__init__.py").is_file() is False
        share = 1.0 if top else min_share
        if below <= wanted or len(below & wanted) >= share * len(below):
            chosen.append(directory)
    rest = [p for p in wanted if not any(p.startswith(c + "/") for c in chosen)]
    return sorted([*chosen, *rest])


def _dir_prefixes(path: str) -> Iterator[str]:
    """``a/b/c.py`` -> ``a``, ``a/b``."""
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])
