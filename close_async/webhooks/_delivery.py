"""Verify and read one webhook delivery: :func:`parse` and the typed delivery it returns."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .._engine.errors import WebhookVerificationError
from .._webhook_signature import HASH_HEADER, TIMESTAMP_HEADER, signature_matches

__all__ = ["WebhookDelivery", "WebhookEvent", "parse"]

DEFAULT_TOLERANCE = 300.0

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HASH = re.compile(r"[0-9a-fA-F]{64}")

# object_type -> (module, name): read lazily, so that parsing never imports every model.
_MODELS: dict[str, tuple[str, str]] = {
    "activity.call": ("close_async.models", "Call"),
    "activity.note": ("close_async.models", "Note"),
    "activity.email": ("close_async.models", "Email"),
    "activity.sms": ("close_async.models", "SMS"),
    "activity.meeting": ("close_async.models", "Meeting"),
    "lead": ("close_async.models", "Lead"),
    "contact": ("close_async.models", "Contact"),
    "opportunity": ("close_async.models", "Opportunity"),
    "task": ("close_async.models", "Task"),
    "user": ("close_async.models", "User"),
}


@attrs.frozen(kw_only=True)
class WebhookEvent:
    """One event of Close's event log, as a webhook delivers it.

    ``data`` is the object after the change and ``previous_data`` the old values of the
    changed fields, both as decoded JSON (custom fields stay under their ``custom.cf_...``
    keys); :meth:`data_as_model` reads ``data`` as the resource's typed model. The dates are
    Close's ISO 8601 strings, as sent.
    """

    id: str
    object_type: str
    action: str
    object_id: str | None = None
    data: dict[str, Any] | None = None
    previous_data: dict[str, Any] | None = None
    changed_fields: list[str] = attrs.field(factory=list)
    lead_id: str | None = None
    user_id: str | None = None
    organization_id: str | None = None
    request_id: str | None = None
    date_created: str | None = None
    date_updated: str | None = None
    meta: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        """The event's name, ``<object_type>.<action>``: ``activity.call.created``."""
        return f"{self.object_type}.{self.action}"

    def data_as_model(self) -> Any:
        """``data`` as the resource's model: a :class:`~close_async.models.Call` for
        ``activity.call``, a :class:`~close_async.models.Lead` for ``lead``, and so on.

        Raises :class:`LookupError` for an object type without a model here, and
        :class:`~close_async.APIResponseValidationError` when ``data`` is missing or not such an
        object.
        """
        where = _MODELS.get(self.object_type)
        if where is None:
            raise LookupError(f"no model for object type {self.object_type!r}")
        import importlib

        found = getattr(importlib.import_module(where[0]), where[1])
        reader = getattr(found, "from_json", found)
        return reader(self.data)


@attrs.frozen(kw_only=True)
class WebhookDelivery:
    """One verified delivery: the subscription it came through and its event."""

    subscription_id: str
    event: WebhookEvent


def parse(
    body: bytes | str,
    headers: Mapping[Any, Any],
    key: str | Sequence[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> WebhookDelivery:
    """Verify one webhook delivery and read it. Synchronous, no I/O.

    ``body`` is the raw request body (a ``str`` is encoded as UTF-8), ``headers`` any mapping
    (names case-insensitive), ``key`` the subscription's hex ``signature_key`` or a sequence
    of keys (while rotating: any match passes). The signature is checked on the raw bytes in
    constant time; a timestamp more than ``tolerance`` seconds from ``now`` (Unix seconds,
    the current time when ``None``) either way is refused, which stops replays.

    Raises :class:`~close_async.WebhookVerificationError` (and nothing else) for every bad
    delivery: missing or malformed headers, a key that is not hex, a wrong signature, a stale
    or future timestamp, a body that is not a JSON object with an event.
    """
    raw = _body_bytes(body)
    keys = _keys(key)
    timestamp = _header(headers, TIMESTAMP_HEADER)
    received = _header(headers, HASH_HEADER)
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookVerificationError("malformed close-sig-timestamp header")
    if not _HASH.fullmatch(received):
        raise WebhookVerificationError("malformed close-sig-hash header")
    # Every key is tried, so the time taken does not tell which one matched.
    matched = [signature_matches(k, timestamp, raw, received) for k in keys]
    if not any(matched):
        raise WebhookVerificationError("signature does not match")
    current = time.time() if now is None else now
    # Written so that a NaN ``now`` or ``tolerance`` refuses rather than lets through.
    if not abs(current - int(timestamp)) <= tolerance:
        raise WebhookVerificationError("timestamp outside the tolerance (stale or future)")
    return _read(raw)


def _body_bytes(body: object) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, str):
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:
            raise WebhookVerificationError("body is not valid text") from None
    raise WebhookVerificationError("body is not bytes or str")


def _keys(key: object) -> list[bytes]:
    candidates = [key] if isinstance(key, str) else key
    if not isinstance(candidates, Sequence) or isinstance(candidates, (bytes, bytearray)):
        raise WebhookVerificationError("signature key is not a hex string or a sequence of them")
    keys: list[bytes] = []
    for candidate in candidates:
        if not isinstance(candidate, str):
            raise WebhookVerificationError("signature key is not a hex string")
        try:
            decoded = bytes.fromhex(candidate)
        except ValueError:
            raise WebhookVerificationError("signature key is not hex") from None
        if not decoded:
            raise WebhookVerificationError("signature key is empty")
        keys.append(decoded)
    if not keys:
        raise WebhookVerificationError("no signature key given")
    return keys


def _header(headers: object, name: str) -> str:
    if not isinstance(headers, Mapping):
        raise WebhookVerificationError("headers are not a mapping")
    found: set[str] = set()
    try:
        # items() rather than a lookup: a multidict's items show a repeated header.
        for header, value in headers.items():
            if isinstance(header, bytes):
                header = header.decode("latin-1")
            if not isinstance(header, str) or header.strip().lower() != name:
                continue
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            if not isinstance(value, str):
                raise WebhookVerificationError(f"malformed {name} header")
            found.add(value.strip())
    except WebhookVerificationError:
        raise
    except Exception:
        raise WebhookVerificationError("headers could not be read") from None
    if not found:
        raise WebhookVerificationError(f"missing {name} header")
    if len(found) > 1:
        raise WebhookVerificationError(f"conflicting {name} headers")
    return found.pop()


def _read(raw: bytes) -> WebhookDelivery:
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise WebhookVerificationError("signed body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookVerificationError("signed body is not a JSON object")
    subscription_id = _field(payload, "subscription_id", str, required=True)
    event = payload.get("event")
    if not isinstance(event, dict):
        raise WebhookVerificationError("signed body has no event object")
    changed = _field(event, "changed_fields", list)
    if changed is not None and not all(isinstance(f, str) for f in changed):
        raise WebhookVerificationError("event field 'changed_fields' is not a list of strings")
    return WebhookDelivery(
        subscription_id=subscription_id,
        event=WebhookEvent(
            id=_field(event, "id", str, required=True),
            object_type=_field(event, "object_type", str, required=True),
            action=_field(event, "action", str, required=True),
            object_id=_field(event, "object_id", str),
            data=_field(event, "data", dict),
            previous_data=_field(event, "previous_data", dict),
            changed_fields=list(changed or []),
            lead_id=_field(event, "lead_id", str),
            user_id=_field(event, "user_id", str),
            organization_id=_field(event, "organization_id", str),
            request_id=_field(event, "request_id", str),
            date_created=_field(event, "date_created", str),
            date_updated=_field(event, "date_updated", str),
            meta=_field(event, "meta", dict),
        ),
    )


def _field(obj: dict[str, Any], name: str, kind: type, *, required: bool = False) -> Any:
    value = obj.get(name)
    if value is None:
        if required:
            raise WebhookVerificationError(f"field {name!r} is missing")
        return None
    if not isinstance(value, kind) or (required and kind is str and not value):
        raise WebhookVerificationError(f"field {name!r} is not a {kind.__name__}")
    return value
