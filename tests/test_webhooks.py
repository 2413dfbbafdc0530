"""Verifying and reading webhook deliveries: close_async.webhooks.parse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from close_async import CloseError, WebhookVerificationError, webhooks
from close_async.models import Call, Lead
from close_async.testing import sign_webhook, webhook_delivery

KEY = "5e0b" * 16
OTHER_KEY = "a1" * 32
NOW = 1_760_000_000.0

EVENT: dict[str, Any] = {
    "id": "ev_1",
    "object_type": "activity.call",
    "object_id": "acti_1",
    "action": "created",
    "lead_id": "lead_1",
    "user_id": "user_1",
    "organization_id": "orga_1",
    "request_id": "req_1",
    "date_created": "2026-01-02T03:04:05.000000",
    "date_updated": "2026-01-02T03:04:06.000000",
    "changed_fields": ["note", "custom.cf_x"],
    "previous_data": {"note": "old", "custom.cf_x": 1},
    "data": {"id": "acti_1", "duration": 42, "note": "new", "custom.cf_x": 2},
    "meta": {"request_method": "POST", "request_path": "/api/v1/activity/call/"},
}


def signed(event: Any = EVENT, *, key: str = KEY, at: float = NOW) -> tuple[bytes, dict[str, str]]:
    return webhook_delivery(event, key, subscription_id="whsub_1", timestamp=at)


def refused(body: Any, headers: Any, key: Any = KEY, **kw: Any) -> WebhookVerificationError:
    with pytest.raises(WebhookVerificationError) as info:
        webhooks.parse(body, headers, key, now=NOW, **kw)
    return info.value


def test_a_signed_delivery_reads_every_field() -> None:
    body, headers = signed()
    delivery = webhooks.parse(body, headers, KEY, now=NOW)
    event = delivery.event
    assert delivery.subscription_id == "whsub_1"
    assert (event.id, event.object_type, event.object_id, event.action) == (
        "ev_1",
        "activity.call",
        "acti_1",
        "created",
    )
    assert event.name == "activity.call.created"
    assert event.data == EVENT["data"]
    assert event.previous_data == {"note": "old", "custom.cf_x": 1}
    assert event.changed_fields == ["note", "custom.cf_x"]
    assert (event.lead_id, event.user_id, event.organization_id, event.request_id) == (
        "lead_1",
        "user_1",
        "orga_1",
        "req_1",
    )
    assert event.date_created == EVENT["date_created"]
    assert event.date_updated == EVENT["date_updated"]
    assert event.meta == EVENT["meta"]
    call = event.data_as_model()
    assert isinstance(call, Call)
    assert (call.id, call.duration, call.note) == ("acti_1", 42, "new")


def test_data_as_model_maps_object_types_to_models() -> None:
    body, headers = signed(
        {**EVENT, "object_type": "lead", "data": {"id": "lead_1", "name": "Acme"}}
    )
    lead = webhooks.parse(body, headers, KEY, now=NOW).event.data_as_model()
    assert isinstance(lead, Lead)
    assert lead.name == "Acme"
    body, headers = signed({**EVENT, "object_type": "custom_thing"})
    with pytest.raises(LookupError):
        webhooks.parse(body, headers, KEY, now=NOW).event.data_as_model()


def test_str_body_and_any_header_case_and_multidict() -> None:
    body, headers = signed()
    upper = {name.upper(): value for name, value in headers.items()}
    assert webhooks.parse(body.decode(), upper, KEY, now=NOW).event.id == "ev_1"
    assert webhooks.parse(body, CIMultiDict(headers), KEY, now=NOW).event.id == "ev_1"


def test_any_key_of_a_rotation_passes() -> None:
    body, headers = signed(key=OTHER_KEY)
    assert webhooks.parse(body, headers, [KEY, OTHER_KEY], now=NOW).event.id == "ev_1"
    assert refused(body, headers, [KEY]).reason == "signature does not match"


def test_verification_is_on_the_raw_bytes_not_reserialised_json() -> None:
    body = (
        b'{ "subscription_id":"whsub_1",  "event": {"id":"ev_1","object_type":"lead","action":"x"}}'
    )
    headers = sign_webhook(body, KEY, timestamp=NOW)
    assert webhooks.parse(body, headers, KEY, now=NOW).event.object_type == "lead"
    compact = json.dumps(json.loads(body)).encode()
    refused(compact, headers)


@pytest.mark.parametrize("skew", [301.0, -301.0, 10_000.0])
def test_stale_and_future_timestamps_are_refused(skew: float) -> None:
    body, headers = signed(at=NOW - skew)
    assert "tolerance" in refused(body, headers).reason
    assert webhooks.parse(body, headers, KEY, now=NOW, tolerance=abs(skew) + 1).event.id


def test_a_nan_clock_or_tolerance_refuses() -> None:
    body, headers = signed()
    refused(body, headers, tolerance=float("nan"))
    with pytest.raises(WebhookVerificationError):
        webhooks.parse(body, headers, KEY, now=float("nan"))


def test_within_tolerance_either_way_passes() -> None:
    for skew in (-300.0, 0.0, 300.0):
        body, headers = signed(at=NOW + skew)
        assert webhooks.parse(body, headers, KEY, now=NOW).event.id == "ev_1"


def test_now_defaults_to_the_current_time() -> None:
    body, headers = webhook_delivery(EVENT, KEY)
    assert webhooks.parse(body, headers, KEY).event.id == "ev_1"
    body, headers = signed()  # NOW is long past
    with pytest.raises(WebhookVerificationError):
        webhooks.parse(body, headers, KEY)


def sign_raw(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, sign_webhook(body, KEY, timestamp=NOW)


BAD_BODIES = {
    "not json": b"{nope",
    "not utf-8": b"\xff\xfe",
    "not an object": b"[1, 2]",
    "no event": b'{"subscription_id": "whsub_1"}',
    "event not an object": b'{"subscription_id": "whsub_1", "event": "ev_1"}',
    "no subscription": b'{"event": {"id": "ev_1", "object_type": "lead", "action": "x"}}',
    "no id": b'{"subscription_id": "s", "event": {"object_type": "lead", "action": "x"}}',
    "no object_type": b'{"subscription_id": "s", "event": {"id": "e", "action": "x"}}',
    "no action": b'{"subscription_id": "s", "event": {"id": "e", "object_type": "lead"}}',
    "id not str": b'{"subscription_id": "s", "event": {"id": 1, "object_type": "l", "action": "x"}}',  # noqa: E501
    "data not object": (
        b'{"subscription_id": "s", "event": {"id": "e", "object_type": "l", "action": "x",'
        b' "data": [1]}}'
    ),
    "changed_fields not str": (
        b'{"subscription_id": "s", "event": {"id": "e", "object_type": "l", "action": "x",'
        b' "changed_fields": [1]}}'
    ),
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_signed_bodies_that_are_not_events_are_refused(name: str) -> None:
    body, headers = sign_raw(BAD_BODIES[name])
    error = refused(body, headers)
    assert isinstance(error, CloseError)
    assert error.reason


def test_bad_headers_and_keys_are_refused() -> None:
    body, headers = signed()
    stamp, digest = headers["close-sig-timestamp"], headers["close-sig-hash"]
    cases: list[tuple[Any, Any]] = [
        ({}, KEY),
        ({"close-sig-timestamp": stamp}, KEY),
        ({"close-sig-hash": digest}, KEY),
        ({"close-sig-hash": digest, "close-sig-timestamp": "soon"}, KEY),
        ({"close-sig-hash": digest, "close-sig-timestamp": "-5"}, KEY),
        ({"close-sig-hash": "zz", "close-sig-timestamp": stamp}, KEY),
        ({"close-sig-hash": digest, "close-sig-timestamp": 12}, KEY),
        ({"close-sig-hash": digest[:-1] + "0", "close-sig-timestamp": stamp}, KEY),
        (CIMultiDict([*headers.items(), ("Close-Sig-Hash", "0" * 64)]), KEY),
        ("not a mapping", KEY),
        (headers, "not hex"),
        (headers, ""),
        (headers, []),
        (headers, [KEY, 5]),
        (headers, 5),
    ]
    for bad_headers, key in cases:
        refused(body, bad_headers, key)


def test_the_key_never_shows_in_the_error() -> None:
    body, headers = signed(key=OTHER_KEY)
    for key in (KEY, KEY[:-1] + "g", [KEY, "zz" + KEY]):
        error = refused(body, headers, key)
        for shown in (str(error), repr(error), error.reason):
            assert KEY[:-1] not in shown


def test_delivery_is_frozen() -> None:
    body, headers = signed()
    delivery = webhooks.parse(body, headers, KEY, now=NOW)
    with pytest.raises(AttributeError):
        delivery.subscription_id = "x"  # type: ignore[misc]


def test_sign_webhook_matches_close_s_rule() -> None:
    import hashlib
    import hmac

    body = b'{"a": 1}'
    headers = sign_webhook(body, KEY, timestamp=1234.9)
    assert headers["close-sig-timestamp"] == "1234"
    expected = hmac.new(bytes.fromhex(KEY), b"1234" + body, hashlib.sha256).hexdigest()
    assert headers["close-sig-hash"] == expected


header_names = st.sampled_from(["close-sig-hash", "close-sig-timestamp", "Close-Sig-Hash", "x"])
header_values = st.one_of(st.text(max_size=80), st.binary(max_size=80), st.integers(), st.none())


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(st.binary(max_size=300), st.text(max_size=300)),
    headers=st.dictionaries(st.one_of(header_names, st.text(max_size=10)), header_values),
    key=st.one_of(st.just(KEY), st.text(max_size=70), st.lists(st.text(max_size=70), max_size=3)),
)
def test_arbitrary_input_only_ever_raises_verification_errors(
    body: bytes | str, headers: dict[Any, Any], key: Any
) -> None:
    try:
        webhooks.parse(body, headers, key, now=NOW)
    except WebhookVerificationError as error:
        reason = error.reason
    else:
        reason = "parsed"
    assert reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
events = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=20),
     "object_type": st.sampled_from(["lead", "activity.call"]),
     "action": st.sampled_from(["created", "updated", "deleted"])},
    optional={"data": st.dictionaries(st.text(max_size=12), json_values, max_size=4),
              "changed_fields": st.lists(st.text(max_size=12), max_size=4),
              "lead_id": st.text(max_size=12), "extra_key": json_values},
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(event=events, skew=st.floats(-300, 300), data=st.data())
def test_signed_deliveries_parse_and_any_one_byte_change_fails(
    event: dict[str, Any], skew: float, data: st.DataObject
) -> None:
    body, headers = signed(event, at=NOW + skew)
    delivery = webhooks.parse(body, headers, KEY, now=NOW)
    assert delivery.event.id == event["id"]
    assert delivery.event.data == event.get("data")
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = bytearray(body)
    changed[index] ^= flip
    with pytest.raises(WebhookVerificationError):
        webhooks.parse(bytes(changed), headers, KEY, now=NOW)
