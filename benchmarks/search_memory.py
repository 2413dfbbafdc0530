"""``python -m benchmarks.search_memory``: a search stream's memory at 2,000 and 100,000 results.

For each size the fake Close runs in a process of its own, seeded with that many leads;
a fresh client process walks ``close.search(...)`` over all of them, page by page, and
reports its peak RSS and the tracemalloc peak, both above what it held after a warm-up
page (imports, session and pool already paid for). A flat stream holds one page at a time,
so the two sizes should read the same within noise (the issue asks within 10 MB).

``--json`` prints the figures as JSON instead of the Markdown section for RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import subprocess
import sys
import tracemalloc
from typing import Any

__all__ = ["main"]

SIZES = (2_000, 100_000)
QUERY = {"type": "object_type", "object_type": "lead"}
KEY = "bench_key"


async def _serve(leads: int) -> None:
    from close_async.testing import FakeClose

    async with FakeClose(api_keys=(KEY,)) as fake:
        fake.seed_objects("lead", leads)
        print(fake.base_url, flush=True)
        await asyncio.Event().wait()


def _rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def _walk(base_url: str) -> dict[str, Any]:
    from close_async import CloseClient

    async with CloseClient(KEY, base_url=base_url) as close:
        async for _ in close.search(QUERY, limit=1):
            pass
        rss_before = _rss_kib()
        tracemalloc.start()
        count = 0
        async for _ in close.search(QUERY, page_size=200):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {"results": count, "rss_delta_kib": _rss_kib() - rss_before, "traced_peak": peak}


def _measure(leads: int) -> dict[str, Any]:
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.search_memory", "--serve", str(leads)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        client = subprocess.run(
            [sys.executable, "-m", "benchmarks.search_memory", "--client", base_url],
            capture_output=True,
            text=True,
            check=True,
        )
        report: dict[str, Any] = json.loads(client.stdout)
        return report
    finally:
        server.terminate()
        server.wait()


def _markdown(rows: dict[int, dict[str, Any]]) -> str:
    lines = [
        "## Search stream memory (issue 14)",
        "",
        f"`python -m benchmarks.search_memory` ({platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}): the fake Close in its own "
        "process, a fresh client process per size walking `close.search(...)` with 200 a "
        "page; deltas are above the client's memory after a warm-up page.",
        "",
        "| results | peak RSS delta | tracemalloc peak |",
        "|---:|---:|---:|",
    ]
    for row in rows.values():
        lines.append(
            f"| {row['results']:,} | {row['rss_delta_kib'] / 1024:.1f} MiB "
            f"| {row['traced_peak'] / 1024 / 1024:.2f} MiB |"
        )
    small, large = rows[SIZES[0]], rows[SIZES[-1]]
    diff = (large["rss_delta_kib"] - small["rss_delta_kib"]) / 1024
    lines += ["", f"100,000 against 2,000: {diff:+.1f} MiB of peak RSS (flat within 10 MB)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one of its two processes); print the figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search_memory")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print JSON, not Markdown")
    args = parser.parse_args(argv)
    if args.serve is not None:
        asyncio.run(_serve(args.serve))
        return 0
    if args.client is not None:
        print(json.dumps(asyncio.run(_walk(args.client))))
        return 0
    rows = {size: _measure(size) for size in SIZES}
    print(json.dumps(rows, indent=2) if args.json else _markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
