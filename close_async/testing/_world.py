"""The organization every fake Close starts with, kept in the store like anything created.

A fresh fake holds (ids deterministic, the same in every process):

- one organization, ``ORGANIZATION_ID`` (``GET /organization/{id}/``), whose
  ``lead_statuses``, ``opportunity_statuses`` and ``memberships`` are read from the store
  when asked for, so a status created later is listed there too;
- five users (``SEED_USERS``, "Fake User 0" .. "Fake User 4", ``fake-user-<n>@example.com``)
  and one more per accepted credential (the user ``me/`` answers for that key), each with a
  membership (``memb_``) of the organization in the role ``ROLE_ID`` ("Admin");
- four lead statuses (Potential, Bad Fit, Qualified, Customer) and a "Sales" pipeline with
  three opportunity statuses (Active, Won, Lost; ``status_type`` active, won, lost).

A lead created without ``status_id`` gets the first lead status, an opportunity the first
active status (and its pipeline), an opportunity status without ``pipeline_id`` the "Sales"
pipeline, as Close does; a pipeline lists its statuses as they are in the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ._ids import fake_id
from ._objects import ObjectKind, ObjectStore

__all__ = [
    "LEAD_STATUSES",
    "OPPORTUNITY_STATUSES",
    "ORGANIZATION_ID",
    "PIPELINE_ID",
    "ROLE_ID",
    "SEED_EPOCH",
    "SEED_USERS",
    "add_user",
    "fill_defaults",
    "me",
    "seed_world",
    "user_name",
    "view",
]

ORGANIZATION_ID = fake_id("orga", 0)
SEED_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
SEED_USERS = tuple(fake_id("user", n) for n in range(5))
_USER_NAMES = {user: f"Fake User {n}" for n, user in enumerate(SEED_USERS)}
ROLE_ID = fake_id("role", "admin")
PIPELINE_ID = fake_id("pipe", "sales")
LEAD_STATUSES = tuple(
    (fake_id("stat", f"lead:{label}"), label)
    for label in ("Potential", "Bad Fit", "Qualified", "Customer")
)
"""(id, label) of the seeded lead statuses; the first is a new lead's."""
OPPORTUNITY_STATUSES = tuple(
    (fake_id("stat", f"opportunity:{label}"), label, status_type)
    for label, status_type in (("Active", "active"), ("Won", "won"), ("Lost", "lost"))
)
"""(id, label, status_type) of the seeded opportunity statuses, all in the pipeline."""


def user_name(user_id: str | None) -> str | None:
    """The full name shown for ``user_id`` (``*_name`` fields of activities)."""
    if user_id is None:
        return None
    return _USER_NAMES.get(user_id) or f"Fake User {user_id[-4:]}"


def seed_world(store: ObjectStore) -> None:
    """Store the organization, its users, role, statuses and pipeline (no events)."""
    now = SEED_EPOCH.isoformat()
    owner = SEED_USERS[0]
    store.create(
        "organization",
        {"id": ORGANIZATION_ID, "name": "Fake Organization", "currency": "USD"},
        owner,
        now,
    )
    store.create("role", {"id": ROLE_ID, "name": "Admin"}, owner, now)
    for n, user in enumerate(SEED_USERS):
        add_user(store, user, f"fake-user-{n}@example.com", now=now)
    for status_id, label in LEAD_STATUSES:
        store.create("status.lead", {"id": status_id, "label": label}, owner, now)
    store.create("pipeline", {"id": PIPELINE_ID, "name": "Sales"}, owner, now)
    for status_id, label, status_type in OPPORTUNITY_STATUSES:
        fields = {
            "id": status_id,
            "label": label,
            "status_type": status_type,
            "pipeline_id": PIPELINE_ID,
        }
        store.create("status.opportunity", fields, owner, now)


def add_user(store: ObjectStore, user_id: str, email: str, *, now: str | None = None) -> None:
    """Store a user of the organization (and its membership) unless already there."""
    if store.get("user", user_id) is not None:
        return
    first, _, last = (user_name(user_id) or "").rpartition(" ")
    fields = {
        "id": user_id,
        "email": email,
        "first_name": first,
        "last_name": last,
        "image": None,
        "email_verified_at": now or SEED_EPOCH.isoformat(),
    }
    store.create("user", fields, user_id, now)
    membership = {
        "id": fake_id("memb", user_id),
        "user_id": user_id,
        "organization_id": ORGANIZATION_ID,
        "role_id": ROLE_ID,
    }
    store.create("membership", membership, user_id, now)


def me(store: ObjectStore, user_id: str) -> dict[str, Any]:
    """``GET /me/``: the user, with the organization and its membership of it."""
    user = dict(store.get("user", user_id) or {"id": user_id})
    organization = store.get("organization", ORGANIZATION_ID) or {}
    user["organizations"] = [
        {"id": ORGANIZATION_ID, "name": organization.get("name"), "role_id": ROLE_ID}
    ]
    user["memberships"] = store.list("membership", {"user_id": user_id})
    return user


def fill_defaults(kind: ObjectKind, fields: dict[str, Any], store: ObjectStore) -> None:
    """What Close sets on a new object that the body left out (statuses, pipeline)."""
    if kind.name == "lead" and not fields.get("status_id"):
        status = store.get("status.lead", LEAD_STATUSES[0][0]) or _first(store, "status.lead")
        if status is not None:
            fields["status_id"] = status["id"]
            fields.setdefault("status_label", status.get("label"))
    elif kind.name == "opportunity" and not fields.get("status_id"):
        status = _first(store, "status.opportunity", {"status_type": "active"})
        if status is not None:
            fields["status_id"] = status["id"]
            fields.setdefault("status_label", status.get("label"))
            fields.setdefault("status_type", status.get("status_type"))
            fields.setdefault("pipeline_id", status.get("pipeline_id"))
    elif kind.name == "status.opportunity" and not fields.get("pipeline_id"):
        pipeline = store.get("pipeline", PIPELINE_ID) or _first(store, "pipeline")
        if pipeline is not None:
            fields["pipeline_id"] = pipeline["id"]


def _first(
    store: ObjectStore, kind: str, filters: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    found = store.list(kind, filters)
    return found[0] if found else None


def view(kind: ObjectKind, obj: dict[str, Any], store: ObjectStore) -> dict[str, Any]:
    """``obj`` as answered: a pipeline with its statuses, the organization with its statuses
    and memberships, read from the store now. Other objects are answered as stored.
    """
    if kind.name == "pipeline":
        return {**obj, "statuses": store.list("status.opportunity", {"pipeline_id": obj["id"]})}
    if kind.name == "organization":
        return {
            **obj,
            "lead_statuses": store.list("status.lead"),
            "opportunity_statuses": store.list("status.opportunity"),
            "memberships": store.list("membership", {"organization_id": obj["id"]}),
            "inactive_memberships": [],
        }
    return obj
