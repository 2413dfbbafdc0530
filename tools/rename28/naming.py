"""Issue 28, point 7: rewrite the old model names to the new ones (idempotent).

Run from the repository root: ``python -m tools.rename28.naming``. It rewrites
``close_async/`` (except ``generated/`` and ``models.py``, which the generator writes),
``tests/`` (except ``tests/data/``, Close's documents as published), ``docs/``,
``benchmarks/``, ``examples/`` and ``README.md``:

* every old model name (:data:`RENAMES`, 0.x's name -> 1.0's) standing as a word, except a
  quoted schema name of Close's document (``SCHEMAS["CreateCallActivityStatus"]``,
  ``validator_for("...")``: a ``"`` after ``[`` or ``(``), which keeps the document's name;
* ``from close_async import <Model>, ...`` -> ``from close_async.models import <Model>``
  (the root's other names stay imported from the root), and ``close_async.<Model>`` ->
  ``close_async.models.<Model>``: models are imported from ``close_async.models`` only.

Running it twice changes nothing. Imports it moves may need sorting again afterwards:
``ruff check --fix --select I . && ruff format .``.

``python -m tools.rename28.naming --table`` prints the table of renamed models (Markdown),
which ``docs/migrating-models.md`` holds (tests/test_model_names.py checks that it does).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from . import NAMED_ON_PURPOSE

__all__ = ["RENAMES", "main", "rewrite", "table"]

# 0.x's model name -> 1.0's (the generator's scheme: tools/codegen/naming.py and the
# overlay's ``names:``). tests/test_model_names.py checks it against the generator.
RENAMES = {
    "BulkUpdateNotifications": "TaskBulkUpdate",
    "BulkUpdateNotificationsDate": "TaskBulkUpdateDate",
    "CreateBlockedPhoneNumber": "BlockedPhoneNumberCreate",
    "CreateCallActivityDirection": "CallCreateDirection",
    "CreateCallActivitySource": "CallCreateSource",
    "CreateCallActivityStatus": "CallCreateStatus",
    "CreateComment": "CommentCreate",
    "CreateContact": "ContactCreate",
    "CreateCustomActivity": "CustomActivityCreate",
    "CreateCustomActivityStatus": "CustomActivityCreateStatus",
    "CreateCustomObject": "CustomObjectCreate",
    "CreateEmailActivity": "EmailCreate",
    "CreateEmailActivityAttachmentsItems": "EmailCreateAttachment",
    "CreateEmailActivityOpensItems": "EmailCreateOpen",
    "CreateEmailActivityStatus": "EmailCreateStatus",
    "CreateExportFlags": "ExportCreate",
    "CreateGroup": "GroupCreate",
    "CreateGroupMember": "GroupMemberCreate",
    "CreateIntegrationLink": "IntegrationLinkCreate",
    "CreateLead": "LeadCreate",
    "CreateLeadStatusChange": "LeadStatusChangeCreate",
    "CreateMembership": "MembershipCreate",
    "CreateNoteActivity": "NoteCreate",
    "CreateNoteActivityAttachmentsItems": "NoteCreateAttachment",
    "CreateOpportunity": "OpportunityCreate",
    "CreateOpportunityStatusChange": "OpportunityStatusChangeCreate",
    "CreateOutcome": "OutcomeCreate",
    "CreatePhoneNumberRequest": "PhoneNumberCreate",
    "CreatePhoneNumberRequestCarrierType": "PhoneNumberCreateCarrierType",
    "CreatePlaybook": "PlaybookCreate",
    "CreateSMSActivity": "SMSCreate",
    "CreateSMSTemplate": "SMSTemplateCreate",
    "CreateSMSTemplateAttachment": "SMSTemplateCreateAttachment",
    "CreateSmsActivityAttachmentsItems": "SMSCreateAttachment",
    "CreateSmsActivityAttachmentsItemsContentType": "SMSCreateAttachmentContentType",
    "CreateSmsActivityDirection": "SMSCreateDirection",
    "CreateSmsActivitySource": "SMSCreateSource",
    "CreateSmsActivityStatus": "SMSCreateStatus",
    "CreateTask": "TaskCreate",
    "CreateUnsubscribedEmail": "UnsubscribedEmailCreate",
    "CreateWebhook": "WebhookCreate",
    "CreateWhatsAppMessage": "WhatsAppMessageCreate",
    "CreatedActivity": "Creation",
    "EmailActivity": "Email",
    "EmailThreadActivity": "EmailThread",
    "FormSubmissionActivity": "FormSubmission",
    "FormSubmissionActivityValues": "FormSubmissionValues",
    "FormSubmissionActivityValuesByName": "FormSubmissionValuesByName",
    "LeadMergeActivity": "LeadMerge",
    "LeadStatusChangeActivity": "LeadStatusChange",
    "MeetingActivity": "Meeting",
    "MergeLeads": "LeadMergeRequest",
    "NoteActivity": "Note",
    "OpportunityStatusChangeActivity": "OpportunityStatusChange",
    "RunFieldEnrichment": "FieldEnrichmentRun",
    "RunFieldEnrichmentObjectType": "FieldEnrichmentRunObjectType",
    "SMSActivity": "SMS",
    "SetPinnedSavedView": "MembershipPinnedViewsUpdate",
    "SmsTemplate": "SMSTemplate",
    "TaskCompletedActivity": "TaskCompletion",
    "UpdateBlockedPhoneNumber": "BlockedPhoneNumberUpdate",
    "UpdateBlockedPhoneNumberSettings": "BlockedPhoneNumberSettingsUpdate",
    "UpdateCallActivityStatus": "CallUpdateStatus",
    "UpdateCommentThreads": "CommentUpdate",
    "UpdateContact": "ContactUpdate",
    "UpdateCustomActivity": "CustomActivityUpdate",
    "UpdateCustomActivityStatus": "CustomActivityUpdateStatus",
    "UpdateCustomObject": "CustomObjectUpdate",
    "UpdateEmailActivity": "EmailUpdate",
    "UpdateEmailActivityAttachmentsItems": "EmailUpdateAttachment",
    "UpdateEmailActivityOpensItems": "EmailUpdateOpen",
    "UpdateEmailActivityStatus": "EmailUpdateStatus",
    "UpdateIntegrationLink": "IntegrationLinkUpdate",
    "UpdateLead": "LeadUpdate",
    "UpdateMeeting": "MeetingUpdate",
    "UpdateNoteActivity": "NoteUpdate",
    "UpdateNoteActivityAttachmentsItems": "NoteUpdateAttachment",
    "UpdateNotification": "TaskUpdate",
    "UpdateNotificationDate": "TaskUpdateDate",
    "UpdateNotificationDueDate": "TaskUpdateDueDate",
    "UpdateOpportunity": "OpportunityUpdate",
    "UpdateOutcome": "OutcomeUpdate",
    "UpdatePhoneNumber": "PhoneNumberUpdate",
    "UpdatePlaybook": "PlaybookUpdate",
    "UpdateSMSActivity": "SMSUpdate",
    "UpdateSMSTemplate": "SMSTemplateUpdate",
    "UpdateSMSTemplateAttachment": "SMSTemplateUpdateAttachment",
    "UpdateSmsActivityAttachmentsItems": "SMSUpdateAttachment",
    "UpdateSmsActivityAttachmentsItemsContentType": "SMSUpdateAttachmentContentType",
    "UpdateSmsActivityStatus": "SMSUpdateStatus",
    "UpdateWebhook": "WebhookUpdate",
    "UpdateWhatsAppMessage": "WhatsAppMessageUpdate",
    "UploadFile": "FileUpload",
    "WhatsAppMessageActivity": "WhatsAppMessage",
    "Workflow": "Sequence",
    "WorkflowRunStatus": "SequenceSubscriptionStatus",
    "WorkflowStatus": "SequenceStatus",
}

ROOTS = ("close_async", "tests", "docs", "benchmarks", "examples", "README.md")
SUFFIXES = {".py", ".md", ".pyi", ".txt", ".yml", ".yaml", ".toml", ".cfg", ".ini"}
SKIP = {
    Path("close_async/models.py"),  # generated
    Path("close_async/testing/_spec_kinds.py"),  # generated (tools.fake_kinds): Close's labels
    Path("close_async/__init__.py"),  # the root's exports: by hand (they drop the models)
    *NAMED_ON_PURPOSE,  # measured output, the migration guides and their test
    # name 0.x's names on purpose: the table's and the old root's tests
    Path("tests/test_model_names.py"),
    Path("tests/test_public_api.py"),
}
SKIP_DIRS = {"generated", "__pycache__", "data"}
# Words that are an old model's name but mean something else there.
KEEP = {Path("close_async/_cli"): frozenset({"UpdateOutcome"})}  # the CLI run's outcome

_OLD = re.compile(
    r"""(?<!\[")(?<!\(")\b(""" + "|".join(sorted(RENAMES, key=len, reverse=True)) + r")\b"
)
_ROOT_IMPORT = re.compile(
    r"^(?P<indent>[ \t]*)from close_async import (?P<names>\([^)]*\)|[^\n(]*)$", re.MULTILINE
)


def model_names(root: Path = Path()) -> frozenset[str]:
    """Every name ``close_async.models`` exports (read from its ``__all__``, not imported)."""
    tree = ast.parse((root / "close_async" / "models.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return frozenset(ast.literal_eval(node.value))
    raise SystemExit("close_async/models.py has no __all__")


def _split_import(match: re.Match[str], models: frozenset[str]) -> str:
    indent = match["indent"]
    text = match["names"].strip()
    if text.startswith("("):
        text = text[1:-1]
    # Comments inside a parenthesized import are dropped with the line they stand on only
    # when every name moves; an import that keeps a comment is left for a hand to sort.
    if "#" in text:
        return match[0]
    names = [n.strip() for n in text.replace("\n", " ").split(",") if n.strip()]
    moved = [n for n in names if n.split(" as ")[0].strip() in models]
    if not moved:
        return match[0]
    kept = [n for n in names if n not in moved]
    lines = []
    if kept:
        lines.append(f"{indent}from close_async import {', '.join(kept)}")
    lines.append(f"{indent}from close_async.models import {', '.join(moved)}")
    return "\n".join(lines)


def rewrite(text: str, models: frozenset[str], keep: frozenset[str] = frozenset()) -> str:
    """``text`` with the old model names (but those in ``keep``) replaced and models
    imported from ``close_async.models``."""
    text = _OLD.sub(lambda m: m[1] if m[1] in keep else RENAMES[m[1]], text)
    text = _ROOT_IMPORT.sub(lambda m: _split_import(m, models), text)
    qualified = re.compile(r"\bclose_async\.(" + "|".join(sorted(models)) + r")\b")
    return qualified.sub(r"close_async.models.\1", text)


def table() -> str:
    """The Markdown table of every renamed model, old name first (alphabetical)."""
    lines = ["| 0.x | 1.0 |", "| --- | --- |"]
    lines += [f"| `{old}` | `{new}` |" for old, new in sorted(RENAMES.items())]
    return "\n".join(lines) + "\n"


def _files(root: Path) -> Iterator[Path]:
    for name in ROOTS:
        top = root / name
        if top.is_file():
            yield top
            continue
        for path in sorted(top.rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or path.suffix not in SUFFIXES or relative in SKIP:
                continue
            if SKIP_DIRS & set(relative.parts[1:]):
                continue
            yield path


def main(argv: list[str] | None = None, root: Path = Path()) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--table"]:
        sys.stdout.write(table())
        return 0
    models = model_names(root)
    changed = 0
    for path in _files(root):
        text = path.read_text(encoding="utf-8")
        keep = frozenset().union(
            *(
                words
                for where, words in KEEP.items()
                if path.relative_to(root).is_relative_to(where)
            )
        )
        new = rewrite(text, models, keep)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
            print(f"rewrote {path.relative_to(root)}")
    print(f"{changed} files rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
