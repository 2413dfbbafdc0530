"""The fake server's generic object store: every resource of Close's OpenAPI document that
has a collection and an item path (leads, contacts, opportunities, tasks, every activity
type, pipelines, statuses, custom fields, templates, smart views, users, ...; the table is
generated into :mod:`._spec_kinds`).

API (``fake.store``; ``kind`` is a name of :data:`KINDS` or an :class:`ObjectKind`)::

    store.kinds()                          -> ["lead", "contact", ..., "pipeline", ...]
    store.create(kind, fields)             -> the stored object (id, dates, ... added)
    store.get(kind, object_id)             -> the object, or None
    store.list(kind, {"lead_id": "lead_..."}) -> the objects passing the filters
    store.update(kind, object_id, fields)  -> the object after the patch, or None
    store.delete(kind, object_id)          -> the removed object, or None

Objects are plain dicts kept in creation order (calls too, whose routes are the server's
own). ``PUT`` is a patch (only the keys sent change, ``null`` clears); any key is stored as
sent, custom fields (``custom.cf_...``) included. A new object starts from the required
fields of its answer schema in Close's OpenAPI document (placeholders from
:mod:`._spec_answers`), so every answer is schema-valid. Lists page by ``_skip``/``_limit``
and filter by equality on top-level scalar fields, ``<field>__in=a,b``, ``id__in=a,b`` and
date ranges (``date_created__gte=...``); activity lists also take comma-separated
``lead_id``, ``contact_id``, ``user_id`` and ``_type``.
"""

from __future__ import annotations

import builtins
import copy
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import attrs

from ._events import changes
from ._ids import fake_id
from ._listing import DATE_OPS, Filter, date_filters, skip_and_limit, skip_page
from ._responses import Outcome, error_body, validation_body
from ._spec_answers import ANSWERS
from ._spec_kinds import REQUEST_SCHEMAS, RESOURCES

__all__ = [
    "ACTIVITY_KINDS",
    "CALL_KIND",
    "DATE_FIELDS",
    "KINDS",
    "KINDS_BY_PATH",
    "LITERAL_ROUTES",
    "MANAGED_FIELDS",
    "ObjectKind",
    "ObjectStore",
    "kind_of",
    "list_filters",
    "now_iso",
]

MANAGED_FIELDS = frozenset(
    {"id", "organization_id", "date_created", "date_updated", "created_by", "updated_by"}
)
"""Fields the server sets; a body's values for them are ignored."""

DATE_FIELDS = ("date_created", "date_updated", "activity_at")
"""Fields every list filters by range: ``<field>__gte``, ``__gt``, ``__lte``, ``__lt``."""

_LIST_FIELDS = frozenset({"lead_id", "contact_id", "user_id", "_type"})
"""Activity-list filters whose value is a comma-separated list of wanted values."""

_COLLECTION = ("GET", "POST")
_ITEM = ("GET", "PUT", "DELETE")


@attrs.frozen
class ObjectKind:
    """One resource kept in the store: its name (``lead``, ``activity.note``, ``pipeline``,
    ``custom_field.lead``: the events' ``object_type``), Close's id prefix, 404 label,
    ``_limit`` cap, path under ``/api/v1/``, the methods Close's document declares on the
    collection and on an item, and the fields a new object starts with (the required fields
    of its answer schema). An activity also starts with ``user_id`` (its creator) and
    ``activity_at`` (now). ``item_template`` is the document's item path (``/lead/{id}/``).
    """

    name: str
    prefix: str
    label: str
    max_limit: int
    lead_scoped: bool
    display_name: bool
    defaults: tuple[tuple[str, Any], ...] = ()
    path: str = ""
    collection_methods: tuple[str, ...] = _COLLECTION
    item_methods: tuple[str, ...] = _ITEM
    activity: bool = False
    item_template: str = ""

    @property
    def route(self) -> str:
        """The collection's path under ``/api/v1/``, without slashes (``activity/note``)."""
        return self.path or self.name

    @property
    def collection_template(self) -> str:
        """The document's collection path (``/lead/``)."""
        return f"/{self.route}/"

    def initial(self) -> dict[str, Any]:
        """The fields a new object starts with (containers fresh for each object)."""
        return {
            name: copy.deepcopy(value) if isinstance(value, list | dict) else value
            for name, value in self.defaults
        }

    @property
    def not_found(self) -> bytes:
        """Close's 404 body for an unknown id of this kind."""
        return error_body(f"Empty query: {self.label} matching query does not exist.")

    @property
    def create_status(self) -> int:
        """The status Close's document declares for a create (200 or 201)."""
        return ANSWERS.get(("POST", self.collection_template), (200, None))[0]

    @property
    def delete_status(self) -> int:
        """The status Close's document declares for a delete (200, or 204 with no body)."""
        return ANSWERS.get(("DELETE", self.item_template), (200, None))[0]

    @property
    def create_schema(self) -> Any:
        """The request schema of a create (``None``: the document says "any type")."""
        return REQUEST_SCHEMAS.get(("POST", self.collection_template))

    @property
    def update_schema(self) -> Any:
        """The request schema of an update (``None``: the document says "any type")."""
        return REQUEST_SCHEMAS.get(("PUT", self.item_template))


def _spec_defaults(route: str, item_template: str, lead_scoped: bool) -> dict[str, Any]:
    """The required fields of the resource's answer schema (placeholders): the item's
    ``GET`` answer, else the create's, else the update's.
    """
    body: Any = {}
    for key in (("GET", item_template), ("POST", f"/{route}/"), ("PUT", item_template)):
        answer = ANSWERS.get(key)
        if answer is not None and isinstance(answer[1], dict) and answer[1]:
            body = answer[1]
            break
    skipped = MANAGED_FIELDS | ({"lead_id"} if lead_scoped else set())
    return {name: value for name, value in body.items() if name not in skipped}


@attrs.frozen
class _Tuning:
    """What the fake knows of a resource beyond the document: its event name, limits, ..."""

    name: str
    label: str
    max_limit: int = 100
    lead_scoped: bool = True
    display_name: bool = False
    defaults: tuple[tuple[str, Any], ...] = ()


def _activity_tuning(name: str, type_name: str) -> _Tuning:
    return _Tuning("activity." + name, type_name, defaults=(("_type", type_name),))


_TUNED: Mapping[str, _Tuning] = {
    "lead": _Tuning("lead", "Lead", 200, lead_scoped=False, display_name=True),
    "contact": _Tuning("contact", "Contact", display_name=True),
    "opportunity": _Tuning("opportunity", "Opportunity", defaults=(("status_type", "active"),)),
    "task": _Tuning("task", "Task", defaults=(("_type", "lead"), ("is_complete", False))),
    "activity/note": _activity_tuning("note", "Note"),
    "activity/call": _activity_tuning("call", "Call"),
    "activity/email": _activity_tuning("email", "Email"),
    "activity/emailthread": _activity_tuning("email_thread", "EmailThread"),
    "activity/sms": _activity_tuning("sms", "SMS"),
    "activity/whatsapp_message": _activity_tuning("whatsapp_message", "WhatsAppMessage"),
    "activity/meeting": _activity_tuning("meeting", "Meeting"),
    "activity/custom": _activity_tuning("custom_activity", "CustomActivity"),
    "activity/created": _activity_tuning("created", "Created"),
    "activity/form_submission": _activity_tuning("form_submission", "FormSubmission"),
    "activity/status_change/lead": _activity_tuning("lead_status_change", "LeadStatusChange"),
    "activity/status_change/opportunity": _activity_tuning(
        "opportunity_status_change", "OpportunityStatusChange"
    ),
    "activity/lead_merge": _activity_tuning("lead_merge", "LeadMerge"),
    "activity/task_completed": _activity_tuning("task_completed", "TaskCompleted"),
}
"""Resources whose name, label or defaults the fake sets itself; every other resource of
the document is kept the same way with its generated name and no parent lead."""


def _kinds() -> Iterator[ObjectKind]:
    for name, (route, prefix, label, collection, item, template) in RESOURCES.items():
        tuning = _TUNED.get(route) or _Tuning(name, label, lead_scoped=False)
        defaults = _spec_defaults(route, template, tuning.lead_scoped)
        defaults.update(tuning.defaults)
        yield ObjectKind(
            tuning.name,
            prefix,
            tuning.label,
            tuning.max_limit,
            lead_scoped=tuning.lead_scoped,
            display_name=tuning.display_name,
            defaults=tuple(defaults.items()),
            path=route if route != tuning.name else "",
            collection_methods=collection,
            item_methods=item,
            activity=route.startswith("activity/"),
            item_template=template,
        )


KINDS: Mapping[str, ObjectKind] = MappingProxyType({kind.name: kind for kind in _kinds()})
"""Every stateful resource, by name (``lead``, ``activity.note``, ``pipeline``, ...)."""

KINDS_BY_PATH: Mapping[str, ObjectKind] = MappingProxyType(
    {kind.route: kind for kind in KINDS.values()}
)
"""The same resources by their path under ``/api/v1/`` (``activity/status_change/lead``)."""

LITERAL_ROUTES = frozenset(
    route
    for _, template in ANSWERS
    if "{" not in (route := template.strip("/")).rpartition("/")[2]
    and route.rpartition("/")[0] in KINDS_BY_PATH
)
"""Paths the document gives an operation of their own though they look like an item of a
resource (``lead/merge``, ``user/availability``): never taken for an object id."""

CALL_KIND = KINDS["activity.call"]
"""Calls: kept in the store, served by the server's own call routes (a hook)."""

ACTIVITY_KINDS = tuple(kind for kind in KINDS.values() if kind.activity and kind is not CALL_KIND)
"""The activity types served by the generic routes (calls have their own)."""


_NUMBERED = frozenset({"lead", "contact", "opportunity", "task"})
"""Kinds whose n-th id is ``fake_id(prefix, n)`` (ids tests and seeds already rely on)."""


def kind_of(kind: str | ObjectKind) -> ObjectKind:
    """The :class:`ObjectKind` named ``kind`` (a clear error for an unknown name)."""
    if isinstance(kind, ObjectKind):
        return kind
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown object kind {kind!r}; one of: {', '.join(KINDS)}")
    return spec


def now_iso() -> str:
    """The current time, ISO 8601 in UTC."""
    return datetime.now(UTC).isoformat()


def _matches(value: Any, wanted: str) -> bool:
    if isinstance(value, bool):
        return wanted.lower() == ("true" if value else "false")
    if isinstance(value, str):
        return value == wanted
    if isinstance(value, int | float):
        return str(value) == wanted
    return False


def _equal(name: str, wanted: str) -> Filter:
    return lambda obj: _matches(obj.get(name), wanted)


def _within(name: str, wanted: frozenset[str]) -> Filter:
    return lambda obj: any(_matches(obj.get(name), w) for w in wanted)


Hook = Callable[[ObjectKind, dict[str, Any], "ObjectStore"], None]
"""Fills in what the server sets on a new object (called with the object being made)."""

View = Callable[[ObjectKind, dict[str, Any], "ObjectStore"], dict[str, Any]]
"""Makes the answer of a stored object (must not change it)."""


class ObjectStore:
    """Objects of every :data:`KINDS` collection, by kind name then id, in creation order.

    ``max_skip`` caps ``_skip`` on lists (``None``: no cap), so clients can be tested
    against Close's limit on deep paging.
    """

    def __init__(
        self,
        organization_id: str,
        *,
        max_skip: int | None = None,
        default_user: str = "",
        fill: Hook | None = None,
        view: View | None = None,
    ) -> None:
        self.organization_id = organization_id
        self.default_user = default_user
        # What the server adds to a new object beyond its body, and how an object is answered
        # (both default to nothing: the object as stored).
        self.fill = fill
        self.view = view
        self.max_skip = max_skip
        self.objects: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in KINDS}
        # Per kind, the next index for fake_id; global creation order for searches.
        self._next: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._order = itertools.count()
        self.sequence: dict[str, int] = {}

    def kinds(self) -> builtins.list[str]:
        """The names of every kind kept, in the document's order."""
        return list(self.objects)

    def get(self, kind: str | ObjectKind, object_id: str) -> dict[str, Any] | None:
        """The stored ``kind`` object ``object_id`` (live), or ``None``."""
        return self.objects[kind_of(kind).name].get(object_id)

    def list(
        self, kind: str | ObjectKind, filters: Mapping[str, str] | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The ``kind`` objects (live) passing ``filters``, a list query's filters
        (``{"lead_id": "lead_...", "id__in": "a,b"}``), in creation order.
        """
        rows: Iterable[dict[str, Any]] = self.objects[kind_of(kind).name].values()
        errors: dict[str, str] = {}
        wanted = list_filters(filters or {}, True, errors)
        if errors:
            raise ValueError(f"bad filters: {errors}")
        return [row for row in rows if all(f(row) for f in wanted)]

    def update(
        self,
        kind: str | ObjectKind,
        object_id: str,
        fields: Mapping[str, Any],
        user_id: str | None = None,
        now: str | None = None,
    ) -> dict[str, Any] | None:
        """Patch the ``kind`` object ``object_id`` with ``fields``; return it, or ``None``."""
        spec = kind_of(kind)
        obj = self.objects[spec.name].get(object_id)
        if obj is None:
            return None
        self.patch(spec, obj, fields, user_id or self.default_user, now or now_iso())
        return obj

    def _new_id(self, kind: ObjectKind) -> str:
        existing = self.objects[kind.name]
        while True:
            number = self._next[kind.name]
            # Kinds may share a prefix (``acti``, ``stat``, ``cf``): the name keeps them apart.
            key = number if kind.name in _NUMBERED else f"{kind.name}:{number}"
            object_id = fake_id(kind.prefix, key)
            self._next[kind.name] += 1
            if object_id not in existing:
                return object_id

    def create(
        self,
        kind: str | ObjectKind,
        fields: Mapping[str, Any],
        user_id: str | None = None,
        now: str | None = None,
    ) -> dict[str, Any]:
        """Store a new object made of ``fields`` (``id`` and dates may be given) and return it
        (live). ``user_id`` defaults to the seeded organization's first user, ``now`` to now.
        """
        kind = kind_of(kind)
        user_id = user_id or self.default_user
        now = now or now_iso()
        object_id = fields.get("id")
        if not isinstance(object_id, str) or not object_id:
            object_id = self._new_id(kind)
        obj: dict[str, Any] = {
            "id": object_id,
            "organization_id": self.organization_id,
            "date_created": now,
            "date_updated": now,
            "created_by": user_id,
            "updated_by": user_id,
        }
        if kind.lead_scoped:
            obj["lead_id"] = None
        obj.update(kind.initial())
        if kind.activity:
            obj["user_id"] = user_id
            obj["activity_at"] = fields.get("date_created") or now
        obj.update(fields)
        obj["id"] = object_id
        if self.fill is not None:
            self.fill(kind, obj, self)
        if kind.display_name:
            obj["display_name"] = obj.get("name") or ""
        self.objects[kind.name].pop(object_id, None)
        self.objects[kind.name][object_id] = obj
        self.sequence[object_id] = next(self._order)
        return obj

    def patch(
        self,
        kind: ObjectKind,
        obj: dict[str, Any],
        fields: Mapping[str, Any],
        user_id: str,
        now: str,
    ) -> tuple[dict[str, Any], builtins.list[str]]:
        """Apply ``fields`` to ``obj`` in place; return the previous values of what changed
        and the changed field names (in the object's key order, new keys last).
        """
        before = dict(obj)
        for name, value in fields.items():
            if name not in MANAGED_FIELDS:
                obj[name] = value
        if kind.display_name and "name" in fields:
            obj["display_name"] = fields["name"] or ""
        obj["date_updated"] = now
        obj["updated_by"] = user_id
        return changes(before, obj)

    def delete(self, kind: str | ObjectKind, object_id: str) -> dict[str, Any] | None:
        """Remove an object; return it, or ``None`` when there was none."""
        obj = self.objects[kind_of(kind).name].pop(object_id, None)
        if obj is not None:
            self.sequence.pop(object_id, None)
        return obj

    def list_page(self, kind: ObjectKind, query: Mapping[str, str], strict: bool) -> Outcome:
        """Answer ``GET /<kind>/``: ``{"data": [...], "has_more": bool}`` or a 400."""
        rows: Iterable[dict[str, Any]] = self.objects[kind.name].values()
        if self.view is not None:
            view = self.view
            rows = (view(kind, row, self) for row in rows)
        return self.page(rows, query, kind.max_limit, strict)

    def answer(self, kind: ObjectKind, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` as the API answers it (its view: a pipeline with its statuses, ...)."""
        return obj if self.view is None else self.view(kind, obj, self)

    def page(
        self,
        rows: Iterable[dict[str, Any]],
        query: Mapping[str, str],
        max_limit: int,
        strict: bool,
    ) -> Outcome:
        """One ``_skip``/``_limit`` page of the ``rows`` that pass the query's filters."""
        field_errors: dict[str, str] = {}
        skip, limit = skip_and_limit(query, max_limit, self.max_skip, field_errors)
        filters = list_filters(query, strict, field_errors)
        if field_errors:
            return 400, validation_body([], field_errors)
        if filters:
            rows = (o for o in rows if all(f(o) for f in filters))
        return 200, skip_page(rows, skip, limit, query.get("_fields"))


_DATE_PARAMS = frozenset(f"{name}__{op}" for name in DATE_FIELDS for op in DATE_OPS)


def list_filters(query: Mapping[str, str], strict: bool, errors: dict[str, str]) -> list[Filter]:
    """The filters a list's query asks for; problems (and, when ``strict``, filters the fake
    does not know) go to ``errors``.
    """
    filters = date_filters(query, DATE_FIELDS, errors)
    for name, value in query.items():
        if name in _DATE_PARAMS or (name.startswith("_") and not name.startswith("_type")):
            continue
        if name.endswith("__in"):
            filters.append(_within(name[:-4], _values(value)))
        elif name in _LIST_FIELDS:
            filters.append(_within(name, _values(value)))
        elif "__" in name:
            if strict:
                errors[name] = "Unsupported filter in the fake server."
        else:
            filters.append(_equal(name, value))
    return filters


def _values(text: str) -> frozenset[str]:
    return frozenset(v for v in text.split(",") if v)
