"""Every operation of Close's document, called through its typed method: 286 of 286.

The rows come from ``spec/operations.md`` (the naming contract), not from the generator, so
a method that is missing, misnamed or sends the wrong request fails here. For each row the
test calls the method with valid arguments (path values, every query parameter, a body drawn
from the document's request schema by hypothesis-jsonschema, built into the operation's
model where it has one), checks the request it sends with openapi-core against the vendored
document (method, path, query, body), and parses an answer drawn from the document's
response schema into the method's return type: no answer the document allows may raise.
"""

from __future__ import annotations

import functools
import json
import keyword
import re
import typing
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from openapi_core.testing import MockRequest

from close_async import Pager
from close_async._engine.engine import ClientStats
from close_async._engine.errors import ClientValidationError
from close_async._engine.http.request import Request
from close_async._resources.generated._root import Resources
from close_async._types.model import Model, RequestModel
from tests.fake_requester import DEFAULT_OPTIONS
from tests.openapi_document import DOC, requests_validator

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT / "spec" / "operations.md"

_ROW = re.compile(r"^\| `close\.([\w.]+)` \| (GET|POST|PUT|DELETE) \| `([^`]+)` \|$")


def contract_rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in CONTRACT.read_text().splitlines():
        match = _ROW.match(line)
        if match:
            rows.append((match[1], match[2], match[3]))
    return rows


ROWS = contract_rows()


def document() -> dict[str, Any]:
    return DOC


def refs_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["$ref"].rsplit("/", 1)[-1]} if "$ref" in value else set()
        for item in value.values():
            found |= refs_in(item)
        return found
    if isinstance(value, list):
        return set().union(*(refs_in(item) for item in value)) if value else set()
    return set()


def schema_for(schema: dict[str, Any]) -> dict[str, Any]:
    """A self-contained schema: the components it needs beside it, for its ``$ref``s.

    Only those it reaches: hypothesis-jsonschema works through every one it is given.
    """
    components = document()["components"]["schemas"]
    needed: set[str] = set()
    todo = list(refs_in(schema))
    while todo:
        name = todo.pop()
        if name not in needed:
            needed.add(name)
            todo.extend(refs_in(components[name]) - needed)
    return {**schema, "components": {"schemas": {n: components[n] for n in needed}}}


@functools.cache
def strategy(schema_json: str) -> st.SearchStrategy[Any]:
    return from_schema(schema_for(json.loads(schema_json)))


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref:
        resolved: dict[str, Any] = document()["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        return resolved
    return schema


def python_name(name: str) -> str:
    text = name.lstrip("_")
    return text + "_" if keyword.iskeyword(text) else text


def carries_objects(schema: dict[str, Any]) -> bool:
    """A query parameter of objects (one: ``sort`` of ``email_templates.render``) cannot be
    written in a query string; the overlay leaves it out of the typed method."""
    items = resolve(resolve(schema).get("items") or {})
    return items.get("type") == "object"


def query_value(name: str, schema: dict[str, Any]) -> Any:
    schema = resolve(schema)
    branches = [
        b for b in schema.get("oneOf") or schema.get("anyOf") or [] if b != {"type": "null"}
    ]
    if branches:
        return query_value(name, branches[0])
    kinds = schema.get("type")
    kinds = next(k for k in kinds if k != "null") if isinstance(kinds, list) else kinds
    if "enum" in schema:
        return schema["enum"][0]
    if kinds == "integer":
        return 2
    if kinds == "boolean":
        return True
    if kinds == "array":
        items = resolve(schema.get("items") or {})
        if "enum" in items:
            # Close reads a list as one comma-joined value, the validator as one item.
            return [items["enum"][0]]
        return ["acti_a1", "acti_b2"] if name == "id__in" else ["a1", "b2"]
    if schema.get("format") == "date-time":
        return "2026-01-02T03:04:05+00:00"
    if schema.get("format") == "date":
        return "2026-01-02"
    if schema.get("format") == "email":
        return "ada@example.com"
    return "acti_q1" if name.endswith("_id") else "x1"


class RecordingRequester:
    """Records the requests; answers each with ``answer`` (through ``parse``, like the engine)."""

    telemetry = None
    options = DEFAULT_OPTIONS

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.requests: list[Request] = []
        self.parsed: list[Any] = []
        self._stats = ClientStats()

    @property
    def stats(self) -> ClientStats:
        return self._stats

    async def request(self, request: Request, *, parse: Any = None, options: Any = None) -> Any:
        self.requests.append(request)
        result = self.answer if parse is None else parse(self.answer)
        self.parsed.append(result)
        return result


class Surface(Resources):
    def __init__(self, requester: RecordingRequester) -> None:
        self._requester = requester  # type: ignore[assignment]


def method_of(surface: Surface, dotted: str) -> Any:
    target: Any = surface
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


def request_model_of(method: Any) -> type[RequestModel] | None:
    hints = typing.get_type_hints(method)
    for name, hint in hints.items():
        if name != "body" and name not in ("update", "create"):
            continue
        for arg in typing.get_args(hint) or (hint,):
            if isinstance(arg, type) and issubclass(arg, RequestModel):
                return arg
    return None


def build_model(cls: type[RequestModel], body: dict[str, Any]) -> RequestModel:
    """The model holding ``body``: its keys as fields, the keys it lacks in ``extra``."""
    by_key = {f.metadata.get("json", f.name): f.name for f in attrs.fields(cls)}
    known = {by_key[k]: v for k, v in body.items() if by_key.get(k, "extra") != "extra"}
    extra = {k: v for k, v in body.items() if by_key.get(k, "extra") == "extra"}
    return cls(**known, extra=extra)


def model_or_body(cls: type[RequestModel], body: dict[str, Any]) -> Any:
    """The model holding ``body``, or ``body`` itself (which the operation takes too) when a
    field rule of the overlay refuses a drawn value: the rules (an E.164 phone, a call's
    duration) are stricter than the document, whose bodies are drawn here. A value the
    model's type check refuses still fails the test."""
    try:
        return build_model(cls, body)
    except ClientValidationError as error:
        ruled = {a.name for a in attrs.fields(cls) if a.validator is not None}
        if error.field not in ruled:
            raise
        return body


_PLACEHOLDERS: dict[Any, Any] = {str: "x1", int: 1, float: 1.5, bool: True}


def placeholder(hint: Any) -> Any:
    """A value of a required field's type: a scalar, a literal's first value, an empty list."""
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)[0]
    if typing.get_origin(hint) is list:
        return []
    options = typing.get_args(hint) or (hint,)
    if any(o in _PLACEHOLDERS for o in options):
        return next(_PLACEHOLDERS[o] for o in options if o in _PLACEHOLDERS)
    return next(placeholder(o) for o in options if o is not type(None))


def minimal_model(cls: type[RequestModel]) -> RequestModel:
    """The model with its required fields only, for a body the document types as "any"."""
    hints = typing.get_type_hints(cls)
    values = {}
    for field in attrs.fields(cls):
        if field.default is attrs.NOTHING:
            values[field.name] = placeholder(hints[field.name])
    return cls(**values)


def operation_of(http: str, path: str) -> dict[str, Any]:
    op: dict[str, Any] = document()["paths"][path][http.lower()]
    return op


def success_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    for code, response in sorted(op["responses"].items()):
        if code.startswith("2"):
            content = response.get("content") or {}
            schema: dict[str, Any] | None = content.get("application/json", {}).get("schema")
            return schema
    return None


def test_the_contract_lists_every_operation_of_the_document() -> None:
    in_document = {
        (http.upper(), path)
        for path, item in document()["paths"].items()
        for http in item
        if http in ("get", "post", "put", "delete")
    }
    assert len(ROWS) == 286
    assert {(http, path) for _, http, path in ROWS} == in_document


@pytest.mark.parametrize(("dotted", "http", "path"), ROWS, ids=[r[0] for r in ROWS])
@settings(
    max_examples=3,
    deadline=None,
    # A failure is reported as drawn: shrinking a drawn Lead (contacts, opportunities, ...)
    # takes minutes and the failing operation is already named.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
async def test_every_operation_sends_what_the_document_says_and_parses_its_answers(
    dotted: str, http: str, path: str, data: st.DataObject
) -> None:
    op = operation_of(http, path)
    answer_schema = success_schema(op)
    is_list = op["operationId"].startswith("list") and http == "GET"
    answer = data.draw(strategy(json.dumps(answer_schema or {"type": "object"})), label="answer")
    if is_list and not (isinstance(answer, dict) and isinstance(answer.get("data"), list)):
        # The document declares this list's answer as an empty object (drawn, it may even
        # hold a "data" that is no list); Close answers a page.
        item = data.draw(strategy(json.dumps({"type": "object"})), label="item")
        answer = {"data": [item], "has_more": False}
    elif is_list:
        # One page: a drawn has_more of true would have the pager fetch the same page again.
        answer = {**answer, "has_more": False}
    requester = RecordingRequester(answer)
    surface = Surface(requester)
    method = method_of(surface, dotted)

    path_values = {name: f"acti_p{i}" for i, name in enumerate(re.findall(r"\{(\w+)\}", path))}
    args: list[Any] = list(path_values.values())
    body = None
    if "requestBody" in op:
        body_schema = op["requestBody"]["content"]["application/json"]["schema"]
        model = request_model_of(method)
        if body_schema == {"description": "Any type"}:
            # Typed by the overlay, or a plain mapping: either way any object is valid.
            body = data.draw(strategy(json.dumps({"type": "object"})), label="body")
            args.append(minimal_model(model) if model is not None else body)
        else:
            body = data.draw(strategy(json.dumps(body_schema)), label="body")
            args.append(body if model is None else model_or_body(model, body))
    query = {
        p["name"]: query_value(p["name"], p["schema"])
        for p in op.get("parameters", [])
        if p["in"] == "query"
        and not (path == "/event/" and p["name"] == "_skip")
        and not carries_objects(p["schema"])
    }
    # A list's `_limit` is its page_size= (its limit= is the most items in all, not sent).
    kwargs = {
        "page_size" if is_list and name == "_limit" else python_name(name): value
        for name, value in query.items()
    }

    result = method(*args, **kwargs)
    if is_list:
        assert isinstance(result, Pager)
        items = [item async for item in result]
        assert len(items) == len(answer["data"])
    else:
        result = await result

    (sent,) = requester.requests
    assert sent.method == http
    expected_path = path
    for name, value in path_values.items():
        expected_path = expected_path.replace("{" + name + "}", value)
    assert "/" + sent.path == expected_path
    sent_query = dict(sent.params)
    assert set(sent_query) <= set(query) | {"_cursor"}, "a query parameter the document lacks"
    assert set(query) - {"_skip"} <= set(sent_query) | {"_type"} or dotted.startswith(
        "activities.calls"
    )
    if body is not None:
        assert sent.body is not None
    mock = MockRequest(
        "https://api.close.com",
        http.lower(),
        "/api/v1/" + sent.path,
        args=sent_query,
        headers={"Authorization": "Basic eDo="},
        data=sent.body,
    )
    requests_validator().validate_request(mock)

    if not is_list and answer_schema is not None:
        hint = typing.get_type_hints(method).get("return")
        if isinstance(hint, type) and issubclass(hint, Model):
            assert isinstance(result, hint)
