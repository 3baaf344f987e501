"""Writing figures: one house style and byte-stable PNG and PDF files.

Shared by the report's figures (:mod:`nasrank.report.figures`) and the predictor-family
figures (:mod:`nasrank.families.figures`), so neither imports the other.

Usage::

    from nasrank.plotting import save_figure, style
    with style():
        fig = draw(params)                # a matplotlib Figure
        save_figure(fig, "reports/figures/name")   # -> [name.png, name.pdf]
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nasrank.io import atomic_path

__all__ = ["FORMATS", "MARKERS", "PNG_DPI", "STYLE", "curve_style", "save_figure", "style"]

PNG_DPI = 300

#: rcParams of every figure: paper-size fonts, TrueType fonts embedded in the PDF
STYLE: dict[str, Any] = {
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "legend.fontsize": 7, "figure.titlesize": 8,
    "legend.title_fontsize": 7, "lines.linewidth": 1.2, "lines.markersize": 4,
    "axes.linewidth": 0.6, "grid.linewidth": 0.4, "grid.alpha": 0.4,
    "pdf.fonttype": 42, "savefig.bbox": "tight", "savefig.pad_inches": 0.02,
}
#: savefig options per format: fixed metadata so the same data give the same bytes
FORMATS: dict[str, dict[str, Any]] = {
    "png": {"dpi": PNG_DPI, "metadata": {"Software": None}},
    "pdf": {"metadata": {"CreationDate": None}},
}


#: markers of :func:`curve_style`, one per curve in turn
MARKERS = "osD^v<>pPX*h"


def curve_style(i: int) -> dict[str, Any]:
    """The ``i``-th of many curves in one panel (a predictor each): its own colour
    (tab20, then tab20b) and a marker."""
    from matplotlib import colormaps

    palette = [*colormaps["tab20"].colors, *colormaps["tab20b"].colors]
    return {"color": palette[i % len(palette)], "marker": MARKERS[i % len(MARKERS)]}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Figures drawn inside use :data:`STYLE`."""
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def save_figure(fig: Any, dest_stem: str | Path) -> list[Path]:
    """Write ``fig`` as ``<stem>.png`` and ``<stem>.pdf``, each atomically.

    Both are rendered before either is written, so a failure leaves neither half-done.
    """
    stem = Path(dest_stem)
    rendered = {}
    for fmt, options in FORMATS.items():
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, **options)
        rendered[stem.with_name(f"{stem.name}.{fmt}")] = buf.getvalue()
    for path, data in rendered.items():
        with atomic_path(path, path.suffix) as tmp:
            tmp.write_bytes(data)
    return list(rendered)
