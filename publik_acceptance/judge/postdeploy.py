"""Postdeploy evidence: wait for the asynchronous deployment, re-probing only what does not hold yet.

The first poll comes soon (`first_poll`), then every `poll_interval`, until everything holds or the
`deadline` passes. A wrong state (see expectations.py) seen `stable_polls` times in a row is settled
early: waiting longer would only delay the verdict. Each round costs at most one remote command per
SSH endpoint plus one psql run, whatever the number of tenants.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from publik_acceptance.evidence.applied import ask_skeleton, found_skeleton
from publik_acceptance.evidence.listing import listing_for
from publik_acceptance.evidence.preflight import Frontend, PreflightEvidence
from publik_acceptance.evidence.prober import Prober, first_address
from publik_acceptance.evidence.probes import http as http_probe
from publik_acceptance.evidence.probes import postgres
from publik_acceptance.evidence.probes.postgres import DatabaseFacts
from publik_acceptance.evidence.probes.remote import SshPool
from publik_acceptance.evidence.probes.tls import verifying_context
from publik_acceptance.evidence.servers import Questions, ServerFacts, found_tenant_dir, gather, tenant_places
from publik_acceptance.judge.expectations import Judgement, State, judge_database, judge_tenant
from publik_acceptance.judge.federation_poll import FEDERATION_ASPECTS, Federation, federation_items
from publik_acceptance.judge.page import judge_page
from publik_acceptance.judge.site_options import judge_wcs_site_options
from publik_acceptance.judge.theme import judge_theme
from publik_acceptance.plan import Plan, Target


@dataclass
class Item:
    """One expectation being waited for."""

    target: Target
    aspect: str  # "tenant", "database", "page", "theme", "site-options", or a FEDERATION_ASPECTS one
    address: str | None = None
    judgement: Judgement | None = None
    polls: int = 0
    stable: int = 0
    settled: bool = False
    since: float | None = None  # when the current state was first seen (seconds from the start)
    ready_at: float | None = None

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.target.id, self.aspect, self.address)

    @property
    def done(self) -> bool:
        return self.settled or (self.judgement is not None and self.judgement.state is State.OK)

    def record(self, judgement: Judgement, now: float, stable_polls: int) -> None:
        """One poll's judgement at `now` (seconds from the start); a wrong state seen `stable_polls`
        times in a row settles the item: waiting longer would only delay the verdict."""
        previous = self.judgement
        self.polls += 1
        if previous is None or previous.signature != judgement.signature:
            self.since = now
            self.stable = 1
        else:
            self.stable += 1
        self.judgement = judgement
        if judgement.state is State.OK and self.ready_at is None:
            self.ready_at = now
        if judgement.state is State.WRONG and (judgement.final or self.stable >= stable_polls):
            self.settled = True


@dataclass
class RoundStats:
    started: float
    elapsed: float
    items: int
    remote_commands: dict[str, int]


@dataclass
class Outcome:
    items: dict[tuple[str, str, str | None], Item]
    deadline: float
    elapsed: float
    rounds: list[RoundStats] = field(default_factory=list)
    timed_out: bool = False

    def of(self, target: Target) -> list[Item]:
        return [i for i in self.items.values() if i.target.id == target.id]

    def time_to_ready(self, target: Target) -> float | None:
        items = self.of(target)
        if not items or any(i.ready_at is None for i in items):
            return None
        return max(i.ready_at for i in items if i.ready_at is not None)


class PostdeployEvidence:
    def __init__(self, plan: Plan, pool: SshPool, prober: Prober, preflight: PreflightEvidence,
                 progress: Callable[[str], None] | None = None) -> None:
        self.progress = progress  # one line per poll round, for the operator watching the console
        self.plan = plan
        self.env = plan.environment
        self.pool = pool
        self.prober = prober
        self.preflight = preflight
        self._lock = threading.Lock()
        self._outcome: Outcome | None = None
        self.federation = Federation(plan, prober, self._resolve, self._addresses)
        self._by_key: dict[tuple[str, str, str | None], Item] = {}

    def outcome(self) -> Outcome:
        with self._lock:
            if self._outcome is None:
                self._outcome = self._wait()
            return self._outcome

    def _items(self) -> list[Item]:
        items = []
        for target in self.plan.targets:
            items += [Item(target, "tenant"), Item(target, "database")]
            # What the recipe sets, where it can be seen: the theme in hobo.json, the skeleton's options.
            if self.plan.recipes[target.instance].theme is not None:
                items.append(Item(target, "theme"))
            if target.kind == "wcs":
                items.append(Item(target, "site-options"))
            items += [Item(target, "page", f.address) for f in self.preflight.frontends_of(target) if f.address]
        items += [Item(target, aspect) for target, aspect in federation_items(self.plan)]
        return items

    def _wait(self) -> Outcome:
        settings = self.env.postdeploy
        start = time.monotonic()
        deadline = start + settings.deadline
        items = {item.key: item for item in self._items()}
        self._by_key = items  # what the federation's login waits on (settled())
        outcome = Outcome(items, settings.deadline, 0.0)
        interval = settings.first_poll
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="postdeploy") as aux:
            while True:
                pending = [i for i in items.values() if not i.done]
                if not pending:
                    break
                round_start = time.monotonic()
                commands_before = dict(self.pool.stats.commands)
                self._round(pending, aux, start)
                outcome.rounds.append(RoundStats(
                    round_start - start, time.monotonic() - round_start, len(pending),
                    {k: v - commands_before.get(k, 0) for k, v in self.pool.stats.commands.items()
                     if v - commands_before.get(k, 0)}))
                if self.progress is not None:
                    self.progress(progress_line(len(outcome.rounds), time.monotonic() - start,
                                                list(items.values()), deadline - time.monotonic()))
                if all(i.done for i in items.values()):
                    break
                now = time.monotonic()
                if now >= deadline:
                    outcome.timed_out = True
                    break
                time.sleep(min(interval, deadline - now))
                interval = settings.poll_interval
        outcome.elapsed = time.monotonic() - start
        return outcome

    def _round(self, pending: list[Item], aux: ThreadPoolExecutor, start: float) -> None:
        facts_targets = {i.target.id: i.target for i in pending if i.aspect in REMOTE_ASPECTS}
        remote = aux.submit(self._remote, list(facts_targets.values())) if facts_targets else None
        db_targets = [i.target for i in pending if i.aspect == "database"]
        database = aux.submit(self._database, db_targets) if db_targets else None
        pages = [i for i in pending if i.aspect == "page"]
        context = verifying_context(self.env.tls)
        http = self.env.http

        # Kept alive for this round only: chains revisit the same hosts (a service's /login/, then the
        # instance's identity provider), and over a real network a new connection costs round trips.
        # Room for one idle connection per host the round asks: the federation's fetches come after the
        # pages and reuse their connections (bounded by 128 before: at N = 50, 1,840 handshakes a round
        # instead of 890, and 4.3 s of the suite's CPU instead of 2.9 s).
        connections = http_probe.Connections(max_idle=idle_budget(len(pending), http.concurrency))

        def follow(item: Item) -> list[http_probe.HttpExchange]:
            return http_probe.follow(f"https://{item.target.hostname}/", item.address or "", http.port, context,
                                     http.timeout, self._resolve, connections=connections)

        federated = [i for i in pending if i.aspect in FEDERATION_ASPECTS]
        try:
            chains = self.prober.map(follow, pages, address=lambda i: i.address or "")
            followed: dict[str, list[list[http_probe.HttpExchange]]] = {}
            for item, hops in zip(pages, chains, strict=True):  # a login chain a page went through is not re-asked
                followed.setdefault(item.target.id, []).append(hops)
            federation = self.federation.poll([(i.target, i.aspect) for i in federated], self._settled,
                                              context, connections, followed) if federated else {}
        finally:
            connections.close()
        now = time.monotonic() - start
        for item, hops in zip(pages, chains, strict=True):
            self._record(item, judge_page(item.target, hops), now)
        for item in federated:
            self._record(item, federation[(item.target.id, item.aspect)], now)
        server_facts = remote.result() if remote else {}
        db_facts = database.result() if database else None
        now = time.monotonic() - start
        tenant_judgements: dict[str, Judgement] = {}
        for item in pending:
            if item.aspect != "tenant":
                continue
            facts = server_facts[item.target.server]
            judgement = judge_tenant_facts(item.target, facts)
            tenant_judgements[item.target.id] = judgement
            self._record(item, judgement, now)
        for item in pending:
            if item.aspect != "database" or db_facts is None:
                continue
            facts = server_facts[item.target.server]
            tenant = tenant_judgements.get(item.target.id) or judge_tenant_facts(item.target, facts)
            self._record(item, judge_database(item.target, db_facts, tenant, listing_for(item.target, facts)), now)
        for item in pending:
            if item.aspect in ("theme", "site-options"):
                self._record(item, self._judge_applied(item, server_facts[item.target.server]), now)

    def _judge_applied(self, item: Item, facts: ServerFacts) -> Judgement:
        """What the recipe set, on one poll's server facts: the theme, or the w.c.s. site options."""
        target = item.target
        unavailable = remote_unavailable(facts)
        if unavailable is not None:
            return unavailable
        place = found_tenant_dir(target, facts.paths) or target.tenant_dir  # w.c.s.: maybe its old location
        if item.aspect == "theme":
            theme = self.plan.recipes[target.instance].theme or ""
            return judge_theme(target, theme, facts.files.get(f"{place}/hobo.json"), place)
        return judge_wcs_site_options(target, found_skeleton(self.env, target, facts),
                                      facts.files.get(f"{place}/site-options.cfg"), place)

    def _remote(self, targets: list[Target]) -> dict[str, ServerFacts]:
        questions = Questions()
        for target in targets:
            questions.tenant(target)
            questions.listing(target)
            stats = questions.stats[target.server]
            for place in tenant_places(target):
                stats.add(f"{place}/hobo.json")
                if target.kind == "wcs":
                    stats.add(f"{place}/config.pck")
                    questions.reads[target.server].add(f"{place}/site-options.cfg")
            if self.plan.recipes[target.instance].theme is not None:
                questions.reads[target.server].update(f"{place}/hobo.json" for place in tenant_places(target))
            if target.kind == "wcs":
                ask_skeleton(questions, self.env, target)
        return gather(self.env, self.pool, self.prober, questions)

    def _database(self, targets: list[Target]) -> DatabaseFacts:
        django = {t.database for t in targets if t.schema}
        wcs = {t.database for t in targets if t.per_tenant_database}
        return postgres.gather(self.env, self.pool if self.env.database.direct is None else None, django, wcs)

    def _resolve(self, host: str) -> str | None:
        known = self.preflight.dns.get(host)
        if known is None:
            known = self.prober.resolve_all([host])[host]
        return first_address(known)

    def _addresses(self, host: str) -> tuple[str, ...]:
        known = self.preflight.dns.get(host)
        return known.addresses if known is not None else ()

    def _settled(self, target_id: str, aspect: str) -> State | None:
        """An item's state once it no longer changes (ok, or wrong and settled); None while awaited."""
        item = self._by_key.get((target_id, aspect, None))
        if item is None or not item.done or item.judgement is None:
            return None
        return item.judgement.state

    def _record(self, item: Item, judgement: Judgement, now: float) -> None:
        item.record(judgement, now, self.env.postdeploy.stable_polls)


REMOTE_ASPECTS = ("tenant", "database", "theme", "site-options")  # judged on the round's SSH facts


def idle_budget(wanted: int, concurrency: int, open_files: int | None = None) -> int:
    """Idle connections a round may keep: one per item it polls, at least 4 per probe in flight, and
    never more than a quarter of the open-file limit (default: this process's; each one holds a socket)."""
    if open_files is None:
        open_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    ceiling = open_files // 4 if open_files != resource.RLIM_INFINITY else wanted
    return max(min(wanted, ceiling), min(concurrency * 4, ceiling), 16)


def remote_unavailable(facts: ServerFacts) -> Judgement | None:
    """Pending while the server cannot be asked; wrong at once when SSH refuses us."""
    if facts.error and facts.hopeless:
        return Judgement(State.WRONG, "facts over SSH", facts.error,
                         "fix SSH access to this server, then run the postdeploy phase", final=True)
    if facts.error:
        return Judgement(State.PENDING, "facts over SSH", facts.error, "fix SSH access")
    return None


def judge_tenant_facts(target: Target, facts: ServerFacts) -> Judgement:
    """The tenant judge on one poll's server facts (pending while the server cannot be asked)."""
    if facts.error and facts.hopeless:
        return Judgement(State.WRONG, "tenant facts over SSH", facts.error,
                         "fix SSH access to this server, then run the postdeploy phase", final=True)
    if facts.error:
        return Judgement(State.PENDING, "tenant facts over SSH", facts.error, "fix SSH access")
    place = found_tenant_dir(target, facts.paths) or target.tenant_dir
    options = facts.files.get(f"{place}/site-options.cfg") if target.kind == "wcs" else None
    return judge_tenant(target, facts.paths, options)


def progress_line(round_no: int, elapsed: float, items: list[Item], left: float, shown: int = 3) -> str:
    """`postdeploy round 3 (12 s): ready 18 of 21; pending: …; wrong: …; 588 s left` — what is
    awaited and why, so a long wait is never silent."""
    ready = [i for i in items if i.judgement is not None and i.judgement.state is State.OK]
    parts = [f"postdeploy round {round_no} ({elapsed:.0f} s): ready {len(ready)} of {len(items)}"]
    for label, chosen in (("pending", [i for i in items if not i.done]),
                          ("wrong", [i for i in items if i.settled])):
        if chosen:
            listed = "; ".join(_describe(i) for i in chosen[:shown])
            more = f" and {len(chosen) - shown} more" if len(chosen) > shown else ""
            parts.append(f"{label} {len(chosen)}: {listed}{more}")
    if any(not i.done for i in items):
        parts.append(f"{max(left, 0):.0f} s left")
    return " — ".join(parts)


def _describe(item: Item) -> str:
    where = f"{item.target.id} {item.aspect}" + (f" @{item.address}" if item.address else "")
    actual = item.judgement.actual if item.judgement is not None else "not polled yet"
    return f"{where} ({actual[:80]})"


def frontend_pages(outcome: Outcome, frontend: Frontend) -> Item | None:
    return outcome.items.get((frontend.target.id, "page", frontend.address))
