"""The one exception family a user may see.

Every error that a person can cause (bad input, bad settings, a missing file)
derives from :class:`SRSError`; the CLI prints its message on one line and exits
2, the web layer turns it into a 4xx JSON error. Anything else is a bug and is
allowed to surface as one.
"""

from __future__ import annotations


class SRSError(Exception):
    """An error caused by input or configuration, with a message fit for a user."""


class SourceError(SRSError):
    """The source CSV breaks a rule; the message names file, rule, line and value."""
