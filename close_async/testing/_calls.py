"""Close's call activities in the fake (``/activity/call/``): the SDK's first resource, kept
in the store like every other but served by operations of their own, because calls have
rules of their own (exact field sets, ``note``/``note_html`` derived from each other,
fields an internal call refuses to change, lenient creation on a first ``PUT``) and a fast
path: a call update is the benchmarks' hot loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from ._credentials import Credential
from ._events import changes
from ._ids import fake_call_id, fake_id
from ._listing import Filter, date_filters, only_fields, skip_and_limit, skip_page
from ._messages import FakeRequest
from ._objects import ObjectStore, now_iso
from ._records import FakeStats
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
from ._world import ORGANIZATION_ID, SEED_EPOCH, SEED_USERS, user_name

__all__ = ["CALLS_PATH", "CALL_OBJECT_TYPE", "CallRoutes"]

CALLS_PATH = "/api/v1/activity/call/"
_CALLS_PATH_LEN = len(CALLS_PATH)
CALL_OBJECT_TYPE = "activity.call"

_SEED_LEADS = tuple(fake_id("lead", n) for n in range(50))
_SEED_CONTACTS = tuple(fake_id("cont", n) for n in range(200))
# US cents as decimal strings, the way Close sends cost: "0", "0.5", "1", "1.5", ...
_SEED_COSTS = tuple(str(Decimal(n) / 2) for n in range(40))

_CALLS_MAX_LIMIT = 100
_NOT_FOUND = error_body("Empty query: Call matching query does not exist.")
_INTERNAL_FIELD = "This field cannot be changed for calls made through Close."
_RECORDING_FIELD = (
    "Changing or deleting the recording of a call made through Close needs permission."
)
_DISPOSITIONS = {"no-answer": "no-answer", "busy": "busy", "failed": "error", "cancel": "abandoned"}
# What Close's call ids look like; in lenient mode only such an id is created on a PUT, so a
# path typo still gets Close's 404.
_CALL_ID = re.compile(r"acti_[0-9A-Za-z]{1,95}", re.ASCII)


class CallRoutes:
    """The call operations and call seeding, mixed into the fake's core."""

    strict: bool
    store: ObjectStore
    calls: dict[str, dict[str, Any]]
    update_counts: dict[str, int]
    stats: FakeStats
    _next_index: int
    _log: Callable[..., None]  # ResourceRoutes._log: appends an event

    # -- seeding and reading ---------------------------------------------------------------

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

    # -- operations (synchronous: nothing in them waits) ---------------------------------

    @staticmethod
    def _call_id(request: FakeRequest) -> str:
        return request.path[_CALLS_PATH_LEN:-1]

    def _list(self, request: FakeRequest, credential: Credential, body: Any) -> Outcome:
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

    def _create(self, request: FakeRequest, credential: Credential, body: Any) -> Outcome:
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

    def _get(self, request: FakeRequest, credential: Credential, body: Any) -> Outcome:
        call = self.calls.get(self._call_id(request))
        if call is None:
            return 404, _NOT_FOUND
        return 200, dumps(only_fields(call, request.query.get("_fields")))

    def _update(self, request: FakeRequest, credential: Credential, body: Any) -> Outcome:
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

    def _delete(self, request: FakeRequest, credential: Credential, body: Any) -> Outcome:
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
        request: FakeRequest,
        credential: Credential,
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


def _derived_note(note_html: str | None) -> str | None:
    return None if note_html is None else note_from_html(note_html)


def _derived_html(note: str | None) -> str | None:
    return None if note is None else html_from_note(note)
