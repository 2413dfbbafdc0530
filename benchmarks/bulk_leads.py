"""``python -m benchmarks.bulk_leads``: leads ``create_many``/``update_many`` against a bare
aiohttp loop doing the same requests, on loopback against one fake Close process.

Both sides send ``--count`` POSTs and then as many PUTs, ``concurrency`` at a time, in this
process (the fake runs in its own, unlimited, ``--no-record``); the bare loop is the floor:
a semaphore, one ``aiohttp`` session, no limiter, retries, journal or parsing. Rounds
alternate the two sides so drift of the shared machine hits both. Figures: wall seconds
and CPU seconds of this process per 1,000 items.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
from typing import Any

import aiohttp

__all__ = ["main"]

API_KEY = "test_key"  # the fake's default key


async def _close_async(base_url: str, count: int, concurrency: int) -> list[str]:
    from close_async import CloseClient

    async with CloseClient(API_KEY, base_url=base_url) as close:
        bodies = ({"name": f"bench {i}"} for i in range(count))
        async with close.leads.create_many(bodies, concurrency=concurrency) as run:
            ids = [r.id async for r in run if r.ok]
        items = ((lead_id, {"description": "updated"}) for lead_id in ids)
        async with close.leads.update_many(items, concurrency=concurrency) as run:
            updated = [r async for r in run if r.ok]
    assert len(ids) == len(updated) == count
    return ids


async def _bare(base_url: str, count: int, concurrency: int) -> list[str]:
    gate = asyncio.Semaphore(concurrency)
    token = base64.b64encode(f"{API_KEY}:".encode()).decode()
    async with aiohttp.ClientSession(headers={"Authorization": f"Basic {token}"}) as session:

        async def send(method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
            async with gate, session.request(method, base_url + path, json=body) as answer:
                answer.raise_for_status()
                result: dict[str, Any] = await answer.json()
                return result

        created = await asyncio.gather(
            *(send("POST", "lead/", {"name": f"bench {i}"}) for i in range(count))
        )
        ids = [lead["id"] for lead in created]
        await asyncio.gather(*(send("PUT", f"lead/{i}/", {"description": "updated"}) for i in ids))
    return ids


def _measure(side: Any, base_url: str, count: int, concurrency: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    asyncio.run(side(base_url, count, concurrency))
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> None:
    """Run the rounds and print the medians as JSON."""
    import close_async  # imported before the clock starts: import time is not the figure
    from benchmarks._fake_process import FakeProcess

    del close_async

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bulk_leads")
    parser.add_argument("--count", type=int, default=2000, help="leads created, then updated")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    figures: dict[str, list[tuple[float, float]]] = {"close_async": [], "bare_aiohttp": []}
    with FakeProcess(["--no-record"]) as fake:
        for _ in range(args.rounds):
            figures["close_async"].append(
                _measure(_close_async, fake.base_url, args.count, args.concurrency)
            )
            figures["bare_aiohttp"].append(
                _measure(_bare, fake.base_url, args.count, args.concurrency)
            )
    items = 2 * args.count
    report: dict[str, Any] = {"count": args.count, "concurrency": args.concurrency}
    for name, runs in figures.items():
        walls = sorted(w for w, _ in runs)
        cpus = sorted(c for _, c in runs)
        report[name] = {
            "wall_s_median": round(walls[len(walls) // 2], 3),
            "cpu_ms_per_item_median": round(1000 * cpus[len(cpus) // 2] / items, 3),
            "items_per_s_median": round(items / walls[len(walls) // 2]),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
