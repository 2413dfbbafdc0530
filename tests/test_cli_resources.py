"""``close-async <resource> update|create|delete`` against the fake Close over loopback."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from close_async._cli.report import Counts, Wording, print_summary, progress_line
from close_async._cli.resources import bulk_groups
from close_async.testing import FakeClose
from tests.cli_runner import run_cli

KEY = "api_cli_resources_key_0123456789ab"


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    async with FakeClose(api_keys=(KEY,), strict=True) as server:
        yield server


async def cli(*argv: str) -> tuple[int, str, str]:
    return await run_cli(*argv, key=KEY)


def test_actions_come_from_the_bulk_mixins() -> None:
    groups = bulk_groups()
    assert groups["leads"] == ("update", "create", "delete")
    assert groups["activities.notes"] == ("update", "create", "delete")
    assert groups["organizations"] == ("update",)  # no create/delete in Close's API
    # calls update keeps its own typed parser; its create and delete are the common verbs.
    assert groups["calls"] == ("create", "delete")


async def test_leads_create_update_delete(fake: FakeClose, tmp_path: Path) -> None:
    url = fake.base_url
    created = tmp_path / "leads.csv"
    created.write_text("name,description,custom.cf_tier\nAcme,\\N,gold\nGlobex,,silver\n")
    code, _, err = await cli("leads", "create", str(created), "--base-url", url, "--no-progress")
    assert code == 0, err
    leads = fake.objects("lead")
    by_name = {lead["name"]: lead for lead in leads.values()}
    assert set(by_name) == {"Acme", "Globex"}
    assert by_name["Acme"]["description"] is None  # \N means null
    assert by_name["Acme"]["custom.cf_tier"] == "gold"
    assert "description" not in by_name["Globex"] or by_name["Globex"]["description"] != ""

    acme = by_name["Acme"]["id"]
    updates = tmp_path / "leads.jsonl"
    updates.write_text(json.dumps({"id": acme, "description": "renamed"}) + "\n")
    code, _, err = await cli("leads", "update", str(updates), "--base-url", url, "--no-progress")
    assert code == 0, err
    assert fake.objects("lead")[acme]["description"] == "renamed"
    assert fake.objects("lead")[acme]["name"] == "Acme"  # fields not given are left as is

    deletes = tmp_path / "gone.csv"
    deletes.write_text(f"id\n{acme}\n")
    code, _, err = await cli("leads", "delete", str(deletes), "--base-url", url, "--no-progress")
    assert code == 0, err
    assert acme not in fake.objects("lead")
    assert len(fake.objects("lead")) == 1


async def test_calls_create_and_delete(fake: FakeClose, tmp_path: Path) -> None:
    url = fake.base_url
    created = tmp_path / "calls.csv"
    created.write_text(
        "lead_id,note,duration,direction\nlead_1,hello,42,outbound\nlead_1,bad,abc,inbound\n"
    )
    code, _, err = await cli("calls", "create", str(created), "--base-url", url, "--no-progress")
    assert code == 1  # the second row is invalid, before anything is sent
    # The model's rule for a duration, in its words (one rule for a cell and a CallCreate).
    said = "duration: must be a whole number of seconds from 0 to 604800, got 'abc'"
    assert f"line 3: invalid row: {said}" in err
    (call,) = fake.calls.values()
    assert call["note"] == "hello"
    assert call["duration"] == 42  # typed from CallCreate, not sent as text
    assert call["direction"] == "outbound"

    deletes = tmp_path / "gone.jsonl"
    deletes.write_text(json.dumps({"id": call["id"]}) + "\n")
    code, _, err = await cli("calls", "delete", str(deletes), "--base-url", url, "--no-progress")
    assert code == 0, err
    assert fake.calls == {}


async def test_dry_run_names_the_line(tmp_path: Path) -> None:
    rows = tmp_path / "bad.jsonl"
    rows.write_text('{"id": "lead_1", "name": "ok"}\n{"name": "no id"}\n{"id": "lead_2"}\n')
    code, out, err = await cli("leads", "update", str(rows), "--dry-run")
    assert code == 1
    assert "line 2: invalid row: 'id' is missing" in err
    assert "line 3: invalid row: no fields to update" in err
    assert "1 valid, 2 invalid" in out


async def test_failures_file_feeds_back(fake: FakeClose, tmp_path: Path) -> None:
    [lead] = fake.seed_objects("lead", 1)
    rows = tmp_path / "up.jsonl"
    rows.write_text(
        json.dumps({"id": lead, "description": "a"})
        + "\n"
        + json.dumps({"id": "lead_Missing000", "description": "b"})
        + "\n"
    )
    failures = tmp_path / "failed.jsonl"
    url = fake.base_url
    code, _, err = await cli(
        "leads",
        "update",
        str(rows),
        "--base-url",
        url,
        "--failures",
        str(failures),
        "--no-progress",
    )
    assert code == 1
    [record] = [json.loads(line) for line in failures.read_text().splitlines()]
    assert record["row"] == {"id": "lead_Missing000", "description": "b"}
    assert record["line"] == 2
    fake.add_object("lead", id="lead_Missing000", name="late")
    code, _, err = await cli("leads", "update", str(failures), "--base-url", url, "--no-progress")
    assert code == 0, err
    assert fake.objects("lead")["lead_Missing000"]["description"] == "b"


async def test_resume_with_journal_skips_landed_creates(fake: FakeClose, tmp_path: Path) -> None:
    rows = tmp_path / "new.csv"
    rows.write_text("name\nOne\nTwo\n")
    journal = tmp_path / "journal"
    args = ("leads", "create", str(rows), "--base-url", fake.base_url, "--no-progress")
    code, _, err = await cli(*args, "--journal", str(journal))
    assert code == 0, err
    assert len(fake.objects("lead")) == 2
    code, _, err = await cli(*args, "--journal", str(journal))
    assert code == 0, err
    assert len(fake.objects("lead")) == 2  # nothing created twice


async def test_creates_whose_answer_was_lost_are_marked_unknown(tmp_path: Path) -> None:
    from close_async.testing import FakeFaults

    faults = FakeFaults(drop_after_apply_rate=1.0, methods=("POST",))
    async with FakeClose(api_keys=(KEY,), strict=True, faults=faults) as server:
        rows = tmp_path / "new.csv"
        rows.write_text("name\nLost\n")
        failures = tmp_path / "failed.jsonl"
        code, _, err = await cli(
            "leads", "create", str(rows), "--base-url", server.base_url,
            "--failures", str(failures), "--no-progress",
        )  # fmt: skip
    assert code == 1
    [record] = [json.loads(line) for line in failures.read_text().splitlines()]
    assert record["unknown"] is True
    assert record["row"] == {"name": "Lost"}
    assert "outcome unknown" in err
    assert "1 create was sent but its answer was lost" in err


def test_the_progress_and_summary_name_the_verb() -> None:
    created = Wording.of("create", "leads")
    assert (created.doing, created.done, created.per_second) == (
        "creating leads",
        "created",
        "creates/s",
    )
    assert Wording.of("delete", "activities.notes").doing == "deleting activities.notes"
    out = io.StringIO()
    print_summary(Counts(updated=3, elapsed=1.0), out, wording=created)
    assert "  created " in out.getvalue()
    assert "3.0 creates/s" in out.getvalue()
    assert "updated" not in out.getvalue()
    line = progress_line(Counts(total=5, updated=2, elapsed=1.0), Wording.of("delete", "tasks"))
    assert "2 deleted" in line
    assert "deletes/s" in line
