from __future__ import annotations

import numpy as np

from srs.engine.histories import HistoryEvent, merge_events
from srs.engine.weights import EventWeights


def test_request_events_merge_as_training_rows_do() -> None:
    index = {"s3": 0, "ec2": 1}
    items, values = np.array([0]), np.array([1.0])
    events = [
        HistoryEvent("s3", "launched", 3.0),
        HistoryEvent("ec2", "viewed", None),
        HistoryEvent("quantum", "launched", 5.0),
    ]
    merged = merge_events(items, values, events, index, EventWeights())
    assert dict(zip(merged[0].tolist(), merged[1].tolist(), strict=True)) == {0: 3.0, 1: 1.0}
    summed = merge_events(items, values, events, index, EventWeights(aggregate="sum"))
    assert dict(zip(summed[0].tolist(), summed[1].tolist(), strict=True)) == {0: 4.0, 1: 1.0}


def test_re_applying_an_event_already_in_training_changes_nothing_under_max() -> None:
    weights = EventWeights()
    items, values = np.array([0]), np.array([weights.event_weight("launched", 4.0)])
    merged = merge_events(items, values, [HistoryEvent("s3", "launched", 4.0)], {"s3": 0}, weights)
    assert merged[1].tolist() == values.tolist()


def test_events_with_zero_weight_leave_no_entry() -> None:
    weights = EventWeights(type_weights={"viewed": 0.0})
    merged = merge_events(
        np.zeros(0, dtype=np.int64), np.zeros(0), [HistoryEvent("s3", "viewed")], {"s3": 0}, weights
    )
    assert merged[0].tolist() == []
