"""The fake Close for sync tests: served from a loop on a thread of its own."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from ._server import FakeClose

__all__ = ["fake_close_in_thread"]


@contextlib.contextmanager
def fake_close_in_thread(**options: Any) -> Iterator[FakeClose]:
    """A started :class:`FakeClose` (``options``: its keywords) serving from a thread of its
    own, for tests of sync code such as the blocking client, a Celery task or a Django view::

        with fake_close_in_thread(api_keys=("test_key",)) as fake:
            with BlockingCloseClient("test_key", base_url=fake.base_url) as close:
                ...

    Read the fake's records (``fake.calls``, ``fake.stats``) between calls, not while
    requests are in flight. Stopped when the block ends.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-close", daemon=True)
    thread.start()
    try:
        fake = asyncio.run_coroutine_threadsafe(_started(options), loop).result()
        try:
            yield fake
        finally:
            asyncio.run_coroutine_threadsafe(_stopped(fake), loop).result()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


async def _started(options: dict[str, Any]) -> FakeClose:
    fake = FakeClose(**options)
    await fake.start()
    return fake


async def _stopped(fake: FakeClose) -> None:
    await fake.stop()
    # Answers still being written (a slowed one outlasting the shutdown timeout) end now,
    # so the loop closes with no task pending.
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
