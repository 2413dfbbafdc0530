"""``CloseClient``: one shared client per app, a thin layer over the request engine.

It checks the settings, builds the engine (transport, limiter, retry policy) and hangs the
resources on it; every request goes through :class:`~close_async._engine.engine.Engine`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs

from ._engine.auth.credentials import Credentials, check_base_url
from ._engine.closing import AsyncClosing
from ._engine.config import DEFAULT_MAX_RESPONSE_SIZE, Timeout
from ._engine.engine import ClientStats, Engine
from ._engine.errors import ConfigurationError
from ._engine.options import RequestOptions, derive_options
from ._engine.ratelimit.limiter import RateLimiter
from ._engine.ratelimit.local import LocalRateLimiter
from ._engine.requester import OptionsRequester, Requester
from ._engine.retry import RetryEvent, RetryPolicy
from ._engine.telemetry.hooks import make_telemetry
from ._resources.generated._root import Resources, ResourcesWithRawResponse
from ._resources.generic import GenericVerbs
from ._resources.raw import raw_operation

if TYPE_CHECKING:
    import aiohttp

    from ._engine.auth.oauth import TokenProvider
    from ._engine.http.transport import Transport

__all__ = ["DEFAULT_BASE_URL", "ClientStats", "CloseClient", "CloseClientView", "RawResponseView"]

DEFAULT_BASE_URL = "https://api.close.com/api/v1/"
_USER_AGENT = "close-async/0.1"


class _Surface(GenericVerbs, Resources):
    """What the client and every view of it offer: the verbs, paging, search, resources.

    The resource groups (``close.leads``, ``close.activities.notes``, ...) come from
    :class:`Resources`, generated from Close's OpenAPI document; each is built the first
    time it is read, on this surface's requester (so a view's groups use its options).
    """

    def __init__(self, requester: Requester, options: RequestOptions, engine: Engine) -> None:
        super().__init__(requester)
        self._options = options
        self._engine = engine

    @property
    def stats(self) -> ClientStats:
        """Counters of the client's requests, answers and retries (see :class:`ClientStats`),
        shared by the client and all its views."""
        return self._engine.stats

    def with_options(
        self,
        *,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        extra_headers: Mapping[str, str | None] | None = None,
        extra_query: Mapping[str, object] | None = None,
    ) -> CloseClientView:
        """A view of this client whose requests use these options; nothing else changes.

        The view shares the session, limiter and stats, and has the same verbs and
        resources (``view.calls``, ``view.get``, ...); making one costs no connection.
        The words are those every method takes for one call, plus two:

        - ``timeout``: seconds for each whole call (retries and rate-limiter waits
          included), or a :class:`Timeout` for its phases too (its ``total`` the whole call).
        - ``extra_headers``: added to those sent (a name given ``None`` is removed); never
          shared with another view. ``Authorization`` and framing headers cannot be set.
        - ``extra_query``: merged into every request's query (this value wins over the
          method's own; ``None`` leaves the parameter out).
        - ``max_retries``: retries after the first attempt, for faults and 429s alike
          (``0`` fails at once). ``retry``: a whole :class:`RetryPolicy` instead.

        A call's own options apply on top of the view's. Bad values raise
        :class:`ConfigurationError` here.

        Example, in a web handler::

            fast = close.with_options(timeout=2.0, max_retries=1)
            lead = await fast.get("lead/{id}/", path_params={"id": lead_id})
        """
        options = derive_options(
            self._options,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            extra_headers=extra_headers,
            extra_query=extra_query,
        )
        return CloseClientView(self._engine, options)

    @functools.cached_property
    def with_raw_response(self) -> RawResponseView:
        """The same calls, returning a :class:`Response` (status, headers, rate-limit info,
        and ``.parse()`` for the usual result, typed) instead of the parsed result.

        Every operation of every group (``close.with_raw_response.leads.get(...)`` is a
        ``Response[Lead]``), a list giving its first page's (``Response[Page[Lead]]``), and
        the generic verbs (``Response[Any]``). The helpers that send several requests (bulk
        verbs, ``exports.wait``, ...), paging and search are not on it.

        Example: ``response = await close.with_raw_response.get("me/")``.
        """
        return RawResponseView(CloseClientView(self._engine, attrs.evolve(self._options, raw=True)))


class RawResponseView(ResourcesWithRawResponse):
    """``close.with_raw_response``: every one-request call, answering with a :class:`Response`.

    ``raw`` is a view of the client whose options say so: each of its requests is answered
    raw (the engine's switch), and only its requests, so no other call, concurrent or
    nested, sees it. Errors are raised as by the plain call; only a success comes back raw.
    The groups are generated (:class:`ResourcesWithRawResponse`); the verbs are the view's.
    """

    _resources: _Surface

    def __init__(self, raw: _Surface) -> None:
        self._resources = raw
        self.request = raw_operation(raw.request)
        self.get = raw_operation(raw.get)
        self.post = raw_operation(raw.post)
        self.put = raw_operation(raw.put)
        self.delete = raw_operation(raw.delete)

    def __repr__(self) -> str:
        return "RawResponseView()"


class CloseClientView(_Surface):
    """A view of a :class:`CloseClient` with other options (see ``CloseClient.with_options``).

    It shares the client's session, limiter and stats; closing the client closes it too.
    """

    def __init__(self, engine: Engine, options: RequestOptions) -> None:
        super().__init__(OptionsRequester(engine, options), options, engine)

    def __repr__(self) -> str:
        return f"CloseClientView({self._options!r})"


class CloseClient(AsyncClosing, _Surface):
    """An asyncio client for Close's API. Share one per application.

    Credentials: ``api_key`` (HTTP Basic), ``oauth_token`` (a fixed Bearer token), or
    ``token_provider`` (OAuth tokens that change: an :class:`OAuthRefresher`, or an async
    callable returning the current access token, asked for each request and once more
    after a 401); with none, the ``CLOSE_API_KEY`` environment variable. They never appear
    in a repr, log or error.

    Settings: ``timeout`` (:class:`Timeout`), ``retry`` (:class:`RetryPolicy`),
    ``rate_limiter`` (any :class:`RateLimiter`; default a :class:`LocalRateLimiter` that
    learns Close's limits), ``max_connections`` (pool size; match it to your concurrency),
    ``session`` (your own ``aiohttp.ClientSession``, left open on close), ``on_retry``
    (called with a :class:`RetryEvent` before each retry), ``tz_offset`` (hours from UTC,
    e.g. ``-4`` or ``5.5``, sent as ``X-TZ-Offset`` so Close reads date filters in that zone),
    ``max_response_size`` (bytes, after decompression, default 32 MiB: a bigger answer raises
    :class:`ResponseTooLargeError` and its connection is dropped), ``telemetry`` (``True``:
    trace and measure every call through OpenTelemetry's global providers when
    ``opentelemetry-api`` is installed, the ``[otel]`` extra; ``False``: never).

    Every endpoint is reachable: ``close.calls`` (typed), the generic verbs ``get``,
    ``post``, ``put``, ``delete`` and ``request``, ``paginate`` and ``get_page`` for any list,
    ``search`` for Advanced Filtering; ``with_options(...)`` makes a view with other
    timeouts, retries or headers, ``with_raw_response`` one that returns :class:`Response`.

    Example::

        async with CloseClient(api_key="api_...") as close:
            call = await close.calls.update("acti_...", CallUpdate(note="Left a voicemail"))
            lead = await close.get("lead/{id}/", path_params={"id": "lead_..."})
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
        rate_limiter: RateLimiter | None = None,
        max_connections: int = 64,
        session: aiohttp.ClientSession | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        tz_offset: float | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        telemetry: bool = True,
    ) -> None:
        self._credentials = Credentials(
            api_key=api_key,
            oauth_token=oauth_token,
            provider_name=None if token_provider is None else _provider_name(token_provider),
        )
        self._base_url = check_base_url(base_url)
        if max_connections < 1:
            raise ConfigurationError("max_connections must be at least 1")
        if isinstance(max_response_size, bool) or not isinstance(max_response_size, int):
            raise ConfigurationError("max_response_size must be a whole number of bytes")
        if max_response_size < 1:
            raise ConfigurationError("max_response_size must be at least 1 byte")
        self._timeout = timeout or Timeout()
        self._retry = retry or RetryPolicy()
        self._limiter: RateLimiter = rate_limiter or LocalRateLimiter(
            max_wait=self._retry.max_server_wait
        )
        # aiohttp is most of what importing the package would cost (about 90 ms): it is
        # imported when the first client is built, so `import close_async` stays cheap.
        from ._engine.http.aiohttp_transport import AiohttpTransport

        # The engine and OAuth see the Transport protocol; aiohttp's is the one shipped.
        transport: Transport = AiohttpTransport(
            self._base_url,
            timeout=self._timeout,
            max_connections=max_connections,
            session=session,
            max_response_size=max_response_size,
        )
        # Built once; held only by the engine, and never shown (no repr includes it).
        headers = {
            "Authorization": self._credentials.authorization(),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
        }
        auth = None
        if token_provider is not None:
            del headers["Authorization"]  # sent per attempt, from the provider
            from ._engine.auth.oauth import TokenAuth

            auth = TokenAuth(token_provider, transport)
        if tz_offset is not None:
            headers["X-TZ-Offset"] = _tz_offset_header(tz_offset)
        options = RequestOptions(timeout=self._timeout, retry=self._retry, headers=headers)
        engine = Engine(
            transport=transport,
            limiter=self._limiter,
            base_url=str(self._base_url),
            options=options,
            on_retry=on_retry,
            auth=auth,
            telemetry=make_telemetry(str(self._base_url), enabled=telemetry),
        )
        _Surface.__init__(self, engine, options, engine)

    def __repr__(self) -> str:
        return f"CloseClient(base_url={str(self._base_url)!r}, auth={self._credentials.kind})"

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return str(self._base_url)

    @property
    def credentials_fingerprint(self) -> str:
        """A short hash of the credentials: safe to log, and to name a shared rate budget.

        For a token provider, whose tokens change, it is of the OAuth client id (or the
        callable's name): name a per-user budget yourself."""
        return self._credentials.fingerprint

    @property
    def rate_limiter(self) -> RateLimiter:
        """The limiter pacing this client's requests."""
        return self._limiter

    async def aclose(self) -> None:
        """Close the connection pool (and the limiter). Safe to call twice."""
        await self._engine.aclose()


def _provider_name(provider: object) -> str:
    from ._engine.auth.oauth import OAuthRefresher

    if isinstance(provider, OAuthRefresher):
        return "oauth:" + provider.client_id
    return str(getattr(provider, "__qualname__", type(provider).__qualname__))


def _tz_offset_header(hours: float) -> str:
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not -24 < hours < 24:
        raise ConfigurationError(f"tz_offset must be hours from UTC within ±24, got {hours!r}")
    return f"{hours:g}"
