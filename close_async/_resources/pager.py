"""Walking Close's lists page by page: one walker for all three paging styles.

Close pages its lists three ways (``_skip``/``_limit`` with ``has_more``; the event log's
``_cursor`` with ``cursor_next``; Advanced Filtering's ``cursor`` in a POST body). Each way
is read into the same :class:`Page`, whose ``next_params`` are what fetches the next page;
:class:`PageIterator` and :class:`Pager` only ever follow ``next_params``, so the walking
logic (laziness, the result limit, the end of the walk) lives in one place.

The iterators are classes, not async generators: breaking out of ``async for`` leaves no
suspended generator to finalize, so nothing is left in flight and no warning appears when
the event loop shuts down.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar, overload

import attrs

from .._engine.errors import ClientValidationError
from .._engine.http.request import Request, encode_params
from .._engine.http.response import Response, parsed_with

if TYPE_CHECKING:
    from .._engine.options import RequestOptions
    from .._engine.requester import Requester

__all__ = [
    "Page",
    "PageFetcher",
    "PageIterator",
    "PageSizing",
    "Pager",
    "checked_limit",
    "checked_page_size",
    "fetch_page",
    "list_pager",
    "page_words",
    "paginate",
    "read_cursor_page",
    "read_list_page",
]


T = TypeVar("T")


def _items_repr(data: list[Any]) -> str:
    # A page can hold hundreds of objects: a repr in a log line shows how many, not them.
    return f"<{len(data)} items>"


@attrs.frozen
class Page(Generic[T]):
    """One page of a list, in whichever style Close paged it.

    ``data``: the items, the same objects iterating the pager yields (``Lead`` s from
    ``close.leads.list()``; decoded JSON from an untyped list). ``has_more``: whether
    another page can be fetched (false at the end, and when the walk would loop: a
    repeated cursor, or ``has_more`` with no items).
    ``cursor``: the event log's ``cursor_next`` or search's ``cursor``, else ``None``.
    ``next_params``: the parameters that fetch the next page (the query for a GET list, the
    body for a search), ``None`` at the end. ``raw``: the decoded answer as Close sent it
    (for keys such as ``total_results``).
    """

    data: list[T] = attrs.field(repr=_items_repr)
    has_more: bool
    cursor: str | None = None
    next_params: dict[str, Any] | None = None
    raw: Any = attrs.field(default=None, repr=False)


PageFetcher: TypeAlias = Callable[[dict[str, Any]], Awaitable["Page[Any]"]]
"""Fetches the page that a set of parameters names (``fetch_page`` bound to a path, ...)."""


def check_positive(value: object, name: str) -> int:
    """``value`` when a whole number of at least 1, else :class:`ClientValidationError`
    naming ``name`` (a count or a size: ``limit``, ``page_size``, ``max_skip``)."""
    # bool is an int to Python, but True is no count.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ClientValidationError(f"{name} must be a positive whole number", field=name)
    return value


def checked_limit(limit: object) -> int | None:
    """A walk's ``limit`` (the most items it yields in all; ``None``: every item), refused
    with :class:`ClientValidationError` naming ``limit`` unless a positive whole number."""
    if limit is None:
        return None
    return check_positive(limit, "limit")


def checked_page_size(page_size: object, maximum: int) -> int | None:
    """A walk's ``page_size`` (what each request asks for; ``None``: Close's default),
    refused with :class:`ClientValidationError` naming ``page_size`` unless a whole number
    from 1 to the endpoint's ``maximum`` (Close answers 400 to more)."""
    if page_size is None:
        return None
    page_size = check_positive(page_size, "page_size")
    if page_size > maximum:
        raise ClientValidationError(
            f"page_size must be at most {maximum}, got {page_size}", field="page_size"
        )
    return page_size


class PageSizing:
    """How a walk sizes each request: ``key`` carries the size (``_limit``), ``page_size``
    is the caller's (``None``: not sent, Close's default), ``maximum`` the endpoint's.

    With a ``limit``, no request asks for more than the items still wanted: a limit of 3
    sends ``_limit=3`` whatever the page size.
    """

    # A plain class, not attrs: attrs generates (and compiles) methods when the module loads.
    __slots__ = ("key", "maximum", "page_size")

    def __init__(self, key: str, page_size: int | None, maximum: int) -> None:
        self.key: str = key
        self.page_size: int | None = page_size
        self.maximum: int = maximum

    def sized(self, params: dict[str, Any], remaining: int | None) -> dict[str, Any]:
        """``params`` with the size the next request asks for, given the items still wanted."""
        size = self.page_size
        if remaining is not None and remaining < (size or self.maximum):
            size = remaining
        # A page read back carries the size it was fetched with: replaced, or not sent.
        rest = {k: v for k, v in params.items() if k != self.key}
        # The size goes first, where the document lists `_limit`.
        return rest if size is None else {self.key: size, **rest}


def _data_of(raw: Any) -> list[Any] | None:
    data = raw.get("data") if isinstance(raw, Mapping) else None
    return data if isinstance(data, list) else None


def read_cursor_page(
    raw: Any, sent: Mapping[str, Any], *, answer_key: str, param_key: str
) -> Page[Any]:
    """Read a cursor-paged answer: the cursor under ``answer_key`` goes in ``param_key``.

    ``sent`` are the parameters that fetched ``raw``. An answer without a ``data`` list
    is an empty last page, never an error: Close's document declares many lists with an
    empty body.
    """
    data = _data_of(raw)
    if data is None:
        return Page([], False, raw=raw)
    cursor = raw.get(answer_key)
    if not isinstance(cursor, str) or not cursor:
        return Page(data, False, raw=raw)
    if cursor == sent.get(param_key):
        # The same cursor again would fetch the same page forever.
        return Page(data, False, cursor=cursor, raw=raw)
    # The event log refuses _skip; a cursor walk never carries one.
    following = {key: value for key, value in sent.items() if key != "_skip"}
    following[param_key] = cursor
    return Page(data, True, cursor=cursor, next_params=following, raw=raw)


def read_list_page(raw: Any, sent: Mapping[str, Any]) -> Page[Any]:
    """Read the answer to a GET list, in the style the answer itself shows.

    A ``cursor_next`` key means cursor paging (the event log); otherwise ``_skip`` paging,
    the next ``_skip`` being the one sent (default 0) plus the items received. ``has_more``
    with no items ends the walk (the next ``_skip`` would be the same).
    """
    data = _data_of(raw)
    if data is None:
        return Page([], False, raw=raw)
    if "cursor_next" in raw:
        return read_cursor_page(raw, sent, answer_key="cursor_next", param_key="_cursor")
    # `is True`: a truthy oddity ("false", 1) must not keep a walk going.
    if raw.get("has_more") is not True or not data:
        return Page(data, False, raw=raw)
    following = {**sent, "_skip": _skip_of(sent) + len(data)}
    return Page(data, True, next_params=following, raw=raw)


def _skip_of(params: Mapping[str, Any]) -> int:
    value = params.get("_skip")
    if value is None:
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit():
        # A web app may hand back next_params read from its own query string.
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ClientValidationError(
            f"_skip must be a whole number of at least 0, not {type(value).__name__}",
            field="_skip",
        )
    if value < 0:
        raise ClientValidationError(
            f"_skip must be a whole number of at least 0, got {value}", field="_skip"
        )
    return value


def _checked_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ClientValidationError("params must be a mapping", field="params")
    # A copy: a caller changing its dict mid-walk must not change the pages fetched.
    copied = dict(params)
    _skip_of(copied)
    return copied


async def fetch_page(
    requester: Requester,
    path: str,
    params: Mapping[str, Any],
    *,
    options: RequestOptions | None = None,
    template: str | None = None,
    group: str | None = None,
) -> Page[Any]:
    """GET one page of the list at ``path`` with query ``params``, read as a :class:`Page`.

    ``path`` must already be validated (relative to the API base, e.g. ``"lead/"``);
    ``template`` and ``group`` are the list's path template and rate-limit group, when the
    caller knows them (see :class:`~close_async._engine.http.request.Request`); ``options``,
    the call's own (default the requester's).
    The style is read from the answer (see :func:`read_list_page`). For paging on demand
    (a web app's "next" button), send ``page.next_params`` back here; ``None`` means the
    end. Bad ``params`` raise :class:`ClientValidationError` before anything is sent; the
    requester's errors propagate unchanged. On a raw view's requester
    (``close.with_raw_response``) the answer is the :class:`Response`, whose ``parse()``
    reads this page (see :meth:`Pager._first_page_response`).
    """
    sent = _checked_params(params)
    pairs = encode_params(sent)
    if group is None:
        request = Request("GET", path, pairs, template=template)
    else:
        request = Request("GET", path, pairs, template=template, group=group)
    return await requester.request(
        request, parse=functools.partial(read_list_page, sent=sent), options=options
    )


class PageIterator:
    """Async iterator over the :class:`Page` s of one walk (as read, items unparsed),
    fetched one at a time.

    Each page is fetched only when asked for; the walk ends after a page with no
    ``next_params``, or once ``limit`` items were given (the last page cut to fit, and
    with ``sizing`` asked for no more than it needs). If a fetch raises, asking again
    retries that same page.
    """

    def __init__(
        self,
        fetch: PageFetcher,
        params: Mapping[str, Any],
        *,
        limit: int | None = None,
        sizing: PageSizing | None = None,
    ) -> None:
        self._fetch = fetch
        self._params: dict[str, Any] | None = dict(params)  # None once the walk is over
        self._remaining = limit
        self._sizing = sizing
        self._fetching = False

    def __aiter__(self) -> PageIterator:
        """The iterator itself (one walk)."""
        return self

    async def __anext__(self) -> Page[Any]:
        """The next page; ``StopAsyncIteration`` at the end, with no request sent."""
        # A limit reached also ends here: the page that reached it lost its next_params.
        if self._params is None:
            raise StopAsyncIteration
        if self._fetching:
            # Two concurrent fetches would both get the same page: every item twice.
            raise RuntimeError("this pager is already fetching a page")
        params = _sized(self._params, self._sizing, self._remaining)
        self._fetching = True
        try:
            page = await self._fetch(params)
        finally:
            self._fetching = False
        if self._remaining is not None:
            page = _within(page, self._remaining)
            self._remaining -= len(page.data)
        self._params = page.next_params
        return page


def _sized(
    params: dict[str, Any], sizing: PageSizing | None, remaining: int | None
) -> dict[str, Any]:
    """A request's ``params``, sized by ``sizing`` (when the list has one) for the
    ``remaining`` items a walk still wants."""
    return params if sizing is None else sizing.sized(params, remaining)


def _within(page: Page[Any], limit: int | None) -> Page[Any]:
    """``page`` cut to the ``limit`` items a walk has left (``None``: no limit); a page that
    reaches it is the walk's last."""
    if limit is None or len(page.data) < limit:
        return page
    # The server may send more than asked; the caller's limit still holds.
    return attrs.evolve(page, data=page.data[:limit], has_more=False, next_params=None)


class Pager(Generic[T]):
    """Async iterator over the items of a list, across pages: ``async for x in pager``.

    Built by :func:`paginate` (GET lists), ``search`` (Advanced Filtering) or a sliced
    walk (``DateSlicer``, a subclass). Pages are fetched lazily, one at
    a time, when the next item is needed; breaking out early leaves nothing in flight.
    Iterating the pager itself is one walk; :meth:`pages` and :meth:`first_page` start
    again from the first page and give :class:`Page` s holding the same objects. Items are
    the decoded JSON objects, or what ``parse_item`` makes of each (``close.calls.list``
    yields ``Call`` s); an item it cannot parse raises its error and ends the walk (the
    items before it are yielded first; a page holding it raises instead).
    """

    def __init__(
        self,
        fetch: PageFetcher,
        params: Mapping[str, Any],
        *,
        limit: int | None = None,
        sizing: PageSizing | None = None,
        parse_item: Callable[[Any], T] | None = None,
    ) -> None:
        self._fetch = fetch
        self._params = dict(params)
        self._limit = limit
        self._sizing = sizing
        self._parse_item = parse_item
        self._walk: AsyncIterator[Page[Any]] | None = None
        self._over = False
        # A deque, so each item is let go of as soon as it is handed out.
        self._items: deque[Any] = deque()

    def __aiter__(self) -> Pager[T]:
        """The pager itself (iterating it twice continues the same walk)."""
        return self

    async def __anext__(self) -> T:
        """The next item, fetching the next page only when this one is used up."""
        while not self._items:
            if self._over:
                raise StopAsyncIteration
            if self._walk is None:
                self._walk = self._page_walk()
            # Empty pages that still have a next page are skipped, not taken for the end.
            self._items.extend((await anext(self._walk)).data)
        if self._parse_item is None:
            item: T = self._items.popleft()
            return item
        # Items are parsed one at a time, as handed out: those before one that cannot be
        # parsed are still yielded.
        parsed = _parsed(self._parse_item, self._items.popleft())
        if isinstance(parsed, _Unparsable):
            # A traceback keeps its frames' locals, this pager among them: with the rest of
            # the page still queued, the error would pin it for as long as the caller keeps it.
            self._items.clear()
            self._over = True
            raise parsed.error
        return parsed

    def _has_buffered(self) -> bool:
        # Whether the next item is at hand without a request: the blocking pager takes a
        # fetched page's items in one loop round trip while this holds.
        return bool(self._items)

    def _page_walk(self) -> AsyncIterator[Page[Any]]:
        # The walk's pages as read (items unparsed); a sliced walk has its own.
        return PageIterator(self._fetch, self._params, limit=self._limit, sizing=self._sizing)

    def pages(self) -> AsyncIterator[Page[T]]:
        """The walk's pages instead of its items, from the first page (``async for``).

        Each page's ``data`` holds the objects iteration yields; a page holding an item
        that cannot be parsed raises that item's error, and the walk ends there.
        """
        return _TypedPages(self._page_walk(), self._parse_item)

    async def first_page(self) -> Page[T]:
        """Fetch just the first page, for paging on demand (a web app's "next" button).

        Continue with ``await pager.fetch_page(page.next_params)`` while ``next_params``
        is not ``None`` (it can be kept between requests: it is plain JSON-ready data), or
        walk every page with :meth:`pages`.
        """
        return await anext(self.pages())

    async def fetch_page(self, params: Mapping[str, Any]) -> Page[T]:
        """The page that ``params`` names, typed like :meth:`first_page`: a page's
        ``next_params``, perhaps read back from your own query string.

        Exactly one request, with exactly ``params`` (the list's other arguments are in
        them already). Bad ``params`` are refused before anything is sent.
        """
        return _typed(await self._fetch(dict(params)), self._parse_item)

    async def _first_page_response(self) -> Response[Page[T]]:
        """The first page's request, answered raw, on the pager of a raw view's group:
        ``.parse()`` gives the page :meth:`first_page` gives. Exactly one request.

        What ``close.with_raw_response.leads.list()`` returns (``raw.raw_first_page``);
        private, since on any other pager there is no raw answer to return.
        """
        # Sized as a walk's first request is: the same page first_page() fetches.
        answer: object = await self._fetch(_sized(self._params, self._sizing, self._limit))
        if not isinstance(answer, Response):
            raise TypeError("only a list of close.with_raw_response answers raw")
        limit, parse_item = self._limit, self._parse_item
        return parsed_with(answer, lambda page: _typed(_within(page, limit), parse_item))


class _TypedPages(Generic[T]):
    """The pages of a walk with each item parsed (a class, as :class:`PageIterator` is)."""

    def __init__(
        self, walk: AsyncIterator[Page[Any]], parse_item: Callable[[Any], T] | None
    ) -> None:
        self._walk = walk
        self._parse_item = parse_item
        self._over = False

    def __aiter__(self) -> _TypedPages[T]:
        return self

    async def __anext__(self) -> Page[T]:
        if self._over:
            raise StopAsyncIteration
        page = await anext(self._walk)
        try:
            return _typed(page, self._parse_item)
        except BaseException:
            # As item iteration does: an item that cannot be parsed ends the walk.
            self._over = True
            raise


def _typed(page: Page[Any], parse_item: Callable[[Any], T] | None) -> Page[T]:
    if parse_item is None:
        return page
    data: list[T] = []
    for item in page.data:
        parsed = _parsed(parse_item, item)
        if isinstance(parsed, _Unparsable):
            error = parsed.error
            # The traceback keeps this frame: let go of the page before raising.
            del page, data, item, parsed
            raise error
        data.append(parsed)
    return attrs.evolve(page, data=data)


@attrs.frozen
class _Unparsable:
    error: Exception


def _parsed(parse_item: Callable[[Any], T], item: Any) -> T | _Unparsable:
    # The error is returned, not raised: this frame (and its item) stays out of its traceback.
    try:
        return parse_item(item)
    except Exception as exc:  # re-raised by the pager: this only moves where it is raised
        del item
        return _Unparsable(exc)


@overload
def paginate(
    requester: Requester,
    path: str,
    params: Mapping[str, Any] | None = ...,
    *,
    limit: int | None = ...,
    page_size: int | None = ...,
    maximum: int | None = ...,
    options: RequestOptions | None = ...,
    template: str | None = ...,
    group: str | None = ...,
) -> Pager[Any]: ...


@overload
def paginate(
    requester: Requester,
    path: str,
    params: Mapping[str, Any] | None = ...,
    *,
    parse_item: Callable[[Any], T],
    limit: int | None = ...,
    page_size: int | None = ...,
    maximum: int | None = ...,
    options: RequestOptions | None = ...,
    template: str | None = ...,
    group: str | None = ...,
) -> Pager[T]: ...


def paginate(
    requester: Requester,
    path: str,
    params: Mapping[str, Any] | None = None,
    *,
    parse_item: Callable[[Any], Any] | None = None,
    limit: int | None = None,
    page_size: int | None = None,
    maximum: int | None = None,
    options: RequestOptions | None = None,
    template: str | None = None,
    group: str | None = None,
) -> Pager[Any]:
    """A :class:`Pager` over the items of the GET list at ``path`` (any paging style).

    ``limit``: the most items yielded in all (``None``: every one). ``page_size``: each
    request's ``_limit``, from 1 to ``maximum`` (the list's cap, when known; a ``_limit``
    in ``params`` is then taken as the page size; without one ``params`` go as given). The first
    request sends ``params`` (no ``_skip`` is added: the event log refuses it) with that
    size; later ones follow each page's ``next_params``, none asking for more items than
    ``limit`` still needs. ``options`` (one call's: its timeout, headers, query) go with
    each page's request; ``parse_item`` turns each item into a model. ``path`` must
    already be validated; ``template`` and ``group`` go with each page's request
    (:func:`fetch_page`). Bad arguments raise
    :class:`ClientValidationError` here, before anything is sent.
    """
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


def list_pager(
    requester: Requester,
    path: str,
    params: Mapping[str, Any] | None,
    *,
    parse_item: Callable[[Any], Any] | None,
    limit: int | None,
    page_size: int | None,
    maximum: int | None,
    options: RequestOptions | None,
    template: str | None,
    group: str | None,
) -> Pager[Any]:
    """:func:`paginate` for a caller whose ``parse_item`` may be ``None`` (no overloads)."""
    first = first_params(params)
    total, sizing = page_words(first, limit, page_size, maximum)
    fetch = page_fetcher(requester, path, options=options, template=template, group=group)
    return Pager(fetch, first, limit=total, sizing=sizing, parse_item=parse_item)


def page_words(
    params: dict[str, Any], limit: object, page_size: object, maximum: int | None
) -> tuple[int | None, PageSizing | None]:
    """The checked ``limit`` and the :class:`PageSizing` of a GET list's walk (``None``
    without a ``maximum``: no page size then). With one, a ``_limit`` in ``params`` is
    taken out of them as the page size (giving both is an error). Raises
    :class:`ClientValidationError`."""
    checked = checked_limit(limit)
    if maximum is None:
        # Sent as given: a list with no known cap (its _limit, if any, is the caller's).
        if page_size is not None:
            raise ClientValidationError("this list takes no page_size", field="page_size")
        return checked, None
    given = params.pop("_limit", None)
    if given is not None:
        if page_size is not None:
            raise ClientValidationError("give _limit or page_size, not both", field="page_size")
        page_size = given
    return checked, PageSizing("_limit", checked_page_size(page_size, maximum), maximum)


def first_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """A walk's first parameters: a checked copy of ``params``, refused here (before the
    caller iterates) if they cannot be sent."""
    checked = _checked_params(params)
    # Encoded once now only to refuse what cannot be sent (an empty list); each page
    # encodes its own parameters when it is fetched.
    encode_params(checked)
    return checked


def page_fetcher(
    requester: Requester,
    path: str,
    *,
    options: RequestOptions | None = None,
    template: str | None = None,
    group: str | None = None,
) -> PageFetcher:
    """:func:`fetch_page` bound to one list: what a :class:`Pager` or a slicer fetches with."""

    async def fetch(page_params: dict[str, Any]) -> Page[Any]:
        return await fetch_page(
            requester, path, page_params, options=options, template=template, group=group
        )

    return fetch
