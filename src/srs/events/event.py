"""One feedback event, the rules a PutEvents call must meet, and the two ways a put fails.

Every backend (the local store, Personalize's event tracker) refuses the same calls, so the
event and its rules live apart from any one way of storing it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from srs.errors import SRSError
from srs.event_rules import (
    MAX_ID_LENGTH,
    id_too_long,
    is_blank_id,
    timestamp_problem,
    value_problem,
)

MIN_EVENTS_PER_CALL, MAX_EVENTS_PER_CALL = 1, 10  # PutEvents' limits
# PutEvents makes eventValue optional but Personalize's EVENT_VALUE column is a float;
# an event sent without one gets the neutral midpoint of the 1–5 rating scale.
NEUTRAL_EVENT_VALUE = 3.0


class EventError(SRSError):
    """An event that cannot be accepted; the message names the event and field."""


class EventStoreError(SRSError):
    """Valid events that could not be stored (disk full, database locked too long)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One PutEvents eventList entry, after validation."""

    event_type: str
    item_id: str
    sent_at: int
    event_value: float = NEUTRAL_EVENT_VALUE


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored, with who sent it; ``id`` orders events globally and names one to
    undo (:meth:`EventStore.delete_event`)."""

    id: int
    user_id: str
    session_id: str
    event_type: str
    item_id: str
    event_value: float
    sent_at: int


def _check_id(name: str, value: str) -> None:
    if is_blank_id(value):
        raise EventError(f"{name} is blank")
    if id_too_long(value):
        raise EventError(f"{name} is longer than {MAX_ID_LENGTH} characters")


def check_batch(
    user_id: str, session_id: str, events: Sequence[Event], now: float | None = None
) -> None:
    """PutEvents' rules: 1–10 events, non-blank IDs, and each time and value within
    :mod:`srs.event_rules` (``now`` defaults to the clock), so nothing that would overflow
    SQLite or break a date is ever stored. One bad event refuses the whole call."""
    _check_id("userId", user_id)
    _check_id("sessionId", session_id)
    if not MIN_EVENTS_PER_CALL <= len(events) <= MAX_EVENTS_PER_CALL:
        raise EventError(
            f"eventList must hold {MIN_EVENTS_PER_CALL} to {MAX_EVENTS_PER_CALL} events,"
            f" got {len(events)}"
        )
    clock = time.time() if now is None else now
    for index, event in enumerate(events):
        _check_id(f"eventList[{index}].eventType", event.event_type)
        _check_id(f"eventList[{index}].itemId", event.item_id)
        problem = timestamp_problem(event.sent_at, clock)
        if problem is not None:
            raise EventError(f"eventList[{index}].sentAt {problem} (value {event.sent_at!r})")
        problem = value_problem(event.event_type, event.event_value)
        if problem is not None:
            raise EventError(
                f"eventList[{index}].eventValue {problem} (value {event.event_value!r})"
            )
