"""Train/test splits: Amazon Personalize's, and Microsoft Recommenders' stratified one.

``personalize_split`` is how Personalize measures a solution version: 10% of users are held out
entirely; the model trains on the other 90%, then each held-out user's *oldest* 90% of
interactions are given as their history at request time and the *newest* 10% are what it
should recommend.

``stratified_split`` re-implements ``recommenders.datasets.python_splitters.
python_stratified_split`` (with ``_do_stratification``) step for step, so the MovieLens
benchmark splits exactly as the published table did: seed NumPy's legacy generator, draw one
uniform number per row in row order, sort by (group column, random), rank rows within each group
as ``cumcount + 1 / group size`` and put ranks ``<= ratio`` in train, the rest in test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from srs.engine.errors import InvalidRequestError
from srs.engine.matrix import TIMESTAMP, USER_ID

DEFAULT_HOLDOUT_USERS: Final = 0.1
DEFAULT_HOLDOUT_FRACTION: Final = 0.1


@dataclass(frozen=True)
class PersonalizeSplit:
    """``train``: all rows of the kept users; ``test_input``/``test_truth``: the held-out users'
    oldest and newest rows."""

    train: pd.DataFrame
    test_input: pd.DataFrame
    test_truth: pd.DataFrame


def personalize_split(
    interactions: pd.DataFrame,
    holdout_users: float = DEFAULT_HOLDOUT_USERS,
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION,
    seed: int = 0,
    by_time: bool = True,
) -> PersonalizeSplit:
    """Hold out ``holdout_users`` of the users; split each one's rows by time.

    Only users with at least two interactions can be held out (one to give, one to predict).
    Each held-out user keeps ``ceil(holdout_fraction · n)`` newest rows as truth, at most
    ``n − 1``; rows with equal timestamps keep their order in the frame. Without ``by_time``
    the truth rows are a random share of the user's rows instead: where timestamps are the
    file's order, "newest" would only mean "listed last", and a figure measured on that says
    more about the file than about the model.
    """
    if not 0 < holdout_users < 1 or not 0 < holdout_fraction < 1:
        raise InvalidRequestError(
            "holdout_users and holdout_fraction must be between 0 and 1 (exclusive), got "
            f"{holdout_users} and {holdout_fraction}"
        )
    users = interactions[USER_ID].astype(str)
    counts = users.value_counts()
    eligible = np.sort(counts.index[counts >= 2].to_numpy(dtype=str))
    wanted = max(1, round(holdout_users * len(counts))) if len(eligible) else 0
    rng = np.random.default_rng(seed)
    held = rng.choice(eligible, size=min(wanted, len(eligible)), replace=False)
    is_held = users.isin(set(held.tolist())).to_numpy()
    held_rows = interactions[is_held]
    when = held_rows[TIMESTAMP].to_numpy() if by_time else rng.random(len(held_rows))
    order = np.lexsort((np.arange(len(held_rows)), when, users[is_held]))
    ordered = held_rows.iloc[order]
    ordered_users = ordered[USER_ID].astype(str)
    position = ordered_users.groupby(ordered_users, sort=False).cumcount().to_numpy()
    size = ordered_users.map(ordered_users.value_counts()).to_numpy()
    truth_size = np.minimum(np.ceil(holdout_fraction * size), size - 1)
    is_truth = position >= size - truth_size
    return PersonalizeSplit(
        train=interactions[~is_held],
        test_input=ordered[~is_truth],
        test_truth=ordered[is_truth],
    )


def stratified_split(
    data: pd.DataFrame,
    ratio: float = 0.75,
    min_rating: int = 1,
    filter_by: Literal["user", "item"] = "user",
    col_user: str = USER_ID,
    col_item: str = "ITEM_ID",
    seed: int = 42,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Microsoft Recommenders' ``python_stratified_split`` for one ratio: (train, test).

    ``min_rating > 1`` first drops users (or items, per ``filter_by``) with fewer rows, as
    ``min_rating_filter_pandas`` does. Both parts come back in the sorted order the original
    returns them in.
    """
    if filter_by not in ("user", "item"):
        raise InvalidRequestError(f"filter_by should be either 'user' or 'item', got {filter_by!r}")
    if min_rating < 1:
        raise InvalidRequestError("min_rating should be integer and larger than or equal to 1.")
    if not 0 < ratio < 1:
        raise InvalidRequestError(f"Split ratio has to be between 0 and 1, got {ratio}")
    for column in (col_user, col_item):
        if column not in data.columns:
            raise InvalidRequestError(f"Schema of data not valid. Missing column {column!r}")
    split_by = col_user if filter_by == "user" else col_item
    if min_rating > 1:
        data = data.groupby(split_by).filter(lambda group: len(group) >= min_rating)
    random_column = _free_name(data, "random")
    frame = data.copy()
    frame[random_column] = np.random.RandomState(seed).rand(len(frame))
    frame = frame.sort_values([split_by, random_column])
    groups = frame.groupby(split_by)
    rank = (groups.cumcount() + 1) / groups[split_by].transform("count")
    frame = frame.drop(columns=random_column)
    in_train = (rank <= ratio).to_numpy()
    return frame[in_train], frame[~in_train & (rank <= 1.0).to_numpy()]


def _free_name(frame: pd.DataFrame, base: str) -> str:
    name = base
    while name in frame.columns:
        name = f"_{name}"
    return name
