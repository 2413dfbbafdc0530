"""The fake server's event log (``/api/v1/event/``): one event per change it served.

Events are appended and never removed, so a position in the log never changes meaning. A
cursor names the position (and id) of the last event a page served; the next page holds
the older events below it, however many newer events were appended meanwhile.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from ._ids import fake_id
from ._responses import Outcome, dumps, error_body, int_param, validation_body
from ._validation import parse_datetime

__all__ = ["EVENT_FILTERS", "EVENT_MAX_LIMIT", "EventLog"]

EVENT_MAX_LIMIT = 50
"""``_limit`` of ``GET /event/``: its default and its maximum."""

EVENT_FILTERS = ("object_type", "object_id", "action", "lead_id", "user_id", "request_id")
"""Query parameters of ``GET /event/`` that filter by equality."""

_NOT_FOUND = error_body("Empty query: Event matching query does not exist.")
_DATE_OPS = ("gte", "gt", "lte", "lt")
_Filter = Callable[[dict[str, Any]], bool]


def _encode_cursor(position: int, event_id: str) -> str:
    raw = f"{position}:{event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _equal_filter(name: str, wanted: str) -> _Filter:
    return lambda event: event.get(name) == wanted


def _date_filter(op: str, bound: datetime) -> _Filter:
    def check(event: dict[str, Any]) -> bool:
        when = parse_datetime(event["date_updated"])
        assert when is not None  # the log writes these itself
        if op == "gte":
            return when >= bound
        if op == "gt":
            return when > bound
        if op == "lte":
            return when <= bound
        return when < bound

    return check


class EventLog:
    """Every change served, oldest first in ``events``; served newest first."""

    def __init__(self, organization_id: str) -> None:
        self.organization_id = organization_id
        self.events: list[dict[str, Any]] = []
        self._positions: dict[str, int] = {}

    def append(
        self,
        object_type: str,
        object_id: str,
        action: str,
        *,
        now: str,
        lead_id: str | None,
        data: dict[str, Any] | None,
        previous_data: dict[str, Any],
        changed_fields: list[str],
        user_id: str | None,
        request_id: str | None,
        api_key_id: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Log one change and return the event (copies of ``data`` and ``previous_data``)."""
        position = len(self.events)
        event: dict[str, Any] = {
            "id": fake_id("ev", position),
            "object_type": object_type,
            "object_id": object_id,
            "action": action,
            "lead_id": lead_id,
            "data": dict(data) if data is not None else None,
            "previous_data": dict(previous_data),
            "changed_fields": list(changed_fields),
            "date_created": now,
            "date_updated": now,
            "organization_id": self.organization_id,
            "user_id": user_id,
            "request_id": request_id,
            "api_key_id": api_key_id,
            "meta": dict(meta or {}),
        }
        self.events.append(event)
        self._positions[event["id"]] = position
        return event

    def get(self, event_id: str) -> Outcome:
        """Answer ``GET /event/{id}/``."""
        position = self._positions.get(event_id)
        if position is None:
            return 404, _NOT_FOUND
        return 200, dumps(self.events[position])

    def _decode_cursor(self, cursor: str) -> int | None:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        text, _, event_id = raw.partition(":")
        if not text.isdigit():
            return None
        position = int(text)
        if self._positions.get(event_id) != position:
            return None
        return position

    def page(self, query: Mapping[str, str], strict: bool) -> Outcome:
        """Answer ``GET /event/``: ``{"data": [...], "cursor_next": str | None}`` or a 400."""
        field_errors: dict[str, str] = {}
        limit = int_param(query.get("_limit"), EVENT_MAX_LIMIT, "_limit", field_errors)
        if limit > EVENT_MAX_LIMIT:
            field_errors["_limit"] = f"Must be less than or equal to {EVENT_MAX_LIMIT}."
        if strict and "_skip" in query:
            field_errors["_skip"] = "The event log does not support _skip; page with _cursor."
        start = len(self.events)
        cursor = query.get("_cursor")
        if cursor:
            position = self._decode_cursor(cursor)
            if position is None:
                field_errors["_cursor"] = "Invalid cursor."
            else:
                start = position
        filters: list[_Filter] = []
        for name in EVENT_FILTERS:
            wanted = query.get(name)
            if wanted:
                filters.append(_equal_filter(name, wanted))
        for op in _DATE_OPS:
            param = f"date_updated__{op}"
            value = query.get(param)
            if value is None:
                continue
            bound = parse_datetime(value)
            if bound is None:
                field_errors[param] = "Not a valid datetime."
            else:
                filters.append(_date_filter(op, bound))
        if field_errors:
            return 400, validation_body([], field_errors)

        events = self.events
        page: list[dict[str, Any]] = []
        last = -1
        position = start - 1
        while position >= 0 and len(page) <= limit:
            event = events[position]
            if all(f(event) for f in filters):
                if len(page) == limit:
                    break  # one more exists: the cursor is worth giving
                page.append(event)
                last = position
            position -= 1
        more = position >= 0 and len(page) == limit and limit > 0
        cursor_next = _encode_cursor(last, events[last]["id"]) if more and last >= 0 else None
        return 200, dumps({"data": page, "cursor_next": cursor_next})
