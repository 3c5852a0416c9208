"""Small hand-built interaction frames with known structure, shared by the engine tests."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

T0 = 1_700_000_000
DAY = 86_400
COLUMNS = ["USER_ID", "ITEM_ID", "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP"]

NAMES = {
    "s3": "Amazon S3",
    "lambda": "AWS Lambda",
    "dynamo": "Amazon DynamoDB",
    "ec2": "Amazon EC2",
    "ebs": "Amazon EBS",
    "vpc": "Amazon VPC",
    "console": "AWS Management Console",
    "braket": "Amazon Braket",
}


def frame(rows: Iterable[tuple[str, str, str, float, int]]) -> pd.DataFrame:
    """Interactions from (user, item, event type, event value, timestamp) tuples."""
    return pd.DataFrame(list(rows), columns=COLUMNS).astype(
        {"EVENT_VALUE": "float64", "TIMESTAMP": "int64"}
    )


def items_frame() -> pd.DataFrame:
    """The catalogue, including ``braket``, which nobody uses."""
    return pd.DataFrame(
        {"ITEM_ID": list(NAMES), "SERVICE_NAME": list(NAMES.values()), "CATEGORY": "x"}
    )


def planted(users_per_group: int = 12) -> pd.DataFrame:
    """Two usage clusters and one item everyone touches.

    Serverless users use s3, lambda and dynamo; infrastructure users use ec2, ebs and vpc; every
    user views the console. A few users of each cluster lack one cluster item, so that item is
    what the model should recommend to them.
    """
    rows: list[tuple[str, str, str, float, int]] = []
    clusters = {"serverless": ("s3", "lambda", "dynamo"), "infra": ("ec2", "ebs", "vpc")}
    for name, services in clusters.items():
        for user in range(users_per_group):
            user_id = f"{name}_{user:02d}"
            stamp = T0 + user * 60
            rows.append((user_id, "console", "viewed", 3.0, stamp))
            for offset, service in enumerate(services):
                if user < 2 and service == services[-1]:
                    continue
                rows.append((user_id, service, "launched", 4.0, stamp + 10 + offset))
    return frame(rows)
