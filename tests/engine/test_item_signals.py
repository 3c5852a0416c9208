"""Item signals: categories, use over time and mean values, as the blend and the Gram use them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from engine_support import DAY, T0, frame

from srs.engine.item_signals import (
    WINDOW_MARGIN_DAYS,
    UsageCounts,
    activity_spans,
    add_side_information,
    category_matrix,
    frame_columns,
    mean_values,
    side_rows,
    time_histogram,
)

IDS = np.asarray(["a", "b", "c", "d"])


def test_categories_are_one_hot_and_an_item_without_one_has_none() -> None:
    items = pd.DataFrame(
        {
            "ITEM_ID": ["b", "a", "c", "zz"],
            "CATEGORY": ["Storage", "Compute", "", "Storage"],
        }
    )
    matrix = category_matrix(IDS, items)
    assert matrix.shape == (4, 2)  # Compute, Storage; the unknown item zz adds nothing
    assert matrix.tolist() == [[1, 0], [0, 1], [0, 0], [0, 0]]
    assert category_matrix(IDS, None).shape == (4, 0)
    assert category_matrix(IDS, items[["ITEM_ID"]]).shape == (4, 0)


def test_time_histograms_make_items_used_in_the_same_fortnight_alike() -> None:
    positions = np.asarray([0, 0, 1, 2, 3])
    stamps = np.asarray([T0, T0 + DAY, T0 + 2 * DAY, T0 + 60 * DAY, T0 + 3 * DAY])
    histogram = time_histogram(positions, stamps, 5)
    norms = np.linalg.norm(histogram, axis=1)
    assert np.allclose(norms[:4], 1.0) and norms[4] == 0.0  # item 4 was never used
    similarity = histogram @ histogram.T
    assert similarity[0, 1] == pytest.approx(1.0)
    assert similarity[0, 3] == pytest.approx(1.0)
    assert similarity[0, 2] == 0.0


def test_side_information_adds_alpha_times_the_mean_diagonal_times_s_s_transposed() -> None:
    gram = np.diag([2.0, 4.0, 6.0])
    side = np.asarray([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    add_side_information(gram, [(0.5, side), (0.0, np.ones((3, 1))), (1.0, np.zeros((3, 0)))])
    expected = np.diag([2.0, 4.0, 6.0]) + 0.5 * 4.0 * (side @ side.T)
    assert np.allclose(gram, expected)


def test_side_rows_have_the_gram_matrix_that_side_information_gives() -> None:
    matrix = sp.csr_matrix(np.asarray([[1.0, 0.0, 2.0], [0.0, 3.0, 1.0]]))
    sides = [(0.5, np.asarray([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])), (0.0, np.ones((3, 1)))]
    expected = (matrix.T @ matrix).toarray()
    add_side_information(expected, sides)
    rows = side_rows(matrix, sides)
    assert rows.shape == (4, 3)  # two users, two category rows; the zero weight adds none
    assert np.allclose((rows.T @ rows).toarray(), expected)


def test_mean_values_are_shrunk_towards_the_overall_mean() -> None:
    positions = np.asarray([0, 0, 1, 2])
    values = np.asarray([5.0, 5.0, 1.0, np.nan])
    means = mean_values(positions, values, 4)
    overall = 11.0 / 3.0
    assert means[0] == pytest.approx((10.0 + 5 * overall) / 7)
    assert means[1] == pytest.approx((1.0 + 5 * overall) / 6)
    assert means[2] == pytest.approx(overall)  # no value: the prior alone
    assert means[0] > means[2] > means[1]
    assert np.all(mean_values(positions, np.full(4, np.nan), 4) == 0.0)


def test_usage_counts_cover_a_month_either_side_of_the_span() -> None:
    days = np.asarray([0, 10, 40, 100, 130])
    positions = np.asarray([0, 0, 0, 1, 0])
    usage = UsageCounts.build(positions, T0 + days * DAY, 2)
    # Active on days 50 to 60: the window reaches from day 20 to day 90.
    assert usage.within(T0 + 50 * DAY, T0 + 60 * DAY).tolist() == [1.0, 0.0]
    assert usage.within(T0, T0 + 100 * DAY).tolist() == [4.0, 1.0]
    assert usage.within(T0 + 100 * DAY, T0 + 100 * DAY).tolist() == [1.0, 1.0]
    assert WINDOW_MARGIN_DAYS == 30


def test_usage_for_many_spans_matches_one_at_a_time_and_empty_spans_count_nothing() -> None:
    rng = np.random.default_rng(0)
    stamps = T0 + rng.integers(0, 400 * DAY, 300)
    usage = UsageCounts.build(rng.integers(0, 7, 300), stamps, 7)
    firsts = T0 + rng.integers(-50 * DAY, 450 * DAY, 20)
    spans = np.stack([firsts, firsts + rng.integers(0, 60 * DAY, 20)], axis=1)
    many = usage.within_spans(spans)
    for row, (first, last) in enumerate(spans.tolist()):
        assert many[row].tolist() == usage.within(first, last).tolist()
    absent = np.asarray([[np.iinfo(np.int64).max, np.iinfo(np.int64).min]])
    assert usage.within_spans(absent).tolist() == [[0.0] * 7]


def test_long_histories_use_wider_bins_but_keep_every_use() -> None:
    stamps = T0 + np.arange(0, 3_000 * DAY, 7 * DAY)
    usage = UsageCounts.build(np.zeros(len(stamps), dtype=np.int64), stamps, 1)
    assert usage.cumulative.shape[1] <= 1_025 and usage.bin_seconds > DAY
    assert usage.within(T0 - 40 * DAY, T0 + 4_000 * DAY).tolist() == [float(len(stamps))]


def test_activity_spans_are_first_and_last_times_and_absent_users_are_empty() -> None:
    interactions = frame(
        [("u1", "a", "viewed", 1.0, T0 + 5), ("u1", "b", "viewed", 1.0, T0), ("u2", "a", "x", 1, 9)]
    )
    first, last = activity_spans(interactions, np.asarray(["u1", "u2", "u3"]))
    assert first[:2].tolist() == [T0, 9] and last[:2].tolist() == [T0 + 5, 9]
    assert first[2] > last[2]


def test_frame_columns_drop_rows_outside_the_catalogue() -> None:
    interactions = frame([("u", "c", "viewed", 2.0, T0), ("u", "zz", "viewed", 3.0, T0 + 1)])
    positions, stamps, values = frame_columns(interactions, IDS)
    assert positions.tolist() == [2] and stamps.tolist() == [T0] and values.tolist() == [2.0]
