"""NAS-Bench-101 readers: the enumerated space and the labelled records.

Two products:

* :func:`space_table` -- all 423,624 cells of the space (``nasrank enumerate nb101``),
  each the spec NAS-Bench-101 itself trained (first met by its enumeration).
* :func:`ingest` -- the labelled records: nasbench-vis's 30,001 single-seed records
  (validation accuracy at 4/12/36/108 epochs) and NASLib's 500 cells (validation
  accuracy, params, FLOPs, and every zero-cost proxy of ``zc_nasbench101.json`` as a
  ``zc_<proxy>`` column, see :mod:`nasrank.benchmarks.zero_cost`), joined to their
  cells through the project's own hash.

Usage::

    space = space_table()                                  # pyarrow.Table, 423,624 rows
    tables = ingest(Path("data/raw/nb101"), space=space)   # {"nb101": Processed}
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pyarrow as pa

from nasrank.benchmarks.common import Processed, load_json, require_keys
from nasrank.benchmarks.zero_cost import (
    ZCRecord,
    failed_counts,
    mean_record,
    proxy_names,
    read_zc_records,
    records_by_row,
    require_scores,
    timed_proxies,
    zc_column_docs,
    zc_columns,
    zc_metadata,
)
from nasrank.errors import DataFormatError, OutOfDomainError
from nasrank.spaces.nb101 import (
    INPUT,
    OPS,
    OUTPUT,
    ModelSpec,
    NB101Space,
    enumerate_space,
    hash_module,
    spec_from_codes,
)

VIS_FILES = ("data-20k.json", "data-10k.json")
VIS_1K = "data-1k.json"
NASLIB_FILE = "zc_nasbench101.json"
NASLIB_DATASET = ("nasbench101", "cifar10")
EPOCHS = (4, 12, 36, 108)
# nasbench-vis op codes (data-1k.json): -3 marks padding vertices.
VIS_OPS = {-1: INPUT, -2: OUTPUT, 0: OPS[0], 1: OPS[1], 2: OPS[2]}
VIS_PAD = -3
# NASLib's NB101 tuple: 49 adjacency bits (7x7 row-major) + 7 op codes.
NASLIB_OPS = {0: INPUT, 1: OUTPUT, 2: OPS[2], 3: OPS[1], 4: OPS[0]}

SPACE_COLUMNS = {
    "arch_id": "NAS-Bench-101 module hash (graph_util.hash_module of the pruned cell)",
    "n_vertices": "number of vertices of the pruned cell (2..7)",
    "n_edges": "number of edges of the pruned cell (<= 9)",
    "adjacency": "row-major n x n 0/1 adjacency of the spec NAS-Bench-101 trained",
    "ops": "comma-separated op names per vertex, input first, output last",
    "adj_bits": "edge x->y present iff bit x + y(y-1)/2 is set (generate_graphs order)",
    "labeling": "index of the op labelling in itertools.product(range(3), repeat=n-2), "
    "op codes conv3x3=0, conv1x1=1, maxpool3x3=2",
    "enum_index": "position of this spec among all labelled graphs NAS-Bench-101's "
    "enumeration visits (isomorphic ones included)",
    "io_distance": "edges on the shortest input->output path",
    "uses_conv3x3": "whether any vertex is conv3x3-bn-relu",
}


def space_table(workers: int | None = None, max_vertices: int = 7) -> pa.Table:
    """The enumerated NAS-Bench-101 space as a table, in enumeration order (cells of up
    to ``max_vertices`` vertices; tests use small ones)."""
    cols = enumerate_space(max_vertices=max_vertices, workers=workers)
    adjacency, ops = [], []
    for n, bits, lab in zip(cols["n_vertices"].tolist(), cols["adj_bits"].tolist(),
                            cols["labeling"].tolist(), strict=True):
        spec = spec_from_codes(n, bits, lab)
        adjacency.append("".join(str(v) for row in spec.matrix for v in row))
        ops.append(",".join(spec.ops))
    return pa.table({
        "arch_id": pa.array(cols["arch_id"].tolist(), pa.string()),
        "n_vertices": pa.array(cols["n_vertices"], pa.int8()),
        "n_edges": pa.array(cols["n_edges"], pa.int8()),
        "adjacency": pa.array(adjacency, pa.string()),
        "ops": pa.array(ops, pa.string()),
        "adj_bits": pa.array(cols["adj_bits"], pa.int32()),
        "labeling": pa.array(cols["labeling"], pa.int16()),
        "enum_index": pa.array(cols["enum_index"], pa.int64()),
        "io_distance": pa.array(cols["io_distance"], pa.int8()),
        "uses_conv3x3": pa.array(cols["uses_conv3x3"], pa.bool_()),
    })


def _read_vis(raw_dir: Path) -> dict[str, np.ndarray]:
    """The 30,001 nasbench-vis records (data-20k + data-10k, disjoint)."""
    keys = [f"{e}_final_validation_accuracy" for e in EPOCHS]
    keys += ["final_training_time", "trainable_parameters", "key"]
    parts = []
    for name in VIS_FILES:
        data = load_json(raw_dir / name)
        require_keys(data, keys, str(raw_dir / name))
        lengths = {len(data[k]) for k in keys}
        if len(lengths) != 1:
            raise DataFormatError(f"{raw_dir / name}: columns of unequal length {lengths}")
        parts.append(data)
    out = {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in keys}
    if len(set(out["key"].tolist())) != len(out["key"]):
        raise DataFormatError(f"{raw_dir}: {VIS_FILES} share keys; they should be disjoint")
    return out


def check_vis_1k(raw_dir: Path) -> int:
    """Recompute the hash of every data-1k record from its adjacency and ops.

    Returns:
        The number of records checked (all must match).

    Raises:
        DataFormatError: naming the first record whose hash differs.
    """
    path = raw_dir / VIS_1K
    data = load_json(path)
    require_keys(data, ["key", "adjacency", "operations"], str(path))
    space = NB101Space()
    for i, (key, adj, codes) in enumerate(
        zip(data["key"], data["adjacency"], data["operations"], strict=True)
    ):
        keep = [j for j, c in enumerate(codes) if c != VIS_PAD]
        matrix = np.asarray(adj, dtype=np.int8)[np.ix_(keep, keep)]
        try:
            spec = ModelSpec(matrix, [VIS_OPS[codes[j]] for j in keep])
            got = space.arch_id(spec)
        except (KeyError, OutOfDomainError) as exc:
            raise DataFormatError(f"{path}: record {i} ({key}) is not a valid cell: "
                                  f"{exc}") from exc
        if got != key:
            raise DataFormatError(f"{path}: record {i}: stored key {key}, recomputed {got}")
    return len(data["key"])


def naslib_spec(key: str) -> ModelSpec:
    """The cell of one NASLib NB101 key ``"(49 adjacency bits, 7 op codes)"``."""
    values = ast.literal_eval(key)
    if len(values) != 56:
        raise DataFormatError(f"NASLib NB101 key has {len(values)} entries, expected 56")
    matrix = np.asarray(values[:49], dtype=np.int8).reshape(7, 7)
    return ModelSpec(matrix, [NASLIB_OPS[c] for c in values[49:]])


def naslib_entries(raw_dir: Path) -> list[tuple[str, ModelSpec, ZCRecord]]:
    """NASLib's entries in file order: ``(arch_id, pruned spec, record)``.

    Its keys are unpruned 7-vertex specs, so several keys can prune to the same cell
    (the 500 entries are 292 cells); the spec keeps NASLib's own vertex order. The
    records are parsed by :func:`nasrank.benchmarks.zero_cost.read_zc_records`: the
    file's proxies are bare scores (no compute times), ``params`` and ``flops`` among
    them.

    Raises:
        DataFormatError: naming the file and the key that is malformed or not a cell,
            or whose record lacks ``val_accuracy``, ``params`` or ``flops``.
    """
    path = raw_dir / NASLIB_FILE
    records = read_zc_records(path, NASLIB_DATASET)
    space = NB101Space()
    out = []
    for key, rec in records.items():
        require_scores(rec, ["params", "flops"], f"{path}: {key}")
        try:
            spec = space.validate(naslib_spec(key))
        except (KeyError, OutOfDomainError, ValueError, SyntaxError) as exc:
            raise DataFormatError(f"{path}: key {key!r} is not a NAS-Bench-101 cell: "
                                  f"{exc}") from exc
        out.append((hash_module(spec.array, spec.labeling), spec, rec))
    return out


def naslib_cells(raw_dir: Path) -> tuple[dict[str, ZCRecord], dict[str, int], list[ZCRecord]]:
    """NASLib's entries averaged per cell (NASLib queried a random seed for each).

    Returns:
        ``(cells, n_entries, entries)``: per arch_id (first-met order) the mean record
        (mean ``val_accuracy``, mean score of every proxy), the number of entries that
        prune to it, and all entries as read.
    """
    entries = naslib_entries(raw_dir)
    groups: dict[str, list[ZCRecord]] = {}
    for arch_id, _, rec in entries:
        groups.setdefault(arch_id, []).append(rec)
    cells = {k: mean_record(v) for k, v in groups.items()}
    return cells, {k: len(v) for k, v in groups.items()}, [rec for _, _, rec in entries]


COLUMNS = {
    "arch_id": SPACE_COLUMNS["arch_id"],
    "n_vertices": SPACE_COLUMNS["n_vertices"],
    "adjacency": SPACE_COLUMNS["adjacency"],
    "ops": SPACE_COLUMNS["ops"],
    **{
        f"val_acc_{e}": f"CIFAR-10 validation accuracy (%) after {e} epochs, ONE training run "
        "(nasbench-vis); null for cells only in NASLib's file"
        for e in EPOCHS
    },
    "train_time_108": "training time (s) of that 108-epoch run (nasbench-vis)",
    "trainable_params": "trainable parameters of the network (nasbench-vis)",
    "naslib_val_acc": "CIFAR-10 validation accuracy (%) in NASLib's zc_nasbench101.json "
    "(108 epochs, one random seed per entry), mean over the entries that prune to this "
    "cell; null for cells not in that file",
    "naslib_params": "parameters in millions as NASLib's file gives them (mean over entries)",
    "naslib_flops": "FLOPs in millions as NASLib's file gives them (mean over entries)",
    "naslib_n_entries": "number of entries of NASLib's file that prune to this cell (0: none)",
    "in_vis": "cell is among nasbench-vis's 30,001 records",
    "in_naslib": "cell is among NASLib's 500",
    "io_distance": SPACE_COLUMNS["io_distance"],
    "uses_conv3x3": SPACE_COLUMNS["uses_conv3x3"],
}


def ingest(raw_dir: Path, space: pa.Table | None = None) -> dict[str, Processed]:
    """Join the labelled records to their cells.

    Args:
        raw_dir: ``data/raw/nb101`` with the registered files.
        space: the table of :func:`space_table` (enumerated when not given).

    Raises:
        DataFormatError: a malformed file, or a record whose key is not in the space.
    """
    n_checked = check_vis_1k(raw_dir)
    vis = _read_vis(raw_dir)
    naslib_recs, naslib_counts, naslib_all = naslib_cells(raw_dir)
    naslib_ids = list(naslib_recs)
    naslib = {
        "arch_id": naslib_ids,
        "val_acc": [naslib_recs[k].val_accuracy for k in naslib_ids],
        "params": [naslib_recs[k].scores["params"] for k in naslib_ids],
        "flops": [naslib_recs[k].scores["flops"] for k in naslib_ids],
        "n_entries": [naslib_counts[k] for k in naslib_ids],
    }
    if space is None:
        space = space_table()
    index = {k: i for i, k in enumerate(space.column("arch_id").to_pylist())}

    ids = sorted(set(vis["key"].tolist()) | set(naslib["arch_id"]))
    missing = [k for k in ids if k not in index]
    if missing:
        raise DataFormatError(f"{raw_dir}: {len(missing)} record keys are not in the "
                              f"enumerated space, e.g. {missing[:5]}")
    rows = pa.array([index[k] for k in ids], pa.int64())
    cells = space.take(rows)
    pos = {k: i for i, k in enumerate(ids)}
    n = len(ids)

    def scatter(keys: list[str], values: np.ndarray, typ: pa.DataType) -> pa.Array:
        out = np.zeros(n, dtype=np.float64 if pa.types.is_floating(typ) else np.int64)
        mask = np.ones(n, dtype=bool)
        where = np.fromiter((pos[k] for k in keys), dtype=np.int64, count=len(keys))
        out[where] = values
        mask[where] = False
        return pa.array(out, typ, mask=mask)

    vis_keys = vis["key"].tolist()
    table = {
        "arch_id": pa.array(ids, pa.string()),
        "n_vertices": cells.column("n_vertices"),
        "adjacency": cells.column("adjacency"),
        "ops": cells.column("ops"),
    }
    for e in EPOCHS:
        acc = 100.0 * np.asarray(vis[f"{e}_final_validation_accuracy"], dtype=np.float64)
        table[f"val_acc_{e}"] = scatter(vis_keys, acc, pa.float64())
    table["train_time_108"] = scatter(vis_keys, vis["final_training_time"].astype(float),
                                      pa.float64())
    table["trainable_params"] = scatter(vis_keys, vis["trainable_parameters"].astype(np.int64),
                                        pa.int64())
    for col, src in (("naslib_val_acc", "val_acc"), ("naslib_params", "params"),
                     ("naslib_flops", "flops")):
        table[col] = scatter(naslib["arch_id"], np.asarray(naslib[src]), pa.float64())
    entries = scatter(naslib["arch_id"], np.asarray(naslib["n_entries"]), pa.int64())
    table["naslib_n_entries"] = entries.fill_null(0)
    vis_set, naslib_set = set(vis_keys), set(naslib["arch_id"])
    table["in_vis"] = pa.array([k in vis_set for k in ids], pa.bool_())
    table["in_naslib"] = pa.array([k in naslib_set for k in ids], pa.bool_())
    table["io_distance"] = cells.column("io_distance")
    table["uses_conv3x3"] = cells.column("uses_conv3x3")
    proxies, timed = proxy_names(naslib_all), timed_proxies(naslib_all)
    table.update(zc_columns(records_by_row(ids, naslib_recs), proxies, timed))
    zc_docs = zc_column_docs(
        proxies, timed, NASLIB_FILE,
        f"the {len(naslib_recs)} cells of NASLib's 500 entries (mean over the entries "
        "that prune to the cell; the file records no compute times)",
    )
    zero_cost = zc_metadata(table, proxies, timed, dict.fromkeys(proxies, NASLIB_FILE),
                            failed_counts(naslib_all), "nb101")
    return {
        "nb101": Processed(
            table=pa.table(table),
            columns={**COLUMNS, **zc_docs},
            sources=[*VIS_FILES, VIS_1K, NASLIB_FILE],
            notes=(
                "nasbench-vis holds ONE training run per cell (not the 3-seed mean of the "
                "official file) and no test accuracy. Specs are the labelling NAS-Bench-101 "
                f"trained (first met by its enumeration). data-1k hashes recomputed: "
                f"{n_checked}/{n_checked} match."
            ),
            extra={"default_target": "val_acc_108", "n_vis": len(vis_set),
                   "n_naslib": len(naslib_set), "n_both": len(vis_set & naslib_set),
                   "zero_cost": zero_cost},
        )
    }
