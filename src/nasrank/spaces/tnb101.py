"""The TransNAS-Bench-101 micro (cell) space: TNB101 arch strings and NASLib tuples.

The micro space fixes the macro skeleton (``64-41414``: base width 64, five stages of
two cells) and searches the cell: 4 nodes, 6 edges, each edge one of 4 operations, so
4**6 = 4,096 architectures. An architecture is a tuple of 6 op names in the edge order
``1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2`` (:data:`EDGES`, the order of NB201's arch string).

Usage::

    from nasrank.spaces.tnb101 import TNB101MicroSpace, str_to_arch, arch_to_naslib
    space = TNB101MicroSpace()
    arch = str_to_arch("64-41414-3_33_333")
    print(arch)                    # ('nor_conv_3x3', 'nor_conv_3x3', ...)
    print(space.arch_id(arch))     # 64-41414-3_33_333
    print(arch_to_naslib(arch))    # (3, 3, 3, 3, 3, 3)

The TNB101 arch string is ``64-41414-{a}_{bc}_{def}`` where the digits are the op codes of
the edges in :data:`EDGES` order, grouped by target node, with TransNAS-Bench-101's codes
0 ``none`` (zeroise), 1 ``skip_connect``, 2 ``nor_conv_1x1``, 3 ``nor_conv_3x3`` (op names
spelled as in NAS-Bench-201: the same operations). ``arch_id`` is this string; the 4,096
op assignments are all distinct ids (TNB101 trained every one of them).

NASLib's tuple for this space is the 6 digits of the arch string, in the same order and
with the same codes (NASLib formats ``'64-41414-{}_{}{}_{}{}{}'.format(*op_indices)`` to
query TNB101). This was checked on NASLib's own files rather than taken from NASLib's
``OP_NAMES`` list and ``EDGE_LIST`` (Identity, Zero, 3x3, 1x1 over edges 1<-0, 2<-0, 3<-0,
2<-1, 3<-1, 3<-2, which would suggest otherwise):

* In the Zen files, the 169 cells whose output has no path from the input when code 0
  is ``none`` and positions follow :data:`EDGES` are exactly the cells whose Zen score
  NASLib could not compute, and they behave as networks that ignore their input: one
  constant validation score each in class_scene (7.484), class_object, jigsaw and
  segmentsemantic, and scores below every connected cell in autoencoder, normal and
  room_layout. Under NASLib's ``OP_NAMES``/``EDGE_LIST`` reading the 169 "disconnected"
  cells score across the whole range.
* In ``zc_transbench101_micro.json`` the parameter count is exactly linear in
  per-(position, code) terms: code 3 costs 9x what code 2 costs (3x3 vs 1x1 kernels);
  code 1 costs parameters only on positions 0, 1 and 3, the edges leaving the cell
  input in arch-string order (a skip there needs a factorized reduction in strided
  cells); code 0 costs nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence

import numpy as np

from nasrank.errors import OutOfDomainError
from nasrank.spaces.base import SearchSpace

#: Op names (NB201 spelling); ``OPS[code]`` for the TNB101 / NASLib code.
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
#: The 6 edges ``(to_node, from_node)`` in arch-string order (the order of an arch tuple).
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
#: The fixed macro part of every micro arch string.
MACRO_PREFIX = "64-41414-"
NUM_EDGES = 6
SPACE_SIZE = len(OPS) ** NUM_EDGES  # 4,096

#: A TNB101-micro architecture: 6 op names in :data:`EDGES` order.
TNB101Arch = tuple[str, str, str, str, str, str]

_CODE = {op: i for i, op in enumerate(OPS)}


def validate_arch(arch: object) -> TNB101Arch:
    """Check that ``arch`` is a sequence of 6 TNB101 op names and return it as a tuple.

    Raises:
        OutOfDomainError: not a sequence of 6, or an op name outside :data:`OPS`.
    """
    if isinstance(arch, str) or not isinstance(arch, Sequence):
        raise OutOfDomainError(
            f"TNB101-micro architecture must be a tuple of {NUM_EDGES} op names, got "
            f"{arch!r} (use str_to_arch for an arch string)"
        )
    if len(arch) != NUM_EDGES:
        raise OutOfDomainError(
            f"TNB101-micro architecture must have {NUM_EDGES} ops, got {len(arch)}: {arch!r}"
        )
    for op in arch:
        if op not in _CODE:
            raise OutOfDomainError(
                f"unknown TNB101-micro op {op!r} in {arch!r}; ops: {list(OPS)}"
            )
    return tuple(str(op) for op in arch)  # type: ignore[return-value]


def arch_to_str(arch: Sequence[str]) -> str:
    """The TNB101 arch string of ``arch``, e.g. ``64-41414-3_33_333``.

    Raises:
        OutOfDomainError: ``arch`` is not in the space.
    """
    codes = [str(_CODE[op]) for op in validate_arch(arch)]
    return f"{MACRO_PREFIX}{codes[0]}_{''.join(codes[1:3])}_{''.join(codes[3:])}"


def str_to_arch(arch_str: str) -> TNB101Arch:
    """Parse a TNB101 micro arch string ``64-41414-a_bc_def`` (digits 0-3).

    Raises:
        OutOfDomainError: another prefix (e.g. a macro-space string), wrong grouping or a
            digit outside 0-3.
    """
    if not isinstance(arch_str, str):
        raise OutOfDomainError(f"TNB101-micro arch string must be a str, got {arch_str!r}")
    if not arch_str.startswith(MACRO_PREFIX):
        raise OutOfDomainError(
            f"TNB101-micro arch string must start with {MACRO_PREFIX!r}, got {arch_str!r}"
        )
    groups = arch_str[len(MACRO_PREFIX):].split("_")
    if [len(g) for g in groups] != [1, 2, 3]:
        raise OutOfDomainError(
            f"TNB101-micro arch string must end in 'a_bc_def', got {arch_str!r}"
        )
    digits = "".join(groups)
    for d in digits:
        if d not in "0123":
            raise OutOfDomainError(
                f"TNB101-micro op code {d!r} in {arch_str!r} outside 0..{len(OPS) - 1}"
            )
    return tuple(OPS[int(d)] for d in digits)  # type: ignore[return-value]


def arch_to_naslib(arch: Sequence[str]) -> tuple[int, ...]:
    """NASLib's op-index tuple of ``arch`` (the arch string's 6 digits).

    Raises:
        OutOfDomainError: ``arch`` is not in the space.
    """
    return tuple(_CODE[op] for op in validate_arch(arch))


def naslib_to_arch(op_indices: Sequence[int]) -> TNB101Arch:
    """The architecture of NASLib's op-index tuple ``op_indices``.

    Raises:
        OutOfDomainError: not 6 integer codes in 0..3.
    """
    if isinstance(op_indices, str) or not isinstance(op_indices, Sequence):
        raise OutOfDomainError(f"NASLib TNB101 tuple must be a sequence, got {op_indices!r}")
    if len(op_indices) != NUM_EDGES:
        raise OutOfDomainError(
            f"NASLib TNB101 tuple must have {NUM_EDGES} codes, got {op_indices!r}"
        )
    for code in op_indices:
        if (
            isinstance(code, bool)
            or not isinstance(code, int | np.integer)
            or not 0 <= code < len(OPS)
        ):
            raise OutOfDomainError(
                f"NASLib TNB101 op code {code!r} in {op_indices!r} outside 0..{len(OPS) - 1}"
            )
    return tuple(OPS[int(c)] for c in op_indices)  # type: ignore[return-value]


class TNB101MicroSpace(SearchSpace):
    """TransNAS-Bench-101's 4,096 micro cells; ``arch_id`` is the TNB101 arch string.

    :meth:`enumerate` yields the product order of the codes over :data:`EDGES` (first
    edge slowest), which is also the sorted order of the ``arch_id`` strings.
    """

    name = "tnb101_micro"

    def validate(self, arch: Hashable) -> TNB101Arch:
        """Return ``arch`` as a tuple of 6 op names.

        Raises:
            OutOfDomainError: naming the offending value.
        """
        return validate_arch(arch)

    def arch_id(self, arch: Hashable) -> str:
        """The TNB101 arch string of ``arch``."""
        return arch_to_str(validate_arch(arch))

    def size(self) -> int:
        """4,096."""
        return SPACE_SIZE

    def enumerate(self) -> Iterator[TNB101Arch]:
        """Every architecture once, in product (= sorted ``arch_id``) order."""
        for code in range(SPACE_SIZE):
            digits = [(code // len(OPS) ** (NUM_EDGES - 1 - e)) % len(OPS)
                      for e in range(NUM_EDGES)]
            yield tuple(OPS[d] for d in digits)  # type: ignore[misc]

    def sample(self, rng: np.random.Generator) -> TNB101Arch:
        """A uniform draw: each edge's op independently uniform over the 4 ops."""
        return tuple(OPS[int(i)] for i in rng.integers(0, len(OPS), size=NUM_EDGES))  # type: ignore[return-value]

    def mutate(self, arch: Hashable, rng: np.random.Generator) -> TNB101Arch:
        """Change the op of one uniformly chosen edge to one of the 3 other ops.

        Raises:
            OutOfDomainError: ``arch`` is not in the space.
        """
        a = list(validate_arch(arch))
        edge = int(rng.integers(NUM_EDGES))
        others = [op for op in OPS if op != a[edge]]
        a[edge] = others[int(rng.integers(len(others)))]
        return tuple(a)  # type: ignore[return-value]


__all__ = [
    "EDGES",
    "MACRO_PREFIX",
    "OPS",
    "SPACE_SIZE",
    "TNB101Arch",
    "TNB101MicroSpace",
    "arch_to_naslib",
    "arch_to_str",
    "naslib_to_arch",
    "str_to_arch",
    "validate_arch",
]
