"""A tiny loopback HTTP server that answers every request with what it received.

The fake Close does not keep request headers; this one does, so tests can check which
headers each request carried. ``hold`` makes requests wait until that many are in flight
at once (so concurrent calls really interleave); ``delay`` slows every answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import attrs
from aiohttp import web

# How long a held request waits for the others before answering anyway: only a guard
# against a hang when the client serialises (the test's own assertion then fails).
_HOLD_GUARD = 10.0


@attrs.define
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@attrs.define
class EchoServer:
    base_url: str = ""
    seen: list[Seen] = attrs.Factory(list)
    hold: int = 0
    delay: float = 0.0
    extra_headers: dict[str, str] = attrs.Factory(dict)
    inflight: int = 0
    peak: int = 0
    _arrived: int = 0
    _all_in: asyncio.Event = attrs.Factory(asyncio.Event)

    def headers_for(self, path: str) -> list[dict[str, str]]:
        """The headers (names lower-cased) of each request to ``path`` (under the base)."""
        return [s.headers for s in self.seen if s.path == "/api/v1/" + path]

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        seen = Seen(
            request.method,
            request.path,
            request.query_string,
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
        self.seen.append(seen)
        self.inflight += 1
        self.peak = max(self.peak, self.inflight)
        try:
            if self.hold:
                self._arrived += 1
                if self._arrived >= self.hold:
                    self._all_in.set()
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._all_in.wait(), _HOLD_GUARD)
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.inflight -= 1
        answer = {
            "method": seen.method,
            "path": seen.path,
            "query": seen.query,
            "headers": seen.headers,
            "body": body,
        }
        return web.json_response(answer, headers=self.extra_headers)


@asynccontextmanager
async def echo_server() -> AsyncIterator[EchoServer]:
    server = EchoServer()
    app = web.Application()
    app.router.add_route("*", "/api/v1/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.base_url = f"http://127.0.0.1:{port}/api/v1/"
    try:
        yield server
    finally:
        await runner.cleanup()
