"""Routes of the fake server beyond calls: object collections (every activity type among
them), ``GET /activity/``, the event log, search and the canned answers of the rest.

:class:`ResourceRoutes` is mixed into ``FakeClose``; its :meth:`~ResourceRoutes._resolve`
maps a path to the operations of each method, which the server's one request pipeline
(authentication, rate limit, faults, recording) then runs exactly as for calls. Methods
that no stateful route serves on a path fall back to the canned answer of the OpenAPI
operation whose template matches it (:mod:`._canned`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Protocol

from ._actions import (
    Log,
    archive_playbook,
    bulk_update_tasks,
    change_group_members,
    merge_leads,
)
from ._canned import canned_answers
from ._events import EventLog
from ._exports import ExportDesk
from ._listing import only_fields
from ._messages import FakeRequest
from ._objects import (
    ACTIVITY_KINDS,
    KINDS,
    KINDS_BY_PATH,
    LITERAL_ROUTES,
    MANAGED_FIELDS,
    ObjectKind,
    ObjectStore,
    now_iso,
)
from ._responses import EMPTY_OBJECT, Outcome, dumps, object_body, validation_body
from ._schema_check import field_errors
from ._search import search
from ._world import me

__all__ = [
    "METHOD_OVERRIDE",
    "REQUEST_ID",
    "Operation",
    "ResourceRoutes",
    "checked_body",
    "event_meta",
    "now_iso",
]

REQUEST_ID: ContextVar[str | None] = ContextVar("close_async_fake_request_id", default=None)
"""The id (``req_...``) of the request being served; the pipeline sets it per request
(aiohttp serves one connection's requests one after another in one task)."""

METHOD_OVERRIDE: ContextVar[str | None] = ContextVar(
    "close_async_fake_method_override", default=None
)
"""The ``x-http-method-override`` the request being served was served as (``"GET"``)."""


class _User(Protocol):
    @property
    def user_id(self) -> str: ...

    @property
    def fingerprint(self) -> str: ...


Operation = Callable[[FakeRequest, Any, Any], Outcome]
"""An operation: (request, credential, decoded body) -> (status, JSON body)."""


def event_meta(request: FakeRequest) -> dict[str, Any]:
    """The ``meta`` of an event: how the change was asked for."""
    return {"request_method": request.method, "request_path": request.path}


_ACTIVITIES_MAX_LIMIT = 100
_MEETING = KINDS["activity.meeting"]


def checked_body(body: Any, schema: Any, *, patch: bool) -> dict[str, Any] | bytes:
    """The body as a JSON object Close would take under ``schema``, or the 400 to answer."""
    fields = object_body(body)
    if isinstance(fields, bytes):
        return fields
    errors, by_field = field_errors(schema, fields, patch=patch)
    if errors or by_field:
        return validation_body(errors, by_field)
    return fields


def _canned(outcome: Outcome, request: FakeRequest, credential: Any, body: Any) -> Outcome:
    return outcome


class ResourceRoutes:
    """The stateful collections, ``/activity/``, ``/event/``, ``/data/search/``, and the
    canned answers of every other operation of Close's OpenAPI document.
    """

    strict: bool
    store: ObjectStore
    event_log: EventLog
    exports: ExportDesk
    calls: dict[str, dict[str, Any]]

    def _resolve(self, tail: str) -> dict[str, Operation] | None:
        """The operations by method for ``/api/v1/<tail>``, or ``None`` when none is routed:
        the stateful ones, then the canned answers of the methods they leave out.
        """
        table = self._stateful(tail)
        canned = canned_answers().match(tail)
        if canned is None:
            return table
        table = table or {}
        for method, outcome in canned.items():
            table.setdefault(method, functools.partial(_canned, outcome))
        return table

    def _stateful(self, tail: str) -> dict[str, Operation] | None:
        if not tail.endswith("/"):
            return None
        route = tail[:-1]
        kind = KINDS_BY_PATH.get(route)
        if kind is not None:
            collection: dict[str, Operation] = {
                "GET": functools.partial(self._objects_list, kind),
                "POST": functools.partial(self._object_create, kind),
            }
            if kind.name == "task":
                collection["PUT"] = self._tasks_bulk_update
            return {m: collection[m] for m in kind.collection_methods if m in collection}
        head, _, object_id = route.rpartition("/")
        kind = KINDS_BY_PATH.get(head)
        if kind is not None and object_id and route not in LITERAL_ROUTES:
            item: dict[str, Operation] = {
                "GET": functools.partial(self._object_get, kind, object_id),
                "PUT": functools.partial(self._object_update, kind, object_id),
                "DELETE": functools.partial(self._object_delete, kind, object_id),
            }
            return {m: item[m] for m in kind.item_methods if m in item}
        if route == "activity":
            return {"GET": self._activities_list}
        if route == "me":
            return {"GET": self._me}
        if route == "lead/merge":
            return {"POST": self._lead_merge}
        parent, _, parent_id = head.rpartition("/")
        if parent == "playbook" and object_id in ("archive", "unarchive"):
            archive = object_id == "archive"
            return {"POST": functools.partial(self._playbook_archive, parent_id, archive)}
        if parent == "group" and object_id == "member":
            return {"POST": functools.partial(self._group_members, parent_id, None)}
        group, _, member = parent.rpartition("/")
        if group == "group" and parent_id == "member":
            return {"DELETE": functools.partial(self._group_members, member, object_id)}
        if route == "event":
            return {"GET": self._events_list}
        if head == "event" and object_id:
            return {"GET": functools.partial(self._event_get, object_id)}
        if route == "data/search":
            return {"POST": self._search}
        if head == "export" and object_id in ("lead", "opportunity"):
            return {"POST": functools.partial(self._export_start, object_id)}
        if head == "export" and object_id in self.exports.exports:
            # An id the fake never issued gets the document's canned answer, as before.
            return {"GET": functools.partial(self._export_get, object_id)}
        meeting, _, last = head.rpartition("/")
        if last and object_id == "integration" and meeting == _MEETING.route:
            return {"POST": functools.partial(self._meeting_integration, last)}
        return None

    def _log(
        self,
        request: FakeRequest,
        credential: _User,
        object_type: str,
        object_id: str,
        action: str,
        *,
        lead_id: str | None,
        data: dict[str, Any] | None,
        previous_data: Mapping[str, Any] | None = None,
        changed_fields: list[str] | None = None,
    ) -> None:
        self.event_log.append(
            object_type,
            object_id,
            action,
            now=now_iso(),
            lead_id=lead_id,
            data=data,
            previous_data=dict(previous_data or {}),
            changed_fields=changed_fields or [],
            user_id=credential.user_id,
            request_id=REQUEST_ID.get(),
            api_key_id=None,
            meta=event_meta(request),
        )

    def _log_object(
        self,
        request: FakeRequest,
        credential: _User,
        kind: ObjectKind,
        obj: Mapping[str, Any],
        action: str,
        *,
        data: dict[str, Any] | None,
        previous_data: Mapping[str, Any] | None = None,
        changed_fields: list[str] | None = None,
    ) -> None:
        lead_id = obj["id"] if kind.name == "lead" else obj.get("lead_id")
        self._log(
            request,
            credential,
            kind.name,
            obj["id"],
            action,
            lead_id=lead_id if isinstance(lead_id, str) else None,
            data=data,
            previous_data=previous_data,
            changed_fields=changed_fields,
        )

    # -- objects -------------------------------------------------------------------------

    def _objects_list(
        self, kind: ObjectKind, request: FakeRequest, credential: _User, body: Any
    ) -> Outcome:
        return self.store.list_page(kind, request.query, self.strict)

    def _object_create(
        self, kind: ObjectKind, request: FakeRequest, credential: _User, body: Any
    ) -> Outcome:
        fields = checked_body(body, kind.create_schema, patch=False)
        if isinstance(fields, bytes):
            return 400, fields
        clean = {k: v for k, v in fields.items() if k not in MANAGED_FIELDS}
        obj = self.store.create(kind, clean, credential.user_id, now_iso())
        self._log_object(request, credential, kind, obj, "created", data=obj)
        return kind.create_status, dumps(self.store.answer(kind, obj))

    def _object_get(
        self, kind: ObjectKind, object_id: str, request: FakeRequest, credential: _User, body: Any
    ) -> Outcome:
        obj = self.store.objects[kind.name].get(object_id)
        if obj is None:
            return 404, kind.not_found
        return 200, dumps(only_fields(self.store.answer(kind, obj), request.query.get("_fields")))

    def _object_update(
        self, kind: ObjectKind, object_id: str, request: FakeRequest, credential: _User, body: Any
    ) -> Outcome:
        obj = self.store.objects[kind.name].get(object_id)
        if obj is None:
            return 404, kind.not_found
        fields = checked_body(body, kind.update_schema, patch=True)
        if isinstance(fields, bytes):
            return 400, fields
        previous, changed = self.store.patch(kind, obj, fields, credential.user_id, now_iso())
        self._log_object(
            request,
            credential,
            kind,
            obj,
            "updated",
            data=obj,
            previous_data=previous,
            changed_fields=changed,
        )
        return 200, dumps(self.store.answer(kind, obj))

    def _object_delete(
        self, kind: ObjectKind, object_id: str, request: FakeRequest, credential: _User, body: Any
    ) -> Outcome:
        obj = self.store.delete(kind, object_id)
        if obj is None:
            return 404, kind.not_found
        self._log_object(request, credential, kind, obj, "deleted", data=None, previous_data=obj)
        status = kind.delete_status
        return status, b"" if status == 204 else EMPTY_OBJECT

    # -- actions (the effect on the store is in ._actions) -------------------------------

    def _logger(self, request: FakeRequest, credential: _User) -> Log:
        def log(kind: ObjectKind, obj: Mapping[str, Any], action: str, **details: Any) -> None:
            self._log_object(request, credential, kind, obj, action, **details)

        return log

    def _lead_merge(self, request: FakeRequest, credential: _User, body: Any) -> Outcome:
        log = self._logger(request, credential)
        return merge_leads(self.store, body, credential.user_id, now_iso(), log)

    def _tasks_bulk_update(self, request: FakeRequest, credential: _User, body: Any) -> Outcome:
        log = self._logger(request, credential)
        return bulk_update_tasks(
            self.store, request.query, body, credential.user_id, now_iso(), log
        )

    def _playbook_archive(
        self, playbook_id: str, archive: bool, request: FakeRequest, credential: _User, body: Any
    ) -> Outcome:
        log = self._logger(request, credential)
        return archive_playbook(
            self.store, playbook_id, archive, credential.user_id, now_iso(), log
        )

    def _group_members(
        self,
        group_id: str,
        user_id: str | None,
        request: FakeRequest,
        credential: _User,
        body: Any,
    ) -> Outcome:
        log = self._logger(request, credential)
        return change_group_members(
            self.store, group_id, user_id, body, credential.user_id, now_iso(), log
        )

    def _me(self, request: FakeRequest, credential: _User, body: Any) -> Outcome:
        user = me(self.store, credential.user_id)
        return 200, dumps(only_fields(user, request.query.get("_fields")))

    def _activities_list(self, request: FakeRequest, credential: _User, body: Any) -> Outcome:
        # Every activity type, calls included, newest first as Close lists them.
        rows: list[dict[str, Any]] = list(self.calls.values())
        for kind in ACTIVITY_KINDS:
            rows.extend(self.store.objects[kind.name].values())
        rows.sort(key=lambda row: str(row.get("date_created") or ""), reverse=True)
        return self.store.page(rows, request.query, _ACTIVITIES_MAX_LIMIT, self.strict)

    def _meeting_integration(
        self, meeting_id: str, request: FakeRequest, credential: _User, body: Any
    ) -> Outcome:
        meeting = self.store.objects[_MEETING.name].get(meeting_id)
        if meeting is None:
            return 404, _MEETING.not_found
        fields = object_body({} if body is None else body)
        if isinstance(fields, bytes):
            return 400, fields
        if not fields:
            return 200, EMPTY_OBJECT  # Close: "Submitting an empty JSON body does nothing."
        # One integration per OAuth app: the first call creates it, later ones update it.
        # Fresh containers, so the event's previous_data keeps what was there before.
        stored = meeting.get("integrations")
        integrations = dict(stored) if isinstance(stored, dict) else {}
        integration = dict(integrations.get(credential.fingerprint) or {})
        integration.update(fields)
        integrations[credential.fingerprint] = integration
        previous, changed = self.store.patch(
            _MEETING, meeting, {"integrations": integrations}, credential.user_id, now_iso()
        )
        self._log_object(
            request,
            credential,
            _MEETING,
            meeting,
            "updated",
            data=meeting,
            previous_data=previous,
            changed_fields=changed,
        )
        return 200, dumps(integration)

    # -- event log and search ------------------------------------------------------------

    def _events_list(self, request: FakeRequest, credential: _User, body: Any) -> Outcome:
        return self.event_log.page(request.query, self.strict)

    def _event_get(
        self, event_id: str, request: FakeRequest, credential: _User, body: Any
    ) -> Outcome:
        return self.event_log.get(event_id)

    def _export_start(
        self, object_type: str, request: FakeRequest, credential: _User, body: Any
    ) -> Outcome:
        rows = [dict(row) for row in self.store.objects[KINDS[object_type].name].values()]
        return self.exports.start(object_type, body, rows)

    def _export_get(
        self, export_id: str, request: FakeRequest, credential: _User, body: Any
    ) -> Outcome:
        return self.exports.get(export_id, request)

    def _search(self, request: FakeRequest, credential: _User, body: Any) -> Outcome:
        fields = object_body(body)
        if isinstance(fields, bytes):
            return 400, fields
        return search(fields, self.store)
