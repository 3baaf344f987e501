"""The saved reports of search jobs, for the tables and figures.

Usage::

    reports = load_results(params, search_jobs(params, "renas"))   # one dict per seed
"""

from __future__ import annotations

import json
from typing import Any

from nasrank.errors import NasrankError
from nasrank.paths import Paths
from nasrank.search.jobs import SearchJob

__all__ = ["load_results"]


def load_results(params: dict[str, Any], jobs: list[SearchJob]) -> list[dict[str, Any]]:
    """The per-seed reports of ``jobs``.

    Raises:
        NasrankError: a missing report, naming the command that writes it.
    """
    out = []
    for job in jobs:
        for path in job.outputs(Paths.of(params)):
            if not path.is_file():
                raise NasrankError(f"{path} is missing; run `nasrank search {job.key}` first")
            with open(path, encoding="utf-8") as f:
                out.append(json.load(f))
    return out

