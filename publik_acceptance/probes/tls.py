"""TLS towards one address with SNI: verified handshake, certificate details, and the socket for HTTP.

The handshake verifies the chain (system store or the environment's CA bundle) and the hostname.
When verification fails, a second, unverified handshake fetches the certificate anyway, so the
evidence shows what is served, and HTTP can still be checked on its own.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtensionOID, NameOID

from ..environment import TlsSettings


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    serial: str
    sha256: str

    def days_left(self, now: dt.datetime | None = None) -> float:
        now = now or dt.datetime.now(dt.UTC)
        return (self.not_after - now).total_seconds() / 86400

    def describe(self) -> str:
        return (f"subject {self.subject}; issuer {self.issuer}; SANs {', '.join(self.sans) or 'none'}; "
                f"valid {self.not_before:%Y-%m-%d %H:%M} → {self.not_after:%Y-%m-%d %H:%M} UTC "
                f"({self.days_left():.1f} days left); serial {self.serial}; SHA-256 {self.sha256}")


@dataclass(frozen=True)
class TlsEvidence:
    hostname: str
    address: str
    port: int
    verified: bool
    error_kind: str | None = None  # connect, timeout, handshake, expired, not-yet-valid, hostname, untrusted, verify
    error: str | None = None
    protocol: str | None = None
    cipher: str | None = None
    cert: CertInfo | None = None
    elapsed: float = 0.0

    @property
    def reachable(self) -> bool:
        return self.error_kind not in ("connect", "timeout", "handshake")


def parse_certificate(der: bytes) -> CertInfo:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        sans = tuple(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        sans = ()
    return CertInfo(
        subject=_name(cert.subject),
        issuer=_name(cert.issuer),
        sans=sans,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        serial=format(cert.serial_number, "x"),
        sha256=cert.fingerprint(hashes.SHA256()).hex(":"),
    )


def _name(name: x509.Name) -> str:
    cn = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cn:
        return f"CN={cn[0].value}"
    return name.rfc4514_string() or "(empty)"


def verifying_context(settings: TlsSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(settings.ca_bundle) if settings.ca_bundle else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def inspecting_context() -> ssl.SSLContext:
    """Only to read what a misconfigured frontend serves; never to trust it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _classify(exc: ssl.SSLCertVerificationError) -> str:
    message = (exc.verify_message or str(exc)).lower()
    if "expired" in message:
        return "expired"
    if "not yet valid" in message:
        return "not-yet-valid"
    if "hostname" in message or "ip address mismatch" in message:
        return "hostname"
    if "issuer" in message or "self-signed" in message or "self signed" in message or "unable to get" in message:
        return "untrusted"
    return "verify"


def connect(hostname: str, address: str, port: int, context: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    raw = socket.create_connection((address, port), timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        return context.wrap_socket(raw, server_hostname=hostname)
    except BaseException:
        raw.close()
        raise


def handshake(hostname: str, address: str, port: int, context: ssl.SSLContext,
              timeout: float) -> tuple[TlsEvidence, ssl.SSLSocket | None]:
    """Verified handshake; on a certificate problem, an inspecting one. Returns the open socket."""
    started = time.monotonic()

    def evidence(**fields: object) -> TlsEvidence:
        return TlsEvidence(hostname, address, port, elapsed=time.monotonic() - started, **fields)  # type: ignore[arg-type]

    try:
        sock = connect(hostname, address, port, context, timeout)
    except ssl.SSLCertVerificationError as exc:
        kind, message = _classify(exc), exc.verify_message or str(exc)
        try:
            sock = connect(hostname, address, port, inspecting_context(), timeout)
        except (OSError, ssl.SSLError) as inner:
            error = f"{message} (and re-reading it failed: {inner})"
            return evidence(verified=False, error_kind=kind, error=error), None
        return evidence(verified=False, error_kind=kind, error=message, **_session(sock)), sock
    except TimeoutError:
        return evidence(verified=False, error_kind="timeout", error=f"no TLS handshake within {timeout:g} s"), None
    except ssl.SSLError as exc:
        error = f"TLS handshake failed: {exc.reason or exc}"
        return evidence(verified=False, error_kind="handshake", error=error), None
    except OSError as exc:
        return evidence(verified=False, error_kind="connect", error=f"TCP connect failed: {exc.strerror or exc}"), None
    return evidence(verified=True, **_session(sock)), sock


def _session(sock: ssl.SSLSocket) -> dict[str, object]:
    der = sock.getpeercert(binary_form=True)
    cipher = sock.cipher()
    return {
        "protocol": sock.version(),
        "cipher": cipher[0] if cipher else None,
        "cert": parse_certificate(der) if der else None,
    }
