"""close.with_raw_response: the Response (status, headers, rate-limit facts, body) with the
plain result one parse() away; the raw mode never leaks into plain calls."""

from __future__ import annotations

import asyncio
import json

import pytest

from close_async import BadRequestError, CloseClient, NotFoundError, RateLimitInfo, Response
from close_async.models import Call, CallUpdate, Export
from close_async.testing import FakeClose, FakeRateLimit
from tests.echo_server import echo_server

KEY = "test_key"


async def test_a_raw_get(fake: FakeClose, close: CloseClient) -> None:
    lead = fake.add_object("lead", name="Acme")
    response = await close.with_raw_response.get("lead/{id}/", path_params={"id": lead["id"]})
    assert isinstance(response, Response)
    assert response.status_code == 200
    assert response.method == "GET"
    assert response.path == f"lead/{lead['id']}/"
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["Content-Type"] == response.headers["CONTENT-TYPE"]
    assert response.rate_limit is None  # the fake sends no rate-limit headers here
    plain = await close.get("lead/{id}/", path_params={"id": lead["id"]})
    assert plain == lead
    assert response.parse() == plain
    assert response.json() == plain
    assert isinstance(response.content, bytes)
    assert json.loads(response.content) == plain
    assert response.text == response.content.decode()
    assert repr(response) == f"<Response [200] GET lead/{lead['id']}/>"


async def test_raw_responses_carry_the_rate_limit() -> None:
    limited = FakeClose(api_keys=(KEY,), rate_limit=FakeRateLimit(100, window=60))
    async with limited as fake, CloseClient(KEY, base_url=fake.base_url) as close:
        first = await close.with_raw_response.get("lead/")
        second = await close.with_raw_response.get("lead/")
    assert isinstance(first.rate_limit, RateLimitInfo)
    assert first.rate_limit.limit == 100
    assert first.rate_limit.remaining == 99
    assert second.rate_limit is not None
    assert second.rate_limit.remaining == 98
    assert "remaining=99" in first.headers["RateLimit"]
    assert first.parse() == {"data": [], "has_more": False}


async def test_raw_post_put_delete(fake: FakeClose, close: CloseClient) -> None:
    raw = close.with_raw_response
    created = await raw.post("lead/", json={"name": "A"})
    lead_id = created.parse()["id"]
    assert fake.objects("lead") == {lead_id: created.json()}
    patched = await raw.put("lead/{id}/", path_params={"id": lead_id}, json={"name": "B"})
    assert patched.parse()["name"] == "B"
    gone = await raw.delete(f"lead/{lead_id}/")
    assert (gone.status_code, gone.parse()) == (200, {})
    assert fake.objects("lead") == {}
    via_request = await raw.request("GET", "lead/")
    assert via_request.parse() == {"data": [], "has_more": False}


async def test_raw_calls(fake: FakeClose, close: CloseClient) -> None:
    (call_id,) = fake.seed_calls(1)
    response = await close.with_raw_response.calls.get(call_id)
    assert response.status_code == 200
    call = response.parse()
    assert isinstance(call, Call)
    assert call == await close.calls.get(call_id)
    assert response.json()["id"] == call_id
    updated = await close.with_raw_response.calls.update(call_id, CallUpdate(note="n"))
    assert updated.parse().note == "n"
    deleted = await close.with_raw_response.calls.delete(call_id)
    assert deleted.status_code == 200
    assert deleted.parse() is None


async def test_errors_are_raised_as_by_the_plain_call(fake: FakeClose, close: CloseClient) -> None:
    with pytest.raises(NotFoundError):
        await close.with_raw_response.get("lead/lead_missing/")
    with pytest.raises(NotFoundError):
        await close.with_raw_response.calls.get("acti_missing")
    with pytest.raises(BadRequestError):
        await close.with_raw_response.post("lead/", json=[1])
    # And the client is not left in raw mode by an error.
    assert await close.get("lead/") == {"data": [], "has_more": False}


async def test_a_long_get_sent_as_an_override_comes_back_raw(
    fake: FakeClose, close: CloseClient
) -> None:
    ids = fake.seed_objects("lead", 60)
    response = await close.with_raw_response.get("lead/", params={"id__in": ids, "_fields": "id"})
    assert fake.requests[-1].method_override == "GET"
    assert response.method == "POST"
    assert sorted(o["id"] for o in response.parse()["data"]) == sorted(ids)


async def test_raw_mode_does_not_leak_into_later_calls(fake: FakeClose, close: CloseClient) -> None:
    (call_id,) = fake.seed_calls(1)
    lead = fake.add_object("lead", name="A")
    assert isinstance(await close.with_raw_response.get("lead/"), Response)
    assert isinstance(await close.with_raw_response.calls.get(call_id), Response)
    assert await close.get(f"lead/{lead['id']}/") == lead
    assert isinstance(await close.calls.get(call_id), Call)


async def test_raw_mode_does_not_leak_into_concurrent_calls(
    fake: FakeClose, close: CloseClient
) -> None:
    call_ids = fake.seed_calls(10)
    raw = close.with_raw_response
    coroutines = []
    for i, call_id in enumerate(call_ids):
        if i % 2:
            coroutines.append(raw.calls.get(call_id))
            coroutines.append(raw.get("activity/call/{id}/", path_params={"id": call_id}))
        else:
            coroutines.append(close.calls.get(call_id))
            coroutines.append(close.get("activity/call/{id}/", path_params={"id": call_id}))
    results = await asyncio.gather(*coroutines)
    for i, call_id in enumerate(call_ids):
        typed, untyped = results[2 * i], results[2 * i + 1]
        if i % 2:
            assert isinstance(typed, Response)
            assert isinstance(typed.parse(), Call)
            assert isinstance(untyped, Response)
            assert untyped.parse()["id"] == call_id
        else:
            assert isinstance(typed, Call)
            assert typed.id == call_id
            assert isinstance(untyped, dict)
            assert untyped["id"] == call_id


async def test_raw_views_of_option_views_carry_the_options() -> None:
    async with echo_server() as echo, CloseClient(KEY, base_url=echo.base_url) as close:
        view = close.with_options(extra_headers={"X-Test": "a"})
        response = await view.with_raw_response.get("echo/")
        assert isinstance(response, Response)
        assert response.parse()["headers"]["x-test"] == "a"
        other = await close.with_options(extra_headers={"X-Test": "b"}).with_raw_response.post(
            "echo/", json={}
        )
        assert other.parse()["headers"]["x-test"] == "b"
        plain = await close.with_raw_response.get("echo/")
        assert "x-test" not in plain.parse()["headers"]
        assert [s.headers.get("x-test") for s in echo.seen] == ["a", "b", None]
        assert close.stats.requests == 3


async def test_raw_mode_does_not_leak_into_a_helpers_nested_calls(
    fake: FakeClose, close: CloseClient
) -> None:
    # exports.wait polls exports.get: on the raw view its polls must still read Exports
    # (a raw flag reaching them made wait read .status off a Response).
    fake.exports.delay = 0.0
    fake.seed_objects("lead", 2)
    started = await close.exports.start("lead")
    slept: list[float] = []

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    done = await close.with_raw_response.exports.wait(started.id or "", sleep=no_sleep)
    assert isinstance(done, Export)
    assert (done.id, done.status) == (started.id, "done")
    # The group's own operations still answer raw on the same view.
    response = await close.with_raw_response.exports.get(started.id or "")
    assert isinstance(response, Response)
    assert response.parse().status == "done"


async def test_the_raw_view_reads_the_clients_plain_values_as_its_groups_do(
    close: CloseClient,
) -> None:
    # One reader for the raw view and its groups: a plain value (not a group, not a call)
    # is the client's own, on the view as inside any group.
    assert close.with_raw_response.base_url == close.base_url
    assert close.with_raw_response.credentials_fingerprint == close.credentials_fingerprint
