"""The fake Close without I/O: :meth:`FakeCore.handle` takes a :class:`FakeRequest`
(method, path, query, headers, decoded body) and gives a :class:`FakeAnswer`, synchronously,
touching nothing but memory. The aiohttp server (:mod:`._server`) is a thin front on it.

The pipeline of every API request, in order (all in :meth:`FakeCore.handle`):

1. authentication: no or unknown credential 401, a forbidden one 403;
2. rate limit: a refused request 429, in the style configured;
3. method override: a ``POST`` with ``x-http-method-override: GET`` served as that GET;
4. route: the operation for method and path (404 no route, 405 another method);
5. fault draw: a 5xx page, a refused body (400), a connection reset (nothing applied);
6. the operation (calls, the store, actions, hooks, canned answers);
7. after it: the connection dropped (applied, no answer), or the answer slowed;
8. the request recorded and counted.

A fixed ``latency`` (``FakeFaults.latency``) is waited by the front before step 1.
"""

from __future__ import annotations

import http
import itertools
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._calls import CALLS_PATH, CallRoutes
from ._config import FakeFaults, FakeRateLimit
from ._credentials import Credential, Credentials
from ._events import EventLog
from ._exports import ExportDesk
from ._ids import fake_id
from ._messages import FakeAnswer, FakeRequest, Fate
from ._oauth import FakeOAuth
from ._objects import CALL_KIND, MANAGED_FIELDS, ObjectStore, kind_of
from ._rate_limit import WindowLimiter
from ._records import FakeStats, RecordedRequest
from ._resources import METHOD_OVERRIDE, REQUEST_ID, Operation, ResourceRoutes, now_iso
from ._responses import BAD_JSON, Outcome, error_body, validation_body
from ._webhook_subscriptions import WebhookSubscriptions
from ._world import ORGANIZATION_ID, SEED_USERS, add_user, fill_defaults, seed_world, view

__all__ = [
    "API_PREFIX",
    "METHOD_OVERRIDE_HEADER",
    "FakeCore",
    "FakeStats",
    "RecordedRequest",
]

API_PREFIX = "/api/v1/"
_API_PREFIX_LEN = len(API_PREFIX)
_CALLS_PATH_LEN = len(CALLS_PATH)
METHOD_OVERRIDE_HEADER = "x-http-method-override"
JSON_TYPE = "application/json"
HTML_TYPE = "text/html"

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
_SEEDABLE_FIELDS = frozenset({"id", "date_created", "date_updated", "created_by", "updated_by"})


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


class FakeCore(CallRoutes, ResourceRoutes):
    """The fake Close's state and request pipeline, without a server: build it with the
    same keywords as :class:`FakeClose` (those about the network aside) and call
    :meth:`handle`. ``clock`` (``time.monotonic`` by default) times rate-limit windows.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = ("test_key",),
        oauth_tokens: Iterable[str] = (),
        forbidden_keys: Iterable[str] = (),
        rate_limit: FakeRateLimit | None = None,
        faults: FakeFaults | None = None,
        record_requests: bool = True,
        strict: bool = True,
        max_skip: int | None = None,
        oauth_clients: Mapping[str, str] | None = None,
        oauth_token_ttl: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.strict = strict
        self.clock = clock
        self.oauth: FakeOAuth = FakeOAuth(
            {"test_client": "test_secret"} if oauth_clients is None else oauth_clients,
            token_ttl=oauth_token_ttl,
        )
        self.store: ObjectStore = ObjectStore(
            ORGANIZATION_ID,
            max_skip=max_skip,
            default_user=SEED_USERS[0],
            fill=fill_defaults,
            view=view,
        )
        seed_world(self.store)
        self.credentials: Credentials = Credentials(
            self.oauth,
            api_keys=api_keys,
            oauth_tokens=oauth_tokens,
            forbidden_keys=forbidden_keys,
            on_new=self._add_user,
        )
        self.exports: ExportDesk = ExportDesk()  # tests set .delay and .fail on it
        self.event_log: EventLog = EventLog(ORGANIZATION_ID)
        self.webhook_subscriptions: WebhookSubscriptions = WebhookSubscriptions(ORGANIZATION_ID)
        # Calls and subscriptions live in the store; their own routes serve them (hooks).
        self.calls: dict[str, dict[str, Any]] = self.store.objects[CALL_KIND.name]
        self.webhook_subscriptions.items = self.store.objects["webhook"]
        self._request_numbers = itertools.count()
        self.record_requests = record_requests
        self.update_counts: dict[str, int] = {}
        self.requests: list[RecordedRequest] = []
        self.stats: FakeStats = FakeStats()
        self._next_index = 0
        self._rate_limit: FakeRateLimit | None = None
        self._limiter: WindowLimiter | None = None
        self.rate_limit = rate_limit
        self._faults: FakeFaults | None = None
        self._rng = random.Random(0)
        self.faults = faults

    def _add_user(self, credential: Credential) -> None:
        # Each credential is a user of the organization: me/ answers it, user/ lists it.
        add_user(self.store, credential.user_id, f"key-{credential.fingerprint}@example.com")

    @property
    def _basic(self) -> dict[str, Credential]:
        """The API keys' credentials, by key."""
        return self.credentials.basic

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

    # -- state helpers -------------------------------------------------------------------

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
        """Store one ``kind`` object (any name of ``fake.store.kinds()``: ``"lead"``,
        ``"activity.note"``, ``"pipeline"``, ``"custom_field.lead"``, ...) made of
        ``fields`` and return it (the stored dict itself).

        ``id``, ``date_created`` and ``date_updated`` may be given; otherwise the server sets
        them as for a ``POST``, and a lead or contact gets ``display_name`` from ``name``.
        Custom fields are keys like any other: ``fake.add_object("lead", **{"custom.cf_x":
        "v"})``. No event is logged. A call is made as :meth:`add_call` makes it, a webhook
        subscription as :meth:`subscribe_webhook` does (``url`` and ``events`` needed), so
        they are served as the ones created through the API.
        """
        spec = kind_of(kind)
        if spec is CALL_KIND:
            return self.add_call(**fields)
        if spec.name == "webhook":
            missing = [name for name in ("url", "events") if name not in fields]
            if missing:
                raise ValueError(f"a webhook subscription needs {' and '.join(missing)}")
            extra = {k: v for k, v in fields.items() if k not in ("url", "events")}
            item = self.webhook_subscriptions.add(fields["url"], list(fields["events"]))
            item.update(extra)
            return item
        given = {
            k: v for k, v in fields.items() if k not in MANAGED_FIELDS or k in _SEEDABLE_FIELDS
        }
        return self.store.create(spec, given, SEED_USERS[0], now_iso())

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

    # -- the pipeline --------------------------------------------------------------------

    def handle(self, request: FakeRequest) -> FakeAnswer:
        """Serve one API request (``request.path`` under ``/api/v1/``); see the module's
        docstring for the order of work. Records and counts it.
        """
        arrived = self.clock() if request.arrived is None else request.arrived
        self.stats.requests += 1
        REQUEST_ID.set(fake_id("req", next(self._request_numbers)))
        METHOD_OVERRIDE.set(None)
        received = request
        credential = self.credentials.authenticate(request.headers.get("Authorization"))
        if credential is None:
            return self._answer(received, request, arrived, None, 401, _UNAUTHORIZED)
        key = credential.fingerprint
        if credential.forbidden:
            return self._answer(received, request, arrived, key, 403, _FORBIDDEN)

        headers: dict[str, str] = {}
        limiter = self._limiter
        if limiter is not None:
            admitted, reset, remaining = limiter.admit(key, self.clock())
            if not admitted:
                self.stats.rate_limited += 1
                page, content_type, refusal_headers = limiter.refusal(reset)
                return self._answer(
                    received, request, arrived, key, 429, page, content_type, refusal_headers
                )
            headers = dict(limiter.headers(reset, remaining))

        method = request.method
        override = request.headers.get(METHOD_OVERRIDE_HEADER) if method == "POST" else None
        if override is not None:
            overridden = _overridden(request, override)
            if isinstance(overridden, bytes):
                return self._answer(
                    received, request, arrived, key, 400, overridden, headers=headers
                )
            request, method = overridden, "GET"
            METHOD_OVERRIDE.set("GET")

        table = self._routes(request.path)
        if table is None:
            return self._answer(received, request, arrived, key, 404, _NO_ROUTE, headers=headers)
        operation: Operation = table.get(method) or self._not_allowed

        fate: Fate | None = None
        delay = 0.0
        faults = self._faults
        if (
            faults is not None
            and faults.any_fault
            and (not faults.methods or method in faults.methods)
        ):
            rng = self._rng
            draw = rng.random() if faults.hard_rate > 0 else 1.0
            if draw < faults.error_rate:
                self.stats.injected_errors += 1
                status = rng.choice(faults.error_statuses)
                page = _error_page(status)
                return self._answer(
                    received, request, arrived, key, status, page, HTML_TYPE, headers
                )
            draw -= faults.error_rate
            if draw < faults.reject_rate:
                if _writes(method, request.path):
                    self.stats.rejected += 1
                    return self._answer(
                        received, request, arrived, key, 400, _REJECTED, headers=headers
                    )
                draw = 1.0  # a read (a search's POST) is never refused for its body
            draw -= faults.reject_rate
            if draw < faults.reset_rate:
                self.stats.resets += 1
                return self._lost(received, request, arrived, key, "reset")
            if draw - faults.reset_rate < faults.drop_after_apply_rate:
                fate = "dropped"
            if faults.slow_rate > 0 and rng.random() < faults.slow_rate:
                delay = faults.slow_seconds

        status, payload = operation(request, credential, request.body)
        if fate is not None:
            self.stats.drops += 1
            return self._lost(received, request, arrived, key, fate)
        if delay:
            self.stats.slowed += 1
        if status == 405:
            headers["Allow"] = ", ".join(table)
        return self._answer(
            received, request, arrived, key, status, payload, headers=headers, delay=delay
        )

    def _answer(
        self,
        received: FakeRequest,
        served: FakeRequest,
        arrived: float,
        key: str | None,
        status: int,
        payload: bytes,
        content_type: str = JSON_TYPE,
        headers: Mapping[str, str] | None = None,
        *,
        delay: float = 0.0,
    ) -> FakeAnswer:
        self._record(received, served, arrived, key, status)
        return FakeAnswer(status, payload, content_type, dict(headers or {}), delay)

    def _lost(
        self, received: FakeRequest, served: FakeRequest, arrived: float, key: str, fate: Fate
    ) -> FakeAnswer:
        self._record(received, served, arrived, key, fate)
        return FakeAnswer(0, b"", fate=fate)

    def _record(
        self,
        received: FakeRequest,
        served: FakeRequest,
        arrived: float,
        key: str | None,
        status: int | str,
    ) -> None:
        by_status = self.stats.by_status
        by_status[status] = by_status.get(status, 0) + 1
        if self.record_requests:
            override = METHOD_OVERRIDE.get()
            body = received.body
            self.requests.append(
                RecordedRequest(
                    received.method,
                    served.path,
                    served.query_string,
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

    @staticmethod
    def _not_allowed(request: FakeRequest, credential: Credential, body: Any) -> Outcome:
        return 405, _METHOD_NOT_ALLOWED


def _overridden(request: FakeRequest, override: str) -> FakeRequest | bytes:
    """``request`` as the GET a method override asks for, or the body of the 400 to answer."""
    if override.strip().upper() != "GET":
        return validation_body([f"{METHOD_OVERRIDE_HEADER} supports only GET."], {})
    body = {} if request.body is None else request.body
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
    return request.served_as("GET", query)


def _param_text(value: str | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
