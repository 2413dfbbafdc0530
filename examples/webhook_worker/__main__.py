"""``python -m examples.webhook_worker receiver|worker|catchup``: run one piece of the service.

Environment: ``CLOSE_API_KEY``, ``CLOSE_WEBHOOK_KEY`` (the subscription's signature key, for
the receiver), ``REDIS_URL``, ``CLOSE_BASE_URL`` (default Close's).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket

import redis.asyncio as redis
from aiohttp import web

from close_async import DEFAULT_BASE_URL, CloseClient

from .catchup import catch_up
from .receiver import make_app
from .worker import run_worker


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.webhook_worker")
    parser.add_argument("command", choices=("receiver", "worker", "catchup"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://localhost"))
    parser.add_argument("--base-url", default=os.environ.get("CLOSE_BASE_URL", DEFAULT_BASE_URL))
    parser.add_argument("--port", type=int, default=8080, help="receiver port")
    parser.add_argument("--consumer", default=f"{socket.gethostname()}-{os.getpid()}")
    parser.add_argument("--rate", type=float, default=None, help="shared requests/s")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--one-budget",
        action="store_true",
        help="pace every endpoint together (a key limited as a whole), not group by group",
    )
    parser.add_argument("--reclaim-idle-ms", type=int, default=5_000)
    parser.add_argument("--lock-lease-ms", type=int, default=30_000)
    args = parser.parse_args()
    api_key = os.environ.get("CLOSE_API_KEY", "")
    if args.command == "receiver":
        store = redis.Redis.from_url(args.redis_url, decode_responses=True)
        app = make_app(store, os.environ["CLOSE_WEBHOOK_KEY"])
        web.run_app(app, host="127.0.0.1", port=args.port)
    elif args.command == "worker":
        asyncio.run(_worker(args, api_key))
    else:
        asyncio.run(_catchup(args, api_key))


async def _worker(args: argparse.Namespace, api_key: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run_worker(
        consumer=args.consumer,
        api_key=api_key,
        redis_url=args.redis_url,
        base_url=args.base_url,
        rate=args.rate,
        one_budget=args.one_budget,
        concurrency=args.concurrency,
        reclaim_idle_ms=args.reclaim_idle_ms,
        lock_lease_ms=args.lock_lease_ms,
        stop=stop,
    )


async def _catchup(args: argparse.Namespace, api_key: str) -> None:
    store = redis.Redis.from_url(args.redis_url, decode_responses=True)
    async with CloseClient(api_key, base_url=args.base_url) as close:
        fed = await catch_up(close, store)
    await store.aclose()
    print(f"{fed} events fed from the event log")


if __name__ == "__main__":
    main()
