"""The client over real loopback HTTP against the fake Close: the five endpoints,
cancellation, deadlines and rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest

from close_async import (
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CloseClient,
    LocalRateLimiter,
    NotFoundError,
    RedisRateLimiter,
    ResponseTimeoutError,
    RetryPolicy,
    Timeout,
)
from close_async.models import CallCreate, CallUpdate
from close_async.testing import RATE_LIMIT_STYLES, FakeClose, FakeFaults, FakeRateLimit

KEY = "test_key"
GROUP = "PUT activity/call"


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    async with FakeClose(api_keys=(KEY,), oauth_tokens=("tok",), strict=True) as server:
        yield server


async def test_the_five_endpoints(fake: FakeClose) -> None:
    (seeded,) = fake.seed_calls(1, lead_id="lead_abc")
    async with CloseClient(KEY, base_url=fake.base_url) as close:
        created = await close.calls.create(
            CallCreate(lead_id="lead_abc", direction="outbound", duration=30, note="hi")
        )
        assert created.direction == "outbound"
        assert created.duration == 30
        updated = await close.calls.update(created.id, CallUpdate(note=None, outcome_id="o_1"))
        assert updated.note is None
        assert updated.outcome_id == "o_1"
        fetched = await close.calls.get(created.id)
        assert fetched.outcome_id == "o_1"
        assert fetched.date_created.tzinfo is not None
        assert fetched.cost is None or isinstance(fetched.cost, Decimal)
        listed = [c.id async for c in close.calls.list(lead_id="lead_abc", page_size=1)]
        assert sorted(listed) == sorted([seeded, created.id])
        await close.calls.delete(created.id)
        with pytest.raises(NotFoundError):
            await close.calls.get(created.id)


async def test_oauth_and_bad_credentials(fake: FakeClose) -> None:
    (call_id,) = fake.seed_calls(1)
    async with CloseClient(oauth_token="tok", base_url=fake.base_url) as close:
        await close.calls.get(call_id)
    async with CloseClient("wrong", base_url=fake.base_url) as close:
        with pytest.raises(AuthenticationError):
            await close.calls.get(call_id)


async def test_server_side_validation_errors_name_the_field(fake: FakeClose) -> None:
    internal = fake.add_call(source="Close.io")["id"]
    async with CloseClient(KEY, base_url=fake.base_url) as close:
        with pytest.raises(BadRequestError) as info:
            await close.calls.update(internal, CallUpdate(duration=10))
    assert "duration" in info.value.field_errors


async def test_a_cancelled_update_leaks_no_connection_and_no_limiter_slot(
    fake: FakeClose,
) -> None:
    fake.faults = FakeFaults(slow_rate=1.0, slow_seconds=2.0)
    (call_id,) = fake.seed_calls(1)
    limiter = LocalRateLimiter()
    async with aiohttp.ClientSession() as session:
        async with CloseClient(
            KEY, base_url=fake.base_url, session=session, rate_limiter=limiter
        ) as close:
            task = asyncio.create_task(close.calls.update(call_id, CallUpdate(note="x")))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert limiter.snapshot(GROUP).inflight == 0
            connector = session.connector
            assert connector is not None
            await asyncio.sleep(0)
            assert len(connector._acquired) == 0  # the connection went back or was closed
            # The client still works afterwards.
            fake.faults = None
            await close.calls.update(call_id, CallUpdate(note="y"))
        assert not session.closed  # a caller's session is left open


async def test_deadline_cuts_a_slow_call(fake: FakeClose) -> None:
    fake.faults = FakeFaults(slow_rate=1.0, slow_seconds=2.0)
    (call_id,) = fake.seed_calls(1)
    async with CloseClient(KEY, base_url=fake.base_url) as close:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(APITimeoutError):
            await close.calls.update(call_id, CallUpdate(note="x"), timeout=0.2)
        assert loop.time() - start < 1.0


async def test_shared_client_serves_many_concurrent_tasks(fake: FakeClose) -> None:
    ids = fake.seed_calls(50)
    async with CloseClient(KEY, base_url=fake.base_url, max_connections=8) as close:
        calls = await asyncio.gather(
            *(close.calls.update(i, CallUpdate(note=f"note {i}")) for i in ids)
        )
    assert [c.note for c in calls] == [f"note {i}" for i in ids]


@pytest.mark.parametrize("style", RATE_LIMIT_STYLES)
async def test_every_429_style_is_waited_out(fake: FakeClose, style: str) -> None:
    fake.rate_limit = FakeRateLimit(rate=20, window=0.25, style=style)
    ids = fake.seed_calls(120)
    async with CloseClient(
        KEY, base_url=fake.base_url, retry=RetryPolicy.no_wait(rate_limit_attempts=50)
    ) as close:
        results = [
            r
            async for r in close.calls.update_many(
                ((i, CallUpdate(note="x")) for i in ids), concurrency=16
            )
        ]
        stats = close.stats
    assert all(r.ok for r in results)
    assert all(fake.calls[i]["note"] == "x" for i in ids)
    # At most one burst of the requests in flight when Close first refuses (here 16; none
    # when Close's headers said the budget was spent), then the group is paced: far from
    # the 40% of answers a client that only reacts to 429s collects.
    assert stats.rate_limited <= 16 + 4


async def test_updates_still_land_when_redis_is_down(
    fake: FakeClose, caplog: pytest.LogCaptureFixture
) -> None:
    ids = fake.seed_calls(20)
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", rate=200, api_key=KEY)
    async with CloseClient(KEY, base_url=fake.base_url, rate_limiter=limiter) as close:
        results = [r async for r in close.calls.update_many((i, CallUpdate(note="r")) for i in ids)]
    assert all(r.ok for r in results)
    assert all(fake.calls[i]["note"] == "r" for i in ids)
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1  # one warning per outage, not one per request
    assert KEY not in warnings[0].getMessage()


async def test_each_attempt_is_bounded_and_a_timeout_is_retried(fake: FakeClose) -> None:
    fake.faults = FakeFaults(slow_rate=1.0, slow_seconds=1.0)
    (call_id,) = fake.seed_calls(1)
    retry = RetryPolicy.no_wait(attempts=2)
    async with CloseClient(
        KEY, base_url=fake.base_url, timeout=Timeout(attempt=0.2), retry=retry
    ) as close:
        with pytest.raises(ResponseTimeoutError):
            await close.calls.update(call_id, CallUpdate(note="x"))
        assert close.stats.retries["timeout"] == 1


def test_every_attempt_is_bounded_by_default() -> None:
    assert Timeout().attempt is not None
    assert Timeout().connect is not None
