"""One top-k for the whole engine: its rule, its two forms agreeing, and every caller using it.

Offline evaluation measures the ranker users get only if evaluation, live requests and the
answer table order tied scores identically; the last tests check exactly that on models whose
scores tie.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from engine_support import T0, frame

from srs.engine import PopularityCount, Recipe, UserPersonalization
from srs.engine.evaluation.blending import candidates
from srs.engine.topk import FULL_SORT_MAX_ITEMS, PADDING, top_k, top_k_rows

SIZES = [12, 241, FULL_SORT_MAX_ITEMS + 100, 5_000]
"""Both regimes of the 1-D form: one stable sort, and partition + sort at the cut."""


def reference(key: np.ndarray, k: int, mask: np.ndarray | None) -> list[int]:
    """The rule spelled out: a stable sort by descending key, allowed positions only."""
    allowed = np.isfinite(key) | (key == np.inf)
    if mask is not None:
        allowed &= ~mask
    return [int(p) for p in np.argsort(-key, kind="stable") if allowed[p]][:k]


def tied_keys(rows: int, n_items: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Keys rounded to one decimal (so most rows tie at any cut), some −inf, and a mask."""
    rng = np.random.default_rng(seed)
    key = np.round(rng.random((rows, n_items)), 1)
    key[rng.random(key.shape) < 0.05] = -np.inf
    mask = rng.random(key.shape) < 0.1
    mask[0] = True  # nothing allowed
    mask[1, 3:] = True  # fewer allowed items than most k
    return key, mask


@pytest.mark.parametrize("n_items", SIZES)
def test_rows_give_each_row_what_one_request_gets_on_tied_scores(n_items: int) -> None:
    key, mask = tied_keys(30, n_items, seed=n_items)
    for k in (1, 5, 25, n_items - 1, n_items, n_items + 7):
        for row_mask in (None, mask):
            rows = top_k_rows(key, k, row_mask)
            assert rows.shape == (len(key), min(k, n_items))
            for row in range(len(key)):
                single = top_k(key[row], k, None if row_mask is None else row_mask[row])
                expected = reference(key[row], k, None if row_mask is None else row_mask[row])
                assert single.tolist() == expected, (k, row)
                padded = expected + [PADDING] * (rows.shape[1] - len(expected))
                assert rows[row].tolist() == padded, (k, row)


@pytest.mark.parametrize("n_items", SIZES[1:])
def test_ties_at_the_cut_go_to_the_lowest_positions_in_both_forms(n_items: int) -> None:
    key = np.zeros(n_items)
    key[::3] = 1.0
    assert top_k(key, 5).tolist() == [0, 3, 6, 9, 12]
    assert top_k_rows(np.stack([key, key[::-1]]), 5)[0].tolist() == [0, 3, 6, 9, 12]
    key = np.zeros(n_items)
    key[[7, 3, 9]] = 5.0
    key[[1, 8]] = 2.0
    assert top_k(key, 5).tolist() == [3, 7, 9, 1, 8]
    assert top_k_rows(key[np.newaxis], 6)[0].tolist() == [3, 7, 9, 1, 8, 0]


@pytest.mark.parametrize("n_items", SIZES)
def test_masked_minus_infinite_and_nan_keys_are_never_returned(n_items: int) -> None:
    key = np.arange(n_items, dtype=np.float64)
    key[-1] = np.nan
    key[-2] = -np.inf
    mask = np.zeros(n_items, dtype=bool)
    mask[-3] = True
    allowed = n_items - 3
    top = top_k(key, n_items, mask)
    assert len(top) == allowed and not {n_items - 1, n_items - 2, n_items - 3} & set(top.tolist())
    assert top[:2].tolist() == [n_items - 4, n_items - 5]
    only_minus_infinite = np.ones(n_items, dtype=bool)
    only_minus_infinite[-2] = False
    rows = top_k_rows(np.stack([key, key]), n_items + 2, np.stack([mask, only_minus_infinite]))
    assert rows[0, :allowed].tolist() == top.tolist()
    assert rows[0, allowed:].tolist() == [PADDING] * 3
    assert rows[1].tolist() == [PADDING] * n_items
    assert top_k(key, 3, np.ones(n_items, dtype=bool)).tolist() == []


def test_degenerate_shapes() -> None:
    assert top_k(np.zeros(0), 5).tolist() == []
    assert top_k(np.ones(4), 0).tolist() == []
    assert top_k_rows(np.zeros((0, 7)), 3).shape == (0, 3)
    assert top_k_rows(np.zeros((2, 0)), 3).shape == (2, 0)
    assert top_k_rows(np.ones((2, 4)), 9).tolist() == [[0, 1, 2, 3]] * 2
    with pytest.raises(ValueError, match="rows × items"):
        top_k_rows(np.zeros(3), 1)
    with pytest.raises(ValueError, match="one row"):
        top_k(np.zeros((2, 3)), 1)


def test_blend_candidates_are_the_top_k_of_the_generator() -> None:
    key, mask = tied_keys(20, 300, seed=1)
    key[~np.isfinite(key)] = 0.0  # the generator has finite scores
    c = candidates(key, [np.arange(300.0)[np.newaxis].repeat(20, 0)], mask, mask, np.zeros(20), 30)
    top = top_k_rows(key, 30, mask)
    assert c.valid.tolist() == (top != PADDING).tolist()
    assert np.where(c.valid, c.features[:, :, 0], -1).tolist() == top.tolist()


# ---- evaluation and serving rank tied scores alike -------------------------------------------


def twin_interactions(seed: int = 7, users: int = 120, items: int = 40) -> pd.DataFrame:
    """Every item has a twin used by exactly the same users: item-item scores and popularity
    tie in pairs, and popularity ties widely besides."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, float, int]] = []
    for user in range(users):
        for item in rng.choice(items, size=int(rng.integers(2, 6)), replace=False):
            for name in (f"item-{item:02d}", f"item-{item:02d}-twin"):
                rows.append((f"u{user:03d}", name, "launched", 3.0, T0 + len(rows)))
    return frame(rows)


TIED_RECIPES = {
    "popularity-count": PopularityCount,
    "item-knn": lambda: UserPersonalization(algorithm="item-knn", neighbors=5),
}
"""Recipes whose ranking keys tie on this data: popularity counts, and item-knn's items
without an item-item score, which rank by popularity."""


@pytest.mark.parametrize("name", TIED_RECIPES)
@pytest.mark.parametrize("count", [3, 10])
def test_evaluation_serving_and_the_table_rank_tied_scores_identically(
    name: str, count: int
) -> None:
    data = twin_interactions()
    recipe: Recipe = TIED_RECIPES[name]().fit(data)
    users, histories = recipe.history_matrix(data)
    # Evaluation's path: the batch form, the input history excluded (exclude_input).
    batch = recipe.recommend_batch(histories, count, exclude=histories)
    table = recipe.answer_table(count, exclude=_aligned(histories, users, recipe))
    tied_at_cut = 0
    for row, user in enumerate(users.tolist()):
        used = histories[row].toarray().ravel() != 0
        live = recipe.recommend_ranked(user, num_results=count, exclude=used)
        assert [recipe.item_ids[p] for p in batch[row] if p != PADDING] == live.item_ids, user
        if table is not None:
            assert table.ranked(user, count) == live, user
        scores = recipe.recommend_ranked(user, num_results=count + 1, exclude=used).scores
        tied_at_cut += scores[count - 1] == scores[count]
    assert tied_at_cut > 0  # the data does exercise ties at the cut


def _aligned(histories: sp.csr_matrix, users: np.ndarray, recipe: Recipe) -> sp.csr_matrix:
    """``histories`` (rows of ``users``) reordered to the recipe's ``user_ids``."""
    row_of = {user: row for row, user in enumerate(users.tolist())}
    return sp.csr_matrix(histories[[row_of[user] for user in recipe.user_ids.tolist()]])


def test_rank_orders_tied_items_as_recommend_does_whatever_the_input_order() -> None:
    recipe = PopularityCount().fit(twin_interactions())
    answer = recipe.recommend_ranked("u000", num_results=len(recipe.item_ids)).item_ids
    for given in (answer[::-1], answer[1::2] + answer[::2]):
        ranked = [item.item_id for item in recipe.rank("u000", given)]
        assert ranked == [item for item in answer if item in set(given)]


def test_similar_items_of_a_twin_break_ties_in_catalogue_order() -> None:
    recipe = UserPersonalization(algorithm="item-knn", neighbors=5).fit(twin_interactions())
    index, popularity = recipe.catalogue.index, recipe.catalogue.popularity
    for source in ("item-03", "item-17"):
        answer = recipe.similar_items(source, num_results=30)
        # Items without an item-item score follow by popularity; ties by catalogue position.
        keys = [
            (
                -(item.score or 0.0),
                -popularity[index[item.item_id]] * (not item.score),
                index[item.item_id],
            )
            for item in answer
        ]
        assert keys == sorted(keys)
        assert len({key[:2] for key in keys}) < len(keys)  # ties do occur
        assert answer[0].item_id == f"{source}-twin"
