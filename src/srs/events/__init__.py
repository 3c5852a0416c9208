"""Feedback events: what one is, the rules a PutEvents call meets, and where they are kept.

:mod:`.event` holds the event and its rules, :mod:`.store` the SQLite store, with
:mod:`.group_commit` sharing transactions between a process's writers and
:mod:`.change_counter` telling every process whether anything was written; :mod:`.export`
writes them out for Personalize. The web layer needs only the names below.
"""

from srs.event_rules import MAX_ID_LENGTH
from srs.events.event import (
    MAX_EVENTS_PER_CALL,
    MIN_EVENTS_PER_CALL,
    Event,
    EventError,
    StoredEvent,
)
from srs.events.store import EventStore

__all__ = [
    "MAX_EVENTS_PER_CALL",
    "MAX_ID_LENGTH",
    "MIN_EVENTS_PER_CALL",
    "Event",
    "EventError",
    "EventStore",
    "StoredEvent",
]
