"""The call models: the UNSET marker, field rules checked on construction, call ids.

Field rules come from the Close API facts (origin: close-api/README.md, "PUT
/activity/call/{id}/"; copied here as tables, tests never read that file).
"""

from __future__ import annotations

import copy
import pickle
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from close_async._engine.errors import ClientValidationError
from close_async._engine.ids import CALL_ID_MAX_LENGTH, safe_repr, validate_call_id
from close_async._types.generated.activities_calls import Call, CallCreate, CallUpdate
from close_async._types.rules import MAX_DURATION, UPDATE_STATUSES
from close_async._types.unset import UNSET, Unset

AWARE = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
NAIVE = datetime(2024, 5, 1, 12, 30)

UPDATE_FIELDS = {
    "activity_at",
    "contact_id",
    "conversation_type_id",
    "custom_fields",
    "duration",
    "lead_id",
    "note",
    "note_html",
    "outcome_id",
    "phone",
    "playbook_id",
    "quality_info",
    "recording_url",
    "status",
    "user_id",
    "voicemail_url",
}
CREATE_ONLY_FIELDS = {"direction", "source", "created_by_id", "date_created", "organization_id"}
NOT_NULLABLE = {"status", "direction", "source"}


# --- UNSET ------------------------------------------------------------------------------


def test_unset_is_a_falsy_singleton_with_a_short_repr() -> None:
    assert isinstance(UNSET, Unset)
    assert not UNSET
    assert repr(UNSET) == "UNSET"
    assert UNSET is not None


def test_unset_survives_copy_and_pickle_as_the_same_object() -> None:
    assert copy.copy(UNSET) is UNSET
    assert copy.deepcopy(UNSET) is UNSET
    assert pickle.loads(pickle.dumps(UNSET)) is UNSET  # noqa: S301 - our own bytes


# --- field sets ---------------------------------------------------------------------------


def _fields(model: type) -> set[str]:
    # ``extra`` (keys the model does not list) is every request model's, not a call field.
    return {a.name for a in attrs.fields(model)} - {"extra"}


def test_update_has_exactly_the_fields_of_update_call_activity() -> None:
    assert _fields(CallUpdate) == UPDATE_FIELDS


def test_create_has_the_update_fields_plus_the_create_only_ones() -> None:
    assert _fields(CallCreate) == UPDATE_FIELDS | CREATE_ONLY_FIELDS


@pytest.mark.parametrize("model", [CallUpdate, CallCreate])
def test_every_input_field_defaults_to_unset(model: type[CallUpdate | CallCreate]) -> None:
    empty = model()
    assert all(getattr(empty, name) is UNSET for name in _fields(model))
    assert empty.extra == {}
    assert empty.fields_set() == frozenset()


def test_fields_set_keeps_none_apart_from_unset() -> None:
    update = CallUpdate(note=None, duration=0, outcome_id="outcome_1")
    assert update.fields_set() == {"note", "duration", "outcome_id"}
    assert update.note is None
    assert update.lead_id is UNSET
    assert CallUpdate(note=None) != CallUpdate()


def test_input_fields_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        CallUpdate("a note")  # type: ignore[call-arg,arg-type]


@pytest.mark.parametrize(
    "model", [CallUpdate(note="x"), CallCreate(note="x"), Call(id="acti_1")], ids=repr
)
def test_models_are_frozen(model: Any) -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        model.note = "y"


def test_update_and_create_with_the_same_values_are_not_equal() -> None:
    update: object = CallUpdate(note="x")
    assert update != CallCreate(note="x")


# --- validation tables ---------------------------------------------------------------------

VALID: list[tuple[str, Any]] = [
    ("activity_at", AWARE),
    ("activity_at", datetime(2024, 5, 1, tzinfo=timezone(timedelta(hours=-4)))),
    ("activity_at", datetime(2024, 5, 1, tzinfo=timezone(timedelta(hours=5, minutes=30)))),
    ("contact_id", "cont_abc"),
    ("conversation_type_id", "ctype_1"),
    ("custom_fields", {}),
    ("custom_fields", {"cf_a": "x", "cf_b": 3, "cf_c": [1, "2", None], "cf_d": {"k": True}}),
    ("custom_fields", {"cf_date": date(2024, 1, 2), "cf_num": Decimal("1.5")}),
    ("duration", 0),
    ("duration", 1),
    ("duration", MAX_DURATION),
    ("lead_id", "lead_abc"),
    ("note", ""),
    ("note", "Left a voicemail\nwith two lines"),
    ("note_html", "<p>hi</p>"),
    ("outcome_id", "outcome_1"),
    ("phone", "+16503334444"),
    ("phone", "+12"),
    ("phone", "+123456789012345"),
    ("playbook_id", "pbk_1"),
    ("quality_info", "good"),
    ("recording_url", "https://example.com/rec.mp3"),
    ("recording_url", "http://example.com:8080/a?b=c#d"),
    ("recording_url", "HTTPS://EXAMPLE.COM/x"),
    ("user_id", "user_1"),
    ("voicemail_url", "https://cdn.example.com/vm/1.mp3"),
    *[("status", s) for s in sorted(UPDATE_STATUSES)],
]

INVALID: list[tuple[str, Any]] = [
    ("activity_at", NAIVE),
    ("activity_at", "2024-05-01T12:30:00Z"),
    ("activity_at", date(2024, 5, 1)),
    ("activity_at", 1714566600),
    ("contact_id", 12),
    ("contact_id", ""),
    ("contact_id", "   "),
    ("conversation_type_id", b"ctype_1"),
    ("custom_fields", "cf_a=1"),
    ("custom_fields", ["cf_a"]),
    ("custom_fields", {1: "x"}),
    ("custom_fields", {"cf_a": object()}),
    ("custom_fields", {"cf_a": {"nested": {1, 2}}}),
    ("duration", -1),
    ("duration", MAX_DURATION + 1),
    ("duration", True),
    ("duration", False),
    ("duration", 30.0),
    ("duration", "30"),
    ("lead_id", ["lead_1"]),
    ("note", 5),
    ("note_html", b"<p>"),
    ("outcome_id", 0),
    ("phone", "16503334444"),
    ("phone", "+06503334444"),
    ("phone", "+1"),
    ("phone", "+1234567890123456"),
    ("phone", "+1 650 333 4444"),
    ("phone", "+1650333444x"),
    ("phone", "+16503334444\n"),
    ("phone", 16503334444),
    ("playbook_id", 1.5),
    ("quality_info", {"mos": 4}),
    ("recording_url", "example.com/rec.mp3"),
    ("recording_url", "ftp://example.com/rec.mp3"),
    ("recording_url", "https://"),
    ("recording_url", "https:///path-only"),
    ("recording_url", "/relative/path.mp3"),
    ("recording_url", "javascript:alert(1)"),
    ("recording_url", "https://exa mple.com/x"),
    ("recording_url", "https://example.com/x\n"),
    ("recording_url", "https://example.com:99999/x"),
    ("status", "done"),
    ("status", "Completed"),
    ("status", "in_progress"),
    ("status", 1),
    ("user_id", ""),
    ("voicemail_url", "mailto:someone@example.com"),
]


@pytest.mark.parametrize("model", [CallUpdate, CallCreate])
@pytest.mark.parametrize(("field", "value"), VALID, ids=[f"{f}={v!r}" for f, v in VALID])
def test_valid_values_are_accepted(
    model: type[CallUpdate | CallCreate], field: str, value: Any
) -> None:
    made = model(**{field: value})
    assert made.fields_set() == {field}
    if field != "custom_fields":
        assert getattr(made, field) == value


@pytest.mark.parametrize("model", [CallUpdate, CallCreate])
@pytest.mark.parametrize(("field", "value"), INVALID, ids=[f"{f}={v!r}" for f, v in INVALID])
def test_invalid_values_are_refused_naming_the_field(
    model: type[CallUpdate | CallCreate], field: str, value: Any
) -> None:
    with pytest.raises(ClientValidationError) as info:
        model(**{field: value})
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


CREATE_VALID: list[tuple[str, Any]] = [
    ("direction", "inbound"),
    ("direction", "outbound"),
    ("source", "External"),
    ("source", "Close.io"),
    ("created_by_id", "user_1"),
    ("organization_id", "orga_1"),
    ("date_created", AWARE),
]
CREATE_INVALID: list[tuple[str, Any]] = [
    ("direction", "in"),
    ("direction", "Inbound"),
    ("source", "external"),
    ("source", "Close"),
    ("created_by_id", 7),
    ("organization_id", ""),
    ("date_created", NAIVE),
]


@pytest.mark.parametrize(("field", "value"), CREATE_VALID)
def test_create_only_fields_accept_valid_values(field: str, value: Any) -> None:
    assert getattr(CallCreate(**{field: value}), field) == value


@pytest.mark.parametrize(("field", "value"), CREATE_INVALID)
def test_create_only_fields_refuse_invalid_values(field: str, value: Any) -> None:
    with pytest.raises(ClientValidationError) as info:
        CallCreate(**{field: value})
    assert info.value.field == field


@pytest.mark.parametrize("field", sorted(UPDATE_FIELDS - NOT_NULLABLE))
def test_none_is_accepted_by_every_nullable_field_to_clear_it(field: str) -> None:
    kwargs: dict[str, Any] = {field: None}
    update = CallUpdate(**kwargs)
    assert getattr(update, field) is None
    assert update.fields_set() == {field}


@pytest.mark.parametrize("field", sorted(NOT_NULLABLE))
def test_none_is_refused_where_close_schema_has_no_null(field: str) -> None:
    with pytest.raises(ClientValidationError, match="cannot be cleared") as info:
        CallCreate(**dict[str, Any]({field: None}))
    assert info.value.field == field


def test_invalid_request_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="duration"):
        CallUpdate(duration=-1)


def test_error_text_cuts_and_escapes_a_long_or_hostile_value() -> None:
    with pytest.raises(ClientValidationError) as info:
        CallUpdate(phone="+1\n" + "9" * 500)
    text = str(info.value)
    assert "\n" not in text
    assert len(text) < 200


def test_error_text_does_not_repr_arbitrary_objects() -> None:
    class Secretive:
        def __repr__(self) -> str:
            return "sk_live_SECRET"

    with pytest.raises(ClientValidationError) as info:
        CallUpdate(note=Secretive())  # type: ignore[arg-type]
    assert "SECRET" not in str(info.value)
    assert "Secretive" in str(info.value)


def test_custom_fields_are_copied_so_later_changes_do_not_leak_in() -> None:
    mine = {"cf_a": "1"}
    update = CallUpdate(custom_fields=mine)
    mine["cf_a"] = "changed"
    mine["cf_b"] = "new"
    assert update.custom_fields == {"cf_a": "1"}


def test_custom_fields_cannot_be_changed_through_the_model() -> None:
    update = CallUpdate(custom_fields={"cf_a": "1"})
    assert isinstance(update.custom_fields, dict) is False
    with pytest.raises(TypeError):
        update.custom_fields["cf_a"] = "2"  # type: ignore[index]


def test_cyclic_custom_fields_are_refused_not_recursed_forever() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ClientValidationError) as info:
        CallUpdate(custom_fields={"cf_a": loop})
    assert info.value.field == "custom_fields"


# What a refused value's error says, one case per rule: the field, what the rule wants, and
# the value as given (the words a user reads to fix their input).
MESSAGES: list[tuple[type, str, Any, str]] = [
    (CallUpdate, "lead_id", "", "a non-empty id string (None clears the field), got ''"),
    (
        CallUpdate,
        "activity_at",
        NAIVE,
        "a datetime with a time zone (Close needs one; use datetime.timezone.utc), got a datetime",
    ),
    (
        CallUpdate,
        "custom_fields",
        "cf_a=1",
        "a mapping of custom field ids (strings) to JSON values, got 'cf_a=1'",
    ),
    (
        CallUpdate,
        "status",
        "done",
        "one of busy, cancel, completed, created, failed, in-progress, no-answer, timeout,"
        " got 'done'",
    ),
    (CallCreate, "source", "external", "one of Close.io, External, got 'external'"),
    (CallCreate, "direction", None, "not None: it cannot be cleared, got None"),
    (CallUpdate, "duration", 30.0, "a whole number of seconds from 0 to 604800, got 30.0"),
    (CallUpdate, "phone", "555", "an E.164 phone number such as '+16503334444', got '555'"),
    (
        CallUpdate,
        "recording_url",
        "ftp://x/a",
        "an absolute http:// or https:// URL, got 'ftp://x/a'",
    ),
]


@pytest.mark.parametrize(("model", "field", "value", "says"), MESSAGES, ids=lambda v: str(v))
def test_a_refused_value_is_named_with_what_the_rule_wants(
    model: type[CallUpdate | CallCreate], field: str, value: Any, says: str
) -> None:
    with pytest.raises(ClientValidationError) as info:
        model(**{field: value})
    assert str(info.value) == f"{field}: must be {says}"
    assert info.value.field == field


def _nested_objects(containers: int) -> dict[str, Any]:
    value: dict[str, Any] = {"cf_a": "x"}
    for _ in range(containers - 1):
        value = {"cf_a": value}
    return value


def _nested_arrays(containers: int) -> dict[str, Any]:
    value: Any = "x"
    for _ in range(containers - 1):
        value = [value]
    return {"cf_a": value}


# custom_fields may nest 33 containers deep, counting the mapping itself; the bound is what
# stops a cyclic structure, and is far beyond any custom field value Close holds.
@pytest.mark.parametrize("nested", [_nested_objects, _nested_arrays])
def test_custom_fields_nest_at_most_33_containers_deep(nested: Any) -> None:
    deepest = nested(33)
    assert CallUpdate(custom_fields=deepest).custom_fields == deepest
    with pytest.raises(ClientValidationError) as info:
        CallUpdate(custom_fields=nested(34))
    assert info.value.field == "custom_fields"


def test_a_mapping_that_holds_itself_is_refused_not_recursed_forever() -> None:
    loop: dict[str, Any] = {}
    loop["cf_a"] = loop
    with pytest.raises(ClientValidationError) as info:
        CallUpdate(custom_fields=loop)
    assert info.value.field == "custom_fields"


# --- properties -----------------------------------------------------------------------------

E164 = re.compile(r"\+[1-9][0-9]{1,14}")


@given(st.from_regex(E164, fullmatch=True))
def test_any_e164_number_is_accepted(phone: str) -> None:
    assert CallUpdate(phone=phone).phone == phone


@given(st.text(max_size=20).filter(lambda s: E164.fullmatch(s) is None))
def test_any_non_e164_text_is_refused(phone: str) -> None:
    with pytest.raises(ClientValidationError) as info:
        CallUpdate(phone=phone)
    assert info.value.field == "phone"


@given(st.integers())
def test_duration_is_accepted_exactly_within_zero_to_a_week(seconds: int) -> None:
    if 0 <= seconds <= MAX_DURATION:
        assert CallUpdate(duration=seconds).duration == seconds
    else:
        with pytest.raises(ClientValidationError) as info:
            CallUpdate(duration=seconds)
        assert info.value.field == "duration"


@given(st.integers(-(24 * 60) + 1, 24 * 60 - 1))
def test_activity_at_accepts_any_fixed_offset(minutes: int) -> None:
    when = datetime(2024, 1, 1, tzinfo=timezone(timedelta(minutes=minutes)))
    assert CallUpdate(activity_at=when).activity_at == when


# --- Call (response model) ------------------------------------------------------------------


def test_call_needs_only_an_id_and_defaults_the_rest() -> None:
    call = Call(id="acti_1")
    assert call.status is None
    assert call.cost is None
    assert call.users == ()
    assert call.extra == {}


def test_call_keeps_any_status_string() -> None:
    assert Call(id="acti_1", status="ringing-in-the-future").status == "ringing-in-the-future"


# --- call ids ----------------------------------------------------------------------------------

GOOD_IDS = [
    "acti_1",
    "acti_3fXh0mYvKZTrXMbmVSdVbLrnOBFGnJQ0IvyA0MYFwGy",
    "acti_" + "a" * (CALL_ID_MAX_LENGTH - 5),
]
BAD_IDS: list[Any] = [
    "",
    "acti_",
    "acti",
    "lead_abc",
    "ACTI_abc",
    "acti_abc/",
    "acti_abc/../../lead",
    "../acti_abc",
    "acti_..",
    "acti_abc?_fields=id",
    "acti_abc#frag",
    "acti_abc%2F..",
    "acti_abc def",
    " acti_abc",
    "acti_abc\n",
    "acti_abc\t",
    "acti_ab-c",
    "acti_ab_c",
    "acti_ab.c",
    "acti_ünïcode",
    "acti_١٢٣",  # Arabic-Indic digits: str.isdigit() says yes, base62 says no
    "acti_" + "a" * (CALL_ID_MAX_LENGTH - 4),
    None,
    123,
    b"acti_abc",
    ["acti_abc"],
]


@pytest.mark.parametrize("value", GOOD_IDS)
def test_well_formed_call_ids_are_returned_unchanged(value: str) -> None:
    assert validate_call_id(value) == value


@pytest.mark.parametrize("value", BAD_IDS, ids=repr)
def test_malformed_call_ids_are_refused(value: Any) -> None:
    with pytest.raises(ClientValidationError) as info:
        validate_call_id(value)
    assert info.value.field == "call_id"
    text = str(info.value)
    assert "\n" not in text
    assert "\t" not in text


def test_call_id_error_shows_the_value_escaped() -> None:
    with pytest.raises(ClientValidationError, match=re.escape(r"'acti_abc\n'")):
        validate_call_id("acti_abc\n")


@given(st.text())
def test_any_accepted_call_id_is_safe_in_a_url_path(value: str) -> None:
    try:
        validate_call_id(value)
    except ClientValidationError:
        return
    assert value.startswith("acti_")
    assert value.isascii()
    assert value.isalnum() or value.replace("_", "", 1).isalnum()
    assert not any(c in value for c in "/?#%. \\")


SAFE_REPR_CASES: list[tuple[Any, str]] = [
    ("abc", "'abc'"),
    ("a\nb", r"'a\nb'"),
    ("é", r"'\xe9'"),
    (None, "None"),
    (True, "True"),
    (12, "12"),
    (1.5, "1.5"),
    (object(), "a object"),
    (b"bytes", "a bytes"),
    ("x" * 50, "'" + "x" * 40 + "'... (50 characters)"),
]


@pytest.mark.parametrize(("value", "shown"), SAFE_REPR_CASES)
def test_safe_repr_escapes_cuts_and_hides(value: Any, shown: str) -> None:
    assert safe_repr(value) == shown


def test_safe_repr_survives_an_int_too_long_to_print() -> None:
    assert safe_repr(10**5000) == "a very long int"
