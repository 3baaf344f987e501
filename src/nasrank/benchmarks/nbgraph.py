"""Reader of NAS-Bench-Graph's light files: one table per dataset.

Each ``<dataset>.bench`` of the PyPI package ``nas-bench-graph==1.4.0`` is a pickled
``dict`` from the architecture hash (upstream ``Arch.valid_hash()``, re-implemented in
:mod:`nasrank.spaces.nbgraph`) to ``{"valid_perf", "perf", "latency", "para"}``
(Python and numpy floats). The files are read with :func:`load_restricted`, resolving
only the two globals numpy scalars need; the package is never imported.

Usage::

    from nasrank.benchmarks.nbgraph import ingest
    tables = ingest(Path("data/raw/nbgraph"))     # {"nbgraph-cora": Processed, ...}
    cora = tables["nbgraph-cora"].table.to_pandas()

What the numbers are. ``valid_perf``/``perf`` are validation/test performance (package
README) as fractions, stored here in percent. They are means over the benchmark's 3
training runs (seeds): on cora and citeseer every value is a multiple of
1/(3 x split size) but not of 1/(split size). The metric is accuracy, except on
ogbn-proteins, where it is ROC-AUC: upstream does not say so in the light files, but
ROC-AUC is the OGB metric of that dataset and the values (0.67-0.85) are far below the
accuracy of a multi-label task with mostly negative labels. The columns keep the names
``val_acc``/``test_acc`` in all 9 tables so that code treats them alike, and
``extra["metric"]`` says which metric it is. ``para`` is the parameter count in
millions, also averaged over the runs (on physics, 1,113 values are thirds of an
integer count). ``latency`` is read as seconds (upstream states no unit; values span
0.3 ms to 0.6 s). Each table covers the whole space of its dataset: 26,206
architectures, or 2,021 for proteins (ops gcn, sage, arma, fc, skip only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from nasrank.benchmarks.common import Processed
from nasrank.benchmarks.pickles import load_restricted
from nasrank.benchmarks.registry import NB_GRAPH_DATASETS
from nasrank.errors import DataFormatError
from nasrank.paths import TableId
from nasrank.spaces.nbgraph import NUM_NODES, NBGraphSpace

BENCH = "nbgraph"
# The globals a pickled numpy float64 needs (the files were written with numpy 1.x).
ALLOWED_GLOBALS = frozenset({("numpy.core.multiarray", "scalar"), ("numpy", "dtype")})
FIELDS = ("valid_perf", "perf", "latency", "para")
FRACTION_FIELDS = ("valid_perf", "perf")
_FIELD_SET = frozenset(FIELDS)
_NUMBER_TYPES = (int, float, np.integer, np.floating)
MISSING_EXAMPLES = 5


def _columns(dataset: str) -> dict[str, str]:
    metric = (
        "ROC-AUC (OGB's metric of ogbn-proteins), x100"
        if dataset == "proteins"
        else "accuracy, percent"
    )
    return {
        "arch_id": "canonical NAS-Bench-Graph architecture 'l0,l1,l2,l3|op0,op1,op2,op3' "
        "(nasrank.spaces.nbgraph): node i+1 reads node l_i (0 = input) and applies op_i",
        "nbgraph_hash": "upstream key of the architecture (Arch.valid_hash()): link pattern "
        "index then the 4 op indices of gnn_list as base-10 digits",
        **{
            f"link_{i}": f"input of computing node {i + 1} in the canonical form (0 = raw "
            "input, j = computing node j)"
            for i in range(NUM_NODES)
        },
        **{
            f"op_{i}": f"GNN op of computing node {i + 1} in the canonical form"
            for i in range(NUM_NODES)
        },
        "val_acc": f"validation {metric}; mean over the 3 runs (upstream valid_perf x 100)",
        "test_acc": f"test {metric}; mean over the 3 runs (upstream perf x 100)",
        "latency_s": "latency as recorded by the benchmark (upstream latency), read as "
        "seconds: upstream states no unit; values span 0.3 ms to 0.6 s",
        "params_m": "number of parameters in millions, mean over the 3 runs (upstream para)",
    }


def _column(path: Path, hashes: tuple[int, ...], field: str, values: list[Any]) -> np.ndarray:
    """``values`` of ``field`` as float64, checked; errors name the key of the bad value."""
    for t in set(map(type, values)):
        if issubclass(t, bool | np.bool_) or not issubclass(t, _NUMBER_TYPES):
            i = next(i for i, v in enumerate(values) if type(v) is t)
            raise DataFormatError(
                f"{path}: key {hashes[i]}: field {field!r}: not a number: {values[i]!r}"
            )
    arr = np.array(values, dtype=np.float64)
    if field in FRACTION_FIELDS:
        bad = ~((arr >= 0.0) & (arr <= 1.0))
        what = "not a fraction in [0, 1]"
    else:
        bad = ~(np.isfinite(arr) & (arr > 0.0))
        what = "not a finite positive number"
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFormatError(f"{path}: key {hashes[i]}: field {field!r}: {values[i]!r} {what}")
    return arr


def read_bench(path: Path, space: NBGraphSpace) -> dict[str, np.ndarray]:
    """Load one ``.bench`` file and check it against ``space``.

    Args:
        path: a light ``<dataset>.bench`` file.
        space: the space of the dataset (:meth:`NBGraphSpace.for_dataset`).

    Returns:
        For each field of :data:`FIELDS`, its float64 values in the order of
        :meth:`NBGraphSpace.hashes` (the file's values, not yet converted).

    Raises:
        DataFormatError: the file is missing or is not a pickle of allow-listed
            globals; it is not a dict keyed by the hashes of exactly the members of
            ``space``; a record lacks a field of :data:`FIELDS` or has another one; a
            value is not a number, a performance is outside [0, 1] or a latency or
            parameter count is not positive.
    """
    try:
        bench = load_restricted(path, ALLOWED_GLOBALS)
    except FileNotFoundError as exc:
        raise DataFormatError(f"{path}: missing; run `nasrank fetch nbgraph` first") from exc
    if not isinstance(bench, dict):
        raise DataFormatError(f"{path}: expected a dict, got {type(bench).__name__}")
    hashes = space.hashes()
    position = {h: i for i, h in enumerate(hashes)}
    records: list[dict[str, Any] | None] = [None] * len(hashes)
    for key, rec in bench.items():
        if isinstance(key, bool) or not isinstance(key, int | np.integer):
            raise DataFormatError(f"{path}: key {key!r}: not an integer hash")
        i = position.get(int(key))
        if i is None:
            raise DataFormatError(
                f"{path}: key {key}: not the hash of a canonical architecture of {space.name}"
            )
        if not isinstance(rec, dict):
            raise DataFormatError(f"{path}: key {key}: expected a dict, got {rec!r}")
        if rec.keys() != _FIELD_SET:
            missing = [f for f in FIELDS if f not in rec]
            if missing:
                raise DataFormatError(f"{path}: key {key}: missing fields {missing}")
            unknown = sorted(map(str, set(rec) - _FIELD_SET))
            raise DataFormatError(f"{path}: key {key}: unknown fields {unknown}")
        records[i] = rec
    absent = [hashes[i] for i, rec in enumerate(records) if rec is None]
    if absent:
        raise DataFormatError(
            f"{path}: {len(absent)} of the {len(hashes)} architectures of {space.name} "
            f"missing, e.g. keys {absent[:MISSING_EXAMPLES]}"
        )
    return {f: _column(path, hashes, f, [r[f] for r in records]) for f in FIELDS}


def ingest_dataset(raw_dir: Path, dataset: str) -> Processed:
    """The table of one dataset, rows in ascending ``nbgraph_hash`` order.

    That is the order of :meth:`NBGraphSpace.enumerate` (link pattern index, then op
    indices).

    Raises:
        DataFormatError: an unknown dataset, or as :func:`read_bench`.
    """
    if dataset not in NB_GRAPH_DATASETS:
        raise DataFormatError(
            f"unknown NAS-Bench-Graph dataset {dataset!r}; use one of {NB_GRAPH_DATASETS}"
        )
    space = NBGraphSpace.for_dataset(dataset)
    name = f"{dataset}.bench"
    values = read_bench(Path(raw_dir) / name, space)
    archs = list(space.enumerate())
    data: dict[str, pa.Array] = {
        "arch_id": pa.array(space.arch_ids(), type=pa.string()),
        "nbgraph_hash": pa.array(space.hashes(), type=pa.int64()),
        **{
            f"link_{i}": pa.array([a.link[i] for a in archs], type=pa.int8())
            for i in range(NUM_NODES)
        },
        **{
            f"op_{i}": pa.array([a.ops[i] for a in archs], type=pa.string())
            for i in range(NUM_NODES)
        },
        "val_acc": pa.array(values["valid_perf"] * 100.0),
        "test_acc": pa.array(values["perf"] * 100.0),
        "latency_s": pa.array(values["latency"]),
        "params_m": pa.array(values["para"]),
    }
    columns = _columns(dataset)
    table = pa.table({c: data[c] for c in columns})
    metric = "roc_auc" if dataset == "proteins" else "accuracy"
    notes = (
        "Light NAS-Bench-Graph file: one record per architecture, means over 3 runs; the "
        "epoch at which validation/test performance was taken is not documented upstream."
    )
    if dataset == "proteins":
        notes += (
            " ogbn-proteins: val_acc/test_acc hold ROC-AUC x 100, not accuracy; only the "
            "2,021 architectures over the ops gcn, sage, arma, fc, skip were benchmarked."
        )
    return Processed(
        table=table,
        columns=columns,
        sources=[name],
        notes=notes,
        extra={
            "default_target": "val_acc",
            "metric": metric,
            "dataset": dataset,
            "space": space.name,
        },
    )


def ingest(raw_dir: Path) -> dict[str, Processed]:
    """Read all 9 ``<dataset>.bench`` files of ``raw_dir``.

    Args:
        raw_dir: ``data/raw/nbgraph``.

    Returns:
        ``{"nbgraph-<dataset>": Processed}`` for the datasets of
        :data:`~nasrank.benchmarks.registry.NB_GRAPH_DATASETS`; columns as described in
        each table's ``columns``; ``extra["default_target"] == "val_acc"``.

    Raises:
        DataFormatError: as :func:`read_bench`.
    """
    return {TableId.of(BENCH, d): ingest_dataset(Path(raw_dir), d) for d in NB_GRAPH_DATASETS}
