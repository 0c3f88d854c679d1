"""On every address: `GET /` answers the services' own 404 — the frontend works, no tenant exists yet."""

from __future__ import annotations

import pytest

from publik_acceptance.evidence.preflight import Frontend, PreflightEvidence
from publik_acceptance.judge.checks import skip_unchecked
from publik_acceptance.judge.notfound import judge_not_found
from publik_acceptance.judge.resume import judge_existing_answer, tenant_there
from publik_acceptance.plan import Plan
from publik_acceptance.pytest_plugin import RunContext


@pytest.mark.report(column="404 before")
def test_http_404(plan: Plan, run: RunContext, preflight: PreflightEvidence, frontend: Frontend) -> None:
    target, address = frontend.target, frontend.address
    if address is None:
        skip_unchecked(f"{target.hostname} does not resolve: see test_dns[{target.id}]")
    exchange = preflight.exchanges[(target.hostname, address)]
    port = plan.environment.http.port
    if run.gate.resume and not preflight.servers[target.server].error \
            and tenant_there(target, preflight.servers[target.server]):
        # --resume: this recipe's tenant is already there, so its name may answer; test_not_yet_deployed
        # decides whether what exists may be cooked again.
        judge_existing_answer(target, address, port, exchange).conclude()
        return
    judge_not_found(target, address, port, exchange).conclude()
