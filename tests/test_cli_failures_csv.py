"""A CSV input's failures file is CSV: its own header and cells, fed back as they stand."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from close_async._cli.failures import failure_record, failure_text, open_failures
from close_async._cli.input import FAILURE_COLUMNS, InputError, failures_format, read_rows
from close_async.testing import FakeClose
from tests.cli_runner import run_cli

KEY = "api_cli_failures_csv_key_0123456789"
MISSING = "lead_Missing000"


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    async with FakeClose(api_keys=(KEY,), strict=True) as server:
        yield server


async def cli(*argv: str) -> tuple[int, str, str]:
    return await run_cli(*argv, key=KEY)


def table(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def puts(fake: FakeClose) -> list[tuple[str, object]]:
    return sorted(
        (r.path, json.dumps(r.body, sort_keys=True)) for r in fake.requests if r.method == "PUT"
    )


async def test_failed_and_invalid_rows_come_back_as_csv_and_feed_back_unchanged(
    fake: FakeClose, tmp_path: Path
) -> None:
    [good] = fake.seed_objects("lead", 1)
    source = tmp_path / "leads.csv"
    source.write_text(
        "id,name,description,url\n"
        f"{good},Good,\\N,\n"  # line 2: lands
        f"{MISSING},Late,\\N,\n"  # line 3: 404 (null token and empty cell kept as they were)
        ",No id,x,\n"  # line 4: invalid at parse
        f"{good},too,many,cells,here\n"  # line 5: unreadable (5 cells, header has 4)
        '"quoted, name",,,\n',  # line 6: invalid (no fields to update), its quoting kept
        encoding="utf-8",
    )
    failures = tmp_path / "failed.csv"
    base = ("leads", "update", "--base-url", fake.base_url, "--no-progress")

    code, _, err = await cli(*base, str(source), "--failures", str(failures))

    assert code == 1
    rows = table(failures)
    assert rows[0] == ["id", "name", "description", "url", *FAILURE_COLUMNS]
    by_line = {row[-2]: row for row in rows[1:]}
    assert sorted(by_line) == ["3", "4", "5", "6"]
    assert by_line["3"][:4] == [MISSING, "Late", "\\N", ""]
    assert "NotFoundError (HTTP 404)" in by_line["3"][-1]
    assert by_line["4"][:4] == ["", "No id", "x", ""]
    assert "'id' is missing" in by_line["4"][-1]
    assert by_line["5"][:5] == [good, "too", "many", "cells", "here"]
    assert "expected 4 columns" in by_line["5"][-1]
    assert by_line["6"][:4] == ["quoted, name", "", "", ""]
    first_puts = [p for p in puts(fake) if MISSING in p[0]]
    assert len(first_puts) == 1

    # Fed back unchanged: the reader drops the error columns, so the same rows go the same
    # way (the 404 row is sent with the same body, the bad rows are refused the same way).
    fake.reset_stats()
    again = tmp_path / "again.csv"
    code, _, err = await cli(*base, str(failures), "--failures", str(again))
    assert code == 1
    assert puts(fake) == first_puts
    refed = table(again)
    assert refed[0] == rows[0]
    assert [row[:-2] for row in refed[1:]] == [row[:-2] for row in rows[1:]]
    # Each row keeps its line in the original input, not its line in the failures file.
    assert [row[-2] for row in refed[1:]] == [row[-2] for row in rows[1:]]
    assert "expected 4 columns (as in the header), got 5" in err

    # Once the lead exists the same file lands it, null token and empty cell as at first.
    fake.add_object("lead", id=MISSING, name="before", description="old", url="http://x")
    code, _, err = await cli(*base, str(failures))
    assert code == 1  # the bad rows are still bad
    stored = fake.objects("lead")[MISSING]
    assert stored["name"] == "Late"
    assert stored["description"] is None
    assert stored["url"] == "http://x"  # the empty cell was not sent


async def test_reading_a_failures_file_gives_the_rows_of_the_input(tmp_path: Path) -> None:
    source = b"id,name,custom.cf_x\nlead_1,A,\\N\nlead_2,,b\n"
    failures = b"id,name,custom.cf_x,error_line,error\nlead_1,A,\\N,2,x\nlead_2,,b,3,y\n"
    first = list(read_rows(io.BytesIO(source), "csv"))
    second = list(read_rows(io.BytesIO(failures), "csv"))
    assert [r.data for r in second] == [r.data for r in first]
    assert [r.header for r in second] == [r.header for r in first]
    assert [r.cells for r in second] == [r.cells for r in first]


async def test_dry_run_writes_csv_failures_and_a_jsonl_name_keeps_json_lines(
    tmp_path: Path,
) -> None:
    source = tmp_path / "up.csv"
    source.write_text("id,name,description\nlead_1,A,\n,B,\\N\nlead_2,d,e,f\n")
    as_csv = tmp_path / "bad.csv"
    code, out, _ = await cli("leads", "update", str(source), "--dry-run", "--failures", str(as_csv))
    assert code == 1
    assert "1 valid, 2 invalid" in out
    rows = table(as_csv)
    assert rows[0] == ["id", "name", "description", *FAILURE_COLUMNS]
    assert [row[:-1] for row in rows[1:]] == [["", "B", "\\N", "3"], ["lead_2", "d", "e", "f", "4"]]

    as_jsonl = tmp_path / "bad.jsonl"
    code, _, _ = await cli("leads", "update", str(source), "--dry-run", "--failures", str(as_jsonl))
    assert code == 1
    records = [json.loads(line) for line in as_jsonl.read_text().splitlines()]
    assert [r["line"] for r in records] == [3, 4]
    assert records[0]["row"] == {"name": "B", "description": None}


async def test_json_lines_input_refuses_a_csv_failures_file(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"name": "A"}\n')
    code, _, err = await cli(
        "leads", "create", str(source), "--dry-run", "--failures", str(tmp_path / "f.csv")
    )
    assert code == 2
    assert "name the file .jsonl" in err
    assert not (tmp_path / "f.csv").exists()


async def test_the_failures_file_cannot_be_the_input(tmp_path: Path) -> None:
    source = tmp_path / "failed.csv"
    source.write_text("id,name\nlead_1,A\n")
    code, _, err = await cli("leads", "update", str(source), "--failures", str(source))
    assert code == 2
    assert "is the input" in err
    assert source.read_text() == "id,name\nlead_1,A\n"  # not emptied


async def test_calls_update_csv_failures_feed_back(fake: FakeClose, tmp_path: Path) -> None:
    missing = "acti_DoesNotExist000"
    source = tmp_path / "calls.csv"
    source.write_text(f"id,note,duration\n{missing},late,12\n")
    failures = tmp_path / "failed.csv"
    args = ("calls", "update", "--base-url", fake.base_url, "--no-progress")
    code, _, _ = await cli(*args, str(source), "--failures", str(failures))
    assert code == 1
    assert table(failures)[1][:3] == [missing, "late", "12"]
    fake.add_call(id=missing)
    code, _, err = await cli(*args, str(failures))
    assert code == 0, err
    assert fake.calls[missing]["note"] == "late"
    assert fake.calls[missing]["duration"] == 12


# ----------------------------------------------------------------- the file on its own

_NAMES = st.from_regex(r"[a-z][a-z0-9_.]{0,8}", fullmatch=True).filter(
    lambda name: name not in FAILURE_COLUMNS
)
_CELLS = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@settings(max_examples=60, deadline=None)
@given(st.lists(_NAMES, min_size=1, max_size=4, unique=True), st.data())
def test_any_rows_written_as_failures_read_back_as_they_were(
    header: list[str], data: st.DataObject
) -> None:
    rows = data.draw(
        st.lists(
            st.lists(_CELLS, min_size=len(header), max_size=len(header)).filter(
                lambda cells: any(cell.strip() for cell in cells)
            ),
            min_size=1,
            max_size=5,
        )
    )
    source = io.StringIO(newline="")
    csv.writer(source).writerows([header, *rows])
    read = list(read_rows(io.BytesIO(source.getvalue().encode()), "csv", need_id=False))
    assert [list(r.cells or ()) for r in read] == rows

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "failed.csv"
        failures = open_failures(str(path), "csv")
        for row in read:
            failures.write(failure_record(line=row.line, row=None, error="bad\nrow \ud800"), row)
        failures.close()
        with path.open("rb") as stream:
            again = list(read_rows(stream, "csv", need_id=False))
    assert [r.data for r in again] == [r.data for r in read]
    assert [r.header for r in again] == [tuple(header)] * len(rows)


def test_the_failures_format_follows_the_input_unless_named_json_lines() -> None:
    assert failures_format("failed.csv", "csv") == "csv"
    assert failures_format("failed.out", "csv") == "csv"
    assert failures_format("failed.jsonl", "csv") == "jsonl"
    assert failures_format("failed.out", "jsonl") == "jsonl"
    with pytest.raises(InputError, match=r"name the file \.jsonl"):
        failures_format("failed.csv", "jsonl")


def test_failure_text_says_what_close_said() -> None:
    record = {
        "error": "BadRequestError",
        "status": 400,
        "message": "Not allowed",
        "field_errors": {"value": "too big"},
        "unknown": False,
    }
    assert failure_text(record) == (
        "BadRequestError (HTTP 400): Not allowed: field errors: value: too big"
    )
    lost = {"error": "UnknownOutcomeError", "status": None, "message": "m", "unknown": True}
    assert failure_text(lost).startswith("outcome unknown (it may exist in Close")
    assert failure_text({"error": "InvalidRow", "status": None, "message": "no id"}) == "no id"


def test_a_failures_row_keeps_its_line_in_the_original_input() -> None:
    csv_failures = b"id,name,error_line,error\nlead_1,A,17,x\nlead_2,B,,y\n"
    assert [r.origin_line for r in read_rows(io.BytesIO(csv_failures), "csv")] == [17, 3]
    jsonl = b'{"line": 41, "row": {"id": "lead_1"}, "message": "m"}\n{"id": "lead_2"}\n'
    assert [r.origin_line for r in read_rows(io.BytesIO(jsonl), "jsonl")] == [41, 2]
