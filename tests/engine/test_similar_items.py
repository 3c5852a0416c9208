from __future__ import annotations

import pytest
from engine_support import T0, frame, items_frame, planted

from srs.engine import HyperparameterError, SimilarItems


def hub_data() -> list[tuple[str, str, str, float, int]]:
    """``x`` co-occurs with the ubiquitous ``hub`` for 6 users, with niche ``pair`` for 4."""
    rows = [(f"x{user}", "x", "viewed", 3.0, T0) for user in range(6)]
    rows += [(f"x{user}", "hub", "viewed", 3.0, T0) for user in range(6)]
    rows += [(f"x{user}", "pair", "viewed", 3.0, T0) for user in range(4)]
    rows += [(f"h{user}", "hub", "viewed", 3.0, T0) for user in range(30)]
    return rows


def test_the_popularity_discount_demotes_items_that_are_everyone_s_neighbour() -> None:
    data = frame(hub_data())
    raw = SimilarItems(popularity_discount=0.0).fit(data).similar_items("x", num_results=2)
    discounted = SimilarItems(popularity_discount=1.0).fit(data).similar_items("x", num_results=2)
    assert [item.item_id for item in raw] == ["hub", "pair"]
    assert [item.item_id for item in discounted] == ["pair", "hub"]
    assert discounted[0].reason == "often used with x"
    assert sum(item.score or 0.0 for item in discounted) == pytest.approx(1.0)


def test_an_unknown_item_gets_popular_items() -> None:
    answer = SimilarItems().fit(frame(hub_data())).similar_items("nothing", num_results=2)
    assert [item.item_id for item in answer] == ["hub", "x"]
    assert {item.reason for item in answer} == {"popular"}


def test_a_user_gets_the_neighbours_of_their_history_then_popular_items() -> None:
    model = SimilarItems().fit(planted(), items_frame())
    answer = model.recommend("serverless_00", num_results=6, exclude=["s3", "lambda", "console"])
    assert answer[0].item_id == "dynamo"
    assert "Amazon S3" in answer[0].reason
    assert {item.reason for item in answer[1:4]} == {"because you use AWS Management Console"}
    assert (answer[4].item_id, answer[4].reason) == ("braket", "popular")


def test_pairs_below_the_minimum_co_occurrence_are_not_neighbours() -> None:
    model = SimilarItems(min_cooccurrence=5).fit(frame(hub_data()))
    assert [item.reason for item in model.similar_items("x", num_results=2)] == [
        "often used with x",
        "popular",
    ]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(HyperparameterError, match="popularity_discount"):
        SimilarItems(popularity_discount=2.0)
    with pytest.raises(HyperparameterError, match="min_cooccurrence"):
        SimilarItems(min_cooccurrence=0)
