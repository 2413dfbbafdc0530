"""Call ids: the only caller-given value that goes into a URL path.

A call id is checked before it is put into ``/activity/call/{id}/`` so that a bad value
(``"../lead/lead_x"``, ``"acti_x?_fields=..."``, ``"acti_x%2F.."``) can never reach a
different endpoint. Close's ids are ``acti_`` followed by base62 characters.
"""

from __future__ import annotations

import re

from .errors import ClientValidationError

__all__ = ["CALL_ID_MAX_LENGTH", "safe_repr", "validate_call_id"]

CALL_ID_MAX_LENGTH = 100
"""Longest call id accepted. Real ids are about 40 characters; the cap bounds error texts."""

# fullmatch, not ``$``: ``$`` would accept a trailing newline.
_CALL_ID = re.compile(r"acti_[A-Za-z0-9]+")
_REPR_LIMIT = 40


def safe_repr(value: object, limit: int = _REPR_LIMIT) -> str:
    """Show a caller's value in an error message without letting it forge or flood the text.

    Strings are shown with :func:`ascii` (control characters, newlines and non-ASCII are
    escaped) and cut to ``limit`` characters; other objects by their type name only, since
    their ``repr`` could be anything (and might hold a secret).
    """
    if isinstance(value, str):
        if len(value) > limit:
            return f"{value[:limit]!a}... ({len(value)} characters)"
        return ascii(value)
    if value is None or type(value) in (bool, int, float):
        try:
            text = repr(value)
        except ValueError:  # an int too long to print (sys.set_int_max_str_digits)
            return "a very long int"
        return text if len(text) <= limit else f"{text[:limit]}..."
    return f"a {type(value).__name__}"


def validate_call_id(value: object) -> str:
    """Return ``value`` if it is a well-formed Close call id, else raise.

    Raises :class:`~close_async.ClientValidationError` with ``field="call_id"``.

    >>> validate_call_id("acti_3fXh0mYvKZTrXMbmVSdVbLrnOBFGnJQ0IvyA0MYFwGy")
    'acti_3fXh0mYvKZTrXMbmVSdVbLrnOBFGnJQ0IvyA0MYFwGy'
    """
    if not isinstance(value, str):
        raise ClientValidationError(
            f"call_id must be a string like 'acti_...', got {safe_repr(value)}", field="call_id"
        )
    if len(value) > CALL_ID_MAX_LENGTH or _CALL_ID.fullmatch(value) is None:
        raise ClientValidationError(
            "call_id must be 'acti_' followed by letters and digits "
            f"(at most {CALL_ID_MAX_LENGTH} characters), got {safe_repr(value)}",
            field="call_id",
        )
    return value
