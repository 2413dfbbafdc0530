"""Reading CSV and JSON Lines input rows: line numbers, bad rows, streaming, round trips."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from close_async._cli.input import (
    InputError,
    InputRow,
    count_rows,
    detect_format,
    parse_row,
    read_rows,
    row_for_output,
)
from close_async._types.call_rows import update_from_row

CALL_A = "acti_AAAA1111"
CALL_B = "acti_BBBB2222"


def rows_of(data: bytes, fmt: str) -> list[InputRow]:
    return list(read_rows(io.BytesIO(data), fmt))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("path", "explicit", "expected"),
    [
        ("calls.csv", None, "csv"),
        ("calls.CSV", None, "csv"),
        ("calls.jsonl", None, "jsonl"),
        ("calls.ndjson", None, "jsonl"),
        ("dir.v2/calls.jsonl", None, "jsonl"),
        ("calls.txt", "csv", "csv"),
        ("calls.csv", "jsonl", "jsonl"),
        ("-", "jsonl", "jsonl"),
    ],
)
def test_detect_format_from_extension_or_flag(
    path: str, explicit: str | None, expected: str
) -> None:
    assert detect_format(path, explicit) == expected


@pytest.mark.parametrize(
    ("path", "explicit", "says"),
    [
        ("-", None, "--format"),
        ("calls.txt", None, "--format"),
        ("calls", None, "extension"),
        ("calls.csv", "xml", "unknown format"),
    ],
)
def test_detect_format_refuses_what_it_cannot_tell(
    path: str, explicit: str | None, says: str
) -> None:
    with pytest.raises(InputError, match=says):
        detect_format(path, explicit)


# ---------------------------------------------------------------------------- JSON Lines


def test_jsonl_rows_carry_their_line_numbers_and_blank_lines_are_skipped() -> None:
    data = (
        f'{{"id": "{CALL_A}", "note": "a"}}\n\n   \n{{"id": "{CALL_B}", "note": "b"}}\r\n'
    ).encode()
    rows = rows_of(data, "jsonl")
    assert [(r.line, r.data, r.error) for r in rows] == [
        (1, {"id": CALL_A, "note": "a"}, None),
        (4, {"id": CALL_B, "note": "b"}, None),
    ]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('{"id": "acti_1", "note": ', "malformed JSON"),
        ("{'id': 'acti_1'}", "malformed JSON"),
        ('["acti_1"]', "expected a JSON object, got an array"),
        ('"acti_1"', "expected a JSON object, got a string"),
        ("42", "expected a JSON object, got a number"),
        ("null", "expected a JSON object, got null"),
    ],
)
def test_jsonl_bad_lines_become_error_rows_and_reading_goes_on(line: str, error: str) -> None:
    data = f'{{"id": "{CALL_A}"}}\n{line}\n{{"id": "{CALL_B}"}}\n'.encode()
    rows = rows_of(data, "jsonl")
    assert [r.line for r in rows] == [1, 2, 3]
    bad = rows[1]
    assert bad.data is None
    assert bad.error is not None
    assert error in bad.error
    assert bad.raw == line.strip()
    assert rows[2].data == {"id": CALL_B}


def test_jsonl_bad_utf8_is_a_bad_row_not_a_crash() -> None:
    data = b'{"id": "acti_1"}\n{"note": "\xff\xfe"}\n{"id": "acti_2"}\n'
    rows = rows_of(data, "jsonl")
    assert rows[1].line == 2
    assert rows[1].error is not None
    assert "UTF-8" in rows[1].error
    assert rows[2].data == {"id": "acti_2"}


def test_jsonl_leading_byte_order_mark_is_ignored() -> None:
    rows = rows_of(b'\xef\xbb\xbf{"id": "acti_1"}\n', "jsonl")
    assert rows == [InputRow(1, {"id": "acti_1"})]


# ------------------------------------------------------------------------------------ CSV


def test_csv_rows_are_mapped_by_header_with_line_numbers() -> None:
    data = (
        "id,note,custom.cf_x\n"
        f"{CALL_A},hello,1\n"
        "\n"
        f'{CALL_B},"two\nlines, and a comma",2\n'
        f"{CALL_A},,3\n"
    ).encode()
    rows = rows_of(data, "csv")
    assert [(r.line, r.data) for r in rows] == [
        (2, {"id": CALL_A, "note": "hello", "custom.cf_x": "1"}),
        (4, {"id": CALL_B, "note": "two\nlines, and a comma", "custom.cf_x": "2"}),
        (6, {"id": CALL_A, "note": "", "custom.cf_x": "3"}),
    ]


@pytest.mark.parametrize("line", [f"{CALL_A},a,b", f"{CALL_A}", f"{CALL_A},x,y,z"])
def test_csv_row_with_wrong_column_count_is_a_bad_row(line: str) -> None:
    data = f"id,note\n{line}\n{CALL_B},ok\n".encode()
    rows = rows_of(data, "csv")
    assert rows[0].line == 2
    assert rows[0].data is None
    assert rows[0].error is not None
    assert "expected 2 columns" in rows[0].error
    assert rows[0].raw is not None
    assert CALL_A in rows[0].raw
    assert rows[1] == InputRow(3, {"id": CALL_B, "note": "ok"})


def test_csv_rows_of_only_empty_cells_are_skipped() -> None:
    rows = rows_of(f"id,note\n,\n{CALL_A},x\n , \n".encode(), "csv")
    assert rows == [InputRow(3, {"id": CALL_A, "note": "x"})]


def test_csv_header_and_byte_order_mark() -> None:
    rows = rows_of(f"\ufeff id , note \n{CALL_A},x\n".encode(), "csv")
    assert rows == [InputRow(2, {"id": CALL_A, "note": "x"})]


@pytest.mark.parametrize(
    ("header", "says"),
    [("note,status", "no 'id' column"), ("id,note,note", "twice"), ("id,,note", "empty name")],
)
def test_csv_unusable_header_raises(header: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        rows_of(f"{header}\n{CALL_A},x,y\n".encode(), "csv")


def test_csv_that_is_not_utf8_raises_input_error_naming_the_line() -> None:
    with pytest.raises(InputError, match="not UTF-8"):
        rows_of(b"id,note\nacti_1,caf\xe9\n", "csv")


def test_empty_inputs_have_no_rows() -> None:
    assert rows_of(b"", "csv") == []
    assert rows_of(b"\n\n", "jsonl") == []


# ------------------------------------------------------------------------------ streaming


class _Endless(io.RawIOBase):
    """A stream that never ends: reading it whole would hang the test."""

    def __init__(self, first: bytes, line: bytes) -> None:
        self._pending = first
        self._line = line

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            self._pending = self._line
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


@pytest.mark.parametrize(
    ("fmt", "first", "line"),
    [
        ("jsonl", b"", f'{{"id": "{CALL_A}"}}\n'.encode()),
        ("csv", b"id,note\n", f"{CALL_A},x\n".encode()),
    ],
)
def test_rows_stream_without_reading_the_whole_input(fmt: str, first: bytes, line: bytes) -> None:
    stream = io.BufferedReader(_Endless(first, line))
    rows = read_rows(stream, fmt)  # type: ignore[arg-type]
    taken = [next(rows) for _ in range(1000)]
    assert taken[999].line == (1000 if fmt == "jsonl" else 1001)


# ---------------------------------------------------------------------------- round trips

_cell = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
    max_size=30,
)


@given(notes=st.lists(_cell.filter(lambda s: s.strip() != ""), min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
def test_csv_written_by_csv_module_reads_back_with_start_lines(notes: list[str]) -> None:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "note"])
    starts = []
    line = 2
    for i, note in enumerate(notes):
        starts.append(line)
        before = out.tell()
        writer.writerow([f"acti_{i}", note])
        line += out.getvalue()[before:].count("\n")
    rows = rows_of(out.getvalue().encode(), "csv")
    assert [r.data for r in rows] == [{"id": f"acti_{i}", "note": n} for i, n in enumerate(notes)]
    assert [r.line for r in rows] == starts


_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(objs=st.lists(st.dictionaries(st.text(max_size=8), _json_value, max_size=4), max_size=10))
@settings(max_examples=60, deadline=None)
def test_jsonl_reads_back_what_json_dumps_wrote(objs: list[dict[str, Any]]) -> None:
    data = "".join(json.dumps(o) + "\n" for o in objs).encode()
    rows = rows_of(data, "jsonl")
    assert [r.data for r in rows] == objs
    assert [r.line for r in rows] == list(range(1, len(objs) + 1))


@pytest.mark.parametrize(
    "cells",
    [
        {"id": CALL_A, "note": "hello", "duration": "42", "status": ""},
        {"id": CALL_A, "custom_fields": '{"cf_a": 1}', "custom.cf_b": "x"},
        {"id": CALL_A, "activity_at": "2024-05-01T10:00:00Z", "outcome_id": "outc_1"},
    ],
)
def test_csv_row_for_output_is_reusable_json_lines_input(cells: dict[str, str]) -> None:
    row = InputRow(7, cells)
    as_csv = parse_row(row, "csv")
    output = row_for_output(row, "csv")
    assert output is not None
    assert "" not in output.values()
    # The failures file's row, fed back as JSON Lines, means the same update.
    assert update_from_row(json.loads(json.dumps(output)), kind="json") == as_csv


def test_row_for_output_keeps_json_rows_and_has_none_for_unreadable_rows() -> None:
    data = {"id": CALL_A, "note": None}
    assert row_for_output(InputRow(1, data), "jsonl") is data
    assert row_for_output(InputRow(1, None, "malformed JSON"), "jsonl") is None


# -------------------------------------------------------------------------------- counting


def test_count_rows_counts_records_not_lines(tmp_path: Path) -> None:
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"id": "acti_1"}\n\n{"id": "acti_2"}\n  \n{"bad\n')
    assert count_rows(str(jsonl), "jsonl") == 3
    table = tmp_path / "a.csv"
    table.write_text('id,note\nacti_1,"multi\nline"\n\nacti_2,x\n')
    assert count_rows(str(table), "csv") == 2


def test_count_rows_gives_up_on_stdin_and_missing_files(tmp_path: Path) -> None:
    assert count_rows("-", "jsonl") is None
    assert count_rows(str(tmp_path / "missing.csv"), "csv") is None
