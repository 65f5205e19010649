"""Who is calling: the caller an ID token names (checked by a token verifier), roles, CORS."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from video_monitoring.config import constants
from video_monitoring.core.errors import PermissionDenied, Unauthenticated
from video_monitoring.core.identity import Accounts
from video_monitoring.dashboard.standing import check_standing

READ_ROLES = frozenset({constants.ROLE_ANALYTICS, constants.ROLE_ADMIN})
ADMIN_ROLES = frozenset({constants.ROLE_ADMIN})
ROLES = (constants.ROLE_ANALYTICS, constants.ROLE_ADMIN)


@dataclass(frozen=True)
class Caller:
    """A verified caller."""

    uid: str
    role: str | None
    email: str | None = None  # from the token (digests go to it)


class TokenVerifier(Protocol):
    """Checks Firebase ID tokens (adapters/firebase_auth.py)."""

    def claims(self, token: str) -> Mapping[str, Any]:
        """The claims of a token that verified; Unauthenticated when it does not (the message
        never quotes the token)."""
        ...


def verify(
    authorization: str | None,
    tokens: TokenVerifier,
    accounts: Accounts | None = None,
) -> Caller:
    """The caller behind an `Authorization: Bearer <ID token>` header, or Unauthenticated.

    `tokens` checks the RS256 signature against Google's published certificates (by `kid`),
    expiry, issue and auth times, audience (the project) and issuer
    (`https://securetoken.google.com/<project>`); only with FIREBASE_AUTH_EMULATOR_HOST set does
    it accept the Auth emulator's unsigned tokens (the local stack). With `accounts`, the
    token's user must still exist, be enabled and not have had its tokens revoked since the
    token was issued (dashboard/standing.py)."""
    if not authorization or not authorization.startswith("Bearer "):
        raise Unauthenticated("Authorization: expected 'Bearer <Firebase ID token>'")
    claims = tokens.claims(authorization.removeprefix("Bearer ").strip())
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
