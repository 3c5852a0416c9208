"""The catalogue a model was trained on: item ids, display names and popularity, aligned.

Every recipe answers over the same catalogue shape, and the popular fallback, the ranking key
of unscored items and reason texts all read it, so it is built once per model here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import cached_property
from typing import Final, TypeAlias

import numpy as np
import pandas as pd

from srs.arrays import BoolArray, FloatArray, StrArray
from srs.engine.errors import InvalidRequestError
from srs.engine.matrix import ITEM_ID
from srs.engine.reasons import REASON_CACHE_SIZE, because
from srs.engine.topk import top_k

SERVICE_NAME: Final = "SERVICE_NAME"

Exclude: TypeAlias = Collection[str] | BoolArray | None
"""Items never to return: item ids, or a boolean mask aligned with ``item_ids``."""


class Catalogue:
    """Item ids, display names and popularity (distinct users per item), index-aligned."""

    def __init__(self, item_ids: StrArray, names: StrArray, popularity: FloatArray) -> None:
        self.item_ids = item_ids
        self.names = names
        self.popularity = np.asarray(popularity, dtype=np.float64)
        self.popular_order = top_k(self.popularity, len(item_ids))
        """Every item by popularity under the engine's one top-k rule (``topk``), so that a
        popular answer is ``top_k(popularity, count, mask)`` read off without a sort."""
        total = float(self.popularity.sum())
        self.popular_probabilities = (
            self.popularity / total if total > 0 else np.full(len(item_ids), 1.0 / len(item_ids))
        )
        # Ranking key for items a model cannot score: below every positive score, by popularity.
        self.fallback_key = self.popularity / (float(self.popularity.max(initial=0.0)) + 1.0) - 1.0
        self.reason_texts: dict[tuple[int, ...], str] = {}
        """Reason texts by contributor key, filled by :meth:`reason` (read-only elsewhere)."""

    def __len__(self) -> int:
        return len(self.item_ids)

    @cached_property
    def index(self) -> dict[str, int]:
        return {item: position for position, item in enumerate(self.item_ids.tolist())}

    @cached_property
    def log_popularity(self) -> FloatArray:
        return np.log1p(self.popularity)

    @cached_property
    def id_list(self) -> list[str]:
        """Ids as Python strings: indexing these is far cheaper than indexing the array."""
        return [str(item) for item in self.item_ids.tolist()]

    @cached_property
    def name_list(self) -> list[str]:
        return [str(name) for name in self.names.tolist()]

    def name(self, position: int, overrides: Mapping[str, str] | None) -> str:
        if overrides:
            found = overrides.get(self.id_list[position])
            if found is not None:
                return found
        return self.name_list[position]

    def reason(self, contributors: tuple[int, ...], overrides: Mapping[str, str] | None) -> str:
        """The reason text for contributing item positions (markers below zero, see
        :func:`srs.engine.reasons.contributor_reasons`); texts without name overrides are
        kept for reuse."""
        if overrides:
            return because(contributors, lambda position: self.name(position, overrides))
        text = self.reason_texts.get(contributors)
        if text is None:
            text = because(contributors, self.name_list.__getitem__)
            if len(self.reason_texts) < REASON_CACHE_SIZE:
                self.reason_texts[contributors] = text
        return text

    def mask(self, exclude: Exclude) -> BoolArray | None:
        if exclude is None:
            return None
        if isinstance(exclude, np.ndarray) and exclude.dtype == np.bool_:
            if exclude.shape != (len(self),):
                raise InvalidRequestError(
                    f"exclude mask has shape {exclude.shape}, the catalogue has {len(self)} items"
                )
            return exclude
        mask = np.zeros(len(self), dtype=bool)
        index = self.index
        positions = [index[item] for item in exclude if item in index]
        mask[positions] = True
        return mask


def catalogue_ids(items: pd.DataFrame | None) -> list[str]:
    """Item ids listed in an items frame (none without one)."""
    if items is None or ITEM_ID not in items.columns:
        return []
    return [str(item) for item in items[ITEM_ID].tolist()]


def display_names(
    item_ids: StrArray, items: pd.DataFrame | None, overrides: Mapping[str, str] | None
) -> StrArray:
    """Display names aligned with ``item_ids``: overrides, else SERVICE_NAME, else the id."""
    names: dict[str, str] = {}
    if items is not None and ITEM_ID in items.columns and SERVICE_NAME in items.columns:
        names.update(
            zip(
                items[ITEM_ID].astype(str).tolist(),
                items[SERVICE_NAME].astype(str).tolist(),
                strict=True,
            )
        )
    if overrides:
        names.update({str(key): str(value) for key, value in overrides.items()})
    return np.asarray([names.get(item, item) for item in item_ids.tolist()], dtype=str)
