"""The event vocabulary: every spelling of an act maps to one canonical type, nothing is guessed."""

from __future__ import annotations

import pyarrow as pa
import pytest

from srs.data.vocabulary import (
    BUILTIN_SYNONYMS,
    CANONICAL_EVENT_TYPES,
    EventVocabulary,
    EventVocabularyError,
    normalise_event_type,
)


def test_canonical_types_are_the_seven_the_engine_and_filters_name() -> None:
    assert CANONICAL_EVENT_TYPES == (
        "viewed",
        "clicked",
        "launched",
        "configured",
        "rated",
        "liked",
        "not_interested",
    )
    assert set(BUILTIN_SYNONYMS) == set(CANONICAL_EVENT_TYPES)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Launch ", "launch"),
        ("  Page   View", "page_view"),
        ("not-interested", "not_interested"),
        ("NOT__Interested", "not_interested"),
        ("- deploy now -", "deploy_now"),
    ],
)
def test_normalising_folds_case_and_separators(raw: str, normalised: str) -> None:
    assert normalise_event_type(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        *[(raw, "launched") for raw in ("launch", "Launch", "launches", "launching", "LAUNCHED")],
        *[(raw, "viewed") for raw in ("view", "views", "viewing", "page view", "pageview")],
        *[(raw, "clicked") for raw in ("click", "Clicks", "clicking", "clicked")],
        *[(raw, "configured") for raw in ("configure", "config", "Configuration")],
        *[(raw, "rated") for raw in ("rate", "rating", "rated", "Ratings")],
        *[(raw, "liked") for raw in ("like", "likes", "liked", "favorite", "Favourite")],
        *[
            (raw, "not_interested")
            for raw in (
                "not interested",
                "not-interested",
                "Not_Interested",
                "dislike",
                "disliked",
                "hide",
                "dismissed",
            )
        ],
    ],
)
def test_builtin_synonyms_map_to_their_canonical_type(raw: str, canonical: str) -> None:
    assert EventVocabulary().canonical(raw) == canonical


@pytest.mark.parametrize("raw", ["deploy", "open", "purchase", "launchpad", ""])
def test_unknown_types_are_not_guessed(raw: str) -> None:
    assert EventVocabulary().canonical(raw) is None


def test_extensions_add_names_and_may_repoint_a_builtin() -> None:
    vocabulary = EventVocabulary({"Deploy": "launched", "open": "Viewed", "hide": "clicked"})
    assert vocabulary.canonical("deploy") == "launched"
    assert vocabulary.canonical(" DEPLOY ") == "launched"
    assert vocabulary.canonical("open") == "viewed"
    assert vocabulary.canonical("hide") == "clicked"
    assert vocabulary.canonical("launch") == "launched"


def test_an_extension_onto_an_unknown_type_names_it() -> None:
    with pytest.raises(EventVocabularyError, match=r"'deploy' = 'shipped': 'shipped' is not a"):
        EventVocabulary({"deploy": "shipped"})
    with pytest.raises(EventVocabularyError, match=r"event type ' - ' is blank"):
        EventVocabulary({" - ": "launched"})


def test_mapping_an_array_maps_each_row_and_counts_what_was_written() -> None:
    raw = pa.array(["view", "Launch", "deploy", "view", "Deploy It", "deploy", "rate"])
    mapped = EventVocabulary().map_array(raw)
    assert mapped.event_types.to_pylist() == [
        "viewed",
        "launched",
        "deploy",
        "viewed",
        "deploy_it",
        "deploy",
        "rated",
    ]
    seen = {
        written: (canonical, int(rows), int(first))
        for written, canonical, rows, first in zip(
            mapped.written, mapped.canonical, mapped.rows, mapped.first_rows, strict=True
        )
    }
    assert seen == {
        "view": ("viewed", 2, -1),
        "Launch": ("launched", 1, -1),
        "deploy": (None, 2, 2),
        "Deploy It": (None, 1, 4),
        "rate": ("rated", 1, -1),
    }


def test_mapping_an_array_uses_the_extensions() -> None:
    mapped = EventVocabulary({"deploy": "launched"}).map_array(pa.array(["deploy", "deploy"]))
    assert mapped.event_types.to_pylist() == ["launched", "launched"]
    assert mapped.canonical == ["launched"]
