"""Avro schemas for the prepared datasets, exactly as Personalize's CreateSchema takes them."""

from __future__ import annotations

import json
from typing import Any

NAMESPACE = "com.amazonaws.personalize.schema"

INTERACTIONS_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Interactions",
    "namespace": NAMESPACE,
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": "float"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}

ITEMS_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Items",
    "namespace": NAMESPACE,
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "SERVICE_NAME", "type": "string", "categorical": True},
        {"name": "CATEGORY", "type": "string", "categorical": True},
        {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
    ],
    "version": "1.0",
}


def schema_json(schema: dict[str, Any]) -> str:
    """The string CreateSchema's ``schema`` parameter expects."""
    return json.dumps(schema, indent=2) + "\n"
