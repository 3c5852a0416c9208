"""Engine speed and memory: training, one recommendation, one new event, beside baselines.

Each step runs in a fresh child process, so its peak RSS is its own; figures are printed, not
asserted (the machine is shared, timings are noisy). Targets (issue: the embedded engine):

* train user-personalization on 100k users × ~240 services × 5M interactions in < 20 s;
  baseline in the same process: popularity-count on the same frame (reading, checking and
  weighting the rows, without the item-item model);
* a dense (EASE) fit on a 10k-item catalogue in < 10 s; baseline: one 10k × 10k float32 matrix
  product, the BLAS work unit the solve is made of;
* one recommendation in process: p50 <= 0.2 ms and p99 <= 1 ms on the ~240-item catalogue,
  p99 <= 2 ms on 10k items; baseline: the bare ``x_u · B`` product for the same users;
* a new event applied to a user's history and the user re-scored: <= 1 ms.

It also prints what a blended user-personalization costs (``blend`` weights set: an
implicit-ALS factor model beside EASE, plus item statistics; the form tuned on MovieLens), to
train on the same 100k users and per request. The targets above are for the default recipe,
which does not blend; these figures say what switching the blend on costs.

It also prints what the serving workers' answer tables cost (every training user's default
answer, built when a model is adopted; ``engine/answers.py``): build time and size, and a
lookup's latency beside the live ``recommend`` it replaces (catalogues up to 2,048 items; larger
ones are scored live).

Serving steps load the models saved by the training steps (memory-mapped, as a worker would)
and cap BLAS at one thread, as serving workers do.

    python benchmarks/engine.py [--users 100000] [--per-user 50] [--requests 5000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

Params = dict[str, Any]
Figures = dict[str, float]
Step = Callable[[Path, Params], Figures]

THREADS_TRAINING = 2
BLENDED = {
    "time_weight": 0.03,
    "blend": {
        "item_item": 0.24,
        "factors": 0.15,
        "popularity": -0.28,
        "window": 0.34,
        "value": -0.29,
    },
}
"""About the weights the MovieLens benchmark learns; any weights cost the same."""
LARGE_ITEMS = 10_000
LARGE_USERS = 100_000
LARGE_PER_USER = 20


def _child(step: Step, workdir: Path, params: Params, queue: Any) -> None:
    figures = step(workdir, params)
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(figures)


def run(step: Step, workdir: Path, params: Params) -> Figures:
    """``step``'s figures, measured alone in a fresh process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(step, workdir, params, queue))
    process.start()
    figures: Figures = queue.get()
    process.join()
    if process.exitcode != 0:
        raise SystemExit(f"step {step.__name__} failed with exit code {process.exitcode}")
    return figures


def synthetic_frame(users: int, per_user: int, seed: int) -> pd.DataFrame:
    """The project's generator in Personalize's columns (service names as item ids)."""
    from srs.data.synthetic import generate_interactions

    source = generate_interactions(users, per_user, seed).interactions
    return pd.DataFrame(
        {
            "USER_ID": source["User ID"],
            "ITEM_ID": source["AWS Service"],
            "EVENT_TYPE": source["Interaction Type"],
            "EVENT_VALUE": source["Rating"].astype(np.float64),
            "TIMESTAMP": source["Timestamp"].astype(np.int64),
        }
    )


def random_frame(users: int, items: int, per_user: int, seed: int) -> pd.DataFrame:
    """A plain random log over a large catalogue: Zipf-like item popularity, funnel event types."""
    rng = np.random.default_rng(seed)
    rows = users * per_user
    popularity = 1.0 / np.arange(1, items + 1) ** 0.8
    item = rng.choice(items, size=rows, p=popularity / popularity.sum())
    types = np.array(["viewed", "clicked", "launched", "configured", "rated"])
    return pd.DataFrame(
        {
            "USER_ID": np.char.add("u", np.repeat(np.arange(users), per_user).astype(str)),
            "ITEM_ID": np.char.add("i", item.astype(str)),
            "EVENT_TYPE": types[rng.choice(5, size=rows, p=[0.45, 0.25, 0.15, 0.1, 0.05])],
            "EVENT_VALUE": rng.integers(1, 6, size=rows).astype(np.float64),
            "TIMESTAMP": 1_700_000_000 + rng.integers(0, 180 * 86_400, size=rows),
        }
    )


def train_synthetic(workdir: Path, params: Params) -> Figures:
    from srs.engine import create_recipe

    frame = synthetic_frame(params["users"], params["per_user"], seed=7)
    started = time.perf_counter()
    baseline = create_recipe("popularity-count").fit(frame, threads=THREADS_TRAINING)
    baseline_seconds = time.perf_counter() - started
    model = create_recipe("user-personalization")
    started = time.perf_counter()
    model.fit(frame, threads=THREADS_TRAINING)
    seconds = time.perf_counter() - started
    model.save(workdir / "small")
    return {
        "rows": float(len(frame)),
        "users": float(model.stats["users"]),
        "items": float(len(model.item_ids)),
        "seconds": seconds,
        "baseline_seconds": baseline_seconds,
        "baseline_items": float(len(baseline.item_ids)),
    }


def train_blended(workdir: Path, params: Params) -> Figures:
    from srs.engine import create_recipe

    frame = synthetic_frame(params["users"], params["per_user"], seed=7)
    model = create_recipe("user-personalization", None, **BLENDED)
    started = time.perf_counter()
    model.fit(frame, threads=THREADS_TRAINING)
    seconds = time.perf_counter() - started
    model.save(workdir / "blended")
    return {"rows": float(len(frame)), "seconds": seconds}


def train_large(workdir: Path, params: Params) -> Figures:
    from threadpoolctl import threadpool_limits

    from srs.engine import create_recipe

    frame = random_frame(LARGE_USERS, LARGE_ITEMS, LARGE_PER_USER, seed=11)
    rng = np.random.default_rng(0)
    left = rng.random((LARGE_ITEMS, LARGE_ITEMS), dtype=np.float32)
    with threadpool_limits(THREADS_TRAINING):
        started = time.perf_counter()
        _ = left @ left
        matmul_seconds = time.perf_counter() - started
    del left, _
    model = create_recipe("user-personalization", algorithm="ease")
    started = time.perf_counter()
    model.fit(frame, threads=THREADS_TRAINING)
    seconds = time.perf_counter() - started
    model.save(workdir / "large")
    return {
        "rows": float(len(frame)),
        "items": float(len(model.item_ids)),
        "seconds": seconds,
        "baseline_seconds": matmul_seconds,
    }


def serve(workdir: Path, params: Params) -> Figures:
    """Latency of ``recommend`` and of ``recommend`` with one new event, on a saved model."""
    from threadpoolctl import threadpool_limits

    from srs.engine import HistoryEvent, UserPersonalization, load_model
    from srs.serving.local_service import ANSWER_TABLE_MAX_ITEMS

    threadpool_limits(1)
    started = time.perf_counter()
    model = load_model(workdir / params["model"])
    load_seconds = time.perf_counter() - started
    assert isinstance(model, UserPersonalization) and model.dense_weights is not None
    weights = model.dense_weights
    rng = np.random.default_rng(3)
    users = rng.choice(model.user_ids, size=params["requests"]).tolist()
    items = rng.choice(model.item_ids, size=params["requests"]).tolist()
    for user in users[:200]:  # warm up: page in the arrays the requests touch
        model.recommend(user)
    plain = _latencies(lambda user, _item: model.recommend(user, num_results=25), users, items)
    with_event = _latencies(
        lambda user, item: model.recommend(
            user, events=[HistoryEvent(item, "launched", 5.0)], num_results=25
        ),
        users,
        items,
    )

    def bare_product(user: str, _item: str) -> None:
        columns, values = model.history(user)
        np.dot(values.astype(np.float32), weights[columns])

    bare = _latencies(bare_product, users, items)
    figures = {}
    if params["table"] and len(model.item_ids) <= ANSWER_TABLE_MAX_ITEMS:
        started = time.perf_counter()
        table = model.answer_table(25)
        table_seconds = time.perf_counter() - started
        assert table is not None
        lookup = _latencies(lambda user, _item: table.ranked(user, 25), users, items)
        figures = {
            "users": float(len(model.user_ids)),
            "table_seconds": table_seconds,
            "table_mib": table.nbytes / 2**20,
            "lookup_p50_ms": float(np.percentile(lookup, 50)),
            "lookup_p99_ms": float(np.percentile(lookup, 99)),
        }
    return {
        **figures,
        "items": float(len(model.item_ids)),
        "load_seconds": load_seconds,
        "p50_ms": float(np.percentile(plain, 50)),
        "p99_ms": float(np.percentile(plain, 99)),
        "event_p50_ms": float(np.percentile(with_event, 50)),
        "event_p99_ms": float(np.percentile(with_event, 99)),
        "bare_p50_ms": float(np.percentile(bare, 50)),
        "bare_p99_ms": float(np.percentile(bare, 99)),
    }


def _latencies(call: Callable[[str, str], Any], users: list[str], items: list[str]) -> np.ndarray:
    timings = np.empty(len(users))
    clock = time.perf_counter_ns
    for position, (user, item) in enumerate(zip(users, items, strict=True)):
        started = clock()
        call(user, item)
        timings[position] = clock() - started
    return timings / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--per-user", type=int, default=50)
    parser.add_argument("--requests", type=int, default=5_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="srs-engine-bench-") as temporary:
        workdir = Path(temporary)
        params: Params = {"users": args.users, "per_user": args.per_user}
        small = run(train_synthetic, workdir, params)
        print(
            f"train user-personalization (EASE): {small['rows']:.0f} rows, "
            f"{small['users']:.0f} users, {small['items']:.0f} items: {small['seconds']:.2f} s "
            f"(target < 20 s; baseline popularity-count on the same frame "
            f"{small['baseline_seconds']:.2f} s); peak RSS {small['peak_rss_mib']:.0f} MiB"
        )
        large = run(train_large, workdir, {})
        print(
            f"train dense EASE on {large['items']:.0f} items ({large['rows']:.0f} rows): "
            f"{large['seconds']:.2f} s (target < 10 s; baseline one {LARGE_ITEMS}² float32 "
            f"matmul {large['baseline_seconds']:.2f} s); peak RSS {large['peak_rss_mib']:.0f} MiB"
        )
        blended = run(train_blended, workdir, params)
        print(
            f"train a blended user-personalization on the same {blended['rows']:.0f} rows: "
            f"{blended['seconds']:.2f} s (vs the default's {small['seconds']:.2f} s above); "
            f"peak RSS {blended['peak_rss_mib']:.0f} MiB"
        )
        for name, target in (("small", 1.0), ("blended", 1.0), ("large", 2.0)):
            figures = run(
                serve,
                workdir,
                {"model": name, "requests": args.requests, "table": name != "blended"},
            )
            print(
                f"recommend{', blended' if name == 'blended' else ''}, "
                f"{figures['items']:.0f} items (model loaded in "
                f"{figures['load_seconds']:.2f} s, SHA-256 checked): "
                f"p50 {figures['p50_ms']:.3f} ms, p99 {figures['p99_ms']:.3f} ms "
                f"(target p99 <= {target:g} ms); with a new event "
                f"p50 {figures['event_p50_ms']:.3f} ms, p99 {figures['event_p99_ms']:.3f} ms "
                f"(target <= 1 ms); baseline bare x_u·B p50 {figures['bare_p50_ms']:.3f} ms, "
                f"p99 {figures['bare_p99_ms']:.3f} ms; peak RSS {figures['peak_rss_mib']:.0f} MiB"
            )
            if "table_seconds" not in figures:
                continue
            print(
                f"  answer table for {figures['users']:.0f} users x 25: built in "
                f"{figures['table_seconds']:.1f} s, {figures['table_mib']:.0f} MiB; a lookup "
                f"p50 {figures['lookup_p50_ms']:.4f} ms, p99 {figures['lookup_p99_ms']:.4f} ms "
                f"(vs recommend above)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
