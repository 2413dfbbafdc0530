"""The lead workloads' side of the runner: seeding leads to update, reading every lead back,
and deciding from that final state which creates and updates landed.

The fake has no admin listing of leads, so the final state is read through the API itself
(``GET /lead/``, 200 a page, only the fields checked), with a key of its own (:data:`READER_KEY`,
its own rate-limit window) and close-async's pacing, after every client run has finished:
the fake's counters of each run were read before, so the reads count in no run.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Sequence
from typing import Any

from ._client_run import LEAD_FIELD, expected_note
from ._fake_process import FakeProcess
from ._results import RunResult

__all__ = ["READER_KEY", "check_leads", "seed_leads", "stored_leads"]

READER_KEY = "bench_reader"
"""The API key the runner reads the final state with (the fake must accept it)."""

_PAGE = 200  # the fake's (and Close's) largest lead page


def seed_leads(fake: FakeProcess, count: int) -> list[str]:
    """Store ``count`` leads on the fake (admin seed, no API request); their ids in order."""
    ids: list[str] = fake.admin(f"seed?kind=lead&n={count}", method="POST")["ids"]
    return ids


async def _stored(base_url: str) -> list[dict[str, Any]]:
    from close_async import CloseClient

    found: list[dict[str, Any]] = []
    async with CloseClient(api_key=READER_KEY, base_url=base_url) as close:
        while True:
            params = {"_skip": len(found), "_limit": _PAGE, "_fields": "id,name,description"}
            page = await close.get("lead/", params=params)
            found.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                return found


def stored_leads(fake: FakeProcess) -> list[dict[str, Any]]:
    """Every lead the fake holds (``id``, ``name``, ``description``)."""
    return asyncio.run(_stored(fake.base_url))


def check_leads(
    result: RunResult,
    report: dict[str, Any],
    leads: Sequence[dict[str, Any]],
    workload: str,
    tag: str,
    ids: Sequence[str],
) -> None:
    """Fill ``result``'s landed/lost/duplicated/silent-lost counts from the final ``leads``.

    ``lead-create``: item ``i`` landed when a lead is named ``expected_note(tag, i)``;
    each further lead of that name is a duplicate (a create sent, and applied, twice).
    ``lead-update``: item ``i`` landed when lead ``ids[i]`` has that description.
    """
    field = LEAD_FIELD[workload]
    failed = set(report["failed"])
    not_attempted = set(report["not_attempted"])
    landed = silent = duplicated = 0
    if workload == "lead-create":
        named = collections.Counter(lead.get(field) for lead in leads)
        seen = [named.get(expected_note(tag, i), 0) for i in range(result.count)]
    else:
        by_id = {lead["id"]: lead.get(field) for lead in leads}
        seen = [int(by_id.get(ids[i]) == expected_note(tag, i)) for i in range(result.count)]
    for i, copies in enumerate(seen):
        if copies:
            landed += 1
            duplicated += copies - 1
        elif i not in failed and i not in not_attempted:
            silent += 1
    result.landed = landed
    result.lost = result.count - landed
    result.duplicated = duplicated
    result.silent_lost = silent
    result.reported_failed = len(failed)
    result.not_attempted = len(not_attempted)
