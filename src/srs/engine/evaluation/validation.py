"""How ``srs train`` judges a setting before the test: validation folds and a rule to choose by.

The folds hold out, for a sample of users, a random quarter of the events each one logged; the
rest of the data is the fit, and those users' remaining rows are the history a request would
see. That asks what a recommendation answers, which unused services a user takes up, and it
does not depend on timestamps. Holding out whole services instead asks another question where
a service has several events (bought, then played): there it scored alike settings that the
held-out events, and the test, told apart.

Personalize's own split (a tenth of the users, each one's newest tenth) leaves a few hundred
held-out users on a data set of thousands, and its score moves between seeds by more than
candidate settings differ: choosing by it picked settings worse than the defaults. Timestamps
still matter for time features, so :func:`timestamp_report` says whether they carry
information at all.

A candidate replaces the incumbent only when its paired gain over the folds is larger than the
gains' spread (:func:`compare`), and never when it scores below popularity on the same folds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from srs.engine.evaluation.tasks import EvaluationTask
from srs.engine.matrix import ITEM_ID, TIMESTAMP, USER_ID

FOLDS: Final = 3
HOLDOUT_FRACTION: Final = 0.25
MAX_VALIDATION_USERS: Final = 3000
"""Users whose held-out services are scored per fold: enough for a stable figure, few enough
that scoring them costs little next to a fit."""
COSTLY_DATA_FOLDS: Final = 2
COSTLY_DATA_VALIDATION_USERS: Final = 1000
"""Where one fit takes seconds (``tuning.expensive_to_fit``), two folds of fewer users: scoring
a user costs a row of the catalogue, and the search must finish in bounded time."""
MIN_USER_PAIRS: Final = 4
"""A user needs this many services to give some and hold some out."""
MIN_DISTINCT_SHARE: Final = 0.05
"""Fewer distinct timestamps than this share of the rows: times too coarse to order by."""
SOURCE_ORDER_SHARE: Final = 0.9
"""Users whose times rise by one constant step, row after row: the times are the file's order
(what ``srs prepare`` writes for a source without timestamps), not when things happened."""


@dataclass(frozen=True)
class TimestampReport:
    informative: bool
    reason: str


def timestamp_report(frame: pd.DataFrame) -> TimestampReport:
    """Whether the interactions' timestamps say when things happened."""
    if len(frame) == 0:
        return TimestampReport(False, "there are no interactions")
    stamps = frame[TIMESTAMP].to_numpy(dtype=np.int64)
    distinct = len(np.unique(stamps))
    if distinct == 1:
        return TimestampReport(False, "every interaction has the same timestamp")
    if distinct < MIN_DISTINCT_SHARE * len(stamps):
        return TimestampReport(
            False, f"only {distinct:,} distinct timestamps for {len(stamps):,} interactions"
        )
    users = frame[USER_ID].astype(str).to_numpy()
    order = np.argsort(users, kind="stable")
    ordered_users, ordered_stamps = users[order], stamps[order]
    same_user = ordered_users[1:] == ordered_users[:-1]
    steps = np.diff(ordered_stamps)[same_user]
    if len(steps) and np.unique(steps).size == 1 and steps[0] > 0:
        share = 1.0
    else:
        share = _constant_step_share(ordered_users, ordered_stamps)
    if share >= SOURCE_ORDER_SHARE:
        return TimestampReport(
            False, f"{share:.0%} of users' timestamps rise by one fixed step in file order"
        )
    return TimestampReport(True, f"{distinct:,} distinct timestamps")


def _constant_step_share(users: np.ndarray, stamps: np.ndarray) -> float:
    """Share of users with 3+ rows whose consecutive times differ by one step, the same for all."""
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    lengths = np.diff(np.r_[starts, len(users)])
    steps = np.diff(stamps)
    boundary = np.zeros(len(steps), dtype=bool)
    boundary[starts[1:] - 1] = True
    inner = steps[~boundary]
    if len(inner) == 0:
        return 0.0
    values, counts = np.unique(inner, return_counts=True)
    common = values[np.argmax(counts)]
    if common <= 0:
        return 0.0
    owner = np.repeat(np.arange(len(starts)), lengths)[1:][~boundary]
    off = np.bincount(owner, weights=(inner != common).astype(float), minlength=len(starts))
    eligible = lengths >= 3
    if not eligible.any():
        return 0.0
    return float(np.mean(off[eligible] == 0))


def user_holdout_task(
    frame: pd.DataFrame,
    seed: int,
    users: int = MAX_VALIDATION_USERS,
    fraction: float = HOLDOUT_FRACTION,
) -> EvaluationTask:
    """One fold: for up to ``users`` sampled users, a random ``fraction`` of the events each
    one logged becomes truth; everything else is fit and input.

    The unit held out is the event, as Personalize's own split and Recommenders' splits hold
    them out: a service with events left on the fit side stays in the history, where a request
    would exclude it, so it is not truth either (``evaluate_model`` drops it). Where each
    service has one event, events and services are the same draw."""
    user_codes, user_ids = pd.factorize(frame[USER_ID].astype(str))
    item_codes, item_ids = pd.factorize(frame[ITEM_ID].astype(str))
    pair_keys = np.unique(user_codes.astype(np.int64) * len(item_ids) + item_codes)
    per_user = np.bincount(pair_keys // max(len(item_ids), 1), minlength=len(user_ids))
    eligible = np.flatnonzero(per_user >= MIN_USER_PAIRS)
    rng = np.random.default_rng(seed)
    chosen = np.zeros(len(user_ids), dtype=bool)
    chosen[rng.choice(eligible, size=min(users, len(eligible)), replace=False)] = True
    # Each chosen user's events in a random order; the first ``fraction`` of them are held out.
    events = np.bincount(user_codes, minlength=len(user_ids))
    order = np.lexsort((rng.random(len(user_codes)), user_codes))
    ordered_users = user_codes[order]
    starts = np.flatnonzero(np.r_[True, ordered_users[1:] != ordered_users[:-1]])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    quota = np.maximum(1, np.floor(fraction * events[ordered_users]))
    is_truth = np.zeros(len(frame), dtype=bool)
    is_truth[order] = chosen[ordered_users] & (rank < quota)
    fit = frame[~is_truth]
    return EvaluationTask(fit, fit[chosen[user_codes[~is_truth]]], frame[is_truth])


def validation_folds(
    frame: pd.DataFrame, folds: int = FOLDS, seed: int = 0, users: int = MAX_VALIDATION_USERS
) -> list[EvaluationTask]:
    return [user_holdout_task(frame, seed=seed + fold, users=users) for fold in range(folds)]


@dataclass(frozen=True)
class Comparison:
    """A candidate's paired gain over the incumbent across folds, and its spread."""

    gain: float
    spread: float

    @property
    def wins(self) -> bool:
        return self.gain > 0 and self.gain > self.spread

    def describe(self) -> str:
        return f"{self.gain:+.4f} ± {self.spread:.4f}"


def compare(candidate: Sequence[float], incumbent: Sequence[float]) -> Comparison:
    """Mean of the per-fold differences and their standard deviation (0 with one fold)."""
    gains = np.asarray(candidate, dtype=np.float64) - np.asarray(incumbent, dtype=np.float64)
    spread = float(np.std(gains, ddof=1)) if len(gains) > 1 else 0.0
    return Comparison(float(np.mean(gains)), 0.0 if math.isnan(spread) else spread)
