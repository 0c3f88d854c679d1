"""On every address: TLS with SNI, a chain that verifies, a certificate for the hostname, time left."""

from __future__ import annotations

from publik_acceptance.evidence.preflight import Frontend, PreflightEvidence
from publik_acceptance.judge.checks import Verdict, skip_unchecked
from publik_acceptance.plan import Plan

TODO = {
    "connect": "start or fix the frontend (haproxy/nginx) listening on {where}, or fix the DNS record",
    "timeout": "the frontend at {where} accepts no TLS in time: check it and any firewall in between",
    "handshake": "the frontend at {where} fails the TLS handshake: check its TLS configuration and SNI",
    "expired": "renew the certificate for {host} and reload the frontend at {where}",
    "not-yet-valid": "the certificate for {host} is not valid yet: check its dates and the servers' clocks",
    "hostname": "install a certificate whose SANs cover {host} on {where} (and check SNI routing)",
    "untrusted": "serve the full chain from a trusted CA on {where} (or set tls.ca_bundle for a private CA)",
    "verify": "fix the certificate served by {where} for {host}",
}


def test_tls(plan: Plan, preflight: PreflightEvidence, frontend: Frontend) -> None:
    target, address = frontend.target, frontend.address
    if address is None:
        skip_unchecked(f"{target.hostname} does not resolve: see test_dns[{target.id}]")
    port = plan.environment.http.port
    exchange = preflight.exchanges[(target.hostname, address)]
    tls = exchange.tls
    assert tls is not None
    where = f"{address}:{port}"
    verdict = Verdict("TLS certificate", f"{target.hostname} on {where}")
    verdict.attach("tls", f"{target.hostname} on {where}", tls)
    if tls.cert:
        verdict.note(tls.cert.describe())
    if tls.protocol:
        verdict.note(f"negotiated {tls.protocol} {tls.cipher}")
    if tls.error_kind:
        verdict.expect(False, "a verified TLS session for this hostname", tls.error or tls.error_kind,
                       TODO[tls.error_kind].format(where=where, host=target.hostname))
    min_days = plan.environment.tls.min_days_valid
    if tls.cert and tls.error_kind not in ("expired", "not-yet-valid"):
        days = tls.cert.days_left()
        verdict.expect(days >= min_days, f"at least {min_days} days of validity left",
                       f"{days:.1f} days left (expires {tls.cert.not_after:%Y-%m-%d %H:%M} UTC)",
                       f"renew the certificate for {target.hostname} before the deployment")
    verdict.conclude()


