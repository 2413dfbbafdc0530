"""Docstrings that read well (issue 28, point 8): the document's code blocks stay code
blocks, no "Schema X of Close's OpenAPI document" line, each Literal union written once."""

from __future__ import annotations

import ast
import collections
import inspect
import json
import typing

from close_async._resources.generated.leads import LeadsResource
from close_async._resources.generated.opportunities import OpportunitiesResource
from tools.codegen.render import MODELS_DIR, RESOURCES_DIR
from tools.codegen.spec import ROOT, doc_lines

GENERATED = sorted((ROOT / MODELS_DIR).glob("*.py")) + sorted((ROOT / RESOURCES_DIR).glob("*.py"))


def fenced_blocks(doc: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in doc.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    assert current is None, "an unclosed fence"
    return blocks


def test_a_json_example_stays_a_code_block_with_its_own_lines() -> None:
    doc = inspect.getdoc(LeadsResource.create)
    assert doc is not None
    assert "```json\n{\n" in doc  # the fence opens a block on its own line
    (first, *_) = fenced_blocks(doc)
    assert json.loads("\n".join(first)) == {
        "custom.cf_v6S011I6MqcbVvB2FA5Nk8dr5MkL8sWuCiG8cUleO9c": "value",
        "custom.cf_8wtBWsdRU2Fur7GDnEeXQ7ra2Vu7R4hG1SNYdiEhh0F": "other value",
    }
    assert len(first) == 4  # laid out: one key a line


def test_every_code_block_of_a_generated_docstring_is_closed_and_parses_when_json() -> None:
    found = 0
    for cls in (LeadsResource, OpportunitiesResource):
        for _, method in inspect.getmembers(cls, inspect.isfunction):
            for block in fenced_blocks(inspect.getdoc(method) or ""):
                found += 1
                text = "\n".join(block)
                if text.startswith(("{", "[")):
                    json.loads(text)
    assert found >= 5


def test_doc_lines_keeps_code_apart_from_prose() -> None:
    text = (
        "Set a field, e.g.:\n\n```\n\n    x = 1\n      y = 2\n\n```\nthen the rest\nof it.\n\n"
        '```json\n{"a": [1, 2]}\n```'
    )
    assert doc_lines(text) == [
        "Set a field, e.g.:",
        "",
        "```",
        "x = 1",
        "  y = 2",
        "```",
        "",
        "then the rest of it.",
        "",
        "```json",
        '{"a": [1, 2]}',
        "```",
    ]
    # An unclosed fence is prose, reflowed as before.
    assert doc_lines("a\n```\nb") == ["a ``` b"]


def test_no_generated_docstring_names_the_document_schema() -> None:
    for path in GENERATED:
        text = path.read_text()
        assert "of Close's OpenAPI document" not in text, path.name
        assert "Not in Close's document" not in text, path.name


def test_each_literal_union_of_the_models_is_written_once() -> None:
    written: collections.Counter[str] = collections.Counter()
    for path in sorted((ROOT / MODELS_DIR).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            is_literal = isinstance(node, ast.Subscript) and ast.unparse(node.value) == "Literal"
            if is_literal:
                values = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
                written[str(sorted(ast.literal_eval(v) for v in values))] += 1
    repeated = {values: n for values, n in written.items() if n > 1}
    # The same values under two ideas (an object type, a contact preference) keep their
    # own names; every other union is written once.
    assert repeated == {"['contact', 'lead']": 2}


def test_a_signature_names_the_union_the_document_names() -> None:
    from close_async._resources.generated.smart_views import SmartViewsResource

    source = inspect.getsource(SmartViewsResource.list)
    assert "type: SavedSearchType | None" in source
    assert "Literal[" not in source


def test_an_identical_union_is_an_alias_of_the_one_written() -> None:
    from close_async import models

    assert models.CallUpdateStatus is models.CallStatus
    calls = (ROOT / MODELS_DIR / "activities_calls.py").read_text()
    assert "CallUpdateStatus: TypeAlias = CallStatus\n" in calls
    assert models.EmailCreateStatus is models.MessageStatus
    assert models.SMSCreateDirection is models.PhoneActivityDirection
    assert "created" in typing.get_args(models.CallStatus)


def test_models_say_where_they_are_used() -> None:
    from close_async.models import Lead, LeadAddress

    assert "Returned by ``close.leads``: ``list``, ``create``, ``get``" in (Lead.__doc__ or "")
    assert (LeadAddress.__doc__ or "").startswith("Part of ")
    assert "``Lead``" in (LeadAddress.__doc__ or "")
