"""429 pacing by endpoint group on every path, not only on calls.

Close limits per endpoint group (method and resource). A 429 on ``GET lead`` must hold back
the next ``GET lead`` until Close's reset, and must not hold back ``GET contact`` or a PUT
to the same resource. Order at the server, not wall-clock time, is what these tests check.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aioresponses import aioresponses

from close_async import CloseClient, RetryPolicy
from close_async._engine.protocol import Request, with_method_override

BASE = "https://api.close.test/api/v1/"
LEAD_ID = "lead_3fXh0mYvKZTrXMbmVSdVbL"


def test_groups_leave_ids_out_whatever_the_resource() -> None:
    assert Request("GET", f"lead/{LEAD_ID}/").group == "GET lead"
    assert Request("PUT", f"lead/{LEAD_ID}/").group == "PUT lead"
    assert Request("GET", "lead/").group == "GET lead"
    assert Request("GET", "contact/cont_9zzAbc1/").group == "GET contact"
    assert Request("GET", "custom_field/lead/cf_Abc123xyz/").group == "GET custom_field/lead"
    assert (
        Request("POST", "activity/status_change/lead/").group == "POST activity/status_change/lead"
    )
    # A long GET sent as a POST with a method override stays in the GET group.
    long = Request("GET", "lead/", params=(("id__in", ",".join([LEAD_ID] * 120)),))
    overridden = with_method_override(long, BASE)
    assert overridden.method == "POST"
    assert overridden.group == "GET lead"


async def test_a_429_on_one_group_holds_that_group_only(mocked: aioresponses) -> None:
    order: list[str] = []
    first_refused = asyncio.Event()

    def record(name: str) -> Any:
        def callback(url: Any, **kwargs: Any) -> None:
            order.append(name)
            if name == "lead 429":
                first_refused.set()

        return callback

    mocked.get(
        f"{BASE}lead/",
        status=429,
        headers={"ratelimit": "limit=10, remaining=0, reset=0.4"},
        payload={"error": "slow down"},
        callback=record("lead 429"),
    )
    mocked.get(f"{BASE}lead/", payload={"data": []}, callback=record("lead"))
    mocked.get(f"{BASE}contact/", payload={"data": []}, callback=record("contact"))
    mocked.put(f"{BASE}lead/{LEAD_ID}/", payload={"id": LEAD_ID}, callback=record("lead put"))

    async with CloseClient("k", base_url=BASE, retry=RetryPolicy.no_wait()) as close:
        lead = asyncio.create_task(close.get("lead/"))
        await first_refused.wait()
        # While GET lead waits out Close's reset, other groups go at once.
        await close.get("contact/")
        await close.put("lead/{id}/", path_params={"id": LEAD_ID}, json={"name": "x"})
        assert not lead.done()
        assert await lead == {"data": []}

    assert order == ["lead 429", "contact", "lead put", "lead"]
    assert close.stats.retries["rate_limited"] == 1


@pytest.mark.parametrize("path", ["lead/", "event/", "data/search/"])
async def test_every_path_counts_in_the_client_stats(mocked: aioresponses, path: str) -> None:
    method = "POST" if path == "data/search/" else "GET"
    mocked.add(f"{BASE}{path}", method, payload={"data": [], "cursor": None, "has_more": False})
    async with CloseClient("k", base_url=BASE) as close:
        if method == "POST":
            assert [
                r async for r in close.search({"type": "object_type", "object_type": "lead"})
            ] == []
        else:
            assert [item async for item in close.paginate(path)] == []
        assert close.stats.requests == 1
        assert close.stats.responses[200] == 1
