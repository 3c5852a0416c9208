from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from engine_support import T0, frame

from srs.engine.errors import InteractionsError
from srs.engine.matrix import build_matrix, gram_matrix, history_rows
from srs.engine.weights import EventWeights


def test_duplicate_rows_fold_into_the_strongest_event_by_default() -> None:
    data = build_matrix(
        frame(
            [
                ("u1", "s3", "viewed", 3.0, T0),
                ("u1", "s3", "viewed", 3.0, T0 + 1),
                ("u1", "s3", "launched", 3.0, T0 + 2),
                ("u2", "ec2", "viewed", 3.0, T0),
            ]
        )
    )
    dense = data.matrix.toarray()
    assert data.user_ids.tolist() == ["u1", "u2"]
    assert data.item_ids.tolist() == ["ec2", "s3"]
    assert dense[0, 1] == pytest.approx(3.0)
    assert dense[1, 0] == pytest.approx(1.0)
    assert data.reference_time == T0 + 2


def test_sum_aggregation_rewards_repetition() -> None:
    rows = frame([("u1", "s3", "viewed", 3.0, T0), ("u1", "s3", "viewed", 3.0, T0 + 1)])
    data = build_matrix(rows, EventWeights(aggregate="sum"))
    assert data.matrix.toarray()[0, 0] == pytest.approx(2.0)


def test_catalogue_items_without_interactions_get_empty_columns() -> None:
    data = build_matrix(frame([("u1", "s3", "viewed", 3.0, T0)]), catalogue=["braket", "s3"])
    assert data.item_ids.tolist() == ["braket", "s3"]
    assert data.distinct_users_per_item().tolist() == [0.0, 1.0]


def test_zero_weight_event_types_leave_no_entry() -> None:
    weights = EventWeights(type_weights={"viewed": 0.0, "launched": 3.0})
    data = build_matrix(
        frame([("u1", "s3", "viewed", 3.0, T0), ("u1", "ec2", "launched", 3.0, T0)]), weights
    )
    assert data.matrix.nnz == 1
    assert data.distinct_users_per_item().tolist() == [1.0, 0.0]


def test_numeric_ids_are_taken_as_text() -> None:
    rows = pd.DataFrame(
        {
            "USER_ID": [7, 7],
            "ITEM_ID": [12, 3],
            "EVENT_TYPE": "rated",
            "EVENT_VALUE": [4, 5],
            "TIMESTAMP": [T0, T0],
        }
    )
    data = build_matrix(rows)
    assert data.user_ids.tolist() == ["7"]
    assert data.item_ids.tolist() == ["12", "3"]
    assert data.item_index == {"12": 0, "3": 1}


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("USER_ID", None, "column USER_ID at position 1 \\(0-based\\) is empty"),
        ("ITEM_ID", "  ", "column ITEM_ID at position 1 \\(0-based\\) is empty"),
        ("EVENT_VALUE", "high", "column EVENT_VALUE at position 1 \\(0-based\\): 'high' is not"),
        ("TIMESTAMP", "soon", "column TIMESTAMP at position 1 \\(0-based\\): 'soon' is not"),
        ("TIMESTAMP", T0 + 0.5, "not whole Unix seconds"),
    ],
)
def test_bad_rows_are_reported_with_column_position_and_value(
    column: str, value: Any, message: str
) -> None:
    rows = frame([("u1", "s3", "viewed", 3.0, T0), ("u2", "s3", "viewed", 3.0, T0)]).astype(object)
    rows.at[1, column] = value
    with pytest.raises(InteractionsError, match=message):
        build_matrix(rows, source="interactions.csv")


def test_missing_columns_and_empty_frames_are_refused() -> None:
    with pytest.raises(InteractionsError, match="missing column\\(s\\) EVENT_TYPE"):
        build_matrix(frame([("u1", "s3", "viewed", 3.0, T0)]).drop(columns="EVENT_TYPE"))
    with pytest.raises(InteractionsError, match="no interactions"):
        build_matrix(frame([]))


def test_a_missing_event_value_counts_as_neutral() -> None:
    data = build_matrix(frame([("u1", "s3", "launched", float("nan"), T0)]))
    assert data.matrix.toarray()[0, 0] == pytest.approx(3.0)


def test_history_rows_map_onto_an_existing_catalogue_and_drop_unknown_items() -> None:
    users, matrix = history_rows(
        frame([("new", "s3", "launched", 3.0, T0), ("new", "quantum", "viewed", 3.0, T0)]),
        {"ec2": 0, "s3": 1},
        2,
        EventWeights(),
        T0,
    )
    assert users.tolist() == ["new"]
    assert matrix.toarray().tolist() == [[0.0, 3.0]]


@pytest.mark.parametrize("dense_max_items", [10_000, 4])
def test_gram_matrix_equals_xtx_in_both_block_layouts(dense_max_items: int) -> None:
    matrix = sp.random(60, 9, density=0.3, format="csr", random_state=1, dtype=np.float32)
    expected = (matrix.T @ matrix).toarray()
    full = gram_matrix(matrix, np.float64, dense_max_items=dense_max_items)
    np.testing.assert_allclose(full, expected, rtol=1e-6)
    lower = gram_matrix(matrix, np.float64, lower_only=True, dense_max_items=dense_max_items)
    np.testing.assert_allclose(np.tril(lower), np.tril(expected), rtol=1e-6)


def test_the_kept_gram_matrix_is_handed_out_as_fresh_copies() -> None:
    data = build_matrix(frame([("u1", "s3", "viewed", 3.0, T0), ("u1", "ec2", "viewed", 3.0, T0)]))
    first = data.gram(np.float64)
    first[:] = -1.0
    np.testing.assert_allclose(data.gram(np.float64), [[1.0, 1.0], [1.0, 1.0]])
