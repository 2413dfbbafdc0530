"""The bulk engine behind every ``update_many``, ``create_many`` and ``delete_many``.

One engine, three verbs, any resource: a resource hands it a ``prepare`` that turns one
input item into a :class:`Prepared` (the object id, the body, the request to send), the
verb's ``kind`` and ``parse``, its reader of Close's answer. The engine sends each request
unparsed; a :class:`BulkResult` reads its ``object`` with ``parse`` on first access, so a
run that never looks at the answers decodes none.
Creates (POST, not idempotent) differ in one way: an answer lost after sending leaves
the item *ambiguous* (``state="unknown"``, with its ``body``), and the journal records
each create before it is sent so a resume never sends a maybe-landed create silently.
A ``settle`` callable resolves ambiguous creates: found means settled (in Close, not sent
again), absent means send.

Shape: ``concurrency`` worker tasks pull items from the input one at a time (never a list,
never a task per item), send each through the client (so all share its limiter and retry
policy), and put one :class:`BulkResult` per item on a bounded queue that the caller's
``async for`` drains. The bounded queue is the backpressure: a slow consumer stops the
pulling, so memory does not grow with the input.

Items for one object never overlap: they go one after another in input order, so the
last update in the input is the one Close keeps.

Failures of one item are results. A client-wide failure (401, 402, 403) makes going on
pointless: pulling stops, in-flight items finish, and :class:`BulkAbortedError` is raised
after their results. ``stop()`` (and cancelling the consumer) stops pulling, lets in-flight
items finish within ``stop_timeout``, then reports the rest as interrupted.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from os import PathLike
from typing import TYPE_CHECKING, Any, Generic, Literal, TypedDict, TypeVar, Unpack

import attrs

from .._engine.closing import AsyncClosing
from .._engine.errors import (
    APIStatusError,
    AuthenticationError,
    BulkAbortedError,
    BulkInterruptedError,
    ClientValidationError,
    CloseError,
    ConfigurationError,
    ConnectError,
    InternalServerError,
    PaymentRequiredError,
    PermissionDeniedError,
    UnknownOutcomeError,
)
from .journal import Journal

if TYPE_CHECKING:
    from .._engine.http.request import Request
    from .._engine.requester import Requester

__all__ = [
    "BulkKind",
    "BulkOptions",
    "BulkProgress",
    "BulkResult",
    "BulkRun",
    "BulkState",
    "InDoubt",
    "Prepare",
    "Prepared",
    "Settle",
]

_log = logging.getLogger("close_async.bulk")


BulkKind = Literal["update", "create", "delete"]
"""The verb of a run: a create whose answer is lost is in doubt; messages name the verb."""

T_co = TypeVar("T_co", covariant=True)
M = TypeVar("M")

Settle = Callable[[dict[str, Any]], Awaitable[Any]]
"""Looks for the object an ambiguous create's body would have made: its id, the object
(a model or a mapping with ``id``), or ``None`` when it is absent."""


@attrs.frozen
class Prepared:
    """One input item made ready: ``id`` ('' for a create), ``body`` (the journal's key
    with ``id``; ``None`` for a delete), ``request`` (sent through the client, as often as
    a retry needs) and ``in_doubt`` (a create that may exist already: settled before it is
    sent)."""

    id: str
    body: dict[str, Any] | None
    request: Request
    in_doubt: bool = False


@attrs.frozen
class InDoubt:
    """A body for ``create_many`` that an earlier run sent without hearing back (it came
    back ``state="unknown"``): it may exist already.

    It is never sent on a guess: ``settle`` is asked first and the create is sent only if
    it reports the object absent; without ``settle`` the item is reported ``"unknown"``
    again, unsent. Feeding back a run's unknown creates wrapped in ``InDoubt`` is how they
    are retried safely without its journal.
    """

    body: Any


class BulkOptions(TypedDict, total=False):
    """The options of every ``update_many``, ``create_many`` and ``delete_many`` (keywords,
    all optional).

    - ``concurrency`` (default 32): items in flight at once.
    - ``journal``: a SQLite file recording items as they land; a rerun skips them.
    - ``ordered`` (default false): yield results in input order.
    - ``on_progress``: called with a :class:`BulkProgress` after each result.
    - ``stop_timeout`` (default 30 s): how long ``stop()`` lets in-flight items finish.
    """

    concurrency: int
    journal: str | PathLike[str] | None
    ordered: bool
    on_progress: Callable[[BulkProgress], None] | None
    stop_timeout: float


Prepare = Callable[[int, Any], Prepared]
"""How a resource turns item ``index`` into a :class:`Prepared`; raises
:class:`ClientValidationError` for a bad item."""

# Errors that say the credentials or the account, not the item, are the problem.
_FATAL = (AuthenticationError, PaymentRequiredError, PermissionDeniedError)


BulkState = Literal["done", "failed", "skipped", "unknown", "interrupted", "settled"]
"""The one outcome of a bulk item (:attr:`BulkResult.state`)."""

_IN_CLOSE: frozenset[str] = frozenset({"done", "skipped", "settled"})

# The BulkProgress counter (and telemetry outcome) of each state of an attempted item.
_OUTCOME: dict[str, str] = {
    "done": "succeeded",
    "failed": "failed",
    "skipped": "skipped",
    "unknown": "unknown",
    "interrupted": "failed",
    "settled": "settled",
}
_OUTCOMES = ("succeeded", "failed", "skipped", "not_attempted", "unknown", "settled")


@attrs.frozen(slots=False)  # a __dict__ for the cached object
class BulkResult(Generic[T_co]):
    """The outcome of one input item of ``update_many``, ``create_many`` or ``delete_many``,
    whatever the resource: ``BulkResult[Lead]`` for ``close.leads``, ``BulkResult[Call]``
    for ``close.calls``.

    ``index`` is the item's 0-based position in the input; ``id`` the object's id (for a
    create: the new object's, once known). ``state`` is one of:

    - ``"done"``: sent now, and Close answered that it landed;
    - ``"skipped"``: landed in an earlier run, per the journal; not sent;
    - ``"settled"``: a create found in Close by ``settle`` (its answer was lost, or an
      earlier run sent it): not sent again;
    - ``"failed"``: Close refused it, it was refused before sending
      (:class:`ClientValidationError`), or ``attempted`` is false: the batch stopped first;
    - ``"unknown"``: a create whose answer was lost after sending: it may exist; ``body``
      says what was sent;
    - ``"interrupted"``: stopped before Close answered.

    ``ok`` says the object is in Close now: ``state`` is done, skipped or settled.
    ``body`` is what was sent (``None`` for a delete); ``payload`` Close's answer as it
    came (decoded JSON), or what ``settle`` found.
    """

    index: int
    id: str
    state: BulkState
    error: CloseError | None = None
    attempted: bool = True
    body: dict[str, Any] | None = attrs.field(default=None, repr=False, eq=False)
    payload: Any = attrs.field(default=None, repr=False, eq=False)
    # The resource's reader of its answer; None: the payload is the object already.
    _parse: Callable[[Any], T_co] | None = attrs.field(default=None, repr=False, eq=False)

    @property
    def ok(self) -> bool:
        """The object is in Close now: ``state`` is done, skipped or settled."""
        return self.state in _IN_CLOSE

    @property
    def skipped(self) -> bool:
        """Landed in an earlier run, per the journal (``state == "skipped"``)."""
        return self.state == "skipped"

    @property
    def settled(self) -> bool:
        """A create found in Close by ``settle``, not sent again (``state == "settled"``)."""
        return self.state == "settled"

    @functools.cached_property
    def object(self) -> T_co | None:
        """Close's answer as the resource's model (``None`` when there is none, such as for
        a delete or an item that did not land now), read on first access: a run that never
        looks pays nothing to decode it.

        Raises :class:`APIResponseValidationError` if Close's answer was not the resource's object.
        """
        if self.payload is None or self._parse is None:
            return self.payload  # type: ignore[no-any-return]
        return self._parse(self.payload)


@attrs.frozen
class BulkProgress:
    """Counters for a progress display, read through ``BulkRun.progress``.

    ``succeeded`` counts items sent now and answered (``"done"``); ``settled`` the creates
    found in Close by ``settle`` and not sent again; ``unknown`` the creates whose answer
    was lost. ``retries`` and ``rate_limited`` are the client's counts since the batch
    began (shared with any other work on the same client). ``rate`` is items landed per
    second.
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
    unknown: int = 0
    settled: int = 0

    @property
    def done(self) -> int:
        """Items with a final result: succeeded, settled, failed, skipped, not attempted or
        unknown."""
        return (
            self.succeeded
            + self.settled
            + self.failed
            + self.skipped
            + self.not_attempted
            + self.unknown
        )

    @property
    def rate(self) -> float:
        """Items sent and landed (``succeeded``) per second so far."""
        return self.succeeded / self.elapsed if self.elapsed > 0 else 0.0


_Link = list["asyncio.Future[None] | None"]
"""An item's place in its object's chain: the future the next item for it waits on."""


class _Done:
    """End of results."""


_DONE = _Done()


class BulkRun(AsyncClosing, Generic[M]):
    """A running ``update_many``, ``create_many`` or ``delete_many``: an async iterator of
    :class:`BulkResult` ``[M]``, ``M`` the resource's model (``BulkRun[Lead]`` from
    ``close.leads``, ``BulkRun[Call]`` from ``close.calls``; ``BulkRun[None]`` for a delete).

    Made by ``close.<resource>.update_many(items, ...)`` (``items``: ``(id, body)`` pairs),
    ``create_many(bodies, settle=...)`` or ``delete_many(ids)``, with the
    :class:`BulkOptions`; ``items`` is a sync or async iterable pulled lazily.

    Use it in ``async with`` (or call ``aclose()``) so an early exit stops the workers::

        async with close.calls.update_many(items, journal="run.journal") as run:
            async for result in run:
                ...
    """

    def __init__(
        self,
        requester: Requester,
        items: Iterable[Any] | AsyncIterable[Any],
        *,
        prepare: Prepare,
        kind: BulkKind,
        parse: Callable[[Any], M],
        settle: Settle | None = None,
        **options: Unpack[BulkOptions],
    ) -> None:
        unknown = options.keys() - BulkOptions.__annotations__.keys()
        if unknown:
            raise ConfigurationError(f"unknown bulk option(s): {', '.join(sorted(unknown))}")
        concurrency = options.get("concurrency", 32)
        journal = options.get("journal")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigurationError("concurrency must be at least 1")
        if settle is not None and kind != "create":
            raise ConfigurationError("settle is for creates only")
        self._requester = requester
        # A create found absent by settle is sent again under the client's own budget.
        self._policy = requester.options.retry
        self._kind = kind
        self._settle = settle
        self._parse = parse
        self._prepare = prepare
        self._sync_source: Iterator[Any] | None = None
        self._async_source: AsyncIterator[Any] | None = None
        if isinstance(items, AsyncIterable):
            self._async_source = aiter(items)
        else:
            self._sync_source = iter(items)
        self._concurrency = concurrency
        self._journal = Journal(journal) if journal is not None else None
        self._ordered = options.get("ordered", False)
        self._on_progress = options.get("on_progress")
        self._stop_timeout = options.get("stop_timeout", 30.0)
        self._results: asyncio.Queue[BulkResult[M] | _Done] = asyncio.Queue(concurrency)
        # In input order, results wait here for the ones before them; the window bounds it.
        self._buffer: dict[int, BulkResult[M]] = {}
        self._next_index = 0
        self._window: asyncio.Semaphore | None = (
            asyncio.Semaphore(concurrency * 4) if self._ordered else None
        )
        self._pull_lock = asyncio.Lock()
        self._in_flight: dict[int, str] = {}
        # Items for one object go one at a time, in input order, so the last one wins: each
        # waits for the one before it (a chain per object id, as long as the ids in flight).
        # An item's link is a one-slot list where the next item for its object puts the
        # future it waits on: most objects have one item in flight, so no item pays for a
        # waitable object unless another item waits on it.
        self._last_for_object: dict[str, _Link] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._stop_timer: asyncio.TimerHandle | None = None
        self._pulling = True
        self._finished = False
        self._fatal: CloseError | None = None
        self._input_error: BaseException | None = None
        self._started_at = 0.0
        self._pulled = 0
        # Items by outcome (a BulkProgress counter's name): one count, one place.
        self._counts: dict[str, int] = dict.fromkeys(_OUTCOMES, 0)
        self._retries_at_start = 0
        self._throttles_at_start = 0

    @property
    def progress(self) -> BulkProgress:
        """A snapshot of the counters."""
        stats = self._requester.stats
        return BulkProgress(
            pulled=self._pulled,
            in_flight=len(self._in_flight),
            **self._counts,
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
        """Stop gracefully: pull no more input; in-flight items get ``stop_timeout``
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
            for index, object_id in sorted(self._in_flight.items()):
                cut = BulkInterruptedError(
                    f"the batch stopped before Close answered this {self._kind}"
                )
                await self._emit(self._result(index, object_id, "interrupted", error=cut))
            self._in_flight.clear()
        finally:
            if self._stop_timer is not None:
                self._stop_timer.cancel()
            if self._journal is not None:
                self._journal.close()
            await self._results.put(_DONE)

    async def aclose(self) -> None:
        """Stop (gracefully, as ``stop()``) and wait for the workers; results still queued
        are dropped (the items that landed are in the journal)."""
        if self._supervisor is None:
            if self._journal is not None:
                self._journal.close()
            self._finished = True
            return
        if not self._finished:
            await self._stop_and_drain()

    # -- the consumer side --------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[BulkResult[M]]:
        return self

    async def __anext__(self) -> BulkResult[M]:
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
                # The consumer was cancelled: stop gracefully, let in-flight items land
                # (and be journaled) within stop_timeout, then let the cancellation go on.
                await self._stop_and_drain()
                raise
            if isinstance(item, _Done):
                return self._finish()
            if not self._ordered:
                return self._deliver(item)
            self._buffer[item.index] = item

    def _deliver(self, result: BulkResult[M]) -> BulkResult[M]:
        if self._ordered:
            self._next_index = result.index + 1
            assert self._window is not None
            self._window.release()
        if self._on_progress is not None:
            self._on_progress(self.progress)
        return result

    def _finish(self) -> BulkResult[M]:
        self._finished = True
        if self._input_error is not None:
            raise self._input_error
        if self._fatal is not None:
            raise BulkAbortedError(self._fatal, attempted=self._pulled) from self._fatal
        raise StopAsyncIteration

    async def _stop_and_drain(self) -> None:
        # Stop gracefully and wait for the workers, dropping results (the items that landed
        # are in the journal); cancelled meanwhile, stop at once, leaving no worker behind.
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
        _log.error("%s_many input failed after %d items: %r", self._kind, self._pulled, exc)
        self._input_error = exc
        self._pulling = False

    def _result(
        self,
        index: int,
        object_id: str,
        state: BulkState,
        *,
        error: CloseError | None = None,
        attempted: bool = True,
        body: dict[str, Any] | None = None,
        payload: Any = None,
    ) -> BulkResult[M]:
        return BulkResult(index, object_id, state, error, attempted, body, payload, self._parse)

    async def _emit(self, result: BulkResult[M]) -> None:
        # Only a failed state can be unattempted (the batch stopped before it was sent).
        outcome = _OUTCOME[result.state] if result.attempted else "not_attempted"
        self._counts[outcome] += 1
        telemetry = self._requester.telemetry
        if telemetry is not None:
            telemetry.bulk_item(outcome, result.error if outcome == "failed" else None)
        await self._results.put(result)

    async def _run_one(self, index: int, item: Any) -> BulkResult[M]:
        if self._fatal is not None:
            shown = _shown_id(self._kind, item)
            return self._result(index, shown, "failed", error=self._fatal, attempted=False)
        try:
            prepared = self._prepare(index, item)
        except ClientValidationError as exc:
            return self._result(index, _shown_id(self._kind, item), "failed", error=exc)
        object_id, body = prepared.id, prepared.body
        in_doubt = prepared.in_doubt and self._kind == "create"
        key = None
        started = False
        if self._journal is not None:
            # A create has no id yet: its place in the input stands in (resume = same input).
            key = Journal.key(object_id or f"create#{index}", body or {})
            if self._journal.contains(key):
                # A create's id is known only from the run that made it.
                landed_id = object_id or self._journal.landed_id(key)
                return self._result(index, landed_id, "skipped", body=body)
            if self._kind == "create":
                # Sent by an earlier run that never heard back: maybe it landed.
                started = self._journal.started(key)
                in_doubt = in_doubt or started
        if in_doubt:
            settled = await self._settle_or_unknown(index, body, key, None)
            if settled is not None:
                return settled
        if self._kind == "create" and self._journal is not None and key and not started:
            self._journal.start(key)  # recorded before it is sent
        link: _Link = [None]
        previous = None
        if object_id:
            previous = self._last_for_object.get(object_id)
            self._last_for_object[object_id] = link
        self._in_flight[index] = object_id
        result: BulkResult[M]
        try:
            if previous is not None:
                turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                previous[0] = turn  # set when the item before this one is done
                await turn
            result = await self._send(index, prepared, key)
        except asyncio.CancelledError:
            # Cancelled by stop()'s timer: the item stays in _in_flight, and the supervisor
            # reports it as interrupted (a create's journal row says it may have landed).
            self._object_done(object_id, link)
            raise
        self._object_done(object_id, link)
        del self._in_flight[index]
        return result

    async def _send(self, index: int, prepared: Prepared, key: str | None) -> BulkResult[M]:
        object_id, body = prepared.id, prepared.body
        sends = 0
        while True:
            sends += 1
            try:
                # Unparsed: the result reads its object only when asked.
                payload = await self._requester.request(prepared.request)
            except _FATAL as exc:
                if self._fatal is None:
                    self._fatal = exc
                    self._pulling = False
                return self._result(index, object_id, "failed", error=exc, body=body)
            except CloseError as exc:
                if self._kind != "create" or not _ambiguous(exc):
                    return self._result(index, object_id, "failed", error=exc, body=body)
                settled = await self._settle_or_unknown(index, body, key, exc)
                if settled is not None:
                    return settled
                # Settle found it absent, so this send did not land: sending again is a
                # retry like any other, within the client's fault budget; past it, the
                # outcome is known (absent), so the item failed with the last fault.
                if sends >= self._policy.attempts:
                    return self._result(index, object_id, "failed", error=exc, body=body)
                await asyncio.sleep(self._policy.fault_wait(sends))
                continue
            object_id = object_id or _object_id(payload)
            if self._journal is not None and key is not None:
                self._journal.record(key, object_id)
            return self._result(index, object_id, "done", body=body, payload=payload)

    async def _settle_or_unknown(
        self, index: int, body: dict[str, Any] | None, key: str | None, cause: CloseError | None
    ) -> BulkResult[M] | None:
        """The result of an ambiguous create, or ``None`` when ``settle`` found it absent
        (the caller sends it)."""
        why = f"item {index}: the create may have landed ({cause or 'sent by an earlier run'})"
        if self._settle is None:
            unknown = UnknownOutcomeError(why)
            return self._result(index, "", "unknown", error=unknown, body=body)
        try:
            # A settler's searches go through the client, whose one retry policy already
            # retried them as reads (a search is one): what escapes here is final.
            found = await self._settle(dict(body or {}))
        except CloseError as exc:
            _log.warning("settle failed for item %d: %r", index, exc)
            unknown = UnknownOutcomeError(f"{why}; looking for it failed: {exc}")
            return self._result(index, "", "unknown", error=unknown, body=body)
        if found is None:
            return None
        found_id = found if isinstance(found, str) else _object_id(found)
        if self._journal is not None and key is not None:
            self._journal.record(key, found_id)
        if isinstance(found, str):
            return self._result(index, found_id, "settled", body=body)
        if isinstance(found, Mapping):
            # Close's JSON for the object, as an answer would be: read by the resource.
            return self._result(index, found_id, "settled", body=body, payload=found)
        # A model the settler made already: it is the object.
        return BulkResult(index, found_id, "settled", body=body, payload=found)

    def _object_done(self, object_id: str, link: _Link) -> None:
        # The next item for this object, if one waits, may go.
        turn = link[0]
        if turn is not None and not turn.done():
            turn.set_result(None)
        if object_id and self._last_for_object.get(object_id) is link:
            del self._last_for_object[object_id]


def _ambiguous(error: CloseError) -> bool:
    # A 4xx answer means Close refused it; a connection never opened means it never left.
    if isinstance(error, ConnectError):
        return False
    if isinstance(error, APIStatusError):
        return isinstance(error, InternalServerError)
    return True


def _object_id(payload: Any) -> str:
    value = payload.get("id") if isinstance(payload, Mapping) else getattr(payload, "id", None)
    return value if isinstance(value, str) else ""


def _shown_id(kind: str, item: Any) -> str:
    if kind == "create":
        return ""
    if kind == "update":
        item = item[0] if isinstance(item, tuple) and item else ""
    return item if isinstance(item, str) else repr(item)
