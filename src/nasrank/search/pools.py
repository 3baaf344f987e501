"""Labelled pools of processed tables: what a search picks among, and how ReNAS draws a
predictor's training sample.

A table's candidates are its labelled architectures (``Pool``), optionally restricted to
a ``subspace``: NAS-Bench-101 labels 30,001 of its 423,624 cells in the files used here,
so its searches pick among those, and every output says so. Ranks and percentiles are
within all labelled architectures of the table.

Usage::

    lp = load_pool(params, TableId("nb101"), subspace="io1_conv3x3")
    lp.pool, lp.candidates                  # the Pool; what the outputs say about it
    SAMPLES["flops"][1](len(lp.pool), 424, rng, cost)   # ReNAS's uniform-by-FLOPs sample
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from nasrank.errors import ConfigError, DataFormatError, NasrankError, UnknownNameError
from nasrank.io import read_metadata
from nasrank.paths import Paths, TableId
from nasrank.search import Pool
from nasrank.spaces import get_space
from nasrank.spaces.base import SearchSpace

__all__ = ["COSTS", "SAMPLES", "SUBSPACES", "LabelledPool", "load_pool", "percentile_rank",
           "space_of"]


def _nbgraph_space(task: str | None) -> SearchSpace:
    from nasrank.spaces.nbgraph import NBGraphSpace

    return NBGraphSpace.for_dataset(task or "")


#: benchmarks whose tables' space is not ``nasrank.spaces.get_space(bench)``
SPACE_OF_TABLE: dict[str, Callable[[str | None], SearchSpace]] = {
    "nbgraph": _nbgraph_space,                     # proteins has its own op list
    "nb101_full": lambda task: get_space("nb101"),  # the official file labels it all
}


def space_of(bench: str, task: str | None) -> SearchSpace:
    """The search space of a benchmark's table.

    Raises:
        UnknownNameError: no search space is registered for ``bench``.
    """
    if bench in SPACE_OF_TABLE:
        return SPACE_OF_TABLE[bench](task)
    return get_space(bench)


def _nb101_rows(params: dict[str, Any], ids: np.ndarray) -> pa.Table:
    """Rows of the enumerated NB101 space for ``ids`` (codes of the canonical spec)."""
    path = Paths.of(params).space("nb101")
    if not path.is_file():
        raise NasrankError(f"{path} is missing; run `nasrank enumerate nb101` first")
    space = pq.read_table(path, columns=["arch_id", "n_vertices", "adj_bits", "labeling",
                                         "adjacency", "ops", "io_distance", "uses_conv3x3"])
    index = {k: i for i, k in enumerate(space.column("arch_id").to_pylist())}
    missing = [k for k in ids if k not in index]
    if missing:
        raise DataFormatError(f"{path}: {len(missing)} labelled cells are not in the "
                              f"enumerated space, e.g. {missing[0]}")
    return space.take(pa.array([index[k] for k in ids], pa.int64()))


def _specs(bench: str, space: SearchSpace, ids: np.ndarray,
           params: dict[str, Any]) -> list[Hashable]:
    """Canonical specs of ``ids`` (their ``arch_id`` strings, or NB101's enumeration codes)."""
    if bench in ("nb101", "nb101_full"):
        from nasrank.spaces.nb101 import spec_from_codes

        rows = _nb101_rows(params, ids)
        return [spec_from_codes(int(n), int(a), int(lab)) for n, a, lab in zip(
            rows.column("n_vertices").to_pylist(), rows.column("adj_bits").to_pylist(),
            rows.column("labeling").to_pylist(), strict=True)]
    if bench in ("nb201", "tnb101_micro"):
        module = {"nb201": "nasrank.spaces.nb201", "tnb101_micro": "nasrank.spaces.tnb101"}
        import importlib

        str_to_arch = importlib.import_module(module[bench]).str_to_arch
        return [str_to_arch(k) for k in ids]
    return [space.validate(k) for k in ids]


def _io1_conv3x3(params: dict[str, Any], bench: str, ids: np.ndarray) -> np.ndarray:
    rows = _nb101_rows(params, ids)
    return (rows.column("io_distance").to_numpy() == 1) & rows.column(
        "uses_conv3x3").to_numpy(zero_copy_only=False)


#: subspace -> (benchmarks it applies to, description, mask(params, bench, ids))
SUBSPACES: dict[str, tuple[tuple[str, ...], str, Callable[..., np.ndarray] | None]] = {
    "all": ((), "every labelled architecture", None),
    "io1_conv3x3": (("nb101", "nb101_full"),
                    "cells with an input->output edge and a conv3x3 (ReNAS Table 6)",
                    _io1_conv3x3),
}


def _nb101_cost(params: dict[str, Any], ids: np.ndarray, what: str) -> np.ndarray:
    from nasrank.encodings.nb101 import decode
    from nasrank.spaces.nb101_network import cell_costs, network_flops, network_params

    adj, ops, n = decode(_nb101_rows(params, ids))
    costs = cell_costs(adj, n, ops)
    if what == "params":
        return network_params(costs).astype(np.float64)
    return network_flops(costs, params["encodings"]["renas_tensor"]["flops"]).astype(np.float64)


#: cost attribute per benchmark, for the ``params`` / ``flops`` training-sample selection
COSTS: dict[str, Callable[[dict[str, Any], np.ndarray, str], np.ndarray]] = {
    "nb101": _nb101_cost,
    "nb101_full": _nb101_cost,
}


def _sample_random(pool_size: int, n: int, rng: np.random.Generator,
                   cost: np.ndarray | None) -> np.ndarray:
    return np.sort(rng.choice(pool_size, size=n, replace=False))


def _sample_uniform(pool_size: int, n: int, rng: np.random.Generator,
                    cost: np.ndarray | None) -> np.ndarray:
    """ReNAS: sort by the cost, select uniformly: positions ``floor((k + u) N / n)``."""
    assert cost is not None
    order = np.argsort(cost, kind="stable")
    u = rng.random()
    pos = np.floor((np.arange(n) + u) * pool_size / n).astype(np.int64)
    return np.sort(order[np.minimum(pos, pool_size - 1)])


#: training-sample selection -> (cost attribute or None, selector)
SAMPLES: dict[str, tuple[str | None, Callable[..., np.ndarray]]] = {
    "random": (None, _sample_random),
    "params": ("params", _sample_uniform),
    "flops": ("flops", _sample_uniform),
}


@dataclass(frozen=True)
class LabelledPool:
    """The searched pool of a table and what the outputs say about it."""

    pool: Pool
    space: SearchSpace
    target: str
    n_labelled: int              # labelled architectures of the table
    space_size: int              # architectures of the search space
    labelled_acc: np.ndarray     # every labelled accuracy of the table (for ranks)
    candidates: str


def load_pool(params: dict[str, Any], table: str, target: str | None = None,
              subspace: str = "all") -> LabelledPool:
    """The labelled architectures of ``data/processed/<table>.parquet`` as a search pool.

    Raises:
        UnknownNameError: an unknown benchmark or subspace.
        ConfigError: a subspace of another benchmark; a table with no labelled
            architecture (a search needs labels).
        NasrankError: a missing processed table.
    """
    from nasrank.train import load_labels

    table = TableId(table)
    bench = table.bench
    space = space_of(bench, table.task)
    if subspace not in SUBSPACES:
        raise UnknownNameError("subspace", subspace, list(SUBSPACES))
    benches, sub_text, mask_fn = SUBSPACES[subspace]
    if benches and bench not in benches:
        raise ConfigError(f"subspace {subspace!r} is defined for {', '.join(benches)}, "
                          f"not {bench!r}")
    path = Paths.of(params).processed(table)
    if not path.is_file():
        raise NasrankError(f"{path} is missing; run `nasrank ingest {bench}` first")
    ids, acc, target = load_labels(path, target)
    if len(ids) == 0:
        raise ConfigError(f"{path}: no architecture is labelled with {target!r}; a search "
                          "needs labelled candidates")
    n_rows = pq.read_metadata(path).num_rows
    keep = np.ones(len(ids), dtype=bool) if mask_fn is None else mask_fn(params, bench, ids)
    if not keep.any():
        raise ConfigError(f"{path}: no labelled architecture in subspace {subspace!r}")
    specs = _specs(bench, space, ids[keep], params)
    pool = Pool(ids[keep], acc[keep], specs)
    space_size = space.size()
    words = (f"the {len(pool):,} architectures of {table} labelled with {target}"
             + ("" if subspace == "all" else f" in subspace {subspace} ({sub_text})")
             + (f"; {space_size:,} in the search space" if space_size != n_rows else "")
             + ("; the labels are surrogate predictions, not trained accuracies"
                if read_metadata(path).get("surrogate_labels") else ""))
    return LabelledPool(pool, space, target, len(ids), space_size, acc, words)


def percentile_rank(labelled_acc: np.ndarray, accuracy: float) -> tuple[int, float]:
    """Rank (1 = best; ties share) among the labelled accuracies, and rank / N * 100."""
    rank = int((labelled_acc > accuracy).sum()) + 1
    return rank, rank / len(labelled_acc) * 100
