"""The interpreter's exit and a blocking client left open: the exit closes it, waiting a
bounded time, so a loop thread stuck in a callback does not keep the process from ending."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BOUND = 60.0  # only a hang reaches it

_SCRIPT = textwrap.dedent(
    """
    import threading, time

    from close_async import BlockingCloseClient, RetryPolicy
    from close_async.testing import FakeFaults, fake_close_in_thread

    stuck = threading.Event()

    def on_retry(event):
        stuck.set()
        time.sleep(3600)  # a callback that never returns: the loop thread is stuck in it

    with fake_close_in_thread(
        api_keys=("test_key",), faults=FakeFaults(error_rate=1.0, methods=("GET",))
    ) as fake:
        close = BlockingCloseClient(
            "test_key", base_url=fake.base_url, retry=RetryPolicy.no_wait(), on_retry=on_retry
        )
        threading.Thread(target=lambda: close.get("me/"), daemon=True).start()
        stuck.wait(30)
        print("stuck" if stuck.is_set() else "never retried", flush=True)
    # The client is left open: the interpreter's exit closes it, and must not wait for ever.
    """
)


def test_the_exit_does_not_wait_for_ever_on_a_loop_thread_stuck_in_a_callback() -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=BOUND,
        check=False,
    )
    assert done.stdout.strip() == "stuck", done.stderr
    assert done.returncode == 0, done.stderr
