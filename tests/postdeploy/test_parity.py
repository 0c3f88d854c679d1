"""Parity: every tenant deployed on the mirrored platform (preprod) for this instance exists here."""

from __future__ import annotations

from publik_acceptance.evidence.parity import gather_parity
from publik_acceptance.judge.checks import Verdict, not_applicable
from publik_acceptance.judge.postdeploy import Outcome
from publik_acceptance.plan import Plan
from publik_acceptance.pytest_plugin import RunContext


def test_parity(plan: Plan, run: RunContext, deployment: Outcome, instance: str) -> None:
    mirror = plan.environment.mirror_of
    if mirror is None:
        not_applicable("this environment mirrors no other (mirror_of)")
    facts = gather_parity(plan, run.pool, run.prober)
    mapping = f"hostnames minus {mirror.strip!r}" + (f", plus {mirror.add!r}" if mirror.add else "")
    verdict = Verdict("parity", f"instance {instance}: {plan.platform} mirrors {facts.mirrored_platform} ({mapping})")
    verdict.expect(facts.error is None, "tenant facts from both platforms", facts.error or "",
                   "fix SSH access to both platforms (the mirrored one uses its own environment file)")
    missing = facts.missing_here(instance)
    verdict.expect(not missing, f"every tenant of {facts.mirrored_platform} here too",
                   f"missing here: {', '.join(missing)}",
                   f"add the missing services to {plan.platform}'s recipe and cook them, or explain the "
                   "difference in the change ticket")
    extra = facts.only_here(instance)
    if extra:
        verdict.note(f"only on {plan.platform} (not on {facts.mirrored_platform}): {', '.join(extra)}")
    verdict.note(f"on both: {', '.join(sorted(facts.here.get(instance, set()) & facts.there.get(instance, set())))}")
    verdict.attach("parity", "deployed tenants on both platforms", {
        "mirrored_platform": facts.mirrored_platform, "missing_here": missing, "only_here": extra})
    verdict.conclude()
