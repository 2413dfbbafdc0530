"""Write the list of what the fake Close does with each operation into docs/testing.md.

    python -m tools.fake_catalog           # rewrites the marked section of docs/testing.md
    python -m tools.fake_catalog --check   # exit 1 when the committed section is stale

Each of the document's operations is routed through a real :class:`FakeClose` (its path's
parameters filled in) and sorted by what serves it: the generic store, code of its own
(calls, webhooks, the event log, ...), an action on the store (a lead merge, ...), or the
document's canned answer. The list is made from the routing itself, so it cannot drift.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from close_async.testing import FakeClose
from close_async.testing._spec_answers import ANSWERS

__all__ = ["CATEGORIES", "DOCS", "classify", "main", "render", "section"]

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "testing.md"
START = "<!-- fake-operations:start (python -m tools.fake_catalog) -->"
END = "<!-- fake-operations:end -->"

CATEGORIES: Mapping[str, str] = {
    "stored": "Kept in the generic store (create, get, update as a patch, list, delete)",
    "own": "Stateful, served by code of their own (calls, webhooks, event log, exports, ...)",
    "action": "Acting on the store (the effect Close documents)",
    "canned": "Answering the document's declared status and a schema-valid canned body",
}
_STORE = {"_objects_list", "_object_create", "_object_get", "_object_update", "_object_delete"}
_ACTIONS = {"_lead_merge", "_tasks_bulk_update", "_playbook_archive", "_group_members"}
# Routed by an id the fake issued: an export id it never issued gets the canned answer.
_ISSUED = {("GET", "/export/{id}/"): "own"}


def _name(operation: Callable[..., Any]) -> str:
    while isinstance(operation, functools.partial):
        operation = operation.func
    return getattr(operation, "__name__", "")


def classify(fake: FakeClose, method: str, template: str) -> str:
    """The category of ``method template`` on ``fake``: a key of :data:`CATEGORIES`."""
    if (method, template) in _ISSUED:
        return _ISSUED[(method, template)]
    path = "/api/v1" + re.sub(r"\{[^}]+\}", "fake", template)
    operation = fake._route(method, path)
    name = _name(operation) if operation is not None else ""
    if name == "_canned":
        return "canned"
    if name in _STORE:
        return "stored"
    if name in _ACTIONS:
        return "action"
    if name in ("", "_not_allowed"):
        raise ValueError(f"{method} {template} is not routed")
    return "own"


def render() -> dict[str, list[str]]:
    """Every operation (``METHOD /path/``) by category, in the document's order."""
    fake = FakeClose()
    found: dict[str, list[str]] = {key: [] for key in CATEGORIES}
    for method, template in ANSWERS:
        found[classify(fake, method, template)].append(f"{method} {template}")
    return found


def section() -> str:
    """The marked Markdown section of docs/testing.md."""
    lines = [START, ""]
    total = 0
    for key, operations in render().items():
        total += len(operations)
        lines.append(f"**{CATEGORIES[key]}** ({len(operations)}):")
        lines.append("")
        lines.append(", ".join(f"`{op}`" for op in operations) + ".")
        lines.append("")
    lines.append(f"{total} operations in all.")
    lines.append("")
    lines.append(END)
    return "\n".join(lines)


def _replaced(text: str) -> str:
    start, end = text.index(START), text.index(END) + len(END)
    return text[:start] + section() + text[end:]


def main(argv: list[str] | None = None) -> int:
    """Rewrite the section, or with ``--check`` report whether it is up to date."""
    parser = argparse.ArgumentParser(prog="python -m tools.fake_catalog")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = DOCS.read_text(encoding="utf-8")
    fresh = _replaced(text)
    if args.check:
        if fresh != text:
            print("stale: run `python -m tools.fake_catalog` and commit docs/testing.md")
            return 1
        return 0
    DOCS.write_text(fresh, encoding="utf-8")
    print(f"wrote {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
