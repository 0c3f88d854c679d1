"""A throwaway CA and one leaf certificate per hostname (trustme), with the TLS faults built in.

Clients trust only `$STATE/pki/ca.pem`. Bad certificates are real ones: expired, issued for
another name, issued by a second CA nobody trusts, or close to expiry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import trustme

from publik_sandbox.faults import ActiveFault, hosts_with

DEFAULT_VHOST = "frontend-default"


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


class Pki:
    """Certificates per (frontend index, hostname); frontend 0 and 1 differ only under a fault."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.certs: dict[tuple[int, str], CertPair] = {}
        self.default: CertPair | None = None

    def pair(self, frontend: int, hostname: str) -> CertPair:
        return self.certs[(frontend, hostname)]


def _write(ca_cert: trustme.LeafCert, directory: Path, stem: str) -> CertPair:
    cert, key = directory / f"{stem}.crt", directory / f"{stem}.key"
    # The chain (leaf + issuer) as a real frontend would serve it.
    cert.write_bytes(b"".join(pem.bytes() for pem in ca_cert.cert_chain_pems))
    ca_cert.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return CertPair(cert, key)


def build_pki(directory: Path, zone: str, hostnames: list[str], faults: list[ActiveFault]) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)  # ca.pem and certificates are public; each private key is 0600
    ca = trustme.CA(organization_name="Publik Sandbox CA")
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    (directory / "ca.pem").chmod(0o644)
    rogue = trustme.CA(organization_name="Unknown Issuer CA")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    expired = hosts_with(faults, "tls-expired")
    wrong_name = hosts_with(faults, "tls-wrong-name")
    untrusted = hosts_with(faults, "tls-untrusted")
    soon = hosts_with(faults, "tls-expiring-soon")
    one_frontend = hosts_with(faults, "tls-one-frontend")

    pki = Pki(directory)
    # http-no-vhost: the default server's certificate covers the names it answers for (one certificate
    # for every host, as a front proxy often has), so only the missing vhost shows.
    no_vhost = sorted(hosts_with(faults, "http-no-vhost"))
    pki.default = _write(ca.issue_cert(f"{DEFAULT_VHOST}.{zone}", *no_vhost), directory, DEFAULT_VHOST)
    for host in hostnames:
        if host in expired:
            leaf = ca.issue_cert(host, not_before=now - dt.timedelta(days=90), not_after=now - dt.timedelta(days=1))
        elif host in wrong_name:
            leaf = ca.issue_cert(f"autre-site.{zone}")
        elif host in untrusted:
            leaf = rogue.issue_cert(host)
        elif host in soon:
            leaf = ca.issue_cert(host, not_before=now - dt.timedelta(days=80), not_after=now + dt.timedelta(days=10))
        else:
            leaf = ca.issue_cert(host, not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=365))
        pair = _write(leaf, directory, host)
        pki.certs[(0, host)] = pki.certs[(1, host)] = pair
        if host in one_frontend:
            bad = ca.issue_cert(host, not_before=now - dt.timedelta(days=90), not_after=now - dt.timedelta(days=1))
            pki.certs[(1, host)] = _write(bad, directory, f"{host}.frontend2")
    return pki
