"""TLS towards one address with SNI: verified handshake, certificate details, and the socket for HTTP.

The handshake verifies the chain (system store or the environment's CA bundle) and the hostname.
When verification fails, a second, unverified handshake fetches the certificate anyway, so the
evidence shows what is served, and HTTP can still be checked on its own. The timeout bounds the
whole of it: TCP connect, handshake, and the second handshake if any.

The system store is the one OpenSSL was built with (the distribution's bundle), loaded by path:
SSL_CERT_FILE / SSL_CERT_DIR in the operator's environment would otherwise replace it silently, and
SSLKEYLOGFILE would write session keys to a file; neither is read here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from publik_acceptance.config.environment import TlsSettings


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


# Parsed certificates by the SHA-256 of their DER: a fleet's preflight meets each certificate on both
# frontend addresses and a postdeploy round on every new connection (~850 at N = 50, a few hundred
# certificates), and parsing was a tenth of the suite's CPU in a round. Bounded; only the small parsed
# form is kept, never the bytes a server sent.
_PARSED: dict[bytes, CertInfo] = {}
_PARSED_MAX = 8192
_PARSED_LOCK = threading.Lock()


def parse_certificate(der: bytes) -> CertInfo:
    digest = hashlib.sha256(der).digest()
    with _PARSED_LOCK:
        known = _PARSED.get(digest)
    if known is not None:
        return known
    info = _parse_certificate(der, digest)
    with _PARSED_LOCK:
        if len(_PARSED) >= _PARSED_MAX:
            del _PARSED[next(iter(_PARSED))]  # the oldest first
        _PARSED[digest] = info
    return info


def _parse_certificate(der: bytes, digest: bytes) -> CertInfo:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
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
        sha256=digest.hex(":"),  # the certificate's fingerprint is the SHA-256 of its DER
    )


def _name(name: x509.Name) -> str:
    cn = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cn:
        value = cn[0].value  # bytes only for a few binary attribute types, never a common name in practice
        return f"CN={value.decode(errors='replace') if isinstance(value, bytes) else value}"
    return name.rfc4514_string() or "(empty)"


# Where distributions keep their bundle, should this Python's OpenSSL look elsewhere (a build of
# its own): Debian/Ubuntu, Fedora/RHEL, Alpine/BSD.
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem")
TRUST_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR")


def system_trust_store() -> tuple[str | None, str | None]:
    """(CA file, CA directory) of the system store, from OpenSSL's built-in paths, never from
    SSL_CERT_FILE / SSL_CERT_DIR."""
    paths = ssl.get_default_verify_paths()
    candidates = (paths.openssl_cafile, *SYSTEM_BUNDLES)
    cafile = next((path for path in candidates if path and os.path.isfile(path)), None)
    capath = paths.openssl_capath if paths.openssl_capath and os.path.isdir(paths.openssl_capath) else None
    return cafile, capath


def verifying_context(settings: TlsSettings) -> ssl.SSLContext:
    """Chain and hostname verified against the environment's CA bundle, or else the system store."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname; no CA loaded yet
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.ca_bundle:
        context.load_verify_locations(cafile=str(settings.ca_bundle))
        return context
    cafile, capath = system_trust_store()
    if cafile or capath:
        context.load_verify_locations(cafile=cafile, capath=capath)
    return context  # no system store: nothing verifies, and trust_store() says why


def trust_store(settings: TlsSettings) -> str:
    """What certificates are checked against, for the report (and which variables were ignored)."""
    if settings.ca_bundle:
        used = f"CA bundle {settings.ca_bundle} (tls.ca_bundle)"
    else:
        cafile, capath = system_trust_store()
        found = ", ".join(p for p in (cafile, capath) if p)
        used = f"system store {found}" if found else "no system CA store found: set tls.ca_bundle"
    ignored = [f"{name}={os.environ[name]}" for name in TRUST_ENV if os.environ.get(name)]
    return used + (f"; ignored: {', '.join(ignored)}" if ignored else "")


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
    """TCP connect and TLS handshake, both within `timeout` in all (the handshake gets what is left)."""
    deadline = time.monotonic() + timeout
    raw = socket.create_connection((address, port), timeout=max(timeout, 0.001))
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("connected, but no time left for the TLS handshake")
        raw.settimeout(left)  # the ssl module bounds the whole handshake by this, not each read
        return context.wrap_socket(raw, server_hostname=hostname)
    except BaseException:
        raw.close()
        raise


def handshake(hostname: str, address: str, port: int, context: ssl.SSLContext,
              timeout: float) -> tuple[TlsEvidence, ssl.SSLSocket | None]:
    """Verified handshake; on a certificate problem, an inspecting one. Returns the open socket."""
    started = time.monotonic()

    def evidence(verified: bool, error_kind: str | None = None, error: str | None = None,
                 session: ssl.SSLSocket | None = None) -> TlsEvidence:
        protocol, cipher, cert = _session(session) if session is not None else (None, None, None)
        return TlsEvidence(hostname, address, port, verified, error_kind, error, protocol, cipher, cert,
                           elapsed=time.monotonic() - started)

    deadline = started + timeout
    try:
        sock = connect(hostname, address, port, context, timeout)
    except ssl.SSLCertVerificationError as exc:
        kind, message = _classify(exc), exc.verify_message or str(exc)
        try:
            sock = connect(hostname, address, port, inspecting_context(), deadline - time.monotonic())
        except (OSError, ssl.SSLError) as inner:
            error = f"{message} (and re-reading it failed: {inner})"
            return evidence(verified=False, error_kind=kind, error=error), None
        return evidence(verified=False, error_kind=kind, error=message, session=sock), sock
    except TimeoutError:
        return evidence(verified=False, error_kind="timeout", error=f"no TLS handshake within {timeout:g} s"), None
    except ssl.SSLError as exc:
        error = f"TLS handshake failed: {exc.reason or exc}"
        return evidence(verified=False, error_kind="handshake", error=error), None
    except OSError as exc:
        return evidence(verified=False, error_kind="connect", error=f"TCP connect failed: {exc.strerror or exc}"), None
    return evidence(verified=True, session=sock), sock


def _session(sock: ssl.SSLSocket) -> tuple[str | None, str | None, CertInfo | None]:
    """(protocol, cipher, certificate) of an established session."""
    der = sock.getpeercert(binary_form=True)
    cipher = sock.cipher()
    return sock.version(), cipher[0] if cipher else None, parse_certificate(der) if der else None
