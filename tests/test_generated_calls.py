"""Calls are generated like every other resource (issue 26, point 1).

``close.calls`` is the generated ``activities.calls`` group, its models are the generated
ones, and the rules they enforce come from the overlay through one mechanism (attrs
validators from ``close_async/_types/rules.py``), for call models and others alike.
"""

from __future__ import annotations

import attrs
import pytest

import close_async
from close_async import ClientValidationError, CloseClient
from close_async._engine.errors import ClientValidationError as EngineInvalidRequestError
from close_async._types import rules
from close_async._types.model import UNSET, field_checks
from close_async.models import Call, CallCreate, CallUpdate


async def test_close_calls_is_the_generated_activities_calls_group() -> None:
    async with CloseClient(api_key="api_test") as close:
        from close_async._resources.generated.activities_calls import (
            ActivitiesCallsResource,
        )

        assert close.calls is close.activities.calls
        assert type(close.calls) is ActivitiesCallsResource
        view = close.with_options(max_retries=0)
        assert view.calls is view.activities.calls
        assert view.calls is not close.calls


def test_the_call_models_are_generated() -> None:
    for model in (Call, CallCreate, CallUpdate):
        assert model.__module__ == "close_async._types.generated.activities_calls"
    assert close_async.UNSET is UNSET


@pytest.mark.parametrize(
    ("model", "field", "rule"),
    [
        (CallUpdate, "phone", rules.e164_phone),
        (CallUpdate, "duration", rules.call_duration),
        (CallUpdate, "recording_url", rules.http_url),
        (CallCreate, "voicemail_url", rules.http_url),
        (CallUpdate, "activity_at", rules.aware_datetime),
        (CallCreate, "direction", rules.call_direction),
        (CallUpdate, "lead_id", rules.object_id),
    ],
)
def test_the_generated_call_models_carry_the_overlay_rules(
    model: type, field: str, rule: object
) -> None:
    assert attrs.fields_dict(model)[field].validator is rule


def test_field_checks_read_the_generated_validators() -> None:
    check = field_checks(CallUpdate)["duration"]
    with pytest.raises(ClientValidationError) as info:
        check(-1)
    assert str(info.value) == (
        "duration: must be a whole number of seconds from 0 to 604800, got -1"
    )


def test_a_rule_set_in_the_overlay_on_a_lead_model_is_enforced_the_same_way() -> None:
    from close_async.models import LeadMergeRequest

    assert attrs.fields_dict(LeadMergeRequest)["source"].validator is rules.object_id
    with pytest.raises(EngineInvalidRequestError) as info:
        LeadMergeRequest(source=" ", destination="lead_b")
    assert info.value.field == "source"
    assert "source: must be a non-empty id string" in str(info.value)


def test_a_field_with_a_rule_is_checked_once_by_its_rule() -> None:
    # The generic type check leaves a field with a rule to that rule: one message, the
    # rule's, and not the generic "CallUpdate.duration: must be an integer".
    with pytest.raises(ClientValidationError) as info:
        CallUpdate(duration="12")  # type: ignore[arg-type]
    assert str(info.value).startswith("duration: must be a whole number of seconds")


def test_unknown_keys_of_an_update_go_in_extra_and_are_sent() -> None:
    update = CallUpdate(note="n", extra={"custom.cf_x": 1})
    assert update.to_json() == {"custom.cf_x": 1, "note": "n"}
    assert update.fields_set() == frozenset({"note"})
