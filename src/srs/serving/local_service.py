"""The ``local`` backend of RecommendationService: the embedded engine, in process.

Each request scores the user's history *as it is now*: the trained history plus
the events recorded since, read from the shared SQLite EventStore, so every
server worker reacts to feedback at once. The active model is re-checked every
few seconds, so a retrain is picked up without a restart; a model that fails to
load leaves the previous one serving.

A user with no events since training, asking with no filter but the default, gets
the answer the model worked out for them when it was adopted
(``engine/answers.py``): the same answer a live scoring gives, without its cost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from random import getrandbits

import numpy as np
import numpy.typing as npt
import pandas as pd

from srs.activity import (
    DEFAULT_DAYS,
    DEFAULT_TOP_SERVICES,
    Activity,
    LogCounts,
    summarize_counts,
)
from srs.arrays import BoolArray
from srs.catalog import ServiceAliases, alias_key, load_catalog
from srs.catalogue_additions import AddedItemsView, CatalogueAdditions
from srs.config import Settings
from srs.data.dataset_version import current_dataset, read_items
from srs.data.history import InteractionHistory, UserRows
from srs.data.interaction_rows import CodedText, InteractionRows
from srs.data.prepare import INTERACTIONS_FILE
from srs.data.store import open_store
from srs.data.vocabulary import EventVocabulary, normalise_event_type
from srs.engine.answers import AnswerTable, Ranked
from srs.engine.errors import InvalidRequestError, ModelFormatError
from srs.engine.filters.errors import FilterError
from srs.engine.filters.evaluate import FilterExpression, IndexedFrame, parse_filter
from srs.engine.model_store import LoadedModel, ModelStore, NoActiveModelError
from srs.engine.persistence import FileStamps
from srs.events.event import Event, StoredEvent
from srs.events.store import EventStore
from srs.serving.exclusions import StoredExclusions
from srs.serving.service import (
    MAX_RANKING_INPUTS,
    HistoryEntry,
    HistoryPage,
    ItemColumns,
    ItemInfo,
    ModelInfo,
    NotFoundError,
    NotReadyError,
    Recommendations,
    RecommendedItem,
    RequestError,
    check_num_results,
)

log = logging.getLogger(__name__)

ITEM_COLUMNS = ("ITEM_ID", "SERVICE_NAME", "CATEGORY", "DESCRIPTION")
RECENT_EVENTS = 200  # events folded into a request; Personalize also reads a recent window
MODEL_CHECK_SECONDS = 5.0
# A version 4 UUID's fixed bits in its 128-bit integer: version nibble 4, variant 0b10.
_UUID_VERSION_CLEAR = ~((0xF << 76) | (0b11 << 62))
_UUID_VERSION_4 = (0x4 << 76) | (0b10 << 62)
FILTER_CACHE_SIZE = 256
NEW_ITEM_REASON = "new item: no interactions yet"
"""The reason on an item added while serving (PutItems) that no model has learnt yet."""
ANSWER_TABLE_WIDTH = 25
"""Answers kept per user: the API's default numResults; larger requests are scored live."""
ANSWER_TABLE_MAX_ITEMS = 2048
"""Catalogues up to this size get answer tables. A table scores every user exactly as a
request would, one user at a time, in every worker; on a larger catalogue that wait grows
with the catalogue while a live answer stays cheap, so the table no longer pays."""


@dataclass(frozen=True, slots=True)
class DefaultFilterView:
    """The precomputed default filter as one model sees it: history item codes mapped to
    the model's catalogue positions, and what it excludes for a user with no rows."""

    positions: npt.NDArray[np.int64]
    without_rows: BoolArray


@dataclass(frozen=True, slots=True)
class Serving:
    """What answers a request, swapped as one object when a new model is adopted, so a
    request never pairs one model with another model's catalogue index or filter view."""

    model: LoadedModel
    indexed: IndexedFrame
    default_view: DefaultFilterView | None
    items: list[ItemInfo]
    """The model's catalogue, by position."""
    answers: AnswerTable | None = None


class _Adoption:
    """A version being made ready aside; known by identity, so a thread finishing late can
    tell whether its adoption was replaced (or dropped) while it worked."""

    __slots__ = ("version",)

    def __init__(self, version: str) -> None:
        self.version = version


def _unknown_item(item_id: str) -> ItemInfo:
    return ItemInfo(item_id, item_id, "", "")


class LocalRecommendationService:
    """RecommendationService over a model store, a history index and an EventStore."""

    def __init__(
        self,
        models: ModelStore,
        items: pd.DataFrame,
        history: InteractionHistory,
        events: EventStore,
        default_filter: str = "",
        clock: Callable[[], float] = time.monotonic,
        answer_tables: bool = True,
        vocabulary: EventVocabulary | None = None,
        on_fallback: Callable[[str], None] | None = None,
        table_gate: threading.Event | None = None,
        additions: CatalogueAdditions | None = None,
    ) -> None:
        """``answer_tables=False`` scores every request live (see the module docstring);
        ``vocabulary`` maps the event types clients send onto the canonical ones;
        ``on_fallback`` hears why another version serves than the active one (a warning in
        the log by default); an answer table built aside waits for ``table_gate`` first, so
        a test can hold an adoption half-way; ``additions`` holds items added while serving,
        answered as cold items after every item the model has data on."""
        self._models = models
        self._vocabulary = vocabulary or EventVocabulary()
        self._answer_tables = answer_tables
        self._history = history
        self._events = events
        self._clock = clock
        columns = [items[name].astype(str).tolist() for name in ITEM_COLUMNS]
        self._items = [ItemInfo(*row) for row in zip(*columns, strict=True)]
        self._by_id = {item.item_id: item for item in self._items}
        self._added = AddedItemsView(additions, self._by_id)
        self._activity_cache: dict[tuple[int, int, int], Activity] = {}
        self._by_name = {item.service_name: item for item in self._items}
        self._by_key = {alias_key(item.service_name): item for item in self._items}
        self._aliases = ServiceAliases.from_catalog(load_catalog())
        self._filters: dict[str, FilterExpression] = {}
        self._default_filter = self._parse(default_filter) if default_filter.strip() else None
        self._stored_exclusions = (
            StoredExclusions.build(self._default_filter, history)
            if self._default_filter is not None and self._default_filter.row_wise
            else None
        )
        self._serving: Serving | None = None
        self._swapping = threading.Lock()
        self._pending: _Adoption | None = None
        self._table_gate = table_gate
        self._checked_at = float("-inf")
        self._refused: tuple[str, FileStamps] | None = None
        self._last_fallback: str | None = None
        self._problem: str | None = None
        self._on_fallback = on_fallback or log.warning
        self._refresh(force=True)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        answer_tables: bool = True,
        on_fallback: Callable[[str], None] | None = None,
        table_gate: threading.Event | None = None,
    ) -> LocalRecommendationService:
        store = open_store(settings)
        dataset = current_dataset(store)
        return cls(
            models=ModelStore(store, settings.model_cache_dir),
            items=read_items(store, dataset),
            history=InteractionHistory.from_store(store, dataset.key(INTERACTIONS_FILE)),
            events=_retained_events(settings),
            default_filter=settings.default_filter,
            clock=clock,
            answer_tables=answer_tables,
            vocabulary=EventVocabulary(settings.event_types),
            on_fallback=on_fallback,
            table_gate=table_gate,
            additions=CatalogueAdditions.in_directory(settings.data_dir),
        )

    # ---- model -------------------------------------------------------------------------------

    def _refresh(self, force: bool = False) -> None:
        """Adopt a newly activated model; keep serving the current one if it fails to load.

        The serving version's files are compared by ``stat`` on every check: when they were
        changed in place, its memory-mapped arrays are never read again, and the version is
        verified afresh or replaced by the newest version that verifies. An active version
        that failed is not hashed again until its files change.

        While the serving version is intact, a new version is loaded, verified and given
        its answer table on a thread of its own while the old one serves, then swapped in at
        once (``_adopt_aside``): a request never waits for that work, and switching before the
        table is built would score every request live, and slowly, for as long as it takes.
        ``force`` (start-up, ``reload``) does the loading in the calling thread.
        """
        now = self._clock()
        if not force and now - self._checked_at < MODEL_CHECK_SECONDS:
            return
        self._checked_at = now
        current = self._serving
        intact = current is not None and not current.model.changed()
        try:
            version = self._models.active_version()
            if version is None:
                if current is None or intact:
                    return
                raise NoActiveModelError("the active model pointer is gone")
            if intact and current is not None:
                if current.model.version == version:
                    with self._swapping:
                        self._pending = None
                    return
                pending = self._pending
                if self._still_refused(version) or (
                    pending is not None and pending.version == version
                ):
                    return
                if not force:
                    self._start_adoption(version)
                    return
            serving = self._prepare(self._models.load(version))
        except ModelFormatError as exc:
            if version is not None:
                self._refused = (version, self._models.stamps(version))
            if intact:
                log.error("active model not loaded, previous one keeps serving: %s", exc)
                return
            fallback = self._fall_back(version, exc)
            if fallback is None:
                self._serving = None
                return
            serving = fallback
        self._adopt(serving, current, intact)

    def _still_refused(self, version: str) -> bool:
        refused = self._refused
        return refused is not None and refused == (version, self._models.stamps(version))

    def _fall_back(self, version: str | None, problem: ModelFormatError) -> Serving | None:
        """The newest other version that verifies, or None (then nothing serves: 503)."""
        skip = {version} if version is not None else set()
        while True:
            try:
                loaded = self._models.fallback(skip)
            except ModelFormatError as exc:
                self._problem = f"{problem}; {exc}"
                log.error("no model can serve: %s", self._problem)
                return None
            try:
                serving = self._prepare(loaded)
            except ModelFormatError:
                skip.add(loaded.version)
                continue
            message = (
                f"model {version} cannot serve ({problem}); "
                f"fell back to {loaded.version}, the newest version that verifies"
            )
            self._last_fallback = message
            self._on_fallback(message)
            return serving

    def _prepare(self, loaded: LoadedModel) -> Serving:
        """What a request needs of ``loaded``; any failure here refuses the version."""
        try:
            infos = [self._item_info(str(item)) for item in loaded.recipe.item_ids]
            indexed = IndexedFrame(pd.DataFrame(infos).rename(columns=str.upper))
            return Serving(loaded, indexed, self._default_view_for(loaded, indexed), infos)
        except ModelFormatError:
            raise
        except Exception as exc:
            raise ModelFormatError(
                f"model {loaded.version!r} cannot serve this catalogue ({exc})"
            ) from None

    def _adopt(self, serving: Serving, current: Serving | None, intact: bool) -> None:
        """Serve ``serving``: at once when nothing (sound) serves or it gets no table;
        otherwise once its table is built aside, the old model and table serving meanwhile."""
        if current is None and serving.model.recipe.answers_quickly:
            answered = replace(serving, answers=self._answer_table(serving))
            with self._swapping:
                self._pending = None
                self._serving = answered
        elif current is not None and intact and self._table_expected(serving):
            adoption = _Adoption(serving.model.version)
            with self._swapping:
                self._pending = adoption
            threading.Thread(
                target=self._adopt_when_ready,
                args=(serving, adoption),
                daemon=True,
                name="adoption",
            ).start()
            log.info("model %s: building its answer table before serving it", serving.model.version)
            return
        else:
            with self._swapping:
                self._pending = None
                self._serving = serving
            threading.Thread(
                target=self._add_answer_table, args=(serving,), daemon=True, name="answer-table"
            ).start()
        log.info("serving model %s", serving.model.version)

    def _adopt_when_ready(self, serving: Serving, adoption: _Adoption) -> None:
        """Build the table of a model waiting to serve, then swap model, table and filter
        view in one assignment; dropped if another version was adopted or queued since."""
        answers = None
        if self._table_expected(serving):
            if self._table_gate is not None:
                self._table_gate.wait()
            answers = self._answer_table(serving)
        with self._swapping:
            if self._pending is not adoption:
                return
            self._pending = None
            self._serving = replace(serving, answers=answers)
        log.info("serving model %s", serving.model.version)

    def _start_adoption(self, version: str) -> None:
        adoption = _Adoption(version)
        with self._swapping:
            self._pending = adoption
        threading.Thread(
            target=self._adopt_aside, args=(adoption,), daemon=True, name="adoption"
        ).start()

    def _adopt_aside(self, adoption: _Adoption) -> None:
        """Load and verify a newly activated version away from requests, then serve it once
        its table is built; a version that fails is refused and the old one keeps serving."""
        version = adoption.version
        try:
            serving = self._prepare(self._models.load(version))
        except Exception as exc:
            if isinstance(exc, ModelFormatError):
                self._refused = (version, self._models.stamps(version))
                log.error("active model not loaded, previous one keeps serving: %s", exc)
            else:
                log.exception("loading model %s failed; the previous one keeps serving", version)
            with self._swapping:
                if self._pending is adoption:
                    self._pending = None
            return
        log.info("model %s: loaded aside, building its answer table before serving it", version)
        self._adopt_when_ready(serving, adoption)

    @property
    def fallback_message(self) -> str | None:
        """Why the version serving is not the active one, when the last adoption fell back."""
        return self._last_fallback

    def _answer_table(self, serving: Serving) -> AnswerTable | None:
        """Default answers for the model's users, when the default filter allows working
        them out in advance (no filter, or one :class:`StoredExclusions` covers) and the
        catalogue is not too large for it."""
        recipe = serving.model.recipe
        if not self._table_expected(serving):
            return None
        view, stored = serving.default_view, self._stored_exclusions
        started = time.perf_counter()
        try:
            answers = recipe.answer_table(
                ANSWER_TABLE_WIDTH,
                exclude=(
                    stored.matrix(recipe.user_index, view.positions, len(recipe.item_ids))
                    if view is not None and stored is not None
                    else None
                ),
                always_excluded=view.without_rows if view is not None else None,
            )
        except MemoryError:
            log.warning("no answer table for model %s: out of memory", serving.model.version)
            return None
        if answers is not None:
            log.info(
                "answer table for model %s: %d users, %.0f MB, %.1f s",
                serving.model.version,
                len(answers.user_index),
                answers.nbytes / 1e6,
                time.perf_counter() - started,
            )
        return answers

    def _table_expected(self, serving: Serving) -> bool:
        """Whether ``serving`` gets an answer table (unless its build runs out of memory)."""
        recipe = serving.model.recipe
        if not self._answer_tables or not recipe.personal:
            return False
        if len(recipe.item_ids) > ANSWER_TABLE_MAX_ITEMS:
            return False
        view, stored = serving.default_view, self._stored_exclusions
        return self._default_filter is None or (view is not None and stored is not None)

    def _add_answer_table(self, serving: Serving) -> None:
        """Build a newly adopted model's table aside, then serve from it; requests are
        scored live meanwhile, and a table for a model replaced since is dropped."""
        answers = self._answer_table(serving)
        with self._swapping:
            if answers is not None and self._serving is serving:
                self._serving = replace(serving, answers=answers)

    def reload(self) -> None:
        """Adopt the active model now (after an activation in this process), not in a while."""
        self._refresh(force=True)

    def _active(self) -> Serving:
        self._refresh()
        serving = self._serving
        if serving is None:
            if self._problem is not None:
                raise NotReadyError(f"no model can serve: {self._problem}")
            raise NotReadyError("no model is active yet; run 'srs train'")
        return serving

    def answers_precomputed(self) -> bool:
        """Whether the active model's answer table is in use (it is built aside after a
        model change, and not at all for a default filter that needs request parameters)."""
        serving = self._serving
        return serving is not None and serving.answers is not None

    def is_ready(self) -> bool:
        self._refresh()
        return self._serving is not None

    def model_info(self) -> ModelInfo:
        model = self._active().model
        training = model.training
        return ModelInfo(
            version=model.version,
            recipe=model.recipe.name,
            trained_at=str(training.get("trained_at", model.recipe.stats.get("trained_at", ""))),
            training_seconds=float(
                training.get("training_seconds", model.recipe.stats.get("training_seconds", 0.0))
            ),
            parameters=dict(training.get("parameters", model.recipe.hyperparameters())),
            metrics={k: float(v) for k, v in training.get("metrics", {}).items()},
            heldout_users=(
                int(training["heldout_users"])
                if training.get("heldout_users") is not None
                else None
            ),
            metrics_reliable=bool(training.get("metrics_reliable", True)),
            baseline_metrics={k: float(v) for k, v in training.get("baseline_metrics", {}).items()},
        )

    # ---- filters -----------------------------------------------------------------------------

    def _parse(self, text: str) -> FilterExpression:
        expression = self._filters.get(text)
        if expression is None:
            try:
                expression = parse_filter(text)
            except FilterError as exc:
                raise RequestError(str(exc)) from None
            if len(self._filters) >= FILTER_CACHE_SIZE:
                self._filters.pop(next(iter(self._filters)))
            self._filters[text] = expression
        return expression

    def _user_rows(self, user_id: str, events: Sequence[StoredEvent]) -> InteractionRows:
        """The user's recent events, then the stored history: array slices, no frame."""
        stored = history_rows(user_id, self._history.user_rows(user_id))
        if not events:
            return stored
        return InteractionRows.concat([event_rows(user_id, events), stored])

    def _default_view_for(
        self, model: LoadedModel, indexed: IndexedFrame
    ) -> DefaultFilterView | None:
        """The precomputed default filter, mapped onto a newly loaded model's catalogue."""
        if self._default_filter is None or self._stored_exclusions is None:
            return None
        index = {str(item): position for position, item in enumerate(model.recipe.item_ids)}
        return DefaultFilterView(
            positions=self._stored_exclusions.positions(index),
            without_rows=~self._default_filter.allowed(indexed, None),
        )

    @staticmethod
    def _allowed(
        expression: FilterExpression,
        items: IndexedFrame,
        user: InteractionRows | None,
        filter_values: Mapping[str, str] | None,
    ) -> BoolArray:
        try:
            return expression.allowed(items, user, filter_values)
        except FilterError as exc:
            raise RequestError(str(exc)) from None

    def _exclusions(
        self,
        serving: Serving,
        user_id: str,
        events: Sequence[StoredEvent],
        filter: str | None,
        filter_values: Mapping[str, str] | None,
    ) -> BoolArray | None:
        """Items the default filter and the request's filter keep out, or None for none."""
        excluded = (
            self._default_excluded(serving, self._default_filter, user_id, events)
            if self._default_filter is not None
            else None
        )
        if filter:
            expression = self._parse(filter)
            user = self._user_rows(user_id, events) if expression.uses_interactions else None
            refused = ~self._allowed(expression, serving.indexed, user, filter_values)
            excluded = refused if excluded is None else excluded | refused
        return excluded

    def _default_excluded(
        self,
        serving: Serving,
        expression: FilterExpression,
        user_id: str,
        events: Sequence[StoredEvent],
    ) -> BoolArray:
        """The default filter's exclusions: stored rows from the precomputed table, recent
        events evaluated now (or the whole filter evaluated now if it cannot be precomputed)."""
        view, stored = serving.default_view, self._stored_exclusions
        if view is None or stored is None:
            user = self._user_rows(user_id, events) if expression.uses_interactions else None
            return ~self._allowed(expression, serving.indexed, user, None)
        if events:
            excluded = ~self._allowed(
                expression, serving.indexed, event_rows(user_id, events), None
            )
        else:
            excluded = view.without_rows.copy()
        positions = view.positions[stored.codes(self._history.span(user_id))]
        excluded[positions[positions >= 0]] = True
        return excluded

    # ---- answers -----------------------------------------------------------------------------

    def _answer(self, ranked: Ranked) -> Recommendations:
        items = [self._item_info(item_id) for item_id in ranked.item_ids]
        return _records(items, ranked.scores, ranked.reasons)

    def _item_info(self, item_id: str) -> ItemInfo:
        """The catalogue's item, else an item added while serving, else the bare ID."""
        return (
            self._by_id.get(item_id)
            or self._added.current().by_id.get(item_id)
            or _unknown_item(item_id)
        )

    def _with_added(
        self,
        answer: Recommendations,
        count: int,
        serving: Serving,
        user_id: str,
        events: Sequence[StoredEvent],
        filter: str | None,
        filter_values: Mapping[str, str] | None,
    ) -> Recommendations:
        """``answer`` followed by the added items the filters allow, up to ``count``: cold
        items, after every item the model has data on, as a trained catalogue's cold
        items come (score 0, newest first)."""
        added = self._added.current()
        if added.table is None:
            return answer
        known = serving.model.recipe.catalogue.index
        allowed = np.array([item.item_id not in known for item in added.items], dtype=bool)
        request_filter = self._parse(filter) if filter else None
        for expression, values in (
            (self._default_filter, None),
            (request_filter, filter_values),
        ):
            if expression is None:
                continue
            user = self._user_rows(user_id, events) if expression.uses_interactions else None
            allowed &= self._allowed(expression, added.table, user, values)
        listed = {item.item_id for item in answer.item_list}
        extra = [
            RecommendedItem(
                item.item_id,
                item.service_name,
                item.category,
                item.description,
                0.0,
                NEW_ITEM_REASON,
            )
            for item, keep in zip(added.items, allowed.tolist(), strict=True)
            if keep and item.item_id not in listed
        ]
        if not extra:
            return answer
        return Recommendations(answer.recommendation_id, [*answer.item_list, *extra][:count])

    def recommend(
        self,
        user_id: str,
        num_results: int = 25,
        filter: str | None = None,
        filter_values: Mapping[str, str] | None = None,
    ) -> Recommendations:
        count = check_num_results(num_results)
        serving = self._active()
        events = self._events.recent(user_id, RECENT_EVENTS)
        answers = serving.answers
        if not events and not filter and answers is not None:
            known = answers.cells(user_id, count)
            if known is not None and len(known[0]) == count:
                return Recommendations(
                    recommendation_id(), ItemColumns(serving.items, *known, answers.reason_texts)
                )
        exclude = self._exclusions(serving, user_id, events, filter, filter_values)
        try:
            scored = serving.model.recipe.recommend_ranked(
                user_id,
                events=events,
                num_results=count,
                exclude=exclude,
            )
        except InvalidRequestError as exc:
            raise RequestError(str(exc)) from None
        answer = self._answer(scored)
        if len(answer.item_list) < count:
            return self._with_added(answer, count, serving, user_id, events, filter, filter_values)
        return answer

    def popular(
        self,
        user_id: str | None,
        num_results: int = 25,
        filter: str | None = None,
        filter_values: Mapping[str, str] | None = None,
    ) -> Recommendations:
        """The most used items, as a popularity-count campaign answers; with a user, the
        default filter and ``filter`` keep out what they keep out of that user's answers."""
        count = check_num_results(num_results)
        serving = self._active()
        user = user_id or ""
        events = self._events.recent(user, RECENT_EVENTS) if user_id else []
        exclude = self._exclusions(serving, user, events, filter, filter_values)
        answer = self._answer(serving.model.recipe.popular_ranked(count, exclude=exclude))
        if len(answer.item_list) < count:
            return self._with_added(answer, count, serving, user, events, filter, filter_values)
        return answer

    def rank(
        self,
        user_id: str,
        item_ids: Sequence[str],
        filter: str | None = None,
        filter_values: Mapping[str, str] | None = None,
    ) -> Recommendations:
        """``item_ids`` ordered for the user; with ``filter``, the items it keeps out are left
        out of the answer, as GetPersonalizedRanking does with a filterArn."""
        if not 1 <= len(item_ids) <= MAX_RANKING_INPUTS:
            raise RequestError(
                f"inputList must hold 1 to {MAX_RANKING_INPUTS} items, got {len(item_ids)}"
            )
        model = self._active().model
        events = self._events.recent(user_id, RECENT_EVENTS)
        if filter:
            item_ids = self._kept(item_ids, user_id, events, filter, filter_values)
            if not item_ids:
                return Recommendations(recommendation_id(), [])
        try:
            scored = model.recipe.rank(user_id, list(item_ids), events=events)
        except InvalidRequestError as exc:
            raise RequestError(str(exc)) from None
        return self._answer(Ranked.of(scored))

    def _kept(
        self,
        item_ids: Sequence[str],
        user_id: str,
        events: Sequence[StoredEvent],
        filter: str,
        filter_values: Mapping[str, str] | None,
    ) -> list[str]:
        """The items of ``item_ids`` that ``filter`` allows, judged on their own metadata (an
        item the catalogue lacks has none, so an INCLUDE on metadata leaves it out)."""
        expression = self._parse(filter)
        unique = list(dict.fromkeys(item_ids))
        table = IndexedFrame(
            pd.DataFrame([self._item_info(item) for item in unique]).rename(columns=str.upper)
        )
        user = self._user_rows(user_id, events) if expression.uses_interactions else None
        allowed = self._allowed(expression, table, user, filter_values)
        return [item for item, keep in zip(unique, allowed.tolist(), strict=True) if keep]

    def similar(
        self,
        item_id: str,
        num_results: int = 25,
        filter: str | None = None,
        filter_values: Mapping[str, str] | None = None,
        user_id: str | None = None,
    ) -> Recommendations:
        """Items used with ``item_id`` (an ID or a service name); an item the catalogue does
        not hold is not found, rather than answered with popular items that mean nothing.
        ``filter`` keeps items out as for recommendations, judged on ``user_id``'s
        interactions where it tests them (none without a user)."""
        count = check_num_results(num_results)
        item = self.find_item(item_id)
        if item is None:
            raise NotFoundError(f"item {item_id!r} is not in the catalogue")
        serving = self._active()
        exclude = None
        if filter:
            expression = self._parse(filter)
            user = None
            if expression.uses_interactions:
                who = user_id or ""
                user = self._user_rows(who, self._events.recent(who, RECENT_EVENTS))
            exclude = ~self._allowed(expression, serving.indexed, user, filter_values)
        try:
            scored = serving.model.recipe.similar_items(
                item.item_id, num_results=count, exclude=exclude
            )
        except InvalidRequestError as exc:
            raise RequestError(str(exc)) from None
        return self._answer(Ranked.of([entry for entry in scored if entry.item_id != item.item_id]))

    def find_item(self, key: str) -> ItemInfo | None:
        """The catalogue item with this ID, else the one this name stands for: any case or
        spacing, or an alias such as ``EC2`` (as ``srs prepare`` maps source names)."""
        found = (
            self._by_id.get(key)
            or self._by_key.get(alias_key(key))
            or self._added.current().by_id.get(key)
        )
        if found is not None:
            return found
        name = self._aliases.resolve(key)
        return None if name is None else self._by_name.get(name)

    # ---- events and history ------------------------------------------------------------------

    def put_events(self, user_id: str, session_id: str, events: Sequence[Event]) -> None:
        """Record ``events`` with their types in canonical form (``launch`` is stored as
        ``launched``), so the default filter and the event weights see what training sees."""
        for index, event in enumerate(events):
            if (
                event.item_id not in self._by_id
                and event.item_id not in self._added.current().by_id
            ):
                raise RequestError(
                    f"eventList[{index}].itemId {event.item_id!r} is not in the catalogue"
                )
        self._events.put_events(
            user_id, session_id, [self._canonical_event(event) for event in events]
        )

    def _canonical_event(self, event: Event) -> Event:
        canonical = self._vocabulary.canonical(event.event_type)
        event_type = canonical or normalise_event_type(event.event_type) or event.event_type
        return event if event_type == event.event_type else replace(event, event_type=event_type)

    def history(self, user_id: str, limit: int = 50, offset: int = 0) -> HistoryPage:
        if limit < 1 or offset < 0:
            raise RequestError(f"limit must be >= 1 and offset >= 0, got {limit} and {offset}")
        recorded = self._events.count(user_id)
        stored = self._history.count(user_id)
        if recorded + stored == 0:
            raise NotFoundError(f"user {user_id!r} has no interactions")
        entries: list[HistoryEntry] = []
        if offset < recorded:
            for event in self._events.recent(user_id, offset + limit)[offset:]:
                entries.append(
                    self._entry(event.item_id, event.event_type, event.event_value, event.sent_at)
                )
        remaining = limit - len(entries)
        if remaining > 0:
            for row in self._history.get_user_history(
                user_id, limit=remaining, offset=max(0, offset - recorded)
            ):
                entries.append(
                    self._entry(row.item_id, row.event_type, row.event_value, row.timestamp)
                )
        return HistoryPage(entries, recorded + stored)

    def _entry(self, item_id: str, event_type: str, value: float, timestamp: int) -> HistoryEntry:
        item = self._item_info(item_id)
        return HistoryEntry(item_id, item.service_name, item.category, event_type, value, timestamp)

    # ---- browsing ----------------------------------------------------------------------------

    def items(self) -> list[ItemInfo]:
        """The catalogue, then the items added while serving that it lacks."""
        return [*self._items, *self._added.current().items]

    def search_users(self, prefix: str, limit: int = 10) -> list[str]:
        """Users of the prepared data and users known only through recorded feedback."""
        found = set(self._history.users_starting_with(prefix, limit))
        found.update(self._events.users_starting_with(prefix, limit))
        found.update(self._added.users_starting_with(prefix, limit))
        return sorted(found)[:limit]

    def activity(self, days: int = DEFAULT_DAYS, top: int = DEFAULT_TOP_SERVICES) -> Activity:
        """The data page's figures, worked out again only when an event was committed since:
        the aggregate has a row per day and item, growing with the events stored, and a page
        that many people keep open must not cost that on every view."""
        version = self._events.committed_version()
        key = None if version is None else (days, top, version)
        cached = self._activity_cache.get(key) if key is not None else None
        if cached is not None:
            return cached
        names = {item.item_id: item.service_name for item in self._items}
        recorded = self._events.daily_item_counts()
        activity = summarize_counts(
            self._history.activity_counts,
            names,
            days=days,
            top=top,
            recorded=LogCounts.from_daily_items(recorded.days, recorded.item_ids, recorded.counts),
        )
        if key is not None:
            self._activity_cache.clear()
            self._activity_cache[key] = activity
        return activity


def _retained_events(settings: Settings) -> EventStore:
    """The worker's event store, with events past the retention period deleted first, so a
    server that runs for months does not grow its database without bound."""
    events = EventStore(settings.events_path)
    if settings.events_retention_days > 0:
        removed = events.compact(settings.events_retention_days)
        if removed:
            log.info("events: %d event(s) past the retention period deleted", removed)
    return events


def _records(
    items: Sequence[ItemInfo], scores: Sequence[float | None], reasons: Sequence[str]
) -> Recommendations:
    """The service's answer, built column by column (no intermediate object per item)."""
    return Recommendations(
        recommendation_id(),
        list(
            map(
                RecommendedItem,
                [item.item_id for item in items],
                [item.service_name for item in items],
                [item.category for item in items],
                [item.description for item in items],
                scores,
                reasons,
            )
        ),
    )


def recommendation_id() -> str:
    """A random (version 4) UUID, as text. ``str(uuid.uuid4())`` builds a UUID object from
    a system call's bytes, which costs more, on every request; an ID for attributing
    feedback needs uniqueness, not secrecy, and ``random`` reseeds in each forked worker."""
    text = f"{getrandbits(128) & _UUID_VERSION_CLEAR | _UUID_VERSION_4:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def history_rows(user_id: str, rows: UserRows) -> InteractionRows:
    """A user's stored rows as the filter evaluator's columns, sharing the history's arrays."""
    return InteractionRows(
        {
            "USER_ID": CodedText(np.zeros(len(rows), dtype=np.intp), (user_id,)),
            "ITEM_ID": CodedText(rows.item_codes, rows.item_ids),
            "EVENT_TYPE": CodedText(rows.event_type_codes, rows.event_types),
            "EVENT_VALUE": rows.event_values,
            "TIMESTAMP": rows.timestamps,
        }
    )


def event_rows(user_id: str, events: Sequence[StoredEvent]) -> InteractionRows:
    """Recorded events as the same columns (each event's text is its own code)."""
    count = len(events)
    own = np.arange(count)
    return InteractionRows(
        {
            "USER_ID": CodedText(np.zeros(count, dtype=np.intp), (user_id,)),
            "ITEM_ID": CodedText(own, [event.item_id for event in events]),
            "EVENT_TYPE": CodedText(own, [event.event_type for event in events]),
            "EVENT_VALUE": np.fromiter((e.event_value for e in events), np.float64, count),
            "TIMESTAMP": np.fromiter((e.sent_at for e in events), np.int64, count),
        }
    )
