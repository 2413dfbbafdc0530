"""Ctrl-C during a blocking call: a real SIGINT to a script waiting on a hanging answer.

The script (run with this interpreter) serves the fake Close from a thread, makes a call
whose answer hangs, and says so once the fake holds the request; the test then sends it
SIGINT. The script catches the KeyboardInterrupt and reports, as JSON, what the async
client still holds (pool connections handed out, limiter slots in flight, tasks on its
loop), what the fake sees (connections still open), and a follow-up call's answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BOUND = 60.0  # only a hang reaches it

_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, threading, time

    from close_async import BlockingCloseClient
    from close_async.models import CallUpdate
    from close_async.testing import FakeFaults, fake_call_id, fake_close_in_thread

    # PUTs are applied, then answered a minute later: only the client can end the wait.
    faults = FakeFaults(slow_rate=1.0, slow_seconds=60, methods=("PUT",))


    async def held(close):
        # Read on the client's loop thread, where its pool and limiter live.
        client = close._portal.client()
        session = client._engine._transport._session
        groups = client.rate_limiter._groups
        return {
            "acquired": len(session.connector._acquired),
            "inflight": sum(g.inflight for g in groups.values()),
            "probing": any(g.probe_outstanding for g in groups.values()),
            "tasks": len(asyncio.all_tasks()) - 1,
        }


    async def open_connections(fake, deadline):
        # The fake's view: its server's connections still open (a handler whose client hung
        # up is kept until it ends, its transport gone), once it has seen the hang-up.
        def still_open():
            return sum(1 for h in fake._runner.server.connections if h.transport is not None)

        while still_open() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return still_open()


    async def cancel_others():
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


    with fake_close_in_thread(api_keys=("test_key",), strict=False, faults=faults) as fake:
        arrived = threading.Event()
        fake_loop = []
        handle = fake.handle

        def noting(request):
            answer = handle(request)
            if answer.delay:
                fake_loop.append(asyncio.get_running_loop())
                arrived.set()
            return answer

        fake.handle = noting

        def tell_when_held():
            arrived.wait()
            print("held", flush=True)

        threading.Thread(target=tell_when_held, daemon=True).start()
        close = BlockingCloseClient("test_key", base_url=fake.base_url)
        report = {"interrupted": False}
        try:
            close.calls.update(fake_call_id(0), CallUpdate(note="never answered"))
        except KeyboardInterrupt:
            report["interrupted"] = True
        report.update(close._portal.run(held(close)))
        report["fake_connections"] = asyncio.run_coroutine_threadsafe(
            open_connections(fake, time.monotonic() + 10), fake_loop[0]
        ).result()
        # The call was applied before the answer hung: a GET (not slowed) reads it back.
        report["after"] = close.calls.get(fake_call_id(0)).note
        report["limiter"] = type(close.rate_limiter).__name__
        close.close()
        asyncio.run_coroutine_threadsafe(cancel_others(), fake_loop[0]).result()
    print(json.dumps(report), flush=True)
    """
)


def _run_interrupted() -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    # A watchdog: nothing the script does may hang the suite.
    watchdog = threading.Timer(BOUND, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=BOUND)
    finally:
        watchdog.cancel()
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


def test_ctrl_c_mid_call_cancels_it_and_leaks_no_connection_or_limiter_slot() -> None:
    report = _run_interrupted()
    assert report["interrupted"]
    assert report["limiter"] == "LocalRateLimiter"
    # The client's side: nothing handed out by the pool, no slot held, nothing left running.
    assert report["acquired"] == 0
    assert report["inflight"] == 0
    assert not report["probing"]
    assert report["tasks"] == 0
    # The fake's side: the interrupted call's connection was closed, not left waiting.
    assert report["fake_connections"] == 0
    # And the client goes on working.
    assert report["after"] == "never answered"
