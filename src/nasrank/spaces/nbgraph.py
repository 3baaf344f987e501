"""The NAS-Bench-Graph search space (GNN architectures of 4 computing nodes).

An architecture is a *link* vector and 4 GNN *ops*. Computing node ``i + 1``
(``i = 0..3``) takes its input from node ``link[i]`` (0 is the raw input, ``j >= 1``
the ``j``-th computing node, so ``0 <= link[i] <= i``) and applies ``ops[i]``; every
node without a child feeds the output. The 24 possible link vectors reduce to the 9
link patterns of :data:`LINK_PATTERNS`, and the benchmark further merges architectures
that compute the same function (see *Canonical form* below), leaving 26,206 distinct
architectures; ogbn-proteins was benchmarked on the reduced op list
:data:`PROTEINS_OPS` only (2,021 architectures, ``NBGraphSpace("proteins")``).

Usage::

    from nasrank.spaces.nbgraph import NBGraphArch, NBGraphSpace
    space = NBGraphSpace()                        # NBGraphSpace("proteins") for proteins
    arch = space.validate(((0, 1, 2, 1), ("gcn", "gin", "fc", "cheb")))
    space.arch_id(arch)                           # '0,1,1,2|gcn,gin,cheb,fc'
    space.nbgraph_hash(arch)                      # 61237: the key of the .bench dicts
    space.size()                                  # 26206
    rng = np.random.default_rng(0)
    child = space.mutate(space.sample(rng), rng)

Canonical form. Upstream (``nas_bench_graph/architecture.py`` of the PyPI package
``nas-bench-graph==1.4.0``, Apache-2.0) looks an architecture up under
``Arch(link, ops).valid_hash()``, which (1) ``regularize``: relabels the nodes so that
the link vector becomes one of the 9 patterns, (2) ``move_skip_op``: moves ``skip``
nodes that are redundant to the front and re-attaches their children to their parent,
(3) ``equalpart_sort``: sorts the ops of interchangeable sibling nodes by their index in
:data:`GNN_OPS`, and (4) ``hash_arch``: writes the pattern index and the 4 op indices
as the base-10 digits of an integer. :func:`canonicalize` re-implements steps 1-3 and
:func:`nbgraph_hash` step 4 (verbatim semantics, quirks included; this module does not
import the package). Mapped over all 24 x 9^4 link/op specs (all-``skip`` excluded),
``valid_hash`` takes exactly the 26,206 values that are the keys of every light
``.bench`` file; with ops restricted to :data:`PROTEINS_OPS` it takes the 2,021 keys of
``proteins.bench``. Note that the proteins keys use the full-list digits too
(``valid_hash`` calls ``hash_arch()`` with its default ``use_proteins=False``).

The ``arch_id`` is the readable canonical form ``"l0,l1,l2,l3|op0,op1,op2,op3"``: two
specs have the same id exactly when upstream gives them the same hash.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from nasrank.errors import OutOfDomainError
from nasrank.spaces.base import SearchSpace

# architecture.py: ``link_list``; a pattern's index is the leading digit of the hash.
LINK_PATTERNS: tuple[tuple[int, int, int, int], ...] = (
    (0, 0, 0, 0),
    (0, 0, 0, 1),
    (0, 0, 1, 1),
    (0, 0, 1, 2),
    (0, 0, 1, 3),
    (0, 1, 1, 1),
    (0, 1, 1, 2),
    (0, 1, 2, 2),
    (0, 1, 2, 3),
)
# architecture.py: ``gnn_list``; an op's index is its digit in the hash.
GNN_OPS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
# architecture.py: ``gnn_list_proteins``: the ops present in proteins.bench. (Upstream's
# runnni.py lists cheb instead of sage; the data has sage and no cheb.)
PROTEINS_OPS: tuple[str, ...] = ("gcn", "sage", "arma", "fc", "skip")
VARIANT_OPS: dict[str, tuple[str, ...]] = {"full": GNN_OPS, "proteins": PROTEINS_OPS}

NUM_NODES = 4
_OP_INDEX = {op: i for i, op in enumerate(GNN_OPS)}
_PATTERN_INDEX = {p: i for i, p in enumerate(LINK_PATTERNS)}
_HASH_BASE = len(GNN_OPS) + 1

# architecture.py ``Arch.regularize``: link vector -> (link pattern, op permutation);
# the new ops are ``[ops[j] for j in perm]``.
_REGULARIZE: dict[tuple[int, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {
    (0, 0, 0, 2): ((0, 0, 0, 1), (1, 0, 2, 3)),
    (0, 0, 0, 3): ((0, 0, 0, 1), (2, 0, 1, 3)),
    (0, 0, 1, 0): ((0, 0, 0, 1), (0, 1, 3, 2)),
    (0, 0, 2, 0): ((0, 0, 0, 1), (1, 0, 3, 2)),
    (0, 0, 2, 1): ((0, 0, 1, 2), (1, 0, 2, 3)),
    (0, 0, 2, 2): ((0, 0, 1, 1), (1, 0, 2, 3)),
    (0, 0, 2, 3): ((0, 0, 1, 3), (1, 0, 2, 3)),
    (0, 1, 0, 0): ((0, 0, 0, 1), (0, 2, 3, 1)),
    (0, 1, 0, 1): ((0, 0, 1, 1), (0, 2, 1, 3)),
    (0, 1, 0, 2): ((0, 0, 1, 3), (0, 2, 1, 3)),
    (0, 1, 0, 3): ((0, 0, 1, 2), (0, 2, 1, 3)),
    (0, 1, 1, 0): ((0, 0, 1, 1), (0, 3, 1, 2)),
    (0, 1, 1, 3): ((0, 1, 1, 2), (0, 2, 1, 3)),
    (0, 1, 2, 0): ((0, 0, 1, 3), (0, 3, 1, 2)),
    (0, 1, 2, 1): ((0, 1, 1, 2), (0, 1, 3, 2)),
}
# architecture.py ``Arch.equalpart_sort``: positions whose ops are sorted, per pattern.
_SORTED_POSITIONS: dict[tuple[int, ...], tuple[int, ...]] = {
    (0, 0, 0, 0): (0, 1, 2, 3),
    (0, 0, 0, 1): (1, 2),
    (0, 0, 1, 1): (2, 3),
    (0, 1, 1, 1): (1, 2, 3),
    (0, 1, 2, 2): (2, 3),
}


@dataclass(frozen=True)
class NBGraphArch:
    """One NAS-Bench-Graph architecture spec.

    Attributes:
        link: for computing node ``i + 1``, the node it reads (0 = raw input).
        ops: the GNN op of each computing node, names from :data:`GNN_OPS`.
    """

    link: tuple[int, ...]
    ops: tuple[str, ...]

    def __str__(self) -> str:
        return ",".join(map(str, self.link)) + "|" + ",".join(self.ops)


def _move_skip_op(link: list[int], ops: list[str]) -> tuple[list[int], list[str]]:
    """``Arch.move_skip_op`` of architecture.py, same control flow."""

    def move_one(k: int, link: list[int], ops: list[str]) -> tuple[list[int], list[str]]:
        ops = [ops[k], *ops[:k], *ops[k + 1 :]]
        for i, father in enumerate(link):
            if father == k + 1:
                link[i] = link[k]
            if father <= k:
                link[i] = link[i] + 1
        return [0, *link[:k], *link[k + 1 :]], ops

    def only_skips_above(k: int, link: list[int], ops: list[str]) -> bool:  # check_dim
        while k > -1:
            if ops[k] != "skip":
                return False
            k = link[k] - 1
        return True

    for i in range(len(link)):
        if ops[i] != "skip":
            continue
        son = False
        brother = False
        for j, fa in enumerate(link):
            if fa == i + 1:
                son = True
            elif j != i and fa == link[i]:
                brother = True
        if son or not brother or (only_skips_above(i, link, ops) and not son):
            link, ops = move_one(i, link, ops)

    if link == [0, 1, 2, 1]:
        link, ops = [0, 1, 1, 2], [ops[0], ops[1], ops[3], ops[2]]
    elif link == [0, 1, 1, 3]:
        link, ops = [0, 1, 1, 2], [ops[0], ops[2], ops[1], ops[3]]
    return link, ops


def _equalpart_sort(link: tuple[int, ...], ops: list[str]) -> list[str]:
    """``Arch.equalpart_sort`` of architecture.py."""
    if link == (0, 0, 1, 2):
        # two chains, positions 0 -> 2 and 1 -> 3: order them by (op0, op2) vs (op1, op3)
        a, b = _OP_INDEX[ops[0]], _OP_INDEX[ops[1]]
        if a > b or (ops[0] == ops[1] and _OP_INDEX[ops[2]] > _OP_INDEX[ops[3]]):
            ops = [ops[1], ops[0], ops[3], ops[2]]
        return ops
    ids = _SORTED_POSITIONS.get(link)
    if ids:
        ranked = sorted(_OP_INDEX[ops[i]] for i in ids)
        for pos, r in zip(ids, ranked, strict=True):
            ops[pos] = GNN_OPS[r]
    return ops


def canonicalize(link: Sequence[int], ops: Sequence[str]) -> NBGraphArch:
    """The benchmark's representative of ``(link, ops)`` (upstream ``valid_hash`` minus the hash).

    Args:
        link: a valid link vector (``0 <= link[i] <= i``), not checked here.
        ops: 4 names from :data:`GNN_OPS`, not all ``"skip"``, not checked here.

    Returns:
        The canonical spec; its link is one of :data:`LINK_PATTERNS`.
    """
    lk, perm = _REGULARIZE.get(tuple(link), (tuple(link), (0, 1, 2, 3)))
    new_ops = [ops[j] for j in perm]
    moved_link, moved_ops = _move_skip_op(list(lk), new_ops)
    final = tuple(moved_link)
    return NBGraphArch(final, tuple(_equalpart_sort(final, moved_ops)))


def nbgraph_hash(arch: NBGraphArch) -> int:
    """Upstream ``Arch.hash_arch()`` (``use_proteins=False``) of a spec on a link pattern.

    The pattern index followed by the 4 op indices of :data:`GNN_OPS`, as base-10
    digits: ``(0,1,1,2)|gcn,gin,cheb,fc`` -> ``6 1 2 3 7`` -> 61237. Applied to a
    canonical spec this is the key of the ``.bench`` dicts.

    Raises:
        OutOfDomainError: ``arch.link`` is not one of :data:`LINK_PATTERNS` or an op is
            not in :data:`GNN_OPS`.
    """
    try:
        h = _PATTERN_INDEX[tuple(arch.link)]
        for op in arch.ops:
            h = h * _HASH_BASE + _OP_INDEX[op]
    except KeyError as exc:
        raise OutOfDomainError(f"cannot hash {arch}: {exc.args[0]!r} unknown") from None
    return h


@functools.cache
def _members(variant: str) -> tuple[NBGraphArch, ...]:
    """Canonical specs of a variant in ascending :func:`nbgraph_hash` order.

    The full space holds the fixed points of :func:`canonicalize` over the 9 patterns;
    canonicalizing only permutes ops, so the proteins space is the full one restricted
    to specs whose ops are all in :data:`PROTEINS_OPS`.
    """
    if variant != "full":
        allowed = set(VARIANT_OPS[variant])
        return tuple(a for a in _members("full") if allowed.issuperset(a.ops))
    out = []
    for pattern in LINK_PATTERNS:
        for ops in itertools.product(GNN_OPS, repeat=NUM_NODES):
            if all(op == "skip" for op in ops):
                continue
            arch = NBGraphArch(pattern, ops)
            if canonicalize(pattern, ops) == arch:
                out.append(arch)
    return tuple(out)


@functools.cache
def _hashes(variant: str) -> tuple[int, ...]:
    return tuple(nbgraph_hash(a) for a in _members(variant))


@functools.cache
def _ids(variant: str) -> tuple[str, ...]:
    return tuple(str(a) for a in _members(variant))


@functools.cache
def _by_hash(variant: str) -> dict[int, NBGraphArch]:
    return dict(zip(_hashes(variant), _members(variant), strict=True))


class NBGraphSpace(SearchSpace):
    """NAS-Bench-Graph's space: 26,206 architectures (2,021 in the proteins variant).

    Args:
        variant: ``"full"`` (ops :data:`GNN_OPS`; 8 datasets) or ``"proteins"`` (ops
            :data:`PROTEINS_OPS`; ogbn-proteins). Ids and hashes are the same in both,
            so the proteins space is a subset of the full one.

    Raises:
        OutOfDomainError: an unknown variant.
    """

    def __init__(self, variant: str = "full") -> None:
        if variant not in VARIANT_OPS:
            raise OutOfDomainError(
                f"unknown NAS-Bench-Graph variant {variant!r}; use one of {sorted(VARIANT_OPS)}"
            )
        self.variant = variant
        self.ops = VARIANT_OPS[variant]
        self.name = "nbgraph" if variant == "full" else "nbgraph-proteins"

    @classmethod
    def for_dataset(cls, dataset: str) -> NBGraphSpace:
        """The space benchmarked on ``dataset`` (``"proteins"`` gets the reduced op list)."""
        return cls("proteins" if dataset == "proteins" else "full")

    def validate(self, arch: Hashable) -> NBGraphArch:
        """Check a spec and return its canonical form.

        Args:
            arch: an :class:`NBGraphArch`, a pair ``(link, ops)`` of 4 ints and 4 op
                names, or an ``arch_id`` string ``"0,0,1,3|gcn,gat,sage,skip"``. Any of
                the 24 link vectors with ``0 <= link[i] <= i`` is accepted.

        Returns:
            The canonical spec (link in :data:`LINK_PATTERNS`).

        Raises:
            OutOfDomainError: wrong shape or type, ``link[i]`` outside ``0..i``, an op
                outside this variant's op list, or all four ops ``"skip"``.
        """
        link, ops = self._split(arch)
        if len(link) != NUM_NODES or len(ops) != NUM_NODES:
            raise OutOfDomainError(
                f"NAS-Bench-Graph architecture {arch!r}: need {NUM_NODES} links and "
                f"{NUM_NODES} ops, got {len(link)} and {len(ops)}"
            )
        for i, lk in enumerate(link):
            if isinstance(lk, bool) or not isinstance(lk, int | np.integer) or not 0 <= lk <= i:
                raise OutOfDomainError(
                    f"NAS-Bench-Graph architecture {arch!r}: link[{i}]={lk!r} must be an "
                    f"int in 0..{i} (0 is the raw input, j the j-th computing node)"
                )
        for i, op in enumerate(ops):
            if op not in self.ops:
                extra = " (proteins variant)" if self.variant == "proteins" else ""
                raise OutOfDomainError(
                    f"NAS-Bench-Graph architecture {arch!r}: ops[{i}]={op!r} is not one of "
                    f"{', '.join(self.ops)}{extra}"
                )
        if all(op == "skip" for op in ops):
            raise OutOfDomainError(
                f"NAS-Bench-Graph architecture {arch!r}: all ops are 'skip' (the identity "
                "network is not in the benchmark)"
            )
        return canonicalize(tuple(int(lk) for lk in link), tuple(ops))

    @staticmethod
    def _split(arch: Hashable) -> tuple[tuple, tuple]:
        if isinstance(arch, NBGraphArch):
            return tuple(arch.link), tuple(arch.ops)
        if isinstance(arch, str):
            parts = arch.split("|")
            if len(parts) == 2:
                try:
                    link = tuple(int(x) for x in parts[0].split(","))
                except ValueError:
                    link = None
                if link is not None:
                    return link, tuple(parts[1].split(","))
            raise OutOfDomainError(
                f"NAS-Bench-Graph arch_id {arch!r}: expected 'l0,l1,l2,l3|op0,op1,op2,op3'"
            )
        if isinstance(arch, tuple | list) and len(arch) == 2:
            link, ops = arch
            if (
                isinstance(link, Sequence)
                and isinstance(ops, Sequence)
                and not isinstance(ops, str)
            ):
                return tuple(link), tuple(ops)
        raise OutOfDomainError(
            f"not a NAS-Bench-Graph architecture: {arch!r} (expected NBGraphArch, "
            "(link, ops) or an arch_id string)"
        )

    def arch_id(self, arch: Hashable) -> str:
        """``"l0,l1,l2,l3|op0,op1,op2,op3"`` of the canonical form.

        Raises:
            OutOfDomainError: as :meth:`validate`.
        """
        return str(self.validate(arch))

    def nbgraph_hash(self, arch: Hashable) -> int:
        """The benchmark's integer key (upstream ``valid_hash``) of ``arch``.

        Raises:
            OutOfDomainError: as :meth:`validate`.
        """
        return nbgraph_hash(self.validate(arch))

    def from_hash(self, key: int) -> NBGraphArch:
        """The canonical spec whose :func:`nbgraph_hash` is ``key``.

        Raises:
            OutOfDomainError: ``key`` is not the hash of a member of this space.
        """
        try:
            return _by_hash(self.variant)[key]
        except (KeyError, TypeError):
            raise OutOfDomainError(
                f"{key!r} is not the hash of a canonical architecture of {self.name}"
            ) from None

    def hashes(self) -> tuple[int, ...]:
        """The :func:`nbgraph_hash` of every member, ascending (the order of :meth:`enumerate`)."""
        return _hashes(self.variant)

    def arch_ids(self) -> tuple[str, ...]:
        """The ``arch_id`` of every member, in the order of :meth:`enumerate`."""
        return _ids(self.variant)

    def size(self) -> int:
        """26,206 (full) or 2,021 (proteins)."""
        return len(_members(self.variant))

    def enumerate(self) -> Iterator[NBGraphArch]:
        """Canonical specs in ascending :func:`nbgraph_hash` order.

        That is by link pattern index, then by op indices in :data:`GNN_OPS` order
        (lexicographic over positions 0..3), the order of the rows of the ingested tables.
        """
        return iter(_members(self.variant))

    def sample(self, rng: np.random.Generator) -> NBGraphArch:
        """A canonical spec drawn uniformly over the distinct architectures."""
        members = _members(self.variant)
        return members[int(rng.integers(len(members)))]

    def mutate(self, arch: Hashable, rng: np.random.Generator) -> NBGraphArch:
        """A uniformly chosen distinct neighbour of ``arch``.

        Neighbours are the canonical forms of the specs obtained from the canonical form
        of ``arch`` by replacing its link pattern with another of the 9, or one op with
        another op of this variant; the identity network and specs equivalent to
        ``arch`` itself are left out.

        Raises:
            OutOfDomainError: ``arch`` is not in the space.
        """
        base = self.validate(arch)
        own = nbgraph_hash(base)
        candidates: dict[int, NBGraphArch] = {}

        def consider(link: tuple[int, ...], ops: tuple[str, ...]) -> None:
            if all(op == "skip" for op in ops):
                return
            c = canonicalize(link, ops)
            h = nbgraph_hash(c)
            if h != own:
                candidates[h] = c

        for pattern in LINK_PATTERNS:
            if pattern != base.link:
                consider(pattern, base.ops)
        for i, old in enumerate(base.ops):
            for op in self.ops:
                if op != old:
                    consider(base.link, (*base.ops[:i], op, *base.ops[i + 1 :]))
        keys = sorted(candidates)
        return candidates[keys[int(rng.integers(len(keys)))]]
