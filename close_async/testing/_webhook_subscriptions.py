"""The fake Close's webhook subscriptions (``/api/v1/webhook/``): stateful, in memory.

Each subscription gets a random hex ``signature_key``; ``PUT`` patches ``url``, ``events``,
``status`` (``active``/``paused``) and ``verify_ssl``. :meth:`pause` imitates Close pausing a
subscription whose deliveries kept failing.
"""

from __future__ import annotations

import datetime as _dt
import secrets
from collections.abc import Callable
from typing import Any

from ._ids import fake_id
from ._listing import skip_and_limit
from ._responses import dumps, error_body, object_body, validation_body
from ._webhook_delivery import WebhookSubscription

__all__ = ["WEBHOOK_PATH", "WebhookSubscriptions"]

WEBHOOK_PATH = "webhook/"
_STATUSES = ("active", "paused")
_MAX_LIMIT = 100

Outcome = tuple[int, bytes]


class WebhookSubscriptions:
    """Subscriptions by id, in creation order."""

    def __init__(self, organization_id: str) -> None:
        self.organization_id = organization_id
        self.items: dict[str, dict[str, Any]] = {}
        self._created = 0
        # Built once per change, not per event: deliveries read it for every logged event.
        self._active: list[WebhookSubscription] | None = None

    def add(
        self, url: str, events: list[dict[str, Any]], *, signature_key: str | None = None
    ) -> dict[str, Any]:
        """Create a subscription directly (as a test's setup), returning it."""
        status, payload = self._create(None, None, {"url": url, "events": events})
        if status != 201:
            raise ValueError(payload.decode())
        item = next(reversed(self.items.values()))
        if signature_key is not None:
            bytes.fromhex(signature_key)  # a key the deliverer could not use fails here
            item["signature_key"] = signature_key
            self._active = None
        return item

    def active(self) -> list[WebhookSubscription]:
        """The subscriptions that receive deliveries now (paused ones do not)."""
        if self._active is None:
            self._active = [
                WebhookSubscription(
                    item["id"],
                    item["url"],
                    frozenset((e["object_type"], e["action"]) for e in item["events"]),
                    item["signature_key"],
                )
                for item in self.items.values()
                if item["status"] == "active"
            ]
        return self._active

    def pause(self, subscription_id: str) -> None:
        """Pause a subscription, as Close does after days of failed deliveries."""
        self.items[subscription_id]["status"] = "paused"
        self._active = None

    def routes(self, tail: str) -> dict[str, Callable[[Any, Any, Any], Outcome]] | None:
        """The operations on ``tail`` (the path after ``/api/v1/``), or ``None``."""
        if tail == WEBHOOK_PATH:
            return {"GET": self._list, "POST": self._create}
        if tail.startswith(WEBHOOK_PATH) and tail.endswith("/"):
            ident = tail[len(WEBHOOK_PATH) : -1]
            if ident and "/" not in ident:
                return {
                    "GET": lambda r, c, b: self._get(ident),
                    "PUT": lambda r, c, b: self._update(ident, b),
                    "DELETE": lambda r, c, b: self._delete(ident),
                }
        return None

    def _list(self, request: Any, credential: Any, body: Any) -> Outcome:
        errors: dict[str, str] = {}
        skip, limit = skip_and_limit(request.query, _MAX_LIMIT, None, errors)
        if errors:
            return 400, validation_body([], errors)
        items = list(self.items.values())
        page = items[skip : skip + limit]
        return 200, dumps({"data": page, "has_more": skip + limit < len(items)})

    def _create(self, request: Any, credential: Any, body: Any) -> Outcome:
        data = _checked(body, creating=True)
        if not isinstance(data, dict):
            return data
        now = _dt.datetime.now(_dt.UTC).isoformat()
        self._created += 1
        item = {
            "id": fake_id("whsub", self._created),
            "url": data["url"],
            "events": data["events"],
            "status": "active",
            "verify_ssl": data.get("verify_ssl", True),
            "signature_key": secrets.token_hex(32),
            "organization_id": self.organization_id,
            "date_created": now,
            "date_updated": now,
        }
        self.items[item["id"]] = item
        self._active = None
        return 201, dumps(item)

    def _get(self, ident: str) -> Outcome:
        item = self.items.get(ident)
        if item is None:
            return 404, error_body("Object not found.")
        return 200, dumps(item)

    def _update(self, ident: str, body: Any) -> Outcome:
        item = self.items.get(ident)
        if item is None:
            return 404, error_body("Object not found.")
        data = _checked(body, creating=False)
        if not isinstance(data, dict):
            return data
        for name in ("url", "events", "status", "verify_ssl"):
            if name in data:
                item[name] = data[name]
        item["date_updated"] = _dt.datetime.now(_dt.UTC).isoformat()
        self._active = None
        return 200, dumps(item)

    def _delete(self, ident: str) -> Outcome:
        if self.items.pop(ident, None) is None:
            return 404, error_body("Object not found.")
        self._active = None
        return 200, dumps({})


def _checked(body: Any, *, creating: bool) -> dict[str, Any] | Outcome:
    """The body as a subscription's fields, or the 400 that refuses it."""
    data = object_body(body)
    if isinstance(data, bytes):
        return 400, data
    problems = _problems(data, creating=creating)
    if problems:
        return 400, validation_body([], problems)
    return data


def _problems(data: dict[str, Any], *, creating: bool) -> dict[str, str]:
    problems: dict[str, str] = {}
    if (creating or "url" in data) and not (isinstance(data.get("url"), str) and data["url"]):
        problems["url"] = "This field is required."
    if creating or "events" in data:
        events = data.get("events")
        if not isinstance(events, list) or not all(
            isinstance(e, dict)
            and isinstance(e.get("object_type"), str)
            and isinstance(e.get("action"), str)
            for e in events
        ):
            problems["events"] = "A list of {object_type, action} objects is required."
    if "status" in data and data["status"] not in _STATUSES:
        problems["status"] = "Must be active or paused."
    return problems
