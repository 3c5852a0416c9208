"""A realistic, seeded interaction log for tests, demos and benchmarks.

The log must carry the structure a recommender is meant to learn, otherwise every
offline metric measured on it is noise. So the generator is a small generative
model rather than uniform random rows:

* each user is drawn from a persona (``personas.py``), sometimes with a minor
  second persona, and gets personal taste noise on top; a Zipf-like global
  popularity mixes in, giving a long tail;
* activity comes in sessions; a share of them (``BUNDLE_SESSION_SHARE``) deploy a
  whole co-usage bundle (EC2 with EBS and VPC, Lambda with API Gateway and DynamoDB, ...);
* every engagement with a service walks a funnel ``viewed → clicked → launched``,
  then possibly ``configured`` and ``rated``; services the user likes go deeper
  and get better ratings;
* timestamps fall in business-hours sessions inside a six-month window ending at
  a date derived from the seed, never from the wall clock.

Everything is vectorised with numpy: the only Python loops run over personas and
over fixed-size blocks of users (which bound memory), never over rows.

Output columns are those of the source CSV: ``User ID`` (strings ``user_000001``,
zero-padded to at least six digits so they sort), ``AWS Service`` (catalogue
names), ``Interaction Type``, ``Rating`` (integer 1-5 on every row, because the
source format requires it: the user's satisfaction with the service in that
engagement, which is the explicit rating on ``rated`` rows) and ``Timestamp``
(Unix seconds). Rows are ordered by user, then time.
"""

from __future__ import annotations

import csv
import io
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from srs.arrays import BoolArray, Float32Array, FloatArray, IntArray, ObjectArray
from srs.atomic import atomic_path
from srs.catalog import load_catalog
from srs.data.personas import BUNDLES, PERSONAS, POPULARITY_HEAD, Bundle, Persona
from srs.errors import SRSError

SOURCE_COLUMNS: tuple[str, ...] = (
    "User ID",
    "AWS Service",
    "Interaction Type",
    "Rating",
    "Timestamp",
)
GROUND_TRUTH_COLUMNS: tuple[str, ...] = (
    "User ID",
    "Persona",
    "Secondary Persona",
    "Secondary Weight",
)
INTERACTION_TYPES: tuple[str, ...] = ("viewed", "clicked", "launched", "configured", "rated")

SECONDS_PER_DAY = 86_400
WINDOW_DAYS = 182
WINDOW_END_BASE = 1_735_689_600
"""2025-01-01T00:00:00Z; the window end moves back ``seed % 365`` days from here."""

ZIPF_EXPONENT = 1.0
WITHIN_CATEGORY_TILT = 0.7
CORE_SHARE = 0.5
CATEGORY_SHARE = 0.4
UNIFORM_SHARE = 0.1
POPULARITY_MIX = 0.3
TASTE_NOISE = 0.6

SECONDARY_PERSONA_SHARE = 0.35
SECONDARY_WEIGHT_RANGE = (0.15, 0.4)
ROW_COUNT_DISPERSION = 2.0
MIN_ROWS_PER_USER = 2
SESSIONS_PER_ROW = 0.6
BUNDLE_SESSION_SHARE = 0.3
BUNDLE_MEMBER_KEEP = 0.8
BROWSE_SESSION_STOP = 0.6
"""Chance a browsing (non-bundle) session ends after each service: 1.67 services on average."""

PREFERENCE_CLIP = 3.0
FUNNEL_INTERCEPTS = (-0.6, -0.9, 0.4, -0.3)
"""Logit intercepts for clicked|viewed, launched|clicked, configured|launched, rated|launched."""
FUNNEL_SLOPES = (0.35, 0.4, 0.3, 0.3)
BUNDLE_DEPLOY_BONUS = 0.5
"""Extra click and launch logit inside a bundle session: the user is deploying a stack."""

RATING_BASE = 2.6
RATING_SLOPE = 0.55
RATING_USER_SPREAD = 0.35
RATING_NOISE = 0.6

ENGAGEMENT_GAP_MEAN = 240.0
STAGE_GAP_MEANS = (0.0, 40.0, 420.0, 1_500.0, 14_400.0)
STAGE_GAP_MINIMUMS = (0.0, 3.0, 30.0, 60.0, 120.0)
ACTIVE_HOUR_MEAN = 15.0
ACTIVE_HOUR_SPREAD = 3.5

USER_BLOCK = 8_192
WRITE_CHUNK_ROWS = 200_000


class SyntheticDataError(SRSError, ValueError):
    """An argument or catalogue the generator cannot use; the message names it."""


class SourceWriteError(SRSError, OSError):
    """The source or ground-truth CSV could not be written; the message names the path."""


@dataclass(frozen=True)
class SyntheticData:
    """A generated log and the hidden truth behind it.

    ``interactions`` has the five source columns; ``ground_truth`` has one row
    per user with ``User ID, Persona, Secondary Persona, Secondary Weight``
    (``Secondary Persona`` is ``""`` and the weight ``0.0`` for single-persona users).
    """

    interactions: pd.DataFrame
    ground_truth: pd.DataFrame


@dataclass(frozen=True)
class _World:
    """The catalogue and personas compiled into arrays the sampler indexes."""

    service_names: ObjectArray
    persona_names: tuple[str, ...]
    persona_shares: FloatArray
    persona_mixes: FloatArray
    persona_log_mixes: Float32Array
    bundle_members: IntArray
    persona_bundle_probabilities: FloatArray

    @property
    def service_count(self) -> int:
        return len(self.service_names)


@dataclass(frozen=True)
class _Population:
    primary: IntArray
    secondary: IntArray
    secondary_weight: FloatArray
    target_rows: IntArray
    rating_bias: FloatArray
    active_start: FloatArray
    active_span: FloatArray


@dataclass(frozen=True)
class _Engagements:
    """One row per contact with a service, grouped by session and user."""

    user: IntArray
    session: IntArray
    service: IntArray
    in_bundle: BoolArray
    preference: FloatArray


def generate_interactions(
    users: int,
    interactions_per_user: int,
    seed: int,
    catalog: pd.DataFrame | None = None,
) -> SyntheticData:
    """Generate a source interaction log for ``users`` users.

    Per-user row counts vary (a shifted negative binomial, at least two rows per
    user) around the mean ``interactions_per_user``; with a mean of one or two
    every user gets exactly that many. The same arguments always give the same
    frames.
    """
    _check_count("users", users)
    _check_count("interactions_per_user", interactions_per_user)
    _check_seed(seed)
    world = _compile_world(load_catalog() if catalog is None else catalog)
    rng = np.random.default_rng(seed)
    window_end = window_end_for_seed(seed)
    window_start = window_end - WINDOW_DAYS * SECONDS_PER_DAY

    population = _draw_population(rng, world, users, interactions_per_user)
    engagements = _draw_engagements(rng, world, population)
    stage_engagement, stage = _walk_funnel(rng, engagements)
    stage_engagement, stage = _truncate_to_targets(
        stage_engagement, stage, engagements.user, population.target_rows
    )
    timestamps = _draw_timestamps(
        rng, population, engagements, stage_engagement, stage, window_start, window_end
    )
    ratings = _draw_ratings(rng, population, engagements)

    row_user = engagements.user[stage_engagement]
    order = np.lexsort((np.arange(len(row_user)), timestamps, row_user))
    labels = user_labels(users)
    interactions = pd.DataFrame(
        {
            SOURCE_COLUMNS[0]: labels[row_user[order]],
            SOURCE_COLUMNS[1]: world.service_names[engagements.service[stage_engagement[order]]],
            SOURCE_COLUMNS[2]: np.asarray(INTERACTION_TYPES, dtype=object)[stage[order]],
            SOURCE_COLUMNS[3]: ratings[stage_engagement[order]],
            SOURCE_COLUMNS[4]: timestamps[order],
        }
    )
    return SyntheticData(interactions=interactions, ground_truth=_ground_truth(world, population))


def window_end_for_seed(seed: int) -> int:
    """Last possible timestamp of a generated log: fixed per seed, independent of the clock."""
    return WINDOW_END_BASE - (seed % 365) * SECONDS_PER_DAY


def user_labels(users: int) -> ObjectArray:
    """``user_000001`` ... zero-padded to at least six digits so labels sort numerically."""
    width = max(6, len(str(users)))
    digits = np.char.zfill(np.arange(1, users + 1).astype(str), width)
    return np.char.add("user_", digits).astype(object)


def write_source(
    data: SyntheticData,
    path: Path,
    ground_truth_path: Path | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_rows: int = WRITE_CHUNK_ROWS,
) -> int:
    """Write the interactions as the source CSV (and optionally the ground truth).

    Each file is written to a temporary file beside its destination and moved
    into place with ``os.replace``, so a reader never sees half a file and a
    failed run leaves any previous file intact. ``progress`` receives the
    number of rows written since its previous call, once per chunk of
    ``chunk_rows``. Returns the rows written. Values are quoted only when one
    needs it, so the ground truth's empty ``Secondary Persona`` is an empty field.
    """
    _check_count("chunk_rows", chunk_rows)
    table = pa.Table.from_pandas(data.interactions, preserve_index=False)
    written = _write_table_atomically(table, Path(path), progress, chunk_rows)
    if ground_truth_path is not None:
        truth = pa.Table.from_pandas(data.ground_truth, preserve_index=False)
        _write_table_atomically(truth, Path(ground_truth_path), None, chunk_rows)
    return written


def _write_table_atomically(
    table: pa.Table, path: Path, progress: Callable[[int], None] | None, chunk_rows: int
) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SourceWriteError(f"{path}: cannot create the file: {_reason(exc)}") from exc
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    try:
        with atomic_path(path, mode=mode) as temporary:
            return _write_csv(table, temporary, progress, chunk_rows)
    except OSError as exc:
        raise SourceWriteError(f"{path}: cannot write the file: {_reason(exc)}") from exc


def _write_csv(
    table: pa.Table, path: Path, progress: Callable[[int], None] | None, chunk_rows: int
) -> int:
    written = 0
    options = pa_csv.WriteOptions(include_header=False, quoting_style=_quoting_style(table))
    with pa.OSFile(str(path), "wb") as sink:
        sink.write(_header_line(table.column_names))
        with pa_csv.CSVWriter(sink, table.schema, write_options=options) as writer:
            for batch in table.to_batches(max_chunksize=chunk_rows):
                writer.write_batch(batch)
                written += batch.num_rows
                if progress is not None:
                    progress(batch.num_rows)
    return written


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _quoting_style(table: pa.Table) -> str:
    """Leave values unquoted unless one needs quotes; Arrow's "needed" quotes every string.

    Only the distinct values are scanned, far fewer than a log's rows.
    """
    needs_quotes = pa.scalar(False)
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            distinct = pc.unique(column)
            special = pc.match_substring_regex(distinct, '[",\r\n]')
            needs_quotes = pc.or_(needs_quotes, pc.any(special))
    return "needed" if needs_quotes.as_py() else "none"


def _header_line(column_names: Sequence[str]) -> bytes:
    """The header as the csv module writes it: Arrow would quote every column name."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(column_names)
    return buffer.getvalue().encode("utf-8")


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise SyntheticDataError(f"{name} must be a whole number, got {value!r}")
    if value < 1:
        raise SyntheticDataError(f"{name} must be at least 1, got {value}")


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise SyntheticDataError(f"seed must be a whole number, got {seed!r}")
    if seed < 0:
        raise SyntheticDataError(f"seed must be zero or positive, got {seed}")


def _compile_world(
    catalog: pd.DataFrame,
    personas: Sequence[Persona] = PERSONAS,
    bundles: Sequence[Bundle] = BUNDLES,
    popularity_head: Sequence[str] = POPULARITY_HEAD,
) -> _World:
    """Turn catalogue rows and persona definitions into preference arrays.

    Services or categories a persona names but the catalogue lacks are ignored,
    so a trimmed or extended catalogue still works; bundles need two members
    present to count.
    """
    service_names, categories = _catalog_columns(catalog)
    position = {name: index for index, name in enumerate(service_names)}
    popularity = _popularity(service_names, popularity_head)
    category_codes, category_names = pd.factorize(pd.Series(categories))
    category_of = {str(name): code for code, name in enumerate(category_names)}
    within_category = popularity**WITHIN_CATEGORY_TILT
    within_category /= np.bincount(category_codes, weights=within_category)[category_codes]

    preferences = np.vstack(
        [
            _persona_preferences(persona, position, category_of, category_codes, within_category)
            for persona in personas
        ]
    )
    member_lists = [
        [position[service] for service in bundle.services if service in position]
        for bundle in bundles
    ]
    usable = [index for index, members in enumerate(member_lists) if len(members) >= 2]
    width = max((len(member_lists[index]) for index in usable), default=1)
    bundle_members = np.full((max(len(usable), 1), width), -1, dtype=np.int64)
    for row, index in enumerate(usable):
        bundle_members[row, : len(member_lists[index])] = member_lists[index]
    bundle_row = {bundles[index].name: row for row, index in enumerate(usable)}
    bundle_probabilities = np.zeros((len(personas), bundle_members.shape[0]))
    for persona_index, persona in enumerate(personas):
        for bundle_name, weight in persona.bundles:
            if bundle_name in bundle_row:
                bundle_probabilities[persona_index, bundle_row[bundle_name]] += weight
    totals = bundle_probabilities.sum(axis=1, keepdims=True)
    np.divide(bundle_probabilities, totals, out=bundle_probabilities, where=totals > 0)

    shares = np.array([persona.share for persona in personas], dtype=np.float64)
    mixes = (1.0 - POPULARITY_MIX) * preferences + POPULARITY_MIX * popularity
    return _World(
        service_names=np.asarray(service_names, dtype=object),
        persona_names=tuple(persona.name for persona in personas),
        persona_shares=shares / shares.sum(),
        persona_mixes=mixes,
        persona_log_mixes=np.log(mixes).astype(np.float32),
        bundle_members=bundle_members,
        persona_bundle_probabilities=bundle_probabilities,
    )


def _catalog_columns(catalog: pd.DataFrame) -> tuple[list[str], list[str]]:
    missing = [column for column in ("name", "category") if column not in catalog.columns]
    if missing:
        raise SyntheticDataError(f"catalog is missing column(s): {', '.join(missing)}")
    names = catalog["name"].astype(str).str.strip()
    if len(names) < 2:
        raise SyntheticDataError(f"catalog needs at least 2 services, got {len(names)}")
    blank = names.eq("")
    if blank.any():
        position = int(np.argmax(blank.to_numpy()))
        raise SyntheticDataError(f"catalog has a blank service name in row {position} (from 0)")
    duplicated = names.duplicated()
    if duplicated.any():
        duplicate = names[duplicated].iloc[0]
        raise SyntheticDataError(f"catalog has duplicate service name {duplicate!r}")
    return names.tolist(), catalog["category"].astype(str).str.strip().tolist()


def _popularity(service_names: Sequence[str], head: Sequence[str]) -> FloatArray:
    """Zipf weights: the named head first, the tail in a fixed order hashed from each name."""
    present = set(service_names)
    ordered_head = [name for name in head if name in present]
    in_head = set(ordered_head)
    tail = sorted(
        (name for name in service_names if name not in in_head),
        key=lambda name: (zlib.crc32(name.encode("utf-8")), name),
    )
    rank = {name: position for position, name in enumerate([*ordered_head, *tail])}
    ranks = np.array([rank[name] for name in service_names], dtype=np.float64)
    weights = (ranks + 1.0) ** -ZIPF_EXPONENT
    return np.asarray(weights / weights.sum(), dtype=np.float64)


def _persona_preferences(
    persona: Persona,
    position: dict[str, int],
    category_of: dict[str, int],
    category_codes: IntArray,
    within_category: FloatArray,
) -> FloatArray:
    service_count = len(category_codes)
    category_weight = np.zeros(len(category_of))
    for category, weight in persona.category_weights:
        if category in category_of:
            category_weight[category_of[category]] += weight
    core = np.zeros(service_count)
    for service, weight in persona.core_services:
        if service in position:
            core[position[service]] += weight
    parts = [
        (CATEGORY_SHARE, category_weight[category_codes] * within_category),
        (CORE_SHARE, core),
        (UNIFORM_SHARE, np.ones(service_count)),
    ]
    mixed = sum(
        (share * part / part.sum() for share, part in parts if part.sum() > 0),
        start=np.zeros(service_count),
    )
    return np.asarray(mixed / mixed.sum(), dtype=np.float64)


def _draw_population(
    rng: np.random.Generator, world: _World, users: int, interactions_per_user: int
) -> _Population:
    persona_count = len(world.persona_names)
    primary = rng.choice(persona_count, size=users, p=world.persona_shares).astype(np.int64)
    if persona_count > 1:
        has_secondary = rng.random(users) < SECONDARY_PERSONA_SHARE
        other = (primary + rng.integers(1, persona_count, size=users)) % persona_count
    else:
        has_secondary = np.zeros(users, dtype=bool)
        other = primary
    secondary = np.where(has_secondary, other, -1).astype(np.int64)
    secondary_weight = np.where(has_secondary, rng.uniform(*SECONDARY_WEIGHT_RANGE, users), 0.0)

    if interactions_per_user <= MIN_ROWS_PER_USER:
        target_rows = np.full(users, interactions_per_user, dtype=np.int64)
    else:
        extra_mean = interactions_per_user - MIN_ROWS_PER_USER
        success = ROW_COUNT_DISPERSION / (ROW_COUNT_DISPERSION + extra_mean)
        extra = rng.negative_binomial(ROW_COUNT_DISPERSION, success, size=users)
        target_rows = (MIN_ROWS_PER_USER + extra).astype(np.int64)

    window = float(WINDOW_DAYS * SECONDS_PER_DAY)
    start_fraction = 0.85 * rng.beta(1.0, 1.5, size=users)
    active_start = start_fraction * window
    active_span = (window - active_start) * rng.beta(4.0, 1.0, size=users)
    return _Population(
        primary=primary,
        secondary=secondary,
        secondary_weight=secondary_weight,
        target_rows=target_rows,
        rating_bias=rng.normal(0.0, RATING_USER_SPREAD, size=users),
        active_start=active_start,
        active_span=active_span,
    )


def _draw_engagements(
    rng: np.random.Generator, world: _World, population: _Population
) -> _Engagements:
    """Lay out sessions, expand bundle sessions into their members, then pick the services
    of browsing sessions from each user's taste.

    Sessions are over-provisioned (every engagement yields at least one row) and
    the surplus is cut later, so each user ends with their target row count.
    """
    session_counts = np.ceil(SESSIONS_PER_ROW * population.target_rows).astype(np.int64) + 1
    session_user = np.repeat(np.arange(len(session_counts)), session_counts)
    session_total = len(session_user)

    use_secondary = rng.random(session_total) < population.secondary_weight[session_user]
    session_persona = np.where(
        use_secondary, population.secondary[session_user], population.primary[session_user]
    )
    has_bundles = world.persona_bundle_probabilities.sum(axis=1) > 0
    is_bundle = (rng.random(session_total) < BUNDLE_SESSION_SHARE) & has_bundles[session_persona]
    bundle_of = np.full(session_total, -1, dtype=np.int64)
    for persona_index in np.flatnonzero(has_bundles):
        chosen = is_bundle & (session_persona == persona_index)
        bundle_of[chosen] = rng.choice(
            world.bundle_members.shape[0],
            size=int(chosen.sum()),
            p=world.persona_bundle_probabilities[persona_index],
        )

    members, kept = _bundle_session_members(rng, world.bundle_members, bundle_of[is_bundle])
    engagement_counts = rng.geometric(BROWSE_SESSION_STOP, size=session_total).astype(np.int64)
    engagement_counts[is_bundle] = kept.sum(axis=1)
    engagement_session = np.repeat(np.arange(session_total), engagement_counts)
    service = np.full(len(engagement_session), -1, dtype=np.int64)
    in_bundle = np.repeat(is_bundle, engagement_counts)
    service[in_bundle] = members[kept]

    engagement_user = session_user[engagement_session]
    preference = _fill_browsed_services(rng, world, population, engagement_user, service)
    return _Engagements(
        user=engagement_user,
        session=engagement_session,
        service=service,
        in_bundle=in_bundle,
        preference=preference,
    )


def _bundle_session_members(
    rng: np.random.Generator, bundle_members: IntArray, bundles: IntArray
) -> tuple[IntArray, BoolArray]:
    """Members each bundle session touches: the anchor first, a random subset of the rest after."""
    members = bundle_members[bundles]
    present = members >= 0
    kept = present & (rng.random(members.shape) < BUNDLE_MEMBER_KEEP)
    kept[:, 0] = present[:, 0]
    sort_keys = rng.random(members.shape)
    sort_keys[:, 0] = -1.0
    sort_keys[~kept] = 2.0
    order = np.argsort(sort_keys, axis=1, kind="stable")
    return np.take_along_axis(members, order, axis=1), np.take_along_axis(kept, order, axis=1)


def _fill_browsed_services(
    rng: np.random.Generator,
    world: _World,
    population: _Population,
    engagement_user: IntArray,
    service: IntArray,
) -> FloatArray:
    """Sample each browsing-session service from its user's taste; return every engagement's
    preference (log lift of the user's probability over uniform).

    Tastes are a users × services matrix, built one block of users at a time so
    memory stays flat however many users are asked for.
    """
    users = len(population.primary)
    service_count = world.service_count
    preference = np.empty(len(service), dtype=np.float64)
    block_bounds = np.searchsorted(engagement_user, np.arange(0, users + USER_BLOCK, USER_BLOCK))
    for block, first_user in enumerate(range(0, users, USER_BLOCK)):
        last_user = min(first_user + USER_BLOCK, users)
        start, stop = block_bounds[block], block_bounds[block + 1]
        probabilities = _user_tastes(rng, world, population, slice(first_user, last_user))
        local_user = engagement_user[start:stop] - first_user
        block_service = service[start:stop]
        pending = block_service < 0
        cumulative = np.cumsum(probabilities, axis=1, dtype=np.float64)
        cumulative[:, -1] = 1.0
        cumulative += np.arange(last_user - first_user)[:, None]
        draws = local_user[pending] + rng.random(int(pending.sum()))
        flat_index = np.searchsorted(cumulative.ravel(), draws, side="right")
        chosen = flat_index - local_user[pending] * service_count
        block_service[pending] = np.minimum(chosen, service_count - 1)
        preference[start:stop] = np.log(probabilities[local_user, block_service] * service_count)
    return preference


def _user_tastes(
    rng: np.random.Generator, world: _World, population: _Population, users: slice
) -> Float32Array:
    """Each user's probability over services: persona mix, popularity, personal noise.

    Single-persona users start from the precomputed log of their persona's mix;
    only users with a secondary persona need a fresh log. float32 halves the
    memory traffic of this, the largest array the generator builds.
    """
    primary = population.primary[users]
    secondary = population.secondary[users]
    logits = world.persona_log_mixes[primary]
    blended = np.flatnonzero(secondary >= 0)
    if len(blended):
        weight = population.secondary_weight[users][blended, None]
        mix = (1.0 - weight) * world.persona_mixes[primary[blended]]
        mix += weight * world.persona_mixes[secondary[blended]]
        logits[blended] = np.log(mix)
    logits += np.float32(TASTE_NOISE) * rng.standard_normal(logits.shape, dtype=np.float32)
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def _walk_funnel(rng: np.random.Generator, engagements: _Engagements) -> tuple[IntArray, IntArray]:
    """Decide how deep each engagement goes; return (engagement, stage) per emitted row.

    Rows come out grouped by engagement in funnel order, so a launch always
    follows the view and click of the same engagement.
    """
    preference = np.clip(engagements.preference, -PREFERENCE_CLIP, PREFERENCE_CLIP)
    bonus = np.where(engagements.in_bundle, BUNDLE_DEPLOY_BONUS, 0.0)
    bonuses = (bonus, bonus, np.zeros_like(bonus), np.zeros_like(bonus))
    # A standard logistic draw below the logit happens with probability sigmoid(logit).
    passes = [
        rng.logistic(size=len(preference)) < intercept + slope * preference + extra
        for intercept, slope, extra in zip(FUNNEL_INTERCEPTS, FUNNEL_SLOPES, bonuses, strict=True)
    ]
    clicked = passes[0]
    launched = clicked & passes[1]
    reached = np.column_stack(
        [np.ones_like(clicked), clicked, launched, launched & passes[2], launched & passes[3]]
    )
    engagement, stage = np.nonzero(reached)
    return engagement.astype(np.int64), stage.astype(np.int64)


def _truncate_to_targets(
    stage_engagement: IntArray, stage: IntArray, engagement_user: IntArray, target_rows: IntArray
) -> tuple[IntArray, IntArray]:
    """Keep each user's first ``target_rows`` rows in logical order (an export cut-off)."""
    row_user = engagement_user[stage_engagement]
    rows_per_user = np.bincount(row_user, minlength=len(target_rows))
    first_row = np.cumsum(rows_per_user) - rows_per_user
    position = np.arange(len(row_user)) - first_row[row_user]
    keep = position < target_rows[row_user]
    return stage_engagement[keep], stage[keep]


def _draw_timestamps(
    rng: np.random.Generator,
    population: _Population,
    engagements: _Engagements,
    stage_engagement: IntArray,
    stage: IntArray,
    window_start: int,
    window_end: int,
) -> IntArray:
    """Place kept sessions in each user's active period at business hours, then space the
    engagements of a session by minutes and the funnel steps by seconds to hours."""
    session_total = int(engagements.session[-1]) + 1 if len(engagements.session) else 0
    row_session = engagements.session[stage_engagement]
    session_kept = np.bincount(row_session, minlength=session_total) > 0
    kept_sessions = np.flatnonzero(session_kept)
    first_engagement = np.searchsorted(engagements.session, kept_sessions)
    kept_user = engagements.user[first_engagement]
    users = len(population.primary)

    gaps = rng.exponential(size=len(kept_sessions))
    sessions_per_user = np.bincount(kept_user, minlength=users)
    position_in_user = _grouped_cumsum(gaps, sessions_per_user)
    trailing_gap = rng.exponential(size=users)
    user_total = np.bincount(kept_user, weights=gaps, minlength=users) + trailing_gap
    fraction = position_in_user / user_total[kept_user]
    instant = (
        window_start
        + population.active_start[kept_user]
        + fraction * population.active_span[kept_user]
    )
    day_start = np.floor(instant / SECONDS_PER_DAY) * SECONDS_PER_DAY
    hour = np.mod(rng.normal(ACTIVE_HOUR_MEAN, ACTIVE_HOUR_SPREAD, len(kept_sessions)), 24.0)
    session_time = day_start + hour * 3_600.0
    session_time = np.where(session_time > window_end, session_time - SECONDS_PER_DAY, session_time)
    session_time = np.maximum(session_time, window_start)
    session_time_of = np.zeros(session_total)
    session_time_of[kept_sessions] = session_time

    rows_per_engagement = np.bincount(stage_engagement, minlength=len(engagements.session))
    kept_engagements = np.flatnonzero(rows_per_engagement)
    engagement_gap = rng.exponential(ENGAGEMENT_GAP_MEAN, size=len(kept_engagements))
    engagements_per_session = np.bincount(
        engagements.session[kept_engagements], minlength=session_total
    )[kept_sessions]
    engagement_gap[np.cumsum(engagements_per_session) - engagements_per_session] = 0.0
    engagement_offset = np.zeros(len(engagements.session))
    engagement_offset[kept_engagements] = _grouped_cumsum(engagement_gap, engagements_per_session)

    gap_means = np.asarray(STAGE_GAP_MEANS)[stage]
    stage_gap = np.asarray(STAGE_GAP_MINIMUMS)[stage] + rng.exponential(size=len(stage)) * gap_means
    stage_offset = _grouped_cumsum(stage_gap, rows_per_engagement[kept_engagements])

    timestamp = session_time_of[row_session] + engagement_offset[stage_engagement] + stage_offset
    return np.minimum(np.floor(timestamp), window_end).astype(np.int64)


def _grouped_cumsum(values: FloatArray, group_sizes: IntArray) -> FloatArray:
    """Inclusive cumulative sum restarting at each of the consecutive groups."""
    running = np.cumsum(values)
    before_group = np.concatenate(([0.0], running))[np.cumsum(group_sizes) - group_sizes]
    return np.asarray(running - np.repeat(before_group, group_sizes), dtype=np.float64)


def _draw_ratings(
    rng: np.random.Generator, population: _Population, engagements: _Engagements
) -> IntArray:
    """A 1-5 satisfaction per engagement that rises with the user's preference for the service."""
    preference = np.clip(engagements.preference, -PREFERENCE_CLIP, PREFERENCE_CLIP)
    latent = (
        RATING_BASE
        + RATING_SLOPE * preference
        + population.rating_bias[engagements.user]
        + rng.normal(0.0, RATING_NOISE, size=len(preference))
    )
    return np.clip(np.rint(latent), 1, 5).astype(np.int64)


def _ground_truth(world: _World, population: _Population) -> pd.DataFrame:
    # The trailing "" is what index -1 (no secondary persona) picks.
    names = np.asarray((*world.persona_names, ""), dtype=object)
    return pd.DataFrame(
        {
            GROUND_TRUTH_COLUMNS[0]: user_labels(len(population.primary)),
            GROUND_TRUTH_COLUMNS[1]: names[population.primary],
            GROUND_TRUTH_COLUMNS[2]: names[population.secondary],
            GROUND_TRUTH_COLUMNS[3]: np.round(population.secondary_weight, 3),
        }
    )
