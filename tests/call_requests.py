"""The requests ``close.calls`` builds, as values: each one built by the generated
``ActivitiesCallsResource`` itself (through a requester that hands the request back), so
tests of the call requests test what the client sends.

Stands in for the hand-written ``close_async._resources.call_requests`` the generated
resource replaced (issue 26).
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import Any

from close_async._engine.http.request import Request, template_group
from close_async._resources.generated.activities_calls import ActivitiesCallsResource
from close_async._types import rules
from tests.fake_requester import DEFAULT_OPTIONS

__all__ = [
    "CALLS_PATH",
    "call_filters",
    "calls_group",
    "create_call",
    "delete_call",
    "get_call",
    "update_call",
]

CALLS_PATH = "activity/call/"


class _HandBack:
    """A requester whose ``request`` returns the request it was given, unsent."""

    options = DEFAULT_OPTIONS

    async def request(self, request: Request, **_: Any) -> Request:
        return request


_CALLS = ActivitiesCallsResource(_HandBack())  # type: ignore[arg-type]


def _built(coroutine: Coroutine[Any, Any, Any]) -> Request:
    # _HandBack awaits nothing, so the coroutine finishes on its first step.
    try:
        coroutine.send(None)
    except StopIteration as done:
        request: Request = done.value
        return request
    raise AssertionError("the call's method awaited something")


def get_call(call_id: Any) -> Request:
    return _built(_CALLS.get(call_id))


def delete_call(call_id: Any) -> Request:
    return _built(_CALLS.delete(call_id))


def update_call(call_id: Any, body: Any) -> Request:
    return _built(_CALLS.update(call_id, body))


def create_call(body: Any) -> Request:
    return _built(_CALLS.create(body))


def call_filters(params: Mapping[str, Any]) -> dict[str, Any]:
    """The list's filters with ``id__in`` through its overlay rule, as ``calls.list`` does."""
    if params.get("id__in") is None:
        return dict(params)
    return {**params, "id__in": rules.call_ids(params["id__in"])}


def calls_group(method: str) -> str:
    return template_group(method, CALLS_PATH)
