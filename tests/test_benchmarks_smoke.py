"""The benchmark runner on a tiny workload: it runs, reports every client, loses nothing.

``python -m benchmarks --smoke`` runs 50 updates per client in two scenarios (no limit, and
faults) against a fake Close process on loopback, and 20 lead creates or updates in two of
the lead scenarios. closeio and matplotlib are optional: the
official client and the plot are skipped when they are not installed. No timing is asserted.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks._client_run import _reset_seconds, expected_note
from benchmarks._leads import check_leads
from benchmarks._results import RunResult

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_KEYS = {
    "label",
    "client",
    "count",
    "landed",
    "lost",
    "reported_failed",
    "silent_lost",
    "not_attempted",
    "wall_s",
    "cpu_s",
    "peak_rss_mb",
    "requests",
    "responses",
    "rate_limited",
    "updates_per_s",
    "cpu_ms_per_update",
    "requests_per_landed",
    "share_429",
}
HAS_CLOSEIO = importlib.util.find_spec("closeio_api") is not None


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--smoke",
            "--no-plot",
            "--out",
            str(out),
            "--json",
            str(out / "results.json"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads((out / "results.json").read_text()), (out / "RESULTS.md").read_text()


def _runs(results: dict[str, Any], scenario: str) -> dict[str, dict[str, Any]]:
    (found,) = [s for s in results["scenarios"] if s["name"] == scenario]
    return {run["label"]: run for run in found["runs"]}


def test_smoke_reports_every_client_in_each_scenario(smoke: tuple[dict[str, Any], str]) -> None:
    results, _ = smoke
    assert [s["name"] for s in results["scenarios"]] == ["no-limit", "faults"]
    expected = {"close-async", "bare", "blocking"} | ({"official"} if HAS_CLOSEIO else set())
    for scenario in ("no-limit", "faults"):
        runs = _runs(results, scenario)
        assert set(runs) == expected
        for run in runs.values():
            assert set(run) >= RUN_KEYS
            assert run["error"] is None
            assert run["count"] == 50
            assert run["requests"] >= run["landed"] > 0
            assert run["peak_rss_mb"] > 0


@pytest.mark.parametrize("client", ["close-async", "blocking"])
@pytest.mark.parametrize("scenario", ["no-limit", "faults"])
def test_smoke_close_async_loses_no_update(
    smoke: tuple[dict[str, Any], str], scenario: str, client: str
) -> None:
    # The blocking client is the async one on a loop thread: under faults it retries the
    # same way, so it loses nothing either.
    results, _ = smoke
    ours = _runs(results, scenario)[client]
    assert ours["landed"] == ours["count"] == 50
    assert ours["lost"] == ours["reported_failed"] == ours["silent_lost"] == 0
    assert ours["not_attempted"] == 0


def test_smoke_counts_requests_on_the_server(smoke: tuple[dict[str, Any], str]) -> None:
    # Without faults or limits every update is exactly one request the fake received.
    results, _ = smoke
    for run in _runs(results, "no-limit").values():
        assert run["requests"] == run["responses"] == 50
        assert run["rate_limited"] == 0


def test_smoke_results_markdown_has_bars_tables_and_machine(
    smoke: tuple[dict[str, Any], str],
) -> None:
    _, markdown = smoke
    assert markdown.startswith("# Benchmark results")
    for heading in ("## The bars", "## no-limit", "## faults"):
        assert heading in markdown
    assert "| client | updates | landed | updates/s |" in markdown
    assert "python -m benchmarks --smoke" in markdown
    assert "- CPU: " in markdown
    assert "- Python " in markdown
    # Bars whose scenarios did not run say so instead of passing.
    assert "| not measured |" in markdown


def test_smoke_markdown_compares_the_blocking_client_with_the_official(
    smoke: tuple[dict[str, Any], str],
) -> None:
    _, markdown = smoke
    for scenario in ("no-limit", "faults"):
        section = markdown.split(f"## {scenario}\n", 1)[1].split("\n## ", 1)[0]
        assert "| blocking | 50 | 50 |" in section
        assert "- blocking / close-async: updates/s " in section
        # CI installs the [dev] extra only (closeio is in [bench]): the official client's
        # ratio is checked where closeio is installed, and is absent where it is not.
        assert ("- blocking / official: updates/s " in section) == HAS_CLOSEIO
        assert ("- blocking vs official: 429s " in section) == HAS_CLOSEIO
        assert ", CPU per update " in section


def test_blocking_latency_times_both_clients_against_one_fake(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.blocking_latency"),
            *("--count", "30", "--warmup", "5", "--rounds", "2"),
            *("--json", str(tmp_path / "latency.json")),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "latency.json").read_text())
    assert report["count"] == 30
    assert report["target_ms"] == 0.2
    # The verdict is the median over rounds of the added median, against the target.
    added = sorted(
        one["blocking"]["median_ms"] - one["async"]["median_ms"] for one in report["rounds"]
    )
    assert report["added_median_ms"] == pytest.approx((added[0] + added[1]) / 2)
    assert report["verdict"] == ("pass" if report["added_median_ms"] < 0.2 else "fail")
    assert len(report["rounds"]) == 2
    for one in report["rounds"]:
        assert set(one) >= {"async", "blocking", "added_median_ms", "added_mean_ms"}
        for client in ("async", "blocking"):
            figures = one[client]
            # Every timed call and every warm-up call reached the fake, and none failed.
            assert figures["calls"] == 30
            assert figures["server_requests"] == 35
            assert figures["median_ms"] > 0
            assert figures["mean_ms"] > 0
    for line in ("async CloseClient", "BlockingCloseClient", "added per call", "target"):
        assert line in done.stdout
    assert ("PASS" in done.stdout) != ("FAIL" in done.stdout)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"ratelimit": "limit=40, remaining=0, reset=0.53"}, 0.53),
        ({"ratelimit": "limit=40; remaining=0; reset=2"}, 2.0),
        ({"retry-after": "3"}, 3.0),
        ({"x-rate-limit-reset": "0.595956"}, 0.595956),
        ({"ratelimit": "garbage", "retry-after": "4"}, 4.0),
        ({}, 1.0),
    ],
)
def test_bare_loop_sleeps_the_reset_the_headers_give(
    headers: dict[str, str], seconds: float
) -> None:
    assert _reset_seconds(headers) == pytest.approx(seconds)


def test_bulk_faults_on_a_tiny_backfill_loses_and_duplicates_nothing() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bulk_faults",
            *("--count", "60", "--concurrency", "4", "--rated", "0"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    runs = {line["run"]: line for line in map(json.loads, done.stdout.splitlines())}
    assert set(runs) == {"faults-no-settle", "faults-settle", "sigkill-resume"}
    assert all(r["lost"] == 0 and r["duplicated"] == 0 for r in runs.values())
    assert runs["faults-no-settle"]["states"].get("unknown", 0) > 0  # the faults bit
    assert runs["sigkill-resume"]["stored"] == 60
    assert runs["sigkill-resume"]["resent"] == 0


def test_lead_check_counts_duplicates_failures_and_silent_losses() -> None:
    # Four creates: one landed, one landed twice, one absent and reported failed, one absent
    # although the client reported success.
    tag = "leads-create/0/close-async"
    leads = [
        {"id": "lead_a", "name": expected_note(tag, 0)},
        {"id": "lead_b", "name": expected_note(tag, 1)},
        {"id": "lead_c", "name": expected_note(tag, 1)},
        {"id": "lead_d", "name": expected_note("another run", 2)},
    ]
    result = RunResult("close-async", "close-async", 4)
    check_leads(result, {"failed": [2], "not_attempted": []}, leads, "lead-create", tag, [])
    assert (result.landed, result.duplicated, result.lost) == (2, 1, 2)
    assert (result.reported_failed, result.silent_lost, result.not_attempted) == (1, 1, 0)


def test_lead_check_wants_each_update_on_its_own_lead() -> None:
    tag = "leads-update/0/bare"
    leads = [
        {"id": "lead_a", "description": expected_note(tag, 0)},
        # Item 1's description landed on item 2's lead: neither counts.
        {"id": "lead_b", "description": None},
        {"id": "lead_c", "description": expected_note(tag, 1)},
    ]
    result = RunResult("bare", "bare", 3)
    report = {"failed": [], "not_attempted": [2]}
    ids = ["lead_a", "lead_b", "lead_c"]
    check_leads(result, report, leads, "lead-update", tag, ids)
    assert (result.landed, result.lost, result.duplicated) == (1, 2, 0)
    assert (result.silent_lost, result.not_attempted) == (1, 1)


def test_smoke_lead_scenarios_land_every_item_once(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks", "--smoke", "--no-plot"),
            *("--scenario", "leads-create-no-limit", "--scenario", "leads-update-limit-40"),
            *("--out", str(tmp_path), "--json", str(tmp_path / "results.json")),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    expected = {"close-async", "bare", "blocking"} | ({"official"} if HAS_CLOSEIO else set())
    for scenario in ("leads-create-no-limit", "leads-update-limit-40"):
        runs = _runs(results, scenario)
        assert set(runs) == expected
        for run in runs.values():
            assert run["error"] is None
            # 20 items fit in one 40/s window: every client lands each exactly once.
            assert run["landed"] == run["count"] == 20
            assert run["lost"] == run["duplicated"] == run["silent_lost"] == 0
            assert run["requests"] == 20
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert "| client | creates | landed | creates/s | CPU ms/create |" in markdown
    assert "| lost | duplicated | reported failed |" in markdown
    assert "| client | updates | landed | updates/s | CPU ms/update |" in markdown


def test_model_conversion_times_every_conversion() -> None:
    from benchmarks.model_conversion import measure

    figures = measure(count=20, rounds=1)
    assert set(figures) == {
        "read Lead",
        "read Call",
        "write CallUpdate",
        "write LeadCreate",
        "build CallUpdate",
    }
    assert all(micros >= 0 for micros in figures.values())
