"""Reading Close's rate-limit signals (pure: no I/O, no clock reads except where passed in).

Close reports its limits in several forms (see the Close API facts, "Rate limits"):
- ``ratelimit: limit=100, remaining=50, reset=5`` (``,`` or ``;``, any order, decimals);
- legacy ``X-Rate-Limit-Limit`` / ``-Remaining`` / ``-Reset`` (decimal seconds);
- ``Retry-After`` (seconds or an HTTP date), maybe;
- a 429 body ``{"error": {"rate_reset": 0.87, "rate_limit": 40, "rate_window": 1, ...}}``,
  or the older unwrapped form with ``rate_reset`` as a string, or no JSON at all.

Every reader here is total: whatever a server, proxy or load balancer sends, it returns a
value or ``None`` and never raises, because a rate-limit hint must never turn a good
response into an error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import attrs
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["RateLimitInfo", "parse_retry_after", "retry_after_header", "server_wait"]

_RATELIMIT = "ratelimit"
_LEGACY_LIMIT = "x-rate-limit-limit"
_LEGACY_REMAINING = "x-rate-limit-remaining"
_LEGACY_RESET = "x-rate-limit-reset"
_RETRY_AFTER = "retry-after"
_WANTED = frozenset({_RATELIMIT, _LEGACY_LIMIT, _LEGACY_REMAINING, _LEGACY_RESET, _RETRY_AFTER})
_RATELIMIT_KEYS = frozenset({"limit", "remaining", "reset"})


def _number(value: object) -> float | None:
    """A non-negative finite number from a header or JSON value, or ``None``."""
    if isinstance(value, str):
        text = value.strip()
        # Plain decimal notation only: ``float()`` alone would also take "inf", "nan",
        # "1e400", "1_000" and non-ASCII digits, none of which a well-formed header holds.
        # String methods rather than a regex: this runs on every response.
        if not (text.isascii() and text.replace(".", "", 1).isdigit()):
            return None
        number = float(text)
        return number if math.isfinite(number) else None  # 400 nines overflow to inf
    if isinstance(value, bool):  # JSON true is an int to Python, but never a count
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            return None
        if math.isfinite(number) and number >= 0:
            return number
    return None


def _lookup(headers: Mapping[str, str]) -> Mapping[str, object]:
    """The headers this module reads, keyed by lower-case name, from any header mapping."""
    if isinstance(headers, (CIMultiDict, CIMultiDictProxy)):
        # aiohttp's own headers: already case-insensitive, so skip the scan.
        return {name: headers[name] for name in _WANTED if name in headers}
    found: dict[str, object] = {}
    for name, value in headers.items():
        if not isinstance(name, str):
            continue
        lowered = name.lower()
        # First one wins, as with a multidict's ``get``.
        if lowered in _WANTED and lowered not in found:
            found[lowered] = value
    return found


def _parse_ratelimit(value: object) -> RateLimitInfo | None:
    """The ``ratelimit`` header, or ``None`` when it is absent, malformed or says nothing."""
    if not isinstance(value, str):
        return None
    fields: dict[str, float] = {}
    for part in value.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue  # a trailing or doubled separator is harmless
        key, equals, raw = part.partition("=")
        if not equals:
            return None
        key = key.strip().lower()
        if key not in _RATELIMIT_KEYS:
            continue  # Close may add keys (a policy name, a window): not ours to refuse
        number = _number(raw)
        if number is None or key in fields:
            # A bad or repeated known key makes the whole header untrustworthy: we cannot
            # tell which reading Close meant, so the legacy headers get a chance instead.
            return None
        fields[key] = number
    if not fields:
        return None
    return RateLimitInfo(
        limit=fields.get("limit"), remaining=fields.get("remaining"), reset=fields.get("reset")
    )


def _parse_legacy(found: Mapping[str, object]) -> RateLimitInfo | None:
    """The ``X-Rate-Limit-*`` headers; each is read on its own, a bad one counts as absent."""
    limit = _number(found.get(_LEGACY_LIMIT))
    remaining = _number(found.get(_LEGACY_REMAINING))
    reset = _number(found.get(_LEGACY_RESET))
    if limit is None and remaining is None and reset is None:
        return None
    return RateLimitInfo(limit=limit, remaining=remaining, reset=reset)


def _decode_json(body: bytes | bytearray | str) -> Any:
    """JSON from raw bytes or text, or ``None`` when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, TypeError, RecursionError):
        # ValueError covers bad JSON and bad UTF-8; RecursionError absurdly deep nesting.
        return None


@attrs.frozen
class RateLimitInfo:
    """A snapshot of one rate limit as Close reported it on one response.

    ``reset`` is in seconds from the moment the response was received. ``window`` is the
    length of the limit's window in seconds when Close said it (429 bodies do).
    Any field may be ``None`` when Close did not say.
    """

    limit: float | None = None
    remaining: float | None = None
    reset: float | None = None
    window: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo | None:
        """Read the limit from response headers (any name casing), or ``None`` if none is usable.

        The ``ratelimit`` header is preferred; when it is absent or malformed the legacy
        ``X-Rate-Limit-*`` headers are read. Never raises.
        """
        try:
            found = _lookup(headers)
        except Exception:  # a broken mapping must not break the response it came with
            return None
        if not found:
            return None
        return _parse_ratelimit(found.get(_RATELIMIT)) or _parse_legacy(found)

    @classmethod
    def from_body(cls, body: Any) -> RateLimitInfo | None:
        """Read the limit from a 429 body, or ``None`` if it carries nothing usable.

        ``body`` is the decoded JSON, or the raw bytes or text (decoded here). Both the
        current ``{"error": {"rate_reset": ...}}`` form and the older unwrapped one (with
        ``rate_reset`` possibly a string) are read. ``remaining`` is 0: a 429 means none
        is left. Never raises.
        """
        if isinstance(body, (bytes, bytearray, str)):
            body = _decode_json(body)
        if not isinstance(body, Mapping):
            return None
        error = body.get("error")
        source = error if isinstance(error, Mapping) else body
        reset = _number(source.get("rate_reset"))
        limit = _number(source.get("rate_limit"))
        window = _number(source.get("rate_window"))
        if reset is None and limit is None and window is None:
            return None
        return cls(limit=limit, remaining=0.0, reset=reset, window=window)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, or ``None`` when it is absent or junk.

    Takes delta-seconds (integer or decimal) or an HTTP date, measured from ``now``
    (default: the current UTC time). A date in the past gives ``0.0``. Never raises.
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text[0].isdigit() or text[0] == ".":
        return _number(text)
    try:
        when = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    # An HTTP date is always GMT; a date without a zone ("-0000") is read as UTC too.
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    try:
        seconds = (when - now).total_seconds()
    except OverflowError:
        return None
    return max(0.0, seconds)


def retry_after_header(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait from the ``Retry-After`` header (any name casing), or ``None``.

    Never raises.
    """
    try:
        value = _lookup(headers).get(_RETRY_AFTER)
    except Exception:  # a broken mapping must not break the response it came with
        return None
    return parse_retry_after(value if isinstance(value, str) else None, now=now)


def server_wait(
    headers: Mapping[str, str], body: Any, *, now: datetime | None = None
) -> float | None:
    """The wait in seconds Close asked for on a 429, or ``None`` when it asked for none.

    Considers ``Retry-After``, the reset of the ``ratelimit`` (or legacy) header and the
    body's ``rate_reset``; ``body`` is the decoded JSON or the raw bytes. Never raises.
    """
    retry_after = retry_after_header(headers, now=now)
    header_info = RateLimitInfo.from_headers(headers)
    body_info = RateLimitInfo.from_body(body)
    # The header's reset counts even when it shows requests remaining: this is a 429, so
    # the request was refused regardless, and the header may describe a different limit
    # (per key or per organization) than the one that refused it.
    waits = [
        wait
        for wait in (
            retry_after,
            header_info.reset if header_info else None,
            body_info.reset if body_info else None,
        )
        if wait is not None
    ]
    # The largest wait, not the first or the smallest: each signal may come from a
    # different layer (load balancer, per-key limit, per-organization limit), and a retry
    # before the longest of them has passed is refused again. That wastes an attempt and,
    # with many clients on one key, keeps the limit pinned. Never retry early.
    return max(waits) if waits else None
