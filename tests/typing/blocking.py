"""What mypy sees of the blocking client: checked by ``mypy --strict`` in the test suite
(tests/test_public_api.py), never run. The same types as the async client's, each call
returning its result instead of an awaitable, paged lists as ``BlockingPager``, bulk verbs
as ``BlockingBulkRun`` and streams as sync iterators."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, assert_type

from close_async import (
    BlockingBulkRun,
    BlockingCloseClient,
    BlockingPager,
    BulkProgress,
    BulkResult,
    Page,
    Response,
)
from close_async.models import Call, CallUpdate, Export, Lead, LeadUpdate


def typed_calls(close: BlockingCloseClient, lead_id: str) -> None:
    assert_type(close.leads.get(lead_id), Lead)
    assert_type(close.leads.update(lead_id, LeadUpdate(name="Acme")), Lead)
    assert_type(close.calls.update("acti_1", CallUpdate(note="Left a voicemail")), Call)
    assert_type(close.activities.calls.get("acti_1"), Call)
    assert_type(close.leads.delete(lead_id), None)


def paging(close: BlockingCloseClient) -> None:
    leads = close.leads.list(limit=10, page_size=5)
    assert_type(leads, BlockingPager[Lead])
    for lead in leads:
        assert_type(lead, Lead)
    first = leads.first_page()
    assert_type(first, Page[Lead])
    assert_type(first.data, list[Lead])
    if first.next_params is not None:
        assert_type(leads.fetch_page(first.next_params), Page[Lead])
    for page in leads.pages():
        assert_type(page, Page[Lead])
    assert_type(close.search({"type": "object_type", "object_type": "lead"}), BlockingPager[Any])
    assert_type(close.paginate("lead/"), BlockingPager[Any])
    assert_type(close.get_page("lead/"), Page[Any])


def bulk(close: BlockingCloseClient) -> None:
    run = close.calls.update_many([("acti_1", CallUpdate(note="x"))], journal="run.journal")
    assert_type(run, BlockingBulkRun[Call])
    with run:
        for result in run:
            assert_type(result, BulkResult[Call])
            assert_type(result.object, Call | None)
        assert_type(run.progress, BulkProgress)
        run.stop()
    assert_type(close.leads.create_many([{"name": "Acme"}]), BlockingBulkRun[Lead])
    assert_type(close.leads.delete_many(["lead_1"]), BlockingBulkRun[None])


def raw_and_views(close: BlockingCloseClient, lead_id: str) -> None:
    raw = close.with_raw_response
    got = raw.leads.get(lead_id)
    assert_type(got, Response[Lead])
    assert_type(got.parse(), Lead)
    assert_type(raw.leads.list(), Response[Page[Lead]])
    assert_type(raw.get("me/"), Response[Any])
    view = close.with_options(timeout=2.0, max_retries=1)
    assert_type(view.leads.get(lead_id), Lead)
    assert_type(view.leads.list(), BlockingPager[Lead])
    assert_type(view.calls.update_many([]), BlockingBulkRun[Call])
    assert_type(view.with_raw_response.leads.get(lead_id), Response[Lead])


def generic_and_exports(close: BlockingCloseClient) -> None:
    assert_type(close.get("me/"), Any)
    assert_type(close.post("lead/", json={"name": "Acme"}), Any)
    assert_type(close.request("GET", "me/"), Any)
    assert_type(close.exports.start("lead"), Export)
    assert_type(close.exports.wait("expo_1"), Export)
    assert_type(close.exports.stream("lead"), Iterator[Any])
    assert_type(close.exports.rows(close.exports.wait("expo_1")), Iterator[Any])
