"""Request options: what ``close.with_options(...)``, or one call's own ``timeout=``,
``extra_headers=`` and ``extra_query=``, change for the requests sent.

A view shares the client's session, limiter and stats; only these travel with each of its
requests. A view's are worked out once, when it is made; a call's, when it is made (and
only when it gives one: a call with none sends with its requester's options as they are).
:func:`derive_options` holds every rule for both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from .config import Timeout
from .errors import ClientValidationError, ConfigurationError
from .http.request import query_value
from .retry import RetryPolicy

__all__ = ["RequestOptions", "call_options", "derive_options"]

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)
# Printable ASCII and tab: a CR or LF would let a value inject headers of its own.
_VALUE = re.compile(r"[\t\x20-\x7e]*", re.ASCII)
# Credentials belong to the client (and its rate budget); framing headers to aiohttp.
_RESERVED = frozenset({"authorization", "host", "content-length", "transfer-encoding"})


@attrs.frozen
class RequestOptions:
    """The timeout, retry policy, headers and extra query one view (or call) sends with.

    ``headers`` is the whole set sent, credentials included, so it is never shown.
    ``query``: names and encoded values merged into each request's query, replacing a
    parameter of the same name the method set (a ``None`` value removes it).
    ``raw``: answer each request with a :class:`~close_async._engine.http.response.Response`
    (``close.with_raw_response``) rather than its parsed result. An option of the view,
    not of the task running: a helper that sends requests of its own through another view
    gets their parsed results.
    """

    timeout: Timeout
    retry: RetryPolicy
    headers: Mapping[str, str] = attrs.field(repr=False)
    raw: bool = False
    query: tuple[tuple[str, str | None], ...] = ()


def _check_headers(headers: Mapping[str, str | None]) -> None:
    if not isinstance(headers, Mapping):
        raise ConfigurationError("extra_headers must be a mapping of header names to values")
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


def _query_pairs(extra_query: Mapping[str, object]) -> list[tuple[str, str | None]]:
    if not isinstance(extra_query, Mapping):
        raise ConfigurationError("extra_query must be a mapping of parameter names to values")
    pairs: list[tuple[str, str | None]] = []
    for name, value in extra_query.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"extra_query name {name!r} must be non-empty text")
        if value is None:
            pairs.append((name, None))
            continue
        try:
            pairs.append((name, query_value(name, value)))
        except ClientValidationError as exc:
            # The value is not quoted: it may be a token of the caller's.
            raise ConfigurationError(f"extra_query[{name!r}]: {exc}") from None
    return pairs


def _timeout(base: Timeout, timeout: Timeout | float) -> Timeout:
    if isinstance(timeout, Timeout):
        return timeout
    # ``not > 0`` rather than ``<= 0``: NaN compares false both ways, and would pass.
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ConfigurationError(f"timeout must be a Timeout or positive seconds, got {timeout!r}")
    return attrs.evolve(base, total=float(timeout))


def derive_options(
    base: RequestOptions,
    *,
    timeout: Timeout | float | None = None,
    max_retries: int | None = None,
    retry: RetryPolicy | None = None,
    extra_headers: Mapping[str, str | None] | None = None,
    extra_query: Mapping[str, object] | None = None,
) -> RequestOptions:
    """``base`` with the given options changed: the one set of rules for
    ``with_options(...)`` and for each call's own options.

    - ``timeout``: a :class:`Timeout` (every phase; its ``total`` bounds the whole call),
      or seconds for the whole call (retries and rate-limiter waits included), the
      phases kept.
    - ``max_retries``: retries after the first attempt, for faults and for 429s alike
      (``0``: fail at once). ``retry``: a whole :class:`RetryPolicy` instead.
    - ``extra_headers``: added to (or, a name given ``None``, removed from) those sent;
      names compare case-insensitively. ``Authorization``, ``Host`` and framing headers
      are refused, and so is a value that is not printable ASCII (a CR or LF).
    - ``extra_query``: merged into each request's query; a name the method also sets is
      replaced (this one wins), and a name given ``None`` is left out. Values are written
      as every query parameter is (lists comma-separated, dates in ISO 8601).

    Raises :class:`ConfigurationError` for a bad value, before anything is sent.
    """
    new_timeout = base.timeout if timeout is None else _timeout(base.timeout, timeout)
    if retry is not None and max_retries is not None:
        raise ConfigurationError("give max_retries or retry, not both")
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ConfigurationError(f"retry must be a RetryPolicy, got {type(retry).__name__}")
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
    new_headers = base.headers
    if extra_headers is not None:
        _check_headers(extra_headers)
        new_headers = dict(base.headers)
        for name, value in extra_headers.items():
            for existing in [k for k in new_headers if k.lower() == name.lower()]:
                del new_headers[existing]
            if value is not None:
                new_headers[name] = value
    new_query = base.query
    if extra_query is not None:
        pairs = _query_pairs(extra_query)
        names = {name for name, _ in pairs}
        new_query = (*(pair for pair in base.query if pair[0] not in names), *pairs)
    return RequestOptions(
        timeout=new_timeout, retry=new_retry, headers=new_headers, raw=base.raw, query=new_query
    )


def call_options(
    base: RequestOptions,
    timeout: Timeout | float | None,
    extra_headers: Mapping[str, str | None] | None,
    extra_query: Mapping[str, object] | None,
) -> RequestOptions | None:
    """One call's options over its requester's ``base``, or ``None`` when the call gave none
    (the requester then sends with its own, at no cost). See :func:`derive_options`."""
    if timeout is None and extra_headers is None and extra_query is None:
        return None
    return derive_options(
        base, timeout=timeout, extra_headers=extra_headers, extra_query=extra_query
    )
