"""``python -m benchmarks.sliced_walk``: what a sliced walk costs in requests.

A fake Close capped at ``max_skip`` holds 10,000 opportunities over a year, spread evenly or
with 80% of them on one day; ``close.opportunities.list(page_size=100, sliced=...)`` walks them
all. The figure is requests per page of a walk with no cap (``ceil(n / 100)``): the pages a
split re-reads (the first half of a window starts again from ``_skip=0``, skipping the ids
already given) are the overhead. Counts, not timings: the same seed gives the same figures.

``--json`` prints the figures as JSON instead of the Markdown section for RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["main"]

START = datetime(2024, 1, 1, tzinfo=UTC)
N = 10_000
PAGE = 100
CAPS = (500, 2_000)
SPREADS = ("even", "one busy day")


def _minutes(spread: str, rng: random.Random) -> float:
    year = 365 * 24 * 60
    if spread == "even" or rng.random() >= 0.8:
        return rng.uniform(0, year)
    return rng.uniform(0, 24 * 60)


async def _run(cap: int, spread: str) -> dict[str, Any]:
    from close_async import CloseClient, RetryPolicy, SliceOptions
    from close_async._resources.slicer import DateSlicer
    from close_async.testing import FakeClose

    rng = random.Random(7)
    async with (
        FakeClose(max_skip=cap, record_requests=False) as fake,
        CloseClient("test_key", base_url=fake.base_url, retry=RetryPolicy.no_wait()) as close,
    ):
        for _ in range(N):
            when = START + timedelta(minutes=_minutes(spread, rng))
            fake.add_object("opportunity", date_created=when.isoformat())
        options = SliceOptions(start=START, end=START + timedelta(days=366), max_skip=cap)
        walk = close.opportunities.list(page_size=PAGE, sliced=options)
        assert isinstance(walk, DateSlicer)  # typed as the Pager the list returns
        ids = [opportunity.id async for opportunity in walk]
        if len(ids) != N or len(set(ids)) != N:
            raise AssertionError(f"{len(set(ids))} distinct of {len(ids)}, expected {N}")
        pages = -(-N // PAGE)
        return {
            "max_skip": cap,
            "spread": spread,
            "objects": N,
            "requests": fake.stats.requests,
            "windows": walk.windows_walked,
            "ratio": fake.stats.requests / pages,
        }


def _markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "## Sliced walks past the `_skip` cap",
        "",
        f"`python -m benchmarks.sliced_walk`: {N:,} opportunities over a year in a fake Close "
        f"capped at `max_skip`, walked with `close.opportunities.list(page_size={PAGE}, "
        "sliced=SliceOptions(...))`; each object came back exactly once in every run. The "
        f"ratio is requests over the {-(-N // PAGE)} pages a walk without a cap would take.",
        "",
        "| max_skip | spread | requests | windows | ratio |",
        "|---:|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['max_skip']:,} | {r['spread']} | {r['requests']} | {r['windows']} "
        f"| {r['ratio']:.2f} |"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run every case; print the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sliced_walk")
    parser.add_argument("--json", action="store_true", help="print JSON, not Markdown")
    args = parser.parse_args(argv)
    rows = [asyncio.run(_run(cap, spread)) for spread in SPREADS for cap in CAPS]
    print(json.dumps(rows, indent=2) if args.json else _markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
