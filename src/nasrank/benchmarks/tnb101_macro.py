"""Reader of TransNAS-Bench-101 macro: NASLib's zero-cost file, 662-725 networks x 7 tasks.

Source: ``data/raw/tnb101_macro/zc_transbench101_macro.json`` (NASLib ``naslib/data/``,
NAS-Bench-Suite-Zero). For each TNB101 task it maps NASLib's macro encoding to a record::

    {"class_scene": {"(1, 2, 4, 2, 0, 0)": {
        "idx": "534", "arch": "(1, 2, 4, 2, 0, 0)", "val_accuracy": 54.29,
        "flops": {"score": 13602.5, "time": 0.91}, "jacov": {...}, ...}}, ...}

with 662 networks for class_scene and class_object and 725 for the other five tasks
(the 662 are among the 725). ``val_accuracy`` is the task's own validation metric
(:data:`~nasrank.benchmarks.tnb101_micro.TASK_METRICS`), the best value over the
epochs of TNB101's released run as NASLib queried it; the 11 proxies are
``{"score", "time"}`` (no SynFlow, no Zen; EPE-NAS failed, ``-1e8``, nearly everywhere).

The macro space (TNB101's macro-level search space, 3,256 networks) keeps the ResNet
basic block and searches the skeleton: 4 to 6 modules (each two blocks), each module one
of four codes (TNB101 ``net_macro.py``: channel change on codes 2 and 4, stride change
on codes 3 and 4):

* ``1`` keep resolution and channels,
* ``2`` double the channels,
* ``3`` downsample (stride 2),
* ``4`` downsample and double the channels,

with 1 to 4 downsampling modules (codes 3, 4) and 1 to 3 widening modules (codes 2, 4).

**Arch string** (``arch_id``): TNB101's own net code ``64-<codes>-basic``, e.g.
``64-1242-basic`` (base width 64, one digit per module in network order, ResNet basic
block) -- the string TNB101's API is queried with and NASLib's
``convert_naslib_to_transbench101_macro`` produces. **NASLib's encoding** is the codes as a
tuple padded with ``0`` to length 6: ``(1, 2, 4, 2, 0, 0)`` is ``64-1242-basic``.

Usage::

    from nasrank.benchmarks import tnb101_macro
    tables = tnb101_macro.ingest(Path("data/raw/tnb101_macro"))
    t = tables["tnb101_macro-autoencoder"]
    print(t.table.num_rows, t.extra["default_target"])    # 725 val_score
    print(tnb101_macro.naslib_to_arch_str((1, 2, 4, 2, 0, 0)))   # 64-1242-basic

Each table has ``arch_id``, ``macro_code`` (the digits), ``n_modules``, ``n_downsample``,
``n_widen``, ``val_score`` and the zero-cost columns ``zc_<proxy>`` /
``zc_<proxy>_time_s``; one row per network of the task, sorted by ``arch_id``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from nasrank.benchmarks.common import Processed
from nasrank.benchmarks.registry import TNB101_TASKS
from nasrank.benchmarks.tnb101_micro import TASK_METRICS
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
from nasrank.errors import DataFormatError, OutOfDomainError

BENCH = "tnb101_macro"
ZC_FILE = "zc_transbench101_macro.json"
BASE_WIDTH = 64
BLOCK = "basic"
#: Module codes -> meaning (TNB101 net_macro.py).
MODULE_CODES: dict[int, str] = {
    1: "keep resolution and channels",
    2: "double the channels",
    3: "downsample (stride 2)",
    4: "downsample and double the channels",
}
MIN_MODULES, MAX_MODULES = 4, 6
DOWNSAMPLE_RANGE = (1, 4)
WIDEN_RANGE = (1, 3)
NASLIB_LENGTH = 6
SPACE_SIZE = 3256


def validate_codes(codes: Sequence[Any]) -> tuple[int, ...]:
    """Check a sequence of module codes and return it as a tuple of ints.

    Raises:
        OutOfDomainError: not 4-6 codes in 1-4, or a number of downsampling (codes 3,
            4) or widening (codes 2, 4) modules outside TNB101's ranges.
    """
    if isinstance(codes, str) or not isinstance(codes, Sequence):
        raise OutOfDomainError(f"TNB101-macro codes must be a sequence, got {codes!r}")
    if not MIN_MODULES <= len(codes) <= MAX_MODULES:
        raise OutOfDomainError(
            f"TNB101-macro network must have {MIN_MODULES}-{MAX_MODULES} modules, got "
            f"{len(codes)}: {tuple(codes)!r}"
        )
    for c in codes:
        if isinstance(c, bool) or not isinstance(c, int) or c not in MODULE_CODES:
            raise OutOfDomainError(f"TNB101-macro module code {c!r} is not one of 1-4 "
                                   f"in {tuple(codes)!r}")
    down = sum(c in (3, 4) for c in codes)
    wide = sum(c in (2, 4) for c in codes)
    if not DOWNSAMPLE_RANGE[0] <= down <= DOWNSAMPLE_RANGE[1]:
        raise OutOfDomainError(f"TNB101-macro network {tuple(codes)!r} downsamples {down} "
                               f"times, expected {DOWNSAMPLE_RANGE[0]}-{DOWNSAMPLE_RANGE[1]}")
    if not WIDEN_RANGE[0] <= wide <= WIDEN_RANGE[1]:
        raise OutOfDomainError(f"TNB101-macro network {tuple(codes)!r} doubles its channels "
                               f"{wide} times, expected {WIDEN_RANGE[0]}-{WIDEN_RANGE[1]}")
    return tuple(int(c) for c in codes)


def codes_to_arch_str(codes: Sequence[int]) -> str:
    """``64-<codes>-basic`` for valid module ``codes``."""
    return f"{BASE_WIDTH}-{''.join(str(c) for c in validate_codes(codes))}-{BLOCK}"


def arch_str_to_codes(arch_str: str) -> tuple[int, ...]:
    """The module codes of an arch string ``64-<codes>-basic``.

    Raises:
        OutOfDomainError: another form (e.g. a micro string ``64-41414-a_bc_def``) or
            codes outside the space.
    """
    parts = arch_str.split("-") if isinstance(arch_str, str) else []
    if len(parts) != 3 or parts[0] != str(BASE_WIDTH) or parts[2] != BLOCK \
            or not parts[1].isdigit():
        raise OutOfDomainError(
            f"TNB101-macro arch string must read '{BASE_WIDTH}-<4-6 digits 1-4>-{BLOCK}', "
            f"got {arch_str!r}"
        )
    return validate_codes([int(d) for d in parts[1]])


def naslib_to_arch_str(value: Sequence[Any]) -> str:
    """The arch string of NASLib's macro tuple (codes padded with 0 to length 6).

    Raises:
        OutOfDomainError: longer than 6, a 0 before a module code, or codes outside the
            space.
    """
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise OutOfDomainError(f"NASLib TNB101-macro encoding must be a tuple, got {value!r}")
    if len(value) > NASLIB_LENGTH:
        raise OutOfDomainError(f"NASLib TNB101-macro tuple {tuple(value)!r} is longer than "
                               f"{NASLIB_LENGTH}")
    codes = list(value)
    while codes and codes[-1] == 0 and not isinstance(codes[-1], bool):
        codes.pop()
    if 0 in codes:
        raise OutOfDomainError(f"NASLib TNB101-macro tuple {tuple(value)!r} has padding 0 "
                               "before a module code")
    return codes_to_arch_str(codes)


def arch_str_to_naslib(arch_str: str) -> tuple[int, ...]:
    """NASLib's tuple (padded with 0 to length 6) of an arch string."""
    codes = arch_str_to_codes(arch_str)
    return codes + (0,) * (NASLIB_LENGTH - len(codes))


def enumerate_arch_strs() -> Iterator[str]:
    """All 3,256 arch strings of the macro space, by module count then codes."""
    for n in range(MIN_MODULES, MAX_MODULES + 1):
        for codes in itertools.product(sorted(MODULE_CODES), repeat=n):
            try:
                yield codes_to_arch_str(codes)
            except OutOfDomainError:
                continue


def parse_naslib_key(key: str, where: str) -> str:
    """The arch string of a record key such as ``"(1, 2, 4, 2, 0, 0)"``.

    Raises:
        DataFormatError: naming ``where`` and the key: not a tuple literal, or not a
            network of the space.
    """
    return parse_tuple_key(key, where, naslib_to_arch_str, "a TNB101-macro network")


def _check_metric(task: str, value: float, where: str) -> None:
    unit = TASK_METRICS[task].unit
    lo, hi = {"percent (0-100)": (0.0, 100.0), "SSIM (0-1)": (0.0, 1.0),
              "negative loss (<= 0)": (-math.inf, 0.0)}[unit]
    if not lo <= value <= hi:
        raise DataFormatError(f"{where}: val_accuracy {value!r} is not a {task} metric in "
                              f"{unit}")


def read_zc_macro(path: Path) -> dict[str, dict[str, ZCRecord]]:
    """NASLib's ``zc_transbench101_macro.json``: per task, ``{arch_id: ZCRecord}``.

    Raises:
        DataFormatError: naming the file and key: a task missing, a key that is no
            macro network, two keys for one network, a metric outside its task's range,
            or a malformed record.
    """
    data = read_zc_datasets(path, list(TNB101_TASKS))
    out: dict[str, dict[str, ZCRecord]] = {}
    for task in TNB101_TASKS:
        cells: dict[str, ZCRecord] = {}
        for key, rec in data[task].items():
            where = f"{path}: {task}[{key!r}]"
            arch_id = parse_naslib_key(key, f"{path}: {task}")
            if arch_id in cells:
                raise DataFormatError(f"{where}: second record for network {arch_id}")
            _check_metric(task, rec.val_accuracy, where)
            cells[arch_id] = rec
        out[task] = cells
    return out


def _columns(task: str) -> dict[str, str]:
    m = TASK_METRICS[task]
    return {
        "arch_id": f"TNB101 macro net code {BASE_WIDTH}-<codes>-{BLOCK}: base width 64, one "
        "digit per module in network order (1 keep, 2 double channels, 3 downsample, "
        "4 both; 4-6 modules of two ResNet basic blocks); NASLib's tuple is the digits "
        "padded with 0 to length 6; rows are sorted by it",
        "macro_code": "the module digits of arch_id (e.g. '1242')",
        "n_modules": "number of modules (4-6)",
        "n_downsample": "modules that downsample, codes 3 and 4 (1-4)",
        "n_widen": "modules that double the channels, codes 2 and 4 (1-3)",
        "val_score": f"{task} validation {m.meaning}; TNB101 metric '{m.metric}', best value "
        f"over the training epochs of the released run, as NASLib stored it in {ZC_FILE} "
        f"(key val_accuracy); unit: {m.unit}; "
        f"{'higher' if m.higher_is_better else 'lower'} is better",
    }


def ingest(raw_dir: Path) -> dict[str, Processed]:
    """Build the 7 TNB101-macro tables from ``raw_dir`` (``data/raw/tnb101_macro``).

    Returns:
        ``{"tnb101_macro-<task>": Processed}``, one row per network NASLib recorded for
        the task (662 for class_scene and class_object, 725 for the others in the
        pinned file).

    Raises:
        DataFormatError: the file or a record is not as described in this module.
    """
    path = Path(raw_dir) / ZC_FILE
    data = read_zc_macro(path)
    out: dict[str, Processed] = {}
    for task in TNB101_TASKS:
        recs = data[task]
        ids = sorted(recs)
        codes = [arch_str_to_codes(i) for i in ids]
        cols: dict[str, pa.Array] = {
            "arch_id": pa.array(ids, type=pa.string()),
            "macro_code": pa.array([i.split("-")[1] for i in ids], type=pa.string()),
            "n_modules": pa.array([len(c) for c in codes], type=pa.int8()),
            "n_downsample": pa.array([sum(x in (3, 4) for x in c) for c in codes],
                                     type=pa.int8()),
            "n_widen": pa.array([sum(x in (2, 4) for x in c) for c in codes], type=pa.int8()),
            "val_score": pa.array([recs[i].val_accuracy for i in ids], type=pa.float64()),
        }
        proxies, timed = proxy_names(recs.values()), timed_proxies(recs.values())
        cols.update(zc_columns(records_by_row(ids, recs), proxies, timed))
        stem = f"{BENCH}-{task}"
        zero_cost = zc_metadata(cols, proxies, timed, dict.fromkeys(proxies, ZC_FILE),
                                failed_counts(recs.values()), stem)
        m = TASK_METRICS[task]
        failed = ", ".join(f"{p}: {n}" for p, n in zero_cost["n_failed"].items() if n)
        notes = (
            f"NASLib's sample of {len(recs)} of the {SPACE_SIZE} macro networks, not the "
            f"full space. val_score is TNB101's '{m.metric}' ({m.unit}) as NASLib stored "
            "it (best over the epochs of the single released run; the file records no seed "
            "or epoch). zc_* are NASLib's zero-cost proxies at initialisation; failed "
            f"scores (NASLib's -1e8) are null (failures: {failed or 'none'})."
        )
        if task == "room_layout":
            notes += " room_layout's val_score is a negated loss: values are <= 0."
        out[stem] = Processed(
            table=pa.table(cols),
            columns={**_columns(task),
                     **zc_column_docs(proxies, timed, f"{ZC_FILE} (key {task!r})",
                                      f"every network of this table ({len(recs)})")},
            sources=[ZC_FILE],
            notes=notes,
            extra={
                "default_target": "val_score",
                "space": BENCH,
                "metric": m.metric,
                "unit": m.unit,
                "higher_is_better": m.higher_is_better,
                "n_space": SPACE_SIZE,
                "zero_cost": zero_cost,
            },
        )
    return out


__all__ = [
    "MODULE_CODES",
    "SPACE_SIZE",
    "ZC_FILE",
    "arch_str_to_codes",
    "arch_str_to_naslib",
    "codes_to_arch_str",
    "enumerate_arch_strs",
    "ingest",
    "naslib_to_arch_str",
    "parse_naslib_key",
    "read_zc_macro",
    "validate_codes",
]
