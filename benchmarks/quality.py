"""Recommendation quality of the product path — exactly what ``srs train`` runs — on any data.

``movielens100k.py`` measures a recipe tuned by the benchmark itself; this script measures what
a user gets. It splits the data with Microsoft Recommenders' protocol
(``python_stratified_split(ratio=0.75, filter_by="item", seed=42)``, re-implemented in
``srs.engine.evaluation.splits.stratified_split``), writes the training part as a prepared
dataset into a temporary data directory, and calls ``srs.training.train_and_activate`` — the
function behind ``srs train`` — untuned (``--no-tune``), with its own tuning (plain ``srs
train``) and, with ``--blend``, as ``srs train --blend``. The model it activates scores every
test user's top 10 among the items they did not use in the training part, and the figures are
Recommenders' (full MAP, nDCG@10, precision@10, recall@10) from
``srs.engine.evaluation.tasks.evaluate_model``, the same code the MovieLens benchmark and the
anchors use.

Beside them, in the same run and on the same split: popularity, and plain EASE (binary
matrix, no dropout-emphasis term, no popularity scaling) at the EASE paper's absolute λ in
{50, 100, 200, 300, 500}. SRS writes EASE's ridge relative to the mean Gram diagonal
(``engine/ease.py``), so each λ is passed as ``l2 = λ / mean(diag(XᵀX))`` and the table says
which relative l2 that was. The best of those λ is picked *on the test split*: it is the upper
anchor the product path should reach without seeing the test split.

Inputs (figures are printed; nothing here is asserted by tests):

    python benchmarks/quality.py                                  # ML-100K (u.data, u.item)
    python benchmarks/quality.py --movielens DIR
    python benchmarks/quality.py --interactions F.csv [--items ITEMS.csv] [--blend]
    python benchmarks/quality.py --format movietweetings --source DIR --write-interactions F.csv
    python benchmarks/quality.py --format steam --source DIR --write-interactions F.csv
    python benchmarks/quality.py --format bookcrossing --source DIR --write-interactions F.csv

``--interactions`` takes Personalize's columns (USER_ID, ITEM_ID, EVENT_TYPE, EVENT_VALUE and
optionally TIMESTAMP). Without TIMESTAMP each user's rows get increasing timestamps in source
order, as ``srs prepare`` gives them. An ``items.csv`` beside the file is used when ``--items``
is not given; otherwise every item gets CATEGORY "x". The converters turn two public sets into
that form, outside the repository (the data is never committed):

* ``movietweetings``: the MovieTweetings ``snapshots/100K`` folder (``ratings.dat``,
  ``movies.dat``); ratings 0–10 become 1–5 stars (``ceil(r / 2)``, 0 → 1), since SRS's
  ratings are stars (``srs prepare`` refuses other values); CATEGORY is the first genre.
* ``steam``: the Steam-200k set as reorganised in caserec/Datasets-for-Recommender-Systems
  (``game_purchase.dat``, ``game_play.dat``, ``item_info.dat``): a ``purchase`` row (value 1)
  per owned game, then a ``play`` row with the hours played, as the original file lists them;
  there are no timestamps, and the raw hours go into EVENT_VALUE as a user's log would have them.
* ``bookcrossing``: Book-Crossing as reorganised in the same repository (``book_history.dat``,
  ``items_info.dat``): one ``viewed`` row per book a user accessed (value 1), no timestamps,
  titles as names and no categories. It is the large catalogue (17k books) of the set.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from srs.config import load_settings
from srs.data.prepare import SYNTHETIC_TIMESTAMP_START, SYNTHETIC_TIMESTAMP_STEP
from srs.engine import EvaluationTask, EventWeights, Recipe, create_recipe, evaluate_model
from srs.engine.evaluation.splits import stratified_split
from srs.training import train_and_activate

DEFAULT_MOVIELENS = Path("../shared/data/movielens-100k")
RATIO = 0.75
SEED = 42
LAMBDAS = (50.0, 100.0, 200.0, 300.0, 500.0)
METRICS = ("map", "ndcg_at_10", "precision_at_10", "recall_at_10")
COLUMNS = ("USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP")
ITEM_COLUMNS = ("ITEM_ID", "SERVICE_NAME", "CATEGORY", "DESCRIPTION")
DEFAULT_CATEGORY = "x"
MOVIELENS_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
PLAIN_EASE = EventWeights(
    type_weights={},
    default_weight=1.0,
    value_reference=None,
    low_rating_max=None,
    negative_types=(),
)
"""A binary user × item matrix: every event type weighs 1, values ignored, nothing negative."""

console = Console(stderr=True)


@dataclass(frozen=True)
class Dataset:
    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame


@dataclass
class Row:
    model: str
    metrics: dict[str, float]
    seconds: float
    peak_rss_mib: float
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# ---- loading ---------------------------------------------------------------------------------


def with_source_order_timestamps(frame: pd.DataFrame) -> pd.DataFrame:
    """TIMESTAMP as ``srs prepare`` gives a source without one: each user's rows in file order,
    one step apart from the same start, so time-aware parts of the product see the same data."""
    sequence = frame.groupby("USER_ID", sort=False).cumcount().to_numpy(dtype=np.int64)
    return frame.assign(TIMESTAMP=SYNTHETIC_TIMESTAMP_START + sequence * SYNTHETIC_TIMESTAMP_STEP)


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Personalize's columns with the dtypes ``srs train`` reads them with."""
    if "TIMESTAMP" not in frame.columns:
        frame = with_source_order_timestamps(frame)
    return pd.DataFrame(
        {
            "USER_ID": frame["USER_ID"].astype(str),
            "ITEM_ID": frame["ITEM_ID"].astype(str),
            "EVENT_TYPE": frame["EVENT_TYPE"].astype(str),
            "EVENT_VALUE": frame["EVENT_VALUE"].astype("float64"),
            "TIMESTAMP": frame["TIMESTAMP"].astype("int64"),
        }
    ).reset_index(drop=True)


def items_frame(
    item_ids: pd.Series,
    names: dict[str, str] | None = None,
    categories: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Personalize's items dataset for ``item_ids``; missing names are the id, categories "x"."""
    ids = sorted(set(item_ids.astype(str).tolist()))
    names, categories = names or {}, categories or {}
    return pd.DataFrame(
        {
            "ITEM_ID": ids,
            "SERVICE_NAME": [names.get(item) or item for item in ids],
            "CATEGORY": [categories.get(item) or DEFAULT_CATEGORY for item in ids],
            "DESCRIPTION": "",
        }
    )


def read_movielens(directory: Path) -> Dataset:
    """ML-100K's u.data; each film's first-listed genre in u.item is its CATEGORY."""
    raw = pd.read_csv(
        directory / "u.data", sep="\t", header=None, names=["u", "i", "r", "t"], dtype="int64"
    )
    frame = pd.DataFrame(
        {
            "USER_ID": raw["u"].astype(str),
            "ITEM_ID": raw["i"].astype(str),
            "EVENT_TYPE": "rated",
            "EVENT_VALUE": raw["r"].astype(float),
            "TIMESTAMP": raw["t"],
        }
    )
    names: dict[str, str] = {}
    categories: dict[str, str] = {}
    item_file = directory / "u.item"
    if item_file.is_file():
        columns = ["item", "title", "release", "video", "url", *MOVIELENS_GENRES]
        info = pd.read_csv(item_file, sep="|", header=None, names=columns, encoding="latin-1")
        flags = info[list(MOVIELENS_GENRES)].to_numpy() > 0
        ids = info["item"].astype(str).tolist()
        names = dict(zip(ids, info["title"].astype(str).tolist(), strict=True))
        categories = {
            item: MOVIELENS_GENRES[int(np.argmax(row))]
            for item, row in zip(ids, flags, strict=True)
            if row.any()
        }
    return Dataset(
        f"MovieLens-100K ({directory})",
        normalise(frame),
        items_frame(frame["ITEM_ID"], names, categories),
    )


def read_movietweetings(directory: Path) -> Dataset:
    """MovieTweetings (user::movie::rating 0–10::unix time); ratings become 1–5 stars."""
    raw = pd.read_csv(
        directory / "ratings.dat",
        sep="::",
        engine="python",
        header=None,
        names=["u", "i", "r", "t"],
        dtype={"u": str, "i": str, "r": "float64", "t": "int64"},
    )
    stars = np.clip(np.ceil(raw["r"].to_numpy() / 2.0), 1.0, 5.0)
    frame = pd.DataFrame(
        {
            "USER_ID": raw["u"],
            "ITEM_ID": raw["i"],
            "EVENT_TYPE": "rated",
            "EVENT_VALUE": stars,
            "TIMESTAMP": raw["t"],
        }
    )
    names: dict[str, str] = {}
    categories: dict[str, str] = {}
    movies = directory / "movies.dat"
    if movies.is_file():
        for line in movies.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("::")
            if len(parts) >= 2:
                names[parts[0]] = parts[1]
                genre = parts[2].split("|")[0] if len(parts) > 2 else ""
                if genre:
                    categories[parts[0]] = genre
    return Dataset(
        f"MovieTweetings ({directory})",
        normalise(frame),
        items_frame(frame["ITEM_ID"], names, categories),
    )


def read_steam(directory: Path) -> Dataset:
    """Steam-200k (caserec's files): per user, a purchase row per owned game, then play rows
    (hours) — the original file's order; no timestamps, so source-order ones are given."""
    purchases = pd.read_csv(directory / "game_purchase.dat", sep="\t", dtype=str)
    plays = pd.read_csv(directory / "game_play.dat", sep="\t", dtype=str)
    purchases = pd.DataFrame(
        {
            "USER_ID": purchases["User_ID"],
            "ITEM_ID": purchases["Game_ID"],
            "EVENT_TYPE": "purchase",
            "EVENT_VALUE": purchases["Purchase"].astype(float),
        }
    )
    plays = pd.DataFrame(
        {
            "USER_ID": plays["User_ID"],
            "ITEM_ID": plays["Game_ID"],
            "EVENT_TYPE": "play",
            "EVENT_VALUE": plays["Hours"].astype(float),
        }
    )
    frame = pd.concat([purchases, plays], ignore_index=True)
    order = np.lexsort((np.arange(len(frame)), frame["USER_ID"].astype(int).to_numpy()))
    frame = frame.iloc[order].reset_index(drop=True)
    names: dict[str, str] = {}
    info_file = directory / "item_info.dat"
    if info_file.is_file():
        info = pd.read_csv(info_file, sep="\t", dtype=str, quoting=3)
        names = dict(
            zip(info.iloc[:, 0].tolist(), info.iloc[:, 1].fillna("").tolist(), strict=True)
        )
    return Dataset(
        f"Steam-200k ({directory})",
        with_source_order_timestamps(frame).pipe(normalise),
        items_frame(frame["ITEM_ID"], names),
    )


def read_bookcrossing(directory: Path) -> Dataset:
    """Book-Crossing (caserec's files): implicit accesses in user order, without times."""
    history = pd.read_csv(directory / "book_history.dat", sep="\t", dtype=str)
    frame = pd.DataFrame(
        {
            "USER_ID": history["user"],
            "ITEM_ID": history["item"],
            "EVENT_TYPE": "viewed",
            "EVENT_VALUE": history["accessed"].astype(float),
        }
    )
    names: dict[str, str] = {}
    info_file = directory / "items_info.dat"
    if info_file.is_file():
        info = pd.read_csv(
            info_file, sep="\t", dtype=str, quoting=3, usecols=[0, 2], index_col=False
        )
        names = dict(
            zip(info.iloc[:, 0].tolist(), info.iloc[:, 1].fillna("").tolist(), strict=True)
        )
    return Dataset(
        f"Book-Crossing ({directory})",
        with_source_order_timestamps(frame).pipe(normalise),
        items_frame(frame["ITEM_ID"], names),
    )


def read_interactions(path: Path, items_path: Path | None) -> Dataset:
    """Any interactions CSV in Personalize's columns; TIMESTAMP may be missing."""
    frame = pd.read_csv(path, dtype={"USER_ID": str, "ITEM_ID": str, "EVENT_TYPE": str})
    missing = {"USER_ID", "ITEM_ID"} - set(frame.columns)
    if missing:
        raise SystemExit(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    if "EVENT_TYPE" not in frame.columns:
        frame["EVENT_TYPE"] = "viewed"
    if "EVENT_VALUE" not in frame.columns:
        frame["EVENT_VALUE"] = np.nan
    stamped = "TIMESTAMP" in frame.columns
    frame = normalise(frame)
    items_path = items_path or (path.parent / "items.csv")
    if items_path.is_file():
        listed = pd.read_csv(items_path, dtype=str, keep_default_na=False)
        names = dict(
            zip(listed["ITEM_ID"], listed.get("SERVICE_NAME", listed["ITEM_ID"]), strict=True)
        )
        categories = dict(
            zip(listed["ITEM_ID"], listed.get("CATEGORY", listed["ITEM_ID"]), strict=True)
        )
        items = items_frame(frame["ITEM_ID"], names, categories)
    else:
        items = items_frame(frame["ITEM_ID"])
    note = "" if stamped else ", source-order timestamps"
    return Dataset(f"{path}{note}", frame, items)


CONVERTERS: dict[str, Callable[[Path], Dataset]] = {
    "movielens": read_movielens,
    "movietweetings": read_movietweetings,
    "steam": read_steam,
    "bookcrossing": read_bookcrossing,
}


# ---- measuring -------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def prepared_data_dir(train: pd.DataFrame, items: pd.DataFrame) -> Iterator[Path]:
    """A throw-away data directory holding ``train`` as ``srs prepare`` would have written it."""
    with tempfile.TemporaryDirectory(prefix="srs-quality-") as scratch:
        directory = Path(scratch)
        dataset = directory / "dataset"
        dataset.mkdir()
        train.loc[:, list(COLUMNS)].to_csv(dataset / "interactions.csv", index=False)
        items.loc[:, list(ITEM_COLUMNS)].to_csv(dataset / "items.csv", index=False)
        yield directory


def product_row(
    label: str,
    task: EvaluationTask,
    items: pd.DataFrame,
    progress: Progress,
    *,
    tune: bool,
    blend: bool,
) -> Row:
    """Train through ``train_and_activate`` (what ``srs train`` calls) and score its model."""
    step = progress.add_task(label, total=None)

    def say(message: str) -> None:
        progress.update(step, description=f"{label}: {message}")

    with prepared_data_dir(task.fit_frame, items) as directory:
        settings = load_settings(environ={}, overrides={"data_dir": directory})
        started = time.perf_counter()
        loaded = train_and_activate(settings, tune=tune, evaluate=False, blend=blend, progress=say)
        seconds = time.perf_counter() - started
    say("scoring the test split")
    metrics = evaluate_model(loaded.recipe, task)
    progress.remove_task(step)
    training = loaded.training
    parameters = {k: v for k, v in training.get("parameters", {}).items() if k != "blend"}
    note = f"fit {training.get('fit_seconds')} s"
    if parameters:
        note += "; " + ", ".join(f"{k}={v}" for k, v in parameters.items())
    blend_report = training.get("blend") or {}
    if blend:
        adopted = blend_report.get("adopted")
        note += f"; blend adopted={adopted}"
        if "validation_ndcg_at_10" in blend_report:
            note += (
                f" (validation nDCG {blend_report['validation_ndcg_at_10']} vs item-item "
                f"{blend_report['item_item_ndcg_at_10']})"
            )
        elif "reason" in blend_report:
            note += f" ({blend_report['reason']})"
    return Row(label, metrics, seconds, peak_rss_mib(), note, {"training": training})


def fitted_row(label: str, model: Recipe, task: EvaluationTask, note: str = "") -> Row:
    started = time.perf_counter()
    model.fit(task.fit_frame)
    seconds = time.perf_counter() - started
    return Row(label, evaluate_model(model, task), seconds, peak_rss_mib(), note)


def mean_gram_diagonal(train: pd.DataFrame) -> float:
    """mean(diag(XᵀX)) of the binary matrix: distinct (user, item) pairs per catalogue item."""
    pairs = train[["USER_ID", "ITEM_ID"]].drop_duplicates()
    return len(pairs) / max(pairs["ITEM_ID"].nunique(), 1)


def baseline_rows(
    task: EvaluationTask, lambdas: tuple[float, ...], progress: Progress
) -> list[Row]:
    """Popularity and plain EASE at each absolute λ, fitted on the training part."""
    step = progress.add_task("popularity-count", total=1 + len(lambdas))
    rows = [fitted_row("popularity-count", create_recipe("popularity-count"), task)]
    progress.advance(step)
    scale = mean_gram_diagonal(task.fit_frame)
    for value in lambdas:
        progress.update(step, description=f"plain EASE λ={value:g}")
        model = create_recipe(
            "user-personalization",
            PLAIN_EASE,
            algorithm="ease",
            l2=value / scale,
            diag_weight=0.0,
            popularity_exponent=0.0,
        )
        rows.append(
            fitted_row(f"plain EASE λ={value:g}", model, task, f"l2 = {value / scale:.4g} relative")
        )
        progress.advance(step)
    progress.remove_task(step)
    return rows


def describe(dataset: Dataset) -> str:
    frame = dataset.interactions
    return (
        f"{dataset.name}: {len(frame):,} rows, {frame['USER_ID'].nunique():,} users, "
        f"{frame['ITEM_ID'].nunique():,} items; event types "
        + ", ".join(f"{k} {v:,}" for k, v in frame["EVENT_TYPE"].value_counts().items())
    )


HEADER = (
    f"{'model':<34} {'MAP':>7} {'nDCG@10':>8} {'P@10':>7} {'R@10':>7} {'train s':>8} "
    f"{'peak RSS':>9}  notes"
)


def format_row(row: Row) -> str:
    values = " ".join(
        f"{row.metrics.get(name, float('nan')):>{8 if name == 'ndcg_at_10' else 7}.4f}"
        for name in METRICS
    )
    return f"{row.model:<34} {values} {row.seconds:>8.2f} {row.peak_rss_mib:>5.0f} MiB  {row.note}"


def print_table(rows: list[Row], scale: float) -> None:
    print(HEADER)
    print("-" * len(HEADER))
    for row in rows:
        print(format_row(row))
    eases = [row for row in rows if row.model.startswith("plain EASE")]
    if eases:
        best = max(eases, key=lambda row: row.metrics.get("ndcg_at_10", -math.inf))
        print(
            f"\nbest plain EASE on the test split (nDCG@10): {best.model}; "
            f"mean(diag(XᵀX)) = {scale:.2f}, so SRS's relative l2 = λ / {scale:.2f}"
        )
    users = {int(row.metrics.get("users", 0)) for row in rows}
    print(f"test users scored: {', '.join(str(u) for u in sorted(users))}")
    print(f"peak RSS of the whole run: {peak_rss_mib():.0f} MiB")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--interactions", type=Path, help="Personalize interactions CSV")
    source.add_argument("--movielens", type=Path, help="directory holding ML-100K's u.data")
    source.add_argument(
        "--format", choices=sorted(CONVERTERS), help="read a public set's own files from --source"
    )
    parser.add_argument("--source", type=Path, help="directory of the --format set's files")
    parser.add_argument("--items", type=Path, help="items CSV for --interactions")
    parser.add_argument(
        "--write-interactions",
        type=Path,
        help="write the data as Personalize's interactions CSV (and items.csv beside) and stop",
    )
    parser.add_argument("--blend", action="store_true", help="also run srs train --blend")
    parser.add_argument(
        "--no-tune", action="store_true", help="skip srs train's own tuning (quick look)"
    )
    parser.add_argument(
        "--lambdas",
        type=lambda text: tuple(float(part) for part in text.split(",")),
        default=LAMBDAS,
        help="plain EASE's absolute λ values (comma-separated)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.format and not args.source:
        parser.error("--format needs --source DIR")
    return args


def load(args: argparse.Namespace) -> Dataset:
    if args.interactions:
        return read_interactions(args.interactions, args.items)
    if args.format:
        return CONVERTERS[args.format](args.source)
    return read_movielens(args.movielens or DEFAULT_MOVIELENS)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dataset = load(args)
    if args.write_interactions:
        target: Path = args.write_interactions
        target.parent.mkdir(parents=True, exist_ok=True)
        columns = list(COLUMNS)
        if args.format in ("steam", "bookcrossing"):
            columns.remove("TIMESTAMP")  # the source has none: leave it to the reader
        dataset.interactions.loc[:, columns].to_csv(target, index=False)
        dataset.items.loc[:, list(ITEM_COLUMNS)].to_csv(target.parent / "items.csv", index=False)
        print(f"wrote {target} and {target.parent / 'items.csv'}: {describe(dataset)}")
        return 0

    print(describe(dataset))
    train, test = stratified_split(dataset.interactions, ratio=RATIO, filter_by="item", seed=SEED)
    task = EvaluationTask(train, train, test)
    print(
        f"stratified split (ratio {RATIO}, filter_by item, seed {SEED}): {len(train):,} train "
        f"rows, {len(test):,} test rows, {test['USER_ID'].nunique():,} test users"
    )
    runs = [("SRS untuned default (--no-tune)", False, False)]
    if not args.no_tune:
        runs.append(("SRS srs train (own tuning)", True, False))
    if args.blend:
        runs.append(("SRS srs train --blend", True, True))
    rows: list[Row] = []
    started = time.perf_counter()
    print(HEADER, flush=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        # Baselines first: they are quick, and a long tuning run then still leaves figures.
        for row in baseline_rows(task, args.lambdas, progress):
            rows.append(row)
            print(format_row(row), flush=True)
        for label, tune, blend in runs:
            rows.append(product_row(label, task, dataset.items, progress, tune=tune, blend=blend))
            print(format_row(rows[-1]), flush=True)
    product = [row for row in rows if row.model.startswith("SRS")]
    print()
    print_table(product + [row for row in rows if row not in product], mean_gram_diagonal(train))
    print(f"whole run: {time.perf_counter() - started:.1f} s")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "dataset": describe(dataset),
                    "rows": [
                        {
                            "model": row.model,
                            **{name: row.metrics.get(name) for name in METRICS},
                            "users": row.metrics.get("users"),
                            "seconds": round(row.seconds, 3),
                            "peak_rss_mib": round(row.peak_rss_mib),
                            "note": row.note,
                        }
                        for row in rows
                    ],
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
