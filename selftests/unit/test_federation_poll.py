"""When the real login runs: once the IdP metadata and the view's own redirect are settled; a view whose
redirect failed fails without a login; which items the federation adds to the wait; and a login chain a
page check already followed in the round is read, not fetched again, and a login starts from its view's
chain of the round."""

from __future__ import annotations

import ssl
from dataclasses import replace

from publik_acceptance.evidence.federation import REUSED_NOTE, LoginEntry, log_in, login_chain_in, login_entries
from publik_acceptance.evidence.prober import Prober
from publik_acceptance.evidence.probes.browser import Browser
from publik_acceptance.evidence.probes.http import Connections, HttpExchange
from publik_acceptance.judge.expectations import State
from publik_acceptance.judge.federation import judge_login_redirect
from publik_acceptance.judge.federation_poll import Federation, federation_items

from .judge_facts import corpus_plan, exchange, target
from .saml_documents import IDP, sso_url
from .test_judge_federation import LOGIN_PAGE

WCS = target("wcs")


def federation() -> Federation:
    plan = corpus_plan()
    return Federation(plan, Prober(plan.environment), lambda host: None)


def test_the_login_waits_for_the_idp_metadata_and_the_views_redirect() -> None:
    judged, sessions = federation()._sessions([WCS], lambda t, a: State.OK if a == "idp-metadata" else None)
    assert sessions == []
    judgement = judged[(WCS.id, "login")]
    assert judgement.state is State.PENDING
    assert judgement.actual == f"waiting for wcs-backoffice|{WCS.hostname} backoffice-redirect"


def test_a_view_whose_redirect_failed_fails_without_a_login() -> None:
    judged, sessions = federation()._sessions([WCS], lambda t, a: State.OK if a == "idp-metadata" else State.WRONG)
    assert sessions == []
    judgement = judged[(WCS.id, "login")]
    assert judgement.state is State.WRONG and judgement.final
    assert judgement.actual.startswith(f"cannot log in: https://{WCS.hostname}/backoffice/ does not lead to")
    assert f"test_login_redirect[wcs-backoffice|{WCS.hostname}]" in judgement.actual


def test_federation_items_and_postdeploy_login_false() -> None:
    plan = corpus_plan()
    aspects = sorted((t.kind, a) for t, a in federation_items(plan))
    assert aspects == [("authentic", "idp-metadata"), ("combo", "login-redirect"), ("combo", "sp-metadata"),
                       ("hobo", "login-redirect"), ("hobo", "sp-metadata"), ("wcs", "backoffice-redirect"),
                       ("wcs", "login"), ("wcs", "login-redirect"), ("wcs", "sp-metadata")]
    off = replace(plan, environment=replace(plan.environment,
                                            postdeploy=replace(plan.environment.postdeploy, login=False)))
    assert ("wcs", "login") not in {(t.kind, a) for t, a in federation_items(off)}


def test_a_view_whose_redirect_holds_is_ready_for_the_login() -> None:
    judged, sessions = federation()._sessions([WCS], lambda t, a: State.OK)
    assert judged == {} and sessions == [("ville", [WCS])]


# -- a login chain a page check already followed is read, not fetched again ---------------------------
def page_chain(host: str, end: HttpExchange | None = None) -> list[HttpExchange]:
    """A Django service's `/` as the page check follows it: to its own login, then the IdP's SSO."""
    sso = sso_url(f"https://{host}/accounts/mellon/metadata/")
    login = f"https://{IDP}/login/?next=/idp/saml2/continue%3Fnonce%3D_1&nonce=_1"
    return [exchange(f"https://{host}/", 302, location="/login/?next=/"),
            exchange(f"https://{host}/login/?next=/", 302, location="/accounts/mellon/login/?next=/"),
            exchange(f"https://{host}/accounts/mellon/login/?next=/", 302, location=sso),
            *([end] if end is not None else [exchange(sso, 302, location=login),
                                             exchange(login, body='<form><input type="password"></form>')])]


def hobo_entry() -> LoginEntry:
    return next(e for e in login_entries(corpus_plan()) if e.target.kind == "hobo")


def test_a_page_chain_through_the_login_is_the_login_chain_marked_as_reused() -> None:
    hobo = hobo_entry()
    chain = login_chain_in(hobo, [page_chain(hobo.target.hostname)])
    assert chain is not None and [h.url for h in chain] == [h.url for h in page_chain(hobo.target.hostname)[1:]]
    assert REUSED_NOTE in chain[0].notes and REUSED_NOTE in chain[0].summary()
    judgement = judge_login_redirect(hobo, target("authentic"), chain)
    assert judgement.state is State.OK, judgement.actual


def test_no_reuse_from_another_host_an_unfinished_chain_or_an_error() -> None:
    hobo = hobo_entry()
    other = target("combo").hostname
    assert login_chain_in(hobo, [page_chain(other)]) is None  # another service's login is not this one's
    assert login_chain_in(hobo, [page_chain(hobo.target.hostname)[:3]]) is None  # stopped while redirecting
    failed = exchange("https://x/", None, error_kind="timeout", error="no HTTP response")
    assert login_chain_in(hobo, [page_chain(hobo.target.hostname, end=failed)]) is None
    assert login_chain_in(hobo, []) is None


def test_the_poll_judges_a_reused_chain_without_fetching_it() -> None:
    hobo = hobo_entry()
    fed = federation()  # resolves nothing: a fetch would fail with "does not resolve"
    judged = fed.poll([(hobo.target, "login-redirect")], lambda t, a: None, ssl.create_default_context(),
                      Connections(), {hobo.target.id: [page_chain(hobo.target.hostname)]})
    assert fed.reused == 1
    assert judged[(hobo.target.id, "login-redirect")].state is State.OK


def test_a_login_starts_from_its_views_chain_of_this_round_with_its_cookies() -> None:
    hobo = hobo_entry()
    chain = page_chain(hobo.target.hostname, end=exchange(
        f"https://{IDP}/login/?next=/idp/saml2/continue%3Fnonce%3D_1&nonce=_1", body=LOGIN_PAGE))
    chain[-1] = replace(chain[-1], set_cookies=("csrftoken=abc; Path=/; Secure",))
    # Nothing resolves: the only requests this session can make fail, so the start must come from `chain`.
    browser = Browser(443, ssl.create_default_context(), 1.0, lambda host: None)
    idp = target("authentic")
    trace = log_in(browser, idp, hobo.target, "admin@example.test", "secret", [],
                   frozenset({idp.hostname, hobo.target.hostname}), ("test_login_redirect[x]", chain[1:]))
    start = trace.step("start")
    assert start is not None and list(start.hops) == chain[1:]
    assert "the login started from the chain test_login_redirect[x] followed this round" in trace.notes
    assert browser.jar.names(IDP) == ["csrftoken"]  # the cookies its answers set, as a browser keeps them
    credentials = trace.step("credentials")  # went on to post the form (which cannot resolve here)
    assert credentials is not None and "does not resolve" in (credentials.hops[0].error or "")
