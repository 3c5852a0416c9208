"""Errors the engine raises for things a caller or an operator can fix.

They derive from :class:`srs.errors.SRSError`, so the CLI prints them on one line and the web
layer answers 4xx with their message; the ``ValueError`` base keeps them catchable by code that
only knows the standard library.
"""

from __future__ import annotations

from srs.errors import SRSError


class EngineError(SRSError):
    """Base of the engine's own errors."""


class InvalidRequestError(EngineError, ValueError):
    """A request the engine cannot answer as asked, e.g. ``num_results`` outside 1..500."""


class InteractionsError(EngineError, ValueError):
    """Training data that breaks the interactions format; the message names column, row, value."""


class ModelFormatError(EngineError, ValueError):
    """A saved model directory that is missing, truncated, corrupted or of another version."""


class NotFittedError(EngineError, RuntimeError):
    """A recipe was asked to recommend or save before ``fit`` or ``load``."""


class HyperparameterError(EngineError, ValueError):
    """A hyperparameter or event-weight setting outside the range the engine accepts."""


def check_shape(
    name: str, shape: tuple[int, ...], reference: str, expected: tuple[int, ...]
) -> None:
    """Refuse arrays a caller meant to align but did not, naming both, before numpy's
    broadcasting turns the mismatch into wrong numbers or an unreadable error."""
    if shape != expected:
        raise HyperparameterError(
            f"{name} has shape {shape} but {reference} has shape {expected}; they must match"
        )
