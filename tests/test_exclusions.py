"""The default filter precomputed over the stored history equals the per-request evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from srs.data.history import InteractionHistory
from srs.engine.filters.errors import FilterError
from srs.engine.filters.evaluate import IndexedFrame, parse_filter
from srs.serving.exclusions import StoredExclusions
from srs.serving.local_service import history_rows

ITEMS = pd.DataFrame(
    {
        "ITEM_ID": [f"svc-{i}" for i in range(8)],
        "CATEGORY": ["Compute", "Storage"] * 4,
    }
)


def synthetic_history(seed: int = 7, users: int = 60, rows: int = 900) -> InteractionHistory:
    rng = np.random.default_rng(seed)
    return InteractionHistory.from_frame(
        pd.DataFrame(
            {
                "USER_ID": [f"user-{u:03d}" for u in rng.integers(0, users, rows)],
                "ITEM_ID": [f"svc-{i}" for i in rng.integers(0, 10, rows)],  # 8, 9: not in ITEMS
                "EVENT_TYPE": rng.choice(["viewed", "clicked", "launched", "rated"], rows),
                "EVENT_VALUE": rng.integers(1, 6, rows).astype(float),
                "TIMESTAMP": rng.integers(1_700_000_000, 1_700_100_000, rows),
            }
        )
    )


@pytest.mark.parametrize(
    "text",
    [
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("launched")',
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("launched", "rated") '
        "AND Interactions.EVENT_VALUE < 3",
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("viewed") | '
        'EXCLUDE ItemID WHERE Items.CATEGORY IN ("Storage")',
    ],
)
def test_precomputed_exclusions_match_the_per_user_evaluation(text: str) -> None:
    history = synthetic_history()
    expression = parse_filter(text)
    assert expression.row_wise
    stored = StoredExclusions.build(expression, history)
    items = IndexedFrame(ITEMS)
    positions = stored.positions({item: row for row, item in enumerate(ITEMS["ITEM_ID"])})
    without_rows = ~expression.allowed(items, None)
    differing = 0
    for user in history.user_ids.tolist():
        expected = ~expression.allowed(items, history_rows(user, history.user_rows(user)))
        got = without_rows.copy()
        mapped = positions[stored.codes(history.span(user))]
        got[mapped[mapped >= 0]] = True
        assert got.tolist() == expected.tolist(), user
        differing += int((expected != without_rows).any())
    assert differing > 10  # the users' rows did decide something


def test_filters_with_parameters_or_include_are_not_precomputed() -> None:
    history = synthetic_history(users=3, rows=20)
    for text in (
        "EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)",
        'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("viewed")',
    ):
        expression = parse_filter(text)
        assert not expression.row_wise
        with pytest.raises(FilterError, match="not a parameter-free chain of EXCLUDE"):
            StoredExclusions.build(expression, history)


def test_the_whole_exclusion_matrix_holds_each_users_codes_in_another_numbering() -> None:
    history = synthetic_history()
    stored = StoredExclusions.build(
        parse_filter('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("launched")'), history
    )
    positions = stored.positions({item: row for row, item in enumerate(ITEMS["ITEM_ID"])})
    users = [*history.user_ids.tolist()[::-1][5:], "user-not-in-history"]  # reversed, fewer
    index = {user: row for row, user in enumerate(users)}
    matrix = stored.matrix(index, positions, len(ITEMS))
    assert matrix.shape == (len(users), len(ITEMS))
    for user, row in index.items():
        mapped = positions[stored.codes(history.span(user))]
        expected = sorted({int(p) for p in mapped if p >= 0})
        assert sorted(set(matrix[row].indices.tolist())) == expected, user
    assert matrix.nnz > 20
