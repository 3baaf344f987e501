"""LaTeX (booktabs) tables with stable bytes, and one call writing CSV, Markdown and LaTeX.

Cells are formatted by type, never by pandas' locale- or version-dependent printers:
strings and column names are escaped (``nb201-cifar10``, ``mse_sr``, ``%`` are safe),
floats use ``floatfmt`` (one format, or one per column), NaN/None is an empty cell, and a
value that rounds to zero is printed without a minus sign. So the same frame always gives
the same bytes, and a rerun that changes nothing leaves the .tex untouched for
Snakemake/DVC.

Usage::

    tex = to_latex(df, caption="ReNAS Table 3 vs ours", label="tab:renas_search")
    write_tables(df, "reports/tables/renas_search_vs_published",
                 caption="ReNAS Table 3: ours vs published")
    # -> [... .csv, ... .md, ... .tex]; \\input the .tex (needs \\usepackage{booktabs})
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from nasrank.io import write_text
from nasrank.stats import write_table

__all__ = ["escape", "format_cell", "to_latex", "write_tables"]

#: LaTeX's special characters and their text-mode replacements
_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
             "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
             "^": r"\textasciicircum{}"}
_SPECIALS_RE = re.compile("|".join(re.escape(c) for c in _SPECIALS))
_NEGATIVE_ZERO = re.compile(r"^-(0*\.?0*)(e[+-]?0+)?$")

FloatFmt = str | Mapping[str, str]


def escape(text: str) -> str:
    """``text`` with every LaTeX special character made literal (text mode)."""
    return _SPECIALS_RE.sub(lambda m: _SPECIALS[m.group()], text)


def format_cell(value: object, floatfmt: str = ".4f") -> str:
    """One cell as escaped LaTeX: empty for missing values, ``floatfmt`` for floats."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isnan(f):
            return ""
        text = format(f, floatfmt)
        return text[1:] if _NEGATIVE_ZERO.match(text) else escape(text)
    return escape(str(value))


def _fmt(floatfmt: FloatFmt, column: str) -> str:
    if isinstance(floatfmt, str):
        return floatfmt
    return floatfmt.get(column, ".4f")


def _align(series: pd.Series) -> str:
    """Right-align numbers (not booleans), left-align everything else."""
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    return "r" if numeric else "l"


def to_latex(df: pd.DataFrame, caption: str | None = None, label: str | None = None,
             floatfmt: FloatFmt = ".4f") -> str:
    """``df`` as a booktabs ``tabular``, in a ``table`` float when captioned or labelled.

    Args:
        df: the table; its index is ignored (reset it first to keep it).
        caption: plain text (escaped); wraps the tabular in ``table`` with ``\\caption``.
        label: ``\\label`` key, used verbatim (e.g. ``tab:renas_search``).
        floatfmt: ``format`` spec of float cells, or a mapping column -> spec (``.4f``
            for columns it does not name).
    """
    columns = [str(c) for c in df.columns]
    spec = "".join(_align(df[c]) for c in df.columns)
    lines = [f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
             " & ".join(escape(c) for c in columns) + " \\\\", "\\midrule"]
    fmts = [_fmt(floatfmt, c) for c in columns]
    for row in df.itertuples(index=False, name=None):
        lines.append(" & ".join(format_cell(v, f) for v, f in zip(row, fmts, strict=True))
                     + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    if caption is None and label is None:
        return "\n".join(lines) + "\n"
    head = ["\\begin{table}[htbp]", "\\centering"]
    if caption is not None:
        head.append(f"\\caption{{{escape(caption)}}}")
    if label is not None:
        head.append(f"\\label{{{label}}}")
    return "\n".join([*head, *lines, "\\end{table}"]) + "\n"


def write_tables(df: pd.DataFrame, stem: str, caption: str | None = None,
                 label: str | None = None, floatfmt: str = ".4f") -> list[str]:
    """Write ``stem.csv``, ``stem.md`` and ``stem.tex``, each atomically; returns the paths.

    The label defaults to ``tab:<file name of stem>``.
    """
    paths = write_table(df, stem, floatfmt=floatfmt)
    tex = f"{stem}.tex"
    label = label if label is not None else f"tab:{Path(stem).name}"
    write_text(tex, to_latex(df, caption=caption, label=label, floatfmt=floatfmt))
    return [*paths, tex]
