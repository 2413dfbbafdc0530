"""The CLI counts what it did: its summary checked against the fake Close's own request log.

``created`` is the creates that were sent and answered; a create found in Close by
``--settle-by`` is ``settled``, never ``created``; a row refused before sending is
``invalid``, never ``failed``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from close_async.testing import FakeClose, FakeFaults, RecordedRequest
from tests.cli_runner import run_cli

KEY = "api_cli_counts_key_0123456789abcdef"
CF = "custom.cf_external_id"
ROWS = 120


async def cli(*argv: str) -> tuple[int, str, str]:
    return await run_cli(*argv, key=KEY)


def summary_value(out: str, name: str) -> int:
    found = re.search(rf"^  {name} +([\d,]+)", out, re.MULTILINE)
    assert found, out
    return int(found.group(1).replace(",", ""))


def answered_creates(requests: list[RecordedRequest]) -> int:
    """POSTs to lead/ that Close (the fake) answered 2xx: the creates that were sent and heard."""
    return sum(
        1
        for r in requests
        if r.method == "POST" and r.path.endswith("/lead/") and isinstance(r.status, int)
        if 200 <= r.status < 300
    )


def creates_sent(requests: list[RecordedRequest]) -> int:
    return sum(1 for r in requests if r.method == "POST" and r.path.endswith("/lead/"))


def leads_csv(tmp_path: Path) -> Path:
    path = tmp_path / "leads.csv"
    lines = [f"name,{CF}", *(f"Lead {i},ext-{i}" for i in range(ROWS))]
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_a_fed_back_failures_file_counts_settled_creates_apart_from_created(
    tmp_path: Path,
) -> None:
    # The steps: a fake losing 20% of its answers after applying (every method, as
    # `close-async fake-server --drop-after-apply-rate 0.2 --seed 5` does), a first run
    # writing the creates it lost into the failures file, then that file fed back with
    # --settle-by at the default concurrency.
    faults = FakeFaults(drop_after_apply_rate=0.2, seed=5)
    async with FakeClose(api_keys=(KEY,), strict=True, faults=faults) as fake:
        failures = tmp_path / "f.csv"
        base = ("--base-url", fake.base_url, "--no-progress")
        code, out, err = await cli("leads", "create", str(leads_csv(tmp_path)), *base,
                                   "--failures", str(failures))  # fmt: skip
        assert code == 1, err
        first = list(fake.requests)
        assert summary_value(out, "created") == answered_creates(first)
        told = re.search(r"([\d,]+) creates? (?:were|was) sent but", err)
        assert told, err
        unknown = int(told.group(1))
        assert unknown == creates_sent(first) - answered_creates(first) > 0

        code, out, err = await cli("leads", "create", str(failures), *base, "--settle-by", CF)
        second = fake.requests[len(first) :]
        # Every row the first run lost did land (the fake applied it, then hung up): each is
        # found by the search and none is sent again.
        assert creates_sent(second) == 0
        assert summary_value(out, "created") == 0
        settled = summary_value(out, "settled")
        unresolved = summary_value(out, "failed")
        assert settled + unresolved == unknown
        assert settled >= unknown - 1  # a search may, rarely, use up its retries
        assert re.search(rf"^  settled +{settled:,} \(found in Close, not sent again\)", out, re.M)
        stored = Counter(o[CF] for o in fake.objects("lead").values())
        assert stored == Counter({f"ext-{i}": 1 for i in range(ROWS)})  # none lost, none twice


async def test_created_counts_only_creates_sent_and_answered(tmp_path: Path) -> None:
    # With --settle-by from the first run: a create whose answer was lost is looked up; it
    # is settled when found, and only a create sent and answered counts as created.
    faults = FakeFaults(drop_after_apply_rate=0.3, methods=("POST",), seed=7)
    async with FakeClose(api_keys=(KEY,), strict=True, faults=faults) as fake:
        code, out, err = await cli(
            "leads", "create", str(leads_csv(tmp_path)), "--base-url", fake.base_url,
            "--no-progress", "--settle-by", CF,
        )  # fmt: skip
        requests = list(fake.requests)
        assert fake.stats.drops > 0
        created = summary_value(out, "created")
        settled = summary_value(out, "settled")
        failed = summary_value(out, "failed")
        assert created == answered_creates(requests)
        lost_creates = sum(
            1 for r in requests if r.method == "POST" and r.path.endswith("/lead/")
            if r.status == "dropped"
        )  # fmt: skip
        # Each lost create was looked up and found (it had been applied): settled, or
        # unresolved if its search used up its retries.
        assert settled + failed == lost_creates
        assert created + settled + failed == ROWS
        assert code == (1 if failed else 0), err


async def test_a_row_refused_before_sending_is_invalid_not_failed(tmp_path: Path) -> None:
    rows = tmp_path / "leads.csv"
    rows.write_text("id,name\n../user,x\nlead_abc,y\n")
    async with FakeClose(api_keys=(KEY,), strict=True) as fake:
        code, out, err = await cli(
            "leads", "update", str(rows), "--base-url", fake.base_url, "--no-progress"
        )
        sent = [r.path for r in fake.requests]
    assert code == 1
    assert sent == ["/api/v1/lead/lead_abc/"]  # the refused row never left
    assert summary_value(out, "invalid rows") == 1
    assert summary_value(out, "failed") == 1  # lead_abc: 404 from Close
    assert "line 2: invalid row: id must be one path segment" in err
