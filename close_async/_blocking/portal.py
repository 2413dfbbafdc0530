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
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .._client import CloseClient

__all__ = ["Portal"]

T = TypeVar("T")

_LOOP_THREAD = "close-async-loop"
_CLOSED = "this BlockingCloseClient is closed"
_EXIT_WAIT = 5.0  # seconds the interpreter's exit waits for each client left open

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

    ``client``: the async client of the process that builds the portal, run on its first
    call there; ``make_client(forked)`` builds another in any other process (a forked child),
    the first time that process uses the portal; ``forked``: whether the parent had started
    its own (so its objects, such as a limiter, belong to the parent's loop).
    """

    def __init__(self, client: CloseClient, make_client: Callable[[bool], CloseClient]) -> None:
        self._first_client: CloseClient | None = client
        self._first_pid = os.getpid()
        self._make_client = make_client
        self._lock = threading.Lock()
        self._runtime: _Runtime | None = None
        self._closed = False
        _portals.add(self)

    def client(self) -> CloseClient:
        """This process's async client (its loop thread started on first use).

        Once the blocking client is closed, this is still the client it ran (what it counted
        stays readable); only calls are refused.
        """
        runtime = self._runtime
        if runtime is not None and runtime.pid == os.getpid():
            return runtime.client
        first = self._first_client
        if first is not None and self._closed:
            return first  # closed before its first call: no loop to start just to read it
        return self._start().client

    def _here(self) -> _Runtime:
        """This process's runtime, started on first use (raises once closed)."""
        runtime = self._runtime
        if runtime is None or runtime.pid != os.getpid():
            runtime = self._start()
        return runtime

    def _start(self) -> _Runtime:
        with self._lock:
            runtime = self._runtime
            if runtime is not None and runtime.pid == os.getpid():
                return runtime  # another thread started it while this one waited
            if self._closed:
                raise RuntimeError(_CLOSED)
            if runtime is not None:
                # Forked: the parent's runtime is not ours to touch.
                client = self._make_client(True)
                _left_by_parent.append(runtime)
            elif self._first_client is not None and self._first_pid == os.getpid():
                client = self._first_client
            else:
                # Forked before the parent's first call: this process builds its own all the
                # same (a limiter factory is called once in each process that calls).
                client = self._make_client(False)
            self._first_client = None
            runtime = self._runtime = _Runtime(client)
            # Let go of unclosed (a client built per request and dropped), the portal takes
            # its loop thread with it instead of leaving it to serve nobody for ever.
            weakref.finalize(self, _let_go, runtime).atexit = False
            return runtime

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` on the loop thread and return its result (or raise its error).

        Interrupted while waiting (Ctrl-C), it cancels the call on the loop, waits for the
        cancellation to finish, and lets the interrupt go on.
        """
        try:
            runtime = self._here()
        except BaseException:
            _discard(awaitable)
            raise
        if threading.current_thread() is runtime.thread:
            _discard(awaitable)
            raise RuntimeError(
                "a BlockingCloseClient was called from its own event loop's thread (from a "
                "callback such as on_retry or on_progress?): that call would wait for itself "
                "forever. Inside the loop, await the async client instead."
            )
        return self._call(runtime, _as_coroutine(awaitable))

    def _call(self, runtime: _Runtime, coro: Coroutine[Any, Any, T]) -> T:
        """Hand ``coro`` to the loop and wait for its answer."""
        future: concurrent.futures.Future[T] | None = None
        try:
            future = self._hand_over(runtime, coro)
            if future is None:
                raise RuntimeError(_CLOSED)  # (_abandon has nothing to do once closed)
            return future.result()
        except concurrent.futures.CancelledError:
            if self._closed:
                raise RuntimeError("the BlockingCloseClient was closed during this call") from None
            raise
        except BaseException:
            # Interrupted (Ctrl-C), perhaps before the future was even returned: the call
            # may be on the loop all the same. It is cancelled there, and this waits until
            # it has let go of its connection and limiter slot. (A call's own error comes
            # with its future done: nothing is left on the loop.)
            if future is None or not future.done():
                self._abandon(runtime, coro)
            raise

    def _hand_over(
        self, runtime: _Runtime, coro: Coroutine[Any, Any, T]
    ) -> concurrent.futures.Future[T] | None:
        """``coro`` handed to the loop; ``None`` (``coro`` discarded) once the client is
        closed."""
        with self._lock:
            # The lock close() holds while it shuts the loop down: a call that read the
            # runtime just before close() began must not land on a stopped loop, where
            # nothing would ever answer it.
            if self._closed:
                coro.close()
                return None
            return asyncio.run_coroutine_threadsafe(coro, runtime.loop)

    def _abandon(self, runtime: _Runtime, coro: Coroutine[Any, Any, object]) -> None:
        """Cancel ``coro``'s call on the loop, wherever the hand-over got to, and wait until
        it has ended there (a second Ctrl-C stops the wait)."""
        if self._closed:
            return  # close() cancels what is on the loop
        ended = threading.Event()
        try:
            runtime.loop.call_soon_threadsafe(_cancel_call, coro, ended)
        except RuntimeError:  # the loop is closed: nothing runs there any more
            return
        ended.wait()

    def finish(self, awaitable: Awaitable[object]) -> None:
        """Run ``awaitable`` (an async iterator's ``aclose()``) as :meth:`run` does, from
        wherever a sync iterator is let go of: on the loop thread itself (collected there),
        it is scheduled instead; once the client is closed, there is nothing left to close.
        """
        runtime = self._runtime
        if self._closed or runtime is None or runtime.pid != os.getpid():
            _discard(awaitable)
            return
        coro = _as_coroutine(awaitable)
        if threading.current_thread() is runtime.thread:
            runtime.loop.create_task(coro)
            return
        try:
            self._call(runtime, coro)
        except RuntimeError:
            if not self._closed:
                raise  # closed meanwhile: close() ended the walk, nothing is left to report

    def close(self, wait: float | None = None) -> None:
        """Cancel the calls still running, close the async client, and end the loop thread.

        Safe to call twice (and from several threads: each returns once the loop thread has
        ended); calls made afterwards raise ``RuntimeError``. Called from the loop thread
        itself (a callback), it raises ``RuntimeError`` and changes nothing. ``wait``: the
        most seconds to wait for the shutdown (``None``: as long as it takes); past it, a
        loop thread that does not answer (stuck in a callback) is left to the process's end.
        """
        runtime = self._runtime
        if runtime is not None and threading.current_thread() is runtime.thread:
            # Checked before anything changes: refused here, the client still works, and
            # closes for real when called from another thread.
            raise RuntimeError("a BlockingCloseClient cannot be closed from its own loop thread")
        with self._lock:
            if self._closed:
                return
            self._closed = True
            runtime = self._runtime
            if runtime is None or runtime.pid != os.getpid():
                return
            # Held until the loop thread has ended: calls handed over before this point are
            # all on the loop (and get cancelled there); later ones see the client closed.
            shutdown = asyncio.run_coroutine_threadsafe(_shut_down(runtime.client), runtime.loop)
            try:
                shutdown.result(wait)
            except TimeoutError:
                return  # stuck: a daemon thread, it ends with the process
            finally:
                if shutdown.done():
                    runtime.loop.call_soon_threadsafe(runtime.loop.stop)
                    runtime.thread.join()


def _discard(awaitable: Awaitable[object]) -> None:
    # A coroutine that will never run is closed, so it is not reported as never awaited.
    if asyncio.iscoroutine(awaitable):
        awaitable.close()


def _as_coroutine(awaitable: Awaitable[T]) -> Coroutine[Any, Any, T]:
    # run_coroutine_threadsafe takes coroutines only; an async generator's aclose() is not one.
    if asyncio.iscoroutine(awaitable):
        return awaitable
    return _awaited(awaitable)


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _cancel_call(coro: Coroutine[Any, Any, object], ended: threading.Event) -> None:
    # On the loop, after the hand-over's own callback if there was one (the loop runs
    # callbacks in the order they came): the call's task exists by now, or never will.
    for task in asyncio.all_tasks():
        if task.get_coro() is coro:
            task.add_done_callback(lambda _: ended.set())
            task.cancel()
            return
    _discard(coro)  # never handed over (or already done: then this changes nothing)
    ended.set()


async def _shut_down(client: CloseClient) -> None:
    # Calls still running in other threads end first, cancelled (instead of never): each
    # lets go of its connection and limiter slot while the pool and the limiter are open.
    await _cancel_others()
    try:
        await client.aclose()
    finally:
        await _cancel_others()  # anything closing started


async def _cancel_others() -> None:
    current = asyncio.current_task()
    others = [task for task in asyncio.all_tasks() if task is not current]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def _let_go(runtime: _Runtime) -> None:
    # Called when a portal is garbage (from whichever thread collected it, the loop's own
    # included): nothing may be waited for here, so the shutdown is only started; the loop
    # stops itself once it is done. A closed runtime's loop is closed: nothing to do.
    if runtime.pid != os.getpid() or runtime.loop.is_closed():
        return
    try:
        done = asyncio.run_coroutine_threadsafe(_shut_down(runtime.client), runtime.loop)
    except RuntimeError:  # closed meanwhile
        return
    done.add_done_callback(lambda _: runtime.loop.call_soon_threadsafe(runtime.loop.stop))


def _close_left_open() -> None:
    # At exit, a client nobody closed still gets its pool closed (no "Unclosed client
    # session" noise, no half-written request left in a socket).
    for portal in list(_portals):
        # The process is ending: a close that fails has no one left to report to, and one
        # whose loop thread is stuck (a callback that never returns) must not hold it up.
        with contextlib.suppress(Exception):
            portal.close(wait=_EXIT_WAIT)


atexit.register(_close_left_open)


def _forget_lock_after_fork() -> None:
    # A lock held by another thread at the moment of the fork stays held for ever in the
    # child, where that thread does not exist: each portal gets a fresh one.
    for portal in list(_portals):
        portal._lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_lock_after_fork)
