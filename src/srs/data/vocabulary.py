"""What a team's interaction types mean, in the seven event types SRS understands.

Teams log the same act under many names: ``launch``, ``Launched``, ``launching``.
Everything downstream (the default filter, event weights, the web feedback) names
the canonical types, so a source's types are mapped onto them before anything is
written. The built-in table only lists spellings of the same act; a team's own
vocabulary (``deploy`` meaning a launch) comes from the ``event_types`` setting.
Types neither table knows are kept, normalised, and reported rather than guessed.

Built-in synonyms, compared after :func:`normalise_event_type` (so case, spaces,
hyphens and underscores do not matter):

=================  ============================================================
canonical type     also written as
=================  ============================================================
``viewed``         view, views, viewing, page view(s), pageview(s)
``clicked``        click, clicks, clicking
``launched``       launch, launches, launching
``configured``     configure, configures, configuring, config, configs,
                   configuration, configurations
``rated``          rate, rates, rating, ratings
``liked``          like, likes, liking, favorite(s), favorited, favoriting,
                   favourite(s), favourited, favouriting
``not_interested`` not interested, notinterested, dislike, dislikes, disliked,
                   disliking, hide, hides, hid, hidden, hiding, dismiss,
                   dismisses, dismissed, dismissing
=================  ============================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from srs.errors import SRSError

CANONICAL_EVENT_TYPES: tuple[str, ...] = (
    "viewed",
    "clicked",
    "launched",
    "configured",
    "rated",
    "liked",
    "not_interested",
)

BUILTIN_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    "viewed": (
        "view",
        "views",
        "viewing",
        "page_view",
        "page_views",
        "pageview",
        "pageviews",
    ),
    "clicked": ("click", "clicks", "clicking"),
    "launched": ("launch", "launches", "launching"),
    "configured": (
        "configure",
        "configures",
        "configuring",
        "config",
        "configs",
        "configuration",
        "configurations",
    ),
    "rated": ("rate", "rates", "rating", "ratings"),
    "liked": (
        "like",
        "likes",
        "liking",
        "favorite",
        "favorites",
        "favorited",
        "favoriting",
        "favourite",
        "favourites",
        "favourited",
        "favouriting",
    ),
    "not_interested": (
        "notinterested",
        "dislike",
        "dislikes",
        "disliked",
        "disliking",
        "hide",
        "hides",
        "hid",
        "hidden",
        "hiding",
        "dismiss",
        "dismisses",
        "dismissed",
        "dismissing",
    ),
}

_SEPARATORS = re.compile(r"[\s_\-]+")


class EventVocabularyError(SRSError, ValueError):
    """A user extension maps a type onto something that is not a canonical event type."""


def normalise_event_type(raw: str) -> str:
    """Lower case, with each run of spaces, hyphens and underscores made one underscore.

    This is the form unmapped types are written in too, so ``Deploy Now`` and
    ``deploy-now`` still end up as one event type.
    """
    return _SEPARATORS.sub("_", raw.strip().casefold()).strip("_")


@dataclass(frozen=True)
class MappedEventTypes:
    """One block's event types after the vocabulary, with what was written for them.

    ``written``, ``canonical``, ``rows`` and ``first_rows`` run over the block's
    distinct values; ``first_rows`` is the 0-based row of each unmapped value's
    first occurrence (-1 for mapped values, whose position nobody needs).
    """

    event_types: pa.Array
    written: list[str]
    canonical: list[str | None]
    rows: np.ndarray
    first_rows: np.ndarray


class EventVocabulary:
    """The built-in synonyms plus a team's own names, each mapped to a canonical type.

    Extensions win over built-ins, so a team can also re-point a built-in spelling.
    """

    def __init__(self, extensions: Mapping[str, str] | None = None) -> None:
        table = {name: name for name in CANONICAL_EVENT_TYPES}
        for canonical, synonyms in BUILTIN_SYNONYMS.items():
            table.update(dict.fromkeys(synonyms, canonical))
        for raw, target in (extensions or {}).items():
            key, canonical = normalise_event_type(raw), normalise_event_type(target)
            if not key:
                raise EventVocabularyError(f"event type {raw!r} is blank")
            if canonical not in CANONICAL_EVENT_TYPES:
                raise EventVocabularyError(
                    f"{raw!r} = {target!r}: {target!r} is not a canonical event type "
                    f"({', '.join(CANONICAL_EVENT_TYPES)})"
                )
            table[key] = canonical
        self._table = table

    def canonical(self, raw: str) -> str | None:
        """The canonical type ``raw`` stands for; None when neither table knows it."""
        return self._table.get(normalise_event_type(raw))

    def map_array(self, raw: pa.Array) -> MappedEventTypes:
        """Map a block of raw types; unmapped ones come out normalised.

        A source holds millions of rows but a handful of distinct types, so each
        distinct value is looked up once and the result spread back by index.
        """
        encoded = pc.dictionary_encode(raw)
        written: list[str] = encoded.dictionary.to_pylist()
        canonical = [self.canonical(value) for value in written]
        output = [
            mapped if mapped is not None else normalise_event_type(value)
            for value, mapped in zip(written, canonical, strict=True)
        ]
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        first_rows = np.full(len(written), -1, dtype=np.int64)
        unmapped = np.array([mapped is None for mapped in canonical], dtype=bool)
        if unmapped.any():
            hits = np.flatnonzero(unmapped[codes])
            seen, first = np.unique(codes[hits], return_index=True)
            first_rows[seen] = hits[first]
        return MappedEventTypes(
            event_types=pc.take(pa.array(output, pa.string()), encoded.indices),
            written=written,
            canonical=canonical,
            rows=np.bincount(codes, minlength=len(written)),
            first_rows=first_rows,
        )
