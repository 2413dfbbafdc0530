"""Close's Advanced Filtering (``POST /api/v1/data/search/``) over the fake's object store.

Enough of the query language for tests: ``object_type``, ``and``, ``or``, ``negate`` and
``field_condition`` on a regular or custom field with a ``text`` (``exact_value``,
``full_words``, ``phrase``, ``beginning_of_words``), ``term``, ``boolean`` or ``exists``
condition. An unknown query or condition type answers 400 naming it. Results come in
creation order unless ``sort`` says otherwise; a cursor holds how many results were served
(and which query they belong to), so it is stable as long as the matching set is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from ._listing import decode_cursor, encode_cursor
from ._objects import KINDS, ObjectStore
from ._responses import Outcome, dumps, validation_body

__all__ = ["SEARCH_DEFAULT_LIMIT", "SEARCH_MAX_LIMIT", "QueryError", "search"]

SEARCH_DEFAULT_LIMIT = 100
"""``_limit`` of a search page when the body gives none."""

SEARCH_MAX_LIMIT = 200
"""The largest ``_limit`` a search accepts."""

_Predicate = Callable[[str, dict[str, Any]], bool]
_TEXT_MODES = ("exact_value", "full_words", "phrase", "beginning_of_words")


class QueryError(ValueError):
    """A search body the fake cannot serve; the message names what is wrong."""


def _field(spec: Any) -> tuple[str | None, str]:
    """(object type the field belongs to or ``None`` for any, the object key)."""
    if not isinstance(spec, dict):
        raise QueryError("field must be an object")
    kind = spec.get("type")
    if kind == "regular_field":
        object_type, name = spec.get("object_type"), spec.get("field_name")
        if not isinstance(object_type, str) or not isinstance(name, str):
            raise QueryError("regular_field needs object_type and field_name strings")
        return object_type, name
    if kind == "custom_field":
        cf_id = spec.get("custom_field_id")
        if not isinstance(cf_id, str):
            raise QueryError("custom_field needs a custom_field_id string")
        return None, cf_id if cf_id.startswith("custom.") else f"custom.{cf_id}"
    raise QueryError(f"unsupported field type: {kind!r}")


def _words(text: str) -> list[str]:
    return text.casefold().split()


def _condition(spec: Any) -> Callable[[Any], bool]:
    if not isinstance(spec, dict):
        raise QueryError("condition must be an object")
    kind = spec.get("type")
    if kind == "text":
        value = spec.get("value")
        mode = spec.get("mode", "full_words")
        if not isinstance(value, str):
            raise QueryError("a text condition needs a string value")
        if mode not in _TEXT_MODES:
            raise QueryError(f"unsupported text mode: {mode!r}")
        wanted = value.casefold()
        words = _words(value)

        def text(field: Any) -> bool:
            if not isinstance(field, str):
                return False
            have = field.casefold()
            if mode == "exact_value":
                return have == wanted
            if mode == "phrase":
                return wanted in have
            present = _words(field)
            if mode == "full_words":
                return all(w in present for w in words)
            return all(any(p.startswith(w) for p in present) for w in words)

        return text
    if kind == "term":
        values = spec.get("values")
        if not isinstance(values, list):
            raise QueryError("a term condition needs a list of values")
        return lambda field: field in values
    if kind == "boolean":
        flag = spec.get("value")
        if not isinstance(flag, bool):
            raise QueryError("a boolean condition needs a boolean value")
        return lambda field: field is flag
    if kind == "exists":
        return lambda field: field not in (None, "", [], {})
    raise QueryError(f"unsupported condition type: {kind!r}")


def compile_query(query: Any, types: set[str]) -> _Predicate:
    """A predicate for ``query``; adds every object type it names to ``types``."""
    if not isinstance(query, dict):
        raise QueryError("a query must be an object")
    kind = query.get("type")
    if kind == "object_type":
        object_type = query.get("object_type")
        if not isinstance(object_type, str) or object_type not in KINDS:
            raise QueryError(f"unsupported object_type: {object_type!r}")
        types.add(object_type)
        return lambda t, _obj: t == object_type
    if kind in ("and", "or"):
        queries = query.get("queries")
        if not isinstance(queries, list):
            raise QueryError(f"an {kind!r} query needs a list of queries")
        parts = [compile_query(q, types) for q in queries]
        if kind == "and":
            return lambda t, obj: all(p(t, obj) for p in parts)
        return lambda t, obj: any(p(t, obj) for p in parts)
    if kind == "negate":
        inner = compile_query(query.get("query"), set())
        return lambda t, obj: not inner(t, obj)
    if kind == "field_condition":
        owner, key = _field(query.get("field"))
        check = _condition(query.get("condition"))
        return lambda t, obj: (owner is None or owner == t) and check(obj.get(key))
    raise QueryError(f"unsupported query type: {kind!r}")


def _fingerprint(body: Mapping[str, Any]) -> str:
    basis = json.dumps([body.get("query"), body.get("sort"), body.get("_fields")], sort_keys=True)
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


def _decode_cursor(cursor: str, fingerprint: str) -> int:
    decoded = decode_cursor(cursor)
    if decoded is None:
        raise QueryError("invalid cursor")
    offset, owner = decoded
    if owner != fingerprint:
        raise QueryError("the cursor belongs to another query")
    return offset


def _count(body: Mapping[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise QueryError(f"{name} must be a non-negative integer")
    return value


def _sort_key(sort: Any) -> list[tuple[str | None, str, bool]]:
    if sort is None:
        return []
    if not isinstance(sort, list):
        raise QueryError("sort must be a list")
    keys: list[tuple[str | None, str, bool]] = []
    for item in sort:
        if not isinstance(item, dict):
            raise QueryError("each sort item must be an object")
        owner, key = _field(item.get("field"))
        direction = item.get("direction", "asc")
        if direction not in ("asc", "desc"):
            raise QueryError(f"unsupported sort direction: {direction!r}")
        keys.append((owner, key, direction == "desc"))
    return keys


def _field_lists(spec: Any) -> dict[str, list[str]]:
    if spec is None:
        return {}
    if not isinstance(spec, dict) or not all(
        isinstance(v, list) and all(isinstance(n, str) for n in v) for v in spec.values()
    ):
        raise QueryError("_fields must map object types to lists of field names")
    return spec


def _run(body: Any, store: ObjectStore) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise QueryError("The request body must be a JSON object.")
    types: set[str] = set()
    predicate = compile_query(body.get("query"), types)
    if not types:
        raise QueryError("the query must contain an object_type query")
    limit = _count(body, "_limit", SEARCH_DEFAULT_LIMIT)
    assert limit is not None
    if limit > SEARCH_MAX_LIMIT:
        raise QueryError(f"_limit must be less than or equal to {SEARCH_MAX_LIMIT}")
    results_limit = _count(body, "results_limit", None)
    fields = _field_lists(body.get("_fields"))
    sort = _sort_key(body.get("sort"))
    fingerprint = _fingerprint(body)
    cursor = body.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise QueryError("cursor must be a string or null")
    offset = _decode_cursor(cursor, fingerprint) if cursor else 0

    matches = [
        (object_type, obj)
        for object_type in sorted(types)
        for obj in store.objects[object_type].values()
        if predicate(object_type, obj)
    ]
    matches.sort(key=lambda m: store.sequence.get(m[1]["id"], 0))
    for owner, key, descending in reversed(sort):
        matches = _sorted_by(matches, owner, key, descending)
    end = len(matches) if results_limit is None else min(len(matches), results_limit)
    chosen = matches[offset : min(offset + limit, end)]
    data = []
    for object_type, obj in chosen:
        names = fields.get(object_type, ["id"])
        item: dict[str, Any] = {"__object_type": object_type}
        item.update((n, obj[n]) for n in names if n in obj)
        data.append(item)
    served = offset + len(chosen)
    more = served < end and len(chosen) > 0
    return {"data": data, "cursor": encode_cursor(served, fingerprint) if more else None}


def _sorted_by(
    matches: list[tuple[str, dict[str, Any]]], owner: str | None, key: str, descending: bool
) -> list[tuple[str, dict[str, Any]]]:
    """``matches`` stably sorted by ``key``; objects without the field come last."""

    def has(match: tuple[str, dict[str, Any]]) -> bool:
        return (owner is None or owner == match[0]) and match[1].get(key) is not None

    present = [m for m in matches if has(m)]
    absent = [m for m in matches if not has(m)]
    present.sort(key=lambda m: _orderable(m[1][key]), reverse=descending)
    return present + absent


def _orderable(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value.casefold())
    return (2, json.dumps(value, sort_keys=True))


def search(body: Any, store: ObjectStore) -> Outcome:
    """Answer ``POST /data/search/``: ``{"data": [...], "cursor": str | None}`` or a 400."""
    try:
        return 200, dumps(_run(body, store))
    except QueryError as exc:
        return 400, validation_body([str(exc)], {})
