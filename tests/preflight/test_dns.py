"""Every planned hostname resolves, through every configured resolver, to the expected frontends."""

from __future__ import annotations

import pytest

from publik_acceptance.evidence.preflight import PreflightEvidence
from publik_acceptance.judge.preflight import judge_dns
from publik_acceptance.plan import Plan, Target


@pytest.mark.report(column="DNS")
def test_dns(plan: Plan, preflight: PreflightEvidence, target: Target) -> None:
    judge_dns(target, plan.environment.dns, preflight.dns[target.hostname]).conclude()
