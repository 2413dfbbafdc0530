"""What mypy sees of typed pages: checked by ``mypy --strict`` in the test suite
(tests/test_public_api.py), never run."""

from __future__ import annotations

from typing import Any, assert_type

from close_async import CloseClient, Lead, Page, Pager


async def pages(close: CloseClient) -> None:
    pager = close.leads.list()
    assert_type(pager, Pager[Lead])
    first = await pager.first_page()
    assert_type(first, Page[Lead])
    assert_type(first.data, list[Lead])
    assert_type(first.has_more, bool)
    assert_type(first.next_params, dict[str, Any] | None)
    async for page in pager.pages():
        assert_type(page, Page[Lead])
        for lead in page.data:
            assert_type(lead, Lead)
    if first.next_params is not None:
        assert_type(await pager.fetch_page(first.next_params), Page[Lead])
