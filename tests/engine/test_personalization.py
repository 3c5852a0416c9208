from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from engine_support import NAMES, T0, frame, items_frame, planted

from srs.engine import (
    HistoryEvent,
    HyperparameterError,
    InvalidRequestError,
    NotFittedError,
    UserPersonalization,
    build_matrix,
    create_recipe,
)
from srs.engine.zscores import zscore_row, zscore_unseen
from srs.events.event import Event

SERVERLESS_PARTIAL = "serverless_00"  # uses s3 and lambda, not dynamo


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return planted()


@pytest.fixture(scope="module", params=["ease", "item-knn"])
def model(request: pytest.FixtureRequest, data: pd.DataFrame) -> UserPersonalization:
    return UserPersonalization(algorithm=request.param).fit(data, items_frame())


def test_the_missing_cluster_item_comes_first_with_a_reason_from_the_history(
    model: UserPersonalization,
) -> None:
    answer = model.recommend(SERVERLESS_PARTIAL, num_results=3, exclude=["s3", "lambda", "console"])
    assert answer[0].item_id == "dynamo"
    assert answer[0].reason.startswith("because you use ")
    assert {"Amazon S3", "AWS Lambda"} & set(answer[0].reason[16:].split(" and "))


def test_reasons_use_the_names_passed_in(model: UserPersonalization) -> None:
    answer = model.recommend(
        SERVERLESS_PARTIAL,
        num_results=1,
        exclude=["s3", "lambda", "console"],
        item_names={"s3": "Simple Storage", "lambda": "Functions"},
    )
    assert "Simple Storage" in answer[0].reason or "Functions" in answer[0].reason


def test_scores_over_the_whole_catalogue_sum_to_one(model: UserPersonalization) -> None:
    answer = model.recommend(SERVERLESS_PARTIAL, num_results=len(model.item_ids))
    assert len(answer) == len(model.item_ids) == len(NAMES)
    assert sum(item.score or 0.0 for item in answer) == pytest.approx(1.0)
    scores = [item.score or 0.0 for item in answer]
    assert scores == sorted(scores, reverse=True)


def test_an_event_recorded_after_training_changes_the_next_answer(
    model: UserPersonalization,
) -> None:
    exclude = ["s3", "lambda", "console", "ec2"]
    before = model.recommend(SERVERLESS_PARTIAL, num_results=2, exclude=exclude)
    after = model.recommend(
        SERVERLESS_PARTIAL,
        events=[HistoryEvent("ec2", "launched", 5.0)],
        num_results=2,
        exclude=exclude,
    )
    assert before[0].item_id == "dynamo"
    assert after != before
    assert {item.item_id for item in after} & {"ebs", "vpc"}


def test_an_unknown_user_is_scored_from_their_events_alone(model: UserPersonalization) -> None:
    answer = model.recommend(
        "newcomer", events=[Event("launched", "ec2", T0, 5.0)], num_results=2, exclude=["ec2"]
    )
    assert {item.item_id for item in answer} == {"ebs", "vpc"}
    assert all("Amazon EC2" in item.reason for item in answer)


def test_an_unknown_user_without_events_gets_popular_items(model: UserPersonalization) -> None:
    answer = model.recommend("nobody", num_results=3)
    assert answer[0].item_id == "console"
    assert {item.reason for item in answer} == {"new user: popular services"}
    data = planted()
    pairs = len(data[["USER_ID", "ITEM_ID"]].drop_duplicates())
    assert answer[0].score == pytest.approx(data["USER_ID"].nunique() / pairs)


def test_events_for_items_outside_the_catalogue_are_ignored(model: UserPersonalization) -> None:
    answer = model.recommend("nobody", events=[HistoryEvent("quantum-ledger", "launched", 5.0)])
    assert {item.reason for item in answer} == {"new user: popular services"}


def test_excluded_items_never_come_back(model: UserPersonalization) -> None:
    mask = np.zeros(len(model.item_ids), dtype=bool)
    mask[: len(mask) - 2] = True
    by_mask = model.recommend(SERVERLESS_PARTIAL, num_results=25, exclude=mask)
    assert [item.item_id for item in by_mask] == sorted(
        model.item_ids[~mask].tolist(), key=[item.item_id for item in by_mask].index
    )
    assert len(by_mask) == 2
    by_ids = model.recommend("nobody", num_results=25, exclude=["console", "s3"])
    assert not {"console", "s3"} & {item.item_id for item in by_ids}


def test_a_mask_of_the_wrong_length_is_refused(model: UserPersonalization) -> None:
    with pytest.raises(InvalidRequestError, match="shape"):
        model.recommend("nobody", exclude=np.zeros(3, dtype=bool))


@pytest.mark.parametrize("count", [0, -1, 501, True, 2.5])
def test_num_results_outside_1_to_500_is_a_clear_value_error(
    model: UserPersonalization, count: object
) -> None:
    with pytest.raises(ValueError, match="num_results must be"):
        model.recommend("nobody", num_results=count)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="num_results"):
        model.similar_items("s3", num_results=count)  # type: ignore[arg-type]


def test_500_results_are_allowed_and_capped_by_the_catalogue(model: UserPersonalization) -> None:
    assert len(model.recommend(SERVERLESS_PARTIAL, num_results=500)) == len(model.item_ids)


def test_single_and_batch_scoring_rank_alike(model: UserPersonalization) -> None:
    users = ["serverless_00", "infra_01", "infra_07"]
    rows = [model.history(user) for user in users]
    histories = sp.csr_matrix(
        (
            np.concatenate([values for _, values in rows]),
            np.concatenate([items for items, _ in rows]),
            np.cumsum([0] + [len(items) for items, _ in rows]),
        ),
        shape=(len(users), len(model.item_ids)),
    )
    batch = model.recommend_batch(histories, 4, exclude=histories)
    for row, user in enumerate(users):
        seen = model.item_ids[rows[row][0]].tolist()
        single = [item.item_id for item in model.recommend(user, num_results=4, exclude=seen)]
        assert model.item_ids[batch[row]].tolist() == single


def test_similar_items_follow_co_usage(model: UserPersonalization) -> None:
    answer = model.similar_items("s3", num_results=2)
    assert {item.item_id for item in answer} == {"lambda", "dynamo"}
    assert all(item.reason == "often used with Amazon S3" for item in answer)
    assert "s3" not in {item.item_id for item in model.similar_items("s3", num_results=25)}


def test_similar_items_of_an_unknown_or_unused_item_are_popular(model: UserPersonalization) -> None:
    for item_id in ("quantum-ledger", "braket"):
        answer = model.similar_items(item_id, num_results=2)
        assert answer[0].item_id == "console"
        assert {item.reason for item in answer} == {"popular"}


def test_item_knn_fills_unscored_items_with_popular_ones(data: pd.DataFrame) -> None:
    model = UserPersonalization(algorithm="item-knn", neighbors=1).fit(data, items_frame())
    answer = model.recommend(SERVERLESS_PARTIAL, num_results=len(model.item_ids))
    reasons = [item.reason for item in answer]
    assert "popular" in reasons
    first_popular = reasons.index("popular")
    assert all(reason == "popular" for reason in reasons[first_popular:])
    assert sum(item.score or 0.0 for item in answer) == pytest.approx(1.0)


def test_auto_chooses_dense_ease_up_to_the_item_limit(data: pd.DataFrame) -> None:
    assert UserPersonalization().fit(data).fitted_algorithm == "ease"
    sparse = UserPersonalization(dense_max_items=3).fit(data)
    assert sparse.fitted_algorithm == "item-knn"
    assert sparse.dense_weights is None


def test_the_popularity_exponent_scales_target_columns_by_popularity(
    data: pd.DataFrame,
) -> None:
    plain = UserPersonalization(popularity_exponent=0.0).fit(data)
    discounted = UserPersonalization(popularity_exponent=-0.5).fit(data)
    users_per_item = data.groupby("ITEM_ID")["USER_ID"].nunique()
    scale = users_per_item.reindex(plain.item_ids).to_numpy() ** -0.5
    np.testing.assert_allclose(
        discounted.dense_weights,  # type: ignore[arg-type]
        plain.dense_weights * scale[np.newaxis, :],  # type: ignore[operator]
        rtol=1e-5,
        atol=1e-7,
    )


def test_the_fitted_temperature_keeps_the_raw_ranking(data: pd.DataFrame) -> None:
    model = UserPersonalization().fit(data)
    items, values = model.history(SERVERLESS_PARTIAL)
    raw = values @ model.dense_weights[items]  # type: ignore[index]
    answer = model.recommend(SERVERLESS_PARTIAL, num_results=len(model.item_ids))
    assert [item.item_id for item in answer] == model.item_ids[
        np.argsort(-raw, kind="stable")
    ].tolist()
    assert 0 < model.temperature < np.inf


def test_personalized_ranking_is_the_same_model_under_its_own_name(data: pd.DataFrame) -> None:
    ranking = create_recipe("personalized-ranking").fit(data)
    assert ranking.name == "personalized-ranking"
    assert isinstance(ranking, UserPersonalization)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"l2": 0.0}, "l2 must be > 0"),
        ({"diag_weight": -1.0}, "diag_weight"),
        ({"algorithm": "svd"}, "algorithm must be one of"),
        ({"neighbors": 0}, "neighbors"),
        ({"popularity_exponent": 5.0}, "popularity_exponent"),
    ],
)
def test_bad_hyperparameters_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(HyperparameterError, match=message):
        UserPersonalization(**settings)  # type: ignore[arg-type]


def test_an_unfitted_recipe_says_so() -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        UserPersonalization().recommend("anyone")


def test_training_statistics_are_recorded(data: pd.DataFrame) -> None:
    model = UserPersonalization().fit(data, items_frame())
    assert model.stats["users"] == data["USER_ID"].nunique()
    assert model.stats["items"] == len(NAMES)
    assert model.stats["interactions"] == len(data)
    assert model.stats["training_seconds"] >= 0
    assert frame([("u", "s3", "viewed", 3.0, T0)]).shape == (1, 5)


def test_fitting_from_a_prebuilt_matrix_equals_fitting_from_the_frame(data: pd.DataFrame) -> None:
    direct = UserPersonalization().fit(data, items_frame())
    prebuilt = UserPersonalization().fit_matrix(
        build_matrix(data, direct.weights, items_frame()["ITEM_ID"]), data, items_frame()
    )
    assert prebuilt.recommend(SERVERLESS_PARTIAL) == direct.recommend(SERVERLESS_PARTIAL)
    assert prebuilt.temperature == direct.temperature


# ---- side information and the blend ---------------------------------------------------------

EVERY_FEATURE = {"item_item": 0.5, "factors": 0.4, "popularity": -0.1, "window": 0.3, "value": 0.2}


def two_eras(users_per_era: int = 10) -> pd.DataFrame:
    """Old users (year one) and new users (year two) with the same tastes, but the catalogue
    changed: ``ec2`` was in use only in year one, ``lambda`` only in year two. Everyone uses
    ``s3``; a few old users also used ``vpc``, a few new ones ``dynamo``."""
    rows: list[tuple[str, str, str, float, int]] = []
    year = 365 * 86_400
    for era, (item, extra) in enumerate((("ec2", "vpc"), ("lambda", "dynamo"))):
        for user in range(users_per_era):
            user_id = f"era{era}_{user:02d}"
            stamp = T0 + era * year + user * 3_600
            rows.append((user_id, "s3", "launched", 4.0, stamp))
            if user > 0:
                rows.append((user_id, item, "launched", 4.0, stamp + 60))
            if user < 3:
                rows.append((user_id, extra, "viewed", 2.0, stamp + 120))
    return frame(rows)


def test_a_window_blend_favours_what_was_in_use_while_the_user_was_active() -> None:
    data = two_eras()
    model = UserPersonalization(algorithm="ease", blend={"window": 1.0}).fit(data)
    old = [item.item_id for item in model.recommend("era0_00", num_results=5)]
    new = [item.item_id for item in model.recommend("era1_00", num_results=5)]
    assert old.index("ec2") < old.index("lambda")
    assert new.index("lambda") < new.index("ec2")
    assert model.recommend("nobody", events=[HistoryEvent("s3", "launched", 4.0)])  # no span


def test_a_value_blend_ranks_by_mean_event_value() -> None:
    data = two_eras()
    model = UserPersonalization(algorithm="ease", blend={"value": 1.0}).fit(data)
    ranked = [item.item_id for item in model.recommend("era0_05", num_results=4)]
    assert ranked[-1] in {"vpc", "dynamo"}  # valued 2, the others 4
    assert ranked.index("lambda") < ranked.index("dynamo")


def test_an_item_item_only_blend_keeps_the_plain_ranking(data: pd.DataFrame) -> None:
    plain = UserPersonalization(algorithm="ease").fit(data, items_frame())
    blended = UserPersonalization(algorithm="ease", blend={"item_item": 2.0}).fit(
        data, items_frame()
    )
    for user in ("serverless_00", "infra_03", "serverless_07"):
        expected = [item.item_id for item in plain.recommend(user, num_results=7)]
        assert [item.item_id for item in blended.recommend(user, num_results=7)] == expected


def test_a_factor_blend_finds_the_missing_cluster_item_and_reacts_to_events(
    data: pd.DataFrame,
) -> None:
    model = UserPersonalization(algorithm="ease", blend={"factors": 1.0}).fit(data, items_frame())
    used = ["console", "s3", "lambda"]
    assert model.recommend(SERVERLESS_PARTIAL, num_results=1, exclude=used)[0].item_id == "dynamo"
    before = model.recommend("infra_05", num_results=8)
    after = model.recommend(
        "infra_05", events=[HistoryEvent("lambda", "launched", 4.0)], num_results=8
    )
    assert [item.item_id for item in before] != [item.item_id for item in after]


def test_blended_scores_sum_to_one_and_carry_reasons_from_the_history(data: pd.DataFrame) -> None:
    model = UserPersonalization(algorithm="ease", blend=EVERY_FEATURE).fit(data, items_frame())
    answer = model.recommend(SERVERLESS_PARTIAL, num_results=500)
    assert sum(item.score or 0.0 for item in answer) == pytest.approx(1.0)
    top = model.recommend(SERVERLESS_PARTIAL, num_results=1, exclude=["console", "s3", "lambda"])
    assert top[0].item_id == "dynamo"
    assert "Amazon S3" in top[0].reason or "AWS Lambda" in top[0].reason


def test_batch_blend_scores_match_one_user_at_a_time() -> None:
    data = two_eras()
    model = UserPersonalization(algorithm="ease", blend=EVERY_FEATURE).fit(data)
    users = ["era0_00", "era0_04", "era1_01", "era1_09"]
    rows = [model.user_index[user] for user in users]
    n_items = len(model.item_ids)
    histories = sp.vstack([model._histories.block(row, row + 1, n_items) for row in rows])  # type: ignore[union-attr]
    spans = np.asarray([model._user_span(user) for user in users], dtype=np.int64)
    batch = model.score_histories(histories, spans)
    for row, user in enumerate(users):
        items, values = model.history(user)
        single = model._history_scores(items, values, model._user_span(user))
        assert np.allclose(batch[row], single, atol=1e-6)


def test_category_side_information_links_items_nobody_used_together() -> None:
    rows = [(f"u{user}", item, "launched", 1.0, T0 + user) for user in range(8) for item in "ab"]
    rows += [(f"v{user}", item, "launched", 1.0, T0 + user) for user in range(8) for item in "cd"]
    data = frame(rows)
    items = pd.DataFrame({"ITEM_ID": list("abcd"), "CATEGORY": ["x", "y", "x", "y"]})
    plain = UserPersonalization(algorithm="ease").fit(data, items)
    linked = UserPersonalization(algorithm="ease", category_weight=0.5).fit(data, items)
    a, c = plain.catalogue.index["a"], plain.catalogue.index["c"]
    assert plain.dense_weights is not None and linked.dense_weights is not None
    assert abs(plain.dense_weights[a, c]) < 1e-6
    assert linked.dense_weights[a, c] > 0.01


@pytest.mark.parametrize(
    ("blend", "message"),
    [
        ({"popularty": 1.0}, "unknown feature"),
        ({"window": float("nan")}, "finite"),
        ({"window": "1"}, "number"),
    ],
)
def test_bad_blends_are_refused(blend: dict[str, object], message: str) -> None:
    with pytest.raises(HyperparameterError, match=message):
        UserPersonalization(blend=blend)  # type: ignore[arg-type]


def test_an_all_zero_blend_is_no_blend_and_zero_weights_are_left_out() -> None:
    assert UserPersonalization(blend={"window": 0.0}).hyperparameters()["blend"] is None
    model = UserPersonalization(algorithm="ease", blend={"factors": 0.0, "window": 1.0})
    assert model.hyperparameters()["blend"] == {"window": 1.0}
    model.fit(two_eras())
    histories = model.history_matrix(two_eras())[1]
    assert model.score_histories(histories).shape == (histories.shape[0], len(model.item_ids))


def test_the_requests_z_score_is_the_blend_learners() -> None:
    rng = np.random.default_rng(4)
    scores = rng.standard_normal(30)
    seen = rng.random(30) < 0.3
    np.testing.assert_allclose(zscore_row(scores, seen), zscore_unseen(scores, seen), atol=1e-12)
    flat = np.full(30, 0.1)
    assert not zscore_row(flat, seen).any() and not zscore_unseen(flat, seen).any()
    lonely = np.ones(30, dtype=bool)
    lonely[3] = False
    assert not zscore_row(scores, lonely).any()


def test_a_blended_fit_on_one_blas_thread_trains_the_factors_aside_to_the_same_model() -> None:
    data = two_eras()
    aside = UserPersonalization(algorithm="ease", blend=EVERY_FEATURE).fit(data, threads=1)
    inline = UserPersonalization(algorithm="ease", blend=EVERY_FEATURE).fit(data, threads=2)
    assert aside._factors is not None and inline._factors is not None
    np.testing.assert_allclose(aside._factors.factors, inline._factors.factors, atol=1e-5)
    for user in ("era0_03", "era1_07"):
        assert [i.item_id for i in aside.recommend(user)] == [
            i.item_id for i in inline.recommend(user)
        ]
