"""One naming scheme for the models (issue 28, point 7): the rule, its exceptions, the
old -> new table users migrate with, and the models' index naming only models that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import close_async.models
from tools.codegen.naming import document_name, model_name, nested_parents
from tools.codegen.render import _abc_aside
from tools.codegen.spec import load
from tools.rename28.naming import RENAMES, model_names, rewrite, table

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("schema", "name"),
    [
        ("CreateLead", "LeadCreate"),
        ("UpdateLead", "LeadUpdate"),
        ("NoteActivity", "Note"),
        ("CreateNoteActivity", "NoteCreate"),
        ("UpdateSMSActivity", "SMSUpdate"),
        ("CreateCustomActivity", "CustomActivityCreate"),  # the overlay keeps CustomActivity
        ("Workflow", "Sequence"),  # the overlay's exception
        ("MergeLeads", "LeadMergeRequest"),
        # already in the scheme: left alone
        ("CallUpdate", "CallUpdate"),
        ("PipelineCreate", "PipelineCreate"),
        ("ActivityBase", "ActivityBase"),
        ("CreatedActivity", "Creation"),
        ("users_getMe_Response_200", "UsersGetMeResponse"),
    ],
)
def test_the_rule_and_the_overlays_exceptions(schema: str, name: str) -> None:
    names = {
        "Workflow": "Sequence",
        "CustomActivity": "CustomActivity",
        "CreatedActivity": "Creation",
        "MergeLeads": "LeadMergeRequest",
    }
    assert model_name(schema, names) == name


def test_a_nested_schema_is_named_after_its_parents_new_name() -> None:
    references = {
        "CreateNoteActivity": {"CreateNoteActivityAttachmentsItems"},
        "CreateNoteActivityAttachmentsItems": set(),
        "CreateSMSActivity": {"CreateSmsActivityAttachmentsItems"},
        "CreateSmsActivityAttachmentsItems": {"CreateSmsActivityAttachmentsItemsContentType"},
        "CreateSmsActivityAttachmentsItemsContentType": set(),
        # a prefix that does not refer to it is no parent
        "UpdateBlockedPhoneNumber": set(),
        "UpdateBlockedPhoneNumberSettings": set(),
    }
    parents = nested_parents(references)
    assert model_name("CreateNoteActivityAttachmentsItems", {}, parents) == "NoteCreateAttachment"
    assert (
        model_name("CreateSmsActivityAttachmentsItemsContentType", {}, parents)
        == "SMSCreateAttachmentContentType"
    )
    assert "UpdateBlockedPhoneNumberSettings" not in parents
    assert (
        model_name("UpdateBlockedPhoneNumberSettings", {}, parents)
        == "BlockedPhoneNumberSettingsUpdate"
    )


def test_the_table_is_the_generators_renames() -> None:
    # Every model 0.x had under another name is in the table with the name the generator
    # gives it now, and the table names nothing else.
    api = load()
    generated = {
        document_name(schema): name
        for schema, name in api.schema_names.items()
        if document_name(schema) != name
    }
    assert {old: generated.get(old) for old in RENAMES} == RENAMES


def test_every_old_name_is_gone_and_every_new_name_exists() -> None:
    exported = set(close_async.models.__all__)
    assert set(RENAMES) & exported == set()
    assert set(RENAMES.values()) <= exported
    for old in RENAMES:
        assert not hasattr(close_async.models, old), old


def test_the_docs_hold_the_table() -> None:
    text = (ROOT / "docs" / "migrating-models.md").read_text()
    assert table() in text


def test_the_models_docstring_names_only_models_that_exist() -> None:
    doc = close_async.models.__doc__ or ""
    named = set(re.findall(r"\b[A-Z][A-Za-z]+\b", doc)) - {"Close", "Each", "Every", "API"}
    assert named, doc
    assert named <= set(close_async.models.__all__), named - set(close_async.models.__all__)


def test_the_rename_script_moves_model_imports_and_is_idempotent() -> None:
    models = model_names(ROOT)
    before = (
        "from close_async import CloseClient, CreateLead, Lead\n"
        "from close_async import (\n    Call,\n    Timeout,\n)\n"
        "note = close_async.NoteActivity\n"
        'schema = SCHEMAS["CreateCallActivityStatus"]\n'
    )
    after = rewrite(before, models)
    assert after == (
        "from close_async import CloseClient\n"
        "from close_async.models import LeadCreate, Lead\n"
        "from close_async import Timeout\n"
        "from close_async.models import Call\n"
        "note = close_async.models.Note\n"
        'schema = SCHEMAS["CreateCallActivityStatus"]\n'
    )
    assert rewrite(after, models) == after


def test_a_model_named_like_an_abc_takes_the_abc_aside() -> None:
    code = (
        "from collections.abc import Mapping, Sequence\n"
        "from .x import Sequence\n"
        "def f(ids: Sequence[str]) -> Sequence: ...\n"
    )
    assert _abc_aside(code, {"Sequence"}) == (
        "from collections.abc import Mapping, Sequence as AbcSequence\n"
        "from .x import Sequence\n"
        "def f(ids: AbcSequence[str]) -> Sequence: ...\n"
    )
    assert _abc_aside(code, {"Lead"}) == code
