"""Which POSTs are retried: a create that may have reached Close is not; a read (search,
reports, a GET sent as a method override), a POST declared idempotent, a 429 and a failed
connection are."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from close_async import (
    APIConnectionError,
    CloseClient,
    ConnectError,
    InternalServerError,
    RateLimitError,
    ResponseTimeoutError,
    RetryEvent,
    RetryPolicy,
)
from close_async._engine.http.request import Request, with_method_override
from close_async._engine.retry import retry_reason
from close_async.testing import FakeClose, FakeFaults
from tests.conftest import API_KEY

BASE = "https://api.close.com/api/v1/"
KEY = "test_key"
LEAD = {"id": "lead_1", "name": "A"}


@pytest.fixture
async def client() -> AsyncIterator[CloseClient]:
    events: list[RetryEvent] = []
    async with CloseClient(
        API_KEY, retry=RetryPolicy.no_wait(attempts=3), on_retry=events.append
    ) as close:
        close.events = events  # type: ignore[attr-defined]
        yield close


def sent(mocked: aioresponses, method: str, path: str) -> list[Any]:
    return mocked.requests.get((method, URL(BASE + path)), [])


def reasons(close: CloseClient) -> list[str]:
    return [e.reason for e in close.events]  # type: ignore[attr-defined]


# -- retry_reason, as values ---------------------------------------------------------------


def server_error(status: int = 503) -> InternalServerError:
    return InternalServerError("down", status=status)


@pytest.mark.parametrize(
    ("request_", "error", "expected"),
    [
        (Request("POST", "lead/"), server_error(), None),
        (Request("POST", "lead/"), server_error(500), None),
        (Request("POST", "lead/"), APIConnectionError("dropped"), None),
        (Request("POST", "lead/"), ResponseTimeoutError("slow"), None),
        (Request("POST", "lead/", idempotent=True), server_error(), "server_error"),
        (Request("POST", "lead/", idempotent=True), APIConnectionError("dropped"), "disconnected"),
        (Request("POST", "lead/", idempotent=True), ResponseTimeoutError("slow"), "timeout"),
        (Request("GET", "lead/", idempotent=False), server_error(), None),
        (Request("POST", "data/search/"), server_error(), "server_error"),
        (Request("POST", "data/search/"), APIConnectionError("dropped"), "disconnected"),
        (Request("POST", "report/activity/"), server_error(), "server_error"),
        (Request("POST", "report/funnel/opportunity/stages/"), server_error(502), "server_error"),
        (Request("POST", "lead/data/search/"), server_error(), None),  # not the search endpoint
        (
            Request("POST", "lead/", idempotent=False),
            RateLimitError("x", status=429),
            "rate_limited",
        ),
        (Request("POST", "lead/"), ConnectError("refused"), "connect_error"),
        (Request("POST", "data/search/"), server_error(501), None),
    ],
)
def test_retry_reason_for_posts(
    request_: Request, error: BaseException, expected: str | None
) -> None:
    assert retry_reason(request_, error) == expected


def test_retry_reason_for_a_method_override() -> None:
    get = Request("GET", "lead/", (("id__in", "x" * 3000),))
    override = with_method_override(get, BASE)
    assert override.method == "POST"
    assert retry_reason(override, server_error()) == "server_error"
    assert retry_reason(override, APIConnectionError("dropped")) == "disconnected"


def test_read_posts_are_idempotent_by_default() -> None:
    assert Request("POST", "data/search/").idempotent is True
    assert Request("POST", "report/activity/").idempotent is True
    assert Request("POST", "lead/").idempotent is False
    assert Request("POST", "data/search/", idempotent=False).idempotent is False


# -- through the client, aioresponses standing in for Close -----------------------------------


async def test_a_create_answered_503_is_not_retried(
    mocked: aioresponses, client: CloseClient
) -> None:
    mocked.post(BASE + "lead/", status=503, body="down")
    mocked.post(BASE + "lead/", payload=LEAD)
    with pytest.raises(InternalServerError) as info:
        await client.post("lead/", json={"name": "A"})
    assert info.value.status == 503
    assert len(sent(mocked, "POST", "lead/")) == 1
    assert reasons(client) == []


async def test_a_create_whose_connection_dropped_is_not_retried(
    mocked: aioresponses, client: CloseClient
) -> None:
    mocked.post(BASE + "lead/", exception=aiohttp.ServerDisconnectedError())
    mocked.post(BASE + "lead/", payload=LEAD)
    with pytest.raises(APIConnectionError):
        await client.post("lead/", json={"name": "A"})
    assert len(sent(mocked, "POST", "lead/")) == 1


async def test_a_post_declared_idempotent_is_retried(
    mocked: aioresponses, client: CloseClient
) -> None:
    mocked.post(BASE + "lead/", status=503, body="down")
    mocked.post(BASE + "lead/", exception=aiohttp.ServerDisconnectedError())
    mocked.post(BASE + "lead/", payload=LEAD)
    assert await client.post("lead/", json={"name": "A"}, idempotent=True) == LEAD
    assert len(sent(mocked, "POST", "lead/")) == 3
    assert reasons(client) == ["server_error", "disconnected"]


@pytest.mark.parametrize("path", ["data/search/", "report/activity/"])
async def test_read_posts_answered_503_are_retried(
    mocked: aioresponses, client: CloseClient, path: str
) -> None:
    mocked.post(BASE + path, status=503, body="down")
    mocked.post(BASE + path, payload={"data": []})
    assert await client.post(path, json={"query": {}}) == {"data": []}
    assert len(sent(mocked, "POST", path)) == 2
    assert reasons(client) == ["server_error"]


async def test_a_read_post_declared_not_idempotent_is_not_retried(
    mocked: aioresponses, client: CloseClient
) -> None:
    mocked.post(BASE + "data/search/", status=503, body="down")
    with pytest.raises(InternalServerError):
        await client.post("data/search/", json={}, idempotent=False)
    assert len(sent(mocked, "POST", "data/search/")) == 1


async def test_a_get_sent_as_an_override_is_retried(
    mocked: aioresponses, client: CloseClient
) -> None:
    ids = [f"lead_{i:045d}" for i in range(50)]
    mocked.post(BASE + "lead/", status=503, body="down")
    mocked.post(BASE + "lead/", payload={"data": [], "has_more": False})
    assert await client.get("lead/", params={"id__in": ids}) == {"data": [], "has_more": False}
    requests = sent(mocked, "POST", "lead/")
    assert len(requests) == 2
    for request in requests:
        assert request.kwargs["headers"]["X-HTTP-Method-Override"] == "GET"
        assert request.kwargs["params"] is None
    assert reasons(client) == ["server_error"]
    assert client.stats.retries == {"server_error": 1}


async def test_a_429_on_a_create_is_retried(mocked: aioresponses, client: CloseClient) -> None:
    mocked.post(
        BASE + "lead/",
        status=429,
        headers={"ratelimit": "limit=40; remaining=0; reset=0.01"},
        payload={"error": {"rate_reset": 0.01, "message": "slow down"}},
    )
    mocked.post(BASE + "lead/", payload=LEAD)
    assert await client.post("lead/", json={"name": "A"}) == LEAD
    assert len(sent(mocked, "POST", "lead/")) == 2
    assert reasons(client) == ["rate_limited"]


async def test_a_connect_error_on_a_create_is_retried(
    mocked: aioresponses, client: CloseClient
) -> None:
    refused = aiohttp.ClientConnectorError(None, OSError(111, "refused"))  # type: ignore[arg-type]
    mocked.post(BASE + "lead/", exception=refused)
    mocked.post(BASE + "lead/", payload=LEAD)
    assert await client.post("lead/", json={"name": "A"}) == LEAD
    assert len(sent(mocked, "POST", "lead/")) == 2
    assert reasons(client) == ["connect_error"]


# -- against the fake Close and a closed port ---------------------------------------------------


async def test_fake_drop_after_apply_on_a_create_is_not_retried() -> None:
    faults = FakeFaults(drop_after_apply_rate=1.0, methods=("POST",))
    async with (
        FakeClose(api_keys=(KEY,), faults=faults) as fake,
        CloseClient(KEY, base_url=fake.base_url, retry=RetryPolicy.no_wait(attempts=3)) as close,
    ):
        with pytest.raises(APIConnectionError):
            await close.post("lead/", json={"name": "A"})
        assert [r.status for r in fake.requests] == ["dropped"]
        assert len(fake.objects("lead")) == 1  # it was applied: a retry would duplicate

        with pytest.raises(APIConnectionError):
            await close.post("lead/", json={"name": "B"}, idempotent=True)
        assert [r.status for r in fake.requests] == ["dropped"] * 4
        assert close.stats.retries == {"disconnected": 2}


async def test_fake_503_on_a_create_is_not_retried_but_on_a_search_is() -> None:
    faults = FakeFaults(error_rate=1.0, error_statuses=(503,))
    async with (
        FakeClose(api_keys=(KEY,), faults=faults) as fake,
        CloseClient(KEY, base_url=fake.base_url, retry=RetryPolicy.no_wait(attempts=3)) as close,
    ):
        with pytest.raises(InternalServerError):
            await close.post("lead/", json={"name": "A"})
        assert len(fake.requests) == 1
        with pytest.raises(InternalServerError):
            await close.post("data/search/", json={"query": {"type": "and", "queries": []}})
        assert [r.path for r in fake.requests[1:]] == ["/api/v1/data/search/"] * 3
        assert fake.objects("lead") == {}


async def test_a_create_to_a_closed_port_is_retried() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port now: every attempt is refused before anything is sent.
    async with CloseClient(
        KEY, base_url=f"http://127.0.0.1:{port}/api/v1/", retry=RetryPolicy.no_wait(attempts=3)
    ) as close:
        with pytest.raises(ConnectError):
            await close.post("lead/", json={"name": "A"})
        assert close.stats.requests == 3
        assert close.stats.retries == {"connect_error": 2}
