"""The blocking client's recipes (examples/rq_worker.py, examples/flask_app.py) against the
fake Close served from a thread: an RQ worker that forks a work horse per job, sharing one
Redis rate budget, and a Flask app sharing one client across its threads."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from close_async.testing import FakeFaults, FakeRateLimit, fake_close_in_thread
from tests.test_examples import load
from tests.test_redis_limiter import REDIS_SERVER, RedisServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
API_KEY = "test_key"

# ---------------------------------------------------------------------------------------
# RQ: examples/rq_worker.py

# The worker as `rq worker --burst` runs it, with the parent having imported the job's
# module and made a call first (Celery's prefork parent imports its tasks before forking):
# each forked work horse inherits a client whose loop thread it does not have.
_PRELOADED_WORKER = textwrap.dedent(
    """
    import sys

    from redis import Redis
    from rq import Queue, Worker

    sys.path.insert(0, sys.argv[1])
    import rq_worker

    redis_url, queue_name, warm_call = sys.argv[2:5]
    rq_worker.close_client().calls.get(warm_call)  # the parent's loop thread now runs
    connection = Redis.from_url(redis_url)
    Worker([Queue(queue_name, connection=connection)], connection=connection).work(burst=True)
    """
)


@pytest.fixture
def redis_servers() -> Iterator[tuple[RedisServer, RedisServer]]:
    """RQ's redis-server, and one holding only the rate budget (its command counts are the
    limiters' alone; the budget's keys expire a second after the last request)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server binary not installed (CI installs it)")
    queues, budget = RedisServer(), RedisServer()
    queues.start()
    try:
        budget.start()
        try:
            yield queues, budget
        finally:
            budget.stop()
    finally:
        queues.stop()


def _scripts_run(url: str) -> int:
    """How many Lua script runs the redis-server at ``url`` has answered."""
    from redis import Redis

    with Redis.from_url(url) as connection:
        stats = connection.info("commandstats")
    return sum(
        int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval")
    )


@pytest.mark.parametrize("parent", ["rq-cli", "preloaded"])
def test_rq_jobs_update_notes_from_forked_work_horses_on_one_redis_budget(
    redis_servers: tuple[RedisServer, RedisServer], parent: str
) -> None:
    pytest.importorskip("rq")
    from redis import Redis
    from rq import Queue
    from rq.job import JobStatus

    redis_server, budget = redis_servers
    connection = Redis.from_url(redis_server.url)
    queue = Queue("close", connection=connection)
    with fake_close_in_thread(api_keys=(API_KEY,)) as fake:
        ids = fake.seed_calls(6)
        jobs = [
            queue.enqueue("rq_worker.update_call_note", call_id, f"note {n}", job_timeout=60)
            for n, call_id in enumerate(ids)
        ]
        env = {
            **os.environ,
            "CLOSE_API_KEY": API_KEY,
            "CLOSE_BASE_URL": fake.base_url,
            "REDIS_URL": budget.url,
        }
        if parent == "rq-cli":
            command = [sys.executable, "-m", "rq.cli", "worker", "--burst"]
            command += ["--url", redis_server.url, "--path", str(EXAMPLES), "close"]
        else:
            command = [sys.executable, "-c", _PRELOADED_WORKER, str(EXAMPLES)]
            command += [redis_server.url, "close", ids[0]]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stderr
        notes = {call_id: fake.calls[call_id].get("note") for call_id in ids}
    assert notes == {call_id: f"note {n}" for n, call_id in enumerate(ids)}
    for job, call_id in zip(jobs, ids, strict=True):
        assert job.get_status(refresh=True) == JobStatus.FINISHED, done.stderr
        assert job.return_value() == call_id
    connection.close()
    # Every update took its slot from the budget in Redis (a reservation script each), not
    # from a limiter of its own process (the local fallback sends Redis nothing).
    assert _scripts_run(budget.url) >= len(ids)


# ---------------------------------------------------------------------------------------
# Flask: examples/flask_app.py


@pytest.fixture
def flask_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """The example's app (its client built from the environment) on a fake Close in a
    thread, and that fake."""
    pytest.importorskip("flask")
    module = load("flask_app")
    with fake_close_in_thread(api_keys=(API_KEY,)) as fake:
        monkeypatch.setenv("CLOSE_API_KEY", API_KEY)
        monkeypatch.setenv("CLOSE_BASE_URL", fake.base_url)
        app = module.create_app()
        try:
            yield app, fake
        finally:
            module.close_client(app).close()


def test_flask_view_updates_a_call_and_maps_errors_to_http(flask_app: tuple[Any, Any]) -> None:
    app, fake = flask_app
    (call_id, other) = fake.seed_calls(2)
    http = app.test_client()

    ok = http.post(f"/calls/{call_id}", json={"note": "Called back", "outcome_id": "outc_1"})
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json() == {"id": call_id, "note": "Called back", "outcome_id": "outc_1"}
    assert fake.calls[call_id]["note"] == "Called back"
    assert fake.calls[call_id]["outcome_id"] == "outc_1"

    missing = http.post("/calls/acti_nope1", json={"note": "x"})
    assert missing.status_code == 404
    assert missing.get_json() == {"error": "not found"}

    # Refused before anything is sent, naming the field.
    sent = fake.stats.requests
    bad_id = http.post("/calls/acti_%3F_fields=id", json={"note": "x"})
    assert bad_id.status_code == 400
    assert bad_id.get_json()["field"] == "call_id"
    bad_note = http.post(f"/calls/{other}", json={"note": 5})
    assert bad_note.status_code == 400
    assert bad_note.get_json()["field"] == "note"
    assert fake.stats.requests == sent


def test_flask_view_answers_504_when_close_outlasts_the_deadline(
    flask_app: tuple[Any, Any],
) -> None:
    app, fake = flask_app
    (call_id,) = fake.seed_calls(1)
    # Every PUT hangs far past the view's deadline (the fake's, cut short when it stops).
    fake.faults = FakeFaults(slow_rate=1.0, slow_seconds=60.0, methods=("PUT",))
    app.config["CLOSE_TIMEOUT"] = 0.2
    late = app.test_client().post(f"/calls/{call_id}", json={"note": "too late"})
    assert late.status_code == 504
    assert "error" in late.get_json()


def test_flask_view_answers_503_with_retry_after_when_the_budget_is_spent(
    flask_app: tuple[Any, Any],
) -> None:
    app, fake = flask_app
    first, second = fake.seed_calls(2)
    # One update per 10 minutes: the 429's pause is longer than the limiter waits (120 s),
    # so the second update raises RateLimitError at once.
    fake.rate_limit = FakeRateLimit(rate=1, window=600)
    http = app.test_client()
    assert http.post(f"/calls/{first}", json={"note": "in time"}).status_code == 200
    spent = http.post(f"/calls/{second}", json={"note": "over budget"})
    assert spent.status_code == 503
    assert 500 < int(spent.headers["Retry-After"]) <= 600
    assert fake.calls[first]["note"] == "in time"
    assert fake.calls[second].get("note") != "over budget"


def test_flask_list_view_pages_with_a_next_link(flask_app: tuple[Any, Any]) -> None:
    app, fake = flask_app
    lead = fake.add_object("lead", name="Acme")
    ids = [fake.add_call(lead_id=lead["id"])["id"] for _ in range(5)]
    fake.seed_calls(3)  # another lead's calls: not listed
    http = app.test_client()

    seen: list[str] = []
    url: str | None = f"/leads/{lead['id']}/calls?page_size=2"
    pages = 0
    while url is not None:
        answer = http.get(url)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        seen += [call["id"] for call in body["calls"]]
        url = body["next"]
        pages += 1
    assert seen == ids
    assert pages == 3


def test_flask_app_shares_one_client_across_32_threads(flask_app: tuple[Any, Any]) -> None:
    app, fake = flask_app
    ids = fake.seed_calls(64)
    close = sys.modules["flask_app"].close_client(app)
    before = close.stats.requests

    def post(call_id: str) -> int:
        answer = app.test_client().post(f"/calls/{call_id}", json={"note": f"for {call_id}"})
        return int(answer.status_code)

    with ThreadPoolExecutor(32) as pool:
        statuses = list(pool.map(post, ids))
    assert statuses == [200] * len(ids)
    assert all(fake.calls[call_id]["note"] == f"for {call_id}" for call_id in ids)
    # Every thread's update went through the app's one client (its counters, its pool).
    assert close.stats.requests - before == len(ids)
