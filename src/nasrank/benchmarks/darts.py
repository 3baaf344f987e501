"""Reader of NASLib's DARTS (NAS-Bench-301) cells: labels and zero-cost proxies.

Source (``data/raw/darts/``): ``zc_nasbench301.json`` of automl/NASLib (the
NAS-Bench-Suite-Zero data, commit ``1bdbd960``), ``{"cifar10": {key: record}}`` for 725
cells, where ``key`` is the compact genotype string (:mod:`nasrank.spaces.darts`) and
``record`` is ``{idx, arch, val_accuracy, <proxy>: {score, time}, ...}`` with 12
proxies (epe_nas, fisher, flops, grad_norm, grasp, jacov, l2_norm, nwot, params, plain,
snip, synflow).

**The labels are surrogate predictions.** NASLib queries the DARTS space through the
NAS-Bench-301 surrogate (``NasBench301SearchSpace.query`` in
``naslib/search_spaces/nasbench301/graph.py`` returns ``nb301_model[0].predict(...)``
for the validation accuracy) and the values are not rounded like trained accuracies:
``val_acc`` is NB301's *predicted* CIFAR-10 validation accuracy, not a measured one. The
table says so in its notes and in ``surrogate_labels: true`` in its metadata.

Usage::

    from nasrank.benchmarks.darts import ingest
    tables = ingest(Path("data/raw/darts"))      # {"darts": Processed}
    df = tables["darts"].table.to_pandas()       # 725 rows

Table (one row per canonical cell, rows in upstream ``idx`` order): ``arch_id`` (the
canonical compact string), the 32 genotype columns ``{normal,reduce}_in_{j}`` (int64,
the input node of pair ``j``) and ``{normal,reduce}_op_{j}`` (op name) for pairs ``j =
0..7`` in canonical order (pairs ``2k, 2k+1`` feed node ``k``, smaller input first),
``naslib_keys`` / ``naslib_idx`` (the upstream key(s) and idx(s) of the row), ``val_acc``
(the default target, percent) and, per proxy, ``zc_<proxy>`` (score) and
``zc_<proxy>_time_s`` (seconds to compute it), all float64, read and documented by
:mod:`nasrank.benchmarks.zero_cost` like every other table's proxies (NASLib's ``-1e8``
failure marker becomes a null; the pinned file has none) with the ``zero_cost``
metadata entry that :func:`~nasrank.benchmarks.zero_cost.require_zero_cost` reads.

Duplicates: upstream keys that are the same cell up to the order of a node's two inputs
share one ``arch_id``; such records are merged into one row holding the mean of
``val_acc`` and of every proxy score and time
(:func:`~nasrank.benchmarks.zero_cost.mean_record`), with all their keys and idx in
``naslib_keys`` / ``naslib_idx`` (``extra["duplicates_merged"]`` counts the records
merged away). The pinned file has none: its 725 keys are 725 distinct canonical cells.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from nasrank.benchmarks import zero_cost as zc
from nasrank.benchmarks.common import Processed, require_keys
from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.spaces.darts import CELLS, NUM_PAIRS, OPS, DartsArch, to_string, validate_arch

BENCH = "darts"
FILE = "zc_nasbench301.json"
DATASET = "cifar10"

NOTES = (
    "SURROGATE LABELS: val_acc is the NAS-Bench-301 surrogate model's predicted CIFAR-10 "
    "validation accuracy for the cell (as queried by NASLib), not the accuracy of a "
    "trained network. Zero-cost proxy scores and their compute times (seconds) are "
    "NASLib's measurements at initialisation (NAS-Bench-Suite-Zero). 725 cells drawn by "
    "NASLib, not the whole DARTS space (about 1.1e18 cells)."
)


def genotype_columns() -> list[str]:
    """The 32 genotype columns: per cell and pair ``{cell}_in_{j}``, ``{cell}_op_{j}``."""
    return [f"{cell}_{part}_{j}" for cell in CELLS for j in range(NUM_PAIRS)
            for part in ("in", "op")]


def _spec_columns() -> dict[str, str]:
    cols: dict[str, str] = {
        "arch_id": "canonical compact genotype string (nasrank.spaces.darts): NASLib's "
        "'[[(input, op) x 8], [(input, op) x 8]]' (normal, reduce) with the two pairs of "
        "each node sorted by input; deeper isomorphisms are not merged",
    }
    for cell in CELLS:
        for j in range(NUM_PAIRS):
            node = j // 2
            cols[f"{cell}_in_{j}"] = (
                f"{cell} cell, pair {j} (input {j % 2} of intermediate node {node}): the "
                f"node it reads, 0..{node + 1} (0 c_k-2, 1 c_k-1, 2 + m intermediate node m)"
            )
            cols[f"{cell}_op_{j}"] = (
                f"{cell} cell, pair {j}: the operation applied to that input, one of "
                f"{', '.join(OPS)}"
            )
    cols["naslib_keys"] = "the upstream json key(s) (NASLib compact strings) of this cell"
    cols["naslib_idx"] = "the upstream 'idx' field(s) (NASLib's sample index) of this cell"
    cols["val_acc"] = (
        "NAS-Bench-301 SURROGATE prediction of the CIFAR-10 validation accuracy, percent "
        "(upstream val_accuracy; not a trained accuracy); mean over merged duplicates"
    )
    return cols


def load_records(path: Path) -> list[tuple[str, int, DartsArch, zc.ZCRecord]]:
    """The checked upstream records of ``zc_nasbench301.json``, in file order.

    Returns:
        ``(key, idx, canonical arch, ZCRecord)`` per key; proxies as read by
        :func:`nasrank.benchmarks.zero_cost.parse_zc_record` (NASLib's ``-1e8`` and
        non-finite scores are ``None``).

    Raises:
        DataFormatError: not ``{"cifar10": {...}}``, a record without ``idx``/``arch``/
            ``val_accuracy``, ``arch`` different from its key, a key that is not a DARTS
            cell, an idx that is not an integer or repeats, an accuracy outside 0..100,
            or a bad proxy entry.
    """
    obj = zc.load_zc_json(path)
    if not isinstance(obj, dict) or set(obj) != {DATASET}:
        got = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise DataFormatError(f"{path}: expected an object with the one key {DATASET!r}, "
                              f"got {got}")
    records = obj[DATASET]
    if not isinstance(records, dict) or not records:
        raise DataFormatError(f"{path}: key {DATASET!r} must be a non-empty object")
    out: list[tuple[str, int, DartsArch, zc.ZCRecord]] = []
    seen_idx: dict[int, str] = {}
    for key, rec in records.items():
        where = f"{path}: {DATASET}[{key!r}]"
        if isinstance(rec, dict):
            require_keys(rec, ["idx", "arch", "val_accuracy"], where)
        parsed = zc.parse_zc_record(key, rec, where)
        try:
            arch = validate_arch(key)
        except OutOfDomainError as exc:
            raise DataFormatError(f"{where}: key is not a DARTS cell: {exc}") from None
        try:
            idx = int(str(rec["idx"]))
        except ValueError:
            raise DataFormatError(f"{where}: idx {rec['idx']!r} is not an integer") from None
        if idx in seen_idx:
            raise DataFormatError(f"{where}: idx {idx} repeats (also {seen_idx[idx]!r})")
        seen_idx[idx] = key
        if not 0.0 <= parsed.val_accuracy <= 100.0:
            raise DataFormatError(
                f"{where}: val_accuracy {parsed.val_accuracy!r} is not a percentage"
            )
        out.append((key, idx, arch, parsed))
    return out


def ingest(raw_dir: Path) -> dict[str, Processed]:
    """Read ``raw_dir/zc_nasbench301.json`` into the ``darts`` table.

    Args:
        raw_dir: ``data/raw/darts``.

    Returns:
        ``{"darts": Processed}``: one row per canonical cell (725 for the pinned file),
        sorted by the smallest upstream idx of the row; columns as in the module
        docstring; ``extra``: ``default_target: val_acc``, ``surrogate_labels: true``,
        ``upstream_records``, ``duplicates_merged`` and the ``zero_cost`` entry of
        :func:`nasrank.benchmarks.zero_cost.zc_metadata`.

    Raises:
        DataFormatError: as :func:`load_records`.
    """
    path = Path(raw_dir) / FILE
    records = load_records(path)
    groups: dict[str, list[tuple[str, int, DartsArch, zc.ZCRecord]]] = {}
    for rec in records:
        groups.setdefault(to_string(rec[2]), []).append(rec)
    rows = sorted(groups.items(), key=lambda kv: min(r[1] for r in kv[1]))

    spec_docs = _spec_columns()
    data: dict[str, list[Any]] = {name: [] for name in spec_docs}
    merged_records: list[zc.ZCRecord] = []
    for arch_id, group in rows:
        group = sorted(group, key=lambda r: r[1])
        arch = group[0][2]
        data["arch_id"].append(arch_id)
        for c, cell in enumerate(CELLS):
            for j, (inp, op) in enumerate(arch[c]):
                data[f"{cell}_in_{j}"].append(inp)
                data[f"{cell}_op_{j}"].append(OPS[op])
        data["naslib_keys"].append([r[0] for r in group])
        data["naslib_idx"].append([r[1] for r in group])
        mean = zc.mean_record([r[3] for r in group])
        data["val_acc"].append(mean.val_accuracy)
        merged_records.append(mean)

    def dtype(name: str) -> pa.DataType:
        if name == "arch_id" or "_op_" in name:
            return pa.string()
        if "_in_" in name:
            return pa.int64()
        if name == "naslib_keys":
            return pa.list_(pa.string())
        if name == "naslib_idx":
            return pa.list_(pa.int64())
        return pa.float64()

    upstream = [r[3] for r in records]
    proxies = zc.proxy_names(upstream)
    timed = zc.timed_proxies(upstream)
    columns: dict[str, pa.Array] = {
        name: pa.array(data[name], type=dtype(name)) for name in spec_docs
    }
    columns.update(zc.zc_columns(merged_records, proxies, timed))
    docs = {**spec_docs, **zc.zc_column_docs(proxies, timed, FILE,
                                             f"the {len(rows)} cells NASLib sampled (every row)")}
    table = pa.table(columns)
    merged = len(records) - len(rows)
    return {
        BENCH: Processed(
            table=table,
            columns=docs,
            sources=[FILE],
            notes=NOTES + (f" {merged} duplicate records merged (means)." if merged else
                           " No duplicate cells."),
            extra={
                "default_target": "val_acc",
                "space": "darts",
                "dataset": DATASET,
                "metric": "accuracy",
                "surrogate_labels": True,
                "label_source": "NAS-Bench-301 surrogate prediction (NASLib "
                "NasBench301SearchSpace.query -> nb301_model[0].predict)",
                "upstream_records": len(records),
                "duplicates_merged": merged,
                "zero_cost": zc.zc_metadata(columns, proxies, timed,
                                            {p: FILE for p in proxies},
                                            zc.failed_counts(upstream), BENCH),
            },
        )
    }
