"""What a response means, sans I/O: the result or the error, and what the limiter learns.

Nothing here touches a socket, an event loop or the clock. A resource builds a
:class:`~close_async._engine.http.request.Request`; the engine sends it and hands the status,
headers and body back to :func:`interpret_response` (the result or the error to raise) and
:func:`feedback_from_response` (what the rate limiter should learn).
"""

from __future__ import annotations

import html
import http
import json
import re
from collections.abc import Mapping
from typing import Any

from ..errors import (
    APIResponseValidationError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
)
from ..ratelimit.info import RateLimitInfo, retry_after_header, server_wait
from ..ratelimit.limiter import RateFeedback
from ..text import SHORT_LIMIT, clean, render
from .request import Request

__all__ = ["feedback_from_response", "interpret_response"]

# The one place a status picks an error class. Any other status (405, 415, 3xx, ...)
# is a plain APIStatusError.
_ERROR_CLASSES: Mapping[int, type[APIStatusError]] = {
    **dict.fromkeys(range(500, 600), InternalServerError),
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}

_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->|<[^>]*>", re.IGNORECASE | re.DOTALL)
_DANGLING_TAG = re.compile(r"<[^>]*$")
_SCAN_LIMIT = 8192
_SPACE = re.compile(r"\s+")
_NO_BODY = object()
# What an error keeps of a body that is not JSON (a proxy's HTML page can be megabytes,
# and errors are kept in logs, retry events and bulk results).
_BODY_EXCERPT = 4096
# The most values an error body may hold and still be decoded. Decoded, JSON of tiny values
# ("[{},{},...]") takes 25 times its size, which an error keeps as long as it lives; a long
# text costs no more decoded than read, so one huge field error is still kept whole.
# Close's error bodies hold a few dozen values.
_ERROR_JSON_VALUES = 10_000
_SNIFF = 64


def _excerpt(text: str) -> str:
    """A short, single-line, tag-free excerpt of a body for an error message."""
    # Only the start matters, and a bound keeps the tag pattern cheap on a huge page.
    text = _DANGLING_TAG.sub(" ", _TAG.sub(" ", text[:_SCAN_LIMIT]))
    text = _SPACE.sub(" ", html.unescape(text))
    # Control characters from a hostile or broken proxy must not reach a terminal or log.
    return clean(text, SHORT_LIMIT)


def _decode(body: bytes) -> Any:
    """The JSON in ``body``, or ``_NO_BODY`` when it is not JSON."""
    text: bytes | str = body
    if body[:1] == b"{" and body[1:2] != b"\0":
        # Close's answer: an object, so UTF-8 (json.loads would pick UTF-8 too, from the
        # same two bytes, but only after sniffing for BOMs in Python on every answer).
        try:
            text = body.decode("utf-8", "surrogatepass")  # the decoding json.loads applies
        except UnicodeDecodeError:
            return _NO_BODY
    elif body[:_SNIFF].lstrip()[:1] == b"<":
        # A proxy's HTML page: json.loads would first copy all of it into a str.
        return _NO_BODY
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # includes bad UTF-8
        return _NO_BODY


def _decode_error(body: bytes) -> Any:
    """The JSON in an error ``body``, or ``_NO_BODY`` when it is not JSON or holds too many
    values to keep."""
    # Every value after the first of an array or object follows a comma: a cheap upper
    # bound (commas inside strings count too, which errs on the safe side).
    if body.count(b",") > _ERROR_JSON_VALUES:
        return _NO_BODY
    return _decode(body)


def _head_text(body: bytes) -> str:
    return body[:_SCAN_LIMIT].decode("utf-8", "replace")


def _close_message(payload: Any) -> str | None:
    """Close's own words for an error: ``error`` (text or ``{"message": ...}``) and ``errors``."""
    if not isinstance(payload, Mapping):
        return None
    parts: list[str] = []
    error = payload.get("error")
    if isinstance(error, Mapping):
        error = error.get("message")
    if isinstance(error, str) and error.strip():
        parts.append(error[:_SCAN_LIMIT])
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:
        # render, not str(): an item nested deep enough makes str() raise RecursionError.
        parts.append(render(errors, _SCAN_LIMIT))
    return _excerpt("; ".join(parts)) if parts else None


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unexpected status"


def interpret_response(
    request: Request, status: int, headers: Mapping[str, str], body: bytes
) -> Any:
    """The decoded result of a 2xx response, or the :class:`APIStatusError` subclass to raise.

    A 2xx with an empty body gives ``{}``; one that is not JSON raises
    :class:`APIResponseValidationError`. Any other status raises the error mapped to it (400
    :class:`BadRequestError`, 401, 402, 403, 404, 429 :class:`RateLimitError` with the wait
    Close asked for, 5xx :class:`InternalServerError`, a 503's with its ``Retry-After``, else
    :class:`APIStatusError`), also when the body is an HTML page. Errors carry the method, path,
    status and body, never credentials.
    """
    if 200 <= status < 300:
        if not body or body.isspace():  # as body.strip() would say, without copying it
            return {}
        decoded = _decode(body)
        if decoded is _NO_BODY:
            raise APIResponseValidationError(
                f"HTTP {status} body is not JSON: {_excerpt(_head_text(body))!r}",
                method=request.method,
                path=request.path,
            )
        return decoded
    raise _api_error(request, status, headers, body)


def _api_error(
    request: Request, status: int, headers: Mapping[str, str], body: bytes
) -> APIStatusError:
    decoded = _decode_error(body)
    if decoded is _NO_BODY:
        text = body[:_BODY_EXCERPT].decode("utf-8", "replace")
        payload: Any = text
        message = _excerpt(text) or _reason(status)
    else:
        payload = decoded
        message = _close_message(decoded) or _reason(status)
    errors = payload.get("errors") if isinstance(payload, Mapping) else None
    field_errors = payload.get("field-errors") if isinstance(payload, Mapping) else None
    common: dict[str, Any] = {
        "status": status,
        "method": request.method,
        "path": request.path,
        "errors": errors if isinstance(errors, list) else None,
        "field_errors": field_errors if isinstance(field_errors, Mapping) else None,
        "body": payload,
    }
    error_class = _ERROR_CLASSES.get(status, APIStatusError)
    if error_class is RateLimitError:
        return RateLimitError(message, retry_after=server_wait(headers, payload), **common)
    if status == 503:
        # Retry-After is defined for 503 ("come back later"); on another 5xx it means nothing.
        return InternalServerError(message, retry_after=retry_after_header(headers), **common)
    return error_class(message, **common)


def feedback_from_response(status: int, headers: Mapping[str, str], body: bytes) -> RateFeedback:
    """What one response tells the rate limiter; runs on every response, so it stays cheap.

    The limit comes from the headers, or on a 429 without them from the body; the body is
    only read on a 429. ``retry_after`` is the wait Close asked for on a 429.
    """
    info = RateLimitInfo.from_headers(headers)
    if status != 429:
        return RateFeedback(status=status, info=info)
    decoded = _decode_error(body)
    payload = None if decoded is _NO_BODY else decoded
    if info is None:
        info = RateLimitInfo.from_body(payload)
    return RateFeedback(status=status, info=info, retry_after=server_wait(headers, payload))
