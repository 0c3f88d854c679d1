"""Parity with the platform this one mirrors (prod ↔ preprod): what is deployed there must be here.

Hostnames map through `mirror_of.strip` / `mirror_of.add`. The mirrored platform is reached with its
own environment file and SSH settings; its tenant directories are stat'ed in one command per server.
Both platforms must also agree on what the recipe sets: the theme (their recipes' set-theme) and the
w.c.s. skeleton's site options (read in the same command, compared by digest).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from publik_acceptance.evidence.applied import ask_skeleton, found_skeleton, options_digest
from publik_acceptance.evidence.prober import Prober
from publik_acceptance.evidence.probes.remote import SshPool
from publik_acceptance.evidence.servers import Questions, ServerFacts, found_tenant_dir, gather, place_name
from publik_acceptance.plan import Plan, Target, build_plan, mirror_name, mirrored_environment


@dataclass(frozen=True)
class SkeletonSide:
    """The skeleton w.c.s. takes for an instance on one platform, and the digest of its site options."""

    platform: str
    path: str | None  # None: no skeleton found
    options: dict[str, dict[str, str]] | None  # None: not readable (or not found)

    @property
    def digest(self) -> str | None:
        return options_digest(self.options) if self.options is not None else None


@dataclass
class ParityFacts:
    mirrored_platform: str
    error: str | None = None
    there: dict[str, set[str]] = field(default_factory=dict)  # instance → mapped hostnames deployed there
    here: dict[str, set[str]] = field(default_factory=dict)  # instance → hostnames deployed here
    # instance → "<platform>: <host> at <path> (w.c.s.'s old location)": tenants found at the old place
    old_location: dict[str, list[str]] = field(default_factory=dict)
    # instance → (there, here): what each platform's recipe and skeleton set (None: the recipe has none)
    themes: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    skeletons: dict[str, tuple[SkeletonSide | None, SkeletonSide | None]] = field(default_factory=dict)

    def missing_here(self, instance: str) -> list[str]:
        return sorted(self.there.get(instance, set()) - self.here.get(instance, set()))

    def only_here(self, instance: str) -> list[str]:
        return sorted(self.here.get(instance, set()) - self.there.get(instance, set()))


def _deployed(plan: Plan, pool: SshPool, prober: Prober, legacy: dict[str, list[str]],
              skeletons: dict[str, SkeletonSide]) -> tuple[dict[str, set[str]], str | None]:
    """Hostnames with a tenant directory, by instance; tenants found at w.c.s.'s old location are
    added to `legacy` (by instance) so the verdict can say where they are; each instance's w.c.s.
    skeleton goes to `skeletons`."""
    questions = Questions()
    for target in plan.targets:
        questions.tenant(target)
        if target.kind == "wcs":
            ask_skeleton(questions, plan.environment, target)
    facts = gather(plan.environment, pool, prober, questions)
    for target in plan.targets:
        if target.kind == "wcs" and target.instance not in skeletons:
            skeletons[target.instance] = _skeleton_side(plan, target, facts[target.server])
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


def _skeleton_side(plan: Plan, target: Target, facts: ServerFacts) -> SkeletonSide:
    found = found_skeleton(plan.environment, target, facts)
    if found is None:
        return SkeletonSide(plan.platform, None, None)
    usable = found.report is not None and not found.report.problems
    return SkeletonSide(plan.platform, found.path, found.report.site_options if usable and found.report else None)


def gather_parity(plan: Plan, pool: SshPool, prober: Prober) -> ParityFacts:
    env = plan.environment
    mirrored = build_plan(mirrored_environment(env))
    result = ParityFacts(mirrored.platform)
    skeletons_there: dict[str, SkeletonSide] = {}
    skeletons_here: dict[str, SkeletonSide] = {}
    mirror_pool = SshPool(mirrored.environment)
    try:
        there, error = _deployed(mirrored, mirror_pool, prober, result.old_location, skeletons_there)
    finally:
        mirror_pool.close()
    here, error_here = _deployed(plan, pool, prober, result.old_location, skeletons_here)
    result.error = error or error_here
    result.there = {inst: {mirror_name(h, env) for h in hosts} for inst, hosts in there.items()}
    result.here = here
    for inst in env.instances:
        result.here.setdefault(inst.name, set())
        there_recipe = mirrored.recipes.get(inst.name)
        result.themes[inst.name] = (there_recipe.theme if there_recipe else None, plan.recipes[inst.name].theme)
        result.skeletons[inst.name] = (skeletons_there.get(inst.name), skeletons_here.get(inst.name))
    return result
