"""The fake server's generic object store: leads, contacts, opportunities, tasks and every
activity type but calls (which the server keeps apart, on their own fast path).

Objects are plain dicts kept in creation order. ``PUT`` is a patch (only the keys sent
change, ``null`` clears); any key is stored as sent, custom fields (``custom.cf_...``)
included. A new object starts from the required fields of its schema in Close's OpenAPI
document (placeholders from :mod:`._spec_answers`), so every answer is schema-valid. Lists
page by ``_skip``/``_limit`` and filter by equality on top-level scalar fields,
``<field>__in=a,b``, ``id__in=a,b`` and date ranges (``date_created__gte=...``); activity
lists also take comma-separated ``lead_id``, ``contact_id``, ``user_id`` and ``_type``.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ._events import changes
from ._ids import fake_id
from ._listing import DATE_OPS, Filter, date_filters, skip_and_limit, skip_page
from ._responses import Outcome, error_body, validation_body
from ._spec_answers import ANSWERS

__all__ = [
    "ACTIVITY_KINDS",
    "DATE_FIELDS",
    "KINDS",
    "KINDS_BY_PATH",
    "MANAGED_FIELDS",
    "ObjectKind",
    "ObjectStore",
    "list_filters",
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
    """One collection: its name (``lead``, ``activity.note``: the events' ``object_type``), id
    prefix, 404 label, ``_limit`` cap, path under ``/api/v1/`` (the name when empty), the
    methods served on the collection and on an item, and the fields a new object starts with.
    An activity also starts with ``user_id`` (its creator) and ``activity_at`` (now).
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

    @property
    def route(self) -> str:
        """The collection's path under ``/api/v1/``, without slashes (``activity/note``)."""
        return self.path or self.name

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


def _spec_defaults(kind_path: str, lead_scoped: bool, *given: tuple[str, Any]) -> Any:
    """The required fields of ``GET /<kind_path>/{id}/``'s schema (placeholders), then ``given``."""
    _, body = ANSWERS[("GET", f"/{kind_path}/{{id}}/")]
    skipped = MANAGED_FIELDS | ({"lead_id"} if lead_scoped else set())
    fields = {name: value for name, value in body.items() if name not in skipped}
    fields.update(given)
    return tuple(fields.items())


def _kind(
    name: str,
    prefix: str,
    label: str,
    max_limit: int,
    *,
    lead_scoped: bool = True,
    display_name: bool = False,
    defaults: tuple[tuple[str, Any], ...] = (),
    path: str = "",
    collection: tuple[str, ...] = _COLLECTION,
    item: tuple[str, ...] = _ITEM,
    activity: bool = False,
) -> ObjectKind:
    route = path or name
    return ObjectKind(
        name,
        prefix,
        label,
        max_limit,
        lead_scoped=lead_scoped,
        display_name=display_name,
        defaults=_spec_defaults(route, lead_scoped, *defaults),
        path=path,
        collection_methods=collection,
        item_methods=item,
        activity=activity,
    )


def _activity(
    name: str,
    path: str,
    type_name: str,
    collection: tuple[str, ...] = _COLLECTION,
    item: tuple[str, ...] = _ITEM,
) -> ObjectKind:
    return _kind(
        "activity." + name,
        "acti",
        type_name,
        100,
        defaults=(("_type", type_name),),
        path="activity/" + path,
        collection=collection,
        item=item,
        activity=True,
    )


_READ_ONLY = ("GET",)
_READ_DELETE = ("GET", "DELETE")

KINDS: Mapping[str, ObjectKind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            _kind("lead", "lead", "Lead", 200, lead_scoped=False, display_name=True),
            _kind("contact", "cont", "Contact", 100, display_name=True),
            _kind("opportunity", "oppo", "Opportunity", 100, defaults=(("status_type", "active"),)),
            _kind(
                "task", "task", "Task", 100, defaults=(("_type", "lead"), ("is_complete", False))
            ),
            _activity("note", "note", "Note"),
            _activity("email", "email", "Email"),
            _activity("email_thread", "emailthread", "EmailThread", _READ_ONLY, _READ_DELETE),
            _activity("sms", "sms", "SMS"),
            _activity("whatsapp_message", "whatsapp_message", "WhatsAppMessage"),
            _activity("meeting", "meeting", "Meeting", _READ_ONLY),
            _activity("custom_activity", "custom", "CustomActivity"),
            _activity("created", "created", "Created", _READ_ONLY, _READ_ONLY),
            _activity(
                "form_submission", "form_submission", "FormSubmission", _READ_ONLY, _READ_DELETE
            ),
            _activity(
                "lead_status_change",
                "status_change/lead",
                "LeadStatusChange",
                _COLLECTION,
                _READ_DELETE,
            ),
            _activity(
                "opportunity_status_change",
                "status_change/opportunity",
                "OpportunityStatusChange",
                _COLLECTION,
                _READ_DELETE,
            ),
            _activity("lead_merge", "lead_merge", "LeadMerge", _READ_ONLY, _READ_ONLY),
            _activity(
                "task_completed", "task_completed", "TaskCompleted", _READ_ONLY, _READ_DELETE
            ),
        )
    }
)
"""The stateful collections, by name (``lead``, ``activity.note``, ...)."""

KINDS_BY_PATH: Mapping[str, ObjectKind] = MappingProxyType(
    {kind.route: kind for kind in KINDS.values()}
)
"""The same collections by their path under ``/api/v1/`` (``activity/status_change/lead``)."""

ACTIVITY_KINDS = tuple(kind for kind in KINDS.values() if kind.activity)
"""The activity types kept in the store (calls are kept by the server itself)."""


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


class ObjectStore:
    """Objects of every :data:`KINDS` collection, by kind name then id, in creation order.

    ``max_skip`` caps ``_skip`` on lists (``None``: no cap), so clients can be tested
    against Close's limit on deep paging.
    """

    def __init__(self, organization_id: str, *, max_skip: int | None = None) -> None:
        self.organization_id = organization_id
        self.max_skip = max_skip
        self.objects: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in KINDS}
        # Per kind, the next index for fake_id; global creation order for searches.
        self._next: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._order = itertools.count()
        self.sequence: dict[str, int] = {}

    def _new_id(self, kind: ObjectKind) -> str:
        existing = self.objects[kind.name]
        while True:
            number = self._next[kind.name]
            # Activity types share the prefix ``acti`` (with calls): the kind keeps them apart.
            object_id = fake_id(kind.prefix, f"{kind.name}:{number}" if kind.activity else number)
            self._next[kind.name] += 1
            if object_id not in existing:
                return object_id

    def create(
        self, kind: ObjectKind, fields: Mapping[str, Any], user_id: str, now: str
    ) -> dict[str, Any]:
        """Store a new object made of ``fields`` (``id`` and dates may be given) and return it."""
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
    ) -> tuple[dict[str, Any], list[str]]:
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

    def delete(self, kind: ObjectKind, object_id: str) -> dict[str, Any] | None:
        """Remove an object; return it, or ``None`` when there was none."""
        obj = self.objects[kind.name].pop(object_id, None)
        if obj is not None:
            self.sequence.pop(object_id, None)
        return obj

    def list_page(self, kind: ObjectKind, query: Mapping[str, str], strict: bool) -> Outcome:
        """Answer ``GET /<kind>/``: ``{"data": [...], "has_more": bool}`` or a 400."""
        return self.page(self.objects[kind.name].values(), query, kind.max_limit, strict)

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
