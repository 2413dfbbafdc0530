"""The webhook worker recipe (examples/webhook_worker) against a real redis-server and the fake.

Effects are read from the fake Close's state: every call updated, exactly one task per event,
also when a worker dies mid-event and the event is redelivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis
from aiohttp import web

from close_async import CloseClient, WebhookVerificationError
from close_async.testing import FakeClose, FakeFaults, WebhookDeliveryConfig, webhook_delivery
from examples.webhook_worker.catchup import CHECKPOINT, catch_up
from examples.webhook_worker.job import apply_event, task_marker
from examples.webhook_worker.receiver import STREAM, enqueue, make_app, verify_and_parse
from examples.webhook_worker.store import RECEIVER_RETRIES, connect
from examples.webhook_worker.worker import GROUP, run_worker
from tests.conftest import serve
from tests.test_fake_webhooks import _sleep
from tests.test_redis_limiter import REDIS_SERVER, RedisServer, _free_port

ROOT = Path(__file__).resolve().parent.parent
CALL_CREATED = [{"object_type": "activity.call", "action": "created"}]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server binary not installed (CI installs it)")
    server = RedisServer()
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    await client.flushdb()
    yield client
    await client.aclose()


class Killed(BaseException):
    """Stands for a SIGKILL: nothing after it runs in the worker."""


def _tasks_by_event(fake: FakeClose, event_ids: list[str]) -> dict[str, int]:
    texts = [t.get("text") or "" for t in fake.objects("task").values()]
    return {e: sum(task_marker(e) in text for text in texts) for e in event_ids}


def _created_events(fake: FakeClose) -> list[dict[str, Any]]:
    return [
        e for e in fake.events if (e["object_type"], e["action"]) == ("activity.call", "created")
    ]


async def _create_calls(fake: FakeClose, n: int) -> None:
    leads = fake.seed_objects("lead", 3)
    async with CloseClient(api_key="test_key", base_url=fake.base_url) as close:
        for i in range(n):
            await close.post("activity/call/", json={"lead_id": leads[i % 3], "note": "raw"})


def _client(fake: FakeClose) -> CloseClient:
    return CloseClient(api_key="test_key", base_url=fake.base_url)


def test_verify_and_parse_accepts_a_signed_delivery_and_refuses_a_forged_one() -> None:
    key = "ab" * 32
    event = {"id": "ev_1", "object_type": "activity.call", "action": "created", "object_id": "x"}
    body, headers = webhook_delivery(event, key)
    assert verify_and_parse(body, headers, key)["id"] == "ev_1"
    with pytest.raises(WebhookVerificationError):
        verify_and_parse(body + b" ", headers, key)
    stale_body, stale_headers = webhook_delivery(event, key, timestamp=time.time() - 3600)
    with pytest.raises(WebhookVerificationError):
        verify_and_parse(stale_body, stale_headers, key)


@pytest.mark.parametrize("landed", [True, False])
async def test_a_worker_killed_around_the_task_create_leaves_one_task(
    store: redis.Redis, monkeypatch: pytest.MonkeyPatch, landed: bool
) -> None:
    async with FakeClose() as fake:
        await _create_calls(fake, 1)
        (event,) = _created_events(fake)
        async with _client(fake) as close:
            real_create = close.tasks.create

            async def dying_create(*args: Any, **kwargs: Any) -> Any:
                if landed:
                    await real_create(*args, **kwargs)
                raise Killed

            monkeypatch.setattr(close.tasks, "create", dying_create)
            with pytest.raises(Killed):
                await apply_event(close, store, event)
            monkeypatch.undo()
            assert await apply_event(close, store, event)  # the redelivery
            assert not await apply_event(close, store, event)  # a duplicate: a no-op
        assert _tasks_by_event(fake, [event["id"]]) == {event["id"]: 1}
        assert fake.calls[event["object_id"]]["outcome_id"] == "outcome_enriched"


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"


async def _spawn_worker(
    consumer: str, options: dict[str, Any], log: Path | None = None
) -> asyncio.subprocess.Process:
    args = ["worker", "--consumer", consumer, "--redis-url", options["redis_url"]]
    args += ["--base-url", options["base_url"], "--rate", str(options["rate"])]
    args += ["--concurrency", str(options["concurrency"])]
    args += ["--reclaim-idle-ms", str(options["reclaim_idle_ms"])]
    args += ["--lock-lease-ms", str(options["lock_lease_ms"])]
    return await _spawn_recipe(args, {"CLOSE_API_KEY": options["api_key"]}, log)


async def _spawn_recipe(
    args: list[str], env: dict[str, str], log: Path | None = None
) -> asyncio.subprocess.Process:
    """``python -m examples.webhook_worker ARGS``, its output into ``log`` when given."""
    with contextlib.ExitStack() as files:
        output = files.enter_context(log.open("wb")) if log is not None else None
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "examples.webhook_worker",
            *args,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=output,
        )


async def _wait_done(store: redis.Redis, event_ids: list[str]) -> None:
    async with asyncio.timeout(30):
        while True:
            done = await asyncio.gather(*(store.exists(f"done:{e}") for e in event_ids))
            if all(done):
                return
            await asyncio.sleep(0.05)


async def test_webhooks_to_workers_with_duplicates_and_a_killed_worker(
    store: redis.Redis, redis_url: str
) -> None:
    config = WebhookDeliveryConfig(duplicate_rate=0.5, jitter=0.05, retry_base=0.05, seed=3)
    async with FakeClose(webhook_delivery=config) as fake:
        key = "cd" * 32
        runner, url = await _serve(make_app(store, key))
        fake.subscribe_webhook(url, CALL_CREATED, signature_key=key)
        options: dict[str, Any] = {
            "api_key": "test_key",
            "redis_url": redis_url,
            "base_url": fake.base_url,
            "rate": 500.0,
            "concurrency": 4,
            "reclaim_idle_ms": 300,
            "lock_lease_ms": 1000,
        }
        doomed = await _spawn_worker("doomed", options)
        stops = [asyncio.Event(), asyncio.Event()]
        workers: list[asyncio.Task[None]] = []
        try:
            await _create_calls(fake, 30)
            while not fake.objects("task"):
                await _sleep()
            doomed.kill()  # SIGKILL: its un-acknowledged entries stay pending, to be reclaimed
            await doomed.wait()
            workers = [
                asyncio.create_task(run_worker(consumer=f"w{i}", stop=stops[i], **options))
                for i in range(2)
            ]
            await fake.webhook_deliverer.wait_idle()
            event_ids = [e["id"] for e in _created_events(fake)]
            await _wait_done(store, event_ids)
        finally:
            if doomed.returncode is None:
                doomed.kill()
                await doomed.wait()
            for stop in stops:
                stop.set()
            await asyncio.gather(*workers)
            await runner.cleanup()
        assert fake.webhook_deliverer.stats.duplicates > 0
        assert len(event_ids) == 30
        assert set(_tasks_by_event(fake, event_ids).values()) == {1}
        for event in _created_events(fake):
            call = fake.calls[event["object_id"]]
            assert task_marker(event["id"]) in call["note"]
            assert call["outcome_id"] == "outcome_enriched"


async def test_catch_up_feeds_missed_events_once(store: redis.Redis, redis_url: str) -> None:
    async with FakeClose() as fake:
        await _create_calls(fake, 5)  # no subscription: every delivery missed
        events = _created_events(fake)
        async with _client(fake) as close:
            await apply_event(close, store, events[0])  # one applied through a webhook
            assert (await catch_up(close, store)).fed == 4
            assert (await catch_up(close, store)).fed == 0
        stop = asyncio.Event()
        worker = asyncio.create_task(
            run_worker(
                consumer="w",
                api_key="test_key",
                redis_url=redis_url,
                base_url=fake.base_url,
                rate=500.0,
                stop=stop,
            )
        )
        await _wait_done(store, [e["id"] for e in events])
        stop.set()
        await worker
        assert set(_tasks_by_event(fake, [e["id"] for e in events]).values()) == {1}


async def _done_count(redis_url: str, event_ids: list[str]) -> int:
    """How many of ``event_ids`` are done; 0 while Redis is down (a fresh client each time,
    so the test's own connection never rides the restart)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return int(await client.exists(*(f"done:{e}" for e in event_ids)))
    except redis.ConnectionError:
        return 0
    finally:
        await client.aclose()


def _died(processes: dict[str, asyncio.subprocess.Process], logs: Path) -> str | None:
    """A description of the first process that exited, with its log's tail; None if none did."""
    for name, process in processes.items():
        if process.returncode is not None:
            tail = (logs / f"{name}.log").read_text(errors="replace")[-1500:]
            return f"{name} exited with {process.returncode}:\n{tail}"
    return None


async def _until(
    condition: Any, processes: dict[str, asyncio.subprocess.Process], logs: Path
) -> None:
    """Poll ``condition()`` (sync or async) until true; fail at once if a process died."""
    async with asyncio.timeout(60):
        while True:
            verdict = condition()
            if asyncio.iscoroutine(verdict):
                verdict = await verdict
            if verdict:
                return
            if (death := _died(processes, logs)) is not None:
                pytest.fail(death)
            await asyncio.sleep(0.05)


def _logged(logs: Path, name: str, text: str) -> bool:
    path = logs / f"{name}.log"
    return path.exists() and text in path.read_text(errors="replace")


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


@pytest.mark.redis
@pytest.mark.timeout(120)
async def test_workers_and_receiver_ride_out_a_redis_restart(tmp_path: Path) -> None:
    """Redis (append-only file, fsync always) is killed and restarted on its port while
    webhooks flow to a receiver and two worker processes: every event is applied once,
    none is lost, and every process is still running at the end."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server binary not installed (CI installs it)")
    data = tmp_path / "redis"
    data.mkdir()
    server = RedisServer(aof_dir=data)
    server.start()
    config = WebhookDeliveryConfig(
        duplicate_rate=0.3, jitter=0.02, retry_base=0.05, retry_max=0.3, max_attempts=1000, seed=7
    )
    key = "ef" * 32
    port = _free_port()
    processes: dict[str, asyncio.subprocess.Process] = {}
    try:
        async with FakeClose(webhook_delivery=config, faults=FakeFaults(latency=0.05)) as fake:
            options: dict[str, Any] = {
                "api_key": "test_key",
                "redis_url": server.url,
                "base_url": fake.base_url,
                "rate": 500.0,
                "concurrency": 4,
                "reclaim_idle_ms": 300,
                "lock_lease_ms": 1000,
            }
            processes["receiver"] = await _spawn_recipe(
                ["receiver", "--port", str(port), "--redis-url", server.url],
                {"CLOSE_WEBHOOK_KEY": key},
                tmp_path / "receiver.log",
            )
            for name in ("w0", "w1"):
                processes[name] = await _spawn_worker(name, options, tmp_path / f"{name}.log")
            await _until(lambda: _listening(port), processes, tmp_path)
            fake.subscribe_webhook(
                f"http://127.0.0.1:{port}/webhook", CALL_CREATED, signature_key=key
            )
            await _create_calls(fake, 15)
            before = [e["id"] for e in _created_events(fake)]
            await _until(_at_least(server.url, before, 3), processes, tmp_path)
            # Killed while entries are delivered and not yet acknowledged (each job takes
            # the fake's latency twice): those must come back through the pending list.
            await _until(_some_pending(server.url), processes, tmp_path)
            server.stop()  # SIGKILL: only the append-only file survives
            await _create_calls(fake, 15)  # these webhooks arrive while Redis is down
            failed = fake.webhook_deliverer.stats.failed_attempts
            await _until(
                lambda: fake.webhook_deliverer.stats.failed_attempts > failed,
                processes,
                tmp_path,
            )
            for name in ("w0", "w1"):
                await _until(
                    lambda name=name: _logged(tmp_path, name, "Redis unreachable while"),
                    processes,
                    tmp_path,
                )
            server.start()  # the same port, the same append-only file
            event_ids = [e["id"] for e in _created_events(fake)]
            await _until(_at_least(server.url, event_ids, len(event_ids)), processes, tmp_path)
            await fake.webhook_deliverer.wait_idle()
            assert _died(processes, tmp_path) is None
            assert len(event_ids) == 30
            assert set(_tasks_by_event(fake, event_ids).values()) == {1}
            for event in _created_events(fake):
                call = fake.calls[event["object_id"]]
                assert task_marker(event["id"]) in call["note"]
                assert call["outcome_id"] == "outcome_enriched"
            for name in ("w0", "w1"):
                processes[name].terminate()
                assert await processes[name].wait() == 0, _died(processes, tmp_path)
        worker_logs = "".join((tmp_path / f"{n}.log").read_text() for n in ("w0", "w1"))
        applied = re.compile(r"event (\S+) \(entry \S+\): applied")
        assert {m[1] for m in applied.finditer(worker_logs)} == set(event_ids)  # a line each
        assert re.search(r"WARNING .*Redis unreachable while", worker_logs)
        assert re.search(r"WARNING .*Redis reachable again", worker_logs)
        assert re.search(r"WARNING .*answered 503", (tmp_path / "receiver.log").read_text())
    finally:
        for process in processes.values():
            if process.returncode is None:
                process.kill()
                await process.wait()
        server.stop()


def _at_least(redis_url: str, event_ids: list[str], n: int) -> Any:
    async def check() -> bool:
        return await _done_count(redis_url, event_ids) >= n

    return check


async def test_the_receiver_answers_503_while_redis_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Close retries a delivery answered 503; the receiver neither dies nor drops it."""
    key = "ab" * 32
    event = {"id": "ev_down", "object_type": "activity.call", "action": "created"}
    body, headers = webhook_delivery(event, key)
    dead = connect(f"redis://127.0.0.1:{_free_port()}/0", retries=RECEIVER_RETRIES)
    try:
        async with serve(make_app(dead, key)) as root, aiohttp.ClientSession() as http:
            answer = await http.post(root + "webhook", data=body, headers=headers)
            answer.release()
    finally:
        await dead.aclose()
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "1"
    assert any(
        r.levelno == logging.WARNING and "ev_down" in r.getMessage() and "503" in r.getMessage()
        for r in caplog.records
    )


async def test_a_lost_consumer_group_is_recreated_without_rereading_acknowledged_entries(
    store: redis.Redis, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that comes back without the group (NOGROUP): the worker recreates it and
    reads only what was never acknowledged (acknowledged entries left the stream)."""
    caplog.set_level(logging.INFO, logger="webhook_worker")
    async with FakeClose() as fake:
        await _create_calls(fake, 4)
        events = _created_events(fake)
        stop = asyncio.Event()
        worker = asyncio.create_task(
            run_worker(
                consumer="w",
                api_key="test_key",
                redis_url=redis_url,
                base_url=fake.base_url,
                rate=500.0,
                stop=stop,
            )
        )
        try:
            for event in events[:2]:
                await enqueue(store, event)
            await _wait_done(store, [e["id"] for e in events[:2]])
            async with asyncio.timeout(10):
                # Acknowledged entries leave the stream (Redis has no event for it).
                while await store.xlen(STREAM):  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            await store.xgroup_destroy(STREAM, GROUP)
            caplog.clear()
            for event in events[2:]:
                await enqueue(store, event)
            await _wait_done(store, [e["id"] for e in events])
        finally:
            stop.set()
            await worker
        messages = [r.getMessage() for r in caplog.records]
        assert any("recreated" in m for m in messages)
        for event in events[:2]:  # not read again
            assert not any(event["id"] in m for m in messages)
        assert set(_tasks_by_event(fake, [e["id"] for e in events]).values()) == {1}


def test_help_names_the_commands_the_path_and_every_environment_variable() -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "examples.webhook_worker", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for command in ("receiver", "worker", "catchup"):
        assert re.search(rf"^\s+{command}\s+\S", answer.stdout, re.MULTILINE), command
    assert "POST /webhook" in answer.stdout
    package = ROOT / "examples" / "webhook_worker"
    read = set()
    for source in package.glob("*.py"):
        read |= set(re.findall(r"os\.environ(?:\.get\(|\[)\"(\w+)\"", source.read_text()))
    assert read >= {"CLOSE_API_KEY", "CLOSE_WEBHOOK_KEY", "REDIS_URL", "CLOSE_BASE_URL"}
    for name in read:
        assert name in answer.stdout, name


async def test_catch_up_says_what_it_did_and_why_it_fed_nothing(store: redis.Redis) -> None:
    async with FakeClose() as fake, _client(fake) as close:
        first = await catch_up(close, store)
        assert (first.fed, first.walked) == (0, 0)
        assert "fed 0 events" in str(first)
        assert "no activity.call.created event" in str(first)
        assert "first run" in str(first)
        await _create_calls(fake, 2)
        events = _created_events(fake)
        for event in events:
            await apply_event(close, store, event)
        await store.delete(CHECKPOINT)  # a first run again, over events the webhooks did
        again = await catch_up(close, store)
        assert (again.fed, again.walked, again.already_done) == (0, 2, 2)
        assert "all 2 activity.call.created events" in str(again)
        assert "already done by the workers" in str(again)
        assert "first run" in str(again)
        assert "fed 0 events" in str(await catch_up(close, store))
        assert f"since the last catch-up (event {events[-1]['id']})" in str(
            await catch_up(close, store)
        ) or f"since the last catch-up (event {events[0]['id']})" in str(
            await catch_up(close, store)
        )


async def test_catchup_command_prints_its_report(store: redis.Redis, redis_url: str) -> None:
    async with FakeClose() as fake:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "examples.webhook_worker",
            "catchup",
            "--redis-url",
            redis_url,
            "--base-url",
            fake.base_url,
            cwd=ROOT,
            env={**os.environ, "CLOSE_API_KEY": "test_key"},
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate()
    assert process.returncode == 0
    assert out.decode().startswith("fed 0 events to the stream: no activity.call.created event")
    assert "first run" in out.decode()


def _some_pending(redis_url: str) -> Any:
    async def check() -> bool:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        try:
            summary: Any = await client.xpending(STREAM, GROUP)
            return int(summary["pending"]) > 0
        except redis.RedisError:
            return False
        finally:
            await client.aclose()

    return check
