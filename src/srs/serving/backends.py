"""Which RecommendationService answers: chosen once, from settings, for the CLI and the web.

The web app and the API only ever see the ``RecommendationService`` interface, so
switching ``SRS_BACKEND`` between the embedded engine and a Personalize campaign
changes nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from srs.config import Settings
from srs.data.dataset_version import current_dataset, read_items
from srs.data.history import InteractionHistory
from srs.data.prepare import INTERACTIONS_FILE
from srs.data.store import open_store
from srs.named_filters import LOCAL_ACCOUNT
from srs.serving.service import (
    HistoryEntry,
    HistoryPage,
    ItemInfo,
    NotFoundError,
    NotReadyError,
    RecommendationService,
)

HistoryReader = Callable[[str, int, int], HistoryPage]


def open_service(settings: Settings) -> RecommendationService:
    """The backend ``settings.backend`` names, ready to answer."""
    if settings.backend == "personalize":
        return personalize_service(settings)
    if settings.backend == "batch":
        return batch_service(settings)
    from srs.serving.local_service import LocalRecommendationService

    return LocalRecommendationService.from_settings(settings)


def _catalogue_and_history(
    settings: Settings,
) -> tuple[list[ItemInfo], HistoryReader, InteractionHistory]:
    """Items and a history reader from the prepared data in the store.

    Personalize keeps no queryable copy of what it was given, so on the AWS backends a
    history request still reads the data store, local or S3.
    """
    from srs.aws.personalize_service import catalog_from_frame

    store = open_store(settings)
    dataset = current_dataset(store)
    items = catalog_from_frame(read_items(store, dataset))
    names = {item.item_id: item for item in items}
    history = InteractionHistory.from_store(store, dataset.key(INTERACTIONS_FILE))

    def read_history(user_id: str, limit: int, offset: int) -> HistoryPage:
        total = history.count(user_id)
        if total == 0:
            raise NotFoundError(f"user {user_id!r} has no interactions")
        rows = history.get_user_history(user_id, limit=limit, offset=offset)
        return HistoryPage(
            [
                HistoryEntry(
                    row.item_id,
                    names[row.item_id].service_name if row.item_id in names else row.item_id,
                    names[row.item_id].category if row.item_id in names else "",
                    row.event_type,
                    row.event_value,
                    row.timestamp,
                )
                for row in rows
            ],
            total,
        )

    return items, read_history, history


def personalize_service(
    settings: Settings, runtime: Any | None = None, events: Any | None = None
) -> RecommendationService:
    """The campaign, event tracker and filters that ``srs aws setup`` recorded.

    ``runtime`` and ``events`` replace the boto3 clients (personalize-runtime,
    personalize-events) that are otherwise made here.
    """
    from srs.aws.clients import make_client
    from srs.aws.personalize_service import PersonalizeRecommendationService
    from srs.aws.state import DeploymentState

    state = DeploymentState.load(settings.aws_state_path)
    region = state.get("region") or settings.s3_region
    items, read_history, history = _catalogue_and_history(settings)
    default_arn = state.get("filter_arn:default")
    filters = {settings.default_filter: default_arn} if default_arn else {}
    endpoint = settings.personalize_endpoint_url or None
    local = local_personalize(region) if endpoint else {}
    session = local_personalize_session() if endpoint else None
    return PersonalizeRecommendationService(
        runtime=runtime or make_client("personalize-runtime", region, endpoint, session),
        events=events or make_client("personalize-events", region, endpoint, session),
        campaign_arn=state.get("campaign_arn") or local.get("campaign_arn", ""),
        tracking_id=state.get("tracking_id") or local.get("tracking_id", ""),
        items=items,
        history=read_history,
        filter_arns=filters,
        ranking_campaign_arn=local.get("ranking_campaign_arn"),
        similar_campaign_arn=local.get("similar_campaign_arn"),
        search_users=history.users_starting_with,
        default_filter=settings.default_filter if default_arn else None,
    )


def local_personalize(region: str) -> dict[str, str]:
    """The campaigns and tracker another ``srs serve`` answers for (its ``/personalize``
    protocol takes any name and picks the recipe by it), for an endpoint with no set-up run."""
    prefix = f"arn:aws:personalize:{region}:{LOCAL_ACCOUNT}:campaign/srs-"
    return {
        "campaign_arn": prefix + "user-personalization",
        "ranking_campaign_arn": prefix + "personalized-ranking",
        "similar_campaign_arn": prefix + "similar-items",
        "tracking_id": "srs-local",
    }


def local_personalize_session() -> Any:
    """boto3's session, with stand-in credentials when none are configured: requests are
    signed, and a local endpoint accepts any key unless told otherwise."""
    import boto3

    session = boto3.session.Session()
    if session.get_credentials() is None:
        session = boto3.session.Session(
            aws_access_key_id=LOCAL_ACCOUNT, aws_secret_access_key=LOCAL_ACCOUNT
        )
    return session


def batch_service(settings: Settings, s3_client: Any | None = None) -> RecommendationService:
    """The results of the last ``srs aws batch`` job, served with no campaign running.

    Feedback is kept in the local EventStore (there is no event tracker to send it to) and
    goes to Personalize with the next import.
    """
    from srs.aws.batch import BatchRecommendationService, load_batch_results
    from srs.aws.clients import make_clients
    from srs.aws.state import DeploymentState
    from srs.data.store import S3Store
    from srs.events.store import EventStore

    state = DeploymentState.load(settings.aws_state_path)
    key, bucket = state.get("batch_output_key"), state.get("bucket")
    if not key or not bucket:
        raise NotReadyError(f"{state.path}: no batch results recorded; run 'srs aws batch' first")
    region = state.get("region") or settings.s3_region
    store = S3Store(
        bucket=bucket,
        prefix=state.get("data_prefix") or "",
        client=s3_client or make_clients(region).s3,
    )
    items, read_history, _ = _catalogue_and_history(settings)
    return BatchRecommendationService(
        results=load_batch_results(store, key),
        items=items,
        history=read_history,
        record_events=EventStore(settings.events_path).put_events,
    )
