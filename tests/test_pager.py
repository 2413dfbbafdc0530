"""The list walker: skip and cursor paging, its ends and guards, laziness, early exit."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from aioresponses import aioresponses
from hypothesis import given
from hypothesis import strategies as st

from close_async import CloseClient, RetryPolicy
from close_async._engine.errors import ClientValidationError, InternalServerError, NotFoundError
from close_async._engine.http.request import Request
from close_async._engine.options import derive_options
from close_async._resources.pager import Page, fetch_page, paginate, read_list_page
from tests.conftest import API_KEY
from tests.fake_requester import FakeRequester

BASE = "https://api.close.com/api/v1/"


async def collect(pager: Any) -> list[Any]:
    return [item async for item in pager]


# --- skip paging ----------------------------------------------------------------------


async def test_skip_paging_to_an_empty_last_page_at_an_exact_multiple() -> None:
    fake = FakeRequester(
        {"data": [1, 2], "has_more": True},
        {"data": [3, 4], "has_more": True},
        {"data": [], "has_more": False},
    )
    assert await collect(paginate(fake, "lead/", {"query": "x", "_limit": 2})) == [1, 2, 3, 4]
    # The first request sends exactly the caller's params: no _skip added.
    assert fake.requests[0] == Request("GET", "lead/", params=(("query", "x"), ("_limit", "2")))
    assert fake.params[1:] == [
        {"query": "x", "_limit": "2", "_skip": "2"},
        {"query": "x", "_limit": "2", "_skip": "4"},
    ]
    assert all(r.method == "GET" and r.path == "lead/" for r in fake.requests)


async def test_skip_paging_stops_when_has_more_is_false() -> None:
    fake = FakeRequester({"data": [1, 2], "has_more": True}, {"data": [3], "has_more": False})
    assert await collect(paginate(fake, "task/")) == [1, 2, 3]
    assert fake.params == [{}, {"_skip": "2"}]


async def test_the_next_skip_adds_to_the_callers_skip() -> None:
    fake = FakeRequester({"data": [1, 2, 3], "has_more": True}, {"data": [4], "has_more": False})
    assert await collect(paginate(fake, "task/", {"_skip": 10})) == [1, 2, 3, 4]
    assert fake.params == [{"_skip": "10"}, {"_skip": "13"}]


async def test_has_more_with_empty_data_ends_the_walk() -> None:
    fake = FakeRequester({"data": [1], "has_more": True}, {"data": [], "has_more": True})
    assert await collect(paginate(fake, "task/")) == [1]
    assert len(fake.requests) == 2  # a third request would ask for _skip=1 again


@pytest.mark.parametrize("has_more", ["false", 1, None])
async def test_has_more_that_is_not_true_ends_the_walk(has_more: Any) -> None:
    fake = FakeRequester({"data": [1], "has_more": has_more})
    assert await collect(paginate(fake, "task/")) == [1]
    assert len(fake.requests) == 1


# --- cursor paging (the event log) ----------------------------------------------------


async def test_cursor_paging_to_a_null_cursor() -> None:
    fake = FakeRequester(
        {"data": [1, 2], "cursor_next": "c1"},
        {"data": [3], "cursor_next": "c2"},
        {"data": [4], "cursor_next": None},
    )
    items = await collect(paginate(fake, "event/", {"object_type": "lead", "_limit": 2}))
    assert items == [1, 2, 3, 4]
    assert fake.params == [
        {"object_type": "lead", "_limit": "2"},
        {"object_type": "lead", "_limit": "2", "_cursor": "c1"},
        {"object_type": "lead", "_limit": "2", "_cursor": "c2"},
    ]
    assert not any("_skip" in p for p in fake.params)


async def test_the_style_is_read_from_the_page_not_guessed() -> None:
    # has_more would keep a skip walk going; cursor_next null ends a cursor walk.
    fake = FakeRequester({"data": [1], "has_more": True, "cursor_next": None})
    assert await collect(paginate(fake, "event/")) == [1]
    assert len(fake.requests) == 1


async def test_a_cursor_walk_drops_a_skip_it_was_given() -> None:
    fake = FakeRequester({"data": [1], "cursor_next": "c1"}, {"data": [], "cursor_next": None})
    assert await collect(paginate(fake, "event/", {"_skip": 0})) == [1]
    assert fake.params == [{"_skip": "0"}, {"_cursor": "c1"}]


async def test_a_repeated_cursor_ends_the_walk() -> None:
    fake = FakeRequester({"data": [1], "cursor_next": "c1"}, {"data": [2], "cursor_next": "c1"})
    assert await collect(paginate(fake, "event/")) == [1, 2]
    assert len(fake.requests) == 2


async def test_empty_cursor_pages_are_skipped_not_taken_for_the_end() -> None:
    fake = FakeRequester(
        {"data": [], "cursor_next": "c1"},
        {"data": [], "cursor_next": "c2"},
        {"data": [1], "cursor_next": None},
    )
    assert await collect(paginate(fake, "event/")) == [1]


@pytest.mark.parametrize("cursor", ["", 5, ["c"]])
async def test_a_cursor_that_is_not_text_ends_the_walk(cursor: Any) -> None:
    fake = FakeRequester({"data": [1], "cursor_next": cursor})
    assert await collect(paginate(fake, "event/")) == [1]
    assert len(fake.requests) == 1


# --- pages that are not pages ---------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"has_more": True},
        {"data": None, "has_more": True},
        {"data": {"a": 1}},
        [1, 2],
        "x",
        None,
    ],
)
async def test_an_answer_without_a_data_list_yields_nothing_and_ends(answer: Any) -> None:
    fake = FakeRequester(answer)
    pager = paginate(fake, "me/")
    assert await collect(pager) == []
    assert len(fake.requests) == 1
    page = await fetch_page(FakeRequester(answer), "me/", {})
    assert page == Page([], False, raw=answer)


async def test_a_later_page_without_data_ends_the_walk_after_earlier_items() -> None:
    fake = FakeRequester({"data": [1, 2], "has_more": True}, {})
    assert await collect(paginate(fake, "task/")) == [1, 2]


# --- Page and next_params -------------------------------------------------------------


async def test_fetch_page_gives_next_params_for_paging_on_demand() -> None:
    fake = FakeRequester(
        {"data": [1, 2], "has_more": True, "total_results": 3},
        {"data": [3], "has_more": False},
    )
    page = await fetch_page(fake, "lead/", {"query": "x", "_limit": 2})
    assert page.data == [1, 2]
    assert page.has_more is True
    assert page.cursor is None
    assert page.next_params == {"query": "x", "_limit": 2, "_skip": 2}
    assert page.raw["total_results"] == 3
    assert page.next_params is not None
    last = await fetch_page(fake, "lead/", page.next_params)
    assert (last.data, last.has_more, last.next_params) == ([3], False, None)
    assert fake.params[1] == {"query": "x", "_limit": "2", "_skip": "2"}


async def test_a_skip_read_back_from_a_query_string_is_understood() -> None:
    fake = FakeRequester({"data": [1, 2], "has_more": True})
    page = await fetch_page(fake, "lead/", {"_skip": "4"})
    assert page.next_params == {"_skip": 6}


def test_a_cursor_page_reports_its_cursor() -> None:
    page = read_list_page({"data": [1], "cursor_next": "c9"}, {"_limit": 50})
    assert (page.cursor, page.has_more) == ("c9", True)
    assert page.next_params == {"_limit": 50, "_cursor": "c9"}
    repeated = read_list_page({"data": [1], "cursor_next": "c9"}, {"_cursor": "c9"})
    assert (repeated.cursor, repeated.has_more, repeated.next_params) == ("c9", False, None)


@pytest.mark.parametrize(
    ("answer", "sent", "expected"),
    [
        # has_more false: the last skip page.
        ({"data": [1], "has_more": False, "total_results": 1}, {}, Page([1], False)),
        # A null cursor: the last cursor page.
        ({"data": [1], "cursor_next": None, "total_results": 1}, {}, Page([1], False)),
        # The cursor sent comes back: the walk ends there.
        (
            {"data": [1], "cursor_next": "c9", "total_results": 1},
            {"_cursor": "c9"},
            Page([1], False, cursor="c9"),
        ),
    ],
)
def test_a_last_page_keeps_the_answer_it_was_read_from(
    answer: dict[str, Any], sent: dict[str, Any], expected: Page
) -> None:
    page = read_list_page(answer, sent)
    assert page == attrs.evolve(expected, raw=answer)
    assert page.raw["total_results"] == 1


def test_a_page_repr_counts_items_instead_of_showing_them() -> None:
    page = Page(["secret-lead"] * 3, True, raw={"data": ["secret-lead"] * 3})
    assert "secret-lead" not in repr(page)
    assert "<3 items>" in repr(page)


async def test_first_page_fetches_one_page_and_pages_start_over() -> None:
    fake = FakeRequester(
        {"data": [1], "has_more": True},
        {"data": [1], "has_more": True},
        {"data": [2], "has_more": False},
    )
    pager = paginate(fake, "lead/", {"_limit": 1})
    first = await pager.first_page()
    assert (first.data, first.next_params) == ([1], {"_limit": 1, "_skip": 1})
    assert len(fake.requests) == 1
    pages = [page async for page in pager.pages()]
    assert [p.data for p in pages] == [[1], [2]]
    assert [p.has_more for p in pages] == [True, False]
    assert fake.params == [{"_limit": "1"}, {"_limit": "1"}, {"_limit": "1", "_skip": "1"}]


# --- laziness, early exit, errors -----------------------------------------------------


async def test_pages_are_fetched_only_when_the_next_item_is_needed() -> None:
    fake = FakeRequester({"data": [1, 2], "has_more": True}, {"data": [3], "has_more": False})
    pager = paginate(fake, "lead/")
    assert len(fake.requests) == 0  # building the pager sends nothing
    assert await anext(pager) == 1
    assert await anext(pager) == 2
    assert len(fake.requests) == 1
    assert await anext(pager) == 3
    assert len(fake.requests) == 2
    with pytest.raises(StopAsyncIteration):
        await anext(pager)
    with pytest.raises(StopAsyncIteration):
        await anext(pager)
    assert len(fake.requests) == 2  # the end is remembered, not asked again


@contextlib.contextmanager
def asyncgens_started() -> Iterator[list[Any]]:
    """Every async generator first iterated inside the block.

    Entered inside the running test: the event loop installs its own hooks when it starts.
    """
    started: list[Any] = []
    old = sys.get_asyncgen_hooks()

    def firstiter(agen: Any) -> None:
        started.append(agen)
        if old.firstiter is not None:
            old.firstiter(agen)

    sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=old.finalizer)
    try:
        yield started
    finally:
        sys.set_asyncgen_hooks(*old)


@pytest.mark.parametrize("walk", ["items", "pages"])
async def test_breaking_out_early_leaves_no_request_and_no_warning(walk: str) -> None:
    fake = FakeRequester({"data": [1, 2], "has_more": True}, {"data": [3], "has_more": False})
    pager = paginate(fake, "lead/")
    with asyncgens_started() as started, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if walk == "items":
            async for _ in pager:
                break
        else:
            async for _ in pager.pages():
                break
        del pager
        gc.collect()
        await asyncio.sleep(0)
    assert caught == []
    assert started == []  # nothing the loop would have to finalize
    assert len(fake.requests) == 1
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_errors_propagate_unchanged_and_asking_again_retries_the_page() -> None:
    error = InternalServerError("down", status=503, method="GET", path="lead/")
    fake = FakeRequester({"data": [1], "has_more": True}, error, {"data": [2], "has_more": False})
    pager = paginate(fake, "lead/")
    assert await anext(pager) == 1
    with pytest.raises(InternalServerError) as info:
        await anext(pager)
    assert info.value is error
    assert await collect(pager) == [2]
    assert fake.params == [{}, {"_skip": "1"}, {"_skip": "1"}]


async def test_an_error_on_the_first_page_propagates() -> None:
    error = NotFoundError("gone", status=404, method="GET", path="lead/")
    with pytest.raises(NotFoundError) as info:
        await collect(paginate(FakeRequester(error), "lead/"))
    assert info.value is error


async def test_two_fetches_at_once_are_refused() -> None:
    fake = FakeRequester({"data": [1], "has_more": False})
    pages = paginate(fake, "lead/").pages()
    first = asyncio.ensure_future(anext(pages))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match=r"^this pager is already fetching a page$"):
        await anext(pages)
    assert (await first).data == [1]
    assert len(fake.requests) == 1


async def test_the_options_go_with_each_page() -> None:
    fake = FakeRequester({"data": [1], "has_more": True}, {"data": [2], "has_more": False})
    await collect(paginate(fake, "lead/", options=derive_options(fake.options, timeout=7.5)))
    assert fake.timeouts == [7.5, 7.5]


async def test_changing_the_callers_params_later_changes_nothing() -> None:
    fake = FakeRequester({"data": [1], "has_more": True}, {"data": [2], "has_more": False})
    params: dict[str, Any] = {"query": "a"}
    pager = paginate(fake, "lead/", params)
    params["query"] = "b"
    assert await anext(pager) == 1
    params["_skip"] = 99
    assert await collect(pager) == [2]
    assert fake.params == [{"query": "a"}, {"query": "a", "_skip": "1"}]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"id__in": []}, "id__in"),
        ({"_skip": -1}, "_skip"),
        ({"_skip": "ten"}, "_skip"),
        ({"_skip": True}, "_skip"),
        ({"_skip": 1.5}, "_skip"),
        ([("query", "x")], "params"),
    ],
)
async def test_bad_params_are_refused_before_any_request(params: Any, field: str) -> None:
    fake = FakeRequester()
    with pytest.raises(ClientValidationError) as info:
        paginate(fake, "lead/", params)
    assert info.value.field == field
    with pytest.raises(ClientValidationError):
        await fetch_page(fake, "lead/", params)
    assert fake.requests == []


# --- every item exactly once, in order ------------------------------------------------


class SkipServer:
    """A list of ``sum(sizes)`` items served in pages of ``sizes``, found by ``_skip``."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.requests = 0

    async def request(
        self,
        request: Request,
        *,
        parse: Callable[[Any], Any] | None = None,
        options: Any = None,
    ) -> Any:
        self.requests += 1
        skip = int(dict(request.params).get("_skip", "0"))
        starts = [sum(self.sizes[:i]) for i in range(len(self.sizes))]
        index = starts.index(skip)  # the walk must ask for a page start
        data = list(range(skip, skip + self.sizes[index]))
        answer = {"data": data, "has_more": index < len(self.sizes) - 1}
        return answer if parse is None else parse(answer)


class CursorServer:
    """The same, served by cursor: page ``i`` is at cursor ``c<i>``."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.requests = 0

    async def request(
        self,
        request: Request,
        *,
        parse: Callable[[Any], Any] | None = None,
        options: Any = None,
    ) -> Any:
        self.requests += 1
        params = dict(request.params)
        assert "_skip" not in params
        index = int(params.get("_cursor", "c0")[1:])
        start = sum(self.sizes[:index])
        last = index == len(self.sizes) - 1
        answer = {
            "data": list(range(start, start + self.sizes[index])),
            "cursor_next": None if last else f"c{index + 1}",
        }
        return answer if parse is None else parse(answer)


# A skip walk ends at an empty page (by design), so only the last page may be empty there.
skip_sizes = (
    st.tuples(st.lists(st.integers(1, 5), max_size=8), st.sampled_from([[], [0]]))
    .map(lambda t: t[0] + t[1])
    .filter(bool)
)
cursor_sizes = st.lists(st.integers(0, 5), min_size=1, max_size=8)


@given(sizes=skip_sizes)
def test_skip_walk_yields_every_item_once_in_order(sizes: list[int]) -> None:
    server = SkipServer(sizes)
    assert asyncio.run(collect(paginate(server, "lead/"))) == list(range(sum(sizes)))  # type: ignore[arg-type]
    assert server.requests == len(sizes)


@given(sizes=cursor_sizes)
def test_cursor_walk_yields_every_item_once_in_order(sizes: list[int]) -> None:
    server = CursorServer(sizes)
    assert asyncio.run(collect(paginate(server, "event/"))) == list(range(sum(sizes)))  # type: ignore[arg-type]
    assert server.requests == len(sizes)


# --- through the real engine ----------------------------------------------------------


async def test_paginate_through_the_client_engine(mocked: aioresponses) -> None:
    url = re.compile(r"^https://api\.close\.com/api/v1/lead/(\?.*)?$")
    mocked.get(url, payload={"data": [{"id": "lead_1"}], "has_more": True})
    mocked.get(url, payload={"data": [{"id": "lead_2"}], "has_more": False})
    async with CloseClient(api_key=API_KEY, base_url=BASE, retry=RetryPolicy.no_wait()) as close:
        items = await collect(paginate(close._engine, "lead/", {"query": "x", "_limit": 1}))
    assert [item["id"] for item in items] == ["lead_1", "lead_2"]
    sent = [dict(r.kwargs["params"]) for reqs in mocked.requests.values() for r in reqs]
    assert sent == [{"query": "x", "_limit": "1"}, {"query": "x", "_limit": "1", "_skip": "1"}]


async def test_event_log_through_the_client_engine(mocked: aioresponses) -> None:
    url = re.compile(r"^https://api\.close\.com/api/v1/event/(\?.*)?$")
    mocked.get(url, payload={"data": [{"id": "ev_1"}], "cursor_next": "abc"})
    mocked.get(url, payload={"data": [{"id": "ev_2"}], "cursor_next": None})
    async with CloseClient(api_key=API_KEY, base_url=BASE, retry=RetryPolicy.no_wait()) as close:
        items = await collect(paginate(close._engine, "event/", {"_limit": 50}))
    assert [item["id"] for item in items] == ["ev_1", "ev_2"]
    sent = [dict(r.kwargs["params"]) for reqs in mocked.requests.values() for r in reqs]
    assert sent == [{"_limit": "50"}, {"_limit": "50", "_cursor": "abc"}]


# --- parse_item -----------------------------------------------------------------------


async def test_parse_item_turns_each_item_into_what_it_returns() -> None:
    fake = FakeRequester({"data": [1, 2], "has_more": True}, {"data": [3], "has_more": False})
    pager = paginate(fake, "lead/", parse_item=lambda item: f"item {item}")
    assert await collect(pager) == ["item 1", "item 2", "item 3"]


async def test_an_item_that_cannot_be_parsed_raises_its_error_and_ends_the_walk() -> None:
    class NotALeadError(Exception):
        pass

    error = NotALeadError("not a lead")

    def parse(item: int) -> int:
        if item == 2:
            raise error
        return item

    fake = FakeRequester({"data": [1, 2, 3], "has_more": True}, {"data": [4], "has_more": False})
    pager = paginate(fake, "lead/", parse_item=parse)
    assert await anext(pager) == 1
    with pytest.raises(NotALeadError) as info:
        await anext(pager)
    assert info.value is error
    # The rest of the page is dropped and no later page is fetched.
    with pytest.raises(StopAsyncIteration):
        await anext(pager)
    assert len(fake.requests) == 1


# --- what a refusal says --------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"_skip": "ten"}, "_skip must be a whole number of at least 0, not str"),
        ({"_skip": 1.5}, "_skip must be a whole number of at least 0, not float"),
        ({"_skip": -1}, "_skip must be a whole number of at least 0, got -1"),
        ([("query", "x")], "params must be a mapping"),
    ],
)
def test_bad_params_say_what_is_wrong(params: Any, message: str) -> None:
    with pytest.raises(ClientValidationError) as info:
        paginate(FakeRequester(), "lead/", params)
    assert str(info.value) == message
