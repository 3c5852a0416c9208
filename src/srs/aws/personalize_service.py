"""The ``personalize`` backend of RecommendationService: campaigns answer, the event tracker learns.

The web app and the API call the same methods as on the embedded engine; this backend turns them
into GetRecommendations, GetPersonalizedRanking and PutEvents calls and turns the answers back
into plain data, with each ITEM_ID mapped to its service through the prepared catalogue. History
is not something Personalize can answer, so it comes from the data store, as in the seed (an
injected reader). A filter is the expression text the app already uses; set-up created one
Personalize filter per expression, and this backend looks its ARN up by that text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from srs.aws.errors import error_code, message_text
from srs.events.event import Event, EventError, check_batch
from srs.serving.service import (
    MAX_RANKING_INPUTS,
    HistoryPage,
    ItemInfo,
    ModelInfo,
    NotReadyError,
    Recommendations,
    RecommendedItem,
    RequestError,
    check_num_results,
)

DEFAULT_REASON = "recommended by Amazon Personalize"
_REQUEST_CODES = frozenset({"InvalidInputException", "ValidationException"})

HistoryReader = Callable[[str, int, int], HistoryPage]
UserSearch = Callable[[str, int], list[str]]


def catalog_from_frame(items: pd.DataFrame) -> list[ItemInfo]:
    """ItemInfo rows from a prepared items.csv frame (DESCRIPTION optional)."""
    descriptions = items["DESCRIPTION"] if "DESCRIPTION" in items else [""] * len(items)
    return [
        ItemInfo(str(item_id), str(name), str(category), str(description or ""))
        for item_id, name, category, description in zip(
            items["ITEM_ID"], items["SERVICE_NAME"], items["CATEGORY"], descriptions, strict=True
        )
    ]


class PersonalizeRecommendationService:
    """RecommendationService over a deployed campaign; see the module docstring."""

    def __init__(
        self,
        runtime: Any,
        events: Any,
        campaign_arn: str,
        tracking_id: str,
        items: Sequence[ItemInfo],
        history: HistoryReader,
        filter_arns: Mapping[str, str] | None = None,
        ranking_campaign_arn: str | None = None,
        similar_campaign_arn: str | None = None,
        model: ModelInfo | None = None,
        search_users: UserSearch | None = None,
        default_filter: str | None = None,
    ) -> None:
        self._runtime = runtime
        self._events = events
        self._campaign_arn = campaign_arn
        self._tracking_id = tracking_id
        self._items = list(items)
        self._by_id = {item.item_id: item for item in self._items}
        self._history = history
        self._filter_arns = dict(filter_arns or {})
        self._ranking_campaign_arn = ranking_campaign_arn
        self._similar_campaign_arn = similar_campaign_arn
        self._model = model or ModelInfo(
            version=campaign_arn, recipe="personalize", trained_at="", training_seconds=0.0
        )
        self._search_users = search_users
        self._default_filter = default_filter or None

    # -- mapping ----------------------------------------------------------------------------

    def _item(self, entry: Mapping[str, Any]) -> RecommendedItem:
        item_id = str(entry["itemId"])
        info = self._by_id.get(item_id, ItemInfo(item_id, item_id, "", ""))
        reasons = entry.get("reason") or []
        score = entry.get("score")
        return RecommendedItem(
            item_id=item_id,
            service_name=info.service_name,
            category=info.category,
            description=info.description,
            score=None if score is None else float(score),
            reason="; ".join(str(reason) for reason in reasons) or DEFAULT_REASON,
        )

    def _answer(self, response: Mapping[str, Any], key: str) -> Recommendations:
        return Recommendations(
            recommendation_id=str(response.get("recommendationId", "")),
            item_list=[self._item(entry) for entry in response.get(key, [])],
        )

    def _call(self, client: Any, operation: str, **params: Any) -> dict[str, Any]:
        """Call AWS; a bad request is the caller's 4xx, anything else is 'not ready' (503)."""
        try:
            result: dict[str, Any] = getattr(client, operation)(**params)
        except ClientError as exc:
            code = error_code(exc)
            message = message_text(str(exc.response.get("Error", {}).get("Message", "")))
            if code in _REQUEST_CODES:
                raise RequestError(f"Personalize rejected the request: {message}") from exc
            if code == "ResourceNotFoundException":
                raise NotReadyError(
                    f"Personalize resource not found ({message}); run 'srs aws setup'"
                ) from exc
            raise NotReadyError(f"Personalize {operation} failed: {code}: {message}") from exc
        except BotoCoreError as exc:
            raise NotReadyError(f"Personalize {operation} failed: {exc}") from exc
        return result

    def _filter(self, expression: str | None, values: Mapping[str, str] | None) -> dict[str, Any]:
        if not expression:
            return {}
        arn = self._filter_arns.get(expression)
        if arn is None:
            raise RequestError(
                f"filter {expression!r} is not deployed on Personalize; add it to the "
                "settings and run 'srs aws setup' again"
            )
        params: dict[str, Any] = {"filterArn": arn}
        if values:
            params["filterValues"] = dict(values)
        return params

    # -- RecommendationService ----------------------------------------------------------------

    def recommend(
        self,
        user_id: str,
        num_results: int = 25,
        filter: str | None = None,
        filter_values: Mapping[str, str] | None = None,
    ) -> Recommendations:
        response = self._call(
            self._runtime,
            "get_recommendations",
            campaignArn=self._campaign_arn,
            userId=user_id,
            numResults=check_num_results(num_results),
            **self._filter(filter or self._default_filter, filter_values),
        )
        return self._answer(response, "itemList")

    def rank(self, user_id: str, item_ids: Sequence[str]) -> Recommendations:
        if self._ranking_campaign_arn is None:
            raise NotReadyError("no personalized-ranking campaign is deployed on Personalize")
        if not 1 <= len(item_ids) <= MAX_RANKING_INPUTS:
            raise RequestError(
                f"inputList must hold 1 to {MAX_RANKING_INPUTS} items, got {len(item_ids)}"
            )
        response = self._call(
            self._runtime,
            "get_personalized_ranking",
            campaignArn=self._ranking_campaign_arn,
            userId=user_id,
            inputList=list(item_ids),
        )
        return self._answer(response, "personalizedRanking")

    def similar(self, item_id: str, num_results: int = 25) -> Recommendations:
        if self._similar_campaign_arn is None:
            raise NotReadyError("no similar-items campaign is deployed on Personalize")
        response = self._call(
            self._runtime,
            "get_recommendations",
            campaignArn=self._similar_campaign_arn,
            itemId=item_id,
            numResults=check_num_results(num_results),
        )
        return self._answer(response, "itemList")

    def put_events(self, user_id: str, session_id: str, events: Sequence[Event]) -> None:
        """The event rules every backend applies (``check_batch``), whoever the caller."""
        try:
            check_batch(user_id, session_id, events)
        except EventError as exc:
            raise RequestError(str(exc)) from None
        self._call(
            self._events,
            "put_events",
            trackingId=self._tracking_id,
            userId=user_id,
            sessionId=session_id,
            eventList=[
                {
                    "eventType": event.event_type,
                    "itemId": event.item_id,
                    "eventValue": float(event.event_value),
                    "sentAt": datetime.fromtimestamp(event.sent_at, tz=UTC),
                }
                for event in events
            ],
        )

    def history(self, user_id: str, limit: int = 50, offset: int = 0) -> HistoryPage:
        return self._history(user_id, limit, offset)

    def items(self) -> list[ItemInfo]:
        return list(self._items)

    def model_info(self) -> ModelInfo:
        return self._model

    def search_users(self, prefix: str, limit: int = 10) -> list[str]:
        return self._search_users(prefix, limit) if self._search_users else []

    def is_ready(self) -> bool:
        return bool(self._campaign_arn and self._tracking_id)
