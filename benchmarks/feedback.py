"""What a rating does to the very next answer: signed feedback beside the unsigned baseline.

The model form (``engine/weights.py``): per (user, item) the latest explicit judgement decides
the sign of the history entry, so a 1–2★ rating or "not interested" is ``-negative_weight`` in
the history vector, while use still combines by ``max``. The baseline, measured in the same
process on the same users, is the form before it: every event a non-negative weight folded by
``max``, where a view (1.0) outweighs a 1★ rating (0.67) and the rating is lost.

For each sampled training user, with the default filter's exclusions (what they launched or
configured), on the user-personalization recipe that ``srs train`` fits:

* **1★ on the top item**: how often it leaves the top 3, and where it lands (26 = left the
  top 25);
* **companions of a 1★ item**: the mean rank change of the three services most similar to the
  top item that were in the top 25 (positive = pushed down);
* **companions of a 5★ item**: the mean rank change of the three services most similar to a
  service outside the user's top 25 (negative = pulled up);
* **offline quality**: nDCG@10 and precision@10 on Personalize's protocol, since training
  histories now carry the dislikes too;
* **cost**: one request with one new event, p50 in ms.

    python benchmarks/feedback.py [--users 3000] [--sample 400]
    python benchmarks/feedback.py --movielens ../shared/data/movielens-100k
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from srs.catalog import load_catalog
from srs.data.synthetic import generate_interactions
from srs.engine import HistoryEvent, create_recipe
from srs.engine.evaluation.tasks import evaluate_model, personalize_task
from srs.engine.recipes.base import Recipe
from srs.engine.weights import EventWeights

USED = ("launched", "configured")
TOP = 25
SIGNED = EventWeights()
UNSIGNED = EventWeights(low_rating_max=None, negative_types=())


def synthetic_interactions(users: int, seed: int) -> pd.DataFrame:
    """The demo generator's log in Personalize's columns (ITEM_ID = service name)."""
    log = generate_interactions(users=users, interactions_per_user=20, seed=seed, catalog=None)
    source = log.interactions
    return pd.DataFrame(
        {
            "USER_ID": source["User ID"].astype(str),
            "ITEM_ID": source["AWS Service"].astype(str),
            "EVENT_TYPE": source["Interaction Type"].astype(str),
            "EVENT_VALUE": source["Rating"].astype("float64"),
            "TIMESTAMP": source["Timestamp"].astype("int64"),
        }
    )


def movielens_interactions(directory: Path) -> pd.DataFrame:
    """u.data as explicit ratings: data SRS did not generate."""
    frame = pd.read_csv(
        directory / "u.data", sep="\t", names=["USER_ID", "ITEM_ID", "EVENT_VALUE", "TIMESTAMP"]
    )
    return pd.DataFrame(
        {
            "USER_ID": frame["USER_ID"].astype(str),
            "ITEM_ID": frame["ITEM_ID"].astype(str),
            "EVENT_TYPE": "rated",
            "EVENT_VALUE": frame["EVENT_VALUE"].astype("float64"),
            "TIMESTAMP": frame["TIMESTAMP"].astype("int64"),
        }
    )


def used_items(frame: pd.DataFrame) -> dict[str, set[str]]:
    used = frame[frame["EVENT_TYPE"].isin(USED)]
    return used.groupby("USER_ID")["ITEM_ID"].agg(set).to_dict()


def ranks(
    model: Recipe, user: str, exclude: set[str], events: Sequence[HistoryEvent] = ()
) -> list[str]:
    answer = model.recommend(user, events=events, num_results=TOP, exclude=exclude)
    return [item.item_id for item in answer]


def place(ranked: list[str], item: str) -> int:
    return ranked.index(item) + 1 if item in ranked else TOP + 1


def companions(model: Recipe, item: str, among: list[str] | None) -> list[str]:
    similar = [entry.item_id for entry in model.similar_items(item, num_results=50)]
    if among is not None:
        similar = [candidate for candidate in similar if candidate in among]
    return similar[:3]


def measure(model: Recipe, users: list[str], used: dict[str, set[str]]) -> dict[str, float]:
    left_top3, landed, down, up, costs = [], [], [], [], []
    catalogue = [str(item) for item in model.item_ids.tolist()]
    rng = np.random.default_rng(0)
    for user in users:
        exclude = used.get(user, set())
        before = ranks(model, user, exclude)
        if len(before) < 4:
            continue
        top = before[0]
        started = time.perf_counter()
        after = ranks(model, user, exclude, [HistoryEvent(top, "rated", 1.0)])
        costs.append(time.perf_counter() - started)
        left_top3.append(place(after, top) > 3)
        landed.append(place(after, top))
        for companion in companions(model, top, before[1:]):
            down.append(place(after, companion) - place(before, companion))
        outside = [item for item in catalogue if item not in before and item not in exclude]
        if outside:
            star = str(rng.choice(outside))
            rated = ranks(model, user, exclude, [HistoryEvent(star, "rated", 5.0)])
            for companion in companions(model, star, None):
                if companion in exclude:
                    continue
                up.append(place(rated, companion) - place(before, companion))
    return {
        "1★ top item leaves the top 3": float(np.mean(left_top3)),
        "1★ top item's rank after (26 = out)": float(np.mean(landed)),
        "1★ companions' rank change": float(np.mean(down)),
        "5★ companions' rank change": float(np.mean(up)),
        "request with one event, p50 ms": float(np.median(costs) * 1000),
    }


def quality(frame: pd.DataFrame, weights: EventWeights) -> dict[str, float]:
    task = personalize_task(frame, seed=0)
    model = create_recipe("user-personalization", weights=weights).fit(task.fit_frame)
    measured = evaluate_model(model, task)
    return {
        "nDCG@10 (Personalize protocol)": measured["normalized_discounted_cumulative_gain_at_10"],
        "precision@10": measured["precision_at_10"],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=3000, help="synthetic users")
    parser.add_argument("--sample", type=int, default=400, help="users whose answers are probed")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--movielens", type=Path, help="a MovieLens-100K folder instead")
    args = parser.parse_args(argv)
    if args.movielens is not None:
        frame, label = movielens_interactions(args.movielens), "MovieLens-100K ratings"
    else:
        load_catalog()
        frame, label = synthetic_interactions(args.users, args.seed), "synthetic demo data"
    used = used_items(frame)
    rng = np.random.default_rng(args.seed)
    population = sorted(frame["USER_ID"].unique())
    users = [str(u) for u in rng.choice(population, min(args.sample, len(population)), False)]
    print(f"{label}: {len(frame):,} interactions, {frame['USER_ID'].nunique():,} users")
    figures: dict[str, dict[str, Any]] = {}
    for name, weights in (("unsigned (baseline)", UNSIGNED), ("signed (shipped)", SIGNED)):
        model = create_recipe("user-personalization", weights=weights).fit(frame)
        figures[name] = {**measure(model, users, used), **quality(frame, weights)}
    names = list(figures)
    print(f"{'':<40}" + "".join(f"{name:>22}" for name in names))
    for figure in figures[names[0]]:
        print(f"{figure:<40}" + "".join(f"{figures[name][figure]:>22.4f}" for name in names))


if __name__ == "__main__":
    main()
