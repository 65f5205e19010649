"""Firebase ID tokens on the real path: RS256 tokens signed with a test key whose certificate a
local server publishes, verified by firebase_admin (signature, kid, expiry, audience, issuer)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import firebase_admin
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from firebase_admin import _token_gen, credentials
from google.auth import crypt
from google.auth import jwt as google_jwt

from local_stack.tokens import emulator_token
from tests.unit.fakes import FakeAccounts
from video_monitoring.adapters.firebase_auth import FirebaseTokens
from video_monitoring.core.errors import Unauthenticated
from video_monitoring.core.identity import Account
from video_monitoring.dashboard.auth import verify

PROJECT = "demo-cvplus"


def key_and_cert() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "securetoken-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    good_key, good_cert = key_and_cert()
    other_key, _ = key_and_cert()
    return {"key": good_key, "cert": good_cert, "other": other_key}


@pytest.fixture
def app(keys: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[firebase_admin.App]:
    body = json.dumps({"kid-1": keys["cert"]}).encode()

    class Certs(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "public, max-age=60")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Certs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    monkeypatch.setattr(
        _token_gen, "ID_TOKEN_CERT_URI", f"http://127.0.0.1:{server.server_address[1]}/certs"
    )
    # Explicit (unused) service-account credentials: no lookup of default credentials, no
    # metadata server; verifying ID tokens needs only the public certificates.
    account = credentials.Certificate(
        {
            "type": "service_account", "project_id": PROJECT, "private_key_id": "test",
            "private_key": keys["key"].decode(), "client_email": f"test@{PROJECT}.iam.example",
            "token_uri": "http://127.0.0.1:9/token",
        }
    )  # fmt: skip
    app = firebase_admin.initialize_app(
        account, options={"projectId": PROJECT}, name=f"t{time.time_ns()}"
    )
    try:
        yield app
    finally:
        firebase_admin.delete_app(app)
        server.shutdown()
        server.server_close()


def signed(key: bytes, kid: str | None = "kid-1", **overrides: Any) -> str:
    now = int(time.time())
    payload = {
        "iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT,
        "sub": "user-1", "user_id": "user-1", "iat": now - 10, "exp": now + 3600,
        "auth_time": now - 10, "role": "analytics", **overrides,
    }  # fmt: skip
    signer = crypt.RSASigner.from_string(key, key_id=kid)  # type: ignore[no-untyped-call]
    token: bytes = google_jwt.encode(signer, payload)  # type: ignore[no-untyped-call]
    return token.decode()


def test_a_signed_token_verifies_and_carries_the_role(app: firebase_admin.App, keys: Any) -> None:
    caller = verify(f"Bearer {signed(keys['key'])}", FirebaseTokens(lambda: app))
    assert (caller.uid, caller.role) == ("user-1", "analytics")


@pytest.mark.parametrize(
    "case",
    ["forged signature", "expired", "wrong audience", "wrong issuer", "no kid", "unknown kid",
     "unsigned emulator token"],
)  # fmt: skip
def test_bad_tokens_are_refused(app: firebase_admin.App, keys: Any, case: str) -> None:
    now = int(time.time())
    token = {
        "forged signature": lambda: signed(keys["other"]),
        "expired": lambda: signed(
            keys["key"], iat=now - 7200, auth_time=now - 7200, exp=now - 3600
        ),
        "wrong audience": lambda: signed(keys["key"], aud="another-project"),
        "wrong issuer": lambda: signed(keys["key"], iss="https://securetoken.google.com/other"),
        "no kid": lambda: signed(keys["key"], kid=None),
        "unknown kid": lambda: signed(keys["key"], kid="kid-2"),
        "unsigned emulator token": lambda: emulator_token("user-1", "admin", PROJECT),
    }[case]()
    with pytest.raises(Unauthenticated) as refused:
        verify(f"Bearer {token}", FirebaseTokens(lambda: app))
    assert token not in str(refused.value)  # a token is never echoed


REVOKED_AT = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)


@pytest.mark.parametrize(
    ("account", "refusal"),
    [
        (None, "no longer exists"),
        (Account("user-1", disabled=True), "account is disabled"),
        (Account("user-1", tokens_valid_after=REVOKED_AT), "revoked; sign in again"),
    ],
)
def test_a_valid_signature_is_refused_when_its_account_no_longer_stands(
    app: firebase_admin.App, keys: Any, account: Account | None, refusal: str
) -> None:
    token = signed(keys["key"], iat=int(REVOKED_AT.timestamp()) - 5)  # before the revocation
    accounts = FakeAccounts(*([account] if account else []))
    with pytest.raises(Unauthenticated, match=refusal) as refused:
        verify(f"Bearer {token}", FirebaseTokens(lambda: app), accounts=accounts)
    assert token not in str(refused.value)
    standing = FakeAccounts(Account("user-1", tokens_valid_after=REVOKED_AT))
    fresh = signed(keys["key"], iat=int(time.time()))  # a new sign-in after the revocation
    assert verify(f"Bearer {fresh}", FirebaseTokens(lambda: app), accounts=standing).uid == "user-1"
