"""Operations of the fake Close that are neither create/read/update/delete nor canned: their
documented effect on the store (lead merge, bulk task update, playbook archive, group
members), over loopback through the client."""

from __future__ import annotations

import pytest

from close_async import BadRequestError, CloseClient, NotFoundError
from close_async.testing import FakeClose


async def test_a_lead_merge_moves_everything_and_deletes_the_source(
    fake: FakeClose, close: CloseClient
) -> None:
    source = await close.post("lead/", json={"name": "Old"})
    destination = await close.post("lead/", json={"name": "New"})
    contact = await close.post("contact/", json={"lead_id": source["id"], "name": "Ann"})
    note = await close.post("activity/note/", json={"lead_id": source["id"], "note": "hi"})
    opportunity = await close.post("opportunity/", json={"lead_id": source["id"]})
    [call_id] = fake.seed_calls(1, lead_id=source["id"])
    kept = await close.post("contact/", json={"lead_id": destination["id"], "name": "Bo"})

    await close.leads.merge({"source": source["id"], "destination": destination["id"]})

    with pytest.raises(NotFoundError):
        await close.get("lead/{id}/", path_params={"id": source["id"]})
    for path, object_id in (
        ("contact/{id}/", contact["id"]),
        ("activity/note/{id}/", note["id"]),
        ("opportunity/{id}/", opportunity["id"]),
        ("activity/call/{id}/", call_id),
        ("contact/{id}/", kept["id"]),
    ):
        moved = await close.get(path, path_params={"id": object_id})
        assert moved["lead_id"] == destination["id"], path
    merges = await close.get("activity/lead_merge/", params={"lead_id": destination["id"]})
    [merge] = merges["data"]
    assert merge["source_lead_id"] == source["id"]
    actions = {(e["object_type"], e["action"], e["object_id"]) for e in fake.events}
    assert ("lead", "deleted", source["id"]) in actions
    assert ("contact", "updated", contact["id"]) in actions


async def test_a_merge_of_unknown_leads_is_refused(fake: FakeClose, close: CloseClient) -> None:
    lead = await close.post("lead/", json={"name": "Only"})
    with pytest.raises(BadRequestError) as caught:
        await close.leads.merge({"source": "lead_nope", "destination": lead["id"]})
    assert caught.value.field_errors == {"source": "Lead matching query does not exist."}
    assert lead["id"] in fake.objects("lead")


async def test_a_bulk_task_update_changes_the_tasks_selected(close: CloseClient) -> None:
    mine = [await close.post("task/", json={"lead_id": "lead_a", "text": str(n)}) for n in range(2)]
    other = await close.post("task/", json={"lead_id": "lead_b", "text": "x"})
    await close.put("task/", params={"lead_id": "lead_a"}, json={"is_complete": True})
    for task in mine:
        fetched = await close.get("task/{id}/", path_params={"id": task["id"]})
        assert fetched["is_complete"] is True
    untouched = await close.get("task/{id}/", path_params={"id": other["id"]})
    assert untouched["is_complete"] is False


async def test_a_playbook_is_archived_and_unarchived(close: CloseClient) -> None:
    playbook = await close.post("playbook/", json={"name": "Cold calls"})
    ids = {"id": playbook["id"]}
    archived = await close.post("playbook/{id}/archive/", path_params=ids)
    assert archived["archived_at"] is not None
    assert (await close.get("playbook/{id}/", path_params=ids))["archived_at"] is not None
    restored = await close.post("playbook/{id}/unarchive/", path_params=ids)
    assert restored["archived_at"] is None


async def test_group_members_are_added_and_removed(close: CloseClient) -> None:
    me = await close.users.get_me()
    assert me.id is not None
    group = await close.post("group/", json={"name": "Sales"})
    ids = {"group_id": group["id"]}
    added = await close.post("group/{group_id}/member/", path_params=ids, json={"user_id": me.id})
    assert added == {"user_id": me.id}
    fetched = await close.get("group/{id}/", path_params={"id": group["id"]})
    assert fetched["members"] == [{"user_id": me.id}]
    member = {**ids, "user_id": me.id}
    await close.delete("group/{group_id}/member/{user_id}/", path_params=member)
    fetched = await close.get("group/{id}/", path_params={"id": group["id"]})
    assert fetched["members"] == []
    with pytest.raises(NotFoundError):
        await close.delete("group/{group_id}/member/{user_id}/", path_params=member)
