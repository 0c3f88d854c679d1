"""The page judge on synthetic redirect chains: every branch, no server (the sandbox runs the real ones)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.judge.expectations import State
from publik_acceptance.judge.page import describe_chain, judge_page

from .judge_facts import exchange, target, unverified

HOBO, AUTHENTIC = "https://hobo.example.test/", "https://connexion.example.test/"
LOGIN = AUTHENTIC + "login/?next=/"
LOGIN_PAGE = "<html><head><title>Connexion - Ville</title></head><form><input type='password' name='p'></form></html>"
COMBO_PAGE = "<title>Portail</title><p>Votre installation de Combo fonctionne. Le site est actuellement vide.</p>"
PORTAL = "https://portail.example.test/"
WCS = "https://demarches.example.test/"


def login_chain() -> list[HttpExchange]:
    """hobo → its /login/ → authentic's login page: what a deployed hobo shows."""
    return [exchange(HOBO, 302, location="/login/?next=/"),
            exchange(HOBO + "login/?next=/", 302, location=LOGIN),
            exchange(LOGIN, 200, body=LOGIN_PAGE)]


# -- pending: a hop not served yet ------------------------------------------------------------------

@pytest.mark.parametrize("status", [404, 502, 503, 504])
def test_a_hop_not_served_yet_is_pending(status: int) -> None:
    hops = [*login_chain()[:2], exchange(LOGIN, status, reason="Unavailable")]
    judgement = judge_page(target("hobo"), hops)
    assert judgement.state is State.PENDING
    assert judgement.actual == f"{LOGIN}: {status} Unavailable"
    assert judgement.todo.startswith("connexion.example.test is not served yet")
    assert len(judgement.evidence) == 3


@pytest.mark.parametrize("kind", ["connect", "timeout"])
def test_no_connection_or_no_answer_is_pending(kind: str) -> None:
    judgement = judge_page(target("combo"), [exchange(PORTAL, None, error_kind=kind, error=f"{kind} failed")])
    assert judgement.state is State.PENDING
    assert judgement.actual == f"{PORTAL}: {kind} failed"


def test_a_wcs_without_its_database_is_wrong_not_pending() -> None:
    """w.c.s. answers 503 with this text when its database is missing: waiting does not fix it."""
    hops = [exchange(WCS, 503, reason="Service Unavailable", body="<p>Error connecting to database</p>")]
    judgement = judge_page(target("wcs"), hops)
    assert judgement.state is State.WRONG
    assert judgement.actual == "503 Service Unavailable"


# -- wrong: a broken hop ---------------------------------------------------------------------------

def test_a_hop_with_an_invalid_certificate_is_wrong() -> None:
    hops = login_chain()
    hops[2] = replace(hops[2], tls=unverified("connexion.example.test"))
    judgement = judge_page(target("hobo"), hops)
    assert judgement.state is State.WRONG
    assert judgement.expected.endswith(", every hop with a valid certificate")
    assert judgement.actual == f"{LOGIN}: certificate has expired"
    assert judgement.evidence[2].endswith(" [TLS: certificate has expired]")


def test_a_hop_without_an_http_answer_is_wrong() -> None:
    hops = [*login_chain()[:2], exchange(LOGIN, None, error_kind="http", error="no HTTP response")]
    judgement = judge_page(target("hobo"), hops)
    assert judgement.state is State.WRONG
    assert judgement.actual == f"{LOGIN}: no HTTP response"
    assert judgement.todo == "fix the redirect target or its frontend"


# -- w.c.s.: a redirect to the user portal ---------------------------------------------------------

def test_wcs_redirecting_to_the_portal_is_ok_with_or_without_the_final_slash() -> None:
    for location in (PORTAL, PORTAL.rstrip("/")):
        judgement = judge_page(target("wcs"), [exchange(WCS, 302, location=location)])
        assert judgement.state is State.OK, judgement
        assert judgement.actual == f"302 to {location}"


def test_wcs_relative_redirect_is_resolved_against_its_url() -> None:
    judgement = judge_page(target("wcs"), [exchange(WCS, 302, location="/backoffice/")])
    assert judgement.state is State.WRONG
    assert judgement.actual == f"302 to {WCS}backoffice/"
    assert "homepage-redirect-url" in judgement.todo


def test_a_portal_redirect_without_a_portal_url_never_passes() -> None:
    """The Plan always names the portal; a hand-made expectation without one must not pass by accident."""
    wcs = target("wcs")
    lost = replace(wcs, expect=replace(wcs.expect, redirect_to=None))
    assert judge_page(lost, [exchange(WCS, 302, location=PORTAL)]).state is State.WRONG


def test_wcs_answering_a_page_instead_of_redirecting_is_wrong() -> None:
    judgement = judge_page(target("wcs"), [exchange(WCS, 200, body="<title>Démarches</title>")])
    assert (judgement.state, judgement.actual) == (State.WRONG, "200 OK")


def test_a_redirect_without_location_is_no_redirect() -> None:
    judgement = judge_page(target("wcs"), [exchange(WCS, 302)])
    assert (judgement.state, judgement.actual) == (State.WRONG, "302 Found")


# -- a landing page: status, where the chain ends, title, password form, texts ------------------------

def test_hobo_ending_on_the_login_page_is_ok() -> None:
    judgement = judge_page(target("hobo"), login_chain())
    assert judgement.state is State.OK
    assert judgement.actual == f"200 at {LOGIN}"
    assert judgement.evidence == describe_chain(login_chain())


def test_the_authentic_login_page_is_ok() -> None:
    judgement = judge_page(target("authentic"), [exchange(AUTHENTIC, 302, location=LOGIN),
                                                 exchange(LOGIN, 200, body=LOGIN_PAGE)])
    assert judgement.state is State.OK


def test_the_empty_combo_site_is_ok() -> None:
    assert judge_page(target("combo"), [exchange(PORTAL, 200, body=COMBO_PAGE)]).state is State.OK


def test_a_chain_still_redirecting_reports_it_with_the_status() -> None:
    hops = login_chain()[:2]
    judgement = judge_page(target("hobo"), hops)
    assert judgement.state is State.WRONG
    assert judgement.actual.startswith("still redirecting after 2 hops; final status 302 Found; ")
    assert judgement.evidence[-1] == "final page title: None"


def test_every_mismatch_of_the_final_page_is_reported_together_in_order() -> None:
    elsewhere = "https://other.example.test/accounts/"
    hops = [exchange(HOBO, 302, location=elsewhere), exchange(elsewhere, 500, reason="Internal Server Error",
                                                              body="<title>Oops</title>")]
    judgement = judge_page(target("hobo"), hops)
    assert judgement.state is State.WRONG
    assert judgement.actual.split("; ") == [
        "final status 500 Internal Server Error",
        "ends on other.example.test, not connexion.example.test",
        "ends on path /accounts/, not /login/",
        "title 'Oops' lacks 'Connexion'",
        "no password field on the page",
    ]
    assert judgement.todo == "check the service's IdP configuration (set-idp) and authentic's login page"
    assert judgement.evidence[-1] == "final page title: 'Oops'"


def test_a_combo_page_without_the_expected_texts_names_each_and_points_at_the_logs() -> None:
    judgement = judge_page(target("combo"), [exchange(PORTAL, 200, body="<title>Portail</title>")])
    assert judgement.state is State.WRONG
    assert judgement.actual == ("text 'Votre installation de Combo fonctionne' not on the page; "
                                "text 'Le site est actuellement vide' not on the page")
    assert judgement.todo == ("look at https://portail.example.test/ and the combo logs "
                              "(an error page? a wrong template?)")


def test_describe_chain_marks_hops_over_unverified_tls() -> None:
    hops = [exchange(PORTAL, 200), exchange(PORTAL, 200, tls=unverified("portail.example.test", "self-signed"))]
    first, second = describe_chain(hops)
    assert first == f"GET {PORTAL} via 192.0.2.80: 200 OK"
    assert second == f"GET {PORTAL} via 192.0.2.80: 200 OK [TLS: self-signed]"


def test_judgement_signature_is_state_and_actual() -> None:
    judgement = judge_page(target("wcs"), [exchange(WCS, 200)])
    assert judgement.signature == ("wrong", "200 OK")
