"""Secrets stay out of reprs: a model field holding one shows ``'<redacted>'`` or its last
four characters, while the attribute keeps the value and conversion carries it unchanged.

The generator decides which fields hold secrets (``tools.codegen.spec.holds_secret``); these
tests walk every generated model with that rule's name pattern, so a field added to the
overlay or the document under a secret's name is checked without a new test.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

import close_async.models as models
from close_async import CloseClient, OAuthRefresher, OAuthTokens
from close_async._engine.auth.credentials import Credentials
from close_async._engine.redact import REDACTED, SHOWN_FROM, redacted
from close_async._types.model import UNSET, Model
from close_async.models import Webhook
from tools.codegen.spec import SECRET_NAME, holds_secret

# Long enough to be shown by its last four characters, and unlike anything else in a repr.
SECRET = "5f1e0c9d2b7a4e3f8a6b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f"
TAIL = SECRET[-4:]


def generated_models() -> Iterator[type]:
    for name in models.__all__:
        found = getattr(models, name)
        if isinstance(found, type) and attrs.has(found):
            yield found


def secret_fields() -> list[tuple[type, str]]:
    return [
        (cls, a.name)
        for cls in generated_models()
        for a in attrs.fields(cls)
        if SECRET_NAME.search(a.name)
    ]


def bare(cls: type, **values: object) -> object:
    """An instance with every field unset (``None`` or ``UNSET``) but ``values``, built
    without the class's checks, so a request model's required fields need no value."""
    instance = object.__new__(cls)
    empty = None if issubclass(cls, Model) else UNSET
    for a in attrs.fields(cls):
        value = values.get(a.name, {} if a.name == "extra" else empty)
        object.__setattr__(instance, a.name, value)
    return instance


def test_the_walk_finds_the_secret_fields_it_is_meant_to_check() -> None:
    # Not vacuous: the webhook's key is among them, and an id named after a key is not.
    found = {(cls.__name__, name) for cls, name in secret_fields()}
    assert ("Webhook", "signature_key") in found
    assert not any(name.endswith("_id") for _, name in found)


@pytest.mark.parametrize(
    ("cls", "name"), secret_fields(), ids=lambda v: v if isinstance(v, str) else v.__name__
)
def test_every_generated_secret_field_is_hidden_in_repr_and_str(cls: type, name: str) -> None:
    instance = bare(cls, **{name: SECRET})
    assert getattr(instance, name) == SECRET
    for shown in (repr(instance), str(instance)):
        assert SECRET not in shown
        assert f"{name}='…{TAIL}'" in shown


def test_a_webhook_hides_its_signature_key_and_converts_it_unchanged() -> None:
    payload = {"id": "whsub_1", "url": "https://example.com/hook", "signature_key": SECRET}
    webhook = Webhook.from_json(payload)
    assert webhook.signature_key == SECRET
    assert SECRET not in repr(webhook)
    assert SECRET not in str(webhook)
    assert "whsub_1" in repr(webhook)  # the other fields are shown as before
    assert webhook.to_json()["signature_key"] == SECRET
    assert Webhook.from_json(webhook.to_json()) == webhook


def test_a_short_secret_is_not_shown_at_all_and_none_stays_none() -> None:
    short, long_enough = SECRET[: SHOWN_FROM - 1], SECRET[:SHOWN_FROM]
    assert f"signature_key={REDACTED!r}" in repr(Webhook(signature_key=short))
    assert short[-4:] not in repr(Webhook(signature_key=short))
    assert f"signature_key='…{long_enough[-4:]}'" in repr(Webhook(signature_key=long_enough))
    assert "signature_key=None" in repr(Webhook())
    assert redacted(UNSET) == repr(UNSET)
    assert redacted(12345678901234567890) == repr(REDACTED)  # not a string: nothing shown


@pytest.mark.parametrize(
    ("key", "schema", "secret"),
    [
        ("signature_key", {"type": "string"}, True),
        ("client_secret", {"type": "string"}, True),
        ("access_token", {"type": "string"}, True),
        ("password", {"type": "string"}, True),
        ("api_keys", {"type": "array", "items": {"type": "string"}}, True),
        ("pin", {"type": "string", "format": "password"}, True),
        ("answer", {"type": "string", "writeOnly": True}, True),
        ("code", {"type": "string", "x-secret": True}, True),
        ("api_key_id", {"type": "string"}, False),
        ("token_type", {"type": "string"}, False),
        ("need_smtp_credentials", {"type": "boolean"}, False),
        ("keyword", {"type": "string"}, False),
    ],
)
def test_the_generators_rule(key: str, schema: dict[str, object], secret: bool) -> None:
    assert holds_secret(key, schema) is secret


def test_oauth_tokens_hide_both_tokens_but_keep_them_readable() -> None:
    tokens = OAuthTokens(
        access_token=SECRET, refresh_token=SECRET[::-1], expires_in=3600.0, expires_at=1.0
    )
    assert (tokens.access_token, tokens.refresh_token) == (SECRET, SECRET[::-1])
    for shown in (repr(tokens), str(tokens)):
        assert SECRET not in shown
        assert SECRET[::-1] not in shown
        assert "expires_in=3600.0" in shown


async def test_the_hand_written_holders_of_secrets_never_show_them() -> None:
    refresher = OAuthRefresher(
        client_id="client_1",
        client_secret=SECRET,
        refresh_token=SECRET[::-1],
        on_refresh_token=lambda tokens: None,
        access_token=SECRET.upper(),
    )
    holders: list[object] = [
        Credentials(api_key=SECRET),
        Credentials(oauth_token=SECRET),
        refresher,
    ]
    async with (
        CloseClient(SECRET) as by_key,
        CloseClient(token_provider=refresher) as by_token,
    ):
        holders += [by_key, by_token]
        for holder in holders:
            for shown in (repr(holder), str(holder)):
                for secret in (SECRET, SECRET[::-1], SECRET.upper()):
                    assert secret not in shown, type(holder).__name__
