"""The parity judge (postdeploy): every tenant of the mirrored platform (preprod) exists here too, with
the same theme and the same w.c.s. skeleton options."""

from __future__ import annotations

from publik_acceptance.config.environment import MirrorOf
from publik_acceptance.evidence.parity import ParityFacts, SkeletonSide
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
    _same_settings(verdict, platform, instance, facts)
    if facts.old_location.get(instance):  # found there, and counted: w.c.s. still serves its old location
        verdict.note(f"w.c.s. tenants at the old location: {'; '.join(facts.old_location[instance])}")
    verdict.attach("parity", "deployed tenants on both platforms", {
        "mirrored_platform": facts.mirrored_platform, "missing_here": missing, "only_here": extra,
        "old_location": facts.old_location.get(instance, [])})
    return verdict


def _same_settings(verdict: Verdict, platform: str, instance: str, facts: ParityFacts) -> None:
    """What the recipes set must be the same on both: the theme, and the skeleton's site options."""
    mirrored = facts.mirrored_platform
    if instance in facts.themes:
        there, here = facts.themes[instance]
        verdict.expect(there == here, f"theme {there!r} (set-theme on {mirrored})",
                       f"theme {here!r} on {platform}" if here else f"no set-theme on {platform}",
                       "give both recipes the same set-theme step, or explain the difference in the change ticket")
    there_side, here_side = facts.skeletons.get(instance, (None, None))
    if there_side is None and here_side is None:
        return  # no w.c.s. on either platform
    digests = []
    for side, name in ((there_side, mirrored), (here_side, platform)):
        digest = side.digest if side is not None else None
        if side is None or digest is None:
            verdict.expect(False, f"the w.c.s. skeleton of {instance} readable on both platforms",
                           f"{_unreadable(side)} on {name}",
                           "put the same skeleton (modele.zip) in place on both platforms")
            return
        digests.append(digest)
    assert there_side is not None and here_side is not None
    if digests[0] == digests[1]:
        verdict.note(f"w.c.s. skeleton site options: sha256 {digests[1][:16]}… on both "
                     f"({there_side.path} on {mirrored}, {here_side.path} on {platform})")
        return
    verdict.expect(False, f"the skeleton site options of {mirrored} (sha256 {digests[0][:16]}…, {there_side.path})",
                   f"sha256 {digests[1][:16]}… on {platform} ({here_side.path}): "
                   + "; ".join(_option_differences(there_side, here_side)),
                   "use the same site-options.cfg in both platforms' modele.zip (config.json may differ: it holds "
                   "each platform's own database settings), or explain the difference in the change ticket")


def _unreadable(side: SkeletonSide | None) -> str:
    if side is None:
        return "no w.c.s. in the recipe"
    return "no skeleton found (looked up as w.c.s. does)" if side.path is None else f"{side.path} unreadable"


def _option_differences(there: SkeletonSide, here: SkeletonSide, shown: int = 4) -> list[str]:
    a, b = there.options or {}, here.options or {}
    keys = sorted({(section, key) for options in (a, b) for section, keys in options.items() for key in keys})
    found = []
    for section, key in keys:
        left, right = a.get(section, {}).get(key), b.get(section, {}).get(key)
        if left is None or right is None or left.strip() != right.strip():
            found.append(f"[{section}] {key}: {left!r} on {there.platform}, {right!r} here")
    return found[:shown] + ([f"and {len(found) - shown} more"] if len(found) > shown else [])
