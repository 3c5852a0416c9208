"""Amazon Personalize filter expressions: parsed once, evaluated on every request.

:mod:`.syntax` tokenizes and parses an expression into a syntax tree, :mod:`.values` parses
GetRecommendations' ``filterValues``, and :mod:`.evaluate` turns a parsed filter into a mask
over the catalogue; :mod:`.errors` holds the one error family all three raise. Other packages
that only check or store filters need just the two names below.
"""

from srs.engine.filters.errors import FilterError
from srs.engine.filters.evaluate import parse_filter

__all__ = ["FilterError", "parse_filter"]
