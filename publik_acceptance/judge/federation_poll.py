"""The federation part of a postdeploy poll round: what to probe, probed concurrently, then judged.

Items (aspects of a Target): "idp-metadata" (authentic), "sp-metadata" (every other service),
"login-redirect" (every service's anonymous login), "backoffice-redirect" (w.c.s.), and "login" (the
agent portal and each w.c.s. back office, after one real login per instance; postdeploy.login: false
turns it off). Fetches share the round's kept-alive connections; the login waits until the redirects
and the IdP metadata it needs are settled, so it runs once per instance, not once per service.
"""

from __future__ import annotations

import contextlib
import datetime
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from publik_acceptance.config.errors import ConfigError
from publik_acceptance.evidence.federation import (
    IDP_KIND,
    IDP_METADATA_PATH,
    LoginEntry,
    LoginTrace,
    idp_of,
    is_agent_portal,
    log_in,
    log_out,
    login_chain_in,
    login_entries,
    login_views,
    sp_metadata_path,
    superuser_email,
)
from publik_acceptance.evidence.prober import Prober
from publik_acceptance.evidence.probes import http as http_probe
from publik_acceptance.evidence.probes.browser import Browser
from publik_acceptance.evidence.probes.saml import SamlDocumentError, read_metadata
from publik_acceptance.judge.expectations import Judgement, State
from publik_acceptance.judge.federation import (
    judge_idp_metadata,
    judge_login,
    judge_login_redirect,
    judge_sp_metadata,
)
from publik_acceptance.plan import Plan, Target

FEDERATION_ASPECTS = ("idp-metadata", "sp-metadata", "login-redirect", "backoffice-redirect", "login")
Key = tuple[str, str]  # (target id, aspect)
Settled = Callable[[str, str], State | None]  # (target id, aspect) → its state once settled (ok, or wrong for good)


def federation_items(plan: Plan) -> list[tuple[Target, str]]:
    items = [(t, "idp-metadata" if t.kind == IDP_KIND else "sp-metadata") for t in plan.targets]
    items += [(e.target, e.aspect) for e in login_entries(plan)]
    if plan.environment.postdeploy.login:
        items += [(t, "login") for t in login_views(plan)]
    return items


@dataclass
class Federation:
    plan: Plan
    prober: Prober
    resolve: http_probe.Resolve
    # Every frontend address of a hostname: federation probes are spread over them (each address's own
    # pages are checked by test_page; here one address per probe is enough, and per_address_concurrency
    # would otherwise hold every probe to the first address's share).
    addresses: Callable[[str], tuple[str, ...]] | None = None
    entity_ids: dict[str, str] = field(default_factory=dict)  # target id → the entityID its metadata publishes
    traces: dict[str, LoginTrace] = field(default_factory=dict)  # instance → its last login session
    seconds: dict[str, float] = field(default_factory=dict)  # "fetches", "logins": time spent, for the benchmark
    reused: int = 0  # login chains read from the page checks' chains instead of fetched (for the benchmark)

    def __post_init__(self) -> None:
        self.entries: dict[Key, LoginEntry] = {(e.target.id, e.aspect): e for e in login_entries(self.plan)}
        self._started: dict[Key, list[http_probe.HttpExchange]] = {}  # this round's ok login chains

    def poll(self, wanted: list[tuple[Target, str]], settled: Settled, context: ssl.SSLContext,
             connections: http_probe.Connections,
             page_chains: dict[str, list[list[http_probe.HttpExchange]]] | None = None) -> dict[Key, Judgement]:
        """Judgements for the pending federation items `wanted`; `page_chains` (target id → the chains this
        round's page checks followed from its `/`) spare fetching a login chain a page already went through."""
        http = self.plan.environment.http
        now = datetime.datetime.now(datetime.UTC)
        reused: dict[Key, list[http_probe.HttpExchange]] = {}
        for target, aspect in wanted:
            entry = self.entries.get((target.id, aspect))
            chain = login_chain_in(entry, (page_chains or {}).get(target.id, [])) if entry is not None else None
            if chain is not None:
                reused[(target.id, aspect)] = chain
        self.reused += len(reused)
        fetches = [(t, a) for t, a in wanted if a != "login" and (t.id, a) not in reused]

        def fetch(numbered: tuple[int, tuple[Target, str]]) -> list[http_probe.HttpExchange]:
            n, (target, aspect) = numbered
            address = self._pick(target.hostname, n)
            if aspect in ("idp-metadata", "sp-metadata"):
                path = IDP_METADATA_PATH if aspect == "idp-metadata" else sp_metadata_path(target)
                if address is None:
                    return [http_probe.HttpExchange(f"https://{target.hostname}{path}", "-", error_kind="connect",
                                                    error=f"{target.hostname} does not resolve")]
                return [http_probe.get(f"https://{target.hostname}{path}", address, http.port, context, http.timeout,
                                       connections)]
            entry = self.entries[(target.id, aspect)]
            return http_probe.follow(entry.url, address or "", http.port, context, http.timeout,
                                     lambda host: self._pick(host, n), connections=connections)

        started = time.monotonic()
        numbered = list(enumerate(fetches))
        answers = self.prober.map(fetch, numbered, address=lambda i: self._pick(i[1][0].hostname, i[0]) or "")
        self.seconds["fetches"] = self.seconds.get("fetches", 0.0) + time.monotonic() - started
        judged: dict[Key, Judgement] = {}
        chains: dict[Key, list[http_probe.HttpExchange]] = {}
        for (target, aspect), hops in [*zip(fetches, answers, strict=True),
                                       *(((t, a), reused[(t.id, a)]) for t, a in wanted if (t.id, a) in reused)]:
            judged[(target.id, aspect)] = self._judge_fetch(target, aspect, hops, now)
            chains[(target.id, aspect)] = hops
        # A login starts where its view's redirect, judged ok this round, already stands: authentic's form.
        self._started = {key: chain for key, chain in chains.items()
                         if key[1] in ("login-redirect", "backoffice-redirect") and judged[key].state is State.OK}

        def state_now(target_id: str, aspect: str) -> State | None:  # this round's ok counts: no round lost
            this_round = judged.get((target_id, aspect))
            return State.OK if this_round is not None and this_round.state is State.OK else settled(target_id, aspect)

        # After the fetches, not alongside: on the benchmark's platform, starting the logins with them saved
        # nothing (the servers were the limit) and cost a second login whenever a redirect failed.
        started = time.monotonic()
        waiting, sessions = self._sessions([t for t, a in wanted if a == "login"], state_now)
        judged.update(waiting)
        ran = self._run(sessions, context, connections)
        for instance, ready in sessions:
            trace, email = ran[instance]
            for view in ready:
                judged[(view.id, "login")] = trace if isinstance(trace, Judgement) else judge_login(view, trace, email)
        self.seconds["logins"] = self.seconds.get("logins", 0.0) + time.monotonic() - started
        return judged

    def _judge_fetch(self, target: Target, aspect: str, hops: list[http_probe.HttpExchange],
                     now: datetime.datetime) -> Judgement:
        if aspect == "idp-metadata":
            return judge_idp_metadata(target, hops[0], now)
        if aspect == "sp-metadata":
            if hops[0].status == 200:
                with contextlib.suppress(SamlDocumentError):  # judge_sp_metadata says what is wrong with it
                    self.entity_ids[target.id] = read_metadata(hops[0].body).entity_id
            return judge_sp_metadata(target, hops[0])
        entry = self.entries[(target.id, aspect)]
        return judge_login_redirect(entry, idp_of(self.plan, target.instance), hops, self.entity_ids.get(target.id))

    def _sessions(self, views: list[Target], state: Settled) -> tuple[dict[Key, Judgement],
                                                                      list[tuple[str, list[Target]]]]:
        """Per instance, the views ready for a login (their own redirect reaches the IdP), and judgements for
        the others: pending while their redirect is not settled, wrong with it once it failed (no login)."""
        judged: dict[Key, Judgement] = {}
        sessions: list[tuple[str, list[Target]]] = []
        expected = "a real login once the service is federated"
        for instance in sorted({v.instance for v in views}):
            idp = idp_of(self.plan, instance)
            idp_state = state(idp.id, "idp-metadata") if idp is not None else State.OK
            ready = []
            for view in (v for v in views if v.instance == instance):
                entry = self._entry_of(view)
                entry_state = state(view.id, entry.aspect)
                if idp_state is None or entry_state is None:
                    waiting = [w for w, s in ((f"{idp.id if idp else ''} idp-metadata", idp_state),
                                              (f"{entry.id} {entry.aspect}", entry_state)) if s is None]
                    judged[(view.id, "login")] = Judgement(State.PENDING, expected, f"waiting for {', '.join(waiting)}",
                                                           "see those checks")
                elif entry_state is not State.OK:
                    judged[(view.id, "login")] = Judgement(
                        State.WRONG, expected, f"cannot log in: {entry.url} does not lead to authentic's login page "
                        f"(test_login_redirect[{entry.id}] says why)", "fix that redirect first", final=True)
                else:
                    ready.append(view)
            if ready:
                sessions.append((instance, ready))
        return judged, sessions

    def _run(self, sessions: list[tuple[str, list[Target]]], context: ssl.SSLContext,
             connections: http_probe.Connections) -> dict[str, tuple[LoginTrace | Judgement, str]]:
        """instance → its login session (or why none could start) and the superuser's email."""
        # A session's requests go to the frontend address it picked: it holds that address's slot, so the
        # logins stay within per_address_concurrency like every other probe.
        traces = self.prober.map(lambda numbered: self._log_in(*numbered[1], numbered[0], context, connections),
                                 list(enumerate(sessions)),
                                 address=lambda numbered: self._pick(numbered[1][1][0].hostname, numbered[0]) or "")
        return {instance: result for (instance, _ready), result in zip(sessions, traces, strict=True)}

    def _pick(self, host: str, n: int) -> str | None:
        """The n-th probe's address for `host`: its frontend addresses in turn."""
        known = self.addresses(host) if self.addresses is not None else ()
        return known[n % len(known)] if known else self.resolve(host)

    def _entry_of(self, view: Target) -> LoginEntry:
        return self.entries[(view.id, "backoffice-redirect" if view.kind == "wcs" else "login-redirect")]

    def _log_in(self, instance: str, views: list[Target], n: int, context: ssl.SSLContext,
                connections: http_probe.Connections) -> tuple[LoginTrace | Judgement, str]:
        email = superuser_email(self.plan, instance) or ""
        idp = idp_of(self.plan, instance)
        expected = f"a real login as the superuser of {instance}"
        if not email or idp is None:
            return Judgement(State.WRONG, expected, "the recipe's create-superuser has no email",
                             "give create-superuser an email", final=True), email
        try:
            declared = next(i for i in self.plan.environment.instances if i.name == instance)
            password = declared.superuser_password.resolve()
        except (ConfigError, StopIteration) as exc:
            return Judgement(State.WRONG, expected, f"the superuser password is unavailable: {exc}",
                             "set the instance's superuser_password", final=True), email
        http = self.plan.environment.http
        browser = Browser(http.port, context, http.timeout, lambda host: self._pick(host, n), connections)
        start = next((v for v in views if is_agent_portal(v)), views[0])
        wcs = [v for v in views if v.kind == "wcs"]
        planned = frozenset(t.hostname for t in self.plan.targets if t.instance == instance)
        entry = self._entry_of(start)
        chain = self._started.get((start.id, entry.aspect))
        started = (f"test_login_redirect[{entry.id}]", chain) if chain else None
        trace = log_in(browser, idp, start, email, password, wcs, planned, started)
        self.traces[instance] = trace
        if trace.step("credentials") is None or trace.refused:
            return trace, email  # no session was opened: nothing to log out of
        logouts = [f"https://{v.hostname}/logout/" for v in views if v.kind != "wcs"]
        logouts += [f"https://{v.hostname}/logout" for v in wcs] + [f"https://{idp.hostname}/logout/"]
        log_out(browser, logouts, trace)
        return trace, email
