"""The published numbers our tables reproduce (reports/published.yaml), validated.

The file is organised by our table names and the keys of their rows (see its header);
each entry resolves to a :class:`Source` (paper, table/section, second-hand or not).
Validation is strict so that a typo never silently drops a published value: every error
is a :class:`~nasrank.errors.ConfigError` (or :class:`~nasrank.errors.DataFormatError`
for a file that is not YAML) naming the file and the key.

Usage::

    pub = load_published()                                  # reports/published.yaml
    pub.value("renas_ktau_vs_train_size", "kendall_tau_mean", variant="v4", train_size=424)
    # -> 0.6335
    table = pub.table("renas_search")                       # PublishedTable
    table.frame()                                           # keys, metrics, source, note
    pub.label(table.entries[0].source)                      # 'ReNAS, Table 3'
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nasrank.config import read_yaml
from nasrank.errors import ConfigError, DataFormatError, NasrankError, UnknownNameError

__all__ = ["DEFAULT_PATH", "Entry", "Paper", "Published", "PublishedTable", "Source",
           "key_text", "load_published", "published_path"]

#: where the workflow keeps the file (relative to the repository root, like params.yaml)
DEFAULT_PATH = "reports/published.yaml"

Scalar = str | int | float | bool

_PAPER_FIELDS = {"short": True, "cite": True, "arxiv": False, "text": False, "note": False}
_SOURCE_FIELDS = {"paper", "where", "second_hand"}
_TABLE_FIELDS = {"keys", "metrics", "context", "source", "note", "entries", "references"}
_ENTRY_META = {"source", "note"}


@dataclass(frozen=True)
class Paper:
    """A publication the numbers come from."""

    id: str
    short: str
    cite: str
    arxiv: str | None = None
    text: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Source:
    """Where one published number is printed."""

    paper: str
    where: str
    second_hand: bool = False


@dataclass(frozen=True)
class Entry:
    """One published row: our table's key values, the published metrics and context."""

    keys: Mapping[str, Scalar]
    values: Mapping[str, int | float]  # ints stay ints (counts such as n_cells)
    context: Mapping[str, Scalar]
    source: Source
    note: str | None = None
    name: str | None = None  # set on references (methods that are not rows of ours)

    def matches(self, **keys: Any) -> bool:
        """True where every given key (or context field) has the given value."""
        fields = {**self.keys, **self.context}
        return all(k in fields and key_text(fields[k]) == key_text(v) for k, v in keys.items())


@dataclass(frozen=True)
class PublishedTable:
    """The published counterpart of one of our tables."""

    name: str
    keys: tuple[str, ...]
    metrics: tuple[str, ...]
    context: tuple[str, ...]
    entries: tuple[Entry, ...]
    references: tuple[Entry, ...] = ()

    def frame(self, references: bool = False) -> pd.DataFrame:
        """The entries (or the references) as a table: keys, context, metrics, source."""
        rows = []
        for e in self.references if references else self.entries:
            row: dict[str, Any] = {"name": e.name} if references else {}
            row |= {k: e.keys.get(k) for k in self.keys}
            row |= {c: e.context.get(c) for c in self.context}
            row |= {m: e.values.get(m, math.nan) for m in self.metrics}
            row |= {"paper": e.source.paper, "where": e.source.where,
                    "second_hand": e.source.second_hand, "note": e.note or ""}
            rows.append(row)
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class Published:
    """Every published table of one file, with the papers they cite."""

    path: str
    papers: Mapping[str, Paper]
    tables: Mapping[str, PublishedTable]

    def table(self, name: str) -> PublishedTable:
        """The published counterpart of our table ``name``.

        Raises:
            UnknownNameError: no published values for ``name``.
        """
        if name not in self.tables:
            raise UnknownNameError(f"published table (in {self.path})", name, list(self.tables))
        return self.tables[name]

    def value(self, table: str, metric: str, **keys: Any) -> int | float:
        """The one published ``metric`` of ``table`` whose keys/context equal ``keys``.

        Raises:
            UnknownNameError: unknown table or metric.
            NasrankError: no entry, or more than one, matches.
        """
        t = self.table(table)
        if metric not in t.metrics:
            raise UnknownNameError(f"metric of published table {table!r}", metric,
                                   list(t.metrics))
        found = [e for e in t.entries if e.matches(**keys) and metric in e.values]
        if len(found) != 1:
            what = ", ".join(f"{k}={v!r}" for k, v in keys.items()) or "no keys"
            raise NasrankError(f"{self.path}: {len(found)} published {metric} of {table} "
                               f"match {what} (need exactly one; keys: {list(t.keys)}, "
                               f"context: {list(t.context)})")
        return found[0].values[metric]

    def label(self, source: Source) -> str:
        """Short human label, e.g. ``ReNAS, Table 3`` or ``..., second-hand``."""
        text = f"{self.papers[source.paper].short}, {source.where}"
        return f"{text}, second-hand" if source.second_hand else text


def key_text(value: Any) -> str:
    """Canonical text of a key value so YAML ``true``/``424`` equal CSV ``True``/``424.0``."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    if hasattr(value, "item"):  # numpy scalar
        return key_text(value.item())
    text = str(value)
    return text.lower() if text.lower() in ("true", "false") else text


def published_path(params: Mapping[str, Any] | None = None) -> Path:
    """The file of params' ``reports.published`` if set, else :data:`DEFAULT_PATH`."""
    reports = (params or {}).get("reports") or {}
    return Path(reports.get("published", DEFAULT_PATH))


def load_published(path: str | os.PathLike[str] = DEFAULT_PATH) -> Published:
    """Read and validate a published-numbers file.

    Raises:
        ConfigError: missing file, or a structure/value error naming the key.
        DataFormatError: the file is not valid YAML.
    """
    path = str(path)
    doc = read_yaml(path, "published-numbers file", invalid=DataFormatError)
    return _Validator(path).published(doc)


class _Validator:
    """Turns the parsed YAML into dataclasses; every error names file and key path."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, msg: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {msg}")

    def mapping(self, obj: Any, key: str) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise self.fail(key, f"expected a mapping, got {type(obj).__name__}")
        return obj

    def text(self, obj: Any, key: str) -> str:
        if not isinstance(obj, str) or not obj.strip():
            raise self.fail(key, f"expected a non-empty string, got {obj!r}")
        return obj

    def names(self, obj: Any, key: str, allow_empty: bool = False) -> tuple[str, ...]:
        if not isinstance(obj, list) or (not obj and not allow_empty):
            raise self.fail(key, f"expected a non-empty list of names, got {obj!r}")
        out = tuple(self.text(v, f"{key}[{i}]") for i, v in enumerate(obj))
        if len(set(out)) != len(out):
            raise self.fail(key, f"repeated names in {list(out)}")
        return out

    def published(self, doc: Any) -> Published:
        doc = self.mapping(doc, "(top level)")
        extra = set(doc) - {"papers", "tables"}
        if extra or "papers" not in doc or "tables" not in doc:
            raise self.fail("(top level)", "expected exactly the keys 'papers' and 'tables'"
                            + (f"; unknown: {sorted(extra)}" if extra else ""))
        papers = {pid: self.paper(pid, p) for pid, p in self.mapping(doc["papers"],
                                                                    "papers").items()}
        tables = {name: self.table(f"tables.{name}", name, t, papers)
                  for name, t in self.mapping(doc["tables"], "tables").items()}
        if not tables:
            raise self.fail("tables", "no table")
        return Published(self.path, papers, tables)

    def paper(self, pid: str, obj: Any) -> Paper:
        key = f"papers.{pid}"
        obj = self.mapping(obj, key)
        for field in set(obj) - set(_PAPER_FIELDS):
            raise self.fail(f"{key}.{field}", f"unknown field; allowed: {sorted(_PAPER_FIELDS)}")
        for field, required in _PAPER_FIELDS.items():
            if field in obj or required:
                self.text(obj.get(field), f"{key}.{field}")
        return Paper(id=pid, **obj)

    def source(self, obj: Any, key: str, papers: Mapping[str, Paper]) -> Source:
        obj = self.mapping(obj, key)
        for field in set(obj) - _SOURCE_FIELDS:
            raise self.fail(f"{key}.{field}", f"unknown field; allowed: {sorted(_SOURCE_FIELDS)}")
        paper = self.text(obj.get("paper"), f"{key}.paper")
        if paper not in papers:
            raise self.fail(f"{key}.paper", f"unknown paper {paper!r}; known: {sorted(papers)}")
        second = obj.get("second_hand", False)
        if not isinstance(second, bool):
            raise self.fail(f"{key}.second_hand", f"expected true or false, got {second!r}")
        return Source(paper, self.text(obj.get("where"), f"{key}.where"), second)

    def table(self, key: str, name: str, obj: Any, papers: Mapping[str, Paper]
              ) -> PublishedTable:
        obj = self.mapping(obj, key)
        for field in set(obj) - _TABLE_FIELDS:
            raise self.fail(f"{key}.{field}", f"unknown field; allowed: {sorted(_TABLE_FIELDS)}")
        keys = self.names(obj.get("keys"), f"{key}.keys")
        metrics = self.names(obj.get("metrics"), f"{key}.metrics")
        context = self.names(obj.get("context", []), f"{key}.context", allow_empty=True)
        clash = (set(keys) & set(metrics)) | (set(keys) & set(context)) \
            | (set(metrics) & set(context)) | ((set(keys) | set(metrics) | set(context))
                                              & (_ENTRY_META | {"name"}))
        if clash:
            raise self.fail(key, f"names used twice or reserved: {sorted(clash)}")
        default = self.source(obj["source"], f"{key}.source", papers) if "source" in obj \
            else None
        note = self.text(obj["note"], f"{key}.note") if "note" in obj else None
        layout = (keys, metrics, context, default, note, papers)
        entries = obj.get("entries")
        if not isinstance(entries, list) or not entries:
            raise self.fail(f"{key}.entries", "expected a non-empty list")
        refs = obj.get("references", [])
        if not isinstance(refs, list):
            raise self.fail(f"{key}.references", "expected a list")
        out = PublishedTable(
            name, keys, metrics, context,
            tuple(self.entry(f"{key}.entries[{i}]", e, layout, False)
                  for i, e in enumerate(entries)),
            tuple(self.entry(f"{key}.references[{i}]", e, layout, True)
                  for i, e in enumerate(refs)))
        self.unique(key, out)
        return out

    def entry(self, key: str, obj: Any, layout: tuple[Any, ...], reference: bool) -> Entry:
        keys, metrics, context, default, table_note, papers = layout
        obj = self.mapping(obj, key)
        allowed = set(keys) | set(metrics) | set(context) | _ENTRY_META \
            | ({"name"} if reference else set())
        for field in set(obj) - allowed:
            raise self.fail(f"{key}.{field}", f"unknown field; allowed: {sorted(allowed)}")
        if not reference and (missing := [k for k in keys if k not in obj]):
            raise self.fail(key, f"missing key fields {missing}")
        key_values = {k: self.scalar(obj[k], f"{key}.{k}") for k in keys if k in obj}
        values = {m: self.number(obj[m], f"{key}.{m}") for m in metrics if m in obj}
        if not values:
            raise self.fail(key, f"no published value; give one of {list(metrics)}")
        if "source" in obj:
            source = self.source(obj["source"], f"{key}.source", papers)
        elif default is not None:
            source = default
        else:
            raise self.fail(f"{key}.source", "no source (give one here or for the table)")
        own = self.text(obj["note"], f"{key}.note") if "note" in obj else None
        notes = [n for n in (None if reference else table_note, own) if n is not None]
        return Entry(key_values, values,
                     {c: self.scalar(obj[c], f"{key}.{c}") for c in context if c in obj},
                     source, "; ".join(notes) or None,
                     self.text(obj.get("name"), f"{key}.name") if reference else None)

    def scalar(self, obj: Any, key: str) -> Scalar:
        if obj is None or not isinstance(obj, str | int | float | bool):
            raise self.fail(key, f"expected a string, number or boolean, got {obj!r}")
        return obj

    def number(self, obj: Any, key: str) -> int | float:
        if isinstance(obj, bool) or not isinstance(obj, int | float) or not math.isfinite(obj):
            raise self.fail(key, f"expected a finite number, got {obj!r}")
        return obj

    def unique(self, key: str, table: PublishedTable) -> None:
        for part, items in (("entries", table.entries), ("references", table.references)):
            seen: dict[tuple[str, ...], int] = {}
            for i, e in enumerate(items):
                ident = (e.name or "", *(key_text(e.keys.get(k, "")) for k in table.keys),
                         *(key_text(e.context.get(c, "")) for c in table.context))
                if ident in seen:
                    raise self.fail(f"{key}.{part}[{i}]",
                                    f"same keys and context as {part}[{seen[ident]}]")
                seen[ident] = i
