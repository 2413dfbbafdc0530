"""The rich progress display fits the terminal: parts are dropped, least needed first, and
none is cut short with an ellipsis."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from close_async._cli.report import Counts, RichDisplay, Wording

# A resumed run of a large file: most rows skipped (per the journal), some settled.
RESUMED = Counts(
    total=125_000,
    updated=61_234,
    failed=1_234,
    skipped=40_000,
    settled=26,
    invalid=12,
    elapsed=3_723.0,
)


def screen(width: int, counts: Counts, wording: Wording) -> list[str]:
    """The display's final state on a ``width``-column terminal, as lines of text."""
    console = Console(
        file=io.StringIO(), force_terminal=True, width=width, color_system=None, record=True
    )
    display = RichDisplay(console, wording=wording)
    display.start(Counts(total=counts.total))
    display.refresh(counts)
    display.close(counts)
    # Every frame drawn while it ran (control codes dropped, so frames run together).
    drawn = console.export_text(clear=True)
    assert "…" not in drawn, drawn
    console.print(display)  # what it shows now, alone
    return [line for line in console.export_text().splitlines() if line.strip()]


@pytest.mark.parametrize("width", [80, 60])
@pytest.mark.parametrize(
    "wording", [Wording(), Wording.of("create", "opportunities")], ids=["calls", "create"]
)
def test_a_resumed_run_fits_the_terminal_uncut(width: int, wording: Wording) -> None:
    lines = screen(width, RESUMED, wording)
    assert lines
    last = lines[-1]
    assert all(len(line) <= width for line in lines), lines
    assert "…" not in "\n".join(lines), lines
    # The counts that say where the run stands stay in view.
    assert "102,506/125,000" in last
    assert f"61,234 {wording.done}" in last
    assert "1,234 failed" in last


def test_at_80_columns_a_resume_still_shows_what_was_skipped() -> None:
    last = screen(80, RESUMED, Wording.of("create", "leads"))[-1]
    assert "40,000 skipped" in last
    assert "…" not in last


def test_a_wide_terminal_shows_everything() -> None:
    last = screen(200, RESUMED, Wording.of("create", "leads"))[-1]
    for shown in (
        "creating leads",
        "102,506/125,000",
        "61,234 created",
        "1,234 failed",
        "40,000 skipped",
        "26 settled",
        "12 invalid",
        "ETA",
    ):
        assert shown in last, last


def test_an_unknown_total_fits_too() -> None:
    counts = Counts(total=None, updated=5_000, failed=3, skipped=70_000, elapsed=100.0)
    lines = screen(60, counts, Wording())
    assert "…" not in "\n".join(lines), lines
    assert "5,000 updated" in lines[-1]
