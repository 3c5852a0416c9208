"""Why an item was recommended: the texts, and the rule naming a history's best contributors.

Every recipe's answer carries a reason per item. The texts and the contributor rule live here
once, so that a live request, a ranking and the answer table (which encodes reasons as codes)
word the same answer the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

import numpy as np

from srs.arrays import BoolArray, FloatArray, IntArray
from srs.engine.answers import ReasonCodes

if TYPE_CHECKING:
    from srs.engine.catalogue import Catalogue

POPULAR_REASON: Final = "popular"
NEW_USER_REASON: Final = "new user: popular services"
"""The reason on every item of the answer to a user SRS knows nothing about yet."""
VIEWED_REASON: Final = "you viewed this, not yet launched"
"""A recommended item already in the user's history: used items are filtered out by default,
so what is left there was looked at, not taken up."""
NO_DATA_REASON: Final = "no data for this item"
FALLBACK_REASON: Final = "based on your overall usage"
REASON_ITEMS: Final = 2

NOT_A_CONTRIBUTOR: Final = -1
POPULARITY_FILLED: Final = -2
IN_HISTORY: Final = -3
LOWEST_MARKER: Final = IN_HISTORY
REASON_CACHE_SIZE: Final = 100_000
"""Reason texts a catalogue keeps; pairs of contributors beyond that are built each time."""


def contributor_reasons(
    contributions: FloatArray,
    items: IntArray,
    targets: IntArray,
    catalogue: Catalogue,
    names: Mapping[str, str] | None,
    unscored: BoolArray | None = None,
) -> list[str]:
    """ "because you use A and B" from ``contributions[h, t]`` (what history item ``h`` adds to
    target ``t``); targets flagged ``unscored`` were filled in by popularity.

    Each target's reason is keyed by the catalogue positions of its best positive contributors;
    the catalogue keeps the texts of keys it has seen, since a request answers up to 500
    targets that mostly share a few contributors, and users share them too. A target never
    names itself: one already in the history says so instead.
    """
    if contributions.shape[1] == 0:
        return []
    own = items[:, np.newaxis] == targets[np.newaxis, :]
    if own.any():
        contributions = np.where(own, -np.inf, contributions)
    best = np.argsort(-contributions, axis=0, kind="stable")[:REASON_ITEMS]
    positive = contributions[best, np.arange(contributions.shape[1])] > 0
    contributors = np.where(positive, items[best], NOT_A_CONTRIBUTOR)
    if unscored is not None:
        contributors[:, unscored] = POPULARITY_FILLED
    contributors[:, own.any(axis=0)] = IN_HISTORY
    keys = zip(*contributors.tolist(), strict=True)
    if names:
        return [catalogue.reason(key, names) for key in keys]
    known = catalogue.reason_texts
    return [known.get(key) or catalogue.reason(key, None) for key in keys]


def key_codes(keys: IntArray, catalogue: Catalogue, codes: ReasonCodes) -> IntArray:
    """Reason codes for contributor keys (rows × targets × items), one text per distinct key."""
    base = len(catalogue) - LOWEST_MARKER
    shifted = keys - LOWEST_MARKER
    combined = np.zeros(keys.shape[:2], dtype=np.int64)
    for rank in range(keys.shape[-1]):
        combined = combined * base + shifted[..., rank]
    distinct, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    flat = keys.reshape(-1, keys.shape[-1])
    known = codes.by_key
    for key, index in zip(distinct.tolist(), first.tolist(), strict=True):
        if key not in known:
            text = catalogue.reason(tuple(flat[index].tolist()), None)
            known[key] = codes.encode([text])[0]
    found = np.asarray([known[key] for key in distinct.tolist()], dtype=np.int64)
    return found[inverse.reshape(combined.shape)]


def because(contributors: tuple[int, ...], name: Callable[[int], str]) -> str:
    """The reason for one target from its best contributors' positions (markers below zero)."""
    if IN_HISTORY in contributors:
        return VIEWED_REASON
    if POPULARITY_FILLED in contributors:
        return POPULAR_REASON
    named = [name(position) for position in contributors if position >= 0]
    if not named:
        return FALLBACK_REASON
    return "because you use " + " and ".join(named)
