"""The Synthetic Data Handler: shape, determinism, and the structure a recommender should learn.

The structure tests compare the generated log with the hidden ground truth (each user's
persona) and the persona definitions, against what chance or independence would give.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srs.catalog import load_catalog
from srs.data.personas import BUNDLES, PERSONAS, POPULARITY_HEAD, Persona
from srs.data.synthetic import (
    GROUND_TRUTH_COLUMNS,
    INTERACTION_TYPES,
    SOURCE_COLUMNS,
    SourceWriteError,
    SyntheticData,
    SyntheticDataError,
    generate_interactions,
    user_labels,
    window_end_for_seed,
    write_source,
)
from srs.errors import SRSError

USERS = 500
PER_USER = 20
SEED = 11
SESSION_GAP_SECONDS = 1_800
SIX_MONTHS_DAYS = 182


@pytest.fixture(scope="module")
def catalog() -> pd.DataFrame:
    return load_catalog()


@pytest.fixture(scope="module")
def data(catalog: pd.DataFrame) -> SyntheticData:
    return generate_interactions(USERS, PER_USER, SEED, catalog=catalog)


@pytest.fixture(scope="module")
def labelled(data: SyntheticData, catalog: pd.DataFrame) -> pd.DataFrame:
    """Interactions joined with each user's persona and each service's category."""
    category_of = dict(zip(catalog["name"], catalog["category"], strict=True))
    frame = data.interactions.merge(data.ground_truth, on="User ID", validate="many_to_one")
    frame["Category"] = frame["AWS Service"].map(category_of)
    return frame


def persona_named(name: str) -> Persona:
    return next(persona for persona in PERSONAS if persona.name == name)


# Persona definitions


def test_persona_definitions_name_only_catalogue_services(catalog: pd.DataFrame) -> None:
    """A typo would silently drop a service from a persona, so check every reference."""
    names, categories = set(catalog["name"]), set(catalog["category"])
    bundle_names = {bundle.name for bundle in BUNDLES}
    assert len(bundle_names) == len(BUNDLES)
    for bundle in BUNDLES:
        assert set(bundle.services) <= names, bundle.name
    assert set(POPULARITY_HEAD) <= names
    assert len(PERSONAS) >= 9
    for persona in PERSONAS:
        assert persona.core_service_names <= names, persona.name
        assert persona.preferred_categories <= categories, persona.name
        assert {name for name, _ in persona.bundles} <= bundle_names, persona.name


# Shape and contract


def test_columns_and_types(data: SyntheticData) -> None:
    frame = data.interactions
    assert tuple(frame.columns) == SOURCE_COLUMNS
    assert list(frame.columns) == [
        "User ID",
        "AWS Service",
        "Interaction Type",
        "Rating",
        "Timestamp",
    ]
    for column in ("User ID", "AWS Service", "Interaction Type"):
        assert frame[column].map(type).eq(str).all(), column
    assert frame["Rating"].dtype == np.int64
    assert frame["Timestamp"].dtype == np.int64
    assert tuple(data.ground_truth.columns) == GROUND_TRUTH_COLUMNS


def test_every_user_appears_with_at_least_two_rows(data: SyntheticData) -> None:
    counts = data.interactions.groupby("User ID").size()
    assert len(data.ground_truth) == USERS
    assert set(counts.index) == set(data.ground_truth["User ID"])
    assert counts.min() >= 2
    assert counts.std() > 3, "row counts per user should vary"
    assert counts.mean() == pytest.approx(PER_USER, rel=0.15)


@pytest.mark.parametrize("per_user", [1, 2])
def test_small_means_give_every_user_exactly_that_many_rows(per_user: int) -> None:
    counts = generate_interactions(40, per_user, SEED).interactions.groupby("User ID").size()
    assert len(counts) == 40
    assert counts.eq(per_user).all()


def test_user_ids_are_padded_labels_in_user_order(data: SyntheticData) -> None:
    assert data.ground_truth["User ID"].iloc[0] == "user_000001"
    assert data.ground_truth["User ID"].iloc[-1] == f"user_{USERS:06d}"
    assert user_labels(1_000_000)[-1] == "user_1000000"
    users = data.interactions["User ID"]
    assert users.is_monotonic_increasing


def test_every_service_is_from_the_catalogue(data: SyntheticData, catalog: pd.DataFrame) -> None:
    assert set(data.interactions["AWS Service"]) <= set(catalog["name"])


def test_timestamps_lie_in_a_six_month_window_fixed_by_the_seed(data: SyntheticData) -> None:
    stamps = data.interactions["Timestamp"]
    end = window_end_for_seed(SEED)
    assert end == window_end_for_seed(SEED + 365)
    assert end != window_end_for_seed(SEED + 1)
    assert stamps.max() <= end
    assert stamps.min() >= end - SIX_MONTHS_DAYS * 86_400
    assert stamps.max() - stamps.min() > 0.8 * SIX_MONTHS_DAYS * 86_400


def test_rows_of_a_user_are_in_time_order(data: SyntheticData) -> None:
    frame = data.interactions
    step = frame.groupby("User ID")["Timestamp"].diff().dropna()
    assert (step >= 0).all()


def test_activity_peaks_in_working_hours(data: SyntheticData) -> None:
    hours = (data.interactions["Timestamp"] % 86_400) // 3_600
    assert hours.between(12, 17).mean() > 5 * hours.between(0, 5).mean()


def test_all_interaction_types_appear_with_views_most_common(data: SyntheticData) -> None:
    share = data.interactions["Interaction Type"].value_counts(normalize=True)
    assert set(share.index) == set(INTERACTION_TYPES)
    assert share.idxmax() == "viewed"
    assert share["viewed"] > share["clicked"] > share["launched"]
    assert share["launched"] > share["rated"]
    assert share.min() > 0.03


def test_launches_follow_a_view_of_the_same_service(data: SyntheticData) -> None:
    frame = data.interactions
    first = frame.groupby(["User ID", "AWS Service", "Interaction Type"])["Timestamp"].min()
    by_type = first.unstack("Interaction Type")
    launched = by_type.dropna(subset=["launched"])
    assert len(launched) > 100
    assert launched["viewed"].notna().all()
    assert (launched["viewed"] <= launched["launched"]).all()


def test_ratings_are_integers_from_one_to_five(data: SyntheticData) -> None:
    ratings = data.interactions["Rating"]
    assert ratings.between(1, 5).all()
    assert set(ratings.unique()) == {1, 2, 3, 4, 5}


# Determinism


def test_same_seed_gives_identical_frames(data: SyntheticData, catalog: pd.DataFrame) -> None:
    again = generate_interactions(USERS, PER_USER, SEED, catalog=catalog)
    pd.testing.assert_frame_equal(again.interactions, data.interactions)
    pd.testing.assert_frame_equal(again.ground_truth, data.ground_truth)


def test_default_catalogue_is_the_shipped_one(data: SyntheticData) -> None:
    pd.testing.assert_frame_equal(
        generate_interactions(USERS, PER_USER, SEED).interactions, data.interactions
    )


def test_different_seed_gives_different_data(data: SyntheticData, catalog: pd.DataFrame) -> None:
    other = generate_interactions(USERS, PER_USER, SEED + 1, catalog=catalog)
    assert not other.interactions.equals(data.interactions)
    assert not other.ground_truth["Persona"].equals(data.ground_truth["Persona"])


# Structure a recommender should find


def test_personas_cover_the_population_in_proportion(data: SyntheticData) -> None:
    truth = data.ground_truth
    shares = truth["Persona"].value_counts(normalize=True)
    assert set(shares.index) == {persona.name for persona in PERSONAS}
    total = sum(persona.share for persona in PERSONAS)
    for persona in PERSONAS:
        assert shares[persona.name] == pytest.approx(persona.share / total, abs=0.04)
    secondary = truth["Secondary Persona"].ne("")
    assert 0.2 < secondary.mean() < 0.5
    assert (truth.loc[secondary, "Secondary Persona"] != truth.loc[secondary, "Persona"]).all()
    assert truth.loc[~secondary, "Secondary Weight"].eq(0.0).all()
    assert truth.loc[secondary, "Secondary Weight"].between(0.1, 0.5).all()


def test_users_stay_in_their_personas_categories(labelled: pd.DataFrame) -> None:
    """Own-persona users hit the persona's categories far more often than everyone else."""
    for persona in PERSONAS:
        in_categories = labelled["Category"].isin(persona.preferred_categories)
        mine = labelled["Persona"] == persona.name
        own, others = in_categories[mine].mean(), in_categories[~mine].mean()
        assert own > 0.6, persona.name
        assert own > 2 * others, persona.name


def test_persona_is_recoverable_from_a_users_category_mix(
    labelled: pd.DataFrame, catalog: pd.DataFrame
) -> None:
    """Nearest persona by cosine of category counts beats chance (about 1 in 7) by far."""
    categories = sorted(catalog["category"].unique())
    counts = pd.crosstab(labelled["User ID"], labelled["Category"])
    counts = counts.reindex(columns=categories, fill_value=0).to_numpy(dtype=float)
    weights = np.array(
        [[dict(p.category_weights).get(c, 0.0) for c in categories] for p in PERSONAS]
    )
    similarity = (counts / np.linalg.norm(counts, axis=1, keepdims=True)) @ (
        weights / np.linalg.norm(weights, axis=1, keepdims=True)
    ).T
    guessed = np.array([p.name for p in PERSONAS])[similarity.argmax(axis=1)]
    truth = (
        labelled.drop_duplicates("User ID").set_index("User ID")["Persona"].sort_index().to_numpy()
    )
    assert (guessed == truth).mean() > 0.6


def session_presence(frame: pd.DataFrame) -> pd.DataFrame:
    """Sessions (a user's rows with gaps under 30 minutes) by service, 1 when present."""
    gap = frame.groupby("User ID")["Timestamp"].diff()
    session = (gap.isna() | (gap > SESSION_GAP_SECONDS)).cumsum()
    return pd.crosstab(session, frame["AWS Service"]).clip(upper=1)


def median_lift(presence: pd.DataFrame, pairs: set[frozenset[str]]) -> float:
    lifts = []
    for pair in pairs:
        first, second = sorted(pair)
        if first in presence and second in presence:
            together = (presence[first] & presence[second]).mean()
            lifts.append(together / (presence[first].mean() * presence[second].mean()))
    assert len(lifts) > 20
    return float(np.median(lifts))


def test_bundles_are_used_together_far_above_independence(data: SyntheticData) -> None:
    """Bundle partners share sessions much more than pairs that are merely liked by the
    same persona, so co-usage is not just a side effect of persona taste."""
    presence = session_presence(data.interactions)
    bundle_pairs = {
        frozenset(pair) for b in BUNDLES for pair in itertools.combinations(b.services, 2)
    }
    same_persona_pairs = {
        frozenset(pair)
        for persona in PERSONAS
        for pair in itertools.combinations(sorted(persona.core_service_names), 2)
    } - bundle_pairs
    bundle_lift = median_lift(presence, bundle_pairs)
    assert bundle_lift > 5
    assert bundle_lift > 4 * median_lift(presence, same_persona_pairs)


def test_named_stacks_co_occur(data: SyntheticData) -> None:
    presence = session_presence(data.interactions)
    for stack in [
        ("Amazon EC2", "Amazon EBS"),
        ("Amazon SageMaker", "AWS Glue"),
        ("AWS Lambda", "Amazon API Gateway"),
        ("Amazon EKS", "Amazon ECR"),
    ]:
        first, second = presence[stack[0]], presence[stack[1]]
        assert (first & second).mean() > 3 * first.mean() * second.mean(), stack


def test_popularity_is_long_tailed(data: SyntheticData, catalog: pd.DataFrame) -> None:
    counts = data.interactions["AWS Service"].value_counts()
    head = int(np.ceil(0.1 * len(catalog)))
    assert counts.iloc[:head].sum() / counts.sum() > 0.4
    assert len(counts) > 0.6 * len(catalog), "the tail should still be visited"
    assert counts.index[0] == "Amazon S3"


def test_globally_popular_services_reach_users_of_every_persona(data: SyntheticData) -> None:
    """Popularity mixes into every taste: head services show up for users whose persona
    does not feature them at all."""
    reach = []
    for service in ("AWS IAM", "Amazon CloudWatch", "Amazon VPC", "Amazon EC2"):
        outsiders = data.ground_truth["Persona"].map(
            lambda name, service=service: service not in persona_named(name).core_service_names
        )
        users = set(data.ground_truth.loc[outsiders, "User ID"])
        using = set(data.interactions.loc[data.interactions["AWS Service"] == service, "User ID"])
        reach.append(len(users & using) / len(users))
    assert np.mean(reach) > 0.08


def test_ratings_follow_persona_preference(labelled: pd.DataFrame) -> None:
    core = pd.Series(
        [
            service in persona_named(persona).core_service_names
            for service, persona in zip(labelled["AWS Service"], labelled["Persona"], strict=True)
        ],
        index=labelled.index,
    )
    outside = ~pd.Series(
        [
            category in persona_named(persona).preferred_categories
            for category, persona in zip(labelled["Category"], labelled["Persona"], strict=True)
        ],
        index=labelled.index,
    )
    assert outside.sum() > 300
    assert labelled.loc[core, "Rating"].mean() > labelled.loc[outside, "Rating"].mean() + 0.6


def test_liked_services_go_deeper_in_the_funnel(labelled: pd.DataFrame) -> None:
    pairs = labelled.assign(launched=labelled["Interaction Type"].eq("launched"))
    pairs = pairs.groupby(["User ID", "AWS Service", "Persona"], as_index=False)["launched"].any()
    core = pd.Series(
        [
            service in persona_named(persona).core_service_names
            for service, persona in zip(pairs["AWS Service"], pairs["Persona"], strict=True)
        ]
    )
    assert pairs["launched"][core].mean() > 2 * pairs["launched"][~core].mean()


# Catalogue variations


def test_a_trimmed_catalogue_limits_the_services(catalog: pd.DataFrame) -> None:
    small = catalog[catalog["category"].isin(["Compute", "Storage", "Analytics"])]
    data = generate_interactions(100, 10, SEED, catalog=small)
    assert set(data.interactions["AWS Service"]) <= set(small["name"])
    assert len(data.interactions) > 500


def test_a_catalogue_without_any_persona_service_still_generates() -> None:
    tiny = pd.DataFrame(
        {"name": ["Service A", "Service B", "Service C"], "category": ["X", "X", "Y"]}
    )
    data = generate_interactions(20, 5, SEED, catalog=tiny)
    assert set(data.interactions["AWS Service"]) <= {"Service A", "Service B", "Service C"}


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        (pd.DataFrame({"name": ["A", "B"]}), "missing column"),
        (pd.DataFrame({"name": ["A"], "category": ["X"]}), "at least 2 services"),
        (pd.DataFrame({"name": ["A", "A"], "category": ["X", "Y"]}), "duplicate service name 'A'"),
        (
            pd.DataFrame({"name": ["A", " "], "category": ["X", "Y"]}),
            r"blank service name in row 1 \(from 0\)",
        ),
    ],
)
def test_unusable_catalogues_are_rejected(catalog: pd.DataFrame, message: str) -> None:
    with pytest.raises(SyntheticDataError, match=message):
        generate_interactions(10, 5, SEED, catalog=catalog)


# Argument validation


@pytest.mark.parametrize(
    ("users", "per_user", "seed", "message"),
    [
        (0, 20, 1, "users must be at least 1, got 0"),
        (-5, 20, 1, "users must be at least 1, got -5"),
        (10, 0, 1, "interactions_per_user must be at least 1, got 0"),
        (2.5, 20, 1, "users must be a whole number, got 2.5"),
        (True, 20, 1, "users must be a whole number, got True"),
        (10, 20, -1, "seed must be zero or positive, got -1"),
        (10, 20, "7", "seed must be a whole number, got '7'"),
    ],
)
def test_bad_arguments_raise_a_clear_value_error(
    users: object, per_user: object, seed: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        generate_interactions(users, per_user, seed)  # type: ignore[arg-type]
    assert isinstance(caught.value, SyntheticDataError)
    assert isinstance(caught.value, SRSError)


# Writing


def test_written_source_reads_back_identically(data: SyntheticData, tmp_path: Path) -> None:
    path = tmp_path / "out" / "source.csv"
    deltas: list[int] = []
    rows = write_source(data, path, progress=deltas.append, chunk_rows=3_000)
    assert rows == len(data.interactions)
    assert sum(deltas) == rows
    assert len(deltas) == -(-rows // 3_000)
    with path.open(encoding="utf-8") as handle:
        assert handle.readline() == "User ID,AWS Service,Interaction Type,Rating,Timestamp\n"
    reread = pd.read_csv(path, dtype={"User ID": str})
    pd.testing.assert_frame_equal(reread, data.interactions)


def test_ground_truth_is_written_beside_the_source(data: SyntheticData, tmp_path: Path) -> None:
    truth_path = tmp_path / "ground_truth.csv"
    write_source(data, tmp_path / "source.csv", ground_truth_path=truth_path)
    reread = pd.read_csv(truth_path, dtype=str, keep_default_na=False)
    assert list(reread.columns) == list(GROUND_TRUTH_COLUMNS)
    assert reread["User ID"].tolist() == data.ground_truth["User ID"].tolist()
    assert reread["Persona"].tolist() == data.ground_truth["Persona"].tolist()
    assert reread["Secondary Persona"].tolist() == data.ground_truth["Secondary Persona"].tolist()


def test_values_needing_quotes_are_quoted(tmp_path: Path) -> None:
    catalog = pd.DataFrame(
        {"name": ['Service "A", v2', "Service B"], "category": ["Compute", "Storage"]}
    )
    data = generate_interactions(5, 4, SEED, catalog=catalog)
    path = tmp_path / "source.csv"
    write_source(data, path)
    assert '"Service ""A"", v2"' in path.read_text(encoding="utf-8")
    pd.testing.assert_frame_equal(pd.read_csv(path, dtype={"User ID": str}), data.interactions)


def test_a_failed_write_keeps_the_previous_file(data: SyntheticData, tmp_path: Path) -> None:
    path = tmp_path / "source.csv"
    path.write_text("previous contents\n", encoding="utf-8")

    def interrupt(rows: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_source(data, path, progress=interrupt, chunk_rows=1_000)
    assert path.read_text(encoding="utf-8") == "previous contents\n"
    assert os.listdir(tmp_path) == ["source.csv"]


def test_an_existing_file_is_replaced_and_keeps_its_mode(
    data: SyntheticData, tmp_path: Path
) -> None:
    path = tmp_path / "source.csv"
    path.write_text("old\n", encoding="utf-8")
    path.chmod(0o640)
    write_source(data, path)
    assert path.read_text(encoding="utf-8").startswith("User ID,")
    assert path.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["source.csv"]


def test_an_unwritable_destination_names_the_path(data: SyntheticData, tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("", encoding="utf-8")
    target = blocker / "source.csv"
    with pytest.raises(SourceWriteError, match=r"not_a_directory/source\.csv: cannot create"):
        write_source(data, target)
