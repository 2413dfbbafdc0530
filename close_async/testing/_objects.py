"""The fake server's generic object store: leads, contacts, opportunities and tasks.

Objects are plain dicts kept in creation order. ``PUT`` is a patch (only the keys sent
change, ``null`` clears); any key is stored as sent, custom fields (``custom.cf_...``)
included. Lists page by ``_skip``/``_limit`` and filter by equality on top-level scalar
fields, ``<field>__in=a,b`` and ``id__in=a,b``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from ._events import changes
from ._ids import fake_id
from ._listing import Filter, skip_and_limit, skip_page
from ._responses import Outcome, error_body, validation_body

__all__ = ["KINDS", "MANAGED_FIELDS", "ObjectKind", "ObjectStore"]


@attrs.frozen
class ObjectKind:
    """One collection: its path segment (``lead``), id prefix, 404 label and ``_limit`` cap."""

    name: str
    prefix: str
    label: str
    max_limit: int
    lead_scoped: bool
    display_name: bool
    defaults: tuple[tuple[str, Any], ...] = ()

    @property
    def not_found(self) -> bytes:
        """Close's 404 body for an unknown id of this kind."""
        return error_body(f"Empty query: {self.label} matching query does not exist.")


KINDS: Mapping[str, ObjectKind] = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            ObjectKind("lead", "lead", "Lead", 200, lead_scoped=False, display_name=True),
            ObjectKind("contact", "cont", "Contact", 100, lead_scoped=True, display_name=True),
            ObjectKind(
                "opportunity",
                "oppo",
                "Opportunity",
                100,
                lead_scoped=True,
                display_name=False,
                defaults=(("status_type", "active"),),
            ),
            ObjectKind(
                "task",
                "task",
                "Task",
                100,
                lead_scoped=True,
                display_name=False,
                defaults=(("_type", "lead"), ("is_complete", False)),
            ),
        )
    }
)
"""The collections served under ``/api/v1/<name>/``."""

MANAGED_FIELDS = frozenset(
    {"id", "organization_id", "date_created", "date_updated", "created_by", "updated_by"}
)
"""Fields the server sets; a body's values for them are ignored."""


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
            object_id = fake_id(kind.prefix, self._next[kind.name])
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
        obj.update(kind.defaults)
        obj.update(fields)
        obj["id"] = object_id
        if kind.display_name and "name" in fields:
            obj["display_name"] = fields["name"] or ""
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
        field_errors: dict[str, str] = {}
        skip, limit = skip_and_limit(query, kind.max_limit, self.max_skip, field_errors)
        filters: list[Filter] = []
        for name, value in query.items():
            if name.startswith("_"):
                continue
            if name.endswith("__in"):
                filters.append(_within(name[:-4], frozenset(v for v in value.split(",") if v)))
            elif "__" in name:
                if strict:
                    field_errors[name] = "Unsupported filter in the fake server."
            else:
                filters.append(_equal(name, value))
        if field_errors:
            return 400, validation_body([], field_errors)
        candidates: Iterable[dict[str, Any]] = self.objects[kind.name].values()
        if filters:
            candidates = (o for o in candidates if all(f(o) for f in filters))
        return 200, skip_page(candidates, skip, limit, query.get("_fields"))
