"""Required means required (issue 28, point 6).

In an answer model, a field the document (or the overlay's ``required``) requires and does
not allow to be null is typed without ``None`` (``Lead.id: str``). Reading stays lenient:
an answer without such a field is still read, the field holds ``None``, and
``missing_fields()`` names it. Request models keep ``X | Unset``. A strict answer (``Call``)
refuses an answer without its required fields.
"""

from __future__ import annotations

import datetime as _dt
import types
import typing
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from close_async import APIResponseValidationError, CloseClient
from close_async._types.model import Model, RequestModel
from close_async.models import Call, Contact, Lead, Opportunity, Task
from close_async.testing import FakeClose
from close_async.testing._objects import KINDS
from tools.codegen import spec as codegen_spec
from tools.codegen.spec import OVERLAY, SPEC, load, merged_schemas

FULL_LEAD = {
    "id": "lead_1",
    "contact_ids": [],
    "created_by": None,
    "date_created": "2024-01-01T00:00:00+00:00",
    "date_updated": "2024-01-02T00:00:00+00:00",
    "description": None,
    "html_url": "https://app.close.com/lead/lead_1/",
    "name": "Acme",
    "organization_id": "orga_1",
    "status_id": "stat_1",
    "updated_by": None,
    "url": None,
}


def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=False)


def admits_none(tp: Any) -> bool:
    return tp is Any or tp is type(None) or type(None) in typing.get_args(tp)


def test_a_required_field_of_an_answer_is_typed_without_none() -> None:
    lead = hints(Lead)
    assert lead["id"] is str
    assert lead["date_created"] is _dt.datetime
    assert lead["contact_ids"] == list[str]
    # Required but nullable in the document: None stays in the type.
    assert lead["description"] == str | None
    # Not required: may be left out.
    assert lead["display_name"] == str | None
    assert hints(Contact)["id"] is str
    assert hints(Opportunity)["id"] is str
    # Marked by the overlay's ``required`` (the document lists none for Task).
    assert hints(Task)["id"] is str
    assert hints(Call)["id"] is str


def test_request_models_keep_unset() -> None:
    from close_async import Unset
    from close_async.models import LeadUpdate

    assert set(typing.get_args(hints(LeadUpdate)["name"])) == {str, Unset, type(None)}


def test_a_full_answer_misses_nothing() -> None:
    lead = Lead.from_json(FULL_LEAD)
    assert lead.id == "lead_1"
    assert lead.missing_fields() == frozenset()


def test_an_answer_without_a_required_field_is_read_and_says_what_is_missing() -> None:
    partial = {k: v for k, v in FULL_LEAD.items() if k not in ("id", "status_id")}
    lead = Lead.from_json(partial)  # lenient: no error
    assert lead.id is None  # type: ignore[comparison-overlap]  # Close left it out
    assert lead.missing_fields() == frozenset({"id", "status_id"})
    # A required field sent as null counts too; a nullable one does not.
    nulled = Lead.from_json({**FULL_LEAD, "html_url": None, "description": None})
    assert nulled.missing_fields() == frozenset({"html_url"})
    # The model stays usable: repr, equality and writing back (the missing key left out).
    assert "id=None" in repr(lead)
    assert lead == Lead.from_json(partial)
    assert "id" not in lead.to_json()
    assert lead.to_json()["name"] == "Acme"


def test_a_model_built_by_hand_without_its_required_fields_says_so() -> None:
    assert Task().missing_fields() >= {"id", "date_created", "date_updated"}
    assert Task(id="task_1").missing_fields() == frozenset({"date_created", "date_updated"})


def test_a_strict_answer_refuses_an_answer_without_its_required_field() -> None:
    with pytest.raises(APIResponseValidationError, match="id"):
        Call.from_json({"note": "no id"})
    assert Call.from_json({"id": "acti_1"}).missing_fields() == frozenset()


def _answer_models() -> list[type[Model]]:
    import close_async.models as models

    found = []
    for name in models.__all__:
        value = getattr(models, name)
        if isinstance(value, type) and issubclass(value, Model):
            found.append(value)
    return found


def test_every_answer_model_types_its_required_fields_as_the_document_says() -> None:
    """Against the document and overlay, not the generator: each answer field required
    (``_required``) and not nullable in its schema is typed without None; every other
    field admits None (or is a tuple, empty when absent)."""
    document = yaml.safe_load(SPEC.read_text())
    overlay = yaml.safe_load(OVERLAY.read_text())
    schemas = merged_schemas(document, overlay)
    api = load()
    schema_of = {m.name: m.schema for m in api.models.values()}
    answers = [c for c in _answer_models() if not issubclass(c, RequestModel)]
    checked = 0
    for cls in answers:
        schema = schemas[schema_of[cls.__name__]]
        required = set(schema.get("required") or []) | set(
            (overlay.get("required") or {}).get(schema_of[cls.__name__]) or []
        )
        assert cls._required == frozenset(required), cls.__name__
        for attribute in attrs.fields(cls):
            if attribute.name == "extra":
                continue
            key = attribute.metadata.get("json", attribute.name)
            prop = schema["properties"][key]
            tp = hints(cls)[attribute.name]
            if typing.get_origin(tp) is tuple:
                continue
            must_hold = key in required and not codegen_spec._Builder.nullable(prop)
            if must_hold and tp is not Any:
                assert not admits_none(tp), f"{cls.__name__}.{attribute.name}: {tp}"
                checked += 1
            else:
                assert admits_none(tp), f"{cls.__name__}.{attribute.name}: {tp}"
    assert checked > 200


def test_the_overlay_required_must_name_fields_of_the_schema(tmp_path: Path) -> None:
    overlay = yaml.safe_load(OVERLAY.read_text())
    overlay["required"] = {"Task": ["id", "no_such_field"]}
    path = tmp_path / "overlay.yml"
    path.write_text(yaml.safe_dump(overlay, sort_keys=False))
    with pytest.raises(ValueError, match="no_such_field"):
        load(overlay_path=path)


def _item_reads() -> list[tuple[str, tuple[str, ...], str, str]]:
    """(fake kind, group path, method, path parameter) of each typed ``get`` of one stored
    object the fake keeps."""
    api = load()
    by_template = {
        (op.http, op.path): op
        for op in api.operations
        if not op.item and op.parse and len(op.path_params) == 1
    }
    reads = []
    for kind in KINDS.values():
        op = by_template.get(("GET", kind.item_template))
        if op is not None and "GET" in kind.item_methods:
            reads.append((kind.name, op.namespace, op.method, op.path_params[0][0]))
    return reads


ITEM_READS = _item_reads()


def test_the_fake_kinds_have_typed_reads() -> None:
    assert len(ITEM_READS) >= 25


@pytest.mark.parametrize(("kind", "group", "method", "param"), ITEM_READS, ids=lambda v: str(v))
async def test_the_fake_answers_every_required_field_of_a_typed_read(
    fake: FakeClose,
    close: CloseClient,
    kind: str,
    group: tuple[str, ...],
    method: str,
    param: str,
) -> None:
    fields: dict[str, Any] = {}
    if kind == "webhook":
        fields = {"url": "https://example.com/hook", "events": []}
    if kind == "send_as":  # as POST /send_as/ makes one: both users are required there
        fields = {"allowing_user_id": "user_a", "allowed_user_id": "user_b"}
    if KINDS[kind].lead_scoped:  # as through the API: an opportunity belongs to a lead
        fields["lead_id"] = fake.add_object("lead", name="Acme")["id"]
    stored = fake.add_object(kind, **fields)
    target: Any = close
    for part in group:
        target = getattr(target, part)
    model = await getattr(target, method)(**{param: stored["id"]})
    assert isinstance(model, Model)
    assert model.missing_fields() == frozenset(), type(model).__name__
    assert getattr(model, "id", stored["id"]) == stored["id"]


def test_missing_fields_is_reserved_from_field_names() -> None:
    from tools.codegen.naming import RESERVED_FIELDS

    assert "missing_fields" in RESERVED_FIELDS
    assert isinstance(Lead.missing_fields, types.FunctionType)
