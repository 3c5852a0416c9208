"""MovieLens-100K under Microsoft Recommenders' benchmark protocol, beside their published rows.

Protocol (recommenders examples/06_benchmarks, as ANCHORS.md records it):
``python_stratified_split(df, ratio=0.75, min_rating=1, filter_by="item", seed=42)``
(re-implemented in ``srs.engine.evaluation.splits.stratified_split``), top-10 per user with
the user's training items removed, every held-out rating relevant, nDCG with binary relevance,
full MAP.

Hyperparameters of the default recipe, and its event weighting (binary, rating / 3, or the
compressed (2 + rating) / 5), are chosen by nDCG@10 on validation splits carved from
the 75% training part only (the same stratified split applied to it, with seeds 42, 43 and 44;
the mean over three splits makes the choice less of a coin toss between close candidates); the
test part is used once, for the final figures. The blend weights of user-personalization
(item-item and factor scores, popularity, use during the user's active months, mean rating)
are then learned on the same validation splits (``srs.engine.evaluation.tuning.learn_blend``),
once for each setting of the side information in EASE's Gram (each film's first-listed genre as
its CATEGORY, read from ``u.item`` beside ``u.data``, and the fortnights it was rated in); the
setting whose blend has the best cross-validated nDCG@10 wins. Training time is the ``fit``
of the chosen setting on the whole training part with one BLAS thread (at this size a second
thread costs more in hand-offs than it saves on this 2-core machine: measured 0.75–0.9 s
against 0.87–0.98 s for the blend); other engineers share the machine, so timings are noisy.

    python benchmarks/movielens100k.py [path/to/u.data]

The data is never copied: it is read from ``../shared/data/movielens-100k/u.data`` relative to
the repository root unless a path is given.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from srs.engine import (
    EvaluationTask,
    EventWeights,
    create_recipe,
    evaluate_model,
    grid_search,
    stratified_split,
)
from srs.engine.evaluation.tuning import BlendResult, learn_blend

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path("../shared/data/movielens-100k/u.data")
SEED = 42
RATIO = 0.75
THREADS = 1

PUBLISHED = {  # recommenders README, "Algorithm Comparison", MovieLens 100k, k = 10
    "ALS (Spark)": (0.004732, 0.044239, 0.048462, 0.017796),
    "BiVAE": (0.146126, 0.475077, 0.411771, 0.219145),
    "BPR (Cornac)": (0.132478, 0.441997, 0.388229, 0.212522),
    "embdotbias": (0.018954, 0.117810, 0.104242, 0.042450),
    "LightGCN": (0.088526, 0.419846, 0.379626, 0.144336),
    "NCF": (0.107720, 0.396118, 0.347296, 0.180775),
    "SAR": (0.110591, 0.382461, 0.330753, 0.176385),
    "SVD": (0.012873, 0.095930, 0.091198, 0.032783),
}
METRICS = ("map", "ndcg_at_10", "precision_at_10", "recall_at_10")
TARGET_NDCG = 0.50
TARGET_TRAINING_SECONDS = 1.0

# Each weighting twice: as shipped, where a 1–2 star rating is a dislike (a negative history
# entry), and unsigned. The protocol counts every held-out rating as relevant, low ones too, so
# validation decides whether a low rating here means "not this" or "watched it".
UNSIGNED: dict[str, Any] = {"low_rating_max": None, "negative_types": ()}
WEIGHT_CANDIDATES = {
    "binary": EventWeights(value_reference=None),
    "rating/3": EventWeights(),
    "(2+rating)/5": EventWeights(value_offset=2.0, value_reference=3.0),
    "binary, unsigned": EventWeights(value_reference=None, **UNSIGNED),
    "rating/3, unsigned": EventWeights(**UNSIGNED),
    "(2+rating)/5, unsigned": EventWeights(value_offset=2.0, value_reference=3.0, **UNSIGNED),
}
WEIGHT_LABELS = {id(weights): label for label, weights in WEIGHT_CANDIDATES.items()}
# Each optimum sits inside its range. A wider validation search (l2 also 2, diag_weight also 1)
# found both lower for every weighting; dropping them keeps the run near two and a half minutes.
GRID: dict[str, tuple[Any, ...]] = {
    "l2": (4.0, 8.0, 16.0),
    "diag_weight": (2.0, 4.0, 8.0),
    "popularity_exponent": (-0.2, -0.1, 0.0),
}
VALIDATION_SEEDS = (42, 43, 44)
SIDE_GRID = {"category_weight": (0.0, 0.1, 0.3), "time_weight": (0.0, 0.03, 0.1)}
GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


def read_ratings(path: Path) -> pd.DataFrame:
    """u.data (user, item, rating, timestamp; tab-separated) in Personalize's columns."""
    raw = pd.read_csv(
        path, sep="\t", header=None, names=["user", "item", "rating", "timestamp"], dtype="int64"
    )
    return pd.DataFrame(
        {
            "USER_ID": raw["user"].astype(str),
            "ITEM_ID": raw["item"].astype(str),
            "EVENT_TYPE": "rated",
            "EVENT_VALUE": raw["rating"].astype(float),
            "TIMESTAMP": raw["timestamp"],
        }
    )


def read_items(path: Path) -> pd.DataFrame | None:
    """u.item (pipe-separated, Latin-1) as an items dataset: each film's first-listed genre is
    its CATEGORY (SRS items carry one category); None when the file is absent."""
    if not path.is_file():
        return None
    columns = ["item", "title", "release", "video", "url", *GENRES]
    raw = pd.read_csv(path, sep="|", header=None, names=columns, encoding="latin-1")
    flags = raw[list(GENRES)].to_numpy() > 0
    return pd.DataFrame(
        {
            "ITEM_ID": raw["item"].astype(str),
            "CATEGORY": [GENRES[int(np.argmax(row))] if row.any() else "" for row in flags],
        }
    )


def validation_tasks(train: pd.DataFrame) -> list[EvaluationTask]:
    """The stratified protocol applied to ``train`` itself, once per validation seed."""
    tasks = []
    for seed in VALIDATION_SEEDS:
        fit_part, truth = stratified_split(
            train, ratio=RATIO, min_rating=1, filter_by="item", seed=seed
        )
        tasks.append(EvaluationTask(fit_part, fit_part, truth))
    return tasks


def tune(tasks: list[EvaluationTask]) -> tuple[dict[str, Any], EventWeights, float, int]:
    """Best (hyperparameters, weights) by mean nDCG@10 over the validation ``tasks``."""
    tables = []
    for seed, task in zip(VALIDATION_SEEDS, tasks, strict=True):
        for weights in WEIGHT_CANDIDATES.values():
            table = grid_search(
                "user-personalization", GRID, task, metric="ndcg_at_10", weights=weights
            ).table
            tables.append(table.assign(weights=WEIGHT_LABELS[id(weights)], seed=seed))
    results = pd.concat(tables, ignore_index=True)
    keys = [*GRID, "weights"]
    mean_ndcg = results.groupby(keys, sort=False)["ndcg_at_10"].mean()
    best_key = cast(tuple[Any, ...], mean_ndcg.idxmax())
    best = dict(zip(keys, best_key, strict=True))
    weights = WEIGHT_CANDIDATES[best.pop("weights")]
    params = {name: float(value) for name, value in best.items()}
    return params, weights, float(mean_ndcg.max()), len(results)


def choose_blend(
    tasks: list[EvaluationTask],
    params: dict[str, Any],
    weights: EventWeights,
    items: pd.DataFrame | None,
) -> tuple[dict[str, float], BlendResult]:
    """The side-information weights whose learned blend re-ranks the validation users' lists
    best (cross-validated nDCG@10), and that blend."""
    grid = SIDE_GRID if items is not None else {"time_weight": SIDE_GRID["time_weight"]}
    best: tuple[dict[str, float], BlendResult] | None = None
    for values in itertools.product(*grid.values()):
        side = dict(zip(grid, values, strict=True))
        blend = learn_blend(tasks, {**params, **side}, weights=weights, items=items)
        if best is None or blend.cv_ndcg > best[1].cv_ndcg:
            best = (side, blend)
    assert best is not None
    return best


def measure(
    name: str,
    params: dict[str, Any],
    weights: EventWeights | None,
    task: EvaluationTask,
    items: pd.DataFrame | None,
) -> tuple[dict[str, float], float]:
    model = create_recipe(name, weights, **params)
    started = time.perf_counter()
    model.fit(task.fit_frame, items, threads=THREADS)
    seconds = time.perf_counter() - started
    return evaluate_model(model, task), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=None, help="path to u.data")
    args = parser.parse_args(argv)
    path: Path = args.data if args.data is not None else REPO_ROOT / DEFAULT_DATA
    if not path.is_file():
        print(f"error: {path} not found; pass the path to MovieLens-100K's u.data", file=sys.stderr)
        return 2
    frame = read_ratings(path)
    train, test = stratified_split(frame, ratio=RATIO, min_rating=1, filter_by="item", seed=SEED)
    print(f"MovieLens-100K from {path}: {len(frame)} ratings; train {len(train)}, test {len(test)}")

    items = read_items(path.parent / "u.item")
    tasks = validation_tasks(train)
    started = time.perf_counter()
    params, weights, validation_ndcg, candidates = tune(tasks)
    print(
        f"validation search: {candidates} fits in {time.perf_counter() - started:.1f} s; "
        f"chosen {params}, weights {WEIGHT_LABELS[id(weights)]}, "
        f"mean validation nDCG@10 {validation_ndcg:.4f}"
    )
    started = time.perf_counter()
    side, blend = choose_blend(tasks, params, weights, items)
    print(
        f"side information and blend chosen on the same validation splits in "
        f"{time.perf_counter() - started:.1f} s: {side}; "
        + ", ".join(f"{name} {value:+.3f}" for name, value in blend.weights.items())
        + f" (l2 {blend.l2}); validation nDCG@10 of the re-ranked lists {blend.cv_ndcg:.4f}"
        f" (cross-validated), {blend.item_item_ndcg:.4f} in the item-item order"
    )
    tuned = {**params, **side, "blend": blend.weights}

    task = EvaluationTask(train, train, test)
    rows: list[tuple[str, tuple[float, ...], str]] = [
        (name, values, "published") for name, values in PUBLISHED.items()
    ]
    ours = [
        ("SRS user-personalization (tuned)", "user-personalization", tuned, weights),
        ("SRS EASE alone (tuned, no blend)", "user-personalization", params, weights),
        ("SRS EASE, defaults (untuned)", "user-personalization", {}, None),
        (
            "SRS item-kNN (sparse alternative)",
            "user-personalization",
            {"algorithm": "item-knn"},
            None,
        ),
        ("SRS similar-items", "similar-items", {}, None),
        ("SRS popularity-count", "popularity-count", {}, None),
    ]
    default_metrics: dict[str, float] = {}
    default_seconds = 0.0
    for label, name, recipe_params, recipe_weights in ours:
        metrics, seconds = measure(name, recipe_params, recipe_weights, task, items)
        if not default_metrics:
            default_metrics, default_seconds = metrics, seconds
        values = tuple(metrics[key] for key in METRICS)
        rows.append((label, values, f"{seconds:.3f} s"))

    header = f"{'algorithm':<36} {'MAP':>9} {'nDCG@10':>9} {'P@10':>9} {'R@10':>9}  train"
    print(header)
    print("-" * len(header))
    for label, values, note in rows:
        print(f"{label:<36} " + " ".join(f"{value:9.6f}" for value in values) + f"  {note}")

    best_published = np.max(np.array(list(PUBLISHED.values())), axis=0)
    ours_values = np.array([default_metrics[key] for key in METRICS])
    beats = bool(np.all(ours_values > best_published))
    verdict = "yes" if beats else "NO"
    print(f"\ndefault recipe beats every published row on all four metrics: {verdict}")
    print(
        f"nDCG@10 >= {TARGET_NDCG}: {'yes' if ours_values[1] >= TARGET_NDCG else 'NO'} "
        f"({ours_values[1]:.4f})"
    )
    fast = default_seconds < TARGET_TRAINING_SECONDS
    print(
        f"training < {TARGET_TRAINING_SECONDS:g} s: {'yes' if fast else 'NO'} "
        f"({default_seconds:.3f} s, one BLAS thread)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
