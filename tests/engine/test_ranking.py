from __future__ import annotations

import pandas as pd
import pytest
from engine_support import items_frame, planted

from srs.engine import InvalidRequestError, PersonalizedRanking, create_recipe

USER = "serverless_00"


@pytest.fixture(scope="module")
def model() -> PersonalizedRanking:
    recipe = create_recipe("personalized-ranking").fit(planted(), items_frame())
    assert isinstance(recipe, PersonalizedRanking)
    return recipe


def test_items_with_data_come_first_best_first_and_their_scores_sum_to_one(
    model: PersonalizedRanking,
) -> None:
    answer = model.rank(USER, ["ec2", "braket", "dynamo", "not-a-service", "vpc"])
    scored = [item for item in answer if item.score is not None]
    assert scored[0].item_id == "dynamo"
    assert {item.item_id for item in scored} == {"ec2", "dynamo", "vpc"}
    assert sum(item.score for item in scored if item.score is not None) == pytest.approx(1.0)
    assert [item.score for item in scored] == sorted(
        [item.score for item in scored if item.score is not None], reverse=True
    )
    assert scored[0].reason.startswith("because you use")


def test_items_without_data_come_last_unscored_in_input_order(model: PersonalizedRanking) -> None:
    answer = model.rank(USER, ["not-a-service", "ec2", "braket"])
    assert [(item.item_id, item.score) for item in answer[1:]] == [
        ("not-a-service", None),
        ("braket", None),
    ]
    assert answer[0].item_id == "ec2"


def test_repeated_ids_are_answered_once(model: PersonalizedRanking) -> None:
    answer = model.rank(USER, ["ec2", "ec2", "vpc"])
    assert sorted(item.item_id for item in answer) == ["ec2", "vpc"]


def test_an_unknown_user_gets_the_list_by_popularity(model: PersonalizedRanking) -> None:
    answer = model.rank("nobody", ["dynamo", "console", "braket"])
    assert [item.item_id for item in answer] == ["console", "dynamo", "braket"]
    assert [item.reason for item in answer[:2]] == ["popular", "popular"]
    assert answer[0].score == pytest.approx(24 / (24 + 10))


def test_only_unknown_items_come_back_unscored(model: PersonalizedRanking) -> None:
    assert [(item.item_id, item.score) for item in model.rank(USER, ["x", "y"])] == [
        ("x", None),
        ("y", None),
    ]


@pytest.mark.parametrize("size", [0, 501])
def test_input_lists_outside_1_to_500_are_refused(model: PersonalizedRanking, size: int) -> None:
    with pytest.raises(InvalidRequestError, match="between 1 and 500"):
        model.rank(USER, ["ec2"] * size)


def test_every_recipe_can_rank() -> None:
    data: pd.DataFrame = planted()
    for name in ("popularity-count", "similar-items", "trending-now", "user-personalization"):
        answer = create_recipe(name).fit(data).rank(USER, ["dynamo", "nothing"])
        assert [item.item_id for item in answer] == ["dynamo", "nothing"]
        assert answer[0].score == pytest.approx(1.0)
        assert answer[1].score is None
