"""close.with_raw_response: the Response (status, headers, rate-limit facts, body) with the
plain result one parse() away; the raw mode never leaks into plain calls."""

from __future__ import annotations

import asyncio
import inspect
import json

import pytest

from close_async import (
    BadRequestError,
    ClientValidationError,
    CloseClient,
    NotFoundError,
    Page,
    RateLimitInfo,
    Response,
)
from close_async._resources.generated._root import RESOURCE_GROUPS
from close_async.models import Call, CallUpdate, Export, Lead
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
    # exports.wait polls exports.get: its polls must read Exports while the raw view's
    # exports.get answers raw at the same time (a raw flag reaching the polls made wait
    # read .status off a Response). wait itself is not on the raw view (many requests).
    fake.exports.delay = 0.0
    fake.seed_objects("lead", 2)
    started = await close.exports.start("lead")
    slept: list[float] = []

    async def no_sleep(seconds: float) -> None:
        slept.append(seconds)

    raw = close.with_raw_response
    done, response = await asyncio.gather(
        close.exports.wait(started.id or "", sleep=no_sleep), raw.exports.get(started.id or "")
    )
    assert isinstance(done, Export)
    assert (done.id, done.status) == (started.id, "done")
    assert isinstance(response, Response)
    assert response.parse().id == started.id
    assert (await raw.exports.get(started.id or "")).parse().status == "done"


def test_the_clients_plain_values_are_read_off_the_client_not_the_raw_view(
    close: CloseClient,
) -> None:
    # The raw view holds one-request calls only (typed): a plain value of the client is not
    # a call, so it is the client's alone (the untyped proxy used to pass it through).
    for name in ("base_url", "credentials_fingerprint", "stats", "rate_limiter"):
        assert getattr(close, name) is not None
        with pytest.raises(AttributeError):
            getattr(close.with_raw_response, name)


# --- The typed raw view (issue 28, point 3): every kind of operation, generated. ---


async def test_a_raw_typed_get_parses_to_the_model(fake: FakeClose, close: CloseClient) -> None:
    lead_id = fake.add_object("lead", name="Acme")["id"]
    response = await close.with_raw_response.leads.get(lead_id)
    assert isinstance(response, Response)
    assert (response.status_code, response.method, response.path) == (
        200,
        "GET",
        f"lead/{lead_id}/",
    )
    lead = response.parse()
    assert isinstance(lead, Lead)
    assert (lead.id, lead.name) == (lead_id, "Acme")
    assert response.json()["name"] == "Acme"


async def test_a_raw_update_sends_the_body_and_parses_the_answer(
    fake: FakeClose, close: CloseClient
) -> None:
    lead_id = fake.add_object("lead", name="Acme")["id"]
    response = await close.with_raw_response.leads.update(lead_id, {"name": "Beta"})
    assert (response.status_code, response.method) == (200, "PUT")
    assert isinstance(response.parse(), Lead)
    assert response.parse().name == "Beta"
    assert fake.objects("lead")[lead_id]["name"] == "Beta"


async def test_a_raw_delete_parses_to_none(fake: FakeClose, close: CloseClient) -> None:
    lead_id = fake.add_object("lead", name="Acme")["id"]
    response = await close.with_raw_response.leads.delete(lead_id)
    assert (response.status_code, response.method) == (200, "DELETE")
    assert response.parse() is None
    assert fake.objects("lead") == {}


async def test_a_raw_paged_list_is_its_first_pages_response(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.seed_objects("lead", 3)
    before = len(fake.requests)
    response = await close.with_raw_response.leads.list(page_size=2)
    # One request: the first page's, never a walk.
    assert len(fake.requests) == before + 1
    assert isinstance(response, Response)
    assert (response.status_code, response.method, response.path) == (200, "GET", "lead/")
    assert "_limit=2" in fake.requests[-1].query
    page = response.parse()
    assert isinstance(page, Page)
    assert page.has_more is True
    assert [type(item) for item in page.data] == [Lead, Lead]
    # The same objects the plain pager's first page holds, and the body as Close sent it.
    plain = await close.leads.list(page_size=2).first_page()
    assert [lead.id for lead in page.data] == [item["id"] for item in response.json()["data"]]
    assert [lead.id for lead in page.data] == [_id_of(item) for item in plain.data]
    assert page.next_params == plain.next_params


async def test_a_raw_paged_list_keeps_its_limit(fake: FakeClose, close: CloseClient) -> None:
    # limit= is the most items in all: the first page asks for no more, and a page that
    # reaches it is the walk's last, as on the plain pager's first page.
    fake.seed_objects("lead", 3)
    response = await close.with_raw_response.leads.list(limit=2)
    assert "_limit=2" in fake.requests[-1].query
    page = response.parse()
    plain = await close.leads.list(limit=2).first_page()
    assert (len(page.data), page.has_more, page.next_params) == (2, False, None)
    assert (len(plain.data), plain.has_more, plain.next_params) == (2, False, None)


def _id_of(item: object) -> object:
    # The plain first page holds models once pages are typed, dicts before.
    return item["id"] if isinstance(item, dict) else item.id


async def test_a_raw_nested_group(fake: FakeClose, close: CloseClient) -> None:
    (call_id,) = fake.seed_calls(1)
    response = await close.with_raw_response.activities.calls.get(call_id)
    assert isinstance(response, Response)
    assert isinstance(response.parse(), Call)
    assert response.parse().id == call_id
    # close.calls is close.activities.calls: the raw view has the same alias.
    assert (await close.with_raw_response.calls.get(call_id)).parse() == response.parse()


async def test_a_raw_generic_verb(fake: FakeClose, close: CloseClient) -> None:
    lead_id = fake.add_object("lead", name="Acme")["id"]
    response = await close.with_raw_response.request(
        "GET", "lead/{id}/", path_params={"id": lead_id}
    )
    assert isinstance(response, Response)
    assert response.parse()["name"] == "Acme"


@pytest.mark.parametrize(
    ("group", "helper"),
    [
        ("leads", "update_many"),
        ("leads", "create_many"),
        ("leads", "delete_many"),
        ("calls", "update_many"),
        ("exports", "wait"),
        ("exports", "stream"),
        ("exports", "rows"),
        ("exports", "start"),
    ],
)
def test_composite_helpers_are_not_on_the_raw_view(
    close: CloseClient, group: str, helper: str
) -> None:
    # Each sends several requests (or is a hand-written helper over an operation that is
    # there itself): none has one response to return.
    assert callable(getattr(getattr(close, group), helper))
    with pytest.raises(AttributeError):
        getattr(getattr(close.with_raw_response, group), helper)


def test_the_raw_view_offers_only_one_request_calls(close: CloseClient) -> None:
    raw = close.with_raw_response
    for name in ("paginate", "get_page", "search", "with_options", "base_url", "aclose"):
        with pytest.raises(AttributeError):
            getattr(raw, name)
    assert raw is close.with_raw_response
    assert raw.leads is raw.leads


async def test_a_raw_sliced_list_is_refused_before_sending(
    fake: FakeClose, close: CloseClient
) -> None:
    # A sliced walk fetches windows of its own: no one request answers its arguments.
    before = len(fake.requests)
    with pytest.raises(ClientValidationError) as caught:
        await close.with_raw_response.activities.calls.list(sliced=True)
    assert caught.value.field == "sliced"
    assert len(fake.requests) == before
    # Without sliced= the same list answers its first page.
    (call_id,) = fake.seed_calls(1)
    page = (await close.with_raw_response.activities.calls.list()).parse()
    assert [call.id for call in page.data] == [call_id]


def test_every_group_has_exactly_its_own_operations_on_the_raw_view(close: CloseClient) -> None:
    # Generated: every group of the client is on the raw view, with each of the group's own
    # operations (what its generated class defines) and nothing else (no mixed-in helper).
    for dotted in RESOURCE_GROUPS:
        plain: object = close
        raw: object = close.with_raw_response
        for part in dotted.split(".")[1:]:
            plain, raw = getattr(plain, part), getattr(raw, part)
        own = {
            name
            for name, value in vars(type(plain)).items()
            if inspect.isfunction(value) and not name.startswith("_")
        }
        offered = {name for name in vars(raw) if not name.startswith("_")}
        assert offered == own, dotted
