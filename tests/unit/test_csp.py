"""The console's Content-Security-Policy (firebase.json, served by Hosting and by the local
stack): no inline script but the hashed importmap, no plugins, no framing, connections only to
the API's origin and Firebase Auth; HSTS in production."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from local_stack.hosting import Hosting, HostingConfig

REPO = Path(__file__).resolve().parents[2]
AUTH_HOSTS = {"https://identitytoolkit.googleapis.com", "https://securetoken.googleapis.com"}


def hosting_headers() -> dict[str, str]:
    """The headers firebase.json gives every path."""
    rules = json.loads((REPO / "firebase.json").read_text())["hosting"]["headers"]
    (every,) = [rule for rule in rules if rule["source"] == "**"]
    return {h["key"]: h["value"] for h in every["headers"]}


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        if part.strip():
            name, *values = part.split()
            assert name not in parsed, f"{name} given twice"
            parsed[name] = values
    return parsed


class Markup(HTMLParser):
    """Inline scripts' text and every attribute of hosting/index.html."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self._in_inline = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attributes.extend(attrs)
        self._in_inline = tag == "script" and "src" not in dict(attrs)
        if self._in_inline:
            self.inline.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_inline = False

    def handle_data(self, data: str) -> None:
        if self._in_inline:
            self.inline[-1] += data


def index() -> Markup:
    markup = Markup()
    markup.feed((REPO / "hosting" / "index.html").read_text())
    return markup


def test_the_policy_has_the_required_directives() -> None:
    policy = directives(hosting_headers()["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert set(policy["connect-src"]) == {"'self'", *AUTH_HOSTS}  # the API is same origin
    for name in ("script-src", "style-src", "default-src"):
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} & set(
            policy[name]
        ), name
    assert policy["style-src"] == ["'self'"]


def test_every_inline_script_is_allowed_by_its_hash_and_nothing_else_inline() -> None:
    markup = index()
    assert markup.inline, "the importmap is an inline script"
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"
        for text in markup.inline
    }
    script_src = directives(hosting_headers()["Content-Security-Policy"])["script-src"]
    assert hashes <= set(script_src)
    # No stale hash of an inline script that is gone, and only the Auth SDK's loader beside.
    assert {s for s in script_src if s.startswith("'sha")} == hashes
    assert set(script_src) - hashes == {"'self'", "https://apis.google.com"}
    assert not [name for name, _ in markup.attributes if name.startswith("on") or name == "style"]


def test_hsts_in_production() -> None:
    hsts = hosting_headers()["Strict-Transport-Security"]
    max_age = int(re.fullmatch(r"max-age=(\d+)(; includeSubDomains)?", hsts)[1])  # type: ignore[index]
    assert max_age >= 365 * 24 * 3600


def served(path: str, firebase_config: dict[str, Any]) -> dict[str, str]:
    app = Hosting(HostingConfig.load(REPO / "firebase.json"), {}, firebase_config)
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        got.update(status=status, headers=dict(headers))

    app({"PATH_INFO": path}, start_response)
    assert got["status"] == "200 OK"
    headers: dict[str, str] = got["headers"]
    return headers


def test_the_local_stack_serves_the_policy_with_its_auth_emulator_and_no_hsts() -> None:
    local = served(
        "/alerts", {"projectId": "demo-cvplus", "authEmulatorUrl": "http://127.0.0.1:9099"}
    )
    production = directives(hosting_headers()["Content-Security-Policy"])
    policy = directives(local["Content-Security-Policy"])
    assert policy["connect-src"] == [*production["connect-src"], "http://127.0.0.1:9099"]
    assert {k: v for k, v in policy.items() if k != "connect-src"} == {
        k: v for k, v in production.items() if k != "connect-src"
    }
    assert "Strict-Transport-Security" not in local
    assert (
        served("/", {"projectId": "p"})["Content-Security-Policy"]
        == hosting_headers()["Content-Security-Policy"]
    )
