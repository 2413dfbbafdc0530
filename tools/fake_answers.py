"""Generate the fake Close's canned answers from Close's OpenAPI document.

    python -m tools.fake_answers            # writes close_async/testing/_spec_answers.py
    python -m tools.fake_answers --out DIR  # writes DIR/_spec_answers.py (the drift test)

For every operation of ``spec/close-openapi.yml`` the module holds its success status and a
minimal instance of its response schema: ``$ref`` resolved, the required properties only,
placeholders of the declared type, format or enum, arrays empty, ``null`` where allowed, the
first ``oneOf``/``anyOf`` branch that the whole alternative accepts. Lists that the document
declares as an empty object ("Empty response body") get ``{"data": [], "has_more": false}``,
what Close really answers. Each instance is checked against its schema with jsonschema
before anything is written, so a generated answer that the document refuses fails here.

PyYAML and jsonschema are development dependencies: the package never imports this file.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = ["DEFAULT_OUT", "DEFAULT_SPEC", "Generator", "main", "render"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT / "spec" / "close-openapi.yml"
DEFAULT_OUT = ROOT / "close_async" / "testing" / "_spec_answers.py"
MODULE_NAME = "_spec_answers.py"
COMMAND = "python -m tools.fake_answers"
METHODS = ("get", "post", "put", "patch", "delete")
EMPTY_BODY = "Empty response body"
EMPTY_LIST: dict[str, Any] = {"data": [], "has_more": False}
_DOC_URI = "urn:close-openapi"

# Placeholders by string format: each is valid for the format checkers openapi-core uses.
_FORMATS: Mapping[str, str] = {
    "date-time": "2024-01-01T00:00:00+00:00",
    "date": "2024-01-01",
    "email": "fake@example.com",
    "uri": "https://example.com/",
}
_SCALARS: Mapping[str, Any] = {
    "string": "",
    "integer": 0,
    "number": 0,
    "boolean": False,
    "object": {},
    "array": [],
}


def operations(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) of every operation, in the document's order."""
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def success(operation: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """The operation's declared success status and its JSON response schema."""
    for code, answer in operation["responses"].items():
        if str(code).startswith("2"):
            content = answer.get("content") or {}
            return int(code), content.get("application/json", {}).get("schema", {})
    raise ValueError(f"operation {operation.get('operationId')!r} declares no 2xx answer")


class Generator:
    """Minimal instances of the document's schemas, each checked with jsonschema."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self.schemas: Mapping[str, Any] = doc.get("components", {}).get("schemas", {})
        resource = Resource.from_contents(dict(doc), default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(_DOC_URI, resource)

    def validator(self, schema: Mapping[str, Any]) -> Draft202012Validator:
        """A validator of ``schema`` whose ``#/components/...`` refs point into the document."""
        return Draft202012Validator(
            {"$id": _DOC_URI + "#answer", **_absolute(schema)}, registry=self._registry
        )

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """``schema`` with its ``$ref`` chain followed."""
        seen: set[str] = set()
        while "$ref" in schema:
            ref = schema["$ref"]
            if ref in seen or not ref.startswith("#/components/schemas/"):
                raise ValueError(f"unresolvable $ref {ref!r}")
            seen.add(ref)
            schema = self.schemas[ref.rsplit("/", 1)[1]]
        return schema

    def instance(self, schema: Mapping[str, Any], depth: int = 0) -> Any:
        """A minimal value that ``schema`` accepts."""
        if depth > 40:
            raise ValueError("required properties recurse without end")
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return self._alternative(schema, key, depth)
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self.instance(part, depth + 1))
            return merged
        kind = schema.get("type")
        if isinstance(kind, list):
            if "null" in kind:
                return None
            kind = kind[0]
        if kind == "object" or (kind is None and "properties" in schema):
            properties = schema.get("properties", {})
            return {
                name: self.instance(properties[name], depth + 1) if name in properties else None
                for name in schema.get("required", [])
            }
        if kind == "array":
            return [self.instance(schema["items"], depth + 1)] * schema.get("minItems", 0)
        if kind == "string" and schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        if kind in _SCALARS:
            value = _SCALARS[kind]
            if kind in ("integer", "number") and "minimum" in schema:
                value = schema["minimum"]
            return value
        # "Any type": the document says nothing, so no value can be refused.
        return {} if depth == 0 else None

    def _alternative(self, schema: Mapping[str, Any], key: str, depth: int) -> Any:
        # The first branch's instance may match a later branch too (the document has oneOfs
        # whose branches overlap): take the first one that the whole alternative accepts.
        whole = self.validator(schema)
        for branch in schema[key]:
            candidate = self.instance(branch, depth + 1)
            if whole.is_valid(candidate):
                return candidate
        raise ValueError(f"no branch of {key} yields an instance the {key} accepts")

    def answer(self, method: str, operation: Mapping[str, Any]) -> tuple[int, Any]:
        """The (status, body) the fake answers ``operation`` with; ``None`` body for a 204."""
        status, schema = success(operation)
        if status == 204:
            return status, None
        resolved = self.resolve(schema)
        if (
            method == "GET"
            and resolved.get("description") == EMPTY_BODY
            and str(operation.get("operationId", "")).startswith("list")
        ):
            body: Any = dict(EMPTY_LIST)
        else:
            body = self.instance(schema)
        errors = sorted(self.validator(schema).iter_errors(body), key=str)
        if errors:
            raise ValueError(f"{method} {operation.get('operationId')}: {errors[0].message}")
        return status, body


def _absolute(schema: Any) -> Any:
    """``schema`` with ``#/...`` refs made absolute, so they resolve inside the document."""
    if isinstance(schema, Mapping):
        return {
            k: (_DOC_URI + v if k == "$ref" and v.startswith("#") else _absolute(v))
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_absolute(v) for v in schema]
    return schema


def render(spec_text: bytes) -> str:
    """The source of the generated module for the document ``spec_text``."""
    doc = yaml.safe_load(spec_text)
    generator = Generator(doc)
    digest = hashlib.sha256(spec_text).hexdigest()[:16]
    lines = [
        f"# Generated by `{COMMAND}` from spec/close-openapi.yml (sha256 {digest}): do not edit.",
        '"""Close\'s declared success answer of every operation: (METHOD, path template) ->',
        "(status, minimal schema-valid body; ``None`` for a 204, which has no body).",
        "",
        "The fake server answers these where no stateful route serves the request, and its",
        "stateful collections take their default fields from them.",
        '"""',
        "",
        "from typing import Any",
        "",
        '__all__ = ["ANSWERS"]',
        "",
        "ANSWERS: dict[tuple[str, str], tuple[int, Any]] = {",
    ]
    count = 0
    for method, path, operation in operations(doc):
        status, body = generator.answer(method, operation)
        lines.append(f"    ({method!r}, {path!r}): ({status}, {body!r}),")
        count += 1
    lines.append("}")
    lines.append(f"# {count} operations")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the generated module; ``--out DIR`` writes it into ``DIR`` instead."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--out", type=Path, help="directory to write _spec_answers.py into")
    args = parser.parse_args(argv)
    target = args.out / MODULE_NAME if args.out else DEFAULT_OUT
    target.write_text(render(args.spec.read_bytes()), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
