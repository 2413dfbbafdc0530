"""Generate the fake Close's table of stateful resources from Close's OpenAPI document.

    python -m tools.fake_kinds            # writes close_async/testing/_spec_kinds.py
    python -m tools.fake_kinds --out DIR  # writes DIR/_spec_kinds.py (the drift test)

A *resource* is a collection path (``/pipeline/``) with an item path below it made of one
parameter (``/pipeline/{id}/``): the fake keeps its objects in one generic store. For each
the module holds its route, Close's id prefix, the label of its 404 message, the methods the
document declares on the collection and on an item, and the item path template. Singletons
(``/organization/{id}/`` has no collection) are resources too, with no collection methods.

It also holds the request-body schema of every operation that declares one, compacted:
``$ref`` inlined, only what validation reads (``type``, ``enum``, ``const``, ``required``,
``properties``, ``items``, ``oneOf``/``anyOf``/``allOf``, bounds). Where the document says
"any type" (lead and contact create and update, task create, opportunity update, ...), the
schema is the one ``tools/codegen/overlay.yml`` gives (``CreateLead``, ...), read as the
codegen reads it, so the fake checks the bodies the typed client's models describe. Those
schemas borrow fields from Close's *answer* schemas (``from: Lead``), whose ``required``
lists say what Close answers, not what it demands (an email sent without
``is_unsubscribed`` is taken): in an overlay body only the overlay's own ``required`` holds.

The document has few example ids, so the prefixes come from :data:`PREFIXES`, each marked
with where it was seen (or "unconfirmed": a guess); a resource missing there gets its
first four letters.

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

from tools.codegen.spec import OVERLAY, merged_schemas, overlay_bodies
from tools.fake_answers import DEFAULT_SPEC, METHODS, operations

__all__ = ["DEFAULT_OUT", "MODULE_NAME", "PREFIXES", "main", "render", "resources"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "close_async" / "testing" / "_spec_kinds.py"
MODULE_NAME = "_spec_kinds.py"
COMMAND = "python -m tools.fake_kinds"

PREFIXES: Mapping[str, str] = {
    # Close's id prefixes, by resource route. Where each comes from:
    # - "doc": Close's OpenAPI document (spec/close-openapi.yml names `custom.cf_...` keys
    #   and `actitype_...` ids) or the project's notes on Close's API docs (`acti_` calls,
    #   `whsub_` webhook subscriptions, `ev_` events);
    # - "seen": in a whole answer recorded from Close by a public integration's docs (an
    #   opportunity with its lead, organization, pipeline, status, user and contact ids);
    # - "unconfirmed": nothing in this repository nor its sources shows one; a plausible
    #   guess kept stable so seeded ids do not change. Code must not rely on these.
    "lead": "lead",  # seen
    "contact": "cont",  # seen
    "opportunity": "oppo",  # seen
    "task": "task",  # unconfirmed
    "custom_object": "custobj",  # unconfirmed
    "comment": "comm",  # unconfirmed
    "comment_thread": "cmth",  # unconfirmed
    "webhook": "whsub",  # doc
    "event": "ev",  # doc
    "saved_search": "save",  # unconfirmed
    "sequence": "seq",  # unconfirmed
    "sequence_subscription": "sub",  # unconfirmed
    "bulk_action/email": "bulkemail",  # unconfirmed
    "bulk_action/edit": "bulkedit",  # unconfirmed
    "bulk_action/delete": "bulkdel",  # unconfirmed
    "bulk_action/sequence_subscription": "bulkseqsub",  # unconfirmed
    "export": "expt",  # unconfirmed
    "custom_field/lead": "cf",  # doc (every kind of custom field shares `cf_`)
    "custom_field/contact": "cf",  # doc
    "custom_field/opportunity": "cf",  # doc
    "custom_field/activity": "cf",  # doc
    "custom_field/custom_object_type": "cf",  # doc
    "custom_field/shared": "cf",  # doc
    "custom_activity": "actitype",  # doc (a custom activity *type*)
    "custom_object_type": "cotype",  # unconfirmed
    "pipeline": "pipe",  # seen
    "status/lead": "stat",  # seen (lead and opportunity statuses share `stat_`)
    "status/opportunity": "stat",  # seen
    "integration_link": "intlink",  # unconfirmed
    "email_template": "tmpl",  # unconfirmed
    "sms_template": "smstmpl",  # unconfirmed
    "outcome": "outcome",  # unconfirmed
    "playbook": "pbk",  # unconfirmed
    "scheduling_link": "schedlink",  # unconfirmed
    "shared_scheduling_link": "sschedlink",  # unconfirmed
    "connected_account": "emailacct",  # unconfirmed
    "send_as": "sendas",  # unconfirmed
    "phone_number": "phon",  # unconfirmed
    "blocked_phone_number": "blkphon",  # unconfirmed
    "dialer": "dialer",  # unconfirmed
    "user": "user",  # seen
    "organization": "orga",  # seen
    "role": "role",  # unconfirmed
    "group": "group",  # unconfirmed
    "membership": "memb",  # unconfirmed
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
    def __init__(self, schemas: Mapping[str, Any], *, overlay_body: bool = False) -> None:
        self.schemas = schemas
        # An overlay body: only the overlay's own schemas' ``required`` holds (see above).
        self.overlay_body = overlay_body

    def compact(self, schema: Any, depth: int = 0) -> Any:
        """``schema`` with refs inlined and only validation keys kept (``{}`` past a depth)."""
        if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
            return {}
        while "$ref" in schema:
            schema = self.schemas[schema["$ref"].rsplit("/", 1)[1]]
        borrowed = self.overlay_body and not schema.get("x-overlay")
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
            elif key == "required" and borrowed:
                continue
            elif key in _KEEP:
                out[key] = value
        return out


def request_schemas(
    doc: Mapping[str, Any], overlay: Mapping[str, Any] | None = None
) -> Iterator[tuple[str, str, Any]]:
    """(METHOD, template, compact schema) of each operation declaring a request schema,
    the overlay's ``body`` first (the codegen's order: it corrects the document).
    """
    overlay = overlay or {}
    schemas = merged_schemas(dict(doc), dict(overlay))
    from_document = _Compactor(schemas)
    from_overlay = _Compactor(schemas, overlay_body=True)
    bodies = overlay_bodies(dict(overlay))
    for method, template, operation in operations(doc):
        schema = bodies.get((method, template))
        compactor = from_overlay
        if schema is None:
            content = (operation.get("requestBody") or {}).get("content") or {}
            schema = content.get("application/json", {}).get("schema")
            compactor = from_document
        if schema is None:
            continue
        compact = compactor.compact(schema)
        if compact:
            yield method, template, compact


def render(spec_text: bytes, overlay_text: bytes = b"") -> str:
    """The source of the generated module for the document ``spec_text`` and the codegen's
    overlay ``overlay_text``.
    """
    doc = yaml.safe_load(spec_text)
    overlay = yaml.safe_load(overlay_text) or {}
    digest = hashlib.sha256(spec_text).hexdigest()[:16]
    overlay_digest = hashlib.sha256(overlay_text).hexdigest()[:16]
    lines = [
        f"# Generated by `{COMMAND}` from spec/close-openapi.yml (sha256 {digest})",
        f"# and tools/codegen/overlay.yml (sha256 {overlay_digest}): do not edit.",
        '"""The stateful resources of Close\'s OpenAPI document and its request-body schemas.',
        "",
        "``RESOURCES``: name -> (route under ``/api/v1/``, id prefix, 404 label, collection",
        "methods, item methods, item path template). ``REQUEST_SCHEMAS``: (METHOD, template) ->",
        "the operation's request-body schema, compacted (refs inlined, validation keys only);",
        'where the document says "any type", the codegen overlay\'s (``CreateLead``, ...).',
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
    for method, template, schema in request_schemas(doc, overlay):
        lines.append(f"    ({method!r}, {template!r}): {schema!r},")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the generated module; ``--out DIR`` writes it into ``DIR`` instead."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--overlay", type=Path, default=OVERLAY)
    parser.add_argument("--out", type=Path, help="directory to write _spec_kinds.py into")
    args = parser.parse_args(argv)
    target = args.out / MODULE_NAME if args.out else DEFAULT_OUT
    target.write_text(render(args.spec.read_bytes(), args.overlay.read_bytes()), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
