"""Errors of the AWS path, with messages that name the resource and AWS's error code."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from srs.errors import SRSError


class AwsError(SRSError):
    """An AWS call failed in a way the operator must act on; the message says which and why."""


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def aws_error(exc: ClientError | BotoCoreError, action: str) -> AwsError:
    """One line for the operator: what SRS was doing, AWS's code and message."""
    if isinstance(exc, ClientError):
        message = exc.response.get("Error", {}).get("Message") or ""
        return AwsError(f"{action} failed: {error_code(exc)}: {message}".rstrip(": "))
    return AwsError(f"{action} failed: {exc}")
