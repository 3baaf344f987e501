"""Reports: our tables beside the published numbers, as CSV, Markdown, LaTeX and HTML.

Submodules:

* :mod:`nasrank.published` (below both this package and :mod:`nasrank.families`) —
  reports/published.yaml: the published numbers our tables reproduce, each with its
  source; ``load_published()``. Figures are saved by :mod:`nasrank.plotting`.
* :mod:`nasrank.report.compare` — ``COMPARISONS``: ``<table>_vs_published`` tables
  (ours, published, difference, what differs in the data).
* :mod:`nasrank.report.latex` — ``to_latex`` (booktabs, escaped, stable bytes) and
  ``write_tables`` (stem.csv, stem.md, stem.tex).
* :mod:`nasrank.report.stats` — statistical tests behind the report's claims.
* :mod:`nasrank.report.figures` — the report's figures.
* :mod:`nasrank.report.html` — the HTML report.
"""
