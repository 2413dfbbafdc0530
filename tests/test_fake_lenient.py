"""The fake's two modes: strict (``FakeClose()``, unknown ids are 404 as in Close) and
lenient (the command-line servers: a first PUT to a well-formed id creates the call)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from close_async._cli.main import amain, build_parser
from close_async.testing import (
    FakeClose,
    add_fake_server_arguments,
    fake_call_id,
    fake_close_from_options,
    options_from_namespace,
)

KEY = "test_key"
NEW_ID = "acti_NeverSeeded0123"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()}


@pytest.fixture
async def lenient() -> AsyncIterator[FakeClose]:
    async with FakeClose(strict=False) as server:
        yield server


async def send(fake: FakeClose, method: str, call_id: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession(headers=AUTH) as session,
        session.request(method, f"{fake.base_url}activity/call/{call_id}/", json=body) as response,
    ):
        return response.status, await response.json()


async def test_lenient_put_creates_an_unknown_call_then_applies_the_update(
    lenient: FakeClose,
) -> None:
    status, body = await send(lenient, "PUT", NEW_ID, {"note": "first"})
    assert status == 200
    assert body["id"] == NEW_ID
    assert body["note"] == "first"
    assert body["note_html"] == "<p>first</p>"
    assert lenient.calls[NEW_ID] == body
    assert (lenient.stats.created, lenient.stats.applied_updates) == (1, 1)
    assert lenient.update_counts[NEW_ID] == 1
    status, again = await send(lenient, "GET", NEW_ID)
    assert (status, again["note"]) == (200, "first")
    # Seeding afterwards still gives the documented ids.
    assert lenient.seed_calls(1) == [fake_call_id(0)]


@pytest.mark.parametrize(
    ("method", "call_id", "body"),
    [
        ("GET", NEW_ID, None),  # only an update creates
        ("DELETE", NEW_ID, None),
        ("PUT", "lead_NotACall123", {"note": "x"}),  # not a call id: Close's 404
        ("PUT", "acti_bad-chars", {"note": "x"}),
    ],
)
async def test_lenient_mode_still_answers_404_where_nothing_should_be_created(
    lenient: FakeClose, method: str, call_id: str, body: Any
) -> None:
    status, answer = await send(lenient, method, call_id, body)
    assert status == 404
    assert answer == {"error": "Empty query: Call matching query does not exist."}
    assert lenient.calls == {}


async def test_lenient_put_with_a_bad_body_creates_nothing(lenient: FakeClose) -> None:
    status, answer = await send(lenient, "PUT", NEW_ID, {"duration": -1})
    assert status == 400
    assert "duration" in answer["field-errors"]
    assert lenient.calls == {}
    assert lenient.stats.created == 0


async def test_the_library_default_is_strict() -> None:
    async with FakeClose() as fake:
        assert fake.strict
        status, _ = await send(fake, "PUT", NEW_ID, {"note": "x"})
        assert status == 404
        assert fake.calls == {}


def test_the_command_line_servers_are_lenient_unless_strict() -> None:
    assert fake_close_from_options().strict is False
    assert fake_close_from_options(strict=True).strict is True
    parser = argparse.ArgumentParser()
    add_fake_server_arguments(parser)
    assert options_from_namespace(parser.parse_args([]))["strict"] is False
    assert options_from_namespace(parser.parse_args(["--strict"]))["strict"] is True
    cli = build_parser()
    assert cli.parse_args(["fake-server"]).strict is False
    assert cli.parse_args(["fake-server", "--strict"]).strict is True


async def test_fake_server_command_prints_seeded_ids_and_takes_updates_to_new_ids(
    tmp_path: Path,
) -> None:
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "close_async",
        "fake-server",
        "--port",
        "0",
        "--seed-calls",
        "5",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        assert server.stderr is not None
        base_url = (await asyncio.wait_for(server.stdout.readline(), 60)).decode().strip()
        banner = [base_url]
        while banner[-1] != "Ctrl-C stops it.":
            banner.append((await asyncio.wait_for(server.stdout.readline(), 60)).decode().strip())
        shown = f"{fake_call_id(0)}, {fake_call_id(1)}, {fake_call_id(2)}, ..."
        assert f"seeded call: 5 ({shown})" in banner
        source = tmp_path / "in.jsonl"
        rows = [{"id": fake_call_id(0), "note": "seeded"}, {"id": NEW_ID, "note": "new"}]
        source.write_text("".join(json.dumps(r) + "\n" for r in rows))
        out, err = io.StringIO(), io.StringIO()
        code = await amain(
            ["calls", "update", str(source), "--base-url", base_url],
            stdout=out,
            stderr=err,
            environ={"CLOSE_API_KEY": KEY},
            handle_signals=False,
        )
        assert code == 0, err.getvalue()
        root = base_url.removesuffix("api/v1/")

        def calls() -> Any:
            with urllib.request.urlopen(root + "_fake/calls", timeout=10) as response:  # noqa: S310
                return json.loads(response.read())["calls"]

        state = await asyncio.to_thread(calls)
        assert state[fake_call_id(0)]["note"] == "seeded"
        assert state[NEW_ID]["note"] == "new"
        assert len(state) == 6
    finally:
        server.terminate()
        await asyncio.wait_for(server.communicate(), 30)
