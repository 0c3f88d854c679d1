"""Certificates are parsed once each (a fleet meets the same few hundred on thousands of connections),
with the same facts as a fresh parse, in a bounded cache that keeps no server bytes."""

from __future__ import annotations

import hashlib

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from publik_acceptance.evidence.probes import tls


def _der(hostname: str) -> bytes:
    ca = trustme.CA()
    pem = ca.issue_cert(hostname).cert_chain_pems[0].bytes()
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def test_a_certificate_seen_again_is_not_parsed_again_and_says_the_same() -> None:
    der = _der("combo.example.test")
    first = tls.parse_certificate(der)
    again = tls.parse_certificate(bytes(der))  # another connection, the same certificate
    assert again is first
    cert = x509.load_der_x509_certificate(der)
    assert first.sha256 == cert.fingerprint(hashes.SHA256()).hex(":")
    assert first.sans == ("combo.example.test",)
    assert first.not_after == cert.not_valid_after_utc
    other = tls.parse_certificate(_der("wcs.example.test"))
    assert other.sans == ("wcs.example.test",) and other.sha256 != first.sha256


def test_the_cache_is_bounded_and_holds_no_certificate_bytes(monkeypatch) -> None:
    monkeypatch.setattr(tls, "_PARSED", {})
    monkeypatch.setattr(tls, "_PARSED_MAX", 3)
    ders = [_der(f"host{i}.example.test") for i in range(5)]
    for der in ders:
        tls.parse_certificate(der)
    assert len(tls._PARSED) == 3
    assert set(tls._PARSED) == {hashlib.sha256(der).digest() for der in ders[2:]}  # the oldest went first
    assert not any(isinstance(value, bytes) for value in tls._PARSED.values())
