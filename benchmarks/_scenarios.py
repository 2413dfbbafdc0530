"""The benchmark scenarios: the fake server's options and the client runs of each.

Three sizes: the full run (about 9 minutes on 2 cores), ``--quick`` (about two minutes)
and ``--smoke`` (a few seconds, for the test suite).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from close_async.testing import RATE_LIMIT_STYLES

__all__ = [
    "REDIS_SCENARIO",
    "REDIS_WHOLE_SECOND_SCENARIOS",
    "WEBHOOK_SCENARIO",
    "WHOLE_SECOND_SCENARIO",
    "Run",
    "Scenario",
    "Size",
    "scenario_names",
    "scenarios",
]

WEBHOOK_SCENARIO = "webhook-worker"
"""The webhook worker recipe end to end, delegated to ``benchmarks.webhook_worker.run``."""

REDIS_SCENARIO = "redis-4-workers"
"""The Redis multi-process scenario, delegated to ``benchmarks.redis_workers.run``."""

REDIS_WHOLE_SECOND_SCENARIOS = {
    "redis-whole-second-rate-40": "redis-true-rate",
    "redis-whole-second-learned": "redis-learned",
}
"""Redis scenarios against whole-second resets: name -> ``redis_workers`` configuration."""

WHOLE_SECOND_SCENARIO = "whole-second-1-process"
"""One process against Close's whole-second resets (issue 9)."""

# Generous for a run that should finish: it only stops a client that hangs.
_NO_CAP = 300.0

# The clients run from a ThreadPoolExecutor of 32 (benchmarks._client_run._pooled).
_THREAD_CLIENTS = ("official", "blocking")


@attrs.frozen
class Run:
    """One client process over ``count`` updates; ``label`` names its row in the report.

    ``cap``: seconds after which the client starts no new update (what it did is reported).
    """

    label: str
    client: str
    count: int
    cap: float = _NO_CAP


@attrs.frozen
class Scenario:
    """A fresh fake server (``fake_args``) and the client runs against it, one after another.

    ``timeline``: record each completion and each 429 over time (for the plot); the fake
    then keeps its request log. ``workload``: what each item is (``call-update``,
    ``lead-create``, ``lead-update``: see ``benchmarks._client_run``).
    """

    name: str
    description: str
    fake_args: tuple[str, ...]
    runs: tuple[Run, ...]
    timeline: bool = False
    bars: str = ""
    workload: str = "call-update"


@attrs.frozen
class Size:
    """Workload sizes of one run mode."""

    no_limit: int
    latency: int
    limited: int
    official_cap_limited: float
    faults: int
    memory_small: int
    memory_large: int
    repeats: int = 1
    whole_second: int = 1_200
    leads_no_limit: int = 3_000
    leads_limited: int = 600
    leads_repeats: int = 3


FULL = Size(20_000, 2_000, 600, 25.0, 2_000, 2_000, 100_000, repeats=5)
QUICK = Size(
    2_000,
    500,
    120,
    6.0,
    500,
    2_000,
    20_000,
    repeats=2,
    whole_second=240,
    leads_no_limit=500,
    leads_limited=120,
    leads_repeats=1,
)
SMOKE = Size(
    50,
    50,
    50,
    5.0,
    50,
    50,
    200,
    whole_second=50,
    leads_no_limit=20,
    leads_limited=20,
    leads_repeats=1,
)

_FAULTS = (
    "--error-rate",
    "0.03",
    "--reset-rate",
    "0.02",
    "--drop-after-apply-rate",
    "0.02",
    "--slow-rate",
    "0.02",
    "--slow-seconds",
    "0.5",
    "--seed",
    "7",
)


def _three(
    count: int,
    clients: Sequence[str],
    official_cap: float = _NO_CAP,
    repeats: int = 1,
    repeat_official: bool = False,
) -> tuple[Run, ...]:
    """One run per client; with ``repeats``, close-async, the bare loop and the blocking
    client run that many times, interleaved, so a noisy neighbour on the machine hits them
    alike (the report shows the median run). The official client, far slower on 20,000
    calls, runs once unless ``repeat_official``. The blocking client is cut off when the
    official one is: the two run the same thread pool, only the client differs."""

    def cap(client: str) -> float:
        return official_cap if client in _THREAD_CLIENTS else _NO_CAP

    runs = [Run(client, client, count, cap(client)) for client in clients]
    for _ in range(repeats - 1):
        runs += [Run(c, c, count, cap(c)) for c in clients if repeat_official or c != "official"]
    return tuple(runs)


def _lead_scenarios(size: Size, clients: Sequence[str]) -> list[Scenario]:
    """Leads ``create_many`` and ``update_many``, no limit and 40/s, every
    client ``size.leads_repeats`` times, interleaved."""
    found = []
    limited = ("--rate", "40", "--style", "ratelimit", "--reset-integer")
    # The thread clients at 40/s with 32 threads: give them three times the ideal time.
    official_cap = max(10.0, 3 * size.leads_limited / 40)
    repeats = (
        f", every client {size.leads_repeats} times, interleaved (median shown)"
        if size.leads_repeats > 1
        else ""
    )
    for workload, verb, what in (
        ("lead-create", "create", "`leads.create_many` (POST /lead/)"),
        ("lead-update", "update", "`leads.update_many` (PUT /lead/{id}/ on seeded leads)"),
    ):
        found.append(
            Scenario(
                f"leads-{verb}-no-limit",
                f"{what}, no server limit, no latency: pure client cost. "
                f"{size.leads_no_limit:,} items{repeats}.",
                (),
                _three(
                    size.leads_no_limit,
                    clients,
                    repeats=size.leads_repeats,
                    repeat_official=True,
                ),
                workload=workload,
            )
        )
        found.append(
            Scenario(
                f"leads-{verb}-limit-40",
                f"{what}, 40 requests/s per key (fixed 1 s window), 429s in the `ratelimit` "
                f"style, resets and Retry-After rounded up to whole seconds as Close does. "
                f"{size.leads_limited:,} items{repeats}; the official and blocking clients "
                f"are cut off after {official_cap:g} s.",
                limited,
                _three(
                    size.leads_limited,
                    clients,
                    official_cap,
                    repeats=size.leads_repeats,
                    repeat_official=True,
                ),
                workload=workload,
            )
        )
    return found


def scenarios(size: Size, clients: Sequence[str]) -> list[Scenario]:
    """Every scenario at ``size``, running only ``clients`` (a subset of ``CLIENTS``)."""
    found = [
        Scenario(
            "no-limit",
            f"No server limit, no latency: pure client cost. {size.no_limit:,} updates"
            + (
                f", every client but the official one {size.repeats} times each"
                if size.repeats > 1
                else ""
            )
            + ".",
            (),
            _three(size.no_limit, clients, repeats=size.repeats),
            bars="close-async ≥ 80% of the bare loop's updates/s, ≤ 1.5x its CPU per update",
        ),
        Scenario(
            "latency-50ms",
            f"50 ms server latency on every request: concurrency matters. "
            f"{size.latency:,} updates.",
            ("--latency", "0.05"),
            _three(size.latency, clients),
        ),
    ]
    for style in RATE_LIMIT_STYLES:
        found.append(
            Scenario(
                f"limit-40-{style}",
                f"40 requests/s per key (fixed 1 s window), 429s in the `{style}` style, "
                f"resets and Retry-After rounded up to whole seconds as Close does. "
                f"{size.limited:,} updates; the official and blocking clients are cut off "
                f"after {size.official_cap_limited:g} s.",
                ("--rate", "40", "--style", style, "--reset-integer"),
                _three(size.limited, clients, size.official_cap_limited),
                timeline=True,  # 429s over time: the plot, and start-up burst vs steady state
                bars="close-async ≥ 36 updates/s, 429s < 2% of responses",
            )
        )
    found.append(
        Scenario(
            WHOLE_SECOND_SCENARIO,
            f"40 requests/s per key, whole-second resets and Retry-After (as Close sends), "
            f"20 ms latency; close-async alone. {size.whole_second:,} updates.",
            ("--rate", "40", "--reset-integer", "--latency", "0.02"),
            tuple(Run(c, c, size.whole_second) for c in clients if c == "close-async"),
            bars="close-async ≥ 38 updates/s with no 429",
        )
    )
    found.append(
        Scenario(
            "faults",
            f"Faults: 3% 5xx pages, 2% connection resets, 2% drops after applying, "
            f"2% slow replies (0.5 s). {size.faults:,} updates.",
            _FAULTS,
            _three(size.faults, clients),
            bars="close-async: zero updates lost or failed",
        )
    )
    memory_clients = [c for c in ("close-async", "bare") if c in clients]
    found.append(
        Scenario(
            "memory",
            f"Streamed input (a generator): peak RSS of {size.memory_large:,} updates "
            f"against {size.memory_small:,}.",
            (),
            tuple(
                Run(f"{client} {count:,}", client, count)
                for client in memory_clients
                for count in (size.memory_small, size.memory_large)
            ),
            bars=f"close-async: {size.memory_large:,} updates within 40 MB of "
            f"{size.memory_small:,}",
        )
    )
    found += _lead_scenarios(size, clients)
    return found


def scenario_names() -> list[str]:
    """Every scenario name, the Redis one included, in run order."""
    return [
        *(s.name for s in scenarios(SMOKE, ["close-async"])),
        REDIS_SCENARIO,
        *REDIS_WHOLE_SECOND_SCENARIOS,
        WEBHOOK_SCENARIO,
    ]
