"""The field rules the overlay gives models, and the values they allow.

``tools/codegen/overlay.yml`` names a rule per field (``rules:``, ``read:``); the generator
writes it on the generated model as the field's attrs validator (or converter, or reading
hook), so a request model refuses a bad value when it is built, naming the field, before
anything is sent. A field with a rule is checked by its rule alone: the generic type check
of :class:`~close_async._types.model.RequestModel` leaves it out.

Each validator lets :data:`UNSET` through (the field was not given) and ``None`` (it clears
the field at Close: README, "every field is optional and nullable"), except the enums whose
schema gives no null (a call always has a status, direction and source).

Also the path and filter rules of the call endpoints (:func:`call_id`, :func:`call_ids`),
which the overlay names per operation, and the call values exported by the package.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Literal, get_args
from urllib.parse import urlsplit

import attrs

from .._engine.errors import ClientValidationError
from .._engine.ids import safe_repr, validate_call_id
from .unset import UNSET

__all__ = [
    "CALL_DIRECTIONS",
    "CALL_DISPOSITIONS",
    "CALL_METHODS",
    "CALL_SOURCES",
    "MAX_DURATION",
    "UPDATE_STATUSES",
    "CallDirection",
    "CallDisposition",
    "CallMethod",
    "CallSource",
    "CallStatus",
    "aware_datetime",
    "call_direction",
    "call_duration",
    "call_id",
    "call_ids",
    "call_source",
    "call_status",
    "custom_fields",
    "e164_phone",
    "http_url",
    "object_id",
    "read_only_mapping",
    "user_ids",
]

# ------------------------------------------------------------------------- call values

CallStatus = Literal[
    "created", "in-progress", "completed", "cancel", "no-answer", "busy", "failed", "timeout"
]
"""Statuses a call may be given by an update or create (responses may hold others)."""
CallDirection = Literal["inbound", "outbound"]
"""Direction of a call."""
CallSource = Literal["Close.io", "External"]
"""``Close.io`` for calls made through Close's own telephony, ``External`` for logged ones."""
CallDisposition = Literal[
    "answered", "no-answer", "vm-answer", "vm-left", "busy", "blocked", "error", "abandoned"
]
"""Dispositions known to appear in responses (others may appear later)."""
CallMethod = Literal["regular", "power", "predictive", "external"]
"""Call methods known to appear in responses (others may appear later)."""

UPDATE_STATUSES: Final[frozenset[str]] = frozenset(get_args(CallStatus))
"""The values ``status`` accepts in an update or create."""
CALL_DIRECTIONS: Final[frozenset[str]] = frozenset(get_args(CallDirection))
"""The values ``direction`` accepts."""
CALL_SOURCES: Final[frozenset[str]] = frozenset(get_args(CallSource))
"""The values ``source`` accepts."""
CALL_DISPOSITIONS: Final[frozenset[str]] = frozenset(get_args(CallDisposition))
"""Dispositions documented today; parsing keeps any other string."""
CALL_METHODS: Final[frozenset[str]] = frozenset(get_args(CallMethod))
"""Call methods documented today; parsing keeps any other string."""

MAX_DURATION: Final = 604_800
"""Longest call duration Close accepts, in seconds (one week)."""

# ----------------------------------------------------------------------------- validators

_Check = Callable[[Any], str | None]
"""None when the value is acceptable, else what it should have been."""
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _rule(check: _Check, *, nullable: bool = True) -> Validator:
    def validate(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is UNSET or (value is None and nullable):
            return
        expected = "not None: it cannot be cleared" if value is None else check(value)
        if expected is not None:
            raise ClientValidationError(
                f"{attribute.name}: must be {expected}, got {safe_repr(value)}",
                field=attribute.name,
            )

    return validate


def _check_id(value: Any) -> str | None:
    if isinstance(value, str) and value and not value.isspace():
        return None
    return "a non-empty id string (None clears the field)"


def _check_duration(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DURATION:
        return None
    return f"a whole number of seconds from 0 to {MAX_DURATION}"


# E.164: a plus, a non-zero country digit, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def _check_phone(value: Any) -> str | None:
    if isinstance(value, str) and _E164.fullmatch(value):
        return None
    return "an E.164 phone number such as '+16503334444'"


def _check_url(value: Any) -> str | None:
    expected = "an absolute http:// or https:// URL"
    if not isinstance(value, str) or any(c.isspace() or ord(c) < 32 for c in value):
        return expected
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return expected
    if parts.scheme.lower() not in ("http", "https") or not host:
        return expected
    return None


def _one_of(allowed: frozenset[str]) -> _Check:
    text = "one of " + ", ".join(sorted(allowed))

    def check(value: Any) -> str | None:
        return None if isinstance(value, str) and value in allowed else text

    return check


def _check_aware_datetime(value: Any) -> str | None:
    if isinstance(value, _dt.datetime) and value.utcoffset() is not None:
        return None
    return "a datetime with a time zone (Close needs one; use datetime.timezone.utc)"


_JSON_SCALARS = (str, int, float, bool, Decimal, _dt.date)


def _is_json_like(value: Any, depth: int = 0) -> bool:
    # Depth is bounded so a cyclic structure cannot recurse forever.
    if value is None or isinstance(value, _JSON_SCALARS):
        return True
    if depth > 32:
        return False
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_json_like(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_json_like(v, depth + 1) for v in value)
    return False


def _check_custom_fields(value: Any) -> str | None:
    if isinstance(value, Mapping) and _is_json_like(value):
        return None
    return "a mapping of custom field ids (strings) to JSON values"


object_id: Final = _rule(_check_id)
"""A non-empty id string."""
call_duration: Final = _rule(_check_duration)
"""Whole seconds from 0 to :data:`MAX_DURATION`."""
e164_phone: Final = _rule(_check_phone)
"""An E.164 phone number (``+16503334444``)."""
http_url: Final = _rule(_check_url)
"""An absolute ``http://`` or ``https://`` URL."""
aware_datetime: Final = _rule(_check_aware_datetime)
"""A ``datetime`` with a time zone."""
custom_fields: Final = _rule(_check_custom_fields)
"""A mapping of custom field ids to JSON-like values."""
call_status: Final = _rule(_one_of(UPDATE_STATUSES), nullable=False)
"""One of :data:`UPDATE_STATUSES`; never ``None``."""
call_direction: Final = _rule(_one_of(CALL_DIRECTIONS), nullable=False)
"""One of :data:`CALL_DIRECTIONS`; never ``None``."""
call_source: Final = _rule(_one_of(CALL_SOURCES), nullable=False)
"""One of :data:`CALL_SOURCES`; never ``None``."""

# ----------------------------------------------------------------------------- converters


def read_only_mapping(value: Any) -> Any:
    """A private read-only copy of a mapping (the caller may reuse its dict for the next
    row); any other value as it is, for the field's validator to judge."""
    if isinstance(value, Mapping):
        return MappingProxyType(dict(value))
    return value


# -------------------------------------------------------------------------- reading hooks


def user_ids(value: Any, _: Any) -> tuple[str, ...]:
    """``Call.users`` as Close sends it: a list of user ids, ``null`` for none."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError(f"expected a list of user ids, got {safe_repr(value)}")
    for item in value:
        if not isinstance(item, str):
            raise ValueError(f"expected a string, got {safe_repr(item)}")
    return tuple(value)


# ---------------------------------------------------------------------- path and filters


call_id: Final = validate_call_id
"""A call id put into a path: ``acti_`` and letters and digits (``field="call_id"``)."""


def _filter_call_id(key: str, value: object) -> str:
    try:
        return validate_call_id(value)
    except ClientValidationError as error:
        raise ClientValidationError(str(error), field=key) from None


def call_ids(value: Any, *, key: str = "id__in") -> Any:
    """An ``id__in`` filter of call ids, each checked as :func:`call_id` does (a string in
    Close's comma form is split and checked too); ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if isinstance(value, (list, tuple, set, frozenset)):
        ids = [_filter_call_id(key, item) for item in value if item is not None]
        return type(value)(ids) if isinstance(value, (set, frozenset)) else ids
    return _filter_call_id(key, value)
