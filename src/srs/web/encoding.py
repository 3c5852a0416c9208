"""JSON for item lists, the bulk of every recommendation answer.

A default answer arrives as an answer table's row (:class:`~srs.serving.service.ItemColumns`).
Rather than build a record and a dict per item only to encode them, the encoder pastes
fragments encoded once per catalogue and per reason table (each item's
``,{"itemId":…,"serviceName":…,"score":`` and each reason's ``,"reason":…}``) around the
scores, which orjson formats from the row in one call, and joins the whole answer once. That
skips most of the generic path's work per item, and the bytes are the same (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

from srs.serving.service import ItemColumns, ItemInfo, RecommendedItem

_SCORE_KEY = b',"score":'
_REASON_KEY = b',"reason":'


def item_json(item: RecommendedItem) -> dict[str, Any]:
    """One item as the API shows it: itemId, serviceName, score, reason."""
    return {
        "itemId": item.item_id,
        "serviceName": item.service_name,
        "score": item.score,
        "reason": item.reason,
    }


def item_prefix(item: ItemInfo) -> bytes:
    """An item's JSON object up to its score's value, after the comma that separates it from
    the item before."""
    head = orjson.dumps({"itemId": item.item_id, "serviceName": item.service_name})
    return b"," + head[:-1] + _SCORE_KEY


def reason_suffix(reason: str) -> bytes:
    """An item's JSON object from after its score's value."""
    return _REASON_KEY + orjson.dumps(reason) + b"}"


class ItemListEncoder:
    """Encodes item lists, keeping the fragments of the latest catalogue and reason table.

    Fragments are rebuilt when an answer comes from another catalogue or reason table
    object (a newly adopted model); each pair is swapped in as one attribute, so a
    concurrent request sees the old pair or the new one, never a mix.
    """

    def __init__(
        self,
        prefix: Callable[[ItemInfo], bytes] = item_prefix,
        suffix: Callable[[str], bytes] = reason_suffix,
        record: Callable[[RecommendedItem], dict[str, Any]] = item_json,
    ) -> None:
        """The fragments and records default to the REST API's item shape; another shape
        (Personalize's PredictedItem) passes its own three, which must encode alike."""
        self._prefix, self._suffix, self._record = prefix, suffix, record
        self._catalogue: tuple[Sequence[ItemInfo] | None, list[bytes]] = (None, [])
        self._reasons: tuple[Sequence[str] | None, list[bytes]] = (None, [])

    def _prefixes(self, catalogue: Sequence[ItemInfo]) -> list[bytes]:
        known, prefixes = self._catalogue
        if known is not catalogue:
            prefixes = [self._prefix(item) for item in catalogue]
            self._catalogue = (catalogue, prefixes)
        return prefixes

    def _suffixes(self, reason_texts: Sequence[str]) -> list[bytes]:
        known, suffixes = self._reasons
        if known is not reason_texts:
            suffixes = [self._suffix(text) for text in reason_texts]
            self._reasons = (reason_texts, suffixes)
        return suffixes

    def items(self, items: Sequence[RecommendedItem]) -> bytes:
        """The JSON array of ``items``."""
        return b"".join(self._array(items))

    def answer(
        self, list_key: str, items: Sequence[RecommendedItem], recommendation_id: str | None
    ) -> bytes:
        """``{"recommendationId":…,"<list_key>":[…]}``, or without the ID when it is None."""
        head = [b"{"]
        if recommendation_id is not None:
            head += [b'"recommendationId":', orjson.dumps(recommendation_id), b","]
        head += [orjson.dumps(list_key), b":"]
        return b"".join([*head, *self._array(items), b"}"])

    def _array(self, items: Sequence[RecommendedItem]) -> list[bytes]:
        """The JSON array of ``items`` as fragments, joined once by the caller: pasting each
        item together first would copy every byte twice more."""
        if not isinstance(items, ItemColumns):
            return [orjson.dumps([self._record(item) for item in items])]
        count = len(items)
        if not count:
            return [b"[]"]
        prefixes = self._prefixes(items.catalogue)
        suffixes = self._suffixes(items.reason_texts)
        # float64 and contiguous, as orjson requires; formatted like Python floats.
        row = np.ascontiguousarray(items.scores, dtype=np.float64)
        parts = [b""] * (3 * count)
        parts[0::3] = _pick(prefixes, items.positions.tolist())
        parts[1::3] = orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")
        parts[2::3] = _pick(suffixes, items.reasons.tolist())
        parts[0] = b"[" + parts[0][1:]  # the first item has no comma before it
        parts[-1] += b"]"
        return parts


def _pick(fragments: list[bytes], indices: list[int]) -> Sequence[bytes]:
    """``[fragments[i] for i in indices]``, looked up in C for the usual many indices."""
    if len(indices) == 1:
        return [fragments[indices[0]]]
    return itemgetter(*indices)(fragments)  # type: ignore[no-any-return]
