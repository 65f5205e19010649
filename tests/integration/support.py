"""The integration tests' import point for the stack harness in local_stack/harness.py."""

from local_stack.harness import (
    ACCOUNTS,
    PROJECT,
    Accounts,
    Stack,
    api,
    client_of,
    summary,
    token,
    wait_until,
    whole_day,
)

__all__ = [
    "ACCOUNTS",
    "PROJECT",
    "Accounts",
    "Stack",
    "api",
    "client_of",
    "summary",
    "token",
    "wait_until",
    "whole_day",
]
