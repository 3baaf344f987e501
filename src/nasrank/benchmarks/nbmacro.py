"""Reader of NAS-Bench-Macro (CIFAR-10): one row per distinct network.

Upstream ``nas-bench-macro_cifar10.json`` (xiusu/NAS-Bench-Macro) maps each of the
3^8 = 6,561 layer strings to ``{test_acc: [3 floats], mean_acc, std, params, flops}``.
Equivalent strings (identity layers at other positions of a stage, see
:mod:`nasrank.spaces.nbmacro`) carry a copy of the record of the network upstream
actually trained, so the table has one row per distinct network (3,969), keyed by the
canonical string and listing its upstream keys in ``aliases``. The reader checks that
all 6,561 keys are present, that equivalent keys carry identical records, and that
``mean_acc``/``std`` are the mean/population std of the 3 runs.

Usage::

    from nasrank.benchmarks.nbmacro import ingest
    tables = ingest(Path("data/raw/nbmacro"))   # {"nbmacro": Processed}
    df = tables["nbmacro"].table.to_pandas()
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from nasrank.benchmarks.common import Processed, load_json
from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.spaces.nbmacro import LAYER_CHOICES, NUM_LAYERS, NBMacroSpace

FILE = "nas-bench-macro_cifar10.json"
FIELDS = ("test_acc", "mean_acc", "std", "params", "flops")
NUM_SEEDS = 3
TOLERANCE = 1e-6

COLUMNS: dict[str, str] = {
    "arch_id": "canonical 8-character layer string (nasrank.spaces.nbmacro): per layer "
    "0 Identity, 1 MB3_K3, 2 MB6_K5; identities after a stage's first layer last",
    **{
        f"op_{i}": f"choice of searchable layer {i} ({', '.join(LAYER_CHOICES)}); stages "
        "are layers 0-1, 2-4, 5-7, each starting with a stride-2 layer"
        for i in range(NUM_LAYERS)
    },
    "aliases": "the upstream json keys (layer strings) of this network, all carrying the "
    "same record; 6,561 keys over all rows",
    "test_acc_seeds": "CIFAR-10 test accuracy in percent of the 3 training runs (seeds 0, "
    "1, 2; upstream train.py): each the BEST test accuracy over the 50 training epochs",
    "test_acc": "mean of test_acc_seeds, percent (upstream mean_acc)",
    "test_acc_std": "population standard deviation (ddof=0) of test_acc_seeds, percentage "
    "points (upstream std)",
    "params": "number of parameters, all of them incl. BatchNorm (upstream params; count)",
    "flops": "multiply-accumulates of all Conv2d and Linear layers for one 3x32x32 image "
    "(upstream flops, from its count_FLOPs; BN/activations not counted; count)",
}

NOTES = (
    "CIFAR-10, each network trained 3 times from scratch (50 epochs). test_acc is the "
    "maximum over epochs of the accuracy on the CIFAR-10 test set (upstream selects the "
    "best epoch on the test set; there is no separate validation split). The 6,561 json "
    "keys are 3,969 distinct networks; equivalent keys are merged into one row."
)


def _number(value: Any, where: str, *, integer: bool = False) -> float | int:
    ok_type = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_type):
        kind = "an integer" if integer else "a number"
        raise DataFormatError(f"{where}: expected {kind}, got {value!r}")
    if not integer and not math.isfinite(value):
        raise DataFormatError(f"{where}: not finite: {value!r}")
    return value


def _check_record(rec: Any, where: str) -> dict[str, Any]:
    if not isinstance(rec, dict):
        raise DataFormatError(f"{where}: expected an object, got {type(rec).__name__}")
    missing = [k for k in FIELDS if k not in rec]
    if missing:
        raise DataFormatError(f"{where}: missing keys {missing}")
    unknown = sorted(set(rec) - set(FIELDS))
    if unknown:
        raise DataFormatError(f"{where}: unknown keys {unknown}")
    seeds = rec["test_acc"]
    if not isinstance(seeds, list) or len(seeds) != NUM_SEEDS:
        raise DataFormatError(f"{where}: key test_acc: expected {NUM_SEEDS} runs, got {seeds!r}")
    for i, v in enumerate(seeds):
        _number(v, f"{where}: key test_acc[{i}]")
        if not 0.0 <= v <= 100.0:
            raise DataFormatError(f"{where}: key test_acc[{i}]: {v!r} is not a percentage")
    mean = _number(rec["mean_acc"], f"{where}: key mean_acc")
    std = _number(rec["std"], f"{where}: key std")
    if abs(mean - float(np.mean(seeds))) > TOLERANCE:
        raise DataFormatError(
            f"{where}: key mean_acc: {mean!r} is not the mean of test_acc {seeds!r}"
        )
    if abs(std - float(np.std(seeds))) > TOLERANCE:
        raise DataFormatError(
            f"{where}: key std: {std!r} is not the population std of test_acc {seeds!r}"
        )
    for key in ("params", "flops"):
        if _number(rec[key], f"{where}: key {key}", integer=True) <= 0:
            raise DataFormatError(f"{where}: key {key}: {rec[key]!r} is not positive")
    return rec


def ingest(raw_dir: Path) -> dict[str, Processed]:
    """Read ``raw_dir/nas-bench-macro_cifar10.json`` into the ``nbmacro`` table.

    Args:
        raw_dir: ``data/raw/nbmacro``.

    Returns:
        ``{"nbmacro": Processed}``: 3,969 rows in base-3 order of ``arch_id`` (the
        order of :meth:`NBMacroSpace.enumerate`), columns as in :data:`COLUMNS`;
        ``extra["default_target"] == "test_acc"``.

    Raises:
        DataFormatError: the file is missing or not JSON, a key is not a layer string, a
            key of the 6,561 is missing, a record lacks a field, has an unknown one or a
            bad value, or equivalent keys carry different records.
    """
    path = Path(raw_dir) / FILE
    data = load_json(path)
    if not isinstance(data, dict):
        raise DataFormatError(f"{path}: expected an object keyed by layer strings")
    space = NBMacroSpace()
    for key in data:
        try:
            space.validate(key)
        except OutOfDomainError as exc:
            raise DataFormatError(f"{path}: key {key!r} is not a layer string: {exc}") from None

    rows: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for arch in space.enumerate():
        aliases = space.aliases(arch)
        absent = [k for k in aliases if k not in data]
        if absent:
            raise DataFormatError(f"{path}: missing keys {absent}")
        rec = _check_record(data[arch], f"{path}: key {arch!r}")
        for alias in aliases:
            if data[alias] != rec:
                raise DataFormatError(
                    f"{path}: key {alias!r}: record differs from that of the equivalent "
                    f"key {arch!r} ({data[alias]!r} vs {rec!r})"
                )
        rows["arch_id"].append(arch)
        for i, name in enumerate(space.layer_names(arch)):
            rows[f"op_{i}"].append(name)
        rows["aliases"].append(list(aliases))
        rows["test_acc_seeds"].append([float(v) for v in rec["test_acc"]])
        rows["test_acc"].append(float(rec["mean_acc"]))
        rows["test_acc_std"].append(float(rec["std"]))
        rows["params"].append(rec["params"])
        rows["flops"].append(rec["flops"])

    types: dict[str, pa.DataType] = {
        "arch_id": pa.string(),
        **{f"op_{i}": pa.string() for i in range(NUM_LAYERS)},
        "aliases": pa.list_(pa.string()),
        "test_acc_seeds": pa.list_(pa.float64()),
        "test_acc": pa.float64(),
        "test_acc_std": pa.float64(),
        "params": pa.int64(),
        "flops": pa.int64(),
    }
    table = pa.table({name: pa.array(rows[name], type=types[name]) for name in COLUMNS})
    return {
        "nbmacro": Processed(
            table=table,
            columns=dict(COLUMNS),
            sources=[FILE],
            notes=NOTES,
            extra={
                "default_target": "test_acc",
                "space": "nbmacro",
                "dataset": "cifar10",
                "metric": "accuracy",
                "upstream_keys": len(data),
            },
        )
    }
