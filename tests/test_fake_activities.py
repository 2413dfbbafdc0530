"""The fake Close's activity types beyond calls, ``GET /activity/`` and the canned answers of
the rest of the API, through the client's generic verbs over loopback."""

from __future__ import annotations

import re

import aiohttp
import pytest

from close_async import CloseClient, NotFoundError
from close_async.testing import FakeClose
from close_async.testing._objects import ACTIVITY_KINDS, ObjectKind
from close_async.testing._spec_answers import ANSWERS
from tests.conftest import send
from tests.fake_bodies import minimal_body

FULL = [k for k in ACTIVITY_KINDS if k.collection_methods == ("GET", "POST")]
ACTI_ID = re.compile(r"acti_[0-9A-Za-z]{43}")


@pytest.mark.parametrize("kind", FULL, ids=[k.name for k in FULL])
async def test_an_activity_round_trip(
    fake: FakeClose, close: CloseClient, kind: ObjectKind
) -> None:
    path = kind.route + "/"
    lead = await close.post("lead/", json={"name": "Acme"})
    body = minimal_body("POST", "/" + path, lead_id=lead["id"], note="first")
    created = await close.post(path, json=body)
    assert ACTI_ID.fullmatch(created["id"])
    assert created["_type"] == kind.label
    assert created["lead_id"] == lead["id"]
    assert created["organization_id"].startswith("orga_")
    assert created["date_created"] == created["date_updated"]
    assert created["activity_at"] == body.get("activity_at", created["date_created"])
    assert created["user_id"] == created["created_by"]
    item = kind.route + "/{id}/"
    ids = {"id": created["id"]}
    assert await close.get(item, path_params=ids) == created

    if "PUT" in kind.item_methods:
        updated = await close.put(item, path_params=ids, json={"note": "second"})
        assert updated["note"] == "second"
        assert updated["lead_id"] == lead["id"]  # not sent: unchanged (PUT is a patch)
        assert updated["date_updated"] >= created["date_updated"]
    assert await close.delete(item, path_params=ids) == {}
    with pytest.raises(NotFoundError):
        await close.get(item, path_params=ids)
    actions = [(e["object_type"], e["action"]) for e in fake.events if e["object_id"] == ids["id"]]
    assert actions[0] == (kind.name, "created")
    assert actions[-1] == (kind.name, "deleted")


async def test_ids_of_different_activity_types_never_collide(fake: FakeClose) -> None:
    ids = fake.seed_calls(3)
    for kind in ACTIVITY_KINDS:
        ids += fake.seed_objects(kind.name, 3)
    assert len(set(ids)) == len(ids) == 3 * (len(ACTIVITY_KINDS) + 1)


async def test_activity_lists_page_and_filter(fake: FakeClose, close: CloseClient) -> None:
    mine = [fake.add_object("activity.sms", lead_id="lead_a")["id"] for _ in range(5)]
    fake.add_object("activity.sms", lead_id="lead_b")
    first = await close.get("activity/sms/", params={"lead_id": "lead_a", "_limit": 3})
    rest = await close.get("activity/sms/", params={"lead_id": "lead_a", "_limit": 3, "_skip": 3})
    assert [a["id"] for a in first["data"]] == mine[:3]
    assert first["has_more"] is True
    assert [a["id"] for a in rest["data"]] == mine[3:]
    assert rest["has_more"] is False
    both = await close.get("activity/sms/", params={"lead_id": "lead_a,lead_b"})
    assert len(both["data"]) == 6


async def test_the_all_activities_list_has_every_type_calls_included(
    fake: FakeClose, close: CloseClient
) -> None:
    [call_id] = fake.seed_calls(1, lead_id="lead_a")  # dated 2024-01-01
    note = fake.add_object("activity.note", lead_id="lead_a")
    meeting = fake.add_object("activity.meeting", lead_id="lead_a")
    fake.add_object("activity.note", lead_id="lead_other")

    page = await close.get("activity/", params={"lead_id": "lead_a"})
    assert {a["id"] for a in page["data"]} == {call_id, note["id"], meeting["id"]}
    assert page["data"][-1]["id"] == call_id  # newest first
    assert page["has_more"] is False

    notes = await close.get("activity/", params={"_type": "Note,Call", "lead_id": "lead_a"})
    assert {a["_type"] for a in notes["data"]} == {"Note", "Call"}
    recent = await close.get(
        "activity/", params={"lead_id": "lead_a", "date_created__gte": "2025-01-01T00:00:00Z"}
    )
    assert call_id not in {a["id"] for a in recent["data"]}
    assert len(recent["data"]) == 2
    limited = await close.get("activity/", params={"_limit": 1})
    assert len(limited["data"]) == 1
    assert limited["has_more"] is True


async def test_a_meeting_integration_is_created_then_updated(
    fake: FakeClose, close: CloseClient
) -> None:
    meeting = fake.add_object("activity.meeting", lead_id="lead_a")
    path = "activity/meeting/{id}/integration/"
    ids = {"id": meeting["id"]}
    assert await close.post(path, path_params=ids, json={}) == {}  # an empty body does nothing
    assert "integrations" not in fake.objects("activity.meeting")[meeting["id"]]
    assert await close.post(path, path_params=ids, json={"title": "Notes"}) == {"title": "Notes"}
    second = await close.post(path, path_params=ids, json={"url": "https://x.test/"})
    assert second == {"title": "Notes", "url": "https://x.test/"}
    [integration] = fake.objects("activity.meeting")[meeting["id"]]["integrations"].values()
    assert integration == second
    with pytest.raises(NotFoundError):
        await close.post(path, path_params={"id": "acti_missing"}, json={"a": 1})


async def test_methods_an_activity_type_lacks_answer_405(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    for method, path, allow in (
        ("POST", "activity/created/", "GET"),
        ("PUT", "activity/lead_merge/acti_x/", "GET"),
        ("POST", "activity/meeting/", "GET"),
        ("PUT", "activity/status_change/lead/acti_x/", "GET, DELETE"),
    ):
        code, _, response = await send(session, method, fake.base_url + path, json={})
        assert (code, response.headers["Allow"]) == (405, allow), path


async def test_the_rest_of_the_api_answers_canned(fake: FakeClose, close: CloseClient) -> None:
    raw = close.with_raw_response
    # An operation that keeps no state answers the document's canned body and status.
    upload = await raw.post(
        "files/upload/", json={"filename": "a.txt", "content_type": "text/plain"}
    )
    assert (upload.status_code, upload.json()) == ANSWERS[("POST", "/files/upload/")]
    # Groups are a stored resource: what was sent comes back with an id of Close's prefix.
    created = await raw.post("group/", json={"name": "Sales"})
    assert created.status_code == 201
    assert created.json()["id"].startswith("group_")
    assert created.json()["name"] == "Sales"
    comment = await close.post("comment/", json={"body": "hi", "object_id": "lead_x"})
    gone = await raw.delete("comment/{id}/", path_params={"id": comment["id"]})
    assert (gone.status_code, gone.content) == (204, b"")  # as the document declares
    assert gone.parse() == {}
    assert await close.get("task/") == {"data": [], "has_more": False}  # the stateful list
    with pytest.raises(NotFoundError):
        await close.get("no_such_resource/")
    assert fake.objects("lead") == {}  # canned answers change nothing
