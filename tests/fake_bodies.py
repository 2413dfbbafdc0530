"""Minimal request bodies Close's document accepts, for tests that create objects on the
fake Close (which refuses, as Close does, a body missing a required field)."""

from __future__ import annotations

from typing import Any

from tests.openapi_document import DOC
from tools.fake_answers import Generator

_GENERATOR = Generator(DOC)


def minimal_body(method: str, template: str, **fields: Any) -> dict[str, Any]:
    """The required fields of ``method template``'s request schema (placeholders), then
    ``fields``; ``{}`` plus ``fields`` when the document says "any type".
    """
    operation = DOC["paths"][template][method.lower()]
    declared = (operation.get("requestBody") or {}).get("content", {}).get("application/json")
    body = _GENERATOR.instance(declared["schema"]) if declared else {}
    body = dict(body) if isinstance(body, dict) else {}
    body.update(fields)
    return body
