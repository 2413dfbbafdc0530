"""One name per resource on the command line, for every verb; the old spelling says the new.

The table of every resource and verb is checked here, in one place: what the parser
answers to, against what the client's groups (bulk verbs) and the listing (``list``) have.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from close_async._cli.listing import RESOURCES
from close_async._cli.main import build_parser
from close_async._cli.names import cli_name, old_spellings, respell
from close_async._cli.resources import bulk_groups
from close_async.testing import FakeClose
from tests.cli_runner import run_cli

KEY = "api_cli_names_key_0123456789abcdef"
NOTICE = "`activities.notes` is now `notes`"


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    async with FakeClose(api_keys=(KEY,), strict=True) as server:
        yield server


async def cli(*argv: str) -> tuple[int, str, str]:
    return await run_cli(*argv, key=KEY)


def _expected_table() -> dict[str, set[str]]:
    """Resource name -> verbs, from the client's groups and the listing: what must run."""
    table: dict[str, set[str]] = {}
    for path, actions in bulk_groups().items():
        table.setdefault(cli_name(path, bulk_groups()), set()).update(actions)
    for resource in RESOURCES:
        table.setdefault(resource, set()).add("list")
    table["calls"].add("update")  # calls update has its own typed parser
    return table


def _parsed_table() -> dict[str, set[str]]:
    """Resource name -> verbs, as the parser lists them in its help."""
    commands = next(action for action in build_parser()._actions if action.dest == "command")
    table: dict[str, set[str]] = {}
    for listed in commands._choices_actions:  # the names the help shows
        parser = commands.choices[listed.dest]
        verbs = [a for a in parser._actions if a.dest == f"{listed.dest}_command"]
        if verbs:
            table[listed.dest] = set(verbs[0].choices)
    return table


def test_every_resource_has_every_verb_under_one_name() -> None:
    parsed = _parsed_table()
    expected = _expected_table()
    assert {name: parsed.get(name) for name in expected} == expected
    # The case the issue met: notes had list, activities.notes the bulk verbs.
    assert parsed["notes"] == {"list", "update", "create", "delete"}
    assert parsed["calls"] == {"list", "update", "create", "delete"}
    assert parsed["emails"] == {"update", "create", "delete"}
    assert parsed["custom_fields.lead"] == {"update", "create", "delete"}
    # No resource is listed twice, under a second spelling.
    assert not any(name.startswith("activities.") for name in parsed)


async def test_every_resource_verb_parses_under_its_name() -> None:
    for name, verbs in _expected_table().items():
        for verb in verbs:
            code, out, err = await cli(name, verb, "--help")
            assert code == 0, (name, verb, err)
            assert f"usage: close-async {name} {verb}" in " ".join(out.split())
            assert err == ""  # no notice on the names of today


async def test_old_spelling_runs_every_verb_and_says_the_new_name() -> None:
    for old, name in old_spellings(bulk_groups()).items():
        for verb in _expected_table()[name]:
            code, out, err = await cli(old, verb, "--help")
            assert code == 0, (old, verb, err)
            assert f"`{old}` is now `{name}`" in err
            assert f"usage: close-async {name} {verb}" in " ".join(out.split())


async def test_help_lists_only_the_new_names() -> None:
    code, out, _ = await cli("--help")
    assert code == 0
    assert "activities." not in out
    code, _, err = await cli("nots", "list")  # nor does the error listing the choices
    assert code == 2
    assert "'notes'" in err
    assert "activities." not in err
    for name in ("notes", "emails", "meetings", "sms", "calls", "leads"):
        assert f"\n    {name} " in out


def test_naming_rule() -> None:
    assert cli_name("activities.notes") == "notes"
    assert cli_name("activities.whatsapp_messages") == "whatsapp_messages"
    # The last part of other nested groups names no resource: the dot stays.
    assert cli_name("custom_fields.lead") == "custom_fields.lead"
    assert cli_name("bulk_actions.edit") == "bulk_actions.edit"
    assert cli_name("leads") == "leads"
    # A name another group already has is not taken.
    assert cli_name("activities.leads", ["leads", "activities.leads"]) == "activities.leads"
    assert old_spellings(["leads", "activities.notes", "custom_fields.lead"]) == {
        "activities.notes": "notes"
    }
    renamed = {"activities.notes": "notes"}
    argv, notice = respell(["activities.notes", "list", "--fields", "activities.notes"], renamed)
    assert argv == ["notes", "list", "--fields", "activities.notes"]  # the command only
    assert notice == "`activities.notes` is now `notes` (the old name still runs, for now)"
    assert respell(["-h", "activities.notes"], renamed)[0] == ["-h", "notes"]
    assert respell(["notes", "list"], renamed) == (["notes", "list"], None)
    assert respell([], renamed) == ([], None)


async def test_notes_every_verb_against_the_fake(fake: FakeClose, tmp_path: Path) -> None:
    url = fake.base_url
    lead = fake.seed_objects("lead", 1)[0]
    created = tmp_path / "notes.csv"
    created.write_text(f"lead_id,note\n{lead},first\n{lead},second\n")
    code, _, err = await cli("notes", "create", str(created), "--base-url", url, "--no-progress")
    assert code == 0, err
    notes = fake.objects("activity.note")
    assert sorted(n["note"] for n in notes.values()) == ["first", "second"]

    code, out, err = await cli("notes", "list", "--base-url", url, "--no-progress")
    assert code == 0, err
    assert {json.loads(line)["id"] for line in out.splitlines()} == set(notes)

    first = next(i for i, n in notes.items() if n["note"] == "first")
    updates = tmp_path / "update.jsonl"
    updates.write_text(json.dumps({"id": first, "note": "changed"}) + "\n")
    code, _, err = await cli("notes", "update", str(updates), "--base-url", url, "--no-progress")
    assert code == 0, err
    assert fake.objects("activity.note")[first]["note"] == "changed"

    deletes = tmp_path / "delete.csv"
    deletes.write_text(f"id\n{first}\n")
    code, out, err = await cli("notes", "delete", str(deletes), "--base-url", url, "--no-progress")
    assert code == 0, err
    assert first not in fake.objects("activity.note")
    assert "activities" not in out + err  # nothing names it by its old spelling


async def test_old_spelling_against_the_fake(fake: FakeClose, tmp_path: Path) -> None:
    url = fake.base_url
    note = fake.add_object("activity.note", lead_id="lead_1", note="old")["id"]
    updates = tmp_path / "update.csv"
    updates.write_text(f"id,note\n{note},new\n")
    argv = ("update", str(updates), "--base-url", url, "--no-progress")
    code, _, err = await cli("activities.notes", *argv)
    assert code == 0, err
    assert NOTICE in err
    assert fake.objects("activity.note")[note]["note"] == "new"
    code, out, err = await cli("activities.notes", "list", "--base-url", url, "--no-progress")
    assert code == 0, err
    assert NOTICE in err
    assert [json.loads(line)["id"] for line in out.splitlines()] == [note]
