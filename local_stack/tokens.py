"""Unsigned ID tokens exactly as the Firebase Auth emulator issues them (docs/interfaces.md §5)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def emulator_token(
    uid: str,
    role: str | None,
    project: str = "demo-cvplus",
    lifetime_seconds: int = 3600,
    **claims: Any,
) -> str:
    """A JWT with `alg: none` carrying the custom claim `role`."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": f"https://securetoken.google.com/{project}",
        "aud": project,
        "sub": uid,
        "user_id": uid,
        "iat": now,
        "exp": now + lifetime_seconds,
        "auth_time": now,
        "firebase": {"sign_in_provider": "custom"},
        **claims,
    }
    if role is not None:
        payload["role"] = role
    return f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(payload)}."
