"""Search-space statistics of NAS-Bench-101 (ReNAS, Table 5).

For the whole enumerated space: the number of cells per input->output distance and per
"uses conv3x3 or not"; for the labelled records of each group: how many there are and
their best and mean accuracy.

Usage::

    table = nb101_space_stats(space, records, target="val_acc_108")
    write_table(table, "reports/tables/nb101_space_stats")
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from nasrank.errors import DataFormatError
from nasrank.io import write_text

STATS_COLUMNS = ["uses_conv3x3", "distance", "n_cells", "n_labelled", "best_acc", "mean_acc"]


def nb101_space_stats(space: pa.Table, records: pa.Table, target: str) -> pd.DataFrame:
    """One row per (uses_conv3x3, distance) group, conv3x3 groups first, distance 1..6.

    Args:
        space: the enumerated space (``io_distance``, ``uses_conv3x3`` per cell).
        records: the labelled records (same columns plus ``target``).
        target: accuracy column of ``records`` (percent).

    Raises:
        DataFormatError: naming a missing column.
    """
    for name, table, cols in (("space", space, ["io_distance", "uses_conv3x3"]),
                              ("records", records, ["io_distance", "uses_conv3x3", target])):
        missing = [c for c in cols if c not in table.column_names]
        if missing:
            raise DataFormatError(f"{name} table lacks columns {missing}")
    keys = ["uses_conv3x3", "io_distance"]
    cells = space.select(keys).to_pandas().value_counts().rename("n_cells")
    labelled = records.select([*keys, target]).to_pandas().dropna(subset=[target])
    grouped = labelled.groupby(keys)[target].agg(["size", "max", "mean"])
    grouped.columns = ["n_labelled", "best_acc", "mean_acc"]
    index = pd.MultiIndex.from_product([[True, False], range(1, 7)], names=keys)
    out = pd.concat([cells, grouped], axis=1).reindex(index).reset_index()
    out = out.rename(columns={"io_distance": "distance"})
    out["n_cells"] = out["n_cells"].fillna(0).astype("int64")
    out["n_labelled"] = out["n_labelled"].fillna(0).astype("int64")
    return out[STATS_COLUMNS]


def to_markdown(df: pd.DataFrame, floatfmt: str = ".2f") -> str:
    """A GitHub Markdown table with fixed number formatting (stable bytes)."""
    def cell(v: object) -> str:
        if isinstance(v, float):
            return "" if pd.isna(v) else format(v, floatfmt)
        return str(v)

    lines = ["| " + " | ".join(df.columns) + " |",
             "|" + "|".join("---" for _ in df.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_table(df: pd.DataFrame, stem: str, floatfmt: str = ".4f") -> list[str]:
    """Write ``stem.csv`` and ``stem.md`` atomically; returns the paths."""
    csv = df.to_csv(index=False, float_format="%" + floatfmt, lineterminator="\n")
    write_text(f"{stem}.csv", csv)
    write_text(f"{stem}.md", to_markdown(df))
    return [f"{stem}.csv", f"{stem}.md"]
