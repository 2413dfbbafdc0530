"""Walking a ``_skip``-paged list past Close's ``_skip`` cap, by ``date_created`` windows.

Close caps ``_skip`` on each list (a larger one answers 400) and advises slicing deep
walks by date range. :class:`DateSlicer` walks ``[start, end)`` as half-open windows
(``date_created__gte`` / ``date_created__lt``, so no object belongs to two); when a
window's next page would need a ``_skip`` over the cap, the window is split in halves and
each half is walked from ``_skip=0``. The objects already handed out from the split window
are remembered (by id) only until both halves are done, so memory stays bounded by the cap
times the depth of splitting, never by the size of the list.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

import attrs

from .._engine.errors import InvalidRequestError
from .pager import Page

__all__ = ["DateSlicer", "PageSource", "slice_by_date_created"]

T = TypeVar("T")

_SMALLEST = timedelta(milliseconds=1)
"""A window this narrow that still holds more than the cap cannot be sliced further."""


class PageSource(Protocol):
    """What the slicer fetches pages through: a client's ``get_page`` (``CloseClient``)."""

    async def get_page(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = ...,
        path_params: Mapping[str, object] | None = ...,
        deadline: float | None = ...,
    ) -> Page:
        """One page of the list at ``path``."""
        ...


@attrs.frozen
class _Window:
    start: datetime
    end: datetime
    # Ids handed out by an enclosing window that was split before it was done.
    seen: frozenset[str] = frozenset()


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _aware(when: datetime, name: str) -> datetime:
    if not isinstance(when, datetime):
        raise InvalidRequestError(f"{name} must be a datetime", field=name)
    # A naive datetime is taken as UTC, as Close takes one.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class DateSlicer(Generic[T]):
    """Async iterator over every object of a list created in ``[start, end)``.

    Built by :func:`slice_by_date_created`. Each object is given once; windows are walked
    oldest first, pages lazily, one request at a time.
    """

    def __init__(
        self,
        source: PageSource,
        path: str,
        start: datetime,
        end: datetime,
        *,
        max_skip: int,
        params: Mapping[str, Any] | None = None,
        page_size: int = 100,
        parse_item: Callable[[Any], T] | None = None,
        deadline: float | None = None,
    ) -> None:
        start, end = _aware(start, "start"), _aware(end, "end")
        if end <= start:
            raise InvalidRequestError("end must be after start", field="end")
        for name, value in (("max_skip", max_skip), ("page_size", page_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidRequestError(f"{name} must be a positive whole number", field=name)
        self._source = source
        self._path = path
        self._params = {
            k: v for k, v in dict(params or {}).items() if not k.startswith("date_created__")
        }
        self._max_skip = max_skip
        self._page_size = page_size
        self._parse_item = parse_item
        self._deadline = deadline
        self._windows: deque[_Window] = deque([_Window(start, end)])
        self._current: _Window | None = None
        self._given: set[str] = set()  # ids handed out from the current window
        self._skip = 0
        self._items: deque[Any] = deque()
        self.windows_walked = 0
        """How many windows were fetched from (splits included), for progress and tests."""

    def __aiter__(self) -> DateSlicer[T]:
        """The slicer itself (one walk)."""
        return self

    async def __anext__(self) -> T:
        """The next object, fetching pages (and splitting windows) only as needed."""
        while not self._items:
            await self._fill()
        item = self._items.popleft()
        if self._parse_item is None:
            given: T = item
            return given
        return self._parse_item(item)

    async def _fill(self) -> None:
        if self._current is None:
            if not self._windows:
                raise StopAsyncIteration
            self._current = self._windows.popleft()
            self._given = set()
            self._skip = 0
            self.windows_walked += 1
        window = self._current
        query = {
            **self._params,
            "date_created__gte": _stamp(window.start),
            "date_created__lt": _stamp(window.end),
            "_limit": self._page_size,
            "_skip": self._skip,
        }
        page = await self._source.get_page(self._path, params=query, deadline=self._deadline)
        for item in page.data:
            object_id = item.get("id") if isinstance(item, Mapping) else None
            if object_id is not None and (object_id in window.seen or object_id in self._given):
                continue
            if object_id is not None:
                self._given.add(object_id)
            self._items.append(item)
        if not page.has_more or not page.data:
            self._current = None
            return
        following = self._skip + len(page.data)
        if following <= self._max_skip:
            self._skip = following
            return
        if window.end - window.start <= _SMALLEST:
            raise InvalidRequestError(
                f"more than {self._max_skip} objects were created in one "
                f"{_SMALLEST.total_seconds()}s window at {_stamp(window.start)}: "
                "it cannot be sliced further",
                field="max_skip",
            )
        # The halves go first, oldest first, ahead of the windows still waiting.
        seen = window.seen | self._given
        middle = window.start + (window.end - window.start) / 2
        self._windows.appendleft(_Window(middle, window.end, seen))
        self._windows.appendleft(_Window(window.start, middle, seen))
        self._current = None


def slice_by_date_created(
    source: PageSource,
    path: str,
    start: datetime,
    end: datetime,
    *,
    max_skip: int,
    params: Mapping[str, Any] | None = None,
    page_size: int = 100,
    parse_item: Callable[[Any], T] | None = None,
    deadline: float | None = None,
) -> DateSlicer[T]:
    """Every object of the ``_skip``-paged list at ``path`` created in ``[start, end)``.

    ``source`` is the client (``CloseClient`` or a view); ``max_skip`` is the largest
    ``_skip`` the list accepts. Windows of ``date_created`` are walked oldest first and a
    window whose walk would pass ``max_skip`` is split in halves, so "all leads" works at
    any size. Objects are deduplicated by id across a split; ``params`` are sent with every
    page (other filters, ``_fields``). A naive datetime is UTC. Arguments are checked here
    (:class:`InvalidRequestError`); a window narrower than a millisecond that still holds
    more than ``max_skip`` objects raises it too.

    Example::

        leads = close_async.slice_by_date_created(
            close, "lead/", datetime(2015, 1, 1), datetime.now(UTC), max_skip=10_000
        )
        async for lead in leads:
            ...
    """
    return DateSlicer(
        source,
        path,
        start,
        end,
        max_skip=max_skip,
        params=params,
        page_size=page_size,
        parse_item=parse_item,
        deadline=deadline,
    )
