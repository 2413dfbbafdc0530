"""The one path rows take to Close: read -> validate -> ``update_many`` -> progress -> summary.

``close-async calls update`` and ``close-async demo`` both go through :func:`run_updates`, so
the demo shows exactly what a real backfill does.

The input is read in a helper thread, a chunk of rows at a time, so a slow pipe on stdin
never blocks the event loop (in-flight requests keep going) and Ctrl-C is always heard.
Rows are validated on the loop as ``update_many`` pulls them; a bad row is reported with
its line number and never sent, and the good rows around it go on. Only the rows in
flight are kept in memory (to write a failed one to the failures file).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterator
from typing import Any

import attrs

from .._bulk.run import BulkRun
from .._client import CloseClient
from .._engine.errors import (
    BulkAbortedError,
    BulkInterruptedError,
    ClientValidationError,
    CloseError,
)
from .cells import CellError
from .failures import Failures, failure_record, open_failures
from .input import InputError, InputFormat, InputRow, parse_row, row_for_output
from .plural import counted
from .report import (
    CALLS_UPDATE_WORDING,
    Counts,
    Display,
    MessageLimiter,
    Wording,
    describe_failure,
)

__all__ = [
    "CALLS_UPDATE",
    "EXIT_ABORTED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "RowVerb",
    "UpdateOutcome",
    "UpdateSettings",
    "run_updates",
    "validate_rows",
]

EXIT_OK = 0
EXIT_FAILED = 1
"""Some item failed, some create's outcome is unknown (sent, answer lost), or some row was
invalid: there is something to look at in the failures file."""
EXIT_USAGE = 2
"""Bad arguments, missing credentials, an unusable input file."""
EXIT_ABORTED = 3
"""Close refused the credentials (401/403) and the batch was aborted."""
EXIT_INTERRUPTED = 130
"""Stopped by SIGINT or SIGTERM."""

_CHUNK = 256  # rows handed from the reader thread to the loop at a time
_CHUNKS_AHEAD = 4  # bounds what the reader thread reads ahead


@attrs.frozen
class UpdateSettings:
    """How :func:`run_updates` runs: ``concurrency`` updates in flight, an optional
    ``journal`` (resume) and ``failures`` file, the grace period of a stop, and whether
    SIGINT/SIGTERM are taken over (only possible in the main thread)."""

    concurrency: int = 32
    journal: str | None = None
    failures: str | None = None
    stop_timeout: float = 20.0
    handle_signals: bool = True


@attrs.define
class UpdateOutcome:
    """How a run ended: its counts, and whether it was interrupted or aborted."""

    counts: Counts
    interrupted: bool = False
    aborted: BulkAbortedError | None = None
    input_error: Exception | None = None
    problems_hidden: int = 0

    @property
    def exit_code(self) -> int:
        """130 interrupted, 3 aborted (credentials refused), 2 unusable input,
        1 any failed or unknown item or invalid row, else 0 (everything landed, settled
        or was skipped)."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.aborted is not None:
            return EXIT_ABORTED
        if self.input_error is not None:
            return EXIT_USAGE
        if self.counts.failed or self.counts.unknown or self.counts.invalid:
            return EXIT_FAILED
        return EXIT_OK


@attrs.frozen
class RowVerb:
    """What one CLI action does with a row: the single runner below serves them all.

    ``parse(row, fmt)`` turns a readable row into ``(item, output)``: the item handed to the
    bulk verb, and the row as JSON for the failures file (it can be fed back as input);
    it raises :class:`~close_async.ClientValidationError` for a bad row. ``start(client,
    items, options)`` starts the bulk run (``update_many``, ``create_many``, ``delete_many``).
    """

    parse: Callable[[InputRow, InputFormat], tuple[Any, dict[str, Any] | None]]
    start: Callable[[CloseClient, AsyncIterable[Any], dict[str, Any]], BulkRun[Any]]
    needs_id: bool = True
    """Rows name an object by ``id`` (not so for creates)."""
    output: Callable[[InputRow, InputFormat], dict[str, Any] | None] = row_for_output
    """A refused row as JSON, for a JSON Lines failures file (``None``: unreadable)."""
    wording: Wording = CALLS_UPDATE_WORDING
    """How the progress display and the summary name the work."""


def _parse_call_update(row: InputRow, fmt: InputFormat) -> tuple[Any, dict[str, Any] | None]:
    call_id, update = parse_row(row, fmt)
    output = row_for_output(row, fmt)
    if fmt == "csv":
        # Typed JSON, so the failures file is valid JSON Lines input as it stands.
        output = {"id": call_id, **update.to_json()}
    return (call_id, update), output


CALLS_UPDATE = RowVerb(
    parse=_parse_call_update,
    start=lambda client, items, options: client.calls.update_many(items, **options),
)
"""``close-async calls update``: typed call updates through ``client.calls.update_many``."""


class _ReaderGone(Exception):
    """The loop no longer wants rows: the reader thread ends quietly."""


async def rows_from_thread(rows: Iterator[InputRow]) -> AsyncGenerator[InputRow, None]:
    """Iterate ``rows`` in a daemon thread and yield them on the loop, read ahead a little.

    A daemon thread, not the loop's executor: a read blocked on an idle stdin must not
    keep the process alive after an interrupt.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[list[InputRow] | BaseException | None] = asyncio.Queue(_CHUNKS_AHEAD)
    gone = threading.Event()

    def put(item: list[InputRow] | BaseException | None) -> None:
        if gone.is_set():
            raise _ReaderGone
        try:
            asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
        except (RuntimeError, concurrent.futures.CancelledError):
            raise _ReaderGone from None

    def produce() -> None:
        try:
            batch: list[InputRow] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= _CHUNK:
                    put(batch)
                    batch = []
            put(batch)
            put(None)
        except _ReaderGone:
            return
        except Exception as exc:  # handed to the loop, which raises it there
            with contextlib.suppress(_ReaderGone):
                put(exc)

    threading.Thread(target=produce, name="close-async-input", daemon=True).start()
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            for row in item:
                yield row
    finally:
        gone.set()
        # Free a reader blocked on a full queue so it sees ``gone`` and ends.
        while not queue.empty():
            queue.get_nowait()


@attrs.frozen
class _Problem:
    """Why a row was refused: ``message`` for the failures file (the line is beside it)."""

    message: str
    cell: bool = False
    """A cell of the wrong type: the message names its column."""

    def shown(self, line: int) -> str:
        # "line 7, column 'value': expected an integer, got 'abc'"
        return (
            f"line {line}, {self.message}"
            if self.cell
            else f"line {line}: invalid row: {self.message}"
        )


def _row_problem(
    row: InputRow, fmt: InputFormat, verb: RowVerb
) -> tuple[Any, dict[str, Any] | None] | _Problem:
    if row.error is not None:
        return _Problem(row.error)
    try:
        return verb.parse(row, fmt)
    except CellError as exc:
        return _Problem(str(exc), cell=True)
    except ClientValidationError as exc:
        return _Problem(str(exc))


class _Invalid:
    """Reports invalid rows: a capped stderr line and a failures-file record each."""

    def __init__(
        self, fmt: InputFormat, limiter: MessageLimiter, failures: Failures, verb: RowVerb
    ) -> None:
        self._fmt = fmt
        self._limiter = limiter
        self._failures = failures
        self._verb = verb
        self.count = 0

    def report(self, row: InputRow, problem: _Problem) -> None:
        self.count += 1
        self._limiter.report(problem.shown(row.line))
        output = self._verb.output(row, self._fmt)
        self._failures.write(
            failure_record(line=row.origin_line, row=output, error=problem.message, raw=row.raw),
            row,
        )


def validate_rows(
    rows: Iterator[InputRow],
    fmt: InputFormat,
    limiter: MessageLimiter,
    failures: Failures,
    verb: RowVerb = CALLS_UPDATE,
) -> tuple[int, int]:
    """Check every row without sending anything (``--dry-run``): ``(valid, invalid)``."""
    invalid = _Invalid(fmt, limiter, failures, verb)
    valid = 0
    for row in rows:
        checked = _row_problem(row, fmt, verb)
        if isinstance(checked, _Problem):
            invalid.report(row, checked)
        else:
            valid += 1
    return valid, invalid.count


@attrs.define
class _State:
    counts: Counts
    """The outcomes tallied so far; a snapshot adds what the run and the reader know."""
    started: float = attrs.field(factory=time.monotonic)
    stopping: bool = False


async def run_updates(
    client: CloseClient,
    rows: Iterator[InputRow],
    fmt: InputFormat,
    settings: UpdateSettings,
    display: Display,
    *,
    total: int | None = None,
    verb: RowVerb = CALLS_UPDATE,
) -> UpdateOutcome:
    """Send the rows through ``verb`` (default: ``client.calls.update_many``) and report.

    Invalid rows are reported (stderr and failures file) and skipped; failed updates too.
    Returns the outcome; the caller prints the summary. With ``handle_signals``, the first
    SIGINT/SIGTERM stops gracefully (in-flight updates finish, the journal is flushed) and
    a second one cancels what is left in flight.
    """
    limiter = MessageLimiter(display)
    failures = open_failures(settings.failures, fmt)
    invalid = _Invalid(fmt, limiter, failures, verb)
    state = _State(Counts(total=total))
    # index (update_many's 0-based position) -> (the row read, its JSON for the failures file)
    pending: dict[int, tuple[InputRow | None, dict[str, Any] | None]] = {}

    reader = rows_from_thread(rows)

    async def items() -> AsyncIterator[Any]:
        index = 0
        async for row in reader:
            checked = _row_problem(row, fmt, verb)
            if isinstance(checked, _Problem):
                invalid.report(row, checked)
                continue
            item, output = checked
            pending[index] = (row, output)
            index += 1
            yield item

    run = verb.start(
        client,
        items(),
        {
            "concurrency": settings.concurrency,
            "journal": settings.journal,
            "stop_timeout": settings.stop_timeout,
        },
    )
    assert isinstance(run, BulkRun)
    outcome = UpdateOutcome(Counts(total=total))

    def snapshot() -> Counts:
        progress = run.progress
        return attrs.evolve(
            state.counts,
            invalid=invalid.count,
            in_flight=progress.in_flight,
            retries=progress.retries,
            rate_limited=progress.rate_limited,
            elapsed=time.monotonic() - state.started,
        )

    async def tick() -> None:
        while True:
            await asyncio.sleep(display.tick)
            display.refresh(snapshot())

    main_task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_signal(name: str) -> None:
        if not state.stopping:
            state.stopping = True
            outcome.interrupted = True
            run.stop()
            in_flight = counted(run.progress.in_flight, "row")
            display.message(
                f"{name}: stopping; waiting up to {settings.stop_timeout:g} s for "
                f"{in_flight} in flight (again to abandon them)"
            )
        elif main_task is not None:
            main_task.cancel()

    signals = _install_signals(loop, on_signal) if settings.handle_signals else []
    display.start(snapshot())
    ticker = asyncio.create_task(tick(), name="close-async-progress")
    try:
        async with run:
            try:
                async for result in run:
                    row, output = pending.pop(result.index, (None, None))
                    line = row.line if row is not None else 0
                    if result.skipped:
                        state.counts.skipped += 1
                    elif result.state == "settled":
                        # Found in Close by --settle-by: not sent again, so not "created".
                        state.counts.settled += 1
                    elif result.ok:
                        state.counts.updated += 1
                    elif not result.attempted or isinstance(result.error, BulkInterruptedError):
                        state.counts.not_sent += 1
                    elif isinstance(result.error, ClientValidationError) and row is not None:
                        # Refused by the bulk verb's own checks before sending: a bad row.
                        invalid.report(row, _Problem(str(result.error)))
                    else:
                        error = result.error
                        assert error is not None
                        # Sent, answer lost: it may have landed, so not "failed" (known
                        # not to have landed).
                        unknown = result.state == "unknown"
                        if unknown:
                            state.counts.unknown += 1
                        else:
                            state.counts.failed += 1
                        what = "outcome unknown" if unknown else "failed"
                        limiter.report(
                            f"line {line}: {result.id or 'create'}: {what}: "
                            f"{describe_failure(error)}"
                        )
                        record = failure_record(
                            line=row.origin_line if row is not None else 0,
                            row=output,
                            error=error,
                            object_id=result.id or None,
                        )
                        if unknown:
                            # Sent, answer lost: it may exist now; fed back, it is looked up first.
                            record["unknown"] = True
                        failures.write(record, row)
                    display.refresh(snapshot())
            except BulkAbortedError as exc:
                outcome.aborted = exc
            except asyncio.CancelledError:
                if main_task is None or not state.stopping:
                    raise
                main_task.uncancel()
            except CloseError:
                raise  # every timeout of ours is an OSError too: never the input's trouble
            except (InputError, OSError) as exc:
                # update_many re-raises what the input raised (an unreadable file).
                outcome.input_error = exc
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        for sig in signals:
            loop.remove_signal_handler(sig)
        # The run has ended, so nothing is pulling: stop the reader thread now.
        with contextlib.suppress(RuntimeError):
            await reader.aclose()
        failures.close()
        counts = snapshot()
        counts.in_flight = 0
        if (outcome.interrupted or outcome.aborted) and total is not None:
            # Rows never read are not sent either.
            counts.not_sent += max(total - counts.done, 0)
        outcome.counts = counts
        outcome.problems_hidden = limiter.hidden
        display.close(counts)
    return outcome


def _install_signals(loop: asyncio.AbstractEventLoop, handler: Any) -> list[signal.Signals]:
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handler, sig.name)
        except (ValueError, RuntimeError, NotImplementedError):
            # Not the main thread, or not POSIX: leave the default handling.
            continue
        installed.append(sig)
    return installed
