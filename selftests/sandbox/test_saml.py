"""The sandbox federates for real: metadata, signed AuthnRequests and Responses, a login end to end.

Everything goes through the frontends with certificates verified, as the suite's probes do; the
signatures are checked with lasso. Tests run in file order after one cook.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography import x509

from publik_sandbox import saml
from selftests import clients, saml_flow
from selftests.saml_flow import NS

pytestmark = pytest.mark.sandbox
SPS = ("hobo", "portal-user", "portal-agent", "wcs", "passerelle", "fargo")


@pytest.fixture(scope="module", autouse=True)
def cooked(rig):
    rig.up()
    providers = rig.tenant_dir(rig.service("authentic")) / "saml" / "providers"
    assert not providers.exists(), "nothing is registered before a deployment"
    status, _, err = rig.cook()
    assert status == 0, err
    assert rig.wait_deployed(rig.services(), timeout=15)
    return rig


def _registered(rig) -> set[str]:
    providers = rig.tenant_dir(rig.service("authentic")) / "saml" / "providers"
    return {p.stem for p in providers.glob("*.xml")}


def test_idp_metadata_is_authentic_own_with_a_valid_signing_certificate(rig):
    authentic = rig.service("authentic")
    root = saml_flow.metadata(rig, authentic)
    assert root.tag == f"{{{saml.MD}}}EntityDescriptor"
    assert root.get("entityID") == f"https://{authentic.host}/idp/saml2/metadata"
    idp = root.find("md:IDPSSODescriptor", NS)
    assert idp is not None and saml.PROTOCOL in idp.get("protocolSupportEnumeration", "")
    sso = {s.get("Binding"): s.get("Location") for s in idp.findall("md:SingleSignOnService", NS)}
    assert sso[saml.REDIRECT] == f"https://{authentic.host}/idp/saml2/sso"
    body = idp.find("md:KeyDescriptor[@use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    assert body is not None and body.text
    cert = x509.load_der_x509_certificate(base64.b64decode(body.text))
    now = dt.datetime.now(dt.UTC)
    assert cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
    on_disk = (rig.tenant_dir(authentic) / "saml" / "cert.pem").read_text()
    assert saml.cert_body(on_disk) == body.text


@pytest.mark.parametrize("name", SPS)
def test_sp_metadata_names_the_service_own_host(rig, name):
    service = rig.service(name)
    root = saml_flow.metadata(rig, service)
    assert root.get("entityID") == saml.sp_entity_id(service.url, service.kind)
    sp = root.find("md:SPSSODescriptor", NS)
    assert sp is not None
    consumers = {a.get("Binding"): a.get("Location") for a in sp.findall("md:AssertionConsumerService", NS)}
    acs = saml.SP_PATHS[saml.sp_flavour(service.kind)]["acs"]
    assert consumers[saml.POST] == f"https://{service.host}{acs}"
    assert sp.find("md:KeyDescriptor/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS) is not None


def test_every_service_was_registered_by_its_deployment(rig):
    assert _registered(rig) == {rig.service(n).host for n in SPS}
    events = [e for e in rig.sandbox.agent_events() if e["event"] == "saml-registered"]
    assert {e["host"] for e in events} == _registered(rig)


@pytest.mark.parametrize("name", SPS)
def test_login_goes_to_authentic_with_the_service_own_signed_request(rig, name):
    service, authentic = rig.service(name), rig.service("authentic")
    agent, pages = saml_flow.to_sso(rig, service)
    location = pages[-1].location or ""
    assert location.startswith(f"https://{authentic.host}/idp/saml2/sso?"), [(p.url, p.status) for p in pages]
    request, query = saml_flow.authn_request(location)
    assert request.tag == f"{{{saml.PROTOCOL}}}AuthnRequest"
    assert request.findtext("saml:Issuer", namespaces=NS) == saml.sp_entity_id(service.url, service.kind)
    assert query["SigAlg"] and query["Signature"], "mellon and w.c.s. sign their requests"
    login_page = agent.get(location)
    assert (login_page.host, login_page.status) == (authentic.host, 200)
    assert "<title>Connexion</title>" in login_page.body
    form = saml_flow.password_form(login_page)
    assert form is not None and "csrfmiddlewaretoken" in form.fields
    assert form.buttons == ["login-password-submit"]
    assert agent.cookies[authentic.host]["csrftoken"] == form.fields["csrfmiddlewaretoken"]


def test_wcs_backoffice_sends_anonymous_users_to_its_login(rig):
    wcs = rig.service("wcs")
    _, pages = saml_flow.to_sso(rig, wcs, "/backoffice/")
    assert pages[0].status == 302 and pages[0].location == f"https://{wcs.host}/login/?next=https%3A//{wcs.host}/backoffice/"
    assert (pages[-1].location or "").startswith(f"https://{rig.service('authentic').host}/idp/saml2/sso?")


def test_a_tampered_request_is_refused(rig):
    authentic = rig.service("authentic")
    _, pages = saml_flow.to_sso(rig, rig.service("hobo"))
    location = pages[-1].location or ""
    tampered = location.replace("Signature=", "Signature=AAAA", 1)
    page = saml_flow.browser(rig).get(tampered, follow=False)
    assert page.status == 400 and saml_flow.password_form(page) is None
    garbage = saml_flow.browser(rig).get(f"https://{authentic.host}/idp/saml2/sso?SAMLRequest=abc", follow=False)
    assert garbage.status == 400 and "invalid message" in garbage.body


def test_wrong_password_and_missing_csrf_are_refused(rig):
    email, password = saml_flow.superuser(rig)
    agent, pages = saml_flow.to_sso(rig, rig.service("portal-agent"), "/login/?next=/")
    login_page = agent.get(pages[-1].location or "")
    again = saml_flow.login_at_idp(agent, login_page, email, password + "x")
    assert again.status == 200 and saml_flow.password_form(again) is not None
    assert saml_flow.response_form(again) is None and "mot de passe valides" in again.body
    form = saml_flow.password_form(login_page)
    assert form is not None
    forged = agent.request("POST", form.action, {**form.fields, "csrfmiddlewaretoken": "0" * 64, "username": email,
                                                 "password": password, "login-password-submit": ""},
                           {"Referer": login_page.url})
    assert forged.status == 403


def test_a_real_login_end_to_end_then_logout(rig):
    portal, wcs, authentic = rig.service("portal-agent"), rig.service("wcs"), rig.service("authentic")
    email, password = saml_flow.superuser(rig)
    anonymous = saml_flow.browser(rig).get(portal.url)
    assert anonymous.status == 200 and email not in anonymous.body and 'href="/logout/"' not in anonymous.body

    agent, pages = saml_flow.to_sso(rig, portal, "/login/?next=/")
    login_page = agent.get(pages[-1].location or "")
    answer = saml_flow.login_at_idp(agent, login_page, email, password)
    form = saml_flow.response_form(answer)
    assert form is not None, answer.body[:300]
    assert form.action == f"https://{portal.host}/accounts/mellon/login/" and form.method == "post"
    message = form.fields["SAMLResponse"]
    saml_flow.verify_response(rig, portal, authentic, message)  # lasso: signature and issuer
    xml = base64.b64decode(message).decode()
    assert password not in xml and f"https://{authentic.host}/idp/saml2/metadata" in xml
    lasso = saml.load_lasso()
    forged = base64.b64encode(xml.replace(email, f"x{email}").encode()).decode()
    with pytest.raises(lasso.Error):
        saml_flow.verify_response(rig, portal, authentic, forged)

    home = saml_flow.post_response(agent, answer)
    assert (home.url, home.status) == (portal.url, 200)
    assert email in home.body and 'href="/logout/"' in home.body
    assert "sessionid" in agent.cookies[portal.host]

    # w.c.s.: the IdP session is shared, no password asked again
    sso = agent.get(f"https://{wcs.host}/backoffice/")
    assert saml_flow.password_form(sso) is None and saml_flow.response_form(sso) is not None, sso.body[:300]
    backoffice = saml_flow.post_response(agent, sso)
    assert (backoffice.url, backoffice.status) == (f"https://{wcs.host}/backoffice/", 200)
    assert email in backoffice.body
    assert any(p.status == 303 for p in agent.history), "w.c.s.'s consumer answers 303"

    # logout: the portal's LogoutRequest goes to authentic's SLO, and both sessions end
    out = agent.get(f"https://{portal.host}/logout/")
    slo = [p for p in agent.history if p.url.startswith(f"https://{authentic.host}/idp/saml2/slo?")]
    assert slo and "SAMLRequest=" in slo[-1].url
    assert out.host == portal.host and email not in out.body
    relogin = agent.get(f"https://{portal.host}/login/?next=/")
    assert relogin.host == authentic.host and saml_flow.password_form(relogin) is not None, "IdP session over"
    agent.get(f"https://{wcs.host}/logout")  # w.c.s.'s own session: its LogoutRequest, authentic's answer back
    assert any(p.url.startswith(f"https://{wcs.host}/saml/singleLogout?SAMLResponse=") for p in agent.history)
    backoffice = agent.get(f"https://{wcs.host}/backoffice/")
    assert backoffice.host == authentic.host and saml_flow.password_form(backoffice) is not None


def test_idp_answers_from_disk_unknown_provider_once_unregistered(rig):
    fargo = rig.service("fargo")
    registered = rig.tenant_dir(rig.service("authentic")) / "saml" / "providers" / f"{fargo.host}.xml"
    kept = registered.read_bytes()
    registered.unlink()
    try:
        agent, pages = saml_flow.to_sso(rig, fargo)
        page = agent.get(pages[-1].location or "")
        assert page.status == 200 and saml_flow.password_form(page) is None
        assert "Nous n'avons pas pu charger le fournisseur de service" in page.body
        assert saml.sp_entity_id(fargo.url, "fargo") in page.body
    finally:
        registered.write_bytes(kept)


def test_superuser_is_stored_hashed_never_in_clear(rig):
    authentic = rig.service("authentic")
    users = json.loads((rig.tenant_dir(authentic) / "saml" / "users.json").read_text())
    email, password = saml_flow.superuser(rig)
    assert [u["email"] for u in users] == [email]
    assert users[0]["password"].startswith("pbkdf2_sha256$") and password not in json.dumps(users)
    key = rig.tenant_dir(authentic) / "saml" / "key.pem"
    assert key.stat().st_mode & 0o077 == 0


def test_a_redeployment_registers_the_service_again(rig):
    """Re-cook after unregistering passerelle: its deployment registers it again."""
    passerelle = rig.service("passerelle")
    registered = rig.tenant_dir(rig.service("authentic")) / "saml" / "providers" / f"{passerelle.host}.xml"
    registered.unlink()
    assert passerelle.host not in _registered(rig)
    status, _, err = rig.cook()
    assert status == 0, err
    assert clients.wait_for(lambda: registered.exists(), 10)
