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

__all__ = ["Requester"]

T = TypeVar("T")


class Requester(Protocol):
    """Sends requests through the limiter, retries and error mapping; counts them."""

    @property
    def stats(self) -> ClientStats:
        """The client's counters (shared by every view of one client)."""
        ...

    @property
    def options(self) -> RequestOptions:
        """The timeout, retry policy and headers this requester sends with."""
        ...

    @property
    def telemetry(self) -> Telemetry | None:
        """The client's tracing and metrics, or ``None`` when off."""
        ...

    @overload
    async def request(self, request: Request, *, deadline: float | None = ...) -> Any: ...

    @overload
    async def request(
        self, request: Request, *, parse: Callable[[Any], T], deadline: float | None = ...
    ) -> T: ...

    async def request(
        self,
        request: Request,
        *,
        parse: Callable[[Any], Any] | None = None,
        deadline: float | None = None,
    ) -> Any:
        """Send ``request``; return the decoded JSON body (or what ``parse`` makes of it),
        or raise a ``CloseError``."""
        ...
