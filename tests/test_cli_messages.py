"""Messages that say what is wrong: one rule for a field's values, counts in the singular
when there is one, and a top-level help that speaks of every resource."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from close_async import ClientValidationError
from close_async._cli.main import amain, build_parser
from close_async.models import CallCreate, CallUpdate
from close_async.testing import FakeClose
from tests.cli_runner import run_cli

KEY = "api_cli_messages_key_0123456789abcdef"
PACKAGE = Path(__file__).parent.parent / "close_async"


async def cli(*argv: str) -> tuple[int, str, str]:
    return await run_cli(*argv, key=KEY)


def model_message(model: type, **fields: object) -> str:
    with pytest.raises(ClientValidationError) as caught:
        model(**fields)
    return str(caught.value)


# ----------------------------------------------------------------------- one rule


@pytest.mark.parametrize(("cell", "value"), [("-1", -1), ("700000", 700000), ("abc", "abc")])
async def test_a_duration_cell_is_judged_by_the_models_rule(
    tmp_path: Path, cell: str, value: object
) -> None:
    # calls update reads its rows into CallUpdate; the cell's message is the model's own.
    rows = tmp_path / "calls.csv"
    rows.write_text(f"id,duration\nacti_abc123,{cell}\n")
    code, out, err = await cli("calls", "update", str(rows), "--dry-run")
    assert code == 1
    said = model_message(CallUpdate, duration=value)
    assert said.startswith("duration: must be a whole number of seconds from 0 to 604800")
    assert f"line 2: invalid row: {said}" in err, err
    assert "0 valid, 1 invalid" in out


@pytest.mark.parametrize(("cell", "value"), [("-1", -1), ("700000", 700000), ("abc", "abc")])
async def test_a_calls_create_cell_is_refused_by_the_same_rule_before_sending(
    tmp_path: Path, cell: str, value: object
) -> None:
    # calls create types its cells from CallCreate's hints (cells.py): the field's rule is
    # the model's, so the message is the same one, and the row is never sent.
    rows = tmp_path / "calls.csv"
    rows.write_text(f"lead_id,duration\nlead_1,{cell}\n")
    async with FakeClose(api_keys=(KEY,)) as fake:
        code, out, err = await cli(
            "calls", "create", str(rows), "--base-url", fake.base_url, "--no-progress"
        )
        assert fake.requests == []
    said = model_message(CallCreate, lead_id="lead_1", duration=value)
    assert f"line 2: invalid row: {said}" in err, err
    assert re.search(r"^  invalid rows +1$", out, re.MULTILINE), out
    assert code == 1


async def test_a_calls_create_json_row_is_refused_by_the_same_rule(tmp_path: Path) -> None:
    rows = tmp_path / "calls.jsonl"
    rows.write_text(json.dumps({"lead_id": "lead_1", "duration": -1}) + "\n")
    code, out, err = await cli("calls", "create", str(rows), "--dry-run")
    assert "0 valid, 1 invalid" in out
    assert code == 1
    said = model_message(CallCreate, lead_id="lead_1", duration=-1)
    assert f"line 1: invalid row: {said}" in err, err


# ----------------------------------------------------------------------- counts


@pytest.mark.parametrize(
    ("n", "word", "plural", "said"),
    [
        (0, "row", None, "0 rows"),
        (1, "row", None, "1 row"),
        (2, "row", None, "2 rows"),
        (1234, "call", None, "1,234 calls"),
        (1, "entry", "entries", "1 entry"),
        (3, "entry", "entries", "3 entries"),
    ],
)
def test_counted_says_the_singular_for_one(
    n: int, word: str, plural: str | None, said: str
) -> None:
    from close_async._cli.plural import counted

    assert counted(n, word, plural) == said


async def test_fake_server_says_1_call_seeded() -> None:
    # The banner names each seeded kind with its count ("seeded call: 1"), never "1 calls".
    out, err = io.StringIO(), io.StringIO()
    server = asyncio.ensure_future(
        amain(
            ["fake-server", "--port", "0", "--seed-calls", "1"],
            stdout=out,
            stderr=err,
            environ={},
            handle_signals=False,
        )
    )
    while "Ctrl-C stops it" not in out.getvalue():
        assert not server.done(), err.getvalue()
        await asyncio.sleep(0.01)
    server.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await server
    said = out.getvalue() + err.getvalue()
    assert "seeded call: 1 (acti_" in said
    assert "1 calls" not in said


async def test_a_dry_run_of_one_row_says_row(tmp_path: Path) -> None:
    rows = tmp_path / "calls.csv"
    rows.write_text("id,note\nacti_abc123,hello\n")
    code, out, _ = await cli("calls", "update", str(rows), "--dry-run")
    assert code == 0
    assert "dry run: 1 row read: 1 valid, 0 invalid" in out


async def test_a_list_of_one_row_says_row(tmp_path: Path) -> None:
    async with FakeClose(api_keys=(KEY,)) as fake:
        fake.seed_objects("lead", 1)
        output = tmp_path / "leads.jsonl"
        code, _, err = await cli(
            "leads", "list", "--base-url", fake.base_url, "--output", str(output)
        )
    assert code == 0, err
    assert "1 row written to" in err


async def test_one_lost_create_is_told_in_the_singular(tmp_path: Path) -> None:
    from close_async.testing import FakeFaults

    rows = tmp_path / "leads.csv"
    rows.write_text("name\nAcme\n")
    faults = FakeFaults(drop_after_apply_rate=1.0, methods=("POST",))
    async with FakeClose(api_keys=(KEY,), faults=faults) as fake:
        code, _, err = await cli(
            "leads", "create", str(rows), "--base-url", fake.base_url, "--no-progress"
        )
    assert code == 1
    assert "1 create was sent but its answer was lost: it may exist in Close" in err


# A plural noun after an f-string value is a count message ("{n:,} rows"): each must come
# from counted(). Not counts: the program's name ("{_PROG} calls update"), percentages.
_COUNT_NOUN = re.compile(r"\{(?!_PROG\})[^{}%]*\}\s+(?:more\s+)?(?:invalid\s+)?([a-z]+s)\b")
_NOT_COUNTS = {"s", "is", "was", "has", "as", "this"}  # "{path!r} is ..." counts nothing


@pytest.mark.parametrize(
    "path",
    sorted(p for p in (PACKAGE / "_cli").glob("*.py") if p.name != "plural.py"),
    ids=lambda p: p.name,
)
def test_cli_count_messages_go_through_counted(path: Path) -> None:
    # An f-string putting a plural noun after a value ("{n:,} rows") says "1 rows".
    flagged = [
        (number, line.strip())
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for noun in _COUNT_NOUN.findall(line)
        if noun not in _NOT_COUNTS and not line.lstrip().startswith("#")
    ]
    assert flagged == []


# ----------------------------------------------------------------------- help


def test_top_level_help_speaks_of_every_resource() -> None:
    out = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stdout(out):
        build_parser().parse_args(["--help"])
    text = out.getvalue()
    assert "Bulk-update Close call activities" not in text
    assert "every resource" in text


def test_fake_server_help_speaks_of_the_whole_fake_api() -> None:
    # The fake serves leads, contacts, every activity type, search and the event log, not
    # calls alone: its help must not send a new user looking elsewhere for them.
    out = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stdout(out):
        build_parser().parse_args(["fake-server", "--help"])
    text = " ".join(out.getvalue().split())
    assert "call-activity API" not in text
    assert "every resource" in text
