"""The client's request pipeline, with aioresponses standing in for Close."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from close_async import (
    UNSET,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientValidationError,
    CloseClient,
    ConfigurationError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
    RetryEvent,
    RetryPolicy,
    Timeout,
)
from close_async.models import CallCreate, CallUpdate
from tests.conftest import API_KEY, CALL_ID, call_payload

BASE = "https://api.close.com/api/v1/"
CALL_URL = f"{BASE}activity/call/{CALL_ID}/"


@pytest.fixture
async def client() -> AsyncIterator[CloseClient]:
    events: list[RetryEvent] = []
    async with CloseClient(API_KEY, retry=RetryPolicy.no_wait(), on_retry=events.append) as close:
        close.events = events  # type: ignore[attr-defined]
        yield close


def sent(mocked: aioresponses, method: str = "PUT", url: str = CALL_URL) -> list[Any]:
    from yarl import URL

    return mocked.requests.get((method, URL(url)), [])


async def test_update_sends_exactly_the_fields_set(
    mocked: aioresponses, client: CloseClient
) -> None:
    mocked.put(CALL_URL, payload=call_payload(note=None, outcome_id="outcome_1"))
    call = await client.calls.update(CALL_ID, CallUpdate(note=None, outcome_id="outcome_1"))
    (request,) = sent(mocked)
    assert json.loads(request.kwargs["data"]) == {"note": None, "outcome_id": "outcome_1"}
    assert call.id == CALL_ID
    assert call.outcome_id == "outcome_1"


async def test_api_key_goes_as_basic_auth_with_empty_password(
    mocked: aioresponses, client: CloseClient
) -> None:
    mocked.get(CALL_URL, payload=call_payload())
    await client.calls.get(CALL_ID)
    (request,) = sent(mocked, "GET")
    expected = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
    assert request.kwargs["headers"]["Authorization"] == expected
    assert request.kwargs["allow_redirects"] is False


async def test_oauth_token_goes_as_bearer(mocked: aioresponses) -> None:
    mocked.get(CALL_URL, payload=call_payload())
    async with CloseClient(oauth_token="tok_abc") as close:
        await close.calls.get(CALL_ID)
    (request,) = sent(mocked, "GET")
    assert request.kwargs["headers"]["Authorization"] == "Bearer tok_abc"


async def test_key_is_read_from_the_environment(
    mocked: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOSE_API_KEY", "env_key")
    mocked.get(CALL_URL, payload=call_payload())
    async with CloseClient() as close:
        await close.calls.get(CALL_ID)
    (request,) = sent(mocked, "GET")
    assert (
        request.kwargs["headers"]["Authorization"]
        == "Basic " + base64.b64encode(b"env_key:").decode()
    )


def test_no_credentials_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="CLOSE_API_KEY"):
        CloseClient()


@pytest.mark.parametrize(
    "base_url",
    ["http://api.close.com/api/v1/", "http://10.0.0.5/api/v1/", "ftp://x/", "https://u:p@x/"],
)
def test_insecure_or_odd_base_urls_are_refused(base_url: str) -> None:
    with pytest.raises(ConfigurationError):
        CloseClient(API_KEY, base_url=base_url)


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8080/api/v1/", "http://localhost/api/v1", "http://[::1]:9/"]
)
def test_plain_http_is_allowed_to_loopback(base_url: str) -> None:
    assert CloseClient(API_KEY, base_url=base_url).base_url.endswith("/")


async def test_secret_never_in_repr_or_errors(mocked: aioresponses, client: CloseClient) -> None:
    mocked.put(CALL_URL, status=401, payload={"error": "The server could not verify"})
    with pytest.raises(AuthenticationError) as info:
        await client.calls.update(CALL_ID, CallUpdate(note="x"))
    encoded = base64.b64encode(f"{API_KEY}:".encode()).decode()
    texts = [
        repr(client),
        str(client),
        str(info.value),
        repr(info.value),
        repr(client._credentials),
    ]
    for text in texts:
        assert API_KEY not in text
        assert encoded not in text
    assert info.value.status == 401
    assert info.value.method == "PUT"
    assert info.value.path == f"activity/call/{CALL_ID}/"


@pytest.mark.parametrize(
    "bad_id", ["", "acti_../x", "acti_x/..", "../lead_1", "acti_a?b", "acti_#", "lead_1"]
)
async def test_bad_call_ids_are_refused_before_sending(
    mocked: aioresponses, client: CloseClient, bad_id: str
) -> None:
    with pytest.raises(ClientValidationError) as info:
        await client.calls.update(bad_id, CallUpdate(note="x"))
    assert info.value.field == "call_id"
    assert mocked.requests == {}


async def test_server_errors_are_retried_for_put(mocked: aioresponses, client: CloseClient) -> None:
    mocked.put(CALL_URL, status=502, body="<html>Bad gateway</html>", content_type="text/html")
    mocked.put(CALL_URL, status=500, body="<html>oops</html>", content_type="text/html")
    mocked.put(CALL_URL, payload=call_payload(note="x"))
    call = await client.calls.update(CALL_ID, CallUpdate(note="x"))
    assert call.note == "x"
    assert len(sent(mocked)) == 3
    reasons = [e.reason for e in client.events]  # type: ignore[attr-defined]
    assert reasons == ["server_error", "server_error"]
    assert client.stats.retries["server_error"] == 2


async def test_server_errors_are_not_retried_for_post(
    mocked: aioresponses, client: CloseClient
) -> None:
    url = f"{BASE}activity/call/"
    mocked.post(url, status=500, body="<html>oops</html>", content_type="text/html")
    with pytest.raises(InternalServerError) as info:
        await client.calls.create(CallCreate(lead_id="lead_1", direction="outbound"))
    assert info.value.status == 500
    assert len(sent(mocked, "POST", url)) == 1


async def test_post_is_retried_when_no_connection_was_made(
    mocked: aioresponses, client: CloseClient
) -> None:
    url = f"{BASE}activity/call/"
    mocked.post(url, exception=aiohttp.ClientConnectorError(None, OSError(111, "refused")))  # type: ignore[arg-type]
    mocked.post(url, payload=call_payload())
    call = await client.calls.create(CallCreate(lead_id="lead_1"))
    assert call.id == CALL_ID


async def test_dropped_connection_is_retried_for_put_not_post(
    mocked: aioresponses, client: CloseClient
) -> None:
    mocked.put(CALL_URL, exception=aiohttp.ServerDisconnectedError())
    mocked.put(CALL_URL, payload=call_payload())
    await client.calls.update(CALL_ID, CallUpdate(note="x"))
    url = f"{BASE}activity/call/"
    mocked.post(url, exception=aiohttp.ServerDisconnectedError())
    with pytest.raises(APIConnectionError):
        await client.calls.create(CallCreate(lead_id="lead_1"))


async def test_faults_give_up_after_the_attempts(mocked: aioresponses) -> None:
    async with CloseClient(API_KEY, retry=RetryPolicy.no_wait(attempts=3)) as close:
        for _ in range(5):
            mocked.put(CALL_URL, status=503, body="down")
        with pytest.raises(InternalServerError):
            await close.calls.update(CALL_ID, CallUpdate(note="x"))
    assert len(sent(mocked)) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_never_retried(
    mocked: aioresponses, client: CloseClient, status: int
) -> None:
    mocked.put(CALL_URL, status=status, payload={"error": "no", "field-errors": {"x": "bad"}})
    mocked.put(CALL_URL, payload=call_payload())
    with pytest.raises(APIStatusError) as info:
        await client.calls.update(CALL_ID, CallUpdate(note="x"))
    assert info.value.status == status
    assert len(sent(mocked)) == 1


async def test_validation_error_carries_field_errors(
    mocked: aioresponses, client: CloseClient
) -> None:
    mocked.put(
        CALL_URL,
        status=400,
        payload={"errors": [], "field-errors": {"custom_fields": {"cf_1": "bad choice"}}},
    )
    with pytest.raises(BadRequestError) as info:
        await client.calls.update(CALL_ID, CallUpdate(custom_fields={"cf_1": "x"}))
    assert info.value.field_errors == {"custom_fields": {"cf_1": "bad choice"}}


async def test_429_is_retried_after_the_wait_close_gives(
    mocked: aioresponses, client: CloseClient
) -> None:
    mocked.put(
        CALL_URL,
        status=429,
        headers={"ratelimit": "limit=40; remaining=0; reset=0.05"},
        payload={"error": {"rate_reset": 0.05, "message": "slow down"}},
    )
    mocked.put(CALL_URL, payload=call_payload())
    await client.calls.update(CALL_ID, CallUpdate(note="x"))
    (event,) = client.events  # type: ignore[attr-defined]
    assert event.reason == "rate_limited"
    assert event.wait == pytest.approx(0.05)
    assert client.stats.rate_limited == 1


async def test_429_with_a_wait_past_the_cap_raises_with_the_wait(mocked: aioresponses) -> None:
    policy = RetryPolicy.no_wait(rate_limit_attempts=5)
    async with CloseClient(API_KEY, retry=policy) as close:
        mocked.put(CALL_URL, status=429, headers={"Retry-After": "3600"}, body="")
        with pytest.raises(RateLimitError) as info:
            await close.calls.update(CALL_ID, CallUpdate(note="x"))
    assert info.value.retry_after == pytest.approx(3600)
    assert len(sent(mocked)) == 1


async def test_404_is_not_found(mocked: aioresponses, client: CloseClient) -> None:
    mocked.get(
        CALL_URL, status=404, payload={"error": "Empty query: Call matching query does not exist."}
    )
    with pytest.raises(NotFoundError, match="does not exist"):
        await client.calls.get(CALL_ID)


async def test_deadline_bounds_the_whole_call(mocked: aioresponses) -> None:
    policy = RetryPolicy(attempts=10, wait_initial=0.2, wait_max=0.2)
    async with CloseClient(API_KEY, retry=policy, timeout=Timeout(total=0.3)) as close:
        for _ in range(10):
            mocked.put(CALL_URL, status=503, body="down")
        with pytest.raises(APITimeoutError) as info:
            await close.calls.update(CALL_ID, CallUpdate(note="x"))
    assert isinstance(info.value.last_error, InternalServerError)
    assert len(sent(mocked)) < 10


async def test_list_follows_has_more(mocked: aioresponses, client: CloseClient) -> None:
    url = re.compile(r"^https://api\.close\.com/api/v1/activity/call/\?.*$")
    mocked.get(
        url, payload={"data": [call_payload("acti_1"), call_payload("acti_2")], "has_more": True}
    )
    mocked.get(url, payload={"data": [call_payload("acti_3")], "has_more": False})
    ids = [call.id async for call in client.calls.list(lead_id="lead_1", page_size=2)]
    assert ids == ["acti_1", "acti_2", "acti_3"]
    params = [dict(r.kwargs["params"]) for reqs in mocked.requests.values() for r in reqs]
    assert [p.get("_skip") for p in params] == [None, "2"]
    assert all(p["lead_id"] == "lead_1" and p["_limit"] == "2" for p in params)


async def test_retries_are_logged_at_debug(
    mocked: aioresponses, client: CloseClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="close_async")
    mocked.put(CALL_URL, status=503, body="down")
    mocked.put(CALL_URL, payload=call_payload())
    await client.calls.update(CALL_ID, CallUpdate(note="x"))
    assert any("server_error" in r.getMessage() for r in caplog.records)
    assert all(API_KEY not in r.getMessage() for r in caplog.records)


def test_unset_is_the_default_for_update_fields() -> None:
    assert CallUpdate().note is UNSET


async def test_redirects_are_not_followed_so_credentials_stay_home(
    mocked: aioresponses, client: CloseClient
) -> None:
    mocked.get(CALL_URL, status=302, headers={"Location": "https://evil.example/steal"}, body="")
    mocked.get("https://evil.example/steal", payload=call_payload())
    with pytest.raises(APIStatusError) as info:
        await client.calls.get(CALL_ID)
    assert info.value.status == 302
    assert sent(mocked, "GET", "https://evil.example/steal") == []


async def test_tz_offset_is_sent_for_date_filters(mocked: aioresponses) -> None:
    mocked.get(CALL_URL, payload=call_payload())
    async with CloseClient(API_KEY, tz_offset=-2.5) as close:
        await close.calls.get(CALL_ID)
    (request,) = sent(mocked, "GET")
    assert request.kwargs["headers"]["X-TZ-Offset"] == "-2.5"


@pytest.mark.parametrize("bad", [30, -24, True, "5"])
def test_tz_offset_out_of_range_is_refused(bad: object) -> None:
    with pytest.raises(ConfigurationError, match="tz_offset"):
        CloseClient(API_KEY, tz_offset=bad)  # type: ignore[arg-type]
