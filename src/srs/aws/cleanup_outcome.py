"""What clean-up did to each resource: the rows of the table it ends with.

Clean-up goes on past a resource it could not delete, so its result is not one exception but a
row per resource; the command prints them and exits non-zero while any is still there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DELETED = "deleted"
GONE = "gone"
STILL_THERE = "still there"
STOPPED = "stopped"
WOULD_DELETE = "would delete"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One resource, what became of it, and why (AWS's message when it is still there)."""

    resource: str
    state: str
    why: str = ""


def anything_left(outcomes: Iterable[Outcome]) -> bool:
    return any(outcome.state == STILL_THERE for outcome in outcomes)
