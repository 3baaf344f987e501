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

Usage::

    from nasrank.verify import verify
    report = verify(Path("."))              # every output of every stage in dvc.lock
    report = verify(Path("."), stages=["train"], deps=True)   # train@*, deps too
    report = verify(Path("."), cache=True)  # and every cached output's object in .dvc/cache
    print(report.to_text()); report.ok      # or json.dumps(report.to_dict())
"""

from __future__ import annotations

import configparser
import fnmatch
import hashlib
import json
import os
import re
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


def file_md5(path: str | os.PathLike[str], hash_name: str = "md5") -> str:
    """MD5 of a file as DVC computes it for ``hash_name``, read in 1 MiB chunks."""
    transform = HASHES[hash_name][0]
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(transform(chunk))
    return h.hexdigest()


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


@dataclass
class VerifyReport:
    """What :func:`verify` found: ``ok`` when every checked entry matches dvc.lock."""

    lock: str
    checked: int
    problems: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # remote paths, not in the workspace
    strict: bool = False  # count differing measured outputs as failures too

    @property
    def failures(self) -> list[Problem]:
        """The problems that make the check fail (measured ones only when ``strict``)."""
        return [p for p in self.problems if self.strict or not p.measured]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_text(self) -> str:
        """One line per problem and a summary line (the CLI's output)."""
        lines = [KINDS[p.kind](p) for p in self.problems]
        failures = self.failures
        if not failures:
            summary = f"{self.lock}: all {self.checked} checked entries match"
        else:
            stages = len({p.stage for p in failures})
            kinds = ", ".join(f"{n} {kind}" for kind, n in
                              Counter(p.kind for p in failures).items())
            summary = (f"{self.lock}: {self.checked} entries checked, {kinds} "
                       f"(in {stages} stage{'s' if stages > 1 else ''})")
        if len(failures) < len(self.problems):
            summary += (f" except {len(self.problems) - len(failures)} measured-time files, "
                        "which differ on every run (--strict counts them)")
        if self.skipped:
            summary += f"; {len(self.skipped)} remote entries not checked"
        return "\n".join([*lines, summary])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (``nasrank verify --json``)."""
        return {"lock": self.lock, "ok": self.ok, "checked": self.checked,
                "strict": self.strict, "problems": [asdict(p) for p in self.problems],
                "skipped": self.skipped}


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


def verify(repo_root: Path, lock: Path | None = None, stages: Sequence[str] | None = None,
           *, deps: bool = False, cache: bool = False, strict: bool = False) -> VerifyReport:
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
    """
    repo_root = Path(repo_root)
    lock = Path(lock) if lock is not None else repo_root / "dvc.lock"
    recorded = load_lock(lock)
    dvc_yaml = repo_root / "dvc.yaml"
    spec = _spec(dvc_yaml)
    wdirs, options = _wdirs(dvc_yaml, spec), output_specs(dvc_yaml, spec)
    checker = _Checker(repo_root, _cache_dir(repo_root))
    roles = ("dep", "out") if deps else ("out",)
    report = VerifyReport(str(lock), 0, strict=strict)
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
                if cache and role == "out" and opts.get("cache", True):
                    found += checker.check_cache(entry)
                measured = _measured(dvc_yaml, name, entry.path, opts)
                report.problems += _mark(found, measured, entry.is_dir)
    return report
