"""The DARTS search space (NAS-Bench-301) in NASLib's compact genotype.

A DARTS network stacks two kinds of cells, *normal* and *reduction* (``reduce``), each a
DAG with two inputs (``c_{k-2}`` and ``c_{k-1}``, the outputs of the two previous
cells), four intermediate nodes and one output (the concatenation of the four
intermediate nodes). Intermediate node ``k`` (0..3) sums two operations, each applied to
one of the nodes before it: input ``0`` is ``c_{k-2}``, ``1`` is ``c_{k-1}``, ``2 + m``
is intermediate node ``m < k``. The two inputs of a node are different nodes (DARTS
keeps the two strongest *distinct* incoming edges; NASLib samples them without
replacement).

An architecture is NASLib's **compact** genotype, ``(normal, reduce)``, each cell a
tuple of 8 ``(input, op)`` pairs: pairs ``2k`` and ``2k + 1`` are the two inputs of
intermediate node ``k`` (so ``0 <= input <= k + 1``), and ``op`` indexes :data:`OPS`::

    OPS = (max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5,
           dil_conv_3x3, dil_conv_5x5)

Sources (automl/NASLib): ``naslib/search_spaces/nasbench301/conversions.py``
(``convert_genotype_to_compact`` / ``convert_compact_to_genotype``: this ``OPS`` list,
pairs ``(genotype input, OPS.index(op name))``, 8 pairs per cell) and
``naslib/search_spaces/nasbench301/encodings.py`` (the same ``OPS``; ``encode_adj``:
pair ``i`` enters node ``i // 2 + 2``); ``naslib/search_spaces/nasbench301/graph.py``
(``sample_random_architecture`` and ``mutate``, reproduced below). NASLib's data files
(``zc_nasbench301.json``) key cells by ``str()`` of this compact form,
``"[[(0, 0), (1, 5), ...], [(1, 0), ...]]"``. Checked on that file: its ``params``
column is exactly linear in per-(cell, op, input is a cell input) counts, the
parameter-free ops 0 and 1 cost the same, and op 2 costs extra exactly when it reads a
cell input of the reduction cell (the strided skip becomes a FactorizedReduce): op 2 is
``skip_connect`` and inputs 0/1 are the cell inputs (see tests/test_darts.py).

Canonical form and ``arch_id``. The two inputs of a node are summed, so ``(a, b)`` and
``(b, a)`` are the same cell: the canonical form sorts the two pairs of every node by
input (inputs are distinct, so this is a total order). ``arch_id`` is NASLib's compact
string of the canonical form, e.g. ``"[[(0, 0), (1, 5), (0, 1), (1, 1), ...], [...]]"``,
so it can be pasted back into NASLib. Deeper isomorphisms are **not** merged: relabelling
intermediate nodes (e.g. two nodes that read only the cell inputs, swapped), cells that
differ only in the order of the output concatenation, or ops whose result is unused do
not share an id. NAS-Bench-301's surrogate sees the same order-free configuration for
both orders of a node's inputs (NASLib's ``convert_genotype_to_config`` sorts them), so
merging exactly this symmetry loses nothing.

Size. Per cell and node ``k`` there are ``C(k + 2, 2)`` input sets and ``7 ** 2`` op
pairs: ``1 * 3 * 6 * 10 * 7 ** 8 = 1,037,664,180`` canonical cells, so
``size() = 1,037,664,180 ** 2 = 1,076,746,950,455,072,400`` (about 1.1e18) distinct
architectures. Counting the two orders of every node's inputs separately gives
:data:`NUM_COMPACT` ``= 2 ** 8`` times that (about 2.8e20) compact genotypes.
:meth:`DartsSpace.enumerate` raises :class:`~nasrank.errors.NotEnumerableError`.

Usage::

    from nasrank.spaces.darts import DartsSpace, to_string
    space = DartsSpace()
    arch = space.validate("[[(1, 5), (0, 0), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)],"
                          " [(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]")
    arch[0][:2]                  # ((0, 0), (1, 5)): node 0's inputs sorted
    space.arch_id(arch)          # "[[(0, 0), (1, 5), (0, 1), (1, 1), ...], [...]]"
    rng = np.random.default_rng(0)
    child = space.mutate(space.sample(rng), rng)
    to_genotype(child)           # DARTS Genotype lists: (("sep_conv_3x3", 0), ...)
"""

from __future__ import annotations

import ast
import math
from collections.abc import Hashable, Iterator, Sequence

import numpy as np

from nasrank.errors import NotEnumerableError, OutOfDomainError
from nasrank.spaces.base import SearchSpace

#: NASLib's compact op order (conversions.py / encodings.py ``OPS``): ``OPS[op]``.
OPS: tuple[str, ...] = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
NUM_OPS = len(OPS)
#: The two cell types, in the order of the compact genotype.
CELLS: tuple[str, ...] = ("normal", "reduce")
#: Intermediate nodes per cell.
NUM_NODES = 4
#: ``(input, op)`` pairs per cell: two per intermediate node.
NUM_PAIRS = 2 * NUM_NODES
#: Input choices of the last node (0..4): ``c_{k-2}``, ``c_{k-1}``, intermediate 0..2.
NUM_INPUTS = NUM_NODES + 1
#: Canonical cells: prod_k C(k+2, 2) * 7**8 = 1,037,664,180.
CELL_SIZE = math.prod(math.comb(k + 2, 2) for k in range(NUM_NODES)) * NUM_OPS**NUM_PAIRS
#: Distinct architectures (distinct ``arch_id``): CELL_SIZE ** 2, about 1.08e18.
SPACE_SIZE = CELL_SIZE**2
#: Compact genotypes when the two orders of a node's inputs count apart: 2**8 * SPACE_SIZE.
NUM_COMPACT = 2 ** (2 * NUM_NODES) * SPACE_SIZE

Pair = tuple[int, int]
#: One cell: 8 ``(input, op)`` pairs.
Cell = tuple[Pair, Pair, Pair, Pair, Pair, Pair, Pair, Pair]
#: A DARTS architecture: ``(normal, reduce)`` compact cells.
DartsArch = tuple[Cell, Cell]

_OP_INDEX = {op: i for i, op in enumerate(OPS)}


def _is_int(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def parse(text: str) -> tuple:
    """The nested tuples of a compact-genotype string (not validated, not canonical).

    Args:
        text: ``str()`` of a compact genotype, e.g. NASLib's
            ``"[[(0, 0), (1, 5), ...], [(1, 0), ...]]"`` (lists or tuples).

    Raises:
        OutOfDomainError: not a Python literal of nested lists/tuples.
    """
    if not isinstance(text, str):
        raise OutOfDomainError(f"DARTS compact genotype string must be a str, got {text!r}")
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise OutOfDomainError(
            f"DARTS compact genotype {text!r} is not a literal like "
            "'[[(0, 0), (1, 5), ...], [(1, 0), ...]]'"
        ) from None
    if not isinstance(value, list | tuple):
        raise OutOfDomainError(f"DARTS compact genotype {text!r} is not a list of two cells")
    return value


def _check_cell(arch: object, name: str, cell: object) -> list[list[int]]:
    if isinstance(cell, str) or not isinstance(cell, Sequence | np.ndarray):
        raise OutOfDomainError(
            f"DARTS architecture {arch!r}: {name} cell {cell!r} is not a sequence of "
            f"{NUM_PAIRS} (input, op) pairs"
        )
    if len(cell) != NUM_PAIRS:
        raise OutOfDomainError(
            f"DARTS architecture {arch!r}: {name} cell has {len(cell)} pairs, need "
            f"{NUM_PAIRS} (two (input, op) pairs for each of {NUM_NODES} nodes)"
        )
    out: list[list[int]] = []
    for j, pair in enumerate(cell):
        node = j // 2
        where = f"DARTS architecture {arch!r}: {name} cell pair {j} (node {node})"
        if isinstance(pair, str) or not isinstance(pair, Sequence | np.ndarray) or len(pair) != 2:
            raise OutOfDomainError(f"{where} is {pair!r}, not an (input, op) pair")
        inp, op = pair[0], pair[1]
        if isinstance(op, str) and op in _OP_INDEX:
            op = _OP_INDEX[op]
        if not _is_int(inp) or not 0 <= inp <= node + 1:
            raise OutOfDomainError(
                f"{where}: input {inp!r} must be an int in 0..{node + 1} (0 = c_k-2, "
                "1 = c_k-1, 2 + m = intermediate node m)"
            )
        if not _is_int(op) or not 0 <= op < NUM_OPS:
            raise OutOfDomainError(
                f"{where}: op {pair[1]!r} must be an int in 0..{NUM_OPS - 1} or an op name "
                f"({', '.join(f'{i} {n}' for i, n in enumerate(OPS))})"
            )
        out.append([int(inp), int(op)])
    for node in range(NUM_NODES):
        a, b = out[2 * node][0], out[2 * node + 1][0]
        if a == b:
            raise OutOfDomainError(
                f"DARTS architecture {arch!r}: {name} cell node {node} reads input {a} "
                f"twice (pairs {2 * node}, {2 * node + 1}); its two inputs must be "
                "different nodes"
            )
    return out


def canonicalize(cells: Sequence[Sequence[Sequence[int]]]) -> DartsArch:
    """Sort the two ``(input, op)`` pairs of every node by input (no checks)."""
    out = []
    for cell in cells:
        pairs: list[Pair] = []
        for node in range(NUM_NODES):
            a = (int(cell[2 * node][0]), int(cell[2 * node][1]))
            b = (int(cell[2 * node + 1][0]), int(cell[2 * node + 1][1]))
            pairs.extend((a, b) if a <= b else (b, a))
        out.append(tuple(pairs))
    return tuple(out)  # type: ignore[return-value]


def validate_arch(arch: object) -> DartsArch:
    """Check a compact genotype and return its canonical form.

    Args:
        arch: a compact-genotype string (:func:`parse`) or nested sequences
            ``(normal, reduce)`` of 8 ``(input, op)`` pairs each; ``op`` an index into
            :data:`OPS` or an op name.

    Returns:
        The canonical :data:`DartsArch` (each node's pairs sorted by input).

    Raises:
        OutOfDomainError: naming the cell, pair and value: not two cells, not 8 pairs, an
            input outside ``0..k+1`` for node ``k``, an op outside ``0..6``, or a node
            whose two inputs are the same node.
    """
    value = parse(arch) if isinstance(arch, str) else arch
    if not isinstance(value, Sequence | np.ndarray) or len(value) != len(CELLS):
        raise OutOfDomainError(
            f"DARTS architecture {arch!r} must be two cells (normal, reduce) of "
            f"{NUM_PAIRS} (input, op) pairs"
        )
    cells = [_check_cell(arch, name, cell) for name, cell in zip(CELLS, value, strict=True)]
    return canonicalize(cells)


def to_string(arch: object) -> str:
    """NASLib's compact string of the canonical form: the ``arch_id``.

    Raises:
        OutOfDomainError: ``arch`` is not in the space.
    """
    a = validate_arch(arch)
    return "[" + ", ".join("[" + ", ".join(f"({i}, {o})" for i, o in cell) + "]"
                           for cell in a) + "]"


def to_genotype(arch: object) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    """DARTS ``Genotype`` lists ``(normal, reduce)`` of ``(op name, input)`` (concat 2..5).

    Raises:
        OutOfDomainError: ``arch`` is not in the space.
    """
    a = validate_arch(arch)
    return tuple(tuple((OPS[o], i) for i, o in cell) for cell in a)  # type: ignore[return-value]


def from_genotype(normal: Sequence[Sequence], reduce: Sequence[Sequence]) -> DartsArch:
    """The canonical compact form of DARTS ``Genotype.normal`` / ``.reduce`` lists.

    Args:
        normal: 8 ``(op name, input)`` pairs, as in DARTS' ``genotypes.py``.
        reduce: the same for the reduction cell.

    Raises:
        OutOfDomainError: as :func:`validate_arch`.
    """
    try:
        cells = [[(p[1], p[0]) for p in cell] for cell in (normal, reduce)]
    except (TypeError, IndexError, KeyError):
        raise OutOfDomainError(
            f"DARTS genotype ({normal!r}, {reduce!r}) is not two lists of (op, input) pairs"
        ) from None
    return validate_arch(cells)


class DartsSpace(SearchSpace):
    """The DARTS / NAS-Bench-301 space: about 1.08e18 canonical compact genotypes.

    Architectures are canonical :data:`DartsArch` nested tuples; ``arch_id`` is their
    compact string (:func:`to_string`). See the module docstring for what is merged.
    """

    name = "darts"

    def validate(self, arch: Hashable) -> DartsArch:
        """The canonical form of ``arch`` (string or nested sequences).

        Raises:
            OutOfDomainError: naming the offending cell, pair and value.
        """
        return validate_arch(arch)

    def arch_id(self, arch: Hashable) -> str:
        """NASLib's compact string of the canonical form (node inputs sorted).

        Raises:
            OutOfDomainError: as :meth:`validate`.
        """
        return to_string(arch)

    def size(self) -> int:
        """1,076,746,950,455,072,400 distinct architectures (:data:`SPACE_SIZE`).

        That is compact genotypes up to the order of each node's two inputs; with both
        orders counted there are :data:`NUM_COMPACT` (256 times as many).
        """
        return SPACE_SIZE

    def enumerate(self) -> Iterator[DartsArch]:
        """Not possible: there are about 1.08e18 architectures.

        Raises:
            NotEnumerableError: always; use :meth:`sample` or a labelled table instead.
        """
        raise NotEnumerableError(
            f"the DARTS space has {SPACE_SIZE:,} architectures and cannot be enumerated; "
            "sample it or use a labelled table (nasrank ingest darts)"
        )

    def sample(self, rng: np.random.Generator) -> DartsArch:
        """A uniform draw, as NASLib's ``sample_random_architecture``.

        Per cell and node ``k``: two distinct inputs drawn without replacement from
        ``0..k+1`` and two ops uniform over the 7. Every canonical cell has exactly 2**4
        ordered forms, so the draw is uniform over distinct architectures too.
        """
        cells = []
        for _ in CELLS:
            pairs = []
            for node in range(NUM_NODES):
                inputs = rng.choice(node + 2, size=2, replace=False)
                ops = rng.integers(NUM_OPS, size=2)
                pairs += [(int(inputs[0]), int(ops[0])), (int(inputs[1]), int(ops[1]))]
            cells.append(pairs)
        return canonicalize(cells)

    def mutate(self, arch: Hashable, rng: np.random.Generator) -> DartsArch:
        """NASLib's DARTS mutation: one op or one input of one pair of one cell.

        As NASLib's ``NasBench301SearchSpace.mutate`` (graph.py, mutation rate 1): draw a
        cell (2), a pair (8) and whether to change its input or its op (1/2 each); an op
        is redrawn uniformly over the 7 ops, an input uniformly over ``0..k+1`` for the
        pair's node ``k`` and kept only if it differs from the other input of the node;
        draws that change nothing are repeated (NASLib's ``while True`` loop). Every
        accepted change gives another canonical form, so the ``arch_id`` always changes.
        Inputs of node 0 (only ``c_{k-2}`` and ``c_{k-1}`` to choose from) never change.

        Raises:
            OutOfDomainError: ``arch`` is not in the space.
        """
        base = self.validate(arch)
        cells = [[list(p) for p in cell] for cell in base]
        while True:
            c = int(rng.integers(len(CELLS)))
            j = int(rng.integers(NUM_PAIRS))
            if int(rng.integers(2)) == 1:
                op = int(rng.integers(NUM_OPS))
                if op == cells[c][j][1]:
                    continue
                cells[c][j][1] = op
            else:
                inp = int(rng.integers(j // 2 + 2))
                sibling = j + 1 - 2 * (j % 2)
                if inp in (cells[c][j][0], cells[c][sibling][0]):
                    continue
                cells[c][j][0] = inp
            return canonicalize(cells)

    def neighbours(self, arch: Hashable) -> list[DartsArch]:
        """Every architecture one :meth:`mutate` step away (NASLib's ``get_nbhd``), sorted."""
        base = self.validate(arch)
        out: set[DartsArch] = set()
        for c, cell in enumerate(base):
            for j, (inp, op) in enumerate(cell):
                sibling = cell[j + 1 - 2 * (j % 2)][0]
                for new_op in range(NUM_OPS):
                    if new_op != op:
                        out.add(self._replace(base, c, j, (inp, new_op)))
                for new_inp in range(j // 2 + 2):
                    if new_inp not in (inp, sibling):
                        out.add(self._replace(base, c, j, (new_inp, op)))
        return sorted(out)

    @staticmethod
    def _replace(base: DartsArch, c: int, j: int, pair: Pair) -> DartsArch:
        cells = [list(cell) for cell in base]
        cells[c][j] = pair
        return canonicalize(cells)


__all__ = [
    "CELLS",
    "CELL_SIZE",
    "NUM_COMPACT",
    "NUM_INPUTS",
    "NUM_NODES",
    "NUM_OPS",
    "NUM_PAIRS",
    "OPS",
    "SPACE_SIZE",
    "DartsArch",
    "DartsSpace",
    "canonicalize",
    "from_genotype",
    "parse",
    "to_genotype",
    "to_string",
    "validate_arch",
]
