"""Whether the demo's hidden personas come back: persona services in each user's top 10.

The synthetic generator draws every user from a persona (``data/personas.py``) with core
services and co-usage bundles, and writes who is what to ``ground_truth.csv``. A recommender
that learnt the structure fills a user's top 10 (services they launched or configured left out,
as the default filter does) with their persona's services. This runs the product path on the
demo data (``srs generate``'s defaults, ``prepare_dataset``, then ``train_and_activate``:
untuned, and tuned with the blend as ``srs train`` runs) and prints the share of top-10 slots
that hold a service of the user's primary persona, beside popularity's in the same run.

    python benchmarks/personas.py [--users 2000] [--seed 42]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from srs.catalog import load_catalog
from srs.config import load_settings
from srs.data.personas import BUNDLES, PERSONAS
from srs.data.prepare import prepare_dataset
from srs.data.synthetic import generate_interactions, write_source
from srs.engine.recipes.base import Recipe
from srs.training import train_and_activate

TOP = 10
USED = ("launched", "configured")


def persona_services() -> dict[str, set[str]]:
    """Each persona's core services and the services of the bundles it adopts."""
    bundles = {bundle.name: set(bundle.services) for bundle in BUNDLES}
    return {
        persona.name: {name for name, _ in persona.core_services}
        | set().union(*(bundles.get(name, set()) for name, _ in persona.bundles))
        for persona in PERSONAS
    }


def hit_rate(
    recipe: Recipe, truth: pd.DataFrame, interactions: pd.DataFrame, names: dict[str, str]
) -> float:
    """Share of top-10 slots, over all users, that hold one of the user's persona services."""
    services = persona_services()
    used = interactions[interactions["EVENT_TYPE"].isin(USED)]
    used_by = used.groupby("USER_ID")["ITEM_ID"].agg(set).to_dict()
    hits = slots = 0
    for user, persona in zip(truth["User ID"], truth["Persona"], strict=True):
        answer = recipe.recommend(user, num_results=TOP, exclude=used_by.get(user, set()))
        wanted = services[persona]
        hits += sum(names.get(item.item_id, "") in wanted for item in answer)
        slots += len(answer)
    return hits / max(slots, 1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="srs-personas-") as scratch:
        settings = load_settings(environ={}, overrides={"data_dir": Path(scratch)})
        catalog = load_catalog()
        data = generate_interactions(
            users=args.users, interactions_per_user=20, seed=args.seed, catalog=catalog
        )
        write_source(data, settings.source_path, ground_truth_path=settings.ground_truth_path)
        prepare_dataset(settings.source_path, settings.dataset_dir, catalog=catalog)
        truth = pd.read_csv(settings.ground_truth_path, dtype=str, keep_default_na=False)
        interactions = pd.read_csv(settings.dataset_dir / "interactions.csv", dtype=str)
        mapping = pd.read_csv(settings.dataset_dir / "service_mapping.csv", dtype=str)
        names = dict(zip(mapping["ITEM_ID"], mapping["SERVICE_NAME"], strict=True))
        print(f"demo data: {len(interactions):,} interactions, {len(truth):,} users")
        print(f"{'model':<44}{'persona hit rate @10':>22}{'train s':>10}")
        for label, recipe, options in (
            ("popularity-count", "popularity-count", {"tune": False}),
            ("srs train --no-tune", "user-personalization", {"tune": False}),
            ("srs train (tuned, blend tried)", "user-personalization", {"blend": True}),
        ):
            started = time.perf_counter()
            loaded = train_and_activate(settings, recipe, evaluate=False, **options)
            seconds = time.perf_counter() - started
            rate = hit_rate(loaded.recipe, truth, interactions, names)
            print(f"{label:<44}{rate:>22.4f}{seconds:>10.1f}")


if __name__ == "__main__":
    main()
