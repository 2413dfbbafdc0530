"""CSV cells typed from the resource's model: the pure conversion, and through the CLI."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from close_async._cli.cells import CellError, convert_cell, describe_type, row_body
from close_async._cli.main import build_parser
from close_async._cli.resources import body_model, bulk_groups
from close_async._types.generated.activities_calls import CallCreate
from close_async._types.generated.leads import LeadAddress, LeadCreate
from close_async._types.model import RequestModel, request_fields
from close_async._types.unset import Unset
from close_async.testing import FakeClose
from tests.cli_runner import run_cli

KEY = "api_cli_cells_key_0123456789abcdef"


# ----------------------------------------------------------------------- the conversion


@pytest.mark.parametrize(
    ("cell", "hint", "expected"),
    [
        ("42", int, 42),
        (" -7 ", int | Unset | None, -7),
        ("+3", int, 3),
        ("12", float, 12.0),
        ("-0.5", float, -0.5),
        ("1e3", float, 1000.0),
        ("true", bool, True),
        ("FALSE", bool, False),
        ("1", bool | Unset, True),
        ("0", bool, False),
        ("Yes", bool, True),
        ("no", bool, False),
        ("2024-05-01T10:00:00Z", dt.datetime, "2024-05-01T10:00:00+00:00"),
        ("2024-05-01T10:00:00", dt.datetime, "2024-05-01T10:00:00+00:00"),  # no offset: UTC
        ("2024-05-01T12:00:00+02:00", dt.datetime, "2024-05-01T12:00:00+02:00"),
        ("2024-05-01", dt.date, "2024-05-01"),
        ("2024-05-01", dt.datetime | dt.date | Unset, "2024-05-01"),
        ("2024-05-01T10:00Z", dt.datetime | dt.date, "2024-05-01T10:00:00+00:00"),
        ("monthly", Literal["one_time", "monthly"] | Unset | None, "monthly"),
        ('["a", "b"]', list[str] | Unset, ["a", "b"]),
        ('[{"address_1": "1 Main St"}]', list[LeadAddress], [{"address_1": "1 Main St"}]),
        ('{"cf_x": 1}', dict[str, Any] | Unset | None, {"cf_x": 1}),
        ('{"city": "Oslo"}', LeadAddress, {"city": "Oslo"}),
        (" spaced text ", str | Unset | None, " spaced text "),
        ("123", str, "123"),
        ("anything", Any, "anything"),
    ],
)
def test_a_cell_becomes_its_field_type(cell: str, hint: Any, expected: Any) -> None:
    value = convert_cell(cell, hint)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("cell", "hint", "expected"),
    [
        ("abc", int, "an integer"),
        ("1.5", int, "an integer"),
        ("1_000", int, "an integer"),
        ("", int, "an integer"),
        ("nan", float, "a number"),
        ("inf", float, "a number"),
        ("1e999", float, "a number"),
        ("12,5", float, "a number"),
        ("maybe", bool, "true or false"),
        ("2", bool, "true or false"),
        ("yesterday", dt.datetime, "an ISO 8601 datetime"),
        ("2024-13-01", dt.date, "an ISO 8601 date"),
        ("weekly", Literal["one_time", "monthly"], "one of 'one_time', 'monthly'"),
        ('{"a": 1}', list[str], "a JSON array"),
        ("[1", list[str], "a JSON array"),
        ("[1]", dict[str, Any], "a JSON object"),
        ("x", dt.datetime | dt.date, "an ISO 8601 date or an ISO 8601 datetime"),
    ],
)
def test_a_cell_that_does_not_convert_says_what_was_expected(
    cell: str, hint: Any, expected: str
) -> None:
    with pytest.raises(ValueError, match=f"^{expected}$"):
        convert_cell(cell, hint)


@given(st.integers())
def test_int_round_trips_from_its_text(value: int) -> None:
    assert convert_cell(str(value), int) == value


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_round_trips_from_its_text(value: float) -> None:
    assert convert_cell(repr(value), float) == value
    assert convert_cell(str(value), float | Unset | None) == value


_SPELLINGS = [str, lambda b: str(b).lower(), lambda b: str(b).upper(), lambda b: str(int(b))]


@given(st.booleans(), st.sampled_from(_SPELLINGS))
def test_bool_round_trips_from_its_text(value: bool, spell: Any) -> None:
    assert convert_cell(spell(value), bool) is value


def test_row_body_types_fields_and_keeps_the_rest_as_text() -> None:
    types = {"confidence": int | Unset | None, "note": str | Unset | None}
    body = row_body(
        {"confidence": "70", "note": "", "custom.cf_x": "12", "other": "5", "lead_id": "\\N"},
        types,
        "\\N",
    )
    # Empty: not given; the null token: null; custom fields and unknown columns: text.
    assert body == {"confidence": 70, "custom.cf_x": "12", "other": "5", "lead_id": None}


def test_row_body_names_the_column_of_a_bad_cell() -> None:
    with pytest.raises(CellError) as caught:
        row_body({"value": "abc"}, {"value": int | Unset | None}, "\\N")
    assert str(caught.value) == "column 'value': expected an integer, got 'abc'"
    assert caught.value.field == "value"
    lenient = row_body({"value": "abc"}, {"value": int}, "\\N", strict=False)
    assert lenient == {"value": "abc"}


def test_models_come_from_the_generated_methods() -> None:
    assert body_model("leads", "create") is LeadCreate
    assert body_model("leads", "delete") is None
    typed = 0
    for path, actions in bulk_groups().items():
        for action in actions:
            model = body_model(path, action)
            if model is None:
                continue
            typed += 1
            # The generated request models, and the hand-written CallCreate of calls create.
            assert issubclass(model, RequestModel) or model is CallCreate
            for hint in request_fields(model).values():
                assert describe_type(hint)  # every field type has a reading
    assert typed >= 20
    assert request_fields(LeadCreate)["contacts"] is not None
    assert body_model("calls", "create") is CallCreate


# ------------------------------------------------------------------------- the command


@pytest.fixture
async def fake() -> AsyncIterator[FakeClose]:
    async with FakeClose(api_keys=(KEY,), strict=True) as server:
        yield server


async def cli(*argv: str) -> tuple[int, str, str]:
    return await run_cli(*argv, key=KEY)


async def test_cells_are_sent_typed_and_a_bad_cell_names_line_and_column(
    fake: FakeClose, tmp_path: Path
) -> None:
    [lead] = fake.seed_objects("lead", 1)
    source = tmp_path / "opps.csv"
    source.write_text(
        "lead_id,value,confidence,value_period,custom.cf_ext,note\n"
        f"{lead},500,70,monthly,0042,first\n"
        f"{lead},abc,70,monthly,0043,second\n"  # line 3: value is not an integer
        f"{lead},100,\\N,weekly,0044,third\n"  # line 4: not a value_period
        f"{lead},,,,0045,fourth\n"
    )
    args = ("opportunities", "create", str(source), "--base-url", fake.base_url, "--no-progress")

    code, out, err = await cli(*args, "--dry-run")
    assert code == 1
    assert "line 3, column 'value': expected an integer, got 'abc'" in err
    assert "line 4, column 'value_period': expected one of " in err
    assert "2 valid, 2 invalid" in out
    assert not fake.objects("opportunity")

    failures = tmp_path / "failed.csv"
    code, _, err = await cli(*args, "--failures", str(failures))
    assert code == 1
    assert "line 3, column 'value': expected an integer, got 'abc'" in err
    stored = {o["note"]: o for o in fake.objects("opportunity").values()}
    assert set(stored) == {"first", "fourth"}  # the good rows went on
    assert stored["first"]["value"] == 500
    assert stored["first"]["confidence"] == 70
    assert stored["first"]["custom.cf_ext"] == "0042"  # custom fields stay text
    assert "value" not in stored["fourth"] or stored["fourth"]["value"] is None
    with failures.open(newline="") as stream:
        rows = list(csv.reader(stream))
    assert [row[-2] for row in rows[1:]] == ["3", "4"]
    assert rows[1][:6] == [lead, "abc", "70", "monthly", "0043", "second"]
    assert rows[1][-1] == "column 'value': expected an integer, got 'abc'"
    assert rows[2][2] == "\\N"


def test_help_lists_how_each_column_is_read() -> None:
    out = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stdout(out):
        build_parser().parse_args(["opportunities", "create", "--help"])
    text = " ".join(out.getvalue().split())
    assert "value (an integer)" in text
    assert "date_won (an ISO 8601 datetime)" in text
    assert "custom.cf_... columns as text" in text
