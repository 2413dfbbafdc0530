"""The generator of the typed layer: its output is what is committed, and reads as code should.

The drift test regenerates into a temporary directory and compares every file byte for byte
(and finds files left over from an earlier run): editing a generated file by hand, or the
document or overlay without regenerating, fails here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.codegen.__main__ import main
from tools.codegen.generate import generate, stale_files
from tools.codegen.naming import method_of, model_name, namespace_of
from tools.codegen.render import HEADER

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    return generate()


def test_committed_files_are_the_generators_output(generated: dict[Path, str]) -> None:
    assert stale_files(generated, ROOT) == []


def test_drift_is_found_in_an_edited_a_missing_and_a_left_over_file(
    generated: dict[Path, str], tmp_path: Path
) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    assert stale_files(generated, tmp_path) == []
    leads = tmp_path / "close_async/_resources/generated/leads.py"
    leads.write_text(leads.read_text().replace("List Leads", "List leads"))
    (tmp_path / "close_async/_types/generated/tasks.py").unlink()
    shutil.copy(leads, tmp_path / "close_async/_resources/generated/old_group.py")
    assert main(["--out", str(tmp_path), "--check"]) == 1
    assert {p.name for p in stale_files(generated, tmp_path)} == {
        "leads.py",
        "tasks.py",
        "old_group.py",
    }


def test_every_generated_file_says_it_is_generated_and_by_what(
    generated: dict[Path, str],
) -> None:
    for path, code in generated.items():
        assert code.startswith(HEADER), path
        assert "python -m tools.codegen" in code.splitlines()[0]


def test_names_follow_the_contracts_rule() -> None:
    assert namespace_of("subpackage_activitiesWhatsappMessages") == (
        "activities",
        "whatsapp_messages",
    )
    assert namespace_of("subpackage_customFieldsShared") == ("custom_fields", "shared")
    assert namespace_of("subpackage_customFieldSchemas") == ("custom_field_schemas",)
    assert namespace_of("subpackage_bulkActionsEdit") == ("bulk_actions", "edit")
    assert namespace_of("subpackage_activities") == ("activities",)
    assert method_of("get-association") == "get_association"
    assert model_name("users_getMe_Response_200") == "UsersGetMeResponse"
    assert model_name("Lead") == "Lead"


def test_the_resources_page_lists_every_resource_group_and_method() -> None:
    import inspect

    from close_async._resources.generated._root import RESOURCE_GROUPS
    from close_async._resources.generated.activities_calls import ActivitiesCallsResource
    from tests.test_typed_conformance import ROWS

    # The table lives on the docs site (the README links to it).
    page = (ROOT / "docs" / "resources.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in page.splitlines() if "| `close." in line}
    for dotted, _, _ in ROWS:
        group, _, method = dotted.rpartition(".")
        line = next(v for k, v in rows.items() if k.startswith(f"`close.{group}`"))
        assert f"`{method}`" in line, dotted
    with_methods = {"close." + d.rpartition(".")[0] for d, _, _ in ROWS}
    assert with_methods <= set(RESOURCE_GROUPS)
    assert with_methods <= {k.split("`")[1] for k in rows}
    assert inspect.isfunction(ActivitiesCallsResource.update_many)
