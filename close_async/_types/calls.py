"""Models of Close call activities: what we send (updates, creates) and what Close returns.

The models hold data and field rules only; JSON lives in ``conversion``, I/O elsewhere.

``CallUpdate`` and ``CallCreate`` keep "not given" apart from "clear it": every field
defaults to :data:`UNSET`, which is left out of the request body, while ``None`` is sent as
``null`` and clears the field at Close (README: "a field sent as null is cleared").
Values are checked when the model is built, so a bad row is refused before anything is sent.
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Literal, get_args
from urllib.parse import urlsplit

import attrs

from .._engine.errors import InvalidRequestError
from .._engine.ids import safe_repr

__all__ = [
    "CALL_DIRECTIONS",
    "CALL_DISPOSITIONS",
    "CALL_METHODS",
    "CALL_SOURCES",
    "MAX_DURATION",
    "UNSET",
    "UPDATE_STATUSES",
    "Call",
    "CallCreate",
    "CallDirection",
    "CallDisposition",
    "CallMethod",
    "CallSource",
    "CallStatus",
    "CallUpdate",
    "Unset",
]


class Unset(enum.Enum):
    """Type of :data:`UNSET`, the "not given" marker of update and create fields.

    A one-member enum so that ``value is UNSET`` narrows types under mypy, and so that the
    marker survives copying and pickling as the same object.
    """

    UNSET = "UNSET"

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET
"""The field was not given: it is left out of the request, so Close keeps its value."""

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

# E.164: a plus, a non-zero country digit, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")

# ----------------------------------------------------------------------------- validators
#
# Each check returns None when the value is acceptable, else what it should have been.
# UNSET and None are accepted before any check runs: None clears the field at Close
# (README: "every field is optional and nullable"), except where Close's schema says not.

_Check = Callable[[Any], str | None]


def _rule(
    check: _Check, *, nullable: bool = True
) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def validate(_instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is UNSET or (value is None and nullable):
            return
        expected = "not None: it cannot be cleared" if value is None else check(value)
        if expected is not None:
            raise InvalidRequestError(
                f"{attribute.name}: must be {expected}, got {safe_repr(value)}",
                field=attribute.name,
            )

    return validate


def _check_text(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string or None"


def _check_id(value: Any) -> str | None:
    if isinstance(value, str) and value and not value.isspace():
        return None
    return "a non-empty id string (None clears the field)"


def _check_duration(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_DURATION:
        return None
    return f"a whole number of seconds from 0 to {MAX_DURATION}"


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
    expected = "a mapping of custom field ids (strings) to JSON values"
    if not isinstance(value, Mapping) or not _is_json_like(value):
        return expected
    return None


def _frozen_mapping(
    value: Mapping[str, Any] | Unset | None,
) -> Mapping[str, Any] | Unset | None:
    # A private read-only copy: the caller may reuse its dict for the next row.
    if isinstance(value, Mapping):
        return MappingProxyType(dict(value))
    return value


_text = _rule(_check_text)
_id = _rule(_check_id)
_aware = _rule(_check_aware_datetime)
_url = _rule(_check_url)
_duration = _rule(_check_duration)
_phone = _rule(_check_phone)
# Close's schema gives these enums no null (a call always has a status, direction and
# source), so None is refused here rather than by a 400 from Close.
_status = _rule(_one_of(UPDATE_STATUSES), nullable=False)
_direction = _rule(_one_of(CALL_DIRECTIONS), nullable=False)
_source = _rule(_one_of(CALL_SOURCES), nullable=False)


# ---------------------------------------------------------------------------------- inputs


@attrs.frozen(kw_only=True)
class _CallFields:
    """The fields an update and a create share; each is UNSET unless given."""

    activity_at: _dt.datetime | Unset | None = attrs.field(default=UNSET, validator=_aware)
    contact_id: str | Unset | None = attrs.field(default=UNSET, validator=_id)
    conversation_type_id: str | Unset | None = attrs.field(default=UNSET, validator=_id)
    custom_fields: Mapping[str, Any] | Unset | None = attrs.field(
        default=UNSET, converter=_frozen_mapping, validator=_rule(_check_custom_fields)
    )
    duration: int | Unset | None = attrs.field(default=UNSET, validator=_duration)
    lead_id: str | Unset | None = attrs.field(default=UNSET, validator=_id)
    note: str | Unset | None = attrs.field(default=UNSET, validator=_text)
    note_html: str | Unset | None = attrs.field(default=UNSET, validator=_text)
    outcome_id: str | Unset | None = attrs.field(default=UNSET, validator=_id)
    phone: str | Unset | None = attrs.field(default=UNSET, validator=_phone)
    playbook_id: str | Unset | None = attrs.field(default=UNSET, validator=_id)
    quality_info: str | Unset | None = attrs.field(default=UNSET, validator=_text)
    recording_url: str | Unset | None = attrs.field(default=UNSET, validator=_url)
    status: CallStatus | Unset = attrs.field(default=UNSET, validator=_status)
    user_id: str | Unset | None = attrs.field(default=UNSET, validator=_id)
    voicemail_url: str | Unset | None = attrs.field(default=UNSET, validator=_url)

    def fields_set(self) -> frozenset[str]:
        """Names of the fields that were given (``None`` counts: it clears the field)."""
        return frozenset(
            a.name for a in attrs.fields(type(self)) if getattr(self, a.name) is not UNSET
        )


@attrs.frozen(kw_only=True)
class CallUpdate(_CallFields):
    """The body of ``PUT /activity/call/{id}/``: only the fields you give are sent.

    A field left out stays as it is at Close; a field given as ``None`` is cleared
    (except ``status``, which Close's schema does not let be null).
    Values are checked here, so a bad value raises
    :class:`~close_async.InvalidRequestError` (naming the field) before any request.

    >>> update = CallUpdate(note="Left a voicemail", duration=42, outcome_id=None)
    >>> sorted(update.fields_set())
    ['duration', 'note', 'outcome_id']

    Close's rules worth knowing: ``note`` and ``note_html`` overwrite each other (if both
    are sent, ``note_html`` wins); ``status``, ``duration`` and ``direction`` cannot be changed
    on calls made through Close (source ``Close.io``); changing or clearing
    ``recording_url``/``voicemail_url`` of such a call deletes the recording for good.
    """


@attrs.frozen(kw_only=True)
class CallCreate(_CallFields):
    """The body of ``POST /activity/call/``, which logs an external call.

    Same fields and checks as :class:`CallUpdate`, plus ``direction``, ``source``,
    ``created_by_id``, ``date_created`` and ``organization_id``. Close sets ``status`` to
    ``completed`` when it is not given. A POST is not idempotent: a retried create may log
    the call twice.
    """

    created_by_id: str | Unset | None = attrs.field(default=UNSET, validator=_id)
    date_created: _dt.datetime | Unset | None = attrs.field(default=UNSET, validator=_aware)
    direction: CallDirection | Unset = attrs.field(default=UNSET, validator=_direction)
    organization_id: str | Unset | None = attrs.field(default=UNSET, validator=_id)
    source: CallSource | Unset = attrs.field(default=UNSET, validator=_source)


# -------------------------------------------------------------------------------- response


@attrs.frozen(kw_only=True)
class Call:
    """A call activity as Close returns it.

    Build it with the package's parser, never ``Call(**payload)``. Every field but ``id``
    may be ``None`` (absent or null in the response). Enumerated fields (``status``,
    ``direction``, ``disposition``, ``source``, ``call_method``) are plain strings: Close
    may send values newer than this SDK (compare with the ``CALL_*`` constants or the
    ``Call*`` literal types). Fields Close adds later are kept in ``extra``::

        call.extra.get("recording_transcript")
    """

    id: str
    type: str | None = attrs.field(default=None, metadata={"json": "_type"})
    """``_type`` in the JSON (``"Call"``)."""
    organization_id: str | None = None
    lead_id: str | None = None
    contact_id: str | None = None
    user_id: str | None = None
    user_name: str | None = None
    users: tuple[str, ...] = ()
    """Ids of the users on the call (empty when Close sends none)."""
    created_by: str | None = None
    created_by_name: str | None = None
    updated_by: str | None = None
    updated_by_name: str | None = None
    date_created: _dt.datetime | None = None
    date_updated: _dt.datetime | None = None
    activity_at: _dt.datetime | None = None
    outcome_id: str | None = None
    source: str | None = None
    status: str | None = None
    direction: str | None = None
    disposition: str | None = None
    call_method: str | None = None
    duration: int | None = None
    """Length of the call in seconds."""
    cost: Decimal | None = None
    """What the call cost, in US cents (Close sends a decimal string)."""
    note: str | None = None
    note_html: str | None = None
    phone: str | None = None
    local_phone: str | None = None
    local_phone_formatted: str | None = None
    remote_phone: str | None = None
    remote_phone_formatted: str | None = None
    recording_url: str | None = None
    voicemail_url: str | None = None
    voicemail_duration: int | None = None
    sequence_id: str | None = None
    sequence_name: str | None = None
    sequence_subscription_id: str | None = None
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    """Fields of the response this SDK does not model, under their JSON names."""
