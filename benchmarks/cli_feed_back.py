"""``python -m benchmarks.cli_feed_back [--rows N] [--failures csv|jsonl]``: feed a failures
file back under faults and count what Close ends up holding.

``close-async leads create`` runs on ``--rows`` rows, each with a unique external id in
``custom.cf_ext``, against the in-process fake Close whose POSTs meet 5% 5xx, 5% resets
and 20% answers dropped after the lead landed (seed 3). Its failures file (the rows whose
create was refused or whose answer was lost, marked unknown) is then fed back to the same
command with ``--settle-by custom.cf_ext`` and no faults. Printed as one JSON line:
``unknown`` (creates reported in doubt by the first run), ``landed_in_doubt`` (of those,
the ones stored anyway), and after the feed-back ``stored``, ``duplicated`` (an external id
stored more than once) and ``missing`` (a row with no lead).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import tempfile
from collections import Counter
from pathlib import Path

from close_async._cli.main import amain
from close_async.testing import FakeClose, FakeFaults

__all__ = ["main"]

KEY = "api_feedback_key_0123456789abcdef"
CF = "custom.cf_ext"


async def _cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await amain(
        list(argv), stdout=out, stderr=err, environ={"CLOSE_API_KEY": KEY}, handle_signals=False
    )
    return code, err.getvalue()


async def _run(rows: int, suffix: str) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="close-async-feed-back-"))
    source = tmp / "rows.csv"
    source.write_text(f"name,{CF}\n" + "".join(f"N{i},ext-{i}\n" for i in range(rows)))
    failures = tmp / f"failed.{suffix}"
    async with FakeClose(api_keys=(KEY,), strict=True, record_requests=False) as fake:
        base = ("--base-url", fake.base_url, "--no-progress", "--concurrency", "16")
        fake.faults = FakeFaults(
            error_rate=0.05, reset_rate=0.05, drop_after_apply_rate=0.2, methods=("POST",), seed=3
        )
        first, err = await _cli("leads", "create", str(source), *base, "--failures", str(failures))
        fake.faults = None
        told = re.search(r"([\d,]+) creates were sent but their answer was lost", err)
        unknown = int(told.group(1).replace(",", "")) if told else 0
        stored_first = len(fake.objects("lead"))
        again, _ = await _cli("leads", "create", str(failures), *base, "--settle-by", CF)
        stored = Counter(lead.get(CF) for lead in fake.objects("lead").values())
    failed_first = sum(1 for _ in failures.open()) - (1 if suffix == "csv" else 0)
    return {
        "rows": rows,
        "failures_format": suffix,
        "first_exit": first,
        "failures_rows": failed_first,
        "unknown": unknown,
        "landed_in_doubt": stored_first - (rows - failed_first),
        "feed_back_exit": again,
        "stored": sum(stored.values()),
        "duplicated": sum(count - 1 for count in stored.values() if count > 1),
        "missing": rows - len(stored),
    }


def main(argv: list[str] | None = None) -> None:
    """Run once and print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cli_feed_back")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--failures", choices=("csv", "jsonl"), default="csv")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(_run(args.rows, args.failures))))


if __name__ == "__main__":
    main()
