from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_support import T0, frame

from srs.engine import InvalidRequestError, personalize_split, stratified_split


def ratings(counts: dict[str, int]) -> pd.DataFrame:
    rows = []
    for item, count in counts.items():
        rows += [(f"u{n}", item, "rated", 4.0, T0 + n) for n in range(count)]
    return frame(rows)


def test_stratified_split_reproduces_the_hand_computed_case() -> None:
    """Seed 42 draws 0.3745, 0.9507, 0.7320 for the three rows; ranked by those, the rows get
    ranks 1/3, 1, 2/3, so rows 0 and 2 train and row 1 tests."""
    data = ratings({"a": 3})
    assert np.random.RandomState(42).rand(3).round(4).tolist() == [0.3745, 0.9507, 0.732]
    train, test = stratified_split(data, ratio=0.75, filter_by="item", seed=42)
    assert sorted(train.index.tolist()) == [0, 2]
    assert test.index.tolist() == [1]


def test_each_item_is_split_by_the_ratio_and_nothing_is_lost() -> None:
    data = ratings({"one": 1, "two": 2, "four": 4, "eight": 8})
    train, test = stratified_split(data, ratio=0.75, filter_by="item", seed=7)
    assert train.groupby("ITEM_ID").size().to_dict() == {"two": 1, "four": 3, "eight": 6}
    assert test.groupby("ITEM_ID").size().to_dict() == {"one": 1, "two": 1, "four": 1, "eight": 2}
    assert sorted(train.index.tolist() + test.index.tolist()) == list(range(len(data)))


def test_the_seed_decides_which_rows_are_held_out() -> None:
    data = ratings({"many": 40})
    first, _ = stratified_split(data, filter_by="item", seed=1)
    again, _ = stratified_split(data, filter_by="item", seed=1)
    other, _ = stratified_split(data, filter_by="item", seed=2)
    assert first.index.tolist() == again.index.tolist()
    assert set(first.index) != set(other.index)


def test_min_rating_drops_small_groups_first() -> None:
    train, test = stratified_split(ratings({"one": 1, "four": 4}), min_rating=2, filter_by="item")
    assert set(train["ITEM_ID"]) | set(test["ITEM_ID"]) == {"four"}


def test_bad_split_arguments_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="filter_by"):
        stratified_split(ratings({"a": 2}), filter_by="session")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="ratio"):
        stratified_split(ratings({"a": 2}), ratio=1.5)


def test_personalize_split_holds_out_users_and_their_newest_interactions() -> None:
    rows = []
    for user in range(40):
        rows += [(f"u{user:02d}", f"i{n}", "viewed", 3.0, T0 + 100 * n) for n in range(12)]
    rows.append(("single", "i0", "viewed", 3.0, T0))
    data = frame(rows)
    split = personalize_split(data, seed=3)
    held = set(split.test_input["USER_ID"])
    assert len(held) == 4
    assert held == set(split.test_truth["USER_ID"])
    assert not held & set(split.train["USER_ID"])
    assert "single" in set(split.train["USER_ID"])
    assert len(split.train) + len(split.test_input) + len(split.test_truth) == len(data)
    for user in held:
        given = split.test_input[split.test_input["USER_ID"] == user]
        truth = split.test_truth[split.test_truth["USER_ID"] == user]
        assert len(truth) == 2  # ceil(10% of 12)
        assert given["TIMESTAMP"].max() < truth["TIMESTAMP"].min()


def test_without_time_a_held_out_users_truth_is_a_random_share_not_the_last_rows() -> None:
    rows = []
    for user in range(40):
        rows += [(f"u{user:02d}", f"i{n}", "viewed", 3.0, T0 + 100 * n) for n in range(12)]
    data = frame(rows)
    by_time = personalize_split(data, seed=3)
    random = personalize_split(data, seed=3, by_time=False)
    assert set(random.test_truth["USER_ID"]) == set(by_time.test_truth["USER_ID"])
    assert random.test_truth.groupby("USER_ID").size().tolist() == [2] * 4
    assert set(by_time.test_truth["ITEM_ID"]) == {"i10", "i11"}
    assert set(random.test_truth["ITEM_ID"]) - {"i10", "i11"}
    assert len(random.test_input) + len(random.test_truth) == len(by_time.test_input) + 8


def test_a_held_out_user_keeps_at_least_one_interaction_as_input() -> None:
    data = frame(
        [(f"u{user}", f"i{n}", "viewed", 3.0, T0 + n) for user in range(5) for n in range(2)]
    )
    split = personalize_split(data, holdout_users=0.5, seed=0)
    assert split.test_input.groupby("USER_ID").size().min() == 1
    assert split.test_truth.groupby("USER_ID").size().max() == 1
