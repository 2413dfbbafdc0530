"""The Redis connection of every piece, and how a piece rides out a Redis restart or failover.

Two layers, neither hand-rolled:

- redis-py's own ``Retry`` (with jittered exponential backoff) re-sends a command on a fresh
  connection when the old one died (``Connection closed by server.`` after a restart,
  ``LOADING`` while a restarted server reads its append-only file, ``READONLY`` from a
  demoted primary after a failover). It absorbs blips of a second or so.
- :func:`ride_out` (tenacity) retries a whole step of a worker's loop, without limit and
  with capped backoff, once redis-py's retries are spent: a worker waits out an outage of any
  length, logging each wait and the recovery at WARNING, and stops waiting when told to stop.

Every command the pieces send is safe to send twice (``XADD`` makes a duplicate entry that
the job's dedup absorbs; ``XACK``, ``SET NX`` and the lock scripts are idempotent), so a
command re-sent after its answer was lost changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

import redis.asyncio as redis
import tenacity
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff

T = TypeVar("T")

REDIS_DOWN: tuple[type[Exception], ...] = (
    redis.ConnectionError,  # refused, reset, closed; BusyLoadingError (LOADING) is one too
    redis.TimeoutError,
    redis.ReadOnlyError,  # a failover demoted the server this connection reached
)
"""The errors that mean "Redis is not there right now", not "the command was wrong"."""

RECEIVER_RETRIES = 2
"""redis-py retries of one receiver command: short, so a webhook is answered (503, and Close
retries it later) well inside Close's delivery timeout rather than held while Redis is down."""

WORKER_RETRIES = 4
"""redis-py retries of one worker command before :func:`ride_out` takes over."""

SOCKET_TIMEOUT = 5.0
"""Seconds a command may wait for its answer (a worker's blocking read asks for 0.5 s), so a
server that stopped answering without closing its connections is noticed."""

log = logging.getLogger("webhook_worker")


def connect(redis_url: str, *, retries: int) -> redis.Redis:
    """A client of ``redis_url`` that reconnects and re-sends up to ``retries`` times, with
    jittered backoff from 50 ms up to 1 s, when the server restarts or fails over."""
    # Annotated: redis 5.0's from_url is untyped (Any), and the lowest-versions CI run checks it.
    client: redis.Redis = redis.Redis.from_url(
        redis_url,
        decode_responses=True,
        retry=Retry(EqualJitterBackoff(cap=1.0, base=0.05), retries),
        retry_on_error=list(REDIS_DOWN),
        socket_connect_timeout=2.0,
        socket_timeout=SOCKET_TIMEOUT,
    )
    return client


async def ride_out(
    step: Callable[[], Awaitable[T]], what: str, stop: asyncio.Event | None = None
) -> T:
    """Run ``step``, retrying it while Redis is down: capped exponential backoff with jitter
    (0.1 s to 5 s), a WARNING before each wait and one when Redis answers again.

    Gives up (re-raising the last error) only once ``stop`` is set; the waits end early
    when it is.
    """

    def stopped(state: tenacity.RetryCallState) -> bool:
        return stop is not None and stop.is_set()

    async def sleep(seconds: float) -> None:
        if stop is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    def warn(state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "Redis unreachable while %s (%s); reconnecting in %.2f s (attempt %d)",
            what,
            error,
            wait,
            state.attempt_number,
        )

    retrying = tenacity.AsyncRetrying(
        retry=tenacity.retry_if_exception_type(REDIS_DOWN),
        stop=stopped,
        wait=tenacity.wait_random_exponential(multiplier=0.1, max=5.0),
        sleep=sleep,
        before_sleep=warn,
        reraise=True,
    )

    async def attempt() -> T:
        # A coroutine function, so tenacity awaits each attempt (a lambda returning an
        # awaitable would be taken for a plain function).
        return await step()

    result = cast(T, await retrying(attempt))
    failures = int(retrying.statistics.get("attempt_number", 1)) - 1
    if failures:
        log.warning("Redis reachable again: %s resumed after %d failures", what, failures)
    return result
