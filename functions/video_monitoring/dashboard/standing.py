"""A verified ID token's account standing: the token is refused when its user was deleted or
disabled, or its tokens were revoked after it was issued.

firebase_admin's `verify_id_token(..., check_revoked=True)` makes one Auth API call
(getAccountInfo) for every request. Instead each instance keeps the accounts it looked up, by
uid, for a short TTL (AUTH_ACCOUNT_CACHE_SECONDS, 60 s by default) in a bounded LRU: a user
calling continuously costs at most one lookup per TTL per instance, a repeat request none, and a
revoked or disabled user is refused within the TTL."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict

from video_monitoring.core.clock import Clock
from video_monitoring.core.errors import Unauthenticated
from video_monitoring.core.identity import Account, Accounts

# Accounts one instance remembers (a few hundred bytes each); the least recently used goes.
CACHE_SIZE = 10_000


class AccountCache:
    """Accounts by uid, each looked up at most once per `ttl` (deleted users included)."""

    def __init__(
        self, accounts: Accounts, clock: Clock, ttl: dt.timedelta, size: int = CACHE_SIZE
    ) -> None:
        self._accounts = accounts
        self._clock = clock
        self._ttl = ttl
        self._size = size
        self._entries: OrderedDict[str, tuple[dt.datetime, Account | None]] = OrderedDict()
        self._lock = threading.Lock()  # an instance serves concurrent requests
        self.lookups = 0  # calls to the identity provider

    def account(self, uid: str, *, fresh: bool = False) -> Account | None:
        """The account, from the cache while its entry is younger than the TTL; `fresh` looks
        it up now and renews the entry (a deletion seen there is refused on the next call)."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(uid)
            if not fresh and entry is not None and now < entry[0]:
                self._entries.move_to_end(uid)
                return entry[1]
        # Looked up outside the lock: one slow call does not hold up other users' requests.
        found = self._accounts.account(uid)
        with self._lock:
            self.lookups += 1
            if self._ttl > dt.timedelta(0):
                self._entries[uid] = (now + self._ttl, found)
                self._entries.move_to_end(uid)
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
        return found

    def __len__(self) -> int:
        return len(self._entries)


def check_standing(uid: str, issued_at: dt.datetime, accounts: Accounts) -> Account:
    """The token's account, or Unauthenticated saying why it no longer stands (the message never
    quotes the token); the identity provider's failure propagates (Unavailable)."""
    account = accounts.account(uid)
    if account is None:
        raise Unauthenticated("Authorization: the account behind this ID token no longer exists")
    if account.disabled:
        raise Unauthenticated("Authorization: this account is disabled")
    if account.tokens_valid_after is not None and issued_at < account.tokens_valid_after:
        raise Unauthenticated("Authorization: the ID token was revoked; sign in again")
    return account
