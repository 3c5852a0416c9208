"""Personalize's bounds on a request's size, which every recipe and route applies alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np

from srs.engine.errors import InvalidRequestError

MAX_RESULTS: Final = 500
"""GetRecommendations' and GetPersonalizedRanking's limit on results and inputs."""
DEFAULT_RESULTS: Final = 25


def check_results_range(num_results: int, name: str, error: Callable[[str], Exception]) -> None:
    """Personalize's bounds on a result count, raised as ``error`` under the ``name`` its
    caller's users know: the engine's keyword argument or the API's parameter."""
    if not 1 <= num_results <= MAX_RESULTS:
        raise error(f"{name} must be between 1 and {MAX_RESULTS}, got {num_results}")


def check_num_results(num_results: int) -> int:
    if isinstance(num_results, bool) or not isinstance(num_results, (int, np.integer)):
        raise InvalidRequestError(f"num_results must be an integer, got {num_results!r}")
    check_results_range(num_results, "num_results", InvalidRequestError)
    return int(num_results)
