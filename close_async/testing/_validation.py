"""Checking request bodies the way Close does: exact field sets, types, ranges, formats.

Messages follow Close's (marshmallow-style) wording closely enough for clients to show them;
clients must rely on the field names, not on the text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "CREATE_FIELDS",
    "DIRECTIONS",
    "MAX_DURATION",
    "SOURCES",
    "UPDATE_FIELDS",
    "UPDATE_STATUSES",
    "html_from_note",
    "note_from_html",
    "parse_datetime",
    "validate_body",
]

MAX_DURATION = 604800
UPDATE_STATUSES = (
    "created",
    "in-progress",
    "completed",
    "cancel",
    "no-answer",
    "busy",
    "failed",
    "timeout",
)
DIRECTIONS = ("inbound", "outbound")
SOURCES = ("Close.io", "External")

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)

_NOT_STRING = "Not a valid string."
_NOT_NULL = "Field may not be null."

Checker = Callable[[Any], str | None]


def parse_datetime(value: str) -> datetime | None:
    """Parse ISO 8601 (``Z`` allowed; a date alone is midnight); naive means UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else _NOT_STRING


def _duration(value: Any) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return "Not a valid integer."
    if not 0 <= value <= MAX_DURATION:
        return f"Must be greater than or equal to 0 and less than or equal to {MAX_DURATION}."
    return None


def _phone(value: Any) -> str | None:
    if not isinstance(value, str):
        return _NOT_STRING
    return None if _E164.match(value) else "Not a valid phone number in E.164 format."


def _url(value: Any) -> str | None:
    if not isinstance(value, str):
        return _NOT_STRING
    return None if _URL.match(value) else "Not a valid URL."


def _datetime(value: Any) -> str | None:
    if not isinstance(value, str):
        return _NOT_STRING
    return None if parse_datetime(value) is not None else "Not a valid datetime."


def _mapping(value: Any) -> str | None:
    return None if isinstance(value, dict) else "Not a valid mapping type."


def _one_of(choices: tuple[str, ...]) -> Checker:
    message = "Must be one of: " + ", ".join(choices) + "."

    def check(value: Any) -> str | None:
        return None if value in choices else message

    return check


# Field -> (checker, nullable).
UPDATE_FIELDS: Mapping[str, tuple[Checker, bool]] = {
    "activity_at": (_datetime, True),
    "contact_id": (_string, True),
    "conversation_type_id": (_string, True),
    "custom_fields": (_mapping, True),
    "direction": (_one_of(DIRECTIONS), False),
    "duration": (_duration, True),
    "lead_id": (_string, True),
    "note": (_string, True),
    "note_html": (_string, True),
    "outcome_id": (_string, True),
    "phone": (_phone, True),
    "playbook_id": (_string, True),
    "quality_info": (_string, True),
    "recording_url": (_url, True),
    "status": (_one_of(UPDATE_STATUSES), False),
    "user_id": (_string, True),
    "voicemail_url": (_url, True),
}
"""Fields a PUT may carry (Close's ``UpdateCallActivity``, plus ``direction``)."""

CREATE_FIELDS: Mapping[str, tuple[Checker, bool]] = {
    **UPDATE_FIELDS,
    "created_by_id": (_string, True),
    "date_created": (_datetime, True),
    "organization_id": (_string, True),
    "source": (_one_of(SOURCES), False),
}
"""Fields a POST may carry (Close's ``CreateCallActivity``)."""


def validate_body(
    body: Any, fields: Mapping[str, tuple[Checker, bool]]
) -> tuple[dict[str, Any], list[str], dict[str, str]]:
    """Check a decoded JSON body against ``fields``.

    Returns ``(clean, errors, field_errors)``; ``clean`` holds the given fields, datetimes
    normalised to ISO 8601 with a timezone, and is only meaningful when both error
    collections are empty.
    """
    if not isinstance(body, dict):
        return {}, ["The request body must be a JSON object."], {}
    clean: dict[str, Any] = {}
    field_errors: dict[str, str] = {}
    for name, value in body.items():
        rule = fields.get(name)
        if rule is None:
            field_errors[name] = "Unknown field."
            continue
        checker, nullable = rule
        if value is None:
            if nullable:
                clean[name] = None
            else:
                field_errors[name] = _NOT_NULL
            continue
        problem = checker(value)
        if problem is not None:
            field_errors[name] = problem
        elif checker is _datetime:
            parsed = parse_datetime(value)
            assert parsed is not None  # the checker just accepted it
            clean[name] = parsed.isoformat()
        elif checker is _mapping:
            clean[name] = dict(value)
        else:
            clean[name] = value
    return clean, [], field_errors


_BREAKS = re.compile(r"<br\s*/?>|</p>\s*(?=\S)", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")


def note_from_html(note_html: str) -> str:
    """The plain text Close derives from ``note_html``: tags stripped, entities decoded."""
    return html.unescape(_TAGS.sub("", _BREAKS.sub("\n", note_html))).strip()


def html_from_note(note: str) -> str:
    """The ``note_html`` Close derives from a plain ``note``: escaped, in one paragraph."""
    if not note:
        return ""
    return "<p>" + html.escape(note, quote=False).replace("\n", "<br>") + "</p>"
