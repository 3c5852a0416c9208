"""Waiting on AWS: status polls with backoff and a deadline, and waits while a resource is in use.

Personalize's resources take minutes (a dataset group) to hours (training), so every wait polls
with a growing interval, reports progress, stops at a deadline, and stops at once on a FAILED
status with the failure reason AWS gives. The sleep and the clock are arguments, so tests run
the longest wait in no time and assert on the exact sequence of polls.

Throttling is botocore's to retry (standard mode, configured in ``clients``), and only
botocore's: a second loop on top would multiply the attempts of one call. What is waited on
here is AWS's progress (a status) and "resource in use" on delete, which only resolves when a
dependent resource finishes deleting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from srs.aws.errors import AwsError, error_code

T = TypeVar("T")
Report = Callable[[str], None]
IN_USE_CODES = frozenset({"ResourceInUseException"})


class ResourceFailedError(AwsError):
    """A resource reached a FAILED state; the message carries AWS's failureReason."""


class WaitTimeoutError(AwsError):
    """A resource did not become ready before the deadline."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delays of ``initial × factor^n`` seconds, capped at ``maximum``."""

    initial: float = 5.0
    factor: float = 2.0
    maximum: float = 60.0

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            yield min(delay, self.maximum)
            delay *= self.factor


@dataclass(frozen=True, slots=True)
class Pacing:
    """How to wait: the injected sleep and monotonic clock, and the backoff."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    backoff: Backoff = field(default_factory=Backoff)


def retry_in_use(
    call: Callable[[], T], what: str, timeout: float, pacing: Pacing, report: Report
) -> T:
    """Run ``call`` until it stops failing with "resource in use" or the deadline passes."""
    start = pacing.clock()
    delays = pacing.backoff.delays()
    while True:
        try:
            return call()
        except ClientError as exc:
            if error_code(exc) not in IN_USE_CODES:
                raise
            elapsed = pacing.clock() - start
            delay = next(delays)
            if elapsed + delay > timeout:
                raise WaitTimeoutError(
                    f"{what}: still in use after {elapsed:.0f} s (timeout {timeout:.0f} s): "
                    f"{exc.response.get('Error', {}).get('Message', '')}"
                ) from exc
            report(f"{what}: in use, retrying in {delay:.0f} s")
            pacing.sleep(delay)


def is_failed(status: str) -> bool:
    return "FAILED" in status or status.endswith("STOPPED")


def wait_until_active(
    describe: Callable[[], Mapping[str, Any]],
    what: str,
    timeout: float,
    pacing: Pacing,
    report: Report,
) -> Mapping[str, Any]:
    """Poll ``describe`` (returns the resource with 'status') until ACTIVE; see module doc."""
    start = pacing.clock()
    delays = pacing.backoff.delays()
    last_status = ""
    while True:
        resource = describe()
        status = str(resource.get("status", ""))
        elapsed = pacing.clock() - start
        if status == "ACTIVE":
            report(f"{what}: ACTIVE after {elapsed:.0f} s")
            return resource
        if is_failed(status):
            reason = resource.get("failureReason") or "no failureReason given"
            raise ResourceFailedError(f"{what}: {status}: {reason}")
        delay = next(delays)
        if elapsed + delay > timeout:
            raise WaitTimeoutError(
                f"{what}: still {status or 'without status'} after {elapsed:.0f} s "
                f"(timeout {timeout:.0f} s); run set-up again to resume waiting"
            )
        if status != last_status:
            report(f"{what}: {status}")
            last_status = status
        pacing.sleep(delay)


def wait_until_gone(
    describe: Callable[[], Any], what: str, timeout: float, pacing: Pacing, report: Report
) -> None:
    """Poll ``describe`` until it raises ResourceNotFoundException (the resource is deleted)."""
    start = pacing.clock()
    delays = pacing.backoff.delays()
    while True:
        try:
            describe()
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                report(f"{what}: deleted")
                return
            raise
        elapsed = pacing.clock() - start
        delay = next(delays)
        if elapsed + delay > timeout:
            raise WaitTimeoutError(
                f"{what}: still deleting after {elapsed:.0f} s (timeout {timeout:.0f} s); "
                "run clean-up again"
            )
        pacing.sleep(delay)


def is_settled(status: str) -> bool:
    """Neither pending, in progress nor stopping: the status will not change by itself."""
    return not any(word in status for word in ("PENDING", "IN_PROGRESS", "STOPPING"))


def wait_until_settled(
    describe: Callable[[], Mapping[str, Any]],
    what: str,
    timeout: float,
    pacing: Pacing,
    report: Report,
) -> str:
    """Poll until the status settles (a stopped training reaches CREATE STOPPED); returns it."""
    start = pacing.clock()
    delays = pacing.backoff.delays()
    while True:
        status = str(describe().get("status", ""))
        if is_settled(status):
            report(f"{what}: {status}")
            return status
        elapsed = pacing.clock() - start
        delay = next(delays)
        if elapsed + delay > timeout:
            raise WaitTimeoutError(
                f"{what}: still {status} after {elapsed:.0f} s (timeout {timeout:.0f} s)"
            )
        pacing.sleep(delay)
