"""Parity with the platform this one mirrors (prod ↔ preprod): what is deployed there must be here.

Hostnames map through `mirror_of.strip` / `mirror_of.add`. The mirrored platform is reached with its
own environment file and SSH settings; its tenant directories are stat'ed in one command per server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from publik_acceptance.evidence.prober import Prober
from publik_acceptance.evidence.probes.remote import SshPool
from publik_acceptance.evidence.servers import Questions, found_tenant_dir, gather, place_name
from publik_acceptance.plan import Plan, build_plan, mirror_name, mirrored_environment


@dataclass
class ParityFacts:
    mirrored_platform: str
    error: str | None = None
    there: dict[str, set[str]] = field(default_factory=dict)  # instance → mapped hostnames deployed there
    here: dict[str, set[str]] = field(default_factory=dict)  # instance → hostnames deployed here
    # instance → "<platform>: <host> at <path> (w.c.s.'s old location)": tenants found at the old place
    old_location: dict[str, list[str]] = field(default_factory=dict)

    def missing_here(self, instance: str) -> list[str]:
        return sorted(self.there.get(instance, set()) - self.here.get(instance, set()))

    def only_here(self, instance: str) -> list[str]:
        return sorted(self.here.get(instance, set()) - self.there.get(instance, set()))


def _deployed(plan: Plan, pool: SshPool, prober: Prober,
              legacy: dict[str, list[str]]) -> tuple[dict[str, set[str]], str | None]:
    """Hostnames with a tenant directory, by instance; tenants found at w.c.s.'s old location are
    added to `legacy` (by instance) so the verdict can say where they are."""
    questions = Questions()
    for target in plan.targets:
        questions.tenant(target)
    facts = gather(plan.environment, pool, prober, questions)
    errors = sorted({f.error for f in facts.values() if f.error})
    deployed: dict[str, set[str]] = {}
    for target in plan.targets:
        place = found_tenant_dir(target, facts[target.server].paths)
        if place is not None:  # a w.c.s. tenant at its old location counts (and is named as such)
            deployed.setdefault(target.instance, set()).add(target.hostname)
            if place == target.legacy_tenant_dir:
                legacy.setdefault(target.instance, []).append(
                    f"{plan.platform}: {target.hostname} at {place_name(target, place)}")
    return deployed, "; ".join(errors) or None


def gather_parity(plan: Plan, pool: SshPool, prober: Prober) -> ParityFacts:
    env = plan.environment
    mirrored = build_plan(mirrored_environment(env))
    result = ParityFacts(mirrored.platform)
    mirror_pool = SshPool(mirrored.environment)
    try:
        there, error = _deployed(mirrored, mirror_pool, prober, result.old_location)
    finally:
        mirror_pool.close()
    here, error_here = _deployed(plan, pool, prober, result.old_location)
    result.error = error or error_here
    result.there = {inst: {mirror_name(h, env) for h in hosts} for inst, hosts in there.items()}
    result.here = here
    for inst in env.instances:
        result.here.setdefault(inst.name, set())
    return result
