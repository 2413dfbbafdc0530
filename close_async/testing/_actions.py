"""Operations of Close's document that are not create/read/update/delete but whose effect on
the store is simple and documented; each is a function of the store and the request's
body and query, answering ``(status, body)`` and reporting its changes through ``log``.

- ``POST /lead/merge/`` (``source`` into ``destination``): the source's contacts,
  opportunities, tasks and activities (calls included) move to the destination, a
  ``LeadMerge`` activity is added to it, and the source is deleted.
- ``PUT /task/`` (bulk update): the body is applied to every task the query's filters
  select (the filters of ``GET /task/``; none selects every task).
- ``POST /playbook/{id}/archive/`` and ``.../unarchive/``: ``archived_at`` and
  ``archived_by_id`` set or cleared.
- ``POST /group/{id}/member/`` and ``DELETE /group/{id}/member/{user_id}/``: the group's
  ``members`` gain or lose the user.

Every other operation that is not a store route answers its canned body (:mod:`._canned`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._objects import ACTIVITY_KINDS, CALL_KIND, KINDS, ObjectKind, ObjectStore, list_filters
from ._responses import EMPTY_OBJECT, Outcome, dumps, object_body, validation_body

__all__ = [
    "Log",
    "archive_playbook",
    "bulk_update_tasks",
    "change_group_members",
    "merge_leads",
]

Log = Callable[..., None]
"""``log(kind, obj, action, data=..., previous_data=..., changed_fields=...)``: an event."""

_LEAD = KINDS["lead"]
_MERGED = (KINDS["contact"], KINDS["opportunity"], KINDS["task"], CALL_KIND, *ACTIVITY_KINDS)
_LEAD_MERGE = KINDS["activity.lead_merge"]
_NO_LEAD = "Lead matching query does not exist."


def merge_leads(store: ObjectStore, body: Any, user_id: str, now: str, log: Log) -> Outcome:
    """``POST /lead/merge/``: ``{"source": lead_id, "destination": lead_id}``."""
    fields = object_body(body)
    if isinstance(fields, bytes):
        return 400, fields
    errors: dict[str, str] = {}
    for name in ("source", "destination"):
        value = fields.get(name)
        if not isinstance(value, str) or not value:
            errors[name] = "Missing data for required field."
        elif store.get(_LEAD, value) is None:
            errors[name] = _NO_LEAD
    if not errors and fields["source"] == fields["destination"]:
        errors["destination"] = "Cannot merge a lead into itself."
    if errors:
        return 400, validation_body([], errors)
    source, destination = fields["source"], fields["destination"]
    for kind in _MERGED:
        for obj in store.list(kind, {"lead_id": source}):
            previous, changed = store.patch(kind, obj, {"lead_id": destination}, user_id, now)
            log(kind, obj, "updated", data=obj, previous_data=previous, changed_fields=changed)
    merge = store.create(
        _LEAD_MERGE,
        {"lead_id": destination, "source_lead_id": source, "destination_lead_id": destination},
        user_id,
        now,
    )
    log(_LEAD_MERGE, merge, "created", data=merge)
    gone = store.delete(_LEAD, source)
    assert gone is not None
    log(_LEAD, gone, "deleted", data=None, previous_data=gone)
    return 200, EMPTY_OBJECT


def bulk_update_tasks(
    store: ObjectStore, query: Mapping[str, str], body: Any, user_id: str, now: str, log: Log
) -> Outcome:
    """``PUT /task/``: the body applied to every task the query selects."""
    fields = object_body(body)
    if isinstance(fields, bytes):
        return 400, fields
    errors: dict[str, str] = {}
    wanted = list_filters({k: v for k, v in query.items() if not k.startswith("_")}, True, errors)
    if errors:
        return 400, validation_body([], errors)
    kind = KINDS["task"]
    for task in store.list(kind):
        if all(f(task) for f in wanted):
            previous, changed = store.patch(kind, task, fields, user_id, now)
            log(kind, task, "updated", data=task, previous_data=previous, changed_fields=changed)
    return 200, EMPTY_OBJECT


def archive_playbook(
    store: ObjectStore, playbook_id: str, archive: bool, user_id: str, now: str, log: Log
) -> Outcome:
    """``POST /playbook/{id}/archive/`` (``archive``) or ``.../unarchive/``."""
    kind = KINDS["playbook"]
    playbook = store.get(kind, playbook_id)
    if playbook is None:
        return 404, kind.not_found
    change = {
        "archived_at": now if archive else None,
        "archived_by_id": user_id if archive else None,
    }
    previous, changed = store.patch(kind, playbook, change, user_id, now)
    log(kind, playbook, "updated", data=playbook, previous_data=previous, changed_fields=changed)
    return 200, dumps(playbook)


def change_group_members(
    store: ObjectStore,
    group_id: str,
    user_id: str | None,
    body: Any,
    actor: str,
    now: str,
    log: Log,
) -> Outcome:
    """``POST /group/{id}/member/`` (``user_id`` ``None``: taken from the body) or
    ``DELETE /group/{id}/member/{user_id}/``.
    """
    kind: ObjectKind = KINDS["group"]
    group = store.get(kind, group_id)
    if group is None:
        return 404, kind.not_found
    members = [dict(m) for m in group.get("members") or []]
    if user_id is None:
        fields = object_body(body)
        if isinstance(fields, bytes):
            return 400, fields
        added = fields.get("user_id")
        if not isinstance(added, str):
            return 400, validation_body([], {"user_id": "Missing data for required field."})
        if all(m.get("user_id") != added for m in members):
            members.append({"user_id": added})
        answer: Outcome = (201, dumps({"user_id": added}))
    else:
        if all(m.get("user_id") != user_id for m in members):
            return 404, kind.not_found
        members = [m for m in members if m.get("user_id") != user_id]
        answer = (204, b"")
    previous, changed = store.patch(kind, group, {"members": members}, actor, now)
    log(kind, group, "updated", data=group, previous_data=previous, changed_fields=changed)
    return answer
