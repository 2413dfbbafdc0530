"""``BlockingPager``: a list's items, page by page, for sync code."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .stepping import Stepper, iterate

if TYPE_CHECKING:
    from .._engine.http.response import Response
    from .._resources.pager import Page, Pager
    from .portal import Portal

__all__ = ["BlockingPager"]

T = TypeVar("T")


class BlockingPager(Generic[T]):
    """Iterator over the items of a list, across pages: ``for lead in close.leads.list()``.

    What a :class:`~close_async.Pager` is to the async client, for the blocking one: pages are
    fetched lazily, one at a time, when the next item is needed; breaking out early leaves
    nothing in flight. :meth:`pages` and :meth:`first_page` start again from the first
    page and give :class:`~close_async.Page` s holding the same objects.
    """

    def __init__(self, portal: Portal, pager: Pager[T]) -> None:
        self._portal = portal
        self._pager = pager
        # The items of a fetched page are handed over together: one loop round trip per
        # page, not per item. Each still comes from the async pager's own __anext__ (its
        # limit, its parsing one item at a time), and only while the page lasts: the next
        # page is fetched when the caller asks for an item past it.
        self._items = Stepper(portal, pager, ready=pager._has_buffered)

    def __iter__(self) -> Iterator[T]:
        """The items (iterating twice continues the same walk, as the async pager does)."""
        return self._items

    def pages(self) -> Iterator[Page[T]]:
        """The walk's pages instead of its items, from the first page."""
        return iterate(self._portal, self._pager.pages())

    def first_page(self) -> Page[T]:
        """Fetch just the first page, for paging on demand (a web view's "next" link).

        Continue with ``pager.fetch_page(page.next_params)`` while ``next_params`` is not
        ``None``, or walk every page with :meth:`pages`.
        """
        return self._portal.run(self._pager.first_page())

    def fetch_page(self, params: Mapping[str, Any]) -> Page[T]:
        """The page that ``params`` names (a page's ``next_params``): exactly one request."""
        return self._portal.run(self._pager.fetch_page(params))

    def _first_page_response(self) -> Response[Page[T]]:
        # What a list of the blocking raw view returns (see Pager._first_page_response).
        return self._portal.run(self._pager._first_page_response())

    def __repr__(self) -> str:
        return f"BlockingPager({self._pager!r})"
