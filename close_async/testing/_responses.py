"""JSON bodies and query-parameter parsing shared by the fake server's routes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "BAD_JSON",
    "EMPTY_OBJECT",
    "NOT_JSON_ERROR",
    "NOT_OBJECT_ERROR",
    "BadJSON",
    "Outcome",
    "dumps",
    "error_body",
    "int_param",
    "object_body",
    "validation_body",
]

Outcome = tuple[int, bytes]
"""What an operation answers: the HTTP status and the JSON body."""

EMPTY_OBJECT = b"{}"


class BadJSON:
    """Marks a body that was sent but was not JSON."""


BAD_JSON = BadJSON()
"""The decoded "body" of a request whose body was not JSON."""

NOT_JSON_ERROR = "The request body is not valid JSON."
NOT_OBJECT_ERROR = "The request body must be a JSON object."


def dumps(value: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, separators=(",", ":")).encode()


def error_body(message: str) -> bytes:
    """Close's plain error body: ``{"error": message}``."""
    return dumps({"error": message})


def validation_body(errors: list[str], field_errors: Mapping[str, Any]) -> bytes:
    """Close's validation error body: ``{"errors": [...], "field-errors": {...}}``."""
    return dumps({"errors": errors, "field-errors": field_errors})


def int_param(value: str | None, default: int, name: str, errors: dict[str, str]) -> int:
    """A non-negative integer query parameter; a problem is added to ``errors``."""
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        errors[name] = "Not a valid integer."
        return default
    if number < 0:
        errors[name] = "Must be greater than or equal to 0."
        return default
    return number


def object_body(body: Any) -> dict[str, Any] | bytes:
    """The body as a JSON object, or the body of the 400 to answer."""
    if body is BAD_JSON:
        return validation_body([NOT_JSON_ERROR], {})
    if not isinstance(body, dict):
        return validation_body([NOT_OBJECT_ERROR], {})
    return body
