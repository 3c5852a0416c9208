"""Charts drawn on the server as inline SVG.

Server-side SVG needs no script and nothing fetched from anywhere, so the charts
render under a CSP with ``script-src 'self'``, without JavaScript and offline. Every
piece of text that reaches the markup goes through ``escape``: service names come
from data files a user may control. Colours are presentation attributes that the
stylesheet may override, so a chart still reads when CSS fails to load.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

FONT_SIZE = 13
BAR_ROW_HEIGHT = 26
BAR_HEIGHT = 18
LABEL_MAX_CHARS = 34
CHAR_WIDTH = 7.8  # average glyph width at FONT_SIZE in a sans-serif face
ACCENT = "#2f6fb2"
MUTED = "#5b6470"
GRID = "#d8dde3"


def _number(value: float) -> str:
    """Coordinates with two decimals at most, so the markup stays small and stable."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"", "-0"} else text


def _shorten(label: str, limit: int = LABEL_MAX_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def nice_ticks(max_value: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``max_value`` in steps of 1, 2 or 5 × 10^k."""
    if not math.isfinite(max_value) or max_value <= 0:
        return [0.0, 1.0]
    raw_step = max_value / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    top = math.ceil(max_value / step - 1e-9) * step
    return [round(i * step, 12) for i in range(round(top / step) + 1)]


def _tick_label(value: float) -> str:
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:g}"


def _open_svg(chart_id: str, title: str, width: float, height: float) -> list[str]:
    safe_id = escape(chart_id)
    return [
        f'<svg class="chart" id="{safe_id}" role="img" aria-labelledby="{safe_id}-title"'
        f' viewBox="0 0 {_number(width)} {_number(height)}" width="100%"'
        f' preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg"'
        f' font-size="{FONT_SIZE}" font-family="system-ui, sans-serif">',
        f'<title id="{safe_id}-title">{escape(title)}</title>',
    ]


def _empty_chart(chart_id: str, title: str, width: float) -> Markup:
    parts = _open_svg(chart_id, title, width, 60)
    parts.append(
        f'<text class="chart-empty" x="{_number(width / 2)}" y="34" text-anchor="middle"'
        f' fill="{MUTED}">No data yet</text>'
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(
    bars: Sequence[tuple[str, float]],
    title: str,
    chart_id: str,
    value_format: Callable[[float], str] = "{:.3f}".format,
    max_value: float | None = None,
    width: float = 640,
) -> Markup:
    """Horizontal bars, one per (label, value), longest label text clipped with a tooltip.

    ``max_value`` fixes the scale (e.g. 1.0 for metrics that are fractions); by default
    the largest value fills the plot. Negative values draw as empty bars.
    """
    if not bars:
        return _empty_chart(chart_id, title, width)
    label_width = min(LABEL_MAX_CHARS, max(len(label) for label, _ in bars)) * CHAR_WIDTH + 12
    value_width = max(len(value_format(value)) for _, value in bars) * CHAR_WIDTH + 12
    plot_width = max(width - label_width - value_width, 40)
    finite = [value for _, value in bars if math.isfinite(value)]
    scale_max = max_value if max_value is not None else max(finite, default=0.0)
    height = len(bars) * BAR_ROW_HEIGHT + 8
    parts = _open_svg(chart_id, title, width, height)
    for row, (label, value) in enumerate(bars):
        y = 4 + row * BAR_ROW_HEIGHT
        fraction = value / scale_max if scale_max > 0 and math.isfinite(value) else 0.0
        bar_length = plot_width * min(max(fraction, 0.0), 1.0)
        text_y = _number(y + BAR_HEIGHT / 2 + FONT_SIZE * 0.35)
        shown = value_format(value)
        parts.append(
            f'<g class="chart-row"><title>{escape(label)}: {escape(shown)}</title>'
            f'<text class="chart-label" x="{_number(label_width - 8)}" y="{text_y}"'
            f' text-anchor="end" fill="currentColor">{escape(_shorten(label))}</text>'
            f'<rect class="chart-track" x="{_number(label_width)}" y="{_number(y)}"'
            f' width="{_number(plot_width)}" height="{BAR_HEIGHT}" fill="{GRID}" rx="3"/>'
            f'<rect class="chart-bar" x="{_number(label_width)}" y="{_number(y)}"'
            f' width="{_number(bar_length)}" height="{BAR_HEIGHT}" fill="{ACCENT}" rx="3"/>'
            f'<text class="chart-value" x="{_number(label_width + plot_width + 8)}"'
            f' y="{text_y}" fill="currentColor">{escape(shown)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _x_label_positions(count: int, wanted: int = 6) -> list[int]:
    """Indices of evenly spread x labels, always including the first and the last."""
    if count <= wanted:
        return list(range(count))
    step = (count - 1) / (wanted - 1)
    return sorted({round(i * step) for i in range(wanted)})


def line_chart(
    points: Sequence[tuple[str, float]],
    title: str,
    chart_id: str,
    width: float = 640,
    height: float = 260,
) -> Markup:
    """A line over evenly spaced x categories (e.g. days), from a zero baseline."""
    if not points:
        return _empty_chart(chart_id, title, width)
    left, right, top, bottom = 56.0, 16.0, 12.0, 40.0
    plot_width = width - left - right
    plot_height = height - top - bottom
    values = [value if math.isfinite(value) else 0.0 for _, value in points]
    ticks = nice_ticks(max(values))
    scale_max = ticks[-1]

    def x_of(index: int) -> float:
        if len(points) == 1:
            return left + plot_width / 2
        return left + plot_width * index / (len(points) - 1)

    def y_of(value: float) -> float:
        return top + plot_height * (1 - max(value, 0.0) / scale_max)

    parts = _open_svg(chart_id, title, width, height)
    for tick in ticks:
        y = _number(y_of(tick))
        parts.append(
            f'<line class="chart-grid" x1="{_number(left)}" x2="{_number(left + plot_width)}"'
            f' y1="{y}" y2="{y}" stroke="{GRID}"/>'
            f'<text class="chart-axis" x="{_number(left - 8)}" y="{_number(y_of(tick) + 4)}"'
            f' text-anchor="end" fill="{MUTED}">{escape(_tick_label(tick))}</text>'
        )
    baseline = _number(top + plot_height)
    longest_label = max(len(label) for label, _ in points) * CHAR_WIDTH
    room_for = max(2, int(plot_width // (longest_label + 2 * FONT_SIZE)))
    positions = _x_label_positions(len(points), wanted=min(6, room_for))
    for index in positions:
        # The outermost labels hang inwards so they never run off the drawing.
        anchor = "middle"
        if len(positions) > 1 and index == positions[0]:
            anchor = "start"
        elif len(positions) > 1 and index == positions[-1]:
            anchor = "end"
        parts.append(
            f'<text class="chart-axis" x="{_number(x_of(index))}" y="{_number(height - 14)}"'
            f' text-anchor="{anchor}" fill="{MUTED}">{escape(points[index][0])}</text>'
        )
    coordinates = " ".join(
        f"{_number(x_of(i))},{_number(y_of(value))}" for i, value in enumerate(values)
    )
    parts.append(
        f'<polygon class="chart-area" points="{_number(x_of(0))},{baseline} {coordinates}'
        f' {_number(x_of(len(values) - 1))},{baseline}" fill="{ACCENT}" fill-opacity="0.12"/>'
        f'<polyline class="chart-line" points="{coordinates}" fill="none" stroke="{ACCENT}"'
        f' stroke-width="2" stroke-linejoin="round"/>'
    )
    if len(points) <= 31:
        for index, (label, value) in enumerate(points):
            parts.append(
                f'<circle class="chart-point" cx="{_number(x_of(index))}"'
                f' cy="{_number(y_of(values[index]))}" r="3" fill="{ACCENT}">'
                f"<title>{escape(label)}: {escape(_tick_label(value))}</title></circle>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
