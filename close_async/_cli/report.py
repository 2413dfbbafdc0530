"""What the command line shows: progress, bad-row messages and the summary.

Progress goes to stderr: a rich progress bar on a terminal, else a plain line every few
seconds at most (logs of a cron job stay short). Messages about bad rows and failed
updates go to stderr too, the first few in full and then only a count, so a file with
thousands of bad rows does not flood the terminal: the failures file has them all.
The summary goes to stdout, last.

Every line meant for a person goes through :func:`~close_async._engine.text.clean` on its way out
(:func:`write_line`, :meth:`Display.message`): Close's messages and field errors are text a
server chose, and must not drive the terminal. The failures file keeps that text whole,
JSON-escaped (:func:`~close_async._engine.text.json_line`).
"""

from __future__ import annotations

import http
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

import attrs
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .._engine.errors import APIError, CloseError
from .._engine.text import clean, render

__all__ = [
    "CALLS_UPDATE_WORDING",
    "Counts",
    "Display",
    "MessageLimiter",
    "PlainDisplay",
    "RichDisplay",
    "SilentDisplay",
    "Wording",
    "error_message",
    "format_duration",
    "print_summary",
    "write_line",
]

MESSAGE_CAP = 20
"""How many bad-row and failed-update messages are printed before only counting them."""


@attrs.define
class Counts:
    """Where a run stands: one snapshot for the progress display and the summary.

    ``total`` is the number of input rows when known. ``done`` counts rows with an outcome:
    updated, failed, skipped (landed in an earlier run, per the journal), invalid (refused
    before sending) and not sent (the run stopped first).
    """

    total: int | None = None
    updated: int = 0
    failed: int = 0
    skipped: int = 0
    invalid: int = 0
    not_sent: int = 0
    in_flight: int = 0
    retries: int = 0
    rate_limited: int = 0
    elapsed: float = 0.0

    @property
    def done(self) -> int:
        """Rows with an outcome."""
        return self.updated + self.failed + self.skipped + self.invalid + self.not_sent

    @property
    def processed(self) -> int:
        """Rows dealt with: ``done`` less the rows not sent because the run stopped."""
        return self.done - self.not_sent

    @property
    def rate(self) -> float:
        """Updates landed per second."""
        return self.updated / self.elapsed if self.elapsed > 0 else 0.0


@attrs.frozen
class Wording:
    """How the progress display and the summary name the run's work: ``doing`` (the bar's
    title), ``done`` (the landed counter) and ``per_second`` (the rate's unit)."""

    doing: str = "updating calls"
    done: str = "updated"
    per_second: str = "updates/s"

    @classmethod
    def of(cls, action: str, resource: str) -> Wording:
        """The wording of ``close-async <resource> <action>`` (``update``, ``create``,
        ``delete``)."""
        doing, done = _VERB_FORMS[action]
        return cls(f"{doing} {resource}", done, f"{action}s/s")


_VERB_FORMS = {
    "update": ("updating", "updated"),
    "create": ("creating", "created"),
    "delete": ("deleting", "deleted"),
}


CALLS_UPDATE_WORDING = Wording()


class Display(Protocol):
    """A progress display; ``message`` prints a line without breaking the display."""

    tick: float

    def start(self, counts: Counts) -> None:
        """Show the display."""

    def refresh(self, counts: Counts) -> None:
        """Show the current counts (called every ``tick`` seconds and on each result)."""

    def message(self, text: str) -> None:
        """Print one line to stderr."""

    def close(self, counts: Counts) -> None:
        """Take the display down (the summary follows)."""


class SilentDisplay:
    """No progress at all; messages still go to ``stream``."""

    tick = 1.0

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def start(self, counts: Counts) -> None:
        """Nothing to show."""

    def refresh(self, counts: Counts) -> None:
        """Nothing to show."""

    def message(self, text: str) -> None:
        """Print ``text`` on its own line."""
        write_line(self._stream, text)
        self._stream.flush()

    def close(self, counts: Counts) -> None:
        """Nothing to take down."""


class PlainDisplay(SilentDisplay):
    """A plain progress line at most every ``interval`` seconds (for logs and pipes)."""

    tick = 0.5

    def __init__(
        self,
        stream: TextIO,
        *,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        wording: Wording = CALLS_UPDATE_WORDING,
    ) -> None:
        super().__init__(stream)
        self._wording = wording
        self._interval = interval
        self._clock = clock
        self._last = 0.0

    def start(self, counts: Counts) -> None:
        """Start the interval; the first line comes ``interval`` seconds in."""
        self._last = self._clock()

    def refresh(self, counts: Counts) -> None:
        """Print a progress line if ``interval`` has passed since the last one."""
        now = self._clock()
        if now - self._last < self._interval:
            return
        self._last = now
        self.message(progress_line(counts, self._wording))


def progress_line(counts: Counts, wording: Wording = CALLS_UPDATE_WORDING) -> str:
    """One line of progress: done of total, the outcomes, the rate and the ETA."""
    total = f"/{counts.total:,}" if counts.total is not None else ""
    parts = [
        f"progress: {counts.processed:,}{total} rows",
        f"{counts.updated:,} {wording.done}",
        f"{counts.failed:,} failed",
    ]
    if counts.skipped:
        parts.append(f"{counts.skipped:,} skipped")
    if counts.invalid:
        parts.append(f"{counts.invalid:,} invalid")
    parts.append(f"{counts.rate:.1f} {wording.per_second}")
    if counts.total is not None and counts.rate > 0:
        left = max(counts.total - counts.processed, 0)
        throughput = (counts.updated + counts.failed) / max(counts.elapsed, 1e-9)
        if throughput > 0:
            parts.append(f"ETA {format_duration(left / throughput)}")
    return ", ".join(parts)


class RichDisplay:
    """A rich progress bar on ``console`` (stderr): done of total, failed, rate, ETA."""

    tick = 0.1

    def __init__(self, console: Console, *, wording: Wording = CALLS_UPDATE_WORDING) -> None:
        self._console = console
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[green]{task.fields[updated]:,} " + wording.done),
            TextColumn("[red]{task.fields[failed]:,} failed"),
            TextColumn("{task.fields[extra]}"),
            TextColumn("{task.fields[rate]:.1f}/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            refresh_per_second=8,
        )
        self._task: TaskID | None = None
        self._description = wording.doing

    def start(self, counts: Counts) -> None:
        """Show the bar."""
        self._progress.start()
        self._task = self._progress.add_task(
            self._description, total=counts.total, **self._fields(counts)
        )

    @staticmethod
    def _fields(counts: Counts) -> dict[str, Any]:
        extra = []
        if counts.skipped:
            extra.append(f"{counts.skipped:,} skipped")
        if counts.invalid:
            extra.append(f"[yellow]{counts.invalid:,} invalid")
        return {
            "updated": counts.updated,
            "failed": counts.failed,
            "extra": " ".join(extra),
            "rate": counts.rate,
        }

    def refresh(self, counts: Counts) -> None:
        """Move the bar."""
        if self._task is not None:
            self._progress.update(self._task, completed=counts.processed, **self._fields(counts))

    def message(self, text: str) -> None:
        """Print above the bar."""
        self._console.print(clean(text), markup=False, highlight=False, soft_wrap=True)

    def close(self, counts: Counts) -> None:
        """Draw the final state and stop."""
        self.refresh(counts)
        self._progress.stop()


class MessageLimiter:
    """Prints the first ``cap`` problem lines, then only counts the rest."""

    def __init__(self, display: Display, *, cap: int = MESSAGE_CAP) -> None:
        self._display = display
        self._cap = cap
        self.count = 0

    def report(self, text: str) -> None:
        """Print ``text`` unless the cap is reached."""
        self.count += 1
        if self.count <= self._cap:
            self._display.message(text)
        elif self.count == self._cap + 1:
            self._display.message(f"(more problems are not shown; {self._cap} shown so far)")

    @property
    def hidden(self) -> int:
        """How many lines were counted but not printed."""
        return max(self.count - self._cap, 0)


def write_line(stream: TextIO, text: str) -> None:
    """Write ``text`` to ``stream`` as one terminal-safe line."""
    stream.write(clean(text) + "\n")


def error_message(error: BaseException) -> str:
    message = getattr(error, "message", None)
    return message if isinstance(message, str) and message else str(error)


def _said_nothing(error: APIError, message: str) -> bool:
    # The protocol puts the status's reason phrase where Close gave no words of its own.
    try:
        return message == http.HTTPStatus(error.status).phrase
    except ValueError:
        return False


def describe_failure(error: CloseError) -> str:
    """A short one-line description of why an update failed: Close's message and its field
    errors, both when Close sent both."""
    if isinstance(error, APIError):
        text = f"{type(error).__name__} (HTTP {error.status})"
        parts = []
        detail = error_message(error)
        if detail and not _said_nothing(error, detail) and not detail.lstrip().startswith("<"):
            parts.append(detail)
        if error.field_errors:
            parts.append(f"field errors: {render(error.field_errors)}")
        return clean(f"{text}: {'; '.join(parts)}" if parts else text)
    return clean(f"{type(error).__name__}: {error_message(error)}")


def format_duration(seconds: float) -> str:
    """``42.0 s``, ``3m05s``, ``1h02m``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds + 0.5), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def print_summary(
    counts: Counts,
    stream: TextIO,
    *,
    title: str = "summary",
    wording: Wording = CALLS_UPDATE_WORDING,
) -> None:
    """Print the end-of-run summary: one aligned line a counter."""
    rows: list[tuple[str, str]] = [
        (wording.done, f"{counts.updated:,}"),
        ("failed", f"{counts.failed:,}"),
        ("skipped", f"{counts.skipped:,} (already landed, per the journal)"),
        ("invalid rows", f"{counts.invalid:,}"),
    ]
    if counts.not_sent:
        rows.append(("not sent", f"{counts.not_sent:,}"))
    rows += [
        ("retries", f"{counts.retries:,}"),
        ("429s", f"{counts.rate_limited:,}"),
        ("wall time", format_duration(counts.elapsed)),
        ("rate", f"{counts.rate:.1f} {wording.per_second}"),
    ]
    width = max(len(name) for name, _ in rows)
    stream.write(f"{title}:\n")
    for name, value in rows:
        stream.write(f"  {name:<{width}}  {value}\n")
    stream.flush()
