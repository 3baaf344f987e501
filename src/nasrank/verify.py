"""Check a workspace against dvc.lock and name every file that differs.

``dvc status`` says *that* a stage changed; this module says *which file* differs from
what dvc.lock recorded, with the recorded and the found MD5 and size, down to the files
inside a directory output. It needs neither DVC nor Git: it recomputes the hashes the way
DVC 3 does, so a reproduction on another machine (or after a Snakemake run and
``dvc commit``) can be checked file by file.

How DVC 3 hashes (checked against dvc.lock files written by DVC 3.67):

- a file: MD5 of its bytes, with no newline normalisation (``hash: md5`` in the lock).
  Entries without a ``hash`` key were written by DVC 2, whose ``md5-dos2unix`` turns
  CRLF into LF in every 1 MiB chunk that looks like text; both are supported.
- a directory: ``<md5>.dir``, the MD5 of ``json.dumps(entries, sort_keys=True)`` where
  ``entries`` is ``[{"md5": ..., "relpath": ...}]`` sorted by ``relpath`` (POSIX
  separators), over every file below it except ``.git``, ``.hg`` and ``.dvc`` and what
  ``.dvcignore`` files in its parent directories exclude; ``size`` sums the file sizes and
  ``nfiles`` counts them. The manifest itself is kept in the cache at
  ``.dvc/cache/files/md5/xx/yyyy.dir``, which is how the differing files are named.

Outputs that dvc.yaml marks ``meta: {measured: true}`` hold wall-clock times (fit and
query times, and the tables, figures and report built from them); their bytes differ on
every run, so they are named but fail the check only with ``strict``. A directory output
can instead list the names of its measured files, ``meta: {measured: ["timing.json"]}``
(fnmatch patterns on the file name): then only those files inside it are measured, and the
directory itself is when every file that differs in it is.

Where bytes cannot match (a GPU, another kind of CPU), ``tolerance=K`` compares each
differing result file (``.../s<seed>.json``: run metrics, search results; a family result
file's per-seed ``results``) number by number with its recorded version, Git HEAD's copy
or else the DVC cache object, and lets it pass when every number is within K times the
seed-to-seed spread of the recorded seeds (their sample standard deviation).

Usage::

    from nasrank.verify import verify
    report = verify(Path("."))              # every output of every stage in dvc.lock
    report = verify(Path("."), stages=["train"], deps=True)   # train@*, deps too
    report = verify(Path("."), cache=True)  # and every cached output's object in .dvc/cache
    report = verify(Path("."), tolerance=1.0)  # result files: within 1 seed-to-seed spread?
    print(report.to_text()); report.ok      # or json.dumps(report.to_dict())
"""

from __future__ import annotations

import configparser
import fnmatch
import hashlib
import json
import math
import os
import re
import statistics
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from nasrank.errors import NasrankError, UnknownNameError
from nasrank.io import CHUNK, TEMP_NAME, stale_temps

SUPPORTED_SCHEMAS = ("2.0",)
LEGACY_HASH = "md5-dos2unix"
DIR_SUFFIX = ".dir"
DVCIGNORE = ".dvcignore"
# DVC's default ignore patterns (dvc/ignore.py): these never enter a directory hash.
IGNORED_DIRS = frozenset({".git", ".hg", ".dvc"})
IGNORED_FILES = frozenset({".git"})
# dvc_data's istextfile: a chunk is text when its first 512 bytes hold no NUL and at
# most 30% bytes outside this set.
_TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"
_TEXT_PROBE = 512


class VerifyError(NasrankError):
    """dvc.lock (or the DVC set-up around it) cannot be read."""


class LockNotFoundError(VerifyError):
    """There is no dvc.lock to check against."""


class LockFormatError(VerifyError):
    """dvc.lock is not YAML, or not the schema DVC 2/3 write."""


# --- hashing ----------------------------------------------------------------------------


def _is_text(chunk: bytes) -> bool:
    block = chunk[:_TEXT_PROBE]
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, _TEXT_CHARS)) / len(block) <= 0.30


def _plain(chunk: bytes) -> bytes:
    return chunk


def _dos2unix(chunk: bytes) -> bytes:
    return chunk.replace(b"\r\n", b"\n") if _is_text(chunk) else chunk


# hash name in dvc.lock -> (chunk transform, cache subdirectory of its objects)
HASHES: dict[str, tuple[Callable[[bytes], bytes], tuple[str, ...]]] = {
    "md5": (_plain, ("files", "md5")),
    LEGACY_HASH: (_dos2unix, ()),
}


def _chunks_md5(chunks: Iterable[bytes], hash_name: str) -> str:
    transform = HASHES[hash_name][0]
    h = hashlib.md5(usedforsecurity=False)
    for chunk in chunks:
        h.update(transform(chunk))
    return h.hexdigest()


def file_md5(path: str | os.PathLike[str], hash_name: str = "md5") -> str:
    """MD5 of a file as DVC computes it for ``hash_name``, read in 1 MiB chunks."""
    with open(path, "rb") as f:
        return _chunks_md5(iter(lambda: f.read(CHUNK), b""), hash_name)


def bytes_md5(data: bytes, hash_name: str = "md5") -> str:
    """MD5 of ``data`` as :func:`file_md5` computes it for a file holding those bytes."""
    return _chunks_md5((data[i:i + CHUNK] for i in range(0, len(data), CHUNK)), hash_name)


def manifest_md5(entries: Iterable[Mapping[str, str]]) -> str:
    """DVC's ``.dir`` hash of a manifest of ``{"md5", "relpath"}`` entries."""
    rows = sorted(({"md5": e["md5"], "relpath": e["relpath"]} for e in entries),
                  key=lambda e: e["relpath"])
    data = json.dumps(rows, sort_keys=True).encode("utf-8")
    return hashlib.md5(data, usedforsecurity=False).hexdigest() + DIR_SUFFIX


@dataclass(frozen=True)
class DirHash:
    """A directory's DVC hash with what it is made of."""

    md5: str
    size: int
    nfiles: int
    files: dict[str, tuple[str, int]]  # relpath -> (md5, size)


class _Ignore:
    """The ``.dvcignore`` files that apply below one directory, each relative to its own."""

    def __init__(self, specs: list[tuple[Path, Any]]) -> None:
        self.specs = specs

    @classmethod
    def above(cls, root: Path, target: Path) -> _Ignore:
        """The ``.dvcignore`` files of ``root`` and every directory down to ``target``'s parent.

        DVC refuses a ``.dvcignore`` inside a directory output, so only these can apply.
        """
        folders = [root]
        rel = _relative(target.parent, root)
        if rel is not None:
            for part in rel.parts:
                folders.append(folders[-1] / part)
        specs = []
        for folder in folders:
            lines = _ignore_lines(folder / DVCIGNORE)
            if lines:
                specs.append((folder, _pathspec(folder / DVCIGNORE, lines)))
        return cls(specs)

    def ignored(self, path: Path, is_dir: bool) -> bool:
        for base, spec in self.specs:
            rel = _relative(path, base)
            if rel is not None and spec.match_file(rel.as_posix() + ("/" if is_dir else "")):
                return True
        return False


def _relative(path: Path, base: Path) -> Path | None:
    try:
        return path.relative_to(base)
    except ValueError:
        return None


def _ignore_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _pathspec(path: Path, lines: list[str]) -> Any:
    try:
        import pathspec
    except ImportError as exc:  # pathspec comes with DVC
        raise VerifyError(f"{path} has ignore patterns; reading them needs the `pathspec` "
                          "package (install nasrank[workflow], which brings DVC)") from exc
    return pathspec.GitIgnoreSpec.from_lines(lines)


def dir_hash(path: str | os.PathLike[str], hash_name: str = "md5", *,
             repo_root: str | os.PathLike[str] | None = None) -> DirHash:
    """DVC's hash of a directory: every file below it, minus what DVC ignores.

    ``repo_root`` (the directory holding .dvc) enables the ``.dvcignore`` files from it
    down to ``path``; without it only DVC's default ignores (.git, .hg, .dvc) apply.
    """
    root = Path(path)
    ignore = _Ignore([]) if repo_root is None else _Ignore.above(Path(repo_root), root)
    files: dict[str, tuple[str, int]] = {}
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS
                         and not ignore.ignored(here / d, is_dir=True))
        for name in names:
            file = here / name
            if name in IGNORED_FILES or ignore.ignored(file, is_dir=False):
                continue
            files[file.relative_to(root).as_posix()] = (file_md5(file, hash_name),
                                                        file.stat().st_size)
    md5 = manifest_md5({"md5": m, "relpath": r} for r, (m, _) in files.items())
    return DirHash(md5, sum(s for _, s in files.values()), len(files), files)


# --- dvc.lock ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LockEntry:
    """One ``deps``/``outs`` item of a stage in dvc.lock."""

    stage: str
    role: str  # "out" | "dep"
    path: str
    hash_name: str
    md5: str
    size: int | None
    nfiles: int | None
    files: list[dict[str, Any]] | None  # an inline manifest (cloud-versioned outputs)

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(DIR_SUFFIX)


def load_lock(path: Path) -> dict[str, dict[str, Any]]:
    """The ``stages`` mapping of a dvc.lock, with errors naming the file and the key."""
    if not path.is_file():
        raise LockNotFoundError(
            f"{path} does not exist: run `dvc repro` to create it (or `dvc commit` after a "
            "Snakemake run, which records the outputs it made)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise LockFormatError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise LockFormatError(f"{path}: expected a mapping with keys 'schema' and 'stages'")
    schema = data.get("schema")
    if schema not in SUPPORTED_SCHEMAS:
        raise LockFormatError(
            f"{path}: key 'schema' is {schema!r}; nasrank verify reads the dvc.lock schema "
            f"{', '.join(SUPPORTED_SCHEMAS)} written by DVC 2 and 3")
    stages = data.get("stages")
    if not isinstance(stages, dict):
        raise LockFormatError(f"{path}: key 'stages' must be a mapping of stage names")
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            raise LockFormatError(f"{path}: key 'stages.{name}' must be a mapping")
    return stages


def _entries(lock: Path, name: str, stage: Mapping[str, Any],
             role: str) -> tuple[list[LockEntry], list[str]]:
    """The local entries of one stage and role, and the remote paths (not checkable)."""
    key = f"{role}s"
    items = stage.get(key) or []
    if not isinstance(items, list):
        raise LockFormatError(f"{lock}: key 'stages.{name}.{key}' must be a list")
    out, remote = [], []
    for i, item in enumerate(items):
        where = f"stages.{name}.{key}[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise LockFormatError(f"{lock}: key '{where}' must be a mapping with a 'path'")
        if "://" in item["path"]:
            remote.append(item["path"])  # import-url: nothing in the workspace to hash
            continue
        hash_name = item.get("hash", LEGACY_HASH)
        if hash_name not in HASHES:
            raise LockFormatError(f"{lock}: key '{where}.hash' is {hash_name!r}; "
                                  f"known: {', '.join(HASHES)}")
        md5 = item.get("md5")
        if not isinstance(md5, str):
            raise LockFormatError(f"{lock}: key '{where}.md5' is missing")
        out.append(LockEntry(name, role, item["path"], hash_name, md5, item.get("size"),
                             item.get("nfiles"), item.get("files")))
    return out, remote


def _select(lock: Path, stages: Mapping[str, Any], wanted: Sequence[str] | None) -> list[str]:
    """Stage names in lock order; ``train`` selects every ``train@...`` instance."""
    if wanted is None:
        return list(stages)
    names = list(stages)
    for want in wanted:
        if not any(want in (n, n.partition("@")[0]) for n in names):
            raise UnknownNameError(f"stage in {lock}", want,
                                   sorted({n.partition("@")[0] for n in names}))
    return [n for n in names if n in wanted or n.partition("@")[0] in wanted]


def _spec(dvc_yaml: Path) -> dict[str, Any]:
    """The ``stages`` of ``dvc_yaml`` ({} where there is none)."""
    if not dvc_yaml.is_file():
        return {}
    try:
        spec = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise LockFormatError(f"{dvc_yaml} is not valid YAML: {exc}") from exc
    stages = spec.get("stages") if isinstance(spec, dict) else None
    return stages if isinstance(stages, dict) else {}


def _wdirs(dvc_yaml: Path, spec: Mapping[str, Any]) -> dict[str, str]:
    """``wdir`` of each dvc.yaml stage (dvc.lock paths are relative to it)."""
    out = {}
    for name, stage in spec.items():
        body = stage.get("do", stage) if isinstance(stage, dict) else {}
        wdir = body.get("wdir") if isinstance(body, dict) else None
        if wdir is not None:
            if "${" in str(wdir):
                raise LockFormatError(f"{dvc_yaml}: key "
                                      f"'stages.{name}.wdir' is interpolated ({wdir}); "
                                      "nasrank verify needs a literal wdir")
            out[name] = str(wdir)
    return out


_ITEM = re.compile(r"\$\{\s*(item|key)((?:\.\w+)*)\s*\}")


def interpolate(template: str, key: str, item: Any) -> str:
    """``${item}``, ``${item.field}`` and ``${key}`` of a foreach instance."""
    def value(m: re.Match[str]) -> str:
        found: Any = key if m.group(1) == "key" else item
        for part in filter(None, m.group(2).split(".")):
            found = found[part] if isinstance(found, Mapping) else None
        return str(found)

    return _ITEM.sub(value, template)


def foreach_instances(name: str, stage: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(lock stage name, foreach key, item) of a dvc.yaml stage, as DVC names them."""
    items = stage.get("foreach")
    if isinstance(items, Mapping):
        return [(f"{name}@{k}", str(k), v) for k, v in items.items()]
    if isinstance(items, list):
        return [(f"{name}@{v if isinstance(v, str | int) else i}", str(i), v)
                for i, v in enumerate(items)]
    return [(name, "", None)]


def out_entry(entry: str | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(path, options) of a dvc.yaml ``outs``/``metrics``/``plots`` item: ``path`` or
    ``{path: {cache: ..., meta: ...}}``."""
    if isinstance(entry, str):
        return entry, {}
    path = next(iter(entry), "")
    return path, dict(entry[path] or {})


def output_specs(dvc_yaml: Path, spec: Mapping[str, Any] | None = None
                 ) -> dict[str, dict[str, dict[str, Any]]]:
    """Lock stage name -> output path -> its dvc.yaml options (``cache``, ``meta``, ...)."""
    spec = _spec(dvc_yaml) if spec is None else spec
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, stage in spec.items():
        if not isinstance(stage, Mapping):
            continue
        body = stage.get("do", stage)
        for instance, key, item in foreach_instances(name, stage):
            paths = out.setdefault(instance, {})
            for kind in ("outs", "metrics", "plots"):
                for entry in body.get(kind) or []:
                    path, opts = out_entry(entry)
                    paths[interpolate(str(path), key, item)] = opts
    return out


def _measured(dvc_yaml: Path, stage: str, path: str,
              opts: Mapping[str, Any]) -> bool | tuple[str, ...]:
    """``meta.measured`` of an output: ``True`` (all of it), the file name patterns of the
    measured files inside a directory, or ``False`` where it is not set."""
    meta = opts.get("meta")
    if not isinstance(meta, Mapping) or "measured" not in meta:
        return False
    value = meta["measured"]
    if value is True:
        return True
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise VerifyError(f"{dvc_yaml}: stage {stage}, output {path}: key 'meta.measured' is "
                      f"{value!r}; expected true or a list of file name patterns "
                      "(e.g. [timing.json])")


def _cache_dir(repo_root: Path) -> Path:
    """The DVC cache: ``cache.dir`` of .dvc/config(.local), else .dvc/cache."""
    dvc_dir = repo_root / ".dvc"
    cache = dvc_dir / "cache"
    for name in ("config", "config.local"):
        path = dvc_dir / name
        if not path.is_file():
            continue
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise VerifyError(f"{path} cannot be read: {exc}") from exc
        if parser.has_option("cache", "dir"):
            cache = dvc_dir / parser.get("cache", "dir")
    return cache


# --- checking ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One file that is not what dvc.lock recorded."""

    stage: str
    path: str  # relative to the directory of dvc.lock
    kind: str  # a key of KINDS
    role: str  # "out" | "dep"
    expected: str | None  # recorded MD5 (None: the file is not in the record)
    actual: str | None  # found MD5 (None: not found)
    expected_size: int | None = None
    actual_size: int | None = None
    directory: str | None = None  # the directory output this file belongs to
    detail: str = ""
    measured: bool = False  # an output of measured times: differs on every run


def _sized(md5: str | None, size: int | None) -> str:
    return md5 if size is None else f"{md5} ({size} bytes)"


def _where(p: Problem) -> str:
    inside = f", in {p.directory}" if p.directory else ""
    return f"{p.path} [stage {p.stage}, {p.role}{inside}]"


def _suffix(p: Problem) -> str:
    note = "; measured wall-clock times, which differ on every run" if p.measured else ""
    return (f"; {p.detail}" if p.detail else "") + note


KINDS: dict[str, Callable[[Problem], str]] = {
    "missing": lambda p: (f"missing  {_where(p)}: recorded md5 "
                          f"{_sized(p.expected, p.expected_size)}{_suffix(p)}"),
    "modified": lambda p: (f"modified {_where(p)}: recorded md5 "
                           f"{_sized(p.expected, p.expected_size)}, found "
                           f"{_sized(p.actual, p.actual_size)}{_suffix(p)}"),
    "added": lambda p: (f"added    {_where(p)}: not in the recorded directory, found "
                        f"{_sized(p.actual, p.actual_size)}{_suffix(p)}"),
    "stale": lambda p: (f"stale    {_where(p)}: a temporary file left by a killed stage; "
                        f"rerunning the stage removes it (or delete it){_suffix(p)}"),
    "uncached": lambda p: (f"uncached {_where(p)}: md5 {p.expected} is not in the DVC "
                           f"cache{_suffix(p)}"),
    "corrupt": lambda p: (f"corrupt  {_where(p)}: the DVC cache object {p.expected} holds "
                          f"md5 {p.actual}{_suffix(p)}"),
    "orphan": lambda p: (f"orphan   stage {p.stage} [{p.path}]: recorded, but dvc.yaml has "
                         "no such stage any more (the grid dropped it); `nasrank verify "
                         "--prune` removes its entry"),
}


@dataclass(frozen=True)
class NumericCheck:
    """A result file whose bytes differ, compared number by number with its recorded
    version (``verify(..., tolerance=K)``): ``within`` when every number that differs does
    so by at most K seed-to-seed spreads."""

    stage: str
    path: str  # relative to the directory of dvc.lock, like Problem.path
    within: bool
    tolerance: float
    message: str  # why it is (not) within, naming the value that decides it
    metric: str | None = None  # the value with the largest |found - recorded| / spread
    recorded: float | None = None
    found: float | None = None
    spread: float | None = None  # its seed-to-seed standard deviation (None: no spread)
    ratio: float | None = None  # |found - recorded| / spread (None: no spread to divide by)
    seeds: int = 0  # recorded seeds the spread is taken over
    compared: int = 0  # numbers compared
    differ: int = 0  # of them, how many differ
    directory: str | None = None  # the directory output the file belongs to


@dataclass
class VerifyReport:
    """What :func:`verify` found: ``ok`` when every checked entry matches dvc.lock."""

    lock: str
    checked: int
    problems: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # remote paths, not in the workspace
    strict: bool = False  # count differing measured outputs as failures too
    tolerance: float | None = None  # K of --tolerance: result files compared numerically
    numeric: list[NumericCheck] = field(default_factory=list)
    # (stage, path) of the problems --tolerance excuses: the result files within it, and
    # the directory outputs where every file that differs is within it (or measured)
    tolerated: set[tuple[str, str]] = field(default_factory=set)

    def _excused(self, p: Problem) -> bool:
        return (p.measured and not self.strict) or (p.stage, p.path) in self.tolerated

    @property
    def failures(self) -> list[Problem]:
        """The problems that make the check fail (measured ones only when ``strict``;
        none that ``tolerance`` found within the seed-to-seed spread)."""
        return [p for p in self.problems if not self._excused(p)]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_text(self) -> str:
        """One line per problem and a summary line (the CLI's output); with a tolerance, a
        result file's line says whether its numbers are within it."""
        numeric = {(c.stage, c.path): c for c in self.numeric}
        lines = []
        for p in self.problems:
            check = numeric.get((p.stage, p.path))
            if check is not None:
                lines.append(_numeric_line(check))
                continue
            line = KINDS[p.kind](p)
            if (p.stage, p.path) in self.tolerated and p.directory is None:
                line += "; every file that differs in it is within --tolerance"
            lines.append(line)
        failures = self.failures
        if not failures:
            summary = f"{self.lock}: all {self.checked} checked entries match"
            if self.tolerance is not None and self.tolerated:
                summary += " or are within the tolerance"
        else:
            stages = len({p.stage for p in failures})
            kinds = ", ".join(f"{n} {kind}" for kind, n in
                              Counter(p.kind for p in failures).items())
            summary = (f"{self.lock}: {self.checked} entries checked, {kinds} "
                       f"(in {stages} stage{'s' if stages > 1 else ''})")
        measured = sum(p.measured and not self.strict for p in self.problems)
        if measured:
            summary += (f" except {measured} measured-time files, "
                        "which differ on every run (--strict counts them)")
        if self.tolerance is not None and self.numeric:
            within = sum(c.within for c in self.numeric)
            summary += (f"; --tolerance {self.tolerance:g}: {within} of {len(self.numeric)} "
                        "differing result files within the seed-to-seed spread")
        if self.skipped:
            summary += f"; {len(self.skipped)} remote entries not checked"
        return "\n".join([*lines, summary])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (``nasrank verify --json``); ``tolerance`` and
        ``numeric`` only when a tolerance was given."""
        out = {"lock": self.lock, "ok": self.ok, "checked": self.checked,
               "strict": self.strict, "problems": [asdict(p) for p in self.problems],
               "skipped": self.skipped}
        if self.tolerance is not None:
            out["tolerance"] = self.tolerance
            out["numeric"] = [asdict(c) for c in self.numeric]
            out["tolerated"] = sorted(path for _, path in self.tolerated)
        return out


def _numeric_line(c: NumericCheck) -> str:
    inside = f", in {c.directory}" if c.directory else ""
    return (f"{'within ' if c.within else 'outside'}  {c.path} [stage {c.stage}, "
            f"out{inside}]: {c.message}")


class _Checker:
    """Hashes each workspace path once and compares it with the lock entries."""

    def __init__(self, repo_root: Path, cache: Path) -> None:
        self.repo_root = repo_root
        self.cache = cache
        self.memo: dict[tuple[Path, str, bool], str | DirHash] = {}

    def _hash(self, path: Path, hash_name: str, is_dir: bool) -> str | DirHash:
        key = (path, hash_name, is_dir)
        if key not in self.memo:
            self.memo[key] = (dir_hash(path, hash_name, repo_root=self.repo_root)
                              if is_dir else file_md5(path, hash_name))
        return self.memo[key]

    def check(self, entry: LockEntry, base: Path) -> list[Problem]:
        found = self._check(entry, base)
        if entry.role != "out":
            return found
        path, shown = base / entry.path, Path(entry.path).as_posix()
        if entry.is_dir:
            return _stale_inside(entry, shown, found)
        return found + [Problem(entry.stage, (Path(shown).parent / tmp.name).as_posix(),
                                "stale", entry.role, None, None)
                        for tmp in stale_temps(path.parent, path.name)]

    def _check(self, entry: LockEntry, base: Path) -> list[Problem]:
        path = base / entry.path
        shown = Path(entry.path).as_posix()
        if not path.exists():
            return [Problem(entry.stage, shown, "missing", entry.role, entry.md5, None,
                            entry.size)]
        if path.is_dir() != entry.is_dir:
            found = "a directory" if path.is_dir() else "a file"
            return [Problem(entry.stage, shown, "modified", entry.role, entry.md5, None,
                            entry.size, detail=f"found {found}")]
        if not entry.is_dir:
            actual = self._hash(path, entry.hash_name, is_dir=False)
            if actual == entry.md5:
                return []
            return [Problem(entry.stage, shown, "modified", entry.role, entry.md5, actual,
                            entry.size, path.stat().st_size)]
        found = self._hash(path, entry.hash_name, is_dir=True)
        assert isinstance(found, DirHash)
        if found.md5 == entry.md5:
            return []
        manifest = self._manifest(entry)
        detail = (f"{found.nfiles} files, {entry.nfiles} recorded"
                  if entry.nfiles is not None else f"{found.nfiles} files")
        if manifest is None:
            detail += ("; the recorded file list is not in the DVC cache, so the differing "
                       "files cannot be named")
        head = Problem(entry.stage, shown, "modified", entry.role, entry.md5, found.md5,
                       entry.size, found.size, detail=detail)
        if manifest is None:
            return [head, *(Problem(entry.stage, f"{shown}/{rel}", "added", entry.role, None,
                                    md5, None, size, directory=shown)
                            for rel, (md5, size) in found.files.items() if _is_temp(rel))]
        return [head, *self._inside(entry, shown, manifest, found)]

    def _object(self, hash_name: str, md5: str) -> Path:
        return self.cache.joinpath(*HASHES[hash_name][1], md5[:2], md5[2:])

    def _cached(self, stage: str, shown: str, hash_name: str, md5: str,
                directory: str | None) -> Problem | None:
        """A problem when the cache object of ``md5`` is absent or holds other bytes."""
        obj = self._object(hash_name, md5)
        if not obj.is_file():
            return Problem(stage, shown, "uncached", "out", md5, None, directory=directory)
        actual = self._hash(obj, hash_name, is_dir=False)
        if actual != md5.removesuffix(DIR_SUFFIX):
            return Problem(stage, shown, "corrupt", "out", md5, actual,
                           actual_size=obj.stat().st_size, directory=directory,
                           detail=f"object {obj}")
        return None

    def check_cache(self, entry: LockEntry) -> list[Problem]:
        """The cache objects of an output (for a directory: its manifest and every file):
        each must exist and hash to its name, or ``dvc checkout`` would restore bad bytes."""
        shown = Path(entry.path).as_posix()
        head = self._cached(entry.stage, shown, entry.hash_name, entry.md5, None)
        if not entry.is_dir or head is not None:
            return [head] if head else []
        manifest = self._manifest(entry) or {}
        found = (self._cached(entry.stage, f"{shown}/{rel}", entry.hash_name, md5, shown)
                 for rel, md5 in sorted(manifest.items()))
        return [p for p in found if p is not None]

    def _manifest(self, entry: LockEntry) -> dict[str, str] | None:
        """relpath -> md5 recorded for a directory: inline in dvc.lock, else in the cache."""
        rows: Any = entry.files
        if rows is None:
            obj = self._object(entry.hash_name, entry.md5)
            if not obj.is_file():
                return None
            try:
                rows = json.loads(obj.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError):
                return None
        try:
            return {row["relpath"]: row["md5"] for row in rows}
        except (TypeError, KeyError):
            return None

    @staticmethod
    def _inside(entry: LockEntry, shown: str, manifest: Mapping[str, str],
                found: DirHash) -> list[Problem]:
        def problem(rel: str, kind: str, expected: str | None,
                    actual: tuple[str, int] | None) -> Problem:
            md5, size = actual if actual else (None, None)
            return Problem(entry.stage, f"{shown}/{rel}", kind, entry.role, expected, md5,
                           None, size, directory=shown)

        out = []
        for rel in sorted(manifest.keys() | found.files.keys()):
            expected, actual = manifest.get(rel), found.files.get(rel)
            if actual is None:
                out.append(problem(rel, "missing", expected, None))
            elif expected is None:
                out.append(problem(rel, "added", None, actual))
            elif expected != actual[0]:
                out.append(problem(rel, "modified", expected, actual))
        return out


def _is_temp(relpath: str) -> bool:
    """A path below a directory output that a writer's temporary holds (nasrank.io)."""
    return any(TEMP_NAME.fullmatch(part) for part in relpath.split("/"))


def _stale_inside(entry: LockEntry, shown: str, problems: list[Problem]) -> list[Problem]:
    """The files inside a directory output that are temporaries of a killed writer, named
    ``stale`` instead of ``added`` (they are what changes the directory's hash)."""
    prefix = f"{shown}/"
    return [replace(p, kind="stale") if p.kind == "added" and p.path.startswith(prefix)
            and _is_temp(p.path[len(prefix):]) else p for p in problems]


def _mark(problems: list[Problem], measured: bool | tuple[str, ...],
          is_dir: bool) -> list[Problem]:
    """The problems of one output, marked ``measured``: all of them for ``True``; for
    patterns, each file whose name matches one, and a directory itself when files inside
    it are named and every one of them is measured."""
    if isinstance(measured, bool):
        return [replace(p, measured=measured) for p in problems]

    def matches(path: str) -> bool:
        name = path.rpartition("/")[2]
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in measured)

    inner = [matches(p.path) for p in problems if p.directory is not None]
    whole = bool(inner) and all(inner)  # no manifest, no files named: not measured
    return [replace(p, measured=whole if is_dir and p.directory is None else matches(p.path))
            for p in problems]


# --- --tolerance: result files compared numerically -------------------------------------

#: a multi-seed result file (reports/metrics/.../n<size>/s<seed>.json, reports/search/...):
#: its group is the files of the same directory with another seed
SEED_FILE = re.compile(r"s(\d+)\.json")
_ABSENT = object()  # a value one version of a file has and the other not
_SHOWN_OTHERS = 3  # non-numeric differences named in a message


class _GitHead:
    """The files of Git's HEAD commit below a directory, read with one ``git`` process per
    batch (a GPU rerun can change every one of hundreds of metrics files)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs: dict[str, bytes | None] = {}  # path relative to root -> bytes at HEAD
        self.error: str | None = None  # why git could not answer, once it could not

    def _git(self, args: Sequence[str], data: bytes | None = None) -> bytes | None:
        try:
            proc = subprocess.run(["git", *args], cwd=self.root, input=data,
                                  capture_output=True, check=False)
        except OSError as exc:
            self.error = f"git cannot run: {exc}"
            return None
        if proc.returncode != 0:
            lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            self.error = f"git {args[0]}: {lines[-1] if lines else f'exit {proc.returncode}'}"
            return None
        return proc.stdout

    def tree(self, directory: str) -> list[str]:
        """The paths (relative to root) of the files below ``directory`` at HEAD."""
        out = self._git(["ls-tree", "-r", "-z", "HEAD", "--", directory])
        paths = []
        for record in (out or b"").split(b"\0"):
            meta, _, path = record.partition(b"\t")
            if meta.split()[1:2] == [b"blob"]:
                paths.append(path.decode("utf-8", "surrogateescape"))
        return paths

    def read(self, paths: Iterable[str]) -> None:
        """Fetch HEAD's bytes of ``paths`` into :attr:`blobs` (None: not a file at HEAD)."""
        todo = [p for p in dict.fromkeys(paths) if p not in self.blobs and "\n" not in p]
        if not todo:
            return
        out = self._git(["cat-file", "--batch"], "".join(f"HEAD:./{p}\n" for p in todo)
                        .encode("utf-8", "surrogateescape"))
        pos = 0
        for path in todo:
            self.blobs[path] = None
            if out is None:
                continue
            end = out.index(b"\n", pos)
            header, pos = out[pos:end].split(), end + 1
            if len(header) == 3:  # "<oid> <type> <size>", then the contents and a newline
                size = int(header[2])
                if header[1] == b"blob":
                    self.blobs[path] = out[pos:pos + size]
                pos += size + 1


def _leaves(doc: Any, prefix: str = "") -> dict[str, Any]:
    """Every scalar of a JSON document by its path (``metrics.kendall_tau``,
    ``trajectory[3]``); list items that carry a ``train_size`` are named by it
    (``rows[train_size=42]``), so a changed list of sizes shows as such."""
    def join(key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    if isinstance(doc, Mapping):
        out: dict[str, Any] = {}
        for key, value in doc.items():
            out.update(_leaves(value, join(str(key))))
        return out
    if isinstance(doc, list):
        sizes = [v.get("train_size") if isinstance(v, Mapping) else None for v in doc]
        keyed = None not in sizes and len(set(map(repr, sizes))) == len(sizes)
        out = {}
        for i, value in enumerate(doc):
            out.update(_leaves(value, f"{prefix}[{f'train_size={sizes[i]}' if keyed else i}]"))
        return out
    return {prefix: doc}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    return "absent" if value is _ABSENT else json.dumps(value)


@dataclass(frozen=True)
class _Spread:
    """The seed-to-seed spread of one value: its sample standard deviation over the
    recorded seeds, or None with the reason there is none."""

    value: float | None
    seeds: int
    why: str = ""


def _spread(values: Sequence[Any], seeds: int, where: str) -> _Spread:
    """The spread of ``values`` (one per recorded seed that has a number there) among
    ``seeds`` recorded seeds of ``where``."""
    numbers = [v for v in values if _number(v) and math.isfinite(v)]
    if seeds < 2:
        return _Spread(None, seeds, f"only {seeds} seed{'s' if seeds != 1 else ''} "
                                    f"recorded in {where}: no seed-to-seed spread")
    if len(numbers) < 2:
        return _Spread(None, len(numbers), f"a number in only {len(numbers)} of the "
                                           f"{seeds} recorded seeds of {where}")
    sd = float(statistics.stdev(numbers))
    if sd == 0:
        return _Spread(0.0, len(numbers), f"all {len(numbers)} recorded seeds of {where} "
                                          f"have {numbers[0]!r}")
    return _Spread(sd, len(numbers))


def _judge(stage: str, path: str, directory: str | None, k: float, found: Any,
           recorded: Any, spread_of: Callable[[str], _Spread]) -> NumericCheck:
    """Compare every number of ``found`` with ``recorded``: within when each differs by at
    most ``k`` times its spread; a number on one side only (absent, null) is outside.
    Strings and booleans (``config.device_kind``) are named, not judged."""
    new, old = _leaves(found), _leaves(recorded)
    compared, structural, others = 0, [], []
    diffs: list[tuple[str, Any, Any, _Spread]] = []
    for key in sorted(new.keys() | old.keys()):
        f, r = new.get(key, _ABSENT), old.get(key, _ABSENT)
        if not (_number(f) or _number(r)):
            if f is _ABSENT or r is _ABSENT or f != r:
                others.append(key)
            continue
        compared += 1
        if not (_number(f) and _number(r)) or math.isnan(f) != math.isnan(r):
            structural.append(f"{key} is {_shown(r)} in the recorded version, {_shown(f)} "
                              "in the found one")
        elif f != r and not math.isnan(f):
            diffs.append((key, r, f, spread_of(key)))

    def exceeds(d: tuple[str, Any, Any, _Spread]) -> tuple[bool, float]:
        diff, sd = abs(d[2] - d[1]), d[3].value
        return (not sd, diff / sd if sd else diff)

    others_note = ""
    if others:
        more = ", ..." if len(others) > _SHOWN_OTHERS else ""
        others_note = (f"; {len(others)} non-numeric value{'s' if len(others) > 1 else ''} "
                       f"differ{'s' if len(others) == 1 else ''}, not judged "
                       f"({', '.join(others[:_SHOWN_OTHERS])}{more})")
    base = NumericCheck(stage, path, False, k, "", compared=compared, differ=len(diffs),
                        directory=directory)
    if structural:
        more = f" (and {len(structural) - 1} more)" if len(structural) > 1 else ""
        return replace(base, message=f"{structural[0]}{more}{others_note}")
    if not diffs:
        return replace(base, within=True, message=f"all {compared} numbers equal the "
                       f"recorded ones{others_note}")
    key, r, f, spread = max(diffs, key=exceeds)
    diff, sd = abs(f - r), spread.value
    within = sd is not None and sd > 0 and diff <= k * sd
    values = f"recorded {r!r}, found {f!r}"
    counts = f"; {len(diffs)} of {compared} numbers differ{others_note}"
    check = replace(base, within=within, metric=key, recorded=r, found=f, spread=sd,
                    seeds=spread.seeds)
    if not sd:
        return replace(check, message=f"{key} differs ({values}) and {spread.why}{counts}")
    ratio = diff / sd
    verdict = "" if within else f" > --tolerance {k:g}"
    return replace(check, ratio=ratio, message=(
        f"{ratio:.3g} x the seed-to-seed spread{verdict} at {key} ({values}, spread "
        f"{sd:.3g} over {spread.seeds} seeds){counts}"))


def _family(doc: Any) -> list[Mapping[str, Any]] | None:
    """The per-seed results of a family result file (``{"seeds": [...], "results":
    [{"seed": ..., "rows": [...]}, ...]}``), or None for another document."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("seeds"), list):
        return None
    results = doc.get("results")
    if not isinstance(results, list) or not results:
        return None
    if not all(isinstance(r, Mapping) and "seed" in r for r in results):
        return None
    seeds = [repr(r["seed"]) for r in results]
    return results if len(set(seeds)) == len(seeds) else None


def _by_seed(doc: Any) -> Any:
    """A family result file with ``results`` keyed by seed, so results are matched by
    their seed and named ``results.seed=0.rows[train_size=5].kendall_tau``."""
    results = _family(doc)
    if results is None:
        return doc
    return {**doc, "results": {f"seed={r['seed']}": r for r in results}}


class _Tolerance:
    """``verify --tolerance``: compares the numbers of differing result files with their
    recorded versions (Git HEAD's copy, else the DVC cache object) and the seed-to-seed
    spread of the recorded seeds."""

    def __init__(self, repo_root: Path, checker: _Checker, k: float, strict: bool,
                 lock_files: Callable[[], dict[str, tuple[str, str]]]) -> None:
        self.root = repo_root
        self.checker = checker
        self.k = k
        self.strict = strict
        self.git = _GitHead(repo_root)
        self._lock_files = lock_files
        self._files: dict[str, tuple[str, str]] | None = None
        self.manifests: dict[tuple[str, str], dict[str, str]] = {}
        self.groups: dict[str, list[dict[str, Any]]] = {}  # dir/s*.json -> leaves

    def _rel(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.root)).as_posix()

    def lock_files(self) -> dict[str, tuple[str, str]]:
        """Path (relative to the root) -> (hash name, md5) of every file output in the lock."""
        if self._files is None:
            self._files = self._lock_files()
        return self._files

    def reference(self, rel: str, hash_name: str, md5: str) -> bytes | str:
        """The recorded bytes of ``rel``: Git HEAD's copy where it hashes to ``md5``, else
        the DVC cache object ``md5``; where neither is, why."""
        self.git.read([rel])
        blob = self.git.blobs.get(rel)
        if blob is not None and bytes_md5(blob, hash_name) == md5:
            return blob
        obj = self.checker._object(hash_name, md5)
        if obj.is_file() and file_md5(obj, hash_name) == md5:
            return obj.read_bytes()
        why = ("Git HEAD holds another version" if blob is not None
               else f"Git HEAD cannot be read ({self.git.error})" if self.git.error
               else "it is not in Git HEAD")
        return (f"no recorded version to compare with: {why}, and the DVC cache has no "
                f"object {md5}")

    def name_inside(self, entry: LockEntry, base: Path, problems: list[Problem]
                    ) -> list[Problem]:
        """A differing directory whose recorded file list is not in the DVC cache (a
        ``cache: false`` output): name the files that differ from Git HEAD's copy of it,
        when that copy hashes to the recorded md5 (so it is the recorded directory)."""
        path, shown = base / entry.path, Path(entry.path).as_posix()
        if (entry.role != "out" or not entry.is_dir or not problems or not path.is_dir()
                or problems[0].kind != "modified" or problems[0].directory is not None
                or self.checker._manifest(entry) is not None):
            return problems
        rel = self._rel(path)
        ignore = _Ignore.above(self.root, path)
        files = {}
        for name in self.git.tree(rel):
            inner = name[len(rel) + 1:]
            parts = inner.split("/")
            if (IGNORED_DIRS & set(parts[:-1]) or parts[-1] in IGNORED_FILES
                    or any(ignore.ignored(path.joinpath(*parts[:i + 1]), i < len(parts) - 1)
                           for i in range(len(parts)))):
                continue
            files[inner] = name
        self.git.read(files.values())
        blobs = {inner: self.git.blobs.get(name) for inner, name in files.items()}
        if not blobs or None in blobs.values():
            return problems
        manifest = {inner: bytes_md5(b, entry.hash_name) for inner, b in blobs.items()
                    if b is not None}
        if manifest_md5({"md5": m, "relpath": r} for r, m in manifest.items()) != entry.md5:
            return problems
        self.manifests[(entry.stage, entry.path)] = manifest
        found = self.checker._hash(path, entry.hash_name, is_dir=True)
        assert isinstance(found, DirHash)
        recorded = f", {entry.nfiles} recorded" if entry.nfiles is not None else ""
        head = replace(problems[0], detail=(
            f"{found.nfiles} files{recorded}; the recorded file list is not in the DVC "
            "cache, so the files are named from Git HEAD's copy, which hashes to the "
            "recorded md5"))
        inside = _Checker._inside(entry, shown, manifest, found)
        return [head, *_stale_inside(entry, shown, inside)]

    def judge(self, entry: LockEntry, base: Path, problems: list[Problem]
              ) -> tuple[list[NumericCheck], set[tuple[str, str]]]:
        """The numeric checks of an output's differing result files, and the (stage, path)
        of those within the tolerance (and of the directory, when all that differ in it
        are, or are measured)."""
        if entry.role != "out" or not problems:
            return [], set()
        manifest = (self.manifests.get((entry.stage, entry.path)) or
                    self.checker._manifest(entry)) if entry.is_dir else None
        if manifest:
            self.git.read(self._rel(base / entry.path / r) for r in manifest
                          if r.endswith(".json"))
        checks = []
        for p in problems:
            if (p.kind == "modified" and not p.measured and p.path.endswith(".json")
                    and (p.directory is not None or not entry.is_dir)):
                check = self._check_file(entry, base, p, manifest)
                if check is not None:
                    checks.append(check)
        within = {(c.stage, c.path) for c in checks if c.within}
        head = problems[0]
        inner = [p for p in problems if p.directory == head.path]
        if (entry.is_dir and head.directory is None
                and any((p.stage, p.path) in within for p in inner)
                and all((p.stage, p.path) in within or (p.measured and not self.strict)
                        for p in inner)):
            within.add((head.stage, head.path))
        return checks, within

    def _siblings(self, entry: LockEntry, base: Path, p: Problem,
                  manifest: Mapping[str, str] | None) -> dict[str, str]:
        """Path (relative to the root) -> recorded md5 of the seed files beside ``p``."""
        if p.directory is not None and manifest is not None:
            inner = p.path[len(p.directory) + 1:]
            parent = inner.rpartition("/")[0]
            return {self._rel(base / p.directory / rel): md5 for rel, md5 in manifest.items()
                    if rel.rpartition("/")[0] == parent
                    and SEED_FILE.fullmatch(rel.rpartition("/")[2])}
        parent = self._rel(base / p.path).rpartition("/")[0]
        return {rel: md5 for rel, (hash_name, md5) in self.lock_files().items()
                if hash_name == entry.hash_name and rel.rpartition("/")[0] == parent
                and SEED_FILE.fullmatch(rel.rpartition("/")[2])}

    def _group(self, entry: LockEntry, base: Path, p: Problem,
               manifest: Mapping[str, str] | None) -> tuple[str, list[dict[str, Any]]]:
        """A seed file's group (``dir/s*.json``) and the recorded versions of its files."""
        rel = self._rel(base / p.path)
        where = f"{rel.rpartition('/')[0] or '.'}/s*.json"
        if where not in self.groups:
            siblings = self._siblings(entry, base, p, manifest)
            self.git.read(siblings)
            docs = []
            for path, md5 in sorted(siblings.items()):
                data = self.reference(path, entry.hash_name, md5)
                if isinstance(data, bytes):
                    try:
                        docs.append(_leaves(json.loads(data)))
                    except (ValueError, UnicodeDecodeError):
                        continue
            self.groups[where] = docs
        return where, self.groups[where]

    def _check_file(self, entry: LockEntry, base: Path, p: Problem,
                    manifest: Mapping[str, str] | None) -> NumericCheck | None:
        """The numeric check of one differing JSON file: a seed file against its group, a
        family result file against its own seeds; None for another kind of file."""
        seed_file = SEED_FILE.fullmatch(p.path.rpartition("/")[2]) is not None
        outside = NumericCheck(p.stage, p.path, False, self.k, "", directory=p.directory)
        try:
            found = json.loads((base / p.path).read_bytes())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            return replace(outside, message=f"the found file is not JSON ({exc})") \
                if seed_file else None
        data = self.reference(self._rel(base / p.path), entry.hash_name, p.expected or "")
        if isinstance(data, str):
            return replace(outside, message=data) if seed_file or _family(found) else None
        try:
            recorded = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            return replace(outside, message=f"the recorded version is not JSON ({exc})") \
                if seed_file else None
        if seed_file:
            where, docs = self._group(entry, base, p, manifest)
            return _judge(p.stage, p.path, p.directory, self.k, found, recorded,
                          lambda key: _spread([d.get(key) for d in docs], len(docs), where))
        results = _family(recorded)
        if results is None:
            return None
        per_seed = [_leaves(r) for r in results]
        where = f"the {len(results)} seeds of {p.path}"

        def spread_of(key: str) -> _Spread:
            head, _, rest = key.partition(".")
            if head != "results" or not rest.startswith("seed="):
                return _Spread(None, 0, "it is not a per-seed value, so it must be equal")
            inner = rest.partition(".")[2]
            return _spread([s.get(inner) for s in per_seed], len(per_seed), where)

        return _judge(p.stage, p.path, p.directory, self.k, _by_seed(found),
                      _by_seed(recorded), spread_of)


def declared_stages(spec: Mapping[str, Any]) -> set[str]:
    """The stage names of a dvc.yaml ``stages`` mapping as dvc.lock records them."""
    return {inst for name, stage in spec.items()
            for inst, _, _ in foreach_instances(name, stage if isinstance(stage, Mapping)
                                                else {})}


def prune_lock(repo_root: Path, lock: Path | None = None) -> list[str]:
    """Remove from ``lock`` the entries of stages that dvc.yaml no longer has (DVC keeps
    them when a grid shrinks); the rest of the file is kept byte for byte.

    Returns:
        The names of the removed entries (none: the file is not rewritten).
    """
    from nasrank.io import write_text

    repo_root = Path(repo_root)
    lock = Path(lock) if lock is not None else repo_root / "dvc.lock"
    spec = _spec(repo_root / "dvc.yaml")
    if not spec:
        return []
    declared = declared_stages(spec)
    recorded = load_lock(lock)
    orphans = [name for name in recorded if name not in declared]
    if not orphans:
        return []
    gone, keep, skipping = set(orphans), [], False
    for line in lock.read_text(encoding="utf-8").splitlines(keepends=True):
        head = re.match(r"^  (\S[^:]*):\s*$", line)  # a stage's key under `stages:`
        if head or not line.startswith("  "):
            skipping = bool(head) and yaml.safe_load(head.group(1)) in gone
        if not skipping:
            keep.append(line)
    text = "".join(keep)
    left = yaml.safe_load(text).get("stages") or {}
    if gone & set(left) or len(left) != len(recorded) - len(gone):
        raise LockFormatError(f"{lock}: could not remove the entries of {sorted(gone)} "
                              "line by line; remove them by hand")
    write_text(lock, text)
    return orphans


def _lock_files(repo_root: Path, lock: Path, recorded: Mapping[str, Any],
                wdirs: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Path (relative to ``repo_root``) -> (hash name, md5) of every file output in the
    lock (the recorded versions of a seed file's siblings that are outputs of their own)."""
    out = {}
    for name, stage in recorded.items():
        base = repo_root / wdirs.get(name.partition("@")[0], ".")
        try:
            entries, _ = _entries(lock, name, stage, "out")
        except LockFormatError:
            continue  # named when that stage is checked
        for e in entries:
            if not e.is_dir:
                rel = Path(os.path.relpath(base / e.path, repo_root)).as_posix()
                out[rel] = (e.hash_name, e.md5)
    return out


def verify(repo_root: Path, lock: Path | None = None, stages: Sequence[str] | None = None,
           *, deps: bool = False, cache: bool = False, strict: bool = False,
           tolerance: float | None = None) -> VerifyReport:
    """Compare the workspace under ``repo_root`` with ``lock`` (default: its dvc.lock).

    ``stages`` limits the check to those stages (a foreach name selects all its
    instances); ``deps`` also checks every recorded dependency, not only the outputs;
    ``cache`` also checks the DVC cache objects of every cached output (present, and
    holding the bytes their name says). Outputs that dvc.yaml marks ``meta: {measured:
    true}`` (wall-clock times, and what is built from them) are reported but fail the
    check only with ``strict``; ``measured: [patterns]`` marks only the files inside a
    directory output whose name matches one (and the directory when all that differ in it
    do). Paths in the lock are relative to ``repo_root`` (and to a stage's ``wdir`` in
    ``repo_root``/dvc.yaml), so a lock saved elsewhere (an earlier run's, a colleague's)
    checks this workspace.

    ``tolerance`` (K) is for results whose bytes cannot match (another CPU, a GPU): each
    differing seed file (``.../s<seed>.json``: run metrics, search results) and family
    result file (per-seed ``results``) is compared number by number with its recorded
    version (Git HEAD's copy when it hashes to the recorded md5, else the DVC cache
    object), and passes when every number that differs does so by at most K times its
    seed-to-seed spread: the sample standard deviation over the recorded files of the same
    directory (for a family file, over its seeds). A value recorded for fewer than two
    seeds, or the same for all of them, has no spread, so any difference in it is outside.
    Without a recorded file list in the DVC cache (``cache: false`` directories), the files
    inside a directory are named from Git HEAD's copy when that copy hashes to the
    recorded md5.

    Raises:
        VerifyError: dvc.lock or dvc.yaml cannot be read, or ``tolerance`` is negative.
    """
    if tolerance is not None and not (math.isfinite(tolerance) and tolerance >= 0):
        raise VerifyError(f"--tolerance must be a non-negative number of seed-to-seed "
                          f"spreads, got {tolerance!r}")
    repo_root = Path(repo_root)
    lock = Path(lock) if lock is not None else repo_root / "dvc.lock"
    recorded = load_lock(lock)
    dvc_yaml = repo_root / "dvc.yaml"
    spec = _spec(dvc_yaml)
    wdirs, options = _wdirs(dvc_yaml, spec), output_specs(dvc_yaml, spec)
    checker = _Checker(repo_root, _cache_dir(repo_root))
    tol = None if tolerance is None else _Tolerance(
        repo_root, checker, tolerance, strict,
        lambda: _lock_files(repo_root, lock, recorded, wdirs))
    roles = ("dep", "out") if deps else ("out",)
    report = VerifyReport(str(lock), 0, strict=strict, tolerance=tolerance)
    declared = declared_stages(spec) if spec else None
    for name in _select(lock, recorded, stages):
        if declared is not None and name not in declared:
            report.problems.append(Problem(name, lock.name, "orphan", "lock", None, None))
            continue
        base = repo_root / wdirs.get(name.partition("@")[0], ".")
        for role in roles:
            entries, remote = _entries(lock, name, recorded[name], role)
            report.skipped += remote
            for entry in entries:
                report.checked += 1
                opts = options.get(name, {}).get(entry.path, {}) if role == "out" else {}
                found = checker.check(entry, base)
                if tol is not None:
                    found = tol.name_inside(entry, base, found)
                if cache and role == "out" and opts.get("cache", True):
                    found += checker.check_cache(entry)
                measured = _measured(dvc_yaml, name, entry.path, opts)
                marked = _mark(found, measured, entry.is_dir)
                report.problems += marked
                if tol is not None:
                    checks, within = tol.judge(entry, base, marked)
                    report.numeric += checks
                    report.tolerated |= within
    return report
