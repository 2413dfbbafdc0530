"""The narrow view of the engine that resources and the bulk engine are typed against.

Resources never see the concrete client: they get something that can send a
:class:`~close_async._engine.protocol.Request` and show the client's counters. The engine
implements it, and so does every options view of it (``close.with_options(...)``).
"""

from __future__ import annotations

from typing import Any, Protocol

from .engine import ClientStats
from .protocol import Request

__all__ = ["Requester"]


class Requester(Protocol):
    """Sends requests through the limiter, retries and error mapping; counts them."""

    @property
    def stats(self) -> ClientStats:
        """The client's counters (shared by every view of one client)."""
        ...

    async def request(self, request: Request, *, deadline: float | None = None) -> Any:
        """Send ``request``; return the decoded JSON body or raise a ``CloseError``."""
        ...
