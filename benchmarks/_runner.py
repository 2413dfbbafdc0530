"""The runner behind ``python -m benchmarks``: scenarios, client processes, the final check.

For each scenario: a fresh fake Close process, seeded with one range of calls (or, for lead
updates, of leads) per client run; each run gets its own API key (so its own rate-limit
windows), its own range and its own notes; the fake's counters are reset before each run and
read after it; at the end the fake's final state says, item by item, which requests landed
(calls: ``/_fake/calls``; leads: listed back, see ``benchmarks._leads``).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from close_async.testing import fake_call_id, key_fingerprint

from ._client_run import CLIENTS, OUTCOME_ID, expected_note
from ._fake_process import FakeProcess
from ._leads import READER_KEY, check_leads, seed_leads, stored_leads
from ._report import render_markdown, write_plot
from ._results import RunResult, ScenarioResult
from ._scenarios import (
    FULL,
    QUICK,
    REDIS_SCENARIO,
    REDIS_WHOLE_SECOND_SCENARIOS,
    SMOKE,
    WEBHOOK_SCENARIO,
    Scenario,
    scenario_names,
    scenarios,
)

__all__ = ["main", "run_scenario"]

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
PLOT_NAME = "rate_limited.png"


def _log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def _api_key(scenario: Scenario, n: int, client: str) -> str:
    return f"bench_{scenario.name}_{n}_{client}"


def _tag(scenario: Scenario, n: int) -> str:
    return f"{scenario.name}/{n}/{scenario.runs[n].label}"


def _run_client(
    fake: FakeProcess, scenario: Scenario, n: int, start: int, ids: Sequence[str]
) -> dict[str, Any]:
    run = scenario.runs[n]
    command = [
        sys.executable,
        "-m",
        "benchmarks._client_run",
        "--client",
        run.client,
        "--workload",
        scenario.workload,
        "--base-url",
        fake.base_url,
        "--api-key",
        _api_key(scenario, n, run.client),
        "--start",
        str(start),
        "--count",
        str(run.count),
        "--tag",
        _tag(scenario, n),
        "--cap",
        str(run.cap),
    ]
    if scenario.timeline:
        command.append("--timeline")
    with tempfile.NamedTemporaryFile("w", suffix=".ids") as ids_file:
        if scenario.workload == "lead-update":
            ids_file.write("".join(f"{i}\n" for i in ids[start : start + run.count]))
            ids_file.flush()
            command += ["--ids-file", ids_file.name]
        done = subprocess.run(
            command,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=run.cap + 300,
            check=False,
        )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"exit {done.returncode}: {done.stderr.strip()[-1500:]}")
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def _check_final_state(
    result: RunResult, report: dict[str, Any], calls: dict[str, Any], start: int, tag: str
) -> None:
    failed = set(report["failed"])
    not_attempted = set(report["not_attempted"])
    landed = silent = 0
    for i in range(result.count):
        call = calls.get(fake_call_id(start + i)) or {}
        if call.get("note") == expected_note(tag, i) and call.get("outcome_id") == OUTCOME_ID:
            landed += 1
        elif i not in failed and i not in not_attempted:
            silent += 1
    result.landed = landed
    result.lost = result.count - landed
    result.silent_lost = silent
    result.reported_failed = len(failed)
    result.not_attempted = len(not_attempted)


def run_scenario(scenario: Scenario) -> ScenarioResult:
    """Run every client of ``scenario`` against one fresh fake server process."""
    began = time.monotonic()
    outcome = ScenarioResult(
        scenario.name, scenario.description, scenario.bars, workload=scenario.workload
    )
    keys = [_api_key(scenario, n, run.client) for n, run in enumerate(scenario.runs)]
    total = sum(run.count for run in scenario.runs)
    calls = scenario.workload == "call-update"
    fake_args = ["--seed-calls", str(total if calls else 0), *scenario.fake_args]
    for key in [*keys, READER_KEY]:
        fake_args += ["--api-key", key]
    if not scenario.timeline:
        fake_args.append("--no-record")
    reports: list[tuple[RunResult, dict[str, Any] | None, int, str]] = []
    with FakeProcess(fake_args) as fake:
        ids = seed_leads(fake, total) if scenario.workload == "lead-update" else []
        start = 0
        for n, run in enumerate(scenario.runs):
            result = RunResult(run.label, run.client, run.count)
            fake.admin("reset", method="POST")
            report: dict[str, Any] | None = None
            try:
                report = _run_client(fake, scenario, n, start, ids)
            except (RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
                result.error = f"{type(exc).__name__}: {exc}"
            stats = fake.admin("stats")
            by_status = stats["by_status"]
            result.requests = stats["requests"]
            result.responses = (
                stats["requests"] - by_status.get("reset", 0) - by_status.get("dropped", 0)
            )
            result.rate_limited = by_status.get("429", 0)
            if report is not None:
                result.wall_s = report["wall_s"]
                result.cpu_s = report["cpu_s"]
                result.peak_rss_mb = report["peak_rss_mb"]
                result.errors = report["errors"]
                result.t0 = report["t0"]
                result.completions = report.get("completions", [])
            if scenario.timeline:
                fingerprint = key_fingerprint(keys[n])
                recorded = fake.admin("requests?last=10000000")["requests"]
                result.throttle_times = [
                    round(r["time"] - result.t0, 4)
                    for r in recorded
                    if r["status"] == 429 and r["key"] == fingerprint
                ]
            reports.append((result, report, start, _tag(scenario, n)))
            start += run.count
        final_calls: dict[str, Any] = fake.admin("calls")["calls"] if calls else {}
        final_leads = [] if calls else stored_leads(fake)
    for result, report, first, tag in reports:
        if report is not None and calls:
            _check_final_state(result, report, final_calls, first, tag)
        elif report is not None:
            check_leads(result, report, final_leads, scenario.workload, tag, ids[first:])
        outcome.runs.append(result)
        _log(
            f"  {scenario.name:24} {result.label:20} {result.updates_per_s:8.1f} items/s  "
            f"landed {result.landed}/{result.count}  lost {result.lost}  "
            f"dup {result.duplicated}  429s {result.rate_limited}  req {result.requests}"
            + (f"  ERROR {result.error}" if result.error else "")
        )
    outcome.seconds = time.monotonic() - began
    return outcome


def _redis_section(quick: bool, configs: tuple[str, ...] | None = None) -> str:
    if shutil.which("redis-server") is None:
        return "skipped: no redis-server"
    try:
        module = importlib.import_module("benchmarks.redis_workers")
    except ImportError as exc:
        return f"skipped: benchmarks.redis_workers is not importable ({exc})"
    try:
        if configs is None:
            return str(module.run(quick))
        return str(module.run(quick, configs=configs))
    except Exception as exc:
        return f"failed: {type(exc).__name__}: {exc}"


def _available_clients(wanted: Sequence[str]) -> list[str]:
    clients = []
    for client in wanted:
        if client not in CLIENTS:
            raise SystemExit(f"unknown client {client!r}; choose from {', '.join(CLIENTS)}")
        if client == "official" and importlib.util.find_spec("closeio_api") is None:
            _log("closeio is not installed: the official client is skipped")
            continue
        clients.append(client)
    return clients


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="close-async vs a bare aiohttp loop vs the official closeio client vs "
        "the blocking client, against the fake Close on loopback.",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small workloads (about 1.5 min)")
    mode.add_argument("--smoke", action="store_true", help="tiny workloads (for the tests)")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=scenario_names(),
        metavar="NAME",
        help="run only this scenario (repeatable): " + ", ".join(scenario_names()),
    )
    parser.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help="comma-separated clients to run (default: all of them)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for RESULTS.md and the plot (default: benchmarks/ for a full run; "
        "partial runs print the report unless --out is given)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results as JSON")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    return parser.parse_args(argv)


def _command(argv: Sequence[str]) -> str:
    return " ".join(["python", "-m", "benchmarks", *argv])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = _parse(args_list)
    size = SMOKE if args.smoke else QUICK if args.quick else FULL
    clients = _available_clients([c for c in args.clients.split(",") if c])
    if args.scenario:
        wanted = set(args.scenario)
    elif args.smoke:
        wanted = {"no-limit", "faults"}
    else:
        wanted = set(scenario_names())
    partial = args.quick or args.smoke or args.scenario is not None
    out_dir: Path | None = args.out if args.out is not None else None if partial else BENCH_DIR
    started_at = datetime.datetime.now(datetime.UTC)
    began = time.monotonic()

    results: list[ScenarioResult] = []
    for scenario in scenarios(size, clients):
        if scenario.name not in wanted or not scenario.runs:
            continue
        _log(f"scenario {scenario.name}")
        results.append(run_scenario(scenario))
    if REDIS_SCENARIO in wanted:
        _log(f"scenario {REDIS_SCENARIO}")
        redis_began = time.monotonic()
        section = ScenarioResult(REDIS_SCENARIO, "Redis-shared limit, 4 worker processes.")
        section.markdown = _redis_section(args.quick)
        section.seconds = time.monotonic() - redis_began
        results.append(section)
    for name, config in REDIS_WHOLE_SECOND_SCENARIOS.items():
        if name not in wanted:
            continue
        _log(f"scenario {name}")
        redis_began = time.monotonic()
        section = ScenarioResult(name, "Redis-shared limit, whole-second resets, 4 workers.")
        section.markdown = _redis_section(args.quick, (config,))
        section.seconds = time.monotonic() - redis_began
        results.append(section)
    if WEBHOOK_SCENARIO in wanted:
        _log(f"scenario {WEBHOOK_SCENARIO}")
        from . import webhook_worker

        webhook_began = time.monotonic()
        section = ScenarioResult(WEBHOOK_SCENARIO, "Webhooks to a Redis Streams worker pool.")
        section.markdown = webhook_worker.markdown(webhook_worker.run(20 if args.smoke else 500))
        section.seconds = time.monotonic() - webhook_began
        results.append(section)
    total_seconds = time.monotonic() - began

    plot_file: str | None = None
    if out_dir is not None and not args.no_plot:
        out_dir.mkdir(parents=True, exist_ok=True)
        if write_plot(results, out_dir / PLOT_NAME):
            plot_file = PLOT_NAME
    markdown = render_markdown(
        results,
        command=_command(args_list),
        started_at=started_at,
        total_seconds=total_seconds,
        plot_file=plot_file,
        mode=("smoke" if args.smoke else "quick" if args.quick else "full")
        + (", selected scenarios" if args.scenario else ""),
    )
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "RESULTS.md").write_text(markdown)
        _log(f"wrote {out_dir / 'RESULTS.md'}")
    else:
        sys.stdout.write(markdown)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "command": _command(args_list),
                    "total_seconds": total_seconds,
                    "scenarios": [r.to_dict() for r in results],
                },
                indent=1,
            )
        )
    return 0
