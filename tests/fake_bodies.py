"""Minimal request bodies Close would take, for tests that create objects on the fake Close
(which refuses, as Close does, a body missing a required field)."""

from __future__ import annotations

from typing import Any

import yaml

from tests.openapi_document import DOC
from tools.codegen.spec import OVERLAY, merged_schemas, overlay_bodies
from tools.fake_answers import Generator

# The fake checks the overlay's body where the document says "any type" (TaskCreate, ...),
# as the codegen reads it: its schemas live beside the document's.
_OVERLAY = yaml.safe_load(OVERLAY.read_text())
_OVERLAY_BODIES = overlay_bodies(_OVERLAY)
_GENERATOR = Generator(
    {**DOC, "components": {**DOC["components"], "schemas": merged_schemas(DOC, _OVERLAY)}}
)


def request_schema(method: str, template: str) -> Any:
    """The request schema the fake checks ``method template``'s body against: the overlay's
    where the document says "any type", else the document's (``None``: no body declared).
    """
    schema = _OVERLAY_BODIES.get((method, template))
    if schema is None:
        operation = DOC["paths"][template][method.lower()]
        content = (operation.get("requestBody") or {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
    return schema


def minimal_instance(method: str, template: str) -> Any:
    """A minimal value :func:`request_schema` accepts (``None`` when there is none)."""
    schema = request_schema(method, template)
    return None if schema is None else _GENERATOR.instance(schema)


def minimal_body(method: str, template: str, **fields: Any) -> dict[str, Any]:
    """The required fields of ``method template``'s request schema (placeholders), then
    ``fields``; ``{}`` plus ``fields`` when neither the document nor the overlay types it.
    """
    body = minimal_instance(method, template)
    body = dict(body) if isinstance(body, dict) else {}
    body.update(fields)
    return body
