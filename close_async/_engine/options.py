"""Per-call options: what ``close.with_options(...)`` changes for the requests of one view.

A view shares the client's session, limiter and stats; only these travel with each of its
requests. They are worked out once, when the view is made, not per request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from .config import Timeout
from .errors import ConfigurationError
from .retry import RetryPolicy

__all__ = ["RequestOptions", "derive_options"]

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)
# Printable ASCII and tab: a CR or LF would let a value inject headers of its own.
_VALUE = re.compile(r"[\t\x20-\x7e]*", re.ASCII)
# Credentials belong to the client (and its rate budget); framing headers to aiohttp.
_RESERVED = frozenset({"authorization", "host", "content-length", "transfer-encoding"})


@attrs.frozen
class RequestOptions:
    """The timeout, retry policy and headers one view sends its requests with.

    ``headers`` is the whole set sent, credentials included, so it is never shown.
    ``raw``: answer each request with a :class:`~close_async._engine.http.response.Response`
    (``close.with_raw_response``) rather than its parsed result. An option of the view,
    not of the task running: a helper that sends requests of its own through another view
    gets their parsed results.
    """

    timeout: Timeout
    retry: RetryPolicy
    headers: Mapping[str, str] = attrs.field(repr=False)
    raw: bool = False


def _check_headers(headers: Mapping[str, str | None]) -> None:
    if not isinstance(headers, Mapping):
        raise ConfigurationError("headers must be a mapping of header names to values")
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ConfigurationError(f"header name {name!r} is not a valid HTTP token")
        if name.lower() in _RESERVED:
            raise ConfigurationError(
                f"header {name!r} cannot be set per call: credentials and framing belong to "
                "the client (make another CloseClient, sharing session=, for another key)"
            )
        if value is not None and (not isinstance(value, str) or not _VALUE.fullmatch(value)):
            # The value is not quoted: it may be a secret of the caller's.
            raise ConfigurationError(
                f"header {name!r} must be printable ASCII text without line breaks, or None"
            )


def derive_options(
    base: RequestOptions,
    *,
    timeout: Timeout | float | None = None,
    max_retries: int | None = None,
    retry: RetryPolicy | None = None,
    headers: Mapping[str, str | None] | None = None,
) -> RequestOptions:
    """``base`` with the given options changed.

    - ``timeout``: a :class:`Timeout`, or seconds for the whole call (its ``deadline``,
      retries included), the rest kept.
    - ``max_retries``: retries after the first attempt, for faults and for 429s alike
      (``0``: fail at once). ``retry``: a whole :class:`RetryPolicy` instead.
    - ``headers``: added to (or, a name given ``None``, removed from) those sent; names
      compare case-insensitively. ``Authorization``, ``Host`` and framing headers are refused.

    Raises :class:`ConfigurationError` for a bad value.
    """
    new_timeout = base.timeout
    if isinstance(timeout, Timeout):
        new_timeout = timeout
    elif timeout is not None:
        # ``not > 0`` rather than ``<= 0``: NaN compares false both ways, and would pass.
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise ConfigurationError(
                f"timeout must be a Timeout or positive seconds, got {timeout!r}"
            )
        new_timeout = attrs.evolve(base.timeout, deadline=float(timeout))
    if retry is not None and max_retries is not None:
        raise ConfigurationError("give max_retries or retry, not both")
    new_retry = retry if retry is not None else base.retry
    if max_retries is not None:
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigurationError(
                f"max_retries must be a whole number, 0 or more, got {max_retries!r}"
            )
        new_retry = attrs.evolve(
            base.retry,
            attempts=max_retries + 1,
            rate_limit_attempts=min(base.retry.rate_limit_attempts, max_retries),
        )
    new_headers = dict(base.headers)
    if headers:
        _check_headers(headers)
        for name, value in headers.items():
            for existing in [k for k in new_headers if k.lower() == name.lower()]:
                del new_headers[existing]
            if value is not None:
                new_headers[name] = value
    return RequestOptions(timeout=new_timeout, retry=new_retry, headers=new_headers, raw=base.raw)
