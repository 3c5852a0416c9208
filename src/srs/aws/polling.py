"""Waiting on AWS: status polls with backoff and a deadline, and retries of throttled calls.

Personalize's resources take minutes (a dataset group) to hours (training), so every wait polls
with a growing interval, reports progress, stops at a deadline, and stops at once on a FAILED
status with the failure reason AWS gives. The sleep and the clock are arguments, so tests run
the longest wait in no time and assert on the exact sequence of polls.

botocore already retries throttling inside one call with standard retries; the retries here sit
on top, for the cases botocore gives up on and for "resource in use" on delete, which only
resolves when a dependent resource finishes deleting.
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
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
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
    """How to wait: the injected sleep and monotonic clock, the backoff, the throttle budget."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    backoff: Backoff = field(default_factory=Backoff)
    throttle_attempts: int = 6


def retry_throttled(call: Callable[[], T], what: str, pacing: Pacing) -> T:
    """Run ``call``, retrying throttling errors with backoff up to ``throttle_attempts``."""
    delays = pacing.backoff.delays()
    for attempt in range(1, pacing.throttle_attempts + 1):
        try:
            return call()
        except ClientError as exc:
            if error_code(exc) not in THROTTLING_CODES or attempt == pacing.throttle_attempts:
                raise
            pacing.sleep(next(delays))
    raise AssertionError(f"unreachable: {what}")  # pragma: no cover


def retry_in_use(
    call: Callable[[], T], what: str, timeout: float, pacing: Pacing, report: Report
) -> T:
    """Run ``call`` until it stops failing with "resource in use" or the deadline passes."""
    start = pacing.clock()
    delays = pacing.backoff.delays()
    while True:
        try:
            return retry_throttled(call, what, pacing)
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
        resource = retry_throttled(describe, what, pacing)
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
            retry_throttled(describe, what, pacing)
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
