"""The fake server's event log (``/api/v1/event/``): one event per change it served.

Events are appended and never removed, so a position in the log never changes meaning. A
cursor names the position (and id) of the last event a page served; the next page holds
the older events below it, however many newer events were appended meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._ids import fake_id
from ._listing import Filter, check_max, date_filters, decode_cursor, encode_cursor
from ._responses import Outcome, dumps, error_body, int_param, validation_body

__all__ = ["EVENT_FILTERS", "EVENT_MAX_LIMIT", "EventLog", "changes"]

EVENT_MAX_LIMIT = 50
"""``_limit`` of ``GET /event/``: its default and its maximum."""

EVENT_FILTERS = ("object_type", "object_id", "action", "lead_id", "user_id", "request_id")
"""Query parameters of ``GET /event/`` that filter by equality."""

_NOT_FOUND = error_body("Empty query: Event matching query does not exist.")


def changes(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """An update's ``previous_data`` and ``changed_fields``: the previous values of what
    changed, and the names (in ``after``'s key order, new keys last)."""
    changed = [n for n, v in after.items() if n not in before or before[n] != v]
    return {n: before.get(n) for n in changed}, changed


def _equal_filter(name: str, wanted: str) -> Filter:
    return lambda event: event.get(name) == wanted


class EventLog:
    """Every change served, oldest first in ``events``; served newest first."""

    def __init__(self, organization_id: str) -> None:
        self.organization_id = organization_id
        self.events: list[dict[str, Any]] = []
        self._positions: dict[str, int] = {}
        # Told of each event appended (the outgoing webhooks deliver the logged events).
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

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
        for listener in self.listeners:
            listener(event)
        return event

    def get(self, event_id: str) -> Outcome:
        """Answer ``GET /event/{id}/``."""
        position = self._positions.get(event_id)
        if position is None:
            return 404, _NOT_FOUND
        return 200, dumps(self.events[position])

    def _decode_cursor(self, cursor: str) -> int | None:
        decoded = decode_cursor(cursor)
        if decoded is None:
            return None
        position, event_id = decoded
        if self._positions.get(event_id) != position:
            return None
        return position

    def page(self, query: Mapping[str, str], strict: bool) -> Outcome:
        """Answer ``GET /event/``: ``{"data": [...], "cursor_next": str | None}`` or a 400."""
        field_errors: dict[str, str] = {}
        limit = int_param(query.get("_limit"), EVENT_MAX_LIMIT, "_limit", field_errors)
        check_max(field_errors, "_limit", limit, EVENT_MAX_LIMIT)
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
        filters = [_equal_filter(name, query[name]) for name in EVENT_FILTERS if query.get(name)]
        filters += date_filters(query, ("date_updated",), field_errors)
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
        cursor_next = encode_cursor(last, events[last]["id"]) if more and last >= 0 else None
        return 200, dumps({"data": page, "cursor_next": cursor_next})
