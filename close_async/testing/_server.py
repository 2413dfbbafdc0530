"""The fake Close server: a thin aiohttp.web front on the fake's core (:mod:`._core`).

Everything lives in memory in one event loop, so no locks are needed. The front reads a
request's bytes, waits the configured ``latency``, hands a :class:`FakeRequest` to
:meth:`FakeCore.handle` and writes its :class:`FakeAnswer` back: after its ``delay`` (a slow
answer), or not at all when its ``fate`` is a reset (TCP RST) or a drop (connection closed).
The admin endpoints (``/_fake/...``, :mod:`._admin`), OAuth's token endpoints and export
downloads are routed here too; they skip the pipeline (no auth, no faults, no rate limit).
A client that hangs up is one log line (:mod:`._hangups`), never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from ._admin import FakeAdmin
from ._calls import CALLS_PATH
from ._config import FakeFaults, FakeRateLimit
from ._core import API_PREFIX, FakeCore, FakeStats, RecordedRequest
from ._credentials import key_fingerprint
from ._exports import DOWNLOAD_PREFIX
from ._hangups import DroppedAnswer, HangUpLog, hang_up_middleware
from ._messages import FakeAnswer, FakeRequest
from ._oauth import REVOKE_PATH, TOKEN_PATH
from ._responses import BAD_JSON
from ._webhook_delivery import WebhookDeliverer, WebhookDeliveryConfig

__all__ = [
    "API_PREFIX",
    "CALLS_PATH",
    "FakeClose",
    "FakeStats",
    "RecordedRequest",
    "key_fingerprint",
]

_RST_LINGER = struct.pack("ii", 1, 0)


class FakeClose(FakeCore):
    """A real HTTP server on loopback that behaves like Close's API: every resource of its
    OpenAPI document kept in a store, a seeded organization, calls, the event log, Advanced
    Filtering, webhooks, exports and OAuth. Its logic is :class:`FakeCore` (no I/O); this
    class adds the aiohttp server in front and webhook deliveries.

    Use ``async with FakeClose() as fake:`` (or ``await fake.start()`` / ``await fake.stop()``),
    then point a client at ``fake.base_url`` with the API key ``"test_key"``. Accepted
    credentials: ``api_keys`` (HTTP Basic, the key as username; the password is ignored)
    and ``oauth_tokens`` (``Bearer``); ``forbidden_keys`` authenticate (either way) but get
    403. OAuth apps (``oauth_clients``: client id -> secret, by default ``test_client`` /
    ``test_secret``) get tokens at :attr:`token_url` (see :class:`FakeOAuth`, at
    :attr:`oauth`): codes from ``fake.oauth.authorize(client_id)``, access tokens living
    ``oauth_token_ttl`` seconds, refresh tokens rotated on each use; an expired, revoked or
    unknown token gets 401. ``rate_limit`` and ``faults`` may be replaced while running;
    the new value holds from the next request on (rate windows and the fault generator
    start afresh).

    ``strict`` (the default) answers an unknown call id with 404, as Close does, so a test
    sees a wrong id. With ``strict=False`` a PUT to any well-formed unknown id
    (``acti_`` + base62) creates that call first, so updates can be tried on an empty
    server; GET and DELETE of an unknown id are still 404. (``close-async fake-server``
    and ``python -m close_async.testing`` are lenient unless given ``--strict``.)

    State is open for tests to read: ``calls`` (id -> the call as served), ``update_counts``
    (id -> applied PUTs), ``requests`` (:class:`RecordedRequest` list, when
    ``record_requests``) and ``stats`` (:class:`FakeStats`).

    Every resource with a collection and an item path (``lead/``, ``contact/``,
    ``pipeline/``, ``custom_field/lead/``, ...; ids with Close's prefixes, ``lead_``,
    ``cont_``, ``pipe_``, ``cf_``; the store is :attr:`store`) is stateful, its bodies
    checked against the document's request schema (400 with ``field-errors``): ``POST``
    creates, ``GET`` reads (``_fields=a,b``), ``PUT`` patches (only the keys sent change,
    ``null`` clears), ``DELETE`` answers ``{}`` (or the 204 the document declares), and
    lists page by ``_skip``/``_limit`` (at most 200 for leads, 100 for the others;
    ``max_skip`` caps ``_skip``, none by default), filter by equality on top-level fields,
    ``<field>__in`` and ``id__in``. Any key, custom fields (``custom.cf_...``) included, is
    stored as sent. Every change served there and on calls appends an event to ``GET
    /event/`` (newest first, ``_cursor``/``_limit`` up to 50, ``cursor_next``; in strict
    mode ``_skip`` is refused); ``POST /data/search/`` serves Advanced Filtering with
    cursors. Any GET may be sent as ``POST`` with the header ``x-http-method-override:
    GET`` and its query in the JSON body's ``_params``. Seed with :meth:`add_object` /
    :meth:`seed_objects`, read with :meth:`objects` and :attr:`events`; seeding appends no
    events.

    Every activity type besides calls is a collection of the same kind, named as its events'
    ``object_type`` (``activity.note``, ``activity.email_thread``, ``activity.custom_activity``,
    ``activity.lead_status_change``, ...; ids ``acti_``, ``_type`` set), serving the methods
    Close's OpenAPI document declares for it (405 for the others); ``GET /activity/`` lists
    every type, calls included, newest first. A new object starts from its schema's required
    fields. ``me/``, the organization, its users, statuses and pipeline are seeded (see
    :mod:`._world`); a lead merge, bulk task updates, playbook archiving and group members
    act on the store; every other operation answers its declared success status with a
    schema-valid canned body (docs/testing.md lists which is which).
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = ("test_key",),
        oauth_tokens: Iterable[str] = (),
        forbidden_keys: Iterable[str] = (),
        rate_limit: FakeRateLimit | None = None,
        faults: FakeFaults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        record_requests: bool = True,
        shutdown_timeout: float = 1.0,
        strict: bool = True,
        max_skip: int | None = None,
        oauth_clients: Mapping[str, str] | None = None,
        oauth_token_ttl: float = 3600.0,
        webhook_delivery: WebhookDeliveryConfig | None = None,
    ) -> None:
        super().__init__(
            api_keys=api_keys,
            oauth_tokens=oauth_tokens,
            forbidden_keys=forbidden_keys,
            rate_limit=rate_limit,
            faults=faults,
            record_requests=record_requests,
            strict=strict,
            max_skip=max_skip,
            oauth_clients=oauth_clients,
            oauth_token_ttl=oauth_token_ttl,
        )
        self.webhook_deliverer: WebhookDeliverer = WebhookDeliverer(
            self.webhook_subscriptions.active, webhook_delivery
        )
        self.event_log.listeners.append(self.webhook_deliverer.publish)
        self.host = host
        self._requested_port = port
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._hang_up_log = HangUpLog()
        self.app: web.Application = self._make_app()

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        mode = "" if self.strict else " lenient"
        return f"<FakeClose {where}{mode} calls={len(self.calls)} requests={self.stats.requests}>"

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on (known once started)."""
        if self._port is None:
            raise RuntimeError("the fake server is not started")
        return self._port

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:8765/``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint, e.g. ``http://127.0.0.1:8765/oauth2/token/``."""
        return self.url + TOKEN_PATH[1:]

    @property
    def revoke_url(self) -> str:
        """The OAuth revocation endpoint, e.g. ``http://127.0.0.1:8765/oauth2/revoke/``."""
        return self.url + REVOKE_PATH[1:]

    @property
    def base_url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:8765/api/v1/``."""
        return self.url + API_PREFIX[1:]

    async def start(self) -> None:
        """Start listening (on a free port when ``port`` was 0)."""
        if self._runner is not None:
            raise RuntimeError("the fake server is already started")
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=self._shutdown_timeout)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        await self.webhook_deliverer.start()

    async def stop(self) -> None:
        """Stop listening and close open connections (idempotent)."""
        await self.webhook_deliverer.stop()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeClose:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- the app -------------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(
            client_max_size=8 * 1024 * 1024, middlewares=[hang_up_middleware(self._hung_up)]
        )
        FakeAdmin(self).add_routes(app.router)
        app.router.add_route("GET", DOWNLOAD_PREFIX + "{export_id}", self.exports.download)
        app.router.add_route("*", API_PREFIX + "{tail:.*}", self._api)
        self.oauth.add_routes(app.router)
        return app

    async def _api(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        faults = self._faults
        if faults is not None and faults.latency:
            await asyncio.sleep(faults.latency)
        body: Any = None
        if request.method in ("POST", "PUT", "PATCH"):
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = BAD_JSON
        answer = self.handle(
            FakeRequest(
                request.method,
                request.path,
                request.query,
                request.headers,
                body,
                str(request.url.origin()),
                arrived,
                request.query_string,
            )
        )
        if answer.fate is not None:
            return self._drop(request, answer)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        return web.Response(
            body=answer.body,
            status=answer.status,
            content_type=answer.content_type,
            headers=answer.headers or None,
        )

    @staticmethod
    def _drop(request: web.Request, answer: FakeAnswer) -> web.Response:
        transport = request.transport
        if transport is not None:
            if answer.fate == "reset":
                sock = transport.get_extra_info("socket")
                if sock is not None:
                    # Linger 0 turns the close into a TCP RST: the client sees ECONNRESET.
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST_LINGER)
                transport.abort()
            else:
                transport.close()
        # aiohttp finds the transport closed and writes nothing of this response.
        return DroppedAnswer()

    def _hung_up(self, method: str, path: str, when: str) -> None:
        self.stats.hangups += 1
        self._hang_up_log.report(method, path, when)
