"""Email: a plain-text message to every recipient, digests (plain text with an HTML
alternative whose charts are inline PNG parts) and reviews (text with the PDF attached), handed
to a mail transport. The SMTP transport (adapters/smtp.py) speaks TLS whose certificate and host
name are verified (STARTTLS or implicit TLS), or plain text for the local stack's inbox only."""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal, Protocol

from pydantic import SecretStr

from video_monitoring.alerting.channels.base import Notification

SmtpTls = Literal["starttls", "implicit", "none"]


@dataclass(frozen=True)
class SmtpServer:
    """Where and how messages are submitted (the SMTP_* settings)."""

    host: str
    port: int
    username: str | None = None
    password: SecretStr | None = None
    tls: SmtpTls = "starttls"
    timeout: float = 5.0
    ca_bundle: str | None = None


class MailTransport(Protocol):
    """Submits a finished message."""

    def submit(self, message: EmailMessage) -> None:
        """Hand the message to the server, or raise DeliveryError (never carrying a secret)."""
        ...


# Opens the transport to a server (adapters/smtp.py's SmtpTransport).
MailConnector = Callable[[SmtpServer], MailTransport]


class EmailChannel:
    """Email through a mail transport (SMTP)."""

    name = "email"

    def __init__(self, sender: str, recipients: list[str], mail: MailTransport) -> None:
        self._sender, self._recipients, self._mail = sender, recipients, mail

    def send(self, notification: Notification) -> None:
        """One message to every recipient."""
        message = EmailMessage()
        message["Subject"] = notification.subject()
        message["From"] = self._sender
        message["To"] = ", ".join(notification.addressed_to(self._recipients))
        message["Date"] = email.utils.format_datetime(notification.occurred_at)
        message["Message-ID"] = email.utils.make_msgid(domain="video-monitoring")
        message.set_content(notification.text())
        self._mail.submit(message)

    def _message(self, to: str, subject: str, text: str) -> EmailMessage:
        """A message from the sender to `to`, dated now, with its plain-text body."""
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self._sender
        message["To"] = to
        message["Date"] = email.utils.formatdate(usegmt=True)
        message["Message-ID"] = email.utils.make_msgid(domain="video-monitoring")
        message.set_content(text)
        return message

    def send_digest(
        self, to: str, subject: str, text: str, html: str, images: Mapping[str, bytes]
    ) -> None:
        """multipart/alternative: the text, then the HTML (multipart/related with its charts,
        each referenced as cid:<name>)."""
        message = self._message(to, subject, text)
        message.add_alternative(html, subtype="html")
        related = message.get_body(("html",))
        assert related is not None
        for name, data in images.items():
            related.add_related(data, maintype="image", subtype="png", cid=f"<{name}>",
                                filename=f"{name}.png")  # fmt: skip
        self._mail.submit(message)

    def send_review(self, to: str, subject: str, text: str, pdf: bytes, filename: str) -> None:
        """The text, with the review attached as a PDF."""
        message = self._message(to, subject, text)
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
        self._mail.submit(message)
