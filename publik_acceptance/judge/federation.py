"""Federation judges: IdP metadata, SP metadata, each service's login redirect, the real login.

Pure: each takes what the probes saw (exchanges, a login trace) and the Plan's Targets, and says ok,
pending (not deployed yet: 404/503, no connection) or wrong. What each proves, and the Publik sources
it rests on, is in the README ("Federation and login") and /work/notes/saml-contract.md.
"""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

from publik_acceptance.evidence.federation import (
    IDP_METADATA_PATH,
    IDP_SSO_PATH,
    WCS_BACKOFFICE_PATH,
    LoginEntry,
    LoginTrace,
    expected_entity_id,
    short_url,
    sp_metadata_path,
)
from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.evidence.probes.saml import (
    POST,
    PROTOCOL,
    REDIRECT,
    Endpoint,
    Key,
    Metadata,
    Role,
    SamlDocumentError,
    read_authn_request,
    read_metadata,
)
from publik_acceptance.judge.expectations import Judgement, State, ok
from publik_acceptance.judge.page import BROKEN_SERVICE_TEXTS
from publik_acceptance.plan import Target

NOT_SERVED_YET = (404, 502, 503, 504)
UNKNOWN_PROVIDER_WORDS = ("fournisseur", "provider")  # authentic's unknown_provider.html, fr and en


def chain_lines(hops: list[HttpExchange] | tuple[HttpExchange, ...]) -> tuple[str, ...]:
    """One line per hop (URLs shortened: SAML messages are long), with a hop's TLS problem."""
    lines = []
    for hop in hops:
        where = f"{hop.method} {short_url(hop.url)} via {hop.address}"
        line = f"{where}: {hop.error}" if hop.status is None else f"{where}: {hop.status} {hop.reason}"
        if hop.location:
            line += f" → {short_url(hop.location)}"
        if hop.tls is not None and not hop.tls.verified:
            line += f" [TLS: {hop.tls.error}]"
        lines.append(line)
    return tuple(lines)


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def _unserved(hops: list[HttpExchange] | tuple[HttpExchange, ...]) -> HttpExchange | None:
    """A hop whose service is not served yet (pending), unless it says it is broken (see _broken)."""
    return next((h for h in hops if (h.status in NOT_SERVED_YET and _broken(h) is None)
                 or h.error_kind in ("connect", "timeout")), None)


def _broken(hop: HttpExchange) -> str | None:
    """What a service says when it is deployed but broken (w.c.s. without its database): waiting won't fix it."""
    return next((text for text in BROKEN_SERVICE_TEXTS if hop.status is not None and hop.status >= 500
                 and text in hop.body), None)


def _broken_service(expected: str, hops: list[HttpExchange] | tuple[HttpExchange, ...]) -> Judgement | None:
    for hop in hops:
        text = _broken(hop)
        if text is not None:
            return Judgement(State.WRONG, expected, f"{short_url(hop.url)}: {hop.status} {hop.reason} ({text!r})",
                             f"the service on {_host(hop.url)} is broken: fix it first (see its database check)",
                             chain_lines(hops))
    return None


def _untrusted(hops: list[HttpExchange] | tuple[HttpExchange, ...]) -> HttpExchange | None:
    return next((h for h in hops if (h.tls is not None and not h.tls.verified) or h.status is None), None)


def _fetch_problem(expected: str, exchange: HttpExchange, todo: str) -> Judgement | None:
    """Pending while not served; wrong on a TLS failure or any status but 200."""
    lines = chain_lines([exchange])
    broken = _broken_service(expected, [exchange])
    if broken is not None:
        return broken
    if _unserved([exchange]) is not None:
        return Judgement(State.PENDING, expected, f"{exchange.url}: " + (exchange.error or
                         f"{exchange.status} {exchange.reason}"), f"{todo} (not served yet?)", lines)
    if _untrusted([exchange]) is not None:
        actual = exchange.error if exchange.status is None else (exchange.tls.error if exchange.tls else "")
        return Judgement(State.WRONG, expected, f"{exchange.url}: {actual}", "fix the certificate of that host", lines)
    if exchange.status != 200:
        return Judgement(State.WRONG, expected, f"{exchange.url}: {exchange.status} {exchange.reason}", todo, lines)
    return None


def _metadata(exchange: HttpExchange, expected: str, todo: str) -> Judgement | tuple[Metadata, tuple[str, ...]]:
    """The metadata document a fetch brought, with its evidence lines; or why it is not one."""
    early = _fetch_problem(expected, exchange, todo)
    if early is not None:
        return early
    if exchange.truncated:
        return Judgement(State.WRONG, expected, "the document is larger than the probe reads", todo,
                         chain_lines([exchange]))
    try:
        metadata = read_metadata(exchange.body)
    except SamlDocumentError as exc:
        return Judgement(State.WRONG, expected, f"not SAML metadata: {exc}", todo, chain_lines([exchange]))
    return metadata, (*chain_lines([exchange]), *metadata.describe())


def _descriptor_problems(metadata: Metadata, host: str, role: Role | None, role_name: str) -> list[str]:
    """What an IdP's or SP's metadata gets wrong whatever its role: entityID off its host, no role, no SAML 2.0."""
    problems = []
    if _host(metadata.entity_id) != host:
        problems.append(f"entityID {metadata.entity_id} is not on {host}")
    if role is None:
        problems.append(f"no {role_name}")
    elif PROTOCOL not in role.protocols:
        problems.append(f"protocolSupportEnumeration lacks {PROTOCOL}")
    return problems


def _endpoint_problems(name: str, endpoints: tuple[Endpoint, ...], host: str, binding: str,
                       with_binding: str) -> list[str]:
    """A role's endpoints of one kind: at least one, all on `host`, one with the binding the other side uses."""
    if not endpoints:
        return [f"no {name}"]
    problems = [f"{name} {e.location} is not on {host}" for e in endpoints if e.host != host]
    if not any(e.binding == binding for e in endpoints):
        problems.append(f"no {name} with the {with_binding}")
    return problems


def judge_idp_metadata(idp: Target, exchange: HttpExchange, now: datetime.datetime) -> Judgement:
    url = f"https://{idp.hostname}{IDP_METADATA_PATH}"
    expected = (f"{url}: 200, a SAML 2.0 EntityDescriptor with an IDPSSODescriptor, a currently valid signing "
                f"certificate and single sign-on endpoints on {idp.hostname}")
    todo = f"check authentic's IdP on {idp.hostname} ({IDP_METADATA_PATH}) and its SAML signing key"
    read = _metadata(exchange, expected, todo)
    if isinstance(read, Judgement):
        return read
    metadata, evidence = read
    notes: list[str] = []
    role = metadata.idp
    problems = _descriptor_problems(metadata, idp.hostname, role, "IDPSSODescriptor")
    if role is not None:
        problems += _key_problems(role.keys, now, notes)
        problems += _endpoint_problems("SingleSignOnService", role.single_sign_on, idp.hostname, REDIRECT,
                                       "HTTP-Redirect binding (the one the services use)")
    if problems:
        return Judgement(State.WRONG, expected, "; ".join(problems), todo, evidence)
    return ok(expected, "; ".join([f"entityID {metadata.entity_id}", *notes]), evidence)


def _key_problems(keys: tuple[Key, ...], now: datetime.datetime, notes: list[str]) -> list[str]:
    signing = [k for k in keys if k.use in (None, "signing")]
    if not signing:
        return ["no signing key (KeyDescriptor use=\"signing\" or without use)"]
    valid = [k for k in signing if k.certificate is not None
             and k.certificate.not_before <= now <= k.certificate.not_after]
    if valid:
        return []
    if any(k.bare_key for k in signing):
        notes.append("the signing key is a bare RSA key, no certificate: nothing to date")
        return []
    problems = [k.describe() for k in signing if k.problem]
    for key in signing:
        cert = key.certificate
        if cert is not None and now < cert.not_before:
            problems.append(f"signing certificate not valid before {cert.not_before:%Y-%m-%d %H:%M} UTC")
        elif cert is not None and now > cert.not_after:
            problems.append(f"signing certificate expired on {cert.not_after:%Y-%m-%d %H:%M} UTC")
    return problems or ["no signing certificate"]


def judge_sp_metadata(target: Target, exchange: HttpExchange) -> Judgement:
    url = f"https://{target.hostname}{sp_metadata_path(target)}"
    expected = (f"{url}: 200, a SAML 2.0 EntityDescriptor with an SPSSODescriptor whose entityID and "
                f"assertion consumer endpoints are on {target.hostname}")
    todo = (f"check the {target.kind} tenant's SAML service provider settings (its metadata must name "
            f"{target.hostname}: the tenant's base URL), then redeploy it")
    read = _metadata(exchange, expected, todo)
    if isinstance(read, Judgement):
        return read
    metadata, evidence = read
    role = metadata.sp
    problems = _descriptor_problems(metadata, target.hostname, role, "SPSSODescriptor")
    if role is not None:
        problems += _endpoint_problems("AssertionConsumerService", role.assertion_consumers, target.hostname, POST,
                                       "HTTP-POST binding")
    if problems:
        return Judgement(State.WRONG, expected, "; ".join(problems), todo, evidence)
    actual = f"entityID {metadata.entity_id}"
    if metadata.entity_id != expected_entity_id(target):
        actual += f" (Publik's usual one is {expected_entity_id(target)})"
    return ok(expected, actual, evidence)


def judge_login_redirect(entry: LoginEntry, idp: Target | None, hops: list[HttpExchange],
                         entity_id: str | None = None) -> Judgement:
    """`hops`: the chain from the service's anonymous login URL; `entity_id`: the one its metadata
    publishes, when known (else Publik's usual one is expected)."""
    target = entry.target
    want = entity_id or expected_entity_id(target)
    if idp is None:
        return Judgement(State.WRONG, "an identity provider for the instance", "the recipe creates no authentic",
                         "add create-authentic to the recipe", final=True)
    sso_url = f"https://{idp.hostname}{IDP_SSO_PATH}"
    expected = (f"{entry.url} → {sso_url}?SAMLRequest=… (an AuthnRequest issued by {want}, sent from "
                f"{target.hostname}) → authentic's login page")
    lines = chain_lines(hops)
    todo = (f"check the {target.kind} tenant's identity provider settings (hobo deploys them; w.c.s. needs "
            f"https://{idp.hostname}{IDP_METADATA_PATH} reachable while it deploys), then redeploy it")
    unserved = _unserved(hops)
    broken_service = _broken_service(expected, hops)
    if broken_service is not None:
        return broken_service
    if unserved is not None:
        return Judgement(State.PENDING, expected, f"{short_url(unserved.url)}: " + (unserved.error or
                         f"{unserved.status} {unserved.reason}"), f"{_host(unserved.url)} is not served yet", lines)
    broken = _untrusted(hops)
    if broken is not None:
        actual = broken.error if broken.status is None else (broken.tls.error if broken.tls else "")
        return Judgement(State.WRONG, expected, f"{short_url(broken.url)}: {actual}",
                         "fix the certificate (or the frontend) of that hop's host", lines)
    at_sso = next((i for i, h in enumerate(hops) if _host(h.url) == idp.hostname
                   and urlsplit(h.url).path == IDP_SSO_PATH), None)
    if at_sso is None:
        return Judgement(State.WRONG, expected, _no_sso(entry, idp, hops), todo, lines)
    detour = next((h for h in hops[:at_sso] if _host(h.url) != target.hostname), None)
    if detour is not None:
        return Judgement(State.WRONG, expected,
                         f"the chain passes through {_host(detour.url)} before the IdP: the request sent is not "
                         f"{target.hostname}'s own", todo, lines)
    try:
        request = read_authn_request(hops[at_sso].url)
    except SamlDocumentError as exc:
        return Judgement(State.WRONG, expected, f"the SSO URL carries no readable AuthnRequest: {exc}", todo, lines)
    lines = (*lines, f"AuthnRequest: Issuer {request.issuer}, Destination {request.destination}, "
                     f"{'signed' if request.signed else 'unsigned'}")
    if _host(request.issuer or "") != target.hostname:
        return Judgement(State.WRONG, expected, f"the AuthnRequest's Issuer {request.issuer} is not on "
                         f"{target.hostname}: not this service's own request", todo, lines)
    if request.issuer != want:
        return Judgement(State.WRONG, expected, f"the AuthnRequest's Issuer is {request.issuer}, not {want}",
                         todo, lines)
    last = hops[-1]
    elsewhere = next((h for h in hops[at_sso:] if _host(h.url) != idp.hostname), None)
    if elsewhere is not None:
        return Judgement(State.WRONG, expected, f"authentic sent the login on to {short_url(elsewhere.url)}",
                         f"check {target.kind}'s federation in authentic", lines)
    if last.status == 200 and last.has_password_form:
        return ok(expected, f"authentic's login page at {short_url(last.url)}", lines)
    if last.status == 200 and _unknown_provider(last, request.issuer or want):
        return Judgement(State.WRONG, expected,
                         f"authentic's unknown-provider page: the IdP does not know {request.issuer}", _register(idp),
                         lines)
    return Judgement(State.WRONG, expected,
                     f"authentic answered the SSO request with {last.status} {last.reason} "
                     f"(title {last.title!r}), not its login page", _register(idp), lines)


def _register(idp: Target) -> str:
    return (f"register the service with authentic ({idp.hostname}): hobo deploys it as a SAML service provider "
            "of the IdP; check hobo-agent's logs and authentic's list of services")


def _unknown_provider(page: HttpExchange, issuer: str) -> bool:
    body = page.body.lower()
    return not page.has_password_form and (issuer.lower() in body or any(w in body for w in UNKNOWN_PROVIDER_WORDS))


def _no_sso(entry: LoginEntry, idp: Target, hops: list[HttpExchange]) -> str:
    target, last = entry.target, hops[-1]
    where = f"{short_url(last.url)} ({last.status} {last.reason}, title {last.title!r})"
    if last.is_redirect:
        return f"still redirecting after {len(hops)} hops, never through authentic's SSO"
    if _host(last.url) == target.hostname:
        if last.has_password_form:
            return f"never reaches the IdP: a local login form on the service, {where}"
        return f"never reaches the IdP: ends on {where}"
    if _host(last.url) == idp.hostname:
        return f"reaches authentic without a SAML request (not through {IDP_SSO_PATH}): ends on {where}"
    return f"never reaches the IdP: ends on another host, {where}"


def judge_login(view: Target, trace: LoginTrace, email: str) -> Judgement:
    """The agent portal (a page showing the user) or a w.c.s. back office (200, not the login) after the login."""
    backoffice = view.kind == "wcs"
    expected = (f"after logging in as {email} on authentic: " +
                (f"https://{view.hostname}{WCS_BACKOFFICE_PATH} answers the back office (200, no login form)"
                 if backoffice else f"https://{view.hostname}/ shows a logged-in user (a logout link or {email})"))
    lines = tuple(f"{s.name}: {line}" for s in trace.steps for line in chain_lines(s.hops)) + tuple(trace.notes)
    all_hops = [h for s in trace.steps if s.name != "logout" for h in s.hops]
    broken = _untrusted(all_hops)
    if broken is not None:
        actual = broken.error if broken.status is None else (broken.tls.error if broken.tls else "")
        return Judgement(State.WRONG, expected, f"{short_url(broken.url)}: {actual}",
                         "fix the certificate (or the frontend) of that host", lines)
    step = trace.step("back office" if backoffice else "portal", view.id)
    if step is None:
        actual = trace.stopped or "the login session never got to this service"
        todo = (f"check the superuser {email} (create-superuser) and the instance's superuser_password: log in by "
                "hand on authentic with them" if trace.refused else "follow the steps below to see where it stops")
        return Judgement(State.WRONG, expected, actual, todo, lines)
    last = step.hops[-1]
    where = f"{short_url(last.url)} ({last.status} {last.reason}, title {last.title!r})"
    if _host(last.url) != view.hostname or last.status != 200 or last.has_password_form:
        return Judgement(State.WRONG, expected, f"not logged in: ends on {where}",
                         f"check {view.kind}'s SAML assertion consumer and its sessions (its logs)", lines)
    if backoffice:
        if not urlsplit(last.url).path.startswith(WCS_BACKOFFICE_PATH):
            return Judgement(State.WRONG, expected, f"not the back office: ends on {where}",
                             "check the superuser's back-office access in w.c.s.", lines)
        return ok(expected, f"the back office answered at {short_url(last.url)}", lines)
    if "/logout" not in last.body and email.lower() not in last.body.lower():
        return Judgement(State.WRONG, expected, f"no logged-in user shown on {where} (no logout link, no {email})",
                         "check combo's SAML login (mellon) and the portal's user menu", lines)
    return ok(expected, f"logged in: {where}", lines)
