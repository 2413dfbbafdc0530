"""The blocking client's bridge to the async one: an event loop on a thread of its own.

A :class:`Portal` owns, per process, one event loop running in a daemon thread and the one
:class:`~close_async.CloseClient` that lives on it (one connection pool, one limiter). A
blocking call hands its coroutine to that loop with :func:`asyncio.run_coroutine_threadsafe`
and waits for the answer, so every thread of the process shares the client, and nothing
about a request is done twice: the async client is the only implementation.

Three things sync code does that the loop must survive:

- **Ctrl-C (or any exception) while waiting**: the call is cancelled on the loop, and the
  caller waits until the cancellation has run (the connection is back in the pool, the
  limiter's slot released) before the interrupt goes on.
- **``os.fork()``** (Celery's prefork pool, RQ's work horse, gunicorn): the child has no loop
  thread, only the parent's objects in memory. It builds its own loop and client on first
  use and never touches the parent's.
- **A call from the loop's own thread** (an ``on_retry`` or ``on_progress`` callback calling
  the blocking client) would wait for itself forever: it raises instead.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .._client import CloseClient

__all__ = ["Portal"]

T = TypeVar("T")

_LOOP_THREAD = "close-async-loop"

# The loops a fork's parent left behind: the child keeps them referenced so that collecting
# them (an unclosed loop, an unclosed aiohttp session) prints no warning; they are never run.
_left_by_parent: list[_Runtime] = []
_portals: weakref.WeakSet[Portal] = weakref.WeakSet()


class _Runtime:
    """One process's loop, its thread, and the async client living on it."""

    def __init__(self, client: CloseClient) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.client = client
        started = threading.Event()
        self.thread = threading.Thread(
            target=self._serve, args=(started,), name=_LOOP_THREAD, daemon=True
        )
        self.thread.start()
        started.wait()

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(started.set)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()


class Portal:
    """Runs coroutines on the process's loop thread and waits for them (see the module).

    ``client``: the async client of the process that builds the portal; ``make_client``
    builds another in a forked child, the first time the child uses the portal.
    """

    def __init__(self, client: CloseClient, make_client: Callable[[], CloseClient]) -> None:
        self._first_client: CloseClient | None = client
        self._make_client = make_client
        self._lock = threading.Lock()
        self._runtime: _Runtime | None = None
        self._closed = False
        _portals.add(self)

    def client(self) -> CloseClient:
        """This process's async client (its loop thread started on first use)."""
        runtime = self._runtime
        if runtime is None or runtime.pid != os.getpid():
            runtime = self._start()
        return runtime.client

    def _start(self) -> _Runtime:
        with self._lock:
            if self._closed:
                raise RuntimeError("this BlockingCloseClient is closed")
            runtime = self._runtime
            if runtime is not None and runtime.pid == os.getpid():
                return runtime  # another thread started it while this one waited
            if runtime is not None:
                _left_by_parent.append(runtime)  # forked: the parent's, not ours to touch
                client = self._make_client()
            else:
                client = self._first_client or self._make_client()
            self._first_client = None
            runtime = self._runtime = _Runtime(client)
            return runtime

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` on the loop thread and return its result (or raise its error).

        Interrupted while waiting (Ctrl-C), it cancels the call on the loop, waits for the
        cancellation to finish, and lets the interrupt go on.
        """
        runtime = self._runtime
        if runtime is None or runtime.pid != os.getpid():
            runtime = self._start()
        if threading.current_thread() is runtime.thread:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise RuntimeError(
                "a BlockingCloseClient was called from its own event loop's thread (from a "
                "callback such as on_retry or on_progress?): that call would wait for itself "
                "forever. Inside the loop, await the async client instead."
            )
        finished = threading.Event()
        future = asyncio.run_coroutine_threadsafe(_tracked(awaitable, finished), runtime.loop)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            if self._closed:
                raise RuntimeError("the BlockingCloseClient was closed during this call") from None
            raise
        except BaseException:
            if future.cancel():
                # Cancelled on the loop: wait until the call has let go of its connection
                # and limiter slot (a second Ctrl-C stops this wait too).
                finished.wait()
            raise

    def finish(self, awaitable: Awaitable[object]) -> None:
        """Run ``awaitable`` (an async iterator's ``aclose()``) as :meth:`run` does, from
        wherever a sync iterator is let go of: on the loop thread itself (collected there),
        it is scheduled instead; once the client is closed, there is nothing left to close.
        """
        runtime = self._runtime
        if self._closed or runtime is None or runtime.pid != os.getpid():
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            return
        if threading.current_thread() is runtime.thread:
            runtime.loop.create_task(_tracked(awaitable, threading.Event()))
            return
        self.run(awaitable)

    def close(self) -> None:
        """Close the async client, cancel what is still running, and end the loop thread.

        Safe to call twice; calls made afterwards raise ``RuntimeError``.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            runtime, self._runtime = self._runtime, None
        if runtime is None or runtime.pid != os.getpid():
            return
        if threading.current_thread() is runtime.thread:
            raise RuntimeError("a BlockingCloseClient cannot be closed from its own loop thread")
        try:
            asyncio.run_coroutine_threadsafe(_shut_down(runtime.client), runtime.loop).result()
        finally:
            runtime.loop.call_soon_threadsafe(runtime.loop.stop)
            runtime.thread.join()


async def _tracked(awaitable: Awaitable[T], finished: threading.Event) -> T:
    try:
        return await awaitable
    finally:
        finished.set()


async def _shut_down(client: CloseClient) -> None:
    try:
        await client.aclose()
    finally:
        # Calls still running in other threads end now, cancelled, instead of never.
        current = asyncio.current_task()
        others = [task for task in asyncio.all_tasks() if task is not current]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


def _close_left_open() -> None:
    # At exit, a client nobody closed still gets its pool closed (no "Unclosed client
    # session" noise, no half-written request left in a socket).
    for portal in list(_portals):
        # The process is ending: a close that fails has no one left to report to.
        with contextlib.suppress(Exception):
            portal.close()


atexit.register(_close_left_open)


def _forget_lock_after_fork() -> None:
    # A lock held by another thread at the moment of the fork stays held for ever in the
    # child, where that thread does not exist: each portal gets a fresh one.
    for portal in list(_portals):
        portal._lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_lock_after_fork)
