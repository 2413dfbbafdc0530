"""The whole API through the client, end to end against the fake Close on loopback.

Each paging style walked to its end through ``close.paginate`` / ``close.search``, the
event log filled by changes made through the generic verbs, and on-demand paging.
"""

from __future__ import annotations

import gc
import warnings

import pytest

from close_async import ClientValidationError, CloseClient, Page
from close_async.testing import FakeClose


def queries(fake: FakeClose, path: str) -> list[str]:
    return [r.query for r in fake.requests if r.path == f"/api/v1/{path}"]


@pytest.mark.parametrize(("count", "limit", "pages"), [(250, 100, 3), (200, 100, 2), (0, 100, 1)])
async def test_skip_paging_walks_every_lead_once_in_order(
    fake: FakeClose, close: CloseClient, count: int, limit: int, pages: int
) -> None:
    ids = fake.seed_objects("lead", count)
    got = [lead["id"] async for lead in close.paginate("lead/", params={"_limit": limit})]
    assert got == ids
    sent = queries(fake, "lead/")
    assert len(sent) == pages
    assert "_skip" not in sent[0]  # the first request sends exactly the caller's params
    if pages > 1:
        assert f"_skip={limit}" in sent[1]


async def test_the_event_log_pages_by_cursor_to_a_null_cursor(
    fake: FakeClose, close: CloseClient
) -> None:
    created = [await close.post("lead/", json={"name": f"Lead {n}"}) for n in range(7)]
    await close.put("lead/{id}/", path_params={"id": created[0]["id"]}, json={"name": "Renamed"})
    await close.delete("lead/{id}/", path_params={"id": created[1]["id"]})

    events = [e async for e in close.paginate("event/", params={"_limit": 3})]

    assert len(events) == 9  # 7 created, 1 updated, 1 deleted: newest first
    assert [e["action"] for e in events[:2]] == ["deleted", "updated"]
    assert events[1]["object_id"] == created[0]["id"]
    assert "name" in events[1]["changed_fields"]
    assert events[1]["previous_data"]["name"] == "Lead 0"
    sent = queries(fake, "event/")
    assert len(sent) == 3  # 3 + 3 + 3, the last with cursor_next null
    assert all("_skip" not in q for q in sent)
    assert all("_cursor=" in q for q in sent[1:])


async def test_on_demand_paging_with_next_params(fake: FakeClose, close: CloseClient) -> None:
    ids = fake.seed_objects("opportunity", 5)
    seen: list[str] = []
    params: dict[str, object] | None = {"_limit": 2}
    while params is not None:
        page = await close.get_page("opportunity/", params=params)
        assert isinstance(page, Page)
        seen += [o["id"] for o in page.data]
        params = page.next_params if page.has_more else None
    assert seen == ids


async def test_search_follows_the_cursor_to_null(fake: FakeClose, close: CloseClient) -> None:
    fake.seed_objects("lead", 5, name="Acme")
    fake.seed_objects("lead", 3, name="Other")
    fake.seed_objects("contact", 4)
    query = {
        "type": "and",
        "queries": [
            {"type": "object_type", "object_type": "lead"},
            {
                "type": "field_condition",
                "field": {"type": "regular_field", "object_type": "lead", "field_name": "name"},
                "condition": {"type": "text", "mode": "exact_value", "value": "Acme"},
            },
        ],
    }
    found = [r async for r in close.search(query, fields={"lead": ["id", "name"]}, page_size=2)]
    assert len(found) == 5
    assert {r["name"] for r in found} == {"Acme"}
    searches = [r for r in fake.requests if r.path == "/api/v1/data/search/"]
    assert len(searches) == 3  # 2 + 2 + 1, the last answering cursor null
    assert searches[0].body.get("cursor") is None
    assert all(r.body["cursor"] for r in searches[1:])


async def test_search_limit_stops_early(fake: FakeClose, close: CloseClient) -> None:
    fake.seed_objects("lead", 9)
    query = {"type": "object_type", "object_type": "lead"}
    found = [r async for r in close.search(query, limit=4, page_size=3)]
    assert len(found) == 4
    assert [r.body["results_limit"] for r in fake.requests] == [4, 4]


async def test_breaking_out_early_leaves_no_request_and_no_warning(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.seed_objects("task", 30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async for _task in close.paginate("task/", params={"_limit": 10}):
            break
        gc.collect()
    assert len(fake.requests) == 1


async def test_a_hostile_id_never_reaches_close(fake: FakeClose, close: CloseClient) -> None:
    for hostile in ("../user", "lead_x?_fields=id", "lead_x#", "lead_x%2F..", "a b", ""):
        with pytest.raises(ClientValidationError) as caught:
            await close.get("lead/{id}/", path_params={"id": hostile})
        assert caught.value.field == "id"
    with pytest.raises(ClientValidationError):
        close.paginate("lead/../user/")
    assert fake.requests == []


async def test_views_page_and_search_through_their_options(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.seed_objects("lead", 3)
    view = close.with_options(extra_headers={"X-Trace": "one"}, max_retries=0)
    got = [lead async for lead in view.paginate("lead/")]
    assert len(got) == 3
    assert close.stats.requests == 1  # a view counts in the client's stats
