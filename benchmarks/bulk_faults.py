"""``python -m benchmarks.bulk_faults``: leads ``create_many`` under faults and under SIGKILL.

Every body carries a unique external id in ``custom.cf_external_id``; the figures are counted
from the fake's state afterwards (every lead listed back, faults off for GETs), not from what
the client says:

- ``faults-no-settle`` / ``faults-settle``: creates meet 5xx, 400s (a 4xx: nothing landed),
  resets before applying and answers dropped after the lead landed. ``lost``: a body whose
  lead is absent and that was not reported ``unknown``/``failed``; ``duplicated``: an
  external id stored more than once; ``failed_that_landed``: a lead stored behind a
  ``failed`` result.
- ``sigkill-resume``: a child process runs ``create_many(journal=...)``, is SIGKILLed mid-run,
  and the backfill is resumed with the same journal and ``settle_by_custom_field``.
  ``handled_though_landed``: items the resume did not skip whose lead had landed before the
  kill (in flight when it landed: at most ``concurrency``); ``resent``: creates sent twice,
  counted as duplicates on the fake (which has no faults in this run).

One JSON line per run. The fake runs in its own process (``--no-record``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from typing import Any

import aiohttp

__all__ = ["main"]

API_KEY = "test_key"  # the fake's default key
CF = "cf_external_id"
FIELD = f"custom.{CF}"
FAULTS = [
    "--error-rate",
    "0.1",
    "--reject-rate",
    "0.05",
    "--reset-rate",
    "0.1",
    "--drop-after-apply-rate",
    "0.1",
    "--fault-methods",
    "POST",
    "--seed",
    "7",
]


def _bodies(count: int) -> list[dict[str, Any]]:
    return [{"name": f"bench {i}", FIELD: f"ext-{i}"} for i in range(count)]


def _client(base_url: str) -> Any:
    from close_async import CloseClient, RetryPolicy

    # No waits between retries: the fake's faults are random, not load; the figure is
    # correctness, and sleeping would only stretch the run.
    return CloseClient(API_KEY, base_url=base_url, retry=RetryPolicy.no_wait(attempts=8))


async def _stored_external_ids(base_url: str) -> list[str]:
    """Every lead's external id, listed back from the fake (GETs meet no faults)."""
    found: list[str] = []
    async with _client(base_url) as close:
        skip = 0
        while True:
            page = await close.get("lead/", params={"_skip": skip, "_limit": 200})
            data = page["data"]
            found.extend(str(lead.get(FIELD)) for lead in data)
            skip += len(data)
            if not page.get("has_more") or not data:
                return found


def _tally(stored: list[str], states: dict[str, str], count: int) -> dict[str, int]:
    counts = Counter(stored)
    every = [f"ext-{i}" for i in range(count)]
    return {
        "stored": len(stored),
        "duplicated": sum(n - 1 for n in counts.values() if n > 1),
        # Absent and not reported unknown/failed (a body with no result at all counts too).
        "lost": sum(
            1 for ext in every if ext not in counts and states.get(ext) not in ("unknown", "failed")
        ),
        # A lead stored behind a "failed": the run said it did not land, and it did.
        "failed_that_landed": sum(1 for e, s in states.items() if s == "failed" and e in counts),
    }


async def _faults_run(base_url: str, count: int, concurrency: int, settle: bool) -> dict[str, Any]:
    from close_async import settle_by_custom_field

    wall = time.perf_counter()
    async with _client(base_url) as close:
        settle_fn = settle_by_custom_field(close, resource="lead", field=CF) if settle else None
        async with close.leads.create_many(
            _bodies(count), concurrency=concurrency, settle=settle_fn
        ) as run:
            results = [r async for r in run]
    wall = time.perf_counter() - wall
    states = {r.body[FIELD]: r.state for r in results}
    stored = await _stored_external_ids(base_url)
    by_state = Counter(states.values())
    landed = set(stored)
    return {
        "run": "faults-settle" if settle else "faults-no-settle",
        "count": count,
        "concurrency": concurrency,
        "results": len(results),
        "states": dict(sorted(by_state.items())),
        "unknown_that_landed": sum(1 for e, s in states.items() if s == "unknown" and e in landed),
        "unknown_absent": sum(1 for e, s in states.items() if s == "unknown" and e not in landed),
        **_tally(stored, states, count),
        "wall_s": round(wall, 2),
    }


async def _child(base_url: str, journal: str, count: int, concurrency: int) -> None:
    async with (
        _client(base_url) as close,
        close.leads.create_many(_bodies(count), concurrency=concurrency, journal=journal) as run,
    ):
        async for result in run:
            # The parent reads these to know what the killed run was told.
            sys.stdout.write(json.dumps([result.body[FIELD], result.state]) + "\n")
            sys.stdout.flush()


def _sigkill_run(fake: Any, count: int, concurrency: int) -> dict[str, Any]:
    from close_async import settle_by_custom_field

    journal = os.path.join(tempfile.mkdtemp(prefix="bulk_faults_"), "leads.journal")
    child = subprocess.Popen(
        [
            *(sys.executable, "-m", "benchmarks.bulk_faults", "--child", fake.base_url, journal),
            *("--count", str(count), "--concurrency", str(concurrency)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    told: dict[str, str] = {}
    for line in child.stdout:
        ext, state = json.loads(line)
        told[ext] = state
        if len(told) >= count * 2 // 5:
            child.send_signal(signal.SIGKILL)
            break
    child.wait()
    child.stdout.close()
    landed_before = set(asyncio.run(_stored_external_ids(fake.base_url)))

    async def resume() -> list[Any]:
        async with _client(fake.base_url) as close:
            settle = settle_by_custom_field(close, resource="lead", field=CF)
            async with close.leads.create_many(
                _bodies(count), concurrency=concurrency, journal=journal, settle=settle
            ) as run:
                return [r async for r in run]

    results = asyncio.run(resume())
    states = {r.body[FIELD]: r.state for r in results}
    stored = asyncio.run(_stored_external_ids(fake.base_url))
    handled = [r for r in results if not r.skipped]
    tally = _tally(stored, states, count)
    return {
        "run": "sigkill-resume",
        "count": count,
        "concurrency": concurrency,
        "told_before_kill": len(told),
        "landed_before_kill": len(landed_before),
        "in_doubt_at_kill": len(landed_before - set(told)),
        "resume_skipped": len(results) - len(handled),
        # Handled again although already landed: the in-flight creates the journal could not
        # know the end of; settle must find them rather than send them.
        "handled_though_landed": sum(1 for r in handled if r.body[FIELD] in landed_before),
        "states": dict(sorted(Counter(states.values()).items())),
        **tally,
        # This fake has no faults, so every create sent twice is a second stored lead.
        "resent": tally["duplicated"],
    }


async def _rated_updates(base_url: str, ids: list[str], bare: bool) -> int:
    """Update every lead once; answers how many updates were confirmed."""
    body = {"description": "updated"}
    if not bare:
        async with (
            _client(base_url) as close,
            close.leads.update_many(((i, body) for i in ids), concurrency=16) as run,
        ):
            return sum([1 async for r in run if r.ok])
    # The floor a hand-written loop reaches: 16 at a time, a 429 sleeps Retry-After (whole
    # seconds here) and tries again; no pacing before it is refused.
    gate = asyncio.Semaphore(16)
    token = base64.b64encode(f"{API_KEY}:".encode()).decode()
    async with aiohttp.ClientSession(headers={"Authorization": f"Basic {token}"}) as session:

        async def send(lead_id: str) -> int:
            while True:
                async with gate, session.put(f"{base_url}lead/{lead_id}/", json=body) as answer:
                    if answer.status != 429:
                        return int(answer.status == 200)
                    wait = float(answer.headers.get("Retry-After", "1"))
                await asyncio.sleep(wait)

        return sum(await asyncio.gather(*(send(i) for i in ids)))


def _rate_limited_run(fake: Any, count: int) -> list[dict[str, Any]]:
    async def create() -> list[str]:
        async with (
            _client(fake.base_url) as close,
            close.leads.create_many(_bodies(count), concurrency=16) as run,
        ):
            return [r.id async for r in run if r.ok]

    ids = asyncio.run(create())
    reports = []
    for side in ("close_async", "bare_aiohttp"):
        time.sleep(2)  # a fresh window for each side
        before = fake.admin("stats")
        wall = time.perf_counter()
        confirmed = asyncio.run(_rated_updates(fake.base_url, ids, side == "bare_aiohttp"))
        wall = time.perf_counter() - wall
        after = fake.admin("stats")
        reports.append(
            {
                "run": f"update-many-40-per-s-{side}",
                "count": len(ids),
                "confirmed": confirmed,
                "requests": after["requests"] - before["requests"],
                "rate_limited": after["rate_limited"] - before["rate_limited"],
                "wall_s": round(wall, 2),
                "updates_per_s": round(len(ids) / wall, 1),
            }
        )
    return reports


def main(argv: list[str] | None = None) -> None:
    """Run the three runs, one JSON line each."""
    from benchmarks._fake_process import FakeProcess

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bulk_faults")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rated", type=int, default=400, help="leads updated at 40/s (0: skip)")
    parser.add_argument("--child", nargs=2, metavar=("BASE_URL", "JOURNAL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        asyncio.run(_child(args.child[0], args.child[1], args.count, args.concurrency))
        return
    for settle in (False, True):
        with FakeProcess(["--no-record", *FAULTS]) as fake:
            report = asyncio.run(_faults_run(fake.base_url, args.count, args.concurrency, settle))
        print(json.dumps(report), flush=True)
    # Latency keeps creates in flight when the kill lands; no faults, so only the kill is tested.
    with FakeProcess(["--no-record", "--latency", "0.02"]) as fake:
        print(json.dumps(_sigkill_run(fake, args.count, args.concurrency)), flush=True)
    if args.rated:
        # Close's own shape: 40 a second per key, whole-second resets and Retry-After.
        with FakeProcess(["--no-record", "--rate", "40", "--reset-integer"]) as fake:
            for report in _rate_limited_run(fake, args.rated):
                print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
