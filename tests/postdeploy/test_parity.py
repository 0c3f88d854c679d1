"""Parity: every tenant deployed on the mirrored platform (preprod) for this instance exists here."""

from __future__ import annotations

from publik_acceptance.evidence.parity import gather_parity
from publik_acceptance.judge.checks import not_applicable
from publik_acceptance.judge.parity import judge_parity
from publik_acceptance.judge.postdeploy import Outcome
from publik_acceptance.plan import Plan
from publik_acceptance.pytest_plugin import RunContext


def test_parity(plan: Plan, run: RunContext, deployment: Outcome, instance: str) -> None:
    mirror = plan.environment.mirror_of
    if mirror is None:
        not_applicable("this environment mirrors no other (mirror_of)")
    judge_parity(plan.platform, instance, mirror, gather_parity(plan, run.pool, run.prober)).conclude()
