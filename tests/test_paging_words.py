"""Paging words (issue 28, point 2): on every paged method ``limit=`` is the most items in
total and ``page_size=`` the ``_limit`` of each request, checked against the endpoint's
maximum before anything is sent. On loopback with the fake Close."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from close_async import ClientValidationError, CloseClient
from close_async.testing import FakeClose


def queries(fake: FakeClose, path: str) -> list[str]:
    return [r.query for r in fake.requests if r.method == "GET" and r.path.endswith(path)]


def search_bodies(fake: FakeClose) -> list[Any]:
    return [r.body for r in fake.requests if r.path.endswith("/data/search/")]


async def test_events_limit_is_a_total_and_asks_for_no_more(
    fake: FakeClose, close: CloseClient
) -> None:
    for n in range(6):
        await close.leads.create({"name": f"L{n}"})
    events = [event async for event in close.events.list(limit=3)]
    assert len(events) == 3
    # One request, asking for just the 3 needed (Close's default would be 50).
    assert queries(fake, "/event/") == ["_limit=3"]


async def test_events_page_size_is_each_requests_limit_and_the_cursor_is_followed(
    fake: FakeClose, close: CloseClient
) -> None:
    for n in range(6):
        await close.leads.create({"name": f"L{n}"})
    events = [event async for event in close.events.list(limit=5, page_size=2)]
    assert len(events) == 5
    sent = queries(fake, "/event/")
    assert [q.split("&")[0] for q in sent] == ["_limit=2", "_limit=2", "_limit=1"]
    assert all("_cursor=" in q for q in sent[1:])
    assert "_skip" not in "".join(sent)


async def test_a_skip_paged_list_takes_the_last_page_short(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.seed_objects("lead", 9)
    leads = [lead async for lead in close.leads.list(limit=5, page_size=2)]
    assert len(leads) == 5
    assert queries(fake, "/lead/") == ["_limit=2", "_limit=2&_skip=2", "_limit=1&_skip=4"]


async def test_no_limit_walks_everything_with_closes_default_page(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.seed_objects("lead", 3)
    assert len([lead async for lead in close.leads.list()]) == 3
    assert queries(fake, "/lead/") == [""]


async def test_calls_list_takes_the_same_words(fake: FakeClose, close: CloseClient) -> None:
    for _ in range(4):
        fake.add_call()
    calls = [call async for call in close.calls.list(limit=3)]
    assert len(calls) == 3
    assert queries(fake, "/activity/call/") == ["_limit=3"]


@pytest.mark.parametrize(
    ("list_method", "page_size"),
    [("leads", 101), ("events", 51), ("calls", 101), ("tasks", 0), ("leads", True)],
)
async def test_a_page_size_over_the_endpoints_maximum_is_refused_before_sending(
    fake: FakeClose, close: CloseClient, list_method: str, page_size: Any
) -> None:
    with pytest.raises(ClientValidationError) as info:
        getattr(close, list_method).list(page_size=page_size)
    assert info.value.field == "page_size"
    assert fake.requests == []


@pytest.mark.parametrize("limit", [0, -1, True, 2.5, "3"])
async def test_a_bad_limit_is_refused_before_sending(
    fake: FakeClose, close: CloseClient, limit: Any
) -> None:
    with pytest.raises(ClientValidationError) as info:
        close.leads.list(limit=limit)
    assert info.value.field == "limit"
    assert fake.requests == []


async def test_the_generic_paginate_takes_the_same_words(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.seed_objects("lead", 7)
    items = [item async for item in close.paginate("lead/", limit=5, page_size=3)]
    assert len(items) == 5
    assert queries(fake, "/lead/") == ["_limit=3", "_limit=2&_skip=3"]
    with pytest.raises(ClientValidationError) as info:
        close.paginate("event/", page_size=51)
    assert info.value.field == "page_size"
    with pytest.raises(ClientValidationError) as info:
        close.paginate("lead/", page_size=101)
    assert info.value.field == "page_size"
    assert len(fake.requests) == 2


async def test_search_limit_and_page_size_mean_the_same(
    fake: FakeClose, close: CloseClient
) -> None:
    fake.seed_objects("lead", 7)
    query = {"type": "object_type", "object_type": "lead"}
    found = [r async for r in close.search(query, limit=5, page_size=2)]
    assert len(found) == 5
    assert [body["_limit"] for body in search_bodies(fake)] == [2, 2, 1]
    assert len([r async for r in close.search(query, limit=3)]) == 3
    assert search_bodies(fake)[-1]["_limit"] == 3
    before = len(fake.requests)
    with pytest.raises(ClientValidationError) as info:
        close.search(query, page_size=201)
    assert info.value.field == "page_size"
    assert len(fake.requests) == before


async def test_a_sliced_walk_keeps_the_limit_too(fake: FakeClose, close: CloseClient) -> None:
    fake.seed_objects("opportunity", 6, lead_id=fake.add_object("lead", name="L")["id"])
    got = [o async for o in close.opportunities.list(limit=4, page_size=3, sliced=True)]
    assert len(got) == 4
    sizes = [
        (params["_limit"], params["_skip"])
        for params in (
            dict(p.split("=", 1) for p in q.split("&")) for q in queries(fake, "/opportunity/")
        )
    ]
    # Pages of 3, then just the 1 still wanted; ("1", "10000") is the cap probe.
    assert [size for size in sizes if size[1] != "10000"] == [("3", "0"), ("1", "3")]


def test_list_docstrings_say_what_limit_and_page_size_mean(close: CloseClient) -> None:
    for method in (close.leads.list, close.events.list, close.calls.list, close.pipelines.list):
        doc = inspect.getdoc(method) or ""
        assert "Number of results to return" not in doc
        assert "``limit``: the most items to yield in all" in doc
        parameters = inspect.signature(method).parameters
        assert parameters["limit"].default is None
        if "page_size" in parameters:
            assert "``page_size``" in doc
            assert parameters["page_size"].default is None
