"""The request engine: every request to Close goes through :meth:`Engine.request`.

    Request (a value, built by the caller) -> retry loop (tenacity, one per call)
        -> limiter.acquire(group) -> transport.send -> limiter.release(group, feedback)
        -> interpret_response (pure): data, or one of our errors

It knows no resource: resources build :class:`~close_async._engine.protocol.Request` values
and hand them over. Safe for many concurrent tasks: one connection pool, one limiter, and
per-call retry state only.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import contextlib
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from .errors import CloseError
from .limiter import RateFeedback, RateLimiter, forget_pause_waited_on, pause_waited_on
from .protocol import Request, feedback_from_response, interpret_response
from .retry import RetryEvent, RetryPolicy, deadline_exceeded, make_retrying, retry_reason
from .transport import AiohttpTransport

__all__ = ["ClientStats", "Engine"]

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


class Engine:
    """Paces, sends, retries and interprets requests; owns the stats.

    ``headers`` are sent with every request (``Authorization`` among them: they are never
    shown). ``default_deadline`` bounds a call, retries included, when the caller gives none.
    """

    def __init__(
        self,
        *,
        transport: AiohttpTransport,
        limiter: RateLimiter,
        retry: RetryPolicy,
        headers: Mapping[str, str],
        default_deadline: float | None,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        self._transport = transport
        self._limiter = limiter
        self._retry = retry
        self._headers = dict(headers)
        self._default_deadline = default_deadline
        self._on_retry = on_retry
        # Tests swap in a sleep that advances a fake clock, to check what each retry slept.
        self._retry_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.stats = ClientStats()

    def __repr__(self) -> str:
        return "Engine()"

    async def aclose(self) -> None:
        """Close the connection pool, then the limiter. Safe to call twice."""
        await self._transport.aclose()
        await self._limiter.aclose()

    async def request(self, request: Request, *, deadline: float | None = None) -> Any:
        """Send ``request`` with retries and pacing; return the decoded JSON body.

        ``deadline`` (seconds) bounds the whole call, retries included; default
        ``Timeout.deadline``. Raises a :class:`CloseError`.
        """
        if deadline is None:
            deadline = self._default_deadline
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
