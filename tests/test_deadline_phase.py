"""A deadline that cuts a call says what the call was doing: ``APITimeoutError.phase``
and its message, for every place a deadline can end an attempt.

Each test holds the call in one phase until the deadline has passed (a limiter that never
lets go, a server whose accept queue is full, a handler that does not answer or does not
finish its body until the test lets it), so only the tiny deadline ends it: nothing sleeps,
and nothing depends on timing. A guard timeout only turns a regression into a failure
rather than a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from close_async import (
    APITimeoutError,
    CloseClient,
    InternalServerError,
    LocalRateLimiter,
    RetryPolicy,
)
from close_async._engine.phase import PHASES, describe
from tests.conftest import call_payload, serve_api

CALL_ID = "acti_3fKQ1nK8zqg7PbZ0"
DEADLINE = 0.05
GUARD = 30


class HeldLimiter(LocalRateLimiter):
    """A limiter someone else holds: ``acquire`` never returns."""

    async def acquire(self, group: str) -> None:
        await asyncio.Event().wait()


async def cut(close: CloseClient) -> APITimeoutError:
    async with asyncio.timeout(GUARD):
        with pytest.raises(APITimeoutError) as caught:
            await close.calls.get(CALL_ID, timeout=DEADLINE)
    # The whole call's timeout itself, not an attempt's (both are APITimeoutErrors).
    assert type(caught.value) is APITimeoutError
    return caught.value


class Gate:
    """Handlers that hold their answer until :meth:`open` (the server's shutdown waits for
    its handlers, so they must end once the test has what it needs)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def open(self) -> None:
        self._event.set()

    async def no_answer(self, request: web.Request) -> web.StreamResponse:
        await self._event.wait()
        return web.json_response(call_payload(CALL_ID))

    async def half_a_body(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b'{"id": ')
        await self._event.wait()
        return response


@contextlib.asynccontextmanager
async def full_accept_queue() -> AsyncIterator[str]:
    """A loopback port whose listener never accepts and whose queue is already full: the
    kernel drops a new connection's SYN, so connecting hangs (a server that accepts slowly)."""
    listener = socket.socket()
    filler = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.connect(listener.getsockname())  # takes the queue's one place
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1/"
    finally:
        filler.close()
        listener.close()


async def test_a_deadline_in_the_rate_limiter_says_no_attempt_was_sent() -> None:
    requests: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        requests.append(request.path)
        return web.json_response(call_payload(CALL_ID))

    async with (
        serve_api(handler) as url,
        CloseClient("api_key_x", base_url=url, rate_limiter=HeldLimiter()) as close,
    ):
        error = await cut(close)
    assert requests == []
    assert error.phase == "rate_limiter"
    assert error.last_error is None
    assert (
        "timeout of 0.05 s ran out while waiting for the rate limiter (no attempt was sent)"
        in str(error)
    )


async def test_a_deadline_while_connecting_says_so() -> None:
    async with full_accept_queue() as url, CloseClient("api_key_x", base_url=url) as close:
        error = await cut(close)
    assert error.phase == "connecting"
    assert error.last_error is None
    assert "while connecting to Close (no attempt was sent)" in str(error)


async def test_a_deadline_waiting_for_the_answer_says_the_request_may_have_been_applied() -> None:
    gate = Gate()
    async with (
        serve_api(gate.no_answer) as url,
        CloseClient("api_key_x", base_url=url) as close,
    ):
        error = await cut(close)
        gate.open()
    assert error.phase == "waiting"
    assert error.last_error is None
    assert "while waiting for Close's answer" in str(error)
    assert "may have been applied" in str(error)


async def test_a_deadline_reading_the_answer_says_so() -> None:
    gate = Gate()
    async with (
        serve_api(gate.half_a_body) as url,
        CloseClient("api_key_x", base_url=url) as close,
    ):
        error = await cut(close)
        gate.open()
    assert error.phase == "reading"
    assert error.last_error is None
    assert "while reading Close's answer" in str(error)


async def test_an_earlier_error_stays_the_last_error_and_the_phase_is_the_retry_wait() -> None:
    async def unavailable(request: web.Request) -> web.StreamResponse:
        return web.Response(status=503, text="down", headers={"Retry-After": "30"})

    async with (
        serve_api(unavailable) as url,
        CloseClient("api_key_x", base_url=url, retry=RetryPolicy(attempts=3)) as close,
    ):
        error = await cut(close)
    assert isinstance(error.last_error, InternalServerError)
    assert error.phase == "retry_wait"
    assert "while waiting to retry" in str(error)
    assert "no attempt was sent" not in str(error)


class HeldAfterOne(LocalRateLimiter):
    """A limiter that lets one attempt go, then is held by someone else."""

    def __init__(self) -> None:
        super().__init__()
        self._let_go = 0

    async def acquire(self, group: str) -> None:
        self._let_go += 1
        if self._let_go > 1:
            await asyncio.Event().wait()
        await super().acquire(group)


async def test_a_retry_cut_in_the_rate_limiter_says_this_attempt_was_not_sent() -> None:
    # The first attempt was sent and failed, so "no attempt was sent" would be false.
    requests: list[str] = []

    async def unavailable(request: web.Request) -> web.StreamResponse:
        requests.append(request.path)
        return web.Response(status=503, text="down")

    async with (
        serve_api(unavailable) as url,
        CloseClient(
            "api_key_x",
            base_url=url,
            rate_limiter=HeldAfterOne(),
            retry=RetryPolicy.no_wait(attempts=3),
        ) as close,
    ):
        error = await cut(close)
    assert len(requests) == 1
    assert isinstance(error.last_error, InternalServerError)
    assert error.phase == "rate_limiter"
    assert (
        "timeout of 0.05 s ran out while waiting for the rate limiter (this attempt was not sent)"
        in str(error)
    )


async def test_a_caller_session_cannot_tell_connecting_from_waiting() -> None:
    # Without the client's own connector, connecting is not marked: the phase says only
    # what is sure (the attempt left the limiter; it may have been sent).
    import aiohttp

    gate = Gate()
    async with (
        serve_api(gate.no_answer) as url,
        aiohttp.ClientSession() as session,
        CloseClient("api_key_x", base_url=url, session=session) as close,
    ):
        error = await cut(close)
        gate.open()
    assert error.phase == "waiting"


def test_every_phase_has_its_words() -> None:
    for phase in PHASES:
        text = describe(phase, seconds=2.0, earlier_error=False)
        assert text.startswith("timeout of 2.0 s ran out while ")
    assert describe("waiting", seconds=None, earlier_error=True) == (
        "the timeout ran out while waiting for Close's answer (it may have been applied)"
    )
    assert describe("connecting", seconds=0.5, earlier_error=True) == (
        "timeout of 0.5 s ran out while connecting to Close (this attempt was not sent)"
    )
