"""The fake Close server: an aiohttp.web app imitating Close's call-activity API.

Everything lives in memory in one event loop, so no locks are needed; handlers do little
more than a dict lookup and one ``json.dumps``, so thousands of requests per second go
through on one core.

Order of work for a request under ``/api/v1/``: fixed ``latency`` -> authentication
(401/403) -> rate limit (429) -> fault draw (5xx page, or connection reset: nothing
applied) -> the operation -> drop after apply, or slow answer -> answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import http
import itertools
import json
import random
import re
import socket
import struct
import time
from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

import attrs
from aiohttp import web

from ._admin import FakeAdmin
from ._config import FakeFaults, FakeRateLimit
from ._events import EventLog, changes
from ._exports import DOWNLOAD_PREFIX, ExportDesk
from ._hangups import DroppedAnswer, HangUpLog, hang_up_middleware
from ._ids import fake_call_id, fake_id
from ._listing import Filter, date_filters, only_fields, skip_and_limit, skip_page
from ._oauth import REVOKE_PATH, TOKEN_PATH, FakeOAuth
from ._objects import CALL_KIND, MANAGED_FIELDS, ObjectStore, kind_of
from ._rate_limit import WindowLimiter
from ._resources import METHOD_OVERRIDE, REQUEST_ID, Operation, ResourceRoutes, now_iso
from ._responses import (
    BAD_JSON,
    EMPTY_OBJECT,
    NOT_JSON_ERROR,
    Outcome,
    dumps,
    error_body,
    validation_body,
)
from ._validation import CREATE_FIELDS, UPDATE_FIELDS, html_from_note, note_from_html, validate_body
from ._webhook_delivery import WebhookDeliverer, WebhookDeliveryConfig
from ._webhook_subscriptions import WebhookSubscriptions
from ._world import (
    ORGANIZATION_ID,
    SEED_EPOCH,
    SEED_USERS,
    add_user,
    fill_defaults,
    seed_world,
    user_name,
    view,
)

__all__ = [
    "API_PREFIX",
    "CALLS_PATH",
    "FakeClose",
    "FakeStats",
    "RecordedRequest",
    "key_fingerprint",
]

API_PREFIX = "/api/v1/"
CALLS_PATH = "/api/v1/activity/call/"
_CALLS_PATH_LEN = len(CALLS_PATH)
_API_PREFIX_LEN = len(API_PREFIX)
METHOD_OVERRIDE_HEADER = "x-http-method-override"
CALL_OBJECT_TYPE = "activity.call"

JSON_TYPE = "application/json"
HTML_TYPE = "text/html"

_SEED_LEADS = tuple(fake_id("lead", n) for n in range(50))
_SEED_CONTACTS = tuple(fake_id("cont", n) for n in range(200))
# US cents as decimal strings, the way Close sends cost: "0", "0.5", "1", "1.5", ...
_SEED_COSTS = tuple(str(Decimal(n) / 2) for n in range(40))


_CALLS_MAX_LIMIT = 100
_NOT_FOUND = error_body("Empty query: Call matching query does not exist.")
_NO_ROUTE = error_body("Not found.")
_METHOD_NOT_ALLOWED = error_body("Method not allowed.")
_SEARCH_TAIL = "data/search/"
# An injected 4xx: Close's answer to a body it refuses (the fake applies nothing).
_REJECTED = error_body("Injected fault: the request was refused.")
_UNAUTHORIZED = error_body(
    "The server could not verify that you are authorized to access the URL requested. "
    "You either supplied the wrong credentials (e.g. a bad password), or your browser "
    "doesn't understand how to supply the credentials required."
)
_FORBIDDEN = error_body("You do not have permission to perform this action.")
_INTERNAL_FIELD = "This field cannot be changed for calls made through Close."
_RECORDING_FIELD = (
    "Changing or deleting the recording of a call made through Close needs permission."
)
_DISPOSITIONS = {"no-answer": "no-answer", "busy": "busy", "failed": "error", "cancel": "abandoned"}
_RST_LINGER = struct.pack("ii", 1, 0)
# What Close's call ids look like; in lenient mode only such an id is created on a PUT, so a
# path typo still gets Close's 404.
_CALL_ID = re.compile(r"acti_[0-9A-Za-z]{1,95}", re.ASCII)


def _writes(method: str, path: str) -> bool:
    # Close's one read by POST that the fake serves: a search.
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    return not (method == "POST" and path.startswith(API_PREFIX + _SEARCH_TAIL))


def _error_page(status: int) -> bytes:
    title = f"{status} {http.HTTPStatus(status).phrase}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def key_fingerprint(secret: str) -> str:
    """A short, non-reversible name for a credential, safe to record and show."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


@attrs.frozen
class RecordedRequest:
    """One request the fake server saw.

    ``query`` is the raw query string; ``body`` the decoded JSON body (``None`` when
    absent or not JSON); ``status`` the HTTP status answered, or ``"dropped"`` (applied,
    then the connection closed) or ``"reset"`` (connection reset, nothing applied);
    ``time`` is ``time.monotonic()`` on arrival; ``key`` the credential's fingerprint
    (:func:`key_fingerprint`), never the credential itself. ``method_override`` is the
    method a ``POST`` asked to be served as with ``x-http-method-override`` (``"GET"``);
    ``query`` is then the query string it was served with (its ``_params``).
    """

    method: str
    path: str
    query: str
    body: Any
    status: int | str
    time: float
    key: str | None
    method_override: str | None = None


@attrs.define
class FakeStats:
    """Counters of the fake server (all API requests, admin endpoints excluded).

    ``by_status`` counts answers by HTTP status, plus ``"dropped"`` and ``"reset"``.
    ``applied_updates`` counts PUTs that changed a call (also those answered by a drop).
    ``created`` counts calls created by a POST, or by a first PUT when not ``strict``.
    ``injected_errors``, ``rejected``, ``resets``, ``drops`` and ``slowed`` count the
    faults of :class:`FakeFaults` (5xx pages, 400s, resets, lost answers, slow answers).
    ``hangups`` counts clients that hung up before their body was read or their answer
    sent (any path; each of the first few is one line on the ``close_async.testing`` logger).
    """

    requests: int = 0
    by_status: dict[int | str, int] = attrs.Factory(dict)
    rate_limited: int = 0
    applied_updates: int = 0
    created: int = 0
    deleted: int = 0
    drops: int = 0
    resets: int = 0
    injected_errors: int = 0
    rejected: int = 0
    slowed: int = 0
    hangups: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The counters as JSON-ready data (``by_status`` keys become strings)."""
        data = attrs.asdict(self)
        data["by_status"] = {str(k): v for k, v in self.by_status.items()}
        return data


@attrs.frozen
class _Credential:
    secret: str = attrs.field(repr=False)
    fingerprint: str
    user_id: str
    forbidden: bool


_Drop = Literal["reset", "dropped"]


class FakeClose(ResourceRoutes):
    """A real HTTP server on loopback that behaves like Close's API for call activities,
    leads, contacts, opportunities, tasks, the event log and Advanced Filtering.

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

    Collections ``lead/``, ``contact/``, ``opportunity/`` and ``task/`` (ids ``lead_``,
    ``cont_``, ``oppo_``, ``task_``) are stateful: ``POST`` creates, ``GET`` reads
    (``_fields=a,b``), ``PUT`` patches (only the keys sent change, ``null`` clears),
    ``DELETE`` answers ``{}``, and lists page by ``_skip``/``_limit`` (at most 200 for
    leads, 100 for the others; ``max_skip`` caps ``_skip``, none by default), filter by
    equality on top-level fields, ``<field>__in`` and ``id__in``. Any key, custom fields
    (``custom.cf_...``) included, is stored as sent. Every change served there and on
    calls appends an event to ``GET /event/`` (newest first, ``_cursor``/``_limit`` up to
    50, ``cursor_next``; in strict mode ``_skip`` is refused); ``POST /data/search/``
    serves Advanced Filtering with cursors. Any GET may be sent as ``POST`` with the
    header ``x-http-method-override: GET`` and its query in the JSON body's ``_params``.
    Seed with :meth:`add_object` / :meth:`seed_objects`, read with :meth:`objects` and
    :attr:`events`; seeding appends no events.

    Every activity type besides calls is a collection of the same kind, named as its events'
    ``object_type`` (``activity.note``, ``activity.email_thread``, ``activity.custom_activity``,
    ``activity.lead_status_change``, ...; ids ``acti_``, ``_type`` set), serving the methods
    Close's OpenAPI document declares for it (405 for the others); ``GET /activity/`` lists
    every type, calls included, newest first. A new object starts from its schema's required
    fields. Every other operation of the document answers its declared success status with
    a schema-valid canned body.
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
        self.strict = strict
        self.oauth = FakeOAuth(
            {"test_client": "test_secret"} if oauth_clients is None else oauth_clients,
            token_ttl=oauth_token_ttl,
        )
        self._oauth_credentials: dict[str, _Credential] = {}
        self.store = ObjectStore(
            ORGANIZATION_ID,
            max_skip=max_skip,
            default_user=SEED_USERS[0],
            fill=fill_defaults,
            view=view,
        )
        seed_world(self.store)
        self.exports = ExportDesk()  # tests set .delay and .fail on it
        self.event_log = EventLog(ORGANIZATION_ID)
        self.webhook_subscriptions = WebhookSubscriptions(ORGANIZATION_ID)
        self.webhook_deliverer = WebhookDeliverer(
            self.webhook_subscriptions.active, webhook_delivery
        )
        self.event_log.listeners.append(self.webhook_deliverer.publish)
        self._request_numbers = itertools.count()
        forbidden = set(forbidden_keys)
        self._basic: dict[str, _Credential] = {}
        self._bearer: dict[str, _Credential] = {}
        for secret in api_keys:
            self._basic[secret] = self._credential(secret, secret in forbidden)
        for secret in oauth_tokens:
            self._bearer[secret] = self._credential(secret, secret in forbidden)
        for secret in forbidden:
            self._basic.setdefault(secret, self._credential(secret, True))
            self._bearer.setdefault(secret, self._credential(secret, True))
        for credential in (*self._basic.values(), *self._bearer.values()):
            self._add_user(credential)
        self._auth_cache: dict[str, _Credential] = {}
        self.host = host
        self._requested_port = port
        self._shutdown_timeout = shutdown_timeout
        self.record_requests = record_requests
        # Calls and subscriptions live in the store; their own routes serve them (hooks).
        self.calls: dict[str, dict[str, Any]] = self.store.objects[CALL_KIND.name]
        self.webhook_subscriptions.items = self.store.objects["webhook"]
        self.update_counts: dict[str, int] = {}
        self.requests: list[RecordedRequest] = []
        self.stats = FakeStats()
        self._hang_up_log = HangUpLog()
        self._next_index = 0
        self._rate_limit: FakeRateLimit | None = None
        self._limiter: WindowLimiter | None = None
        self.rate_limit = rate_limit
        self._faults: FakeFaults | None = None
        self._rng = random.Random(0)
        self.faults = faults
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self.app = self._make_app()

    @staticmethod
    def _credential(secret: str, forbidden: bool) -> _Credential:
        fingerprint = key_fingerprint(secret)
        return _Credential(secret, fingerprint, fake_id("user", "key:" + fingerprint), forbidden)

    def _add_user(self, credential: _Credential) -> None:
        # Each credential is a user of the organization: me/ answers it, user/ lists it.
        add_user(self.store, credential.user_id, f"key-{credential.fingerprint}@example.com")

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        mode = "" if self.strict else " lenient"
        return f"<FakeClose {where}{mode} calls={len(self.calls)} requests={self.stats.requests}>"

    # -- configuration -------------------------------------------------------------------

    @property
    def rate_limit(self) -> FakeRateLimit | None:
        """The rate limit in force (``None``: unlimited)."""
        return self._rate_limit

    @rate_limit.setter
    def rate_limit(self, value: FakeRateLimit | None) -> None:
        self._rate_limit = value
        self._limiter = WindowLimiter(value) if value is not None else None

    @property
    def faults(self) -> FakeFaults | None:
        """The faults in force (``None``: none)."""
        return self._faults

    @faults.setter
    def faults(self, value: FakeFaults | None) -> None:
        self._faults = value
        self._rng = random.Random(value.seed if value is not None else 0)

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

    # -- state helpers -------------------------------------------------------------------

    def seed_calls(self, n: int, **fields: Any) -> list[str]:
        """Create ``n`` calls with deterministic ids and fields; ``fields`` override them all.

        On a fresh server the ids are ``fake_call_id(0)`` .. ``fake_call_id(n - 1)``.
        """
        ids: list[str] = []
        for _ in range(n):
            call = self._seeded_call(self._next_index, fields)
            self._next_index += 1
            self.calls[call["id"]] = call
            ids.append(call["id"])
        return ids

    def add_call(self, **fields: Any) -> dict[str, Any]:
        """Create one call (``id`` may be given) and return it; fields are taken as given."""
        call = self._seeded_call(self._next_index, fields)
        self._next_index += 1
        self.calls[call["id"]] = call
        return call

    @property
    def max_skip(self) -> int | None:
        """The largest ``_skip`` a list accepts (``None``: any); larger answers 400."""
        return self.store.max_skip

    @max_skip.setter
    def max_skip(self, value: int | None) -> None:
        self.store.max_skip = value

    @property
    def events(self) -> list[dict[str, Any]]:
        """The event log, oldest first (a new list; the events themselves are live)."""
        return list(self.event_log.events)

    def add_object(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Store one ``kind`` object (``"lead"``, ``"contact"``, ``"opportunity"``, ``"task"``,
        ``"activity.note"``, ...) made of ``fields`` and return it (the stored dict itself).

        ``id``, ``date_created`` and ``date_updated`` may be given; otherwise the server sets
        them as for a ``POST``, and a lead or contact gets ``display_name`` from ``name``.
        Custom fields are keys like any other: ``fake.add_object("lead", **{"custom.cf_x":
        "v"})``. No event is logged.
        """
        spec = kind_of(kind)
        user = SEED_USERS[0]
        given = {
            k: v for k, v in fields.items() if k not in MANAGED_FIELDS or k in _SEEDABLE_FIELDS
        }
        return self.store.create(spec, given, user, now_iso())

    def seed_objects(self, kind: str, n: int, **fields: Any) -> list[str]:
        """Store ``n`` ``kind`` objects, each with ``fields`` (a lead also gets a ``name``
        ``"Fake Lead <i>"`` unless one is given); return their ids in creation order.
        """
        spec = kind_of(kind)
        ids: list[str] = []
        for _ in range(n):
            given = dict(fields)
            if spec.display_name and "name" not in given:
                given["name"] = f"Fake {spec.label} {len(self.store.objects[spec.name])}"
            ids.append(self.add_object(kind, **given)["id"])
        return ids

    def user_of(self, api_key: str) -> str | None:
        """The id of the user ``me/`` answers for ``api_key`` (``None``: not an accepted key)."""
        credential = self._basic.get(api_key)
        return credential.user_id if credential is not None else None

    def objects(self, kind: str) -> dict[str, dict[str, Any]]:
        """The ``kind`` objects by id, in creation order (a copy: changing it changes nothing
        on the server).
        """
        return {i: dict(o) for i, o in self.store.objects[kind_of(kind).name].items()}

    def subscribe_webhook(
        self, url: str, events: Iterable[Mapping[str, str]], *, signature_key: str | None = None
    ) -> tuple[str, str]:
        """Subscribe ``url`` to ``events`` (``{"object_type", "action"}`` mappings); return
        ``(subscription_id, signature_key)``. Each matching change served is then POSTed
        there, signed, as Close does (see :class:`WebhookDeliveryConfig` for retries,
        duplicates and reordering; :attr:`webhook_deliverer` holds the counters).
        """
        item = self.webhook_subscriptions.add(
            url, [dict(e) for e in events], signature_key=signature_key
        )
        return item["id"], item["signature_key"]

    def reset_stats(self) -> None:
        """Forget recorded requests and zero the counters (calls are kept)."""
        self.requests.clear()
        self.stats = FakeStats()

    def summary(self, ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Per call id: its note, outcome, status and how many PUTs were applied to it."""
        chosen = self.calls if ids is None else {i: self.calls[i] for i in ids if i in self.calls}
        counts = self.update_counts
        return {
            call_id: {
                "note": call.get("note"),
                "outcome_id": call.get("outcome_id"),
                "status": call.get("status"),
                "updates": counts.get(call_id, 0),
            }
            for call_id, call in chosen.items()
        }

    def _seeded_call(self, i: int, fields: dict[str, Any]) -> dict[str, Any]:
        created = (SEED_EPOCH + timedelta(minutes=i)).isoformat()
        user = SEED_USERS[i % len(SEED_USERS)]
        name = user_name(user)
        phone = f"+1650555{i % 10000:04d}"
        call: dict[str, Any] = {
            "_type": "Call",
            "id": fake_call_id(i),
            "organization_id": ORGANIZATION_ID,
            "date_created": created,
            "date_updated": created,
            "activity_at": created,
            "lead_id": _SEED_LEADS[i % len(_SEED_LEADS)],
            "contact_id": _SEED_CONTACTS[i % len(_SEED_CONTACTS)],
            "created_by": user,
            "created_by_name": name,
            "updated_by": user,
            "updated_by_name": name,
            "user_id": user,
            "user_name": name,
            "users": [user],
            "outcome_id": None,
            "source": "External",
            "status": "completed",
            "direction": "outbound" if i % 3 else "inbound",
            "disposition": "answered",
            "call_method": "external",
            "duration": (i * 37) % 600,
            "cost": _SEED_COSTS[i % len(_SEED_COSTS)],
            "note": "",
            "note_html": "",
            "phone": phone,
            "local_phone": "+16505550000",
            "remote_phone": phone,
            "recording_url": None,
            "voicemail_url": None,
            "voicemail_duration": 0,
            "conversation_type_id": None,
            "playbook_id": None,
            "quality_info": None,
            "custom_fields": {},
            "sequence_id": None,
            "sequence_name": None,
            "sequence_subscription_id": None,
        }
        call.update(fields)
        if "note_html" in fields and "note" not in fields:
            call["note"] = _derived_note(fields["note_html"])
        elif "note" in fields and "note_html" not in fields:
            call["note_html"] = _derived_html(fields["note"])
        return call

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

    def _authenticate(self, header: str | None) -> _Credential | None:
        if not header:
            return None
        cached = self._auth_cache.get(header)
        if cached is not None:
            return cached
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        credential: _Credential | None = None
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            credential = self._basic.get(decoded.partition(":")[0])
        elif scheme == "bearer":
            credential = self._bearer.get(value.strip())
            if credential is None:
                # Not cached: an OAuth token expires, or is revoked, at any time.
                return self._oauth_credential(value.strip())
        if credential is not None:
            # Only accepted headers are cached, so the cache cannot grow past the key list.
            self._auth_cache[header] = credential
        return credential

    def _oauth_credential(self, token: str) -> _Credential | None:
        grant = self.oauth.grant_of(token)
        if grant is None:
            return None
        credential = self._oauth_credentials.get(grant.id)
        if credential is None:
            # Named by the grant, not the token: a user's rate budget outlives refreshes.
            credential = self._credential("oauth:" + grant.id, False)
            self._oauth_credentials[grant.id] = credential
            self._add_user(credential)
        return credential

    async def _api(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        self.stats.requests += 1
        REQUEST_ID.set(fake_id("req", next(self._request_numbers)))
        METHOD_OVERRIDE.set(None)
        faults = self._faults
        if faults is not None and faults.latency:
            await asyncio.sleep(faults.latency)
        method = request.method
        body: Any = None
        override = request.headers.get(METHOD_OVERRIDE_HEADER) if method == "POST" else None
        # aiohttp clones only unread requests: keep one to serve as the GET asked for.
        unread = request.clone() if override is not None else None
        if method in ("POST", "PUT", "PATCH"):
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = BAD_JSON
        credential = self._authenticate(request.headers.get("Authorization"))
        if credential is None:
            return self._answer(request, arrived, None, body, 401, _UNAUTHORIZED, JSON_TYPE, None)
        key = credential.fingerprint
        if credential.forbidden:
            return self._answer(request, arrived, key, body, 403, _FORBIDDEN, JSON_TYPE, None)

        headers: dict[str, str] | None = None
        limiter = self._limiter
        if limiter is not None:
            admitted, reset, remaining = limiter.admit(key, time.monotonic())
            if not admitted:
                self.stats.rate_limited += 1
                page, content_type, refusal_headers = limiter.refusal(reset)
                return self._answer(
                    request, arrived, key, body, 429, page, content_type, refusal_headers
                )
            headers = limiter.headers(reset, remaining)

        if override is not None and unread is not None:
            overridden = _overridden(unread, override, body)
            if isinstance(overridden, bytes):
                return self._answer(
                    request, arrived, key, body, 400, overridden, JSON_TYPE, headers
                )
            request, method = overridden, "GET"

        table = self._routes(request.path)
        if table is None:
            return self._answer(request, arrived, key, body, 404, _NO_ROUTE, JSON_TYPE, headers)
        operation: Operation = table.get(method) or self._not_allowed

        drop = slow = False
        if (
            faults is not None
            and faults.any_fault
            and (not faults.methods or method in faults.methods)
        ):
            rng = self._rng
            hard = faults.hard_rate
            draw = rng.random() if hard > 0 else 1.0
            if draw < faults.error_rate:
                self.stats.injected_errors += 1
                status = rng.choice(faults.error_statuses)
                return self._answer(
                    request, arrived, key, body, status, _error_page(status), HTML_TYPE, headers
                )
            draw -= faults.error_rate
            if draw < faults.reject_rate:
                if _writes(method, request.path):
                    self.stats.rejected += 1
                    return self._answer(
                        request, arrived, key, body, 400, _REJECTED, JSON_TYPE, headers
                    )
                draw = 1.0  # a read (a search's POST) is never refused for its body
            draw -= faults.reject_rate
            if draw < faults.reset_rate:
                self.stats.resets += 1
                return self._drop(request, arrived, key, body, "reset")
            drop = draw - faults.reset_rate < faults.drop_after_apply_rate
            slow = faults.slow_rate > 0 and rng.random() < faults.slow_rate

        status, payload = operation(request, credential, body)
        if drop:
            self.stats.drops += 1
            return self._drop(request, arrived, key, body, "dropped")
        if slow:
            self.stats.slowed += 1
            assert faults is not None
            await asyncio.sleep(faults.slow_seconds)
        if status == 405:
            headers = dict(headers or {})
            headers["Allow"] = ", ".join(table)
        return self._answer(request, arrived, key, body, status, payload, JSON_TYPE, headers)

    def _answer(
        self,
        request: web.Request,
        arrived: float,
        key: str | None,
        body: Any,
        status: int,
        payload: bytes,
        content_type: str,
        headers: dict[str, str] | None,
    ) -> web.Response:
        self._count(request, arrived, key, body, status)
        return web.Response(body=payload, status=status, content_type=content_type, headers=headers)

    def _drop(
        self, request: web.Request, arrived: float, key: str | None, body: Any, how: _Drop
    ) -> web.Response:
        self._count(request, arrived, key, body, how)
        transport = request.transport
        if transport is not None:
            if how == "reset":
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

    def _count(
        self, request: web.Request, arrived: float, key: str | None, body: Any, status: int | str
    ) -> None:
        by_status = self.stats.by_status
        by_status[status] = by_status.get(status, 0) + 1
        if self.record_requests:
            override = METHOD_OVERRIDE.get()
            self.requests.append(
                RecordedRequest(
                    "POST" if override else request.method,
                    request.path,
                    request.query_string,
                    None if body is BAD_JSON else body,
                    status,
                    arrived,
                    key,
                    override,
                )
            )

    def _route(self, method: str, path: str) -> Operation | None:
        """The operation serving ``method`` on ``path`` (405 when the path has others), or
        ``None`` when nothing is routed there.
        """
        table = self._routes(path)
        if table is None:
            return None
        return table.get(method) or self._not_allowed

    def _routes(self, path: str) -> dict[str, Operation] | None:
        if path == CALLS_PATH:
            return {"GET": self._list, "POST": self._create}
        if path.startswith(CALLS_PATH) and path.endswith("/"):
            call_id = path[_CALLS_PATH_LEN:-1]
            if call_id and "/" not in call_id:
                return {"GET": self._get, "PUT": self._update, "DELETE": self._delete}
            return None
        if path.startswith(API_PREFIX):
            tail = path[_API_PREFIX_LEN:]
            return self.webhook_subscriptions.routes(tail) or self._resolve(tail)
        return None

    # -- operations (synchronous: nothing in them waits) ---------------------------------

    @staticmethod
    def _not_allowed(request: web.Request, credential: _Credential, body: Any) -> Outcome:
        return 405, _METHOD_NOT_ALLOWED

    @staticmethod
    def _call_id(request: web.Request) -> str:
        return request.path[_CALLS_PATH_LEN:-1]

    def _list(self, request: web.Request, credential: _Credential, body: Any) -> Outcome:
        query = request.query
        field_errors: dict[str, str] = {}
        skip, limit = skip_and_limit(query, _CALLS_MAX_LIMIT, self.store.max_skip, field_errors)
        filters: list[Filter] = []
        for name in ("lead_id", "contact_id", "user_id"):
            wanted = query.get(name)
            if wanted:
                filters.append(_in_filter(name, frozenset(wanted.split(","))))
        filters += date_filters(query, ("date_created", "activity_at"), field_errors)
        if field_errors:
            return 400, validation_body([], field_errors)

        candidates: Iterable[dict[str, Any]]
        id_in = query.get("id__in")
        if id_in:
            calls = self.calls
            wanted_ids = dict.fromkeys(i for i in id_in.split(",") if i)
            candidates = (calls[i] for i in wanted_ids if i in calls)
        else:
            candidates = self.calls.values()
        if filters:
            candidates = (c for c in candidates if all(f(c) for f in filters))
        return 200, skip_page(candidates, skip, limit, query.get("_fields"))

    def _create(self, request: web.Request, credential: _Credential, body: Any) -> Outcome:
        invalid = _invalid_body(body, CREATE_FIELDS)
        if isinstance(invalid, bytes):
            return 400, invalid
        clean = invalid
        now = now_iso()
        user = credential.user_id
        fields: dict[str, Any] = {
            "date_created": now,
            "date_updated": now,
            "activity_at": clean.get("date_created") or now,
            "created_by": user,
            "updated_by": user,
            "user_id": user,
            "users": [],
            "lead_id": None,
            "contact_id": None,
            "direction": "outbound",
            "duration": 0,
            "cost": None,
            "phone": None,
            "remote_phone": None,
            "source": "External",
            "status": "completed",
            "call_method": "external",
        }
        created_by = clean.pop("created_by_id", None)
        if created_by:
            fields["created_by"] = created_by
        fields.update(clean)
        fields["disposition"] = _DISPOSITIONS.get(fields["status"], "answered")
        if fields["source"] == "Close.io":
            fields["call_method"] = "regular"
        if "phone" in clean:
            fields["remote_phone"] = clean["phone"]
        if "note_html" in clean:
            fields["note"] = _derived_note(clean["note_html"])
        elif "note" in clean:
            fields["note_html"] = _derived_html(clean["note"])
        for role in ("user", "created_by", "updated_by"):
            fields[f"{role}_name"] = user_name(fields["user_id" if role == "user" else role])
        call = self._seeded_call(self._next_index, fields)
        self._next_index += 1
        self.calls[call["id"]] = call
        self.stats.created += 1
        self._log_call(request, credential, call, "created")
        return 200, dumps(call)

    def _get(self, request: web.Request, credential: _Credential, body: Any) -> Outcome:
        call = self.calls.get(self._call_id(request))
        if call is None:
            return 404, _NOT_FOUND
        return 200, dumps(only_fields(call, request.query.get("_fields")))

    def _update(self, request: web.Request, credential: _Credential, body: Any) -> Outcome:
        call_id = self._call_id(request)
        call = self.calls.get(call_id)
        if call is None and (self.strict or _CALL_ID.fullmatch(call_id) is None):
            return 404, _NOT_FOUND
        invalid = _invalid_body(body, UPDATE_FIELDS)
        if isinstance(invalid, bytes):
            return 400, invalid  # checked before creating: a refused PUT leaves no trace
        clean = invalid
        if call is None:
            # Not counted in _next_index: seeding after this still gives fake_call_id(0)...
            call = self._seeded_call(self._next_index, {"id": call_id})
            self.calls[call_id] = call
            self.stats.created += 1
            self._log_call(request, credential, call, "created")
        if call.get("source") == "Close.io":
            field_errors: dict[str, str] = {
                name: _INTERNAL_FIELD
                for name in ("status", "duration", "direction")
                if name in clean and clean[name] != call.get(name)
            }
            for name in ("recording_url", "voicemail_url"):
                if name in clean and clean[name] != call.get(name):
                    field_errors[name] = _RECORDING_FIELD
            if field_errors:
                return 400, validation_body([], field_errors)
        if "note_html" in clean:
            clean["note"] = _derived_note(clean["note_html"])
        elif "note" in clean:
            clean["note_html"] = _derived_html(clean["note"])
        if "phone" in clean:
            clean["remote_phone"] = clean["phone"]
        if "user_id" in clean:
            clean["user_name"] = user_name(clean["user_id"])
        before = dict(call)
        call.update(clean)
        call["date_updated"] = now_iso()
        call["updated_by"] = credential.user_id
        call["updated_by_name"] = user_name(credential.user_id)
        self.update_counts[call_id] = self.update_counts.get(call_id, 0) + 1
        self.stats.applied_updates += 1
        self._log_call(request, credential, call, "updated", *changes(before, call))
        return 200, dumps(call)

    def _delete(self, request: web.Request, credential: _Credential, body: Any) -> Outcome:
        call_id = self._call_id(request)
        call = self.calls.pop(call_id, None)
        if call is None:
            return 404, _NOT_FOUND
        self.update_counts.pop(call_id, None)
        self.stats.deleted += 1
        self._log_call(request, credential, None, "deleted", call, [], call_id=call_id)
        return 200, EMPTY_OBJECT

    def _log_call(
        self,
        request: web.Request,
        credential: _Credential,
        call: dict[str, Any] | None,
        action: str,
        previous: dict[str, Any] | None = None,
        changed: list[str] | None = None,
        *,
        call_id: str | None = None,
    ) -> None:
        shown = call if call is not None else previous or {}
        lead_id = shown.get("lead_id")
        self._log(
            request,
            credential,
            CALL_OBJECT_TYPE,
            call_id or shown["id"],
            action,
            lead_id=lead_id if isinstance(lead_id, str) else None,
            data=call,
            previous_data=previous,
            changed_fields=changed,
        )


def _overridden(request: web.Request, override: str, body: Any) -> web.Request | bytes:
    """``request`` (not yet read) as the GET a method override asks for, or the body of
    the 400 to answer.
    """
    if override.strip().upper() != "GET":
        return validation_body([f"{METHOD_OVERRIDE_HEADER} supports only GET."], {})
    if body is None:
        body = {}
    if not isinstance(body, dict):
        return validation_body(["The request body must be a JSON object with _params."], {})
    params = body.get("_params", {})
    if not isinstance(params, dict):
        return validation_body([], {"_params": "Not a valid mapping type."})
    query: dict[str, str] = dict(request.query)
    for name, value in params.items():
        if isinstance(value, list):
            if not all(isinstance(v, str | int | float) for v in value):
                return validation_body([], {name: "Not a valid string or list of strings."})
            query[name] = ",".join(_param_text(v) for v in value)
        elif isinstance(value, str | int | float):
            query[name] = _param_text(value)
        elif value is not None:
            return validation_body([], {name: "Not a valid string or list of strings."})
    served = request.clone(method="GET", rel_url=request.rel_url.with_query(query))
    METHOD_OVERRIDE.set("GET")
    return served


def _param_text(value: str | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _in_filter(name: str, wanted: frozenset[str]) -> Filter:
    return lambda call: call.get(name) in wanted


def _invalid_body(body: Any, fields: Any) -> dict[str, Any] | bytes:
    """The clean fields, or the body of the 400 to answer."""
    if body is BAD_JSON:
        return validation_body([NOT_JSON_ERROR], {})
    clean, errors, field_errors = validate_body(body, fields)
    if errors or field_errors:
        return validation_body(errors, field_errors)
    return clean


_SEEDABLE_FIELDS = frozenset({"id", "date_created", "date_updated", "created_by", "updated_by"})


def _derived_note(note_html: str | None) -> str | None:
    return None if note_html is None else note_from_html(note_html)


def _derived_html(note: str | None) -> str | None:
    return None if note is None else html_from_note(note)
