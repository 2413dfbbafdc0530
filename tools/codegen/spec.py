"""Read Close's document and the overlay into what the templates render (no file writing).

The document (``spec/close-openapi.yml``) is read as published; ``overlay.yml`` corrects it
where it is wrong (lists declared with an empty answer, the event log's paging) and adds
what it lacks (typed bodies where it says "any", models for answers it leaves empty).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .naming import (
    RESERVED_ARGUMENTS,
    RESERVED_FIELDS,
    camel,
    identifier,
    method_of,
    model_name,
    namespace_of,
    nested_parents,
)

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec" / "close-openapi.yml"
OVERLAY = Path(__file__).with_name("overlay.yml")

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
SHARED_MODULE = "shared"
# The Literal unions written once for several groups: a small module, so that a group that
# needs one does not import ``shared`` (the call path loads only its own group's models).
LITERALS_MODULE = "literals"
EMPTY_ANSWER = "Empty response body"


# ------------------------------------------------------------------------ the IR


@dataclass
class FieldDef:
    name: str
    key: str
    annotation: str
    required: bool
    doc: list[str]
    secret: bool = False  # see holds_secret: its repr is redacted
    # The overlay's rule of the field (names in close_async/_types/rules.py): its attrs
    # validator, converter and reading hook.
    validator: str | None = None
    converter: str | None = None
    reader: str | None = None
    default: str | None = None  # when not the model kind's (UNSET or None)
    # An answer's required field typed without None, None only when Close leaves it out
    # (``Model.missing_fields`` names them): its default is written ``attrs.field(default=None)``.
    missing_is_none: bool = False

    @property
    def ruled(self) -> bool:
        return bool(self.validator or self.converter or self.reader)


# ------------------------------------------------------------------------ secrets

SECRET_NAME = re.compile(r"(?:^|_)(?:key|secret|token|password|passphrase)s?$")
"""A JSON key whose last word names a secret: ``signature_key``, ``client_secret``,
``access_token``, ``password``, ``api_keys``; not ``api_key_id`` nor ``token_type`` (their
last word is not a secret's)."""


def holds_secret(key: str, schema: dict[str, Any]) -> bool:
    """Whether a model field holds a secret, so that its ``repr`` and ``str`` hide it.

    The one rule: the schema says so (``format: password``, ``writeOnly: true``, or the
    overlay's ``x-secret: true``), or the key's last word is a secret's (:data:`SECRET_NAME`).
    The field then gets ``attrs.field(repr=redacted)`` (``close_async/_engine/redact.py``);
    its value is read, kept and sent unchanged.
    """
    marked = (
        schema.get("format") == "password"
        or schema.get("writeOnly") is True
        or schema.get("x-secret") is True
    )
    return marked or bool(SECRET_NAME.search(key))


@dataclass
class ModelDef:
    name: str
    schema: str
    kind: str  # "class", "literal" or "union"
    doc: list[str]
    request: bool = False
    strict: bool = False  # an answer read strictly (the overlay's ``strict: true``)
    fields: list[FieldDef] = field(default_factory=list)
    required_keys: list[str] = field(default_factory=list)
    expression: str = ""
    deps: set[str] = field(default_factory=set)
    module: str = ""


@dataclass
class ParamDef:
    name: str
    key: str
    annotation: str
    doc: list[str]


@dataclass
class OperationDef:
    namespace: tuple[str, ...]
    method: str
    http: str
    path: str
    template: str
    summary: str
    doc: list[str]
    path_params: list[tuple[str, str]]
    query: list[ParamDef]
    body: str | None = None
    body_required: bool = True
    body_model: str | None = None  # the body's model class, whose fields the docstring lists
    returns: str = "Any"
    parse: str | None = None  # a model name, "no_content", or None (the decoded JSON)
    item: str | None = None  # for lists: the item model, or "Any"
    deps: set[str] = field(default_factory=set)
    # The overlay's rules (close_async/_types/rules.py) of path and query values, by name.
    path_rules: dict[str, str] = field(default_factory=dict)
    param_rules: dict[str, str] = field(default_factory=dict)
    page_size: int | None = None  # a list with a page_size= argument (`_limit`): its cap


@dataclass
class NamespaceDef:
    path: tuple[str, ...]
    operations: list[OperationDef] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    description: str = ""

    @property
    def module(self) -> str:
        return "_".join(self.path)

    @property
    def class_name(self) -> str:
        return "".join(camel(p) for p in self.path) + "Resource"

    @property
    def attribute(self) -> str:
        return self.path[-1]

    @property
    def dotted(self) -> str:
        return "close." + ".".join(self.path)


@dataclass
class API:
    models: dict[str, ModelDef]
    namespaces: dict[tuple[str, ...], NamespaceDef]
    operations: list[OperationDef]
    schema_names: dict[str, str]  # schema -> model name
    skipped_schemas: dict[str, str]  # schema -> why no model was made
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # close.calls
    page_size: int = 100  # the overlay's cap of a list's page_size= where it names none


# ------------------------------------------------------------------------ reading


def load(spec_path: Path = SPEC, overlay_path: Path = OVERLAY) -> API:
    document = yaml.safe_load(spec_path.read_text())
    overlay = yaml.safe_load(overlay_path.read_text())
    return _Builder(document, overlay).build()


def merged_schemas(document: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """The document's schemas with the overlay's added (as JSON schemas, marked
    ``x-overlay``): the ones the models are made from.
    """
    return _Builder(document, overlay).schemas


def overlay_bodies(overlay: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """(METHOD, path template) -> the request-body schema the overlay gives an operation
    (where the document says "any type"), as a JSON schema (a ``$ref`` to a merged schema).
    """
    found: dict[tuple[str, str], Any] = {}
    for key, fix in (overlay.get("operations") or {}).items():
        if "body" in fix:
            method, path = key.split(" ", 1)
            found[(method, path)] = _expand(fix["body"])
    return found


def doc_lines(text: str | None, width: int = 88) -> list[str]:
    """Wrapped lines of a description, keeping paragraphs and list items apart, and code
    blocks (fenced with three backticks) as they are: fenced, dedented, never reflowed."""
    if not text:
        return []
    text = text.replace("\\", "\\\\").replace('"""', "'''").strip()
    # The document links to pages of Close's developer site by path alone.
    text = text.replace("](/", "](https://developer.close.com/")
    lines: list[str] = []
    for kind, chunk in _prose_and_code(text):
        if kind == "code":
            lines += [*chunk, ""]
            continue
        for paragraph in re.split(r"\n\s*\n", "\n".join(chunk)):
            lines += _wrapped_paragraph(paragraph, width)
    while lines and not lines[-1]:
        lines.pop()
    return [line.rstrip() for line in lines]


_FENCE = re.compile(r"\s*```")
_CODE_WIDTH = 80  # a JSON example longer than this on one line is laid out on several


def _prose_and_code(text: str) -> list[tuple[str, list[str]]]:
    """The description cut into ("prose", lines) and ("code", fenced lines) parts; a code
    block's blank first and last lines are dropped and its body dedented."""
    parts: list[tuple[str, list[str]]] = [("prose", [])]
    code: list[str] | None = None
    for line in text.splitlines():
        if _FENCE.match(line):
            if code is None:
                code = [line.strip()]
                continue
            body = _code_body(textwrap.dedent("\n".join(code[1:])).strip("\n"))
            parts += [("code", [code[0], *body, "```"]), ("prose", [])]
            code = None
        elif code is not None:
            code.append(line)
        else:
            parts[-1][1].append(line)
    if code is not None:  # an unclosed fence: kept as prose
        parts[-1][1].extend(code)
    return [(kind, chunk) for kind, chunk in parts if kind == "code" or any(chunk)]


def _code_body(code: str) -> list[str]:
    """A code block's lines. The document's YAML folds a JSON example onto one line: JSON
    is laid out again, two spaces a level, so that it reads (and fits the line length)."""
    try:
        # Backslashes were doubled for the docstring: undone to parse, redone after.
        value = json.loads(code.replace("\\\\", "\\"))
    except ValueError:
        return code.splitlines()
    if not isinstance(value, dict | list):
        return code.splitlines()
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > _CODE_WIDTH:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    return text.replace("\\", "\\\\").splitlines()


def _wrapped_paragraph(paragraph: str, width: int) -> list[str]:
    items: list[str] = []
    for line in paragraph.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if re.match(r"([-*]|[0-9]+\.) ", stripped) or not items:
            items.append(stripped)
        else:
            items[-1] += " " + stripped
    lines: list[str] = []
    for item in items:
        indent = "  " if re.match(r"([-*]|[0-9]+\.) ", item) else ""
        lines.extend(
            textwrap.wrap(
                item,
                width,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    if lines:
        lines.append("")
    return lines


def _expand(short: Any) -> Any:
    """The overlay's short type notation as a JSON schema.

    ``str``, ``int``, ``float``, ``bool``, ``datetime``, ``date``, ``decimal`` (a decimal
    string, read as ``Decimal``), ``any``, ``object``, ``[T]`` (a list), ``(T)`` (a list
    read as a tuple, empty by default), ``Name`` (a schema), ``one_of:a|b`` (an enum); a
    trailing ``?`` makes it nullable. A dict is already a schema.
    """
    if isinstance(short, dict):
        return short
    text = str(short).strip()
    nullable = text.endswith("?")
    text = text.removesuffix("?")
    simple = {
        "str": {"type": "string"},
        "int": {"type": "integer"},
        "float": {"type": "number"},
        "bool": {"type": "boolean"},
        "datetime": {"type": "string", "format": "date-time"},
        "date": {"type": "string", "format": "date"},
        "decimal": {"type": "string", "format": "decimal"},
        "object": {"type": "object", "additionalProperties": {"description": "Any type"}},
        "any": {"description": "Any type"},
    }
    if text in simple:
        schema = dict(simple[text])
    elif text.startswith("[") and text.endswith("]"):
        schema = {"type": "array", "items": _expand(text[1:-1])}
    elif text.startswith("(") and text.endswith(")"):
        schema = {"type": "array", "items": _expand(text[1:-1]), "x-tuple": True}
    elif text.startswith("one_of:"):
        schema = {"type": "string", "enum": text.removeprefix("one_of:").split("|")}
    else:
        schema = {"$ref": f"#/components/schemas/{text}"}
    if nullable:
        if "$ref" in schema or "enum" in schema:
            return {"oneOf": [schema, {"type": "null"}]}
        if "type" in schema:
            schema["type"] = [schema["type"], "null"]
    return schema


class _Builder:
    def __init__(self, document: dict[str, Any], overlay: dict[str, Any]) -> None:
        self.document = document
        self.overlay = overlay
        self.schemas: dict[str, Any] = dict(document["components"]["schemas"])
        self.names: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        # Where each schema is used, for its model's docstring: the operations that send it
        # as their body or return it, and the models that hold it.
        self.sent_by: dict[str, list[str]] = {}
        self.returned_by: dict[str, list[str]] = {}
        self.parents: dict[str, set[str]] = {}
        # An enum schema -> the one of its identical siblings whose Literal it reuses.
        self.same_literal: dict[str, str] = {}
        self.shared_literals: set[str] = set()  # the ones reused
        # The overlay's ``required``: keys Close always answers that the document does not
        # list as required (answers only; a request's required keys are the document's).
        self.answer_required: dict[str, list[str]] = dict(overlay.get("required") or {})
        for name, definition in (overlay.get("schemas") or {}).items():
            if name in self.schemas:
                raise ValueError(f"overlay schema {name} already exists in the document")
            self.schemas[name] = self._overlay_schema(name, definition)

    # --- overlay schemas

    def _overlay_schema(self, name: str, definition: dict[str, Any]) -> dict[str, Any]:
        if "one_of" in definition:
            # A named enum, for values two bodies share: their Literal is written once.
            enum = {"type": "string", "enum": [str(v) for v in definition["one_of"]]}
            return {**enum, "title": name, "description": definition.get("description", "")}
        properties: dict[str, Any] = {}
        base = definition.get("from")
        if base:
            # A document schema, or an overlay schema written above this one.
            source = self.schemas[base]["properties"]
            for key in definition.get("fields") or list(source):
                properties[key] = source[key]
        for key, short in (definition.get("properties") or {}).items():
            # ``type -- text``: the short notation with the field's one-line description.
            text = ""
            if isinstance(short, str):
                short, _, text = short.partition(" -- ")
            properties[key] = _expand(short)
            if text:
                properties[key] = {**properties[key], "description": text.strip()}
        schema: dict[str, Any] = {
            "type": "object",
            "title": name,
            "properties": properties,
            "description": definition.get("description", ""),
            "x-overlay": True,
        }
        if definition.get("required"):
            schema["required"] = list(definition["required"])
        if definition.get("request"):
            schema["x-request"] = True
        if definition.get("strict"):
            schema["x-strict"] = True
        return schema

    # --- schemas

    def resolve(self, schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        ref = schema.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            return name, self.schemas[name]
        return None, schema

    def is_empty(self, schema: dict[str, Any]) -> bool:
        _, target = self.resolve(schema)
        return (
            target.get("type") == "object"
            and not target.get("properties")
            and not target.get("additionalProperties")
        )

    def refs(self, schema: Any) -> set[str]:
        found: set[str] = set()
        if isinstance(schema, dict):
            if "$ref" in schema:
                found.add(schema["$ref"].rsplit("/", 1)[-1])
            for value in schema.values():
                found |= self.refs(value)
        elif isinstance(schema, list):
            for value in schema:
                found |= self.refs(value)
        return found

    def closure(self, roots: set[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(self.refs(self.schemas[name]) - seen)
        return seen

    def annotation(self, schema: dict[str, Any], deps: set[str], *, param: bool = False) -> str:
        """The Python type of a schema (without the ``| None`` of a nullable field)."""
        name, target = self.resolve(schema)
        if name is not None:
            # A named enum keeps its name in a signature too (its Literal is written once).
            named_enum = "enum" in target and name in self.names
            if (param and not named_enum) or target.get("x-param-only"):
                return self.annotation(target, deps, param=param)
            if name in self.skipped:
                return "Any"
            name = self.same_literal.get(name, name)
            deps.add(self.names[name])
            return self.names[name]
        branches = schema.get("oneOf") or schema.get("anyOf")
        if branches:
            parts = [
                self.annotation(b, deps, param=param) for b in branches if b.get("type") != "null"
            ]
            return " | ".join(dict.fromkeys(parts)) or "None"
        kinds = schema.get("type")
        if isinstance(kinds, list):
            kinds = [k for k in kinds if k != "null"]
            kinds = kinds[0] if len(kinds) == 1 else kinds
        if isinstance(kinds, list):
            return " | ".join(self.annotation({**schema, "type": k}, deps) for k in kinds)
        if "enum" in schema:
            values = [v for v in schema["enum"] if v is not None]
            return "Literal[" + ", ".join(repr(v) for v in values) + "]"
        fmt = schema.get("format")
        if kinds == "string":
            if fmt == "date-time":
                return "_dt.datetime | str" if param else "_dt.datetime"
            if fmt == "date":
                return "_dt.date | str" if param else "_dt.date"
            if fmt == "decimal":
                return "Decimal"
            return "str"
        if kinds == "integer":
            return "int"
        if kinds == "number":
            return "float"
        if kinds == "boolean":
            return "bool"
        if kinds == "null":
            return "None"
        if kinds == "array":
            item = self.annotation(schema.get("items") or {}, deps, param=param)
            if schema.get("x-tuple") and not param:
                return f"tuple[{item}, ...]"
            return f"Sequence[{item}]" if param else f"list[{item}]"
        if kinds == "object":
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                return f"dict[str, {self.annotation(extra, deps)}]"
            return "dict[str, Any]"
        return "Any"

    @staticmethod
    def nullable(schema: dict[str, Any]) -> bool:
        kinds = schema.get("type")
        if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
            return True
        branches = schema.get("oneOf") or schema.get("anyOf") or []
        return any(b.get("type") == "null" for b in branches)

    def _share_literals(self, usage: dict[str, set[str]], answered: set[str]) -> None:
        """Enum schemas with the same values (``CallStatus``, ``CreateCallActivityStatus``,
        ``UpdateCallActivityStatus``) write their Literal once: the first of them (one an
        answer uses, then the shortest name) holds it, the others are its aliases and every
        field of theirs is annotated with its name. Kept in ``literals`` when the siblings
        are used by more than one group."""
        groups: dict[str, list[str]] = defaultdict(list)
        for schema_name in self.names:
            schema = self.schemas[schema_name]
            if "enum" in schema:
                # Same values and the same last word (``...Status``): the same idea.
                last = re.findall(r"[A-Z][a-z0-9]*", self.names[schema_name])[-1:]
                groups[self.annotation(schema, set()) + str(last)].append(schema_name)
        for members in groups.values():
            if len(members) < 2:
                continue
            members.sort(key=lambda n: (n not in answered, len(self.names[n]), self.names[n]))
            first, *others = members
            self.shared_literals.add(first)
            for other in others:
                self.same_literal[other] = first
                usage[first] |= usage[other]

    def _used_where(self, schema_name: str) -> list[str]:
        """Lines saying where a model is used: the methods that send it as their body or
        return it (grouped by resource group), else the models holding it."""

        def methods(wheres: list[str]) -> str:
            groups: dict[str, list[str]] = {}
            for where in dict.fromkeys(wheres):
                group, method = where.rsplit(".", 1)
                groups.setdefault(group, []).append(f"``{method}``")
            return "; ".join(f"``{g}``: {', '.join(ms)}" for g, ms in groups.items())

        if schema_name in self.sent_by:
            text = f"The body of {methods(self.sent_by[schema_name])}."
        elif schema_name in self.returned_by:
            text = f"Returned by {methods(self.returned_by[schema_name])}."
        elif schema_name in self.parents:
            holders = [f"``{n}``" for n in sorted(self.parents[schema_name])]
            more = f" and {len(holders) - 4} more" if len(holders) > 4 else ""
            text = f"Part of {', '.join(holders[:4])}{more}."
        else:
            return []
        return textwrap.wrap(text, 88, break_long_words=False, break_on_hyphens=False)

    # --- operations

    def build(self) -> API:
        overlay_ops = self.overlay.get("operations") or {}
        raw_ops: list[tuple[str, str, dict[str, Any]]] = []
        for path, item in self.document["paths"].items():
            for http, op in item.items():
                if http in HTTP_METHODS:
                    raw_ops.append((path, http, op))

        # Which schemas each operation needs, to decide names, kinds and modules.
        usage: dict[str, set[str]] = defaultdict(set)
        request_roots: set[str] = set()
        answer_roots: set[str] = set()
        plans = []
        for path, http, op in raw_ops:
            key = f"{http.upper()} {path}"
            fix = overlay_ops.get(key) or {}
            plan = self._plan_operation(path, http, op, fix)
            plans.append(plan)
            module = "_".join(plan["namespace"])
            where = ".".join(("close", *plan["namespace"], method_of(op["operationId"])))
            for name in plan["body_schemas"]:
                request_roots.add(name)
                self.sent_by.setdefault(name, []).append(where)
                for needed in self.closure({name}):
                    usage[needed].add(module)
            for name in plan["answer_schemas"]:
                answer_roots.add(name)
                self.returned_by.setdefault(name, []).append(where)
                for needed in self.closure({name}):
                    usage[needed].add(module)

        answered = self.closure(answer_roots)
        for schema_name in self.schemas:
            if schema_name not in usage:
                self.skipped[schema_name] = (
                    "used by query parameters only (inlined there)"
                    if "Parameters" in schema_name
                    else "used by no operation"
                )
            elif self.is_empty({"$ref": f"#/components/schemas/{schema_name}"}):
                self.skipped[schema_name] = EMPTY_ANSWER.lower() + " (nothing to type)"
        renames = dict(self.overlay.get("names") or {})
        unknown = set(renames) - set(self.schemas)
        if unknown:
            raise ValueError(f"overlay names: no such schema: {sorted(unknown)}")
        parents = nested_parents({n: self.refs(s) for n, s in self.schemas.items()})
        for schema_name in usage:
            if schema_name not in self.skipped:
                self.names[schema_name] = model_name(schema_name, renames, parents)
        if len(set(self.names.values())) != len(self.names):
            seen: dict[str, str] = {}
            for schema_name, name in self.names.items():
                if name in seen:
                    raise ValueError(f"{seen[name]} and {schema_name} are both named {name}")
                seen[name] = schema_name
        for schema_name in self.names:
            for child in self.refs(self.schemas[schema_name]) - {schema_name}:
                self.parents.setdefault(child, set()).add(self.names[schema_name])
        self._share_literals(usage, answered)

        models: dict[str, ModelDef] = {}
        for schema_name, name in self.names.items():
            modules = usage[schema_name]
            model = self._model(schema_name, request=schema_name not in answered)
            model.module = next(iter(modules)) if len(modules) == 1 else SHARED_MODULE
            if schema_name in self.shared_literals and len(modules) > 1:
                model.module = LITERALS_MODULE
            models[name] = model

        operations = [self._operation(plan) for plan in plans]
        namespaces = self._namespaces(operations)
        aliases = {
            alias: tuple(target.split("."))
            for alias, target in (self.overlay.get("aliases") or {}).items()
        }
        for alias, target in aliases.items():
            if target not in namespaces or (alias,) in namespaces:
                raise ValueError(f"overlay alias {alias}: {'.'.join(target)} is not a group")
        return API(
            models,
            namespaces,
            operations,
            dict(self.names),
            dict(self.skipped),
            aliases,
            page_size=self.overlay["page_size"],
        )

    def _plan_operation(
        self, path: str, http: str, op: dict[str, Any], fix: dict[str, Any]
    ) -> dict[str, Any]:
        namespace = namespace_of(op["tags"][0])
        body_schema = None
        body_required = False
        if "requestBody" in op:
            body_schema = op["requestBody"]["content"]["application/json"].get("schema") or {}
            body_required = bool(op["requestBody"].get("required", True))
            if "body" in fix:
                body_schema = _expand(fix["body"])
        status, answer = next(
            (code, response)
            for code, response in sorted(op["responses"].items())
            if code.startswith("2")
        )
        answer_schema = (answer.get("content") or {}).get("application/json", {}).get("schema")
        is_list = op["operationId"].startswith("list") and http == "get"
        item_schema = None
        if is_list:
            if "item" in fix:
                item_schema = _expand(fix["item"])
            elif answer_schema and not self.is_empty(answer_schema):
                _, target = self.resolve(answer_schema)
                data = target.get("properties", {}).get("data")
                item_schema = (data or {}).get("items")
            answer_schema = None
        elif "answer" in fix:
            answer_schema = _expand(fix["answer"])
        body_names = self.refs(body_schema) if body_schema else set()
        answer_names = self.refs(answer_schema) | self.refs(item_schema)
        return {
            "path": path,
            "http": http,
            "op": op,
            "fix": fix,
            "namespace": namespace,
            "body_schema": body_schema,
            "body_required": body_required,
            "status": status,
            "answer_schema": answer_schema,
            "is_list": is_list,
            "item_schema": item_schema,
            "body_schemas": body_names,
            "answer_schemas": answer_names,
        }

    def _model(self, schema_name: str, *, request: bool) -> ModelDef:
        schema = self.schemas[schema_name]
        name = self.names[schema_name]
        doc = doc_lines(schema.get("description"))
        where = self._used_where(schema_name)
        doc = [*doc, "", *where] if doc and where else doc or where or [f"``{name}``."]
        request = request or bool(schema.get("x-request"))
        if "enum" in schema:
            deps: set[str] = set()
            first = self.same_literal.get(schema_name)
            if first is not None:
                alias = self.names[first]
                doc = [f"The same values as :data:`{alias}` (an alias of it).", "", *doc]
                return ModelDef(name, schema_name, "literal", doc, expression=alias, deps={alias})
            expression = self.annotation(schema, deps)
            return ModelDef(name, schema_name, "literal", doc, expression=expression)
        if "oneOf" in schema or "anyOf" in schema:
            deps = set()
            expression = self.annotation(schema, deps)
            return ModelDef(name, schema_name, "union", doc, expression=expression, deps=deps)
        strict = bool(schema.get("x-strict"))
        model = ModelDef(name, schema_name, "class", doc, request=request, strict=strict)
        required = set(schema.get("required") or [])
        if not request:
            required |= set(self.answer_required.get(schema_name) or [])
        rules = (self.overlay.get("rules") or {}).get(schema_name) or {}
        unknown = set(rules) - set(schema.get("properties") or {})
        if unknown:
            raise ValueError(f"overlay rules of {schema_name} name no field: {sorted(unknown)}")
        unknown = set(self.answer_required.get(schema_name) or []) - set(
            schema.get("properties") or {}
        )
        if unknown:
            raise ValueError(f"overlay required of {schema_name} names no field: {sorted(unknown)}")
        taken: set[str] = set()
        for key, prop in (schema.get("properties") or {}).items():
            attribute = identifier(key, reserved=RESERVED_FIELDS)
            while attribute in taken:
                attribute += "_"
            taken.add(attribute)
            deps = set()
            annotation = self.annotation(prop, deps)
            model.deps |= deps
            if request:
                if key in required:
                    full = f"{annotation} | None" if self.nullable(prop) else annotation
                else:
                    none = " | None" if self.nullable(prop) else ""
                    full = f"{annotation} | Unset{none}"
            elif prop.get("x-tuple"):
                full = annotation  # empty, not None, when absent or null
            elif annotation in ("Any", "None"):
                full = annotation
            elif key in required and not self.nullable(prop):
                # Required means required: typed without None. Read strictly, a missing key
                # is a DecodingError; read leniently, the field holds None and
                # ``missing_fields()`` names it.
                full = annotation
            else:
                full = f"{annotation} | None"
            is_required = (request or strict) and key in required
            field_doc = doc_lines(prop.get("description"), 84)
            secret = holds_secret(key, prop)
            definition = FieldDef(attribute, key, full, is_required, field_doc, secret)
            definition.missing_is_none = (
                not request
                and not is_required
                and full == annotation not in ("Any", "None")
                and not prop.get("x-tuple")
            )
            rule = rules.get(key)
            if isinstance(rule, str):
                definition.validator = rule
            elif rule:
                definition.validator = rule.get("check")
                definition.converter = rule.get("convert")
                definition.reader = rule.get("read")
            if definition.converter and full.startswith("dict["):
                # A converter's copy is read-only: the field holds some Mapping.
                definition.annotation = "Mapping[" + full.removeprefix("dict[")
            if prop.get("x-tuple"):
                definition.default = "()"
            model.fields.append(definition)
        model.required_keys = sorted(required)
        model.deps.discard(name)
        return model

    def _operation(self, plan: dict[str, Any]) -> OperationDef:
        op, fix = plan["op"], plan["fix"]
        path: str = plan["path"]
        deps: set[str] = set()
        path_params = [
            (identifier(p, reserved=RESERVED_ARGUMENTS), p) for p in re.findall(r"\{(\w+)\}", path)
        ]
        taken = {name for name, _ in path_params}
        query: list[ParamDef] = []
        dropped = set(fix.get("drop_params") or [])
        parameters = [p for p in op.get("parameters", []) if p["in"] == "query"]
        parameters = [p for p in parameters if p["name"] not in dropped]
        for name, short in (fix.get("add_params") or {}).items():
            parameters.append({"name": name, "schema": _expand(short), "description": ""})
        for parameter in parameters:
            attribute = identifier(parameter["name"], reserved=RESERVED_ARGUMENTS)
            while attribute in taken:
                attribute += "_"
            taken.add(attribute)
            schema = parameter.get("schema") or {}
            annotation = self.annotation(schema, deps, param=True)
            if annotation.startswith("Sequence[") or parameter["name"] == "_fields":
                item = annotation.removeprefix("Sequence[").removesuffix("]")
                annotation = (
                    f"{item} | Sequence[{item}]"
                    if annotation.startswith("Seq")
                    else ("str | Sequence[str]")
                )
            doc = doc_lines(parameter.get("description"), 80)
            query.append(ParamDef(attribute, parameter["name"], annotation, doc))

        page_size = fix.get("page_size")
        if plan["is_list"] and any(p.key == "_limit" for p in query):
            # `_limit` is no argument of its own: `page_size=` sends it (capped at the
            # overlay's maximum), `limit=` is the most items yielded in all.
            query = [p for p in query if p.key != "_limit"]
            page_size = page_size or self.overlay["page_size"]
        names = {p.key: p.name for p in query} | {key: name for name, key in path_params}
        rules = {**(fix.get("path_rules") or {}), **(fix.get("param_rules") or {})}
        unknown = set(rules) - set(names)
        if unknown:
            raise ValueError(f"overlay rules of {plan['http']} {path} name nothing: {unknown}")
        operation = OperationDef(
            namespace=plan["namespace"],
            method=method_of(op["operationId"]),
            http=plan["http"].upper(),
            path=path,
            template=path.lstrip("/"),
            summary=(op.get("summary") or op["operationId"]).strip().rstrip("."),
            doc=doc_lines(op.get("description")),
            path_params=path_params,
            query=query,
            path_rules=dict(fix.get("path_rules") or {}),
            param_rules=dict(fix.get("param_rules") or {}),
            page_size=page_size,
        )
        if plan["body_schema"] is not None:
            body_deps: set[str] = set()
            body = self.annotation(plan["body_schema"], body_deps)
            if body in ("Any", "dict[str, Any]"):
                operation.body = "Mapping[str, Any]"
            else:
                if body in self.names.values():
                    operation.body_model = body
                # A model read from Close may be sent back (its unknown keys too).
                sent_back = fix.get("accepts")
                if sent_back:
                    body = f"{body} | {self.names[sent_back]}"
                    body_deps.add(self.names[sent_back])
                operation.body = f"{body} | Mapping[str, Any]"
            operation.body_required = plan["body_required"]
            deps |= body_deps
        if plan["is_list"]:
            item = self.annotation(plan["item_schema"], deps) if plan["item_schema"] else "Any"
            operation.item = item
            operation.returns = f"Pager[{item}]"
        elif plan["status"] == "204" or (
            plan["http"] == "delete"
            and (plan["answer_schema"] is None or self.is_empty(plan["answer_schema"]))
        ):
            operation.returns, operation.parse = "None", "no_content"
        elif plan["answer_schema"] is not None and not self.is_empty(plan["answer_schema"]):
            returns = self.annotation(plan["answer_schema"], deps)
            operation.returns = returns
            operation.parse = returns if returns in self.names.values() else None
            if operation.parse is None:
                operation.returns = "Any"
        operation.deps = deps
        return operation

    def _namespaces(self, operations: list[OperationDef]) -> dict[tuple[str, ...], NamespaceDef]:
        namespaces: dict[tuple[str, ...], NamespaceDef] = {}
        for operation in operations:
            path = operation.namespace
            for depth in range(1, len(path) + 1):
                namespaces.setdefault(path[:depth], NamespaceDef(path[:depth]))
            namespaces[path].operations.append(operation)
        for path in namespaces:
            if len(path) > 1 and path[-1] not in namespaces[path[:-1]].children:
                namespaces[path[:-1]].children.append(path[-1])
        return dict(sorted(namespaces.items()))
