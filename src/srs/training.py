"""``srs train``: prepared data + recorded events → a verified, activated model version.

Settings are chosen on validation folds of the training part of Personalize's split
(``engine/evaluation/validation.py``, ``tuning.choose_parameters``), the metrics are measured on its
held-out users (as GetSolutionMetrics reports them), and the model that serves is then refitted
on everything, events included, so feedback recorded since the last training counts.

With ``blend``, user-personalization's blend weights are learned on the same folds and adopted
only if the blended lists beat the item-item model's own order on folds they were not learnt
on, by more than the folds disagree: the blend costs several times the training and request
time, so it has to earn its place on the data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from srs.catalogue_additions import ADDITIONS_FILE, CatalogueAdditions
from srs.config import Settings
from srs.data.dataset_version import current_dataset, read_items
from srs.data.prepare import INTERACTIONS_FILE, ITEMS_FILE
from srs.data.store import DataStore, open_store, read_store_csv, require_prepared
from srs.engine.errors import HyperparameterError
from srs.engine.evaluation.metrics import PERSONALIZE_METRICS
from srs.engine.evaluation.tasks import EvaluationTask, evaluate_model, personalize_task
from srs.engine.evaluation.tuning import (
    SEARCH_STAGES,
    choose_parameters,
    default_weighting,
    event_weights,
    judge_blend,
    search_folds,
)
from srs.engine.evaluation.validation import timestamp_report
from srs.engine.model_store import TRAINING_FILE, LoadedModel, ModelStore
from srs.engine.recipes.registry import DEFAULT_RECIPE, create_recipe
from srs.engine.weights import EventWeights
from srs.events.store import EventStore
from srs.serving.service import ItemInfo

INTERACTION_DTYPES = {
    "USER_ID": str,
    "ITEM_ID": str,
    "EVENT_TYPE": str,
    "EVENT_VALUE": "float64",
    "TIMESTAMP": "int64",
}

Progress = Callable[[str], None]

MIN_RELIABLE_USERS = 50
"""Held-out users below which offline metrics are reported as not reliable: with fewer, one
user's hit moves nDCG by more than two recipes usually differ."""
SCRATCH_PREFIX = ".train-"
STALE_SCRATCH_SECONDS = 6 * 3600
"""Age past which a ``.train-*`` scratch folder is a killed run's: a live run fills its folder
and publishes it within minutes, so one untouched for hours has no owner left."""
GATE_METRIC = "normalized_discounted_cumulative_gain_at_10"
"""The figure a new model must not lose on against popularity to replace the serving one."""
BASELINE_RECIPE = "popularity-count"


@dataclass(frozen=True)
class TrainingData:
    interactions: pd.DataFrame
    items: pd.DataFrame
    events: int

    def recorded(self, frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
        """Which rows of ``frame`` (this data or a part of it) are feedback SRS recorded: their
        judgements always count (``weights.py``)."""
        first = len(self.interactions) - self.events
        return np.asarray(frame.index.to_numpy() >= first, dtype=bool)


def held_out_metrics(
    recipe: str,
    weights: EventWeights,
    parameters: Mapping[str, Any],
    task: EvaluationTask,
    data: TrainingData,
) -> dict[str, float]:
    """The metrics of a model fitted on the task's training part; the model is dropped on
    return, so a large catalogue's weights are not held twice during the final fit."""
    held_out = create_recipe(recipe, weights, **parameters).fit(
        task.fit_frame, data.items, signed_rows=data.recorded(task.fit_frame)
    )
    return evaluate_model(held_out, task)


def load_training_data(
    store: DataStore, events: EventStore | None, added: Sequence[ItemInfo] = ()
) -> TrainingData:
    """The prepared dataset from ``store`` plus every recorded event, and the ``added`` items
    (PutItems) the dataset lacks, so they join the next model's catalogue."""
    dataset = current_dataset(store)
    require_prepared(store, (dataset.key(INTERACTIONS_FILE), dataset.key(ITEMS_FILE)))
    interactions = read_store_csv(
        store, dataset.key(INTERACTIONS_FILE), dtype=INTERACTION_DTYPES, keep_default_na=False
    )
    items = read_items(store, dataset)
    items = with_added_items(items, added)
    recorded = list(events.iter_batches()) if events is not None else []
    if recorded:
        frames = [interactions, *(table.to_pandas() for table in recorded)]
        interactions = pd.concat(frames, ignore_index=True).astype(INTERACTION_DTYPES)
    return TrainingData(interactions, items, sum(t.num_rows for t in recorded))


def with_added_items(items: pd.DataFrame, added: Sequence[ItemInfo]) -> pd.DataFrame:
    """``items`` and, after them, the added items whose IDs it does not list."""
    listed = set(items["ITEM_ID"].tolist()) if "ITEM_ID" in items else set()
    rows = [
        {
            "ITEM_ID": item.item_id,
            "SERVICE_NAME": item.service_name,
            "CATEGORY": item.category,
            "DESCRIPTION": item.description,
        }
        for item in added
        if item.item_id not in listed
    ]
    if not rows:
        return items
    return pd.concat([items, pd.DataFrame(rows, columns=items.columns)], ignore_index=True)


def data_fingerprint(interactions: pd.DataFrame) -> str:
    """SHA-256 over the rows, so a model records exactly which data it learnt from."""
    hashed = pd.util.hash_pandas_object(interactions, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def version_name(when: dt.datetime, fingerprint: str) -> str:
    """Sortable by time, unique per data: ``20261126T120000Z-1a2b3c4d``."""
    return f"{when:%Y%m%dT%H%M%SZ}-{fingerprint[:8]}"


def unused_version_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``…: two trainings on the same data in the same second
    (another recipe, ``--force``) must not overwrite each other's files."""
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}-{number}"
    return candidate


def remove_stale_scratch(data_dir: Path, now: float | None = None) -> list[Path]:
    """Remove the scratch folders of killed trainings, which nothing else ever removes.

    Only folders untouched for ``STALE_SCRATCH_SECONDS`` go, so a training running beside
    this one keeps its own. Returns what was removed.
    """
    if not data_dir.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - STALE_SCRATCH_SECONDS
    removed = []
    for path in data_dir.glob(f"{SCRATCH_PREFIX}*"):
        try:
            stale = path.is_dir() and not path.is_symlink() and path.stat().st_mtime < cutoff
        except OSError:
            continue
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def train_and_activate(
    settings: Settings,
    recipe: str = DEFAULT_RECIPE,
    *,
    tune: bool = True,
    evaluate: bool = True,
    blend: bool = False,
    force: bool = False,
    seed: int = 0,
    progress: Progress | None = None,
) -> LoadedModel:
    """Train ``recipe`` on the store's dataset and events, publish it and make it serve.

    A version that ranks below popularity on the held-out users is published but not
    activated while another version serves, unless ``force``: a retrain must not make the
    answers worse than the simplest baseline. Whether it serves is ``training["activated"]``.
    """
    say = progress or (lambda _: None)
    remove_stale_scratch(settings.data_dir)
    store = open_store(settings)
    events = EventStore(settings.events_path) if settings.events_path.exists() else None
    say("loading data")
    additions = settings.data_dir / ADDITIONS_FILE
    added = CatalogueAdditions(additions).items() if additions.exists() else []
    data = load_training_data(store, events, added)
    started = time.perf_counter()

    parameters: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    blending = blend and recipe in BLENDABLE_RECIPES
    timestamps = timestamp_report(data.interactions)
    task = (
        personalize_task(data.interactions, seed=seed, by_time=timestamps.informative)
        if (tune or evaluate or blending)
        else None
    )
    tuning: dict[str, Any] | None = None
    weights = event_weights(default_weighting(data.interactions))
    if tune and task is not None and SEARCH_STAGES.get(recipe):
        say("tuning on validation folds of the training part")
        choice = choose_parameters(
            recipe, task.fit_frame, items=data.items, seed=seed + 1, progress=say
        )
        parameters, weights, tuning = dict(choice.parameters), choice.weights, choice.summary()
    blend_report: dict[str, Any] = {}
    if blending and task is not None:
        say("learning the blend on validation folds")
        folds = search_folds(task.fit_frame, seed=seed + 1)
        blend_report = blend_decision(folds, parameters, weights, data.items)
        if blend_report["adopted"]:
            parameters = {**parameters, "blend": blend_report["weights"]}
    quality: dict[str, Any] = {}
    if evaluate and task is not None:
        say("measuring on held-out users")
        measured = held_out_metrics(recipe, weights, parameters, task, data)
        metrics = {name: measured[name] for name in PERSONALIZE_METRICS if name in measured}
        say("measuring popularity on the same held-out users")
        baseline = evaluate_model(create_recipe(BASELINE_RECIPE).fit(task.fit_frame), task)
        quality = judge_metrics(metrics, baseline, int(measured.get("users", 0)))
        quality["heldout_split"] = (
            "the newest 10% of each held-out user's interactions"
            if timestamps.informative
            else f"a random 10% of each held-out user's interactions ({timestamps.reason})"
        )

    say("training on all data")
    model = create_recipe(recipe, weights, **parameters).fit(
        data.interactions, data.items, signed_rows=data.recorded(data.interactions)
    )
    fingerprint = data_fingerprint(data.interactions)
    models = ModelStore(store, settings.model_cache_dir)
    previous = models.active_version()
    activated = force or previous is None or not quality.get("worse_than_baseline", False)
    training = {
        "recipe": recipe,
        "parameters": parameters,
        "metrics": metrics,
        "data_fingerprint": fingerprint,
        "interactions": len(data.interactions),
        "events": data.events,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "training_seconds": round(time.perf_counter() - started, 3),
        "fit_seconds": model.stats.get("training_seconds"),
        "tuning": tuning,
        "blend": blend_report or None,
        **quality,
        "activated": activated,
        "kept_version": None if activated else previous,
    }
    version = unused_version_name(
        version_name(dt.datetime.now(dt.UTC), fingerprint), set(models.versions())
    )
    say(f"saving version {version}")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=SCRATCH_PREFIX) as scratch:
        directory = Path(scratch)
        model.save(directory)
        (directory / TRAINING_FILE).write_text(json.dumps(training, indent=2), encoding="utf-8")
        models.publish(directory, version)
    if not activated:
        say(f"keeping {previous}: the new version ranks below popularity")
        return models.load(version, verify=True)
    say("verifying and activating")
    return models.activate(version)


def judge_metrics(
    metrics: dict[str, float], baseline: dict[str, float], heldout_users: int
) -> dict[str, Any]:
    """What the held-out figures can be trusted for: whether there were enough users, and
    whether the model beats the popularity baseline measured on the very same users."""
    baseline_metrics = {name: baseline[name] for name in PERSONALIZE_METRICS if name in baseline}
    worse = (
        GATE_METRIC in metrics
        and GATE_METRIC in baseline_metrics
        and metrics[GATE_METRIC] < baseline_metrics[GATE_METRIC]
    )
    return {
        "heldout_users": heldout_users,
        "metrics_reliable": heldout_users >= MIN_RELIABLE_USERS,
        "min_reliable_users": MIN_RELIABLE_USERS,
        "baseline_recipe": BASELINE_RECIPE,
        "baseline_metrics": baseline_metrics,
        "worse_than_baseline": bool(worse),
    }


BLENDABLE_RECIPES = frozenset({"user-personalization", "personalized-ranking"})


def blend_decision(
    folds: list[EvaluationTask],
    parameters: dict[str, Any],
    weights: EventWeights | None,
    items: pd.DataFrame | None,
) -> dict[str, Any]:
    """Learned blend weights and their out-of-fold gain over the item-item order; kept only
    when the gain is larger than the folds' spread. Too little validation data to learn from
    is a "not adopted" with why."""
    try:
        learned, gain = judge_blend(folds, parameters, weights=weights, items=items)
    except HyperparameterError as exc:
        return {"adopted": False, "reason": str(exc)}
    return {
        "adopted": gain.wins,
        "weights": learned.weights,
        "validation_ndcg_at_10": round(learned.cv_ndcg, 4),
        "item_item_ndcg_at_10": round(learned.item_item_ndcg, 4),
        "gain_by_fold": gain.describe(),
        "reason": (
            f"it beat the item-item order by {gain.describe()} nDCG@10 on folds it was not "
            "learnt on"
            if gain.wins
            else f"its gain {gain.describe()} nDCG@10 is within the folds' spread"
        ),
    }
