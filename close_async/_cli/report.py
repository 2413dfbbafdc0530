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
from collections.abc import Callable, Iterable
from typing import Protocol, TextIO

import attrs
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, Task, TaskID
from rich.table import Table
from rich.text import Text

from .._engine.errors import APIStatusError, CloseError
from .._engine.text import clean, render
from .plural import counted

__all__ = [
    "CALLS_UPDATE_WORDING",
    "Counts",
    "Display",
    "MessageLimiter",
    "Part",
    "PlainDisplay",
    "RichDisplay",
    "SilentDisplay",
    "Wording",
    "error_message",
    "fit_parts",
    "format_duration",
    "print_summary",
    "progress_parts",
    "rate_text",
    "write_line",
]

MESSAGE_CAP = 20
"""How many bad-row and failed-update messages are printed before only counting them."""


@attrs.define
class Counts:
    """Where a run stands: one snapshot for the progress display and the summary.

    ``total`` is the number of input rows when known. ``done`` counts rows with an outcome:
    updated (sent now and answered: updated, created or deleted), settled (a create found
    in Close by ``--settle-by``, not sent again), unknown (a create sent whose answer was
    lost: it may have landed), failed (known not to have landed), skipped (landed in an
    earlier run, per the journal), invalid (refused before sending) and not sent (the run
    stopped first).
    """

    total: int | None = None
    updated: int = 0
    failed: int = 0
    skipped: int = 0
    invalid: int = 0
    not_sent: int = 0
    settled: int = 0
    unknown: int = 0
    in_flight: int = 0
    retries: int = 0
    rate_limited: int = 0
    elapsed: float = 0.0

    @property
    def done(self) -> int:
        """Rows with an outcome."""
        return (
            self.updated
            + self.settled
            + self.unknown
            + self.failed
            + self.skipped
            + self.invalid
            + self.not_sent
        )

    @property
    def processed(self) -> int:
        """Rows dealt with: ``done`` less the rows not sent because the run stopped."""
        return self.done - self.not_sent

    @property
    def sent(self) -> int:
        """Rows sent in this run that have an outcome: landed, failed or unknown."""
        return self.updated + self.failed + self.unknown

    @property
    def rate(self) -> float:
        """Rows sent and landed per second."""
        return self.updated / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def settle_rate(self) -> float:
        """Rows found in Close by ``--settle-by`` per second (each cost a search)."""
        return self.settled / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace of the rows sent so far (skipped, settled and invalid
        rows cost next to nothing), or ``None`` when there is no telling yet."""
        if self.total is None or self.rate <= 0:
            return None
        left = max(self.total - self.processed, 0)
        return left / (self.sent / self.elapsed)


def rate_text(counts: Counts, wording: Wording) -> str | None:
    """How fast the run works, or ``None`` when it did no work to time.

    The landed rate (``created/s`` ...) is shown once something was sent: ``0.0`` then
    means sent and not landing, which is worth seeing. Rows found by ``--settle-by`` were
    not sent, so they have their own rate (``settled/s``) instead of counting as sent or
    pulling the landed rate to ``0.0``. A run that sent and settled nothing (all skipped
    or invalid) gets no rate: ``0.0 creates/s`` would read like a stall.
    """
    rates = []
    if counts.sent:
        rates.append(f"{counts.rate:.1f} {wording.per_second}")
    if counts.settled:
        rates.append(f"{counts.settle_rate:.1f} settled/s")
    return ", ".join(rates) or None


UNKNOWN_HINT = "sent, answer lost: feed the failures file back with --settle-by"
"""What the summary says of the ``unknown`` rows (stderr's ending says more)."""


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
    """One line of progress: done of total, the outcomes, the rate and the ETA (the parts
    of :func:`progress_parts` that a log line shows)."""
    shown = (part.text for part in progress_parts(counts, wording) if part.in_line)
    return "progress: " + ", ".join(shown)


@attrs.frozen
class Part:
    """One piece of the progress display: its ``text`` and ``style``; ``rank`` (0: the most
    needed; a narrow terminal drops the highest ranks first); ``before_bar`` (drawn left of
    the bar); ``in_line`` (also in the plain progress line of a log)."""

    text: str
    rank: int
    style: str = ""
    before_bar: bool = False
    in_line: bool = True


MIN_BAR = 10
"""The narrowest progress bar worth drawing; below it the bar is left out."""
MAX_BAR = 40
"""The widest progress bar drawn, however wide the terminal."""


def progress_parts(counts: Counts, wording: Wording = CALLS_UPDATE_WORDING) -> list[Part]:
    """The pieces of the progress display, in the order shown (pure: no terminal).

    Ranked by need: where the run stands (rows done of total, landed, failed) first, then
    the creates in doubt (unknown: sent, answer lost), the rows not sent (skipped,
    settled, invalid), the ETA, the title, the rate, the time so far; the rich display's
    bar takes what room is left.
    """
    rows = (
        f"{counts.processed:,}/{counted(counts.total, 'row')}"
        if counts.total is not None
        else counted(counts.processed, "row")
    )
    parts = [
        Part(wording.doing, 8, "bold", before_bar=True, in_line=False),
        Part(rows, 0),
        Part(f"{counts.updated:,} {wording.done}", 1, "green"),
        Part(f"{counts.failed:,} failed", 2, "red"),
    ]
    if counts.unknown:
        parts.append(Part(f"{counts.unknown:,} unknown", 3, "magenta"))
    if counts.skipped:
        parts.append(Part(f"{counts.skipped:,} skipped", 4))
    if counts.settled:
        parts.append(Part(f"{counts.settled:,} settled", 5))
    if counts.invalid:
        parts.append(Part(f"{counts.invalid:,} invalid", 6, "yellow"))
    rate = rate_text(counts, wording)
    if rate is not None:
        parts.append(Part(rate, 9))
    parts.append(Part(format_duration(counts.elapsed), 10, in_line=False))
    eta = counts.eta
    if eta is not None:
        parts.append(Part(f"ETA {format_duration(eta)}", 7))
    return parts


_ESSENTIAL = 2  # ranks up to this one are shown however narrow the terminal


def fit_parts(parts: list[Part], width: int) -> tuple[list[Part], int]:
    """The parts that fit on one line of ``width`` cells (one space between two), in
    their order, and the bar's width (0: no bar).

    Parts are taken by rank, stopping at the first that does not fit, so a part is never
    cut short (rich would end it with an ellipsis) and a more needed one never gives way
    to a less needed one. The bar, least needed, gets the room left (at most ``MAX_BAR``).
    """
    kept: set[int] = set()
    used = -1  # no space before the first part
    for index, part in sorted(enumerate(parts), key=lambda item: item[1].rank):
        need = cell_len(part.text) + 1
        if used + need > width and part.rank > _ESSENTIAL:
            break
        kept.add(index)
        used += need
    room = width - used - 1
    bar = min(room, MAX_BAR) if room >= MIN_BAR else 0
    return [part for index, part in enumerate(parts) if index in kept], bar


class _FittedProgress(Progress):
    """A rich ``Progress`` whose line is built from :func:`progress_parts`, fitted to the
    console's width each time it is drawn (a resized terminal is followed)."""

    def __init__(self, console: Console) -> None:
        self._bar = BarColumn()
        super().__init__(console=console, transient=False, refresh_per_second=8)

    def make_tasks_table(self, tasks: Iterable[Task]) -> Table:
        table = Table.grid(padding=(0, 1))
        for task in tasks:
            if not task.visible:
                continue
            parts, bar = fit_parts(task.fields.get("parts", []), self.console.width)
            cells: list[RenderableType] = [
                _joined(p for p in parts if p.before_bar),
                _joined(p for p in parts if not p.before_bar),
            ]
            if bar:
                self._bar.bar_width = bar
                cells.insert(1, self._bar(task))
            cells = [cell for cell in cells if not isinstance(cell, Text) or cell.plain]
            for _ in range(len(cells) - len(table.columns)):
                table.add_column(no_wrap=True, overflow="fold")
            table.add_row(*cells)
        return table


def _joined(parts: Iterable[Part]) -> Text:
    text = Text()
    for part in parts:
        if text.plain:
            text.append(" ")
        text.append(part.text, style=part.style)
    return text


class RichDisplay:
    """A rich progress line on ``console`` (stderr): rows done of total, landed, failed,
    unknown, skipped, settled, invalid, the ETA, a bar; fitted to the terminal's width
    (:func:`fit_parts`), so nothing is cut short."""

    tick = 0.1

    def __init__(self, console: Console, *, wording: Wording = CALLS_UPDATE_WORDING) -> None:
        self._console = console
        self._wording = wording
        self._progress = _FittedProgress(console)
        self._task: TaskID | None = None

    def __rich__(self) -> RenderableType:
        """What the display shows now (for printing it on another console)."""
        return self._progress.get_renderable()

    def start(self, counts: Counts) -> None:
        """Show the bar."""
        self._progress.start()
        self._task = self._progress.add_task(
            self._wording.doing, total=counts.total, parts=progress_parts(counts, self._wording)
        )

    def refresh(self, counts: Counts) -> None:
        """Move the bar."""
        if self._task is not None:
            self._progress.update(
                self._task,
                total=counts.total,
                completed=counts.processed,
                parts=progress_parts(counts, self._wording),
            )

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


def _said_nothing(error: APIStatusError, message: str) -> bool:
    # The protocol puts the status's reason phrase where Close gave no words of its own.
    try:
        return message == http.HTTPStatus(error.status).phrase
    except ValueError:
        return False


def describe_failure(error: CloseError) -> str:
    """A short one-line description of why an update failed: Close's message and its field
    errors, both when Close sent both."""
    if isinstance(error, APIStatusError):
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
    rows: list[tuple[str, str]] = [(wording.done, f"{counts.updated:,}")]
    if counts.settled:
        rows.append(("settled", f"{counts.settled:,} (found in Close, not sent again)"))
    if counts.unknown:
        rows.append(("unknown", f"{counts.unknown:,} ({UNKNOWN_HINT})"))
    rows += [
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
    ]
    rate = rate_text(counts, wording)
    if rate is not None:
        rows.append(("rate", rate))
    width = max(len(name) for name, _ in rows)
    stream.write(f"{title}:\n")
    for name, value in rows:
        stream.write(f"  {name:<{width}}  {value}\n")
    stream.flush()
