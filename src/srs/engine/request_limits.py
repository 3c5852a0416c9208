"""Personalize's bounds on a request's size, which every recipe and route applies alike."""

from __future__ import annotations

from typing import Final

import numpy as np

from srs.engine.errors import InvalidRequestError

MAX_RESULTS: Final = 500
"""GetRecommendations' and GetPersonalizedRanking's limit on results and inputs."""
DEFAULT_RESULTS: Final = 25


def check_num_results(num_results: int) -> int:
    if isinstance(num_results, bool) or not isinstance(num_results, (int, np.integer)):
        raise InvalidRequestError(f"num_results must be an integer, got {num_results!r}")
    if not 1 <= num_results <= MAX_RESULTS:
        raise InvalidRequestError(
            f"num_results must be between 1 and {MAX_RESULTS}, got {num_results}"
        )
    return int(num_results)
