"""Line charts for the UI: largest-triangle-three-buckets downsampling, a server-drawn SVG that
reads without JavaScript, and the plotly spec the browser draws interactively instead.

A 100,000-point metric is cut to ``max_points`` points per line (1,000 by default) before it
leaves the server, keeping the peaks and dips that a stride would drop (Steinarsson, 2013,
"Downsampling Time Series for Visual Representation").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np
import numpy.typing as npt

PALETTE = (
    "#4f6bed", "#e7833a", "#2fa36b", "#d9456b", "#8b5cf6",
    "#0ea5b7", "#b08900", "#64748b", "#c2410c", "#15803d",
)  # fmt: skip
DEFAULT_POINTS = 1000


def lttb(x: npt.ArrayLike, y: npt.ArrayLike, n_out: int) -> npt.NDArray[np.int64]:
    """The indices of the ``n_out`` points that largest-triangle-three-buckets keeps.

    The first and last points are always kept; the rest of the series is cut into ``n_out - 2``
    buckets and from each the point forming the largest triangle with the point kept before it
    and the mean of the next bucket is kept. Non-finite values must be removed first.

    Args:
        x: increasing x values (steps or times), length n.
        y: the values, length n.
        n_out: how many points to keep (at least 3); all are kept when n <= n_out.

    >>> lttb([0, 1, 2, 3, 4], [0, 5, 0, 0, 0], 3).tolist()
    [0, 1, 4]
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    n = len(xs)
    if n_out >= n or n_out < 3:
        return np.arange(n, dtype=np.int64)
    # Bucket edges over the points between the first and the last.
    edges = np.linspace(1, n - 1, n_out - 1).astype(np.int64)
    kept = np.empty(n_out, dtype=np.int64)
    kept[0] = 0
    kept[-1] = n - 1
    previous = 0
    for b in range(n_out - 2):
        lo, hi = edges[b], edges[b + 1]
        nxt_lo, nxt_hi = edges[b + 1], (edges[b + 2] if b + 2 < len(edges) else n)
        mean_x = xs[nxt_lo:nxt_hi].mean()
        mean_y = ys[nxt_lo:nxt_hi].mean()
        px, py = xs[previous], ys[previous]
        area = np.abs((px - mean_x) * (ys[lo:hi] - py) - (px - xs[lo:hi]) * (mean_y - py))
        previous = int(lo + np.argmax(area))
        kept[b + 1] = previous
    return kept


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a chart: its name and points (already downsampled)."""

    name: str
    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    points_total: int


def downsample(
    name: str, x: npt.ArrayLike, y: npt.ArrayLike, *, max_points: int = DEFAULT_POINTS
) -> Line:
    """``name``'s finite points, cut to ``max_points`` with :func:`lttb`."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    finite = np.isfinite(ys) & np.isfinite(xs)
    if not finite.all():
        xs, ys = xs[finite], ys[finite]
    keep = lttb(xs, ys, max_points)
    return Line(name=name, x=xs[keep], y=ys[keep], points_total=len(xs))


def line_chart(
    lines: Sequence[Line], *, title: str = "", x_title: str = "step", y_title: str = ""
) -> dict[str, Any]:
    """A chart for the ``chart`` template macro: ``svg`` (drawn here), ``data`` (the plotly
    spec app.js draws instead) and ``note`` (how many points were drawn of how many)."""
    drawn = sum(len(line.x) for line in lines)
    total = sum(line.points_total for line in lines)
    note = f"{drawn:,} of {total:,} points drawn (largest-triangle downsampling)"
    # Few points (a short log, a few time buckets) are drawn as dots too, so one point shows.
    mode = "lines+markers" if all(len(line.x) < 50 for line in lines) else "lines"
    traces = [
        {
            "name": line.name,
            "x": line.x,
            "y": line.y,
            "mode": mode,
            "line": {"color": PALETTE[i % len(PALETTE)]},
        }
        for i, line in enumerate(lines)
    ]
    return {
        "svg": svg_lines(lines, title=title, y_title=y_title),
        "data": {"traces": traces, "x_title": x_title, "y_title": y_title, "title": title},
        "note": note if total > drawn else "",
    }


def svg_lines(lines: Sequence[Line], *, title: str = "", y_title: str = "") -> str:
    """The lines as an inline SVG (axes with their ranges, a legend); escaped, safe to embed."""
    width, height = 800, 280
    left, right, top, bottom = 64, 16, 24, 40
    filled = [line for line in lines if len(line.x)]
    if not filled:
        return (
            f'<svg class="spark" viewBox="0 0 {width} 60" role="img">'
            '<text x="10" y="34">no points</text></svg>'
        )
    x_lo = min(float(line.x.min()) for line in filled)
    x_hi = max(float(line.x.max()) for line in filled)
    y_lo = min(float(line.y.min()) for line in filled)
    y_hi = max(float(line.y.max()) for line in filled)
    x_span = (x_hi - x_lo) or 1.0
    y_span = (y_hi - y_lo) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg class="spark" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title or y_title)}">',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{_tick(y_hi)}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">{_tick(y_lo)}</text>',
        f'<text x="{left}" y="{height - 22}">{_tick(x_lo)}</text>',
        f'<text x="{left + plot_w}" y="{height - 22}" text-anchor="end">{_tick(x_hi)}</text>',
    ]
    for i, line in enumerate(filled):
        px = left + (line.x - x_lo) / x_span * plot_w
        py = top + plot_h - (line.y - y_lo) / y_span * plot_h
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px.tolist(), py.tolist(), strict=True))
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<polyline class="line" stroke="{color}" points="{points}"/>')
        if len(px) < 50:
            parts.extend(
                f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>'
                for a, b in zip(px.tolist(), py.tolist(), strict=True)
            )
    x = left
    for i, line in enumerate(filled[:8]):
        color = PALETTE[i % len(PALETTE)]
        label = escape(line.name[:40])
        parts.append(f'<rect x="{x}" y="{height - 12}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x + 14}" y="{height - 3}">{label}</text>')
        x += 24 + 7 * len(line.name[:40])
    parts.append("</svg>")
    return "".join(parts)


def _tick(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) < 1e12 else f"{value:.4g}"
