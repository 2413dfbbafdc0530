"""``python -m benchmarks.model_conversion``: the converter alone, without I/O.

Times (CPU, ``time.process_time``, best of ``--rounds``) reading ``--count`` answers into
``Lead`` and ``Call`` and writing ``--count`` request bodies (``CallUpdate`` as
``calls.update_many`` sends it, ``LeadCreate`` as ``leads.create_many`` does), through the
one converter's front doors (``Model.from_json``, ``to_json``). A tree from before the call
models were generated reads and writes calls with ``call_from_json`` and
``update_to_json`` instead, so an old and a new converter are measured alike: run it on
each tree and compare the microseconds per item.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

__all__ = ["main", "measure"]

LEAD: dict[str, Any] = {
    "id": "lead_IIDHIStmFcFQZZP0BRe99V1MCoXWz2PGCm6EDmR9v2O",
    "name": "Acme Inc.",
    "display_name": "Acme Inc.",
    "description": "Anvils and rockets",
    "url": "https://acme.example",
    "status_id": "stat_1",
    "status_label": "Potential",
    "organization_id": "orga_1",
    "created_by": "user_1",
    "created_by_name": "Ada",
    "updated_by": "user_1",
    "updated_by_name": "Ada",
    "date_created": "2026-01-02T03:04:05.123000+00:00",
    "date_updated": "2026-01-02T03:04:05.123000+00:00",
    "html_url": "https://app.close.com/lead/lead_x/",
    "contact_ids": ["cont_1"],
    "addresses": [{"label": "business", "city": "Paris", "country": "FR", "tz_ids": []}],
    "contacts": [
        {
            "id": "cont_1",
            "name": "Ada",
            "emails": [{"email": "ada@example.com", "type": "office"}],
            "phones": [{"phone": "+16503334444", "type": "office"}],
        }
    ],
    "opportunities": [],
    "tasks": [],
    "custom.cf_tier": "Gold",
    "custom.cf_seats": 12,
}

CALL: dict[str, Any] = {
    "_type": "Call",
    "id": "acti_3fXh0mYvKZTrXMbmVSdVbLrnOBFGnJQ0IvyA0MYFwGy",
    "organization_id": "orga_1",
    "date_created": "2013-02-01T00:54:51.331000+00:00",
    "date_updated": "2013-02-01T00:54:51.336000+00:00",
    "activity_at": "2013-02-01T00:54:51.331000+00:00",
    "lead_id": "lead_1",
    "contact_id": None,
    "created_by": "user_1",
    "user_id": "user_1",
    "users": ["user_1"],
    "source": "External",
    "status": "completed",
    "direction": "outbound",
    "duration": 153,
    "cost": "1.50",
    "note": "Call notes",
    "phone": "+16503334444",
    "is_forwarded": False,
}


def _best(rounds: int, count: int, run: Callable[[], object]) -> float:
    """Best CPU microseconds per item over ``rounds`` runs of ``count`` items."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best / count * 1e6


def measure(count: int, rounds: int) -> dict[str, float]:
    """Microseconds per item of each conversion."""
    from close_async.models import Call, CallUpdate, Lead, LeadCreate

    read_call: Callable[[Any], Any] = Call.from_json
    write_update: Callable[[Any], Any] = CallUpdate.to_json
    if not hasattr(Call, "from_json"):  # before issue 26: the hand-written call models
        from close_async._types import conversion

        read_call = conversion.call_from_json  # type: ignore[attr-defined]
        write_update = conversion.update_to_json  # type: ignore[attr-defined]

    leads = [dict(LEAD, id=f"lead_{i}") for i in range(count)]
    calls = [dict(CALL, id=f"acti_{i}") for i in range(count)]
    updates = [CallUpdate(note=f"note #{i}", outcome_id="outcome_1") for i in range(count)]
    creates = [
        LeadCreate(name=f"Lead #{i}", extra={"custom.cf_tier": "Gold"}) for i in range(count)
    ]
    return {
        "read Lead": _best(rounds, count, lambda: [Lead.from_json(p) for p in leads]),
        "read Call": _best(rounds, count, lambda: [read_call(p) for p in calls]),
        "write CallUpdate": _best(rounds, count, lambda: [write_update(u) for u in updates]),
        "write LeadCreate": _best(rounds, count, lambda: [c.to_json() for c in creates]),
        "build CallUpdate": _best(
            rounds, count, lambda: [CallUpdate(note="n", outcome_id="o") for _ in range(count)]
        ),
    }


def main(argv: list[str] | None = None) -> None:
    """Print microseconds per item of each conversion."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.model_conversion")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = measure(args.count, args.rounds)
    if args.json:
        print(json.dumps(figures))
        return
    for name, micros in figures.items():
        print(
            f"{name:>18}: {micros:7.2f} us per item ({args.count:,} items, best of {args.rounds})"
        )


if __name__ == "__main__":
    main()
