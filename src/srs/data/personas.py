"""Who the synthetic users are: personas, their tastes and the services they use together.

The generator draws each user from one of these personas, so the data has the
structure a recommender should find: users of one role favour the same
categories and core services, and adopt whole stacks (co-usage bundles) rather
than isolated services. Tests read the same definitions as ground truth.

The tables themselves are data, in ``personas.toml`` beside this module; here they become
immutable tuples, so the module holds no mutable global state. ``POPULARITY_HEAD`` lists
services in order of overall popularity; the rest of a catalogue follows in a fixed
pseudo-random order, so the long tail does not depend on catalogue row order.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

PERSONAS_RESOURCE = "personas.toml"


@dataclass(frozen=True)
class Bundle:
    """Services deployed together; the first member is the one a user usually starts from."""

    name: str
    services: tuple[str, ...]


@dataclass(frozen=True)
class Persona:
    """A user role with latent preferences.

    ``share`` is the fraction of users drawn from this persona (normalised over
    all personas). ``category_weights`` and ``core_services`` are relative
    weights; ``bundles`` names the co-usage bundles this role adopts, with
    relative weights.
    """

    name: str
    share: float
    category_weights: tuple[tuple[str, float], ...]
    core_services: tuple[tuple[str, float], ...]
    bundles: tuple[tuple[str, float], ...]

    @property
    def preferred_categories(self) -> frozenset[str]:
        """The categories this persona leans towards (every category it weights)."""
        return frozenset(category for category, _ in self.category_weights)

    @property
    def core_service_names(self) -> frozenset[str]:
        return frozenset(service for service, _ in self.core_services)


def _weights(table: Mapping[str, Any]) -> tuple[tuple[str, float], ...]:
    return tuple((name, float(weight)) for name, weight in table.items())


def _load() -> tuple[tuple[Bundle, ...], tuple[Persona, ...], tuple[str, ...]]:
    """The three tables of ``personas.toml``, in the file's order (the generator's order)."""
    text = resources.files("srs.data").joinpath(PERSONAS_RESOURCE).read_text(encoding="utf-8")
    tables = tomllib.loads(text)
    bundles = tuple(Bundle(name, tuple(services)) for name, services in tables["bundles"].items())
    personas = tuple(
        Persona(
            name=str(entry["name"]),
            share=float(entry["share"]),
            category_weights=_weights(entry["category_weights"]),
            core_services=_weights(entry["core_services"]),
            bundles=_weights(entry["bundles"]),
        )
        for entry in tables["personas"]
    )
    return bundles, personas, tuple(tables["popularity_head"])


BUNDLES, PERSONAS, POPULARITY_HEAD = _load()
