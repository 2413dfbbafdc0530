"""What one client run and one scenario measured, and the figures derived from it."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["RunResult", "ScenarioResult"]


@attrs.define
class RunResult:
    """One client process over one workload, checked against the fake's final state.

    ``landed``: calls whose note (and outcome) are the ones this run sent, or leads created
    or updated as sent (see ``benchmarks._leads``). ``lost``: the others. ``duplicated``:
    leads created more than once (creates only). ``reported_failed``: items the client itself
    reported as failed; ``silent_lost``: lost although the client reported success;
    ``not_attempted``: items never sent (a wall time cap). ``requests``/``responses``/
    ``rate_limited`` are the fake's counts during the run (a dropped or reset connection is a
    request without a response). ``error`` is set when the client process itself failed.
    """

    label: str
    client: str
    count: int
    landed: int = 0
    lost: int = 0
    duplicated: int = 0
    reported_failed: int = 0
    silent_lost: int = 0
    not_attempted: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    requests: int = 0
    responses: int = 0
    rate_limited: int = 0
    errors: dict[str, int] = attrs.field(factory=dict)
    error: str | None = None
    t0: float = 0.0
    completions: list[float] = attrs.field(factory=list, repr=False)
    throttle_times: list[float] = attrs.field(factory=list, repr=False)

    @property
    def updates_per_s(self) -> float:
        """Updates landed per second of the run's wall time."""
        return self.landed / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_ms_per_update(self) -> float | None:
        """Client CPU (user + system) per update landed, in milliseconds."""
        return self.cpu_s * 1000 / self.landed if self.landed else None

    @property
    def requests_per_landed(self) -> float | None:
        """Requests the fake received per update landed (1.0 is the floor)."""
        return self.requests / self.landed if self.landed else None

    @property
    def share_429(self) -> float:
        """The share of the fake's responses that were 429."""
        return self.rate_limited / self.responses if self.responses else 0.0

    def to_dict(self, *, timeline: bool = False) -> dict[str, Any]:
        """JSON-ready data, derived figures included; timelines only when asked."""
        data = attrs.asdict(self)
        if not timeline:
            del data["completions"], data["throttle_times"]
        data.update(
            updates_per_s=self.updates_per_s,
            cpu_ms_per_update=self.cpu_ms_per_update,
            requests_per_landed=self.requests_per_landed,
            share_429=self.share_429,
        )
        return data


@attrs.define
class ScenarioResult:
    """The runs of one scenario; ``markdown`` instead for a delegated section (Redis).
    ``workload``: what each item is (``benchmarks._client_run.WORKLOADS``)."""

    name: str
    description: str
    bars: str = ""
    workload: str = "call-update"
    runs: list[RunResult] = attrs.field(factory=list)
    markdown: str | None = None
    seconds: float = 0.0

    def repeats(self, label: str) -> list[RunResult]:
        """Every run labelled ``label`` that produced a report, slowest first."""
        found = [r for r in self.runs if r.label == label and not r.error]
        return sorted(found, key=lambda r: r.updates_per_s)

    def run(self, label: str) -> RunResult | None:
        """The run labelled ``label``: the median by updates/s when it ran several times
        (the lower middle one of an even count); a failed run when that is all there is."""
        found = self.repeats(label)
        if found:
            return found[(len(found) - 1) // 2]
        return next((r for r in self.runs if r.label == label), None)

    def labels(self) -> list[str]:
        """The run labels in first-run order, each once."""
        return list(dict.fromkeys(r.label for r in self.runs))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "name": self.name,
            "description": self.description,
            "bars": self.bars,
            "workload": self.workload,
            "seconds": self.seconds,
            "markdown": self.markdown,
            "runs": [r.to_dict() for r in self.runs],
        }
