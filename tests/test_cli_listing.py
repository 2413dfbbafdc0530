"""``close-async search`` and ``close-async <resource> list`` against the fake Close."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from close_async._cli.listing import model_fields, selected_types
from close_async._cli.main import amain
from close_async.testing import FakeClose
from tests.conftest import FAKE_KEY


async def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await amain(
        argv, stdout=out, stderr=err, environ={"CLOSE_API_KEY": FAKE_KEY}, handle_signals=False
    )
    return code, out.getvalue(), err.getvalue()


async def test_list_leads_as_jsonl_to_stdout(fake: FakeClose) -> None:
    ids = fake.seed_objects("lead", 230)  # more than two pages
    code, out, err = await _run(["leads", "list", "--base-url", fake.base_url])
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["id"] for row in rows] == ids
    assert "230 rows written to stdout" in err
    assert FAKE_KEY not in err


async def test_list_with_filters_to_csv_file(fake: FakeClose, tmp_path: Path) -> None:
    lead = fake.seed_objects("lead", 1)[0]
    mine = fake.seed_objects("contact", 3, lead_id=lead)
    fake.seed_objects("contact", 2, lead_id="lead_other")
    target = tmp_path / "contacts.csv"
    argv = ["contacts", "list", "--filter", f"lead_id={lead}", "--format", "csv"]
    argv += ["--fields", "id,lead_id", "--output", str(target), "--base-url", fake.base_url]
    code, out, err = await _run(argv)
    assert code == 0, err
    assert out == ""
    with target.open(newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["id", "lead_id"]
    assert rows[1:] == [[i, lead] for i in mine]


async def test_list_past_the_skip_cap(fake: FakeClose) -> None:
    fake.max_skip = 100
    start = datetime(2024, 1, 1, tzinfo=UTC)
    ids = [
        fake.add_object("lead", date_created=(start + timedelta(minutes=i)).isoformat())["id"]
        for i in range(450)
    ]
    code, out, err = await _run(["leads", "list", "--base-url", fake.base_url])
    assert code == 1
    assert "stopped after" in err
    argv = ["leads", "list", "--max-skip", "100", "--filter", "date_created__gte=2024-01-01"]
    code, out, err = await _run([*argv, "--base-url", fake.base_url])
    assert code == 0, err
    got = [json.loads(line)["id"] for line in out.splitlines()]
    assert sorted(got) == sorted(ids)
    assert len(got) == len(set(got))


async def test_search_from_a_query_file(fake: FakeClose, tmp_path: Path) -> None:
    fake.seed_objects("lead", 3)
    query = tmp_path / "query.json"
    query.write_text(json.dumps({"type": "object_type", "object_type": "lead"}))
    code, out, err = await _run(["search", str(query), "--base-url", fake.base_url])
    assert code == 0, err
    assert len(out.splitlines()) == 3
    code, out, err = await _run(["search", str(query), "--limit", "2", "--base-url", fake.base_url])
    assert len(out.splitlines()) == 2


async def test_bad_filter_and_query_are_usage_errors(fake: FakeClose, tmp_path: Path) -> None:
    code, _, err = await _run(["leads", "list", "--filter", "nokey", "--base-url", fake.base_url])
    assert code == 2
    assert "expected KEY=VALUE" in err
    code, _, err = await _run(["search", str(tmp_path / "missing.json")])
    assert code == 2
    assert "cannot read the query" in err


async def test_resource_help_lists_model_fields() -> None:
    code, out, _ = await _run(["leads", "--help"])
    assert code == 0
    assert "fields:" in out
    for name in ("display_name", "status_id", "contacts"):
        assert name in model_fields("leads")
        assert name in out
    code, out, _ = await _run(["opportunities", "list", "--help"])
    assert "--filter" in out
    assert "lead_id" in out


async def test_search_fetches_the_fields_asked(fake: FakeClose, tmp_path: Path) -> None:
    ids = [fake.add_object("lead", name=f"Lead {i}")["id"] for i in range(3)]
    fake.seed_objects("contact", 2)  # not matched by the query: their fields are not asked
    query = tmp_path / "query.json"
    query.write_text(
        json.dumps({"type": "and", "queries": [{"type": "object_type", "object_type": "lead"}]})
    )
    argv = ["search", str(query), "--fields", "id,name", "--format", "csv"]
    code, out, err = await _run([*argv, "--base-url", fake.base_url])
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [["id", "name"]] + [[i, f"Lead {n}"] for n, i in enumerate(ids)]
    (sent,) = [r.body for r in fake.requests if r.path.endswith("/data/search/")]
    assert sent["_fields"] == {"lead": ["id", "name"]}

    # JSON Lines too; and --fields wins over the file's own "_fields" for the types it names.
    query.write_text(
        json.dumps(
            {
                "query": {"type": "object_type", "object_type": "lead"},
                "_fields": {"lead": ["id"], "contact": ["id", "emails"]},
            }
        )
    )
    code, out, err = await _run(
        ["search", str(query), "--fields", "name", "--limit", "1", "--base-url", fake.base_url]
    )
    assert code == 0, err
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["Lead 0"]
    sent = [r.body for r in fake.requests if r.path.endswith("/data/search/")][-1]
    assert sent["_fields"] == {"lead": ["name"], "contact": ["id", "emails"]}


async def test_search_fields_need_an_object_type(fake: FakeClose, tmp_path: Path) -> None:
    query = tmp_path / "query.json"
    query.write_text(json.dumps({"type": "text", "value": "acme"}))
    before = len(fake.requests)
    argv = ["search", str(query), "--fields", "id,name", "--base-url", fake.base_url]
    code, _, err = await _run(argv)
    assert code == 2
    assert "--fields" in err
    assert "object_type" in err
    assert len(fake.requests) == before  # refused before anything is sent


def test_the_types_a_search_selects() -> None:
    lead = {"type": "object_type", "object_type": "lead"}
    contact = {"type": "object_type", "object_type": "contact"}
    related = {"type": "has_related", "related_query": contact, "related_object_type": "contact"}
    assert selected_types(lead) == ["lead"]
    assert selected_types({"type": "and", "queries": [lead, related]}) == ["lead"]
    assert selected_types({"type": "or", "queries": [lead, contact, lead]}) == ["lead", "contact"]
    assert selected_types({"type": "negate", "query": lead}) == []
    assert selected_types({"type": "text", "value": "x"}) == []


async def test_list_takes_the_connection_and_progress_options_as_update_does(
    fake: FakeClose,
) -> None:
    # One definition of --progress-interval for every command: a listing refuses a
    # non-positive interval as `calls update` does, before anything is sent.
    for command in (["leads", "list"], ["search", "-"], ["calls", "update", "in.jsonl"]):
        argv = [*command, "--base-url", fake.base_url, "--progress-interval", "0"]
        code, _, err = await _run(argv)
        assert code == 2, command
        assert "--progress-interval" in err
    assert fake.stats.requests == 0
