"""Generate the fake Close's table of stateful resources from Close's OpenAPI document.

    python -m tools.fake_kinds            # writes close_async/testing/_spec_kinds.py
    python -m tools.fake_kinds --out DIR  # writes DIR/_spec_kinds.py (the drift test)

A *resource* is a collection path (``/pipeline/``) with an item path below it made of one
parameter (``/pipeline/{id}/``): the fake keeps its objects in one generic store. For each
the module holds its route, Close's id prefix, the label of its 404 message, the methods the
document declares on the collection and on an item, and the item path template. Singletons
(``/organization/{id}/`` has no collection) are resources too, with no collection methods.

It also holds the request-body schema of every operation that declares one (not "any
type"), compacted: ``$ref`` inlined, only what validation reads (``type``, ``enum``,
``const``, ``required``, ``properties``, ``items``, ``oneOf``/``anyOf``/``allOf``, bounds).

The document has no example ids, so the prefixes come from :data:`PREFIXES`, Close's own
as seen in its API docs and in recorded answers; a resource missing there gets its first
four letters (the generator prints which).

PyYAML is a development dependency: the package never imports this file.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from tools.fake_answers import DEFAULT_SPEC, METHODS, operations

__all__ = ["DEFAULT_OUT", "MODULE_NAME", "PREFIXES", "main", "render", "resources"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "close_async" / "testing" / "_spec_kinds.py"
MODULE_NAME = "_spec_kinds.py"
COMMAND = "python -m tools.fake_kinds"

PREFIXES: Mapping[str, str] = {
    # Close's id prefixes, by resource route (from Close's API docs and recorded answers).
    "lead": "lead",
    "contact": "cont",
    "opportunity": "oppo",
    "task": "task",
    "custom_object": "custobj",
    "comment": "comm",
    "comment_thread": "cmth",
    "webhook": "whsub",
    "event": "ev",
    "saved_search": "save",
    "sequence": "seq",
    "sequence_subscription": "sub",
    "bulk_action/email": "bulkemail",
    "bulk_action/edit": "bulkedit",
    "bulk_action/delete": "bulkdel",
    "bulk_action/sequence_subscription": "bulkseqsub",
    "export": "expt",
    "custom_field/lead": "cf",
    "custom_field/contact": "cf",
    "custom_field/opportunity": "cf",
    "custom_field/activity": "cf",
    "custom_field/custom_object_type": "cf",
    "custom_field/shared": "cf",
    "custom_activity": "actitype",
    "custom_object_type": "cotype",
    "pipeline": "pipe",
    "status/lead": "stat",
    "status/opportunity": "stat",
    "integration_link": "intlink",
    "email_template": "tmpl",
    "sms_template": "smstmpl",
    "outcome": "outcome",
    "playbook": "pbk",
    "scheduling_link": "schedlink",
    "shared_scheduling_link": "sschedlink",
    "connected_account": "emailacct",
    "send_as": "sendas",
    "phone_number": "phon",
    "blocked_phone_number": "blkphon",
    "dialer": "dialer",
    "user": "user",
    "organization": "orga",
    "role": "role",
    "group": "group",
    "membership": "memb",
}
"""Close's id prefix of each resource (activities all share ``acti``)."""

# Kept by their own code, not the generic store: the event log and exports.
_NOT_STORED = frozenset({"event", "export"})
_KEEP = frozenset(
    {"type", "enum", "const", "required", "properties", "items", "minimum", "maximum"}
    | {"minLength", "maxLength", "minItems", "maxItems", "additionalProperties"}
)
_MAX_DEPTH = 8


def _methods(item: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(m.upper() for m in METHODS if m in item)


def _label(route: str) -> str:
    """``custom_field/lead`` -> ``CustomFieldLead``: how the 404 message names the object."""
    return "".join(part.title() for part in re.split(r"[/_]", route))


def resources(doc: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Each stateful resource of the document, in its order."""
    paths: Mapping[str, Any] = doc["paths"]
    item_re = re.compile(r"(/(?:[a-z_]+/)*)(\{[a-z_]+\})/")
    seen: set[str] = set()
    for template in paths:
        match = item_re.fullmatch(template)
        if match is None:
            continue
        collection = match.group(1)
        route = collection.strip("/")
        if route in seen or route in _NOT_STORED or not route:
            continue
        if match.group(2) != "{id}":
            continue  # keyed by something else than its own id: a report, a schema, ...
        seen.add(route)
        activity = route.startswith("activity/")
        yield {
            "name": ("activity." + route[9:] if activity else route).replace("/", "."),
            "route": route,
            "prefix": "acti" if activity else PREFIXES.get(route, route.replace("/", "")[:4]),
            "label": _label(route[9:] if activity else route),
            "collection": _methods(paths.get(collection, {})),
            "item": _methods(paths[template]),
            "item_template": template,
        }


class _Compactor:
    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.schemas: Mapping[str, Any] = doc.get("components", {}).get("schemas", {})

    def compact(self, schema: Any, depth: int = 0) -> Any:
        """``schema`` with refs inlined and only validation keys kept (``{}`` past a depth)."""
        if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
            return {}
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[1]]
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in ("oneOf", "anyOf", "allOf"):
                out[key] = [self.compact(branch, depth + 1) for branch in value]
            elif key == "properties":
                out[key] = {n: self.compact(s, depth + 1) for n, s in value.items()}
            elif key == "items":
                out[key] = self.compact(value, depth + 1)
            elif key == "additionalProperties":
                if value is False:
                    out[key] = False
            elif key in _KEEP:
                out[key] = value
        return out


def request_schemas(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(METHOD, template, compact schema) of each operation declaring a request schema."""
    compactor = _Compactor(doc)
    for method, template, operation in operations(doc):
        content = (operation.get("requestBody") or {}).get("content") or {}
        schema = content.get("application/json", {}).get("schema")
        if schema is None:
            continue
        compact = compactor.compact(schema)
        if compact:
            yield method, template, compact


def render(spec_text: bytes) -> str:
    """The source of the generated module for the document ``spec_text``."""
    doc = yaml.safe_load(spec_text)
    digest = hashlib.sha256(spec_text).hexdigest()[:16]
    lines = [
        f"# Generated by `{COMMAND}` from spec/close-openapi.yml (sha256 {digest}): do not edit.",
        '"""The stateful resources of Close\'s OpenAPI document and its request-body schemas.',
        "",
        "``RESOURCES``: name -> (route under ``/api/v1/``, id prefix, 404 label, collection",
        "methods, item methods, item path template). ``REQUEST_SCHEMAS``: (METHOD, template) ->",
        "the operation's request-body schema, compacted (refs inlined, validation keys only).",
        '"""',
        "",
        "from typing import Any",
        "",
        '__all__ = ["REQUEST_SCHEMAS", "RESOURCES"]',
        "",
        "RESOURCES: dict[str, tuple[str, str, str, tuple[str, ...], tuple[str, ...], str]] = {",
    ]
    count = 0
    for r in resources(doc):
        row = (r["route"], r["prefix"], r["label"], r["collection"], r["item"], r["item_template"])
        lines.append(f"    {r['name']!r}: {row!r},")
        count += 1
    lines.append("}")
    lines.append(f"# {count} resources")
    lines.append("")
    lines.append("REQUEST_SCHEMAS: dict[tuple[str, str], Any] = {")
    for method, template, schema in request_schemas(doc):
        lines.append(f"    ({method!r}, {template!r}): {schema!r},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the generated module; ``--out DIR`` writes it into ``DIR`` instead."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--out", type=Path, help="directory to write _spec_kinds.py into")
    args = parser.parse_args(argv)
    target = args.out / MODULE_NAME if args.out else DEFAULT_OUT
    target.write_text(render(args.spec.read_bytes()), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
