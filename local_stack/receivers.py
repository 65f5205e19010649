"""Real local receivers for notifications (tests and the demo): HTTP servers and an SMTP inbox on
127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass(frozen=True)
class Received:
    """One HTTP request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class HttpReceiver:
    """Records every POST; answers per `mode`: 'ok' (200 "ok"), 'created' (201 JSON), 'error'
    (500), 'slow' (sleeps `slow_seconds` before answering 200). `pause` makes it refuse
    connections until `resume`."""

    def __init__(self, mode: str = "ok", slow_seconds: float = 2.0) -> None:
        self.mode = mode
        self.slow_seconds = slow_seconds
        self.requests: list[Received] = []
        self.answered: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received("POST", self.path, dict(self.headers.items()), body)
                    )
                    mode = receiver.mode
                if mode == "slow":
                    time.sleep(receiver.slow_seconds)
                status, payload = {
                    "ok": (200, b"ok"),
                    "slow": (200, b"ok"),
                    "created": (201, b'{"sid": "SM1"}'),
                    "error": (500, b"internal"),
                }[mode]
                with receiver._lock:
                    receiver.answered.append(status)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._handler = Handler
        self._port = 0
        self._serve()

    def _serve(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def pause(self) -> None:
        """Close the listening socket: connections are refused until `resume`."""
        self.stop()

    def resume(self) -> None:
        """Listen again on the same port."""
        self._serve()

    @property
    def url(self) -> str:
        """Base URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def delivered(self) -> list[Received]:
        """Requests that were answered with a 2xx status."""
        with self._lock:
            return [r for r, s in zip(self.requests, self.answered, strict=False) if s < 300]

    def stop(self) -> None:
        """Shut the server down."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HttpReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpInbox:
    """An aiosmtpd server on 127.0.0.1 that keeps every message: plain text, or with a server
    context offering STARTTLS (`tls="starttls"`, required before MAIL and AUTH) or speaking TLS
    from the first byte (`tls="implicit"`). With `login` set it accepts that user and password
    (over TLS only) and records every login attempted."""

    def __init__(
        self,
        tls: str = "none",
        context: ssl.SSLContext | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self._inbox = _Inbox()
        self.logins: list[tuple[str, str]] = []
        options: dict[str, Any] = {}
        if tls == "starttls":
            options.update(tls_context=context, require_starttls=True)
        elif tls == "implicit":
            options.update(ssl_context=context)
        if login is not None:
            # aiosmtpd counts only STARTTLS as TLS; an implicit TLS socket is encrypted throughout.
            options.update(
                auth_required=True,
                auth_require_tls=tls == "starttls",
                authenticator=self._authenticator(login),
            )
        # aiosmtpd needs the port up front: one picked free can be taken by another process
        # (another test run) before the server binds it, so pick again a few times.
        for attempt in range(3):
            self.port = free_port()
            self._controller = Controller(
                self._inbox, hostname=self.host, port=self.port, **options
            )
            try:
                self._controller.start()
                break
            except OSError:
                if attempt == 2:
                    raise

    def _authenticator(self, login: tuple[str, str]) -> Any:
        def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            seen = (data.login.decode(), data.password.decode())
            self.logins.append(seen)
            return AuthResult(success=seen == login)

        return check

    @property
    def messages(self) -> list[EmailMessage]:
        """Messages received so far."""
        return list(self._inbox.messages)

    def stop(self) -> None:
        """Stop the server."""
        self._controller.stop()

    def __enter__(self) -> SmtpInbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SilentServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never says a word (a mail
    server that stalls), holding each for `hold_seconds` before closing it."""

    def __init__(self, hold_seconds: float = 30.0) -> None:
        self.hold_seconds = hold_seconds
        self.accepted = 0
        self._closing = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)  # so the accept loop sees `stop`
        self.host = "127.0.0.1"
        self.port: int = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        with conn:
            self._closing.wait(self.hold_seconds)

    def stop(self) -> None:
        """Close the listener and every held connection."""
        self._closing.set()
        self._sock.close()


def free_port() -> int:
    """A port nothing listens on right now (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Receivers:
    """The local servers the functions host's notification channels point at: an SMTP inbox,
    Slack and webhook receivers, and a Twilio-shaped SMS receiver."""

    inbox: SmtpInbox
    slack: HttpReceiver
    sms: HttpReceiver
    webhook: HttpReceiver

    @classmethod
    def start(cls) -> Receivers:
        """Start all four on free ports of 127.0.0.1."""
        return cls(SmtpInbox(), HttpReceiver(), HttpReceiver("created"), HttpReceiver())

    def env(self, webhook_secret: str, twilio_token: str) -> dict[str, str]:
        """Channel settings for the functions host (secrets passed in, never stored)."""
        return {
            "SMTP_HOST": self.inbox.host,
            "SMTP_PORT": str(self.inbox.port),
            # The local inbox speaks plain text; a deployed function refuses this setting.
            "SMTP_TLS": "none",
            "ALERT_EMAIL_FROM": "monitor@example.com",
            "ALERT_EMAIL_TO": "ops@example.com",
            "SLACK_WEBHOOK_URL": self.slack.url + "/services/T0/B0/test",
            # An on-call tier with a Slack webhook of its own (rules name it in an escalation).
            "SLACK_TIERS": "oncall",
            "SLACK_WEBHOOK_URL_ONCALL": self.slack.url + "/services/T0/B1/oncall",
            "TWILIO_BASE_URL": self.sms.url,
            "TWILIO_ACCOUNT_SID": "AC-test",
            "TWILIO_AUTH_TOKEN": twilio_token,
            "TWILIO_FROM_NUMBER": "+15550000000",
            "ALERT_SMS_TO": "+15551111111",
            "ALERT_WEBHOOK_URL": self.webhook.url + "/alerts",
            "ALERT_WEBHOOK_SECRET": webhook_secret,
            "NOTIFY_ATTEMPTS": "2",
            "NOTIFY_BASE_DELAY_SECONDS": "0.05",
            "NOTIFY_TIMEOUT_SECONDS": "1",
        }

    def stop(self) -> None:
        """Stop every server."""
        for server in (self.inbox, self.slack, self.sms, self.webhook):
            server.stop()
