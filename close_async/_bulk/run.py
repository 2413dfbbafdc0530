"""The bulk engine behind ``close.calls.update_many``.

Shape: ``concurrency`` worker tasks pull items from the input one at a time (never a list,
never a task per item), send each through the client (so all share its limiter and retry
policy), and put one :class:`UpdateResult` per item on a bounded queue that the caller's
``async for`` drains. The bounded queue is the backpressure: a slow consumer stops the
pulling, so memory does not grow with the input.

Updates to the same call never overlap: they go one after another in input order, so
the last one in the input is the one Close keeps.

Failures of one item are results. A client-wide failure (401, 402, 403) makes going on
pointless: pulling stops, in-flight items finish, and :class:`BatchAbortedError` is raised
after their results. ``stop()`` (and cancelling the consumer) stops pulling, lets in-flight
updates finish within ``stop_timeout``, then reports the rest as interrupted.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from os import PathLike
from typing import TYPE_CHECKING, Any

import attrs

from .._engine.closing import AsyncClosing
from .._engine.errors import (
    AuthenticationError,
    CloseError,
    InvalidRequestError,
    PaymentRequiredError,
    PermissionDeniedError,
)
from .._engine.protocol import Request
from .._types.calls import Call, CallUpdate
from .._types.conversion import call_from_json
from .journal import Journal

if TYPE_CHECKING:
    from .._engine.requester import Requester

__all__ = [
    "BatchAbortedError",
    "BulkProgress",
    "BulkRun",
    "PrepareUpdate",
    "UpdateInterruptedError",
    "UpdateResult",
]

_log = logging.getLogger("close_async.bulk")

PrepareUpdate = Callable[[int, str, Any], tuple[dict[str, Any], Request]]
"""How a resource turns item ``index``'s ``(id, update)`` into the body (the journal's key)
and the request to send; raises :class:`InvalidRequestError` for a bad item."""

# Errors that say the credentials or the account, not the item, are the problem.
_FATAL = (AuthenticationError, PaymentRequiredError, PermissionDeniedError)


class BatchAbortedError(CloseError):
    """``update_many`` stopped early because of a client-wide failure (``cause``: 401/402/403).

    Raised after the results of the updates that were in flight; items after them were
    not attempted.
    """

    def __init__(self, cause: CloseError, *, attempted: int) -> None:
        super().__init__(f"batch aborted after {attempted} items: {cause}")
        self.cause = cause
        self.attempted = attempted


class UpdateInterruptedError(CloseError):
    """The batch was stopped before Close answered this update: it may or may not have
    applied. It is not in the journal, so a rerun sends it again (PUT is idempotent)."""


@attrs.frozen(slots=False)
class UpdateResult:
    """The outcome of one input item of ``update_many``.

    ``index`` is the item's 0-based position in the input. ``ok`` is true when the update
    landed now or already had (``skipped``, from the journal). ``attempted`` is false when
    the batch stopped before sending the item. ``call`` is Close's answer for an update that
    landed now (read on first access, so a backfill that never looks pays nothing for it).
    """

    index: int
    call_id: str
    ok: bool
    error: CloseError | None = None
    skipped: bool = False
    attempted: bool = True
    payload: Any = attrs.field(default=None, repr=False, eq=False)

    @functools.cached_property
    def call(self) -> Call | None:
        """Close's answer as a :class:`Call`, or ``None`` when the update did not land now.

        Raises :class:`DecodingError` if Close's answer was not a call.
        """
        return call_from_json(self.payload) if self.payload is not None else None


@attrs.frozen
class BulkProgress:
    """Counters for a progress display, read through ``BulkRun.progress``.

    ``retries`` and ``rate_limited`` are the client's counts since the batch began (shared
    with any other work on the same client). ``rate`` is updates landed per second.
    """

    pulled: int
    succeeded: int
    failed: int
    skipped: int
    in_flight: int
    not_attempted: int
    retries: int
    rate_limited: int
    elapsed: float

    @property
    def done(self) -> int:
        """Items with a final result: succeeded, failed, skipped or not attempted."""
        return self.succeeded + self.failed + self.skipped + self.not_attempted

    @property
    def rate(self) -> float:
        """Updates landed per second so far."""
        return self.succeeded / self.elapsed if self.elapsed > 0 else 0.0


class _Done:
    """End of results."""


_DONE = _Done()


class BulkRun(AsyncClosing):
    """A running ``update_many``: an async iterator of :class:`UpdateResult`.

    Made by ``close.calls.update_many(items, ...)``: ``items`` is a sync or async iterable
    of ``(call_id, CallUpdate)`` pulled lazily; ``concurrency`` updates are in flight at
    once; ``journal`` names a SQLite file recording updates as they land (a rerun skips
    them); ``ordered`` yields results in input order; ``on_progress`` gets a
    :class:`BulkProgress` after each result; ``stop_timeout`` bounds ``stop()``.

    Use it in ``async with`` (or call ``aclose()``) so an early exit stops the workers::

        async with close.calls.update_many(items, journal="run.journal") as run:
            async for result in run:
                ...
    """

    def __init__(
        self,
        requester: Requester,
        items: Iterable[tuple[str, CallUpdate]] | AsyncIterable[tuple[str, CallUpdate]],
        *,
        prepare: PrepareUpdate,
        concurrency: int,
        journal: str | PathLike[str] | None,
        ordered: bool,
        on_progress: Callable[[BulkProgress], None] | None,
        stop_timeout: float,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._requester = requester
        self._prepare = prepare
        self._sync_source: Iterator[Any] | None = None
        self._async_source: AsyncIterator[Any] | None = None
        if isinstance(items, AsyncIterable):
            self._async_source = aiter(items)
        else:
            self._sync_source = iter(items)
        self._concurrency = concurrency
        self._journal = Journal(journal) if journal is not None else None
        self._ordered = ordered
        self._on_progress = on_progress
        self._stop_timeout = stop_timeout
        self._results: asyncio.Queue[UpdateResult | _Done] = asyncio.Queue(concurrency)
        # In input order, results wait here for the ones before them; the window bounds it.
        self._buffer: dict[int, UpdateResult] = {}
        self._next_index = 0
        self._window: asyncio.Semaphore | None = (
            asyncio.Semaphore(concurrency * 4) if ordered else None
        )
        self._pull_lock = asyncio.Lock()
        self._in_flight: dict[int, str] = {}
        # Updates to one call go one at a time, in input order, so the last one wins: each
        # waits for the one before it (a chain per call id, as long as the calls in flight).
        self._last_for_call: dict[str, asyncio.Event] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._stop_timer: asyncio.TimerHandle | None = None
        self._pulling = True
        self._finished = False
        self._fatal: CloseError | None = None
        self._input_error: BaseException | None = None
        self._started_at = 0.0
        self._pulled = 0
        self._succeeded = 0
        self._failed = 0
        self._skipped = 0
        self._not_attempted = 0
        self._retries_at_start = 0
        self._throttles_at_start = 0

    @property
    def progress(self) -> BulkProgress:
        """A snapshot of the counters."""
        stats = self._requester.stats
        return BulkProgress(
            pulled=self._pulled,
            succeeded=self._succeeded,
            failed=self._failed,
            skipped=self._skipped,
            in_flight=len(self._in_flight),
            not_attempted=self._not_attempted,
            retries=stats.total_retries - self._retries_at_start,
            rate_limited=stats.rate_limited - self._throttles_at_start,
            elapsed=time.monotonic() - self._started_at if self._started_at else 0.0,
        )

    # -- life cycle ---------------------------------------------------------------------

    def _start(self) -> None:
        self._started_at = time.monotonic()
        self._retries_at_start = self._requester.stats.total_retries
        self._throttles_at_start = self._requester.stats.rate_limited
        self._workers = [
            asyncio.create_task(self._worker(), name=f"close-async-bulk-{n}")
            for n in range(self._concurrency)
        ]
        self._supervisor = asyncio.create_task(self._supervise(), name="close-async-bulk")

    def stop(self) -> None:
        """Stop gracefully: pull no more input; in-flight updates get ``stop_timeout``
        seconds to finish, then are cancelled and reported as interrupted."""
        if not self._pulling:
            return
        self._pulling = False
        if self._supervisor is not None and not self._supervisor.done():
            loop = asyncio.get_running_loop()
            self._stop_timer = loop.call_later(self._stop_timeout, self._cancel_workers)

    def _cancel_workers(self) -> None:
        for task in self._workers:
            task.cancel()

    async def _supervise(self) -> None:
        try:
            await asyncio.gather(*self._workers, return_exceptions=True)
            # Workers cancelled by stop()'s timer leave their items here.
            for index, call_id in sorted(self._in_flight.items()):
                await self._emit(
                    UpdateResult(
                        index,
                        call_id,
                        ok=False,
                        error=UpdateInterruptedError(
                            "the batch stopped before Close answered this update"
                        ),
                    )
                )
            self._in_flight.clear()
        finally:
            if self._stop_timer is not None:
                self._stop_timer.cancel()
            if self._journal is not None:
                self._journal.close()
            await self._results.put(_DONE)

    async def aclose(self) -> None:
        """Stop (gracefully, as ``stop()``) and wait for the workers; results still queued
        are dropped (their updates are in the journal)."""
        if self._supervisor is None:
            if self._journal is not None:
                self._journal.close()
            self._finished = True
            return
        if not self._finished:
            await self._stop_and_drain()

    # -- the consumer side --------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[UpdateResult]:
        return self

    async def __anext__(self) -> UpdateResult:
        if self._finished:
            raise StopAsyncIteration
        if self._supervisor is None:
            self._start()
        while True:
            if self._ordered and self._next_index in self._buffer:
                return self._deliver(self._buffer.pop(self._next_index))
            try:
                item = await self._results.get()
            except asyncio.CancelledError:
                # The consumer was cancelled: stop gracefully, let in-flight updates land
                # (and be journaled) within stop_timeout, then let the cancellation go on.
                await self._stop_and_drain()
                raise
            if isinstance(item, _Done):
                return self._finish()
            if not self._ordered:
                return self._deliver(item)
            self._buffer[item.index] = item

    def _deliver(self, result: UpdateResult) -> UpdateResult:
        if self._ordered:
            self._next_index = result.index + 1
            assert self._window is not None
            self._window.release()
        if self._on_progress is not None:
            self._on_progress(self.progress)
        return result

    def _finish(self) -> UpdateResult:
        self._finished = True
        if self._input_error is not None:
            raise self._input_error
        if self._fatal is not None:
            raise BatchAbortedError(self._fatal, attempted=self._pulled) from self._fatal
        raise StopAsyncIteration

    async def _stop_and_drain(self) -> None:
        # Stop gracefully and wait for the workers, dropping results (their updates are in
        # the journal); cancelled meanwhile, stop at once instead of leaving workers behind.
        self.stop()
        try:
            while True:
                if isinstance(await self._results.get(), _Done):
                    break
        except asyncio.CancelledError:
            # Cancelled again while waiting: stop at once.
            self._cancel_workers()
            raise
        finally:
            self._finished = True

    # -- the worker side ----------------------------------------------------------------

    async def _worker(self) -> None:
        while self._pulling:
            if self._window is not None:
                await self._window.acquire()
            pulled = await self._pull()
            if pulled is None:
                if self._window is not None:
                    self._window.release()
                return
            index, item = pulled
            result = await self._run_one(index, item)
            await self._emit(result)

    async def _pull(self) -> tuple[int, Any] | None:
        if not self._pulling:
            return None
        if self._sync_source is not None:
            # next() never awaits, so workers cannot interleave here: no lock needed.
            try:
                return self._numbered(next(self._sync_source))
            except StopIteration:
                self._pulling = False
                return None
            except Exception as exc:
                self._input_failed(exc)
                return None
        assert self._async_source is not None
        async with self._pull_lock:
            if not self._pulling:
                return None
            try:
                return self._numbered(await anext(self._async_source))
            except StopAsyncIteration:
                self._pulling = False
                return None
            except Exception as exc:
                self._input_failed(exc)
                return None

    def _numbered(self, item: Any) -> tuple[int, Any]:
        index = self._pulled
        self._pulled += 1
        return index, item

    def _input_failed(self, exc: Exception) -> None:
        _log.error("update_many input failed after %d items: %r", self._pulled, exc)
        self._input_error = exc
        self._pulling = False

    async def _emit(self, result: UpdateResult) -> None:
        if result.skipped:
            self._skipped += 1
            outcome = "skipped"
        elif not result.attempted:
            self._not_attempted += 1
            outcome = "not_attempted"
        elif result.ok:
            self._succeeded += 1
            outcome = "succeeded"
        else:
            self._failed += 1
            outcome = "failed"
        telemetry = self._requester.telemetry
        if telemetry is not None:
            telemetry.bulk_item(outcome, result.error if outcome == "failed" else None)
        await self._results.put(result)

    async def _run_one(self, index: int, item: Any) -> UpdateResult:
        try:
            call_id, update = item
        except (TypeError, ValueError):
            error = InvalidRequestError(
                f"item {index}: expected a (call_id, CallUpdate) pair, got {type(item).__name__}",
                field="item",
            )
            return UpdateResult(index, "", ok=False, error=error)
        shown_id = call_id if isinstance(call_id, str) else repr(call_id)
        if self._fatal is not None:
            return UpdateResult(index, shown_id, ok=False, error=self._fatal, attempted=False)
        try:
            body, request = self._prepare(index, call_id, update)
        except InvalidRequestError as exc:
            return UpdateResult(index, shown_id, ok=False, error=exc)
        key = None
        if self._journal is not None:
            key = Journal.key(call_id, body)
            if self._journal.contains(key):
                return UpdateResult(index, call_id, ok=True, skipped=True)
        previous = self._last_for_call.get(call_id)
        done = self._last_for_call[call_id] = asyncio.Event()
        self._in_flight[index] = call_id
        result: UpdateResult
        try:
            if previous is not None:
                await previous.wait()
            payload = await self._requester.request(request)
        except asyncio.CancelledError:
            # Cancelled by stop()'s timer: the item stays in _in_flight, and the supervisor
            # reports it as interrupted.
            self._call_done(call_id, done)
            raise
        except _FATAL as exc:
            if self._fatal is None:
                self._fatal = exc
                self._pulling = False
            result = UpdateResult(index, call_id, ok=False, error=exc)
        except CloseError as exc:
            result = UpdateResult(index, call_id, ok=False, error=exc)
        else:
            if self._journal is not None and key is not None:
                self._journal.record(key, call_id)
            result = UpdateResult(index, call_id, ok=True, payload=payload)
        self._call_done(call_id, done)
        del self._in_flight[index]
        return result

    def _call_done(self, call_id: str, done: asyncio.Event) -> None:
        done.set()  # the next update of this call may go
        if self._last_for_call.get(call_id) is done:
            del self._last_for_call[call_id]
