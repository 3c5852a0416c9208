from __future__ import annotations

import pytest
from engine_support import DAY, T0, frame

from srs.engine import HyperparameterError, TrendingNow

NOW = T0 + 30 * DAY


def rows(item: str, previous: int, recent: int) -> list[tuple[str, str, str, float, int]]:
    """``previous`` interactions 8-13 days before NOW, ``recent`` in the last 6 days."""
    before = [(f"{item}-p{n}", item, "viewed", 3.0, NOW - 8 * DAY - n) for n in range(previous)]
    after = [(f"{item}-r{n}", item, "viewed", 3.0, NOW - DAY - n) for n in range(recent)]
    return before + after


def test_growing_items_rank_above_steady_popular_ones() -> None:
    data = frame(rows("steady", 50, 50) + rows("rising", 10, 30) + rows("fading", 20, 2))
    model = TrendingNow(window_days=7).fit(data)
    answer = model.recommend(num_results=3)
    assert [item.item_id for item in answer] == ["rising", "steady", "fading"]
    assert answer[0].reason == "trending: 30 interactions in the last 7 days, up 200%"
    assert answer[0].score == pytest.approx(1.0)
    assert [item.reason for item in answer[1:]] == ["popular", "popular"]


def test_smoothing_keeps_tiny_counts_from_outranking_large_growth() -> None:
    data = frame(rows("tiny", 1, 3) + rows("big", 100, 150))
    smoothed = TrendingNow(smoothing=50.0).fit(data).recommend(num_results=2)
    raw = TrendingNow(smoothing=0.01).fit(data).recommend(num_results=2)
    assert [item.item_id for item in smoothed] == ["big", "tiny"]
    assert [item.item_id for item in raw] == ["tiny", "big"]


def test_without_growth_the_answer_is_popular_items() -> None:
    data = frame(rows("a", 10, 5) + rows("b", 10, 2))
    answer = TrendingNow().fit(data).recommend(num_results=2)
    assert [item.item_id for item in answer] == ["a", "b"]
    assert {item.reason for item in answer} == {"popular"}
    assert sum(item.score or 0.0 for item in answer) == pytest.approx(1.0)


def test_window_must_be_positive() -> None:
    with pytest.raises(HyperparameterError, match="window_days"):
        TrendingNow(window_days=0)
