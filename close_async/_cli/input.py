"""Reading the command line's input rows: CSV with a header row, or JSON Lines.

Rows are read one at a time from a binary stream, so a file of any size is never held in
memory. A row that cannot be read (malformed JSON, a CSV row with the wrong number of
cells, bytes that are not UTF-8) is not an exception: it comes out as an :class:`InputRow`
with ``error`` set and its line number, so the caller can report it and go on. Only an
unusable file as a whole (a CSV header without ``id``) raises :class:`InputError`.

A CSV failures file (the input's header plus :data:`FAILURE_COLUMNS`) is read back as the
input it came from: those two trailing columns are dropped from the header and every row.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, Literal

import attrs

from .._types.call_rows import update_from_row
from .._types.generated.activities_calls import CallUpdate
from .plural import counted

__all__ = [
    "FAILURE_COLUMNS",
    "UNKNOWN_OUTCOME",
    "InputError",
    "InputFormat",
    "InputRow",
    "count_rows",
    "detect_format",
    "failures_format",
    "is_failure_record",
    "open_input",
    "parse_row",
    "read_rows",
    "row_for_output",
]

InputFormat = Literal["csv", "jsonl"]
"""The input formats: ``csv`` (a header row, then a call a row) or ``jsonl`` (an object a line)."""

_EXTENSIONS: Mapping[str, InputFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}

# CSV cells may hold long HTML notes; the csv module's default cap is 128 KiB.
_CSV_FIELD_LIMIT = 16 * 1024 * 1024
# Counting rows for the progress total reads the file once more: skip it for huge files.
_COUNT_LIMIT_BYTES = 512 * 1024 * 1024
_BOM = codecs.BOM_UTF8

FAILURE_COLUMNS = ("error_line", "error")
"""The columns a CSV failures file adds after the input's own: the input line, and why."""

UNKNOWN_OUTCOME = "outcome unknown"
"""How a failures file's ``error`` cell starts for a create whose answer was lost."""


class InputError(Exception):
    """The input cannot be used at all (not a bad row: the whole file)."""


@attrs.frozen
class InputRow:
    """One row of the input, or the reason it could not be read.

    ``line`` is the 1-based line number where the row starts. ``data`` is the row as read
    (a JSON object, or a CSV header-to-cell mapping); ``None`` when ``error`` says why the
    line could not be read, in which case ``raw`` holds its text when there is one.
    CSV rows also keep the file's ``header`` and the row's ``cells`` as read (``None`` for
    a line the CSV reader could not split), so a failures file can write them back as they
    were.
    """

    line: int
    data: dict[str, Any] | None
    error: str | None = None
    raw: str | None = None
    # What the row was read from, for writing it back: not part of what the row says.
    cells: tuple[str, ...] | None = attrs.field(default=None, eq=False, repr=False)
    header: tuple[str, ...] | None = attrs.field(default=None, eq=False, repr=False)
    # A failures file's row whose create was sent and never heard back: it may exist.
    in_doubt: bool = attrs.field(default=False, eq=False, repr=False)
    # A failures file's row: its line in the input the failures file was written from.
    source_line: int | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def origin_line(self) -> int:
        """The line in the original input: kept through any number of failures files."""
        return self.source_line if self.source_line is not None else self.line


def detect_format(path: str, explicit: str | None = None) -> InputFormat:
    """The input format: ``explicit`` if given, else from the file name's extension.

    Raises :class:`InputError` when neither tells (stdin ``-`` needs ``--format``).
    """
    if explicit is not None:
        if explicit not in ("csv", "jsonl"):
            raise InputError(f"unknown format {explicit!r} (expected csv or jsonl)")
        return "csv" if explicit == "csv" else "jsonl"
    if path == "-":
        raise InputError("reading stdin: say which format with --format csv or --format jsonl")
    fmt = _EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise InputError(
            f"cannot tell the format of {path!r} from its extension "
            "(.csv, .jsonl or .ndjson): pass --format csv or --format jsonl"
        )
    return fmt


def failures_format(path: str, input_format: InputFormat) -> InputFormat:
    """The format of the ``--failures`` file: the input's, so it can be fed back to the same
    command; a CSV input's failures may also be JSON Lines, if ``path`` says so by its
    extension. Raises :class:`InputError` for a ``.csv`` path of JSON Lines input (a CSV
    cannot hold what a JSON row may)."""
    named = _EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if input_format == "jsonl" and named == "csv":
        raise InputError(
            f"--failures {path!r}: the failures of JSON Lines input are JSON Lines; "
            "name the file .jsonl"
        )
    return named or input_format


def open_input(path: str) -> BinaryIO:
    """Open ``path`` for reading bytes (``-`` is stdin). Raises :class:`InputError`."""
    if path == "-":
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot open {path!r}: {exc.strerror or exc}") from None


def read_rows(stream: BinaryIO, fmt: InputFormat, *, need_id: bool = True) -> Iterator[InputRow]:
    """Yield the rows of ``stream`` one at a time, each with its line number.

    ``need_id``: a CSV header without an ``id`` column is refused (not for creates)."""
    return _read_csv(stream, need_id) if fmt == "csv" else _read_jsonl(stream)


def _read_jsonl(stream: BinaryIO) -> Iterator[InputRow]:
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield InputRow(number, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
            continue
        text = text.strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except ValueError as exc:
            # json's messages say "line 1 column N": only the column is worth keeping.
            reason = getattr(exc, "msg", None) or str(exc)
            column = getattr(exc, "colno", None)
            where = f" at column {column}" if column else ""
            yield InputRow(number, None, f"malformed JSON: {reason}{where}", raw=text)
            continue
        if not isinstance(value, dict):
            yield InputRow(
                number, None, f"expected a JSON object, got {_json_kind(value)}", raw=text
            )
            continue
        if is_failure_record(value):
            line = value["line"]
            yield InputRow(
                number,
                value,
                in_doubt=value.get("unknown") is True,
                source_line=line if isinstance(line, int) and not isinstance(line, bool) else None,
            )
            continue
        yield InputRow(number, value)


def _read_csv(stream: BinaryIO, need_id: bool = True) -> Iterator[InputRow]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(text, strict=True)
    try:
        found = _csv_header(reader, need_id)
        if found is None:
            return
        # A failures file: its error columns are not the input's, on the header or the rows.
        extra = len(FAILURE_COLUMNS) if tuple(found[-2:]) == FAILURE_COLUMNS else 0
        header = tuple(found[: len(found) - extra])
        width = len(header)
        while True:
            start = reader.line_num + 1
            try:
                read = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield InputRow(start, None, f"malformed CSV: {exc}", header=header)
                continue
            if not any(cell.strip() for cell in read):
                continue  # a blank line, or a spreadsheet's row of empty cells
            cells = tuple(read[: len(read) - extra] if len(read) >= extra else read)
            # A failures file's row ends with the columns it added: its input line, and why.
            source_line = _line_number(read[-2]) if extra and len(read) > extra else None
            if len(cells) != width:
                shown: Any = dict(zip(header, cells, strict=False)) or list(cells)
                yield InputRow(
                    start,
                    None,
                    f"expected {counted(width, 'column')} (as in the header), got {len(cells)}",
                    raw=json.dumps(shown, ensure_ascii=False),
                    cells=cells,
                    header=header,
                    source_line=source_line,
                )
                continue
            yield InputRow(
                start,
                dict(zip(header, cells, strict=True)),
                cells=cells,
                header=header,
                in_doubt=bool(extra) and _unknown(read[-1]),
                source_line=source_line,
            )
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the CSV is not UTF-8 text (near line {reader.line_num + 1}: {exc.reason})"
        ) from None
    finally:
        # Leave the underlying stream (maybe stdin) to the caller.
        text.detach()


def _line_number(cell: str) -> int | None:
    return int(cell) if cell.isdigit() else None


def _unknown(error_cell: str) -> bool:
    return error_cell.startswith(UNKNOWN_OUTCOME)


def is_failure_record(data: dict[str, Any]) -> bool:
    """Whether a JSON Lines row is a failures-file record (its ``row`` is the input row)."""
    return isinstance(data.get("row"), dict) and "line" in data and "message" in data


def _csv_header(reader: Any, need_id: bool = True) -> list[str] | None:
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        header = [cell.strip() for cell in cells]
        if need_id and "id" not in header:
            raise InputError(
                f"the CSV header (line {reader.line_num}) has no 'id' column; "
                "the first row must name the columns: id, then update fields"
            )
        seen: set[str] = set()
        for name in header:
            if not name:
                raise InputError(f"the CSV header (line {reader.line_num}) has an empty name")
            if name in seen:
                raise InputError(f"the CSV header (line {reader.line_num}) names {name!r} twice")
            seen.add(name)
        return header
    return None


def parse_row(row: InputRow, fmt: InputFormat) -> tuple[str, CallUpdate]:
    """The call id and update of a readable row (CSV cells are text to be coerced).

    Raises :class:`~close_async.ClientValidationError` naming the bad field; the message has
    no line number (the caller adds it).
    """
    if row.data is None:
        raise ValueError("parse_row needs a row that was read")
    return update_from_row(row.data, kind="csv" if fmt == "csv" else "json")


def row_for_output(row: InputRow, fmt: InputFormat) -> dict[str, Any] | None:
    """The row as a JSON object that can be fed back in as JSON Lines input.

    JSON rows are returned as they were. CSV rows lose their empty cells (which meant "not
    given"), and cells that only CSV keeps as text are given their JSON type:
    ``duration`` digits become a number, ``custom_fields`` JSON text an object.
    ``None`` when the row could not be read at all.
    """
    if row.data is None:
        return None
    if fmt == "jsonl":
        return row.data
    out: dict[str, Any] = {}
    for key, value in row.data.items():
        if value == "":
            continue
        if key == "duration" and isinstance(value, str) and value.strip().isdigit():
            out[key] = int(value.strip())
        elif key == "custom_fields" and isinstance(value, str):
            try:
                out[key] = json.loads(value)
            except ValueError:
                out[key] = value
        else:
            out[key] = value
    return out


def count_rows(path: str, fmt: InputFormat) -> int | None:
    """How many rows ``path`` holds (for a progress total), or ``None`` when not worth it.

    Not counted: stdin, anything but a regular file, and files over 512 MiB. Counted
    cheaply, without parsing: JSON Lines by non-blank lines, CSV by records (minus the header).
    """
    if path == "-":
        return None
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > _COUNT_LIMIT_BYTES:
            return None
        if fmt == "jsonl":
            count = 0
            with open(path, "rb") as stream:
                for line in stream:
                    if line.strip():
                        count += 1
            return count
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as text:
            if csv.field_size_limit() < _CSV_FIELD_LIMIT:
                csv.field_size_limit(_CSV_FIELD_LIMIT)
            records = sum(
                1 for cells in csv.reader(text) if cells and any(c.strip() for c in cells)
            )
        return max(records - 1, 0)
    except (OSError, csv.Error):
        return None


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
