"""A self-contained HTML drift report: a summary table and one small bar chart per column.

No JavaScript and no embedded libraries: inline SVG bars of the reference and current shares per
PSI bin, so a 20-column report is a few tens of kilobytes (Evidently's is ~5 MB) and is drawn as
fast as the browser parses it.
"""

from __future__ import annotations

from html import escape

from flywheel_ml.monitor.drift import ColumnDrift, DriftReport

_STYLE = """
body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}.drift{color:#b00020;font-weight:600}
.cols{display:flex;flex-wrap:wrap;gap:16px}.col{border:1px solid #ddd;padding:8px}
svg rect.r{fill:#8aa4c8}svg rect.c{fill:#e07b39}
"""


def _bars(column: ColumnDrift, *, width: int = 260, height: int = 80) -> str:
    bins = column.bins
    if not bins:
        return ""
    top = max(max(r, c) for _, r, c in bins) or 1.0
    step = width / len(bins)
    bar = max(step / 2 - 1, 1)
    rects = []
    for i, (label, ref, cur) in enumerate(bins):
        x = i * step
        hr, hc = ref / top * (height - 4), cur / top * (height - 4)
        rects.append(
            f'<rect class="r" x="{x:.1f}" y="{height - hr:.1f}" width="{bar:.1f}" '
            f'height="{hr:.1f}"><title>{escape(label)}: reference {ref:.3f}</title></rect>'
            f'<rect class="c" x="{x + bar:.1f}" y="{height - hc:.1f}" width="{bar:.1f}" '
            f'height="{hc:.1f}"><title>{escape(label)}: current {cur:.3f}</title></rect>'
        )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(rects)}</svg>'


def render_drift_html(report: DriftReport, *, title: str = "Drift report") -> str:
    """The report as one HTML page (reference bars blue, current orange)."""
    opts = report.options
    rows = []
    for c in report.columns:
        cls = ' class="drift"' if c.drifted else ""
        rows.append(
            f"<tr{cls}><td>{escape(c.column)}</td><td>{escape(c.role)}</td><td>{c.test}</td>"
            f"<td>{c.statistic:.4g}</td><td>{c.p_adjusted:.3g}</td><td>{c.psi:.3f}</td>"
            f"<td>{c.effect:.3f}</td><td>{'drift' if c.drifted else 'ok'}</td></tr>"
        )
    cards = "".join(
        f'<div class="col"><b>{escape(c.column)}</b>{" (drift)" if c.drifted else ""}<br>'
        f"{_bars(c)}</div>"
        for c in report.columns
    )
    drifted = ", ".join(report.drifted) or "none"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f"<p>Reference <b>{escape(report.reference)}</b>; {report.rows:,} current rows. "
        f"Drifted: <b>{escape(drifted)}</b>.</p>"
        f"<p>A column is flagged when its test is significant at {opts.alpha:g} after "
        f"{'Benjamini–Hochberg' if opts.correction == 'bh' else 'Bonferroni'} correction "
        f"and the effect reaches the floor (Wasserstein &ge; {opts.min_shift_sd:g} SD for numbers, "
        f"total variation &ge; {opts.min_tvd:g} for categories).</p>"
        "<table><tr><th>column</th><th>role</th><th>test</th><th>statistic</th>"
        "<th>p adjusted</th><th>PSI</th><th>effect</th><th>verdict</th></tr>"
        f"{''.join(rows)}</table><h2>Distributions</h2>"
        "<p>blue: reference, orange: current (shares per bin)</p>"
        f'<div class="cols">{cards}</div></body></html>'
    )
