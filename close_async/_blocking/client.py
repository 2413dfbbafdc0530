"""``BlockingCloseClient``: the async client, for sync code (Celery tasks, Django views,
scripts), on the same engine.

Nothing here sends a request: every method waits for the same method of a
:class:`~close_async.CloseClient` running on a loop thread the blocking client owns (see
:mod:`.portal`). One client per process holds one connection pool and one limiter, shared by
every thread that uses it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Generic, Self, TypeVar

from .._client import DEFAULT_BASE_URL, CloseClient
from .._engine.config import DEFAULT_MAX_RESPONSE_SIZE, Timeout
from .._engine.errors import ConfigurationError
from .._engine.ratelimit.limiter import RateLimiter
from .._engine.retry import RetryEvent, RetryPolicy
from .generated._root import BlockingResources, BlockingResourcesWithRawResponse
from .generic import BlockingGenericVerbs
from .portal import Portal
from .raw import blocking_raw_operation

if TYPE_CHECKING:
    from .._client import CloseClientView
    from .._client import _Surface as AsyncSurface
    from .._engine.auth.oauth import TokenProvider
    from .._engine.engine import ClientStats

__all__ = ["BlockingCloseClient", "BlockingCloseClientView", "BlockingRawResponseView"]

S = TypeVar("S")
V = TypeVar("V")

RateLimiterFactory = Callable[[], RateLimiter]
"""A callable building a limiter: called once in each process that uses the client."""


class _Derived(Generic[S, V]):
    """What ``derive`` makes of ``source()``, made again only when that changes (a forked
    child has its own client, so its own views of it)."""

    def __init__(self, source: Callable[[], S], derive: Callable[[S], V]) -> None:
        self._source = source
        self._derive = derive
        self._made: tuple[S, V] | None = None

    def __call__(self) -> V:
        base = self._source()
        made = self._made
        if made is None or made[0] is not base:
            made = self._made = (base, self._derive(base))
        return made[1]


class _BlockingSurface(BlockingGenericVerbs, BlockingResources):
    """What the blocking client and every view of it offer: the verbs, paging, search and
    resources of the async client, each call waited for in the calling thread."""

    _surface: Callable[[], AsyncSurface]

    def __init__(self, portal: Portal, surface: Callable[[], AsyncSurface]) -> None:
        self._portal = portal
        self._surface = surface

    @property
    def stats(self) -> ClientStats:
        """Counters of the client's requests, answers and retries (see
        :class:`~close_async.ClientStats`), shared by the client, its views and its threads."""
        return self._surface().stats

    def with_options(
        self,
        *,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
    ) -> BlockingCloseClientView:
        """A view of this client whose requests use these options; nothing else changes.

        The words of ``CloseClient.with_options``: ``timeout`` (seconds for each whole
        call, or a :class:`~close_async.Timeout`), ``max_retries`` or ``retry``,
        ``extra_headers`` and ``extra_query``. The view shares the client's loop thread,
        pool, limiter and stats. Bad values raise
        :class:`~close_async.ConfigurationError` here.

        Example, in a Django view::

            fast = close.with_options(timeout=2.0, max_retries=1)
            lead = fast.leads.get(lead_id)
        """

        def derive(surface: AsyncSurface) -> CloseClientView:
            return surface.with_options(
                timeout=timeout,
                max_retries=max_retries,
                retry=retry,
                extra_headers=extra_headers,
                extra_query=extra_query,
            )

        view = _Derived(self._surface, derive)
        view()  # checked now, in the caller's thread, as the async client checks
        return BlockingCloseClientView(self._portal, view)

    @functools.cached_property
    def with_raw_response(self) -> BlockingRawResponseView:
        """The same calls, returning a :class:`~close_async.Response` (status, headers,
        rate-limit info, and ``.parse()`` for the usual result, typed) instead of the parsed
        result: ``close.with_raw_response.leads.get(lead_id)`` is a ``Response[Lead]``.

        A list (``close.with_raw_response.leads.list()``) returns its first page's response
        (``Response[Page[Lead]]``). As on the async client, the helpers that send several
        requests (bulk verbs, ``exports.wait``, ...), ``paginate``, ``get_page`` and
        ``search`` are not on it.
        """
        surface = self._surface
        raw = BlockingCloseClientView(self._portal, lambda: surface().with_raw_response._resources)
        return BlockingRawResponseView(raw)


class BlockingCloseClientView(_BlockingSurface):
    """A view of a :class:`BlockingCloseClient` with other options (see ``with_options``).

    It shares the client's loop thread, pool, limiter and stats; closing the client closes
    it too.
    """

    def __repr__(self) -> str:
        return "BlockingCloseClientView()"


class BlockingRawResponseView(BlockingResourcesWithRawResponse):
    """``close.with_raw_response`` of the blocking client: every one-request call,
    answering with a :class:`~close_async.Response`."""

    def __init__(self, raw: BlockingCloseClientView) -> None:
        self._resources = raw
        self.request = blocking_raw_operation(raw.request)
        self.get = blocking_raw_operation(raw.get)
        self.post = blocking_raw_operation(raw.post)
        self.put = blocking_raw_operation(raw.put)
        self.delete = blocking_raw_operation(raw.delete)

    def __repr__(self) -> str:
        return "BlockingRawResponseView()"


class BlockingCloseClient(_BlockingSurface):
    """A blocking client for Close's API, for sync code: share one per process.

    It takes the words of :class:`~close_async.CloseClient` (but ``session``: an aiohttp
    session belongs to one event loop) and offers its whole surface, each call returning
    when Close has answered: ``close.calls.update(...)``, ``close.leads.list()`` (a
    :class:`BlockingPager`), ``close.calls.update_many(...)`` (a :class:`BlockingBulkRun`,
    used in ``with``), the generic verbs, ``with_options`` and ``with_raw_response``; the
    errors are the same classes.

    Every call runs on an event loop in a thread the client owns, started on first use, on
    the one :class:`~close_async.CloseClient` of the process: one connection pool and one
    rate limiter shared by every thread (safe from many threads at once). Ctrl-C during a
    call cancels it on the loop, leaking no connection and no limiter slot. After
    ``os.fork()`` (Celery's prefork pool), the child builds its own loop and client on
    first use. ``rate_limiter`` may therefore be a factory (``lambda:
    RedisRateLimiter(...)``), called once in each process that makes calls; a limiter
    object is refused (:class:`~close_async.ConfigurationError`) in a child forked after
    the parent made calls, since its state belongs to the parent's loop. Callbacks
    (``on_retry``, a bulk run's ``on_progress``, ``settle``) run on the loop thread:
    calling the blocking client from one raises ``RuntimeError`` instead of waiting for
    itself.

    Example::

        with BlockingCloseClient(api_key="api_...") as close:
            call = close.calls.update("acti_...", CallUpdate(note="Left a voicemail"))
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        oauth_token: str | None = None,
        token_provider: TokenProvider | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | RateLimiterFactory | None = None,
        max_connections: int = 64,
        on_retry: Callable[[RetryEvent], None] | None = None,
        tz_offset: float | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        telemetry: bool = True,
    ) -> None:
        def make_client(forked: bool) -> CloseClient:
            limiter: RateLimiter | None
            if rate_limiter is None or _is_factory(rate_limiter):
                limiter = rate_limiter() if rate_limiter is not None else None  # type: ignore[operator]
            elif forked:
                raise ConfigurationError(
                    "rate_limiter: a limiter object cannot follow the client into a forked "
                    "process (its state belongs to the parent's event loop); pass a factory, "
                    "such as rate_limiter=lambda: RedisRateLimiter(...)"
                )
            else:
                limiter = rate_limiter  # type: ignore[assignment]
            return CloseClient(
                api_key,
                oauth_token=oauth_token,
                token_provider=token_provider,
                base_url=base_url,
                timeout=timeout,
                retry=retry,
                rate_limiter=limiter,
                max_connections=max_connections,
                on_retry=on_retry,
                tz_offset=tz_offset,
                max_response_size=max_response_size,
                telemetry=telemetry,
            )

        # Built now, in the caller's thread: bad settings raise here, as CloseClient's do.
        first = make_client(forked=False)
        self._repr = repr(first).replace("CloseClient(", "BlockingCloseClient(", 1)
        portal = Portal(first, make_client)
        super().__init__(portal, portal.client)

    def __repr__(self) -> str:
        return self._repr

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return self._portal.client().base_url

    @property
    def credentials_fingerprint(self) -> str:
        """A short hash of the credentials: safe to log, and to name a shared rate budget."""
        return self._portal.client().credentials_fingerprint

    @property
    def rate_limiter(self) -> RateLimiter:
        """The limiter pacing this process's requests."""
        return self._portal.client().rate_limiter

    def close(self) -> None:
        """Close the connection pool and the limiter, and end the loop thread. Safe to call
        twice; a call made afterwards raises ``RuntimeError``."""
        self._portal.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _is_factory(value: object) -> bool:
    # A class is a factory too, though it has the protocol's methods (as functions).
    return isinstance(value, type) or (callable(value) and not isinstance(value, RateLimiter))
