"""close.with_options(...): views with their own headers, retries and timeout, sharing the
client's session, limiter and stats."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from close_async import (
    APITimeoutError,
    CloseClient,
    ConfigurationError,
    InternalServerError,
    RateFeedback,
    RateLimitError,
    RetryPolicy,
    Timeout,
)
from close_async._client import CloseClientView
from close_async.testing import FakeClose, FakeFaults
from tests.conftest import API_KEY, CALL_ID, call_payload
from tests.echo_server import EchoServer, echo_server

BASE = "https://api.close.com/api/v1/"
KEY = "test_key"
AUTH = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()


class RecordingLimiter:
    """Lets everything through at once; remembers which groups asked."""

    def __init__(self) -> None:
        self.acquired: list[str] = []
        self.released: list[tuple[str, int | None]] = []

    async def acquire(self, group: str) -> None:
        self.acquired.append(group)

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        self.released.append((group, feedback.status if feedback else None))

    async def aclose(self) -> None:
        pass


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    async with echo_server() as server:
        yield server


@pytest.fixture
async def close(echo: EchoServer) -> AsyncIterator[CloseClient]:
    async with CloseClient(
        API_KEY,
        base_url=echo.base_url,
        retry=RetryPolicy.no_wait(),
        rate_limiter=RecordingLimiter(),
        tz_offset=-4,
    ) as client:
        yield client


def sent(mocked: aioresponses, method: str, path: str) -> list[Any]:
    return mocked.requests.get((method, URL(BASE + path)), [])


# -- headers -------------------------------------------------------------------------------


async def test_a_views_headers_go_with_its_requests_only(
    close: CloseClient, echo: EchoServer
) -> None:
    a = close.with_options(extra_headers={"X-Test": "a"})
    b = close.with_options(extra_headers={"X-Test": "b"})
    assert (await a.get("echo/"))["headers"]["x-test"] == "a"
    assert (await b.get("echo/"))["headers"]["x-test"] == "b"
    plain = (await close.get("echo/"))["headers"]
    assert "x-test" not in plain
    assert (await a.get("echo/"))["headers"]["x-test"] == "a"
    # The view still sends the client's own headers.
    seen = (await a.post("echo/", json={"n": 1}))["headers"]
    # (The answer echoes the credential, which the client redacts: read what the server got.)
    assert seen["authorization"] == "<redacted>"
    assert echo.seen[-1].headers["authorization"] == AUTH
    assert seen["x-tz-offset"] == "-4"
    assert seen["accept"] == "application/json"


async def test_headers_stay_apart_under_concurrency(close: CloseClient, echo: EchoServer) -> None:
    a = close.with_options(extra_headers={"X-Test": "a"})
    b = close.with_options(extra_headers={"X-Test": "b"})
    senders: dict[str, Any] = {"a": a, "b": b, "none": close}
    order = ["a", "b", "none"] * 10
    echo.hold = len(order)  # every request waits until all are in flight at once
    answers = await asyncio.gather(
        *(
            senders[who].get("echo/{who}/{i}/", path_params={"who": who, "i": str(i)})
            for i, who in enumerate(order)
        )
    )
    assert echo.peak == len(order)
    for i, (who, answer) in enumerate(zip(order, answers, strict=True)):
        assert answer["path"] == f"/api/v1/echo/{who}/{i}/"
        assert answer["headers"].get("x-test") == (None if who == "none" else who)
    for i, who in enumerate(order):
        (headers,) = echo.headers_for(f"echo/{who}/{i}/")
        assert headers.get("x-test") == (None if who == "none" else who)


async def test_none_removes_a_default_header(close: CloseClient, echo: EchoServer) -> None:
    assert (await close.get("echo/"))["headers"]["x-tz-offset"] == "-4"
    view = close.with_options(extra_headers={"x-tz-offset": None})
    seen = (await view.get("echo/"))["headers"]
    assert "x-tz-offset" not in seen
    assert "x-tz-offset" not in echo.seen[-1].headers
    assert echo.seen[-1].headers["authorization"] == AUTH
    # Only the view lost it.
    assert (await close.get("echo/"))["headers"]["x-tz-offset"] == "-4"


async def test_a_header_replaces_a_default_whatever_its_case(close: CloseClient) -> None:
    view = close.with_options(extra_headers={"x-tz-offset": "2", "user-agent": "mine/1"})
    seen = (await view.get("echo/"))["headers"]
    assert seen["x-tz-offset"] == "2"
    assert seen["user-agent"] == "mine/1"


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "authorization",
        "AUTHORIZATION",
        "Host",
        "host",
        "Content-Length",
        "Transfer-Encoding",
    ],
)
def test_reserved_headers_are_refused(name: str) -> None:
    close = CloseClient(API_KEY)
    with pytest.raises(ConfigurationError):
        close.with_options(extra_headers={name: "Basic c2VjcmV0"})
    with pytest.raises(ConfigurationError):
        close.with_options(extra_headers={name: None})


@pytest.mark.parametrize("name", ["", "X Test", "X-Test:", "X-Tést", "X\r\nEvil", "(x)", 5])
def test_bad_header_names_are_refused(name: Any) -> None:
    close = CloseClient(API_KEY)
    with pytest.raises(ConfigurationError):
        close.with_options(extra_headers={name: "v"})


@pytest.mark.parametrize(
    "value",
    ["sekrit-1\r\nX-Evil: 1", "sekrit-2\n", "sekrit-3\r", "sekrit-4\x00", "sekrit-5é", b"sekrit-6"],
)
def test_bad_header_values_are_refused_without_showing_them(value: Any) -> None:
    close = CloseClient(API_KEY)
    with pytest.raises(ConfigurationError) as info:
        close.with_options(extra_headers={"X-Test": value})
    text = str(info.value) + repr(info.value)
    assert "sekrit" not in text
    assert "X-Test" in text


def test_headers_must_be_a_mapping() -> None:
    close = CloseClient(API_KEY)
    with pytest.raises(ConfigurationError):
        close.with_options(extra_headers=[("X-Test", "a")])  # type: ignore[arg-type]


# -- retries and timeout ---------------------------------------------------------------------


async def test_max_retries_zero_fails_after_one_request(mocked: aioresponses) -> None:
    async with CloseClient(API_KEY, retry=RetryPolicy.no_wait()) as close:
        view = close.with_options(max_retries=0)
        mocked.get(BASE + "lead/lead_1/", status=503, body="down")
        mocked.get(BASE + "lead/lead_1/", payload={"id": "lead_1"})
        with pytest.raises(InternalServerError):
            await view.get("lead/lead_1/")
        assert len(sent(mocked, "GET", "lead/lead_1/")) == 1
        # The client keeps its own policy.
        mocked.get(BASE + "lead/lead_2/", status=503, body="down")
        mocked.get(BASE + "lead/lead_2/", payload={"id": "lead_2"})
        assert await close.get("lead/lead_2/") == {"id": "lead_2"}
        assert len(sent(mocked, "GET", "lead/lead_2/")) == 2


async def test_max_retries_zero_fails_at_once_on_a_429(mocked: aioresponses) -> None:
    async with CloseClient(API_KEY, retry=RetryPolicy.no_wait()) as close:
        view = close.with_options(max_retries=0)
        mocked.get(
            BASE + "lead/",
            status=429,
            headers={"ratelimit": "limit=40; remaining=0; reset=0.01"},
            payload={"error": {"rate_reset": 0.01, "message": "slow down"}},
        )
        mocked.get(BASE + "lead/", payload={"data": []})
        with pytest.raises(RateLimitError):
            await view.get("lead/")
        assert len(sent(mocked, "GET", "lead/")) == 1
        assert close.stats.total_retries == 0


async def test_max_retries_two_means_three_requests_at_most(mocked: aioresponses) -> None:
    async with CloseClient(API_KEY, retry=RetryPolicy.no_wait(attempts=10)) as close:
        view = close.with_options(max_retries=2)
        for _ in range(6):
            mocked.get(BASE + "lead/", status=503, body="down")
        with pytest.raises(InternalServerError):
            await view.get("lead/")
        assert len(sent(mocked, "GET", "lead/")) == 3
        assert close.stats.retries == {"server_error": 2}


async def test_a_whole_retry_policy_can_be_given(mocked: aioresponses) -> None:
    async with CloseClient(API_KEY, retry=RetryPolicy.no_wait()) as close:
        view = close.with_options(retry=RetryPolicy.disabled())
        mocked.get(BASE + "lead/", status=503, body="down")
        with pytest.raises(InternalServerError):
            await view.get("lead/")
        assert len(sent(mocked, "GET", "lead/")) == 1
        with pytest.raises(ConfigurationError):
            close.with_options(retry=RetryPolicy(), max_retries=1)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_bad_max_retries_is_refused(bad: Any) -> None:
    with pytest.raises(ConfigurationError):
        CloseClient(API_KEY).with_options(max_retries=bad)


@pytest.mark.parametrize("bad", [0, -1.0, True, "1", float("nan")])
def test_bad_timeout_is_refused(bad: Any) -> None:
    with pytest.raises(ConfigurationError):
        CloseClient(API_KEY).with_options(timeout=bad)


@pytest.mark.parametrize("field", ["connect", "read", "attempt", "total"])
def test_a_timeout_of_nan_seconds_is_refused(field: str) -> None:
    # NaN is neither <= 0 nor > 0: it must not slip through as "no limit".
    with pytest.raises(ValueError, match=field):
        Timeout(**{field: float("nan")})


async def test_timeout_seconds_set_the_calls_deadline() -> None:
    faults = FakeFaults(slow_rate=1.0, slow_seconds=3.0)
    async with FakeClose(api_keys=(KEY,), faults=faults) as fake:
        lead = fake.add_object("lead", name="A")
        async with CloseClient(KEY, base_url=fake.base_url, timeout=Timeout(total=60)) as close:
            view = close.with_options(timeout=0.2)
            with pytest.raises(APITimeoutError):
                await view.get("lead/{id}/", path_params={"id": lead["id"]})
            # A whole Timeout works too.
            with pytest.raises(APITimeoutError):
                await close.with_options(timeout=Timeout(total=0.2)).get("lead/")


# -- what views share -------------------------------------------------------------------------


async def test_views_share_stats_and_limiter(close: CloseClient) -> None:
    limiter = close.rate_limiter
    assert isinstance(limiter, RecordingLimiter)
    view = close.with_options(extra_headers={"X-Test": "a"}, max_retries=1)
    assert view.stats is close.stats
    await view.get("echo/")
    await view.post("echo/", json={})
    await close.get("echo/")
    assert close.stats.requests == 3
    assert close.stats.responses == {200: 3}
    assert limiter.acquired == ["GET echo", "POST echo", "GET echo"]
    assert [status for _, status in limiter.released] == [200, 200, 200]


async def test_views_chain_keeping_earlier_options(mocked: aioresponses) -> None:
    async with CloseClient(API_KEY, retry=RetryPolicy.no_wait(attempts=10), tz_offset=1) as close:
        first = close.with_options(max_retries=1, extra_headers={"X-A": "1", "X-Tz-Offset": None})
        second = first.with_options(extra_headers={"X-B": "2"})
        assert isinstance(second, CloseClientView)
        for _ in range(4):
            mocked.get(BASE + "lead/", status=503, body="down")
        with pytest.raises(InternalServerError):
            await second.get("lead/")
        requests = sent(mocked, "GET", "lead/")
        assert len(requests) == 2  # max_retries=1 from the first view
        headers = requests[0].kwargs["headers"]
        assert headers["X-A"] == "1"
        assert headers["X-B"] == "2"
        assert "X-TZ-Offset" not in headers
        assert headers["Authorization"] == AUTH
        # The first view did not pick up the second's header.
        mocked.get(BASE + "lead/lead_1/", payload={})
        await first.get("lead/lead_1/")
        assert "X-B" not in sent(mocked, "GET", "lead/lead_1/")[0].kwargs["headers"]


async def test_view_calls_use_the_views_options(mocked: aioresponses) -> None:
    url = f"{BASE}activity/call/{CALL_ID}/"
    async with CloseClient(API_KEY, retry=RetryPolicy.no_wait()) as close:
        view = close.with_options(extra_headers={"X-Test": "a"}, max_retries=0)
        mocked.get(url, payload=call_payload())
        call = await view.calls.get(CALL_ID)
        assert call.id == CALL_ID
        (request,) = mocked.requests[("GET", URL(url))]
        assert request.kwargs["headers"]["X-Test"] == "a"
        mocked.get(url, status=503, body="down")
        mocked.get(url, payload=call_payload())
        with pytest.raises(InternalServerError):
            await view.calls.get(CALL_ID)
        assert len(mocked.requests[("GET", URL(url))]) == 2
        assert close.stats.requests == 2


def test_a_views_repr_shows_no_secrets() -> None:
    close = CloseClient(API_KEY, tz_offset=3)
    view = close.with_options(extra_headers={"X-Secret": "hush-hush-value"}, timeout=5.0)
    chained = view.with_options(extra_headers={"X-Other": "other-secret-value"})
    for shown in (repr(view), repr(chained), str(view), repr(view.with_raw_response)):
        assert API_KEY not in shown
        assert AUTH.split()[1] not in shown
        assert "hush-hush-value" not in shown
        assert "other-secret-value" not in shown


# -- what a refusal says ---------------------------------------------------------------------


RESERVED_HINT = (
    "cannot be set per call: credentials and framing belong to the client "
    "(make another CloseClient, sharing session=, for another key)"
)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"extra_headers": [("X-Test", "a")]},
            "extra_headers must be a mapping of header names to values",
        ),
        ({"extra_headers": {"X Test": "a"}}, "header name 'X Test' is not a valid HTTP token"),
        ({"extra_headers": {"Host": "a"}}, f"header 'Host' {RESERVED_HINT}"),
        (
            {"extra_headers": {"X-Test": "a\n"}},
            "header 'X-Test' must be printable ASCII text without line breaks, or None",
        ),
        ({"timeout": 0}, "timeout must be a Timeout or positive seconds, got 0"),
        ({"timeout": "1"}, "timeout must be a Timeout or positive seconds, got '1'"),
        ({"max_retries": -1}, "max_retries must be a whole number, 0 or more, got -1"),
        ({"max_retries": 1, "retry": RetryPolicy()}, "give max_retries or retry, not both"),
    ],
)
def test_a_refused_option_says_what_is_wrong(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CloseClient(API_KEY).with_options(**options)
    assert str(info.value) == message


def test_webhook_options_configure_the_deliveries() -> None:
    from close_async.testing._options import fake_close_from_options as build

    fake = build(webhook_duplicate_rate=0.25, webhook_jitter=0.5, webhook_max_attempts=3)
    config = fake.webhook_deliverer.config
    assert (config.duplicate_rate, config.jitter, config.max_attempts) == (0.25, 0.5, 3)


def test_a_bad_webhook_option_is_a_value_error() -> None:
    from close_async.testing._options import fake_close_from_options as build

    with pytest.raises(ValueError, match="duplicate_rate"):
        build(webhook_duplicate_rate=1.5)
