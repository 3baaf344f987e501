"""The NAS-Bench-101 cell space: specs, pruning, the official graph hash, enumeration.

A cell is a DAG of at most 7 vertices and 9 edges; vertex 0 is the input, the last
vertex the output, every other vertex one of three operations. Two cells are the same
architecture when their pruned graphs are isomorphic with equal labels; NAS-Bench-101
identifies them by ``hash_module``, an MD5-based Weisfeiler-Lehman fingerprint that this
module reproduces exactly (the keys of every NAS-Bench-101 file).

Usage::

    from nasrank.spaces.nb101 import ModelSpec, NB101Space
    spec = ModelSpec(matrix=[[0, 1, 1], [0, 0, 1], [0, 0, 0]],
                     ops=["input", "conv3x3-bn-relu", "output"])
    space = NB101Space()
    print(space.arch_id(spec))          # the 32-hex NAS-Bench-101 module hash
    table = enumerate_space()           # all 423,624 cells as numpy columns

Enumeration follows ``generate_graphs.py`` of google-research/nasbench: graphs grow by
vertex count; for each count, every upper-triangular adjacency bitmask (edge x->y is bit
``x + y(y-1)/2``) in increasing order; for each graph, the op labellings in
``itertools.product`` order (conv3x3=0, conv1x1=1, maxpool3x3=2). The first spec met for a
hash is the one NAS-Bench-101 trained; its vertex order matters for parameter counts.
To reach the whole space in seconds, isomorphism classes are first found with a
vectorised 64-bit Weisfeiler-Lehman refinement (the same refinement as the official hash,
with a different hash function) and the official MD5 hash is then computed once per
class, memoised per refinement colour.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from nasrank.errors import OutOfDomainError
from nasrank.spaces.base import SearchSpace

INPUT = "input"
OUTPUT = "output"
CONV3X3 = "conv3x3-bn-relu"
CONV1X1 = "conv1x1-bn-relu"
MAXPOOL3X3 = "maxpool3x3"
OPS: tuple[str, ...] = (CONV3X3, CONV1X1, MAXPOOL3X3)
OP_CODE = {INPUT: -1, OUTPUT: -2, **{op: i for i, op in enumerate(OPS)}}
MAX_VERTICES = 7
MAX_EDGES = 9
SPACE_SIZE = 423_624


@dataclass(frozen=True)
class ModelSpec:
    """A NAS-Bench-101 cell: an upper-triangular 0/1 adjacency matrix and op names.

    The constructor only normalises types; :meth:`NB101Space.validate` prunes and
    checks membership.
    """

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    def __init__(self, matrix: Sequence[Sequence[int]] | np.ndarray, ops: Sequence[str]):
        if isinstance(matrix, np.ndarray) and matrix.dtype.kind in "iub":
            rows = tuple(tuple(row) for row in matrix.astype(np.int64).tolist())  # fast path
        else:
            rows = tuple(tuple(_entry(v) for v in row) for row in matrix)
        object.__setattr__(self, "matrix", rows)
        object.__setattr__(self, "ops", tuple(ops))

    @property
    def array(self) -> np.ndarray:
        """The adjacency matrix as an ``int8`` array (validate the spec first)."""
        return np.array(self.matrix, dtype=np.int8)

    @property
    def labeling(self) -> list[int]:
        """Op codes as the official hash takes them (-1 input, -2 output, 0..2 ops)."""
        return [OP_CODE[op] for op in self.ops]


def hash_module(matrix: np.ndarray, labeling: Sequence[int]) -> str:
    """NAS-Bench-101's ``graph_util.hash_module``: the 32-hex MD5 key of a pruned cell."""
    matrix = np.asarray(matrix)
    vertices = matrix.shape[0]
    in_edges = matrix.sum(axis=0).tolist()
    out_edges = matrix.sum(axis=1).tolist()
    hashes = [
        hashlib.md5(str(h).encode("utf-8")).hexdigest()
        for h in zip(out_edges, in_edges, labeling, strict=True)
    ]
    preds = [[w for w in range(vertices) if matrix[w, v]] for v in range(vertices)]
    succs = [[w for w in range(vertices) if matrix[v, w]] for v in range(vertices)]
    for _ in range(vertices):
        hashes = [
            hashlib.md5(
                (
                    "".join(sorted(hashes[w] for w in preds[v]))
                    + "|"
                    + "".join(sorted(hashes[w] for w in succs[v]))
                    + "|"
                    + hashes[v]
                ).encode("utf-8")
            ).hexdigest()
            for v in range(vertices)
        ]
    return hashlib.md5(str(sorted(hashes)).encode("utf-8")).hexdigest()


def prune(matrix: np.ndarray, ops: Sequence[str]) -> tuple[np.ndarray, list[str]] | None:
    """Drop vertices not on an input->output path (NAS-Bench-101's ``ModelSpec._prune``).

    Returns:
        The pruned ``(matrix, ops)``, or ``None`` when the output is unreachable.
    """
    n = matrix.shape[0]
    from_input = {0}
    for v in range(1, n):
        if any(matrix[u, v] for u in from_input):
            from_input.add(v)
    to_output = {n - 1}
    for v in range(n - 2, -1, -1):
        if any(matrix[v, w] for w in to_output):
            to_output.add(v)
    keep = sorted(from_input & to_output)
    if 0 not in keep or n - 1 not in keep:
        return None
    return matrix[np.ix_(keep, keep)], [ops[i] for i in keep]


def io_distance(matrix: np.ndarray) -> int:
    """Length (in edges) of the shortest input->output path of a pruned cell."""
    n = matrix.shape[0]
    dist = [0] + [n] * (n - 1)
    for v in range(1, n):
        preds = [dist[u] for u in range(v) if matrix[u, v]]
        dist[v] = min(preds) + 1 if preds else n
    return dist[n - 1]


def _entry(value: object) -> int | float:
    """A matrix entry as a Python number, kept exact so validation sees e.g. 1.5."""
    number = value.item() if isinstance(value, np.generic) else value
    if isinstance(number, bool):
        return int(number)
    if isinstance(number, int | float) and float(number).is_integer():
        return int(number)
    return number  # type: ignore[return-value]


class NB101Space(SearchSpace):
    """The NAS-Bench-101 space (423,624 cells up to isomorphism)."""

    name = "nb101"

    def validate(self, arch: ModelSpec) -> ModelSpec:
        """Check shape, ops and limits, then prune.

        Raises:
            OutOfDomainError: naming the violated rule.
        """
        if not isinstance(arch, ModelSpec):
            raise OutOfDomainError(f"NB101 architecture must be a ModelSpec, got "
                                   f"{type(arch).__name__}")
        return _validated(arch)

    def arch_id(self, arch: ModelSpec) -> str:
        return _hash_of(self.validate(arch))

    def size(self) -> int:
        return SPACE_SIZE

    def enumerate(self) -> Iterator[ModelSpec]:
        """The first spec of each class in NAS-Bench-101's enumeration order."""
        space = enumerate_space()
        for n, bits, lab in zip(space["n_vertices"], space["adj_bits"], space["labeling"],
                                strict=True):
            yield spec_from_codes(int(n), int(bits), int(lab))

    def sample(self, rng: np.random.Generator) -> ModelSpec:
        """Uniform over the 423,624 classes (rejection sampling of random 7-vertex DAGs
        is not uniform over classes, so this draws from the enumeration)."""
        space = _cached_space()
        i = int(rng.integers(len(space["arch_id"])))
        return spec_from_codes(int(space["n_vertices"][i]), int(space["adj_bits"][i]),
                               int(space["labeling"][i]))

    def mutate(self, arch: ModelSpec, rng: np.random.Generator) -> ModelSpec:
        """Flip one edge or change one op (NAS-Bench-101's mutation), until the child is
        valid and a different architecture. Cells where no single move changes the
        architecture (input->output alone) get two moves, then three, and so on."""
        spec = self.validate(arch)
        parent = self.arch_id(spec)
        n = len(spec.ops)
        matrix = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=np.int8)
        matrix[: n - 1, : n - 1] = spec.array[: n - 1, : n - 1]
        matrix[: n - 1, MAX_VERTICES - 1] = spec.array[: n - 1, n - 1]
        ops = [*spec.ops[:-1], *([CONV3X3] * (MAX_VERTICES - n)), OUTPUT]
        upper = [(x, y) for y in range(MAX_VERTICES) for x in range(y)]
        for attempt in range(10_000):
            child_m, child_ops = matrix.copy(), list(ops)
            for _ in range(1 + attempt // 500):
                if rng.random() < 0.5:
                    x, y = upper[int(rng.integers(len(upper)))]
                    child_m[x, y] ^= 1
                else:
                    v = int(rng.integers(1, MAX_VERTICES - 1))
                    child_ops[v] = OPS[int(rng.integers(len(OPS)))]
            try:
                child = self.validate(ModelSpec(child_m, child_ops))
            except OutOfDomainError:
                continue
            if _hash_of(child) != parent:
                return child
        raise OutOfDomainError(f"no valid mutation found for {parent}")


# Searches validate and hash the same cells over and over (a parent per mutation, a child
# once in mutate and once for the pool look-up): both are pure functions of the spec.
@functools.lru_cache(maxsize=1 << 17)
def _hash_of(spec: ModelSpec) -> str:
    """``hash_module`` of a validated (pruned) spec."""
    return hash_module(spec.array, spec.labeling)


@functools.lru_cache(maxsize=1 << 17)
def _validated(arch: ModelSpec) -> ModelSpec:
    """:meth:`NB101Space.validate` of a spec (errors are not cached: they re-raise)."""
    n = len(arch.ops)
    if n < 2 or arch.ops[0] != INPUT or arch.ops[-1] != OUTPUT:
        raise OutOfDomainError(f"ops must start with {INPUT!r} and end with {OUTPUT!r}: "
                               f"{list(arch.ops)}")
    shape = (len(arch.matrix), *{len(row) for row in arch.matrix})
    if shape != (n, n):
        raise OutOfDomainError(f"matrix of {len(arch.matrix)} rows with lengths "
                               f"{sorted({len(r) for r in arch.matrix})} does not match "
                               f"{n} ops (expected {n} x {n})")
    if not all(v in (0, 1) for row in arch.matrix for v in row):
        raise OutOfDomainError("matrix entries must be 0/1")
    matrix = arch.array
    bad = [op for op in arch.ops[1:-1] if op not in OPS]
    if bad:
        raise OutOfDomainError(f"unknown op(s) {bad}; allowed: {list(OPS)}")
    if np.tril(matrix).any():
        raise OutOfDomainError("matrix must be strictly upper-triangular")
    pruned = prune(matrix, arch.ops)
    if pruned is None:
        raise OutOfDomainError("output is not reachable from input")
    pm, pops = pruned
    if len(pops) > MAX_VERTICES:
        raise OutOfDomainError(f"{len(pops)} vertices after pruning > {MAX_VERTICES}")
    if int(pm.sum()) > MAX_EDGES:
        raise OutOfDomainError(f"{int(pm.sum())} edges after pruning > {MAX_EDGES}")
    return ModelSpec(pm, pops)


def spec_from_codes(n_vertices: int, adj_bits: int, labeling: int) -> ModelSpec:
    """The spec of an enumeration row: vertex count, edge bitmask, labelling index."""
    matrix = np.zeros((n_vertices, n_vertices), dtype=np.int8)
    for y in range(n_vertices):
        for x in range(y):
            matrix[x, y] = (adj_bits >> (x + y * (y - 1) // 2)) & 1
    digits = np.base_repr(labeling, 3).zfill(n_vertices - 2) if n_vertices > 2 else ""
    ops = [INPUT, *(OPS[int(d)] for d in digits), OUTPUT]
    return ModelSpec(matrix, ops)


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 finaliser of ``x ^ salt`` (elementwise, wrapping uint64 arithmetic)."""
    x = x ^ np.uint64(salt)
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _graphs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Bitmasks (increasing) and matrices of the n-vertex graphs the enumeration keeps:
    at most 9 edges, every non-output vertex with an out-edge, every non-input vertex
    with an in-edge (``graph_util.is_full_dag``)."""
    edges = [(x, y) for y in range(n) for x in range(y)]
    bits = np.arange(1 << len(edges), dtype=np.int64)
    count = np.zeros(len(bits), dtype=np.int64)
    for x, y in edges:
        count += (bits >> (x + y * (y - 1) // 2)) & 1
    bits = bits[count <= MAX_EDGES]
    mats = np.zeros((len(bits), n, n), dtype=np.uint8)
    for x, y in edges:
        mats[:, x, y] = (bits >> (x + y * (y - 1) // 2)) & 1
    full = mats[:, : n - 1, :].any(axis=2).all(axis=1) & mats[:, :, 1:].any(axis=1).all(axis=1)
    return bits[full], mats[full]


def _wl_classes(mats: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Vectorised WL refinement of every (graph, labelling) pair of one vertex count.

    Returns:
        The graph fingerprint per pair (shape ``(S*L,)``, row-major over graph then
        labelling) and the per-vertex colours after each iteration (``n + 1`` arrays
        of shape ``(S*L, n)``), used to memoise the official MD5 hash.
    """
    s, n = mats.shape[0], mats.shape[1]
    n_lab = labels.shape[0]
    adj = mats.astype(np.uint64)
    in_deg = mats.sum(axis=1).astype(np.uint64)  # (S, n)
    out_deg = mats.sum(axis=2).astype(np.uint64)
    lab = (labels + 2).astype(np.uint64)  # (L, n), codes 0..4
    colour = _mix(
        (out_deg[:, None, :] * np.uint64(64) + in_deg[:, None, :] * np.uint64(8))
        + lab[None, :, :],
        1,
    )  # (S, L, n)
    history = [colour.reshape(s * n_lab, n)]
    for it in range(n):
        g_in = _mix(colour, 2 + 3 * it)
        g_out = _mix(colour, 3 + 3 * it)
        agg_in = np.matmul(g_in, adj)  # sum over predecessors w of g(colour[w])
        agg_out = np.matmul(g_out, adj.transpose(0, 2, 1))
        colour = _mix(_mix(agg_in, 101) + _mix(agg_out, 202) * np.uint64(3) + colour, 4 + it)
        history.append(colour.reshape(s * n_lab, n))
    fingerprint = _mix(colour, 999).sum(axis=2, dtype=np.uint64)
    return fingerprint.reshape(-1), history


def _md5_of_classes(
    mats: np.ndarray, labels: np.ndarray, graph_idx: np.ndarray, lab_idx: np.ndarray,
    history: list[np.ndarray],
) -> list[str]:
    """Official ``hash_module`` of the given (graph, labelling) rows, memoised: the MD5
    colour of a vertex after t iterations is a function of its WL colour after t
    iterations, so each distinct colour is hashed once. ``history`` holds the WL colours
    of exactly these rows."""
    n = mats.shape[1]
    preds = [[np.flatnonzero(m[:, v]).tolist() for v in range(n)] for m in mats]
    succs = [[np.flatnonzero(m[v, :]).tolist() for v in range(n)] for m in mats]
    in_deg = mats.sum(axis=1).tolist()
    out_deg = mats.sum(axis=2).tolist()
    lab = labels.tolist()
    md5 = hashlib.md5
    graphs = graph_idx.tolist()
    memo: dict[int, str] = {}
    hashes: list[list[str]] = []
    for g, li, cols in zip(graphs, lab_idx.tolist(), history[0].tolist(), strict=True):
        row = []
        for v in range(n):
            h = memo.get(cols[v])
            if h is None:
                h = md5(str((out_deg[g][v], in_deg[g][v], lab[li][v])).encode()).hexdigest()
                memo[cols[v]] = h
            row.append(h)
        hashes.append(row)
    for t in range(1, n + 1):
        memo = {}
        new_hashes = []
        for g, old, cols in zip(graphs, hashes, history[t].tolist(), strict=True):
            row = []
            p, q = preds[g], succs[g]
            for v in range(n):
                h = memo.get(cols[v])
                if h is None:
                    h = md5(("".join(sorted([old[w] for w in p[v]])) + "|"
                             + "".join(sorted([old[w] for w in q[v]])) + "|" + old[v])
                            .encode()).hexdigest()
                    memo[cols[v]] = h
                row.append(h)
            new_hashes.append(row)
        hashes = new_hashes
    return [md5(str(sorted(h)).encode()).hexdigest() for h in hashes]


_JOB: dict[str, object] = {}


def _set_job(job: dict[str, object]) -> None:
    """Worker initializer: the arrays every chunk of :func:`_parallel_md5` reads."""
    _JOB.update(job)


def _md5_job(bounds: tuple[int, int]) -> list[str]:
    """Worker: hash rows ``bounds`` of the job set up by :func:`_set_job`."""
    lo, hi = bounds
    job = _JOB
    return _md5_of_classes(
        job["mats"], job["labels"], job["graph_idx"][lo:hi], job["lab_idx"][lo:hi],
        [h[lo:hi] for h in job["history"]],
    )


def _parallel_md5(
    mats: np.ndarray, labels: np.ndarray, graph_idx: np.ndarray, lab_idx: np.ndarray,
    history: list[np.ndarray], workers: int,
) -> list[str]:
    """:func:`_md5_of_classes` split over ``workers`` processes.

    The workers come from a fork server, not a fork of this process: a process that
    has loaded pyarrow runs jemalloc's background thread, and a fork taken while that
    thread holds an allocator lock deadlocks the child (seen as a hung
    ``nasrank enumerate``). The arrays reach each worker once, by its initializer.
    """
    rows = len(graph_idx)
    if workers <= 1 or rows < 20_000:
        return _md5_of_classes(mats, labels, graph_idx, lab_idx, history)
    job = {"mats": mats, "labels": labels, "graph_idx": graph_idx, "lab_idx": lab_idx,
           "history": history}
    chunks = 4 * workers
    edges = np.linspace(0, rows, chunks + 1).astype(int)
    ctx = multiprocessing.get_context("forkserver")
    with ctx.Pool(workers, initializer=_set_job, initargs=(job,)) as pool:
        parts = pool.map(_md5_job, list(itertools.pairwise(edges.tolist())))
    return [h for part in parts for h in part]


def enumerate_space(
    max_vertices: int = MAX_VERTICES, workers: int | None = None
) -> dict[str, np.ndarray]:
    """Every NAS-Bench-101 cell once, as the first spec NAS-Bench-101's enumeration meets.

    Returns:
        Columns (numpy arrays, one row per cell, in enumeration order): ``arch_id``
        (official hash), ``n_vertices``, ``adj_bits`` (edge x->y at bit x + y(y-1)/2),
        ``labeling`` (index into ``itertools.product(range(3), repeat=n-2)``),
        ``n_edges``, ``io_distance``, ``uses_conv3x3``, ``enum_index`` (position of the
        spec among all labelled graphs the enumeration visits, isomorphic ones included).
        The MD5 part runs in ``workers`` forked processes (default: all cores).
    """
    workers = workers or os.cpu_count() or 1
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (
        "arch_id", "n_vertices", "adj_bits", "labeling", "n_edges", "io_distance",
        "uses_conv3x3", "enum_index")}
    offset = 0
    for n in range(2, max_vertices + 1):
        bits, mats = _graphs(n)
        labels = np.array(
            [[-1, *lab, -2] for lab in itertools.product(range(len(OPS)), repeat=n - 2)],
            dtype=np.int64,
        )
        fingerprint, history = _wl_classes(mats, labels)
        _, first = np.unique(fingerprint, return_index=True)
        first.sort()
        graph_idx, lab_idx = np.divmod(first, len(labels))
        history = [h[first] for h in history]
        ids = _parallel_md5(mats, labels, graph_idx, lab_idx, history, workers)
        cols["arch_id"].append(np.array(ids, dtype=object))
        cols["n_vertices"].append(np.full(len(first), n, dtype=np.int8))
        cols["adj_bits"].append(bits[graph_idx].astype(np.int32))
        cols["labeling"].append(lab_idx.astype(np.int16))
        cols["n_edges"].append(mats[graph_idx].sum(axis=(1, 2)).astype(np.int8))
        cols["io_distance"].append(_io_distances(mats)[graph_idx])
        cols["uses_conv3x3"].append((labels[lab_idx] == OP_CODE[CONV3X3]).any(axis=1))
        cols["enum_index"].append(offset + first.astype(np.int64))
        offset += len(bits) * len(labels)
    out = {k: np.concatenate(v) for k, v in cols.items()}
    if len(set(out["arch_id"].tolist())) != len(out["arch_id"]):
        raise AssertionError("WL classes do not map one-to-one onto NAS-Bench-101 hashes")
    return out


def _io_distances(mats: np.ndarray) -> np.ndarray:
    """Shortest input->output path length of each graph (vectorised BFS over layers)."""
    s, n = mats.shape[0], mats.shape[1]
    reach = np.zeros((s, n), dtype=bool)
    reach[:, 0] = True
    dist = np.full(s, -1, dtype=np.int8)
    for d in range(1, n):
        reach = (reach[:, :, None] & mats.astype(bool)).any(axis=1)
        hit = reach[:, n - 1] & (dist < 0)
        dist[hit] = d
    return dist


_SPACE_CACHE: dict[str, np.ndarray] = {}


def _cached_space() -> dict[str, np.ndarray]:
    if not _SPACE_CACHE:
        _SPACE_CACHE.update(enumerate_space())
    return _SPACE_CACHE
