"""``python -m examples.webhook_worker receiver|worker|catchup``: run one piece of the service.

``--help`` lists the pieces, the receiver's path and every environment variable read.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket

from aiohttp import web

from close_async import DEFAULT_BASE_URL, CloseClient

from .catchup import catch_up
from .receiver import PATH, make_app
from .store import RECEIVER_RETRIES, WORKER_RETRIES, connect
from .worker import run_worker

ENVIRONMENT = {
    "CLOSE_API_KEY": "the API key the worker and catchup call Close with",
    "CLOSE_WEBHOOK_KEY": "the subscription's signature_key, to verify deliveries (receiver)",
    "REDIS_URL": "the Redis holding the stream, locks and the shared budget "
    "(default redis://localhost; --redis-url overrides it)",
    "CLOSE_BASE_URL": f"the API's base URL (default {DEFAULT_BASE_URL}; --base-url overrides it)",
    "LOG_LEVEL": "logging level (default INFO: one line per event; WARNING: reconnects, "
    "takeovers and failures only)",
}

DESCRIPTION = f"""\
Close webhooks -> Redis stream -> workers, one piece per command:

  receiver  serve POST {PATH}: verify each delivery's signature, append
            activity.call.created events to the Redis stream, answer 200 once Redis
            holds the event (503 while Redis is down, so Close delivers it again)
  worker    consume the stream in the consumer group: apply each event once, then
            acknowledge it; take over entries a dead worker left; ride out Redis
            restarts and failovers
  catchup   feed the stream the events the event log has and the workers missed
            (run it after an outage of the receiver; the first run reads the whole log)

Run `python -m examples.webhook_worker COMMAND --help` for a command's options."""


def _epilog() -> str:
    lines = ["environment variables:"]
    lines += [f"  {name:<18} {meaning}" for name, meaning in ENVIRONMENT.items()]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="python -m examples.webhook_worker",
        description=DESCRIPTION,
        epilog=_epilog(),
        formatter_class=formatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://localhost"), help="$REDIS_URL"
    )
    close = argparse.ArgumentParser(add_help=False)
    close.add_argument(
        "--base-url",
        default=os.environ.get("CLOSE_BASE_URL", DEFAULT_BASE_URL),
        help="$CLOSE_BASE_URL",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    receiver = commands.add_parser(
        "receiver",
        parents=[common],
        help=f"serve POST {PATH} (needs CLOSE_WEBHOOK_KEY)",
        description=f"Serve POST {PATH}: verified activity.call.created events onto the stream.",
        epilog=_epilog(),
        formatter_class=formatter,
    )
    receiver.add_argument("--host", default="127.0.0.1")
    receiver.add_argument("--port", type=int, default=8080)
    worker = commands.add_parser(
        "worker",
        parents=[common, close],
        help="consume the stream (needs CLOSE_API_KEY)",
        description="Consume the stream in the consumer group, each event applied once.",
        epilog=_epilog(),
        formatter_class=formatter,
    )
    worker.add_argument(
        "--consumer",
        default=f"{socket.gethostname()}-{os.getpid()}",
        help="this worker's name in the group (default host-pid)",
    )
    worker.add_argument("--rate", type=float, default=None, help="shared requests/s")
    worker.add_argument("--concurrency", type=int, default=8)
    worker.add_argument(
        "--one-budget",
        action="store_true",
        help="pace every endpoint together (a key limited as a whole), not group by group",
    )
    worker.add_argument(
        "--reclaim-idle-ms",
        type=int,
        default=5_000,
        help="take over an entry pending this long in any consumer",
    )
    worker.add_argument("--lock-lease-ms", type=int, default=30_000)
    commands.add_parser(
        "catchup",
        parents=[common, close],
        help="feed the stream what the event log has and the workers missed",
        description="Walk the event log back to the last catch-up and feed the missed events.",
        epilog=_epilog(),
        formatter_class=formatter,
    )
    return parser


def main() -> None:
    args = _parser().parse_args()
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    api_key = os.environ.get("CLOSE_API_KEY", "")
    if args.command == "receiver":
        signature_key = os.environ.get("CLOSE_WEBHOOK_KEY")
        if not signature_key:
            raise SystemExit("receiver: set CLOSE_WEBHOOK_KEY to the subscription's signature_key")
        store = connect(args.redis_url, retries=RECEIVER_RETRIES)
        app = make_app(store, signature_key)
        # The receiver logs one line per delivery itself; an access log would double it.
        web.run_app(app, host=args.host, port=args.port, access_log=None)
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
    store = connect(args.redis_url, retries=WORKER_RETRIES)
    try:
        async with CloseClient(api_key, base_url=args.base_url) as close:
            report = await catch_up(close, store)
    finally:
        await store.aclose()
    print(report)


if __name__ == "__main__":
    main()
