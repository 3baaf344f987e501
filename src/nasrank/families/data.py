"""The data a predictor family reads: one processed table, its fidelities and encodings.

:class:`TableData` loads ``data/processed/<table>.parquet`` (every numeric column, as
float64 with NaN for nulls) and knows where the table's encodings live
(``data/features/<bench>/<encoding>.parquet``). :class:`ArchBatch` is what a family
predictor sees: the rows of some architectures (their ids, the table columns it needs
and, for model-based predictors, their encoded features).

Fidelities. A lower-fidelity validation accuracy is a column ``val_acc_<epochs>``; the
*final* epoch budget is the number in the target's name (``val_acc_108`` -> 108,
``test_acc_200`` -> 200) or, for a target without one (``naslib_val_acc``), the largest
``val_acc_<epochs>`` column. The partial fidelities are the ``val_acc_<e>`` columns with
``e`` below it: NB101 4, 12, 36 (final 108), NB201 12 (final 200); DARTS and TransNAS
tables have none. NB101's and NB201's low-fidelity accuracies come from *separate* short
training runs (each with its own learning-rate schedule), not from the first epochs of
the final run, so "a learning curve" here is accuracy against training budget.

Training times. A column ``train_time_<E>`` (NB101: ``train_time_108``, seconds for the
108-epoch run) gives the cost of ``e`` epochs as ``train_time_<E> * e / E`` -- linear in
the epochs, an approximation (a short run's own time is not recorded). Tables without
such a column (NB201, DARTS, TransNAS) record no training time: those costs are NaN.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nasrank.errors import DataFormatError, NasrankError
from nasrank.io import read_metadata
from nasrank.paths import TableId

_FIDELITY_RE = re.compile(r"val_acc_(\d+)$")
_TIME_RE = re.compile(r"train_time_(\d+)$")
_EPOCHS_RE = re.compile(r"_(\d+)$")


@dataclass
class ArchBatch:
    """Some architectures of a table, as a family predictor reads them.

    Attributes:
        ids: ``(n,)`` arch ids.
        frame: the table's rows for them (``n`` rows, index 0..n-1), every numeric
            column as float64 (NaN for nulls).
        x: ``(n, *shape)`` float32 encoded features of the predictor's encoding, or
            ``None`` for predictors without one.
        layout: the encoding's layout (``gcn``), else ``{}``.
    """

    ids: np.ndarray
    frame: pd.DataFrame
    x: np.ndarray | None = None
    layout: dict[str, list[int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def column(self, name: str) -> np.ndarray:
        """One column as a float64 array."""
        return self.frame[name].to_numpy(dtype=np.float64)

    def take(self, index: np.ndarray) -> ArchBatch:
        """The architectures at positions ``index``, in that order."""
        index = np.asarray(index, dtype=np.int64)
        return ArchBatch(self.ids[index], self.frame.iloc[index].reset_index(drop=True),
                         None if self.x is None else self.x[index], self.layout)


@dataclass
class TableData:
    """One processed table with its metadata and the location of its encodings."""

    name: str
    path: Path
    meta: dict[str, Any]
    frame: pd.DataFrame
    features_dir: Path | None = None

    @classmethod
    def load(cls, table: str, processed_dir: str | Path,
             features_dir: str | Path | None = None) -> TableData:
        """Read ``<processed_dir>/<table>.parquet``.

        Raises:
            NasrankError: the table is missing (naming the ingest stage).
        """
        path = Path(processed_dir) / f"{TableId(table)}.parquet"
        if not path.is_file():
            bench = TableId(table).bench
            raise NasrankError(f"{path} is missing; run `nasrank ingest {bench}` first")
        return cls.from_path(path, features_dir)

    @classmethod
    def from_path(cls, path: str | Path, features_dir: str | Path | None = None) -> TableData:
        path = Path(path)
        meta = read_metadata(path)
        t = pq.read_table(path)
        cols: dict[str, Any] = {"arch_id": t.column("arch_id").to_numpy(zero_copy_only=False)}
        for name in t.column_names[1:]:
            typ = t.schema.field(name).type
            if pa.types.is_floating(typ) or pa.types.is_integer(typ):
                cols[name] = t.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
        frame = pd.DataFrame(cols)
        return cls(path.stem, path, meta, frame,
                   Path(features_dir) if features_dir is not None else None)

    # ------------------------------------------------------------------ properties

    @property
    def bench(self) -> str:
        """The benchmark (``nb101``, ``nb201``, ``darts``, ...)."""
        return str(self.meta.get("benchmark") or TableId(self.name).bench)

    @property
    def default_target(self) -> str:
        target = self.meta.get("default_target")
        if not target:
            raise DataFormatError(f"table {self.name}: no default_target in its metadata; "
                                  "give a target")
        return str(target)

    @property
    def surrogate_labels(self) -> bool:
        return bool(self.meta.get("surrogate_labels", False))

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def has(self, column: str) -> bool:
        return column in self.frame.columns

    def valid(self, column: str) -> np.ndarray:
        """Rows where ``column`` holds a finite value."""
        return np.isfinite(self.frame[column].to_numpy(dtype=np.float64))

    def require_target(self, target: str) -> None:
        """Raise a DataFormatError naming the table if ``target`` is not a numeric column."""
        if not self.has(target):
            numeric = [c for c in self.columns if c != "arch_id"]
            raise DataFormatError(f"table {self.name} has no target column {target!r} "
                                  f"(numeric columns: {', '.join(numeric)})")

    # ------------------------------------------------------------------ fidelities

    def final_epochs(self, target: str) -> int | None:
        """The training budget of ``target`` (see the module docstring)."""
        m = _EPOCHS_RE.search(target)
        if m:
            return int(m.group(1))
        epochs = [int(m.group(1)) for c in self.columns if (m := _FIDELITY_RE.fullmatch(c))]
        return max(epochs) if epochs else None

    def fidelities(self, target: str) -> dict[int, str]:
        """``{epochs: column}`` of the lower-fidelity validation accuracies, ascending."""
        final = self.final_epochs(target)
        out = {}
        for c in self.columns:
            m = _FIDELITY_RE.fullmatch(c)
            if m and (final is None or int(m.group(1)) < final) and c != target:
                out[int(m.group(1))] = c
        return dict(sorted(out.items()))

    def time_column(self) -> tuple[str, int] | None:
        """``(column, epochs)`` of the recorded training time, if the table has one."""
        for c in self.columns:
            m = _TIME_RE.fullmatch(c)
            if m:
                return c, int(m.group(1))
        return None

    def training_time(self, frame: pd.DataFrame, epochs: float) -> np.ndarray:
        """Per row, the (approximate) seconds to train ``epochs`` epochs; NaN where the
        table records no training time."""
        tc = self.time_column()
        if tc is None or not math.isfinite(epochs):
            return np.full(len(frame), np.nan)
        col, total = tc
        return frame[col].to_numpy(dtype=np.float64) * (float(epochs) / total)

    # ------------------------------------------------------------------ encodings

    def features_path(self, encoding: str) -> Path:
        if self.features_dir is None:
            raise NasrankError(f"table {self.name}: no features directory given; encoded "
                               "features are needed")
        return self.features_dir / self.bench / f"{encoding}.parquet"

    def encoded_ids(self, encoding: str) -> set[str]:
        """The arch ids the encoding's file holds.

        Raises:
            NasrankError: the file is missing (naming the encode stage).
        """
        path = self.features_path(encoding)
        if not path.is_file():
            raise NasrankError(f"{path} is missing; run `nasrank encode {self.bench} "
                               f"{encoding}` first")
        return set(pq.read_table(path, columns=["arch_id"]).column(0).to_pylist())

    def batch(self, rows: np.ndarray, encoding: str | None = None) -> ArchBatch:
        """The architectures at table rows ``rows``, with their features if asked."""
        from nasrank.encodings import get_encoding
        from nasrank.encodings.store import read_features

        rows = np.asarray(rows, dtype=np.int64)
        frame = self.frame.iloc[rows].reset_index(drop=True)
        ids = frame["arch_id"].to_numpy()
        if encoding is None:
            return ArchBatch(ids, frame)
        enc = get_encoding(self.bench, encoding)
        path = self.features_path(encoding)
        feats = read_features(path, ids=ids)
        if tuple(feats.meta["shape"]) != enc.shape:
            raise DataFormatError(f"{path}: tensors of shape {tuple(feats.meta['shape'])}, but "
                                  f"{self.bench} {encoding} has shape {enc.shape}; rerun "
                                  f"`nasrank encode {self.bench} {encoding}`")
        x = feats.x.reshape(len(ids), *enc.shape)
        return ArchBatch(ids, frame, x, dict(enc.layout))


__all__ = ["ArchBatch", "TableData"]
