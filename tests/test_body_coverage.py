"""Every request body typed, and the answers Close's docs give a shape for (issue 28, point 7).

Over loopback with the fake Close: a request model goes out as the JSON it describes, and
the answer comes back as its model. The lists of what stays untyped are pinned, so a body
or answer that loses its model (or gains one) is noticed here and in the report.
"""

from __future__ import annotations

import string
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from close_async import CloseClient
from close_async._resources.generated.pipelines import PipelinesResource
from close_async._types.model import Model, RequestModel
from close_async.models import (
    ActivityCustomFieldCreate,
    ActivityReportQuery,
    BulkEditActionCreate,
    CustomField,
    CustomFieldCreate,
    CustomFieldUpdate,
    Pipeline,
    PipelineCreate,
    PipelineUpdate,
    SchedulingLink,
    SchedulingLinkCreate,
    SendAs,
    SendAsBulkCreate,
    SendAsList,
    SequenceSubscriptionCreate,
    SMSTemplate,
    UnsubscribedEmail,
)
from close_async.testing import FakeClose
from tools.codegen.spec import OVERLAY, load

# What no document gives a shape for (the document says "any type" / "Empty response
# body" and Close's API reference shows no field list or example): see the CHANGELOG.
UNTYPED_BODIES = {
    "activities.meetings.create_integration",
    "scheduling_links.create_shared_association",
    "scheduling_links.delete_shared_association",
}
UNTYPED_ANSWERS = {
    "leads.merge",
    "tasks.bulk_update",
    "files.create",
    "activities.meetings.create_integration",
    "reporting.get_activity",
    "reporting.get_custom",
    "reporting.get_funnel_stages",
    "reporting.get_funnel_totals",
    "reporting.get_sent_emails",
    "reporting.get_lead_statuses",
    "reporting.get_opportunity_statuses",
    "field_enrichment.create",
    "custom_field_schemas.get",
    "custom_field_schemas.update",
    "custom_fields.shared.create_association",
    "custom_fields.shared.get_association",
    "custom_fields.shared.update_association",
    "email_templates.render",
    "scheduling_links.create_shared_association",
    "scheduling_links.delete_shared_association",
    "connected_accounts.get",
    "phone_numbers.create",
    "dialers.get",
    "memberships.create",
    "memberships.bulk_update",
    "memberships.update",
    "memberships.get_pinned_views",
    "memberships.update_pinned_views",
    # lists whose items have no documented shape
    "reporting.list_activity_metrics",
    "connected_accounts.list",
    "dialers.list",
    "users.list_availabilities",
}


def dotted(op: Any) -> str:
    return ".".join((*op.namespace, op.method))


def test_every_body_has_a_model_but_the_ones_no_doc_describes() -> None:
    api = load()
    untyped = {dotted(op) for op in api.operations if op.body == "Mapping[str, Any]"}
    assert untyped == UNTYPED_BODIES
    # Each typed body still takes a plain mapping too.
    bodies = [op.body for op in api.operations if op.body is not None]
    assert all(body.endswith("Mapping[str, Any]") for body in bodies)


def test_every_answer_has_a_model_but_the_ones_no_doc_describes() -> None:
    api = load()
    untyped = {dotted(op) for op in api.operations if op.returns == "Any" or op.item == "Any"}
    assert untyped == UNTYPED_ANSWERS


def test_a_methods_docstring_lists_its_bodys_fields() -> None:
    doc = PipelinesResource.create.__doc__ or ""
    assert "Body fields (:class:`~close_async.models.PipelineCreate`" in doc
    assert "- ``name`` (``str``, required): The pipeline's name." in doc
    update = PipelinesResource.update.__doc__ or ""
    assert "- ``statuses`` (``list[dict[str, Any]]``): Its opportunity statuses in order" in update


async def test_pipelines_create_sends_the_model_and_reads_a_pipeline(
    fake: FakeClose, close: CloseClient
) -> None:
    pipeline = await close.pipelines.create(PipelineCreate(name="Renewals"))
    assert fake.requests[-1].body == {"name": "Renewals"}
    assert isinstance(pipeline, Pipeline)
    assert (pipeline.name, pipeline.id is not None) == ("Renewals", True)

    assert pipeline.id is not None
    renamed = await close.pipelines.update(pipeline.id, PipelineUpdate(name="Partners"))
    assert fake.requests[-1].body == {"name": "Partners"}
    assert (renamed.id, renamed.name) == (pipeline.id, "Partners")


async def test_a_custom_field_model_sends_only_the_fields_given(
    fake: FakeClose, close: CloseClient
) -> None:
    body = CustomFieldCreate(name="Tier", type="choices", choices=["Gold", "Silver"])
    field = await close.custom_fields.lead.create(body)
    assert fake.requests[-1].body == {
        "name": "Tier",
        "type": "choices",
        "choices": ["Gold", "Silver"],
    }
    assert isinstance(field, CustomField)
    assert (field.name, field.choices) == ("Tier", ["Gold", "Silver"])
    assert field.id is not None
    await close.custom_fields.lead.update(field.id, CustomFieldUpdate(description=None))
    assert fake.requests[-1].body == {"description": None}


def test_a_request_model_refuses_a_wrong_value_naming_the_field() -> None:
    with pytest.raises(ValueError, match="name") as caught:
        PipelineCreate(name=5)  # type: ignore[arg-type]
    assert getattr(caught.value, "field", None) == "name"
    with pytest.raises(TypeError):
        ActivityCustomFieldCreate(name="Score", type="number")  # type: ignore[call-arg]


async def test_newly_typed_answers_parse_into_their_models(
    fake: FakeClose, close: CloseClient
) -> None:
    link = await close.scheduling_links.create(
        SchedulingLinkCreate(name="Intro call", url="https://cal.example.com/intro")
    )
    assert isinstance(link, SchedulingLink)
    assert link.id is not None
    fetched = await close.scheduling_links.get(link.id)
    assert isinstance(fetched, SchedulingLink)
    assert (fetched.name, fetched.url) == ("Intro call", "https://cal.example.com/intro")
    listed = [item async for item in close.scheduling_links.list()]
    assert [type(item) for item in listed] == [SchedulingLink]

    template = await close.sms_templates.create({"name": "Hello", "text": "Hi there"})
    assert isinstance(template, SMSTemplate)
    assert template.id is not None
    got = await close.sms_templates.get(template.id)
    assert isinstance(got, SMSTemplate)
    assert got.text == "Hi there"

    # The fake answers this one from the document alone (an empty object): read leniently.
    unsubscribed = await close.unsubscribed_emails.create({"email": "ada@example.com"})
    assert isinstance(unsubscribed, UnsubscribedEmail)
    assert fake.requests[-1].body == {"email": "ada@example.com"}
    # Close's API reference, its example answer.
    assert UnsubscribedEmail.from_json({"email": "ada@example.com"}).email == "ada@example.com"


def test_send_as_answers_read_as_documented() -> None:
    # Close's API reference, its example answers.
    one = {
        "allowed_user_id": "user_a",
        "allowing_user_id": "user_b",
        "id": "sdas_1",
        "organization_id": "orga_1",
    }
    read = SendAs.from_json(one)
    assert (read.id, read.allowed_user_id, read.allowing_user_id) == ("sdas_1", "user_a", "user_b")
    many = SendAsList.from_json({"data": [one]})
    assert many.data == [read]
    assert SendAsBulkCreate(allowed_user_ids=["user_a"]).to_json() == {
        "allowed_user_ids": ["user_a"]
    }


# --- every model added for this point reads and writes back what it holds -------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=4,
)


def new_models() -> list[type]:
    """The models this point added to the overlay (every one; the test below lists them)."""
    api = load()
    marker = "issue 28"
    overlay = OVERLAY.read_text()
    section = overlay.split(f"{marker}: every body typed")[1].split("\noperations:")[0]
    names = [
        line[2:-1] for line in section.splitlines() if line[:2] == "  " and line[2:3].isupper()
    ]
    models = __import__("close_async.models", fromlist=names)
    assert set(names) <= set(api.models)
    # The named enums two bodies share (their Literal written once) are aliases, not models.
    return [getattr(models, n) for n in names if isinstance(getattr(models, n), type)]


NEW_MODELS = new_models()


def test_the_new_models_are_the_ones_expected() -> None:
    names = {cls.__name__ for cls in NEW_MODELS}
    assert {"PipelineCreate", "SequenceSubscriptionCreate", "BulkEditActionCreate"} <= names
    assert {"SendAs", "SchedulingLink", "UnsubscribedEmail", "ActivityReportQuery"} <= names
    assert len(names) == 50
    assert SequenceSubscriptionCreate in NEW_MODELS
    assert ActivityReportQuery in NEW_MODELS
    assert BulkEditActionCreate in NEW_MODELS


def keys_of(cls: type) -> list[str]:
    return [a.metadata.get("json", a.name) for a in attrs.fields(cls) if a.name != "extra"]


@pytest.mark.parametrize(
    "cls", [c for c in NEW_MODELS if issubclass(c, Model)], ids=lambda c: c.__name__
)
@given(data=st.data())
def test_a_new_answer_model_reads_back_what_it_wrote(cls: type, data: st.DataObject) -> None:
    keys = keys_of(cls)
    payload = data.draw(st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys)))
    unknown = st.text(string.ascii_letters, min_size=1, max_size=6).filter(lambda k: k not in keys)
    payload.update(data.draw(st.dictionaries(unknown, json_values, max_size=2)))
    model = cls.from_json(payload)  # type: ignore[attr-defined]
    assert cls.from_json(model.to_json()) == model  # type: ignore[attr-defined]


_SCALARS: dict[Any, st.SearchStrategy[Any]] = {
    str: st.text(max_size=6),
    int: st.integers(),
    bool: st.booleans(),
    type(None): st.none(),
}


def value_for(hint: Any) -> st.SearchStrategy[Any]:
    """Values of a request field's type (the types the new request models use)."""
    import typing

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint in _SCALARS:
        return _SCALARS[hint]
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (list, typing.Union) or str(origin) == "<class 'types.UnionType'>":
        if origin is list:
            return st.lists(value_for(args[0]), max_size=2)
        return st.one_of([value_for(a) for a in args if a.__name__ != "Unset"])
    if origin is dict:
        return st.dictionaries(st.text(max_size=4), json_values, max_size=2)
    if hint is Any:
        return json_values
    if isinstance(hint, type) and issubclass(hint, Model):
        return st.builds(hint)
    raise AssertionError(f"no strategy for {hint!r}")


@pytest.mark.parametrize(
    "cls", [c for c in NEW_MODELS if issubclass(c, RequestModel)], ids=lambda c: c.__name__
)
@given(data=st.data())
def test_a_new_request_model_writes_exactly_the_fields_given(
    cls: type, data: st.DataObject
) -> None:
    import typing

    hints = typing.get_type_hints(cls)
    fields = [a for a in attrs.fields(cls) if a.name != "extra"]
    required = [a for a in fields if a.default is attrs.NOTHING]
    chosen = required + [
        a for a in fields if a.default is not attrs.NOTHING and data.draw(st.booleans())
    ]
    values = {a.name: data.draw(value_for(hints[a.name])) for a in chosen}
    model = cls(**values)
    written = model.to_json()
    assert set(written) == {a.metadata.get("json", a.name) for a in chosen}
    assert model.fields_set() == frozenset(values)
    # The same body as a mapping builds the same request model again.
    again = cls(**{a.name: written[a.metadata.get("json", a.name)] for a in chosen})
    assert again == model
