"""What the recipe set, as the servers hold it: the skeleton w.c.s. deployed a tenant from, and digests
to compare two platforms by.

The skeleton is looked up as w.c.s. does (the create-wcs `template_name`, then `default.zip`, then
`default`) and read in the same batched remote command as the other facts of a round; its database
passwords are registered as secrets the moment it is inspected (evidence/skeleton.py).
"""

from __future__ import annotations

import hashlib
import json

from publik_acceptance.config.environment import Environment
from publik_acceptance.evidence.preflight import SkeletonFacts, skeleton_candidates
from publik_acceptance.evidence.servers import Questions, ServerFacts
from publik_acceptance.evidence.skeleton import inspect_skeleton
from publik_acceptance.plan import Target


def skeleton_paths(env: Environment, target: Target) -> list[str]:
    directory = env.server_path(env.wcs.skeletons_dir)
    return [f"{directory}/{name}" for name in skeleton_candidates(target.template_name)]


def ask_skeleton(questions: Questions, env: Environment, target: Target) -> None:
    """Stat and read every candidate: which one w.c.s. took is known only once they are all seen."""
    for path in skeleton_paths(env, target):
        questions.stats[target.server].add(path)
        questions.reads[target.server].add(path)


def found_skeleton(env: Environment, target: Target, facts: ServerFacts) -> SkeletonFacts | None:
    """The first candidate present on the target's server, inspected (report None: unreadable); None
    when there is none."""
    for name, path in zip(skeleton_candidates(target.template_name), skeleton_paths(env, target), strict=True):
        stat = facts.paths.get(path)
        if stat is not None and stat.exists:
            data = facts.files.get(path)
            return SkeletonFacts(name, path, target.server, inspect_skeleton(data) if data is not None else None)
    return None


def options_digest(options: dict[str, dict[str, str]]) -> str:
    """SHA-256 of a site-options.cfg's sections, keys and values in a canonical form: two skeletons
    that set the same options agree, whatever their comments, order or spacing. Only site-options.cfg
    is compared between platforms: config.json carries each platform's own database settings."""
    canonical = {section: {k: v.strip() for k, v in sorted(keys.items())} for section, keys in sorted(options.items())}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
