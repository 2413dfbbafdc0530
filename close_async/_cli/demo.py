"""``close-async demo``: a bulk update against an in-process fake Close, then a check.

The fake runs on a free loopback port with a per-key rate limit and faults switched on
(5xx pages, connection resets, and updates applied whose answer is then lost). The rows
go through :func:`~close_async._cli.update.run_updates`, the very path ``calls update``
uses; afterwards every call is read back from the fake's state to show each update landed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any, TextIO

from .._client import CloseClient
from .input import InputRow
from .plural import counted
from .report import Display, print_summary
from .update import EXIT_FAILED, EXIT_OK, UpdateSettings, run_updates

__all__ = ["demo_row", "run_demo"]

# A few percent of every fault Close's network can throw at a backfill.
_ERROR_RATE = 0.03
_RESET_RATE = 0.01
_DROP_AFTER_APPLY_RATE = 0.02
_OUTCOMES = ("left-voicemail", "no-answer", "meeting-booked", "call-back")


def demo_row(index: int, call_id: str) -> dict[str, Any]:
    """The update the demo sends to its ``index``-th call, as a JSON Lines row."""
    from ..testing import fake_id

    outcome = _OUTCOMES[index % len(_OUTCOMES)]
    return {
        "id": call_id,
        "note_html": f"<p>Demo follow-up #{index}: <b>{outcome.replace('-', ' ')}</b></p>",
        "outcome_id": fake_id("outc", outcome),
        "custom.cf_demo_batch": "demo",
        "custom.cf_demo_index": index,
    }


def _rows(ids: list[str]) -> Iterator[InputRow]:
    for index, call_id in enumerate(ids):
        yield InputRow(index + 1, demo_row(index, call_id))


def _landed(call: dict[str, Any] | None, row: dict[str, Any]) -> bool:
    if call is None:
        return False
    custom = call.get("custom_fields") or {}
    return bool(
        call.get("note_html") == row["note_html"]
        and call.get("outcome_id") == row["outcome_id"]
        and custom.get("cf_demo_batch") == row["custom.cf_demo_batch"]
        and custom.get("cf_demo_index") == row["custom.cf_demo_index"]
    )


async def run_demo(
    *,
    calls: int,
    concurrency: int,
    rate: int,
    seed: int,
    out: TextIO,
    display: Display,
    handle_signals: bool = True,
) -> int:
    """Run the demo; 0 when every update landed and was verified, else 1 (130 interrupted)."""
    from ..testing import FakeClose, FakeFaults, FakeRateLimit

    # A throwaway key for the fake only; nothing real is ever involved.
    api_key = "demo_" + secrets.token_hex(8)
    fake = FakeClose(
        api_keys=(api_key,),
        rate_limit=FakeRateLimit(rate),
        faults=FakeFaults(
            error_rate=_ERROR_RATE,
            reset_rate=_RESET_RATE,
            drop_after_apply_rate=_DROP_AFTER_APPLY_RATE,
            seed=seed,
        ),
        record_requests=False,
    )
    ids = fake.seed_calls(calls)
    async with fake:
        out.write(
            f"demo: a fake Close at {fake.base_url} with {counted(calls, 'call')}, a limit of "
            f"{rate}/s "
            f"per key, and faults on ({_ERROR_RATE:.0%} 5xx pages, {_RESET_RATE:.0%} "
            f"connection resets, {_DROP_AFTER_APPLY_RATE:.0%} answers lost after applying)\n"
            f"updating every call's note, outcome and two custom fields, "
            f"{concurrency} at a time...\n"
        )
        out.flush()
        settings = UpdateSettings(concurrency=concurrency, handle_signals=handle_signals)
        async with CloseClient(
            api_key, base_url=fake.base_url, max_connections=concurrency
        ) as client:
            outcome = await run_updates(
                client, _rows(ids), "jsonl", settings, display, total=len(ids)
            )
        print_summary(outcome.counts, out)
        if outcome.exit_code not in (EXIT_OK, EXIT_FAILED):
            return outcome.exit_code
        stats = fake.stats
        landed = sum(
            _landed(fake.calls.get(call_id), demo_row(i, call_id)) for i, call_id in enumerate(ids)
        )
        resent = stats.applied_updates - landed
        out.write(
            f"faults met: {counted(stats.injected_errors, '5xx page')}, "
            f"{counted(stats.resets, 'reset')}, "
            f"{counted(stats.drops, 'answer')} lost after applying, "
            f"{counted(stats.rate_limited, '429')}\n"
            f"check against the fake's state: {landed:,} of {counted(len(ids), 'call')} "
            f"{'holds its' if landed == 1 else 'hold their'} update "
            f"({counted(stats.applied_updates, 'PUT')} applied; {max(resent, 0):,} re-sent "
            "after a lost answer, harmless since PUT is idempotent)\n"
        )
        ok = landed == len(ids) and outcome.exit_code == EXIT_OK
        out.write("demo: OK, every update landed\n" if ok else "demo: FAILED, see above\n")
        return EXIT_OK if ok else EXIT_FAILED
