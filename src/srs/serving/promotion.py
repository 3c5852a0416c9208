"""Promotions: a share of a recommendation list's slots kept for items that a second filter
selects, as Personalize's GetRecommendations ``promotions`` keeps them.

The promoted items are the best the model ranks under the promotion's filter; the other slots
hold the ordinary answer without them. As in Personalize, the promoted items take random
positions among the others, in their own order: at a fixed position a user learns to skip
the slot. The positions are drawn from the recommendation ID, so one answer can be replayed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from srs.serving.service import RecommendedItem


@dataclass(frozen=True, slots=True)
class Promotion:
    name: str
    percent: int
    filter: str
    filter_values: Mapping[str, str] | None = None


def promoted_slots(count: int, percent: int) -> int:
    """How many of ``count`` slots the promotion fills: its percentage rounded up, so that a
    promotion asked for shows (10% of 5 results is one item, not none)."""
    return min(count, math.ceil(count * percent / 100))


def place_promoted(
    regular: Sequence[RecommendedItem],
    promoted: Sequence[RecommendedItem],
    count: int,
    seed: str,
) -> list[tuple[RecommendedItem, bool]]:
    """At most ``count`` items, each with whether it is promoted: ``promoted`` in their order
    at random positions, ``regular``'s other items in theirs, no item twice. Where either
    list runs short, the answer is as long as the two together allow."""
    promoted = list(promoted[:count])
    taken = {item.item_id for item in promoted}
    rest = [item for item in regular if item.item_id not in taken][: count - len(promoted)]
    total = len(promoted) + len(rest)
    spots = set(random.Random(seed).sample(range(total), len(promoted)))
    promoted_left, rest_left = iter(promoted), iter(rest)
    return [
        (next(promoted_left), True) if index in spots else (next(rest_left), False)
        for index in range(total)
    ]
