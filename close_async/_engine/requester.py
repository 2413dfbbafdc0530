"""The narrow view of the engine that resources and the bulk engine are typed against.

Resources never see the concrete client: they get something that can send a
:class:`~close_async._engine.http.interpret.Request` and show the client's counters. The engine
implements it, and so does every options view of it (``close.with_options(...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar, overload

from .engine import ClientStats
from .http.request import Request
from .options import RequestOptions
from .telemetry.hooks import Telemetry

__all__ = ["OptionsRequester", "Requester", "with_call_options"]

T = TypeVar("T")


class Requester(Protocol):
    """Sends requests through the limiter, retries and error mapping; counts them."""

    @property
    def stats(self) -> ClientStats:
        """The client's counters (shared by every view of one client)."""
        ...

    @property
    def options(self) -> RequestOptions:
        """The timeout, retry policy, headers and extra query this requester sends with."""
        ...

    @property
    def telemetry(self) -> Telemetry | None:
        """The client's tracing and metrics, or ``None`` when off."""
        ...

    @overload
    async def request(self, request: Request, *, options: RequestOptions | None = ...) -> Any: ...

    @overload
    async def request(
        self,
        request: Request,
        *,
        parse: Callable[[Any], T],
        options: RequestOptions | None = ...,
    ) -> T: ...

    async def request(
        self,
        request: Request,
        *,
        parse: Callable[[Any], Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Any:
        """Send ``request`` with ``options`` (default :attr:`options`: a call's own, worked
        out from them); return the decoded JSON body (or what ``parse`` makes of it), or
        raise a ``CloseError``."""
        ...


class OptionsRequester:
    """A requester (the engine, or another view) sending every request with ``options``.

    What ``close.with_options(...)`` sends through (over the engine: its session, limiter
    and stats shared, only the options differ), and how a bulk run gives the options of
    ``update_many(..., timeout=...)`` to each item's request (options worked out once by
    :func:`~close_async._engine.options.call_options`)."""

    __slots__ = ("_requester", "options")

    def __init__(self, requester: Requester, options: RequestOptions) -> None:
        self._requester = requester
        self.options = options

    def __repr__(self) -> str:
        return f"OptionsRequester({self.options!r})"

    @property
    def stats(self) -> ClientStats:
        """The wrapped requester's counters (shared by every view of one client)."""
        return self._requester.stats

    @property
    def telemetry(self) -> Telemetry | None:
        """The wrapped requester's tracing and metrics."""
        return self._requester.telemetry

    @overload
    async def request(self, request: Request, *, options: RequestOptions | None = ...) -> Any: ...

    @overload
    async def request(
        self,
        request: Request,
        *,
        parse: Callable[[Any], T],
        options: RequestOptions | None = ...,
    ) -> T: ...

    async def request(
        self,
        request: Request,
        *,
        parse: Callable[[Any], Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Any:
        """The wrapped requester's :meth:`Requester.request` with these options, or a
        call's own (worked out from these)."""
        if parse is None:
            return await self._requester.request(request, options=options or self.options)
        return await self._requester.request(request, parse=parse, options=options or self.options)


def with_call_options(requester: Requester, options: RequestOptions | None) -> Requester:
    """``requester`` itself when ``options`` is ``None``, else one sending with them."""
    return requester if options is None else OptionsRequester(requester, options)
