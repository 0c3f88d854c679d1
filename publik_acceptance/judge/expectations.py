"""Judging observed state against the Plan: each judgement is ok, pending (may still come), or wrong.

"Pending" is what an asynchronous deployment looks like before it is done (absent directory, 404,
503 while deploying); "wrong" is a state that waiting does not usually fix (wrong owner, a 500, a
redirect elsewhere). The postdeploy collector keeps polling pending items until the deadline, and
settles a wrong one early only when the same wrong state is seen several polls in a row.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import urljoin, urlsplit

from publik_acceptance.config.catalogue import WCS_DEPLOYING_HOSTNAME, Landing
from publik_acceptance.evidence.probes.facts import PathFacts
from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.evidence.probes.postgres import DatabaseFacts
from publik_acceptance.plan import Target

NOT_SERVED_YET = (404, 502, 503, 504)
# w.c.s. answers 503 with these when its database is missing: that does not improve by waiting.
BROKEN_SERVICE_TEXTS = ("Error connecting to database", "Missing database configuration")


class State(Enum):
    OK = "ok"
    PENDING = "pending"
    WRONG = "wrong"


@dataclass(frozen=True)
class Judgement:
    state: State
    expected: str
    actual: str
    todo: str = ""
    evidence: tuple[str, ...] = field(default_factory=tuple)

    @property
    def signature(self) -> tuple[str, str]:
        """What must stay the same across polls for a wrong state to count as stable."""
        return (self.state.value, self.actual)


def ok(expected: str, actual: str, evidence: tuple[str, ...] = ()) -> Judgement:
    return Judgement(State.OK, expected, actual, evidence=evidence)


def judge_tenant(target: Target, paths: dict[str, PathFacts], site_options: bytes | None) -> Judgement:
    directory = paths.get(target.tenant_dir)
    hobo_json = paths.get(f"{target.tenant_dir}/hobo.json")
    expected = f"tenant directory {target.tenant_dir} owned by {target.owner}, with hobo.json"
    evidence = tuple(p.describe() for p in (directory, hobo_json) if p is not None)
    if directory is None or not directory.exists:
        return Judgement(State.PENDING, expected, "tenant directory absent",
                         f"check hobo-agent and the {target.kind} deployment logs on {target.server}", evidence)
    if directory.kind != "directory":
        return Judgement(State.WRONG, expected, f"{target.tenant_dir} is a {directory.kind}",
                         "remove what is in the way and redeploy", evidence)
    if directory.owner != target.owner:
        return Judgement(State.WRONG, expected, f"owned by {directory.owner}:{directory.group}",
                         f"chown -R {target.owner}: {target.tenant_dir} (the service runs as {target.owner})",
                         evidence)
    if hobo_json is None or not hobo_json.exists:
        return Judgement(State.PENDING, expected, "hobo.json not written yet",
                         "the deployment of this tenant did not finish: check hobo-agent's logs", evidence)
    if target.kind == "wcs":
        marker = _allowed_hostname(site_options)
        if marker == WCS_DEPLOYING_HOSTNAME:
            return Judgement(State.PENDING, expected, f"site-options.cfg still says allowed_hostname = {marker}",
                             "w.c.s. deployment still in progress or interrupted: check wcs-manage hobo_deploy",
                             evidence)
        config_pck = paths.get(f"{target.tenant_dir}/config.pck")
        if (config_pck is None or not config_pck.exists) and site_options is None:
            return Judgement(State.PENDING, expected, "neither config.pck nor site-options.cfg yet",
                             "w.c.s. deployment did not finish", evidence)
    return ok(expected, f"present, owner {directory.owner}", evidence)


def _allowed_hostname(site_options: bytes | None) -> str | None:
    if not site_options:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(site_options.decode("utf-8", "replace"))
    except configparser.Error:
        return None
    return parser.get("options", "allowed_hostname", fallback=None)


def judge_database(target: Target, facts: DatabaseFacts, tenant: Judgement) -> Judgement:
    """Schema (Django) or database with wcs_meta (w.c.s.); missing while the tenant is complete is wrong:
    w.c.s. creates its database only with a new tenant directory and never retries."""
    settled_tenant = tenant.state is State.OK
    if facts.error:
        return Judgement(State.PENDING, "database facts", facts.error, "check database access settings")
    if target.schema:
        expected = f"schema {target.schema} in database {target.database}"
        if target.database not in facts.databases:
            return Judgement(State.WRONG, expected, f"database {target.database} does not exist",
                             f"create the {target.kind} database; its packages normally do")
        if facts.has_schema(target.database, target.schema):
            return ok(expected, "present")
        return Judgement(State.WRONG if settled_tenant else State.PENDING, expected, "schema absent",
                         f"redeploy the tenant ({target.kind}-manage hobo_deploy) and check its logs for "
                         "database errors")
    expected = f"database {target.database} with table wcs_meta"
    if target.database not in facts.databases:
        return Judgement(State.WRONG if settled_tenant else State.PENDING, expected, "database absent",
                         "w.c.s. could not create it (createdb-connection-params, CREATEDB right, PostgreSQL "
                         "reachable?) and will not retry: fix, then delete the tenant directory and cook again")
    if not facts.wcs_meta.get(target.database):
        return Judgement(State.WRONG if settled_tenant else State.PENDING, expected, "database without wcs_meta",
                         "w.c.s. did not initialise the database: check wcs-manage's output")
    return ok(expected, "present, with wcs_meta")


def judge_page(target: Target, hops: list[HttpExchange]) -> Judgement:
    expect = target.expect
    chain = tuple(h.summary() + ("" if h.tls is None or h.tls.verified else f" [TLS: {h.tls.error}]")
                  for h in hops)
    first, last = hops[0], hops[-1]
    for hop in hops:  # a hop's tenant (this one, or authentic's) may not be deployed yet
        broken = any(text in hop.body for text in BROKEN_SERVICE_TEXTS)
        if (hop.status in NOT_SERVED_YET and not broken) or hop.error_kind in ("connect", "timeout"):
            actual = f"{hop.url}: " + (hop.error or f"{hop.status} {hop.reason}")
            return Judgement(State.PENDING, expect.describe(), actual,
                             f"{urlsplit(hop.url).hostname} is not served yet: check that service and its "
                             "deployment", chain)
    for hop in hops:
        if hop.tls is not None and not hop.tls.verified:
            return Judgement(State.WRONG, f"{expect.describe()}, every hop with a valid certificate",
                             f"{hop.url}: {hop.tls.error}", "fix the certificate of that hop's host", chain)
        if hop.status is None:
            return Judgement(State.WRONG, expect.describe(), f"{hop.url}: {hop.error}",
                             "fix the redirect target or its frontend", chain)
    if expect.landing is Landing.PORTAL_REDIRECT:
        location = urljoin(first.url, first.location or "") if first.location else None
        if first.is_redirect and _same_url(location, expect.redirect_to):
            return ok(expect.describe(), f"{first.status} to {location}", chain)
        actual = f"{first.status} to {location}" if first.is_redirect else f"{first.status} {first.reason}"
        return Judgement(State.WRONG, expect.describe(), actual,
                         "check misc.homepage-redirect-url in the w.c.s. skeleton (and [portal_url])", chain)
    problems = []
    if last.is_redirect:
        problems.append(f"still redirecting after {len(hops)} hops")
    if last.status != expect.status:
        problems.append(f"final status {last.status} {last.reason}")
    final = urlsplit(last.url)
    if expect.final_host and final.hostname != expect.final_host:
        problems.append(f"ends on {final.hostname}, not {expect.final_host}")
    if expect.final_path and not final.path.startswith(expect.final_path):
        problems.append(f"ends on path {final.path}, not {expect.final_path}")
    if expect.title and expect.title not in (last.title or ""):
        problems.append(f"title {last.title!r} lacks {expect.title!r}")
    if expect.password_form and not last.has_password_form:
        problems.append("no password field on the page")
    problems += [f"text {text!r} not on the page" for text in expect.contains if text not in last.body]
    if problems:
        return Judgement(State.WRONG, expect.describe(), "; ".join(problems),
                         _page_todo(target), (*chain, f"final page title: {last.title!r}"))
    return ok(expect.describe(), f"{last.status} at {last.url}", chain)


def _page_todo(target: Target) -> str:
    if target.expect.landing is Landing.PAGE:
        return f"look at https://{target.hostname}/ and the {target.kind} logs (an error page? a wrong template?)"
    return "check the service's IdP configuration (set-idp) and authentic's login page"


def _same_url(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    return a.rstrip("/") == b.rstrip("/")
