"""Answer tables: every user's default answer worked out at once must be the live answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from engine_support import T0, frame, items_frame, planted

from srs.engine import (
    PopularityCount,
    Recipe,
    SimilarItems,
    UserPersonalization,
)
from srs.engine.answers import ReasonCodes
from srs.engine.weights import EventWeights

WEIGHTS = EventWeights(type_weights={"launched": 3.0, "clicked": 1.5, "viewed": 0.0})
"""Views weigh nothing, so a user who only viewed has an empty training history."""


def random_interactions(seed: int = 3, users: int = 150, items: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        (
            f"u{rng.integers(users):03d}",
            f"item-{int(rng.zipf(1.4)) % items:02d}",
            str(rng.choice(["launched", "clicked", "viewed"])),
            float(rng.integers(1, 6)),
            T0 + index,
        )
        for index in range(2_500)
    ]
    rows.append(("only-viewed", "item-00", "viewed", 1.0, T0))
    return frame(rows)


def random_exclusions(recipe: Recipe, seed: int = 5) -> tuple[sp.csr_matrix, np.ndarray]:
    """A few excluded items per user, a heavy exclusion for one user, one item for all."""
    rng = np.random.default_rng(seed)
    n_users, n_items = len(recipe.user_ids), len(recipe.item_ids)
    dense = rng.random((n_users, n_items)) < 0.1
    dense[3, : n_items - 4] = True  # leaves this user fewer items than a table row holds
    always = np.zeros(n_items, dtype=bool)
    always[recipe.catalogue.popular_order[0]] = True
    return sp.csr_matrix(dense), always


RECIPES = {
    "ease": lambda: UserPersonalization(weights=WEIGHTS, algorithm="ease", l2=0.5),
    "ease-discounted": lambda: UserPersonalization(
        weights=WEIGHTS, algorithm="ease", popularity_exponent=-0.3
    ),
    "item-knn": lambda: UserPersonalization(weights=WEIGHTS, algorithm="item-knn", neighbors=5),
    "blend": lambda: UserPersonalization(
        weights=WEIGHTS,
        algorithm="ease",
        time_weight=0.1,
        blend={"item_item": 0.4, "factors": 0.3, "popularity": -0.2, "window": 0.3, "value": 0.1},
    ),
    "sims": lambda: SimilarItems(weights=WEIGHTS, neighbors=5),
}


@pytest.mark.parametrize("name", RECIPES)
def test_every_users_table_answer_is_their_live_answer(name: str) -> None:
    recipe = RECIPES[name]().fit(random_interactions())
    exclude, always = random_exclusions(recipe)
    table = recipe.answer_table(10, exclude=exclude, always_excluded=always)
    assert table is not None and table.width == 10
    assert len(recipe.user_ids) > 100
    for row, user in enumerate(recipe.user_ids.tolist()):
        mask = exclude[row].toarray().ravel().astype(bool) | always
        for count in (10, 3):
            live = recipe.recommend_ranked(user, num_results=count, exclude=mask)
            assert table.ranked(user, count) == live, (user, count)
    left = len(recipe.item_ids) - int((exclude[3].toarray().ravel().astype(bool) | always).sum())
    assert table.lengths[3] == left < table.width  # the heavy exclusion left fewer than 10
    assert table.ranked("only-viewed", 10) == recipe.recommend_ranked(
        "only-viewed",
        num_results=10,
        exclude=exclude[recipe.user_index["only-viewed"]].toarray().ravel().astype(bool) | always,
    )
    assert table.ranked("only-viewed", 10).reasons[0] == "popular"  # type: ignore[union-attr]


def test_the_table_declines_what_it_does_not_hold() -> None:
    recipe = RECIPES["ease"]().fit(random_interactions())
    table = recipe.answer_table(5)
    assert table is not None
    assert table.ranked("somebody-new", 5) is None
    assert table.ranked(recipe.user_ids[0], 6) is None
    assert table.ranked(recipe.user_ids[0], 5) is not None


def test_a_catalogue_smaller_than_the_table_is_held_whole() -> None:
    recipe = UserPersonalization(weights=WEIGHTS).fit(planted(), items_frame())
    table = recipe.answer_table(25)
    assert table is not None and table.width == len(recipe.item_ids) == 8
    for user in recipe.user_ids.tolist():
        for count in (25, 8, 2):
            assert table.ranked(user, count) == recipe.recommend_ranked(user, num_results=count)


def test_recipes_that_ignore_the_user_have_no_table() -> None:
    assert PopularityCount().fit(random_interactions()).answer_table(5) is None


def test_reasons_are_stored_once_each() -> None:
    recipe = RECIPES["ease"]().fit(random_interactions())
    table = recipe.answer_table(10)
    assert table is not None
    assert len(set(table.reason_texts)) == len(table.reason_texts)
    assert int(table.reasons.max()) == len(table.reason_texts) - 1
    codes = ReasonCodes()
    assert codes.encode(["a", "b", "a"]) == [0, 1, 0]
    assert codes.texts == ("a", "b")
