"""The request engine: every request to Close goes through :meth:`Engine.request`.

    Request (a value, built by the caller) -> retry loop (tenacity, one per call)
        -> limiter.acquire(group) -> transport.send -> limiter.release(group, feedback)
        -> interpret_response (pure): data, or one of our errors

It knows no resource: resources build :class:`~close_async._engine.http.interpret.Request` values
and hand them over. Safe for many concurrent tasks: one connection pool, one limiter, and
per-call retry state only.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import contextlib
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

import attrs

from .errors import AuthenticationError, CloseError
from .http.interpret import feedback_from_response, interpret_response
from .http.request import Request, with_method_override, with_query
from .http.response import Response
from .http.transport import Transport
from .options import RequestOptions
from .phase import begin as begin_phase
from .phase import mark as attempt_mark
from .ratelimit.limiter import RateFeedback, RateLimiter
from .retry import RetryEvent, deadline_exceeded, make_retrying
from .telemetry.hooks import CallTelemetry, Telemetry

if TYPE_CHECKING:
    from .auth.oauth import TokenAuth

__all__ = ["ClientStats", "Engine"]

_NO_DEADLINE = contextlib.nullcontext()
T = TypeVar("T")


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

    ``options`` are the client's: its timeout, retry policy and the headers sent with every
    request (``Authorization`` among them: they are never shown). A call may bring its own
    (a ``with_options`` view does). ``base_url`` decides when a GET's URL is too long.
    ``auth``, for a token provider, gives each attempt its ``Authorization`` instead (and a
    new one, once, after a 401).
    ``telemetry`` (tracing and metrics) is told about every call and attempt; ``None``: off.
    """

    def __init__(
        self,
        *,
        transport: Transport,
        limiter: RateLimiter,
        base_url: str,
        options: RequestOptions,
        on_retry: Callable[[RetryEvent], None] | None = None,
        auth: TokenAuth | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._transport = transport
        self._auth = auth
        # Chosen once: a client with fixed credentials sends its prebuilt headers, and pays
        # nothing per attempt for the token path.
        self._send = self._attempt if auth is None else self._attempt_with_token
        self._limiter = limiter
        self._base_url = base_url
        self.options = options
        self._on_retry = on_retry
        # Tests swap in a sleep that advances a fake clock, to check what each retry slept.
        self._retry_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.stats: ClientStats = ClientStats()
        self.telemetry = telemetry

    def __repr__(self) -> str:
        return f"Engine(base_url={self._base_url!r})"

    async def aclose(self) -> None:
        """Close the connection pool, then the limiter. Safe to call twice."""
        if self._auth is not None:
            await self._auth.aclose()
        await self._transport.aclose()
        await self._limiter.aclose()

    @overload
    async def request(self, request: Request, *, options: RequestOptions | None = ...) -> Any: ...

    @overload
    async def request(
        self,
        request: Request,
        *,
        parse: Callable[[Any], T],
        options: RequestOptions | None = ...,
    ) -> T: ...

    async def request(
        self,
        request: Request,
        *,
        parse: Callable[[Any], Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Any:
        """Send ``request`` with retries and pacing; return the decoded JSON body, or what
        ``parse`` makes of it.

        ``options`` default to the client's: their ``Timeout.total`` (seconds) bounds the
        whole call, retries and limiter waits included; their ``query`` is merged into the
        request's. When they say ``raw``, returns a
        :class:`~close_async._engine.http.response.Response` instead (its ``parse()`` gives
        what ``parse`` makes of the body). Raises a :class:`CloseError`.
        """
        if options is None:
            options = self.options
        if options.query:
            request = with_query(request, options.query)
        asked = request  # what tracing names, even when sent as a POST with an override
        if request.method == "GET" and request.params:
            request = with_method_override(request, self._base_url)
        # In raw mode _attempt wraps the answer in a Response, which parses on demand.
        raw_parse = (parse or _as_is) if options.raw else None
        if raw_parse is not None:
            parse = None
        deadline = options.timeout.total
        loop = asyncio.get_running_loop()
        deadline_at = loop.time() + deadline if deadline is not None else None
        book = None
        # One frame for the whole call (no helper coroutine): this runs once per update.
        trace = None if self.telemetry is None else self.telemetry.start_call(asked)
        error: BaseException | None = None
        try:
            async with asyncio.timeout_at(deadline_at) if deadline_at else _NO_DEADLINE:
                try:
                    # Most calls succeed at once, and a pass through tenacity's loop costs
                    # about 315,000 instructions (callgrind: 779,483 per update of
                    # calls.update_many with the first attempt out here, 1,095,078 with
                    # every attempt inside; benchmarks/RESULTS.md). So the loop is entered
                    # only after a first attempt failed with one of our errors.
                    answer = await self._send(request, options, raw_parse, trace)
                except CloseError as exc:
                    first_failure: CloseError | None = exc
                else:
                    return answer if parse is None else parse(answer)
                retrying, book = make_retrying(
                    options.retry,
                    request,
                    deadline_at=deadline_at,
                    on_retry=(
                        self._record_retry
                        if trace is None
                        else trace.observe_retries(self._record_retry)
                    ),
                    sleep=self._retry_sleep,
                    clock=loop.time,
                )
                async for attempt in retrying:
                    with attempt:
                        if first_failure is not None:
                            # Tenacity's attempt 1 is the one that failed above: its hooks
                            # decide about it as about every later one (retry or not, the
                            # wait, the budgets), once.
                            failure, first_failure = first_failure, None
                            raise failure
                        answer = await self._send(request, options, raw_parse, trace)
                # Parsed outside tenacity's loop: a body not as documented is not worth a retry.
                return answer if parse is None else parse(answer)
        except CloseError as exc:
            # Before the builtin below: every timeout of ours is a builtins.TimeoutError too.
            if book is not None and book.deadline_hit:
                error = deadline_exceeded(request, exc, seconds=deadline)
                raise error from exc
            error = exc
            raise
        except builtins.TimeoutError as exc:
            # Only asyncio.timeout_at raises the bare builtin: the transport raises ours.
            # The attempt cut short was cancelled; the last attempt that failed says more.
            # A limiter sleeping out Close's pause names it on the attempt's mark: that is
            # why the time ran out. The mark is this call's last attempt's, never another's.
            mark = attempt_mark()
            pause = mark.pause if mark is not None else None
            last = pause or (book.last_error if book else None)
            error = deadline_exceeded(request, last, seconds=deadline)
            raise error from exc
        except BaseException as exc:  # cancelled, or a parse that raised its own
            error = exc
            raise
        finally:
            if trace is not None:
                trace.end(error)
            # The error's traceback holds this frame: no cycle back to the error through it.
            error = None

    def _record_retry(self, event: RetryEvent) -> None:
        self.stats.retries[event.reason] += 1
        if self._on_retry is not None:
            self._on_retry(event)

    async def _attempt_with_token(
        self,
        request: Request,
        options: RequestOptions,
        raw_parse: Callable[[Any], Any] | None,
        trace: CallTelemetry | None,
    ) -> Any:
        # One attempt as the retry policy sees it: a 401 answered to a token is followed at
        # once by one more send with a refreshed token (Close revokes or expires tokens at
        # any time); a second 401 is the caller's, as with an API key.
        assert self._auth is not None
        begin_phase("authorizing")
        authorization = await self._auth.authorization()
        try:
            return await self._attempt(request, options, raw_parse, trace, authorization)
        except AuthenticationError:
            fresh = await self._auth.after_rejection(authorization)
            if fresh is None:
                raise
        return await self._attempt(request, options, raw_parse, trace, fresh)

    async def _attempt(
        self,
        request: Request,
        options: RequestOptions,
        raw_parse: Callable[[Any], Any] | None,
        trace: CallTelemetry | None,
        authorization: str | None = None,
    ) -> Any:
        group = request.group
        headers = options.headers
        if request.headers or authorization is not None:
            headers = {**headers, **dict(request.headers)}
            if authorization is not None:
                headers["Authorization"] = authorization
        if trace is not None:
            trace.attempt_starting()
        begin_phase("rate_limiter")
        await self._limiter.acquire(group)
        if trace is not None:
            trace.attempt_sending()
        feedback: RateFeedback | None = None
        try:
            self.stats.requests += 1
            raw = await self._transport.send(request, headers, timeouts=options.timeout)
            feedback = feedback_from_response(raw.status, raw.headers, raw.body)
        except CloseError as exc:
            self.stats.transport_errors += 1
            if trace is not None:
                trace.attempt_failed(exc)
            raise
        finally:
            await self._limiter.release(group, feedback)
        self.stats.responses[raw.status] += 1
        if trace is not None:
            trace.attempt_answered(raw.status)
        status, headers_in, body = raw.status, raw.headers, raw.body
        del raw
        try:
            decoded = interpret_response(request, status, headers_in, body)
        except CloseError as exc:
            # A traceback keeps its frames' locals, this body among them: the error (which
            # tenacity holds until the next attempt ends, and the caller as long as it
            # likes) would pin up to max_response_size of memory.
            del body
            traceback.clear_frames(exc.__traceback__)
            raise
        if raw_parse is None:
            return decoded
        return Response(
            request=request,
            status_code=status,
            headers=headers_in,
            rate_limit=feedback.info if feedback is not None else None,
            content=body,
            decoded=decoded,
            parse=raw_parse,
        )


def _as_is(value: Any) -> Any:
    return value
