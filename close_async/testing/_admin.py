"""The fake's own endpoints under ``/_fake/``: its state and counts, read from outside.

They are the test harness's view, not Close's API: no credentials, no rate limit, no
faults, and they are neither counted in the stats nor recorded as requests, so reading the
state never changes what a test asserts about it. (Bind the fake to loopback, its default:
anyone who reaches these paths can read and seed it.)

    GET  /_fake/                       this list, and the kinds
    GET  /_fake/objects                how many objects of each kind
    GET  /_fake/objects/{kind}         {"kind", "count", "data": [objects]} (?id__in=a,b)
    GET  /_fake/objects/{kind}/{id}    the object (404: {"error"})
    GET  /_fake/events                 {"count", "data": [events, oldest first]} (?last=N)
    GET  /_fake/requests               {"requests": [the last 100]} (?last=N)
    GET  /_fake/stats                  the counters (FakeStats) and how many of everything
    GET  /_fake/calls                  calls: note, outcome, status, updates (?full=1, id__in)
    POST /_fake/seed?kind=K&n=N        seed N objects of kind K (a JSON body: their fields)
    POST /_fake/reset                  forget recorded requests, zero the counters
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import attrs
from aiohttp import web

from ._events import EventLog
from ._objects import ObjectStore
from ._responses import dumps
from ._seeding import CALL_ALIAS, SEED_KINDS, canonical_kind, describe_unknown_kind
from ._webhook_delivery import WebhookDeliverer

__all__ = ["ADMIN_PREFIX", "FakeAdmin"]

ADMIN_PREFIX = "/_fake/"

_ENDPOINTS = (
    ("GET", "", "this list, and the kinds"),
    ("GET", "objects", "how many objects of each kind"),
    ("GET", "objects/{kind}", "the objects of a kind, in creation order (?id__in=a,b)"),
    ("GET", "objects/{kind}/{id}", "one object"),
    ("GET", "events", "the event log, oldest first (?last=N)"),
    ("GET", "requests", "the requests received, oldest first (?last=N, default 100)"),
    ("GET", "stats", "the counters, and how many objects, events and requests are kept"),
    ("GET", "calls", "per call: note, outcome, status, updates (?full=1, ?id__in=a,b)"),
    ("POST", "seed", "seed ?n=N objects of ?kind=K (default call); a JSON body sets fields"),
    ("POST", "reset", "forget the recorded requests and zero the counters"),
)


def _json(value: Any, status: int = 200) -> web.Response:
    # The compact JSON the API answers with.
    return web.Response(body=dumps(value), status=status, content_type="application/json")


def _error(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


def _last(request: web.Request, default: int | None) -> int | None:
    """``?last=N`` (``None``: all); ``ValueError`` when it is not a whole number."""
    text = request.query.get("last")
    if text is None:
        return default
    try:
        return max(int(text), 0)
    except ValueError:
        raise ValueError("last must be an integer") from None


def _tail(items: Sequence[Any], last: int | None) -> Sequence[Any]:
    if last is None:
        return items
    return items[len(items) - last :] if last else []


class _Counters(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


class _Fake(Protocol):
    """What the endpoints read and do of a :class:`FakeClose` (which imports this module)."""

    @property
    def calls(self) -> dict[str, dict[str, Any]]: ...
    @property
    def store(self) -> ObjectStore: ...
    @property
    def event_log(self) -> EventLog: ...
    @property
    def requests(self) -> Sequence[Any]: ...
    @property
    def stats(self) -> _Counters: ...
    @property
    def webhook_deliverer(self) -> WebhookDeliverer: ...

    def summary(self, ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]: ...
    def seed_objects(self, kind: str, n: int, **fields: Any) -> list[str]: ...
    def reset_stats(self) -> None: ...


class FakeAdmin:
    """The ``/_fake/`` endpoints of one :class:`FakeClose` (see the module's docstring)."""

    def __init__(self, fake: _Fake) -> None:
        self.fake = fake

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Route every ``/_fake/`` endpoint to this object."""
        handlers = {
            "": self.index,
            "objects": self.counts,
            "objects/{kind}": self.objects,
            "objects/{kind}/{id}": self.one,
            "events": self.events,
            "requests": self.requests,
            "stats": self.stats,
            "calls": self.calls,
            "seed": self.seed,
            "reset": self.reset,
        }
        for method, path, _ in _ENDPOINTS:
            router.add_route(method, ADMIN_PREFIX + path, handlers[path])

    def _by_id(self, kind: str) -> dict[str, dict[str, Any]]:
        # Live: the handlers only read them (the answer is serialized at once).
        return self.fake.store.objects[canonical_kind(kind)]

    async def index(self, request: web.Request) -> web.Response:
        endpoints = [
            {"method": method, "path": ADMIN_PREFIX + path, "what": what}
            for method, path, what in _ENDPOINTS
        ]
        return _json({"endpoints": endpoints, "kinds": list(SEED_KINDS)})

    async def counts(self, request: web.Request) -> web.Response:
        return _json({kind: len(objects) for kind, objects in self.fake.store.objects.items()})

    async def objects(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        if kind not in SEED_KINDS:
            return _error(f"unknown kind {kind!r} ({describe_unknown_kind(kind)})", 404)
        by_id = self._by_id(kind)
        id_in = request.query.get("id__in")
        if id_in:
            wanted = {i for i in id_in.split(",") if i}
            chosen = [o for i, o in by_id.items() if i in wanted]
        else:
            chosen = list(by_id.values())
        return _json({"kind": canonical_kind(kind), "count": len(by_id), "data": chosen})

    async def one(self, request: web.Request) -> web.Response:
        kind, object_id = request.match_info["kind"], request.match_info["id"]
        if kind not in SEED_KINDS:
            return _error(f"unknown kind {kind!r} ({describe_unknown_kind(kind)})", 404)
        found = self._by_id(kind).get(object_id)
        if found is None:
            return _error(f"no {kind} with id {object_id!r}", 404)
        return _json(found)

    async def events(self, request: web.Request) -> web.Response:
        try:
            last = _last(request, None)
        except ValueError as exc:
            return _error(str(exc))
        events = self.fake.event_log.events
        return _json({"count": len(events), "data": _tail(events, last)})

    async def requests(self, request: web.Request) -> web.Response:
        try:
            last = _last(request, 100)
        except ValueError as exc:
            return _error(str(exc))
        chosen = _tail(self.fake.requests, last)
        return _json({"requests": [attrs.asdict(r) for r in chosen]})

    async def stats(self, request: web.Request) -> web.Response:
        fake = self.fake
        data = fake.stats.to_dict()
        data["calls"] = len(fake.calls)
        data["objects"] = {kind: len(objs) for kind, objs in fake.store.objects.items()}
        data["events"] = len(fake.event_log.events)
        data["recorded_requests"] = len(fake.requests)
        data["webhooks"] = attrs.asdict(fake.webhook_deliverer.stats)
        return _json(data)

    async def calls(self, request: web.Request) -> web.Response:
        fake = self.fake
        id_in = request.query.get("id__in")
        ids = [i for i in id_in.split(",") if i] if id_in else None
        if request.query.get("full") in ("1", "true"):
            chosen: Iterable[str] = fake.calls if ids is None else ids
            return _json({"calls": [fake.calls[i] for i in chosen if i in fake.calls]})
        summary = fake.summary(ids)
        return _json({"count": len(summary), "calls": summary})

    async def seed(self, request: web.Request) -> web.Response:
        fake = self.fake
        try:
            n = int(request.query.get("n", "1"))
        except ValueError:
            return _error("n must be an integer")
        fields: Any = {}
        raw = await request.read()
        if raw:
            try:
                fields = json.loads(raw)
            except ValueError:
                fields = None
        if not isinstance(fields, dict) or n < 0:
            return _error("n >= 0 and a JSON object body")
        kind = canonical_kind(request.query.get("kind", CALL_ALIAS))
        if kind not in SEED_KINDS:
            return _error(f"unknown kind {kind!r} ({describe_unknown_kind(kind)})")
        try:
            ids = fake.seed_objects(kind, n, **fields)
        except ValueError as exc:  # a kind that needs fields the body did not give
            return _error(str(exc))
        return _json({"ids": ids})

    async def reset(self, request: web.Request) -> web.Response:
        self.fake.reset_stats()
        return _json({})
