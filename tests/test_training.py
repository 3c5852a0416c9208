"""Training end to end: data + events → a verified version that becomes the active one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srs.config import Settings, load_settings
from srs.data.store import LocalStore, S3Store
from srs.engine.errors import ModelFormatError
from srs.engine.evaluation.metrics import PERSONALIZE_METRICS
from srs.engine.evaluation.validation import validation_folds
from srs.engine.model_store import ACTIVE_KEY, ModelStore, NoActiveModelError
from srs.events.event import Event
from srs.events.store import EventStore
from srs.training import (
    blend_decision,
    load_training_data,
    train_and_activate,
    unused_version_name,
)


def settings_for(data_dir: Path, **overrides: object) -> Settings:
    return load_settings(environ={}, overrides={"data_dir": data_dir, **overrides})


def test_training_activates_a_version_with_metrics_and_fingerprint(data_dir: Path) -> None:
    settings = settings_for(data_dir)
    models = ModelStore(LocalStore(data_dir), data_dir / "cache")
    with pytest.raises(NoActiveModelError, match="run 'srs train' first"):
        models.load_active()

    steps: list[str] = []
    loaded = train_and_activate(settings, tune=False, progress=steps.append)

    assert models.active_version() == loaded.version == models.versions()[-1]
    assert steps[0] == "loading data" and steps[-1] == "verifying and activating"
    training = loaded.training
    assert set(training["metrics"]) == set(PERSONALIZE_METRICS)
    assert 0 < training["metrics"]["normalized_discounted_cumulative_gain_at_10"] <= 1
    assert loaded.version.endswith(training["data_fingerprint"][:8])
    assert training["events"] == 0
    assert models.load_active().recipe.recommend("user_000001", num_results=3)


def test_tuning_records_what_it_chose_and_why(data_dir: Path) -> None:
    steps: list[str] = []
    loaded = train_and_activate(
        settings_for(data_dir), tune=True, evaluate=False, progress=steps.append
    )
    tuning = loaded.training["tuning"]
    assert tuning["folds"] == 3 and tuning["timestamps_informative"] is True
    assert tuning["chosen_score"] >= tuning["default_score"] > tuning["popularity_score"]
    assert tuning["why"]
    chosen = loaded.recipe.hyperparameters()
    assert all(chosen[name] == value for name, value in loaded.training["parameters"].items())
    assert loaded.recipe.weights.negative_history == tuning["weighting"]["negative_feedback"]
    assert any("left" in step for step in steps)  # progress with an ETA


def test_recorded_events_are_part_of_the_next_model(data_dir: Path) -> None:
    settings = settings_for(data_dir)
    before = train_and_activate(settings, tune=False, evaluate=False)
    assert not before.recipe.knows_user("newcomer")
    EventStore(settings.events_path).put_events(
        "newcomer", "s1", [Event("launched", "svc-0001", 1_700_000_000, 5.0)]
    )
    after = train_and_activate(settings, tune=False, evaluate=False)
    assert after.training["events"] == 1
    assert after.training["data_fingerprint"] != before.training["data_fingerprint"]
    assert after.recipe.knows_user("newcomer")


def test_a_corrupt_version_is_refused_and_the_previous_stays_active(data_dir: Path) -> None:
    settings = settings_for(data_dir)
    first = train_and_activate(settings, tune=False, evaluate=False)
    store = LocalStore(data_dir)
    models = ModelStore(store, data_dir / "cache")

    broken = "20991231T000000Z-broken00"
    source = models.local_dir(first.version)
    for path in source.iterdir():
        store.put_file(f"models/{broken}/{path.name}", path)
    largest = max(
        (p for p in (data_dir / "models" / broken).glob("*.npy")), key=lambda p: p.stat().st_size
    )
    largest.write_bytes(largest.read_bytes()[: largest.stat().st_size // 2])

    with pytest.raises(ModelFormatError, match="truncated or corrupted"):
        models.activate(broken)
    assert models.active_version() == first.version

    (data_dir / "models" / broken / "model.json").unlink()
    with pytest.raises(ModelFormatError, match="not a saved SRS model"):
        models.activate(broken)
    assert models.active_version() == first.version


def test_models_live_in_s3_and_load_from_a_local_cache(
    data_dir: Path, moto_endpoint: str, s3_bucket: str, s3_client: object, tmp_path: Path
) -> None:
    trained = train_and_activate(settings_for(data_dir), tune=False, evaluate=False)
    remote = ModelStore(
        S3Store(s3_bucket, "team/", endpoint_url=moto_endpoint, client=s3_client),
        tmp_path / "cache",
    )
    remote.publish(
        LocalStore(data_dir).local_path(f"models/{trained.version}/model.json").parent,
        trained.version,
    )  # type: ignore[union-attr]
    assert remote.active_version() is None
    loaded = remote.activate(trained.version)
    assert remote.active_version() == trained.version
    assert (tmp_path / "cache" / trained.version / "model.json").exists()
    assert S3Store(s3_bucket, "team/", endpoint_url=moto_endpoint, client=s3_client).exists(
        ACTIVE_KEY
    )
    ours = loaded.recipe.recommend("user_000002", num_results=5)
    theirs = trained.recipe.recommend("user_000002", num_results=5)
    assert [i.item_id for i in ours] == [i.item_id for i in theirs]
    assert np.allclose([i.score or 0 for i in ours], [i.score or 0 for i in theirs])


def test_a_blend_is_learned_on_validation_and_kept_only_if_it_wins(data_dir: Path) -> None:
    loaded = train_and_activate(settings_for(data_dir), tune=False, evaluate=False, blend=True)
    decision = loaded.training["blend"]
    assert decision["validation_ndcg_at_10"] > 0 and decision["item_item_ndcg_at_10"] > 0
    wins = decision["validation_ndcg_at_10"] > decision["item_item_ndcg_at_10"]
    assert decision["adopted"] == wins
    kept = loaded.recipe.hyperparameters()["blend"]
    assert (kept == decision["weights"]) if wins else kept is None


def test_a_blend_decision_on_two_eras_keeps_the_blend_and_says_why_not_on_too_little_data() -> None:
    rows = []
    rng = np.random.default_rng(0)
    for era in range(2):
        for user in range(60):
            start = 1_700_000_000 + era * 365 * 86_400 + int(rng.integers(0, 30)) * 86_400
            shared = rng.choice(4, 3, replace=False)
            own = rng.choice(6, 3, replace=False)
            items = [f"shared_{k}" for k in shared] + [f"era{era}_{k}" for k in own]
            for step, item in enumerate(items):
                rows.append((f"e{era}_{user:02d}", item, "launched", 4.0, start + step))
    frame = pd.DataFrame(
        rows, columns=["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"]
    )
    decision = blend_decision(validation_folds(frame, seed=1), {"l2": 1.0}, None, None)
    assert decision["adopted"] is True
    assert decision["weights"]["window"] > 0

    tiny = frame[frame["USER_ID"].isin(["e0_00", "e1_00"])]
    refused = blend_decision(validation_folds(tiny, seed=1), {}, None, None)
    assert refused["adopted"] is False and "within the folds' spread" in refused["reason"]


def clustered_dataset(directory: Path, users: int) -> Path:
    """A dataset on which the similar-items recipe ranks below popularity: every user's newest
    interaction is the one service everybody uses, which SIMS' lift plays down."""
    rows = []
    for user in range(users):
        cluster = [f"c{user % 10}_{k}" for k in range(6)]
        stamp = 1_700_000_000 + user * 1_000
        for offset, item in enumerate((cluster[user % 6 :] + cluster[: user % 6])[:5]):
            rows.append((f"u{user:03d}", item, "launched", 3.0, stamp + offset))
        rows.append((f"u{user:03d}", "everyone", "launched", 3.0, stamp + 100))
    dataset = directory / "dataset"
    dataset.mkdir(parents=True)
    frame = pd.DataFrame(
        rows, columns=["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"]
    )
    frame.to_csv(dataset / "interactions.csv", index=False)
    items = sorted(frame["ITEM_ID"].unique())
    pd.DataFrame({"ITEM_ID": items, "SERVICE_NAME": items, "CATEGORY": "x"}).to_csv(
        dataset / "items.csv", index=False
    )
    return directory


def test_a_version_below_popularity_does_not_replace_the_serving_one_unless_forced(
    tmp_path: Path,
) -> None:
    settings = settings_for(clustered_dataset(tmp_path / "data", users=600))
    models = ModelStore(LocalStore(settings.data_dir), settings.model_cache_dir)
    first = train_and_activate(settings, "popularity-count", tune=False)
    assert first.training["activated"] and models.active_version() == first.version

    worse = train_and_activate(settings, "similar-items", tune=False)
    training = worse.training
    gate = "normalized_discounted_cumulative_gain_at_10"
    assert training["metrics"][gate] < training["baseline_metrics"][gate]
    assert training["worse_than_baseline"] and not training["activated"]
    assert training["kept_version"] == first.version
    assert models.active_version() == first.version
    assert worse.version in models.versions()

    forced = train_and_activate(settings, "similar-items", tune=False, force=True)
    assert forced.training["activated"] and models.active_version() == forced.version


def test_metrics_from_few_held_out_users_are_marked_unreliable(tmp_path: Path) -> None:
    settings = settings_for(clustered_dataset(tmp_path / "few", users=200))
    few = train_and_activate(settings, tune=False).training
    assert few["heldout_users"] < 50 and few["metrics_reliable"] is False
    assert set(few["baseline_metrics"]) == set(PERSONALIZE_METRICS)
    many = train_and_activate(
        settings_for(clustered_dataset(tmp_path / "many", users=900)), tune=False
    ).training
    assert many["heldout_users"] >= 50 and many["metrics_reliable"] is True


def test_srs_train_says_when_metrics_are_unreliable_and_when_it_keeps_the_old_version(
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from srs.cli import main

    data = clustered_dataset(tmp_path / "data", users=200)
    runner = CliRunner()
    first = runner.invoke(main, ["--data-dir", str(data), "train", "--no-tune"])
    assert first.exit_code == 0, first.output
    assert "are not reliable" in first.stderr
    assert "popular" in first.stdout  # the baseline's column
    kept = runner.invoke(
        main, ["--data-dir", str(data), "train", "--no-tune", "--recipe", "similar-items"]
    )
    assert kept.exit_code == 0
    assert kept.stdout.startswith("saved (not activated)")
    assert "keeps serving; 'srs train --force' activates it" in kept.stderr


def test_two_trainings_in_the_same_second_get_their_own_versions() -> None:
    assert unused_version_name("20261204T120000Z-1a2b3c4d", set()) == "20261204T120000Z-1a2b3c4d"
    taken = {"20261204T120000Z-1a2b3c4d", "20261204T120000Z-1a2b3c4d-2"}
    assert unused_version_name("20261204T120000Z-1a2b3c4d", taken) == (
        "20261204T120000Z-1a2b3c4d-3"
    )


def test_recorded_feedback_is_told_apart_from_the_prepared_data(data_dir: Path) -> None:
    settings = settings_for(data_dir)
    EventStore(settings.events_path).put_events(
        "newcomer", "s1", [Event("rated", "svc-0001", 1_700_000_000, 1.0)]
    )
    store = LocalStore(data_dir)
    data = load_training_data(store, EventStore(settings.events_path))
    recorded = data.recorded(data.interactions)
    assert recorded.sum() == 1 and recorded[-1]
    part = data.interactions.iloc[::2]
    assert data.recorded(part).tolist() == [index == len(recorded) - 1 for index in part.index]


def test_held_out_truth_is_random_where_timestamps_are_the_files_order(tmp_path: Path) -> None:
    timed = train_and_activate(
        settings_for(clustered_dataset(tmp_path / "timed", users=300)), tune=False
    ).training
    assert timed["heldout_split"].startswith("the newest 10%")
    directory = clustered_dataset(tmp_path / "file-order", users=300)
    interactions = directory / "dataset" / "interactions.csv"
    frame = pd.read_csv(interactions)
    user = frame["USER_ID"].str[1:].astype(int) * 100_000
    step = frame.groupby("USER_ID").cumcount() * 60
    frame.assign(TIMESTAMP=1_700_000_000 + user + step).to_csv(interactions, index=False)
    untimed = train_and_activate(settings_for(directory), tune=False).training
    assert untimed["heldout_split"].startswith("a random 10%")
    assert "fixed step in file order" in untimed["heldout_split"]
