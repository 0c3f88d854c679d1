"""Preflight evidence: gathered once, concurrently, for the whole Plan; tests assert on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

from publik_acceptance.evidence.prober import Prober
from publik_acceptance.evidence.probes import http as http_probe
from publik_acceptance.evidence.probes import postgres
from publik_acceptance.evidence.probes.dns import DnsEvidence
from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.evidence.probes.postgres import DatabaseFacts
from publik_acceptance.evidence.probes.remote import SshPool
from publik_acceptance.evidence.probes.tls import verifying_context
from publik_acceptance.evidence.servers import Questions, ServerFacts, gather, place_name, tenant_places
from publik_acceptance.evidence.skeleton import SkeletonReport, inspect_skeleton
from publik_acceptance.plan import Plan, Target


@dataclass(frozen=True)
class Frontend:
    """One (Target, address) pair: TLS and HTTP are checked on every address a hostname has."""

    target: Target
    address: str | None  # None: the hostname does not resolve

    @property
    def id(self) -> str:
        return f"{self.target.id}|{self.address or 'unresolved'}"


@dataclass(frozen=True)
class SkeletonFacts:
    template: str
    path: str
    role: str
    report: SkeletonReport | None  # None when the file could not be read


def skeleton_candidates(template_name: str | None) -> tuple[str, ...]:
    """w.c.s.'s lookup order in the skeletons directory."""
    return ((template_name,) if template_name else ()) + ("default.zip", "default")


class PreflightEvidence:
    """Lazily gathered; each category at most once per run, whatever the number of tests.

    DNS comes first (test ids need the addresses). The first time a frontend, server or database
    fact is asked for, all three are gathered together: the SSH facts then the database facts in
    one thread, TLS+HTTP on every address in another (through the probe pool), so neither waits for
    the other: the phase costs about the longest of them, not their sum.
    """

    def __init__(self, plan: Plan, pool: SshPool, prober: Prober,
                 progress: Callable[[str], None] | None = None) -> None:
        self.progress = progress  # a line as each category of evidence is in: large preflights talk
        self._announced: set[str] = set()
        self._started = 0.0
        self._dns_seconds = 0.0
        self.plan = plan
        self.env = plan.environment
        self.pool = pool
        self.prober = prober
        self._lock = threading.RLock()
        self._futures: dict[str, Future] = {}

    def start(self) -> None:
        """Start gathering every category now, in the background (at most once per run): a full preflight
        needs them all, and pytest's own work on the checks then overlaps the network's."""
        with self._lock:
            if not self._futures:
                self._started = time.monotonic()
                self._start_gathering()

    def replicate(self, dns: dict[str, DnsEvidence], load: Callable[[], dict[str, tuple[bool, object]]]) -> None:
        """Take the evidence another process gathered (pytest-xdist's main process, see sharding.py)
        instead of gathering it here: the DNS answers now, every other category from `load()`, which
        waits for them: {category: (True, evidence) or (False, the exception gathering it raised)}."""
        futures: dict[str, Future] = {name: Future() for name in ("servers", "database", "exchanges")}

        def fill() -> None:
            try:
                data = load()
            except BaseException as exc:
                for future in futures.values():
                    future.set_exception(exc)
                return
            for name, future in futures.items():
                ok, value = data[name]
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value if isinstance(value, BaseException) else RuntimeError(str(value)))

        with self._lock:
            self.__dict__["_resolved"] = dns  # what the cached property would hold
            self._started = time.monotonic()
            self._futures = futures
        threading.Thread(target=fill, name="preflight-replica", daemon=True).start()

    def _gathered(self, name: str):  # -> the category's evidence
        self.start()
        result = self._futures[name].result()
        if self.progress is not None and name not in self._announced:
            self._announced.add(name)
            self.progress(f"preflight evidence: {self._describe(name, result)} "
                          f"({time.monotonic() - self._started:.1f} s since gathering started)")
        return result

    def _describe(self, name: str, result: object) -> str:
        if name == "exchanges" and isinstance(result, dict):
            failed = sum(1 for exchange in result.values() if exchange.error)
            return f"TLS+HTTP on {len(result)} address(es), {failed} without an answer"
        if name == "servers" and isinstance(result, dict):
            unreachable = sorted({facts.label for facts in result.values() if facts.error})
            return f"SSH facts from {len({f.label for f in result.values()})} server(s)" + (
                f", unreachable: {', '.join(unreachable)}" if unreachable else "")
        error = result.error if isinstance(result, DatabaseFacts) else None
        return "database facts" + (f": {error[:120]}" if error else "")

    def _start_gathering(self) -> None:
        servers: Future[dict[str, ServerFacts]] = Future()

        def hosts_then_database() -> DatabaseFacts:
            try:
                facts = self._gather_servers()
            except BaseException as exc:
                servers.set_exception(exc)
                raise
            servers.set_result(facts)
            return self._gather_database(facts)

        aux = ThreadPoolExecutor(max_workers=2, thread_name_prefix="preflight")
        self._futures = {"servers": servers, "database": aux.submit(hosts_then_database),
                         "exchanges": aux.submit(self._gather_exchanges)}
        aux.shutdown(wait=False)  # the two tasks run on; the threads end with them

    @property
    def dns(self) -> dict[str, DnsEvidence]:
        answers = self._resolved
        if self.progress is not None and "dns" not in self._announced:
            self._announced.add("dns")
            unresolved = sum(1 for evidence in answers.values() if not evidence.addresses)
            self.progress(f"preflight evidence: DNS for {len(answers)} hostname(s), {unresolved} without an "
                          f"address ({self._dns_seconds:.1f} s)")
        return answers

    def resolve(self) -> None:
        """Resolve every planned hostname now (once per run; from any thread): the front door asks in the
        background while pytest collects. The progress line waits for the first reader of `dns`."""
        self._resolved  # noqa: B018

    @cached_property
    def _resolved(self) -> dict[str, DnsEvidence]:
        with self._lock:
            started = time.monotonic()
            answers = self.prober.resolve_all(self.plan.hostnames())
            self._dns_seconds = time.monotonic() - started
            return answers

    def frontends_of(self, target: Target) -> list[Frontend]:
        addresses = self.dns[target.hostname].addresses
        return [Frontend(target, a) for a in addresses] or [Frontend(target, None)]

    @property
    def exchanges(self) -> dict[tuple[str, str], HttpExchange]:
        """GET / on every (hostname, address), not followed; TLS evidence rides along."""
        return self._gathered("exchanges")

    def _gather_exchanges(self) -> dict[tuple[str, str], HttpExchange]:
        pairs = sorted({(t.hostname, a) for t in self.plan.targets for a in self._resolved[t.hostname].addresses})
        context = verifying_context(self.env.tls)
        http = self.env.http

        def probe(pair: tuple[str, str]) -> HttpExchange:
            host, address = pair
            return http_probe.get(f"https://{host}/", address, http.port, context, http.timeout)

        return dict(zip(pairs, self.prober.map(probe, pairs, address=lambda p: p[1]), strict=True))

    @property
    def servers(self) -> dict[str, ServerFacts]:
        return self._gathered("servers")

    def _gather_servers(self) -> dict[str, ServerFacts]:
        questions = Questions()
        for target in self.plan.targets:
            questions.tenant(target)
        questions.commands["hobo"].add(self.env.cook.check_command)
        for role, path in self._skeleton_paths():
            questions.stats[role].add(path)
            questions.reads[role].add(path)
        return gather(self.env, self.pool, self.prober, questions, roles=set(self.env.servers))

    def _skeleton_paths(self) -> list[tuple[str, str]]:
        paths = []
        for target in self.plan.targets:
            if target.kind == "wcs":
                for name in skeleton_candidates(target.template_name):
                    paths.append((target.server, f"{self.env.server_path(self.env.wcs.skeletons_dir)}/{name}"))
        return sorted(set(paths))

    def skeleton(self, target: Target, servers: dict[str, ServerFacts] | None = None) -> SkeletonFacts:
        """The skeleton w.c.s. would use for this target: the first candidate that exists."""
        directory = self.env.server_path(self.env.wcs.skeletons_dir)
        facts = (servers or self.servers)[target.server]
        candidates = skeleton_candidates(target.template_name)
        for name in candidates:
            path = f"{directory}/{name}"
            if facts.paths.get(path) and facts.paths[path].exists:
                data = facts.files.get(path)
                return SkeletonFacts(name, path, target.server, inspect_skeleton(data) if data is not None else None)
        return SkeletonFacts(candidates[0], f"{directory}/{candidates[0]}", target.server, None)

    @property
    def database(self) -> DatabaseFacts:
        return self._gathered("database")

    def _gather_database(self, servers: dict[str, ServerFacts]) -> DatabaseFacts:
        django = {t.database for t in self.plan.targets if t.schema}
        wcs = {t.database for t in self.plan.targets if t.per_tenant_database}
        createdb = None
        roles = set()
        site = None
        for target in self.plan.targets:
            if target.kind == "wcs":
                skeleton = self.skeleton(target, servers)
                if skeleton.report and skeleton.report.createdb_params:
                    createdb = skeleton.report.createdb_params
                    roles.add(str(createdb.get("user", "")))
                    # Tried where w.c.s. uses it: as its service user on its server (issue 13, point 7).
                    site = postgres.LoginSite(target.server, target.owner)
                    break
        return postgres.gather(self.env, self.pool if self.env.database.direct is None else None,
                               django, wcs, roles, createdb, login_site=site)

    def existing(self, target: Target) -> list[str]:
        """What already exists of this target (tenant dir, schema, database): empty before a cook.
        A w.c.s. tenant at its old location (`/var/lib/wcs/<host>`) counts: w.c.s. would update it."""
        found = []
        server = self.servers[target.server]
        for place in tenant_places(target):
            if place in server.paths and server.paths[place].exists:
                found.append(f"tenant directory {place_name(target, place)}")
        db = self.database
        if target.schema and db.has_schema(target.database, target.schema):
            found.append(f"schema {target.schema} in database {target.database}")
        if target.per_tenant_database and target.database in db.databases:
            found.append(f"database {target.database}")
        return found
