"""User code that must NOT type-check: each wrong use ends its line with a comment
``E:`` followed by a piece of the message mypy --strict gives there.

tests/test_typing_fail.py runs ``mypy --strict`` on this file and asserts that exactly the
marked lines fail, each with its marked text: a wrong use that starts to type-check (an
attribute that became ``Any``, a parameter that widened) fails the test, and so does an
error on a line not marked. Never run; add lines freely (one wrong use per line).
"""

from __future__ import annotations

from close_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    ClientValidationError,
    CloseClient,
    Timeout,
)
from close_async.models import CallUpdate, Lead


async def errors(close: CloseClient) -> None:
    try:
        await close.calls.get("acti_1")
    except APITimeoutError as timeout:
        print(timeout.status)  # E: "APITimeoutError" has no attribute "status"
    except APIConnectionError as dropped:
        print(dropped.field_errors)  # E: "APIConnectionError" has no attribute "field_errors"
    except TimeoutError as builtin:
        print(builtin.phase)  # E: "TimeoutError" has no attribute "phase"
    except BadRequestError as bad:
        bad.status = "400"  # E: Incompatible types in assignment
    caught: APIStatusError = TimeoutError()  # E: variable has type "APIStatusError"
    print(caught)
    ClientValidationError("bad", fields="note")  # E: Unexpected keyword argument "fields"


def options() -> None:
    CloseClient("key", timeout="5")  # E: Argument "timeout" to "CloseClient" has incompatible type
    Timeout(connect="5")  # E: Argument "connect" to "Timeout" has incompatible type "str"


async def generic(close: CloseClient, lead: Lead) -> None:
    await close.leads.get()  # E: Missing positional argument "id" in call to "get"
    update = CallUpdate(note="Left a voicemail")
    update.note = "changed"  # E: Property "note" defined in "CallUpdate" is read-only
    print(lead.no_such_field)  # E: "Lead" has no attribute "no_such_field"
