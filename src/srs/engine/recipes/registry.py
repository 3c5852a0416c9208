"""Recipe names (Personalize's) → classes, and loading a saved model of any recipe."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from srs.engine.errors import HyperparameterError, ModelFormatError
from srs.engine.persistence import check_layout, load_model_files
from srs.engine.recipes.base import Recipe
from srs.engine.recipes.personalization import PersonalizedRanking, UserPersonalization
from srs.engine.recipes.popularity_count import PopularityCount
from srs.engine.recipes.similar_items import SimilarItems
from srs.engine.recipes.trending_now import TrendingNow
from srs.engine.request_limits import DEFAULT_RESULTS
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

    ``verify`` re-hashes every array file (SHA-256), checks that the arrays' shapes and dtypes
    fit together and asks the model for a few answers, raising :class:`ModelFormatError` on any
    problem: a model that fails only at request time would fail every request. Turn it off only
    for a directory already verified by the same process.
    """
    metadata, arrays = load_model_files(Path(directory), verify=verify)
    if verify:
        check_layout(Path(directory), arrays)
    name = metadata.get("recipe")
    if name not in RECIPES:
        raise ModelFormatError(f"{directory}: unknown recipe {name!r} in model.json")
    try:
        weights = EventWeights.from_dict(metadata.get("event_weights", {}))
        recipe = create_recipe(str(name), weights, **dict(metadata.get("hyperparameters", {})))
    except HyperparameterError as exc:
        raise ModelFormatError(f"{directory}: model.json settings are invalid: {exc}") from None
    try:
        restored = recipe.restore(metadata, arrays)
    except ModelFormatError:
        raise
    except Exception as exc:
        raise ModelFormatError(
            f"{directory}: model.json does not fit its arrays ({type(exc).__name__}: {exc})"
        ) from None
    if verify:
        try_answers(restored, directory)
    return restored


SMOKE_USERS: Final = 3
UNKNOWN_USER: Final = "\x00srs-model-check"


def try_answers(recipe: Recipe, source: Path | str) -> None:
    """Ask a restored model what requests will ask it, and refuse it if any answer fails.

    Checksums and shapes cannot prove that a model answers; a few users from across its
    histories, a user it never saw, an item's neighbours and a ranking cover the code paths a
    request takes, so a model that would raise on every request is refused once, here.
    """
    try:
        users = [str(user) for user in recipe.user_ids.tolist()]
        picked = users[:: max(1, len(users) // SMOKE_USERS)][:SMOKE_USERS] + users[-1:]
        for user in [*picked, UNKNOWN_USER]:
            recipe.recommend(user, num_results=DEFAULT_RESULTS)
        items = [str(item) for item in recipe.item_ids.tolist()]
        recipe.rank(picked[0] if picked else UNKNOWN_USER, items[:DEFAULT_RESULTS])
        recipe.similar_items(items[0], num_results=DEFAULT_RESULTS)
    except Exception as exc:
        raise ModelFormatError(
            f"{source}: the model does not answer ({type(exc).__name__}: {exc})"
        ) from None
