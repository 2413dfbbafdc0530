"""``CloseClient``: one shared client per app, and the pipeline every request goes through.

    build Request (pure) -> retry loop (tenacity, one per call)
        -> limiter.acquire(group) -> transport.send -> limiter.release(group, feedback)
        -> interpret_response (pure): data, or one of our errors

The client is safe for many concurrent tasks: one connection pool, one limiter, and
per-call retry state only.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import contextlib
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import attrs

from ._engine.auth import Credentials, check_base_url
from ._engine.closing import AsyncClosing
from ._engine.config import DEFAULT_MAX_RESPONSE_SIZE, Timeout
from ._engine.errors import CloseError, ConfigurationError
from ._engine.limiter import RateFeedback, RateLimiter, forget_pause_waited_on, pause_waited_on
from ._engine.local_limiter import LocalRateLimiter
from ._engine.protocol import Request, feedback_from_response, interpret_response
from ._engine.retry import RetryEvent, RetryPolicy, deadline_exceeded, make_retrying, retry_reason
from ._engine.transport import AiohttpTransport
from ._resources.calls import CallsResource

__all__ = ["DEFAULT_BASE_URL", "ClientStats", "CloseClient"]

DEFAULT_BASE_URL = "https://api.close.com/api/v1/"
_USER_AGENT = "close-async/0.1"
_NO_DEADLINE = contextlib.nullcontext()


@attrs.define
class ClientStats:
    """Counters a UI or a metrics exporter can read at any time.

    ``requests``: HTTP attempts sent; ``responses``: answers by status; ``retries``: retries
    by reason (``rate_limited``, ``server_error``, ``timeout``, ...); ``rate_limited``: 429s.
    """

    requests: int = 0
    responses: collections.Counter[int] = attrs.field(factory=collections.Counter)
    retries: collections.Counter[str] = attrs.field(factory=collections.Counter)
    transport_errors: int = 0

    @property
    def rate_limited(self) -> int:
        """How many answers were 429."""
        return self.responses[429]

    @property
    def total_retries(self) -> int:
        """How many retries in all."""
        return sum(self.retries.values())


class CloseClient(AsyncClosing):
    """An asyncio client for Close's API. Share one per application.

    Credentials: ``api_key`` (HTTP Basic), or ``oauth_token`` (Bearer); with neither, the
    ``CLOSE_API_KEY`` environment variable. They never appear in a repr, log or error.

    Settings: ``timeout`` (:class:`Timeout`), ``retry`` (:class:`RetryPolicy`),
    ``rate_limiter`` (any :class:`RateLimiter`; default a :class:`LocalRateLimiter` that
    learns Close's limits), ``max_connections`` (pool size; match it to your concurrency),
    ``session`` (your own ``aiohttp.ClientSession``, left open on close), ``on_retry``
    (called with a :class:`RetryEvent` before each retry), ``tz_offset`` (hours from UTC,
    e.g. ``-4`` or ``5.5``, sent as ``X-TZ-Offset`` so Close reads date filters in that zone),
    ``max_response_size`` (bytes, after decompression, default 32 MiB: a bigger answer raises
    :class:`ResponseTooLargeError` and its connection is dropped).

    Example::

        async with CloseClient(api_key="api_...") as close:
            call = await close.calls.update("acti_...", CallUpdate(note="Left a voicemail"))
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        oauth_token: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        max_connections: int = 64,
        session: aiohttp.ClientSession | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        tz_offset: float | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
    ) -> None:
        self._credentials = Credentials(api_key=api_key, oauth_token=oauth_token)
        self._base_url = check_base_url(base_url)
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if isinstance(max_response_size, bool) or not isinstance(max_response_size, int):
            raise ConfigurationError("max_response_size must be a whole number of bytes")
        if max_response_size < 1:
            raise ConfigurationError("max_response_size must be at least 1 byte")
        self._timeout = timeout or Timeout()
        self._retry = retry or RetryPolicy()
        self._limiter: RateLimiter = rate_limiter or LocalRateLimiter(
            max_wait=self._retry.max_server_wait
        )
        self._on_retry = on_retry
        # Tests swap in a sleep that advances a fake clock, to check what each retry slept.
        self._retry_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._transport = AiohttpTransport(
            self._base_url,
            timeout=self._timeout,
            max_connections=max_connections,
            session=session,
            max_response_size=max_response_size,
        )
        # Built once; held only here, and never shown (the client's repr leaves it out).
        self._headers = {
            "Authorization": self._credentials.authorization(),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
        }
        if tz_offset is not None:
            self._headers["X-TZ-Offset"] = _tz_offset_header(tz_offset)
        self.stats = ClientStats()
        self.calls = CallsResource(self)

    def __repr__(self) -> str:
        return f"CloseClient(base_url={str(self._base_url)!r}, auth={self._credentials.kind})"

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return str(self._base_url)

    @property
    def credentials_fingerprint(self) -> str:
        """A short hash of the credentials: safe to log, and to name a shared rate budget."""
        return self._credentials.fingerprint

    @property
    def rate_limiter(self) -> RateLimiter:
        """The limiter pacing this client's requests."""
        return self._limiter

    async def aclose(self) -> None:
        """Close the connection pool (and the limiter). Safe to call twice."""
        await self._transport.aclose()
        await self._limiter.aclose()

    async def request(self, request: Request, *, deadline: float | None = None) -> Any:
        """Send ``request`` with retries and pacing; return the decoded JSON body.

        ``deadline`` (seconds) bounds the whole call, retries included; default
        ``Timeout.deadline``. Raises a :class:`CloseError`.
        """
        if deadline is None:
            deadline = self._timeout.deadline
        loop = asyncio.get_running_loop()
        deadline_at = loop.time() + deadline if deadline is not None else None
        book = None
        forget_pause_waited_on()  # nothing left over from an earlier, cancelled call
        try:
            async with asyncio.timeout_at(deadline_at) if deadline_at else _NO_DEADLINE:
                try:
                    # Most calls succeed at once: tenacity's loop (about 50 µs to set up) is
                    # only built after an attempt failed with something worth retrying.
                    return await self._attempt(request)
                except CloseError as exc:
                    if retry_reason(request.method, exc) is None:
                        raise
                    first_failure: CloseError | None = exc
                retrying, book = make_retrying(
                    self._retry,
                    request,
                    deadline_at=deadline_at,
                    on_retry=self._record_retry,
                    sleep=self._retry_sleep,
                    clock=loop.time,
                )
                async for attempt in retrying:
                    with attempt:
                        if first_failure is not None:
                            # Tenacity sees the failed first attempt as its own attempt 1,
                            # so the one policy decides its wait and the attempts left.
                            failure, first_failure = first_failure, None
                            raise failure
                        return await self._attempt(request)
        except builtins.TimeoutError as exc:
            # Only asyncio.timeout_at raises the builtin: the transport raises ours.
            # The attempt cut short was cancelled; the last attempt that failed says more.
            # A limiter sleeping out Close's pause names it: that is why the time ran out.
            last = pause_waited_on() or (book.last_error if book else None)
            raise deadline_exceeded(request, last) from exc
        except CloseError as exc:
            if book is not None and book.deadline_hit:
                raise deadline_exceeded(request, exc) from exc
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")  # pragma: no cover

    def _record_retry(self, event: RetryEvent) -> None:
        self.stats.retries[event.reason] += 1
        if self._on_retry is not None:
            self._on_retry(event)

    async def _attempt(self, request: Request) -> Any:
        group = request.group
        await self._limiter.acquire(group)
        feedback: RateFeedback | None = None
        try:
            self.stats.requests += 1
            raw = await self._transport.send(request, self._headers)
            feedback = feedback_from_response(raw.status, raw.headers, raw.body)
        except CloseError:
            self.stats.transport_errors += 1
            raise
        finally:
            await self._limiter.release(group, feedback)
        self.stats.responses[raw.status] += 1
        status, headers, body = raw.status, raw.headers, raw.body
        del raw
        try:
            return interpret_response(request, status, headers, body)
        except CloseError as exc:
            # A traceback keeps its frames' locals, this body among them: the error (which
            # tenacity holds until the next attempt ends, and the caller as long as it
            # likes) would pin up to max_response_size of memory.
            del body
            traceback.clear_frames(exc.__traceback__)
            raise


def _tz_offset_header(hours: float) -> str:
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not -24 < hours < 24:
        raise ConfigurationError(f"tz_offset must be hours from UTC within ±24, got {hours!r}")
    return f"{hours:g}"
