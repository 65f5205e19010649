"""Email over SMTP (smtplib): a plain-text message to every recipient, and digests (plain text
with an HTML alternative whose charts are inline PNG parts)."""

from __future__ import annotations

import email.utils
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage

from pydantic import SecretStr

from video_monitoring.alerting.channels.base import DeliveryError, Notification


class EmailChannel:
    """SMTP."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: list[str],
        username: str | None = None,
        password: SecretStr | None = None,
        starttls: bool = False,
        timeout: float = 5.0,
    ) -> None:
        self._host, self._port, self._sender, self._recipients = host, port, sender, recipients
        self._username, self._password, self._starttls = username, password, starttls
        self.timeout = timeout

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
            with smtplib.SMTP(self._host, self._port, timeout=self.timeout) as smtp:
                if self._starttls:
                    smtp.starttls()
                if self._username and self._password is not None:
                    smtp.login(self._username, self._password.get_secret_value())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise DeliveryError(f"email: {type(error).__name__}") from None
