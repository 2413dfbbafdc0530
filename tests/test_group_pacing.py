"""429 pacing by endpoint group on every path, not only on calls.

Close limits per endpoint group (method and resource). A 429 on ``GET lead`` must hold back
the next ``GET lead`` until Close's reset, and must not hold back ``GET contact`` or a PUT
to the same resource. Order at the server, not wall-clock time, is what these tests check.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from aioresponses import aioresponses

from close_async import CloseClient, RateLimitError, RetryPolicy
from close_async._engine.http.request import (
    Request,
    build_request,
    template_group,
    with_method_override,
)
from close_async._resources.generic import GenericVerbs
from tests.fake_requester import FakeRequester

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


# Ids without a digit or a capital letter: nothing in them says "id" to a guess by shape.
SCHEDLINK_A = "schedlink_xyzabc"
SCHEDLINK_B = "schedlink_defghi"


@pytest.mark.parametrize("via", ["typed method", "generic verb with path_params"])
async def test_two_ids_of_one_template_share_one_group(mocked: aioresponses, via: str) -> None:
    # A 429 asking for a day on one scheduling link pauses GET scheduling_link/{id}/ for
    # every id: the next call, for another object, is refused at once, never sent.
    mocked.get(
        f"{BASE}scheduling_link/{SCHEDLINK_A}/",
        status=429,
        headers={"ratelimit": "limit=10, remaining=0, reset=86400"},
        payload={"error": "slow down"},
    )
    mocked.get(f"{BASE}scheduling_link/{SCHEDLINK_B}/", payload={"id": SCHEDLINK_B})

    async with CloseClient("k", base_url=BASE, retry=RetryPolicy.no_wait()) as close:

        async def get(link_id: str) -> Any:
            if via == "typed method":
                return await close.scheduling_links.get(link_id)
            return await close.get("scheduling_link/{id}/", path_params={"id": link_id})

        with pytest.raises(RateLimitError):
            await get(SCHEDLINK_A)
        with pytest.raises(RateLimitError) as caught:
            await get(SCHEDLINK_B)
        assert 86000 < (caught.value.retry_after or 0) <= 86401
        assert close.rate_limiter.snapshot("GET scheduling_link").paused_for > 86000

    sent = [str(url) for (_, url) in mocked.requests]
    assert sent == [f"{BASE}scheduling_link/{SCHEDLINK_A}/"]


def test_a_generic_path_with_path_params_takes_its_group_from_the_template() -> None:
    for link_id in (SCHEDLINK_A, SCHEDLINK_B, "schedlink_3fK9"):
        request = build_request("GET", "scheduling_link/{id}/", path_params={"id": link_id})
        assert request.group == "GET scheduling_link"
    nested = build_request(
        "PUT", "/custom_field/{kind}/{id}", path_params={"kind": "lead", "id": "abc"}
    )
    assert nested.group == "PUT custom_field"


async def test_a_generic_list_with_path_params_takes_its_group_from_the_template() -> None:
    fake = FakeRequester({"data": [], "has_more": False}, {"data": [], "has_more": False})
    verbs = GenericVerbs(fake)
    for link_id in (SCHEDLINK_A, SCHEDLINK_B):
        pager = verbs.paginate("scheduling_link/{id}/", path_params={"id": link_id})
        assert [item async for item in pager] == []
    assert [r.group for r in fake.requests] == ["GET scheduling_link"] * 2
    assert [r.template for r in fake.requests] == ["scheduling_link/{id}/"] * 2


GENERATED = Path(__file__).resolve().parent.parent / "close_async/_resources/generated"
_CALL = re.compile(r"(build_request|paginate_or_slice|paginate)\((.*?)\n        \)", re.DOTALL)


def test_every_generated_operation_writes_its_template_and_group() -> None:
    # The generator writes each operation's group as a literal, the group of its template:
    # no request of a typed method has its group worked out from a concrete path.
    seen = 0
    for module in sorted(GENERATED.glob("*.py")):
        for verb, arguments in _CALL.findall(module.read_text()):
            group = re.search(r'group="([^"]*)"', arguments)
            assert group is not None, f"{module.name}: {verb} without a group"
            method = "GET" if verb != "build_request" else arguments.split('"')[1]
            template = re.search(r'(?:template=)?"([a-z_/{}]*/)"', arguments)
            assert template is not None, f"{module.name}: {verb} without a template"
            assert group[1] == template_group(method, template[1])
            seen += 1
    assert seen > 250
