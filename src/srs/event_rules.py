"""The rules every interaction meets, wherever it comes from: a source CSV, the API or a page.

One module so that ``srs prepare`` and ``PutEvents`` cannot drift apart: a value one accepts
the other accepts too, and a value neither accepts never reaches SQLite, a chart or a date
formatter. Each check answers with the rule broken (or ``None``); the caller adds where the
value sits (file, line and field, or ``eventList[2].sentAt``) and raises its own error.

Times are Unix seconds, whole or fractional, from 2000-01-01 to a day after "now": later
values are almost always milliseconds, earlier ones a zero or a mistake, and a day covers a
client whose clock runs ahead. "Now" is an argument, so tests can fix it. Rows already stored
are judged without a clock (:func:`stored_event_problem`): a time accepted when it was sent
must stay usable as the clock moves on, so the upper bound there is a fixed far date, and
the lower one is what older versions accepted.

Values are finite; a rating lies on the source's 1–5 scale, and any other value stays within
a bound wide enough for counts of plays or hours yet far from what floats or SQLite overflow.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TypeGuard

import numpy as np
import numpy.typing as npt

from srs.data.vocabulary import normalise_event_type

EARLIEST_TIMESTAMP = 946_684_800  # 2000-01-01T00:00:00Z
EARLIEST_STORED_TIMESTAMP = 0  # 1970-01-01T00:00:00Z, the earliest older versions accepted
LATEST_STORED_TIMESTAMP = 4_102_444_800  # 2100-01-01T00:00:00Z
MAX_SECONDS_AHEAD = 86_400
MILLISECONDS_PER_SECOND = 1000
RATING_SYNONYMS = frozenset({"rated", "rate", "rates", "rating", "ratings"})
RATING_MIN, RATING_MAX = 1.0, 5.0
MAX_ABS_EVENT_VALUE = 1e9
MAX_ID_LENGTH = 256  # Personalize's limit on a USER_ID, ITEM_ID or EVENT_TYPE


def is_blank_id(value: str) -> bool:
    """An ID of spaces names nothing, so it counts as blank."""
    return not value.strip()


def id_too_long(value: str, max_length: int | None = MAX_ID_LENGTH) -> bool:
    """Longer than Personalize keeps (or than ``max_length``; None: no limit)."""
    return max_length is not None and len(value) > max_length


def latest_timestamp(now: float) -> float:
    """The newest time accepted when ``now`` is the clock's reading."""
    return min(now + MAX_SECONDS_AHEAD, LATEST_STORED_TIMESTAMP)


def _day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def timestamp_rule(too_late: bool, looks_like_milliseconds: bool, latest: float) -> str:
    """The message for a time outside the window, with a hint when it reads as milliseconds."""
    hint = " (milliseconds?)" if looks_like_milliseconds else ""
    side = "later than" if too_late else "earlier than"
    bound = _day(latest) if too_late else _day(EARLIEST_TIMESTAMP)
    return f"out of range for Unix seconds{hint}; it is {side} {bound}"


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def timestamp_problem(value: object, now: float) -> str | None:
    """Why ``value`` is not an acceptable event time at ``now``, or None if it is.

    Comparisons, not conversions: a huge integer or an infinity compares fine but would
    overflow on the way to a float or an SQLite integer.
    """
    if not _is_number(value):
        return f"must be a number of Unix seconds, got {type(value).__name__}"
    if isinstance(value, float) and math.isnan(value):
        return "must be a finite number of Unix seconds"
    latest = latest_timestamp(now)
    if EARLIEST_TIMESTAMP <= value <= latest:
        return None
    too_late = value > latest
    milliseconds = (
        EARLIEST_TIMESTAMP * MILLISECONDS_PER_SECOND <= value <= latest * MILLISECONDS_PER_SECOND
    )
    return timestamp_rule(too_late, too_late and milliseconds, latest)


def timestamps_outside(seconds: npt.NDArray[np.float64], now: float) -> npt.NDArray[np.bool_]:
    """Which of many times (NaN included) :func:`timestamp_problem` would refuse."""
    inside = (seconds >= EARLIEST_TIMESTAMP) & (seconds <= latest_timestamp(now))
    return np.asarray(~inside, dtype=np.bool_)


def is_rating(event_type: str) -> bool:
    return normalise_event_type(event_type) in RATING_SYNONYMS


def rating_rule() -> str:
    return f"out of range {RATING_MIN:g}–{RATING_MAX:g}"


def values_outside(
    values: npt.NDArray[np.float64], ratings: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Which of many event values (NaN included) :func:`value_problem` would refuse, where
    ``ratings`` says which values are ratings: those lie on the rating scale, the others
    (hours played, a count) within the bound."""
    on_scale = (values >= RATING_MIN) & (values <= RATING_MAX)
    bounded = np.abs(values) <= MAX_ABS_EVENT_VALUE
    return np.asarray(~np.where(ratings, on_scale, bounded), dtype=np.bool_)


def value_problem(event_type: str, value: object) -> str | None:
    """Why ``value`` is not an acceptable value for an event of ``event_type``, or None."""
    if not _is_number(value):
        return f"must be a number, got {type(value).__name__}"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if is_rating(event_type):
        return None if RATING_MIN <= value <= RATING_MAX else f"is a rating: {rating_rule()}"
    if -MAX_ABS_EVENT_VALUE <= value <= MAX_ABS_EVENT_VALUE:
        return None
    return f"must be a finite number from {-MAX_ABS_EVENT_VALUE:g} to {MAX_ABS_EVENT_VALUE:g}"


def stored_timestamp_problem(sent_at: object) -> str | None:
    """Why a stored time cannot be shown or used, or None; numpy's numbers count as numbers.

    The window is wider at the start than for new events: older versions accepted any time
    from 1970, and such a row is harmless to show, so it stays in use.
    """
    if isinstance(sent_at, np.integer):
        sent_at = int(sent_at)
    elif isinstance(sent_at, np.floating):
        sent_at = float(sent_at)
    if not _is_number(sent_at):
        return f"is {type(sent_at).__name__}, not Unix seconds"
    if EARLIEST_STORED_TIMESTAMP <= sent_at <= LATEST_STORED_TIMESTAMP:
        return None
    if sent_at < EARLIEST_STORED_TIMESTAMP:
        return "is before 1970-01-01"
    return timestamp_rule(True, False, LATEST_STORED_TIMESTAMP)


def stored_event_problem(event_type: object, value: object, sent_at: object) -> str | None:
    """Why a row read back from storage cannot be used, or None.

    SQLite keeps whatever a program wrote, whatever the column's type, so the type is part
    of the check; the time window is the fixed one (see the module's description).
    """
    if not isinstance(event_type, str):
        return f"event type is {type(event_type).__name__}, not text"
    if not isinstance(sent_at, int) or isinstance(sent_at, bool):
        return f"sent_at is {type(sent_at).__name__}, not whole seconds"
    time_problem = stored_timestamp_problem(sent_at)
    if time_problem is not None:
        return f"sent_at {time_problem}"
    found = value_problem(event_type, value)
    return None if found is None else f"event_value {found}"


def usable_timestamps(seconds: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which stored times a chart or a date can show: the stored window, no clock."""
    return np.asarray(
        (seconds >= EARLIEST_STORED_TIMESTAMP) & (seconds <= LATEST_STORED_TIMESTAMP),
        dtype=np.bool_,
    )
