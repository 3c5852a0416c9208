"""Errors of the AWS path, with messages that name the resource and AWS's error code.

botocore puts whatever body a non-AWS answer carried (a proxy's or a load balancer's HTML
error page) into the error's message; it is turned into its text here, so the operator reads
one line, never markup.
"""

from __future__ import annotations

import html
import re

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from srs.data.store import error_code as error_code
from srs.errors import SRSError

_TAG = re.compile(r"<[/!?]?[A-Za-z][^<>]*>")
_HIDDEN = re.compile(r"<(script|style|title)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_MESSAGE_LIMIT = 300


class AwsError(SRSError):
    """An AWS call failed in a way the operator must act on; the message says which and why.

    ``code`` is AWS's error code when AWS answered, so a caller can tell one failure from
    another without parsing the message.
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class MissingCredentialsError(AwsError):
    """boto3's credential chain found no (or incomplete) credentials."""


def message_text(message: str) -> str:
    """The readable text of an error message: markup removed, whitespace folded, bounded."""
    if _TAG.search(message):
        message = html.unescape(_TAG.sub(" ", _HIDDEN.sub(" ", message)))
    text = " ".join(message.split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def client_error_text(exc: ClientError) -> str:
    """``Code: message`` of an AWS error, as text."""
    message = message_text(str(exc.response.get("Error", {}).get("Message") or ""))
    return f"{error_code(exc)}: {message}".rstrip(": ")


def aws_error(exc: ClientError | BotoCoreError, action: str) -> AwsError:
    """One line for the operator: what SRS was doing, AWS's code and message."""
    if isinstance(exc, ClientError):
        return AwsError(f"{action} failed: {client_error_text(exc)}", error_code(exc))
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return MissingCredentialsError(
            f"{action} failed: no AWS credentials found (set them up with 'aws configure' or "
            "pass --profile)"
        )
    return AwsError(f"{action} failed: {message_text(str(exc))}")
