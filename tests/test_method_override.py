"""Method override: a GET whose URL passes 2,000 characters goes as a POST with
X-HTTP-Method-Override: GET (pure rule, then end to end against the fake Close)."""

from __future__ import annotations

import json

import pytest
import yarl

from close_async import CloseClient, RetryPolicy
from close_async._engine.http.request import (
    METHOD_OVERRIDE_HEADER,
    URL_LENGTH_LIMIT,
    Request,
    with_method_override,
)
from close_async.testing import FakeClose

BASE = "https://api.close.com/api/v1/"
KEY = "test_key"


def get_with_value_length(n: int, *, path: str = "lead/") -> Request:
    return Request("GET", path, (("q", "a" * n),), headers=(("X-Test", "1"),))


def url_length(request: Request) -> int:
    url = yarl.URL(BASE + request.path, encoded=True).extend_query(request.params)
    return len(str(url))


# Everything but the value: "https://api.close.com/api/v1/lead/?q=".
PREFIX = len(BASE + "lead/?q=")


def test_limit_is_2000() -> None:
    assert URL_LENGTH_LIMIT == 2000


def test_a_url_of_exactly_the_limit_stays_a_get() -> None:
    request = get_with_value_length(URL_LENGTH_LIMIT - PREFIX)
    assert url_length(request) == 2000  # the test's own arithmetic
    assert with_method_override(request, BASE) is request


def test_a_url_one_past_the_limit_becomes_a_post_with_the_override() -> None:
    request = get_with_value_length(URL_LENGTH_LIMIT - PREFIX + 1)
    assert url_length(request) == 2001
    sent = with_method_override(request, BASE)
    assert sent.method == "POST"
    assert sent.path == "lead/"
    assert sent.params == ()
    assert json.loads(sent.body or b"") == {"_params": {"q": "a" * (URL_LENGTH_LIMIT - PREFIX + 1)}}
    assert dict(sent.headers) == {"X-Test": "1", METHOD_OVERRIDE_HEADER: "GET"}
    assert METHOD_OVERRIDE_HEADER == "X-HTTP-Method-Override"
    assert sent.group == request.group == "GET lead"
    assert sent.idempotent is True


def test_encoded_length_counts() -> None:
    # What counts is the URL as sent: "é" is sent as six characters ("%C3%A9").
    request = Request("GET", "lead/", (("query", "é" * 330),))
    assert len(BASE + "lead/?query=") + 330 < URL_LENGTH_LIMIT < url_length(request)
    assert with_method_override(request, BASE).method == "POST"


def test_the_base_url_counts() -> None:
    request = get_with_value_length(URL_LENGTH_LIMIT - PREFIX)
    longer_base = BASE.replace("api.close.com", "api.close.com.")
    assert with_method_override(request, BASE) is request
    assert with_method_override(request, longer_base).method == "POST"


def test_duplicate_keys_are_comma_joined() -> None:
    params = (("id", "lead_a"), ("_fields", "id"), ("id", "lead_b"), ("pad", "x" * 2000))
    sent = with_method_override(Request("GET", "lead/", params), BASE)
    assert json.loads(sent.body or b"") == {
        "_params": {"id": "lead_a,lead_b", "_fields": "id", "pad": "x" * 2000}
    }


def test_a_group_given_by_the_builder_is_kept() -> None:
    request = Request("GET", "lead/", (("q", "a" * 3000),), group="custom group")
    assert with_method_override(request, BASE).group == "custom group"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_other_methods_are_untouched(method: str) -> None:
    request = Request(method, "lead/", (("q", "a" * 3000),), b'{"x":1}')
    assert with_method_override(request, BASE) is request


def test_a_get_without_params_is_untouched() -> None:
    request = Request("GET", "a/" * 990)
    assert with_method_override(request, BASE) is request


# -- end to end ----------------------------------------------------------------------------


async def test_a_long_id_filter_goes_as_a_post_override(fake: FakeClose) -> None:
    ids = fake.seed_objects("lead", 80)
    wanted = ids[5:65]  # 60 ids of 48 characters: a URL of about 3,000
    async with CloseClient(KEY, base_url=fake.base_url, retry=RetryPolicy.no_wait()) as close:
        page = await close.get("lead/", params={"id__in": wanted, "_fields": ["id"]})
        assert sorted(lead["id"] for lead in page["data"]) == sorted(wanted)
        assert page["has_more"] is False
        (record,) = fake.requests
        assert record.method == "POST"
        assert record.method_override == "GET"
        assert len(fake.objects("lead")) == 80  # nothing was created
        assert fake.events == []

        few = wanted[:3]
        page = await close.get("lead/", params={"id__in": few, "_fields": ["id"]})
        assert sorted(lead["id"] for lead in page["data"]) == sorted(few)
        assert fake.requests[-1].method == "GET"
        assert fake.requests[-1].method_override is None
        assert close.stats.requests == 2
