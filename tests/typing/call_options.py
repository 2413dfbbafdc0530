"""What mypy sees of every method's per-call options (``timeout``, ``extra_headers``,
``extra_query``): checked by ``mypy --strict`` in the test suite (tests/test_public_api.py),
never run. A call with options has the type the same call has without them."""

from __future__ import annotations

from typing import Any, assert_type

from close_async import BulkRun, CloseClient, Pager, Timeout
from close_async.models import Call, Lead

HEADERS: dict[str, str | None] = {"X-Request-Id": "abc", "X-TZ-Offset": None}


async def operations(close: CloseClient) -> None:
    lead = await close.leads.get(
        "lead_1", timeout=2.0, extra_headers=HEADERS, extra_query={"_fields": "id,name"}
    )
    assert_type(lead, Lead)
    call = await close.calls.get("acti_1", timeout=Timeout(connect=1.0, total=5.0))
    assert_type(call, Call)
    await close.leads.delete("lead_1", extra_headers={"X-Request-Id": "def"})
    assert_type(close.leads.list(timeout=3, extra_query={"query": "x"}), Pager[Lead])
    assert_type(close.leads.update_many([("lead_1", {"name": "A"})], timeout=2.0), BulkRun[Lead])


async def generic(close: CloseClient) -> None:
    answer = await close.get("me/", timeout=1.5, extra_headers={"X-A": "1"}, extra_query={"a": 1})
    assert_type(answer, Any)
    assert_type(close.paginate("event/", extra_query={"object_type": "lead"}), Pager[Any])
    assert_type(close.search({"type": "and", "queries": []}, timeout=10), Pager[Any])
    view = close.with_options(timeout=2.0, extra_headers={"X-A": "1"}, extra_query={"b": 2})
    assert_type(await view.leads.get("lead_1", extra_query={"c": 3}), Lead)


async def wrong(close: CloseClient) -> None:
    # Each a type error (an unused ignore fails the check under --strict).
    await close.leads.get("lead_1", timeout="2")  # type: ignore[arg-type]
    await close.leads.get("lead_1", extra_headers={"X-A": 1})  # type: ignore[dict-item]
    # The words of 0.x are gone (rename28: keep).
    await close.get("me/", deadline=2.0)  # type: ignore[call-arg]  # rename28: keep
    close.with_options(headers={"X-A": "1"})  # type: ignore[call-arg]  # rename28: keep


async def exports(close: CloseClient) -> None:
    started = await close.exports.start("lead", timeout=5.0, extra_headers={"X-A": "1"})
    await close.exports.wait(started, timeout=Timeout(attempt=10.0, total=600.0))
