"""The page judge: what `GET https://<host>/` and its redirect chain show, against the Plan's expectation.

Read in order: a hop not served yet (pending), a hop broken (wrong), then the landing the catalogue
expects — a redirect to the user portal (w.c.s.), or a final page (status, where the chain ends,
title, password form, texts).
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from publik_acceptance.config.catalogue import Landing
from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.judge.expectations import Judgement, State, ok
from publik_acceptance.plan import PageExpectation, Target

NOT_SERVED_YET = (404, 502, 503, 504)
# w.c.s. answers 503 with these when its database is missing: that does not improve by waiting.
BROKEN_SERVICE_TEXTS = ("Error connecting to database", "Missing database configuration")


def judge_page(target: Target, hops: list[HttpExchange]) -> Judgement:
    """`hops` is the followed chain, first request first (never empty)."""
    expect = target.expect
    chain = describe_chain(hops)
    early = _not_served_yet(expect, hops, chain) or _broken_hop(expect, hops, chain)
    if early is not None:
        return early
    if expect.landing is Landing.PORTAL_REDIRECT:
        return _portal_redirect(expect, hops[0], chain)
    return _landing_page(target, hops, chain)


def describe_chain(hops: list[HttpExchange]) -> tuple[str, ...]:
    """One line per hop, with the TLS problem of a hop that was fetched over an unverified session."""
    return tuple(h.summary() + ("" if h.tls is None or h.tls.verified else f" [TLS: {h.tls.error}]") for h in hops)


def _not_served_yet(expect: PageExpectation, hops: list[HttpExchange], chain: tuple[str, ...]) -> Judgement | None:
    """Pending: a hop's tenant (this one, or authentic's) may not be deployed yet."""
    for hop in hops:
        broken = any(text in hop.body for text in BROKEN_SERVICE_TEXTS)
        if (hop.status in NOT_SERVED_YET and not broken) or hop.error_kind in ("connect", "timeout"):
            actual = f"{hop.url}: " + (hop.error or f"{hop.status} {hop.reason}")
            return Judgement(State.PENDING, expect.describe(), actual,
                             f"{urlsplit(hop.url).hostname} is not served yet: check that service and its "
                             "deployment", chain)
    return None


def _broken_hop(expect: PageExpectation, hops: list[HttpExchange], chain: tuple[str, ...]) -> Judgement | None:
    """Wrong: a hop with an invalid certificate, or without any HTTP answer."""
    for hop in hops:
        if hop.tls is not None and not hop.tls.verified:
            return Judgement(State.WRONG, f"{expect.describe()}, every hop with a valid certificate",
                             f"{hop.url}: {hop.tls.error}", "fix the certificate of that hop's host", chain)
        if hop.status is None:
            return Judgement(State.WRONG, expect.describe(), f"{hop.url}: {hop.error}",
                             "fix the redirect target or its frontend", chain)
    return None


def _portal_redirect(expect: PageExpectation, first: HttpExchange, chain: tuple[str, ...]) -> Judgement:
    """w.c.s.: the first answer redirects to the user portal (its homepage-redirect-url)."""
    location = urljoin(first.url, first.location or "") if first.location else None
    if first.is_redirect and _same_url(location, expect.redirect_to):
        return ok(expect.describe(), f"{first.status} to {location}", chain)
    actual = f"{first.status} to {location}" if first.is_redirect else f"{first.status} {first.reason}"
    return Judgement(State.WRONG, expect.describe(), actual,
                     "check misc.homepage-redirect-url in the w.c.s. skeleton (and [portal_url])", chain)


def _landing_page(target: Target, hops: list[HttpExchange], chain: tuple[str, ...]) -> Judgement:
    """The page the chain ends on: every mismatch of it is reported together."""
    expect, last = target.expect, hops[-1]
    problems = [*_status_problems(expect, hops), *_destination_problems(expect, last), *_content_problems(expect, last)]
    if problems:
        return Judgement(State.WRONG, expect.describe(), "; ".join(problems),
                         _page_todo(target), (*chain, f"final page title: {last.title!r}"))
    return ok(expect.describe(), f"{last.status} at {last.url}", chain)


def _status_problems(expect: PageExpectation, hops: list[HttpExchange]) -> list[str]:
    last = hops[-1]
    problems = []
    if last.is_redirect:
        problems.append(f"still redirecting after {len(hops)} hops")
    if last.status != expect.status:
        problems.append(f"final status {last.status} {last.reason}")
    return problems


def _destination_problems(expect: PageExpectation, last: HttpExchange) -> list[str]:
    """Where the chain ends: the identity provider's login page for services that redirect there."""
    final = urlsplit(last.url)
    problems = []
    if expect.final_host and final.hostname != expect.final_host:
        problems.append(f"ends on {final.hostname}, not {expect.final_host}")
    if expect.final_path and not final.path.startswith(expect.final_path):
        problems.append(f"ends on path {final.path}, not {expect.final_path}")
    return problems


def _content_problems(expect: PageExpectation, last: HttpExchange) -> list[str]:
    problems = []
    if expect.title and expect.title not in (last.title or ""):
        problems.append(f"title {last.title!r} lacks {expect.title!r}")
    if expect.password_form and not last.has_password_form:
        problems.append("no password field on the page")
    problems += [f"text {text!r} not on the page" for text in expect.contains if text not in last.body]
    return problems


def _page_todo(target: Target) -> str:
    if target.expect.landing is Landing.PAGE:
        return f"look at https://{target.hostname}/ and the {target.kind} logs (an error page? a wrong template?)"
    return "check the service's IdP configuration (set-idp) and authentic's login page"


def _same_url(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    return a.rstrip("/") == b.rstrip("/")
