"""Every operation of Close's OpenAPI document, sent to the fake Close over loopback through
``close.with_raw_response.request``, with both the request and the answer validated by
openapi-core against ``spec/close-openapi.yml``.

Answers are validated against the document exactly as published. Three things are worked
around, each where it bites:
- the document's operationIds are not unique (``list`` on every resource), which the
  OpenAPI spec validator refuses, so it is loaded without that whole-document check;
- its 17 ``204 No Content`` answers declare a JSON object body, which HTTP forbids: the fake
  sends no body (asserted), and what the client makes of it, ``{}``, is what is validated;
- openapi-core cannot read a parameter typed ``[array, "null"]``, so requests are validated
  against a copy without it (``tests/openapi_document.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from close_async import CloseClient
from close_async.testing import FakeClose
from close_async.testing._objects import KINDS_BY_PATH, ObjectKind
from tests.conftest import FAKE_KEY, basic
from tests.fake_bodies import minimal_instance
from tests.openapi_document import DOC, answers_validator, requests_validator
from tools.fake_answers import Generator, operations

GENERATOR = Generator(DOC)
OPERATIONS = [(method, path) for method, path, _ in operations(DOC)]
HOST = "https://api.close.com"
PREFIX = "/api/v1"


@pytest.fixture(scope="module")
def answers_api() -> OpenAPI:
    """The document as published, for the answers."""
    return answers_validator()


@pytest.fixture(scope="module")
def requests_api() -> OpenAPI:
    """The document with parameter types openapi-core can read, for the requests."""
    return requests_validator()


def _operation(method: str, template: str) -> dict[str, Any]:
    return dict(DOC["paths"][template][method.lower()])


def _placeholder(schema: dict[str, Any]) -> Any:
    value = GENERATOR.instance(schema)
    return "fake" if value in ("", None) else value


def _stateful_kind(template: str) -> ObjectKind | None:
    """The stateful collection whose item ``template`` is (``/lead/{id}/``), if any."""
    head, _, last = template.strip("/").rpartition("/")
    if last.startswith("{"):
        return KINDS_BY_PATH.get(head)
    return None


WEBHOOK_EVENT = {"object_type": "lead", "action": "created"}


def _path_params(fake: FakeClose, template: str, lead_id: str) -> dict[str, str]:
    """A value for each ``{param}``: an existing object where the route is stateful."""
    names = [p[1:-1] for p in template.strip("/").split("/") if p.startswith("{")]
    if template == "/webhook/{id}/":
        hook = fake.webhook_subscriptions.add("https://example.com/h", [WEBHOOK_EVENT])
        return {"id": hook["id"]}
    kind = _stateful_kind(template)
    if kind is not None:
        fields = {"lead_id": lead_id} if kind.lead_scoped else {}
        return {names[0]: fake.add_object(kind.name, **fields)["id"]}
    if template == "/activity/call/{id}/":
        return {"id": fake.seed_calls(1)[0]}
    if template == "/activity/meeting/{id}/integration/":
        return {"id": fake.add_object("activity.meeting", lead_id=lead_id)["id"]}
    if template == "/event/{id}/":
        return {"id": fake.events[-1]["id"]}
    if template.startswith("/playbook/{id}/"):  # archive, unarchive
        return {"id": fake.add_object("playbook", name="Calls")["id"]}
    if template.startswith("/group/{group_id}/member/"):
        group = fake.add_object("group", name="Sales", members=[{"user_id": "fake_user_id"}])
        params = {"group_id": group["id"], "user_id": "fake_user_id"}
        return {name: params[name] for name in names}
    return {name: f"fake_{name}" for name in names}


def _query(operation: dict[str, Any]) -> dict[str, Any]:
    return {
        p["name"]: _placeholder(p["schema"])
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }


def _body(
    fake: FakeClose, method: str, template: str, operation: dict[str, Any], lead_id: str
) -> Any:
    """A minimal valid body, with the parent lead a stateful activity or object needs."""
    declared = operation.get("requestBody")
    if declared is None:
        return None
    # The overlay's schema where the document says "any type": the one the fake checks.
    body = minimal_instance(method, template)
    if template == "/lead/merge/":
        # The fake merges for real, so it needs two leads that exist.
        return {"source": fake.add_object("lead", name="Source")["id"], "destination": lead_id}
    kind = KINDS_BY_PATH.get(template.strip("/"))
    if method == "POST" and template == "/webhook/" and isinstance(body, dict):
        # The fake keeps subscriptions, so it needs what Close needs: a URL and events.
        body.update(url="https://example.com/h", events=[WEBHOOK_EVENT])
    if isinstance(body, dict) and (
        "lead_id" in body or (method == "POST" and kind is not None and kind.lead_scoped)
    ):
        body["lead_id"] = lead_id
    return body


def _filled(template: str, params: dict[str, str]) -> str:
    for name, value in params.items():
        template = template.replace("{" + name + "}", value)
    return template


def _ids() -> Iterator[str]:
    for method, path in OPERATIONS:
        yield f"{method} {path}"


def test_the_document_has_the_286_operations_validated_below() -> None:
    assert len(OPERATIONS) == len(set(OPERATIONS)) == 286


@pytest.mark.parametrize(("method", "template"), OPERATIONS, ids=list(_ids()))
async def test_the_fake_answers_every_operation_as_the_document_declares(
    fake: FakeClose,
    close: CloseClient,
    requests_api: OpenAPI,
    answers_api: OpenAPI,
    method: str,
    template: str,
) -> None:
    operation = _operation(method, template)
    lead = await close.post("lead/", json={"name": "Parent"})  # logs an event, too
    path_params = _path_params(fake, template, lead["id"])
    query = _query(operation)
    body = _body(fake, method, template, operation, lead["id"])

    response = await close.with_raw_response.request(
        method,
        template,
        params=query or None,
        json=body,
        path_params=path_params or None,
    )

    request = MockRequest(
        HOST,
        method.lower(),
        PREFIX + _filled(template, path_params),
        headers={"Authorization": basic(FAKE_KEY)},
        args={k: str(v) for k, v in query.items()},
        data=None if body is None else json.dumps(body).encode(),
    )
    requests_api.validate_request(request)  # what was sent is a valid request
    status = response.status_code
    content = response.content
    if status == 204:
        assert content == b""  # HTTP's No Content; the document declares "{}"
        content = json.dumps(response.parse()).encode()
    answers_api.validate_response(
        request,
        MockResponse(content, status_code=status, content_type=response.headers["content-type"]),
    )
