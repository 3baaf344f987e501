"""Variation operators restricted to a pool: mutation, crossover, random members.

Mutation is the space's own ``mutate``. Crossover:

* cell spaces whose specs are fixed-length sequences (NB201 and TransNAS-Bench-101 micro:
  tuples of 6 edge ops; NAS-Bench-Macro: strings of 8 layer choices) use **uniform
  crossover**: each position is taken from either parent with probability 1/2, and the
  child is canonicalised with ``space.validate``;
* NAS-Bench-101 :class:`~nasrank.spaces.nb101.ModelSpec` parents with the same number of
  vertices exchange, independently per vertex with probability 1/2, the op of each
  intermediate vertex and each row of the adjacency matrix (a row keeps the matrix upper
  triangular); the child is pruned and checked with ``space.validate``. Parents with
  different vertex counts cannot be crossed;
* any other spec type (e.g. NAS-Bench-Graph) is not crossed.

When crossover is not possible or gives an invalid cell, :func:`crossover` returns
``None`` and the caller mutates the first parent instead.

Pool restriction: :func:`draw_in_pool` draws children until one is a pool member that the
caller accepts, at most ``max_tries`` times; the caller then falls back to a uniformly
drawn pool member (:func:`random_member`) and counts the fallback in its ``info``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable

import numpy as np

from nasrank.errors import OutOfDomainError
from nasrank.search.base import Pool
from nasrank.spaces.base import SearchSpace
from nasrank.spaces.nb101 import ModelSpec

__all__ = ["crossover", "draw_in_pool", "mutant", "random_member"]


def crossover(
    space: SearchSpace, a: Hashable, b: Hashable, rng: np.random.Generator
) -> Hashable | None:
    """A child of ``a`` and ``b`` (see the module docstring), or ``None``."""
    if isinstance(a, ModelSpec) and isinstance(b, ModelSpec):
        return _crossover_nb101(space, a, b, rng)
    if (isinstance(a, tuple | str) and type(a) is type(b) and len(a) == len(b)
            and len(a) > 0):
        take_a = rng.random(len(a)) < 0.5
        genes = [x if t else y for x, y, t in zip(a, b, take_a, strict=True)]
        child: Hashable = "".join(genes) if isinstance(a, str) else tuple(genes)
        try:
            return space.validate(child)
        except OutOfDomainError:
            return None
    return None


def _crossover_nb101(
    space: SearchSpace, a: ModelSpec, b: ModelSpec, rng: np.random.Generator
) -> ModelSpec | None:
    n = len(a.ops)
    if len(b.ops) != n or len(a.matrix) != n or len(b.matrix) != n:
        return None
    take_op = rng.random(n) < 0.5
    take_row = rng.random(n) < 0.5
    ops = [a.ops[i] if take_op[i] else b.ops[i] for i in range(n)]  # ends: input/output
    matrix = [a.matrix[i] if take_row[i] else b.matrix[i] for i in range(n)]
    try:
        return space.validate(ModelSpec(matrix, ops))
    except OutOfDomainError:
        return None


def draw_in_pool(
    space: SearchSpace,
    pool: Pool,
    make: Callable[[], Hashable | None],
    accept: Callable[[int], bool],
    max_tries: int,
) -> int | None:
    """The pool index of the first child of ``make()`` that is in the pool and accepted.

    ``make`` returns a spec (or ``None`` for a failed attempt); at most ``max_tries``
    calls. Returns ``None`` when every attempt failed.
    """
    for _ in range(max_tries):
        child = make()
        if child is None:
            continue
        i = pool.index.get(space.arch_id(child))
        if i is not None and accept(i):
            return i
    return None


def mutant(space: SearchSpace, spec: Hashable, steps: int, rng: np.random.Generator
           ) -> Hashable:
    """``spec`` after ``steps`` successive ``space.mutate`` calls."""
    for _ in range(steps):
        spec = space.mutate(spec, rng)
    return spec


def random_member(pool: Pool, rng: np.random.Generator, exclude: Collection[int]) -> int:
    """A pool index drawn uniformly among those not in ``exclude`` (must not be all)."""
    n = len(pool)
    if len(exclude) >= n:
        raise AssertionError("no pool member left to draw")  # callers check the budget
    if len(exclude) <= n // 2:
        while True:
            i = int(rng.integers(n))
            if i not in exclude:
                return i
    free = np.setdiff1d(np.arange(n), np.fromiter(exclude, dtype=np.int64))
    return int(free[rng.integers(len(free))])
