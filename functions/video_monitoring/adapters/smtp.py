"""Submitting email over SMTP (smtplib): TLS whose certificate and host name are verified
(STARTTLS or implicit TLS), or plain text for the local stack's inbox only."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from video_monitoring.alerting.channels.base import DeliveryError
from video_monitoring.alerting.channels.mail import SmtpServer

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


class SmtpTransport:
    """One SMTP session per message, logged in when the server has credentials."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server
        self._context = tls_context(server.ca_bundle) if server.tls != "none" else None

    def submit(self, message: EmailMessage) -> None:
        """Send the message, or raise DeliveryError naming what failed (never a secret)."""
        server = self._server
        try:
            with self._connect() as smtp:
                if server.username and server.password is not None:
                    smtp.login(server.username, server.password.get_secret_value())
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
        server = self._server
        if server.tls == "implicit":
            return smtplib.SMTP_SSL(
                server.host, server.port, timeout=server.timeout, context=self._context
            )
        smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
        if server.tls == "starttls":
            try:
                smtp.starttls(context=self._context)
            except BaseException:
                smtp.close()
                raise
        return smtp
