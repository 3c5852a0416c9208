"""Recipe names (Personalize's) → classes, and loading a saved model of any recipe."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from srs.engine.base import Recipe
from srs.engine.errors import HyperparameterError, ModelFormatError
from srs.engine.persistence import load_model_files
from srs.engine.personalization import PersonalizedRanking, UserPersonalization
from srs.engine.popularity import PopularityCount
from srs.engine.sims import SimilarItems
from srs.engine.trending import TrendingNow
from srs.engine.weights import EventWeights

DEFAULT_RECIPE: Final = UserPersonalization.name
RECIPES: Final[Mapping[str, type[Recipe]]] = MappingProxyType(
    {
        recipe.name: recipe
        for recipe in (
            UserPersonalization,
            PopularityCount,
            SimilarItems,
            PersonalizedRanking,
            TrendingNow,
        )
    }
)


def create_recipe(
    name: str = DEFAULT_RECIPE, weights: EventWeights | None = None, **hyperparameters: Any
) -> Recipe:
    """An unfitted recipe by its Personalize name, e.g. ``create_recipe("similar-items")``."""
    recipe = RECIPES.get(name)
    if recipe is None:
        raise HyperparameterError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
    try:
        return recipe(weights=weights, **hyperparameters)
    except TypeError as exc:
        raise HyperparameterError(f"recipe {name!r}: {exc}") from None


def load_model(directory: Path | str, verify: bool = True) -> Recipe:
    """A fitted recipe from ``Recipe.save``'s directory, arrays memory-mapped read-only.

    ``verify`` re-hashes every array file (SHA-256) and raises :class:`ModelFormatError` on any
    mismatch; turn it off only for a directory already verified by the same process.
    """
    metadata, arrays = load_model_files(Path(directory), verify=verify)
    name = metadata.get("recipe")
    if name not in RECIPES:
        raise ModelFormatError(f"{directory}: unknown recipe {name!r} in model.json")
    try:
        weights = EventWeights.from_dict(metadata.get("event_weights", {}))
        recipe = create_recipe(str(name), weights, **dict(metadata.get("hyperparameters", {})))
    except HyperparameterError as exc:
        raise ModelFormatError(f"{directory}: model.json settings are invalid: {exc}") from None
    return recipe.restore(metadata, arrays)
