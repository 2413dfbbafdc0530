"""Checking a request body against its operation's schema from Close's document, the way
Close refuses a body: Close's ``{"errors": [...], "field-errors": {...}}`` with messages in
its (marshmallow) wording, nested where the field is nested.

The schemas are the compacted ones of :mod:`._spec_kinds` (``type``, ``enum``, ``const``,
``required``, ``properties``, ``items``, ``oneOf``/``anyOf``/``allOf``, bounds, and
``additionalProperties: false``); a ``format`` is not checked. Unknown fields pass unless
the schema forbids them, as Close ignores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["field_errors"]

_TYPE_NAMES = {
    "string": "Not a valid string.",
    "integer": "Not a valid integer.",
    "number": "Not a valid number.",
    "boolean": "Not a valid boolean.",
    "object": "Not a valid mapping type.",
    "array": "Not a valid list.",
    "null": "Field may not be null.",
}
_REQUIRED = "Missing data for required field."


def _is_type(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "array":
        return isinstance(value, list)
    if name == "object":
        return isinstance(value, dict)
    return True


def _error(schema: Mapping[str, Any], value: Any) -> Any:
    """The error for ``value`` (a message, or a dict of nested field errors), or ``None``."""
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(value, name) for name in names):
            if value is None:
                return _TYPE_NAMES["null"]
            return _TYPE_NAMES.get(names[0], "Invalid value.")
    if value is None:
        # "null" allowed by the type (or no type): nothing else applies to it.
        return None
    if "const" in schema and value != schema["const"]:
        return f"Must be equal to {schema['const']}."
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(str(c) for c in schema["enum"])
        return f"Must be one of: {choices}."
    for branch in schema.get("allOf", ()):
        found = _error(branch, value)
        if found is not None:
            return found
    for key in ("oneOf", "anyOf"):
        branches = schema.get(key)
        if branches and all(_error(branch, value) is not None for branch in branches):
            return "Invalid value."
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"Must be greater than or equal to {schema['minimum']}."
        if "maximum" in schema and value > schema["maximum"]:
            return f"Must be less than or equal to {schema['maximum']}."
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"Shorter than minimum length {schema['minLength']}."
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"Longer than maximum length {schema['maxLength']}."
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            return f"Shorter than minimum length {schema['minItems']}."
        items = schema.get("items")
        if items:
            nested = {str(i): e for i, v in enumerate(value) if (e := _error(items, v)) is not None}
            if nested:
                return nested
    if isinstance(value, dict) and ("properties" in schema or "required" in schema):
        nested = _object_errors(schema, value, patch=False)
        if nested:
            return nested
    return None


def _object_errors(
    schema: Mapping[str, Any], value: Mapping[str, Any], *, patch: bool
) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    properties: Mapping[str, Any] = schema.get("properties", {})
    if not patch:
        for name in schema.get("required", ()):
            if name not in value:
                errors[name] = _REQUIRED
    for name, item in value.items():
        sub = properties.get(name)
        if sub is None:
            if schema.get("additionalProperties") is False:
                errors[name] = "Unknown field."
            continue
        found = _error(sub, item)
        if found is not None:
            errors[name] = found
    return errors


def field_errors(
    schema: Any, body: Any, *, patch: bool = False
) -> tuple[list[str], dict[str, Any]]:
    """Close's ``errors`` and ``field-errors`` for ``body`` against ``schema`` (both empty
    when Close would take it). ``patch``: an update, whose required fields may be left out
    (``PUT`` changes only what is sent).
    """
    if not isinstance(schema, Mapping) or not schema:
        return [], {}
    if not isinstance(body, dict):
        if _error(schema, body) is None:
            return [], {}
        return ["The request body must be a JSON object."], {}
    if "properties" in schema or "required" in schema:
        return [], _object_errors(schema, body, patch=patch)
    found = _error(schema, body)
    if found is None:
        return [], {}
    return ([found], {}) if isinstance(found, str) else ([], found)
