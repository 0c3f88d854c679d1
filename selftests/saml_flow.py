"""SAML steps the sandbox self-tests take through the frontends (test_saml.py, test_faults.py).

Login entry points as the issue lists them: combo and hobo `/login/`, w.c.s. `/login/` and
`/backoffice/`, passerelle and fargo their mellon login. Messages are decoded here and verified with
lasso (the sandbox's loader, which only reads Debian's python3-lasso).
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
import zlib
from urllib.parse import parse_qs, urlsplit

from publik_sandbox import saml
from publik_sandbox.recipes import Service
from selftests.saml_browser import Browser, Form, Page, forms

NS = {"md": saml.MD, "ds": saml.DS, "samlp": saml.PROTOCOL, "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}


def login_path(service: Service) -> str:
    return "/login/" if service.kind in ("combo", "hobo", "wcs") else "/accounts/mellon/login/"


def metadata_path(service: Service) -> str:
    return "/idp/saml2/metadata" if service.kind == "authentic" else saml.SP_PATHS[saml.sp_flavour(service.kind)][
        "metadata"]


def browser(rig, frontend: int = 0) -> Browser:
    return Browser(rig.frontends[frontend], rig.ca)


def to_sso(rig, service: Service, path: str | None = None) -> tuple[Browser, list[Page]]:
    """Follow the service's anonymous login chain, on its own host, up to the first page elsewhere."""
    agent = browser(rig)
    url = f"https://{service.host}{path or login_path(service)}"
    pages = [agent.request("GET", url)]
    while pages[-1].status in (301, 302, 303) and pages[-1].location and len(pages) < 10:
        if urlsplit(pages[-1].location).hostname != service.host:
            break
        pages.append(agent.request("GET", pages[-1].location))
    return agent, pages


def authn_request(location: str) -> tuple[ET.Element, dict[str, list[str]]]:
    """The AuthnRequest of an HTTP-Redirect URL (base64 of raw deflate) and the URL's parameters."""
    query = parse_qs(urlsplit(location).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
    return ET.fromstring(xml), query


def metadata(rig, service: Service) -> ET.Element:
    agent = browser(rig)
    page = agent.request("GET", f"https://{service.host}{metadata_path(service)}")
    assert page.status == 200, (service.host, page.status, page.body[:300])
    assert page.headers.get("content-type", "").startswith("text/xml")
    return ET.fromstring(page.body)


def password_form(page: Page) -> Form | None:
    return next((f for f in forms(page) if f.has_password()), None)


def response_form(page: Page) -> Form | None:
    return next((f for f in forms(page) if "SAMLResponse" in f.fields), None)


def login_at_idp(agent: Browser, login_page: Page, email: str, password: str) -> Page:
    """Fill authentic's form (hidden fields, CSRF cookie already in the jar) and post it."""
    form = password_form(login_page)
    assert form is not None, login_page.body[:500]
    return agent.submit(login_page, form, {"username": email, "password": password, form.buttons[0]: ""})


def post_response(agent: Browser, page: Page) -> Page:
    form = response_form(page)
    assert form is not None, page.body[:500]
    return agent.submit(page, form)


def verify_response(rig, sp_service: Service, idp_service: Service, message: str) -> None:
    """Check the Response's signature with lasso, as the SP's own library would (raises lasso.Error)."""
    lasso = saml.load_lasso()
    sp_tenant = rig.tenant_dir(sp_service) / "saml"
    idp_cert = (rig.tenant_dir(idp_service) / "saml" / "cert.pem").read_text()
    server = lasso.Server.newFromBuffers((sp_tenant / "metadata.xml").read_text(), None, None, None)
    server.addProviderFromBuffer(lasso.PROVIDER_ROLE_IDP, saml.idp_metadata(idp_service.url, idp_cert))
    login = lasso.Login(server)
    login.processAuthnResponseMsg(message)


def superuser(rig) -> tuple[str, str]:
    email = rig.sandbox.instances()[0].superuser_email
    assert email, "the recipe has no create-superuser email"
    return email, rig.paths.superuser_password.read_text().strip()


def full_login(rig, portal: Service) -> tuple[Browser, Page]:
    """The agent portal's login through authentic with the superuser; returns the portal page after it."""
    email, password = superuser(rig)
    agent, pages = to_sso(rig, portal, "/login/?next=/")
    login_page = agent.get(pages[-1].location or "")
    after = login_at_idp(agent, login_page, email, password)
    return agent, post_response(agent, after) if response_form(after) else after
