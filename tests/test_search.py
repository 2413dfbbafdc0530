"""Advanced Filtering: the body sent, the cursor followed, the limit kept, bad input refused."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from aioresponses import aioresponses

from close_async import CloseClient, RetryPolicy
from close_async._engine.errors import ClientValidationError, InternalServerError
from close_async._engine.options import derive_options
from close_async._resources.pager import Page
from close_async._resources.search import fetch_search_page, search
from tests.conftest import API_KEY
from tests.fake_requester import FakeRequester

QUERY: dict[str, Any] = {"type": "object_type", "object_type": "lead"}


async def collect(pager: Any) -> list[Any]:
    return [item async for item in pager]


def bodies(fake: FakeRequester) -> list[Any]:
    return [json.loads(r.body or b"") for r in fake.requests]


async def test_the_body_carries_every_argument_given() -> None:
    fake = FakeRequester({"data": [1], "cursor": None})
    fields = {"lead": ["id", "display_name"]}
    sort = [{"direction": "desc", "field": {"type": "regular_field", "field_name": "date"}}]
    options = derive_options(fake.options, timeout=3.0)
    pager = search(fake, QUERY, fields=fields, sort=sort, limit=10, page_size=5, options=options)
    assert await collect(pager) == [1]
    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", "data/search/")
    assert json.loads(request.body or b"") == {
        "query": QUERY,
        "_fields": fields,
        "sort": sort,
        "_limit": 5,
        "results_limit": 10,
    }
    assert fake.timeouts == [3.0]


async def test_arguments_not_given_are_left_out_of_the_body() -> None:
    fake = FakeRequester({"data": [], "cursor": None})
    await collect(search(fake, QUERY))
    assert bodies(fake) == [{"query": QUERY}]


async def test_the_cursor_is_followed_in_the_body_to_null() -> None:
    fake = FakeRequester(
        {"data": [1, 2], "cursor": "c1"},
        {"data": [3], "cursor": "c2"},
        {"data": [4], "cursor": None},
    )
    assert await collect(search(fake, QUERY, page_size=2)) == [1, 2, 3, 4]
    assert bodies(fake) == [
        {"query": QUERY, "_limit": 2},
        {"query": QUERY, "_limit": 2, "cursor": "c1"},
        {"query": QUERY, "_limit": 2, "cursor": "c2"},
    ]
    assert fake.params == [{}, {}, {}]  # nothing in the query string


async def test_the_limit_stops_the_walk_even_if_close_has_more() -> None:
    fake = FakeRequester({"data": [1, 2], "cursor": "c1"}, {"data": [3, 4], "cursor": "c2"})
    assert await collect(search(fake, QUERY, limit=3, page_size=2)) == [1, 2, 3]
    assert len(fake.requests) == 2  # not a third, though Close gave a cursor
    assert all(body["results_limit"] == 3 for body in bodies(fake))


async def test_the_limit_cuts_a_page_that_is_bigger_than_asked() -> None:
    fake = FakeRequester({"data": [1, 2, 3, 4, 5], "cursor": "c1"})
    pages = [page async for page in search(fake, QUERY, limit=2).pages()]
    assert [p.data for p in pages] == [[1, 2]]
    assert (pages[0].has_more, pages[0].next_params) == (False, None)
    assert len(fake.requests) == 1


async def test_a_limit_reached_at_a_page_end_sends_nothing_more() -> None:
    fake = FakeRequester({"data": [1, 2], "cursor": "c1"})
    assert await collect(search(fake, QUERY, limit=2)) == [1, 2]
    assert len(fake.requests) == 1


@pytest.mark.parametrize("answer", [{}, {"cursor": "c1"}, {"data": "x", "cursor": "c1"}, [], None])
async def test_an_answer_without_data_ends_the_search(answer: Any) -> None:
    fake = FakeRequester(answer)
    assert await collect(search(fake, QUERY)) == []
    assert len(fake.requests) == 1


async def test_a_repeated_cursor_ends_the_search() -> None:
    fake = FakeRequester({"data": [1], "cursor": "c1"}, {"data": [2], "cursor": "c1"})
    assert await collect(search(fake, QUERY)) == [1, 2]
    assert len(fake.requests) == 2


async def test_errors_propagate_unchanged() -> None:
    error = InternalServerError("down", status=502, method="POST", path="data/search/")
    fake = FakeRequester({"data": [1], "cursor": "c1"}, error)
    pager = search(fake, QUERY)
    assert await anext(pager) == 1
    with pytest.raises(InternalServerError) as info:
        await anext(pager)
    assert info.value is error


async def test_changing_the_query_later_changes_no_page() -> None:
    fake = FakeRequester({"data": [1], "cursor": "c1"}, {"data": [2], "cursor": None})
    query: dict[str, Any] = {"type": "and", "queries": [{"type": "object_type"}]}
    sort: list[dict[str, Any]] = [{"direction": "asc", "field": {"field_name": "date"}}]
    pager = search(fake, query, sort=sort)
    query["queries"].append({"type": "evil"})
    sort[0]["direction"] = "desc"
    sort[0]["field"]["field_name"] = "evil"
    await collect(pager)
    for body in bodies(fake):
        assert body["query"] == {"type": "and", "queries": [{"type": "object_type"}]}
        assert body["sort"] == [{"direction": "asc", "field": {"field_name": "date"}}]


async def test_paging_on_demand_with_next_params() -> None:
    fake = FakeRequester({"data": [1], "cursor": "c1", "total_results": 2}, {"data": [2]})
    first = await search(fake, QUERY, page_size=1).first_page()
    assert (first.data, first.cursor, first.raw["total_results"]) == ([1], "c1", 2)
    assert first.next_params == {"query": QUERY, "_limit": 1, "cursor": "c1"}
    nxt = await fetch_search_page(fake, first.next_params)
    assert (nxt.data, nxt.has_more, nxt.next_params) == ([2], False, None)
    assert bodies(fake)[1] == first.next_params


async def test_page_size_200_is_allowed() -> None:
    fake = FakeRequester({"data": [], "cursor": None})
    await collect(search(fake, QUERY, page_size=200))
    assert bodies(fake) == [{"query": QUERY, "_limit": 200}]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"query": [QUERY]}, "query"),
        ({"query": "lead"}, "query"),
        ({"query": None}, "query"),
        ({"limit": 0}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": True}, "limit"),
        ({"limit": 2.0}, "limit"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 201}, "page_size"),
        ({"page_size": "10"}, "page_size"),
        ({"fields": ["id"]}, "fields"),
        ({"fields": {"lead": "id,name"}}, "fields"),
        ({"fields": {"lead": [1]}}, "fields"),
        ({"fields": {"lead": [""]}}, "fields"),
        ({"fields": {1: ["id"]}}, "fields"),
        ({"sort": "date_created"}, "sort"),
        ({"sort": {"direction": "asc"}}, "sort"),
        ({"sort": ["date_created"]}, "sort"),
        ({"sort": ""}, "sort"),
        ({"sort": 5}, "sort"),
        ({"sort": ({"direction": "asc"} for _ in range(1))}, "sort"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(kwargs: dict[str, Any], field: str) -> None:
    fake = FakeRequester()
    arguments = {"query": QUERY, **kwargs}
    with pytest.raises(ClientValidationError) as info:
        search(fake, **arguments)
    assert info.value.field == field
    assert fake.requests == []


async def test_search_through_the_client_engine(mocked: aioresponses) -> None:
    url = "https://api.close.com/api/v1/data/search/"
    mocked.post(url, payload={"data": [{"id": "lead_1"}], "cursor": "abc"})
    mocked.post(url, payload={"data": [{"id": "lead_2"}], "cursor": None})
    async with CloseClient(api_key=API_KEY, retry=RetryPolicy.no_wait()) as close:
        items = await collect(search(close._engine, QUERY, fields={"lead": ["id"]}))
    assert [item["id"] for item in items] == ["lead_1", "lead_2"]
    sent = [json.loads(r.kwargs["data"]) for reqs in mocked.requests.values() for r in reqs]
    assert sent == [
        {"query": QUERY, "_fields": {"lead": ["id"]}},
        {"query": QUERY, "_fields": {"lead": ["id"]}, "cursor": "abc"},
    ]


@pytest.mark.parametrize(
    ("answer", "sent", "expected"),
    [
        ({"total_results": 0}, {"query": QUERY}, Page([], False)),
        ({"data": "x", "cursor": "c1"}, {"query": QUERY}, Page([], False)),
        ({"data": [1], "cursor": None, "total_results": 1}, {"query": QUERY}, Page([1], False)),
        (
            {"data": [1], "cursor": "c1", "total_results": 2},
            {"query": QUERY, "cursor": "c1"},
            Page([1], False, cursor="c1"),
        ),
    ],
)
async def test_a_last_search_page_keeps_the_answer_it_was_read_from(
    answer: Any, sent: dict[str, Any], expected: Page
) -> None:
    page = await fetch_search_page(FakeRequester(answer), sent)
    assert page == attrs.evolve(expected, raw=answer)


FIELDS_RULE = "fields must map an object type to a list of field names"
SORT_RULE = 'sort must be a list of sort objects ({"field": ..., "direction": ...})'


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": [QUERY]}, "query must be a mapping, not list"),
        ({"query": None}, "query must be a mapping, not NoneType"),
        ({"limit": 0}, "limit must be a positive whole number"),
        ({"page_size": True}, "page_size must be a positive whole number"),
        ({"page_size": 201}, "page_size must be at most 200, got 201"),
        ({"fields": ["id"]}, FIELDS_RULE),
        ({"fields": {"lead": "id,name"}}, FIELDS_RULE),
        ({"sort": "date_created"}, SORT_RULE),
    ],
)
def test_a_refused_argument_says_what_is_wrong(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientValidationError) as info:
        search(FakeRequester(), **{"query": QUERY, **kwargs})
    assert str(info.value) == message
