"""``python -m benchmarks.hostile_memory``: the client's peak memory against hostile answers.

A streaming bomb server (:mod:`benchmarks._hostile`) runs in its own process; each
scenario runs a fresh client process, which reports its own peak RSS above what it held
after one warm-up request (imports, session and pool already paid for). Bodies are
generated as they are sent, so the server stays small too.

``--quick`` uses a 4 MiB cap instead of the default 32 MiB (same hostile sizes);
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
from typing import Any

__all__ = ["main"]

MB = 1000 * 1000
MIB = 1024 * 1024

# name: (behaviour, what the scenario does, requests in flight, attempts, expected error)
SCENARIOS: dict[str, tuple[str, str, int, int, str]] = {
    "body-300MB": (
        f"big-{300 * MB}",
        "200, a 300 MB body streamed chunked (no length)",
        1,
        1,
        "ResponseTooLargeError",
    ),
    "declared-300MB": (
        f"declared-{300 * MB}",
        "200, `Content-Length: 300000000`, then the body",
        1,
        1,
        "ResponseTooLargeError",
    ),
    "gzip-1GiB": (
        f"gzip-{1024 * MIB}",
        "200, about 1 MB of gzip that unpacks to 1 GiB",
        1,
        1,
        "ResponseTooLargeError",
    ),
    "500-300MB-retried": (
        f"html-500-{300 * MB}",
        "500 with a 300 MB HTML body, 5 attempts allowed",
        1,
        5,
        "ResponseTooLargeError",
    ),
    "500-under-cap-retried": (
        "html-500-{three_quarters_cap}",
        "500 with an HTML body of 3/4 of the cap, 5 attempts (each read, the error kept)",
        1,
        5,
        "InternalServerError",
    ),
    "8x-body-300MB": (
        f"big-{300 * MB}",
        "8 requests at once, each a 300 MB body streamed chunked",
        8,
        1,
        "ResponseTooLargeError",
    ),
}


def _peak_rss_mb() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if platform.system() == "Linux" else kib / MIB  # macOS: bytes


async def _client(port: int, name: str, cap: int) -> dict[str, Any]:
    from close_async import CloseClient, CloseError, InternalServerError, RetryPolicy

    behaviour, _, in_flight, attempts, _ = SCENARIOS[name]
    behaviour = behaviour.format(three_quarters_cap=cap * 3 // 4)
    retry = RetryPolicy.no_wait(attempts=attempts)
    async with CloseClient(
        "api_bench", base_url=f"http://127.0.0.1:{port}/", max_response_size=cap, retry=retry
    ) as close:
        # The first path segment picks the server's behaviour: one client, one pool, warmed
        # up (imports, session, a connection) before the baseline is taken.
        await close.get("json-100/activity/call/")
        baseline = _peak_rss_mb()
        outcomes = await asyncio.gather(
            *(close.get(f"{behaviour}/activity/call/") for _ in range(in_flight)),
            return_exceptions=True,
        )
        kept = [o for o in outcomes if isinstance(o, CloseError)]  # errors stay alive
        peak = _peak_rss_mb()
        requests = close.stats.requests - 1
    kinds = sorted({type(o).__name__ for o in outcomes})
    body_kept = max((len(e.body) for e in kept if isinstance(e, InternalServerError)), default=None)
    return {
        "name": name,
        "outcome": ",".join(kinds),
        "requests": requests,
        "in_flight": in_flight,
        "body_kept_chars": body_kept,
        "baseline_rss_mb": round(baseline, 1),
        "peak_rss_delta_mb": round(peak - baseline, 1),
        "errors_kept": len(kept),
    }


async def _serve() -> None:
    from benchmarks._hostile import HostileServer

    async with HostileServer() as server:
        print(server.port, flush=True)
        # Until the parent closes our stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def _run_all(cap: int) -> list[dict[str, Any]]:
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.hostile_memory", "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        figures = []
        for name, (_, what, _, _, expected) in SCENARIOS.items():
            out = subprocess.run(
                [
                    *(sys.executable, "-m", "benchmarks.hostile_memory", "--client", name),
                    *("--port", str(port), "--cap", str(cap)),
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
            figure = json.loads(out.stdout)
            figure.update(what=what, expected=expected)
            figures.append(figure)
        return figures
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


def _markdown(cap: int, figures: list[dict[str, Any]], command: str) -> str:
    lines = [
        "## Hostile answers: memory",
        "",
        f"- Command (from the repository root): `{command}`",
        f"- Cap: `max_response_size={cap}` ({cap / MIB:g} MiB, counted after decompression); "
        f"Python {platform.python_version()}, {platform.machine()}",
        "",
        "Each scenario is a fresh client process against a streaming bomb server in another "
        "process; peak RSS is the client's own, above what it held after one warm-up "
        "request. Before the cap (issue 11): the 300 MB body cost +900 MB, the gzip bomb "
        "+3.1 GB, and a huge 500 was read on every attempt and kept in the error.",
        "",
        "| scenario | what the server does | outcome | requests | peak RSS above baseline |",
        "|---|---|---|---:|---:|",
    ]
    for f in figures:
        lines.append(
            f"| {f['name']} | {f['what']} | {f['outcome']} | {f['requests']} "
            f"| +{f['peak_rss_delta_mb']:.1f} MB |"
        )
    lines += [
        "",
        "A too-large answer is refused (before reading when its `Content-Length` says so), "
        "its connection dropped, and it is never retried; a 500 within the cap is retried "
        "and its error keeps only the first 4 KB of the page. Peak memory stays within "
        "about twice the cap per request in flight (the chunks, then the joined body).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Run every scenario and print the RESULTS.md section (or JSON)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hostile_memory")
    parser.add_argument("--quick", action="store_true", help="a 4 MiB cap instead of 32 MiB")
    parser.add_argument("--json", action="store_true", help="print JSON, not Markdown")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=SCENARIOS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cap", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve())
        return
    if args.client:
        print(json.dumps(asyncio.run(_client(args.port, args.client, args.cap))))
        return
    from close_async._engine.config import DEFAULT_MAX_RESPONSE_SIZE

    cap = 4 * MIB if args.quick else DEFAULT_MAX_RESPONSE_SIZE
    figures = _run_all(cap)
    if args.json:
        print(json.dumps({"cap_bytes": cap, "scenarios": figures}, indent=2))
    else:
        command = "python -m benchmarks.hostile_memory" + (" --quick" if args.quick else "")
        print(_markdown(cap, figures, command), end="")


if __name__ == "__main__":
    main()
