"""The converter: request bodies, Call parsing, datetimes and decimals, CLI rows.

Wire rules come from the Close API facts (origin: close-api/README.md, "PUT" and "The Call
object"; copied here as tables, tests never read that file). The hypothesis strategies
here are shared with test_conformance.py.
"""

from __future__ import annotations

import csv
import io
import re
import string
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, get_type_hints

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from close_async._engine.errors import APIResponseValidationError, ClientValidationError
from close_async._types.call_rows import update_from_row
from close_async._types.conversion import parse_datetime
from close_async._types.generated.activities_calls import Call, CallCreate, CallUpdate
from close_async._types.rules import CALL_DIRECTIONS, CALL_SOURCES, MAX_DURATION, UPDATE_STATUSES
from close_async._types.unset import UNSET

# --- strategies (also used by test_conformance.py) -----------------------------------------

offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
aware_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=offsets
)
ids = st.builds(
    lambda prefix, body: f"{prefix}_{body}",
    st.sampled_from(["lead", "cont", "user", "outcome", "pbk", "ctype", "orga"]),
    st.text(string.ascii_letters + string.digits, min_size=1, max_size=24),
)
phones = st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True)
urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}",
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){1,2}", fullmatch=True),
    st.text(string.ascii_letters + string.digits + "-_./", max_size=30),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
custom_fields = st.dictionaries(
    st.builds(lambda s: f"cf_{s}", st.text(string.ascii_letters, min_size=1, max_size=8)),
    json_values,
    max_size=4,
)


def _nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


UPDATE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "activity_at": _nullable(aware_datetimes),
    "contact_id": _nullable(ids),
    "conversation_type_id": _nullable(ids),
    "custom_fields": _nullable(custom_fields),
    "duration": _nullable(st.integers(0, MAX_DURATION)),
    "lead_id": _nullable(ids),
    "note": _nullable(st.text(max_size=40)),
    "note_html": _nullable(st.text(max_size=40)),
    "outcome_id": _nullable(ids),
    "phone": _nullable(phones),
    "playbook_id": _nullable(ids),
    "quality_info": _nullable(st.text(max_size=10)),
    "recording_url": _nullable(urls),
    "status": st.sampled_from(sorted(UPDATE_STATUSES)),
    "user_id": _nullable(ids),
    "voicemail_url": _nullable(urls),
}
CREATE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **UPDATE_VALUES,
    "created_by_id": _nullable(ids),
    "date_created": _nullable(aware_datetimes),
    "direction": st.sampled_from(sorted(CALL_DIRECTIONS)),
    "organization_id": _nullable(ids),
    "source": st.sampled_from(sorted(CALL_SOURCES)),
}


def _some_fields(values: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=values)


update_kwargs = _some_fields(UPDATE_VALUES)
create_kwargs = _some_fields(CREATE_VALUES)


def test_strategies_cover_every_model_field() -> None:
    # ``extra`` is every request model's (keys the model does not list), not a call field.
    assert set(UPDATE_VALUES) == {a.name for a in attrs.fields(CallUpdate)} - {"extra"}
    assert set(CREATE_VALUES) == {a.name for a in attrs.fields(CallCreate)} - {"extra"}


# --- request bodies ---------------------------------------------------------------------------


def _expected_wire(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@given(update_kwargs)
def test_update_body_holds_exactly_the_fields_given(kwargs: dict[str, Any]) -> None:
    body = CallUpdate(**kwargs).to_json()
    assert set(body) == set(kwargs)
    for name, value in kwargs.items():
        assert body[name] == _expected_wire(value)


@given(create_kwargs)
def test_create_body_holds_exactly_the_fields_given(kwargs: dict[str, Any]) -> None:
    body = CallCreate(**kwargs).to_json()
    assert set(body) == set(kwargs)
    for name, value in kwargs.items():
        assert body[name] == _expected_wire(value)


def test_empty_update_gives_an_empty_body() -> None:
    assert CallUpdate().to_json() == {}


def test_none_is_sent_as_null_and_unset_is_left_out() -> None:
    body = CallUpdate(note=None, outcome_id=None, duration=UNSET).to_json()
    assert body == {"note": None, "outcome_id": None}


def test_falsy_values_are_sent_not_mistaken_for_unset() -> None:
    body = CallUpdate(note="", duration=0, custom_fields={}).to_json()
    assert body == {"note": "", "duration": 0, "custom_fields": {}}


@pytest.mark.parametrize(
    ("when", "wire"),
    [
        (datetime(2024, 5, 1, 12, 30, tzinfo=UTC), "2024-05-01T12:30:00+00:00"),
        (
            datetime(2024, 5, 1, 12, 30, 1, 250000, tzinfo=timezone(timedelta(hours=-4))),
            "2024-05-01T12:30:01.250000-04:00",
        ),
        (
            datetime(2024, 5, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2024-05-01T00:00:00+05:30",
        ),
    ],
)
def test_datetimes_are_sent_as_iso_8601_with_their_offset(when: datetime, wire: str) -> None:
    assert CallUpdate(activity_at=when).to_json() == {"activity_at": wire}


def test_custom_field_dates_and_decimals_are_sent_as_strings() -> None:
    update = CallUpdate(
        custom_fields={
            "cf_day": date(2024, 1, 2),
            "cf_at": datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
            "cf_amount": Decimal("12.50"),
            "cf_list": [Decimal(1), {"deep": date(2024, 1, 3)}],
            "cf_clear": None,
        }
    )
    assert update.to_json() == {
        "custom_fields": {
            "cf_day": "2024-01-02",
            "cf_at": "2024-01-02T03:04:00+00:00",
            "cf_amount": "12.50",
            "cf_list": ["1", {"deep": "2024-01-03"}],
            "cf_clear": None,
        }
    }


def test_update_body_is_a_fresh_plain_dict_each_time() -> None:
    update = CallUpdate(custom_fields={"cf_a": [1]})
    first = update.to_json()
    first["custom_fields"]["cf_a"].append(2)
    first["note"] = "mutated"
    assert update.to_json() == {"custom_fields": {"cf_a": [1]}}
    assert type(first["custom_fields"]) is dict


# --- datetimes from Close ----------------------------------------------------------------------

EST = timezone(timedelta(hours=-5))
IST = timezone(timedelta(hours=5, minutes=30))
DATETIME_CASES: list[tuple[str, datetime]] = [
    ("2013-02-01T00:54:51.331000+00:00", datetime(2013, 2, 1, 0, 54, 51, 331000, tzinfo=UTC)),
    ("2013-02-01T00:54:51.331Z", datetime(2013, 2, 1, 0, 54, 51, 331000, tzinfo=UTC)),
    ("2013-02-01T00:54:51z", datetime(2013, 2, 1, 0, 54, 51, tzinfo=UTC)),
    ("2013-02-01T00:54:51+00:00", datetime(2013, 2, 1, 0, 54, 51, tzinfo=UTC)),
    ("2013-02-01T00:54:51-05:00", datetime(2013, 2, 1, 0, 54, 51, tzinfo=EST)),
    ("2013-02-01T00:54:51+0530", datetime(2013, 2, 1, 0, 54, 51, tzinfo=IST)),
    ("2013-02-01 00:54:51+05:30", datetime(2013, 2, 1, 0, 54, 51, tzinfo=IST)),
    ("2013-02-01T00:54Z", datetime(2013, 2, 1, 0, 54, tzinfo=UTC)),
    ("2013-02-01T00:54:51.1Z", datetime(2013, 2, 1, 0, 54, 51, 100000, tzinfo=UTC)),
    ("2013-02-01T00:54:51.123456789Z", datetime(2013, 2, 1, 0, 54, 51, 123456, tzinfo=UTC)),
    ("2013-02-01T00:54:51,5Z", datetime(2013, 2, 1, 0, 54, 51, 500000, tzinfo=UTC)),
    # No zone in a response: Close stores UTC, so it is read as UTC.
    ("2013-02-01T00:54:51.331000", datetime(2013, 2, 1, 0, 54, 51, 331000, tzinfo=UTC)),
]
BAD_DATETIMES: list[Any] = [
    "",
    "2013-02-01",
    "2013-02-01T",
    "2013-02-30T00:00:00Z",
    "2013-13-01T00:00:00Z",
    "2013-02-01T25:00:00Z",
    "2013-02-01T00:00:00+24:00",
    "2013-02-01T00:00:00 UTC",
    "2013-W05-5T00:00:00Z",
    "20130201T005451Z",
    "2013-02-01T00:54:51 Z",
    "٢٠١٣-02-01T00:54:51Z",  # Arabic-Indic digits pass int() but are not ISO 8601
    "yesterday",
    1359680091,
    None,
]


@pytest.mark.parametrize(("text", "expected"), DATETIME_CASES)
def test_close_datetimes_are_read_aware_whatever_the_zone_notation(
    text: str, expected: datetime
) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", BAD_DATETIMES)
def test_malformed_datetimes_are_refused(text: Any) -> None:
    with pytest.raises(ValueError, match="date-time"):
        parse_datetime(text)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1359680091, "expected an ISO 8601 date-time string, got 1359680091"),
        (None, "expected an ISO 8601 date-time string, got None"),
        ("2013-02-01", "not an ISO 8601 date-time: '2013-02-01'"),
        ("2013-02-30T00:00:00Z", "not a valid date-time: '2013-02-30T00:00:00Z' ("),
    ],
)
def test_a_refused_datetime_is_shown_in_the_message(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        parse_datetime(value)


def test_datetime_without_zone_stays_naive_when_asked() -> None:
    assert parse_datetime("2013-02-01T00:54:51", default_utc=False).tzinfo is None


@given(aware_datetimes)
def test_isoformat_round_trips_through_the_parser(when: datetime) -> None:
    parsed = parse_datetime(when.isoformat())
    assert parsed == when
    assert parsed.utcoffset() == when.utcoffset()


# --- Call parsing --------------------------------------------------------------------------------

# A Call as recorded from Close (shape per README "The Call object"; ids made up).
RECORDED_CALL: dict[str, Any] = {
    "_type": "Call",
    "id": "acti_3fXh0mYvKZTrXMbmVSdVbLrnOBFGnJQ0IvyA0MYFwGy",
    "organization_id": "orga_bwwWG475zqWiQGur0thQshwVXo8rIYecQHDWFanqhen",
    "date_created": "2013-02-01T00:54:51.331000+00:00",
    "date_updated": "2013-02-01T00:54:51.336000+00:00",
    "activity_at": "2013-02-01T00:54:51.331000+00:00",
    "lead_id": "lead_IIDHIStmFcFQZZP0BRe99V1MCoXWz2PGCm6EDmR9v2O",
    "contact_id": None,
    "created_by": "user_04EJPREurd0b3KDozVFqXSRbt2uBjw3QfeYa7ZaGTwI",
    "created_by_name": "Anthony Nemitz",
    "updated_by": None,
    "updated_by_name": None,
    "user_id": "user_04EJPREurd0b3KDozVFqXSRbt2uBjw3QfeYa7ZaGTwI",
    "user_name": "Anthony Nemitz",
    "users": ["user_04EJPREurd0b3KDozVFqXSRbt2uBjw3QfeYa7ZaGTwI"],
    "outcome_id": None,
    "source": "External",
    "status": "completed",
    "direction": "outbound",
    "disposition": "answered",
    "call_method": "external",
    "duration": 153,
    "cost": "1.50",
    "note": "Call notes",
    "note_html": "<p>Call notes</p>",
    "phone": "+16503334444",
    "local_phone": "+16505551234",
    "local_phone_formatted": "+1 650-555-1234",
    "remote_phone": "+16503334444",
    "remote_phone_formatted": "+1 650-333-4444",
    "recording_url": None,
    "voicemail_url": None,
    "voicemail_duration": 0,
    "sequence_id": None,
    "sequence_name": None,
    "sequence_subscription_id": None,
    "is_forwarded": False,
    "transferred_to": None,
    "coach_legs": [],
}


def test_recorded_call_is_read_field_by_field() -> None:
    call = Call.from_json(RECORDED_CALL)
    assert call.id == RECORDED_CALL["id"]
    assert call.type == "Call"
    assert call.date_created == datetime(2013, 2, 1, 0, 54, 51, 331000, tzinfo=UTC)
    assert call.cost == Decimal("1.50")
    assert call.users == ("user_04EJPREurd0b3KDozVFqXSRbt2uBjw3QfeYa7ZaGTwI",)
    assert call.duration == 153
    assert call.contact_id is None
    assert call.extra == {"is_forwarded": False, "transferred_to": None, "coach_legs": []}


def test_unknown_fields_are_kept_in_extra_under_their_json_names() -> None:
    call = Call.from_json({"id": "acti_1", "new_field": {"a": 1}, "extra": 5, "type": "x"})
    assert call.extra == {"new_field": {"a": 1}, "extra": 5, "type": "x"}
    assert call.type is None


def test_only_an_id_is_needed() -> None:
    assert Call.from_json({"id": "acti_1"}) == Call(id="acti_1")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "ringing"),
        ("status", "Completed"),
        ("direction", "sideways"),
        ("disposition", "vm-transcribed"),
        ("source", "Zapier"),
        ("call_method", "ai-agent"),
    ],
)
def test_unknown_enum_values_are_kept_as_strings(field: str, value: str) -> None:
    assert getattr(Call.from_json({"id": "acti_1", field: value}), field) == value


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("1.50", Decimal("1.50")),
        ("0", Decimal(0)),
        ("  2.5 ", Decimal("2.5")),
        ("1e2", Decimal("1e2")),
        (3, Decimal(3)),
        (0.1, Decimal("0.1")),
        (None, None),
    ],
)
def test_cost_is_read_as_an_exact_decimal(wire: Any, expected: Decimal | None) -> None:
    cost = Call.from_json({"id": "acti_1", "cost": wire}).cost
    assert cost == expected
    if expected is not None:
        assert str(cost) == str(expected)


@pytest.mark.parametrize("wire", ["abc", "", "NaN", "Infinity", True, [1], {"usd": 1}])
def test_bad_cost_is_a_decoding_error_naming_cost(wire: Any) -> None:
    with pytest.raises(APIResponseValidationError, match=r"\$\.cost"):
        Call.from_json({"id": "acti_1", "cost": wire})


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (None, "got null"),
        ([], "got an array"),
        ("acti_1", "got a string"),
        (5, "got a number"),
        ({}, r"required field missing @ \$\.id"),
        ({"id": None}, r"\$\.id"),
        ({"id": 5}, r"expected a string, got 5 @ \$\.id"),
        ({"id": "acti_1", "date_created": "soon"}, r"'soon' @ \$\.date_created"),
        ({"id": "acti_1", "activity_at": 1359680091}, r"\$\.activity_at"),
        ({"id": "acti_1", "duration": "153"}, r"\$\.duration"),
        ({"id": "acti_1", "duration": True}, r"\$\.duration"),
        ({"id": "acti_1", "duration": 1.5}, r"\$\.duration"),
        ({"id": "acti_1", "users": "user_1"}, r"\$\.users"),
        ({"id": "acti_1", "users": [1]}, r"\$\.users"),
        ({"id": "acti_1", "lead_id": 7}, r"\$\.lead_id"),
        ({"id": "acti_1", "status": None, "note": {"x": 1}}, r"\$\.note"),
    ],
)
def test_payloads_that_are_not_calls_raise_decoding_error(payload: Any, fragment: str) -> None:
    with pytest.raises(APIResponseValidationError, match=fragment):
        Call.from_json(payload)


def test_decoding_error_names_the_call_and_every_bad_field() -> None:
    with pytest.raises(APIResponseValidationError) as info:
        Call.from_json({"id": "acti_9", "duration": "x", "date_updated": "y"})
    text = str(info.value)
    assert "'acti_9'" in text
    assert "$.duration" in text
    assert "$.date_updated" in text


def test_float_duration_with_a_whole_value_is_read_as_int() -> None:
    call = Call.from_json({"id": "acti_1", "duration": 30.0, "voicemail_duration": 4})
    assert call.duration == 30
    assert type(call.duration) is int


def test_null_users_reads_as_no_users() -> None:
    assert Call.from_json({"id": "acti_1", "users": None}).users == ()


def test_the_payload_is_not_modified() -> None:
    payload = dict(RECORDED_CALL)
    Call.from_json(payload)
    assert payload == RECORDED_CALL


# Call payload generation: known fields in their wire form, with the value expected after parsing.

# The model's fields (its class variables, such as ``_required``, are not fields).
_CALL_FIELD_TYPES = {n: t for n, t in get_type_hints(Call).items() if not n.startswith("_")}
_STR_FIELDS = sorted(n for n, t in _CALL_FIELD_TYPES.items() if t == str | None and n != "type")
_DATETIME_FIELDS = ["activity_at", "date_created", "date_updated"]
_INT_FIELDS = ["duration", "voicemail_duration"]

zone_notations = st.sampled_from(["Z", "+00:00", "offset", "none"])


@st.composite
def wire_datetimes(draw: st.DrawFn) -> tuple[str, datetime]:
    """An ISO 8601 string as Close might send it, and the aware datetime it means."""
    when = draw(aware_datetimes)
    notation = draw(zone_notations)
    if notation == "offset":
        return when.isoformat(), when
    utc = when.astimezone(UTC)
    naive_text = utc.replace(tzinfo=None).isoformat()
    suffix = {"Z": "Z", "+00:00": "+00:00", "none": ""}[notation]
    return naive_text + suffix, utc


@st.composite
def call_payloads(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(payload, expected attribute values) with random missing fields and unknown keys."""
    payload: dict[str, Any] = {"id": "acti_" + draw(st.text(string.ascii_letters, min_size=1))}
    expected: dict[str, Any] = {"id": payload["id"]}
    for name in _STR_FIELDS:
        if draw(st.booleans()):
            value = draw(st.none() | st.text(max_size=12))
            payload[name] = expected[name] = value
    if draw(st.booleans()):
        payload["_type"] = expected["type"] = draw(st.sampled_from(["Call", None]))
    for name in _DATETIME_FIELDS:
        if draw(st.booleans()):
            if draw(st.booleans()):
                payload[name], expected[name] = draw(wire_datetimes())
            else:
                payload[name] = expected[name] = None
    for name in _INT_FIELDS:
        if draw(st.booleans()):
            payload[name] = expected[name] = draw(st.none() | st.integers(0, 10**6))
    if draw(st.booleans()):
        cost = draw(st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2))
        payload["cost"] = None if cost is None else str(cost)
        expected["cost"] = cost
    if draw(st.booleans()):
        users = draw(st.lists(st.text(max_size=10), max_size=3))
        payload["users"] = users
        expected["users"] = tuple(users)
    extra = draw(
        st.dictionaries(
            st.text(max_size=12).filter(lambda k: k not in payload and k != "_type"),
            json_values,
            max_size=3,
        ).filter(lambda d: not (d.keys() & {a.name for a in attrs.fields(Call)} - {"extra"}))
    )
    payload.update(extra)
    expected["extra"] = extra
    return payload, expected


@given(call_payloads())
def test_generated_call_payloads_parse_to_the_expected_fields(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    payload, expected = case
    call = Call.from_json(payload)
    for name in _CALL_FIELD_TYPES:
        default: Any = () if name == "users" else {} if name == "extra" else None
        want = expected.get(name, default)
        got = getattr(call, name)
        assert got == want, name
        if isinstance(want, datetime):
            assert got.utcoffset() == want.utcoffset(), name


@given(call_payloads())
def test_call_to_json_and_back_gives_the_same_call(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    call = Call.from_json(case[0])
    assert Call.from_json(call.to_json()) == call


# --- CLI rows -------------------------------------------------------------------------------------

ROW_CASES: list[tuple[str, dict[str, Any], str, CallUpdate]] = [
    ("csv digits", {"id": "acti_1", "duration": "30"}, "csv", CallUpdate(duration=30)),
    ("csv padded digits", {"id": "acti_1", "duration": " 30 "}, "csv", CallUpdate(duration=30)),
    ("csv empty skipped", {"id": "acti_1", "note": "", "duration": ""}, "csv", CallUpdate()),
    ("csv text", {"id": "acti_1", "note": "hello"}, "csv", CallUpdate(note="hello")),
    (
        "csv literal null is text",
        {"id": "acti_1", "note": "null"},
        "csv",
        CallUpdate(note="null"),
    ),
    (
        "csv datetime",
        {"id": "acti_1", "activity_at": "2024-05-01T12:30:00Z"},
        "csv",
        CallUpdate(activity_at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    ),
    (
        "csv custom columns",
        {"id": "acti_1", "custom.cf_a": "x", "custom.cf_b": "", "custom.cf_c": "3"},
        "csv",
        CallUpdate(custom_fields={"cf_a": "x", "cf_c": "3"}),
    ),
    (
        "csv custom_fields json text",
        {"id": "acti_1", "custom_fields": '{"cf_a": 1, "cf_b": null}'},
        "csv",
        CallUpdate(custom_fields={"cf_a": 1, "cf_b": None}),
    ),
    (
        "csv custom_fields merged with columns",
        {"id": "acti_1", "custom_fields": '{"cf_a": 1}', "custom.cf_b": "2"},
        "csv",
        CallUpdate(custom_fields={"cf_a": 1, "cf_b": "2"}),
    ),
    (
        "csv header spaces",
        {" id ": "acti_1", " note": "x"},
        "csv",
        CallUpdate(note="x"),
    ),
    ("json null clears", {"id": "acti_1", "note": None}, "json", CallUpdate(note=None)),
    ("json empty kept", {"id": "acti_1", "note": ""}, "json", CallUpdate(note="")),
    ("json int", {"id": "acti_1", "duration": 30}, "json", CallUpdate(duration=30)),
    (
        "json datetime",
        {"id": "acti_1", "activity_at": "2024-05-01T12:30:00+02:00"},
        "json",
        CallUpdate(activity_at=datetime(2024, 5, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))),
    ),
    (
        "json custom object",
        {"id": "acti_1", "custom_fields": {"cf_a": [1, 2]}},
        "json",
        CallUpdate(custom_fields={"cf_a": [1, 2]}),
    ),
    (
        "json custom_fields null clears all",
        {"id": "acti_1", "custom_fields": None},
        "json",
        CallUpdate(custom_fields=None),
    ),
    (
        "json custom column null clears one",
        {"id": "acti_1", "custom.cf_a": None},
        "json",
        CallUpdate(custom_fields={"cf_a": None}),
    ),
    ("json ints untouched in csv", {"id": "acti_1", "duration": 5}, "csv", CallUpdate(duration=5)),
    # csv.DictReader gives None for the missing cells of a short row: they must not clear.
    (
        "csv short row",
        {"id": "acti_1", "note": "x", "outcome_id": None},
        "csv",
        CallUpdate(note="x"),
    ),
]


@pytest.mark.parametrize(
    ("row", "kind", "expected"), [c[1:] for c in ROW_CASES], ids=[c[0] for c in ROW_CASES]
)
def test_rows_become_an_id_and_an_update(
    row: dict[str, Any], kind: Any, expected: CallUpdate
) -> None:
    assert update_from_row(row, kind=kind) == ("acti_1", expected)


ROW_ERRORS: list[tuple[str, Any, str, str]] = [
    ("no id", {"note": "x"}, "csv", "id"),
    ("empty id", {"id": "", "note": "x"}, "csv", "id"),
    ("null id", {"id": None}, "json", "id"),
    ("bad id", {"id": "acti_1/../x"}, "csv", "id"),
    ("unknown column", {"id": "acti_1", "notes": "x"}, "csv", "notes"),
    ("type column", {"id": "acti_1", "_type": "Call"}, "csv", "_type"),
    ("bare custom prefix", {"id": "acti_1", "custom.": "x"}, "csv", "custom."),
    ("duration words", {"id": "acti_1", "duration": "thirty"}, "csv", "duration"),
    ("duration negative", {"id": "acti_1", "duration": "-5"}, "csv", "duration"),
    ("duration fraction", {"id": "acti_1", "duration": "3.5"}, "csv", "duration"),
    ("duration unicode digits", {"id": "acti_1", "duration": "٣"}, "csv", "duration"),
    ("duration too long", {"id": "acti_1", "duration": "604801"}, "csv", "duration"),
    ("duration text in json", {"id": "acti_1", "duration": "30"}, "json", "duration"),
    ("duration empty in json", {"id": "acti_1", "duration": ""}, "json", "duration"),
    (
        "naive datetime",
        {"id": "acti_1", "activity_at": "2024-05-01T12:30:00"},
        "csv",
        "activity_at",
    ),
    ("bad datetime", {"id": "acti_1", "activity_at": "May 1st"}, "json", "activity_at"),
    ("status", {"id": "acti_1", "status": "done"}, "csv", "status"),
    ("phone", {"id": "acti_1", "phone": "650 333 4444"}, "csv", "phone"),
    ("url", {"id": "acti_1", "recording_url": "rec.mp3"}, "csv", "recording_url"),
    (
        "custom_fields not json",
        {"id": "acti_1", "custom_fields": "{cf_a: 1"},
        "csv",
        "custom_fields",
    ),
    ("custom_fields array", {"id": "acti_1", "custom_fields": "[1]"}, "csv", "custom_fields"),
    (
        "custom_fields text in json",
        {"id": "acti_1", "custom_fields": "{}"},
        "json",
        "custom_fields",
    ),
    (
        "custom field twice",
        {"id": "acti_1", "custom_fields": '{"cf_a": 1}', "custom.cf_a": "2"},
        "csv",
        "custom.cf_a",
    ),
    (
        "custom null with columns",
        {"id": "acti_1", "custom_fields": None, "custom.cf_a": "2"},
        "json",
        "custom_fields",
    ),
    ("not a mapping", ["acti_1"], "json", "id"),
    ("csv long row", {"id": "acti_1", None: ["surplus"]}, "csv", "row"),
]


@pytest.mark.parametrize(
    ("row", "kind", "field"), [c[1:] for c in ROW_ERRORS], ids=[c[0] for c in ROW_ERRORS]
)
def test_bad_rows_name_the_field_and_the_line(row: Any, kind: Any, field: str) -> None:
    with pytest.raises(ClientValidationError) as info:
        update_from_row(row, line=42, kind=kind)
    assert info.value.field == field
    assert str(info.value).startswith("line 42: ")


def test_row_errors_without_a_line_have_no_line_prefix() -> None:
    with pytest.raises(ClientValidationError) as info:
        update_from_row({"id": "acti_1", "duration": "x"})
    assert str(info.value).startswith("duration: ")


def test_unknown_column_error_names_the_column() -> None:
    with pytest.raises(ClientValidationError, match="unknown column 'durration'"):
        update_from_row({"id": "acti_1", "durration": "3"}, line=7)


def test_csv_reader_rows_are_read_with_their_line_numbers() -> None:
    text = "id,duration,note,custom.cf_a\nacti_1,30,,x\nacti_2,abc,hi,\n"
    reader = csv.DictReader(io.StringIO(text))
    first = next(reader)
    assert update_from_row(first, line=reader.line_num) == (
        "acti_1",
        CallUpdate(duration=30, custom_fields={"cf_a": "x"}),
    )
    with pytest.raises(ClientValidationError, match=r"^line 3: duration: ") as info:
        update_from_row(next(reader), line=reader.line_num)
    assert info.value.field == "duration"


def test_rows_default_to_csv_rules() -> None:
    assert update_from_row({"id": "acti_1", "duration": "3", "note": ""}) == (
        "acti_1",
        CallUpdate(duration=3),
    )


@given(update_kwargs)
def test_json_rows_of_a_body_give_back_the_same_update(kwargs: dict[str, Any]) -> None:
    update = CallUpdate(**kwargs)
    row = {"id": "acti_1", **update.to_json()}
    assert update_from_row(row, kind="json") == ("acti_1", update)


# --- messages, word for word: they are what a user reads -------------------------------

ROW_MESSAGES = {
    "no id": "the row has no 'id' (the call id)",
    "empty id": "the id is empty",
    "null id": "the row has no 'id' (the call id)",
    "bad id": "id must be 'acti_' followed by letters and digits (at most 100 characters), "
    "got 'acti_1/../x'",
    "unknown column": "unknown column 'notes' "
    "(expected id, an update field, custom_fields or custom.<field_id>)",
    "type column": "unknown column '_type' "
    "(expected id, an update field, custom_fields or custom.<field_id>)",
    "bare custom prefix": "unknown column 'custom.' "
    "(expected id, an update field, custom_fields or custom.<field_id>)",
    # One rule for a duration, the model's: the CSV reader only reads a number as one.
    "duration words": "duration: must be a whole number of seconds from 0 to 604800, got 'thirty'",
    "duration negative": "duration: must be a whole number of seconds from 0 to 604800, got -5",
    "duration fraction": "duration: must be a whole number of seconds from 0 to 604800, got '3.5'",
    "duration unicode digits": "duration: must be a whole number of seconds from 0 to 604800, "
    "got '\\u0663'",
    "duration too long": "duration: must be a whole number of seconds from 0 to 604800, got 604801",
    "duration text in json": "duration: must be a whole number of seconds from 0 to 604800, "
    "got '30'",
    "duration empty in json": "duration: must be a whole number of seconds from 0 to 604800, "
    "got ''",
    "naive datetime": "activity_at: needs a time zone (such as Z or +00:00), "
    "got '2024-05-01T12:30:00'",
    "bad datetime": "activity_at: not an ISO 8601 date-time: 'May 1st'",
    "status": "status: must be one of busy, cancel, completed, created, failed, in-progress, "
    "no-answer, timeout, got 'done'",
    "phone": "phone: must be an E.164 phone number such as '+16503334444', got '650 333 4444'",
    "url": "recording_url: must be an absolute http:// or https:// URL, got 'rec.mp3'",
    "custom_fields not json": "custom_fields must be a JSON object",
    "custom_fields array": "custom_fields must be an object, got an array",
    "custom_fields text in json": "custom_fields must be an object, got a string",
    "custom field twice": "custom field 'cf_a' is set both in custom_fields and as a "
    "custom.<field_id> column",
    "custom null with columns": "custom_fields is null but custom.<field_id> columns are set",
    "not a mapping": "expected an object with an 'id', got an array",
    "csv long row": "the row has more cells than the header has columns",
}


@pytest.mark.parametrize(
    ("name", "row", "kind"), [c[:3] for c in ROW_ERRORS], ids=[c[0] for c in ROW_ERRORS]
)
def test_bad_rows_say_what_is_wrong(name: str, row: Any, kind: Any) -> None:
    with pytest.raises(ClientValidationError) as info:
        update_from_row(row, line=42, kind=kind)
    assert str(info.value) == f"line 42: {ROW_MESSAGES[name]}"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"id": "acti_1", "duration": "153"}, "expected an integer, got '153' @ $.duration"),
        ({"id": "acti_1", "duration": True}, "expected an integer, got True @ $.duration"),
        (
            {"id": "acti_1", "cost": "abc"},
            "expected a decimal string or number, got 'abc' @ $.cost",
        ),
        ({"id": "acti_1", "cost": True}, "expected a decimal string or number, got True @ $.cost"),
        ({"id": "acti_1", "cost": [1]}, "expected a decimal string or number, got a list @ $.cost"),
        ({"id": "acti_1", "cost": "NaN"}, "expected a finite decimal, got 'NaN' @ $.cost"),
        ({"id": "acti_1", "users": "u_1"}, "expected a list of user ids, got 'u_1' @ $.users"),
        ({"id": "acti_1", "users": [1]}, "expected a string, got 1 @ $.users"),
    ],
)
def test_decoding_errors_say_what_was_expected(payload: Any, message: str) -> None:
    with pytest.raises(APIResponseValidationError) as info:
        Call.from_json(payload)
    assert str(info.value) == f"could not read Call 'acti_1': {message}"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"id": 5}, "could not read Call: expected a string, got 5 @ $.id"),
        (True, "expected a Call object, got a boolean"),
        (5.5, "expected a Call object, got a number"),
        (None, "expected a Call object, got null"),
        ([], "expected a Call object, got an array"),
        ("x", "expected a Call object, got a string"),
        ((1,), "expected a Call object, got a tuple"),
    ],
)
def test_decoding_errors_without_a_call_id_say_what_came(payload: Any, message: str) -> None:
    with pytest.raises(APIResponseValidationError) as info:
        Call.from_json(payload)
    assert str(info.value) == message


def test_every_bad_field_is_named_in_one_message() -> None:
    with pytest.raises(APIResponseValidationError) as info:
        Call.from_json({"id": "acti_9", "duration": "x", "date_updated": "y"})
    assert str(info.value) == (
        "could not read Call 'acti_9': not an ISO 8601 date-time: 'y' @ $.date_updated; "
        "expected an integer, got 'x' @ $.duration"
    )
