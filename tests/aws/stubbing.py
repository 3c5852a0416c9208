"""Scripted Personalize clients: botocore's Stubber on real clients, and a clock that never sleeps.

Stubber checks each request against the real service model (names, types, required members)
and the expected parameters given here, and each canned response against the output shape, so
a test fails if the code calls an operation it should not, in another order, or wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.stub import Stubber

from srs.aws.polling import Backoff, Pacing

REGION = "us-east-1"
ACCOUNT = "123456789012"


def arn(kind: str, name: str) -> str:
    return f"arn:aws:personalize:{REGION}:{ACCOUNT}:{kind}/{name}"


def make_client(service: str, region: str = REGION) -> Any:
    return boto3.session.Session().client(
        service,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
    )


@dataclass
class FakeTime:
    """A monotonic clock that advances only when the code sleeps; records every sleep."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def pacing(self, backoff: Backoff | None = None) -> Pacing:
        return Pacing(
            sleep=self.sleep, clock=self.clock, backoff=backoff or Backoff(5.0, 2.0, 60.0)
        )


class Script:
    """Expected calls in order, each with its parameters and canned answer."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.stubber = Stubber(client)

    def ok(self, operation: str, response: dict[str, Any], **params: Any) -> Script:
        self.stubber.add_response(operation, response, params or None)
        return self

    def fail(self, operation: str, code: str, message: str = "", **params: Any) -> Script:
        self.stubber.add_client_error(
            operation,
            service_error_code=code,
            service_message=message or code,
            http_status_code=400,
            expected_params=params or None,
        )
        return self

    def __enter__(self) -> Script:
        self.stubber.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stubber.deactivate()

    def done(self) -> None:
        self.stubber.assert_no_pending_responses()
