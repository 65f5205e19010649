"""Accounts from Firebase Auth (the Admin SDK's getAccountInfo; the Auth emulator where
FIREBASE_AUTH_EMULATOR_HOST is set)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import firebase_admin
from firebase_admin import auth as firebase_auth
from firebase_admin import exceptions as firebase_errors

from video_monitoring.adapters.firebase_auth import default_app
from video_monitoring.core.errors import Unavailable
from video_monitoring.core.identity import Account

log = logging.getLogger(__name__)


class FirebaseAccounts:
    """Accounts on Firebase Auth: one API call per lookup."""

    def __init__(self, app: Callable[[], firebase_admin.App] = default_app) -> None:
        self._app = app

    def account(self, uid: str, *, fresh: bool = False) -> Account | None:
        """The user's account (always fresh); None when no user has that uid; Unavailable when
        Auth fails."""
        try:
            user = firebase_auth.get_user(uid, app=self._app())
        except (firebase_auth.UserNotFoundError, ValueError):  # ValueError: not a valid uid
            return None
        except firebase_errors.FirebaseError as error:
            log.warning("account lookup failed: %s", type(error).__name__)
            raise Unavailable(
                "Authorization: Firebase Auth did not answer the account check; retry shortly"
            ) from None
        role = (user.custom_claims or {}).get("role")
        valid_after = user.tokens_valid_after_timestamp  # ms, truncated to the second
        return Account(
            uid=str(user.uid),
            email=user.email,
            email_verified=bool(user.email_verified),
            disabled=bool(user.disabled),
            role=role if isinstance(role, str) else None,
            tokens_valid_after=dt.datetime.fromtimestamp(valid_after / 1000, dt.UTC)
            if valid_after
            else None,
        )
