"""Charts drawn on the server as inline SVG.

Server-side SVG needs no script and nothing fetched from anywhere, so the charts
render under a CSP with ``script-src 'self'``, without JavaScript and offline. Every
piece of text that reaches the markup goes through ``escape``: service names come
from data files a user may control, and those names are also wrapped in Unicode isolate
marks (as the HTML pages do with ``<bdi>``): SVG text has no ``<bdi>``, and a name carrying a
right-to-left override would otherwise reorder the figures and words drawn after it. Colours
are presentation attributes that the stylesheet may override, so a chart still reads when CSS
fails to load.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

FONT_SIZE = 14
"""Text size at the drawing's natural width; it only shrinks with the drawing."""
CHART_WIDTH = 400
"""Natural width. A drawing is shown at this size, or scaled down to fit its box: at 400
units, text stays at 12 px or more in a 390 px wide phone's panel (about 343 px)."""
BAR_ROW_HEIGHT = 28
BAR_HEIGHT = 18
COMPARED_BAR_HEIGHT = 10
LABEL_MAX_CHARS = 34
CHAR_WIDTH = 0.6 * FONT_SIZE  # a generous average glyph width in a sans-serif face
SIDE_LABELS_MAX_SHARE = 0.4
"""Labels longer than this share of the width go above their bars instead of beside them."""
ACCENT = "#2f6fb2"
COMPARED = "#b9c2cc"
MUTED = "#5b6470"
GRID = "#d8dde3"
FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"


def _number(value: float) -> str:
    """Coordinates with two decimals at most, so the markup stays small and stable."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"", "-0"} else text


def _shorten(label: str, limit: int = LABEL_MAX_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def isolated(label: str) -> str:
    """A data-supplied name whose direction controls end with it (see the module docstring)."""
    return f"{FIRST_STRONG_ISOLATE}{label}{POP_DIRECTIONAL_ISOLATE}"


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
    """The drawing at its natural size; the stylesheet lets it shrink to a narrower box.

    Stretched to fill a wide box, its text grew with it; squeezed into a phone's, a 640-unit
    drawing set 13-unit text at 7 px. Drawn narrow and never enlarged, it reads at both.
    """
    safe_id = escape(chart_id)
    return [
        f'<svg class="chart" id="{safe_id}" role="img" aria-labelledby="{safe_id}-title"'
        f' viewBox="0 0 {_number(width)} {_number(height)}" width="{_number(width)}"'
        f' height="{_number(height)}" preserveAspectRatio="xMinYMin meet"'
        f' xmlns="http://www.w3.org/2000/svg"'
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


def _bar_length(value: float | None, scale_max: float, plot_width: float) -> float:
    if value is None or not math.isfinite(value) or scale_max <= 0:
        return 0.0
    return plot_width * min(max(value / scale_max, 0.0), 1.0)


def bar_chart(
    bars: Sequence[tuple[str, float]],
    title: str,
    chart_id: str,
    value_format: Callable[[float], str] = "{:.3f}".format,
    max_value: float | None = None,
    width: float = CHART_WIDTH,
    compared: Sequence[float | None] | None = None,
    series: tuple[str, str] = ("Model", "Baseline"),
) -> Markup:
    """Horizontal bars, one per (label, value); long labels are clipped, with a tooltip.

    ``max_value`` fixes the scale (e.g. 1.0 for metrics that are fractions); by default
    the largest value fills the plot. Negative values draw as empty bars. ``compared``
    adds a thinner second bar under each row (None: no figure for that row), and a legend
    naming the two ``series``. Labels sit beside the bars when they are short and above
    them when they are long, so a narrow drawing still has room for the bars.
    """
    if not bars:
        return _empty_chart(chart_id, title, width)
    others = list(compared) if compared is not None else []
    figures = [value for _, value in bars] + [value for value in others if value is not None]
    value_width = max(len(value_format(value)) for value in figures) * CHAR_WIDTH + 12
    longest = min(LABEL_MAX_CHARS, max(len(label) for label, _ in bars)) * CHAR_WIDTH + 12
    beside = longest <= width * SIDE_LABELS_MAX_SHARE
    label_width = longest if beside else 0.0
    label_chars = (
        LABEL_MAX_CHARS
        if beside
        else max(4, min(LABEL_MAX_CHARS, int((width - value_width) // CHAR_WIDTH)))
    )
    plot_width = max(width - label_width - value_width, 40)
    finite = [value for value in figures if math.isfinite(value)]
    scale_max = max_value if max_value is not None else max(finite, default=0.0)
    label_room = 0.0 if beside else FONT_SIZE + 6
    compared_room = COMPARED_BAR_HEIGHT + 4 if compared is not None else 0
    row_height = label_room + BAR_ROW_HEIGHT + compared_room
    legend_height = FONT_SIZE + 14 if compared is not None else 0
    height = legend_height + len(bars) * row_height + 8
    parts = _open_svg(chart_id, title, width, height)
    if compared is not None:
        parts.append(_legend(series, legend_height))
    for row, (label, value) in enumerate(bars):
        top = legend_height + 4 + row * row_height
        y = top + label_room
        text_y = _number(y + BAR_HEIGHT / 2 + FONT_SIZE * 0.35)
        shown = value_format(value)
        tip = f"{isolated(label)}: {shown}"
        other = others[row] if row < len(others) else None
        if other is not None:
            tip += f" ({series[1]}: {value_format(other)})"
        if beside:
            label_markup = (
                f'<text class="chart-label" x="{_number(label_width - 8)}" y="{text_y}"'
                f' text-anchor="end" fill="currentColor">{escape(isolated(_shorten(label)))}</text>'
            )
        else:
            label_markup = (
                f'<text class="chart-label" x="0" y="{_number(top + FONT_SIZE)}"'
                f' fill="currentColor">{escape(isolated(_shorten(label, label_chars)))}</text>'
            )
        parts.append(
            f'<g class="chart-row"><title>{escape(tip)}</title>{label_markup}'
            f'<rect class="chart-track" x="{_number(label_width)}" y="{_number(y)}"'
            f' width="{_number(plot_width)}" height="{BAR_HEIGHT}" fill="{GRID}" rx="3"/>'
            f'<rect class="chart-bar" x="{_number(label_width)}" y="{_number(y)}"'
            f' width="{_number(_bar_length(value, scale_max, plot_width))}"'
            f' height="{BAR_HEIGHT}" fill="{ACCENT}" rx="3"/>'
            f'<text class="chart-value" x="{_number(label_width + plot_width + 8)}"'
            f' y="{text_y}" fill="currentColor">{escape(shown)}</text>'
        )
        if other is not None:
            other_y = y + BAR_HEIGHT + 3
            parts.append(
                f'<rect class="chart-compared" x="{_number(label_width)}" y="{_number(other_y)}"'
                f' width="{_number(_bar_length(other, scale_max, plot_width))}"'
                f' height="{COMPARED_BAR_HEIGHT}" fill="{COMPARED}" rx="2"/>'
                f'<text class="chart-value chart-compared-value"'
                f' x="{_number(label_width + plot_width + 8)}"'
                f' y="{_number(other_y + COMPARED_BAR_HEIGHT / 2 + FONT_SIZE * 0.35)}"'
                f' fill="{MUTED}">{escape(value_format(other))}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(series: tuple[str, str], height: float) -> str:
    """Two swatches naming the series, on a line of their own above the bars."""
    text_y = _number(height / 2 + FONT_SIZE * 0.35)
    swatch_y = _number(height / 2 - 6)
    second_x = 18 + len(series[0]) * CHAR_WIDTH + 24
    return (
        f'<g class="chart-legend">'
        f'<rect class="chart-bar" x="0" y="{swatch_y}" width="12" height="12" fill="{ACCENT}"'
        f' rx="2"/><text x="18" y="{text_y}" fill="currentColor">{escape(series[0])}</text>'
        f'<rect class="chart-compared" x="{_number(second_x)}" y="{swatch_y}" width="12"'
        f' height="12" fill="{COMPARED}" rx="2"/><text x="{_number(second_x + 18)}"'
        f' y="{text_y}" fill="currentColor">{escape(series[1])}</text></g>'
    )


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
    width: float = CHART_WIDTH,
    height: float = 240,
) -> Markup:
    """A line over evenly spaced x categories (e.g. days), from a zero baseline."""
    if not points:
        return _empty_chart(chart_id, title, width)
    values = [value if math.isfinite(value) else 0.0 for _, value in points]
    ticks = nice_ticks(max(values))
    scale_max = ticks[-1]
    widest_tick = max(len(_tick_label(tick)) for tick in ticks) * CHAR_WIDTH
    left, right, top, bottom = max(40.0, widest_tick + 14), 16.0, 12.0, 40.0
    plot_width = width - left - right
    plot_height = height - top - bottom

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
    room_for = max(2, int(plot_width // (longest_label + FONT_SIZE)))
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
