"""A blocking ``update_many`` with a journal, SIGKILLed mid-run, resumed (issue 29's proof):
the second run sends only the items that had not landed, and every item lands exactly once.

The fake Close is served by this test (``fake_close_in_thread``); the run is a subprocess
using the blocking client. To kill it at a point known exactly, the fake applies the first
``LANDED`` updates and then holds every later PUT unanswered, applying nothing; once the
child has reported those ``LANDED`` results (each journaled before it is reported), it is
killed with SIGKILL while its other requests are in flight.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from close_async.testing import (
    FakeAnswer,
    FakeClose,
    FakeFaults,
    FakeRequest,
    fake_close_in_thread,
)

N = 200
LANDED = 60
CONCURRENCY = 8

# The run in the child process: every result on a line of its own as it comes, then the
# progress counters.
CHILD = """
import json, sys
from close_async import BlockingCloseClient

base_url, journal, ids_file, concurrency = sys.argv[1:5]
ids = json.loads(open(ids_file).read())
items = [(call_id, {"note": "resumed " + call_id}) for call_id in ids]
with BlockingCloseClient("test_key", base_url=base_url) as close:
    with close.calls.update_many(items, journal=journal, concurrency=int(concurrency)) as run:
        for result in run:
            print(result.state, result.id, flush=True)
        progress = run.progress
print("progress", progress.succeeded, progress.skipped, progress.failed, flush=True)
"""


def child(fake: FakeClose, journal: Path, ids_file: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, fake.base_url, str(journal), str(ids_file), str(CONCURRENCY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def fake() -> Iterator[FakeClose]:
    with fake_close_in_thread(shutdown_timeout=0.1) as server:
        yield server


def hold_updates_after(fake: FakeClose, landed: int) -> None:
    """From the ``landed``-th applied update on, the fake answers every PUT with a 429 that
    asks for a long wait, applying nothing (decided on the fake's loop, one request at a
    time: exactly ``landed`` apply). The client waits, asleep: nothing of it is left
    running in the fake when the test ends."""
    handle = fake.handle

    def gated(request: FakeRequest) -> FakeAnswer:
        if request.method == "PUT" and fake.stats.applied_updates >= landed:
            return FakeAnswer(429, b'{"error": "slow down"}', headers={"Retry-After": "100"})
        return handle(request)

    fake.handle = gated  # type: ignore[method-assign]


@pytest.mark.slow
def test_sigkill_mid_run_then_the_journal_resumes_with_only_the_items_not_landed(
    fake: FakeClose, tmp_path: Path
) -> None:
    fake.faults = FakeFaults(latency=0.002)  # answers come slowly: many are in flight
    ids = fake.seed_calls(N)
    ids_file = tmp_path / "ids.json"
    ids_file.write_text(json.dumps(ids))
    journal = tmp_path / "run.journal"
    hold_updates_after(fake, LANDED)

    first = child(fake, journal, ids_file)
    watchdog = threading.Timer(120, first.kill)  # a guard against a hang, not a timing
    watchdog.start()
    try:
        assert first.stdout is not None
        reported: list[str] = []
        while len(reported) < LANDED:
            line = first.stdout.readline()
            assert line, "the first run ended before it could be killed"
            state, call_id = line.split()
            assert state == "done"
            reported.append(call_id)
        first.kill()  # SIGKILL: no cleanup at all, its other requests still in flight
        first.wait()
    finally:
        watchdog.cancel()
        for stream in (first.stdout, first.stderr):
            if stream is not None:
                stream.close()
    assert first.returncode == -9
    assert fake.stats.applied_updates == LANDED
    landed_first = {call_id for call_id in ids if fake.update_counts.get(call_id)}
    assert landed_first == set(reported)

    del fake.handle  # the fake answers every PUT again
    second = subprocess.run(
        [sys.executable, "-c", CHILD, fake.base_url, str(journal), str(ids_file), str(CONCURRENCY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert second.returncode == 0, second.stderr
    lines = second.stdout.splitlines()
    states = Counter(line.split()[0] for line in lines[:-1])
    assert states == {"done": N - LANDED, "skipped": LANDED}
    skipped = {line.split()[1] for line in lines[:-1] if line.startswith("skipped ")}
    assert skipped == landed_first
    assert lines[-1] == f"progress {N - LANDED} {LANDED} 0"
    # Every item landed, each exactly once: the second run sent only those not landed.
    assert {call_id: fake.update_counts.get(call_id) for call_id in ids} == dict.fromkeys(ids, 1)
    assert all(fake.calls[call_id]["note"] == "resumed " + call_id for call_id in ids)
    sent_second = [
        r.path.split("/")[-2] for r in fake.requests if r.method == "PUT" and r.status == 200
    ]
    assert Counter(sent_second) == Counter(ids)
