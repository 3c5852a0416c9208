"""The item list encoder: columns pasted from fragments give the generic path's exact bytes."""

from __future__ import annotations

import json
from urllib.parse import quote

import numpy as np
import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient

from srs.serving.local_service import LocalRecommendationService
from srs.serving.service import ItemColumns, ItemInfo, RecommendationService, RecommendedItem
from srs.web.encoding import ItemListEncoder, item_json

CATALOGUE = [
    ItemInfo("svc-1", "Amazon S3", "Storage", "Objects"),
    ItemInfo("svc-2", '<script>alert("x")</script>', "Com\\pute", 'quotes " and \n'),
    ItemInfo("svc-3", "Résumé ☁ 東京", "Machine Learning", ""),
]
REASONS = ("popular", 'because you use "<b>S3</b>"', "naïve ✓\t")
# Scores that exercise every float format: exponents both ways, subnormal, thirds, zero.
SCORES = [0.014083988164737812, 1 / 3, 1e-05, 5e-324, 1e300, 0.0, -2.5, 123456789.0]


def columns(scores: list[float], dtype: type = np.float64) -> ItemColumns:
    count = len(scores)
    rng = np.random.default_rng(count)
    return ItemColumns(
        CATALOGUE,
        rng.integers(0, len(CATALOGUE), count).astype(np.int32),
        np.asarray(scores, dtype=dtype),
        rng.integers(0, len(REASONS), count).astype(np.int32),
        REASONS,
    )


def generic(items: list[RecommendedItem]) -> bytes:
    return orjson.dumps([item_json(item) for item in items])


@pytest.mark.parametrize("count", [0, 1, len(SCORES)])
def test_columns_encode_to_the_generic_bytes(count: int) -> None:
    items = columns(SCORES[:count])
    encoded = ItemListEncoder().items(items)
    assert encoded == generic(list(items))
    assert [entry["score"] for entry in json.loads(encoded)] == SCORES[:count]


def test_single_precision_scores_encode_as_their_double_values() -> None:
    items = columns([0.1, 0.7, 1 / 3], dtype=np.float32)
    assert ItemListEncoder().items(items) == generic(list(items))


def test_a_new_catalogue_or_reason_table_is_not_served_from_old_fragments() -> None:
    encoder = ItemListEncoder()
    first = columns(SCORES)
    encoder.items(first)
    renamed = [ItemInfo(item.item_id, item.service_name + " v2", "", "") for item in CATALOGUE]
    reworded = tuple(text.upper() for text in REASONS)
    second = ItemColumns(renamed, first.positions, first.scores, first.reasons, reworded)
    decoded = json.loads(encoder.items(second))
    assert all(entry["serviceName"].endswith(" v2") for entry in decoded)
    assert [entry["reason"] for entry in decoded] == [
        reworded[code] for code in first.reasons.tolist()
    ]


def test_answer_wraps_the_list_with_and_without_an_id() -> None:
    items = columns(SCORES[:2])
    encoder = ItemListEncoder()
    with_id = json.loads(encoder.answer("itemList", items, "id-1"))
    assert list(with_id) == ["recommendationId", "itemList"]
    assert with_id["recommendationId"] == "id-1"
    assert json.loads(encoder.answer("personalizedRanking", items, None)) == {
        "personalizedRanking": [item_json(item) for item in items]
    }


def test_item_columns_read_as_a_sequence_of_items() -> None:
    items = columns(SCORES[:4])
    listed = list(items)
    assert len(items) == 4 and items == listed and listed == items
    assert items[1] == listed[1] and items[-1] == listed[-1] and items[1:3] == listed[1:3]
    first = listed[0]
    position = int(items.positions[0])
    assert first.item_id == CATALOGUE[position].item_id
    assert first.description == CATALOGUE[position].description
    assert first.reason == REASONS[int(items.reasons[0])]
    assert items != listed[:3]


def test_item_columns_refuse_columns_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        ItemColumns(CATALOGUE, np.zeros(2, np.int32), np.zeros(3), np.zeros(2, np.int32), ())


def test_table_answers_reach_the_api_as_the_generic_encoding(
    app: Flask, client: FlaskClient, service: RecommendationService
) -> None:
    """For users answered from the answer table, the API's bytes equal the generic encoding of
    the same items, and the items equal a live answer."""
    assert isinstance(service, LocalRecommendationService) and service.answers_precomputed()
    users = service.search_users("", 40)
    assert any("/" in user for user in users)
    assert len(users) > 10
    for user in users:
        answer = service.recommend(user, 10)
        assert isinstance(answer.item_list, ItemColumns)
        response = client.get(f"/api/v1/users/{quote(user, safe='')}/recommendations?numResults=10")
        body = response.data
        assert response.status_code == 200, body
        items = body[body.index(b'"itemList":') + len(b'"itemList":') : -1]
        assert items == generic(list(answer.item_list))


@pytest.mark.parametrize("count", [0, 1, len(SCORES)])
def test_personalize_fragments_encode_to_their_records(count: int) -> None:
    from srs.web.personalize_protocol import predicted_item, predicted_prefix, predicted_suffix

    items = columns(SCORES[:count])
    encoder = ItemListEncoder(predicted_prefix, predicted_suffix, predicted_item)
    assert encoder.items(items) == orjson.dumps([predicted_item(item) for item in items])
    silent = ItemColumns(CATALOGUE, items.positions, items.scores, items.reasons, ("",) * 3)
    assert encoder.items(silent) == orjson.dumps([predicted_item(item) for item in silent])
