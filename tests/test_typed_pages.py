"""Typed pages (issue 28, point 1): ``first_page()`` and ``pages()`` hold the same parsed
objects iteration yields, on loopback with the fake Close and with a scripted requester."""

from __future__ import annotations

import pytest

from close_async import CloseClient, Lead, Page
from close_async._resources.pager import paginate
from close_async.testing import FakeClose
from tests.fake_requester import FakeRequester


async def test_first_page_holds_leads_not_dicts(fake: FakeClose, close: CloseClient) -> None:
    ids = fake.seed_objects("lead", 3, name="Acme")
    first = await close.leads.list().first_page()
    assert isinstance(first, Page)
    assert all(isinstance(lead, Lead) for lead in first.data)
    assert [lead.id for lead in first.data] == ids
    assert first.has_more is False
    assert first.next_params is None
    # The answer as Close sent it stays on the page, in raw dicts.
    assert [item["id"] for item in first.raw["data"]] == ids


async def test_pages_yield_typed_pages_with_what_iteration_yields(
    fake: FakeClose, close: CloseClient
) -> None:
    ids = fake.seed_objects("lead", 5, name="Acme")
    pages = [page async for page in close.leads.list(skip=0).pages()]
    items = [lead async for lead in close.leads.list(skip=0)]
    assert all(isinstance(lead, Lead) for page in pages for lead in page.data)
    assert [lead for page in pages for lead in page.data] == items
    assert [lead.id for lead in items] == ids


async def test_fetch_page_continues_on_demand_with_typed_pages() -> None:
    fake = FakeRequester({"data": [1, 2], "has_more": True}, {"data": [3], "has_more": False})
    pager = paginate(fake, "lead/", {"_limit": 2}, parse_item=lambda item: f"item {item}")
    first = await pager.first_page()
    assert first.data == ["item 1", "item 2"]
    assert first.next_params == {"_limit": 2, "_skip": 2}
    second = await pager.fetch_page(first.next_params)
    assert second.data == ["item 3"]
    assert second.next_params is None
    assert fake.params == [{"_limit": "2"}, {"_limit": "2", "_skip": "2"}]


async def test_a_page_with_an_item_that_cannot_be_parsed_raises_its_error_and_ends_pages() -> None:
    # As iteration does: the item's error, and the walk is over (no later page fetched).
    class NotALeadError(Exception):
        pass

    error = NotALeadError("not a lead")

    def parse(item: int) -> int:
        if item == 3:
            raise error
        return item

    fake = FakeRequester(
        {"data": [1, 2], "has_more": True},
        {"data": [3, 4], "has_more": True},
        {"data": [5], "has_more": False},
    )
    pages = paginate(fake, "lead/", parse_item=parse).pages()
    assert (await anext(pages)).data == [1, 2]
    with pytest.raises(NotALeadError) as info:
        await anext(pages)
    assert info.value is error
    with pytest.raises(StopAsyncIteration):
        await anext(pages)
    assert len(fake.requests) == 2


def test_a_typed_page_repr_stays_short() -> None:
    page = Page([f"lead {n}" for n in range(500)], True, next_params={"_skip": 500})
    assert repr(page) == (
        "Page(data=<500 items>, has_more=True, cursor=None, next_params={'_skip': 500})"
    )
