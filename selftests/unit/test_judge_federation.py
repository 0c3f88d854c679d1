"""The federation judges on hand-built exchanges carrying real SAML documents (saml_documents.py)."""

from __future__ import annotations

import datetime
from dataclasses import replace

import pytest

from publik_acceptance.evidence.federation import LoginEntry, LoginTrace, Step, login_entries, login_views
from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.judge.expectations import State
from publik_acceptance.judge.federation import (
    judge_idp_metadata,
    judge_login,
    judge_login_redirect,
    judge_sp_metadata,
)

from .judge_facts import corpus_plan, exchange, target, unverified
from .saml_documents import IDP, certificate_b64, idp_metadata, mellon_metadata, sso_url, wcs_metadata

NOW = datetime.datetime.now(datetime.UTC)
IDP_URL = f"https://{IDP}/idp/saml2/metadata"
PORTAL, WCS, HOBO = "portail.example.test", "demarches.example.test", "hobo.example.test"
LOGIN_PAGE = ("<html><head><title>Connexion</title></head><form method='post' action=''>"
              "<input type='hidden' name='csrfmiddlewaretoken' value='t'><input name='username'>"
              "<input type='password' name='password'><input type='submit' name='login-password-submit'></form>")
UNKNOWN = ("<html><title>Authentic</title><p>Nous n'avons pas pu charger le fournisseur de service\n"
           "<tt>https://hobo.example.test/accounts/mellon/metadata/</tt>.</p></html>")


# -- IdP metadata -------------------------------------------------------------------------------------

def test_authentic_metadata_with_a_valid_certificate_is_ok() -> None:
    judgement = judge_idp_metadata(target("authentic"), exchange(IDP_URL, body=idp_metadata()), NOW)
    assert judgement.state is State.OK, judgement.actual
    assert judgement.actual == f"entityID {IDP_URL}"
    assert any("SingleSignOnService HTTP-Redirect" in line for line in judgement.evidence)


@pytest.mark.parametrize("document, words", [
    (idp_metadata(cert=certificate_b64(IDP, days_before=400, days_after=-30)), "signing certificate expired on"),
    (idp_metadata(cert=certificate_b64(IDP, days_before=-3, days_after=30)), "not valid before"),
    (idp_metadata(sso_host="elsewhere.example.test"),
     "SingleSignOnService https://elsewhere.example.test/idp/saml2/sso is not on connexion.example.test"),
    (idp_metadata(use="encryption"), "no signing key"),
    (idp_metadata(host="other.example.test"), "entityID https://other.example.test/idp/saml2/metadata is not on"),
    (mellon_metadata(IDP), "no IDPSSODescriptor"),
    ("<html><title>Erreur</title></html>", "not SAML metadata: root element html"),
])
def test_wrong_idp_metadata_is_named(document: str, words: str) -> None:
    judgement = judge_idp_metadata(target("authentic"), exchange(IDP_URL, body=document), NOW)
    assert judgement.state is State.WRONG
    assert words in judgement.actual
    assert "authentic" in judgement.todo


def test_a_bare_signing_key_passes_with_a_note() -> None:
    bare = ('<ns0:KeyDescriptor use="signing"><ns1:KeyInfo><ns1:KeyValue><ns1:RSAKeyValue><ns1:Modulus>AQAB'
            '</ns1:Modulus><ns1:Exponent>AQAB</ns1:Exponent></ns1:RSAKeyValue></ns1:KeyValue></ns1:KeyInfo>'
            '</ns0:KeyDescriptor>')
    judgement = judge_idp_metadata(target("authentic"), exchange(IDP_URL, body=idp_metadata(key_xml=bare)), NOW)
    assert judgement.state is State.OK
    assert "bare RSA key" in judgement.actual


def test_idp_metadata_not_served_yet_is_pending_and_a_bad_certificate_wrong() -> None:
    assert judge_idp_metadata(target("authentic"), exchange(IDP_URL, 404), NOW).state is State.PENDING
    tls = replace(exchange(IDP_URL, body=idp_metadata()), tls=unverified(IDP))
    judgement = judge_idp_metadata(target("authentic"), tls, NOW)
    assert judgement.state is State.WRONG and "certificate has expired" in judgement.actual


# -- SP metadata --------------------------------------------------------------------------------------

def test_mellon_and_wcs_metadata_on_their_own_hosts_are_ok() -> None:
    combo = judge_sp_metadata(target("combo"), exchange(f"https://{PORTAL}/accounts/mellon/metadata/",
                                                        body=mellon_metadata(PORTAL)))
    assert combo.state is State.OK and combo.actual == f"entityID https://{PORTAL}/accounts/mellon/metadata/"
    wcs = judge_sp_metadata(target("wcs"), exchange(f"https://{WCS}/saml/metadata", body=wcs_metadata(WCS)))
    assert wcs.state is State.OK and wcs.actual == f"entityID https://{WCS}/saml/metadata"


def test_sp_metadata_naming_another_host_is_wrong() -> None:
    url = f"https://{PORTAL}/accounts/mellon/metadata/"
    judgement = judge_sp_metadata(target("combo"), exchange(url, body=mellon_metadata(PORTAL, entity_host="x.test",
                                                                                       acs_host="x.test")))
    assert judgement.state is State.WRONG
    assert judgement.actual == (f"entityID https://x.test/accounts/mellon/metadata/ is not on {PORTAL}; "
                                f"AssertionConsumerService https://x.test/accounts/mellon/login/ is not on {PORTAL}; "
                                f"AssertionConsumerService https://x.test/accounts/mellon/login/ is not on {PORTAL}")
    assert PORTAL in judgement.todo


def test_sp_metadata_not_there_yet_is_pending() -> None:
    assert judge_sp_metadata(target("wcs"), exchange(f"https://{WCS}/saml/metadata", 404)).state is State.PENDING


# -- login redirect -----------------------------------------------------------------------------------

def entry(kind: str, backoffice: bool = False) -> LoginEntry:
    return next(e for e in login_entries(corpus_plan()) if e.target.kind == kind and e.backoffice == backoffice)


def mellon_chain(host: str, issuer_host: str | None = None, end: HttpExchange | None = None) -> list[HttpExchange]:
    sso = sso_url(f"https://{issuer_host or host}/accounts/mellon/metadata/")
    login = f"https://{IDP}/login/?next=/idp/saml2/continue%3Fnonce%3D_1&nonce=_1"
    return [exchange(f"https://{host}/login/", 302, location="/accounts/mellon/login/?next=/"),
            exchange(f"https://{host}/accounts/mellon/login/?next=/", 302, location=sso),
            *([end] if end is not None else [exchange(sso, 302, location=login), exchange(login, body=LOGIN_PAGE)])]


def test_a_chain_through_the_idp_with_this_services_request_is_ok() -> None:
    judgement = judge_login_redirect(entry("hobo"), target("authentic"), mellon_chain(HOBO))
    assert judgement.state is State.OK, judgement.actual
    assert judgement.actual.startswith(f"authentic's login page at https://{IDP}/login/")
    assert f"AuthnRequest: Issuer https://{HOBO}/accounts/mellon/metadata/, Destination https://{IDP}/idp/saml2/sso, " \
           "signed" in judgement.evidence


def test_the_unknown_provider_page_is_named() -> None:
    sso = sso_url(f"https://{HOBO}/accounts/mellon/metadata/")
    hops = mellon_chain(HOBO, end=exchange(sso, 200, body=UNKNOWN))
    judgement = judge_login_redirect(entry("hobo"), target("authentic"), hops)
    assert judgement.state is State.WRONG and not judgement.final
    assert judgement.actual == (f"authentic's unknown-provider page: the IdP does not know "
                                f"https://{HOBO}/accounts/mellon/metadata/")
    assert "register the service with authentic" in judgement.todo


def test_a_request_issued_by_another_service_is_wrong() -> None:
    judgement = judge_login_redirect(entry("hobo"), target("authentic"), mellon_chain(HOBO, issuer_host=PORTAL))
    assert judgement.state is State.WRONG
    assert judgement.actual == (f"the AuthnRequest's Issuer https://{PORTAL}/accounts/mellon/metadata/ is not on "
                                f"{HOBO}: not this service's own request")
    # …even when the service's own metadata names that other host (saml-sp-metadata-wrong-host).
    published = f"https://{PORTAL}/accounts/mellon/metadata/"
    assert judge_login_redirect(entry("hobo"), target("authentic"), mellon_chain(HOBO, issuer_host=PORTAL),
                                published).state is State.WRONG


def test_an_issuer_on_the_host_but_not_the_published_entity_is_wrong() -> None:
    judgement = judge_login_redirect(entry("hobo"), target("authentic"), mellon_chain(HOBO),
                                     f"https://{HOBO}/saml/metadata")
    assert judgement.state is State.WRONG
    assert judgement.actual == (f"the AuthnRequest's Issuer is https://{HOBO}/accounts/mellon/metadata/, not "
                                f"https://{HOBO}/saml/metadata")


def test_a_chain_through_another_service_proves_nothing() -> None:
    """The issue's passerelle: its login went to the user portal's, which went on to authentic."""
    portal_chain = mellon_chain(PORTAL)
    hops = [exchange(f"https://{HOBO}/login/", 302, location=f"https://{PORTAL}/login/"), *portal_chain]
    judgement = judge_login_redirect(entry("hobo"), target("authentic"), hops)
    assert judgement.state is State.WRONG
    assert judgement.actual.startswith(f"the chain passes through {PORTAL} before the IdP")


def test_the_wcs_race_never_reaches_the_idp() -> None:
    page = "<html><title>Erreur</title><p>SSO support is not yet configured</p></html>"
    judgement = judge_login_redirect(entry("wcs"), target("authentic"), [exchange(f"https://{WCS}/login/", body=page)])
    assert judgement.state is State.WRONG and not judgement.final
    assert judgement.actual == f"never reaches the IdP: ends on https://{WCS}/login/ (200 OK, title 'Erreur')"
    assert "reachable while it deploys" in judgement.todo


def test_the_back_office_entry_has_its_own_id_and_wait() -> None:
    backoffice = entry("wcs", backoffice=True)
    assert backoffice.id == f"wcs-backoffice|{WCS}" and backoffice.report_wait == "backoffice-redirect"
    assert backoffice.url == f"https://{WCS}/backoffice/"
    assert entry("combo").url == f"https://{PORTAL}/login/"
    assert [e.id for e in login_entries(corpus_plan())] == [
        f"combo|{PORTAL}", f"hobo|{HOBO}", f"wcs|{WCS}", f"wcs-backoffice|{WCS}"]


def test_a_service_not_served_yet_is_pending() -> None:
    hops = [exchange(f"https://{WCS}/login/", 503, reason="Service Unavailable")]
    assert judge_login_redirect(entry("wcs"), target("authentic"), hops).state is State.PENDING


def test_a_local_login_form_is_not_federation() -> None:
    hops = [exchange(f"https://{WCS}/login/", body=LOGIN_PAGE)]
    judgement = judge_login_redirect(entry("wcs"), target("authentic"), hops)
    assert judgement.state is State.WRONG and "a local login form on the service" in judgement.actual


# -- the real login -----------------------------------------------------------------------------------

def logged_in_trace() -> LoginTrace:
    portal, wcs = target("combo"), target("wcs")
    trace = LoginTrace("ville")
    trace.steps += [Step("start", tuple(mellon_chain(PORTAL)), portal.id),
                    Step("portal", (exchange(f"https://{PORTAL}/", body="<a href='/logout/'>Déconnexion</a>"),),
                         portal.id),
                    Step("back office", (exchange(f"https://{WCS}/backoffice/", body="<h1>Back-office</h1>"),),
                         wcs.id)]
    return trace


def test_a_logged_in_portal_and_back_office_are_ok() -> None:
    portal = judge_login(target("combo"), logged_in_trace(), "admin@example.test")
    assert portal.state is State.OK, portal.actual
    wcs = judge_login(target("wcs"), logged_in_trace(), "admin@example.test")
    assert wcs.state is State.OK and wcs.actual == f"the back office answered at https://{WCS}/backoffice/"


def test_refused_credentials_fail_both_views_with_the_superuser_to_check() -> None:
    trace = LoginTrace("ville", steps=[Step("start", tuple(mellon_chain(PORTAL)), target("combo").id)],
                       stopped="authentic answered its login form again: it refused the superuser's credentials",
                       refused=True)
    for view in (target("combo"), target("wcs")):
        judgement = judge_login(view, trace, "admin@example.test")
        assert judgement.state is State.WRONG
        assert judgement.actual == "authentic answered its login form again: it refused the superuser's credentials"
        assert "check the superuser admin@example.test" in judgement.todo


def test_a_back_office_sending_back_to_the_login_is_not_logged_in() -> None:
    trace = logged_in_trace()
    trace.steps[2] = Step("back office", (exchange(f"https://{IDP}/login/?next=x", body=LOGIN_PAGE),), target("wcs").id)
    judgement = judge_login(target("wcs"), trace, "admin@example.test")
    assert judgement.state is State.WRONG and judgement.actual.startswith(f"not logged in: ends on https://{IDP}/login/")


def test_login_views_are_agent_portals_and_back_offices() -> None:
    # The corpus's combo is the user portal: only w.c.s.'s back office shows the login there.
    assert [v.id for v in login_views(corpus_plan())] == [f"wcs|{WCS}"]


def test_a_wcs_without_its_database_is_wrong_at_once_not_pending() -> None:
    body = "<html><body>Missing database configuration</body></html>"
    hops = [exchange(f"https://{WCS}/login/", 503, reason="Service Unavailable", body=body)]
    judgement = judge_login_redirect(entry("wcs"), target("authentic"), hops)
    assert judgement.state is State.WRONG
    assert judgement.actual == f"https://{WCS}/login/: 503 Service Unavailable ('Missing database configuration')"
    metadata = judge_sp_metadata(target("wcs"), hops[0])
    assert metadata.state is State.WRONG and "database" in metadata.todo
