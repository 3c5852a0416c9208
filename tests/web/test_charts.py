"""Server-side SVG charts: well-formed, escaped, and drawn to scale."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET

import pytest

from srs.web.charts import bar_chart, line_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script>'


def parse(markup: str) -> ET.Element:
    """Raises if the markup is not well-formed XML (an unescaped '<' would break it)."""
    return ET.fromstring(markup)


def bar_widths(root: ET.Element) -> list[float]:
    return [
        float(rect.attrib["width"])
        for rect in root.iter(f"{SVG}rect")
        if "chart-bar" in rect.attrib["class"]
    ]


def test_bar_chart_draws_bars_in_proportion_to_values() -> None:
    root = parse(bar_chart([("a", 1.0), ("b", 0.5), ("c", 0.25)], "Title", "c1"))
    widths = bar_widths(root)
    assert len(widths) == 3
    assert widths[1] == pytest.approx(widths[0] / 2, abs=0.02)
    assert widths[2] == pytest.approx(widths[0] / 4, abs=0.02)


def test_bar_chart_fixed_scale_keeps_fractions_comparable() -> None:
    root = parse(bar_chart([("a", 0.5)], "Metrics", "c2", max_value=1.0))
    track = next(r for r in root.iter(f"{SVG}rect") if "chart-track" in r.attrib["class"])
    assert bar_widths(root)[0] == pytest.approx(float(track.attrib["width"]) / 2, abs=0.02)


def test_bar_chart_escapes_labels_and_title() -> None:
    markup = bar_chart([(EVIL, 3.0)], EVIL, "c3", value_format="{:.0f}".format)
    assert "<script>" not in markup
    root = parse(markup)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert f"\u2068{EVIL}\u2069" in texts
    assert root.find(f"{SVG}title") is not None
    assert root.find(f"{SVG}title").text == EVIL  # type: ignore[union-attr]


def test_bar_chart_shortens_long_labels_but_keeps_full_text_in_tooltip() -> None:
    label = "x" * 80
    root = parse(bar_chart([(label, 1.0)], "t", "c4"))
    shown = [t.text or "" for t in root.iter(f"{SVG}text") if "chart-label" in t.attrib["class"]]
    assert len(shown[0]) < len(label) and shown[0].endswith("…\u2069")
    tooltips = [t.text or "" for t in root.iter(f"{SVG}title")]
    assert any(label in tip for tip in tooltips)


def test_bar_chart_negative_and_nan_values_draw_empty_bars() -> None:
    root = parse(bar_chart([("neg", -1.0), ("nan", float("nan")), ("pos", 2.0)], "t", "c5"))
    widths = bar_widths(root)
    assert widths[0] == 0 and widths[1] == 0 and widths[2] > 0


def test_empty_charts_say_so() -> None:
    for markup in (bar_chart([], "t", "e1"), line_chart([], "t", "e2")):
        root = parse(markup)
        assert any(t.text == "No data yet" for t in root.iter(f"{SVG}text"))


def test_line_chart_plots_each_point_from_a_zero_baseline() -> None:
    points = [("2024-01-01", 0.0), ("2024-01-02", 10.0), ("2024-01-03", 5.0)]
    root = parse(line_chart(points, "Per day", "l1", width=400, height=200))
    line = next(root.iter(f"{SVG}polyline"))
    coordinates = [tuple(map(float, pair.split(","))) for pair in line.attrib["points"].split()]
    assert len(coordinates) == 3
    xs = [x for x, _ in coordinates]
    ys = [y for _, y in coordinates]
    assert xs == sorted(xs)
    assert ys[0] > ys[2] > ys[1]  # SVG y grows downwards: 0 lowest, 10 highest
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert "2024-01-01" in labels and "2024-01-03" in labels


def test_line_chart_labels_at_most_six_days_for_long_series() -> None:
    points = [(f"d{i}", float(i)) for i in range(90)]
    root = parse(line_chart(points, "t", "l2"))
    day_labels = [t.text for t in root.iter(f"{SVG}text") if (t.text or "").startswith("d")]
    assert 2 <= len(day_labels) <= 6
    assert day_labels[0] == "d0" and day_labels[-1] == "d89"


def test_line_chart_escapes_labels() -> None:
    markup = line_chart([(EVIL, 1.0), ("b", 2.0)], EVIL, "l3")
    assert "<script>" not in markup
    parse(markup)


def test_line_chart_single_point_is_centred() -> None:
    root = parse(line_chart([("only", 4.0)], "t", "l4", width=300))
    circle = next(root.iter(f"{SVG}circle"))
    assert 100 < float(circle.attrib["cx"]) < 200


@pytest.mark.parametrize(
    ("maximum", "expected_top"),
    [(7, 8), (10, 10), (0.37, 0.4), (1234, 1500), (1, 1)],
)
def test_nice_ticks_cover_the_maximum_with_round_steps(maximum: float, expected_top: float) -> None:
    ticks = nice_ticks(maximum)
    assert ticks[0] == 0
    assert ticks[-1] == pytest.approx(expected_top)
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1


def test_nice_ticks_survive_zero_and_non_finite_maxima() -> None:
    assert nice_ticks(0) == [0.0, 1.0]
    assert nice_ticks(float("nan")) == [0.0, 1.0]


def test_line_chart_date_labels_do_not_collide() -> None:
    points = [(f"2024-10-{day:02d}", float(day)) for day in range(1, 31)] * 3
    root = parse(line_chart(points, "t", "l5", width=640, height=260))
    labels = [t for t in root.iter(f"{SVG}text") if t.attrib["y"] == "246"]
    assert len(labels) >= 2
    extents = []
    for label in labels:
        x, width = float(label.attrib["x"]), len(label.text or "") * 7.8  # as rendered
        start = {"start": x, "middle": x - width / 2, "end": x - width}[label.attrib["text-anchor"]]
        extents.append((start, start + width))
    assert all(left[1] <= right[0] for left, right in itertools.pairwise(extents))


@pytest.mark.parametrize("name", ["\u202eevil name", "x" * 60 + "\u202e"])
def test_bar_labels_isolate_a_direction_override_in_a_name(name: str) -> None:
    """A right-to-left override in a service name must end with the name: in the label and
    in the tooltip, clipped or not, the figures after it keep their order."""
    root = parse(bar_chart([(name, 12.0), ("Amazon S3", 3.0)], "Top", "bidi", "{:.0f}".format))
    labels = [t.text or "" for t in root.iter(f"{SVG}text") if t.attrib["class"] == "chart-label"]
    assert all(label[0] == "\u2068" and label[-1] == "\u2069" for label in labels)
    assert labels[1] == "\u2068Amazon S3\u2069"
    assert labels[0].count("\u2068") == 1 and labels[0].count("\u2069") == 1
    tips = [t.text or "" for t in root.iter(f"{SVG}title")][1:]
    assert tips[0] == f"\u2068{name}\u2069: 12"
