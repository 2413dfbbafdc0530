"""The rich progress display fits the terminal: parts are dropped, least needed first, and
none is cut short with an ellipsis."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from close_async._cli.report import Counts, Part, RichDisplay, Wording, fit_parts

# A resumed run of a large file: most rows skipped (per the journal), some settled, some
# creates whose answer was lost (unknown).
RESUMED = Counts(
    total=125_000,
    updated=61_234,
    failed=1_234,
    unknown=31,
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
    assert "102,537/125,000 rows" in last
    assert f"61,234 {wording.done}" in last
    assert "1,234 failed" in last
    # Sent, answer lost: its own count, next to failed (which it is not part of).
    assert "31 unknown" in last


def test_at_80_columns_a_resume_still_shows_what_was_skipped() -> None:
    last = screen(80, RESUMED, Wording.of("create", "leads"))[-1]
    assert "40,000 skipped" in last
    assert "…" not in last


def test_a_wide_terminal_shows_everything() -> None:
    last = screen(200, RESUMED, Wording.of("create", "leads"))[-1]
    for shown in (
        "creating leads",
        "102,537/125,000 rows",
        "61,234 created",
        "1,234 failed",
        "31 unknown",
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


def parts(*ranked: tuple[str, int]) -> list[Part]:
    return [Part(text, rank) for text, rank in ranked]


@pytest.mark.parametrize(
    ("width", "kept", "bar"),
    [
        (200, ["title", "1/9", "5 done", "ETA 3s", "rate"], 40),  # all, and the widest bar
        (39, ["title", "1/9", "5 done", "ETA 3s", "rate"], 10),  # 28 used, 1 gap, 10 bar
        (38, ["title", "1/9", "5 done", "ETA 3s", "rate"], 0),  # no room for a bar
        (27, ["title", "1/9", "5 done", "ETA 3s"], 0),  # the rate goes first
        (22, ["1/9", "5 done", "ETA 3s"], 0),  # then the title, though shorter than ETA
        (10, ["1/9", "5 done"], 0),
        (3, ["1/9", "5 done"], 0),  # the essentials stay, however narrow
    ],
)
def test_fit_parts_drops_the_least_needed_first(width: int, kept: list[str], bar: int) -> None:
    line = parts(("title", 7), ("1/9", 0), ("5 done", 1), ("ETA 3s", 6), ("rate", 8))
    fitted, bar_width = fit_parts(line, width)
    assert [p.text for p in fitted] == kept  # in the order shown, not by rank
    assert bar_width == bar


def test_a_part_that_does_not_fit_stops_the_less_needed_ones() -> None:
    # "long skipped" (rank 3) does not fit: "x" (rank 4) would, but is not shown instead.
    line = parts(("1/9", 0), ("long skipped", 3), ("x", 4))
    fitted, _ = fit_parts(line, 8)
    assert [p.text for p in fitted] == ["1/9"]
