"""Firebase ID token verification and roles."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import firebase_admin
from firebase_admin import auth as firebase_auth

from video_monitoring.config import constants as c
from video_monitoring.config.settings import get_settings
from video_monitoring.core.errors import PermissionDenied, Unauthenticated
from video_monitoring.core.identity import Accounts
from video_monitoring.dashboard.standing import check_standing

READ_ROLES = frozenset({c.ROLE_ANALYTICS, c.ROLE_ADMIN})
ADMIN_ROLES = frozenset({c.ROLE_ADMIN})
ROLES = (c.ROLE_ANALYTICS, c.ROLE_ADMIN)


@dataclass(frozen=True)
class Caller:
    """A verified caller."""

    uid: str
    role: str | None
    email: str | None = None  # from the token (digests go to it)


@functools.cache
def default_app() -> firebase_admin.App:
    """The process's Firebase app, initialised on first use."""
    # With FIREBASE_AUTH_EMULATOR_HOST set, firebase_admin accepts the emulator's unsigned tokens
    # and still checks issuer, audience and expiry; without it, signatures are verified.
    try:
        return firebase_admin.get_app()
    except ValueError:
        return firebase_admin.initialize_app(options={"projectId": get_settings().runtime.project})


def verify(
    authorization: str | None,
    app: firebase_admin.App | None = None,
    accounts: Accounts | None = None,
) -> Caller:
    """The caller behind an `Authorization: Bearer <ID token>` header, or Unauthenticated.

    firebase_admin checks the RS256 signature against Google's published certificates (by
    `kid`), expiry, issue and auth times, audience (the project) and issuer
    (`https://securetoken.google.com/<project>`); only with FIREBASE_AUTH_EMULATOR_HOST set does
    it accept the Auth emulator's unsigned tokens (the local stack). With `accounts`, the
    token's user must still exist, be enabled and not have had its tokens revoked since the
    token was issued (dashboard/standing.py)."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated("Authorization: expected 'Bearer <Firebase ID token>'")
    token = authorization.removeprefix("Bearer ").strip()
    try:
        claims: Mapping[str, Any] = firebase_auth.verify_id_token(token, app=app or default_app())
    except (ValueError, firebase_auth.InvalidIdTokenError, firebase_auth.ExpiredIdTokenError):
        # The library's messages quote the token; never echo or log it.
        raise Unauthenticated("Authorization: the ID token did not verify") from None
    uid = str(claims.get("uid", ""))
    if accounts is not None:
        issued = claims.get("iat")
        if not isinstance(issued, int):
            raise Unauthenticated("Authorization: the ID token did not verify")
        check_standing(uid, dt.datetime.fromtimestamp(issued, dt.UTC), accounts)
    role = claims.get("role")
    email = claims.get("email")
    return Caller(
        uid=uid,
        role=role if isinstance(role, str) else None,
        email=email if isinstance(email, str) else None,
    )


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


CORS_METHODS = "GET, POST, PUT, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type"


def cors_headers(origin: str | None, allowed: Iterable[str]) -> dict[str, str]:
    """Response headers letting a listed web app origin call the API (none for other origins;
    the browser then blocks the response). `Vary: Origin` keeps caches honest."""
    if origin is None or origin not in set(allowed):
        return {"Vary": "Origin"} if origin is not None else {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": CORS_METHODS,
        "Access-Control-Allow-Headers": CORS_HEADERS,
        "Access-Control-Expose-Headers": "Content-Disposition",
        "Access-Control-Max-Age": "3600",
        "Vary": "Origin",
    }


def require(caller: Caller, roles: frozenset[str]) -> None:
    """PermissionDenied unless the caller has one of the roles."""
    if caller.role not in roles:
        raise PermissionDenied(f"role: this action needs one of {sorted(roles)}")
