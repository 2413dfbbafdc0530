"""The generic verbs (close.get/post/put/delete/request) end to end against the fake Close,
and build_request's checks (pure)."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any
from urllib.parse import parse_qs

import pytest

from close_async import (
    BadRequestError,
    ClientValidationError,
    CloseClient,
    NotFoundError,
)
from close_async._engine.http.request import Request, build_request
from close_async._resources.generic import GenericVerbs
from close_async.testing import FakeClose
from tests.fake_requester import FakeRequester


def query_of(fake: FakeClose) -> dict[str, list[str]]:
    return parse_qs(fake.requests[-1].query, keep_blank_values=True)


async def test_post_creates_get_reads_put_patches_delete_deletes(
    fake: FakeClose, close: CloseClient
) -> None:
    created = await close.post("lead/", json={"name": "Acme", "custom.cf_size": "large"})
    lead_id = created["id"]
    assert lead_id.startswith("lead_")
    assert fake.objects("lead") == {lead_id: created}
    assert (fake.requests[-1].method, fake.requests[-1].path) == ("POST", "/api/v1/lead/")
    assert fake.requests[-1].body == {"name": "Acme", "custom.cf_size": "large"}

    assert await close.get(f"/lead/{lead_id}/") == created
    assert await close.get(f"lead/{lead_id}") == created
    assert await close.get("lead/{id}/", path_params={"id": lead_id}) == created
    assert [r.path for r in fake.requests[-3:]] == [f"/api/v1/lead/{lead_id}/"] * 3
    assert all(r.method == "GET" for r in fake.requests[-3:])

    patched = await close.put(f"lead/{lead_id}/", json={"name": "Acme Corp"})
    assert patched["name"] == "Acme Corp"
    assert patched["custom.cf_size"] == "large"  # not sent: unchanged
    assert fake.objects("lead")[lead_id]["name"] == "Acme Corp"
    assert fake.requests[-1].method == "PUT"

    assert await close.delete("lead/{id}/", path_params={"id": lead_id}) == {}
    assert fake.objects("lead") == {}
    assert fake.requests[-1].method == "DELETE"
    assert [e["action"] for e in fake.events] == ["created", "updated", "deleted"]


async def test_request_sends_any_method(fake: FakeClose, close: CloseClient) -> None:
    created = await close.request("post", "lead/", json={"name": "A"})
    assert fake.requests[-1].method == "POST"
    got = await close.request("GET", "lead/{x}/", path_params={"x": created["id"]})
    assert got == created


async def test_list_with_params(fake: FakeClose, close: CloseClient) -> None:
    ids = fake.seed_objects("lead", 5)
    page = await close.get(
        "lead/", params={"id__in": [ids[3], ids[1]], "_fields": ["id"], "name": None}
    )
    assert page == {"data": [{"id": ids[1]}, {"id": ids[3]}], "has_more": False}
    query = query_of(fake)
    assert query == {"id__in": [f"{ids[3]},{ids[1]}"], "_fields": ["id"]}  # None dropped


async def test_params_are_encoded_as_close_reads_them(fake: FakeClose, close: CloseClient) -> None:
    await close.get(
        "event/",
        params={
            "object_type": "lead",
            "_limit": 3,
            "skip_me": None,
            "flag": True,
            "date__gt": date(2026, 1, 2),
            "tags": ("a", None, "b"),
            "kinds": {"z", "y"},
        },
    )
    assert query_of(fake) == {
        "object_type": ["lead"],
        "_limit": ["3"],
        "flag": ["true"],
        "date__gt": ["2026-01-02"],
        "tags": ["a,b"],
        "kinds": ["y,z"],
    }


async def test_errors_map_to_their_classes(fake: FakeClose, close: CloseClient) -> None:
    with pytest.raises(NotFoundError) as missing:
        await close.get("lead/{id}/", path_params={"id": "lead_missing"})
    assert missing.value.status == 404
    assert missing.value.path == "lead/lead_missing/"
    assert missing.value.method == "GET"
    with pytest.raises(BadRequestError) as bad_body:
        await close.post("lead/", json=[1, 2])
    assert bad_body.value.status == 400
    with pytest.raises(BadRequestError) as bad_query:
        await close.get("lead/", params={"_limit": 500})
    assert "_limit" in bad_query.value.field_errors
    assert fake.objects("lead") == {}
    # None of these is retried.
    assert len(fake.requests) == 3


async def test_stats_count_generic_requests_like_calls(fake: FakeClose, close: CloseClient) -> None:
    (call_id,) = fake.seed_calls(1)
    created = await close.post("lead/", json={"name": "A"})
    await close.get(f"lead/{created['id']}/")
    with pytest.raises(NotFoundError):
        await close.get("lead/lead_missing/")
    await close.calls.get(call_id)
    assert close.stats.requests == 4
    assert close.stats.responses == {200: 3, 404: 1}
    assert close.stats.total_retries == 0


@pytest.mark.parametrize(
    "hostile",
    ["../user", "lead_x/../../user", "x?y=1", "x#y", "%2F", "..", ".", "a b", "", "\n", 3, None],
)
async def test_hostile_path_params_never_reach_the_server(
    fake: FakeClose, close: CloseClient, hostile: object
) -> None:
    for verb in (close.get, close.delete):
        with pytest.raises(ClientValidationError) as info:
            await verb("lead/{id}/", path_params={"id": hostile})
        assert info.value.field == "id"
    with pytest.raises(ClientValidationError):
        await close.put("lead/{id}/", json={"name": "x"}, path_params={"id": hostile})
    with pytest.raises(ClientValidationError):
        await close.post("lead/{id}/", json={}, path_params={"id": hostile})
    assert fake.requests == []
    assert close.stats.requests == 0


@pytest.mark.parametrize(
    "path", ["../user/", "lead/../user/", "https://evil/", "//evil/", "lead/?a=1", "", "/"]
)
async def test_hostile_paths_never_reach_the_server(
    fake: FakeClose, close: CloseClient, path: str
) -> None:
    with pytest.raises(ClientValidationError) as info:
        await close.get(path)
    assert info.value.field == "path"
    assert fake.requests == []


@pytest.mark.parametrize(
    "body",
    [{"when": date(2026, 1, 1)}, {"x": object()}, {"n": math.nan}, {"n": math.inf}, {1j}, b"x"],
)
async def test_json_not_serialisable_is_refused(
    fake: FakeClose, close: CloseClient, body: Any
) -> None:
    with pytest.raises(ClientValidationError) as info:
        await close.post("lead/", json=body)
    assert info.value.field == "json"
    assert fake.requests == []


@pytest.mark.parametrize("method", ["", "GE T", "GET\r\nX-Evil: 1", "GET/", "G3T", 5, None])
async def test_bad_method_is_refused(fake: FakeClose, close: CloseClient, method: Any) -> None:
    with pytest.raises(ClientValidationError) as info:
        await close.request(method, "lead/")
    assert info.value.field == "method"
    assert fake.requests == []


async def test_params_must_be_a_mapping(fake: FakeClose, close: CloseClient) -> None:
    with pytest.raises(ClientValidationError) as info:
        await close.get("lead/", params=[("a", "b")])  # type: ignore[arg-type]
    assert info.value.field == "params"
    with pytest.raises(ClientValidationError) as empty:
        await close.get("lead/", params={"id__in": []})
    assert empty.value.field == "id__in"
    assert fake.requests == []


# -- build_request (pure) -------------------------------------------------------------------


def test_build_request_copies_the_body() -> None:
    body = {"name": "A"}
    request = build_request("POST", "/lead", body=body)
    body["name"] = "B"
    assert request.body == b'{"name":"A"}'
    assert (request.method, request.path, request.params) == ("POST", "lead/", ())
    assert request.idempotent is False
    assert request.group == "POST lead"


def test_build_request_idempotent_flag() -> None:
    assert build_request("POST", "lead/", idempotent=True).idempotent is True
    assert build_request("GET", "lead/").idempotent is True
    assert build_request("GET", "lead/", idempotent=False).idempotent is False
    assert build_request("POST", "data/search/").idempotent is True


def test_build_request_group_leaves_ids_out() -> None:
    request = build_request("get", "lead/{id}/", path_params={"id": "lead_3fKQ1nK8zqg7PbZ0"})
    assert request.method == "GET"
    assert request.group == "GET lead"


@pytest.mark.parametrize("value", [{"a": 1}, b"bytes", bytearray(b"x"), [{"a": 1}], [["x"]]])
async def test_a_nested_or_binary_query_value_is_refused_before_sending(
    fake: FakeClose, close: CloseClient, value: object
) -> None:
    with pytest.raises(ClientValidationError) as caught:
        await close.get("lead/", params={"query": value})
    assert caught.value.field == "query"
    assert fake.requests == []


def test_build_request_with_an_idempotent_flag_keeps_params_and_body() -> None:
    request = build_request("POST", "lead/", params={"a": 1}, body={"x": 1}, idempotent=True)
    assert request == Request("POST", "lead/", (("a", "1"),), b'{"x":1}', idempotent=True)
    assert request.idempotent is True


JSON_RULE = "json must be JSON-serialisable (dicts, lists, str, numbers, bools, None): "


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "G T"}, "method must be an HTTP method name, got 'G T'"),
        ({"params": [("a", "b")]}, "params must be a mapping of names to values"),
        (
            {"body": {"x": object()}, "body_field": "json", "objects_only": False},
            JSON_RULE + "Object of type object is not JSON serializable",
        ),
    ],
)
def test_build_request_says_what_is_wrong(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"method": "POST", "path": "lead/", **kwargs}
    with pytest.raises(ClientValidationError) as info:
        build_request(**arguments)
    assert str(info.value) == message


# -- each verb passes on every argument (pure: a scripted requester) --------------------------

PATH = "lead/{id}/"
PATH_PARAMS = {"id": "lead_1"}


@pytest.mark.parametrize(
    ("verb", "kwargs", "expected"),
    [
        ("get", {}, Request("GET", "lead/lead_1/", (("a", "1"),))),
        ("delete", {}, Request("DELETE", "lead/lead_1/", (("a", "1"),))),
        ("put", {"json": {"n": 1}}, Request("PUT", "lead/lead_1/", (("a", "1"),), b'{"n":1}')),
        ("post", {"json": {"n": 1}}, Request("POST", "lead/lead_1/", (("a", "1"),), b'{"n":1}')),
        (
            "post",
            {"json": {"n": 1}, "idempotent": True},
            Request("POST", "lead/lead_1/", (("a", "1"),), b'{"n":1}', idempotent=True),
        ),
    ],
)
async def test_each_verb_sends_its_params_path_params_and_deadline(
    verb: str, kwargs: dict[str, Any], expected: Request
) -> None:
    fake = FakeRequester({"ok": 1})
    send = getattr(GenericVerbs(fake), verb)
    answer = await send(PATH, params={"a": 1}, path_params=PATH_PARAMS, timeout=2.5, **kwargs)
    assert answer == {"ok": 1}
    assert fake.requests == [expected]
    assert fake.requests[0].idempotent is expected.idempotent
    assert fake.timeouts == [2.5]


async def test_request_sends_its_deadline() -> None:
    fake = FakeRequester({})
    await GenericVerbs(fake).request("GET", "lead/", timeout=4.0)
    assert fake.timeouts == [4.0]


async def test_get_page_and_paginate_send_their_params_path_params_and_deadline() -> None:
    fake = FakeRequester(
        {"data": [1], "has_more": True},
        {"data": [1], "has_more": True},
        {"data": [2], "has_more": False},
    )
    verbs = GenericVerbs(fake)
    page = await verbs.get_page(PATH, params={"_limit": 1}, path_params=PATH_PARAMS, timeout=3.0)
    assert (page.data, page.next_params) == ([1], {"_limit": 1, "_skip": 1})
    pager = verbs.paginate(PATH, params={"_limit": 1}, path_params=PATH_PARAMS, timeout=3.0)
    assert [item async for item in pager] == [1, 2]
    assert [r.path for r in fake.requests] == ["lead/lead_1/"] * 3
    assert fake.params == [{"_limit": "1"}, {"_limit": "1"}, {"_limit": "1", "_skip": "1"}]
    assert fake.timeouts == [3.0] * 3


async def test_search_sends_its_sort_and_deadline() -> None:
    fake = FakeRequester({"data": [1], "cursor": None})
    sort = [{"direction": "asc", "field": {"type": "regular_field", "field_name": "name"}}]
    query = {"type": "object_type", "object_type": "lead"}
    pager = GenericVerbs(fake).search(
        query, fields={"lead": ["id"]}, sort=sort, limit=5, page_size=2, timeout=6.0
    )
    assert [item async for item in pager] == [1]
    assert json.loads(fake.requests[0].body or b"") == {
        "query": query,
        "_fields": {"lead": ["id"]},
        "sort": sort,
        "_limit": 2,
        "results_limit": 5,
    }
    assert fake.timeouts == [6.0]
