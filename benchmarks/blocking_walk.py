"""``python -m benchmarks.blocking_walk``: what the blocking client adds to a long walk.

A fake Close (on a thread of its own, ``fake_close_in_thread``) holds 5,000 leads; each
client walks them all, ``close.leads.list(page_size=100)`` and then the same leads as an
export stream (``close.exports.stream("lead")``). Figures: items per second for the async
client (``async for`` in ``asyncio.run``) and the blocking one (``for``, the async walk
run on the client's loop thread), and their ratio. The best of ``--rounds`` runs each.

``--json`` prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

__all__ = ["main"]

N = 5_000
PAGE = 100


def _best(rounds: int, n: int, *walks: Callable[[], int]) -> list[float]:
    """Items per second of the fastest of ``rounds`` runs of each walk, taken in turns so a
    busy moment of the machine weighs on each alike."""
    best = [float("inf")] * len(walks)
    for _ in range(rounds):
        for which, walk in enumerate(walks):
            started = time.perf_counter()
            count = walk()
            best[which] = min(best[which], time.perf_counter() - started)
            if count != n:
                raise AssertionError(f"walked {count} items, not {n}")
    return [n / seconds for seconds in best]


def measure(rounds: int = 5, n: int = N) -> dict[str, Any]:
    """The figures (items/s) for the list walk and the export stream, async and blocking."""
    from close_async import BlockingCloseClient, CloseClient
    from close_async.testing import fake_close_in_thread

    with fake_close_in_thread(record_requests=False) as fake:
        fake.seed_objects("lead", n)
        fake.exports.delay = 0.0
        base_url = fake.base_url

        async def async_list() -> int:
            async with CloseClient("test_key", base_url=base_url) as close:
                return len([lead async for lead in close.leads.list(page_size=PAGE)])

        async def async_stream() -> int:
            async with CloseClient("test_key", base_url=base_url) as close:
                rows = close.exports.stream("lead", first_wait=0.001)
                return len([row async for row in rows])

        with BlockingCloseClient("test_key", base_url=base_url) as close:
            figures: dict[str, Any] = {"items": n}
            figures["list_async"], figures["list_blocking"] = _best(
                rounds,
                n,
                lambda: asyncio.run(async_list()),
                lambda: sum(1 for _ in close.leads.list(page_size=PAGE)),
            )
            figures["stream_async"], figures["stream_blocking"] = _best(
                rounds,
                n,
                lambda: asyncio.run(async_stream()),
                lambda: sum(1 for _ in close.exports.stream("lead", first_wait=0.001)),
            )
    for walk in ("list", "stream"):
        figures[f"{walk}_ratio"] = figures[f"{walk}_async"] / figures[f"{walk}_blocking"]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.blocking_walk")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=N)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = measure(args.rounds, args.count)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"{args.count:,} leads, best of {args.rounds} (items/s; ratio = async / blocking):")
    for walk, label in (("list", "leads.list(page_size=100)"), ("stream", "exports.stream")):
        print(
            f"  {label:28} async {figures[f'{walk}_async']:>10,.0f}  "
            f"blocking {figures[f'{walk}_blocking']:>10,.0f}  "
            f"ratio {figures[f'{walk}_ratio']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
