"""The parity judge (postdeploy): every tenant of the mirrored platform (preprod) exists here too."""

from __future__ import annotations

from publik_acceptance.config.environment import MirrorOf
from publik_acceptance.evidence.parity import ParityFacts
from publik_acceptance.judge.checks import Verdict


def judge_parity(platform: str, instance: str, mirror: MirrorOf, facts: ParityFacts) -> Verdict:
    """Missing tenants fail; tenants only here are noted (a platform may have more than it mirrors)."""
    mapping = f"hostnames minus {mirror.strip!r}" + (f", plus {mirror.add!r}" if mirror.add else "")
    verdict = Verdict("parity", f"instance {instance}: {platform} mirrors {facts.mirrored_platform} ({mapping})")
    verdict.expect(facts.error is None, "tenant facts from both platforms", facts.error or "",
                   "fix SSH access to both platforms (the mirrored one uses its own environment file)")
    missing = facts.missing_here(instance)
    verdict.expect(not missing, f"every tenant of {facts.mirrored_platform} here too",
                   f"missing here: {', '.join(missing)}",
                   f"add the missing services to {platform}'s recipe and cook them, or explain the "
                   "difference in the change ticket")
    extra = facts.only_here(instance)
    if extra:
        verdict.note(f"only on {platform} (not on {facts.mirrored_platform}): {', '.join(extra)}")
    verdict.note(f"on both: {', '.join(sorted(facts.here.get(instance, set()) & facts.there.get(instance, set())))}")
    if facts.old_location.get(instance):  # found there, and counted: w.c.s. still serves its old location
        verdict.note(f"w.c.s. tenants at the old location: {'; '.join(facts.old_location[instance])}")
    verdict.attach("parity", "deployed tenants on both platforms", {
        "mirrored_platform": facts.mirrored_platform, "missing_here": missing, "only_here": extra,
        "old_location": facts.old_location.get(instance, [])})
    return verdict
