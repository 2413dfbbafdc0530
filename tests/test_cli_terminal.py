"""What the command line prints is safe for a terminal, whatever the server sends, and the
summary comes after every problem line; the failures file keeps what the server sent."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from rich.console import Console

from close_async._cli.failures import FailuresFile, failure_record
from close_async._cli.main import amain
from close_async._cli.report import RichDisplay, describe_failure
from close_async._engine.errors import BadRequestError, NotFoundError
from close_async.testing import fake_call_id
from tests.conftest import serve

KEY = "api_terminal_test_key_0123456789"
HOSTILE_MESSAGE = "\u001b]0;pwned\u0007\u001b[2J boom\rFAKE LINE"
HOSTILE_FIELD_ERRORS = {"note": "\u001b[31mred"}
HOSTILE_BODY = {"error": HOSTILE_MESSAGE, "field-errors": HOSTILE_FIELD_ERRORS}


@pytest.fixture
async def hostile() -> AsyncIterator[str]:
    """A server that answers every update with a 400 full of terminal escapes."""

    async def refuse(request: web.Request) -> web.Response:
        return web.json_response(HOSTILE_BODY, status=400)

    app = web.Application()
    app.router.add_route("PUT", "/api/v1/activity/call/{call_id}/", refuse)
    async with serve(app) as url:
        yield url + "api/v1/"


def write_rows(path: Path, rows: Iterable[dict[str, Any] | str]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def assert_terminal_safe(text: str) -> None:
    for line in text.split("\n"):
        # isprintable() is False for C0, DEL, C1, CR, bidi and other format characters.
        assert line.isprintable(), ascii(line)


async def test_hostile_error_text_reaches_the_terminal_inert_and_the_failures_file_whole(
    hostile: str, tmp_path: Path
) -> None:
    source = write_rows(tmp_path / "in.jsonl", [{"id": fake_call_id(0), "note": "x"}])
    failures = tmp_path / "failures.jsonl"
    out, err = io.StringIO(), io.StringIO()

    code = await amain(
        ["calls", "update", str(source), "--base-url", hostile, "--failures", str(failures)],
        stdout=out,
        stderr=err,
        environ={"CLOSE_API_KEY": KEY},
        handle_signals=False,
    )

    assert code == 1
    assert_terminal_safe(out.getvalue())
    assert_terminal_safe(err.getvalue())
    [problem] = [x for x in err.getvalue().splitlines() if x.startswith("line 1:")]
    # Close's message and its field error, both, with the escapes gone.
    assert "BadRequestError (HTTP 400): boom FAKE LINE; field errors: note: red" in problem
    assert "pwned" not in err.getvalue()

    text = failures.read_text(encoding="utf-8")
    assert_terminal_safe(text)  # cat-ing the file is safe too: the escapes are JSON escapes
    [record] = [json.loads(x) for x in text.splitlines()]
    assert record["close_error"] == HOSTILE_MESSAGE
    assert record["field_errors"] == HOSTILE_FIELD_ERRORS
    assert record["message"] == "boom FAKE LINE"
    assert record["row"] == {"id": fake_call_id(0), "note": "x"}


def test_rich_display_messages_are_cleaned_too() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=200, color_system=None)
    display = RichDisplay(console)
    error = BadRequestError(
        HOSTILE_MESSAGE, status=400, field_errors=HOSTILE_FIELD_ERRORS, body=HOSTILE_BODY
    )
    display.message(f"line 1: failed: {describe_failure(error)}")
    screen = stream.getvalue()
    assert "boom FAKE LINE; field errors: note: red" in screen
    for sequence in ("\x1b]0;", "\x07", "\x1b[2J", "\x1b[31m", "\rFAKE"):
        assert sequence not in screen


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            BadRequestError("Bad Request", status=400, field_errors={"duration": "too long"}),
            "BadRequestError (HTTP 400): field errors: duration: too long",
        ),
        (
            BadRequestError("Not allowed", status=400, field_errors={"a": {"b": "c"}}),
            "BadRequestError (HTTP 400): Not allowed; field errors: a.b: c",
        ),
        (NotFoundError("Not Found", status=404), "NotFoundError (HTTP 404)"),
        (
            NotFoundError("Empty query: no call", status=404),
            "NotFoundError (HTTP 404): Empty query: no call",
        ),
    ],
)
def test_describe_failure_shows_close_words_and_field_errors(
    error: BadRequestError, shown: str
) -> None:
    assert describe_failure(error) == shown


async def test_summary_comes_after_every_problem_in_one_combined_stream(
    hostile: str, tmp_path: Path
) -> None:
    # Failed updates (more than the 20 shown) and invalid rows, so every kind of problem
    # line is printed: per-row lines, the "more not shown" count, the failures-file hint.
    rows: list[dict[str, Any] | str] = [{"id": fake_call_id(i), "note": "x"} for i in range(25)]
    rows += [{"note": "no id"}, "{not json"]
    source = write_rows(tmp_path / "in.jsonl", rows)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "close_async",
        "calls",
        "update",
        str(source),
        "--base-url",
        hostile,
        "--failures",
        str(tmp_path / "failures.jsonl"),
        "--concurrency",
        "4",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,  # one pipe: the order a terminal or a log shows
        env={**os.environ, "CLOSE_API_KEY": KEY},
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 1
    text = output.decode("utf-8")
    assert_terminal_safe(text)
    lines = text.splitlines()
    summary = lines.index("summary:")
    problems = [
        n
        for n, line in enumerate(lines)
        if line.startswith(("line ", "(more problems", "... and", "failed and invalid rows"))
    ]
    assert len(problems) >= 23  # 20 shown, the cap notice, the count, the hint
    assert max(problems) < summary
    assert all(line.startswith("  ") for line in lines[summary + 1 :])  # only the summary


def test_failures_file_keeps_text_no_utf8_stream_could_write(tmp_path: Path) -> None:
    # A lone surrogate (JSON allows "\ud800") cannot be encoded as UTF-8: written raw, the
    # whole record was lost to a UnicodeEncodeError.
    path = tmp_path / "failures.jsonl"
    failures = FailuresFile(str(path))
    error = BadRequestError("bad", status=400, field_errors={"note": "a\ud800b\u202ec"})
    failures.write(failure_record(line=1, row={"id": fake_call_id(0)}, error=error))
    failures.close()
    text = path.read_text(encoding="utf-8")
    assert_terminal_safe(text)
    assert json.loads(text)["field_errors"] == {"note": "a\ud800b\u202ec"}
