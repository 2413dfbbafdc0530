"""OAuth 2 with Close, sans I/O: the token endpoint's forms in, its answers read out.

Close's token endpoint (``https://api.close.com/oauth2/token/``) takes form-encoded
``grant_type=authorization_code`` (with the ``code`` Close sent to the app's redirect URI)
or ``grant_type=refresh_token``, and answers JSON: ``access_token``, ``expires_in``
(3600 seconds), ``refresh_token`` (each refresh returns a new one and revokes the old),
``scope``, ``user_id``, ``organization_id``. Tokens are revoked at ``/oauth2/revoke/``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import attrs
import yarl

from ..errors import APIResponseValidationError, ConfigurationError, InternalServerError, OAuthError
from ..redact import redacted
from .credentials import is_loopback

__all__ = [
    "DEFAULT_REVOKE_URL",
    "DEFAULT_TOKEN_URL",
    "OAuthTokens",
    "check_endpoint",
    "check_secret",
    "code_form",
    "refresh_form",
    "revoke_form",
    "revoked",
    "tokens_from_answer",
]

DEFAULT_TOKEN_URL = "https://api.close.com/oauth2/token/"  # noqa: S105 (a URL, not a secret)
DEFAULT_REVOKE_URL = "https://api.close.com/oauth2/revoke/"

_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+", re.ASCII)
# RFC 6749 error codes are lower-case words joined by "_": anything else a server sends
# there is not quoted in our messages (it could be an echoed secret).
_ERROR_CODE = re.compile(r"[a-z_]{1,40}", re.ASCII)
_REFUSALS = {
    "invalid_grant": "the code or refresh token was already used, revoked or has expired: "
    "the user must authorize the app again",
    "invalid_client": "the client id or client secret is wrong",
}


@attrs.frozen
class OAuthTokens:
    """What Close's token endpoint issued. ``repr`` shows no more of the tokens than their
    last four characters.

    ``expires_at`` is when the access token expires, in seconds since the epoch (from
    ``expires_in``, counted from when the answer arrived), so it can be stored with the
    tokens; ``None`` when Close gave no lifetime. ``refresh_token`` is ``None`` when the app
    lacks the ``offline_access`` scope.
    """

    access_token: str = attrs.field(repr=redacted)
    refresh_token: str | None = attrs.field(repr=redacted)
    expires_in: float | None
    expires_at: float | None
    scope: str | None = None
    user_id: str | None = None
    organization_id: str | None = None


def check_secret(name: str, value: object) -> str:
    """``value`` if it can travel in a form or header as is; a clear error naming ``name``
    (never quoting the value, which may be a secret) otherwise."""
    if not isinstance(value, str) or not _VISIBLE_ASCII.fullmatch(value):
        raise ConfigurationError(
            f"{name} must be a non-empty string of visible ASCII characters (no spaces)"
        )
    return value


def check_endpoint(name: str, url: str | yarl.URL) -> yarl.URL:
    """An OAuth endpoint URL, vetted like the API base URL: https, or http to loopback."""
    checked = yarl.URL(url)
    if checked.scheme not in ("http", "https") or not checked.host:
        raise ConfigurationError(f"{name} must be an absolute http(s) URL, got {str(url)!r}")
    if checked.user or checked.password or checked.query_string or checked.fragment:
        raise ConfigurationError(f"{name} must not carry credentials, a query or a fragment")
    if checked.scheme == "http" and not is_loopback(checked.host):
        raise ConfigurationError(
            f"refusing to send OAuth secrets over plain http to {checked.host!r}: use https "
            "(plain http is allowed only to loopback hosts, for tests)"
        )
    return checked


def code_form(
    client_id: str, client_secret: str, code: str, redirect_uri: str | None
) -> dict[str, str]:
    """The form exchanging an authorization ``code`` for tokens."""
    form = {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "authorization_code",
        "code": code,
    }
    if redirect_uri is not None:
        form["redirect_uri"] = redirect_uri
    return form


def refresh_form(client_id: str, client_secret: str, refresh_token: str) -> dict[str, str]:
    """The form trading a refresh token for a new access token (and a new refresh token)."""
    return {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
    }


def revoke_form(client_id: str, client_secret: str, token: str) -> dict[str, str]:
    """The form revoking an access or refresh token (RFC 7009)."""
    return {"client_id": client_id, "client_secret": client_secret, "token": token}


def tokens_from_answer(status: int, body: bytes, *, path: str, now: float) -> OAuthTokens:
    """The tokens in a token endpoint's answer, or the error it amounts to.

    ``now`` (seconds since the epoch) is when the answer arrived. Raises
    :class:`OAuthError` for a refusal (4xx), :class:`InternalServerError` for a 5xx and
    :class:`APIResponseValidationError` for a 200 without a usable access token. No message quotes
    the body: it could hold a token.
    """
    _raise_for_status(status, body, path)
    data = _json_object(body)
    where = {"method": "POST", "path": path}
    if data is None:
        raise APIResponseValidationError(
            "Close's token endpoint answered 200 without a JSON object", **where
        )
    access = data.get("access_token")
    if not isinstance(access, str) or not _VISIBLE_ASCII.fullmatch(access):
        raise APIResponseValidationError(
            "Close's token endpoint answered 200 without a usable access_token", **where
        )
    refresh = data.get("refresh_token")
    if refresh is not None and not (isinstance(refresh, str) and _VISIBLE_ASCII.fullmatch(refresh)):
        raise APIResponseValidationError(
            "Close's token endpoint sent an unusable refresh_token", **where
        )
    lifetime = data.get("expires_in")
    expires_in: float | None = None
    if (
        isinstance(lifetime, int | float)
        and not isinstance(lifetime, bool)
        and math.isfinite(lifetime)
        and lifetime > 0
    ):
        expires_in = float(lifetime)
    return OAuthTokens(
        access_token=access,
        refresh_token=refresh,
        expires_in=expires_in,
        expires_at=now + expires_in if expires_in is not None else None,
        scope=_text(data.get("scope")),
        user_id=_text(data.get("user_id")),
        organization_id=_text(data.get("organization_id")),
    )


def revoked(status: int, body: bytes, *, path: str) -> None:
    """Check a revocation's answer: any 2xx is done (RFC 7009 answers 200 even for a token
    already invalid); otherwise raise as :func:`tokens_from_answer` does."""
    _raise_for_status(status, body, path)


def _raise_for_status(status: int, body: bytes, path: str) -> None:
    if 200 <= status < 300:
        return
    if status >= 500:
        message = f"Close's token endpoint failed (HTTP {status})"
        raise InternalServerError(message, status=status, method="POST", path=path)
    data = _json_object(body) or {}
    code = data.get("error")
    error = code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else None
    why = _REFUSALS.get(error or "", "the request was refused")
    said = f" ({error})" if error else ""
    raise OAuthError(
        f"Close's token endpoint refused{said}: {why}",
        error=error,
        status=status,
        method="POST",
        path=path,
    )


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
