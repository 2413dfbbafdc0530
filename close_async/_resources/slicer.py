"""Walking a ``_skip``-paged list past Close's ``_skip`` cap, by ``date_created`` windows.

Close caps ``_skip`` on each list (a larger one answers 400) and advises slicing deep
walks by date range. A sliced walk (:class:`DateSlicer`) cuts ``[start, end)`` into
half-open windows (``date_created__gte`` / ``date_created__lt``, so no object belongs to
two); a window whose walk would need a ``_skip`` over the cap is split in halves and each
half is walked from ``_skip=0``. Whether it would is asked once, after a window's first
page says there is more: one object at ``_skip=max_skip`` means it would (so a big window
costs two requests before it is split, not ``max_skip / page_size``); a window that still
reaches the cap (objects created meanwhile) is split then. The objects already handed out from
the split window are remembered (by id) only until both halves are done, so memory stays
bounded by the cap times the depth of splitting, never by the size of the list.

:class:`SliceOptions` holds the walk's settings, checked once when built; the typed lists
that can be sliced take it as ``sliced=`` (:func:`paginate_or_slice`), and so does
``close.paginate`` for any path.
"""

from __future__ import annotations

import datetime as _dt
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, overload

import attrs

from .._engine.errors import ClientValidationError
from .._engine.http.request import encode_params
from .._engine.http.response import Response
from .pager import (
    Page,
    PageFetcher,
    Pager,
    check_positive,
    checked_limit,
    checked_page_size,
    list_pager,
    page_fetcher,
)

if TYPE_CHECKING:
    from .._engine.options import RequestOptions
    from .._engine.requester import Requester

__all__ = [
    "DEFAULT_MAX_SKIP",
    "DateSlicer",
    "SliceOptions",
    "paginate_or_slice",
]

T = TypeVar("T")

_SMALLEST = timedelta(milliseconds=1)
"""A window this narrow that still holds more than the cap cannot be sliced further."""

DEFAULT_MAX_SKIP = 10_000
"""The cap a sliced walk assumes unless told: Close does not publish its caps (they vary by
list), and a lower guess only costs a few more requests, so set yours if a 400 says so."""

_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""Where a walk with no start begins: before any Close object was created."""

_PAGE_SIZE = 100

# The filters a sliced walk sets itself: the window's bounds come from these two...
_BOUNDS = {"start": "date_created__gte", "end": "date_created__lt"}
# ...and these cannot be combined with windows of its own.
_OWNED = ("date_created", "date_created__gt", "date_created__lte", "_skip")


def _when(value: object, name: str) -> datetime:
    # A naive datetime (or a date, or an ISO string without offset) is taken as UTC, as
    # Close takes one.
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ClientValidationError(
                f"{name} must be a datetime or an ISO 8601 string, got {value!r}", field=name
            ) from None
    if isinstance(value, _dt.date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise ClientValidationError(f"{name} must be a datetime", field=name)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _start(value: object) -> datetime | None:
    return None if value is None else _when(value, "start")


def _end(value: object) -> datetime | None:
    return None if value is None else _when(value, "end")


def _positive(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None or attribute.name != "page_size":  # page_size may be left out
        check_positive(value, attribute.name)


@attrs.frozen(kw_only=True)
class SliceOptions:
    """How a sliced walk cuts its list into ``date_created`` windows.

    ``start`` / ``end``: the half-open range walked; when not given, the list's own
    ``date_created__gte`` / ``date_created__lt`` filter, else 2000-01-01 and the time the
    walk is built (giving both the option and the filter is an error). A naive datetime is
    UTC. ``max_skip``: the largest ``_skip`` the list accepts (default
    :data:`DEFAULT_MAX_SKIP`; Close's caps vary by list and are not published).
    ``page_size``: items a page (``_limit``), when not given the list's ``limit``, else 100.
    Bad values raise :class:`~close_async.ClientValidationError` naming the field, here.
    """

    start: datetime | None = attrs.field(default=None, converter=_start)
    end: datetime | None = attrs.field(default=None, converter=_end)
    max_skip: int = attrs.field(default=DEFAULT_MAX_SKIP, validator=_positive)
    page_size: int | None = attrs.field(default=None, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ClientValidationError("end must be after start", field="end")


@attrs.frozen
class _Plan:
    """A checked walk: the range, the cap, the page size and the other filters."""

    start: datetime
    end: datetime
    max_skip: int
    page_size: int
    params: dict[str, Any]


def _plan(
    options: SliceOptions,
    params: Mapping[str, Any] | None,
    page_size: int | None = None,
    maximum: int | None = None,
) -> _Plan:
    # One rule for every bound: the option, else the list's filter, else the default.
    rest = {k: v for k, v in dict(params or {}).items() if v is not None}
    for key in _OWNED:
        if key in rest:
            what = "_skip" if key == "_skip" else "date_created windows"
            raise ClientValidationError(
                f"{key} cannot be combined with a sliced walk, which sets its own {what} "
                "(bound it with date_created__gte / __lt)",
                field=key,
            )
    bounds: dict[str, datetime] = {}
    for name, key in _BOUNDS.items():
        given = getattr(options, name)
        filtered = rest.pop(key, None)
        if given is not None and filtered is not None:
            raise ClientValidationError(f"give {key} or the slice's {name}, not both", field=key)
        if filtered is not None:
            given = _when(filtered, key)
        if given is not None:
            bounds[name] = given
    limit = rest.pop("_limit", None)
    if limit is not None:
        check_positive(limit, "_limit")
        page_size = limit if page_size is None else page_size
    if page_size is not None and options.page_size is not None:
        raise ClientValidationError(
            "give the list's page_size or the slice's, not both", field="page_size"
        )
    page_size = options.page_size if page_size is None else page_size
    if maximum is not None:
        checked_page_size(page_size, maximum)
    start = bounds.get("start", _EARLIEST)
    end = bounds.get("end") or datetime.now(UTC)
    if end <= start:
        raise ClientValidationError("end must be after start", field="end")
    # Encoded once now only to refuse, before the caller iterates, what cannot be sent.
    encode_params(rest)
    return _Plan(start, end, options.max_skip, page_size or _PAGE_SIZE, rest)


@attrs.frozen
class _Window:
    start: datetime
    end: datetime
    # Ids handed out by an enclosing window that was split before it was done.
    seen: frozenset[str] = frozenset()


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _SliceWalk:
    """The pages of one sliced walk, oldest window first, each with only unseen items."""

    def __init__(self, fetch: PageFetcher, plan: _Plan, limit: int | None = None) -> None:
        self._fetch = fetch
        self._plan = plan
        self._remaining = limit  # items still wanted (None: every one)
        self._windows: deque[_Window] = deque([_Window(plan.start, plan.end)])
        self._current: _Window | None = None
        self._given: set[str] = set()  # ids handed out from the current window
        self._skip = 0
        self._fetching = False
        self.windows_walked = 0

    def __aiter__(self) -> _SliceWalk:
        return self

    async def __anext__(self) -> Page[Any]:
        if self._current is None:
            if not self._windows:
                raise StopAsyncIteration
            self._current = self._windows.popleft()
            self._given = set()
            self._skip = 0
            self.windows_walked += 1
        if self._fetching:
            # Two concurrent fetches would both get the same page: every item twice.
            raise RuntimeError("this sliced walk is already fetching a page")
        self._fetching = True
        try:
            return await self._next_page(self._current)
        finally:
            self._fetching = False

    def _query(self, window: _Window, skip: int, limit: int) -> dict[str, Any]:
        return {
            **self._plan.params,
            "date_created__gte": _stamp(window.start),
            "date_created__lt": _stamp(window.end),
            "_limit": limit,
            "_skip": skip,
        }

    async def _overflows(self, window: _Window) -> bool:
        # One object at _skip=max_skip means the walk would pass the cap: splitting now
        # costs this one request, where finding out by walking re-reads max_skip objects.
        probe = await self._fetch(self._query(window, self._plan.max_skip, 1))
        return bool(probe.data)

    async def _next_page(self, window: _Window) -> Page[Any]:
        plan = self._plan
        size = plan.page_size
        if self._remaining is not None:
            # No request asks for more than the limit still needs.
            size = min(size, self._remaining)
        page = await self._fetch(self._query(window, self._skip, size))
        following = self._skip + len(page.data)
        more_here = page.has_more and bool(page.data)
        # Probed before any id is recorded: if the probe fails, asking again refetches
        # this same page and hands its items out then.
        split = more_here and (
            following > plan.max_skip or (self._skip == 0 and await self._overflows(window))
        )
        fresh = []
        for item in page.data:
            object_id = item.get("id") if isinstance(item, Mapping) else None
            if object_id is not None and (object_id in window.seen or object_id in self._given):
                continue
            if object_id is not None:
                self._given.add(object_id)
            fresh.append(item)
        if self._remaining is not None:
            fresh = fresh[: self._remaining]
            self._remaining -= len(fresh)
        if self._remaining == 0:
            self._current = None
            self._windows.clear()
        elif not more_here:
            self._current = None
        elif split:
            self._split(window)
        else:
            self._skip = following
        more = self._current is not None or bool(self._windows)
        # No next_params: a sliced walk's state is its windows, not one query.
        return Page(fresh, more, raw=page.raw)

    def _split(self, window: _Window) -> None:
        if window.end - window.start <= _SMALLEST:
            raise ClientValidationError(
                f"more than {self._plan.max_skip} objects were created in one "
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


class DateSlicer(Pager[T]):
    """A :class:`~close_async.Pager` over every object of a list, walked by ``date_created``
    windows past the ``_skip`` cap (see the module docstring).

    Built by a typed list's ``sliced=`` or ``close.paginate(..., sliced=)`` (their
    ``limit`` and ``page_size`` hold here too). Each object is given once; windows are walked oldest
    first, pages lazily, one request at a time.
    ``pages()`` gives the walk's pages (their ``next_params`` are ``None``: a sliced walk
    goes on through ``pages()``, not by sending one page's parameters back, so
    :meth:`fetch_page` is refused).
    """

    def __init__(
        self,
        fetch: PageFetcher,
        options: SliceOptions,
        *,
        params: Mapping[str, Any] | None = None,
        parse_item: Callable[[Any], T] | None = None,
        limit: int | None = None,
        page_size: int | None = None,
        maximum: int | None = None,
    ) -> None:
        self._plan = _plan(options, params, page_size, maximum)
        super().__init__(
            fetch, self._plan.params, limit=checked_limit(limit), parse_item=parse_item
        )

    def _page_walk(self) -> AsyncIterator[Page[Any]]:
        # The windows' pages, from the first window.
        return _SliceWalk(self._fetch, self._plan, self._limit)

    async def fetch_page(self, params: Mapping[str, Any]) -> Page[T]:
        """Refused: a sliced walk's state is its windows, which no parameters name."""
        raise TypeError("a sliced walk goes on through pages(), not by fetching one page")

    async def _first_page_response(self) -> Response[Page[T]]:
        """Refused: a sliced walk's first page is not one request's answer to its arguments
        (it fetches a window of its own), so a raw view's list takes no ``sliced=``."""
        raise ClientValidationError(
            "sliced= walks date windows, not one request: "
            "close.with_raw_response lists answer their first page without it",
            field="sliced",
        )

    @property
    def windows_walked(self) -> int:
        """How many windows the item walk fetched from (splits included), for progress."""
        walk = self._walk
        return walk.windows_walked if isinstance(walk, _SliceWalk) else 0


def _options(sliced: object) -> SliceOptions:
    if sliced is True:
        return SliceOptions()
    if isinstance(sliced, SliceOptions):
        return sliced
    raise ClientValidationError(
        f"sliced must be True, False or a SliceOptions, not {type(sliced).__name__}",
        field="sliced",
    )


@overload
def paginate_or_slice(
    requester: Requester,
    path: str,
    params: Mapping[str, Any] | None,
    sliced: bool | SliceOptions,
    *,
    limit: int | None = ...,
    page_size: int | None = ...,
    maximum: int | None = ...,
    options: RequestOptions | None = ...,
    template: str | None = ...,
    group: str | None = ...,
) -> Pager[Any]: ...


@overload
def paginate_or_slice(
    requester: Requester,
    path: str,
    params: Mapping[str, Any] | None,
    sliced: bool | SliceOptions,
    *,
    parse_item: Callable[[Any], T],
    limit: int | None = ...,
    page_size: int | None = ...,
    maximum: int | None = ...,
    options: RequestOptions | None = ...,
    template: str | None = ...,
    group: str | None = ...,
) -> Pager[T]: ...


def paginate_or_slice(
    requester: Requester,
    path: str,
    params: Mapping[str, Any] | None,
    sliced: bool | SliceOptions,
    *,
    parse_item: Callable[[Any], Any] | None = None,
    limit: int | None = None,
    page_size: int | None = None,
    maximum: int | None = None,
    options: RequestOptions | None = None,
    template: str | None = None,
    group: str | None = None,
) -> Pager[Any]:
    """A typed list's pager: :func:`~close_async._resources.pager.paginate`, or with
    ``sliced`` (``True`` or a :class:`SliceOptions`) a :class:`DateSlicer` over the same
    list and filters, with the same ``limit`` and ``page_size``; ``options`` (the call's
    own) go with each page's request. Checked here, before anything is sent."""
    if sliced is False:
        return list_pager(
            requester,
            path,
            params,
            parse_item=parse_item,
            limit=limit,
            page_size=page_size,
            maximum=maximum,
            options=options,
            template=template,
            group=group,
        )
    fetch = page_fetcher(requester, path, options=options, template=template, group=group)
    return DateSlicer(
        fetch,
        _options(sliced),
        params=params,
        parse_item=parse_item,
        limit=limit,
        page_size=page_size,
        maximum=maximum,
    )
