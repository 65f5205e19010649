"""Firebase Auth through the Admin SDK: the process's Firebase app, ID token verification, and
granting roles (the `role` custom claim)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import firebase_admin
from firebase_admin import auth as firebase_auth

from video_monitoring.config.settings import get_settings
from video_monitoring.core.errors import Unauthenticated
from video_monitoring.dashboard.auth import READ_ROLES, ROLES


@functools.cache
def default_app() -> firebase_admin.App:
    """The process's Firebase app, initialised on first use."""
    # With FIREBASE_AUTH_EMULATOR_HOST set, firebase_admin accepts the emulator's unsigned tokens
    # and still checks issuer, audience and expiry; without it, signatures are verified.
    try:
        return firebase_admin.get_app()
    except ValueError:
        return firebase_admin.initialize_app(options={"projectId": get_settings().runtime.project})


class FirebaseTokens:
    """ID tokens verified by firebase_admin: the RS256 signature against Google's published
    certificates (by `kid`), expiry, issue and auth times, audience and issuer."""

    def __init__(self, app: Callable[[], firebase_admin.App] = default_app) -> None:
        self._app = app

    def claims(self, token: str) -> Mapping[str, Any]:
        """The verified token's claims; Unauthenticated when it does not verify."""
        try:
            claims: Mapping[str, Any] = firebase_auth.verify_id_token(token, app=self._app())
        except (ValueError, firebase_auth.InvalidIdTokenError, firebase_auth.ExpiredIdTokenError):
            # The library's messages quote the token; never echo or log it.
            raise Unauthenticated("Authorization: the ID token did not verify") from None
        return claims


def grant_role(
    email: str,
    role: str | None,
    unsubscribe: Callable[[str], None],
    app: firebase_admin.App | None = None,
) -> str:
    """Set the user's `role` claim (None removes it), keeping their other claims; their uid.
    A user left without a read role is unsubscribed from digests (`unsubscribe(uid)`, after the
    claim changed: the digest's own check at send time covers a crash in between).
    LookupError when no user has that email."""
    if role is not None and role not in ROLES:
        raise ValueError(f"role: expected one of {', '.join(ROLES)}")
    try:
        user = firebase_auth.get_user_by_email(email, app=app or default_app())
    except firebase_auth.UserNotFoundError:
        raise LookupError(f"no user with the email {email!r}") from None
    claims = dict(user.custom_claims or {})
    if role is None:
        claims.pop("role", None)
    else:
        claims["role"] = role
    firebase_auth.set_custom_user_claims(user.uid, claims or None, app=app or default_app())
    if role not in READ_ROLES:
        unsubscribe(str(user.uid))
    return str(user.uid)
