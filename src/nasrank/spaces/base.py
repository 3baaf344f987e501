"""The interface every search space implements.

A space turns an architecture (a small immutable spec object of that space) into its
canonical key ``arch_id`` (equal for isomorphic architectures), checks membership,
enumerates its members where that is feasible, samples uniformly and mutates. Search
(ReNAS GA, regularized evolution) and encodings only use this interface.

Usage::

    from nasrank.spaces import get_space
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    child = space.mutate(arch, rng)
    print(space.arch_id(child))
"""

from __future__ import annotations

import abc
from collections.abc import Hashable, Iterator

import numpy as np


class SearchSpace(abc.ABC):
    """A search space of architectures ``A`` (any hashable, immutable spec type)."""

    name: str

    @abc.abstractmethod
    def validate(self, arch: Hashable) -> Hashable:
        """Return ``arch`` in canonical (pruned/normalised) form.

        Raises:
            OutOfDomainError: naming what makes ``arch`` not a member of the space.
        """

    @abc.abstractmethod
    def arch_id(self, arch: Hashable) -> str:
        """The canonical key: equal for two specs of the same architecture."""

    @abc.abstractmethod
    def size(self) -> int:
        """Number of distinct architectures (distinct ``arch_id``) in the space."""

    @abc.abstractmethod
    def enumerate(self) -> Iterator[Hashable]:
        """Every distinct architecture once, in a fixed, documented order."""

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> Hashable:
        """One architecture drawn uniformly at random over distinct architectures."""

    @abc.abstractmethod
    def mutate(self, arch: Hashable, rng: np.random.Generator) -> Hashable:
        """A valid neighbour of ``arch`` that differs from it (``arch_id`` changes)."""
