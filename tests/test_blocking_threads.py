"""The blocking client as sync code expects it: many threads on one client, a running loop
in the caller's thread (Jupyter), callbacks on the client's own loop thread, close(), and
sync iterators let go of early. Real HTTP on loopback with the fake Close in a thread.

Nothing here sleeps or times anything: a call that must not hang runs in a thread joined
with a generous bound, so a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import os
import threading
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from close_async import (
    BlockingCloseClient,
    LocalRateLimiter,
    NotFoundError,
    RateFeedback,
    RetryEvent,
)
from close_async._blocking import portal as portal_module
from close_async.models import CallUpdate
from close_async.testing import (
    FakeClose,
    FakeFaults,
    FakeRateLimit,
    fake_call_id,
    fake_close_in_thread,
)

KEY = "test_key"
LOOP_THREAD = "close-async-loop"
# Long enough never to end on its own within a test: only the client can end the wait.
HANG_SECONDS = 60.0
# A bound on waits that only a bug would reach (a hang fails the test, not the suite).
BOUND = 20.0

T = TypeVar("T")


def in_thread(
    call: Callable[[], T], *, client: BlockingCloseClient, name: str = "caller"
) -> tuple[T | None, BaseException | None]:
    """Run ``call`` in a thread of its own; return its result or what it raised. Fails the
    test when the call has not ended within :data:`BOUND` seconds (a hang): ``client``,
    whose loop may then be stuck for good, is marked closed first, so neither the test's
    ``close()`` nor the exit hook waits on it (the suite fails instead of hanging)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # handed to the test, which asserts on it
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    thread.join(BOUND)
    if thread.is_alive():
        client._portal._closed = True
        pytest.fail(f"{name}: the call did not end (deadlock?)")
    return outcome.get("result"), outcome.get("error")


def loop_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == LOOP_THREAD}


@contextlib.contextmanager
def hanging_fake(
    methods: tuple[str, ...] = ("PUT",),
) -> Iterator[tuple[FakeClose, threading.Event]]:
    """A lenient fake whose answers to ``methods`` hang (they are applied, then answered
    after :data:`HANG_SECONDS`), and an event set once such a request has arrived. Handlers
    still hanging at the end are cancelled, so the fake stops cleanly."""
    faults = FakeFaults(slow_rate=1.0, slow_seconds=HANG_SECONDS, methods=methods)
    with fake_close_in_thread(api_keys=(KEY,), strict=False, faults=faults) as fake:
        arrived = threading.Event()
        fake_loops: list[asyncio.AbstractEventLoop] = []
        handle = fake.handle

        def noting(request: Any) -> Any:
            answer = handle(request)
            if answer.delay:
                fake_loops.append(asyncio.get_running_loop())
                arrived.set()
            return answer

        fake.handle = noting  # type: ignore[method-assign]
        try:
            yield fake, arrived
        finally:
            if fake_loops:
                future = asyncio.run_coroutine_threadsafe(_cancel_others(), fake_loops[0])
                future.result(BOUND)


async def _cancel_others() -> None:
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


def pool_in_use(close: BlockingCloseClient) -> int:
    """Connections the async client's pool has handed out and not had back (read on its
    loop thread, where the pool lives)."""

    async def count() -> int:
        session = close._portal.client()._engine._transport._session  # type: ignore[attr-defined]
        return 0 if session is None else len(session.connector._acquired)

    return close._portal.run(count())


# --- 32 threads, one client ------------------------------------------------------------


def test_32_threads_share_one_client_and_stay_within_40_per_second() -> None:
    updates = 120  # three whole-second windows of 40
    limit = FakeRateLimit(40, window=1.0, reset_integer=True)
    lock = threading.Lock()
    threads: set[str] = set()
    clients: set[int] = set()
    before = loop_threads()
    with (
        fake_close_in_thread(api_keys=(KEY,), strict=False, rate_limit=limit) as fake,
        BlockingCloseClient(KEY, base_url=fake.base_url) as close,
    ):

        def update(i: int) -> str:
            with lock:
                threads.add(threading.current_thread().name)
                clients.add(id(close._portal.client()))
            call = close.calls.update(fake_call_id(i), CallUpdate(note=f"note {i}"))
            return call.id

        with ThreadPoolExecutor(32) as pool:
            ids = list(pool.map(update, range(updates)))
        new_loop_threads = loop_threads() - before
        stats = close.stats

        assert ids == [fake_call_id(i) for i in range(updates)]
        assert {i: c["note"] for i, c in fake.calls.items()} == {
            fake_call_id(i): f"note {i}" for i in range(updates)
        }
        assert fake.stats.rate_limited == 0
        assert fake.stats.requests == updates
    assert len(threads) == 32
    # One async client, one loop thread, one engine counting every thread's requests.
    assert len(clients) == 1
    assert len(new_loop_threads) == 1
    assert stats.requests == updates
    assert stats.rate_limited == 0


# --- a running loop in the caller's thread (Jupyter) -------------------------------------


def test_a_call_from_a_thread_running_an_event_loop_works() -> None:
    with fake_close_in_thread(api_keys=(KEY,), strict=False) as fake:
        fake.add_call(note="from the fake")
        with BlockingCloseClient(KEY, base_url=fake.base_url) as close:

            async def cell() -> tuple[str, str, list[str]]:
                # A Jupyter cell: this thread runs a loop, and the code in it is sync.
                asyncio.get_running_loop()
                got = close.calls.get(fake_call_id(0))
                updated = close.calls.update(fake_call_id(0), CallUpdate(note="from a cell"))
                listed = [call.id for call in close.calls.list()]
                return got.note or "", updated.note or "", listed

            got, updated, listed = asyncio.run(cell())
    assert (got, updated, listed) == ("from the fake", "from a cell", [fake_call_id(0)])


# --- a call from the client's own loop thread ----------------------------------------------


def test_a_call_from_an_on_retry_callback_raises_instead_of_deadlocking() -> None:
    raised_inside: list[BaseException] = []
    with fake_close_in_thread(api_keys=(KEY,), strict=False) as fake:
        fake.add_call(note="kept")
        # Every GET answers 503 once the fault is on: the first retry calls on_retry.
        fake.faults = FakeFaults(error_rate=1.0, error_statuses=(503,), methods=("GET",))
        close: BlockingCloseClient

        def on_retry(event: RetryEvent) -> None:
            try:
                close.calls.get(fake_call_id(0))  # on the loop thread: would wait for itself
            except RuntimeError as exc:
                raised_inside.append(exc)
                raise

        with BlockingCloseClient(KEY, base_url=fake.base_url, on_retry=on_retry) as close:
            _, error = in_thread(lambda: close.calls.get(fake_call_id(0)), client=close)
            requests_seen = fake.stats.requests
            fake.faults = None
            after, _ = in_thread(lambda: close.calls.get(fake_call_id(0)), client=close)

    # The callback's call raised at once, and the engine let that error end the outer call.
    assert len(raised_inside) == 1
    assert "its own event loop's thread" in str(raised_inside[0])
    assert error is raised_inside[0]
    assert requests_seen == 1  # the inner call sent nothing
    assert after is not None
    assert after.note == "kept"


def test_close_from_the_loop_thread_raises_and_leaves_the_client_closable() -> None:
    closing_inside: list[BaseException] = []
    loop_thread: list[threading.Thread] = []
    with fake_close_in_thread(api_keys=(KEY,), strict=False) as fake:
        fake.add_call(note="kept")
        fake.faults = FakeFaults(error_rate=1.0, error_statuses=(503,), methods=("GET",))
        close: BlockingCloseClient

        def on_retry(event: RetryEvent) -> None:
            loop_thread.append(threading.current_thread())
            try:
                close.close()
            except RuntimeError as exc:
                closing_inside.append(exc)
                raise

        close = BlockingCloseClient(KEY, base_url=fake.base_url, on_retry=on_retry)
        _, error = in_thread(lambda: close.calls.get(fake_call_id(0)), client=close)
        fake.faults = None
        # The refused close() changed nothing: the client still works, and closes for real.
        after, _ = in_thread(lambda: close.calls.get(fake_call_id(0)), client=close)
        close.close()
    assert error is closing_inside[0]
    assert "its own loop thread" in str(error)
    assert after is not None
    assert after.note == "kept"
    assert loop_thread[0].name == LOOP_THREAD
    assert not loop_thread[0].is_alive()


# --- close() -------------------------------------------------------------------------------


def test_close_twice_then_a_call_raises_and_the_loop_thread_is_gone() -> None:
    with fake_close_in_thread(api_keys=(KEY,), strict=False) as fake:
        fake.add_call()
        close = BlockingCloseClient(KEY, base_url=fake.base_url)
        close.calls.get(fake_call_id(0))
        thread = close._portal._runtime.thread  # type: ignore[union-attr]
        assert thread.is_alive()
        close.close()
        close.close()
        with pytest.raises(RuntimeError, match="BlockingCloseClient is closed"):
            close.calls.get(fake_call_id(0))
        with pytest.raises(RuntimeError, match="BlockingCloseClient is closed"):
            list(close.calls.list())
        requests = fake.stats.requests
    assert requests == 1
    assert not thread.is_alive()
    assert thread not in loop_threads()


def test_what_a_client_counted_stays_readable_after_close() -> None:
    with fake_close_in_thread(api_keys=(KEY,), strict=False) as fake:
        fake.add_call()
        with BlockingCloseClient(KEY, base_url=fake.base_url) as close:
            close.calls.get(fake_call_id(0))
        # A script's last line: how many requests, retries, 429s it took.
        assert close.stats.requests == 1
        assert close.base_url == fake.base_url
        assert close.credentials_fingerprint
        never_used = BlockingCloseClient(KEY, base_url=fake.base_url)
        never_used.close()
        assert never_used.stats.requests == 0
        with pytest.raises(RuntimeError, match="this BlockingCloseClient is closed"):
            never_used.calls.get(fake_call_id(0))
        assert not never_used._portal._runtime  # closed before any call: no loop started


def test_a_client_let_go_of_without_close_ends_its_loop_thread() -> None:
    """A Django view that builds a client per request and never closes it: each client,
    once garbage, ends its loop thread (a thread per request would pile up for ever)."""
    with fake_close_in_thread(api_keys=(KEY,), strict=False) as fake:
        fake.add_call()
        close = BlockingCloseClient(KEY, base_url=fake.base_url)
        close.calls.get(fake_call_id(0))
        runtime = close._portal._runtime
        assert runtime is not None
        thread, session = runtime.thread, runtime.client._engine._transport._session  # type: ignore[attr-defined]
        del close, runtime
        gc.collect()
        thread.join(BOUND)
        assert not thread.is_alive()
        assert session.closed  # its pool closed on the way


class RecordingLimiter:
    """A limiter that lets everything through and records what it was asked, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def acquire(self, group: str) -> None:
        self.events.append("acquire")

    async def release(self, group: str, feedback: RateFeedback | None) -> None:
        self.events.append("release")

    async def aclose(self) -> None:
        self.events.append("aclose")


def test_close_while_another_thread_waits_ends_that_call() -> None:
    limiter = RecordingLimiter()
    with hanging_fake() as (fake, arrived):
        close = BlockingCloseClient(KEY, base_url=fake.base_url, rate_limiter=limiter)
        outcome: dict[str, Any] = {}

        def hangs() -> None:
            try:
                close.calls.update(fake_call_id(0), CallUpdate(note="hangs"))
            except BaseException as exc:
                outcome["error"] = exc

        caller = threading.Thread(target=hangs, daemon=True)
        caller.start()
        assert arrived.wait(BOUND)
        thread = close._portal._runtime.thread  # type: ignore[union-attr]
        _, close_error = in_thread(close.close, name="closer", client=close)
        caller.join(BOUND)
        assert not caller.is_alive()
    assert close_error is None
    error = outcome["error"]
    assert isinstance(error, RuntimeError)
    assert "closed during this call" in str(error)
    # The call let go of its limiter slot before the limiter was closed, not after.
    assert limiter.events == ["acquire", "release", "aclose"]
    assert not thread.is_alive()


def test_a_call_racing_close_raises_the_closed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call that found the loop running just before another thread closed the client
    gets the clear error: not a wait for ever on a stopped loop, nor asyncio's "Event loop
    is closed" (and nothing is sent)."""
    with fake_close_in_thread(api_keys=(KEY,), strict=False) as fake:
        fake.add_call()
        close = BlockingCloseClient(KEY, base_url=fake.base_url)
        close.calls.get(fake_call_id(0))
        racing = threading.current_thread()
        closed: list[bool] = []

        def getpid() -> int:
            # Read by the call right after it found the loop: the close lands there.
            if threading.current_thread() is racing and not closed:
                closed.append(True)
                in_thread(close.close, name="closer", client=close)
            return os.getpid()

        # The portal's own view of os only.
        monkeypatch.setattr(portal_module, "os", types.SimpleNamespace(getpid=getpid))
        with pytest.raises(RuntimeError, match="this BlockingCloseClient is closed"):
            close.calls.get(fake_call_id(0))
        monkeypatch.undo()
        assert closed
        assert fake.stats.requests == 1


def test_an_interrupt_landing_during_the_hand_over_still_cancels_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C can land while the caller is still handing its call over (the loop has it,
    the caller has not reached its wait): the call is cancelled all the same, and holds no
    connection or limiter slot once the interrupt goes on."""
    with hanging_fake() as (fake, arrived):
        close = BlockingCloseClient(KEY, base_url=fake.base_url)
        real = asyncio.run_coroutine_threadsafe

        def interrupted_hand_over(coro: Any, loop: asyncio.AbstractEventLoop) -> Any:
            real(coro, loop)
            assert arrived.wait(BOUND)  # the request is on its way, and hangs
            raise KeyboardInterrupt  # the signal, at the worst moment

        patched = types.SimpleNamespace(**vars(asyncio))
        patched.run_coroutine_threadsafe = interrupted_hand_over
        monkeypatch.setattr(portal_module, "asyncio", patched)
        with pytest.raises(KeyboardInterrupt):
            close.calls.update(fake_call_id(0), CallUpdate(note="hangs"))
        monkeypatch.undo()
        in_use = pool_in_use(close)
        limiter = close.rate_limiter
        assert isinstance(limiter, LocalRateLimiter)
        inflight = [limiter.snapshot(name).inflight for name in limiter._groups]
        after, _ = in_thread(lambda: close.calls.get(fake_call_id(0)), client=close)
        close.close()
    assert in_use == 0
    assert inflight == [0]
    assert after is not None
    assert after.note == "hangs"  # applied before the answer hung


def test_a_calls_own_error_is_raised_without_a_cancellation_round(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cancels: list[object] = []
    monkeypatch.setattr(portal_module, "_cancel_call", lambda *args: cancels.append(args))
    with (
        fake_close_in_thread(api_keys=(KEY,)) as fake,
        BlockingCloseClient(KEY, base_url=fake.base_url) as close,
        pytest.raises(NotFoundError),
    ):
        close.calls.get(fake_call_id(99))
    assert cancels == []


# --- sync iterators let go of early -----------------------------------------------------------


def test_breaking_out_of_a_list_leaves_nothing_in_flight() -> None:
    with fake_close_in_thread(api_keys=(KEY,), strict=False) as fake:
        fake.seed_objects("lead", 30)
        with BlockingCloseClient(KEY, base_url=fake.base_url) as close:

            def first_lead() -> str:
                for lead in close.leads.list(page_size=10):
                    return lead.id
                raise AssertionError("no lead")

            first, _ = in_thread(first_lead, name="walker", client=close)
            requests = fake.stats.requests
            in_use = pool_in_use(close)
    assert first is not None
    assert first.startswith("lead_")
    assert requests == 1  # the first page only: no next page asked for or in flight
    assert in_use == 0


def test_breaking_out_of_an_export_closes_the_walk_from_any_thread() -> None:
    with fake_close_in_thread(api_keys=(KEY,), strict=False) as fake:
        fake.exports.delay = 0
        # More rows than one loop round trip takes (stepping.BATCH): the walk is still
        # reading the download after the first row.
        ids = fake.seed_objects("lead", 600)
        with BlockingCloseClient(KEY, base_url=fake.base_url) as close:
            export = close.exports.wait(close.exports.start("lead"), first_wait=0.01)
            rows = close.exports.rows(export)
            # Started in one thread, let go of in another: the walk's aclose runs on the
            # client's loop either way, before close() returns.
            first, _ = in_thread(lambda: next(rows), name="reader", client=close)
            walk = inspect.getgeneratorlocals(rows)["source"]  # type: ignore[arg-type]
            assert walk.ag_frame is not None  # suspended mid-download
            _, error = in_thread(rows.close, name="closer", client=close)  # type: ignore[attr-defined]
            # Checked before the client closes (closing its loop finalizes every walk).
            closed_at_once = walk.ag_frame is None
            again = [row["id"] for row in close.exports.rows(export)]
    assert error is None
    assert first is not None
    assert first["id"] == ids[0]
    assert closed_at_once
    assert again == ids


def test_breaking_out_of_an_export_closes_its_download_at_once() -> None:
    with fake_close_in_thread(api_keys=(KEY,), strict=False) as fake:
        fake.exports.delay = 0
        fake.seed_objects("lead", 600)  # more than a round trip takes (stepping.BATCH)
        with BlockingCloseClient(KEY, base_url=fake.base_url) as close:
            export = close.exports.wait(close.exports.start("lead"), first_wait=0.01)
            rows = close.exports.rows(export)
            next(rows)
            walk = inspect.getgeneratorlocals(rows)["source"]  # type: ignore[arg-type]
            download = walk.ag_frame.f_locals["chunks"]
            assert download.ag_frame is not None  # reading the file
            rows.close()  # type: ignore[attr-defined]
            closed_at_once = download.ag_frame is None
            del download  # let garbage collection close it (the loop finalizes it)
    assert closed_at_once
