"""The fake Close as a process of its own: one entry point, its printed lines, ``--seed
KIND=N``, its state over HTTP under ``/_fake/``, and clients that hang up."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import logging
import os
import re
import socket
import struct
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cli_runner import run_cli
from conftest import FAKE_KEY, basic, send

from close_async.testing import (
    FakeClose,
    FakeFaults,
    FakeRateLimit,
    add_fake_server_arguments,
    fake_call_id,
)

_START = 60.0
_LAST_BANNER_LINE = "Ctrl-C stops it."


@contextlib.asynccontextmanager
async def fake_process(
    *args: str, module: bool = False
) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[str]]]:
    """``close-async fake-server ARGS`` (or ``python -m close_async.testing ARGS``) as a
    process; yields it and the lines it printed up to the last one of its banner."""
    entry = ["-m", "close_async.testing"] if module else ["-m", "close_async", "fake-server"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *entry,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while not lines or lines[-1] != _LAST_BANNER_LINE:
            line = await asyncio.wait_for(process.stdout.readline(), _START)
            assert line, f"the fake ended after printing {lines}"
            lines.append(line.decode().rstrip("\n"))
        yield process, lines
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.communicate(), 30)


async def get_json(url: str) -> Any:
    """GET ``url`` with no credentials at all; the decoded JSON (any status)."""
    async with aiohttp.ClientSession() as client, client.get(url) as response:
        return json.loads(await response.read())


# -- --seed KIND=N ------------------------------------------------------------------------

KINDS = ("call", "lead", "contact", "activity.note")


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        ("lead=50", {"lead": 50}),
        ("lead=50,contact=20", {"lead": 50, "contact": 20}),
        (" lead = 5 , call=0 ", {"lead": 5, "call": 0}),
        ("activity.note=3", {"activity.note": 3}),
    ],
)
def test_seed_counts_read_kind_equals_n(text: str, counts: dict[str, int]) -> None:
    from close_async.testing import parse_seed_counts

    assert parse_seed_counts(text, KINDS) == counts


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("leads=5", "unknown kind 'leads' in 'leads=5' (did you mean 'lead'?"),
        ("widget=5", "unknown kind 'widget' in 'widget=5' (kinds: activity.note, call,"),
        ("lead=five", "'lead=five': the count must be a whole number"),
        ("lead=-1", "'lead=-1': the count must be a whole number"),
        ("lead", "'lead' is not KIND=N"),
        ("lead=5,,contact=2", "an empty item in 'lead=5,,contact=2'"),
        ("lead=1,lead=2", "'lead' is given twice"),
        ("=3", "'=3' is not KIND=N"),
    ],
)
def test_seed_count_errors_name_the_bad_part(text: str, said: str) -> None:
    from close_async.testing import parse_seed_counts

    with pytest.raises(ValueError, match=re.escape(said)):
        parse_seed_counts(text, KINDS)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_fake_server_arguments(parser)
    return parser.parse_args(argv)


def test_seed_takes_objects_and_still_a_bare_number_as_the_fault_seed() -> None:
    # --seed N was (and stays) the fault generator's seed; KIND=N cannot be read as one.
    assert _parse("--seed", "7").seed == 7
    assert _parse("--fault-seed", "8").seed == 8
    both = _parse("--seed", "lead=5,contact=2", "--seed", "3", "--seed", "call=1")
    assert both.seed == 3
    assert both.seed_objects == {"lead": 5, "contact": 2, "call": 1}
    assert _parse().seed_objects == {}
    assert _parse().seed == 0


async def test_a_bad_seed_is_a_usage_error_naming_the_part_before_anything_listens() -> None:
    code, out, err = await run_cli("fake-server", "--port", "0", "--seed", "lead=5,leeds=2", key="")
    assert code == 2
    assert out == ""
    assert "argument --seed: unknown kind 'leeds' in 'leeds=2'" in err
    code, _, err = await run_cli("fake-server", "--seed", "lead=1", "--seed", "lead=2", key="")
    assert code == 2
    assert "'lead' is given twice" in err
    code, _, err = await run_cli("fake-server", "--seed-calls", "2", "--seed", "call=3", key="")
    assert code == 2
    assert "calls are seeded twice" in err
    # A kind that cannot be made from nothing says what it lacks, before anything listens.
    code, out, err = await run_cli("fake-server", "--port", "0", "--seed", "webhook=1", key="")
    assert code == 2
    assert out == ""
    assert "a webhook subscription needs url and events" in err


def test_seeded_objects_of_a_lead_are_spread_over_the_seeded_leads() -> None:
    from close_async.testing._seeding import seed_counts

    fake = FakeClose()
    seeded = seed_counts(fake, {"contact": 4, "call": 2, "lead": 2, "pipeline": 1})
    leads = seeded["lead"]
    assert list(seeded) == ["lead", "contact", "call", "pipeline"]  # leads first
    contacts = fake.objects("contact")
    assert [contacts[i]["lead_id"] for i in seeded["contact"]] == leads * 2
    assert [fake.calls[i]["lead_id"] for i in seeded["call"]] == leads
    assert seeded["call"] == [fake_call_id(0), fake_call_id(1)]
    assert len(fake.objects("pipeline")) == 2  # the organization's, and the one seeded


def test_serve_keywords_are_checked_as_the_flags_are() -> None:
    from close_async.testing._seeding import seed_plan

    assert seed_plan(2, {"lead": 3}) == {"call": 2, "lead": 3}
    with pytest.raises(ValueError, match="unknown kind 'leads' \\(did you mean 'lead'"):
        seed_plan(0, {"leads": 3})
    with pytest.raises(ValueError, match="lead=-1: the count must be a whole number"):
        seed_plan(0, {"lead": -1})
    with pytest.raises(ValueError, match="calls are seeded twice"):
        seed_plan(0, {"call": 1, "activity.call": 2})


# -- one entry point, the same lines --------------------------------------------------------


async def test_both_entry_points_print_the_same_lines() -> None:
    args = ("--port", "0", "--seed", "lead=4,contact=1", "--seed-calls", "2")
    async with (
        fake_process(*args) as (_, cli_lines),
        fake_process(*args, module=True) as (
            _,
            module_lines,
        ),
    ):
        pass

    def without_port(lines: list[str]) -> list[str]:
        return [re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line) for line in lines]

    assert without_port(cli_lines) == without_port(module_lines)
    base_url = cli_lines[0]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v1/", base_url)
    root = base_url.removesuffix("api/v1/")
    assert any(re.fullmatch(r"API key: test_key \(its user: user_\w+\)", x) for x in cli_lines)
    assert any(line.startswith("organization: orga_") for line in cli_lines)
    assert f"seeded call: 2 ({fake_call_id(0)}, {fake_call_id(1)})" in cli_lines
    (leads,) = [line for line in cli_lines if line.startswith("seeded lead: 4 (lead_")]
    assert leads.endswith(", ...)")  # three ids shown, the rest at /_fake/objects/lead
    assert any(line.startswith("seeded contact: 1 (cont_") for line in cli_lines)
    assert f"state: {root}_fake/ (objects, events, requests, stats; no key needed)" in cli_lines
    assert f"try: CLOSE_API_KEY=test_key close-async leads list --base-url {base_url}" in (
        cli_lines
    )


async def test_a_key_given_on_the_command_line_is_never_printed() -> None:
    secret = "api_RealLookingSecret123"
    async with fake_process("--port", "0", "--api-key", secret, "--api-key", "k2") as (
        process,
        lines,
    ):
        pass
    assert not any(secret in line for line in lines)
    assert "API key: one of the 2 given with --api-key (not printed)" in lines
    assert process.stderr is not None


def test_help_speaks_of_the_whole_api_in_both_entry_points() -> None:
    from close_async._cli.main import build_parser
    from close_async.testing import FAKE_SERVER_DESCRIPTION

    cli = build_parser()
    sub = cli._subparsers._group_actions[0].choices["fake-server"]  # type: ignore[union-attr]
    assert sub.description == FAKE_SERVER_DESCRIPTION
    assert "call-activity" not in FAKE_SERVER_DESCRIPTION
    assert "every operation" in FAKE_SERVER_DESCRIPTION
    assert "KIND=N" in sub.format_help()


# -- state over HTTP under /_fake/ -----------------------------------------------------------


async def test_fake_endpoints_show_objects_by_kind_events_requests_and_stats(
    fake: FakeClose, session: aiohttp.ClientSession
) -> None:
    leads = fake.seed_objects("lead", 3)
    fake.seed_calls(2)
    code, _, _ = await send(
        session, "PUT", fake.base_url + f"lead/{leads[0]}/", json={"name": "Renamed"}
    )
    assert code == 200
    root = fake.url

    counts = await get_json(root + "_fake/objects")
    assert counts["lead"] == 3
    assert counts["activity.call"] == 2
    assert counts["contact"] == 0
    assert counts["pipeline"] == 1  # the seeded organization's

    listed = await get_json(root + "_fake/objects/lead")
    assert listed["kind"] == "lead"
    assert listed["count"] == 3
    assert [o["id"] for o in listed["data"]] == leads
    assert listed["data"][0]["name"] == "Renamed"
    chosen = await get_json(root + f"_fake/objects/lead?id__in={leads[2]},{leads[1]}")
    assert [o["id"] for o in chosen["data"]] == [leads[1], leads[2]]
    one = await get_json(root + f"_fake/objects/lead/{leads[0]}")
    assert one["name"] == "Renamed"
    calls = await get_json(root + "_fake/objects/call")  # short for activity.call
    assert calls["kind"] == "activity.call"
    assert [c["id"] for c in calls["data"]] == [fake_call_id(0), fake_call_id(1)]

    missing = await get_json(root + "_fake/objects/lead/lead_nope")
    assert missing == {"error": "no lead with id 'lead_nope'"}
    unknown = await get_json(root + "_fake/objects/leads")
    assert unknown["error"].startswith("unknown kind 'leads' (did you mean 'lead'?")

    events = await get_json(root + "_fake/events")
    assert events["count"] == 1
    assert [(e["action"], e["object_id"]) for e in events["data"]] == [("updated", leads[0])]
    assert (await get_json(root + "_fake/events?last=0"))["data"] == []

    requests = await get_json(root + "_fake/requests")
    assert [(r["method"], r["path"], r["status"]) for r in requests["requests"]] == [
        ("PUT", f"/api/v1/lead/{leads[0]}/", 200)
    ]
    stats = await get_json(root + "_fake/stats")
    assert stats["requests"] == 1
    assert stats["by_status"] == {"200": 1}
    assert stats["objects"]["lead"] == 3

    code, body, _ = await send(session, "POST", root + "_fake/seed?kind=leads&n=1", json={})
    assert code == 400
    assert body["error"].startswith("unknown kind 'leads' (did you mean 'lead'?")
    code, body, _ = await send(session, "POST", root + "_fake/seed?kind=webhook&n=1", json={})
    assert (code, body) == (400, {"error": "a webhook subscription needs url and events"})

    index = await get_json(root + "_fake/")
    assert {"objects", "events", "requests", "stats"} <= {
        e["path"].split("/")[2] for e in index["endpoints"]
    }


async def test_fake_endpoints_need_no_key_and_are_never_limited_nor_faulted() -> None:
    faults = FakeFaults(error_rate=1.0)
    async with FakeClose(rate_limit=FakeRateLimit(1, window=3600), faults=faults) as fake:
        for _ in range(5):
            stats = await get_json(fake.url + "_fake/stats")
            await get_json(fake.url + "_fake/objects")
        # Reading the state is not an API request: it is neither counted nor recorded.
        assert stats["requests"] == 0
        assert fake.requests == []
        assert fake.stats.rate_limited == 0


# -- clients that hang up ------------------------------------------------------------------


class _Lines(logging.Handler):
    """Collects the fake's log lines; ``arrived`` is set on each."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[logging.LogRecord] = []
        self.arrived = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record)
        self.arrived.set()


@pytest.fixture
def log_lines() -> Iterator[_Lines]:
    handler = _Lines()
    loggers = [logging.getLogger("close_async.testing"), logging.getLogger("aiohttp")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP RST, as a killed client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def _connect(fake: FakeClose) -> socket.socket:
    sock = socket.create_connection((fake.host, fake.port))
    sock.setblocking(False)
    return sock


async def test_a_client_hanging_up_mid_body_is_one_line_and_no_traceback(
    fake: FakeClose, log_lines: _Lines
) -> None:
    sock = await _connect(fake)
    head = (
        "POST /api/v1/lead/ HTTP/1.1\r\nHost: fake\r\n"
        f"Authorization: {basic(FAKE_KEY)}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    await asyncio.get_running_loop().sock_sendall(sock, head.encode() + b'{"na')
    _reset(sock)
    await asyncio.wait_for(log_lines.arrived.wait(), 30)
    (line,) = [r for r in log_lines.lines if r.levelno >= logging.INFO]
    assert line.getMessage() == ("a client hung up: POST /api/v1/lead/ (before its body was read)")
    assert line.exc_info is None
    assert fake.stats.hangups == 1
    assert fake.objects("lead") == {}


async def test_a_client_giving_up_on_a_slow_answer_is_one_line(log_lines: _Lines) -> None:
    # The fake holds the answer 2 s; the client is gone long before (it closes at once).
    async with FakeClose(faults=FakeFaults(slow_rate=1.0, slow_seconds=2.0)) as fake:
        sock = await _connect(fake)
        request = (
            f"GET /api/v1/lead/ HTTP/1.1\r\nHost: fake\r\nAuthorization: {basic(FAKE_KEY)}\r\n\r\n"
        )
        await asyncio.get_running_loop().sock_sendall(sock, request.encode())
        sock.close()
        await asyncio.wait_for(log_lines.arrived.wait(), 30)
        (line,) = [r for r in log_lines.lines if r.levelno >= logging.INFO]
        assert line.getMessage() == (
            "a client hung up: GET /api/v1/lead/ (before its answer was sent)"
        )
        assert fake.stats.hangups == 1
        assert fake.stats.slowed == 1


async def test_the_fakes_own_drops_are_not_reported_as_hang_ups(
    log_lines: _Lines,
) -> None:
    faults = FakeFaults(drop_after_apply_rate=1.0)
    async with (
        FakeClose(faults=faults) as fake,
        aiohttp.ClientSession(headers={"Authorization": basic(FAKE_KEY)}) as client,
    ):
        with pytest.raises(aiohttp.ClientError):
            # A POST: aiohttp never sends it again by itself.
            await send(client, "POST", fake.base_url + "lead/", json={"name": "Acme"})
        assert fake.stats.drops == 1
        assert fake.stats.hangups == 0
    assert [r for r in log_lines.lines if r.levelno >= logging.INFO] == []


async def test_a_standalone_fake_prints_one_line_for_a_hang_up_and_no_traceback() -> None:
    async with fake_process("--port", "0") as (process, lines):
        host, port = re.findall(r"//([\d.]+):(\d+)/", lines[0])[0]
        sock = socket.create_connection((host, int(port)))
        auth = basic(FAKE_KEY)
        head = (
            f"POST /api/v1/lead/ HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
            "Content-Length: 50\r\n\r\n{"
        )
        sock.sendall(head.encode())
        _reset(sock)
        assert process.stderr is not None
        line = await asyncio.wait_for(process.stderr.readline(), 30)
        assert line.decode() == (
            "fake Close: a client hung up: POST /api/v1/lead/ (before its body was read)\n"
        )
        process.terminate()
        _, rest = await asyncio.wait_for(process.communicate(), 30)
    assert b"Traceback" not in rest
    assert process.returncode == 0


def test_hang_ups_past_the_first_few_are_counted_not_told(log_lines: _Lines) -> None:
    from close_async.testing._hangups import HangUpLog

    told = HangUpLog(shown=2)
    for n in range(5):
        told.report("GET", f"/api/v1/lead/{n}/", "before its answer was sent")
    assert [r.getMessage() for r in log_lines.lines] == [
        "a client hung up: GET /api/v1/lead/0/ (before its answer was sent)",
        "a client hung up: GET /api/v1/lead/1/ (before its answer was sent)",
        "more clients hung up: counted in /_fake/stats (hangups), not shown",
    ]
    assert told.seen == 5


# -- the proof: a standalone fake, the CLI against it, its state read from outside ---------


async def test_seeded_standalone_fake_serves_the_cli_and_shows_its_state(tmp_path: Path) -> None:
    async with fake_process("--port", "0", "--seed", "lead=5") as (_, lines):
        base_url = lines[0]
        root = base_url.removesuffix("api/v1/")
        seeded = await get_json(root + "_fake/objects/lead")
        ids = [lead["id"] for lead in seeded["data"]]
        assert len(ids) == 5
        assert f"seeded lead: 5 ({ids[0]}, {ids[1]}, {ids[2]}, ...)" in lines

        env = {**os.environ, "CLOSE_API_KEY": "test_key"}
        listing = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "close_async", "leads", "list", "--base-url", base_url,
            "--no-progress", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env,
        )  # fmt: skip
        out, err = await asyncio.wait_for(listing.communicate(), 120)
        assert listing.returncode == 0, err.decode()
        assert [json.loads(row)["id"] for row in out.decode().splitlines()] == ids

        source = tmp_path / "leads.csv"
        with source.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "name"])
            writer.writerows([[ids[0], "Acme"], [ids[1], "Globex"]])
        update = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "close_async", "leads", "update", str(source),
            "--base-url", base_url, "--no-progress",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        _, err = await asyncio.wait_for(update.communicate(), 120)
        assert update.returncode == 0, err.decode()

        assert (await get_json(root + f"_fake/objects/lead/{ids[0]}"))["name"] == "Acme"
        assert (await get_json(root + f"_fake/objects/lead/{ids[1]}"))["name"] == "Globex"
        assert (await get_json(root + "_fake/objects"))["lead"] == 5
        events = (await get_json(root + "_fake/events"))["data"]
        assert sorted(e["object_id"] for e in events if e["action"] == "updated") == sorted(ids[:2])
        recorded = (await get_json(root + "_fake/requests"))["requests"]
        assert recorded[0]["method"] == "GET"
        assert recorded[0]["path"] == "/api/v1/lead/"
        assert sorted(r["path"] for r in recorded if r["method"] == "PUT") == sorted(
            f"/api/v1/lead/{i}/" for i in ids[:2]
        )
        stats = await get_json(root + "_fake/stats")
        assert stats["requests"] == len(recorded)
        assert stats["by_status"] == {"200": len(recorded)}
        assert stats["hangups"] == 0

        async with aiohttp.ClientSession(headers={"Authorization": basic(FAKE_KEY)}) as client:
            _, me, _ = await send(client, "GET", base_url + "me/")
        # The ids printed are the ones the API answers with.
        assert f"API key: test_key (its user: {me['id']})" in lines
        assert f"organization: {me['organizations'][0]['id']} (" in "\n".join(lines)
