"""Feature tensors in Parquet: one ``arch_id`` column and one fixed-size float32 column.

Every encoding is stored the same way so that any predictor can read any encoding:
``x`` is a ``fixed_size_list<float32>`` of ``prod(shape)`` values per architecture,
and the tensor shape (plus the encoding's description and layout) sits in the schema
metadata. Reading reinterprets the column's single buffer as an ``(N, *shape)`` array,
with no per-row Python work.

Usage::

    write_features("data/features/nb101/renas_tensor.parquet", ids, x, {"shape": [19, 7, 7]})
    feats = read_features("data/features/nb101/renas_tensor.parquet")
    feats.x.shape        # (423624, 19, 7, 7), float32
    feats.torch()        # the same memory as a torch.Tensor
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nasrank.errors import DataFormatError
from nasrank.io import atomic_path, read_metadata

ROW_GROUP = 32_768


@dataclass(frozen=True)
class Features:
    """An encoded set of architectures.

    Attributes:
        arch_id: ``(N,)`` object array of canonical keys.
        x: ``(N, *shape)`` float32 tensor.
        meta: the encoding's metadata (``shape``, ``encoding``, ``description``, ...).
    """

    arch_id: np.ndarray
    x: np.ndarray
    meta: dict[str, Any]

    def torch(self) -> Any:
        """``x`` as a torch tensor sharing its memory."""
        import torch

        return torch.from_numpy(self.x)


class FeatureWriter:
    """Write a features file batch by batch (bounded memory), atomically.

    Usage::

        with FeatureWriter(dest, (19, 7, 7), meta) as w:
            for ids, x in batches:
                w.write(ids, x)
    """

    def __init__(self, dest: str | os.PathLike[str], shape: Sequence[int],
                 meta: dict[str, Any]) -> None:
        self.dest = dest
        self.shape = tuple(int(d) for d in shape)
        self.size = math.prod(self.shape)
        self.rows = 0
        meta = {**meta, "shape": list(self.shape), "dtype": "float32"}
        self.schema = pa.schema(
            [("arch_id", pa.string()), ("x", pa.list_(pa.float32(), self.size))],
            metadata={b"nasrank": json.dumps(meta, sort_keys=True).encode()},
        )
        self._atomic: Any = None
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def __enter__(self) -> FeatureWriter:
        self._atomic = atomic_path(self.dest, suffix=".parquet")
        tmp = self._atomic.__enter__()
        self._writer = pq.ParquetWriter(tmp, self.schema, compression="zstd",
                                        use_dictionary=["arch_id"])
        return self

    def write(self, arch_ids: Sequence[str] | np.ndarray | pa.Array | pa.ChunkedArray,
              x: np.ndarray) -> None:
        """Append ``x`` (``(n, *shape)``) for ``arch_ids``.

        Raises:
            ValueError: wrong shape, length mismatch, or NaN/inf values.
        """
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape[1:] != self.shape:
            raise ValueError(f"{self.dest}: tensors of shape {x.shape[1:]}, expected "
                             f"{self.shape}")
        if len(arch_ids) != x.shape[0]:
            raise ValueError(f"{self.dest}: {len(arch_ids)} ids for {x.shape[0]} tensors")
        if not np.isfinite(x).all():
            raise ValueError(f"{self.dest}: the encoding holds NaN or inf values")
        if isinstance(arch_ids, pa.ChunkedArray):
            arch_ids = arch_ids.combine_chunks()
        ids = arch_ids if isinstance(arch_ids, pa.Array) else pa.array(list(arch_ids),
                                                                       pa.string())
        column = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), self.size)
        self._pending.append(pa.Table.from_arrays([ids, column], schema=self.schema))
        self._pending_rows += x.shape[0]
        self.rows += x.shape[0]
        if self._pending_rows >= ROW_GROUP:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        """Write whole row groups of ``ROW_GROUP`` rows (and the rest when ``final``), so
        the file's bytes do not depend on how the rows were batched."""
        assert self._writer is not None
        pending = pa.concat_tables(self._pending) if self._pending else None
        self._pending, self._pending_rows = [], 0
        if pending is None:
            return
        full = pending.num_rows if final else pending.num_rows // ROW_GROUP * ROW_GROUP
        if full:
            self._writer.write_table(pending.slice(0, full), row_group_size=ROW_GROUP)
        if full < pending.num_rows:
            self._pending = [pending.slice(full)]
            self._pending_rows = pending.num_rows - full

    def __exit__(self, *exc: Any) -> None:
        assert self._writer is not None
        try:
            if exc[0] is None:
                self._flush(final=True)
        finally:
            self._writer.close()
            self._atomic.__exit__(*exc)


def write_features(
    dest: str | os.PathLike[str],
    arch_ids: Sequence[str] | np.ndarray | pa.Array,
    x: np.ndarray,
    meta: dict[str, Any],
) -> None:
    """Write ``x`` (``(N, *shape)``) with its ids atomically, zstd-compressed."""
    with FeatureWriter(dest, x.shape[1:], meta) as writer:
        writer.write(arch_ids, x)


def read_features(
    path: str | os.PathLike[str], ids: Sequence[str] | np.ndarray | None = None
) -> Features:
    """Read a features file written by :func:`write_features`.

    Args:
        path: the file.
        ids: only these architectures, in this order (each must be in the file).

    Raises:
        DataFormatError: the file lacks the ``x`` column or its shape metadata, or an
            id of ``ids`` is not in it.
    """
    meta = read_metadata(path)
    shape = meta.get("shape")
    if shape is None:
        raise DataFormatError(f"{path}: no tensor shape in the Parquet metadata")
    pf = pq.ParquetFile(path)
    col_type = pf.schema_arrow.field("x").type if "x" in pf.schema_arrow.names else None
    size = math.prod(shape)
    if col_type is None or not pa.types.is_fixed_size_list(col_type) or (
        col_type.list_size != size
    ):
        raise DataFormatError(f"{path}: column x is {col_type}, expected "
                              f"fixed_size_list<float32>[{size}]")
    # row group by row group into one preallocated array: peak memory ~ the result
    wanted = None if ids is None else pa.array(list(ids), pa.string())
    n = pf.metadata.num_rows if wanted is None else len(wanted)
    x = np.empty((n, size), dtype=np.float32)
    got = []
    offset = 0
    for batch in pf.iter_batches(columns=["arch_id", "x"]):
        if wanted is not None:
            batch = batch.filter(pc.is_in(batch.column(0), value_set=wanted))
        k = batch.num_rows
        if offset + k > n:
            raise DataFormatError(f"{path}: duplicate architectures")
        x[offset : offset + k] = batch.column(1).flatten().to_numpy().reshape(k, size)
        got.append(batch.column(0).to_numpy(zero_copy_only=False))
        offset += k
    found = np.concatenate(got) if got else np.empty(0, dtype=object)
    if wanted is not None:
        position = {a: i for i, a in enumerate(found.tolist())}
        missing = [a for a in wanted.to_pylist() if a not in position]
        if missing:
            raise DataFormatError(f"{path}: {len(missing)} architectures are not encoded, "
                                  f"e.g. {missing[:3]}")
        order = np.fromiter((position[a] for a in wanted.to_pylist()), dtype=np.int64,
                            count=n)
        x, found = x[order], found[order]
    x = x.reshape(n, *shape)
    ids = found
    return Features(arch_id=ids, x=x, meta=meta)
