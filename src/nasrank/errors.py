"""Domain errors of nasrank.

Every error a user can cause (bad configuration, a corrupt download, an architecture
outside a search space) is a subclass of :class:`NasrankError`, so the command-line
tool can print it as one clear line and exit non-zero without a traceback.
"""

from __future__ import annotations


class NasrankError(Exception):
    """Base class of every error nasrank reports to the user."""


class ConfigError(NasrankError):
    """params.yaml (or a value given on the command line) is invalid."""


class ChecksumError(NasrankError):
    """A file's SHA-256 differs from the pinned one."""

    def __init__(self, path: str, expected: str, actual: str) -> None:
        super().__init__(
            f"SHA-256 mismatch for {path}: expected {expected}, got {actual}"
        )
        self.path = path
        self.expected = expected
        self.actual = actual


class DownloadError(NasrankError):
    """A benchmark file could be found neither in the mirror nor upstream."""


class DataFormatError(NasrankError):
    """An upstream file does not have the structure its reader expects."""


class OutOfDomainError(NasrankError):
    """An architecture is not a member of the search space it was given for."""


class NotEnumerableError(NasrankError, NotImplementedError):
    """A search space is too large to enumerate (e.g. DARTS, about 1.1e18 cells)."""


class UnknownNameError(NasrankError, KeyError):
    """A registry lookup failed; the message lists the names that exist."""

    def __init__(self, kind: str, name: str, available: list[str]) -> None:
        msg = f"unknown {kind} {name!r}; available: {', '.join(sorted(available))}"
        super().__init__(msg)
        self.msg = msg

    def __str__(self) -> str:
        return self.msg
