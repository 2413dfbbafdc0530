"""The fake Close's generic store: every resource of Close's OpenAPI document with a
collection and an item path is kept, generated from the document itself (not from the
fake's own table), and bodies Close would refuse get Close's 400.

``RESOURCES`` comes from :func:`tools.fake_kinds.resources` over the vendored document; for
each the round trip is create -> get -> update -> list -> delete -> 404, using whichever of
those the document declares, and checks the fields sent come back.
"""

from __future__ import annotations

from typing import Any

import pytest

from close_async import BadRequestError, CloseClient, NotFoundError
from close_async.testing import FakeClose
from tests.fake_bodies import minimal_body
from tests.openapi_document import DOC
from tools.fake_kinds import PREFIXES, resources

# Calls and webhook subscriptions have their own routes (hooks), tested in their own files.
_HOOKED = {"activity/call", "webhook"}
RESOURCES = [r for r in resources(DOC) if r["route"] not in _HOOKED]
CREATABLE = [r for r in RESOURCES if "POST" in r["collection"]]
MARK = "custom.cf_fake_store_mark"


def test_the_document_has_this_many_creatable_resources() -> None:
    # The number reported for issue 27: every one of them gets the round trip below.
    assert len(CREATABLE) == 43


async def _in_list(close: CloseClient, route: str, object_id: str) -> dict[str, Any] | None:
    page = await close.get(route + "/", params={"_limit": 100, "id__in": object_id})
    found = [row for row in page["data"] if row["id"] == object_id]
    return found[0] if found else None


@pytest.mark.parametrize("resource", CREATABLE, ids=[r["route"] for r in CREATABLE])
async def test_every_resource_round_trips(
    fake: FakeClose, close: CloseClient, resource: dict[str, Any]
) -> None:
    route, item = resource["route"], resource["item_template"]
    lead = await close.post("lead/", json={"name": "Parent"})
    body = minimal_body("POST", f"/{route}/", **{MARK: "sent"})
    if "lead_id" in body or route.startswith("activity/"):
        body["lead_id"] = lead["id"]
    created = await close.post(route + "/", json=body)
    object_id = created["id"]
    prefix = "acti" if route.startswith("activity/") else PREFIXES[route]
    assert object_id.startswith(prefix + "_")
    assert created[MARK] == "sent"
    for name, value in body.items():
        assert created[name] == value, name
    assert created["date_created"]
    assert created["organization_id"].startswith("orga_")
    ids = {"id": object_id}
    if "GET" in resource["item"]:
        assert await close.get(item[1:], path_params=ids) == created
    if "PUT" in resource["item"]:
        change = minimal_body("PUT", item, **{MARK: "changed"})
        updated = await close.put(item[1:], path_params=ids, json=change)
        assert updated[MARK] == "changed"
        assert updated["date_created"] == created["date_created"]  # a patch, not a new object
    if "GET" in resource["collection"]:
        listed = await _in_list(close, route, object_id)
        assert listed is not None
        assert listed[MARK] == ("changed" if "PUT" in resource["item"] else "sent")
    if "DELETE" in resource["item"]:
        await close.delete(item[1:], path_params=ids)
        gone = "GET" if "GET" in resource["item"] else "DELETE"
        with pytest.raises(NotFoundError) as caught:
            await close.request(gone, item[1:], path_params=ids)
        assert caught.value.body == {"error": caught.value.body["error"]}
        assert caught.value.body["error"].endswith("matching query does not exist.")
        if "GET" in resource["collection"]:
            assert await _in_list(close, route, object_id) is None


async def test_an_unknown_id_is_closes_404(close: CloseClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        await close.get("custom_field/lead/{id}/", path_params={"id": "cf_nope"})
    assert caught.value.body == {
        "error": "Empty query: CustomFieldLead matching query does not exist."
    }


async def test_a_body_close_would_refuse_gets_field_errors(
    fake: FakeClose, close: CloseClient
) -> None:
    with pytest.raises(BadRequestError) as missing:
        await close.post("group/", json={})
    assert missing.value.field_errors == {"name": "Missing data for required field."}
    with pytest.raises(BadRequestError) as wrong:
        await close.post("outcome/", json={"name": 5, "type": "nope"})
    assert wrong.value.field_errors == {
        "name": "Not a valid string.",
        "type": "Must be one of: vm-dropped, custom.",
    }
    assert fake.store.list("group") == []
    assert fake.store.list("outcome") == []


async def test_an_update_is_a_patch_and_checked_too(close: CloseClient) -> None:
    group = await close.post("group/", json={"name": "Sales"})
    with pytest.raises(BadRequestError) as wrong:
        await close.put("group/{id}/", path_params={"id": group["id"]}, json={"name": None})
    assert wrong.value.field_errors == {"name": "Field may not be null."}


async def test_typed_pipelines_create_stores_and_lists(close: CloseClient) -> None:
    pipeline = await close.pipelines.create({"name": "Sales"})
    assert pipeline.id is not None
    assert pipeline.id.startswith("pipe_")
    assert pipeline.name == "Sales"
    listed = [p async for p in close.pipelines.list()]
    assert pipeline.id in [p.id for p in listed]
    renamed = await close.pipelines.update(pipeline.id, {"name": "Renewals"})
    assert (renamed.id, renamed.name) == (pipeline.id, "Renewals")


async def test_typed_custom_field_create_then_get(close: CloseClient) -> None:
    field = await close.custom_fields.lead.create({"name": "Size", "type": "text"})
    assert field.id is not None
    assert field.id.startswith("cf_")
    fetched = await close.custom_fields.lead.get(field.id)
    assert (fetched.id, fetched.name) == (field.id, "Size")


def test_the_store_api_is_plain_python(fake: FakeClose) -> None:
    store = fake.store
    assert {"lead", "pipeline", "custom_field.lead", "status.lead", "user"} <= set(store.kinds())
    made = store.create("role", {"name": "Manager"})
    assert made["id"].startswith("role_")
    assert store.get("role", made["id"]) is made
    assert store.list("role", {"name": "Manager"}) == [made]
    assert store.update("role", made["id"], {"name": "Boss"}) is made
    assert made["name"] == "Boss"
    assert store.delete("role", made["id"]) is made
    assert store.get("role", made["id"]) is None
    with pytest.raises(ValueError, match="unknown object kind 'nope'"):
        store.create("nope", {})


async def test_seeding_any_kind_serves_it_like_the_api_would(
    fake: FakeClose, close: CloseClient
) -> None:
    [call_id] = fake.seed_objects("activity.call", 1, note="seeded")
    call = await close.calls.get(call_id)
    assert (call.id, call.note) == (call_id, "seeded")
    hook = fake.add_object(
        "webhook",
        url="https://example.com/h",
        events=[{"object_type": "lead", "action": "created"}],
    )
    assert hook["signature_key"]
    assert fake.webhook_subscriptions.active()[0].url == "https://example.com/h"
    with pytest.raises(ValueError, match="needs url and events"):
        fake.add_object("webhook")
    [pipeline_id] = fake.seed_objects("pipeline", 1, name="Renewals")
    assert pipeline_id in [p.id async for p in close.pipelines.list()]
