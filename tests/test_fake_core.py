"""The fake Close's core without I/O: plain synchronous calls of ``FakeCore.handle`` with
``FakeRequest`` values, no server, no event loop, no socket."""

from __future__ import annotations

import json

from close_async.testing import FakeAnswer, FakeCore, FakeFaults, FakeRateLimit, FakeRequest
from tests.conftest import FAKE_KEY, basic

AUTH = {"Authorization": basic(FAKE_KEY)}


def _json(answer: FakeAnswer) -> object:
    return json.loads(answer.body)


def test_a_request_without_credentials_is_refused() -> None:
    core = FakeCore()
    answer = core.handle(FakeRequest("GET", "/api/v1/me/"))
    assert answer.status == 401
    assert core.requests[-1].status == 401


def test_the_core_serves_the_store_and_the_seeded_world() -> None:
    core = FakeCore()
    me = core.handle(FakeRequest("GET", "/api/v1/me/", headers=AUTH))
    assert me.status == 200
    user = _json(me)
    assert isinstance(user, dict)
    created = core.handle(
        FakeRequest("POST", "/api/v1/pipeline/", headers=AUTH, body={"name": "Renewals"})
    )
    assert created.status == 201
    pipeline = _json(created)
    assert isinstance(pipeline, dict)
    assert pipeline["created_by"] == user["id"]
    listed = core.handle(FakeRequest("GET", "/api/v1/pipeline/", {"_limit": "10"}, AUTH))
    page = _json(listed)
    assert isinstance(page, dict)
    assert pipeline["id"] in [p["id"] for p in page["data"]]
    assert core.events[-1]["object_id"] == pipeline["id"]


def test_a_method_override_is_served_as_the_get() -> None:
    core = FakeCore()
    lead = core.add_object("lead", name="Acme")
    headers = {**AUTH, "x-http-method-override": "GET"}
    body = {"_params": {"id__in": [lead["id"]]}}
    answer = core.handle(FakeRequest("POST", "/api/v1/lead/", headers=headers, body=body))
    page = _json(answer)
    assert isinstance(page, dict)
    assert [row["id"] for row in page["data"]] == [lead["id"]]
    recorded = core.requests[-1]
    assert (recorded.method, recorded.method_override) == ("POST", "GET")


def test_faults_are_answers_the_front_acts_on() -> None:
    core = FakeCore(faults=FakeFaults(reset_rate=1.0))
    answer = core.handle(FakeRequest("POST", "/api/v1/lead/", headers=AUTH, body={"name": "A"}))
    assert answer.fate == "reset"
    assert core.objects("lead") == {}  # a reset applies nothing
    core.faults = FakeFaults(drop_after_apply_rate=1.0)
    answer = core.handle(FakeRequest("POST", "/api/v1/lead/", headers=AUTH, body={"name": "B"}))
    assert answer.fate == "dropped"
    assert [lead["name"] for lead in core.objects("lead").values()] == ["B"]  # applied
    core.faults = FakeFaults(slow_rate=1.0, slow_seconds=2.5)
    answer = core.handle(FakeRequest("GET", "/api/v1/lead/", headers=AUTH))
    assert (answer.status, answer.delay, answer.fate) == (200, 2.5, None)


def test_the_rate_limit_reads_the_cores_clock() -> None:
    now = [100.0]
    core = FakeCore(rate_limit=FakeRateLimit(2, window=1.0), clock=lambda: now[0])
    statuses = [core.handle(FakeRequest("GET", "/api/v1/lead/", headers=AUTH)).status]
    statuses += [core.handle(FakeRequest("GET", "/api/v1/lead/", headers=AUTH)).status]
    refused = core.handle(FakeRequest("GET", "/api/v1/lead/", headers=AUTH))
    assert statuses == [200, 200]
    assert refused.status == 429
    now[0] += 1.5  # a new window, without sleeping
    assert core.handle(FakeRequest("GET", "/api/v1/lead/", headers=AUTH)).status == 200
