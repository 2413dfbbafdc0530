"""The call-activity requests as values (pure: no I/O), built once per update.

Close API ``/activity/call/``: create, get, update (PUT, a patch), delete, and the list's
filters (the list itself is walked by the shared pager). Every call id is checked before it
goes into a path or an ``id__in`` filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._engine.errors import InvalidRequestError
from .._engine.http.request import Request, encode_body
from .._engine.ids import validate_call_id

__all__ = [
    "CALLS_PATH",
    "LIST_GROUP",
    "call_filters",
    "create_call",
    "delete_call",
    "get_call",
    "update_call",
]

CALLS_PATH = "activity/call/"
"""The call-activity collection, relative to the API base (Close requires the trailing slash)."""


def _calls_group(method: str) -> str:
    return f"{method} {CALLS_PATH.rstrip('/')}"


# Every call endpoint's group (and idempotency), known in advance: the builders below run
# once per update, and a default worked out per request costs on that path.
_CALLS_GROUPS = {m: _calls_group(m) for m in ("GET", "POST", "PUT", "DELETE")}
LIST_GROUP = _CALLS_GROUPS["GET"]
"""The rate-limit group of the call list's pages (``GET activity/call``)."""
# What tracing names one call's endpoint by (the id left out, so spans group by endpoint).
_CALL_TEMPLATE = f"{CALLS_PATH}{{id}}/"


def _filter_call_id(key: str, value: object) -> str:
    try:
        return validate_call_id(value)
    except InvalidRequestError as error:
        raise InvalidRequestError(str(error), field=key) from error


def _checked_id_filter(key: str, value: object) -> object:
    if isinstance(value, str):
        # Accept Close's own comma form too, but check each id in it.
        value = [part.strip() for part in value.split(",")]
    if isinstance(value, (list, tuple, set, frozenset)):
        ids = [_filter_call_id(key, item) for item in value if item is not None]
        return type(value)(ids) if isinstance(value, (set, frozenset)) else ids
    return _filter_call_id(key, value)


def call_filters(params: Mapping[str, Any]) -> dict[str, Any]:
    """The list filters (``lead_id``, ``_skip``, ``_limit``, ...) with every id in
    ``id__in`` checked as a well-formed call id; raises :class:`InvalidRequestError`."""
    if params.get("id__in") is not None:
        return {**params, "id__in": _checked_id_filter("id__in", params["id__in"])}
    return dict(params)


def _encoded(body: object) -> bytes:
    return encode_body(body).data


def get_call(call_id: str) -> Request:
    """``GET activity/call/{id}/``. Raises :class:`InvalidRequestError` for a bad id."""
    return Request(
        "GET",
        f"{CALLS_PATH}{validate_call_id(call_id)}/",
        group=_CALLS_GROUPS["GET"],
        idempotent=True,
        template=_CALL_TEMPLATE,
    )


def update_call(call_id: str, body: object) -> Request:
    """``PUT activity/call/{id}/`` with ``body`` as given (absent keys are left unchanged):
    a mapping, or a :class:`~close_async._engine.http.request.JSONBody` encoded already.

    Raises :class:`InvalidRequestError` for a bad id or a body that is not a mapping.
    """
    return Request(
        "PUT",
        f"{CALLS_PATH}{validate_call_id(call_id)}/",
        body=_encoded(body),
        group=_CALLS_GROUPS["PUT"],
        idempotent=True,
        template=_CALL_TEMPLATE,
    )


def create_call(body: object) -> Request:
    """``POST activity/call/``: log an external call (``body`` as :func:`update_call`
    takes it). Not idempotent."""
    return Request(
        "POST",
        CALLS_PATH,
        body=_encoded(body),
        group=_CALLS_GROUPS["POST"],
        idempotent=False,
        template=CALLS_PATH,
    )


def delete_call(call_id: str) -> Request:
    """``DELETE activity/call/{id}/``. Raises :class:`InvalidRequestError` for a bad id."""
    return Request(
        "DELETE",
        f"{CALLS_PATH}{validate_call_id(call_id)}/",
        group=_CALLS_GROUPS["DELETE"],
        idempotent=True,
        template=_CALL_TEMPLATE,
    )
