"""Static SVG charts for the analysis reports: they need no JavaScript and no network.

Each function returns one ``<svg>`` element as text; the HTML reports inline it, the Markdown
reports link the same SVG written beside them. Every label is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

_FONT = "font-family='system-ui,sans-serif' font-size='11'"


def confusion_svg(labels: Sequence[str], matrix: Sequence[Sequence[int]]) -> str:
    """A heatmap of the confusion matrix: rows true class, columns predicted, counts in cells.

    Each row is shaded relative to its own total, so small classes are as readable as large ones.
    """
    n = len(labels)
    cell = 34 if n <= 12 else max(12, 420 // max(n, 1))
    left, top = 60, 40
    width, height = left + n * cell + 20, top + n * cell + 40
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='confusion matrix' {_FONT}>",
        f"<text x='{left}' y='14'>predicted →</text>",
        f"<text x='6' y='{top - 6}'>true ↓</text>",
    ]
    for j, label in enumerate(labels):
        x = left + j * cell + cell / 2
        parts.append(f"<text x='{x:.1f}' y='{top - 6}' text-anchor='middle'>{escape(label)}</text>")
    for i, row in enumerate(matrix):
        total = max(sum(row), 1)
        y = top + i * cell
        parts.append(
            f"<text x='{left - 6}' y='{y + cell / 2 + 4:.1f}' text-anchor='end'>"
            f"{escape(labels[i])}</text>"
        )
        for j, count in enumerate(row):
            share = count / total
            # Diagonal (right) in blue, off-diagonal (mistakes) in red.
            colour = f"rgba(79,107,237,{share:.3f})" if i == j else f"rgba(217,69,107,{share:.3f})"
            x = left + j * cell
            parts.append(
                f"<rect x='{x}' y='{y}' width='{cell}' height='{cell}' fill='{colour}' "
                "stroke='#ddd'/>"
            )
            if count and cell >= 20:
                parts.append(
                    f"<text x='{x + cell / 2:.1f}' y='{y + cell / 2 + 4:.1f}' "
                    f"text-anchor='middle'>{count}</text>"
                )
    parts.append("</svg>")
    return "".join(parts)


def reliability_svg(bins: Sequence[tuple[float, float, int]]) -> str:
    """A reliability diagram: ``(mean confidence, observed accuracy, rows)`` per bin, with the
    diagonal of perfect calibration."""
    size, pad = 240, 36
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{size + 2 * pad}' "
        f"height='{size + 2 * pad}' role='img' aria-label='reliability diagram' {_FONT}>",
        f"<rect x='{pad}' y='{pad}' width='{size}' height='{size}' fill='none' stroke='#999'/>",
        f"<line x1='{pad}' y1='{pad + size}' x2='{pad + size}' y2='{pad}' stroke='#bbb' "
        "stroke-dasharray='4 3'/>",
        f"<text x='{pad + size / 2}' y='{pad + size + 26}' text-anchor='middle'>confidence</text>",
        f"<text x='10' y='{pad - 10}'>accuracy</text>",
    ]
    most = max((rows for _, _, rows in bins), default=1) or 1
    for confidence, accuracy, rows in bins:
        x = pad + confidence * size
        y = pad + (1 - accuracy) * size
        radius = 3 + 6 * (rows / most) ** 0.5
        parts.append(
            f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{radius:.1f}' fill='#4f6bed' "
            f"fill-opacity='0.7'><title>{rows} rows: confidence {confidence:.3f}, "
            f"accuracy {accuracy:.3f}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def interval_svg(rows: Sequence[tuple[str, float, float, float, bool]]) -> str:
    """Accuracy per slice with its confidence interval: ``(name, value, low, high, too_small)``.

    Too-small slices are drawn grey.
    """
    label_w, bar_w, row_h = 150, 300, 18
    height = 30 + row_h * len(rows)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{label_w + bar_w + 70}' "
        f"height='{height}' role='img' aria-label='accuracy per slice' {_FONT}>",
        f"<text x='{label_w}' y='12'>0</text>",
        f"<text x='{label_w + bar_w}' y='12' text-anchor='end'>1</text>",
    ]
    for i, (name, value, low, high, small) in enumerate(rows):
        y = 22 + i * row_h
        colour = "#9ca3af" if small else "#4f6bed"
        parts.append(
            f"<text x='{label_w - 6}' y='{y + 4}' text-anchor='end'>{escape(name[:24])}</text>"
            f"<line x1='{label_w + low * bar_w:.1f}' y1='{y}' x2='{label_w + high * bar_w:.1f}' "
            f"y2='{y}' stroke='{colour}' stroke-width='2'/>"
            f"<circle cx='{label_w + value * bar_w:.1f}' cy='{y}' r='4' fill='{colour}'/>"
            f"<text x='{label_w + bar_w + 8}' y='{y + 4}'>{value:.3f}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
