"""The CLI counts what it did: its summary checked against the fake Close's own request log.

``created`` is the creates that were sent and answered; a create found in Close by
``--settle-by`` is ``settled``, never ``created``; a create sent whose answer was lost is
``unknown`` (it may have landed), never ``failed``; ``failed`` is only what is known not
to have landed; a row refused before sending is ``invalid``, never ``failed``.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path

from close_async._cli.report import Counts, Wording, print_summary, progress_line
from close_async.testing import FakeClose, FakeFaults, RecordedRequest
from tests.cli_runner import run_cli

KEY = "api_cli_counts_key_0123456789abcdef"
CF = "custom.cf_external_id"
ROWS = 120


async def cli(*argv: str) -> tuple[int, str, str]:
    return await run_cli(*argv, key=KEY)


def summary_value(out: str, name: str, *, absent: int | None = None) -> int:
    """The summary's count ``name``; ``absent`` is its value when the summary leaves the
    line out (``None``: the line must be there)."""
    found = re.search(rf"^  {name} +([\d,]+)", out, re.MULTILINE)
    if found is None and absent is not None:
        return absent
    assert found, out
    return int(found.group(1).replace(",", ""))


def summary_text(out: str, name: str) -> str | None:
    """The whole value of the summary's line ``name``, or ``None`` when left out."""
    found = re.search(rf"^  {name} +(.+)$", out, re.MULTILINE)
    return found.group(1) if found else None


def progress_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("progress: ")]


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


def dropped_creates(requests: list[RecordedRequest]) -> int:
    """POSTs to lead/ that the fake applied and then hung up on: sent, answer lost."""
    return sum(
        1
        for r in requests
        if r.method == "POST" and r.path.endswith("/lead/") and r.status == "dropped"
    )


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
                                   "--failures", str(failures),
                                   "--progress-interval", "1e-9")  # fmt: skip
        assert code == 1, err  # exit 1: some creates are unknown
        first = list(fake.requests)
        lost = dropped_creates(first)
        assert lost == creates_sent(first) - answered_creates(first) > 0
        assert fake.stats.drops >= lost  # the fake's own count of lost answers agrees
        assert summary_value(out, "created") == answered_creates(first)
        # The creates whose answer was lost are unknown, not failed: every one was sent,
        # and the fake applied it.
        assert summary_value(out, "failed") == 0
        unknown = summary_value(out, "unknown")
        assert unknown == lost
        assert summary_text(out, "unknown") == (
            f"{unknown:,} (sent, answer lost: feed the failures file back with --settle-by)"
        )
        assert summary_value(out, "created") + unknown == ROWS
        told = re.search(r"([\d,]+) creates? (?:were|was) sent but", err)
        assert told, err
        assert int(told.group(1)) == unknown
        # Nothing failed: stderr does not ask to fix failed rows, it says where the unknown are.
        assert "failed and invalid rows" not in err
        assert f"the unknown rows are in {failures}\n" in err
        # The plain progress lines of a log say the same, the last one with the final counts.
        last = progress_lines(err)[-1]
        assert f"{unknown:,} unknown" in last, last
        assert "0 failed" in last, last
        assert f"{answered_creates(first):,} created" in last, last

        code, out, err = await cli("leads", "create", str(failures), *base, "--settle-by", CF)
        second = fake.requests[len(first) :]
        # Every row the first run lost did land (the fake applied it, then hung up): each is
        # found by the search and none is sent again.
        assert creates_sent(second) == 0
        assert summary_value(out, "created") == 0
        assert summary_value(out, "failed") == 0
        settled = summary_value(out, "settled")
        unresolved = summary_value(out, "unknown", absent=0)
        assert settled + unresolved == unknown
        assert settled >= unknown - 1  # a search may, rarely, use up its retries
        assert code == (1 if unresolved else 0), err
        assert re.search(rf"^  settled +{settled:,} \(found in Close, not sent again\)", out, re.M)
        # Nothing was sent: no "0.0 creates/s", but how fast rows were settled.
        rate = summary_text(out, "rate")
        assert rate is not None, out
        assert "creates/s" not in rate, out
        assert re.fullmatch(r"[\d,]+\.\d settled/s", rate), rate
        assert float(rate.split()[0].replace(",", "")) > 0
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
        unknown = summary_value(out, "unknown", absent=0)
        assert created == answered_creates(requests)
        # Each lost create was looked up and found (it had been applied): settled, or
        # unknown if its search used up its retries; none is known not to have landed.
        assert summary_value(out, "failed") == 0
        assert settled + unknown == dropped_creates(requests)
        assert created + settled + unknown == ROWS
        assert code == (1 if unknown else 0), err
        # Both kinds of work had a pace: each gets its own rate.
        rate = summary_text(out, "rate")
        assert rate is not None
        assert re.fullmatch(r"[\d,]+\.\d creates/s, [\d,]+\.\d settled/s", rate), rate


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


CREATE = Wording.of("create", "leads")


def summary(counts: Counts) -> str:
    out = io.StringIO()
    print_summary(counts, out, wording=CREATE)
    return out.getvalue()


def test_unknown_is_its_own_count_in_the_log_line_and_the_summary() -> None:
    counts = Counts(total=100, updated=60, failed=2, unknown=31, invalid=1, elapsed=2.0)
    assert counts.done == 94
    line = progress_line(counts, CREATE)
    assert "94/100 rows" in line
    assert "60 created" in line
    assert "2 failed" in line
    assert "31 unknown" in line
    out = summary(counts)
    assert summary_value(out, "failed") == 2
    assert summary_text(out, "unknown") == (
        "31 (sent, answer lost: feed the failures file back with --settle-by)"
    )
    # The rate is of creates sent and answered (60 in 2 s), as "created" counts them.
    assert summary_text(out, "rate") == "30.0 creates/s"
    assert "unknown" not in summary(Counts(updated=3, elapsed=1.0))  # none: no line


def test_the_rate_counts_only_work_done() -> None:
    # Nothing sent and nothing settled (all skipped, per the journal): no rate at all,
    # rather than "0.0 creates/s" that reads like a stall.
    resumed = Counts(total=50, skipped=50, elapsed=0.5)
    assert summary_text(summary(resumed), "rate") is None
    assert "/s" not in progress_line(resumed, CREATE)
    # Only settled (a failures file fed back): how fast rows were looked up and found.
    settled = Counts(total=26, settled=26, elapsed=2.0)
    assert summary_text(summary(settled), "rate") == "13.0 settled/s"
    assert "13.0 settled/s" in progress_line(settled, CREATE)
    assert "creates/s" not in progress_line(settled, CREATE)
    # Both: each at its own pace over the run's time.
    both = Counts(total=30, updated=20, settled=10, elapsed=2.0)
    assert summary_text(summary(both), "rate") == "10.0 creates/s, 5.0 settled/s"
