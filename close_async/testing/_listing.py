"""How the fake server's lists read their query and cut their pages: ``_skip``/``_limit``,
``_fields``, date-range filters and opaque cursors, the same for every collection.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from ._responses import dumps, int_param
from ._validation import parse_datetime

__all__ = [
    "DATE_OPS",
    "Filter",
    "check_max",
    "date_filter",
    "date_filters",
    "decode_cursor",
    "encode_cursor",
    "only_fields",
    "skip_and_limit",
    "skip_page",
]

Filter = Callable[[dict[str, Any]], bool]
"""Whether a listed object passes one query condition."""

_COMPARE: Mapping[str, Callable[[datetime, datetime], bool]] = {
    "gte": operator.ge,
    "gt": operator.gt,
    "lte": operator.le,
    "lt": operator.lt,
}
DATE_OPS = tuple(_COMPARE)
"""The suffixes of a date-range parameter: ``<field>__gte`` and so on."""


def check_max(errors: dict[str, str], name: str, value: int, maximum: int | None) -> None:
    """Add Close's error for ``name`` to ``errors`` when ``value`` is over ``maximum``."""
    if maximum is not None and value > maximum:
        errors[name] = f"Must be less than or equal to {maximum}."


def skip_and_limit(
    query: Mapping[str, str], max_limit: int, max_skip: int | None, errors: dict[str, str]
) -> tuple[int, int]:
    """``_skip`` and ``_limit`` of a list (defaults 0 and 100); problems go to ``errors``."""
    limit = int_param(query.get("_limit"), 100, "_limit", errors)
    skip = int_param(query.get("_skip"), 0, "_skip", errors)
    check_max(errors, "_limit", limit, max_limit)
    check_max(errors, "_skip", skip, max_skip)
    return skip, limit


def only_fields(obj: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """``obj`` cut down to the comma-separated ``fields`` (all of it when none are given)."""
    if not fields:
        return obj
    return {name: obj[name] for name in fields.split(",") if name in obj}


def skip_page(rows: Iterable[dict[str, Any]], skip: int, limit: int, fields: str | None) -> bytes:
    """The body of a ``_skip``/``_limit`` page: ``{"data": [...], "has_more": bool}``."""
    # One row past the page tells whether there is more without counting the rest.
    page = list(itertools.islice(rows, skip, skip + limit + 1))
    has_more = len(page) > limit
    if has_more:
        page.pop()
    if fields:
        page = [only_fields(row, fields) for row in page]
    return dumps({"data": page, "has_more": has_more})


def date_filter(name: str, op: str, bound: datetime) -> Filter:
    """``<name>__<op>=bound``: a row whose ``name`` is no datetime never passes."""
    compare = _COMPARE[op]

    def check(row: dict[str, Any]) -> bool:
        value = row.get(name)
        when = parse_datetime(value) if isinstance(value, str) else None
        return when is not None and compare(when, bound)

    return check


def date_filters(
    query: Mapping[str, str], names: Iterable[str], errors: dict[str, str]
) -> list[Filter]:
    """The date-range filters ``query`` asks for on ``names``; bad datetimes go to ``errors``."""
    filters: list[Filter] = []
    for name in names:
        for op in DATE_OPS:
            param = f"{name}__{op}"
            value = query.get(param)
            if value is None:
                continue
            bound = parse_datetime(value)
            if bound is None:
                errors[param] = "Not a valid datetime."
            else:
                filters.append(date_filter(name, op, bound))
    return filters


def encode_cursor(number: int, tag: str) -> str:
    """An opaque cursor holding a position and what it belongs to."""
    raw = f"{number}:{tag}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str] | None:
    """The (position, tag) of an :func:`encode_cursor` cursor, or ``None`` for a bad one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    text, _, tag = raw.partition(":")
    if not text.isdigit():
        return None
    return int(text), tag
