"""One client run, in its own process: ``python -m benchmarks._client_run --client NAME ...``.

The runner starts this once per (scenario, client), so the CPU time and the peak RSS read here
belong to that client alone. The workload (``--workload``) is a generator of items, each one
request's worth, the ``i``-th carrying :func:`expected_note` ``(tag, i)`` so the runner can
check the fake's final state:

- ``call-update`` (the default): a note and an outcome on each seeded call
  ``fake_call_id(start) .. fake_call_id(start + count - 1)``;
- ``lead-create``: one lead per item, the note as its ``name``;
- ``lead-update``: the note as the ``description`` of each lead id of ``--ids-file``
  (one a line, seeded by the runner).

The one line printed on stdout is a JSON report (see :func:`_report`).

Clients:

- ``close-async``: ``CloseClient`` with its defaults and ``calls.update_many``,
  ``leads.create_many`` or ``leads.update_many`` (``concurrency=32``).
- ``bare``: the floor of this stack: one ``aiohttp.ClientSession``, a semaphore of 32, one task
  per item (at most 32 alive), a minimal retry on 429 (sleep the header's reset, else 1 s)
  and on 5xx and connection errors (5 attempts, 0.5 s apart); it decodes each answer's JSON.
- ``official``: ``closeio_api.Client`` pointed at the fake, shared by a ``ThreadPoolExecutor``
  of 32 workers fed with ``executor.map``, the way its users run it (``api.put`` or
  ``api.post``).
- ``blocking``: one ``BlockingCloseClient`` with its defaults, shared by the same pool fed
  the same way (:func:`_pooled`), one blocking call per item (``close.calls.update``,
  ``close.leads.create`` or ``close.leads.update``): the official client's set-up with
  only the client swapped.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import importlib
import json
import re
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from close_async.testing import fake_call_id

__all__ = [
    "CLIENTS",
    "LEAD_FIELD",
    "OUTCOME_ID",
    "WORKLOADS",
    "expected_note",
    "main",
    "peak_rss_mb",
]

CLIENTS = ("close-async", "bare", "official", "blocking")
"""The client names this module can run, in report order."""

WORKLOADS = ("call-update", "lead-create", "lead-update")
"""What one run does with each item (see the module docstring)."""

LEAD_FIELD = {"lead-create": "name", "lead-update": "description"}
"""The lead field each lead workload writes :func:`expected_note` into."""

# (method, path under the API base; "{}" is the item's id). The official client adds the
# trailing slash itself.
_REQUESTS = {
    "call-update": ("PUT", "activity/call/{}/"),
    "lead-create": ("POST", "lead/"),
    "lead-update": ("PUT", "lead/{}/"),
}

OUTCOME_ID = "outc_benchmark"
"""The outcome every benchmark update sets, next to its note."""

CONCURRENCY = 32

_PENDING, _OK, _FAILED = 0, 1, 2
_RESET_RE = re.compile(r"reset\s*=\s*([0-9.]+)")


def expected_note(tag: str, index: int) -> str:
    """The note that item ``index`` of the run tagged ``tag`` writes."""
    return f"bench {tag} #{index}"


Item = tuple[int, str, dict[str, Any]]
"""(index, the id the request goes to, or "" for a create; the JSON body)."""


def _ids(path: str) -> Iterator[str]:
    with open(path) as lines:
        for line in lines:
            yield line.strip()


def _items(args: argparse.Namespace) -> Iterator[Item]:
    # A generator, never a list: the memory scenario depends on it.
    if args.workload == "call-update":
        for i in range(args.count):
            note = expected_note(args.tag, i)
            yield i, fake_call_id(args.start + i), {"note": note, "outcome_id": OUTCOME_ID}
    elif args.workload == "lead-create":
        for i in range(args.count):
            yield i, "", {"name": expected_note(args.tag, i)}
    else:
        ids = _ids(args.ids_file)
        for i in range(args.count):
            yield i, next(ids), {"description": expected_note(args.tag, i)}


class _Tally:
    """Per-item outcome (a bytearray: 1 byte per item), error kinds, completion times."""

    def __init__(self, count: int, timeline: bool) -> None:
        self.state = bytearray(count)
        self.errors: collections.Counter[str] = collections.Counter()
        self.completions: list[float] | None = [] if timeline else None
        self._lock = threading.Lock()

    def ok(self, index: int) -> None:
        self.state[index] = _OK
        if self.completions is not None:
            self.completions.append(time.monotonic())

    def failed(self, index: int, error: str) -> None:
        # The official client's worker threads call this concurrently.
        with self._lock:
            self.state[index] = _FAILED
            self.errors[error] += 1


# -- close-async ----------------------------------------------------------------------------


async def _run_close_async(args: argparse.Namespace, tally: _Tally) -> dict[str, Any]:
    from close_async import CloseClient
    from close_async.models import CallUpdate

    async with CloseClient(api_key=args.api_key, base_url=args.base_url) as client:
        items = _items(args)
        if args.workload == "call-update":
            run: Any = client.calls.update_many(
                ((call_id, CallUpdate(**body)) for _i, call_id, body in items),
                concurrency=CONCURRENCY,
            )
        elif args.workload == "lead-create":
            run = client.leads.create_many((b for _i, _id, b in items), concurrency=CONCURRENCY)
        else:
            run = client.leads.update_many(
                ((lead_id, b) for _i, lead_id, b in items), concurrency=CONCURRENCY
            )
        stopper = asyncio.get_running_loop().call_later(args.cap, run.stop)
        async with run:
            async for result in run:
                if result.ok:
                    tally.ok(result.index)
                else:
                    tally.failed(result.index, type(result.error).__name__)
        stopper.cancel()
        return {"client_requests": client.stats.requests, "client_429s": client.stats.rate_limited}


# -- the bare aiohttp loop --------------------------------------------------------------------


def _reset_seconds(headers: Mapping[str, str]) -> float:
    for name in ("ratelimit", "retry-after", "x-rate-limit-reset"):
        value = headers.get(name)
        if value is None:
            continue
        match = _RESET_RE.search(value) if name == "ratelimit" else None
        try:
            return float(match.group(1) if match else value)
        except ValueError:
            continue
    return 1.0


async def _bare_send(session: Any, method: str, url: str, body: bytes) -> str | None:
    """None when the request landed, else what went wrong."""
    import aiohttp

    faults = 0
    throttles = 0
    while True:
        try:
            async with session.request(method, url, data=body) as response:
                payload = await response.read()
                if response.status == 200:
                    json.loads(payload)
                    return None
                if response.status == 429 and throttles < 30:
                    throttles += 1
                    await asyncio.sleep(_reset_seconds(response.headers))
                    continue
                problem = f"HTTP {response.status}"
                if response.status < 500:
                    return problem
        except (aiohttp.ClientError, TimeoutError) as exc:
            problem = type(exc).__name__
        faults += 1
        if faults >= 5:
            return problem
        await asyncio.sleep(0.5)


async def _run_bare(args: argparse.Namespace, tally: _Tally) -> dict[str, Any]:
    import aiohttp

    token = base64.b64encode(f"{args.api_key}:".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    method, path = _REQUESTS[args.workload]
    deadline = time.monotonic() + args.cap
    semaphore = asyncio.Semaphore(CONCURRENCY)
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(
        headers=headers, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:

        async def one(index: int, target: str, body: dict[str, Any]) -> None:
            try:
                url = args.base_url + path.format(target)
                problem = await _bare_send(session, method, url, json.dumps(body).encode())
                if problem is None:
                    tally.ok(index)
                else:
                    tally.failed(index, problem)
            finally:
                semaphore.release()

        for index, target, body in _items(args):
            await semaphore.acquire()
            if time.monotonic() > deadline:
                semaphore.release()
                break
            task = asyncio.create_task(one(index, target, body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    return {}


# -- the official closeio client ----------------------------------------------------------------


def _pooled(
    args: argparse.Namespace, tally: _Tally, send: Callable[[str, dict[str, Any]], object]
) -> None:
    """``send(target, body)`` for each item from a ``ThreadPoolExecutor`` of 32 fed through
    ``executor.map``: how the thread clients (official, blocking) run, the same for both."""
    deadline = time.monotonic() + args.cap

    def one(item: Item) -> None:
        index, target, body = item
        if time.monotonic() > deadline:
            return
        try:
            send(target, body)
        except Exception as exc:
            response = getattr(exc, "response", None)
            status = getattr(response, "status_code", None)
            tally.failed(index, f"{type(exc).__name__} {status}" if status else type(exc).__name__)
        else:
            tally.ok(index)

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        for _ in pool.map(one, _items(args)):
            pass


def _run_official(args: argparse.Namespace, tally: _Tally) -> dict[str, Any]:
    from closeio_api import Client

    api = Client(api_key=args.api_key)
    # closeio builds every URL as base_url + endpoint: point it at the fake.
    api.base_url = args.base_url
    method, path = _REQUESTS[args.workload]
    verb = api.post if method == "POST" else api.put

    def send(target: str, body: dict[str, Any]) -> object:
        return verb(path.format(target).rstrip("/"), data=body)

    _pooled(args, tally, send)
    return {}


# -- the blocking client (one BlockingCloseClient shared by the pool) -------------------------


def _run_blocking(args: argparse.Namespace, tally: _Tally) -> dict[str, Any]:
    from close_async import BlockingCloseClient
    from close_async.models import CallUpdate

    with BlockingCloseClient(api_key=args.api_key, base_url=args.base_url) as close:
        send: Callable[[str, dict[str, Any]], object]
        if args.workload == "call-update":

            def send(target: str, body: dict[str, Any]) -> object:
                # The typed body, as the close-async run sends it.
                return close.calls.update(target, CallUpdate(**body))

        elif args.workload == "lead-create":

            def send(target: str, body: dict[str, Any]) -> object:
                return close.leads.create(body)

        else:
            send = close.leads.update
        _pooled(args, tally, send)
        return {"client_requests": close.stats.requests, "client_429s": close.stats.rate_limited}


# -- the report -------------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB.

    ``VmHWM`` from ``/proc/self/status`` where there is one: on Linux ``ru_maxrss`` keeps
    the parent's peak across fork and exec, so a child started by a big parent would report
    the parent's memory. Elsewhere, ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux, in bytes on macOS; /proc covers Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _report(
    args: argparse.Namespace,
    tally: _Tally,
    t0: float,
    wall: float,
    cpu: float,
    extra: dict[str, Any],
) -> dict[str, Any]:
    state = tally.state
    failed = [i for i, s in enumerate(state) if s == _FAILED]
    not_attempted = [i for i, s in enumerate(state) if s == _PENDING]
    report: dict[str, Any] = {
        "client": args.client,
        "count": args.count,
        "t0": t0,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak_rss_mb(),
        "ok": state.count(_OK),
        "failed": failed,
        "not_attempted": not_attempted,
        "errors": dict(tally.errors),
        **extra,
    }
    if tally.completions is not None:
        report["completions"] = [round(t - t0, 4) for t in tally.completions]
    return report


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._client_run")
    parser.add_argument("--client", choices=CLIENTS, required=True)
    parser.add_argument("--workload", choices=WORKLOADS, default="call-update")
    parser.add_argument("--ids-file", help="lead-update: the lead ids, one a line")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--start", type=int, default=0, help="first seeded call index")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--tag", required=True, help="makes this run's notes unique")
    parser.add_argument("--cap", type=float, default=600.0, help="stop starting items after")
    parser.add_argument("--timeline", action="store_true", help="report completion times")
    args = parser.parse_args(argv)
    if args.workload == "lead-update" and not args.ids_file:
        parser.error("--workload lead-update needs --ids-file")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run one client over the workload and print its JSON report on stdout."""
    args = _parse(argv)
    tally = _Tally(args.count, args.timeline)
    if args.client == "official":
        # Imports are not the update loop's cost (close-async and aiohttp are in already).
        importlib.import_module("closeio_api")
    elif args.client == "blocking":
        importlib.import_module("close_async._blocking.client")
    cpu0 = _cpu_seconds()
    t0 = time.monotonic()
    if args.client == "close-async":
        extra = asyncio.run(_run_close_async(args, tally))
    elif args.client == "bare":
        extra = asyncio.run(_run_bare(args, tally))
    elif args.client == "official":
        extra = _run_official(args, tally)
    else:
        extra = _run_blocking(args, tally)
    wall = time.monotonic() - t0
    cpu = _cpu_seconds() - cpu0
    sys.stdout.write(json.dumps(_report(args, tally, t0, wall, cpu, extra)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
