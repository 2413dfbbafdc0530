"""``close-async leads|contacts create --settle-by custom.cf_...`` against a faulty fake."""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections import Counter
from pathlib import Path

import pytest

from close_async._bulk.settle import _RESOURCES
from close_async._cli.main import build_parser
from close_async._cli.settle_by import SETTLE_RESOURCES
from close_async.testing import FakeClose, FakeFaults
from tests.cli_runner import run_cli

KEY = "api_cli_settle_key_0123456789abcdef"
CF = "custom.cf_ext"
ROWS = 40


async def cli(*argv: str) -> tuple[int, str, str]:
    return await run_cli(*argv, key=KEY)


def faults() -> FakeFaults:
    # Some POSTs answer 5xx, are reset, or are applied and then dropped: ambiguous creates.
    # The settler's searches are POSTs too, and meet the same faults within the client's
    # retries. One row at a time (--concurrency 1), the seeded faults fall on the same
    # requests every run.
    return FakeFaults(
        error_rate=0.05, reset_rate=0.05, drop_after_apply_rate=0.2, methods=("POST",), seed=3
    )


def source(tmp_path: Path, kind: str, lead: str | None) -> Path:
    path = tmp_path / f"{kind}.csv"
    lines = [f"name,{CF}" + (",lead_id" if lead else "")]
    lines += [f"N{i},ext-{i}" + (f",{lead}" if lead else "") for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n")
    return path


def summary_value(out: str, name: str) -> int:
    found = re.search(rf"^  {name} +([\d,]+)", out, re.MULTILINE)
    assert found, out
    return int(found.group(1).replace(",", ""))


def external_ids(fake: FakeClose, kind: str) -> Counter[str]:
    return Counter(obj.get(CF) for obj in fake.objects(kind).values())


def test_the_cli_settles_what_the_settler_can_search() -> None:
    assert set(SETTLE_RESOURCES.values()) == set(_RESOURCES)


@pytest.mark.parametrize(("path", "kind"), [("leads", "lead"), ("contacts", "contact")])
async def test_settle_by_ends_every_row_created_exactly_once(
    tmp_path: Path, path: str, kind: str
) -> None:
    async with FakeClose(api_keys=(KEY,), strict=True) as fake:
        lead = fake.seed_objects("lead", 1)[0] if kind == "contact" else None
        before = external_ids(fake, kind)
        fake.faults = faults()
        code, out, err = await cli(
            path, "create", str(source(tmp_path, kind, lead)), "--base-url", fake.base_url,
            "--no-progress", "--concurrency", "1", "--settle-by", CF,
        )  # fmt: skip
        fake.faults = None
        assert fake.stats.drops > 0  # some answers were lost after the create landed
        assert code == 0, err
        assert "answer was lost" not in err
        landed = external_ids(fake, kind) - before
        assert landed == Counter({f"ext-{i}": 1 for i in range(ROWS)})  # 0 lost, 0 twice
        # Created: sent and answered; settled: answer lost, found by the search.
        creates = [r for r in fake.requests if r.method == "POST" and r.path.endswith(f"/{kind}/")]
        answered = sum(r.status == 200 for r in creates)
        assert summary_value(out, "created") == answered
        assert summary_value(out, "settled") == ROWS - answered > 0


async def test_without_settle_by_some_rows_are_reported_unknown(tmp_path: Path) -> None:
    async with FakeClose(api_keys=(KEY,), strict=True) as fake:
        fake.faults = faults()
        failures = tmp_path / "failed.csv"
        code, out, err = await cli(
            "leads", "create", str(source(tmp_path, "lead", None)), "--base-url",
            fake.base_url, "--no-progress", "--concurrency", "1", "--failures", str(failures),
        )  # fmt: skip
        fake.faults = None
        assert code == 1
        told = re.search(r"(\d+) creates? (?:were|was) sent but (?:their|its) answer was lost", err)
        assert told, err
        with failures.open(newline="") as stream:
            rows = list(csv.DictReader(stream))
        unknown = {r[CF] for r in rows if r["error"].startswith("outcome unknown")}
        assert len(unknown) == int(told.group(1)) > 0
        landed = external_ids(fake, "lead")
        assert max(landed.values()) == 1  # never sent twice
        done = summary_value(out, "created")
        # Every row is done or in the failures file; those in doubt are the unknown ones.
        assert done + len(rows) == ROWS
        assert done <= len(landed) <= done + len(unknown)
        assert set(landed) - unknown == set(landed) - {r[CF] for r in rows}


async def test_a_rerun_with_the_journal_and_settle_by_settles_what_was_unknown(
    tmp_path: Path,
) -> None:
    async with FakeClose(api_keys=(KEY,), strict=True) as fake:
        rows = str(source(tmp_path, "lead", None))
        journal = str(tmp_path / "leads.journal")
        args = ("leads", "create", rows, "--base-url", fake.base_url, "--no-progress",
                "--concurrency", "1", "--journal", journal)  # fmt: skip
        fake.faults = faults()
        code, _, err = await cli(*args)
        fake.faults = None
        assert code == 1
        told = re.search(r"(\d+) creates? (?:were|was) sent but (?:their|its) answer was lost", err)
        assert told, err
        assert int(told.group(1)) > 0
        assert "rerun with the same --journal, with --settle-by COLUMN" in err

        before = len(fake.requests)
        code, out, err = await cli(*args, "--settle-by", CF)
        assert code == 0, err
        # Only those in doubt were looked up: those found are settled (not sent again), the
        # others (a 5xx had refused them) are created now, each sent once and answered.
        sent = [r for r in fake.requests[before:] if r.path.endswith("/lead/")]
        assert summary_value(out, "created") == len(sent) == sum(r.status == 200 for r in sent)
        assert summary_value(out, "settled") + len(sent) == int(told.group(1))
        assert summary_value(out, "settled") > 0
        assert external_ids(fake, "lead") == Counter({f"ext-{i}": 1 for i in range(ROWS)})


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["leads", "update", "x.csv", "--settle-by", CF], "--settle-by works only with"),
        (["tasks", "create", "x.csv", "--settle-by", CF], "--settle-by works only with"),
        (["calls", "update", "x.csv", "--settle-by", CF], "--settle-by works only with"),
        (["leads", "delete", "x.csv", "--settle-by", CF], "--settle-by works only with"),
        (["leads", "create", "x.csv", "--settle-by", "name"], "expected a custom field column"),
        (["leads", "create", "x.csv", "--settle-by", "custom.cf_"], "custom.cf_..."),
        (["leads", "create", "x.csv", "--settle-by", "custom.lcf_x"], "custom.cf_..."),
    ],
)
async def test_settle_by_is_refused_where_it_cannot_work(argv: list[str], says: str) -> None:
    code, _, err = await cli(*argv)
    assert code == 2
    assert says in err


async def test_a_row_without_the_settle_value_is_invalid_before_sending(tmp_path: Path) -> None:
    rows = tmp_path / "new.csv"
    rows.write_text(f"name,{CF}\nA,ext-1\nB,\nC,\\N\n")
    code, out, err = await cli("leads", "create", str(rows), "--dry-run", "--settle-by", CF)
    assert code == 1
    assert f"line 3: invalid row: --settle-by {CF}: the row has no {CF} value" in err
    assert "line 4: invalid row" in err
    assert "1 valid, 2 invalid" in out


def help_of(*argv: str) -> str:
    out = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stdout(out):
        build_parser().parse_args([*argv, "--help"])
    return out.getvalue()


def test_help_shows_settle_by_only_where_it_works() -> None:
    assert "--settle-by custom.cf_..." in help_of("contacts", "create")
    assert "--settle-by custom.cf_..." in help_of("leads", "create")
    assert "--settle-by" not in help_of("leads", "update")
    assert "--settle-by" not in help_of("tasks", "create")


@pytest.mark.parametrize("failures_name", ["failed.csv", "failed.jsonl"])
async def test_a_fed_back_failures_file_never_resends_an_unknown_create_on_a_guess(
    tmp_path: Path, failures_name: str
) -> None:
    # The rows a run left unknown, fed back from its failures file (no journal): without
    # --settle-by they are reported unknown again, unsent; with it, looked up first, so each
    # external id ends stored exactly once.
    async with FakeClose(api_keys=(KEY,), strict=True) as fake:
        rows = str(source(tmp_path, "lead", None))
        failures = str(tmp_path / failures_name)
        base = ("--base-url", fake.base_url, "--no-progress", "--concurrency", "1")
        fake.faults = faults()
        code, _, err = await cli("leads", "create", rows, *base, "--failures", failures)
        fake.faults = None
        told = re.search(r"(\d+) creates? (?:were|was) sent but (?:their|its) answer was lost", err)
        assert code == 1
        assert told, err
        unknown = int(told.group(1))
        assert unknown > 0
        before = len(fake.requests)

        again = str(tmp_path / ("again" + Path(failures_name).suffix))
        code, _, err = await cli("leads", "create", failures, *base, "--failures", again)
        assert code == 1
        again_told = re.search(r"(\d+) creates? (?:were|was) sent but", err)
        assert again_told, err
        assert int(again_told.group(1)) == unknown
        assert len(fake.requests) == before  # nothing sent on a guess

        code, out, err = await cli("leads", "create", failures, *base, "--settle-by", CF)
        assert code == 0, err
        # Found in Close: settled, not sent again; absent (a 5xx had refused it): created.
        sent = [r for r in fake.requests[before:] if r.path.endswith("/lead/")]
        assert summary_value(out, "created") == len(sent) == sum(r.status == 200 for r in sent)
        assert summary_value(out, "settled") + len(sent) == unknown
        assert summary_value(out, "settled") > 0
        assert external_ids(fake, "lead") == Counter({f"ext-{i}": 1 for i in range(ROWS)})
