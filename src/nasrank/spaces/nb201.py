"""The NAS-Bench-201 cell space: arch strings, NB201 indices, NASLib tuples.

A cell has 4 nodes and 6 edges; every edge carries one of 5 operations. An architecture
is a tuple of 6 op names in the edge order of NB201's arch string
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, that is edges ``1<-0, 2<-0, 2<-1, 3<-0, 3<-1,
3<-2`` (see :data:`EDGES`).

Usage::

    from nasrank.spaces.nb201 import NB201Space, index_to_arch, arch_to_str
    space = NB201Space()
    arch = index_to_arch(0)
    print(arch_to_str(arch))    # |avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|...
    print(space.arch_id(arch))  # the same string: arch_id is the NB201 arch string
    child = space.mutate(arch, np.random.default_rng(0))
    print(arch_to_index(child), arch_to_naslib(child))

Identity: NAS-Bench-201 trained and indexes all 5**6 = 15,625 op assignments, without
merging isomorphic cells (e.g. cells that differ only on edges cut off by ``none``), so
this space keeps 15,625 distinct ids, one per arch string.

The NB201 index order: NAS-Bench-201 lists the cells of ``CellStructure.gen_all`` (the
product order of the ops ``none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3``
over the edges in arch-string order, first edge slowest) and then shuffles that list with
Python's ``random.seed(88); random.shuffle(...)`` (``generate_meta_info`` in
D-X-Y/AutoDL-Projects ``exps/NAS-Bench-201/main.py``). The order is therefore not a
closed-form product order, but it is computable: this module replays that Fisher-Yates
shuffle on a ``random.Random(88)`` Mersenne Twister, drawing through ``getrandbits``
exactly as CPython's ``random.shuffle`` does, instead of calling ``random.shuffle``
(whose algorithm Python does not promise to keep). The result equals the ``archs`` list
of nasbench-vis ``nas-201-arch.json`` (all 15,625, checked in the tests) and is checked
against NB201's own anchors (indices 0, 9 and 123) on first use.

NASLib tuples (NAS-Bench-Suite-Zero files) list the same 6 edges in the order
``1<-0, 2<-0, 3<-0, 2<-1, 3<-1, 3<-2`` with op codes 0 skip_connect, 1 none,
2 nor_conv_3x3, 3 nor_conv_1x1, 4 avg_pool_3x3.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Hashable, Iterator, Sequence

import numpy as np

from nasrank.errors import OutOfDomainError
from nasrank.spaces.base import SearchSpace

#: Operation names as NAS-Bench-201 spells them, in NB201's (``gen_all``) order.
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: The 6 edges ``(to_node, from_node)`` in arch-string order (the order of an arch tuple).
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
#: NASLib's edge order, as ``(to_node, from_node)``.
NASLIB_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2))
#: NASLib's op codes: ``NASLIB_OPS[code]`` is the op name.
NASLIB_OPS: tuple[str, ...] = (
    "skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3",
)
NUM_EDGES = 6
SPACE_SIZE = len(OPS) ** NUM_EDGES  # 15,625
SHUFFLE_SEED = 88

#: An NB201 architecture: 6 op names in :data:`EDGES` order.
NB201Arch = tuple[str, str, str, str, str, str]

_OP_INDEX = {op: i for i, op in enumerate(OPS)}
_NASLIB_CODE = {op: i for i, op in enumerate(NASLIB_OPS)}
# _TO_NASLIB[k] = position in the arch tuple of the k-th NASLib edge.
_TO_NASLIB = tuple(EDGES.index(e) for e in NASLIB_EDGES)
_FROM_NASLIB = tuple(NASLIB_EDGES.index(e) for e in EDGES)
# Anchors asserted by NAS-Bench-201's own generate_meta_info.
_ANCHORS = {
    0: "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
    "skip_connect~2|",
    9: "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
    123: "|avg_pool_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|"
    "nor_conv_3x3~2|",
}


def validate_arch(arch: object) -> NB201Arch:
    """Check that ``arch`` is a sequence of 6 NB201 op names and return it as a tuple.

    Args:
        arch: a tuple (or list) of 6 op names in :data:`EDGES` order.

    Returns:
        The architecture as a tuple of 6 ``str``.

    Raises:
        OutOfDomainError: not a sequence of 6, or an op name outside :data:`OPS`.
    """
    if isinstance(arch, str) or not isinstance(arch, Sequence):
        raise OutOfDomainError(
            f"NB201 architecture must be a tuple of {NUM_EDGES} op names, got {arch!r} "
            "(use str_to_arch for an arch string)"
        )
    if len(arch) != NUM_EDGES:
        raise OutOfDomainError(
            f"NB201 architecture must have {NUM_EDGES} ops, got {len(arch)}: {arch!r}"
        )
    for op in arch:
        if op not in _OP_INDEX:
            raise OutOfDomainError(f"unknown NB201 op {op!r} in {arch!r}; ops: {list(OPS)}")
    return tuple(str(op) for op in arch)  # type: ignore[return-value]


def arch_to_str(arch: Sequence[str]) -> str:
    """The NB201 arch string of ``arch``, e.g. ``|none~0|+|...~0|...~1|+|...|``.

    Raises:
        OutOfDomainError: ``arch`` is not in the space.
    """
    a = validate_arch(arch)
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*a)


def str_to_arch(arch_str: str) -> NB201Arch:
    """Parse an NB201 arch string into an architecture tuple.

    Args:
        arch_str: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` with NB201 op names.

    Returns:
        The 6 op names in :data:`EDGES` order.

    Raises:
        OutOfDomainError: wrong structure, wrong input-node numbers or unknown op.
    """
    if not isinstance(arch_str, str):
        raise OutOfDomainError(f"NB201 arch string must be a str, got {arch_str!r}")
    nodes = arch_str.split("+")
    if len(nodes) != 3:
        raise OutOfDomainError(f"NB201 arch string must have 3 nodes ('+'), got {arch_str!r}")
    ops: list[str] = []
    for to_node, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|")):
            raise OutOfDomainError(f"malformed node {node!r} in NB201 arch string {arch_str!r}")
        items = node[1:-1].split("|")
        if len(items) != to_node:
            raise OutOfDomainError(
                f"node {to_node} needs {to_node} inputs, got {node!r} in {arch_str!r}"
            )
        for from_node, item in enumerate(items):
            op, sep, src = item.rpartition("~")
            if not sep or src != str(from_node):
                raise OutOfDomainError(
                    f"edge {item!r} of node {to_node} must read 'op~{from_node}' "
                    f"in NB201 arch string {arch_str!r}"
                )
            if op not in _OP_INDEX:
                raise OutOfDomainError(
                    f"unknown NB201 op {op!r} in {arch_str!r}; ops: {list(OPS)}"
                )
            ops.append(op)
    return tuple(ops)  # type: ignore[return-value]


def _product_code(arch: NB201Arch) -> int:
    code = 0
    for op in arch:
        code = code * len(OPS) + _OP_INDEX[op]
    return code


def _from_product_code(code: int) -> NB201Arch:
    ops = []
    for _ in range(NUM_EDGES):
        code, r = divmod(code, len(OPS))
        ops.append(OPS[r])
    return tuple(reversed(ops))  # type: ignore[return-value]


def _randbelow(rng: random.Random, n: int) -> int:
    """CPython's ``Random._randbelow_with_getrandbits``: uniform in ``[0, n)``."""
    k = n.bit_length()
    r = rng.getrandbits(k)
    while r >= n:
        r = rng.getrandbits(k)
    return r


@functools.cache
def _index_tables() -> tuple[np.ndarray, np.ndarray]:
    """``(code_of_index, index_of_code)``: NB201 index <-> product code, both int32."""
    order = list(range(SPACE_SIZE))
    rng = random.Random(SHUFFLE_SEED)
    for i in reversed(range(1, SPACE_SIZE)):
        j = _randbelow(rng, i + 1)
        order[i], order[j] = order[j], order[i]
    code_of_index = np.asarray(order, dtype=np.int32)
    for index, expected in _ANCHORS.items():
        got = arch_to_str(_from_product_code(int(code_of_index[index])))
        if got != expected:
            raise RuntimeError(
                f"NB201 index order could not be reproduced: index {index} gave {got}, "
                f"NAS-Bench-201 has {expected}"
            )
    index_of_code = np.empty(SPACE_SIZE, dtype=np.int32)
    index_of_code[code_of_index] = np.arange(SPACE_SIZE, dtype=np.int32)
    code_of_index.setflags(write=False)
    index_of_code.setflags(write=False)
    return code_of_index, index_of_code


def index_to_arch(index: int) -> NB201Arch:
    """The architecture with NB201 index ``index`` (0..15624).

    Raises:
        OutOfDomainError: ``index`` is not an integer in range.
    """
    if isinstance(index, bool) or not isinstance(index, int | np.integer):
        raise OutOfDomainError(f"NB201 index must be an int, got {index!r}")
    if not 0 <= index < SPACE_SIZE:
        raise OutOfDomainError(f"NB201 index {index} outside 0..{SPACE_SIZE - 1}")
    return _from_product_code(int(_index_tables()[0][index]))


def arch_to_index(arch: Sequence[str]) -> int:
    """The NB201 index (0..15624) of ``arch``.

    Raises:
        OutOfDomainError: ``arch`` is not in the space.
    """
    return int(_index_tables()[1][_product_code(validate_arch(arch))])


def arch_to_naslib(arch: Sequence[str]) -> tuple[int, ...]:
    """NASLib's op-index tuple of ``arch`` (NASLib edge order and op codes).

    Raises:
        OutOfDomainError: ``arch`` is not in the space.
    """
    a = validate_arch(arch)
    return tuple(_NASLIB_CODE[a[pos]] for pos in _TO_NASLIB)


def naslib_to_arch(op_indices: Sequence[int]) -> NB201Arch:
    """The architecture of NASLib's op-index tuple ``op_indices``.

    Raises:
        OutOfDomainError: not 6 integer codes in 0..4.
    """
    if isinstance(op_indices, str) or not isinstance(op_indices, Sequence):
        raise OutOfDomainError(f"NASLib NB201 tuple must be a sequence, got {op_indices!r}")
    if len(op_indices) != NUM_EDGES:
        raise OutOfDomainError(
            f"NASLib NB201 tuple must have {NUM_EDGES} codes, got {op_indices!r}"
        )
    for code in op_indices:
        if (
            isinstance(code, bool)
            or not isinstance(code, int | np.integer)
            or not 0 <= code < len(NASLIB_OPS)
        ):
            raise OutOfDomainError(
                f"NASLib NB201 op code {code!r} in {op_indices!r} outside 0..{len(NASLIB_OPS) - 1}"
            )
    return tuple(NASLIB_OPS[op_indices[k]] for k in _FROM_NASLIB)  # type: ignore[return-value]


class NB201Space(SearchSpace):
    """NAS-Bench-201's 15,625 cells; ``arch_id`` is the NB201 arch string.

    Architectures are :data:`NB201Arch` tuples. :meth:`enumerate` yields them in NB201
    index order (``index_to_arch(0)``, ``index_to_arch(1)``, ...).
    """

    name = "nb201"

    def validate(self, arch: Hashable) -> NB201Arch:
        """Return ``arch`` as a tuple of 6 op names.

        Raises:
            OutOfDomainError: naming the offending value.
        """
        return validate_arch(arch)

    def arch_id(self, arch: Hashable) -> str:
        """The NB201 arch string of ``arch`` (isomorphic cells are not merged)."""
        return arch_to_str(validate_arch(arch))

    def size(self) -> int:
        """15,625."""
        return SPACE_SIZE

    def enumerate(self) -> Iterator[NB201Arch]:
        """Every architecture once, in NB201 index order."""
        code_of_index = _index_tables()[0]
        return (_from_product_code(int(c)) for c in code_of_index)

    def sample(self, rng: np.random.Generator) -> NB201Arch:
        """A uniform draw: each edge's op independently uniform over the 5 ops."""
        return tuple(OPS[int(i)] for i in rng.integers(0, len(OPS), size=NUM_EDGES))  # type: ignore[return-value]

    def mutate(self, arch: Hashable, rng: np.random.Generator) -> NB201Arch:
        """Change the op of one uniformly chosen edge to one of the 4 other ops.

        Raises:
            OutOfDomainError: ``arch`` is not in the space.
        """
        a = list(validate_arch(arch))
        edge = int(rng.integers(NUM_EDGES))
        others = [op for op in OPS if op != a[edge]]
        a[edge] = others[int(rng.integers(len(others)))]
        return tuple(a)  # type: ignore[return-value]


def all_arch_strings() -> list[str]:
    """The 15,625 arch strings in NB201 index order."""
    return [arch_to_str(a) for a in NB201Space().enumerate()]


__all__ = [
    "EDGES",
    "NASLIB_EDGES",
    "NASLIB_OPS",
    "OPS",
    "SPACE_SIZE",
    "NB201Arch",
    "NB201Space",
    "all_arch_strings",
    "arch_to_index",
    "arch_to_naslib",
    "arch_to_str",
    "index_to_arch",
    "naslib_to_arch",
    "str_to_arch",
    "validate_arch",
]
