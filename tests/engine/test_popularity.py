from __future__ import annotations

import pytest
from engine_support import T0, frame

from srs.engine import PopularityCount


def test_popularity_counts_distinct_users_not_events() -> None:
    data = frame(
        [("heavy", "s3", "viewed", 3.0, T0 + second) for second in range(5)]
        + [("a", "ec2", "viewed", 3.0, T0), ("b", "ec2", "viewed", 3.0, T0)]
    )
    model = PopularityCount().fit(data)
    answer = model.recommend("heavy", num_results=2)
    assert [item.item_id for item in answer] == ["ec2", "s3"]
    assert [item.score for item in answer] == pytest.approx([2 / 3, 1 / 3])
    assert {item.reason for item in answer} == {"popular"}


def test_everyone_gets_the_same_list_minus_exclusions() -> None:
    data = frame(
        [
            ("a", "s3", "viewed", 3.0, T0),
            ("b", "s3", "viewed", 3.0, T0),
            ("b", "ec2", "viewed", 3.0, T0),
            ("c", "vpc", "viewed", 3.0, T0),
        ]
    )
    model = PopularityCount().fit(data)
    assert model.recommend("a") == model.recommend("someone else")
    assert [item.item_id for item in model.recommend("a", exclude=["s3"])] == ["ec2", "vpc"]
    assert model.similar_items("vpc", num_results=1)[0].item_id == "s3"
