"""The examples in examples/ work against the fake Close."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from close_async.testing import FakeClose

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def test_web_app_example_records_an_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    app_module = load("aiohttp_app")
    async with FakeClose(strict=True) as fake:
        (call_id,) = fake.seed_calls(1)
        monkeypatch.setenv("CLOSE_API_KEY", "test_key")
        monkeypatch.setenv("CLOSE_BASE_URL", fake.base_url)
        async with TestClient(TestServer(app_module.make_app())) as http:
            ok = await http.post(f"/calls/{call_id}/outcome", json={"outcome_id": "outcome_9"})
            assert ok.status == 200
            assert (await ok.json())["outcome_id"] == "outcome_9"
            bad = await http.post("/calls/../outcome", json={"outcome_id": "x"})
            assert bad.status in (400, 404)
            missing = await http.post("/calls/acti_nope1/outcome", json={"outcome_id": "x"})
            assert missing.status == 404
        assert fake.calls[call_id]["outcome_id"] == "outcome_9"


async def test_web_app_example_reads_any_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    app_module = load("aiohttp_app")
    async with FakeClose(strict=True) as fake:
        lead = fake.add_object("lead", name="Acme")
        contacts = fake.seed_objects("contact", 3, lead_id=lead["id"])
        fake.seed_objects("contact", 2, lead_id="lead_other1")
        monkeypatch.setenv("CLOSE_API_KEY", "test_key")
        monkeypatch.setenv("CLOSE_BASE_URL", fake.base_url)
        async with TestClient(TestServer(app_module.make_app())) as http:
            ok = await http.get(f"/leads/{lead['id']}")
            assert ok.status == 200
            body = await ok.json()
            assert body["lead"] == {"id": lead["id"], "name": "Acme"}
            assert [c["id"] for c in body["contacts"]] == contacts
            missing = await http.get("/leads/lead_nope1")
            assert missing.status == 404
            hostile = await http.get("/leads/lead%3F_fields=id")  # "lead?_fields=id"
            assert hostile.status == 400
            assert (await hostile.json())["field"] == "id"


async def test_redis_worker_example_applies_events_even_without_redis() -> None:
    worker = load("redis_worker")
    async with FakeClose() as fake:
        ids = fake.seed_calls(5)
        events: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
        for call_id in ids:
            events.put_nowait((call_id, "from the worker"))
        events.put_nowait(None)
        landed = await worker.run_worker(
            events,
            api_key="test_key",
            redis_url="redis://127.0.0.1:1/0",  # down: the local fallback paces
            base_url=fake.base_url,
            rate=100,
        )
    assert landed == 5
    assert all(fake.calls[i]["note"] == "from the worker" for i in ids)


async def test_webhook_receiver_example_queues_verified_events_once() -> None:
    from close_async.testing import webhook_delivery

    receiver = load("webhook_receiver_aiohttp")
    key = "ab" * 32
    app = receiver.make_app(key)
    event = {
        "id": "ev_1",
        "object_type": "activity.call",
        "action": "created",
        "data": {"id": "acti_1"},
    }
    body, headers = webhook_delivery(event, key)
    async with TestClient(TestServer(app, host="127.0.0.1")) as http:
        for _ in range(2):  # Close may deliver an event twice
            ok = await http.post("/close/webhook", data=body, headers=headers)
            assert ok.status == 200
        forged = await http.post(
            "/close/webhook", data=body.replace(b"acti_1", b"acti_2"), headers=headers
        )
        assert forged.status == 401
        await app[receiver.EVENTS].join()
        assert app[receiver.HANDLED] == ["acti_1"]


async def _asgi_post(app: Any, path: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to an ASGI app in process (no HTTP client library): the answer's status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


async def test_webhook_receiver_starlette_example() -> None:
    pytest.importorskip("starlette")
    from close_async.testing import webhook_delivery

    receiver = load("webhook_receiver_starlette")
    key = "cd" * 32
    body, headers = webhook_delivery({"id": "ev_2", "object_type": "lead", "action": "x"}, key)
    app = receiver.make_app(key)
    assert await _asgi_post(app, "/close/webhook", body, headers) == 200
    assert await _asgi_post(app, "/close/webhook", body + b" ", headers) == 401
    assert receiver.RECEIVED == ["ev_2"]
