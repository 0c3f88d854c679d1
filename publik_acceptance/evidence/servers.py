"""Remote facts per server: the questions of a round grouped by SSH endpoint, one command each."""

from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from publik_acceptance.config.environment import Environment
from publik_acceptance.evidence.prober import Prober
from publik_acceptance.evidence.probes.facts import (
    Batch,
    CommandFacts,
    PathFacts,
    ask,
    file_content,
    listing,
    path_facts,
)
from publik_acceptance.evidence.probes.privilege import privilege
from publik_acceptance.evidence.probes.remote import RemoteError, SshPool
from publik_acceptance.plan import Target


@dataclass
class ServerFacts:
    """What one round learnt from one SSH endpoint (possibly shared by several roles)."""

    label: str
    roles: tuple[str, ...]
    error: str | None = None
    hopeless: bool = False  # the error is one waiting will not fix (see RemoteError)
    paths: dict[str, PathFacts] = field(default_factory=dict)
    files: dict[str, bytes | None] = field(default_factory=dict)
    listings: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    commands: dict[str, CommandFacts] = field(default_factory=dict)
    elapsed: float = 0.0


@dataclass
class Questions:
    """What to ask, by role; roles on the same endpoint share one batch."""

    stats: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    reads: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    lists: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    commands: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def roles(self) -> set[str]:
        return set(self.stats) | set(self.reads) | set(self.lists) | set(self.commands)

    def tenant(self, target: Target) -> None:
        """Stat every place the target's tenant may be (w.c.s.: tenants/<host> and its old location)."""
        self.stats[target.server].update(tenant_places(target))

    def listing(self, target: Target) -> None:
        """The service's own `list_tenants`: a set per server, so one run per service kind and server."""
        if target.list_tenants:
            self.commands[target.server].add(target.list_tenants)


def tenant_places(target: Target) -> tuple[str, ...]:
    """Where the target's tenant may be, in the order the service looks: w.c.s. tries `tenants/<host>`,
    then its old location `<app dir>/<host>` (wcs/qommon/publisher.py)."""
    return (target.tenant_dir,) + ((target.legacy_tenant_dir,) if target.legacy_tenant_dir else ())


def found_tenant_dir(target: Target, paths: dict[str, PathFacts]) -> str | None:
    """The first place where the target's tenant directory exists (the one the service uses), or None."""
    for place in tenant_places(target):
        facts = paths.get(place)
        if facts is not None and facts.exists:
            return place
    return None


def place_name(target: Target, place: str) -> str:
    """`/var/lib/wcs/demarches.example.org (w.c.s.'s old location)` for the evidence and messages."""
    return f"{place} (w.c.s.'s old location)" if place == target.legacy_tenant_dir else place


def gather(env: Environment, pool: SshPool, prober: Prober, questions: Questions,
           roles: set[str] | None = None) -> dict[str, ServerFacts]:
    """Ask every question; returns facts by role (roles on one endpoint share the same object)."""
    by_endpoint: dict[str, list[str]] = defaultdict(list)
    for role in sorted((roles or set()) | questions.roles()):
        by_endpoint[pool.endpoint(role).label].append(role)

    def one(label: str) -> ServerFacts:
        started = time.monotonic()
        roles_here = by_endpoint[label]
        facts = ServerFacts(label, tuple(roles_here))
        batch = Batch(sudo=privilege(pool, roles_here[0]).sudo_for_root)
        for role in roles_here:
            for path in questions.stats.get(role, ()):
                batch.stat(path)
            for path in questions.reads.get(role, ()):
                batch.read(path)
            for path in questions.lists.get(role, ()):
                batch.list(path)
            for command in questions.commands.get(role, ()):
                batch.command(command)
        try:
            pool.client(roles_here[0])
            answers = ask(pool, roles_here[0], batch)
        except RemoteError as exc:
            facts.error = str(exc)
            facts.hopeless = exc.hopeless
            facts.elapsed = time.monotonic() - started
            return facts
        for role in roles_here:
            for path in questions.stats.get(role, ()):
                facts.paths[path] = path_facts(path, answers.get(f"stat:{path}"))
            for path in questions.reads.get(role, ()):
                facts.files[path] = file_content(answers.get(f"read:{path}"))
            for path in questions.lists.get(role, ()):
                facts.listings[path] = listing(answers.get(f"list:{path}"))
            for command in questions.commands.get(role, ()):
                rc, out = answers.get(f"command:{command}", (255, "no answer"))
                facts.commands[command] = CommandFacts(command, rc, out)
        facts.elapsed = time.monotonic() - started
        return facts

    labels = sorted(by_endpoint)
    # Threads of their own, not the probe pool: SSH facts must not queue behind hundreds of HTTPS
    # probes gathered at the same time (see PreflightEvidence).
    if len(labels) == 1:
        results = {labels[0]: one(labels[0])}
    else:
        with ThreadPoolExecutor(max_workers=len(labels), thread_name_prefix="ssh") as executor:
            results = dict(zip(labels, executor.map(one, labels), strict=True))
    return {role: results[label] for label, roles_here in by_endpoint.items() for role in roles_here}
