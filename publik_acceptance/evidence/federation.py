"""Federation evidence: where Publik's SAML endpoints are, and a real login as the instance's superuser.

Where things are (see /work/notes/saml-contract.md and the README's "Federation and login" for the
sources): authentic's IdP under /idp/saml2/ (metadata, sso); django-mellon SPs under /accounts/mellon/
(metadata/, login/), w.c.s. under /saml/ (metadata, assertionConsumerPost). An anonymous login starts
at combo's and hobo's /login/, w.c.s.'s /login/ and /backoffice/, the other Django services' mellon
login.

The login (once per instance) is a browser session: the agent portal's login (or w.c.s.'s back office
when there is no agent portal) → authentic's login form → the SAMLResponse form back to the SP's
assertion consumer → the portal, then each w.c.s. back office through single sign-on, then logout. The
password is posted only to the planned authentic host, the assertion only to planned hosts; neither
ever appears in what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from publik_acceptance.evidence.probes.browser import Browser
from publik_acceptance.evidence.probes.forms import Form, login_form, saml_post_form, submission
from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.plan import Plan, Target

IDP_KIND = "authentic"
IDP_METADATA_PATH = "/idp/saml2/metadata"
IDP_SSO_PATH = "/idp/saml2/sso"
MELLON_METADATA_PATH = "/accounts/mellon/metadata/"
MELLON_LOGIN_PATH = "/accounts/mellon/login/"
WCS_METADATA_PATH = "/saml/metadata"
WCS_BACKOFFICE_PATH = "/backoffice/"
AGENT_PORTAL_TEMPLATE = "portal-agent"
LOGIN_PATHS = {"wcs": "/login/", "combo": "/login/", "hobo": "/login/"}  # others: their mellon login
MAX_SAML_POSTS = 3  # a chain needing more SAML form posts than this is a loop


def sp_metadata_path(target: Target) -> str:
    return WCS_METADATA_PATH if target.kind == "wcs" else MELLON_METADATA_PATH


def expected_entity_id(target: Target) -> str:
    """The SP entity ID Publik gives a service: its metadata URL on its own host."""
    return f"https://{target.hostname}{sp_metadata_path(target)}"


def idp_of(plan: Plan, instance: str) -> Target | None:
    """The instance's identity provider: its create-authentic service."""
    return next((t for t in plan.targets if t.instance == instance and t.kind == IDP_KIND), None)


def is_agent_portal(target: Target) -> bool:
    return target.kind == "combo" and AGENT_PORTAL_TEMPLATE in (target.template_name or "")


@dataclass(frozen=True)
class LoginEntry:
    """Where an anonymous login on a service starts: its id is the check's test id."""

    target: Target
    path: str
    backoffice: bool = False

    @property
    def id(self) -> str:
        return f"{self.target.kind}-backoffice|{self.target.hostname}" if self.backoffice else self.target.id

    @property
    def aspect(self) -> str:
        return "backoffice-redirect" if self.backoffice else "login-redirect"

    @property
    def url(self) -> str:
        return f"https://{self.target.hostname}{self.path}"

    @property
    def report_wait(self) -> str:
        """The postdeploy wait the report shows for this entry's check (report/declared.py)."""
        return self.aspect


def login_entries(plan: Plan) -> list[LoginEntry]:
    entries = []
    for target in sorted(plan.targets, key=lambda t: t.id):
        if target.kind == IDP_KIND:
            continue
        entries.append(LoginEntry(target, LOGIN_PATHS.get(target.kind, MELLON_LOGIN_PATH)))
        if target.kind == "wcs":
            entries.append(LoginEntry(target, WCS_BACKOFFICE_PATH, backoffice=True))
    return entries


REUSED_NOTE = "fetched once this round, by the page check's chain from /"


def login_chain_in(entry: LoginEntry, chains: list[list[HttpExchange]]) -> list[HttpExchange] | None:
    """The chain from `entry`'s login, when one of this round's page chains already followed it: a GET of
    the login path on the service's own host (any query: a page redirects to `/login/?next=/`), and every
    hop after it. Fetching it again would ask the same servers the same thing (and have the SP sign one more
    AuthnRequest), so the login check reads those hops; they are marked as such in its evidence. None when
    no chain went there, or when that chain did not end on an answer (an error, or still redirecting when
    the page check stopped following): then the check fetches its own."""
    for chain in chains:
        for i, hop in enumerate(chain):
            parts = urlsplit(hop.url)
            if hop.method == "GET" and parts.hostname == entry.target.hostname and parts.path == entry.path:
                suffix = chain[i:]
                last = suffix[-1]
                if last.status is None or last.is_redirect:
                    break
                return [replace(suffix[0], notes=(*suffix[0].notes, REUSED_NOTE)), *suffix[1:]]
    return None


def login_views(plan: Plan) -> list[Target]:
    """Where the real login shows a logged-in user: each agent portal and each w.c.s. back office of an
    instance whose recipe creates a superuser and an identity provider."""
    return [t for t in sorted(plan.targets, key=lambda t: t.id)
            if (is_agent_portal(t) or t.kind == "wcs") and plan.recipes[t.instance].has_superuser()
            and idp_of(plan, t.instance) is not None]


def superuser_email(plan: Plan, instance: str) -> str | None:
    for step in plan.recipes[instance].steps:
        if step.action == "create-superuser":
            email = step.params.get("email")
            return email if isinstance(email, str) and email else None
    return None


@dataclass(frozen=True)
class Step:
    name: str  # "start", "credentials", "assertion", "portal", "back office", "logout"
    hops: tuple[HttpExchange, ...]
    target: str | None = None  # the Target id the step is about (portal, back office)


@dataclass
class LoginTrace:
    """What one login session saw, step by step; `stopped` says why it could not go on (None: it went through)."""

    instance: str
    steps: list[Step] = field(default_factory=list)
    stopped: str | None = None
    refused: bool = False  # authentic answered its login form again after the credentials
    notes: list[str] = field(default_factory=list)

    def step(self, name: str, target: str | None = None) -> Step | None:
        return next((s for s in self.steps if s.name == name and (target is None or s.target == target)), None)


def log_in(browser: Browser, idp: Target, start: Target, email: str, password: str,
           wcs_targets: list[Target], planned_hosts: frozenset[str],
           started: tuple[str, list[HttpExchange]] | None = None) -> LoginTrace:
    """`started`: (the check's name, its chain) when this round already followed an anonymous login on
    `start` to authentic's login form (the login-redirect check): the session starts from there, with the
    cookies those answers set, as a browser that had followed it would, instead of asking again."""
    trace = LoginTrace(idp.instance)
    start_url = (f"https://{start.hostname}/login/?next=/" if start.kind != "wcs"
                 else f"https://{start.hostname}{WCS_BACKOFFICE_PATH}")
    if started is not None:
        name, hops = started
        for hop in hops:
            browser.jar.store(urlsplit(hop.url).hostname or "", hop.set_cookies)
        start_url = hops[0].url
        trace.notes.append(f"the login started from the chain {name} followed this round")
    else:
        hops = browser.follow(start_url)
    trace.steps.append(Step("start", tuple(hops), start.id))
    last = hops[-1]
    form = login_form(last.body, last.url) if last.status == 200 else None
    if form is None or urlsplit(last.url).hostname != idp.hostname:
        trace.stopped = f"the login from {start_url} did not reach authentic's login form (ended on {_end(last)})"
        return trace
    if urlsplit(form.action).hostname != idp.hostname or form.method != "POST":
        trace.stopped = (f"authentic's login form would {form.method} to {form.action}, not to {idp.hostname}: "
                         "the password was not sent")
        return trace
    user, secret = form.username_field, form.password_field
    if user is None or secret is None:
        trace.stopped = f"authentic's login form has no username field (fields: {', '.join(form.names())})"
        return trace
    hops = browser.follow(form.action, "POST", submission(form, {user.name: email, secret.name: password}),
                          referer=last.url)
    trace.steps.append(Step("credentials", tuple(hops)))
    last = hops[-1]
    saml = saml_post_form(last.body, last.url) if last.status == 200 else None
    if saml is None:
        trace.refused = last.status == 200 and login_form(last.body, last.url) is not None
        trace.stopped = ("authentic answered its login form again: it refused the superuser's credentials"
                         if trace.refused else f"no SAMLResponse form after the credentials (ended on {_end(last)})")
        return trace
    posted = _post_saml(browser, saml, last.url, planned_hosts, trace)
    if posted is None:
        return trace
    trace.steps.append(Step("assertion", tuple(posted), start.id))
    if start.kind != "wcs":
        trace.steps.append(Step("portal", tuple(browser.follow(f"https://{start.hostname}/")), start.id))
    for wcs in wcs_targets:
        trace.steps.append(Step("back office", tuple(single_sign_on(
            browser, f"https://{wcs.hostname}{WCS_BACKOFFICE_PATH}", planned_hosts, trace)), wcs.id))
    return trace


def single_sign_on(browser: Browser, url: str, planned_hosts: frozenset[str], trace: LoginTrace) -> list[HttpExchange]:
    """GET `url`; while the chain ends on a SAMLResponse form (the IdP answering at once, its session
    open), post it, as the page's script would."""
    hops = browser.follow(url)
    for _ in range(MAX_SAML_POSTS):
        last = hops[-1]
        form = saml_post_form(last.body, last.url) if last.status == 200 else None
        if form is None:
            break
        posted = _post_saml(browser, form, last.url, planned_hosts, trace)
        if posted is None:
            break
        hops += posted
    return hops


def _post_saml(browser: Browser, form: Form, page: str, planned_hosts: frozenset[str],
               trace: LoginTrace) -> list[HttpExchange] | None:
    host = urlsplit(form.action).hostname or ""
    if host not in planned_hosts:
        trace.stopped = f"the SAMLResponse form posts to {form.action}: not a service of the plan, not sent"
        return None
    return browser.follow(form.action, "POST", submission(form, {}), referer=page)


def log_out(browser: Browser, urls: list[str], trace: LoginTrace) -> None:
    """Each service's logout, then the IdP's: noted, never judged (a session left open expires by itself)."""
    for url in urls:
        hops = browser.follow(url)
        last = hops[-1]
        trace.steps.append(Step("logout", tuple(hops)))
        trace.notes.append(f"logout {url}: ended on {_end(last)}")


def _end(exchange: HttpExchange) -> str:
    if exchange.status is None:
        return f"{short_url(exchange.url)}: {exchange.error}"
    return f"{short_url(exchange.url)} ({exchange.status} {exchange.reason})"


def short_url(url: str, limit: int = 160) -> str:
    """A URL for a message: SAML messages in queries are long and say nothing to a reader."""
    return url if len(url) <= limit else url[:limit] + "…"
