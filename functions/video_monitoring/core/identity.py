"""Who a user is now, as the identity provider holds it: the account behind a token or a
digest subscription, looked up when its standing matters (revoked, disabled, deleted)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Account:
    """A user's account: its address, whether it may sign in, its role and since when its
    tokens are valid (tokens issued before `tokens_valid_after` were revoked)."""

    uid: str
    email: str | None = None
    email_verified: bool = False
    disabled: bool = False
    role: str | None = None
    tokens_valid_after: dt.datetime | None = None


class Accounts(Protocol):
    """Looks up accounts by uid."""

    def account(self, uid: str, *, fresh: bool = False) -> Account | None:
        """The user's account, or None when no user has that uid (deleted); `fresh` asks the
        identity provider now, never a remembered answer. Raises when it cannot answer."""
        ...
