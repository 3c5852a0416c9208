"""Promotions: how many slots, and where the promoted items go among the others."""

from __future__ import annotations

import pytest

from srs.serving.promotion import place_promoted, promoted_slots
from srs.serving.service import RecommendedItem


def items(*ids: str) -> list[RecommendedItem]:
    return [RecommendedItem(item_id, item_id, "", "", 0.1, "") for item_id in ids]


@pytest.mark.parametrize(
    ("count", "percent", "slots"), [(10, 50, 5), (5, 10, 1), (25, 10, 3), (3, 100, 3), (1, 1, 1)]
)
def test_a_promotion_fills_its_share_of_the_slots_rounded_up(
    count: int, percent: int, slots: int
) -> None:
    assert promoted_slots(count, percent) == slots


def test_promoted_items_keep_their_order_and_the_others_theirs_with_no_item_twice() -> None:
    regular = items("a", "b", "p2", "c", "d", "e", "f", "g")
    promoted = items("p1", "p2", "p3")
    for seed in map(str, range(30)):
        placed = place_promoted(regular, promoted, 6, seed)
        assert len(placed) == 6
        assert [item.item_id for item, flag in placed if flag] == ["p1", "p2", "p3"]
        assert [item.item_id for item, flag in placed if not flag] == ["a", "b", "c"]
    positions = {
        tuple(
            index for index, (_, flag) in enumerate(place_promoted(regular, promoted, 6, s)) if flag
        )
        for s in map(str, range(30))
    }
    assert len(positions) > 1  # random positions, not always the same slots
    assert place_promoted(regular, promoted, 6, "x") == place_promoted(regular, promoted, 6, "x")


def test_short_lists_give_as_many_items_as_they_hold() -> None:
    placed = place_promoted(items("a"), items("p1"), 5, "s")
    assert sorted(item.item_id for item, _ in placed) == ["a", "p1"]
    assert [item.item_id for item, flag in place_promoted(items("a", "b"), [], 2, "s")] == [
        "a",
        "b",
    ]
