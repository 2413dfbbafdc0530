"""The one converter: every model, the call models among them, read and written by the same
rules (``close_async._types.conversion``'s docstring lists them).

Through ``converter.structure`` / ``converter.unstructure`` themselves, not only the
helpers around them: a rule that lives outside the converter is a second engine. The
converter is reached through its module at each use (``conversion.converter``): mutmut's
runs rebuild it (``tests/conftest.py``), and a name imported once would keep the old one.
"""

from __future__ import annotations

import datetime as dt
import string
from decimal import Decimal
from typing import Any, ClassVar, Literal

import attrs
import pytest
from cattrs.errors import ClassValidationError
from hypothesis import given
from hypothesis import strategies as st

from close_async._types import conversion
from close_async._types.conversion import json_kind
from close_async._types.generated.activities_meetings import Meeting
from close_async._types.generated.leads import LeadAddress
from close_async._types.model import Model
from close_async.models import (
    Call,
    CallUpdate,
    Contact,
    Lead,
    LeadCreate,
    LeadUpdate,
    OpportunityAdjustCloseDateActionDetails,
    OpportunityFollowUpEmailActionDetails,
    OpportunityFollowUpSMSActionDetails,
    OpportunitySuggestedActionDetails,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def json_keys(cls: type) -> list[str]:
    return [a.metadata.get("json", a.name) for a in attrs.fields(cls) if a.name != "extra"]


@pytest.mark.parametrize("cls", [Call, Lead])
def test_the_converter_itself_keeps_unknown_keys_in_extra(cls: type) -> None:
    payload = {"id": "acti_1", "_type": "Call", "new_field": {"a": 1}, "extra": 5}
    read = conversion.converter.structure(payload, cls)
    assert read.extra == {key: value for key, value in payload.items() if key not in json_keys(cls)}
    assert read.id == "acti_1"
    assert conversion.converter.unstructure(read)["new_field"] == {"a": 1}


def test_a_union_read_through_the_converter_takes_the_first_branch_that_fits() -> None:
    def read(value: object) -> object:
        return conversion.converter.structure(value, OpportunitySuggestedActionDetails)

    sms = read({"contact_id": "cont_x", "message_draft": "Hi"})
    assert type(sms) is OpportunityFollowUpSMSActionDetails
    email = read({"contact_id": "cont_x", "message_draft": "Hi", "subject_draft": "Re"})
    assert type(email) is OpportunityFollowUpEmailActionDetails
    close_date = read({"close_date": "2026-03-01"})
    assert type(close_date) is OpportunityAdjustCloseDateActionDetails
    assert close_date.close_date == dt.date(2026, 3, 1)


def test_a_value_no_branch_fits_is_refused_by_the_converter_null_is_read_as_null() -> None:
    with pytest.raises(ValueError, match="no branch"):
        conversion.converter.structure({"zz": 1}, OpportunitySuggestedActionDetails)
    assert conversion.converter.structure(None, OpportunitySuggestedActionDetails | None) is None


@attrs.define(kw_only=True)
class Dog(Model):
    _required: ClassVar[frozenset[str]] = frozenset({"name"})
    kind: Literal["dog"] | None = None
    name: str | None = None


@attrs.define(kw_only=True)
class Cat(Model):
    _required: ClassVar[frozenset[str]] = frozenset({"name"})
    kind: Literal["cat", "kitten"] | None = None
    name: str | None = None


def test_a_model_branch_fits_only_with_its_required_keys_and_allowed_enumerations() -> None:
    def read(value: object) -> object:
        return conversion.converter.structure(value, Dog | Cat | None)

    assert type(read({"name": "Rex"})) is Dog  # both fit: the first listed wins
    assert type(read({"name": "Tom", "kind": "kitten"})) is Cat
    assert type(read({"name": "Rex", "kind": "dog"})) is Dog
    assert read(None) is None
    for misfit in ({"kind": "dog"}, {"name": "Cow", "kind": "cow"}, ["name"]):
        with pytest.raises(ValueError, match="no branch of the union fits"):
            read(misfit)


@pytest.mark.parametrize(
    ("value", "tp", "expected"),
    [
        ("x", str | bool, "x"),
        (True, str | bool, True),
        ("2026-01-02", dt.datetime | dt.date, dt.date(2026, 1, 2)),
        (
            "2026-01-02T03:04:05Z",
            dt.datetime | dt.date,
            dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        ),
        (3, float | str, 3),
        (2.5, float | str, 2.5),
        ({"a": 1}, dict[str, int] | str, {"a": 1}),
    ],
)
def test_a_plain_branch_fits_a_value_its_hook_reads(value: Any, tp: Any, expected: Any) -> None:
    read = conversion.converter.structure(value, tp)
    assert read == expected
    assert type(read) is type(expected)


@pytest.mark.parametrize(
    ("value", "tp", "message"),
    [
        (5, str | bool, "no branch of the union fits 5"),
        ("x", float, "expected a number, got 'x'"),
        (True, float, "expected a number, got True"),
        (1, bool, "expected true or false, got 1"),
        (20260102, dt.date, "expected an ISO 8601 date string, got 20260102"),
        ([1], dict[str, int], "expected an object, got an array"),
        ({"a": "1"}, dict[str, int], "expected an integer, got '1'"),
        ("ab", list[str], "expected an array, got a string"),
        ({"id": 5}, Call, "expected a string, got 5"),
        ([], Call, "expected a Call object, got an array"),
    ],
)
def test_a_value_that_breaks_a_rule_is_refused_saying_why(
    value: Any, tp: Any, message: str
) -> None:
    # A strictly read class gathers its fields' errors in cattrs' ClassValidationError.
    with pytest.raises((ValueError, ClassValidationError)) as info:
        conversion.converter.structure(value, tp)
    text = str(info.value) + " ".join(str(e) for e in getattr(info.value, "exceptions", ()))
    assert message in text


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ([], "an array"),
        ("x", "a string"),
        (True, "a boolean"),
        (None, "null"),
        (1, "a number"),
        (1.5, "a number"),
        ({}, "an object"),
        ((1,), "a tuple"),
    ],
)
def test_json_kind_names_what_came(value: Any, kind: str) -> None:
    assert json_kind(value) == kind


def test_a_written_model_leaves_out_the_fields_at_their_default() -> None:
    # UNSET for request bodies (None is sent, as null), None for an answer's model.
    assert conversion.converter.unstructure(CallUpdate(note=None)) == {"note": None}
    assert conversion.converter.unstructure(LeadUpdate(name=None)) == {"name": None}
    assert conversion.converter.unstructure(Lead(name="Acme")) == {"name": "Acme"}
    assert Call(id="acti_1", type="Call").to_json() == {"id": "acti_1", "_type": "Call"}


def test_values_go_out_by_their_runtime_type() -> None:
    body = conversion.converter.unstructure(
        LeadCreate(
            name="Acme",
            addresses=(LeadAddress(city="Paris"),),
            extra={
                "custom.cf_day": dt.date(2026, 1, 2),
                "custom.cf_at": dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC),
                "custom.cf_amount": Decimal("1.50"),
                "custom.cf_list": (1, {"deep": dt.date(2026, 1, 3)}),
                "name": "overwritten by the field",
            },
        )
    )
    assert body == {
        "custom.cf_day": "2026-01-02",
        "custom.cf_at": "2026-01-02T03:04:00+00:00",
        "custom.cf_amount": "1.50",
        "custom.cf_list": [1, {"deep": "2026-01-03"}],
        "name": "Acme",
        "addresses": [{"city": "Paris"}],
    }


@pytest.mark.parametrize(
    ("wire", "read"), [(30, 30), (30.0, 30), (30.5, 30.5), (True, True), ("30", "30")]
)
def test_an_answer_integer_is_read_as_in_a_call_and_kept_when_it_is_none_at_all(
    wire: Any, read: Any
) -> None:
    # JSON has one number type: 30.0 is the integer 30 in an answer's model as in a Call;
    # what is no integer at all is kept as it came.
    duration = Meeting.from_json({"duration": wire}).duration
    assert duration == read
    assert type(duration) is type(read)


@attrs.define(kw_only=True)
class Tally(Model):
    # A user's own answer model, its fields not optional (the generated ones all are).
    count: int = 0
    counts: list[int] = attrs.Factory(list)
    names: list[str] = attrs.Factory(list)


def test_a_users_model_reads_its_non_optional_fields_by_their_types() -> None:
    tally = Tally.from_json({"count": 30.0, "counts": [1.0, 2], "names": ["a"]})
    assert (tally.count, tally.counts, tally.names) == (30, [1, 2], ["a"])
    assert type(tally.count) is int
    assert [type(c) for c in tally.counts] == [int, int]
    # What is no integer at all is kept as it came, as in every answer's model.
    kept = Tally.from_json({"count": "30", "counts": ["1"], "names": [1]})
    assert (kept.count, kept.counts, kept.names) == ("30", ["1"], [1])


@attrs.frozen
class Plain:
    # An attrs class that is no Model: it has no ``extra`` to keep unknown keys in.
    name: str


def test_a_plain_attrs_class_is_read_leaving_out_unknown_keys_and_written_back() -> None:
    assert conversion.read({"name": "x", "unknown": 1}, Plain) == Plain(name="x")
    assert conversion.write(Plain(name="x")) == {"name": "x"}


def test_a_string_is_not_read_as_a_list_of_characters() -> None:
    lead = conversion.converter.structure({"contacts": "abc", "tz_ids": "abc"}, Lead)
    assert lead.contacts == "abc"
    with pytest.raises(ValueError, match="expected an array"):
        conversion.converter.structure("abc", list[Contact])


@st.composite
def answers(draw: st.DrawFn, cls: type) -> dict[str, Any]:
    """An object with some of ``cls``'s keys, each holding any JSON value, and unknown keys."""
    keys = json_keys(cls)
    payload = draw(st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys)))
    unknown = st.text(string.ascii_letters + ".", min_size=1, max_size=8)
    payload.update(draw(st.dictionaries(unknown.filter(lambda k: k not in keys), json_values)))
    return payload


ANSWER_MODELS = [Lead, Contact, LeadAddress]


@pytest.mark.parametrize("cls", ANSWER_MODELS, ids=lambda c: c.__name__)
@given(data=st.data())
def test_reading_an_answer_never_fails_and_keeps_what_it_cannot_read(
    cls: type, data: st.DataObject
) -> None:
    payload = data.draw(answers(cls))
    model = cls.from_json(payload)  # type: ignore[attr-defined]
    assert model.extra == {k: v for k, v in payload.items() if k not in json_keys(cls)}
    # What was read goes out again, and reads back as the same model.
    assert cls.from_json(model.to_json()) == model  # type: ignore[attr-defined]


@given(data=st.data())
def test_a_call_written_reads_back_as_the_same_call(data: st.DataObject) -> None:
    call = Call.from_json(
        {
            "id": "acti_" + data.draw(st.text(string.ascii_letters, min_size=1)),
            "note": data.draw(st.none() | st.text()),
            "users": data.draw(st.lists(st.text(max_size=5), max_size=2)),
            "cost": data.draw(st.none() | st.sampled_from(["1.50", "0", "2e3"])),
            **data.draw(st.dictionaries(st.sampled_from(["x", "y.z"]), json_values)),
        }
    )
    assert Call.from_json(call.to_json()) == call
