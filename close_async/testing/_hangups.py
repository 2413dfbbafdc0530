"""Clients that hang up on the fake: one log line each, never a traceback.

A client that gives up (its time-out, Ctrl-C, a killed test) is normal in the tests the fake
serves; aiohttp would log a hang-up while a body is read as an "Error handling request"
traceback, and say nothing of an answer nobody waits for any more. Both are one line on the
``close_async.testing`` logger here (INFO; the standalone fake prints it on stderr), for the
first :data:`SHOWN_HANG_UPS`; the rest are only counted (``FakeStats.hangups``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

__all__ = [
    "LOGGER",
    "SHOWN_HANG_UPS",
    "DroppedAnswer",
    "HangUpLog",
    "hang_up_middleware",
]

LOGGER = logging.getLogger("close_async.testing")
SHOWN_HANG_UPS = 20
"""Hang-ups told one line each; later ones are counted only, so a load test stays readable."""

BEFORE_BODY = "before its body was read"
BEFORE_ANSWER = "before its answer was sent"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DroppedAnswer(web.Response):
    """The answer of a request whose connection is gone; aiohttp writes nothing of it.

    The fake's own drops and resets (:class:`FakeFaults`) answer with it, so that their
    closed connections are not taken for clients that hung up.
    """

    def __init__(self) -> None:
        super().__init__(status=204)


class HangUpLog:
    """Tells each hang-up in one line, up to ``shown`` of them, then once that the rest
    are only counted."""

    def __init__(self, shown: int = SHOWN_HANG_UPS) -> None:
        self.shown = shown
        self.seen = 0

    def report(self, method: str, path: str, when: str) -> None:
        """Log that the client of ``method path`` hung up ``when``."""
        self.seen += 1
        if self.seen <= self.shown:
            LOGGER.info("a client hung up: %s %s (%s)", method, path, when)
        elif self.seen == self.shown + 1:
            LOGGER.info("more clients hung up: counted in /_fake/stats (hangups), not shown")


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def hang_up_middleware(on_hang_up: Callable[[str, str, str], None]) -> Middleware:
    """A middleware calling ``on_hang_up(method, path, when)`` for each client that hung up
    while its body was read, or before its answer could be sent."""

    @web.middleware
    async def middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except ConnectionError:
            # aiohttp raises it from request.read() when the peer went away mid-body.
            on_hang_up(request.method, request.path, BEFORE_BODY)
            return DroppedAnswer()
        if not isinstance(response, DroppedAnswer) and _gone(request):
            on_hang_up(request.method, request.path, BEFORE_ANSWER)
        return response

    return middleware
