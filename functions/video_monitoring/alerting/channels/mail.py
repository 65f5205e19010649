"""Email over SMTP (smtplib): a plain-text message to every recipient, and digests (plain text
with an HTML alternative whose charts are inline PNG parts). The connection is TLS whose
certificate and host name are verified (STARTTLS or implicit TLS), or plain text for the local
stack's inbox only."""

from __future__ import annotations

import email.utils
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

from pydantic import SecretStr

from video_monitoring.alerting.channels.base import DeliveryError, Notification

SmtpTls = Literal["starttls", "implicit", "none"]
PEM_MARK = "-----BEGIN"


def tls_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """A client context that verifies the server's certificate chain and host name: against the
    system's CAs, or only against `ca_bundle` (a PEM file's path, or PEM text) for a private CA."""
    if ca_bundle and ca_bundle.lstrip().startswith(PEM_MARK):
        context = ssl.create_default_context(cadata=ca_bundle)
    else:
        context = ssl.create_default_context(cafile=ca_bundle or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass(frozen=True)
class SmtpServer:
    """Where mail is submitted: host and port, the login (none without a username), the TLS
    mode, and the CA bundle a private CA's certificate is verified against (None: the system's)."""

    host: str
    port: int
    username: str | None = None
    password: SecretStr | None = None
    tls: SmtpTls = "starttls"
    ca_bundle: str | None = None


class EmailChannel:
    """SMTP."""

    name = "email"

    def __init__(
        self, server: SmtpServer, sender: str, recipients: list[str], timeout: float = 5.0
    ) -> None:
        self._host, self._port, self._sender, self._recipients = (
            server.host, server.port, sender, recipients,
        )  # fmt: skip
        self._username, self._password, self._tls = server.username, server.password, server.tls
        self.timeout = timeout
        self._context = tls_context(server.ca_bundle) if server.tls != "none" else None

    def send(self, notification: Notification) -> None:
        """One message to every recipient."""
        message = EmailMessage()
        message["Subject"] = notification.subject()
        message["From"] = self._sender
        message["To"] = ", ".join(notification.addressed_to(self._recipients))
        message["Date"] = email.utils.format_datetime(notification.occurred_at)
        message["Message-ID"] = email.utils.make_msgid(domain="video-monitoring")
        message.set_content(notification.text())
        self._submit(message)

    def send_digest(
        self, to: str, subject: str, text: str, html: str, images: Mapping[str, bytes]
    ) -> None:
        """multipart/alternative: the text, then the HTML (multipart/related with its charts,
        each referenced as cid:<name>)."""
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self._sender
        message["To"] = to
        message["Date"] = email.utils.formatdate(usegmt=True)
        message["Message-ID"] = email.utils.make_msgid(domain="video-monitoring")
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        related = message.get_body(("html",))
        assert related is not None
        for name, data in images.items():
            related.add_related(data, maintype="image", subtype="png", cid=f"<{name}>",
                                filename=f"{name}.png")  # fmt: skip
        self._submit(message)

    def _submit(self, message: EmailMessage) -> None:
        try:
            with self._connect() as smtp:
                if self._username and self._password is not None:
                    smtp.login(self._username, self._password.get_secret_value())
                smtp.send_message(message)
        except ssl.SSLCertVerificationError as error:
            # Nothing was sent: the password and the message wait for a server that proves it is
            # SMTP_HOST (a private CA goes in SMTP_CA_BUNDLE).
            raise DeliveryError(f"email: certificate refused ({error.verify_message})") from None
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"email: {type(error).__name__}") from None

    def _connect(self) -> smtplib.SMTP:
        """A session whose every later byte is encrypted to a verified server (or plain text,
        local only); a server that does not offer STARTTLS is an error, never a fallback."""
        if self._tls == "implicit":
            return smtplib.SMTP_SSL(
                self._host, self._port, timeout=self.timeout, context=self._context
            )
        smtp = smtplib.SMTP(self._host, self._port, timeout=self.timeout)
        if self._tls == "starttls":
            try:
                smtp.starttls(context=self._context)
            except BaseException:
                smtp.close()
                raise
        return smtp
