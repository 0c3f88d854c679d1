"""On every address: `GET /` answers the services' own 404 — the frontend works, no tenant exists yet."""

from __future__ import annotations

import pytest

from publik_acceptance.evidence.preflight import Frontend, PreflightEvidence
from publik_acceptance.judge.checks import skip_unchecked
from publik_acceptance.judge.notfound import judge_not_found
from publik_acceptance.plan import Plan


@pytest.mark.report(column="404 before")
def test_http_404(plan: Plan, preflight: PreflightEvidence, frontend: Frontend) -> None:
    target, address = frontend.target, frontend.address
    if address is None:
        skip_unchecked(f"{target.hostname} does not resolve: see test_dns[{target.id}]")
    exchange = preflight.exchanges[(target.hostname, address)]
    judge_not_found(target, address, plan.environment.http.port, exchange).conclude()
