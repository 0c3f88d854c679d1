"""On every address: TLS with SNI, a chain that verifies, a certificate for the hostname, time left."""

from __future__ import annotations

import pytest

from publik_acceptance.evidence.preflight import Frontend, PreflightEvidence
from publik_acceptance.judge.checks import skip_unchecked
from publik_acceptance.judge.preflight import judge_tls
from publik_acceptance.plan import Plan


@pytest.mark.report(column="TLS")
def test_tls(plan: Plan, preflight: PreflightEvidence, frontend: Frontend) -> None:
    target, address = frontend.target, frontend.address
    if address is None:
        skip_unchecked(f"{target.hostname} does not resolve: see test_dns[{target.id}]")
    tls = preflight.exchanges[(target.hostname, address)].tls
    assert tls is not None  # the probe always starts with the TLS handshake
    where = f"{address}:{plan.environment.http.port}"
    judge_tls(target.hostname, where, tls, plan.environment.tls.min_days_valid).conclude()


