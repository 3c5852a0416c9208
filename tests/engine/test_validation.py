"""The validation protocol ``srs train`` chooses by: folds, the timestamp check, the rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from engine_support import T0, frame, planted

from srs.engine.evaluation.tasks import scoring_input
from srs.engine.evaluation.tuning import (
    LARGE_CATALOGUE_STAGES,
    VALUE_OFFSET,
    VALUE_SCALE,
    WEIGHTING,
    choose_parameters,
    default_weighting,
    expensive_to_fit,
    search_folds,
)
from srs.engine.evaluation.validation import (
    MIN_USER_PAIRS,
    compare,
    timestamp_report,
    user_holdout_task,
    validation_folds,
)
from srs.engine.recipes.registry import create_recipe


def logged(users: int = 80, items: int = 30, seed: int = 0) -> pd.DataFrame:
    """Users with real, irregular times over a small catalogue."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        clock = T0 + int(rng.integers(0, 10**6))
        for item in rng.choice(items, size=int(rng.integers(3, 12)), replace=False):
            clock += int(rng.integers(1, 10**5))
            rows.append((f"u{user:03d}", f"i{item:02d}", "viewed", 3.0, clock))
    return frame(rows)


def test_real_times_are_informative_and_file_order_or_equal_times_are_not() -> None:
    data = logged()
    assert timestamp_report(data).informative
    same = data.assign(TIMESTAMP=T0)
    assert (
        timestamp_report(same) == timestamp_report(same) and not timestamp_report(same).informative
    )
    assert "same timestamp" in timestamp_report(same).reason
    # What srs prepare writes for a source without timestamps: 2024-01-01 plus a minute a row.
    order = data.groupby("USER_ID").cumcount().to_numpy()
    prepared = data.assign(TIMESTAMP=1_704_067_200 + 60 * order)
    assert not timestamp_report(prepared).informative
    # One constant step in file order, each user starting elsewhere.
    starts = data["USER_ID"].str[1:].astype(int).to_numpy() * 10**6
    stepped = data.assign(TIMESTAMP=T0 + starts + 5 * order)
    report = timestamp_report(stepped)
    assert not report.informative and "fixed step" in report.reason
    daily = data.assign(TIMESTAMP=T0 + 86_400 * (order % 2))
    assert not timestamp_report(daily).informative


def test_a_fold_holds_out_a_quarter_of_each_sampled_users_events() -> None:
    data = logged()
    doubled = pd.concat([data, data.assign(EVENT_TYPE="launched")], ignore_index=True)
    task = user_holdout_task(doubled, seed=3, users=20)
    truth_users = set(task.truth_frame["USER_ID"])
    assert len(truth_users) == 20
    assert set(task.input_frame["USER_ID"]) == truth_users
    assert len(task.fit_frame) + len(task.truth_frame) == len(doubled)
    pairs = doubled.drop_duplicates(["USER_ID", "ITEM_ID"]).groupby("USER_ID").size()
    events = doubled.groupby("USER_ID").size()
    for user, count in task.truth_frame.groupby("USER_ID").size().items():
        assert pairs[user] >= MIN_USER_PAIRS
        assert count == max(1, int(np.floor(0.25 * events[user])))
    # Events, not services, are drawn: some services keep an event in the history, which a
    # request would exclude, and some lose both.
    held = set(zip(task.truth_frame["USER_ID"], task.truth_frame["ITEM_ID"], strict=True))
    kept = set(zip(task.fit_frame["USER_ID"], task.fit_frame["ITEM_ID"], strict=True))
    assert held & kept and held - kept
    again = user_holdout_task(doubled, seed=3, users=20)
    assert again.truth_frame.equals(task.truth_frame)
    other = user_holdout_task(doubled, seed=4, users=20)
    assert not other.truth_frame.equals(task.truth_frame)
    assert len(validation_folds(data, folds=3)) == 3


def test_only_services_with_no_event_left_in_the_history_count_as_a_folds_truth() -> None:
    data = logged()
    doubled = pd.concat([data, data.assign(EVENT_TYPE="launched")], ignore_index=True)
    task = user_holdout_task(doubled, seed=3, users=20)
    model = create_recipe("popularity-count").fit(task.fit_frame)
    prepared = scoring_input(model, task)
    kept = set(zip(task.input_frame["USER_ID"], task.input_frame["ITEM_ID"], strict=True))
    counted = task.truth_frame.drop_duplicates(["USER_ID", "ITEM_ID"])
    pairs = zip(counted["USER_ID"], counted["ITEM_ID"], strict=True)
    counted = counted[[pair not in kept for pair in pairs]]
    per_user = counted.groupby("USER_ID").size()
    assert prepared.users == sorted(per_user.index)
    assert prepared.n_relevant.tolist() == per_user.tolist()


def test_a_candidate_wins_only_by_more_than_the_folds_disagree() -> None:
    assert compare([0.30, 0.31, 0.32], [0.29, 0.30, 0.31]).wins
    noisy = compare([0.40, 0.25, 0.33], [0.30, 0.31, 0.32])
    assert noisy.gain > 0 and not noisy.wins
    assert not compare([0.30, 0.30], [0.30, 0.30]).wins
    assert compare([0.5], [0.4]).spread == 0.0


def ratings_of_use(users: int = 150) -> pd.DataFrame:
    """Every rating means "watched", low ones too, and taste runs in two clusters: on such data
    a low rating is not evidence against similar items, so signing it hurts."""
    rng = np.random.default_rng(1)
    rows = []
    for user in range(users):
        cluster = user % 2
        items = rng.choice(12, size=8, replace=False)
        for step, item in enumerate(items):
            rating = float(rng.integers(1, 6))
            rows.append((f"u{user:03d}", f"c{cluster}_{item:02d}", "rated", rating, T0 + step))
    return frame(rows)


def test_tuning_turns_negative_feedback_off_where_low_ratings_still_mean_use() -> None:
    choice = choose_parameters("user-personalization", ratings_of_use())
    assert choice.weighting["negative_feedback"] is False
    assert choice.chosen_score > choice.default_score > choice.popularity_score
    adopted = [step for step in choice.steps if step.adopted]
    assert adopted[0].setting == "negative_feedback"
    assert all(step.comparison.gain > step.comparison.spread for step in adopted)
    assert "negative_feedback=False won by" in choice.reason()


def test_each_setting_moves_only_to_its_best_clear_winner_above_popularity() -> None:
    choice = choose_parameters("user-personalization", planted(6), folds=2)
    by_setting: dict[str, list[object]] = {}
    for step in choice.steps:
        by_setting.setdefault(step.setting, []).append(step)
    for setting, steps in by_setting.items():
        winners = [
            step
            for step in steps
            if step.comparison.wins and step.score >= choice.popularity_score  # type: ignore[attr-defined]
        ]
        adopted = [step for step in steps if step.adopted]  # type: ignore[attr-defined]
        if winners:
            best = max(winners, key=lambda step: step.comparison.gain)  # type: ignore[attr-defined]
            assert adopted == [best], setting
        else:
            assert adopted == [], setting
            current = {**WEIGHTING, **choice.parameters}
            assert setting not in choice.parameters or current[setting] is not None


@pytest.mark.parametrize("recipe", ["trending-now"])
def test_time_settings_are_not_searched_without_real_timestamps(recipe: str) -> None:
    data = logged()
    order = data.groupby("USER_ID").cumcount().to_numpy()
    prepared = data.assign(TIMESTAMP=1_704_067_200 + 60 * order)
    untimed = choose_parameters(recipe, prepared, folds=2)
    assert untimed.steps == [] and "nothing to search" in untimed.reason()
    timed = choose_parameters(recipe, data, folds=2)
    assert {step.setting for step in timed.steps} == {"window_days"}


def test_play_counts_start_from_log_weights_and_a_large_catalogue_searches_less() -> None:
    data = logged(users=60, items=30)
    plays = data.assign(EVENT_TYPE="play", EVENT_VALUE=np.arange(len(data)) % 400)
    assert default_weighting(plays)[VALUE_SCALE] == "log"
    assert default_weighting(data)[VALUE_SCALE] == "ratio"
    choice = choose_parameters("user-personalization", plays, folds=2)
    assert VALUE_OFFSET not in {step.setting for step in choice.steps}  # offsets shift ratings
    settings = {setting for setting, _ in LARGE_CATALOGUE_STAGES}
    large = choose_parameters("user-personalization", plays, folds=3, costly=True)
    assert {step.setting for step in large.steps} <= settings and large.folds == 2
    assert not expensive_to_fit(plays)


def test_fit_cost_not_catalogue_size_decides_a_cut_down_search() -> None:
    # 7,000 users and 7,000 items: an items × items factorisation either way — costly.
    tall = frame((f"u{n:05d}", f"i{n:05d}", "viewed", 3.0, T0) for n in range(7000))
    assert expensive_to_fit(tall)
    # 60 users over 5,000 items: the Woodbury route factorises 60 × 60 — cheap.
    wide = frame((f"u{n % 60:02d}", f"i{n:05d}", "viewed", 3.0, T0) for n in range(5000))
    assert not expensive_to_fit(wide)
    assert len(search_folds(tall, seed=0)) == 2
    assert len(search_folds(wide, seed=0)) == 3


def test_settings_the_data_cannot_inform_are_not_tried() -> None:
    views = logged().assign(EVENT_TYPE="viewed", EVENT_VALUE=1.0)
    tried = {step.setting for step in choose_parameters("user-personalization", views).steps}
    assert tried and not tried & {"negative_feedback", "value_scale", "value_offset"}
    rated = {
        step.setting for step in choose_parameters("user-personalization", ratings_of_use()).steps
    }
    assert {"negative_feedback", "value_scale"} <= rated
