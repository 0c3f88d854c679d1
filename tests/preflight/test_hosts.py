"""Servers: SSH with verified host keys, the cook command allowed, the w.c.s. skeleton, a clean slate."""

from __future__ import annotations

import pytest

from publik_acceptance.evidence import log as evidence_log
from publik_acceptance.evidence.preflight import PreflightEvidence
from publik_acceptance.evidence.servers import tenant_places
from publik_acceptance.judge.checks import skip_unchecked
from publik_acceptance.judge.preflight import (
    judge_already_deployed,
    judge_cook_command,
    judge_ssh,
    judge_wcs_skeleton,
)
from publik_acceptance.judge.resume import judge_resumable, tenant_there
from publik_acceptance.plan import Plan, Target
from publik_acceptance.pytest_plugin import RunContext


def test_ssh(run: RunContext, preflight: PreflightEvidence, server_role: str) -> None:
    endpoint = run.pool.describe(server_role)
    judge_ssh(server_role, endpoint, preflight.servers[server_role], run.pool.accepted_keys).conclude()


def test_cook_command_allowed(plan: Plan, preflight: PreflightEvidence) -> None:
    facts = preflight.servers["hobo"]
    if facts.error:
        skip_unchecked("the hobo server is unreachable: see test_ssh[hobo|…]")
    judge_cook_command(plan.environment.cook.check_command, facts).conclude()


@pytest.mark.services("wcs")
def test_wcs_skeleton(plan: Plan, preflight: PreflightEvidence, target: Target) -> None:
    server = preflight.servers[target.server]
    if server.error:
        skip_unchecked(f"the {target.server} server is unreachable: see test_ssh")
    judge_wcs_skeleton(target, plan.environment.wcs.skeletons_dir, server, preflight.skeleton(target)).conclude()


@pytest.mark.report(column="clean slate")
def test_not_yet_deployed(plan: Plan, run: RunContext, preflight: PreflightEvidence, target: Target) -> None:
    if preflight.servers[target.server].error:
        skip_unchecked(f"the {target.server} server is unreachable: see test_ssh")
    for place in tenant_places(target):  # w.c.s.: tenants/<host> and its old location
        evidence_log.record("remote", f"{place} on role {target.server}",
                            preflight.servers[target.server].paths.get(place))
    found = preflight.existing(target)
    if not found:
        return  # nothing of it exists: the cook may create it
    if run.gate.resume:  # cooking again over this recipe's own tenants is deliberate; leftovers stay refused
        tenant = tenant_there(target, preflight.servers[target.server])
        judge_resumable(target, found, tenant).conclude()
        run.gate.accept_existing(target.id)
        return
    siblings = plan.targets_of(target.instance)
    deployed = [t for t in siblings if preflight.existing(t)]
    judge_already_deployed(target, found, siblings, deployed).conclude()
