"""The fake Close server (close_async.testing), exercised over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from close_async.testing import (
    RATE_LIMIT_PRESETS,
    RATE_LIMIT_STYLES,
    FakeClose,
    FakeFaults,
    FakeRateLimit,
    fake_call_id,
    fake_close_from_options,
    key_fingerprint,
)
from close_async.testing._validation import (
    MAX_DURATION,
    UPDATE_FIELDS,
    html_from_note,
    note_from_html,
    validate_body,
)
from tests.conftest import CONNECTION_ERRORS, basic, send
from tests.conftest import FAKE_KEY as KEY

TOKEN = "oauth_token_abc"
FORBIDDEN = "forbidden_key"

# The Call object's always-present fields (Close API facts, "The Call object").
ALWAYS_PRESENT = {
    "_type",
    "id",
    "organization_id",
    "date_created",
    "date_updated",
    "activity_at",
    "lead_id",
    "contact_id",
    "created_by",
    "updated_by",
    "user_id",
    "outcome_id",
    "source",
    "status",
    "users",
}
USUAL = {
    "direction",
    "disposition",
    "duration",
    "cost",
    "note",
    "note_html",
    "phone",
    "recording_url",
    "voicemail_url",
}


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    async with FakeClose(
        api_keys=(KEY, "other_key"),
        oauth_tokens=(TOKEN,),
        forbidden_keys=(FORBIDDEN,),
        strict=True,  # unknown ids are 404, as in Close: some tests rely on it
    ) as server:
        yield server


def call_url(fake: FakeClose, call_id: str | None = None) -> str:
    return fake.base_url + "activity/call/" + (f"{call_id}/" if call_id else "")


# -- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (basic(KEY), 200),
        (basic("other_key"), 200),
        (basic(KEY, "ignored-password"), 200),
        (f"Bearer {TOKEN}", 200),
        (f"bearer {TOKEN}", 200),
        (basic("wrong_key"), 401),
        (f"Bearer {KEY}", 401),
        (basic(TOKEN), 401),
        ("Basic !!!not-base64!!!", 401),
        ("Token test_key", 401),
        ("", 401),
        (basic(FORBIDDEN), 403),
        (f"Bearer {FORBIDDEN}", 403),
    ],
)
async def test_authentication_accepts_only_configured_credentials(
    fake: FakeClose, authorization: str, status: int
) -> None:
    fake.seed_calls(1)
    async with aiohttp.ClientSession() as client:
        code, body, _ = await send(
            client, "GET", call_url(fake), headers={"Authorization": authorization}
        )
    assert code == status
    if status == 401:
        assert body["error"].startswith(
            "The server could not verify that you are authorized to access the URL requested"
        )
    elif status == 403:
        assert isinstance(body["error"], str)
    else:
        assert len(body["data"]) == 1


async def test_missing_authorization_header_is_401(fake: FakeClose) -> None:
    async with aiohttp.ClientSession() as client:
        code, body, _ = await send(client, "GET", call_url(fake))
    assert code == 401
    assert "error" in body


# -- single calls -------------------------------------------------------------------------


async def test_unknown_call_id_is_404_with_close_body(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    for method, kwargs in (("GET", {}), ("PUT", {"json": {"note": "x"}}), ("DELETE", {})):
        code, body, _ = await send(session, method, call_url(fake, "acti_missing"), **kwargs)
        assert code == 404
        assert body == {"error": "Empty query: Call matching query does not exist."}


async def test_get_returns_every_always_present_and_usual_field(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [call_id] = fake.seed_calls(1)
    code, body, response = await send(session, "GET", call_url(fake, call_id))
    assert code == 200
    assert response.content_type == "application/json"
    assert set(body) >= ALWAYS_PRESENT | USUAL
    assert body["_type"] == "Call"
    assert body["id"] == call_id
    assert isinstance(body["cost"], str)
    assert float(body["cost"]) >= 0
    for name in ("date_created", "date_updated", "activity_at"):
        assert datetime.fromisoformat(body[name]).tzinfo is not None


async def test_get_with_fields_returns_only_those(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [call_id] = fake.seed_calls(1, note="hello")
    _, body, _ = await send(session, "GET", call_url(fake, call_id), params={"_fields": "id,note"})
    assert body == {"id": call_id, "note": "hello"}


async def test_create_applies_close_defaults(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    code, body, _ = await send(
        session, "POST", call_url(fake), json={"lead_id": "lead_1", "note": "logged"}
    )
    assert code == 200
    assert set(body) >= ALWAYS_PRESENT | USUAL
    assert re.fullmatch(r"acti_[0-9A-Za-z]{43}", body["id"])
    assert body["source"] == "External"
    assert body["status"] == "completed"
    assert body["note_html"] == "<p>logged</p>"
    assert body["created_by"] == body["user_id"]
    assert fake.calls[body["id"]] == body
    assert fake.stats.created == 1


async def test_create_rejects_invalid_fields(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    code, body, _ = await send(session, "POST", call_url(fake), json={"duration": -1, "made_up": 1})
    assert code == 400
    assert set(body["field-errors"]) == {"duration", "made_up"}
    assert fake.calls == {}


async def test_delete_returns_empty_object_then_404(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [call_id] = fake.seed_calls(1)
    code, body, _ = await send(session, "DELETE", call_url(fake, call_id))
    assert (code, body) == (200, {})
    assert call_id not in fake.calls
    code, _, _ = await send(session, "GET", call_url(fake, call_id))
    assert code == 404


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("PATCH", "activity/call/acti_x/", 405),
        ("DELETE", "activity/call/", 405),
        ("GET", "activity/call", 404),
        ("GET", "activity/nothing_here/", 404),
        ("GET", "activity/call/acti_x/extra/", 404),
    ],
)
async def test_unrouted_requests_get_json_errors(
    fake: FakeClose, session: aiohttp.ClientSession, method: str, path: str, status: int
) -> None:
    code, body, _ = await send(session, method, fake.base_url + path)
    assert code == status
    assert isinstance(body["error"], str)


# -- PUT semantics ------------------------------------------------------------------------


async def test_put_leaves_absent_fields_and_clears_null_ones(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [call_id] = fake.seed_calls(1, outcome_id="outc_1", duration=30, note="keep")
    before = dict(fake.calls[call_id])
    code, body, _ = await send(session, "PUT", call_url(fake, call_id), json={"outcome_id": None})
    assert code == 200
    assert body["outcome_id"] is None
    assert body["duration"] == 30
    assert body["note"] == "keep"
    assert body["date_updated"] > before["date_updated"]
    _, created, _ = await send(session, "POST", call_url(fake), json={})
    assert body["updated_by"] == created["created_by"]  # the credential's own user
    assert fake.calls[call_id] == body
    assert fake.update_counts[call_id] == 1
    assert fake.stats.applied_updates == 1


async def test_put_is_idempotent(fake: FakeClose, session: aiohttp.ClientSession) -> None:
    [call_id] = fake.seed_calls(1)
    update = {"note": "n", "duration": 5, "custom_fields": {"cf_a": 1}}
    _, first, _ = await send(session, "PUT", call_url(fake, call_id), json=update)
    _, second, _ = await send(session, "PUT", call_url(fake, call_id), json=update)
    first.pop("date_updated")
    second.pop("date_updated")
    assert first == second
    assert fake.update_counts[call_id] == 2


@pytest.mark.parametrize(
    ("update", "note", "note_html"),
    [
        ({"note": "a < b"}, "a < b", "<p>a &lt; b</p>"),
        ({"note": "two\nlines"}, "two\nlines", "<p>two<br>lines</p>"),
        ({"note_html": "<p>Hi &amp; bye</p>"}, "Hi & bye", "<p>Hi &amp; bye</p>"),
        ({"note_html": "<p>a</p><p>b</p>"}, "a\nb", "<p>a</p><p>b</p>"),
        ({"note": "plain", "note_html": "<p>rich</p>"}, "rich", "<p>rich</p>"),
        ({"note": None}, None, None),
        ({"note_html": None}, None, None),
        ({"note": ""}, "", ""),
    ],
)
async def test_note_and_note_html_overwrite_each_other(
    fake: FakeClose,
    session: aiohttp.ClientSession,
    update: dict[str, Any],
    note: str | None,
    note_html: str | None,
) -> None:
    [call_id] = fake.seed_calls(1, note="old", note_html="<p>old</p>")
    code, body, _ = await send(session, "PUT", call_url(fake, call_id), json=update)
    assert code == 200
    assert (body["note"], body["note_html"]) == (note, note_html)


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "no-answer"), ("duration", 99), ("direction", "inbound")],
)
async def test_internal_calls_refuse_status_duration_direction_changes(
    fake: FakeClose, session: aiohttp.ClientSession, field: str, value: Any
) -> None:
    [internal] = fake.seed_calls(
        1, source="Close.io", status="completed", duration=10, direction="outbound"
    )
    [external] = fake.seed_calls(1, status="completed", duration=10, direction="outbound")
    before = dict(fake.calls[internal])
    code, body, _ = await send(session, "PUT", call_url(fake, internal), json={field: value})
    assert code == 400
    assert set(body["field-errors"]) == {field}
    assert fake.calls[internal] == before
    code, body, _ = await send(session, "PUT", call_url(fake, external), json={field: value})
    assert code == 200
    assert body[field] == value


async def test_internal_calls_accept_unchanged_values_and_other_fields(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [internal] = fake.seed_calls(1, source="Close.io", status="completed", duration=10)
    code, body, _ = await send(
        session,
        "PUT",
        call_url(fake, internal),
        json={"status": "completed", "duration": 10, "note": "fine"},
    )
    assert code == 200
    assert body["note"] == "fine"


async def test_internal_calls_refuse_recording_changes(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [internal] = fake.seed_calls(1, source="Close.io", recording_url="https://r.example/a.mp3")
    code, body, _ = await send(
        session, "PUT", call_url(fake, internal), json={"recording_url": None}
    )
    assert code == 400
    assert "recording_url" in body["field-errors"]


# -- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"duration": -1}, "duration"),
        ({"duration": MAX_DURATION + 1}, "duration"),
        ({"duration": "5"}, "duration"),
        ({"duration": 1.5}, "duration"),
        ({"duration": True}, "duration"),
        ({"phone": "6503334444"}, "phone"),
        ({"phone": "+06503334444"}, "phone"),
        ({"phone": "+1650333444455555"}, "phone"),
        ({"recording_url": "ftp://example.com/a.mp3"}, "recording_url"),
        ({"recording_url": "/relative.mp3"}, "recording_url"),
        ({"voicemail_url": "example.com/v.mp3"}, "voicemail_url"),
        ({"status": "done"}, "status"),
        ({"status": None}, "status"),
        ({"custom_fields": ["not", "an", "object"]}, "custom_fields"),
        ({"activity_at": "yesterday"}, "activity_at"),
        ({"note": 5}, "note"),
        ({"lead_id": 7}, "lead_id"),
        ({"made_up_field": 1}, "made_up_field"),
        ({"source": "External"}, "source"),
    ],
)
async def test_put_validation_gives_field_errors_and_applies_nothing(
    fake: FakeClose, session: aiohttp.ClientSession, update: dict[str, Any], field: str
) -> None:
    [call_id] = fake.seed_calls(1)
    before = dict(fake.calls[call_id])
    code, body, _ = await send(
        session,
        "PUT",
        call_url(fake, call_id),
        json={**update, "note": "ignored"} if field != "note" else update,
    )
    assert code == 400
    assert body["errors"] == []
    assert set(body["field-errors"]) == {field}
    assert isinstance(body["field-errors"][field], str)
    assert fake.calls[call_id] == before
    assert call_id not in fake.update_counts


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"5", b"null", b"{not json", b""])
async def test_put_body_must_be_a_json_object(
    fake: FakeClose, session: aiohttp.ClientSession, raw: bytes
) -> None:
    [call_id] = fake.seed_calls(1)
    code, body, _ = await send(
        session,
        "PUT",
        call_url(fake, call_id),
        data=raw,
        headers={"Content-Type": "application/json"},
    )
    assert code == 400
    assert body["errors"]
    assert body["field-errors"] == {}


@pytest.mark.parametrize(
    "update",
    [
        {"duration": 0},
        {"duration": MAX_DURATION},
        {"phone": "+16503334444"},
        {"recording_url": "https://example.com/a.mp3", "voicemail_url": "http://x.io/v"},
        {"activity_at": "2024-05-01T10:00:00Z"},
        {"custom_fields": {"cf_x": [1, 2]}},
        {"status": "in-progress", "user_id": None, "quality_info": None},
    ],
)
async def test_put_accepts_valid_edge_values(
    fake: FakeClose, session: aiohttp.ClientSession, update: dict[str, Any]
) -> None:
    [call_id] = fake.seed_calls(1)
    code, body, _ = await send(session, "PUT", call_url(fake, call_id), json=update)
    assert code == 200
    for name, value in update.items():
        if name == "activity_at":
            assert datetime.fromisoformat(body[name]) == datetime.fromisoformat(
                value.replace("Z", "+00:00")
            )
        else:
            assert body[name] == value


@given(st.integers(min_value=-(10**7), max_value=10**7))
def test_duration_accepted_exactly_within_range(duration: int) -> None:
    _, _, field_errors = validate_body({"duration": duration}, UPDATE_FIELDS)
    assert ("duration" not in field_errors) == (0 <= duration <= MAX_DURATION)


@given(st.from_regex(r"\A\+[1-9][0-9]{1,14}\Z"))
def test_e164_phones_accepted(phone: str) -> None:
    _, _, field_errors = validate_body({"phone": phone}, UPDATE_FIELDS)
    assert field_errors == {}


@given(st.text())
def test_note_survives_the_trip_through_note_html(note: str) -> None:
    assert note_from_html(html_from_note(note)) == note.strip()


# -- listing ------------------------------------------------------------------------------


async def list_calls(
    session: aiohttp.ClientSession, fake: FakeClose, **params: Any
) -> tuple[int, Any]:
    code, body, _ = await send(
        session, "GET", call_url(fake), params={k: str(v) for k, v in params.items()}
    )
    return code, body


async def test_list_pages_through_all_calls_in_order(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    ids = fake.seed_calls(7)
    seen: list[str] = []
    more = []
    for skip in (0, 3, 6):
        code, body = await list_calls(session, fake, _skip=skip, _limit=3)
        assert code == 200
        seen += [c["id"] for c in body["data"]]
        more.append(body["has_more"])
    assert seen == ids
    assert more == [True, True, False]


async def test_list_default_limit_is_100(fake: FakeClose, session: aiohttp.ClientSession) -> None:
    fake.seed_calls(101)
    _, body = await list_calls(session, fake)
    assert len(body["data"]) == 100
    assert body["has_more"] is True


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"_limit": 101}, "_limit"),
        ({"_limit": "ten"}, "_limit"),
        ({"_limit": -1}, "_limit"),
        ({"_skip": "x"}, "_skip"),
        ({"date_created__gte": "not-a-date"}, "date_created__gte"),
    ],
)
async def test_list_rejects_bad_paging(
    fake: FakeClose, session: aiohttp.ClientSession, params: dict[str, Any], field: str
) -> None:
    code, body = await list_calls(session, fake, **params)
    assert code == 400
    assert field in body["field-errors"]


async def test_list_filters_combine(fake: FakeClose, session: aiohttp.ClientSession) -> None:
    a = fake.seed_calls(3, lead_id="lead_a", user_id="user_1", contact_id="cont_1")
    b = fake.seed_calls(2, lead_id="lead_b", user_id="user_2", contact_id="cont_1")
    fake.seed_calls(2, lead_id="lead_c", user_id="user_1", contact_id="cont_2")

    async def ids(**params: Any) -> list[str]:
        code, body = await list_calls(session, fake, **params)
        assert code == 200
        return [c["id"] for c in body["data"]]

    assert await ids(lead_id="lead_a") == a
    assert await ids(lead_id="lead_a,lead_b") == a + b
    assert await ids(contact_id="cont_1", user_id="user_2") == b
    assert await ids(id__in=f"{b[1]},{a[0]},acti_missing") == [b[1], a[0]]
    assert await ids(id__in=",".join(a + b), lead_id="lead_b") == b
    assert await ids(lead_id="lead_none") == []


async def test_list_date_filters(fake: FakeClose, session: aiohttp.ClientSession) -> None:
    ids = fake.seed_calls(5)  # seeded calls are one minute apart from 2024-01-01T00:00Z
    code, body = await list_calls(
        session,
        fake,
        date_created__gte="2024-01-01T00:01:00Z",
        date_created__lt="2024-01-01T00:03:00+00:00",
    )
    assert code == 200
    assert [c["id"] for c in body["data"]] == ids[1:3]
    _, body = await list_calls(session, fake, activity_at__gt="2024-01-01T00:03:00Z")
    assert [c["id"] for c in body["data"]] == ids[4:]


async def test_list_fields_projection(fake: FakeClose, session: aiohttp.ClientSession) -> None:
    ids = fake.seed_calls(2, note="n")
    _, body = await list_calls(session, fake, _fields="id,note")
    assert body["data"] == [{"id": i, "note": "n"} for i in ids]


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=25),
    skip=st.integers(min_value=0, max_value=30),
    limit=st.integers(min_value=0, max_value=100),
)
def test_list_page_is_the_matching_slice(n: int, skip: int, limit: int) -> None:
    async def run() -> None:
        async with (
            FakeClose() as server,
            aiohttp.ClientSession(headers={"Authorization": basic(KEY)}) as client,
        ):
            ids = server.seed_calls(n)
            code, body = await list_calls(client, server, _skip=skip, _limit=limit)
            assert code == 200
            assert [c["id"] for c in body["data"]] == ids[skip : skip + limit]
            assert body["has_more"] == (n > skip + limit)

    asyncio.run(run())


# -- rate limiting ------------------------------------------------------------------------

HEADER_CHECKS = {
    "ratelimit": re.compile(r"limit=2, remaining=(\d+), reset=(\d+(\.\d+)?)"),
    "ratelimit-semicolon": re.compile(r"limit=2; remaining=(\d+); reset=(\d+(\.\d+)?)"),
}


def rate_headers(response: aiohttp.ClientResponse) -> dict[str, str]:
    names = ("ratelimit", "X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset")
    return {n: response.headers[n] for n in names if n in response.headers}


def assert_header_style(style: str, response: aiohttp.ClientResponse, remaining: int) -> None:
    headers = rate_headers(response)
    if style == "none":
        assert headers == {}
    elif style == "legacy":
        assert headers["X-Rate-Limit-Limit"] == "2"
        assert headers["X-Rate-Limit-Remaining"] == str(remaining)
        assert 0 < float(headers["X-Rate-Limit-Reset"]) <= 60
        assert set(headers) == {
            "X-Rate-Limit-Limit",
            "X-Rate-Limit-Remaining",
            "X-Rate-Limit-Reset",
        }
    else:
        match = HEADER_CHECKS[style].fullmatch(headers["ratelimit"])
        assert match is not None, headers
        assert int(match.group(1)) == remaining
        assert 0 < float(match.group(2)) <= 60


def test_rate_limit_styles_are_the_named_presets() -> None:
    assert RATE_LIMIT_STYLES == (
        "ratelimit",
        "ratelimit-semicolon",
        "legacy",
        "retry-after",
        "body",
        "body-legacy",
        "bare",
    )
    assert set(RATE_LIMIT_PRESETS) == set(RATE_LIMIT_STYLES)


@pytest.mark.parametrize("preset", RATE_LIMIT_STYLES)
async def test_each_rate_limit_style_headers_and_429(preset: str) -> None:
    header_style, style_429 = RATE_LIMIT_PRESETS[preset]
    async with FakeClose(rate_limit=FakeRateLimit(2, window=60, style=preset)) as server:
        [call_id] = server.seed_calls(1)
        async with aiohttp.ClientSession(headers={"Authorization": basic(KEY)}) as client:
            for remaining in (1, 0):
                code, _, response = await send(client, "GET", call_url(server, call_id))
                assert code == 200
                assert_header_style(header_style, response, remaining)
            code, body, response = await send(client, "GET", call_url(server, call_id))
    assert code == 429
    assert server.stats.rate_limited == 1
    if style_429 == "bare":
        assert response.content_type == "text/html"
        assert "429" in body
        assert rate_headers(response) == {}
        assert "Retry-After" not in response.headers
        return
    assert response.content_type == "application/json"
    assert_header_style(header_style, response, 0)
    if style_429 == "retry-after":
        assert body == {"error": "Too many requests"}
        assert response.headers["Retry-After"] == "60"
        return
    assert "Retry-After" not in response.headers
    details = body["error"] if style_429 == "body" else body
    assert details["message"] == "API call count exceeded for this period"
    assert details["rate_limit"] == 2
    assert details["rate_window"] == 60
    assert details["rate_limit_type"] == "key"
    if style_429 == "body":
        assert isinstance(details["rate_reset"], float)
        assert 59 < details["rate_reset"] <= 60
    else:
        assert isinstance(details["rate_reset"], str)
        assert 59 < float(details["rate_reset"]) <= 60


async def test_style_overrides_and_integer_reset() -> None:
    limit = FakeRateLimit(
        1,
        window=0.5,
        style="bare",
        header_style="ratelimit",
        style_429="retry-after",
        reset_integer=True,
    )
    async with (
        FakeClose(rate_limit=limit) as server,
        aiohttp.ClientSession(headers={"Authorization": basic(KEY)}) as client,
    ):
        _, _, ok = await send(client, "GET", call_url(server))
        code, _, refused = await send(client, "GET", call_url(server))
    assert ok.headers["ratelimit"] == "limit=1, remaining=0, reset=1"
    assert code == 429
    assert refused.headers["Retry-After"] == "1"


async def test_bare_429_has_no_rate_limit_headers_even_when_others_do() -> None:
    limit = FakeRateLimit(1, window=60, header_style="ratelimit", style_429="bare")
    async with (
        FakeClose(rate_limit=limit) as server,
        aiohttp.ClientSession(headers={"Authorization": basic(KEY)}) as client,
    ):
        _, _, ok = await send(client, "GET", call_url(server))
        code, body, refused = await send(client, "GET", call_url(server))
    assert "ratelimit" in ok.headers
    assert code == 429
    assert refused.content_type == "text/html"
    assert rate_headers(refused) == {}
    with pytest.raises(ValueError):  # noqa: PT011 - json's own error
        json.loads(body)


async def test_rate_limit_is_per_credential() -> None:
    async with (
        FakeClose(api_keys=(KEY, "other_key"), rate_limit=FakeRateLimit(1, window=60)) as server,
        aiohttp.ClientSession() as client,
    ):
        statuses = []
        for key in (KEY, KEY, "other_key", "other_key"):
            code, _, _ = await send(
                client, "GET", call_url(server), headers={"Authorization": basic(key)}
            )
            statuses.append(code)
    assert statuses == [200, 429, 200, 429]


async def test_rate_window_reopens_after_it_ends() -> None:
    async with (
        FakeClose(rate_limit=FakeRateLimit(1, window=0.05)) as server,
        aiohttp.ClientSession(headers={"Authorization": basic(KEY)}) as client,
    ):
        first, _, _ = await send(client, "GET", call_url(server))
        second, _, _ = await send(client, "GET", call_url(server))
        await asyncio.sleep(0.06)
        third, _, response = await send(client, "GET", call_url(server))
    assert (first, second, third) == (200, 429, 200)
    assert response.headers["ratelimit"].startswith("limit=1, remaining=0, reset=0.0")


async def test_rate_limit_can_be_changed_while_running(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    fake.rate_limit = FakeRateLimit(1, window=60, style="legacy")
    assert (await send(session, "GET", call_url(fake)))[0] == 200
    assert (await send(session, "GET", call_url(fake)))[0] == 429
    fake.rate_limit = None
    code, _, response = await send(session, "GET", call_url(fake))
    assert code == 200
    assert rate_headers(response) == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0},
        {"rate": 1, "window": 0},
        {"rate": 1, "style": "nope"},
        {"rate": 1, "header_style": "x"},
    ],
)
def test_bad_rate_limit_config_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - attrs validators raise plain ValueError
        FakeRateLimit(**kwargs)


# -- faults -------------------------------------------------------------------------------


async def test_error_fault_answers_html_and_applies_nothing(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [call_id] = fake.seed_calls(1, note="before")
    fake.faults = FakeFaults(error_rate=1.0)
    statuses = set()
    for _ in range(12):
        code, body, response = await send(
            session, "PUT", call_url(fake, call_id), json={"note": "after"}
        )
        statuses.add(code)
        assert response.content_type == "text/html"
        assert body.lstrip().startswith("<html>")
    assert statuses <= {500, 502, 503, 504}
    assert len(statuses) > 1
    assert fake.calls[call_id]["note"] == "before"
    assert fake.stats.injected_errors == 12
    assert fake.stats.applied_updates == 0


async def test_reset_fault_disconnects_and_applies_nothing(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [call_id] = fake.seed_calls(1, note="before")
    fake.faults = FakeFaults(reset_rate=1.0)
    with pytest.raises(aiohttp.ClientOSError, match="reset"):  # a TCP RST, not a clean close
        await send(session, "PUT", call_url(fake, call_id), json={"note": "after"})
    assert fake.calls[call_id]["note"] == "before"
    assert call_id not in fake.update_counts
    # aiohttp 3.14 resends an idempotent request once after a disconnect.
    attempts = fake.stats.requests
    assert attempts in (1, 2)
    assert fake.stats.resets == attempts
    assert [r.status for r in fake.requests] == ["reset"] * attempts


async def test_reset_fault_on_create_creates_nothing(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    fake.faults = FakeFaults(reset_rate=1.0)
    with pytest.raises(CONNECTION_ERRORS):
        await send(session, "POST", call_url(fake), json={"note": "new"})
    assert fake.calls == {}
    assert fake.stats.resets == 1  # POST is not idempotent: aiohttp does not resend it


async def test_drop_after_apply_applies_then_disconnects(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [call_id] = fake.seed_calls(1, note="before")
    fake.faults = FakeFaults(drop_after_apply_rate=1.0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await send(session, "PUT", call_url(fake, call_id), json={"note": "after"})
    assert fake.calls[call_id]["note"] == "after"
    attempts = fake.stats.requests  # aiohttp may resend the PUT once; it drops again
    assert attempts in (1, 2)
    assert fake.update_counts[call_id] == attempts
    assert fake.stats.drops == attempts
    assert [r.status for r in fake.requests] == ["dropped"] * attempts
    assert fake.stats.by_status == {"dropped": attempts}


async def test_drop_after_apply_on_create_creates_once(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    fake.faults = FakeFaults(drop_after_apply_rate=1.0)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await send(session, "POST", call_url(fake), json={"note": "new"})
    [call] = fake.calls.values()
    assert call["note"] == "new"
    assert fake.stats.drops == 1


async def test_slow_fault_delays_after_applying(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [call_id] = fake.seed_calls(1)
    fake.faults = FakeFaults(slow_rate=1.0, slow_seconds=0.2)
    task = asyncio.create_task(send(session, "PUT", call_url(fake, call_id), json={"note": "x"}))
    started = time.monotonic()
    for _ in range(1000):
        if call_id in fake.update_counts:
            break
        await asyncio.sleep(0.001)
    assert not task.done()  # applied, but not answered yet
    code, _, _ = await task
    assert code == 200
    assert time.monotonic() - started >= 0.15
    assert fake.stats.slowed == 1


async def test_latency_delays_every_response(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    fake.faults = FakeFaults(latency=0.05)
    started = time.monotonic()
    code, _, _ = await send(session, "GET", call_url(fake))
    assert code == 200
    assert time.monotonic() - started >= 0.05


async def test_faults_only_hit_chosen_methods(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [call_id] = fake.seed_calls(1)
    fake.faults = FakeFaults(error_rate=1.0, methods=("put",))
    assert (await send(session, "GET", call_url(fake, call_id)))[0] == 200
    assert (await send(session, "PUT", call_url(fake, call_id), json={}))[0] >= 500


async def test_faults_are_reproducible_from_the_seed() -> None:
    async def statuses(seed: int) -> list[int]:
        faults = FakeFaults(error_rate=0.5, seed=seed)
        async with (
            FakeClose(faults=faults) as server,
            aiohttp.ClientSession(headers={"Authorization": basic(KEY)}) as client,
        ):
            return [(await send(client, "GET", call_url(server)))[0] for _ in range(30)]

    first = await statuses(7)
    assert first == await statuses(7)
    assert first != await statuses(8)
    assert 200 in first
    assert any(code >= 500 for code in first)


async def test_admin_endpoints_are_never_faulted_or_limited(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    fake.faults = FakeFaults(error_rate=1.0, latency=0.0)
    fake.rate_limit = FakeRateLimit(1, window=60)
    for _ in range(3):
        code, _, _ = await send(session, "GET", fake.url + "_fake/stats")
        assert code == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"error_rate": 0.6, "reset_rate": 0.6},
        {"error_rate": 1.5},
        {"slow_seconds": -1},
        {"error_statuses": (404,)},
    ],
)
def test_bad_fault_config_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - attrs validators raise plain ValueError
        FakeFaults(**kwargs)


# -- recording ----------------------------------------------------------------------------


async def test_requests_are_recorded_without_credentials(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [call_id] = fake.seed_calls(1)
    await send(session, "PUT", call_url(fake, call_id), json={"note": "n"}, params={"a": "1"})
    async with aiohttp.ClientSession() as anonymous:
        await send(anonymous, "GET", call_url(fake))
    put, denied = fake.requests
    assert put.method == "PUT"
    assert put.path == f"/api/v1/activity/call/{call_id}/"
    assert put.query == "a=1"
    assert put.body == {"note": "n"}
    assert put.status == 200
    assert put.key == key_fingerprint(KEY)
    assert denied.status == 401
    assert denied.key is None
    assert put.time <= denied.time
    assert KEY not in repr(put)
    assert KEY not in repr(fake)
    assert KEY not in repr(fake._basic[KEY])
    assert fake.stats.requests == 2
    assert fake.stats.by_status == {200: 1, 401: 1}


async def test_recording_can_be_turned_off() -> None:
    async with (
        FakeClose(record_requests=False) as server,
        aiohttp.ClientSession(headers={"Authorization": basic(KEY)}) as client,
    ):
        await send(client, "GET", call_url(server))
    assert server.requests == []
    assert server.stats.requests == 1


# -- ids and seeding ----------------------------------------------------------------------


def test_fake_call_ids_are_deterministic_close_ids() -> None:
    assert fake_call_id(0) == "acti_6zzJVQqcrHLg3kLCE1oKSltxc33ujP8hP3IeDkihLu6"
    assert re.fullmatch(r"acti_[0-9A-Za-z]{43}", fake_call_id(123456))
    assert len({fake_call_id(i) for i in range(10_000)}) == 10_000
    assert FakeClose().seed_calls(3) == [fake_call_id(i) for i in range(3)]


def test_add_call_takes_fields_as_given() -> None:
    server = FakeClose()
    call = server.add_call(id="acti_custom", note_html="<p>x</p>", cost="12.5")
    assert server.calls["acti_custom"] is call
    assert (call["note"], call["cost"]) == ("x", "12.5")


# -- admin endpoints ----------------------------------------------------------------------


async def test_admin_endpoints_report_and_seed(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    async with aiohttp.ClientSession() as admin:  # no credentials on purpose
        code, body, _ = await send(admin, "POST", fake.url + "_fake/seed?n=3")
        assert code == 200
        assert body["ids"] == [fake_call_id(i) for i in range(3)]
        ids = body["ids"]
        await send(session, "PUT", call_url(fake, ids[1]), json={"note": "done"})
        await send(session, "PUT", call_url(fake, ids[1]), json={"outcome_id": "outc_1"})

        _, stats, _ = await send(admin, "GET", fake.url + "_fake/stats")
        assert stats["calls"] == 3
        assert stats["applied_updates"] == 2
        assert stats["by_status"] == {"200": 2}

        _, summary, _ = await send(admin, "GET", fake.url + "_fake/calls")
        assert summary["count"] == 3
        assert summary["calls"][ids[1]] == {
            "note": "done",
            "outcome_id": "outc_1",
            "status": "completed",
            "updates": 2,
        }
        assert summary["calls"][ids[0]]["updates"] == 0

        _, full, _ = await send(admin, "GET", fake.url + f"_fake/calls?full=1&id__in={ids[2]}")
        assert full["calls"] == [fake.calls[ids[2]]]

        _, recorded, _ = await send(admin, "GET", fake.url + "_fake/requests?last=1")
        assert recorded["requests"][0]["body"] == {"outcome_id": "outc_1"}

        code, _, _ = await send(admin, "POST", fake.url + "_fake/reset")
        assert code == 200
        assert fake.stats.requests == 0
        assert fake.requests == []
        assert len(fake.calls) == 3


async def test_admin_seed_with_fields_body(fake: FakeClose) -> None:
    async with aiohttp.ClientSession() as admin:
        code, body, _ = await send(
            admin, "POST", fake.url + "_fake/seed?n=2", json={"lead_id": "lead_x"}
        )
        bad, _, _ = await send(admin, "POST", fake.url + "_fake/seed?n=two")
    assert code == 200
    assert [fake.calls[i]["lead_id"] for i in body["ids"]] == ["lead_x", "lead_x"]
    assert bad == 400


# -- standalone process -------------------------------------------------------------------


def test_options_build_the_configured_server() -> None:
    server = fake_close_from_options(
        rate=5, style="legacy", error_rate=0.1, seed=3, fault_methods=["put"], api_keys=["k"]
    )
    assert server.rate_limit == FakeRateLimit(5, style="legacy")
    assert server.faults == FakeFaults(error_rate=0.1, seed=3, methods=("PUT",))
    assert fake_close_from_options().faults is None
    assert fake_close_from_options().rate_limit is None
    with pytest.raises(TypeError):
        fake_close_from_options(no_such_option=1)  # type: ignore[call-arg]


async def test_module_entry_serves_and_prints_the_base_url() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "close_async.testing",
        "--port",
        "0",
        "--rate",
        "3",
        "--style",
        "legacy",
        "--seed-calls",
        "5",
        "--api-key",
        "cli_key",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        base_url = line.decode().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1/", base_url)
        async with aiohttp.ClientSession(headers={"Authorization": basic("cli_key")}) as client:
            code, body, response = await send(client, "GET", base_url + "activity/call/")
            assert code == 200
            assert [c["id"] for c in body["data"]] == [fake_call_id(i) for i in range(5)]
            assert response.headers["X-Rate-Limit-Limit"] == "3"
            root = base_url.removesuffix("api/v1/")
            _, stats, _ = await send(client, "GET", root + "_fake/stats")
            assert stats["calls"] == 5
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()


async def test_module_entry_rejects_bad_options() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "close_async.testing",
        "--error-rate",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    assert stdout == b""
    assert b"error_rate" in stderr


# -- load ---------------------------------------------------------------------------------


async def test_concurrent_updates_all_apply(fake: FakeClose) -> None:
    ids = fake.seed_calls(50)
    async with aiohttp.ClientSession(headers={"Authorization": basic(KEY)}) as client:
        results = await asyncio.gather(
            *(
                send(client, "PUT", call_url(fake, call_id), json={"note": f"n{n}"})
                for n, call_id in enumerate(ids * 4)
            )
        )
    assert {code for code, _, _ in results} == {200}
    assert fake.stats.applied_updates == 200
    assert all(fake.update_counts[call_id] == 4 for call_id in ids)


@pytest.mark.parametrize("style_429", ["body", "body-legacy"])
async def test_integer_reset_rounds_retry_after_up_as_close_does(style_429: str) -> None:
    limit = FakeRateLimit(1, window=0.5, style_429=style_429, reset_integer=True)  # type: ignore[arg-type]
    async with (
        FakeClose(rate_limit=limit) as server,
        aiohttp.ClientSession(headers={"Authorization": basic(KEY)}) as client,
    ):
        await send(client, "GET", call_url(server))
        code, body, refused = await send(client, "GET", call_url(server))
    assert code == 429
    # Half a second left in the window: both the header's reset and Retry-After say 1.
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["ratelimit"] == "limit=1, remaining=0, reset=1"
    details = body["error"] if style_429 == "body" else body
    assert 0 < float(details["rate_reset"]) <= 0.5


async def test_decimal_reset_sends_no_retry_after_with_a_body() -> None:
    limit = FakeRateLimit(1, window=0.5)
    async with (
        FakeClose(rate_limit=limit) as server,
        aiohttp.ClientSession(headers={"Authorization": basic(KEY)}) as client,
    ):
        await send(client, "GET", call_url(server))
        code, _, refused = await send(client, "GET", call_url(server))
    assert code == 429
    assert "Retry-After" not in refused.headers
