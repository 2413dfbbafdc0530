"""The ``close-async`` command line, end to end against the fake Close over loopback."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from close_async._cli.main import amain
from close_async._cli.report import Counts, PlainDisplay, RichDisplay, progress_line
from close_async.testing import FakeClose, FakeFaults, FakeRateLimit, fake_call_id

KEY = "api_cli_test_key_0123456789abcdef"
FORBIDDEN = "api_cli_forbidden_key_0123456789"
MISSING_CALL = "acti_DoesNotExist000"


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    async with FakeClose(api_keys=(KEY,), forbidden_keys=(FORBIDDEN,), strict=True) as server:
        yield server


async def cli(
    *argv: str,
    env: Mapping[str, str] | None = None,
    signals: bool = False,
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await amain(
        list(argv),
        stdout=out,
        stderr=err,
        environ={"CLOSE_API_KEY": KEY} if env is None else env,
        handle_signals=signals,
    )
    return code, out.getvalue(), err.getvalue()


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any] | str]) -> Path:
    with path.open("w") as stream:
        for row in rows:
            stream.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def note_rows(ids: Iterable[str], tag: str = "n") -> list[dict[str, Any]]:
    return [{"id": call_id, "note": f"{tag}-{call_id[-6:]}"} for call_id in ids]


def summary_value(out: str, name: str) -> int:
    for line in out.splitlines():
        parts = line.split()
        words = name.split()
        if parts[: len(words)] == words:
            return int(parts[len(words)].replace(",", ""))
    raise AssertionError(f"no {name!r} in summary:\n{out}")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ----------------------------------------------------------------------------- landing


async def test_every_update_lands_through_faults_and_rate_limits(
    fake: FakeClose, tmp_path: Path
) -> None:
    fake.rate_limit = FakeRateLimit(300)
    fake.faults = FakeFaults(error_rate=0.05, reset_rate=0.02, drop_after_apply_rate=0.03, seed=7)
    ids = fake.seed_calls(240)
    rows = note_rows(ids)
    source = write_jsonl(tmp_path / "in.jsonl", rows)

    code, out, _err = await cli("calls", "update", str(source), "--base-url", fake.base_url)

    assert code == 0
    assert all(fake.calls[r["id"]]["note"] == r["note"] for r in rows)
    assert summary_value(out, "updated") == 240
    assert summary_value(out, "failed") == 0
    assert summary_value(out, "retries") > 0  # the faults were met, and retried
    assert fake.stats.injected_errors + fake.stats.resets + fake.stats.drops > 0


async def test_csv_custom_columns_typed_cells_and_empty_cells(
    fake: FakeClose, tmp_path: Path
) -> None:
    a, b = fake.seed_calls(2, note="before")
    source = tmp_path / "in.csv"
    source.write_text(
        "id,note,duration,custom.cf_stage,activity_at\n"
        f"{a},after,42,won,2024-05-01T10:00:00Z\n"
        f"{b},,7,,\n"
    )

    code, _out, err = await cli("calls", "update", str(source), "--base-url", fake.base_url)

    assert code == 0, err
    assert fake.calls[a]["note"] == "after"
    assert fake.calls[a]["duration"] == 42
    assert fake.calls[a]["custom_fields"] == {"cf_stage": "won"}
    assert fake.calls[a]["activity_at"].startswith("2024-05-01T10:00:00")
    # Empty cells mean "not given": b keeps its note and custom fields.
    assert fake.calls[b]["note"] == "before"
    assert fake.calls[b]["duration"] == 7
    assert fake.calls[b]["custom_fields"] == {}
    puts = [r.body for r in fake.requests if r.method == "PUT"]
    assert {"duration": 7} in puts


async def test_stdin_input_with_format_flag(
    fake: FakeClose, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = fake.seed_calls(5)
    rows = note_rows(ids, "stdin")
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    code, out, _ = await cli(
        "calls", "update", "-", "--format", "jsonl", "--base-url", fake.base_url
    )

    assert code == 0
    assert summary_value(out, "updated") == 5
    assert [fake.calls[i]["note"] for i in ids] == [r["note"] for r in rows]


async def test_stdin_without_format_is_a_usage_error(fake: FakeClose) -> None:
    code, _, err = await cli("calls", "update", "-", "--base-url", fake.base_url)
    assert code == 2
    assert "--format" in err
    assert fake.stats.requests == 0


# ------------------------------------------------------------------------- bad rows


async def test_bad_rows_are_reported_by_line_and_good_rows_still_land(
    fake: FakeClose, tmp_path: Path
) -> None:
    ids = fake.seed_calls(4)
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": ids[0], "note": "one"},
            "",
            '{"id": "' + ids[1] + '", "note": ',  # line 3: malformed JSON
            {"id": ids[1], "note": "two"},
            {"note": "no id"},  # line 5
            {"id": ids[2], "duration": "long"},  # line 6: bad value
            {"id": "lead_not_a_call", "note": "x"},  # line 7: bad id
            {"id": ids[3], "note": "four"},
        ],
    )
    failures = tmp_path / "failures.jsonl"

    code, out, err = await cli(
        "calls",
        "update",
        str(source),
        "--base-url",
        fake.base_url,
        "--failures",
        str(failures),
    )

    assert code == 1
    for line, field in [(3, "malformed JSON"), (5, "id"), (6, "duration"), (7, "id")]:
        assert any(f"line {line}:" in x and field in x for x in err.splitlines()), (line, err)
    assert [fake.calls[i]["note"] for i in (ids[0], ids[1], ids[3])] == ["one", "two", "four"]
    assert summary_value(out, "updated") == 3
    assert summary_value(out, "invalid rows") == 4
    records = read_jsonl(failures)
    assert sorted(r["line"] for r in records) == [3, 5, 6, 7]
    by_line = {r["line"]: r for r in records}
    assert by_line[5]["row"] == {"note": "no id"}
    assert by_line[6]["row"] == {"id": ids[2], "duration": "long"}
    assert by_line[3]["row"] is None
    assert by_line[3]["raw"].startswith('{"id"')
    assert all(r["error"] == "InvalidRow" for r in records)


async def test_only_the_first_problems_are_printed_then_a_count(
    fake: FakeClose, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"note": f"no id {i}"} for i in range(50)])
    code, out, err = await cli("calls", "update", str(source), "--base-url", fake.base_url)
    assert code == 1
    assert sum(1 for x in err.splitlines() if x.startswith("line ")) == 20
    assert "30 more problems not shown" in err
    assert summary_value(out, "invalid rows") == 50


async def test_failed_updates_go_to_failures_file_and_it_feeds_back_in(
    fake: FakeClose, tmp_path: Path
) -> None:
    (good,) = fake.seed_calls(1)
    internal = fake.add_call(source="Close.io", status="completed")["id"]
    source = tmp_path / "in.csv"
    source.write_text(
        "id,note,status,custom.cf_x\n"
        f"{good},fine,,1\n"
        f"{internal},changed,no-answer,2\n"
        f"{MISSING_CALL},lost,,3\n"
    )
    failures = tmp_path / "failures.jsonl"

    code, out, err = await cli(
        "calls",
        "update",
        str(source),
        "--base-url",
        fake.base_url,
        "--failures",
        str(failures),
    )

    assert code == 1
    assert summary_value(out, "updated") == 1
    assert summary_value(out, "failed") == 2
    assert "line 3:" in err
    assert "line 4:" in err
    records = {r["line"]: r for r in read_jsonl(failures)}
    assert records[3]["error"] == "BadRequestError"
    assert records[3]["status"] == 400
    assert "status" in records[3]["field_errors"]
    assert records[3]["row"] == {
        "id": internal,
        "note": "changed",
        "status": "no-answer",
        "custom_fields": {"cf_x": "2"},
    }
    assert records[4]["error"] == "NotFoundError"
    assert records[4]["status"] == 404

    # Fix the cause (the call is external now), drop the lost one, and feed the rows back.
    fake.calls[internal]["source"] = "External"
    retry = write_jsonl(tmp_path / "retry.jsonl", [records[3]["row"]])
    code, out, _ = await cli("calls", "update", str(retry), "--base-url", fake.base_url)
    assert code == 0
    assert fake.calls[internal]["status"] == "no-answer"
    assert fake.calls[internal]["custom_fields"] == {"cf_x": "2"}


# -------------------------------------------------------------------------- dry run


async def test_dry_run_validates_everything_and_sends_nothing(
    fake: FakeClose, tmp_path: Path
) -> None:
    ids = fake.seed_calls(3)
    good = write_jsonl(tmp_path / "good.jsonl", note_rows(ids))
    bad = write_jsonl(tmp_path / "bad.jsonl", [*note_rows(ids), {"id": ids[0], "duration": -1}])

    code_good, out_good, _ = await cli(
        "calls", "update", str(good), "--dry-run", "--base-url", fake.base_url, env={}
    )
    code_bad, out_bad, err_bad = await cli(
        "calls", "update", str(bad), "--dry-run", "--base-url", fake.base_url
    )

    assert (code_good, code_bad) == (0, 1)
    assert "3 valid, 0 invalid" in out_good
    assert "3 valid, 1 invalid" in out_bad
    assert "line 4:" in err_bad
    assert fake.stats.requests == 0
    assert fake.requests == []


# ------------------------------------------------------------------- exit statuses


async def test_missing_credentials_exit_2_with_a_clear_message(
    fake: FakeClose, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", note_rows(fake.seed_calls(1)))
    code, _, err = await cli("calls", "update", str(source), "--base-url", fake.base_url, env={})
    assert code == 2
    assert "CLOSE_API_KEY" in err
    assert "--api-key-file" in err
    assert fake.stats.requests == 0


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["calls", "update", "in.jsonl", "--concurrency", "0"], "at least 1"),
        (["calls", "update", "in.jsonl", "--rate", "-3"], "positive"),
        (["calls", "update", "in.txt"], "--format"),
        (["calls", "update", "missing.jsonl"], "cannot open"),
        (["calls", "update", "in.jsonl", "--api-key-file", "nokey"], "cannot read"),
        (["calls", "update", "in.jsonl", "--api-key-file", "empty.key"], "empty"),
        (["calls", "update", "in.jsonl", "--base-url", "http://example.com/api/"], "http"),
        (["calls"], "ACTION"),
        (["frobnicate"], "invalid choice"),
    ],
)
async def test_usage_errors_exit_2(
    argv: list[str], says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "in.jsonl", [{"id": "acti_1", "note": "x"}])
    (tmp_path / "in.txt").write_text("")
    (tmp_path / "empty.key").write_text("\n")
    code, _, err = await cli(*argv)
    assert code == 2
    assert says in err


async def test_api_key_file_is_read_from_its_first_line(fake: FakeClose, tmp_path: Path) -> None:
    (call_id,) = fake.seed_calls(1)
    key_file = tmp_path / "key"
    key_file.write_text(f"  {KEY}  \nsecond line ignored\n")
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": call_id, "note": "via file"}])
    code, _, _ = await cli(
        "calls",
        "update",
        str(source),
        "--base-url",
        fake.base_url,
        "--api-key-file",
        str(key_file),
        env={},
    )
    assert code == 0
    assert fake.calls[call_id]["note"] == "via file"


@pytest.mark.parametrize(("key", "status"), [(FORBIDDEN, 403), ("api_wrong_key_42", 401)])
async def test_refused_credentials_abort_with_exit_3(
    fake: FakeClose, tmp_path: Path, key: str, status: int
) -> None:
    ids = fake.seed_calls(200)
    source = write_jsonl(tmp_path / "in.jsonl", note_rows(ids))
    code, out, err = await cli(
        "calls",
        "update",
        str(source),
        "--base-url",
        fake.base_url,
        "--concurrency",
        "4",
        env={"CLOSE_API_KEY": key},
    )
    assert code == 3
    assert "aborted" in err
    assert f"HTTP {status}" in err
    assert summary_value(out, "updated") == 0
    # Pulling stopped at the first refusal: far fewer requests than rows.
    assert fake.stats.requests < 50
    assert summary_value(out, "not sent") > 150


async def test_api_key_never_appears_in_any_output(fake: FakeClose, tmp_path: Path) -> None:
    secret = "api_TopSecretValue_9f8e7d6c5b4a"
    fake_with_secret = FakeClose(api_keys=(secret,))
    async with fake_with_secret:
        ids = fake_with_secret.seed_calls(3)
        source = write_jsonl(
            tmp_path / "in.jsonl",
            [*note_rows(ids), {"id": MISSING_CALL, "note": "x"}, {"note": "bad"}],
        )
        failures = tmp_path / "f.jsonl"
        outputs = []
        for base_url in (fake_with_secret.base_url, fake.base_url):  # accepted, then 401
            code, out, err = await cli(
                "calls",
                "update",
                str(source),
                "--base-url",
                base_url,
                "--failures",
                str(failures),
                env={"CLOSE_API_KEY": secret},
            )
            assert code in (1, 3)
            outputs += [out, err, failures.read_text()]
    forms = [
        secret,
        base64.b64encode(f"{secret}:".encode()).decode(),
        base64.b64encode(secret.encode()).decode().rstrip("="),
        secret[5:20],
    ]
    text = "\n".join(outputs)
    for form in forms:
        assert form not in text


# ------------------------------------------------------------------ journal and resume


async def test_rerun_with_journal_skips_what_landed(fake: FakeClose, tmp_path: Path) -> None:
    ids = fake.seed_calls(60)
    rows = note_rows(ids, "resume")
    journal = tmp_path / "run.journal"
    first_half = write_jsonl(tmp_path / "half.jsonl", rows[:25])
    whole = write_jsonl(tmp_path / "all.jsonl", rows)

    code, out, _ = await cli(
        "calls", "update", str(first_half), "--journal", str(journal), "--base-url", fake.base_url
    )
    assert code == 0
    assert summary_value(out, "updated") == 25

    code, out, _ = await cli(
        "calls", "update", str(whole), "--journal", str(journal), "--base-url", fake.base_url
    )
    assert code == 0
    assert summary_value(out, "skipped") == 25
    assert summary_value(out, "updated") == 35
    assert all(fake.calls[r["id"]]["note"] == r["note"] for r in rows)
    assert set(fake.update_counts.values()) == {1}


async def test_sigint_stops_gracefully_and_rerun_finishes(fake: FakeClose, tmp_path: Path) -> None:
    fake.faults = FakeFaults(latency=0.01)
    ids = fake.seed_calls(400)
    rows = note_rows(ids, "sig")
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    journal = tmp_path / "j.sqlite"
    argv = ["calls", "update", str(source), "--journal", str(journal)]
    argv += ["--base-url", fake.base_url, "--concurrency", "8"]

    async def interrupt_when_under_way() -> None:
        while fake.stats.applied_updates < 40:  # noqa: ASYNC110 - the fake's plain counter
            await asyncio.sleep(0.005)
        os.kill(os.getpid(), signal.SIGINT)

    interrupter = asyncio.create_task(interrupt_when_under_way())
    code, out, err = await cli(*argv, signals=True)
    await interrupter

    assert code == 130
    assert "SIGINT: stopping" in err
    assert "interrupted:" in err
    assert f"--journal {journal}" in err
    landed_first = summary_value(out, "updated")
    assert 40 <= landed_first < 400
    assert summary_value(out, "not sent") == 400 - landed_first
    assert fake.stats.applied_updates == landed_first  # in-flight updates were let finish

    code, out, _ = await cli(*argv)
    assert code == 0
    assert summary_value(out, "skipped") == landed_first
    assert all(fake.calls[r["id"]]["note"] == r["note"] for r in rows)
    assert set(fake.update_counts.values()) == {1}


# --------------------------------------------------------------------------- progress


async def test_plain_progress_lines_when_stderr_is_not_a_terminal(
    fake: FakeClose, tmp_path: Path
) -> None:
    fake.faults = FakeFaults(latency=0.05)
    source = write_jsonl(tmp_path / "in.jsonl", note_rows(fake.seed_calls(80)))
    code, _, err = await cli(
        "calls",
        "update",
        str(source),
        "--base-url",
        fake.base_url,
        "--concurrency",
        "4",
        "--progress-interval",
        "0.2",
    )
    assert code == 0
    lines = [x for x in err.splitlines() if x.startswith("progress: ")]
    assert lines
    assert "/80 rows" in lines[0]
    assert "\x1b[" not in err  # no terminal control codes in a log


def test_progress_line_has_done_total_rate_and_eta() -> None:
    counts = Counts(total=1000, updated=380, failed=5, skipped=15, invalid=2, elapsed=10.0)
    line = progress_line(counts)
    assert line.startswith("progress: 402/1,000 rows")
    assert "5 failed" in line
    assert "15 skipped" in line
    assert "2 invalid" in line
    assert "38.0 updates/s" in line
    assert "ETA 15.5 s" in line  # 598 rows left at 38.5 rows/s (skipped and invalid aside)


def test_plain_display_prints_at_most_once_an_interval() -> None:
    now = [0.0]
    stream = io.StringIO()
    display = PlainDisplay(stream, interval=5.0, clock=lambda: now[0])
    display.start(Counts(total=10))
    for t in (1.0, 4.9, 5.0, 6.0, 9.9, 10.5):
        now[0] = t
        display.refresh(Counts(total=10, updated=int(t), elapsed=t))
    assert [x.split(",")[0] for x in stream.getvalue().splitlines()] == [
        "progress: 5/10 rows",
        "progress: 10/10 rows",
    ]


def test_rich_display_shows_counts_on_a_terminal() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=150, color_system=None)
    display = RichDisplay(console)
    display.start(Counts(total=10))
    display.message("line 4: invalid row: duration")
    display.close(Counts(total=10, updated=6, failed=1, skipped=2, invalid=1, elapsed=2.0))
    screen = stream.getvalue()
    assert "10/10" in screen
    assert "6 updated" in screen
    assert "1 failed" in screen
    assert "2 skipped" in screen
    assert "line 4: invalid row: duration" in screen


# ------------------------------------------------------------------------------- demo


async def test_demo_runs_against_its_own_fake_and_verifies() -> None:
    code, out, _ = await cli(
        "demo", "--calls", "120", "--rate", "1000", "--concurrency", "16", env={}
    )
    assert code == 0, out
    assert "120 of 120 calls hold their update" in out
    assert "demo: OK" in out
    assert summary_value(out, "updated") == 120


# ---------------------------------------------------------- real processes, kill -9


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
        return json.loads(response.read())


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_applies_everything_once_or_so(tmp_path: Path) -> None:
    n, concurrency = 1500, 16
    env = {**os.environ, "CLOSE_API_KEY": "test_key", "PYTHONUNBUFFERED": "1"}
    server_argv = [sys.executable, "-m", "close_async", "fake-server", "--port", "0"]
    server_argv += ["--latency", "0.01", "--seed-calls", str(n), "--no-record"]
    server = subprocess.Popen(
        server_argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        root = base_url.removesuffix("api/v1/")
        rows = [{"id": fake_call_id(i), "note": f"kill-{i}"} for i in range(n)]
        source = write_jsonl(tmp_path / "big.jsonl", rows)
        argv = [sys.executable, "-m", "close_async", "calls", "update", str(source)]
        argv += ["--journal", str(tmp_path / "j"), "--base-url", base_url]
        argv += ["--concurrency", str(concurrency), "--no-progress"]

        first = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
        )
        deadline = time.monotonic() + 60
        while _get_json(root + "_fake/stats")["applied_updates"] < n // 3:
            assert first.poll() is None, "the first run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        first.kill()  # SIGKILL: no cleanup at all
        first.wait()
        applied_before = _get_json(root + "_fake/stats")["applied_updates"]
        assert applied_before < n

        second = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
        assert second.returncode == 0, second.stderr
        skipped = summary_value(second.stdout, "skipped")
        assert applied_before - concurrency <= skipped <= applied_before

        calls = _get_json(root + "_fake/calls")["calls"]
        assert all(calls[r["id"]]["note"] == r["note"] for r in rows)
        resent = sum(c["updates"] for c in calls.values()) - n
        assert 0 <= resent <= concurrency
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout is not None:
            server.stdout.close()
