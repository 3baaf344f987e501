"""The NAS-Bench-Macro search space (8 searchable layers, 3 choices each).

A network is a stem, three stages of 2, 3 and 3 searchable layers, and a head. The
first layer of each stage halves the resolution and doubles the channels; each layer
is one of :data:`LAYER_CHOICES`: ``0`` Identity (a strided 1x1 conv + BN in the first
layer of a stage), ``1`` MB3_K3 (MobileNetV2 block, expansion 3, kernel 3) or ``2``
MB6_K5 (expansion 6, kernel 5). A spec is the 8-character string of choice digits,
the key format of upstream's ``nas-bench-macro_cifar10.json``.

Usage::

    from nasrank.spaces.nbmacro import NBMacroSpace
    space = NBMacroSpace()
    space.arch_id("10002201")           # '10020210' (identities moved to stage ends)
    space.size()                        # 3969
    space.aliases("10020210")           # ('10002201', '10002210', '10020201', '10020210')
    rng = np.random.default_rng(0)
    child = space.mutate(space.sample(rng), rng)

Canonical form. Identity layers after the first layer of a stage are no-ops, so
``1 0 2`` and ``1 2 0`` in a stage are the same network. Upstream trained one network
per class, naming it by ``get_real_arch`` (``train/utils.py`` of xiusu/NAS-Bench-Macro:
keep each stage's first layer, then its non-identity layers in order, then its
identities) and copied its record to every other key of the class
(``train/collect_benchmark.py``). The json therefore holds 6,561 (= 3^8) keys but only
3,969 (= 9 x 21 x 21) distinct networks; this space counts those, with the
``get_real_arch`` string as ``arch_id``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Hashable, Iterator, Sequence

import numpy as np

from nasrank.errors import OutOfDomainError
from nasrank.spaces.base import SearchSpace

LAYER_CHOICES: tuple[str, ...] = ("Identity", "MB3_K3", "MB6_K5")
STAGES: tuple[int, ...] = (2, 3, 3)
NUM_LAYERS = sum(STAGES)
_DIGITS = "".join(str(i) for i in range(len(LAYER_CHOICES)))


def canonicalize(spec: str) -> str:
    """Upstream ``get_real_arch``: within each stage, move identities behind the others.

    Args:
        spec: 8 digits over ``"012"`` (not checked here).

    Returns:
        The representative of ``spec``'s class (the key upstream trained).
    """
    out = []
    start = 0
    for n in STAGES:
        stage = spec[start : start + n]
        rest = stage[1:]
        out.append(stage[0] + rest.replace("0", "") + "0" * rest.count("0"))
        start += n
    return "".join(out)


@functools.cache
def _members() -> tuple[str, ...]:
    """Canonical specs in base-3 order."""
    specs = ("".join(p) for p in itertools.product(_DIGITS, repeat=NUM_LAYERS))
    return tuple(s for s in specs if canonicalize(s) == s)


@functools.cache
def _aliases() -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {}
    for p in itertools.product(_DIGITS, repeat=NUM_LAYERS):
        s = "".join(p)
        groups.setdefault(canonicalize(s), []).append(s)
    return {k: tuple(v) for k, v in groups.items()}


class NBMacroSpace(SearchSpace):
    """NAS-Bench-Macro's space: 3^8 = 6,561 layer strings, 3,969 distinct networks."""

    name = "nbmacro"

    def validate(self, arch: Hashable) -> str:
        """Check a spec and return its canonical 8-character string.

        Args:
            arch: an 8-character string over ``"012"``, or a sequence (or 1-d array)
                of 8 choice indices (0-2) or choice names from :data:`LAYER_CHOICES`.

        Returns:
            The canonical string (identities at the end of each stage after its first
            layer).

        Raises:
            OutOfDomainError: wrong length or a choice outside the 3 of each layer.
        """
        if isinstance(arch, str):
            spec = arch
        elif isinstance(arch, Sequence | np.ndarray):
            spec = "".join(self._digit(arch, i, c) for i, c in enumerate(arch))
        else:
            raise OutOfDomainError(
                f"not a NAS-Bench-Macro architecture: {arch!r} (expected an 8-character "
                "string over '012' or a sequence of 8 choices)"
            )
        if len(spec) != NUM_LAYERS or any(c not in _DIGITS for c in spec):
            raise OutOfDomainError(
                f"NAS-Bench-Macro architecture {arch!r}: need {NUM_LAYERS} layer choices, "
                f"each one of {', '.join(f'{i} {n}' for i, n in enumerate(LAYER_CHOICES))}"
            )
        return canonicalize(spec)

    @staticmethod
    def _digit(arch: object, i: int, choice: object) -> str:
        if isinstance(choice, str) and choice in LAYER_CHOICES:
            return str(LAYER_CHOICES.index(choice))
        if (
            isinstance(choice, int | np.integer)
            and not isinstance(choice, bool)
            and 0 <= choice < len(LAYER_CHOICES)
        ):
            return str(int(choice))
        raise OutOfDomainError(
            f"NAS-Bench-Macro architecture {arch!r}: layer {i} choice {choice!r} is not one "
            f"of 0-{len(LAYER_CHOICES) - 1} or {', '.join(LAYER_CHOICES)}"
        )

    def arch_id(self, arch: Hashable) -> str:
        """The canonical 8-character string.

        Raises:
            OutOfDomainError: as :meth:`validate`.
        """
        return self.validate(arch)

    def aliases(self, arch: Hashable) -> tuple[str, ...]:
        """All 8-character specs of ``arch``'s network (1, 2 or 4), in base-3 order.

        Raises:
            OutOfDomainError: as :meth:`validate`.
        """
        return _aliases()[self.validate(arch)]

    def layer_names(self, arch: Hashable) -> tuple[str, ...]:
        """The :data:`LAYER_CHOICES` names of the canonical form's 8 layers.

        Raises:
            OutOfDomainError: as :meth:`validate`.
        """
        return tuple(LAYER_CHOICES[int(c)] for c in self.validate(arch))

    def size(self) -> int:
        """3,969 distinct networks."""
        return len(_members())

    def enumerate(self) -> Iterator[str]:
        """Canonical strings in base-3 order (``"00000000"``, ``"00000001"``, ...)."""
        return iter(_members())

    def sample(self, rng: np.random.Generator) -> str:
        """A canonical string drawn uniformly over the 3,969 distinct networks."""
        members = _members()
        return members[int(rng.integers(len(members)))]

    def mutate(self, arch: Hashable, rng: np.random.Generator) -> str:
        """A uniformly chosen distinct neighbour of ``arch``.

        Neighbours are the canonical forms of the specs obtained from the canonical form
        of ``arch`` by changing one layer's choice; those equal to ``arch`` are left out.

        Raises:
            OutOfDomainError: ``arch`` is not in the space.
        """
        base = self.validate(arch)
        candidates = {
            canonicalize(base[:i] + d + base[i + 1 :])
            for i in range(NUM_LAYERS)
            for d in _DIGITS
            if d != base[i]
        }
        candidates.discard(base)
        keys = sorted(candidates)
        return keys[int(rng.integers(len(keys)))]
