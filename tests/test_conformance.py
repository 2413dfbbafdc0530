"""Our wire format against Close's own OpenAPI 3.1 schemas.

tests/data/close-calls-openapi.yml is the call-activity part of Close's published OpenAPI
document. OpenAPI 3.1 schemas are JSON Schema 2020-12, so bodies are checked with
jsonschema (formats enforced), and Call responses are generated from the CallActivity
schema itself and fed to the parser.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from test_conversion import (  # shared strategies, see test_conversion.py
    aware_datetimes,
    create_kwargs,
    json_values,
    update_kwargs,
)

from close_async import Call, CallCreate, CallUpdate

SPEC_PATH = Path(__file__).parent / "data" / "close-calls-openapi.yml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
SPEC_URI = "urn:close:calls-openapi"
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]

# The whole document is one resource, so "#/components/schemas/..." refs inside it resolve.
REGISTRY: Registry[Any] = Registry().with_resource(
    SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012)
)

FORMATS = FormatChecker()  # date-time comes from rfc3339-validator when installed


@FORMATS.checks("uri")  # type: ignore[untyped-decorator]
def _is_absolute_uri(value: object) -> bool:
    # jsonschema checks "uri" only with rfc3987 installed; RFC 3986 absolute URI, roughly.
    if not isinstance(value, str):
        return True
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s\x00-\x1f\x7f]*", value) is None:
        return False
    return bool(urlsplit(value).scheme)


def validator_for(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/{name}"},
        registry=REGISTRY,
        format_checker=FORMATS,
    )


UPDATE_SCHEMA = validator_for("UpdateCallActivity")
CREATE_SCHEMA = validator_for("CreateCallActivity")
CALL_SCHEMA = validator_for("CallActivity")
_CALL_WIRE_KEYS = {"_type" if a.name == "type" else a.name for a in attrs.fields(Call)} - {"extra"}


# --- the checker itself must bite, or the property tests below prove nothing ---------------

SCHEMA_REJECTS: list[tuple[str, dict[str, Any]]] = [
    ("UpdateCallActivity", {"activity_at": "yesterday"}),
    ("UpdateCallActivity", {"recording_url": "not a uri"}),
    ("UpdateCallActivity", {"duration": "30"}),
    ("UpdateCallActivity", {"status": "done"}),
    ("UpdateCallActivity", {"status": None}),
    ("CreateCallActivity", {"direction": "sideways"}),
    ("CreateCallActivity", {"date_created": "2024-01-01T00:00:00"}),
    ("CallActivity", {"id": "acti_1"}),
]


@pytest.mark.parametrize(("name", "body"), SCHEMA_REJECTS)
def test_schema_checker_rejects_known_bad_bodies(name: str, body: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        validator_for(name).validate(body)


def test_schema_checker_enforces_date_time_format() -> None:
    assert "date-time" in FORMATS.checkers
    assert not FORMATS.conforms("2024-01-01 garbage", "date-time")


# --- request bodies ---------------------------------------------------------------------------


@given(update_kwargs)
def test_every_update_body_validates_against_update_call_activity(kwargs: dict[str, Any]) -> None:
    UPDATE_SCHEMA.validate(CallUpdate(**kwargs).to_json())


@given(create_kwargs)
def test_every_create_body_validates_against_create_call_activity(kwargs: dict[str, Any]) -> None:
    CREATE_SCHEMA.validate(CallCreate(**kwargs).to_json())


def test_update_model_has_every_field_of_the_schema_and_no_other() -> None:
    body = CallUpdate(
        **{name: None for name in SCHEMAS["UpdateCallActivity"]["properties"] if name != "status"},
        status="completed",
    ).to_json()
    assert set(body) == set(SCHEMAS["UpdateCallActivity"]["properties"])


def test_create_model_has_every_field_of_the_schema_and_no_other() -> None:
    enums: dict[str, Any] = {"status": "completed", "direction": "inbound", "source": "External"}
    names = SCHEMAS["CreateCallActivity"]["properties"]
    kwargs: dict[str, Any] = {n: enums.get(n) for n in names}
    body = CallCreate(**kwargs).to_json()
    assert set(body) == set(names)


def test_update_status_enum_matches_the_schema() -> None:
    from close_async._types.rules import UPDATE_STATUSES

    assert set(SCHEMAS["UpdateCallActivityStatus"]["enum"]) == UPDATE_STATUSES
    assert set(SCHEMAS["CreateCallActivityStatus"]["enum"]) == UPDATE_STATUSES


# --- Call responses generated from the CallActivity schema -----------------------------------


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _date_time_texts() -> st.SearchStrategy[str]:
    """RFC 3339 date-times in the notations Close uses: offsets, +00:00 and Z."""
    return aware_datetimes.flatmap(
        lambda when: st.sampled_from(
            [
                when.isoformat(),
                when.astimezone(UTC).isoformat(),
                when.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z",
            ]
        )
    )


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values for the small JSON Schema subset the CallActivity schema uses."""
    schema = _resolve(schema)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    types = schema.get("type")
    if isinstance(types, list):
        return st.one_of([from_schema({**schema, "type": t}) for t in types])
    if types == "null":
        return st.none()
    if types == "string":
        if schema.get("format") == "date-time":
            return _date_time_texts()
        return st.text(max_size=20)
    if types == "array":
        return st.lists(from_schema(schema["items"]), max_size=3)
    if types == "integer":
        return st.integers(0, 10**6)
    raise NotImplementedError(f"schema not covered by this generator: {schema}")


@st.composite
def call_activities(draw: st.DrawFn) -> dict[str, Any]:
    """A CallActivity: every required property, some optional ones, some unknown keys."""
    schema = SCHEMAS["CallActivity"]
    payload: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        if name in schema["required"] or draw(st.booleans()):
            payload[name] = draw(from_schema(prop))
    # Unknown to the schema and to the model: Call also reads keys the schema leaves out
    # (``note``, ``note_html``, ...), which are typed, not kept as they came.
    known = schema["properties"].keys() | _CALL_WIRE_KEYS
    unknown = st.text(min_size=1, max_size=12).filter(lambda k: k not in known)
    payload.update(draw(st.dictionaries(unknown, json_values, max_size=3)))
    return payload


@given(call_activities())
def test_calls_generated_from_the_schema_parse(payload: dict[str, Any]) -> None:
    CALL_SCHEMA.validate(payload)  # the generator itself follows the schema
    call = Call.from_json(payload)
    assert call.id == payload["id"]
    assert call.type == payload["_type"]
    assert call.users == tuple(payload["users"])
    for name in ("organization_id", "lead_id", "contact_id", "user_id", "outcome_id"):
        assert getattr(call, name) == payload[name]
    assert call.status == payload["status"]
    assert call.source == payload["source"]
    for name in ("date_created", "date_updated"):
        assert getattr(call, name) == datetime.fromisoformat(payload[name])
    if payload["activity_at"] is None:
        assert call.activity_at is None
    else:
        assert call.activity_at == datetime.fromisoformat(payload["activity_at"])
    for name in ("created_by_name", "updated_by_name", "user_name", "sequence_id"):
        assert getattr(call, name) == payload.get(name)
    unknown = {k: v for k, v in payload.items() if k not in SCHEMAS["CallActivity"]["properties"]}
    assert {k: call.extra[k] for k in unknown} == unknown


def test_every_call_activity_property_is_a_call_field() -> None:
    """No documented property lands in ``extra``: each has its own attribute."""
    payload: dict[str, Any] = {name: None for name in SCHEMAS["CallActivity"]["properties"]}
    payload.update(id="acti_1", users=[])
    assert Call.from_json(payload).extra == {}
