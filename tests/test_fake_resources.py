"""The fake Close beyond calls: leads, contacts, opportunities, tasks, the event log,
Advanced Filtering and method override, over real loopback HTTP."""

from __future__ import annotations

import argparse
import asyncio
import base64
import re
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from close_async.testing import (
    FakeClose,
    FakeFaults,
    FakeRateLimit,
    add_fake_server_arguments,
    fake_close_from_options,
    fake_id,
    key_fingerprint,
    options_from_namespace,
)
from close_async.testing._objects import KINDS as FAKE_KINDS
from close_async.testing._world import LEAD_STATUSES
from tests.conftest import CONNECTION_ERRORS, basic, send
from tests.conftest import FAKE_KEY as KEY

USER_ID = fake_id("user", "key:" + key_fingerprint(KEY))
KINDS = {"lead": "lead", "contact": "cont", "opportunity": "oppo", "task": "task"}
LABELS = {"lead": "Lead", "contact": "Contact", "opportunity": "Opportunity", "task": "Task"}
MAX_LIMITS = {"lead": 200, "contact": 100, "opportunity": 100, "task": 100}
EVENT_KEYS = {
    "id",
    "object_type",
    "object_id",
    "action",
    "lead_id",
    "data",
    "previous_data",
    "changed_fields",
    "date_created",
    "date_updated",
    "organization_id",
    "user_id",
    "request_id",
    "meta",
}
LEADS = {"type": "object_type", "object_type": "lead"}


def url(fake: FakeClose, path: str) -> str:
    return fake.base_url + path


async def get_json(
    session: aiohttp.ClientSession, fake: FakeClose, path: str, **params: Any
) -> tuple[int, Any]:
    code, body, _ = await send(
        session, "GET", url(fake, path), params={k: str(v) for k, v in params.items()}
    )
    return code, body


async def search(session: aiohttp.ClientSession, fake: FakeClose, **body: Any) -> tuple[int, Any]:
    code, answer, _ = await send(session, "POST", url(fake, "data/search/"), json=body)
    return code, answer


# -- CRUD ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
async def test_crud_round_trip(fake: FakeClose, session: aiohttp.ClientSession, kind: str) -> None:
    sent = {"lead_id": "lead_parent", "status": "open", "custom.cf_size": "large", "n": 3}
    if kind == "task":
        sent["text"] = "Call back"  # TaskCreate requires it
    code, created, _ = await send(session, "POST", url(fake, f"{kind}/"), json=sent)
    assert code == 200
    assert re.fullmatch(rf"{KINDS[kind]}_[0-9A-Za-z]{{43}}", created["id"])
    assert created["organization_id"].startswith("orga_")
    assert created["created_by"] == created["updated_by"] == USER_ID
    assert created["date_created"] == created["date_updated"]
    assert datetime.fromisoformat(created["date_created"]).tzinfo is not None
    for name, value in sent.items():
        assert created[name] == value
    object_id = created["id"]
    path = f"{kind}/{object_id}/"

    code, got = await get_json(session, fake, path)
    assert (code, got) == (200, created)
    assert fake.objects(kind) == {object_id: created}

    code, updated, _ = await send(
        session, "PUT", url(fake, path), json={"status": "won", "custom.cf_size": None}
    )
    assert code == 200
    assert updated["status"] == "won"
    assert updated["custom.cf_size"] is None  # null clears, the key stays
    assert updated["lead_id"] == "lead_parent"  # not sent: unchanged
    assert updated["n"] == 3
    assert updated["date_created"] == created["date_created"]
    assert updated["date_updated"] > created["date_updated"]
    code, got = await get_json(session, fake, path)
    assert got == updated

    code, body, _ = await send(session, "DELETE", url(fake, path))
    assert (code, body) == (200, {})
    assert fake.objects(kind) == {}
    missing = {"error": f"Empty query: {LABELS[kind]} matching query does not exist."}
    for method, kwargs in (("GET", {}), ("PUT", {"json": {"a": 1}}), ("DELETE", {})):
        code, body, _ = await send(session, method, url(fake, path), **kwargs)
        assert (code, body) == (404, missing)


async def test_lead_display_name_follows_name(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    _, lead, _ = await send(session, "POST", url(fake, "lead/"), json={"name": "Acme"})
    assert lead["display_name"] == "Acme"
    _, lead, _ = await send(
        session, "PUT", url(fake, f"lead/{lead['id']}/"), json={"name": "Acme Corp"}
    )
    assert lead["display_name"] == "Acme Corp"
    _, lead, _ = await send(session, "PUT", url(fake, f"lead/{lead['id']}/"), json={"x": 1})
    assert lead["display_name"] == "Acme Corp"


async def test_server_managed_fields_in_a_body_are_ignored(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    _, lead, _ = await send(
        session,
        "POST",
        url(fake, "lead/"),
        json={"id": "lead_mine", "organization_id": "orga_x", "created_by": "user_x"},
    )
    assert lead["id"] != "lead_mine"
    assert lead["organization_id"] != "orga_x"
    assert lead["created_by"] == USER_ID
    _, patched, _ = await send(
        session, "PUT", url(fake, f"lead/{lead['id']}/"), json={"id": "lead_other"}
    )
    assert patched["id"] == lead["id"]
    assert list(fake.objects("lead")) == [lead["id"]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[1, 2]", "The request body must be a JSON object."),
        (b'"lead"', "The request body must be a JSON object."),
        (b"{not json", "The request body is not valid JSON."),
    ],
)
async def test_create_and_update_refuse_a_body_that_is_not_an_object(
    fake: FakeClose, session: aiohttp.ClientSession, data: bytes, message: str
) -> None:
    [lead_id] = fake.seed_objects("lead", 1)
    before = fake.objects("lead")
    headers = {"Content-Type": "application/json"}
    for method, path in (("POST", "lead/"), ("PUT", f"lead/{lead_id}/")):
        code, body, _ = await send(session, method, url(fake, path), data=data, headers=headers)
        assert code == 400
        assert body == {"errors": [message], "field-errors": {}}
    assert fake.objects("lead") == before
    assert fake.events == []


async def test_unrouted_methods_answer_405_with_allow(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    for method, path, allow in (
        ("DELETE", "lead/", "GET, POST"),
        ("POST", "task/task_x/", "GET, PUT, DELETE"),
        ("PUT", "event/", "GET"),
        ("GET", "data/search/", "POST"),
    ):
        code, body, response = await send(session, method, url(fake, path))
        assert code == 405, path
        assert response.headers["Allow"] == allow
        assert body == {"error": "Method not allowed."}
    for path in ("lead", "lead/a/b/", "leads/", "data/", "event/a/b/"):
        code, _, _ = await send(session, "GET", url(fake, path))
        assert code == 404, path


async def test_get_and_list_with_fields(fake: FakeClose, session: aiohttp.ClientSession) -> None:
    ids = fake.seed_objects("contact", 2, lead_id="lead_1", title="CEO")
    code, body = await get_json(session, fake, f"contact/{ids[0]}/", _fields="id,title,nope")
    assert (code, body) == (200, {"id": ids[0], "title": "CEO"})
    code, body = await get_json(session, fake, "contact/", _fields="id,lead_id")
    assert body == {
        "data": [{"id": i, "lead_id": "lead_1"} for i in ids],
        "has_more": False,
    }


# -- patch semantics against a dict model ---------------------------------------------------

# Bodies Close takes (LeadUpdate's types): names and descriptions are text or null, a status
# is a label, a custom field takes anything. A refused patch puts a number or a boolean in
# a text field: Close's 400, and nothing changes.
_ANY = st.none() | st.text(max_size=4) | st.integers(-3, 3) | st.booleans()
_FIELDS = st.one_of(
    st.tuples(st.sampled_from(["name", "description"]), st.none() | st.text(max_size=4)),
    st.tuples(st.just("status"), st.text(max_size=4)),
    st.tuples(st.sampled_from(["custom.cf_a", "custom.cf_b"]), _ANY),
)
_BODIES = st.lists(_FIELDS, max_size=4).map(dict)
_REFUSED = st.dictionaries(
    st.sampled_from(["name", "description", "status"]),
    st.integers(-3, 3) | st.booleans(),
    min_size=1,
    max_size=2,
)
_PATCHES = st.lists(
    _BODIES.map(lambda body: (body, True)) | _REFUSED.map(lambda body: (body, False)),
    min_size=1,
    max_size=5,
)
_MANAGED = {"id", "organization_id", "date_created", "date_updated", "created_by", "updated_by"}


@settings(max_examples=25, deadline=None)
@given(initial=_BODIES, patches=_PATCHES)
def test_put_is_a_patch(
    initial: dict[str, Any], patches: list[tuple[dict[str, Any], bool]]
) -> None:
    async def run() -> None:
        async with (
            FakeClose() as server,
            aiohttp.ClientSession(headers={"Authorization": basic(KEY)}) as client,
        ):
            _, lead, _ = await send(client, "POST", url(server, "lead/"), json=initial)
            # A new lead starts from its schema's required fields and the organization's
            # first lead status, then what was sent.
            first_status, first_label = LEAD_STATUSES[0]
            model = {
                **FAKE_KINDS["lead"].initial(),
                "status_id": first_status,
                "status_label": first_label,
                **initial,
            }
            for patch, accepted in patches:
                before_model = dict(model)
                before_display = lead.get("display_name")
                if not accepted:
                    events = len(server.events)
                    code, refusal, _ = await send(
                        client, "PUT", url(server, f"lead/{lead['id']}/"), json=patch
                    )
                    assert code == 400
                    assert set(refusal["field-errors"]) == set(patch)
                    stored = server.objects("lead")[lead["id"]]
                    assert {k: v for k, v in stored.items() if k in model} == model
                    assert len(server.events) == events
                    continue
                code, lead, _ = await send(
                    client, "PUT", url(server, f"lead/{lead['id']}/"), json=patch
                )
                assert code == 200
                model.update(patch)
                shown = {k: v for k, v in lead.items() if k not in _MANAGED and k != "display_name"}
                assert shown == model
                if "name" in model:
                    assert lead["display_name"] == (model["name"] or "")
                event = server.events[-1]
                changed = {
                    k for k, v in patch.items() if k not in before_model or before_model[k] != v
                }
                changed.add("date_updated")
                if lead.get("display_name") != before_display:
                    changed.add("display_name")
                assert event["action"] == "updated"
                assert set(event["changed_fields"]) == changed
                assert event["data"] == lead
                for name in changed - {"date_updated", "display_name"}:
                    assert event["previous_data"][name] == before_model.get(name)

    asyncio.run(run())


# -- lists ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "pages"), [(6, [3, 3]), (7, [3, 3, 1]), (0, [0])])
async def test_list_pages_to_the_end(
    fake: FakeClose, session: aiohttp.ClientSession, n: int, pages: list[int]
) -> None:
    ids = fake.seed_objects("opportunity", n, lead_id="lead_1")
    seen: list[str] = []
    for number, size in enumerate(pages):
        code, body = await get_json(session, fake, "opportunity/", _skip=len(seen), _limit=3)
        assert code == 200
        assert len(body["data"]) == size
        assert body["has_more"] is (number < len(pages) - 1)
        seen += [o["id"] for o in body["data"]]
    assert seen == ids  # creation order, nothing twice, nothing lost


async def test_list_default_limit_is_100(fake: FakeClose, session: aiohttp.ClientSession) -> None:
    ids = fake.seed_objects("task", 101)
    _, body = await get_json(session, fake, "task/")
    assert [t["id"] for t in body["data"]] == ids[:100]
    assert body["has_more"] is True


@pytest.mark.parametrize("kind", list(KINDS))
async def test_list_limit_over_the_maximum_is_400(
    fake: FakeClose, session: aiohttp.ClientSession, kind: str
) -> None:
    top = MAX_LIMITS[kind]
    code, _ = await get_json(session, fake, f"{kind}/", _limit=top)
    assert code == 200
    code, body = await get_json(session, fake, f"{kind}/", _limit=top + 1)
    assert code == 400
    assert set(body) == {"errors", "field-errors"}
    assert "_limit" in body["field-errors"]


@pytest.mark.parametrize(
    ("param", "value"),
    [("_limit", "-1"), ("_limit", "ten"), ("_skip", "-5"), ("_skip", "1.5")],
)
async def test_list_bad_numbers_are_400(
    fake: FakeClose, session: aiohttp.ClientSession, param: str, value: str
) -> None:
    code, body = await get_json(session, fake, "lead/", **{param: value})
    assert code == 400
    assert list(body["field-errors"]) == [param]


async def test_list_filters_by_equality_and_id_in(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    a = fake.seed_objects("task", 3, lead_id="lead_a", status="open")
    b = fake.seed_objects("task", 2, lead_id="lead_b", status="done", **{"custom.cf_p": "x"})
    c = fake.seed_objects("task", 1, lead_id="lead_a", status="done")

    async def ids(**params: Any) -> list[str]:
        code, body = await get_json(session, fake, "task/", **params)
        assert code == 200
        return [t["id"] for t in body["data"]]

    assert await ids(lead_id="lead_a") == a + c
    assert await ids(status="done") == b + c
    assert await ids(lead_id="lead_a", status="done") == c
    assert await ids(**{"custom.cf_p": "x"}) == b
    assert await ids(id__in=f"{c[0]},{a[1]},task_unknown") == [a[1], c[0]]
    assert await ids(lead_id__in="lead_b,lead_z") == b
    assert await ids(is_complete="false") == a + b + c  # booleans compare as true/false
    assert await ids(lead_id="lead_none") == []


async def test_max_skip_caps_deep_paging() -> None:
    async with (
        FakeClose(max_skip=4) as fake,
        aiohttp.ClientSession(headers={"Authorization": basic(KEY)}) as session,
    ):
        fake.seed_objects("lead", 6)
        fake.seed_calls(6)
        for path in ("lead/", "activity/call/"):
            code, body = await get_json(session, fake, path, _skip=4, _limit=1)
            assert code == 200
            assert body["has_more"] is True
            code, body = await get_json(session, fake, path, _skip=5, _limit=1)
            assert code == 400
            assert body["field-errors"] == {"_skip": "Must be less than or equal to 4."}
        fake.max_skip = None
        code, _ = await get_json(session, fake, "lead/", _skip=5)
        assert code == 200


# -- the event log --------------------------------------------------------------------------


async def test_every_change_appends_an_event(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    _, lead, _ = await send(session, "POST", url(fake, "lead/"), json={"name": "Acme"})
    _, contact, _ = await send(
        session, "POST", url(fake, "contact/"), json={"lead_id": lead["id"], "name": "Bo"}
    )
    _, contact2, _ = await send(
        session, "PUT", url(fake, f"contact/{contact['id']}/"), json={"title": "CTO"}
    )
    _, call, _ = await send(
        session, "POST", url(fake, "activity/call/"), json={"lead_id": lead["id"], "note": "a"}
    )
    _, call2, _ = await send(
        session, "PUT", url(fake, f"activity/call/{call['id']}/"), json={"note": "b"}
    )
    await send(session, "DELETE", url(fake, f"activity/call/{call['id']}/"))
    await send(session, "DELETE", url(fake, f"contact/{contact['id']}/"))
    # Reads, refusals and 404s change nothing, so they log nothing.
    await send(session, "GET", url(fake, f"lead/{lead['id']}/"))
    await send(session, "PUT", url(fake, "lead/lead_missing/"), json={"a": 1})
    await send(session, "POST", url(fake, "activity/call/"), json={"duration": -1})

    events = fake.events
    assert [(e["object_type"], e["action"], e["object_id"]) for e in events] == [
        ("lead", "created", lead["id"]),
        ("contact", "created", contact["id"]),
        ("contact", "updated", contact["id"]),
        ("activity.call", "created", call["id"]),
        ("activity.call", "updated", call["id"]),
        ("activity.call", "deleted", call["id"]),
        ("contact", "deleted", contact["id"]),
    ]
    for event in events:
        assert set(event) >= EVENT_KEYS
        assert re.fullmatch(r"ev_[0-9A-Za-z]{43}", event["id"])
        assert event["lead_id"] == lead["id"]
        assert event["user_id"] == USER_ID
        assert event["organization_id"] == lead["organization_id"]
        assert event["request_id"].startswith("req_")
        assert datetime.fromisoformat(event["date_created"]).tzinfo is not None
    assert len({e["request_id"] for e in events}) == len(events)  # one request each
    assert len({e["id"] for e in events}) == len(events)
    created, _, updated, _, call_updated, call_deleted, deleted = events
    assert created["data"] == lead
    assert created["previous_data"] == {}
    assert created["changed_fields"] == []
    assert created["meta"] == {"request_method": "POST", "request_path": "/api/v1/lead/"}
    assert updated["data"] == contact2
    assert updated["previous_data"] == {"title": None, "date_updated": contact["date_updated"]}
    assert set(updated["changed_fields"]) == {"title", "date_updated"}
    assert call_updated["data"] == call2
    assert {"note", "note_html", "date_updated"} <= set(call_updated["changed_fields"])
    assert call_updated["previous_data"]["note"] == "a"
    assert call_deleted["data"] is None
    assert call_deleted["previous_data"]["note"] == "b"
    assert deleted["data"] is None
    assert deleted["previous_data"] == contact2
    assert deleted["meta"]["request_method"] == "DELETE"


async def test_event_list_pages_by_cursor_newest_first(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    for i in range(7):
        await send(session, "POST", url(fake, "lead/"), json={"name": f"L{i}"})
    expected = [e["id"] for e in reversed(fake.events)]
    seen: list[str] = []
    sizes: list[int] = []
    params: dict[str, Any] = {"_limit": 3}
    while True:
        code, body = await get_json(session, fake, "event/", **params)
        assert code == 200
        assert set(body) == {"data", "cursor_next"}
        sizes.append(len(body["data"]))
        seen += [e["id"] for e in body["data"]]
        if body["cursor_next"] is None:
            break
        assert isinstance(body["cursor_next"], str)
        params["_cursor"] = body["cursor_next"]
    assert sizes == [3, 3, 1]
    assert seen == expected


async def test_event_list_exact_multiple_ends_with_a_null_cursor(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    [lead_id] = fake.seed_objects("lead", 1)  # seeding logs no event
    for i in range(4):
        await send(session, "POST", url(fake, "task/"), json={"lead_id": lead_id, "text": f"t{i}"})
    _, first = await get_json(session, fake, "event/", _limit=2)
    _, second = await get_json(session, fake, "event/", _limit=2, _cursor=first["cursor_next"])
    assert len(second["data"]) == 2
    assert second["cursor_next"] is None
    _, everything = await get_json(session, fake, "event/")
    assert len(everything["data"]) == 4
    assert everything["cursor_next"] is None


async def test_a_cursor_stays_valid_when_events_are_appended(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    for i in range(5):
        await send(session, "POST", url(fake, "lead/"), json={"name": f"old{i}"})
    old = [e["id"] for e in reversed(fake.events)]
    _, first = await get_json(session, fake, "event/", _limit=2)
    assert [e["id"] for e in first["data"]] == old[:2]
    for i in range(3):  # newer events arrive while a client is paging
        await send(session, "POST", url(fake, "lead/"), json={"name": f"new{i}"})
    _, second = await get_json(session, fake, "event/", _limit=2, _cursor=first["cursor_next"])
    assert [e["id"] for e in second["data"]] == old[2:4]
    _, third = await get_json(session, fake, "event/", _limit=2, _cursor=second["cursor_next"])
    assert [e["id"] for e in third["data"]] == old[4:]
    assert third["cursor_next"] is None


async def test_event_list_filters(fake: FakeClose, session: aiohttp.ClientSession) -> None:
    _, lead_a, _ = await send(session, "POST", url(fake, "lead/"), json={"name": "A"})
    _, lead_b, _ = await send(session, "POST", url(fake, "lead/"), json={"name": "B"})
    _, opp, _ = await send(
        session, "POST", url(fake, "opportunity/"), json={"lead_id": lead_a["id"]}
    )
    await send(session, "PUT", url(fake, f"opportunity/{opp['id']}/"), json={"value": 5})
    await send(session, "DELETE", url(fake, f"lead/{lead_b['id']}/"))

    async def seen(**params: Any) -> list[tuple[str, str]]:
        code, body = await get_json(session, fake, "event/", **params)
        assert code == 200
        return [(e["object_id"], e["action"]) for e in body["data"]]

    assert await seen(object_type="opportunity") == [
        (opp["id"], "updated"),
        (opp["id"], "created"),
    ]
    assert await seen(action="deleted") == [(lead_b["id"], "deleted")]
    assert await seen(lead_id=lead_a["id"]) == [
        (opp["id"], "updated"),
        (opp["id"], "created"),
        (lead_a["id"], "created"),
    ]
    assert await seen(object_id=lead_b["id"], action="created") == [(lead_b["id"], "created")]
    # A filtered page still pages by cursor.
    _, body = await get_json(session, fake, "event/", lead_id=lead_a["id"], _limit=2)
    _, rest = await get_json(
        session, fake, "event/", lead_id=lead_a["id"], _limit=2, _cursor=body["cursor_next"]
    )
    assert [e["object_id"] for e in rest["data"]] == [lead_a["id"]]
    assert rest["cursor_next"] is None


async def test_event_limit_and_cursor_errors(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    fake_events = 3
    for i in range(fake_events):
        await send(session, "POST", url(fake, "lead/"), json={"name": f"L{i}"})
    code, body = await get_json(session, fake, "event/", _limit=50)
    assert code == 200
    code, body = await get_json(session, fake, "event/", _limit=51)
    assert code == 400
    assert "_limit" in body["field-errors"]
    forged = base64.urlsafe_b64encode(b"1:ev_notthere").decode()
    for cursor in ("garbage!", "bm90LWEtY3Vyc29y", forged):
        code, body = await get_json(session, fake, "event/", _cursor=cursor)
        assert code == 400, cursor
        assert "_cursor" in body["field-errors"]
    code, body = await get_json(session, fake, "event/", _skip=1)
    assert code == 400
    assert "_skip" in body["field-errors"]


async def test_lenient_event_log_ignores_skip(session: aiohttp.ClientSession) -> None:
    async with FakeClose(strict=False) as fake:
        await send(session, "POST", url(fake, "lead/"), json={"name": "A"})
        code, body = await get_json(session, fake, "event/", _skip=1)
        assert code == 200
        assert len(body["data"]) == 1


async def test_event_get_one(fake: FakeClose, session: aiohttp.ClientSession) -> None:
    await send(session, "POST", url(fake, "lead/"), json={"name": "A"})
    [event] = fake.events
    code, body = await get_json(session, fake, f"event/{event['id']}/")
    assert (code, body) == (200, event)
    code, body = await get_json(session, fake, "event/ev_missing/")
    assert code == 404
    assert body == {"error": "Empty query: Event matching query does not exist."}


# -- Advanced Filtering -----------------------------------------------------------------------


async def test_search_by_object_type_and_field_conditions(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    acme = fake.add_object("lead", name="Acme Rockets", **{"custom.cf_tier": "gold"})["id"]
    beta = fake.add_object("lead", name="Beta", **{"custom.cf_tier": "silver"})["id"]
    contact = fake.add_object("contact", lead_id=acme, name="Acme Person")["id"]

    async def found(query: dict[str, Any], **extra: Any) -> list[tuple[str, str]]:
        code, body = await search(session, fake, query=query, **extra)
        assert code == 200, body
        return [(o["__object_type"], o["id"]) for o in body["data"]]

    def name_is(value: str, mode: str = "exact_value") -> dict[str, Any]:
        return {
            "type": "field_condition",
            "field": {"type": "regular_field", "object_type": "lead", "field_name": "name"},
            "condition": {"type": "text", "mode": mode, "value": value},
        }

    assert await found(LEADS) == [("lead", acme), ("lead", beta)]
    contacts = {"type": "object_type", "object_type": "contact"}
    assert await found(contacts) == [("contact", contact)]
    assert await found({"type": "and", "queries": [LEADS, name_is("acme rockets")]}) == [
        ("lead", acme)
    ]
    assert await found({"type": "and", "queries": [LEADS, name_is("Acme")]}) == []
    assert await found({"type": "and", "queries": [LEADS, name_is("rockets", "full_words")]}) == [
        ("lead", acme)
    ]
    gold = {
        "type": "field_condition",
        "field": {"type": "custom_field", "custom_field_id": "cf_tier"},
        "condition": {"type": "text", "mode": "exact_value", "value": "silver"},
    }
    assert await found({"type": "and", "queries": [LEADS, gold]}) == [("lead", beta)]
    either = {"type": "or", "queries": [name_is("Beta"), name_is("Acme Rockets")]}
    assert await found({"type": "and", "queries": [LEADS, either]}) == [
        ("lead", acme),
        ("lead", beta),
    ]
    assert await found({"type": "or", "queries": [LEADS, contacts]}) == [
        ("lead", acme),
        ("lead", beta),
        ("contact", contact),
    ]
    _, body = await search(
        session, fake, query=LEADS, _fields={"lead": ["id", "name", "custom.cf_tier"]}
    )
    assert body["data"][0] == {
        "__object_type": "lead",
        "id": acme,
        "name": "Acme Rockets",
        "custom.cf_tier": "gold",
    }
    assert body["cursor"] is None


@pytest.mark.parametrize(("n", "limit", "sizes"), [(7, 3, [3, 3, 1]), (6, 3, [3, 3])])
async def test_search_pages_by_cursor_to_null(
    fake: FakeClose, session: aiohttp.ClientSession, n: int, limit: int, sizes: list[int]
) -> None:
    ids = fake.seed_objects("lead", n)
    fake.seed_objects("contact", 2)  # not leads: never found
    seen: list[str] = []
    got: list[int] = []
    cursor = None
    while True:
        code, body = await search(session, fake, query=LEADS, _limit=limit, cursor=cursor)
        assert code == 200
        got.append(len(body["data"]))
        seen += [o["id"] for o in body["data"]]
        cursor = body["cursor"]
        if cursor is None:
            break
    assert got == sizes
    assert seen == ids


async def test_search_results_limit_caps_the_total(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    ids = fake.seed_objects("lead", 10)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        code, body = await search(
            session, fake, query=LEADS, _limit=3, results_limit=5, cursor=cursor
        )
        assert code == 200
        seen += [o["id"] for o in body["data"]]
        cursor = body["cursor"]
        if cursor is None:
            break
    assert seen == ids[:5]


async def test_search_sorts(fake: FakeClose, session: aiohttp.ClientSession) -> None:
    c = fake.add_object("lead", name="c")["id"]
    a = fake.add_object("lead", name="a")["id"]
    b = fake.add_object("lead", name="B")["id"]
    nameless = fake.add_object("lead")["id"]
    field = {"type": "regular_field", "object_type": "lead", "field_name": "name"}
    for direction, expected in (("asc", [a, b, c, nameless]), ("desc", [c, b, a, nameless])):
        _, body = await search(
            session, fake, query=LEADS, sort=[{"field": field, "direction": direction}]
        )
        assert [o["id"] for o in body["data"]] == expected


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"query": {"type": "mystery"}}, "mystery"),
        ({"query": {"type": "and", "queries": [LEADS, {"type": "nope"}]}}, "nope"),
        ({"query": {"type": "object_type", "object_type": "widget"}}, "widget"),
        ({"query": {"type": "and", "queries": []}}, "object_type"),
        ({"query": LEADS, "_limit": 201}, "_limit"),
        ({"query": LEADS, "_limit": "10"}, "_limit"),
        ({"query": LEADS, "cursor": "garbage"}, "cursor"),
        (
            {
                "query": {
                    "type": "and",
                    "queries": [
                        LEADS,
                        {
                            "type": "field_condition",
                            "field": {"type": "custom_field", "custom_field_id": "cf_x"},
                            "condition": {"type": "fuzzy", "value": "x"},
                        },
                    ],
                }
            },
            "fuzzy",
        ),
    ],
)
async def test_search_refuses_what_it_cannot_serve(
    fake: FakeClose, session: aiohttp.ClientSession, body: dict[str, Any], needle: str
) -> None:
    code, answer = await search(session, fake, **body)
    assert code == 400
    assert set(answer) == {"errors", "field-errors"}
    assert needle in answer["errors"][0]


async def test_search_limit_bounds_and_foreign_cursor(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    fake.seed_objects("lead", 201)
    code, body = await search(session, fake, query=LEADS, _limit=200)
    assert (code, len(body["data"])) == (200, 200)
    code, body = await search(session, fake, query=LEADS)
    assert len(body["data"]) == 100  # the default page
    other = {"type": "or", "queries": [LEADS]}
    code, answer = await search(session, fake, query=other, cursor=body["cursor"])
    assert code == 400  # a cursor belongs to its query
    code, answer = await search(session, fake, query=LEADS, cursor=body["cursor"])
    assert code == 200
    assert len(answer["data"]) == 100
    code, answer, _ = await send(session, "POST", url(fake, "data/search/"), json=[LEADS])
    assert code == 400
    assert answer["errors"] == ["The request body must be a JSON object."]


# -- method override --------------------------------------------------------------------------


async def test_method_override_serves_the_get_with_params(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    ids = fake.seed_objects("lead", 5)
    wanted = [ids[3], ids[1]]
    code, body, _ = await send(
        session,
        "POST",
        url(fake, "lead/"),
        json={"_params": {"id__in": wanted, "_fields": ["id"], "_limit": 10}},
        headers={"x-http-method-override": "GET"},
    )
    assert code == 200
    assert body == {"data": [{"id": ids[1]}, {"id": ids[3]}], "has_more": False}
    assert len(fake.objects("lead")) == 5  # nothing was created
    assert fake.events == []
    record = fake.requests[-1]
    assert record.method == "POST"
    assert record.method_override == "GET"
    assert "_limit=10" in record.query
    await send(session, "GET", url(fake, "lead/"))
    assert fake.requests[-1].method == "GET"
    assert fake.requests[-1].method_override is None


async def test_method_override_on_calls_events_and_one_object(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    call_ids = fake.seed_calls(3)
    override = {"x-http-method-override": "GET"}
    code, body, _ = await send(
        session,
        "POST",
        url(fake, "activity/call/"),
        json={"_params": {"id__in": [call_ids[2]]}},
        headers=override,
    )
    assert code == 200
    assert [c["id"] for c in body["data"]] == [call_ids[2]]
    assert len(fake.calls) == 3
    _, lead, _ = await send(session, "POST", url(fake, "lead/"), json={"name": "X"})
    code, body, _ = await send(
        session,
        "POST",
        url(fake, "event/"),
        json={"_params": {"object_type": "lead", "_limit": "1"}},
        headers=override,
    )
    assert (code, len(body["data"])) == (200, 1)
    code, body, _ = await send(
        session,
        "POST",
        url(fake, f"lead/{lead['id']}/"),
        json={"_params": {"_fields": "name"}},
        headers=override,
    )
    assert (code, body) == (200, {"name": "X"})
    # A POST without the header is still a POST.
    code, _, _ = await send(session, "POST", url(fake, f"lead/{lead['id']}/"), json={})
    assert code == 405
    assert fake.requests[-1].method_override is None


@pytest.mark.parametrize(
    ("header", "body"),
    [("PUT", {"_params": {}}), ("GET", {"_params": "id=1"}), ("GET", {"_params": {"a": {}}})],
)
async def test_method_override_refusals(
    fake: FakeClose, session: aiohttp.ClientSession, header: str, body: Any
) -> None:
    code, answer, _ = await send(
        session,
        "POST",
        url(fake, "lead/"),
        json=body,
        headers={"x-http-method-override": header},
    )
    assert code == 400
    assert set(answer) == {"errors", "field-errors"}
    assert fake.objects("lead") == {}


# -- the shared pipeline: auth, rate limits, faults ------------------------------------------


async def test_new_routes_need_authentication(fake: FakeClose) -> None:
    async with aiohttp.ClientSession() as client:
        for method, path in (("GET", "lead/"), ("GET", "event/"), ("POST", "data/search/")):
            code, _, _ = await send(client, method, url(fake, path), json={})
            assert code == 401
    assert fake.objects("lead") == {}


async def test_rate_limit_applies_to_new_routes(session: aiohttp.ClientSession) -> None:
    async with FakeClose(rate_limit=FakeRateLimit(3, window=60)) as fake:
        code, _, response = await send(session, "GET", url(fake, "lead/"))
        assert code == 200
        assert "remaining=2" in response.headers["ratelimit"]
        code, _, response = await send(session, "GET", url(fake, "event/"))
        assert "remaining=1" in response.headers["ratelimit"]
        code, _ = await search(session, fake, query=LEADS)
        assert code == 200
        code, body, _ = await send(session, "POST", url(fake, "lead/"), json={"name": "late"})
        assert code == 429
        assert body["error"]["rate_limit"] == 3
        assert fake.objects("lead") == {}  # refused before anything was applied
        assert fake.events == []
        assert fake.stats.rate_limited == 1


async def test_injected_5xx_applies_nothing_on_new_routes(session: aiohttp.ClientSession) -> None:
    faults = FakeFaults(error_rate=1.0, error_statuses=(503,))
    async with FakeClose(faults=faults) as fake:
        for method, path, body in (
            ("POST", "lead/", {"name": "x"}),
            ("GET", "event/", None),
            ("POST", "data/search/", {"query": LEADS}),
        ):
            code, text, response = await send(session, method, url(fake, path), json=body)
            assert code == 503
            assert response.content_type == "text/html"
            assert "503" in text
        assert fake.objects("lead") == {}
        assert fake.events == []
        assert fake.stats.injected_errors == 3


async def test_drop_after_apply_on_a_new_route_keeps_the_change(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeClose(faults=FakeFaults(drop_after_apply_rate=1.0, methods=("POST",))) as fake:
        with pytest.raises(CONNECTION_ERRORS):
            await send(session, "POST", url(fake, "contact/"), json={"name": "kept"})
        [contact] = fake.objects("contact").values()
        assert contact["name"] == "kept"
        assert [e["action"] for e in fake.events] == ["created"]
        assert fake.requests[-1].status == "dropped"
        code, body = await get_json(session, fake, f"contact/{contact['id']}/")  # GET: no faults
        assert (code, body) == (200, contact)


# -- seeding helpers ----------------------------------------------------------------------------


async def test_seeding_helpers(fake: FakeClose, session: aiohttp.ClientSession) -> None:
    ids = fake.seed_objects("lead", 3, status="Potential")
    assert len(set(ids)) == 3
    assert all(i.startswith("lead_") for i in ids)
    leads = fake.objects("lead")
    assert list(leads) == ids
    assert all(lead["status"] == "Potential" for lead in leads.values())
    assert [lead["display_name"] for lead in leads.values()] == [
        "Fake Lead 0",
        "Fake Lead 1",
        "Fake Lead 2",
    ]
    leads[ids[0]]["status"] = "changed"  # a copy: the server keeps its own
    assert fake.objects("lead")[ids[0]]["status"] == "Potential"
    task = fake.add_object("task", id="task_given", lead_id=ids[0], text="call back")
    assert task["id"] == "task_given"
    assert task["is_complete"] is False
    code, body = await get_json(session, fake, "task/task_given/")
    assert (code, body["text"]) == (200, "call back")
    assert fake.events == []  # seeding is not a change served
    with pytest.raises(ValueError, match="unknown object kind"):
        fake.add_object("widget")


async def test_admin_seed_by_kind(fake: FakeClose, session: aiohttp.ClientSession) -> None:
    code, body, _ = await send(
        session, "POST", fake.url + "_fake/seed?kind=opportunity&n=2", json={"value": 7}
    )
    assert code == 200
    assert list(fake.objects("opportunity")) == body["ids"]
    code, _, _ = await send(session, "POST", fake.url + "_fake/seed?kind=widget&n=1", json={})
    assert code == 400
    _, stats, _ = await send(session, "GET", fake.url + "_fake/stats")
    assert stats["objects"]["opportunity"] == 2
    assert stats["events"] == 0


def test_max_skip_is_a_command_line_option() -> None:
    parser = argparse.ArgumentParser()
    add_fake_server_arguments(parser)
    options = options_from_namespace(parser.parse_args(["--max-skip", "250"]))
    assert options["max_skip"] == 250
    options.pop("seed_calls")
    options.pop("seed_objects")
    assert fake_close_from_options(**options).max_skip == 250
    assert options_from_namespace(parser.parse_args([]))["max_skip"] is None
