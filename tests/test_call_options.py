"""Every method's own options, per call: ``timeout=``, ``extra_headers=``, ``extra_query=``.

On loopback: the fake Close (which records each request's query) for queries and bulk
runs, the echo server (which records headers, and can hold an answer back) for headers
and timeouts. Nothing sleeps and nothing is timed: a timeout is proven by its error and
the phase it names.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import pytest

from close_async import (
    APITimeoutError,
    CloseClient,
    ConfigurationError,
    RateFeedback,
    RetryPolicy,
    Timeout,
)
from close_async import ResponseTimeoutError as AttemptTimeoutError
from close_async.testing import FakeClose
from tests.conftest import FAKE_KEY
from tests.echo_server import EchoServer, echo_server


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    async with echo_server() as server:
        yield server


@pytest.fixture
async def echo_close(echo: EchoServer) -> AsyncIterator[CloseClient]:
    async with CloseClient(
        FAKE_KEY, base_url=echo.base_url, retry=RetryPolicy.no_wait(), tz_offset=-4
    ) as client:
        yield client


def queries(fake: FakeClose, method: str, path: str) -> list[list[tuple[str, str]]]:
    """The query (as pairs) of each request the fake got for ``method path``."""
    return [
        parse_qsl(r.query, keep_blank_values=True)
        for r in fake.requests
        if r.method == method and r.path == "/api/v1/" + path
    ]


# -- extra_headers -----------------------------------------------------------------------


async def test_extra_headers_reach_the_server_and_not_the_next_call(
    echo_close: CloseClient, echo: EchoServer
) -> None:
    await echo_close.get("echo/", extra_headers={"X-Call": "one"})
    await echo_close.get("echo/")
    merge = {"source": "lead_a", "destination": "lead_b"}
    await echo_close.leads.merge(merge, extra_headers={"X-Call": "two"})
    await echo_close.leads.merge(merge)
    sent = [seen.headers.get("x-call") for seen in echo.seen]
    assert sent == ["one", None, "two", None]
    # The client's own headers still go with a call that brings its own.
    assert echo.seen[0].headers["x-tz-offset"] == "-4"
    assert echo.seen[0].headers["authorization"].startswith("Basic ")


async def test_a_none_value_removes_a_header_for_that_call_only(
    echo_close: CloseClient, echo: EchoServer
) -> None:
    view = echo_close.with_options(extra_headers={"X-View": "v"})
    await view.get("echo/", extra_headers={"x-view": None, "X-TZ-Offset": None})
    await view.get("echo/")
    first, second = (seen.headers for seen in echo.seen)
    assert "x-view" not in first
    assert "x-tz-offset" not in first
    assert second["x-view"] == "v"
    assert second["x-tz-offset"] == "-4"


async def test_a_calls_header_replaces_the_views_whatever_its_case(
    echo_close: CloseClient, echo: EchoServer
) -> None:
    view = echo_close.with_options(extra_headers={"X-View": "v"})
    await view.get("echo/", extra_headers={"x-VIEW": "call"})
    assert echo.seen[-1].headers["x-view"] == "call"


async def test_with_options_extra_headers_works_as_headers_did(
    echo_close: CloseClient, echo: EchoServer
) -> None:
    view = echo_close.with_options(extra_headers={"X-A": "1", "X-TZ-Offset": None})
    await view.get("echo/")
    await echo_close.get("echo/")
    assert echo.seen[0].headers["x-a"] == "1"
    assert "x-tz-offset" not in echo.seen[0].headers
    assert "x-a" not in echo.seen[1].headers
    assert echo.seen[1].headers["x-tz-offset"] == "-4"


# -- extra_query ---------------------------------------------------------------------------


async def test_extra_query_reaches_the_server(fake: FakeClose, close: CloseClient) -> None:
    lead = await close.leads.create({"name": "Acme"})
    assert lead.id is not None
    got = await close.leads.get(lead.id, extra_query={"_fields": "id"})
    assert got.id == lead.id
    assert queries(fake, "GET", f"lead/{lead.id}/") == [[("_fields", "id")]]


async def test_extra_query_wins_over_the_methods_own_and_none_leaves_it_out(
    fake: FakeClose, close: CloseClient
) -> None:
    lead = await close.leads.create({"name": "Acme"})
    assert lead.id is not None
    await close.leads.get(lead.id, fields="name", extra_query={"_fields": "id"})
    await close.leads.get(lead.id, fields="name", extra_query={"_fields": None})
    await close.leads.get(lead.id, fields="name")
    assert queries(fake, "GET", f"lead/{lead.id}/") == [
        [("_fields", "id")],
        [],
        [("_fields", "name")],
    ]


async def test_a_views_extra_query_and_a_calls_merge(fake: FakeClose, close: CloseClient) -> None:
    lead = await close.leads.create({"name": "Acme"})
    assert lead.id is not None
    view = close.with_options(extra_query={"_fields": "id"})
    await view.leads.get(lead.id)
    await view.leads.get(lead.id, extra_query={"_fields": "name"})
    await close.leads.get(lead.id)
    assert queries(fake, "GET", f"lead/{lead.id}/") == [
        [("_fields", "id")],
        [("_fields", "name")],
        [],
    ]


async def test_a_lists_options_go_with_every_page(fake: FakeClose, close: CloseClient) -> None:
    for name in ("A", "B", "C"):
        await close.leads.create({"name": name})
    pager = close.paginate("lead/", params={"_limit": 2}, extra_query={"_fields": "id"})
    names = [lead async for lead in pager]
    assert len(names) == 3
    pages = queries(fake, "GET", "lead/")
    assert len(pages) == 2
    assert all(("_fields", "id") in page for page in pages)


async def test_a_bulk_runs_options_go_with_every_item(fake: FakeClose, close: CloseClient) -> None:
    ids = []
    for name in ("A", "B"):
        lead = await close.leads.create({"name": name})
        assert lead.id is not None
        ids.append(lead.id)
    run = close.leads.update_many(
        [(i, {"description": "x"}) for i in ids], extra_query={"_fields": "id"}
    )
    results = [r async for r in run]
    assert [r.state for r in results] == ["done", "done"]
    for lead_id in ids:
        assert queries(fake, "PUT", f"lead/{lead_id}/") == [[("_fields", "id")]]


# -- timeout ---------------------------------------------------------------------------------


async def test_timeout_seconds_bound_the_whole_call(
    echo_close: CloseClient, echo: EchoServer
) -> None:
    echo.hold = 100  # each request is held until 100 are in flight: they never are
    with pytest.raises(APITimeoutError) as caught:
        await echo_close.get("echo/", timeout=0.05)
    assert caught.value.phase == "waiting"
    assert "timeout of 0.05 s ran out while waiting for Close's answer" in str(caught.value)


class _ClosedGate:
    """A limiter that never lets a request go."""

    async def acquire(self, group: str) -> None:
        await asyncio.Event().wait()

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        raise AssertionError("nothing was acquired")

    async def aclose(self) -> None:
        pass


async def test_timeout_seconds_include_the_rate_limiters_wait(echo: EchoServer) -> None:
    async with CloseClient(FAKE_KEY, base_url=echo.base_url, rate_limiter=_ClosedGate()) as close:
        with pytest.raises(APITimeoutError) as caught:
            await close.leads.get("lead_1", timeout=0.05)
    assert caught.value.phase == "rate_limiter"
    assert echo.seen == []


async def test_timeout_seconds_bound_a_generated_operation(
    echo_close: CloseClient, echo: EchoServer
) -> None:
    echo.hold = 100
    with pytest.raises(APITimeoutError) as caught:
        await echo_close.leads.merge({"source": "a", "destination": "b"}, timeout=0.05)
    assert caught.value.phase == "waiting"


async def test_a_timeout_object_per_call_sets_the_phases_too(
    echo_close: CloseClient, echo: EchoServer
) -> None:
    echo.hold = 100
    once = echo_close.with_options(max_retries=0)
    # attempt=: one attempt's bound, not the whole call's: the attempt's own timeout error.
    with pytest.raises(AttemptTimeoutError) as attempt:
        await once.get("echo/", timeout=Timeout(attempt=0.05))
    assert type(attempt.value) is AttemptTimeoutError  # not the whole call's APITimeoutError
    # total=: the whole call's.
    with pytest.raises(APITimeoutError) as whole:
        await once.get("echo/", timeout=Timeout(total=0.05))
    assert whole.value.phase == "waiting"


# -- refused before anything is sent -------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": -1}, "timeout must be a Timeout or positive seconds, got -1"),
        ({"timeout": 0}, "timeout must be a Timeout or positive seconds, got 0"),
        ({"timeout": math.nan}, "timeout must be a Timeout or positive seconds"),
        ({"timeout": True}, "timeout must be a Timeout or positive seconds, got True"),
        ({"extra_headers": {"Authorization": "Basic c2VjcmV0"}}, "cannot be set per call"),
        ({"extra_headers": {"X-A": "a\r\nX-Injected: 1"}}, "without line breaks"),
        ({"extra_headers": {"X-A": "a\nb"}}, "without line breaks"),
        ({"extra_headers": {"Bad Name": "a"}}, "not a valid HTTP token"),
        ({"extra_headers": [("X-A", "a")]}, "extra_headers must be a mapping"),
        ({"extra_query": {"a": {"b": 1}}}, "extra_query['a']"),
        ({"extra_query": {"": "x"}}, "extra_query name '' must be non-empty text"),
        ({"extra_query": [("a", "b")]}, "extra_query must be a mapping"),
    ],
)
async def test_bad_options_are_refused_before_anything_is_sent(
    echo_close: CloseClient, echo: EchoServer, options: dict[str, Any], message: str
) -> None:
    sends: list[Any] = [
        lambda: echo_close.get("echo/", **options),
        lambda: echo_close.leads.get("lead_1", **options),
        lambda: echo_close.leads.merge({"source": "a", "destination": "b"}, **options),
        lambda: echo_close.exports.start("lead", **options),
    ]
    for send in sends:
        with pytest.raises(ConfigurationError) as caught:
            await send()
        assert message in str(caught.value)
    # A list and a bulk run refuse them when called, before iterating.
    with pytest.raises(ConfigurationError):
        echo_close.paginate("lead/", **options)
    with pytest.raises(ConfigurationError):
        echo_close.leads.list(**options)
    with pytest.raises(ConfigurationError):
        echo_close.leads.update_many([("lead_1", {"name": "A"})], **options)
    with pytest.raises(ConfigurationError):
        echo_close.with_options(**options)
    assert echo.seen == []


async def test_a_refused_header_value_is_not_quoted(echo_close: CloseClient) -> None:
    with pytest.raises(ConfigurationError) as caught:
        await echo_close.get("echo/", extra_headers={"X-Key": "s3cret\r\n"})
    assert "s3cret" not in str(caught.value)
