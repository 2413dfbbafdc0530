"""``python -m benchmarks.cpu_per_update``: instructions per item of one client, by callgrind.

Wall-clock figures on a shared 2-core machine move by ±25% from run to run; instruction
counts do not. One fake Close process (no limit, no latency, ``--no-record``) serves two
runs of ``python -m benchmarks._client_run`` (the wall-clock benchmark's own client runs),
each under ``valgrind --tool=callgrind``: ``--small`` and then ``--large`` items. Imports and
start-up cost the same in both runs, so (large - small) / (large - small items) is the
client's cost of one item.

``--client``: ``close-async`` (``calls.update_many`` / ``leads.create_many``,
``concurrency=32``) or ``bare`` (the bare aiohttp loop, the floor). ``--workload``:
``call-update`` (a note and an outcome on distinct seeded calls) or ``lead-create``. Run
both clients for a ratio. Needs ``valgrind``; takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["main"]

API_KEY = "test_key"  # the fake's default key
CLIENTS = ("close-async", "bare")
WORKLOADS = ("call-update", "lead-create")
_TOTAL_RE = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


def _instructions(
    base_url: str, client: str, workload: str, start: int, count: int, workdir: Path
) -> int:
    """Run one client over ``count`` items under callgrind; return its instruction count."""
    tag = f"cpu-{client}-{workload}-{start}-{count}"
    out = workdir / f"callgrind.{tag}.out"
    run = (
        *(sys.executable, "-m", "benchmarks._client_run"),
        *("--client", client, "--workload", workload, "--base-url", base_url),
        *("--api-key", API_KEY, "--start", str(start), "--count", str(count), "--tag", tag),
    )
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *run],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the client run failed ({done.returncode}): {done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if report["ok"] != count or report["failed"] or report["not_attempted"]:
        raise RuntimeError(f"not every item of the {tag} run succeeded: {report['errors']}")
    totals = _TOTAL_RE.findall(out.read_text())
    if not totals:
        raise RuntimeError(f"no summary or totals line in {out}")
    return int(totals[0])


def measure(client: str, workload: str, small: int, large: int) -> dict[str, Any]:
    """Instructions of a ``small`` and a ``large`` run, and per item between them."""
    from benchmarks._fake_process import FakeProcess

    seed = ["--seed-calls", str(small + large)] if workload == "call-update" else []
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeProcess([*seed, "--no-record"]) as fake,
    ):
        counts = {
            size: _instructions(fake.base_url, client, workload, start, size, Path(tmp))
            for start, size in ((0, small), (small, large))
        }
    version = subprocess.run(["valgrind", "--version"], capture_output=True, text=True)
    return {
        "client": client,
        "workload": workload,
        "small": small,
        "large": large,
        "instructions_small": counts[small],
        "instructions_large": counts[large],
        "instructions_per_item": round((counts[large] - counts[small]) / (large - small)),
        "python": platform.python_version(),
        "valgrind": version.stdout.strip(),
    }


def main(argv: list[str] | None = None) -> None:
    """Measure and print the instructions at both sizes and per item."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cpu_per_update")
    parser.add_argument("--client", choices=CLIENTS, default="close-async")
    parser.add_argument("--workload", choices=WORKLOADS, default="call-update")
    parser.add_argument("--small", type=int, default=400, help="items of the small run")
    parser.add_argument("--large", type=int, default=1400, help="items of the large run")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if not 0 < args.small < args.large:
        parser.error("need 0 < --small < --large")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed")
    figures = measure(args.client, args.workload, args.small, args.large)
    what = f"{figures['client']} {figures['workload']}"
    print(f"{what}: instructions at {figures['small']:,} items: {figures['instructions_small']:,}")
    print(f"{what}: instructions at {figures['large']:,} items: {figures['instructions_large']:,}")
    print(f"{what}: instructions per item: {figures['instructions_per_item']:,}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
