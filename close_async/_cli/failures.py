"""The ``--failures`` file: every invalid row and failed item, in a form fed back as input.

Two formats, chosen by :func:`~close_async._cli.input.failures_format` (the file's
extension, else the input's format):

- JSON Lines: one record a line (:func:`failure_record`): the row as JSON, the line, the
  error class, the message shown and what Close sent, as sent.
- CSV: the input's own header and cells, as read (empty cells and ``--null-token`` cells
  stay as they were), then :data:`~close_async._cli.input.FAILURE_COLUMNS`: the input
  line and why the row did not land. The reader drops those two columns, so the file is
  the same command's input as it stands.

Both are written as failures happen (flushed each row). Close's text is kept whole: JSON
escapes it; a CSV cell quotes it (and escapes what UTF-8 cannot hold).
"""

from __future__ import annotations

import csv
from typing import Any, Protocol, TextIO

from .._engine.errors import APIStatusError, ClientValidationError
from .._engine.text import json_line, render
from .input import FAILURE_COLUMNS, UNKNOWN_OUTCOME, InputFormat, InputRow, failures_format
from .report import error_message

__all__ = [
    "CsvFailuresFile",
    "Failures",
    "FailuresFile",
    "failure_record",
    "failure_text",
    "open_failures",
]


class Failures(Protocol):
    """Where the runner writes what did not land."""

    path: str | None
    written: int

    def write(self, record: dict[str, Any], row: InputRow | None = None) -> None:
        """Record one failure: ``record`` (:func:`failure_record`) of the input ``row``."""

    def close(self) -> None:
        """Close the file."""


def open_failures(path: str | None, input_format: InputFormat) -> Failures:
    """The failures file at ``path`` (``None``: only counted), in its format."""
    if path is not None and failures_format(path, input_format) == "csv":
        return CsvFailuresFile(path)
    return FailuresFile(path)


def failure_record(
    *,
    line: int,
    row: dict[str, Any] | None,
    error: BaseException | str,
    raw: str | None = None,
    object_id: str | None = None,
) -> dict[str, Any]:
    """One line of the failures file: the row as read, and why it did not land.

    ``row`` is directly reusable as a line of JSON Lines input; ``raw`` holds the text of a
    line that could not be read as a row at all. ``message`` is the one-line message shown;
    ``close_error``, ``field_errors`` and ``errors`` are what Close sent, as sent.
    """
    record: dict[str, Any] = {"line": line, "row": row}
    if raw is not None:
        record["raw"] = raw
    if object_id is not None and (row is None or row.get("id") != object_id):
        record["id"] = object_id
    if isinstance(error, str):
        record.update(error="InvalidRow", status=None, message=error)
        return record
    record["error"] = type(error).__name__
    record["status"] = error.status if isinstance(error, APIStatusError) else None
    record["message"] = error_message(error)
    if isinstance(error, APIStatusError):
        close_error = error.body.get("error") if isinstance(error.body, dict) else None
        if close_error is not None:
            record["close_error"] = close_error
        if error.field_errors:
            record["field_errors"] = error.field_errors
        if error.errors:
            record["errors"] = error.errors
    elif isinstance(error, ClientValidationError) and error.field:
        record["field"] = error.field
    return record


def failure_text(record: dict[str, Any]) -> str:
    """A record's one-cell account of why its row did not land (the CSV ``error`` column)."""
    parts: list[str] = []
    if record.get("unknown"):
        parts.append(f"{UNKNOWN_OUTCOME} (it may exist in Close; fed back, it is looked up first)")
    if record.get("error") != "InvalidRow":
        status = record.get("status")
        parts.append(f"{record.get('error')}" + (f" (HTTP {status})" if status else ""))
    parts.append(str(record.get("message", "")))
    if record.get("field_errors"):
        parts.append(f"field errors: {render(record['field_errors'])}")
    return ": ".join(part for part in parts if part)


_SERVER_DATA = ("close_error", "field_errors", "errors")


class _FailuresStream:
    """What both failures files share: the path, the count written, closing the file."""

    path: str | None
    written: int
    _stream: TextIO | None

    def close(self) -> None:
        """Close the file (an empty one when nothing failed)."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None


class FailuresFile(_FailuresStream):
    """The JSON Lines failures file, written as failures happen (flushed each line)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.written = 0
        self._stream = open(path, "w", encoding="utf-8") if path else None  # noqa: SIM115

    def write(self, record: dict[str, Any], row: InputRow | None = None) -> None:
        """Append one failure record (``row`` is not needed: the record holds it)."""
        self.written += 1
        if self._stream is not None:
            try:
                line = json_line(record)
            except (RecursionError, ValueError):
                # Nested deeper than the encoder's stack allows (or circular): keep the row
                # and the message, and Close's data as text, not lose the whole record.
                shown = {k: v for k, v in record.items() if k not in _SERVER_DATA}
                shown.update({k: render(record[k]) for k in _SERVER_DATA if k in record})
                line = json_line(shown)
            self._stream.write(line + "\n")
            self._stream.flush()


class CsvFailuresFile(_FailuresStream):
    """The CSV failures file: the input's header and cells, then the line and the error.

    The header is written with the first failure (it is the rows' own ``header``); a row
    the CSV reader could not split has no cells, and is written with empty ones.
    """

    def __init__(self, path: str) -> None:
        self.path: str | None = path
        self.written = 0
        # Close's messages may hold lone surrogates (valid in JSON, not in UTF-8).
        self._stream = open(  # noqa: SIM115
            path, "w", encoding="utf-8", errors="backslashreplace", newline=""
        )
        self._writer: Any = csv.writer(self._stream)
        self._width: int | None = None

    def write(self, record: dict[str, Any], row: InputRow | None = None) -> None:
        """Append ``row``'s cells as read, its line and :func:`failure_text`."""
        self.written += 1
        if self._stream is None or row is None or row.header is None:
            return
        if self._width is None:
            self._width = len(row.header)
            self._writer.writerow([*row.header, *FAILURE_COLUMNS])
        cells = row.cells if row.cells is not None else ("",) * self._width
        self._writer.writerow([*cells, str(row.origin_line), failure_text(record)])
        self._stream.flush()
