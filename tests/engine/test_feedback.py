"""Negative and graded feedback: what a rating or "not interested" does to the next answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from engine_support import T0, frame, items_frame, planted

from srs.engine import HistoryEvent, UserPersonalization, build_matrix, create_recipe
from srs.engine.reasons import NEW_USER_REASON, VIEWED_REASON
from srs.engine.weights import EventWeights

SERVERLESS_PARTIAL = "serverless_00"  # uses s3 and lambda, not dynamo
INFRA = ("ec2", "ebs", "vpc")


@pytest.fixture(scope="module", params=["ease", "item-knn"])
def model(request: pytest.FixtureRequest) -> UserPersonalization:
    return UserPersonalization(algorithm=request.param).fit(planted(), items_frame())


def ids(answer: list[object]) -> list[str]:
    return [item.item_id for item in answer]  # type: ignore[attr-defined]


def raw_score(
    model: UserPersonalization, user: str, item_id: str, events: list[HistoryEvent] | None = None
) -> float:
    """The model's raw score of ``item_id`` for the user's history now (the calibrated
    probabilities of this tiny data set saturate at 0 and 1, so they cannot show a shift)."""
    items, values = model.history(user, events or [])
    vector = sp.csr_matrix(
        (values, (np.zeros(len(items), dtype=np.int64), items)), shape=(1, len(model.item_ids))
    )
    return float(model.score_histories(vector)[0, model.catalogue.index[item_id]])


def test_the_latest_explicit_judgement_decides_and_plain_use_does_not_outvote_it() -> None:
    weights = EventWeights()
    assert weights.verdict("rated", 1.0) == weights.verdict("rated", 2.0) == -1
    assert weights.verdict("rated", 3.0) == weights.verdict("liked", None) == 1
    assert weights.verdict("viewed", 1.0) == weights.verdict("rated", None) == 0
    assert weights.verdict("Not_Interested", None) == -1
    data = frame(
        [
            ("u", "s3", "viewed", 5.0, T0),
            ("u", "s3", "rated", 1.0, T0 + 1),
            ("u", "s3", "viewed", 5.0, T0 + 2),  # looking again does not lift the dislike
            ("u", "lambda", "rated", 1.0, T0),
            ("u", "lambda", "rated", 5.0, T0 + 1),  # a later 5 replaces the 1
            ("u", "dynamo", "not_interested", None, T0),
            ("v", "s3", "launched", 3.0, T0),
        ]
    )
    matrix = build_matrix(data, weights)
    signed = matrix.signed_histories(weights.negative_weight).toarray()
    column = {item: index for index, item in enumerate(matrix.item_ids.tolist())}
    user = matrix.user_index["u"]
    assert signed[user, column["s3"]] == -weights.negative_weight
    assert signed[user, column["dynamo"]] == -weights.negative_weight
    assert signed[user, column["lambda"]] == pytest.approx(2.0 * 5 / 3)
    assert signed[matrix.user_index["v"], column["s3"]] == pytest.approx(3.0)
    # The item-item model still learns from what was used: the training matrix is unsigned.
    assert matrix.matrix.toarray().min() >= 0
    unsigned = EventWeights(low_rating_max=None, negative_types=())
    assert build_matrix(data, unsigned).disliked is None


def test_one_star_on_the_top_item_removes_it_and_pushes_its_companions_down(
    model: UserPersonalization,
) -> None:
    user = "infra_00"  # uses ec2 and ebs, not vpc
    before = model.recommend(user, num_results=8)
    top = before[0].item_id
    assert top == "vpc"
    after = model.recommend(user, events=[HistoryEvent(top, "rated", 1.0)], num_results=8)
    assert top not in ids(after)
    # A dislike is negative evidence for what goes with it, not only for the item itself.
    disliked = [HistoryEvent("ec2", "rated", 1.0)]
    assert raw_score(model, "serverless_00", "ebs", disliked) < raw_score(
        model, "serverless_00", "ebs"
    )


def test_not_interested_acts_at_once_and_a_later_five_stars_brings_the_item_back(
    model: UserPersonalization,
) -> None:
    events = [HistoryEvent("dynamo", "not_interested", None)]
    assert "dynamo" not in ids(model.recommend(SERVERLESS_PARTIAL, events=events, num_results=8))
    newest_first = [HistoryEvent("dynamo", "rated", 5.0), *events]
    assert "dynamo" in ids(model.recommend(SERVERLESS_PARTIAL, events=newest_first, num_results=8))


def test_five_stars_pull_similar_services_up(model: UserPersonalization) -> None:
    user = "serverless_01"  # no infrastructure service at all
    rated = [HistoryEvent("ec2", "rated", 5.0)]
    for companion in ("ebs", "vpc"):
        assert raw_score(model, user, companion, rated) > raw_score(model, user, companion)


def test_a_dislike_in_the_training_data_holds_for_the_table_as_for_live_answers() -> None:
    data = pd.concat(
        [planted(), frame([("serverless_00", "dynamo", "rated", 1.0, T0 + 10_000)])],
        ignore_index=True,
    )
    recipe = create_recipe("user-personalization").fit(data, items_frame())
    live = recipe.recommend_ranked("serverless_00", num_results=5)
    assert "dynamo" not in live.item_ids
    table = recipe.answer_table(5)
    assert table is not None
    assert table.ranked("serverless_00", 5) == live
    users, histories = recipe.history_matrix(data)
    row = users.tolist().index("serverless_00")
    batch = recipe.recommend_batch(histories[row : row + 1], 8)
    assert recipe.catalogue.index["dynamo"] not in batch[0].tolist()


def test_a_reason_never_names_the_item_it_explains(model: UserPersonalization) -> None:
    viewed = [HistoryEvent("dynamo", "viewed", 3.0)]
    answer = model.recommend(SERVERLESS_PARTIAL, events=viewed, num_results=8)
    for item in answer:
        assert model.catalogue.name_list[model.catalogue.index[item.item_id]] not in item.reason
    assert answer[ids(answer).index("dynamo")].reason == VIEWED_REASON


def test_table_reasons_say_viewed_as_live_ones_do() -> None:
    data = pd.concat(
        [planted(), frame([("serverless_00", "dynamo", "viewed", 3.0, T0 + 10_000)])],
        ignore_index=True,
    )
    recipe = create_recipe("user-personalization").fit(data, items_frame())
    table = recipe.answer_table(8)
    assert table is not None
    ranked = table.ranked("serverless_00", 8)
    assert ranked is not None
    assert ranked == recipe.recommend_ranked("serverless_00", num_results=8)
    assert ranked.reasons[ranked.item_ids.index("dynamo")] == VIEWED_REASON
    names = np.asarray(recipe.catalogue.name_list)
    for item, reason in zip(ranked.item_ids, ranked.reasons, strict=True):
        assert names[recipe.catalogue.index[item]] not in reason


def test_an_unknown_user_is_told_the_list_is_for_a_new_user(model: UserPersonalization) -> None:
    assert {item.reason for item in model.recommend("nobody", num_results=3)} == {NEW_USER_REASON}


def test_data_whose_ratings_mean_use_keeps_them_unsigned_but_feedback_still_counts() -> None:
    data = pd.concat(
        [
            planted(),
            frame([("serverless_00", "dynamo", "rated", 1.0, T0 + 10_000)]),  # prepared data
            frame([("serverless_01", "dynamo", "rated", 1.0, T0 + 10_000)]),  # recorded by SRS
        ],
        ignore_index=True,
    )
    weights = EventWeights(negative_history=False)
    recorded = np.zeros(len(data), dtype=bool)
    recorded[-1] = True
    model = create_recipe("user-personalization", weights).fit(
        data, items_frame(), signed_rows=recorded
    )
    items, values = model.history("serverless_00")
    assert values[items.tolist().index(model.catalogue.index["dynamo"])] > 0  # use, unsigned
    items, values = model.history("serverless_01")
    assert values[items.tolist().index(model.catalogue.index["dynamo"])] < 0  # feedback holds
    assert "dynamo" not in ids(model.recommend("serverless_01", num_results=8))
    live = model.recommend("serverless_02", events=[HistoryEvent("s3", "rated", 1.0)])
    assert "s3" not in ids(live)  # feedback given now is a dislike too
