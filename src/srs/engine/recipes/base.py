"""The recipe base: what every recipe shares, so that all recipes answer a request alike.

A recipe only supplies its model: how to fit it, raw scores for one history or a batch, item-item
scores for ``similar_items``, and the reason for a recommended item. Everything a request
needs beyond that (Personalize's 1..500 bounds, merging request-time events into the stored
history, exclusions, the popular fallback for unknown users, probabilities summing to 1, ties
broken by popularity) is implemented once here. The catalogue, the histories, the reason texts
and the top-k rule it uses each have their own module.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self, TypeAlias

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from srs.arrays import Array, BoolArray, FloatArray, IntArray, StrArray
from srs.engine.answers import AnswerTable, Ranked, ReasonCodes, ScoredItem, build_answer_table
from srs.engine.catalogue import Catalogue, Exclude, catalogue_ids, display_names
from srs.engine.errors import InvalidRequestError, ModelFormatError, NotFittedError
from srs.engine.histories import (
    EMPTY_HISTORY,
    EventLike,
    UserHistories,
    disliked_mask,
    merge_events,
)
from srs.engine.matrix import InteractionMatrix, build_matrix, history_rows
from srs.engine.persistence import save_model_files
from srs.engine.reasons import (
    NEW_USER_REASON,
    NO_DATA_REASON,
    POPULAR_REASON,
    contributor_reasons,
    key_codes,
)
from srs.engine.request_limits import DEFAULT_RESULTS, MAX_RESULTS, check_num_results
from srs.engine.topk import PADDING, every_slot, top_k, top_k_rows
from srs.engine.weights import EventWeights

Span: TypeAlias = tuple[int, int]
"""A user's first and last interaction time in training (Unix seconds)."""


@contextlib.contextmanager
def blas_threads(threads: int | None) -> Iterator[None]:
    """Cap BLAS threads while training (serving workers should run with 1, see ``__init__``)."""
    if threads is None:
        yield
        return
    with threadpool_limits(limits=threads):
        yield


class Recipe(abc.ABC):
    """A recommendation recipe: ``fit`` it, then ``recommend``, ``rank``, ``similar_items``.

    Subclasses set ``name`` and implement the model hooks below.
    """

    name: ClassVar[str]
    personal: ClassVar[bool] = True
    """Whether answers depend on the user's history (else the history is not even stored)."""

    def __init__(self, weights: EventWeights | None = None) -> None:
        self.weights = weights or EventWeights()
        self._catalogue: Catalogue | None = None
        self._histories: UserHistories | None = None
        self.reference_time = 0
        self.stats: dict[str, Any] = {}

    # ---- model hooks -------------------------------------------------------------------------

    @abc.abstractmethod
    def hyperparameters(self) -> dict[str, Any]:
        """Constructor keyword arguments (JSON-serialisable) that rebuild this recipe."""

    @abc.abstractmethod
    def _fit_model(
        self, data: InteractionMatrix, frame: pd.DataFrame, items: pd.DataFrame | None
    ) -> None:
        """Fit the model arrays; the catalogue is already set. ``items`` is the items dataset
        (categories), when there is one."""

    @abc.abstractmethod
    def _model_arrays(self) -> dict[str, Array]:
        """The fitted arrays to save (names are file names: lowercase, digits, underscores)."""

    @abc.abstractmethod
    def _restore_model(self, arrays: Mapping[str, Array], state: Mapping[str, Any]) -> None:
        """Adopt arrays and state saved by ``_model_arrays`` and ``_model_state``."""

    def _model_state(self) -> dict[str, Any]:
        """Fitted scalars to save beside the arrays (e.g. a temperature)."""
        return {}

    @abc.abstractmethod
    def _history_scores(
        self, items: IntArray, values: FloatArray, span: Span | None = None
    ) -> FloatArray:
        """Raw scores over the catalogue for one non-empty history; ``span`` is when the user
        was active in training, for recipes that use it (None: unknown)."""

    @abc.abstractmethod
    def score_histories(self, histories: sp.csr_matrix, spans: IntArray | None = None) -> Array:
        """Raw scores (rows × catalogue) for a batch of history vectors, e.g. for evaluation;
        ``spans`` (rows × 2: first and last interaction time) as in :meth:`_history_scores`."""

    def _user_span(self, user_id: str | None) -> Span | None:
        """When the user was active in training, for recipes that keep it."""
        return None

    def _probabilities(self, raw: FloatArray) -> FloatArray:
        """Raw scores → probabilities over the whole catalogue (they sum to 1).

        By default each positive score's share, and popularity's shares when nothing scores
        above zero: written once here for the recipes whose raw scores are counts or growth."""
        positive = np.maximum(raw, 0.0)
        total = float(positive.sum())
        return positive / total if total > 0 else self.catalogue.popular_probabilities

    @abc.abstractmethod
    def _reasons(
        self,
        items: IntArray,
        values: FloatArray,
        targets: IntArray,
        raw: FloatArray,
        names: Mapping[str, str] | None,
    ) -> list[str]:
        """Why each of ``targets`` was recommended to the user with this history."""

    def _item_scores(self, position: int) -> FloatArray | None:
        """Item-item scores from one item, or None when this recipe has none (popular answer)."""
        return None

    def _item_reason(self, source: int, names: Mapping[str, str] | None) -> str:
        return f"often used with {self.catalogue.name(source, names)}"

    @property
    def fills_with_popular(self) -> bool:
        """Whether items the model scores 0 or less rank by popularity below every positive
        score (sparse models, where most items score exactly 0) rather than by raw score."""
        return False

    @property
    def answers_quickly(self) -> bool:
        """Whether a request is cheap enough that every training user's answer (an answer
        table) can be worked out before serving starts."""
        return True

    # ---- state -------------------------------------------------------------------------------

    @property
    def is_fitted(self) -> bool:
        return self._catalogue is not None

    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            raise NotFittedError(f"recipe {self.name!r} is not fitted; call fit() or load a model")
        return self._catalogue

    @property
    def item_ids(self) -> StrArray:
        """The catalogue in index order; boolean ``exclude`` masks align with it."""
        return self.catalogue.item_ids

    @property
    def user_ids(self) -> StrArray:
        """Users whose training history the model holds (empty for non-personal recipes)."""
        if self._histories is None:
            return np.zeros(0, dtype=str)
        return self._histories.user_ids

    @property
    def user_index(self) -> Mapping[str, int]:
        """Each of :attr:`user_ids`' position."""
        return {} if self._histories is None else self._histories.index

    def knows_user(self, user_id: str) -> bool:
        return self._histories is not None and user_id in self._histories

    # ---- training ----------------------------------------------------------------------------

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        *,
        item_names: Mapping[str, str] | None = None,
        threads: int | None = None,
        signed_rows: BoolArray | None = None,
    ) -> Self:
        """Train on Personalize-format interactions; ``items`` adds items without interactions
        and their SERVICE_NAME for reasons (``item_names`` overrides those names).
        ``signed_rows`` marks feedback SRS recorded itself (see ``weights.py``)."""
        started = time.perf_counter()
        data = build_matrix(
            interactions, self.weights, catalogue_ids(items), signed_rows=signed_rows
        )
        return self.fit_matrix(
            data, interactions, items, item_names=item_names, threads=threads, started=started
        )

    def fit_matrix(
        self,
        data: InteractionMatrix,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        *,
        item_names: Mapping[str, str] | None = None,
        threads: int | None = None,
        started: float | None = None,
    ) -> Self:
        """``fit`` from a matrix already built from ``interactions`` with this recipe's event
        weights, so a hyperparameter search builds it once for all its candidates."""
        started = time.perf_counter() if started is None else started
        self._catalogue = Catalogue(
            data.item_ids,
            display_names(data.item_ids, items, item_names),
            data.distinct_users_per_item(),
        )
        self._histories = (
            UserHistories.from_matrix(data, self.weights.negative_weight) if self.personal else None
        )
        self.reference_time = data.reference_time
        with blas_threads(threads):
            self._fit_model(data, interactions, items)
        self.stats = {
            "users": int(data.shape[0]),
            "items": int(data.shape[1]),
            "interactions": len(interactions),
            "user_item_pairs": int(data.matrix.nnz),
            "training_seconds": round(time.perf_counter() - started, 4),
            "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        return self

    def history_matrix(self, frame: pd.DataFrame) -> tuple[StrArray, sp.csr_matrix]:
        """Users of ``frame`` and their history vectors over this model's catalogue."""
        return history_rows(
            frame, self.catalogue.index, len(self.catalogue), self.weights, self.reference_time
        )

    # ---- requests ----------------------------------------------------------------------------

    def history(
        self, user_id: str | None, events: Sequence[EventLike] = ()
    ) -> tuple[IntArray, FloatArray]:
        """The user's history vector now: training history plus request-time ``events``."""
        if self._histories is not None and user_id is not None:
            items, values = self._histories.row(user_id)
        else:
            items, values = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return merge_events(items, values, events, self.catalogue.index, self.weights)

    def recommend(
        self,
        user_id: str | None = None,
        *,
        events: Sequence[EventLike] = (),
        num_results: int = DEFAULT_RESULTS,
        exclude: Exclude = None,
        item_names: Mapping[str, str] | None = None,
    ) -> list[ScoredItem]:
        """Top items for the user's current history (stored history + ``events``), best first.

        A user with no usable history gets the most popular items (reason "popular").
        """
        return self.recommend_ranked(
            user_id,
            events=events,
            num_results=num_results,
            exclude=exclude,
            item_names=item_names,
        ).scored_items()

    def recommend_ranked(
        self,
        user_id: str | None = None,
        *,
        events: Sequence[EventLike] = (),
        num_results: int = DEFAULT_RESULTS,
        exclude: Exclude = None,
        item_names: Mapping[str, str] | None = None,
    ) -> Ranked:
        """:meth:`recommend` as aligned lists, for callers that build their own records."""
        count = check_num_results(num_results)
        catalogue = self.catalogue
        mask = catalogue.mask(exclude)
        items, values = self.history(user_id, events) if self.personal else EMPTY_HISTORY
        if len(items) == 0 and self.personal:
            known = user_id is not None and self.knows_user(user_id)
            return self._popular_ranked(count, mask, POPULAR_REASON if known else NEW_USER_REASON)
        mask = disliked_mask(mask, items, values, len(catalogue))
        raw = self._history_scores(items, values, self._user_span(user_id))
        probabilities = self._probabilities(raw)
        top = top_k(self._ranking_key(raw), count, mask)
        reasons = self._reasons(items, values, top, raw, item_names)
        ids = catalogue.id_list
        return Ranked(
            [ids[position] for position in top.tolist()], probabilities[top].tolist(), reasons
        )

    def rank(
        self,
        user_id: str | None,
        item_ids: Sequence[str],
        *,
        events: Sequence[EventLike] = (),
        item_names: Mapping[str, str] | None = None,
    ) -> list[ScoredItem]:
        """Personalize's GetPersonalizedRanking: ``item_ids`` re-ordered for the user.

        Items the model has data on come first, best first, with scores summing to 1 over them
        (equal scores in catalogue order, as ``recommend`` orders them); unknown items and
        items nobody interacted with follow in input order, score None. Repeated ids are
        answered once, at their first position.
        """
        if not 1 <= len(item_ids) <= MAX_RESULTS:
            raise InvalidRequestError(
                f"the input list must hold between 1 and {MAX_RESULTS} item ids, "
                f"got {len(item_ids)}"
            )
        catalogue = self.catalogue
        unique = list(dict.fromkeys(str(item) for item in item_ids))
        positions = [catalogue.index.get(item, -1) for item in unique]
        scored = [
            position
            for position in positions
            if position >= 0 and catalogue.popularity[position] > 0
        ]
        scored_set = set(scored)
        unscored = [
            ScoredItem(item, None, NO_DATA_REASON)
            for item, position in zip(unique, positions, strict=True)
            if position not in scored_set
        ]
        if not scored:
            return unscored
        # In catalogue order, so that the top-k rule's "ties to the lower slot" is catalogue order.
        chosen = np.sort(np.asarray(scored, dtype=np.int64))
        items, values = self.history(user_id, events) if self.personal else EMPTY_HISTORY
        if len(items) == 0:
            popularity = catalogue.popularity[chosen]
            probabilities = popularity / popularity.sum()
            order = every_slot(popularity)
            reasons = [POPULAR_REASON] * len(chosen)
        else:
            raw = self._history_scores(items, values, self._user_span(user_id))
            probabilities = self._probabilities(raw)[chosen]
            probabilities = probabilities / probabilities.sum()
            order = every_slot(self._ranking_key(raw)[chosen])
            reasons = self._reasons(items, values, chosen[order], raw, item_names)
        ids = catalogue.id_list
        ranked = [
            ScoredItem(ids[chosen[slot]], float(probabilities[slot]), reason)
            for slot, reason in zip(order.tolist(), reasons, strict=True)
        ]
        return ranked + unscored

    def similar_items(
        self,
        item_id: str,
        *,
        num_results: int = DEFAULT_RESULTS,
        exclude: Exclude = None,
        item_names: Mapping[str, str] | None = None,
    ) -> list[ScoredItem]:
        """Items most related to ``item_id`` (never itself); an unknown item or one without
        interactions gets popular items. Scores are the positive item-item scores normalised
        to sum to 1 over the catalogue."""
        count = check_num_results(num_results)
        catalogue = self.catalogue
        mask = catalogue.mask(exclude)
        mask = np.zeros(len(catalogue), dtype=bool) if mask is None else mask.copy()
        source = catalogue.index.get(item_id)
        if source is not None:
            mask[source] = True
        raw = None
        if source is not None and catalogue.popularity[source] > 0:
            raw = self._item_scores(source)
        if raw is None:
            return self._popular(count, mask)
        positive = np.where(mask, 0.0, np.maximum(raw, 0.0))
        total = float(positive.sum())
        probabilities = positive / total if total > 0 else positive
        key = np.where(positive > 0, raw, catalogue.fallback_key)
        top = top_k(key, count, mask)
        reason = self._item_reason(source, item_names) if source is not None else POPULAR_REASON
        ids = catalogue.id_list
        return [
            ScoredItem(
                ids[position],
                float(probabilities[position]),
                reason if positive[position] > 0 else POPULAR_REASON,
            )
            for position in top.tolist()
        ]

    def popular_ranked(
        self, num_results: int = DEFAULT_RESULTS, *, exclude: Exclude = None
    ) -> Ranked:
        """Personalize's popularity-count answer from any model: the catalogue by how many
        users used each item (ties in catalogue order), scores summing to 1 over it."""
        return self._popular_ranked(check_num_results(num_results), self.catalogue.mask(exclude))

    def _popular(self, count: int, mask: BoolArray | None) -> list[ScoredItem]:
        return self._popular_ranked(count, mask).scored_items()

    def _popular_ranked(
        self, count: int, mask: BoolArray | None, reason: str = POPULAR_REASON
    ) -> Ranked:
        catalogue = self.catalogue
        order = catalogue.popular_order
        if mask is not None:
            order = order[~mask[order]]
        ids, chosen = catalogue.id_list, order[:count].tolist()
        return Ranked(
            [ids[position] for position in chosen],
            catalogue.popular_probabilities[chosen].tolist(),
            [reason] * len(chosen),
        )

    def _ranking_key(self, raw: FloatArray) -> FloatArray:
        if not self.fills_with_popular:
            return raw
        return np.where(raw > 0, raw, self.catalogue.fallback_key)

    # ---- batch (evaluation) --------------------------------------------------------------------

    def recommend_batch(
        self,
        histories: sp.csr_matrix,
        count: int,
        exclude: sp.csr_matrix | None = None,
        spans: IntArray | None = None,
    ) -> IntArray:
        """Top ``count`` item positions per history row (``-1`` pads rows with fewer allowed
        items); rows of ``exclude`` mark items to skip; ``spans`` as in :meth:`score_histories`.
        Empty histories get popular items.

        Evaluation measures the ranker users get only if this orders items exactly as
        :meth:`recommend` does, ties included: both rank the same key with the engine's one
        top-k (``topk``)."""
        histories = sp.csr_matrix(histories)
        n_rows = histories.shape[0]
        result = np.full((n_rows, count), PADDING, dtype=np.int64)
        if n_rows == 0:
            return result
        key = np.asarray(self.score_histories(histories, spans), dtype=np.float64)
        if self.fills_with_popular:
            key = np.where(key > 0, key, self.catalogue.fallback_key[np.newaxis, :])
        empty = np.diff(histories.indptr) == 0
        if self.personal and empty.any():
            key[empty] = self.catalogue.popularity[np.newaxis, :]
        for excluded in (exclude, histories.multiply(histories < 0)):
            if excluded is None:
                continue
            excluded = sp.csr_matrix(excluded)
            excluded.eliminate_zeros()
            rows = np.repeat(np.arange(n_rows), np.diff(excluded.indptr))
            key[rows, excluded.indices] = -np.inf
        top = top_k_rows(key, count)
        result[:, : top.shape[1]] = top
        return result

    # ---- answer table (serving) ------------------------------------------------------------

    def answer_table(
        self,
        width: int = DEFAULT_RESULTS,
        exclude: sp.csr_matrix | None = None,
        always_excluded: BoolArray | None = None,
    ) -> AnswerTable | None:
        """Each training user's ``recommend(user, num_results=width, exclude=...)`` with no
        request-time events, worked out at once (see ``answers.py``); None for recipes whose
        answers ignore the user. A catalogue smaller than ``width`` is held whole.

        Row ``r`` of ``exclude`` marks the items excluded for ``user_ids[r]``;
        ``always_excluded`` is excluded for every user.
        """
        histories = self._histories
        if not self.personal or histories is None:
            return None
        width = min(check_num_results(width), len(self.catalogue))

        def answer_block(
            start: int, stop: int, mask: BoolArray, codes: ReasonCodes
        ) -> tuple[IntArray, FloatArray, IntArray]:
            return self._answer_block(histories, start, stop, width, mask, codes)

        return build_answer_table(
            histories.index, self.catalogue.id_list, width, answer_block, exclude, always_excluded
        )

    def _answer_block(
        self,
        histories: UserHistories,
        start: int,
        stop: int,
        width: int,
        mask: BoolArray,
        codes: ReasonCodes,
    ) -> tuple[IntArray, FloatArray, IntArray]:
        """Positions (``PADDING`` past a row's allowed items), scores and reason codes of
        training users ``start:stop``.

        Users without a training history rank by popularity, as a request gives them; all rows
        are ordered by one call of the engine's top-k, the rule a live request follows."""
        catalogue = self.catalogue
        rows, n_items = stop - start, len(catalogue)
        raw = np.zeros((rows, n_items), dtype=np.float64)
        block = histories.block(start, stop, n_items)
        disliked = block.data < 0
        if disliked.any():
            mask = mask.copy()
            owners = np.repeat(np.arange(rows), np.diff(block.indptr))
            mask[owners[disliked], block.indices[disliked]] = True
        scored = np.flatnonzero(np.diff(histories.indptr[start : stop + 1]) > 0).tolist()
        user_ids = histories.user_ids
        for offset in scored:
            raw[offset] = self._history_scores(
                *histories.row_at(start + offset), self._user_span(str(user_ids[start + offset]))
            )
        popular = np.ones(rows, dtype=bool)
        popular[scored] = False
        key = np.where(popular[:, np.newaxis], catalogue.popularity, self._ranking_key(raw))
        top = top_k_rows(key, width, mask)
        cells = np.maximum(top, 0)  # padding cells are never read: any item fills them
        scores = np.take_along_axis(self._batch_probabilities(raw), cells, axis=1)
        reasons = np.zeros((rows, width), dtype=np.int64)
        keys = self._reason_keys(block, cells) if scored else None
        if keys is not None:
            reasons[:] = key_codes(keys, catalogue, codes)
        else:
            for offset in scored:
                items, values = histories.row_at(start + offset)
                length = int(np.count_nonzero(top[offset] != PADDING))
                texts = self._reasons(items, values, top[offset, :length], raw[offset], None)
                reasons[offset, :length] = codes.encode(texts)
        if popular.any():
            scores[popular] = catalogue.popular_probabilities[cells[popular]]
            reasons[popular] = codes.encode([POPULAR_REASON])[0]
        return top, scores, reasons

    def _batch_probabilities(self, raw: FloatArray) -> FloatArray:
        """:meth:`_probabilities` of each row of a block; recipes with a batch form override
        this (it must give the very same numbers)."""
        return np.stack([self._probabilities(row) for row in raw])

    def _reason_keys(self, histories: sp.csr_matrix, targets: IntArray) -> IntArray | None:
        """Contributor positions (rows × targets × ``REASON_ITEMS``, ``NOT_A_CONTRIBUTOR``
        where none) for a block of histories, when the recipe has a batch form of
        :meth:`_reasons`; None makes the table call :meth:`_reasons` per user."""
        return None

    # ---- persistence -------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """What ``model.json`` records besides the array manifest."""
        return {
            "recipe": self.name,
            "hyperparameters": self.hyperparameters(),
            "event_weights": self.weights.to_dict(),
            "state": {"reference_time": int(self.reference_time), **self._model_state()},
            "stats": dict(self.stats),
        }

    def save(self, directory: Path | str) -> None:
        """Write the fitted model as ``.npy`` arrays + ``model.json`` (see ``persistence``)."""
        catalogue = self.catalogue
        arrays: dict[str, Array] = {
            "item_ids": catalogue.item_ids,
            "item_names": catalogue.names,
            "popularity": catalogue.popularity,
        }
        if self._histories is not None:
            arrays.update(self._histories.arrays())
        arrays.update(self._model_arrays())
        save_model_files(Path(directory), arrays, self.metadata())

    def restore(self, metadata: Mapping[str, Any], arrays: Mapping[str, Array]) -> Self:
        """Adopt a saved model's arrays (memory-mapped, read-only) and state."""
        try:
            self._catalogue = Catalogue(
                arrays["item_ids"], arrays["item_names"], arrays["popularity"]
            )
            if self.personal:
                self._histories = UserHistories(
                    arrays["user_ids"],
                    arrays["history_indptr"],
                    arrays["history_indices"],
                    arrays["history_values"],
                )
            state = dict(metadata.get("state", {}))
            self.reference_time = int(state.get("reference_time", 0))
            self.stats = dict(metadata.get("stats", {}))
            self._restore_model(arrays, state)
        except KeyError as missing:
            raise ModelFormatError(
                f"saved {self.name!r} model lacks array or setting {missing}"
            ) from None
        return self


class ItemItemRecipe(Recipe):
    """A recipe scoring a history as ``x_u W`` for an item-item matrix ``W``.

    Such recipes explain an item by the history items adding most to its score; that rule is
    written once here, and each recipe only says how to read its ``W``.
    """

    @abc.abstractmethod
    def _contributions(self, items: IntArray, values: FloatArray, targets: IntArray) -> FloatArray:
        """``values[h] · W[items[h], targets[t]]``: what history item ``h`` adds to target ``t``."""

    def _reasons(
        self,
        items: IntArray,
        values: FloatArray,
        targets: IntArray,
        raw: FloatArray,
        names: Mapping[str, str] | None,
    ) -> list[str]:
        if len(targets) == 0:
            return []
        unscored = raw[targets] <= 0 if self.fills_with_popular else None
        return contributor_reasons(
            self._contributions(items, values, targets),
            items,
            targets,
            self.catalogue,
            names,
            unscored,
        )
