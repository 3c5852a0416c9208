from __future__ import annotations

import math

import numpy as np
import pytest

from srs.engine.errors import HyperparameterError
from srs.engine.weights import DEFAULT_TYPE_WEIGHTS, SECONDS_PER_DAY, EventWeights, value_scale_of


def test_default_type_weights_follow_the_funnel() -> None:
    weights = EventWeights()
    order = ["launched", "configured", "rated", "clicked", "viewed"]
    values = [weights.type_weight(name) for name in order]
    assert values == sorted(values, reverse=True)
    assert len(set(values)) == len(values)
    assert values == [DEFAULT_TYPE_WEIGHTS[name] for name in order]


def test_event_value_scales_the_weight_around_the_neutral_rating() -> None:
    weights = EventWeights()
    assert weights.event_weight("launched", 3.0) == pytest.approx(3.0)
    assert weights.event_weight("launched", 5.0) == pytest.approx(5.0)
    assert weights.event_weight("launched", 1.0) == pytest.approx(1.0)
    assert weights.event_weight("launched", None) == pytest.approx(3.0)
    assert weights.event_weight("launched", math.nan) == pytest.approx(3.0)
    assert EventWeights(value_reference=None).event_weight("launched", 5.0) == 3.0


def test_value_offset_compresses_the_value_around_the_same_neutral_point() -> None:
    weights = EventWeights(value_offset=2.0)
    assert weights.event_weight("launched", 3.0) == pytest.approx(3.0)
    assert weights.event_weight("launched", 5.0) == pytest.approx(3.0 * 7 / 5)
    assert weights.event_weight("launched", 1.0) == pytest.approx(3.0 * 3 / 5)
    assert weights.event_weight("launched", math.nan) == pytest.approx(3.0)
    assert EventWeights(value_offset=2.0, value_reference=None).event_weight(
        "launched", 5.0
    ) == pytest.approx(3.0)


def test_row_weights_apply_the_value_offset_like_single_events() -> None:
    weights = EventWeights(value_offset=-1.0, value_reference=3.0)
    values = np.array([5.0, 3.0, 1.0, 0.5, np.nan])
    result = weights.row_weights(
        np.zeros(5, dtype=np.int64),
        np.array(["rated"]),
        values,
        np.zeros(5, dtype=np.int64),
        0,
    )
    assert result == pytest.approx([4.0, 2.0, 0.0, 0.0, 2.0])
    assert result == pytest.approx(
        [weights.event_weight("rated", float(value)) for value in values]
    )


def test_event_types_match_case_insensitively_and_unknown_types_get_the_default() -> None:
    weights = EventWeights(default_weight=0.5)
    assert weights.type_weight("LAUNCHED") == weights.type_weight("launched")
    assert weights.type_weight("purchased") == 0.5


def test_row_weights_apply_type_value_and_half_life_decay() -> None:
    weights = EventWeights(half_life_days=1.0)
    reference = 10 * SECONDS_PER_DAY
    result = weights.row_weights(
        np.array([0, 1, 1], dtype=np.int64),
        np.array(["launched", "viewed"]),
        np.array([3.0, 6.0, np.nan]),
        np.array([reference, reference - SECONDS_PER_DAY, reference + 5], dtype=np.int64),
        reference,
    )
    assert result == pytest.approx([3.0, 1.0, 1.0])


def test_combine_follows_the_aggregation() -> None:
    assert EventWeights(aggregate="max").combine(3.0, 1.0) == 3.0
    assert EventWeights(aggregate="sum").combine(3.0, 1.0) == 4.0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"type_weights": {"viewed": -1.0}}, "'viewed'"),
        ({"default_weight": float("inf")}, "default_weight"),
        ({"value_reference": 0.0}, "value_reference"),
        ({"value_offset": -3.0}, "value_offset -3.0 and value_reference 3.0"),
        ({"value_offset": -5.0, "value_reference": 4.0}, "value_offset -5.0"),
        ({"value_offset": math.nan}, "value_offset must be a finite number, got nan"),
        ({"value_offset": "2"}, "value_offset must be a finite number, got '2'"),
        ({"half_life_days": -2.0}, "half_life_days"),
        ({"aggregate": "mean"}, "aggregate"),
    ],
)
def test_invalid_settings_are_refused_by_name(settings: dict[str, object], message: str) -> None:
    with pytest.raises(HyperparameterError, match=message):
        EventWeights(**settings)  # type: ignore[arg-type]


def test_settings_round_trip_through_a_dict() -> None:
    weights = EventWeights(
        type_weights={"Launched": 4.0}, value_offset=2.0, half_life_days=30.0, aggregate="sum"
    )
    restored = EventWeights.from_dict(weights.to_dict())
    assert restored == weights
    assert restored.type_weight("launched") == 4.0
    assert restored.event_weight("launched", 5.0) == pytest.approx(4.0 * 7 / 5)
    with pytest.raises(HyperparameterError, match="colour"):
        EventWeights.from_dict({**weights.to_dict(), "colour": "red"})


def test_settings_saved_before_value_offset_and_signed_feedback_load_unchanged() -> None:
    saved = {
        "type_weights": {"rated": 2.0},
        "default_weight": 1.0,
        "value_reference": 3.0,
        "half_life_days": None,
        "aggregate": "max",
    }
    restored = EventWeights.from_dict(saved)
    assert restored.value_offset == 0.0
    assert restored.event_weight("rated", 5.0) == pytest.approx(2.0 * 5 / 3)
    assert restored.verdict("rated", 1.0) == 0  # an old model keeps answering as trained
    assert restored.to_dict() == {
        **saved,
        "value_offset": 0.0,
        "low_rating_max": None,
        "negative_types": [],
        "negative_weight": 2.0,
        "negative_history": True,
        "value_scale": "ratio",
    }


def test_counts_are_weighed_by_their_log_and_detected_beyond_a_rating_scale() -> None:
    counts = np.array([1.0, 0.0, 120.0, np.nan])
    assert value_scale_of(counts) == "log"
    assert value_scale_of(np.array([1.0, 5.0, 3.0])) == "ratio"
    logged = EventWeights(value_scale="log")
    assert logged.event_weight("viewed", 120.0) == pytest.approx(1.0 + np.log1p(120.0))
    assert logged.event_weight("viewed", 0.0) == pytest.approx(1.0)
    assert EventWeights(value_scale="none").event_weight("launched", 120.0) == pytest.approx(3.0)
    codes = np.zeros(3, dtype=np.int64)
    rows = logged.row_weights(codes, ["viewed"], np.array([0.0, 9.0, 999.0]), codes, 0)
    assert rows.tolist() == pytest.approx([1.0, 1.0 + np.log1p(9.0), 1.0 + np.log1p(999.0)])
    with pytest.raises(HyperparameterError, match="value_scale"):
        EventWeights(value_scale="cube")  # type: ignore[arg-type]
