"""The blocking client on loopback against the fake Close (issue 29, point 1): typed calls,
paging, search, the generic verbs, raw responses, the same errors, per-call options, views,
exports and bulk verbs, each from plain sync code."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import pytest

from close_async import (
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BlockingBulkRun,
    BlockingCloseClient,
    BlockingPager,
    BulkResult,
    ClientValidationError,
    ConfigurationError,
    NotFoundError,
    Page,
    Response,
    RetryPolicy,
)
from close_async._resources.pager import paginate
from close_async.models import Call, CallUpdate, Export, Lead, LeadUpdate
from close_async.testing import FakeClose, FakeFaults, fake_close_in_thread
from tests.echo_server import EchoServer, echo_server
from tests.fake_requester import FakeRequester

T = TypeVar("T")

LEADS = {"type": "object_type", "object_type": "lead"}


@pytest.fixture
def fake() -> Iterator[FakeClose]:
    with fake_close_in_thread() as server:
        yield server


@pytest.fixture
def close(fake: FakeClose) -> Iterator[BlockingCloseClient]:
    with BlockingCloseClient(
        "test_key", base_url=fake.base_url, retry=RetryPolicy.no_wait()
    ) as client:
        yield client


def queries(fake: FakeClose, method: str, path: str) -> list[list[tuple[str, str]]]:
    """The query (as pairs) of each request the fake got for ``method path``."""
    return [
        parse_qsl(r.query, keep_blank_values=True)
        for r in fake.requests
        if r.method == method and r.path == "/api/v1/" + path
    ]


def in_thread(manager: AbstractAsyncContextManager[T]) -> Iterator[T]:
    """An async context manager entered on a loop thread of its own (for a sync test)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        entered = asyncio.run_coroutine_threadsafe(manager.__aenter__(), loop).result()
        try:
            yield entered
        finally:
            asyncio.run_coroutine_threadsafe(manager.__aexit__(None, None, None), loop).result()
    finally:
        asyncio.run_coroutine_threadsafe(_cancel_the_rest(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def _cancel_the_rest() -> None:
    # A request the server still holds (a test of timeouts) ends here, not at the loop's close.
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    yield from in_thread(echo_server())


# -- typed calls -------------------------------------------------------------------------


def test_typed_get_and_update_return_models_and_land_in_close(
    fake: FakeClose, close: BlockingCloseClient
) -> None:
    (lead_id,) = fake.seed_objects("lead", 1, name="Acme")
    lead = close.leads.get(lead_id)
    assert isinstance(lead, Lead)
    assert (lead.id, lead.name) == (lead_id, "Acme")
    updated = close.leads.update(lead_id, LeadUpdate(name="Beta"))
    assert isinstance(updated, Lead)
    assert updated.name == "Beta"
    assert fake.objects("lead")[lead_id]["name"] == "Beta"

    (call_id,) = fake.seed_calls(1)
    call = close.calls.update(call_id, CallUpdate(note="Left a voicemail"))
    assert isinstance(call, Call)
    assert call.note == "Left a voicemail"
    assert fake.calls[call_id]["note"] == "Left a voicemail"
    assert fake.update_counts[call_id] == 1
    assert close.activities.calls.get(call_id).note == "Left a voicemail"


# -- paging ------------------------------------------------------------------------------


def test_a_list_walks_every_page_lazily_as_sync_code_iterates(
    fake: FakeClose, close: BlockingCloseClient
) -> None:
    ids = fake.seed_objects("lead", 7, name="Acme")
    pager = close.leads.list(page_size=3)
    assert isinstance(pager, BlockingPager)
    assert fake.requests == []  # nothing sent before the first item is asked for
    leads = list(pager)
    assert all(isinstance(lead, Lead) for lead in leads)
    assert [lead.id for lead in leads] == ids
    assert [dict(q).get("_skip", "0") for q in queries(fake, "GET", "lead/")] == [
        "0",
        "3",
        "6",
    ]


def test_limit_asks_for_no_more_than_it_needs(fake: FakeClose, close: BlockingCloseClient) -> None:
    ids = fake.seed_objects("lead", 7)
    assert [lead.id for lead in close.leads.list(limit=5, page_size=3)] == ids[:5]
    assert [dict(q)["_limit"] for q in queries(fake, "GET", "lead/")] == ["3", "2"]


def test_an_early_break_sends_no_further_request_and_a_second_loop_continues(
    fake: FakeClose, close: BlockingCloseClient
) -> None:
    ids = fake.seed_objects("lead", 7)
    pager = close.leads.list(page_size=3)
    for lead in pager:
        assert lead.id == ids[0]
        break
    assert len(queries(fake, "GET", "lead/")) == 1
    # As the async pager: iterating again continues the same walk, losing no item.
    assert [lead.id for lead in pager] == ids[1:]
    assert len(queries(fake, "GET", "lead/")) == 3


def test_first_page_pages_and_fetch_page_give_typed_pages(
    fake: FakeClose, close: BlockingCloseClient
) -> None:
    ids = fake.seed_objects("lead", 5)
    pager = close.leads.list(page_size=2)
    first = pager.first_page()
    assert isinstance(first, Page)
    assert [lead.id for lead in first.data] == ids[:2]
    assert all(isinstance(lead, Lead) for lead in first.data)
    assert first.next_params is not None
    second = pager.fetch_page(first.next_params)
    assert [lead.id for lead in second.data] == ids[2:4]
    pages = list(close.leads.list(page_size=2).pages())
    assert [[lead.id for lead in page.data] for page in pages] == [ids[:2], ids[2:4], ids[4:]]
    assert pages[-1].next_params is None


class NotALeadError(Exception):
    pass


def _parse(item: int) -> int:
    if item == 4:
        raise NotALeadError(f"not a lead: {item}")
    return item


def test_items_before_one_that_cannot_be_parsed_are_yielded_then_its_error(
    close: BlockingCloseClient,
) -> None:
    requester = FakeRequester(
        {"data": [1, 2], "has_more": True},
        {"data": [3, 4, 5], "has_more": True},
        {"data": [6], "has_more": False},
    )
    pager = BlockingPager(close._portal, paginate(requester, "lead/", parse_item=_parse))
    seen: list[int] = []
    with pytest.raises(NotALeadError, match="not a lead: 4"):
        seen.extend(pager)
    assert seen == [1, 2, 3]
    assert list(pager) == []  # the walk is over, as the async pager's
    assert len(requester.requests) == 2  # the third page was never asked for


def test_limit_cuts_a_page_and_ends_the_walk_without_another_request(
    close: BlockingCloseClient,
) -> None:
    requester = FakeRequester(
        {"data": [1, 2, 3], "has_more": True}, {"data": [4, 5, 6], "has_more": True}
    )
    pager = BlockingPager(close._portal, paginate(requester, "lead/", limit=4))
    assert list(pager) == [1, 2, 3, 4]
    assert len(requester.requests) == 2


def test_search_paginate_and_get_page(fake: FakeClose, close: BlockingCloseClient) -> None:
    ids = fake.seed_objects("lead", 5)
    found = close.search(LEADS, page_size=2)
    assert isinstance(found, BlockingPager)
    assert sorted(item["id"] for item in found) == sorted(ids)
    assert [item["id"] for item in close.search(LEADS, limit=3, page_size=2)] == [
        item["id"] for item in list(close.search(LEADS))[:3]
    ]
    walked = close.paginate("lead/", page_size=2)
    assert [item["id"] for item in walked] == ids
    page = close.get_page("lead/", params={"_limit": 2})
    assert [item["id"] for item in page.data] == ids[:2]
    assert page.next_params is not None
    assert [item["id"] for item in close.paginate("lead/").fetch_page(page.next_params).data] == (
        ids[2:4]
    )


# -- generic verbs ---------------------------------------------------------------------------


def test_generic_verbs(fake: FakeClose, close: BlockingCloseClient) -> None:
    created = close.post("lead/", json={"name": "Acme"})
    lead_id = created["id"]
    assert fake.objects("lead")[lead_id]["name"] == "Acme"
    got = close.get("lead/{id}/", path_params={"id": lead_id})
    assert got["name"] == "Acme"
    close.put("lead/{id}/", path_params={"id": lead_id}, json={"name": "Beta"})
    assert fake.objects("lead")[lead_id]["name"] == "Beta"
    assert close.request("GET", f"lead/{lead_id}/")["name"] == "Beta"
    close.delete("lead/{id}/", path_params={"id": lead_id})
    assert lead_id not in fake.objects("lead")


# -- raw responses ---------------------------------------------------------------------------


def test_raw_responses_have_status_headers_and_parse_typed(
    fake: FakeClose, close: BlockingCloseClient
) -> None:
    ids = fake.seed_objects("lead", 3, name="Acme")
    raw = close.with_raw_response
    got = raw.leads.get(ids[0])
    assert isinstance(got, Response)
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/json")
    lead = got.parse()
    assert isinstance(lead, Lead)
    assert lead.id == ids[0]
    first = raw.leads.list(page_size=2)
    assert isinstance(first, Response)
    page = first.parse()
    assert isinstance(page, Page)
    assert [lead.id for lead in page.data] == ids[:2]
    assert all(isinstance(lead, Lead) for lead in page.data)
    assert len(queries(fake, "GET", "lead/")) == 1  # exactly the first page's request
    me = raw.get("lead/{id}/", path_params={"id": ids[1]})
    assert me.status_code == 200
    assert me.parse()["id"] == ids[1]
    assert raw.leads.update(ids[2], {"name": "Beta"}).parse().name == "Beta"


# -- errors ----------------------------------------------------------------------------------


def test_errors_are_the_async_clients_classes(fake: FakeClose, close: BlockingCloseClient) -> None:
    with pytest.raises(NotFoundError) as missing:
        close.leads.get("lead_doesnotexist0000000000000")
    assert isinstance(missing.value, APIStatusError)
    assert missing.value.status == 404
    with pytest.raises(NotFoundError):
        close.get("lead/{id}/", path_params={"id": "lead_doesnotexist0000000000000"})

    before = len(fake.requests)
    with pytest.raises(ClientValidationError) as refused:
        close.leads.list(page_size=0)
    assert refused.value.field == "page_size"
    with pytest.raises(ClientValidationError):
        close.calls.update("", {"note": "x"})  # no id
    with pytest.raises(ClientValidationError):
        close.get("lead/{id}/")  # a path parameter with no value
    assert len(fake.requests) == before  # refused before anything was sent


def test_a_bad_key_raises_authentication_error(fake: FakeClose) -> None:
    with (
        BlockingCloseClient("wrong_key", base_url=fake.base_url) as close,
        pytest.raises(AuthenticationError) as caught,
    ):
        close.leads.list().first_page()
    assert isinstance(caught.value, APIStatusError)
    assert caught.value.status == 401
    assert "wrong_key" not in str(caught.value)


# -- per-call options and views --------------------------------------------------------------


def test_extra_headers_reach_the_server_for_that_call_only(echo: EchoServer) -> None:
    with BlockingCloseClient("test_key", base_url=echo.base_url) as close:
        close.get("echo/", extra_headers={"X-Call": "one"})
        close.get("echo/")
        close.leads.merge(
            {"source": "lead_a", "destination": "lead_b"}, extra_headers={"X-Call": "two"}
        )
        view = close.with_options(extra_headers={"X-View": "v"})
        view.get("echo/")
        view.get("echo/", extra_headers={"X-View": None})
    assert [seen.headers.get("x-call") for seen in echo.seen] == ["one", None, "two", None, None]
    assert [seen.headers.get("x-view") for seen in echo.seen] == [None, None, None, "v", None]


def test_timeout_per_call_and_per_view_bound_the_call(echo: EchoServer) -> None:
    echo.hold = 100  # each request is held until 100 are in flight: they never are
    with BlockingCloseClient("test_key", base_url=echo.base_url) as close:
        with pytest.raises(APITimeoutError):
            close.get("echo/", timeout=0.05)
        with pytest.raises(APITimeoutError):
            close.with_options(timeout=0.05, max_retries=0).leads.get("lead_1")


def test_extra_query_reaches_the_fake_per_call_per_page_and_per_view(
    fake: FakeClose, close: BlockingCloseClient
) -> None:
    (lead_id,) = fake.seed_objects("lead", 1)
    close.leads.get(lead_id, extra_query={"_fields": "id"})
    assert queries(fake, "GET", f"lead/{lead_id}/") == [[("_fields", "id")]]
    list(close.leads.list(extra_query={"x": "1"}))
    assert ("x", "1") in queries(fake, "GET", "lead/")[0]
    view = close.with_options(extra_query={"_fields": "name"})
    assert view.leads.get(lead_id).name is not None
    assert view.get("lead/{id}/", path_params={"id": lead_id}) == {
        "name": fake.objects("lead")[lead_id]["name"]
    }
    assert view.with_raw_response.leads.get(lead_id).status_code == 200
    assert queries(fake, "GET", f"lead/{lead_id}/")[1:] == [[("_fields", "name")]] * 3
    # A view changes nothing else: the client sends as before.
    close.leads.get(lead_id)
    assert queries(fake, "GET", f"lead/{lead_id}/")[-1] == []


def test_bad_view_options_are_refused_in_the_callers_thread(close: BlockingCloseClient) -> None:
    with pytest.raises(ConfigurationError):
        close.with_options(timeout=-1)
    with pytest.raises(ConfigurationError):
        close.with_options(max_retries=-1)


# -- exports ---------------------------------------------------------------------------------


def test_exports_start_wait_rows_and_stream(fake: FakeClose, close: BlockingCloseClient) -> None:
    fake.exports.delay = 0.0
    ids = fake.seed_objects("lead", 12)
    started = close.exports.start("lead")
    assert isinstance(started, Export)
    done = close.exports.wait(started, first_wait=0.001)
    assert done.status == "done"
    assert done.download_url
    assert [row["id"] for row in close.exports.rows(done)] == ids
    assert [row["id"] for row in close.exports.stream("lead", first_wait=0.001)] == ids
    with pytest.raises(ClientValidationError, match="wait for it first"):
        close.exports.rows(started)
    # Leaving a stream half-way closes its download (no connection left behind).
    rows = close.exports.stream("lead", format="csv", first_wait=0.001)
    assert next(iter(rows))["id"] == ids[0]
    rows.close()  # type: ignore[attr-defined]


# -- bulk verbs ------------------------------------------------------------------------------


def test_update_many_results_and_progress(fake: FakeClose, close: BlockingCloseClient) -> None:
    ids = fake.seed_calls(30)
    items = [(call_id, {"note": f"note {n}"}) for n, call_id in enumerate(ids)]
    with close.calls.update_many(items, concurrency=4) as run:
        assert isinstance(run, BlockingBulkRun)
        results = list(run)
        progress = run.progress
    assert all(isinstance(result, BulkResult) for result in results)
    assert sorted(result.index for result in results) == list(range(30))
    assert all(result.state == "done" and isinstance(result.object, Call) for result in results)
    assert progress.succeeded == 30
    assert progress.in_flight == 0
    assert all(fake.calls[call_id]["note"] == f"note {n}" for n, call_id in enumerate(ids))


def test_create_many_and_delete_many(fake: FakeClose, close: BlockingCloseClient) -> None:
    with close.leads.create_many([{"name": f"Lead {n}"} for n in range(5)]) as run:
        created = sorted(run, key=lambda result: result.index)
    assert [result.state for result in created] == ["done"] * 5
    assert all(isinstance(result.object, Lead) for result in created)
    ids = [result.id for result in created]
    assert [fake.objects("lead")[lead_id]["name"] for lead_id in ids] == [
        f"Lead {n}" for n in range(5)
    ]
    with close.leads.delete_many(ids) as deleting:
        deleted = list(deleting)
    assert {result.id for result in deleted if result.state == "done"} == set(ids)
    assert not set(ids) & set(fake.objects("lead"))


def test_stop_pulls_no_more_input_and_reports_every_landed_item(
    fake: FakeClose, close: BlockingCloseClient
) -> None:
    fake.faults = FakeFaults(latency=0.005)
    ids = fake.seed_calls(300)
    pulled: list[str] = []

    def items() -> Iterator[tuple[str, Any]]:
        for call_id in ids:
            pulled.append(call_id)
            yield call_id, {"note": "stopped"}

    results = []
    with close.calls.update_many(items(), concurrency=4) as run:
        for result in run:
            results.append(result)
            if len(results) == 10:
                run.stop()
        progress = run.progress
    assert 10 <= len(results) < 300
    assert all(result.ok for result in results)
    assert progress.pulled == len(results) == len(pulled)
    landed = sum(1 for call_id in ids if fake.update_counts.get(call_id))
    assert landed == len(results)  # nothing landed that was not reported


def test_leaving_a_run_early_stops_it(fake: FakeClose, close: BlockingCloseClient) -> None:
    fake.faults = FakeFaults(latency=0.005)
    ids = fake.seed_calls(300)
    with close.calls.update_many([(i, {"note": "x"}) for i in ids], concurrency=4) as run:
        first = next(run)
    assert first.ok
    landed = sum(1 for call_id in ids if fake.update_counts.get(call_id))
    assert landed < 300
    assert run.progress.in_flight == 0
