"""The shipped operator policy grants every action SRS's AWS code calls, and nothing broader."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import srs.aws

AWS_SOURCES = Path(srs.aws.__file__).parent


def shipped_actions() -> set[str]:
    text = resources.files("srs.aws").joinpath("operator_policy.json").read_text("utf-8")
    document = json.loads(text)
    actions: set[str] = set()
    for statement in document["Statement"]:
        granted = statement["Action"]
        actions.update([granted] if isinstance(granted, str) else granted)
    return actions


def called_personalize_operations() -> set[str]:
    """Personalize operations named in the set-up, clean-up and backend code."""
    names: set[str] = set()
    for module in ("personalize_setup.py", "personalize_cleanup.py", "personalize_service.py"):
        source = (AWS_SOURCES / module).read_text("utf-8")
        names.update(re.findall(r'"((?:list|describe|create|delete|get|put)_[a-z_]+)"', source))
    return names


def camel(operation: str) -> str:
    return "".join(part.capitalize() for part in operation.split("_"))


def test_every_personalize_call_is_granted() -> None:
    granted = shipped_actions()
    kinds = [
        "campaign",
        "event_tracker",
        "filter",
        "solution",
        "dataset",
        "dataset_group",
        "schema",
    ]
    operations = called_personalize_operations()
    assert {"create_campaign", "list_filters", "get_recommendations", "put_events"} <= operations
    operations |= {f"{verb}_{kind}" for verb in ("delete", "describe") for kind in kinds}
    missing = sorted(
        f"personalize:{camel(op)}" for op in operations if f"personalize:{camel(op)}" not in granted
    )
    assert missing == []


def test_no_wildcard_actions() -> None:
    assert not [action for action in shipped_actions() if "*" in action]
