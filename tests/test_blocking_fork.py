"""``os.fork()`` and the blocking client (Celery's prefork pool, RQ, gunicorn): the child
builds its own loop thread and async client on first use, never the parent's; a limiter
object cannot follow it there, a factory can.

The fork happens in a script run with this interpreter (pytest's own process, with its
threads, is never forked); the child reports to the script through a pipe, and the script
prints one JSON line for the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BOUND = 60.0  # only a hang reaches it

_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, threading, warnings

    from close_async import BlockingCloseClient, ConfigurationError, LocalRateLimiter
    from close_async.testing import fake_close_in_thread


    def runtime(close):
        return close._portal._runtime


    with fake_close_in_thread(api_keys=("test_key",)) as fake:
        lead_ids = fake.seed_objects("lead", 2)
        made = []

        def factory():
            made.append(os.getpid())
            return LocalRateLimiter()

        used = BlockingCloseClient("test_key", base_url=fake.base_url)
        instance = BlockingCloseClient(
            "test_key", base_url=fake.base_url, rate_limiter=LocalRateLimiter()
        )
        built = BlockingCloseClient("test_key", base_url=fake.base_url, rate_limiter=factory)
        # Built at import, first used in the children (Celery's prefork pool).
        unused = BlockingCloseClient("test_key", base_url=fake.base_url)
        lazy_made = []

        def lazy_factory():
            lazy_made.append(os.getpid())
            return LocalRateLimiter()

        lazy = BlockingCloseClient("test_key", base_url=fake.base_url, rate_limiter=lazy_factory)
        unused_instance = BlockingCloseClient(
            "test_key", base_url=fake.base_url, rate_limiter=LocalRateLimiter()
        )
        for close in (used, instance, built):
            close.leads.get(lead_ids[0])
        parents = {name: runtime(c) for name, c in (("used", used), ("built", built))}
        parent_pid = os.getpid()

        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            # 3.12+ warns that forking a threaded process may deadlock: that is the point.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                child = {"lead": used.leads.get(lead_ids[1]).id}
                mine = runtime(used)
                theirs = parents["used"]
                child["own_loop"] = mine.loop is not theirs.loop
                child["own_thread"] = mine.thread is not theirs.thread
                child["own_client"] = mine.client is not theirs.client
                child["loop_thread_alive"] = mine.thread.is_alive()
                child["parent_thread_alive"] = theirs.thread.is_alive()
                child["loop_threads"] = sum(
                    t.name == "close-async-loop" for t in threading.enumerate()
                )
                try:
                    instance.leads.get(lead_ids[1])
                    child["instance"] = "no error"
                except ConfigurationError as exc:
                    child["instance"] = str(exc)
                child["built"] = built.leads.get(lead_ids[1]).id
                child["built_own_loop"] = runtime(built).loop is not parents["built"].loop
                child["unused"] = unused.leads.get(lead_ids[1]).id
                child["made_in_child"] = made.count(os.getpid())
                child["lazy"] = lazy.leads.get(lead_ids[1]).id
                child["lazy_made_in_child"] = lazy_made.count(os.getpid())
                child["unused_instance"] = unused_instance.leads.get(lead_ids[1]).id
                for close in (used, instance, built, unused, lazy, unused_instance):
                    close.close()
            except BaseException as exc:
                child = {"error": repr(exc)}
            os.write(write_end, json.dumps(child).encode())
            os._exit(0)
        os.close(write_end)
        data = b""
        while chunk := os.read(read_end, 65536):
            data += chunk
        os.waitpid(pid, 0)
        report = {"child": json.loads(data)}
        report["parent"] = {
            "lead": used.leads.get(lead_ids[0]).id,
            "same_loop": runtime(used) is parents["used"],
            "built": built.leads.get(lead_ids[0]).id,
            "instance": instance.leads.get(lead_ids[0]).id,
            "unused": unused.leads.get(lead_ids[0]).id,
            "made_in_parent": made.count(parent_pid),
        }
        report["ids"] = lead_ids
        for close in (used, instance, built, unused, lazy, unused_instance):
            close.close()
    print(json.dumps(report), flush=True)
    """
)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """The script's report (one run serves every test here)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=BOUND,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_a_forked_child_calls_on_a_loop_of_its_own_and_the_parent_goes_on(
    report: dict[str, Any],
) -> None:
    child, parent, ids = report["child"], report["parent"], report["ids"]
    assert "error" not in child, child["error"]
    # The child got the right answers, on its own loop thread and client...
    assert child["lead"] == ids[1]
    assert child["own_loop"]
    assert child["own_thread"]
    assert child["own_client"]
    assert child["loop_thread_alive"]
    assert not child["parent_thread_alive"]  # the parent's loop thread did not follow
    # ...the only loop thread there after that call: the parent's did not follow.
    assert child["loop_threads"] == 1
    # A client built before any call (Celery's prefork pool imports, then forks) works too.
    assert child["unused"] == ids[1]
    # The parent goes on, on the loop it had.
    assert parent["lead"] == ids[0]
    assert parent["same_loop"]
    assert parent["unused"] == ids[0]


def test_a_limiter_object_cannot_follow_a_fork_but_a_factory_can(report: dict[str, Any]) -> None:
    child, parent, ids = report["child"], report["parent"], report["ids"]
    assert "error" not in child, child["error"]
    assert child["instance"].startswith("rate_limiter: a limiter object cannot follow")
    assert "rate_limiter=lambda: RedisRateLimiter(...)" in child["instance"]
    assert child["built"] == ids[1]
    assert child["built_own_loop"]
    assert child["made_in_child"] == 1  # the factory built the child's own limiter
    # In the parent, the instance and the factory's first limiter work as before.
    assert parent["instance"] == ids[0]
    assert parent["built"] == ids[0]
    assert parent["made_in_parent"] == 1


def test_a_factory_is_called_in_each_process_that_calls_even_before_the_parent_did(
    report: dict[str, Any],
) -> None:
    child, ids = report["child"], report["ids"]
    assert "error" not in child, child["error"]
    # Built in the parent (which called the factory once), first called in the child: the
    # child's limiter is its own, from the factory, not the parent's never-started one.
    assert child["lazy"] == ids[1]
    assert child["lazy_made_in_child"] == 1
    # A limiter object the parent never used is a copy nothing started: it may follow.
    assert child["unused_instance"] == ids[1]
