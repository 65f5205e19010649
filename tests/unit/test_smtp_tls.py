"""Email goes over TLS whose certificate is verified: a local aiosmtpd server with a certificate
from a private CA made here is refused (nothing sent, no password) until that CA is configured,
over STARTTLS and implicit TLS alike; plain text is the local stack's only, refused in
production."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import SecretStr, ValidationError

from local_stack.receivers import SmtpInbox
from tests.unit.test_notifications import FAST, HTTP, NOTE
from video_monitoring.adapters.smtp import SmtpTransport
from video_monitoring.alerting.channels.base import DeliveryError
from video_monitoring.alerting.channels.mail import EmailChannel
from video_monitoring.alerting.notifications import channels_from_settings, deliver
from video_monitoring.config import settings as settings_module
from video_monitoring.config.settings import NotificationSettings
from video_monitoring.core.errors import ConfigError

# aiosmtpd warns that AUTH does not require STARTTLS on the implicit TLS relay, whose socket is
# TLS from its first byte.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
LOGIN = ("alerts@example.com", "smtp-pass-42")
NOW = dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Pki:
    """A private CA's certificate (PEM), and a server certificate and key it signed."""

    ca_pem: str
    ca_file: Path
    server_cert: Path
    server_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_pki(folder: Path, label: str, names: list[x509.GeneralName]) -> Pki:
    """A CA and a server certificate for `names` (what a private mail relay would have)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{label} CA"))
        .issuer_name(_name(f"{label} CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(hours=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("smtp.test"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(hours=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    paths = [folder / f"{label}-{part}.pem" for part in ("ca", "cert", "key")]
    paths[0].write_text(ca_pem)
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    )  # fmt: skip
    return Pki(ca_pem, *paths)


LOCALHOST = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("smtp.test")]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), "relay", LOCALHOST)


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki-other"), "other", LOCALHOST)


def server_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    return context


@pytest.fixture(params=["starttls", "implicit"])
def relay(request: pytest.FixtureRequest, pki: Pki) -> Iterator[SmtpInbox]:
    with SmtpInbox(request.param, server_context(pki), login=LOGIN) as inbox:
        yield inbox


def channel(
    inbox: SmtpInbox, tls: str, ca_bundle: str | None = None, host: str = "", login: bool = True
) -> EmailChannel:
    settings = NotificationSettings(
        smtp_host=host or inbox.host, smtp_port=inbox.port,
        smtp_username=LOGIN[0] if login else None,
        smtp_password=SecretStr(LOGIN[1]) if login else None,
        smtp_tls=tls, smtp_ca_bundle=ca_bundle,
        alert_email_from="monitor@example.com", alert_email_to="ops@example.com",
        notify_timeout_seconds=5.0,
    )  # fmt: skip
    email = channels_from_settings(settings, HTTP, SmtpTransport)["email"]
    assert isinstance(email, EmailChannel)
    return email


def tls_of(inbox: SmtpInbox) -> str:
    return "implicit" if inbox._controller.ssl_context is not None else "starttls"


def test_an_unknown_ca_is_refused_before_the_password_or_the_message_leave(
    relay: SmtpInbox, other_ca: Pki
) -> None:
    for ca_bundle in (None, str(other_ca.ca_file)):  # the system's CAs, then another CA
        with pytest.raises(DeliveryError, match="certificate refused"):
            channel(relay, tls_of(relay), ca_bundle).send(NOTE)
        assert not deliver(channel(relay, tls_of(relay), ca_bundle), NOTE, FAST).ok
    assert relay.logins == [] and relay.messages == []


def test_the_configured_ca_is_accepted_as_a_file_or_as_pem_text(relay: SmtpInbox, pki: Pki) -> None:
    assert deliver(channel(relay, tls_of(relay), str(pki.ca_file)), NOTE, FAST).ok
    assert deliver(channel(relay, tls_of(relay), pki.ca_pem), NOTE, FAST).ok
    assert relay.logins == [LOGIN, LOGIN]
    assert [m["To"] for m in relay.messages] == ["ops@example.com", "ops@example.com"]


def test_a_certificate_for_another_host_name_is_refused(relay: SmtpInbox, pki: Pki) -> None:
    with pytest.raises(DeliveryError, match="certificate refused"):
        channel(relay, tls_of(relay), str(pki.ca_file), host="localhost").send(NOTE)
    assert relay.logins == [] and relay.messages == []


def test_a_server_without_starttls_is_an_error_never_plain_text() -> None:
    with SmtpInbox() as plain:
        with pytest.raises(DeliveryError, match="SMTPNotSupportedError"):
            channel(plain, "starttls").send(NOTE)
        assert plain.messages == []
        assert deliver(channel(plain, "none", login=False), NOTE, FAST).ok  # the local inbox
        assert len(plain.messages) == 1


def test_starttls_is_the_default_and_a_bad_setting_names_itself(tmp_path: Path) -> None:
    assert NotificationSettings().smtp_tls == "starttls"
    with pytest.raises(ValidationError, match="smtp_tls"):
        NotificationSettings(smtp_tls="ssl")
    with pytest.raises(ValidationError, match="SMTP_CA_BUNDLE: no file"):
        NotificationSettings(smtp_ca_bundle=str(tmp_path / "missing.pem"))


def test_production_refuses_plain_text_smtp(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("K_SERVICE", "aggregate-and-alert")
    clean_env.setenv("K_REVISION", "aggregate-and-alert-00002-kes")
    clean_env.setenv("GCLOUD_PROJECT", "acme-video")
    clean_env.setenv("DASHBOARD_BASE_URL", "https://monitor.acme.example")
    clean_env.setenv("SMTP_TLS", "none")
    with pytest.raises(ConfigError, match="SMTP_TLS=none is for the local stack only"):
        settings_module.load_settings()
    clean_env.setenv("SMTP_TLS", "implicit")
    assert settings_module.load_settings().notifications.smtp_tls == "implicit"
    clean_env.setenv(
        "K_REVISION", settings_module.CLI_EMULATOR_REVISION
    )  # emulated: plain text allowed
    clean_env.setenv("SMTP_TLS", "none")
    assert settings_module.load_settings().notifications.smtp_tls == "none"
