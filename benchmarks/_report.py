"""RESULTS.md (tables, ratios, the bars' status, the machine) and the rate-limit plot."""

from __future__ import annotations

import datetime
import importlib.metadata
import importlib.util
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ._results import RunResult, ScenarioResult

__all__ = ["Bar", "evaluate_bars", "machine_lines", "render_markdown", "write_plot"]

PLOT_SCENARIO = "limit-40-ratelimit"
_MB = 40.0

Bar = tuple[str, str, str]
"""(the bar, its status: holds / fails / not measured, what was measured)."""


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    """The output of one read-only git command run in the repository."""
    root = Path(__file__).resolve().parent.parent
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def _sdk_commit() -> str:
    """The repository's commit, and whether close_async/ differs from it (read-only git)."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "close_async")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" with uncommitted changes in close_async/" if dirty else "")


def machine_lines() -> list[str]:
    """The machine and the versions that matter, as markdown list items."""
    return [
        f"- CPU: {_cpu_model()}, {os.cpu_count()} cores ({platform.machine()}), "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        f"- aiohttp {_version('aiohttp')}, close-async {_version('close-async')}, "
        f"closeio {_version('closeio')} (requests {_version('requests')})",
        f"- close-async commit: {_sdk_commit()}",
    ]


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:,.{digits}f}"


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _noun(s: ScenarioResult) -> str:
    """What one item of the scenario is: "update" (calls, leads) or "create"."""
    return s.workload.rpartition("-")[2]


def _creates(s: ScenarioResult) -> bool:
    # Only a create can land twice: the table then has a duplicated column.
    return _noun(s) == "create"


def _header(s: ScenarioResult) -> str:
    noun = _noun(s)
    dup, dup_align = ("duplicated | ", "---:|") if _creates(s) else ("", "")
    return (
        f"| client | {noun}s | landed | {noun}s/s | CPU ms/{noun} | requests/landed | 429 share "
        f"| lost | {dup}reported failed | silent lost | not attempted | wall s | peak RSS MB |\n"
        f"|---|---:|---:|---:|---:|---:|---:|---:|{dup_align}---:|---:|---:|---:|---:|"
    )


def _row(r: RunResult, creates: bool = False) -> str:
    if r.error:
        blanks = 10 if creates else 9
        return f"| {r.label} | {r.count:,} | – | failed to run: {r.error[:120]} |" + " |" * blanks
    dup = f"| {r.duplicated:,} " if creates else ""
    return (
        f"| {r.label} | {r.count:,} | {r.landed:,} | {_fmt(r.updates_per_s)} "
        f"| {_fmt(r.cpu_ms_per_update, 3)} | {_fmt(r.requests_per_landed, 2)} "
        f"| {_pct(r.share_429)} | {r.lost:,} {dup}| {r.reported_failed:,} | {r.silent_lost:,} "
        f"| {r.not_attempted:,} | {_fmt(r.wall_s, 2)} | {_fmt(r.peak_rss_mb)} |"
    )


def _error_notes(runs: Sequence[RunResult]) -> list[str]:
    notes = []
    for r in runs:
        if r.errors:
            kinds = sorted(r.errors.items(), key=lambda kv: -kv[1])
            shown = "; ".join(f"{kind} ×{n}" for kind, n in kinds[:6])
            notes.append(f"- {r.label}: errors reported: {shown}")
    return notes


def _spread_lines(s: ScenarioResult) -> list[str]:
    noun = _noun(s)
    lines = []
    for label in s.labels():
        runs = s.repeats(label)
        if len(runs) > 1:
            cpus = sorted(r.cpu_ms_per_update or 0.0 for r in runs)
            throttled = sorted(r.rate_limited for r in runs)
            lines.append(
                f"- {label}: {len(runs)} runs, the median shown; {noun}s/s "
                f"{_fmt(runs[0].updates_per_s)}–{_fmt(runs[-1].updates_per_s)}, "
                f"CPU ms/{noun} {_fmt(cpus[0], 3)}–{_fmt(cpus[-1], 3)}"
                + (f", 429s {throttled[0]:,}–{throttled[-1]:,}" if throttled[-1] else "")
            )
    return lines


def _ratio_lines(s: ScenarioResult) -> list[str]:
    ours, bare, official = s.run("close-async"), s.run("bare"), s.run("official")
    noun = _noun(s)
    lines = []
    if ours and bare:
        lines.append(
            f"- close-async / bare loop: {noun}s/s "
            f"{_fmt(_ratio(ours.updates_per_s, bare.updates_per_s), 2)}, "
            f"CPU per {noun} {_fmt(_ratio(ours.cpu_ms_per_update, bare.cpu_ms_per_update), 2)}"
        )
    if ours and official:
        lines.append(
            f"- close-async / official: {noun}s/s "
            f"{_fmt(_ratio(ours.updates_per_s, official.updates_per_s), 2)}, "
            f"CPU per {noun} "
            f"{_fmt(_ratio(ours.cpu_ms_per_update, official.cpu_ms_per_update), 2)}"
        )
    blocking = s.run("blocking")
    if blocking and official:
        # The same thread pool and feeding on both sides: the ratios are the clients'.
        lines.append(
            f"- blocking / official: {noun}s/s "
            f"{_fmt(_ratio(blocking.updates_per_s, official.updates_per_s), 2)}, "
            f"CPU per {noun} "
            f"{_fmt(_ratio(blocking.cpu_ms_per_update, official.cpu_ms_per_update), 2)}"
        )
        lines.append(
            f"- blocking vs official: 429s {blocking.rate_limited:,} vs "
            f"{official.rate_limited:,}, lost {blocking.lost:,} vs {official.lost:,} "
            f"(of {blocking.count:,} and {official.count:,})"
        )
    if blocking and ours:
        lines.append(
            f"- blocking / close-async: {noun}s/s "
            f"{_fmt(_ratio(blocking.updates_per_s, ours.updates_per_s), 2)}, "
            f"CPU per {noun} "
            f"{_fmt(_ratio(blocking.cpu_ms_per_update, ours.cpu_ms_per_update), 2)}"
        )
    if official and official.landed:
        extra = (official.requests_per_landed or 1.0) - 1.0
        lines.append(
            f"- official: {_pct(extra)} extra requests per {noun} landed, "
            f"{_pct(official.lost / official.count)} of its {noun}s lost "
            f"({official.reported_failed:,} reported failed, "
            f"{official.not_attempted:,} not attempted before its cap)"
        )
    if s.name.startswith("limit-40-") and ours and ours.throttle_times:
        early = sum(1 for t in ours.throttle_times if t < 1.0)
        later = len(ours.throttle_times) - early
        share_later = later / ours.responses if ours.responses else 0.0
        lines.append(
            f"- close-async 429s over time: {early:,} in the first second (the requests "
            f"already in flight when Close first refused, before it had said any limit), "
            f"{later:,} after ({_pct(share_later)} of responses)"
        )
    if s.name == "memory":
        for client in ("close-async", "bare"):
            pair = [r for r in s.runs if r.client == client and not r.error]
            if len(pair) == 2:
                small, large = sorted(pair, key=lambda r: r.count)
                lines.append(
                    f"- {client}: peak RSS {_fmt(large.peak_rss_mb)} MB for {large.count:,} "
                    f"updates vs {_fmt(small.peak_rss_mb)} MB for {small.count:,}: "
                    f"+{_fmt(large.peak_rss_mb - small.peak_rss_mb)} MB"
                )
    return lines


def _demote_headings(markdown: str) -> str:
    # A delegated section sits under its own "## name": its headings go one level down.
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.split("\n"))


def _status(ok: bool) -> str:
    return "holds" if ok else "**fails**"


def evaluate_bars(results: Sequence[ScenarioResult]) -> list[Bar]:
    """The project's bars, each with its measured status."""
    by_name = {s.name: s for s in results}
    bars: list[Bar] = []
    unmeasured = "not measured"

    no_limit = by_name.get("no-limit")
    ours = no_limit.run("close-async") if no_limit else None
    bare = no_limit.run("bare") if no_limit else None
    official = no_limit.run("official") if no_limit else None
    speed = _ratio(ours.updates_per_s, bare.updates_per_s) if ours and bare else None
    cpu = _ratio(ours.cpu_ms_per_update, bare.cpu_ms_per_update) if ours and bare else None
    bars.append(
        (
            "No limit: close-async ≥ 80% of the bare loop's updates/s (aim 90%)",
            unmeasured if speed is None else _status(speed >= 0.8),
            f"{_fmt((speed or 0) * 100)}%" if speed is not None else "–",
        )
    )
    bars.append(
        (
            "No limit: close-async ≤ 1.5x the bare loop's CPU per update",
            unmeasured if cpu is None else _status(cpu <= 1.5),
            f"{_fmt(cpu, 2)}x" if cpu is not None else "–",
        )
    )
    several = _ratio(ours.updates_per_s, official.updates_per_s) if ours and official else None
    bars.append(
        (
            "No limit: several times (≥ 3x) the official client's updates/s",
            unmeasured if several is None else _status(several >= 3),
            f"{_fmt(several, 2)}x" if several is not None else "–",
        )
    )

    limited = [s for s in results if s.name.startswith("limit-40-")]
    rates = [(s.name, s.run("close-async")) for s in limited]
    measured = [(name, r) for name, r in rates if r is not None and not r.error]
    if measured:
        slowest = min(measured, key=lambda nr: nr[1].updates_per_s)
        worst = max(measured, key=lambda nr: nr[1].share_429)
        bars.append(
            (
                "40 req/s limit: close-async ≥ 36 updates/s (every 429 style)",
                _status(all(r.updates_per_s >= 36 for _, r in measured)),
                f"lowest {_fmt(slowest[1].updates_per_s)}/s ({slowest[0]}), {len(measured)} styles",
            )
        )
        bars.append(
            (
                "40 req/s limit: 429s < 2% of responses (every 429 style)",
                _status(all(r.share_429 < 0.02 for _, r in measured)),
                f"highest {_pct(worst[1].share_429)} ({worst[0]})",
            )
        )
    else:
        bars.append(("40 req/s limit: ≥ 36 updates/s, 429s < 2%", unmeasured, "–"))

    faults = by_name.get("faults")
    fr = faults.run("close-async") if faults else None
    if fr is not None and not fr.error:
        bars.append(
            (
                "Faults: zero close-async updates lost or failed",
                _status(fr.lost == 0 and fr.reported_failed == 0),
                f"{fr.lost} lost, {fr.reported_failed} failed of {fr.count:,}",
            )
        )
    else:
        bars.append(("Faults: zero close-async updates lost or failed", unmeasured, "–"))

    memory = by_name.get("memory")
    pair = sorted(
        [r for r in memory.runs if r.client == "close-async" and not r.error] if memory else [],
        key=lambda r: r.count,
    )
    if len(pair) == 2:
        grown = pair[1].peak_rss_mb - pair[0].peak_rss_mb
        bars.append(
            (
                f"Memory: {pair[1].count:,} streamed updates within 40 MB of {pair[0].count:,}",
                _status(grown <= _MB),
                f"+{_fmt(grown)} MB ({_fmt(pair[0].peak_rss_mb)} → {_fmt(pair[1].peak_rss_mb)})",
            )
        )
    else:
        bars.append(("Memory: streamed updates within 40 MB", unmeasured, "–"))
    return bars


def render_markdown(
    results: Sequence[ScenarioResult],
    *,
    command: str,
    started_at: datetime.datetime,
    total_seconds: float,
    plot_file: str | None,
    mode: str,
) -> str:
    """The whole RESULTS.md."""
    out = [
        "# Benchmark results: close-async vs a bare aiohttp loop vs the official client",
        "",
        f"- Date: {started_at:%Y-%m-%d %H:%M} UTC; mode: {mode}; took {total_seconds / 60:.1f} min",
        f"- Command (from the repository root): `{command}`",
        *machine_lines(),
        "",
        "Each scenario runs a fresh fake Close (`python -m close_async.testing`) in its own "
        "process; each client runs in its own process (CPU time and peak RSS are the "
        "client's alone; CPU is user + system time of the update loop, imports excluded). "
        "Requests and 429s are the fake's counts, not the client's. `lost`: the call's note "
        "in the fake's final state is not the one the client sent; `silent lost`: lost "
        "while the client reported success; `not attempted`: never sent before the client's "
        "wall time cap. updates/s counts updates that landed. In the `leads-*` scenarios "
        "the lead's name (creates) or description (updates) is checked instead, and "
        "`duplicated` counts leads created twice. All clients run 32 requests at once "
        "(`official` and `blocking` from 32 threads sharing one client). "
        "See `benchmarks/README.md`.",
        "",
        "## The bars",
        "",
        "| bar | status | measured |",
        "|---|---|---|",
    ]
    out += [f"| {bar} | {status} | {value} |" for bar, status, value in evaluate_bars(results)]
    out.append("")
    for s in results:
        out += [f"## {s.name}", ""]
        if s.markdown is not None:
            out += [_demote_headings(s.markdown.strip()), ""]
            continue
        out += [s.description + f" ({s.seconds:.0f} s)", ""]
        if s.bars:
            out += [f"Bar: {s.bars}.", ""]
        shown = [r for r in (s.run(label) for label in s.labels()) if r is not None]
        out += [_header(s), *(_row(r, _creates(s)) for r in shown), ""]
        notes = _spread_lines(s) + _ratio_lines(s) + _error_notes(shown)
        if notes:
            out += [*notes, ""]
        if s.name == PLOT_SCENARIO and plot_file:
            out += [f"![updates landed and 429s over time]({plot_file})", ""]
    return "\n".join(out).rstrip() + "\n"


def write_plot(results: Sequence[ScenarioResult], path: Path) -> bool:
    """Plot updates landed and 429s over time in the rate-limited scenario; False if none
    (no such scenario, or matplotlib is not installed)."""
    scenario = next((s for s in results if s.name == PLOT_SCENARIO), None)
    if scenario is None or importlib.util.find_spec("matplotlib") is None:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    colors = {
        "close-async": "tab:blue",
        "bare": "tab:green",
        "official": "tab:red",
        "blocking": "tab:purple",
    }
    for r in scenario.runs:
        if r.error:
            continue
        color = colors.get(r.client, "tab:gray")
        times = sorted(r.completions)
        top.step(times, range(1, len(times) + 1), where="post", color=color, label=r.label)
        bins = max(1, math.ceil(max([*r.throttle_times, r.wall_s, 1.0])))
        counts = [0] * bins
        for t in r.throttle_times:
            counts[min(bins - 1, max(0, int(t)))] += 1
        bottom.step(range(bins), counts, where="post", color=color, label=r.label)
    top.set_ylabel("updates landed (cumulative)")
    top.set_title("40 requests/s per key, `ratelimit` header style: updates landed and 429s")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    # Symlog: the official client's hundreds and close-async's handful on one axis.
    bottom.set_yscale("symlog", linthresh=10)
    bottom.set_ylabel("429s per second")
    bottom.set_xlabel("seconds since the client started its updates")
    bottom.legend(loc="upper right")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
