"""The stand-in services as SAML 2.0 service providers (lasso): django-mellon's shape and w.c.s.'s.

mellon (combo, hobo, passerelle, fargo, …): `/login/` → `/accounts/mellon/login/?next=…` → the IdP's
SSO with a signed AuthnRequest (HTTP-Redirect, RelayState a UUID, next kept here); the Response is
posted back to `/accounts/mellon/login/` (session cookie, 302 to next); `/accounts/mellon/metadata/`;
`/logout/` → `/accounts/mellon/logout/` → the IdP's SLO. The IdP metadata is the copy its deployment
stored, else authentic's read from its tenant when needed (mellon loads its METADATA_URL at run time).
w.c.s.: `/login/` → the IdP's SSO (RelayState = next); `/backoffice/` anonymous → `/login/?next=…`;
`/saml/assertionConsumerPost` (303 to RelayState); `/saml/metadata`; `/logout`. Its IdP metadata is the
one fetched at deploy (`saml/idp-metadata.xml`): without it, "SSO support is not yet configured".
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from publik_sandbox import saml, saml_pages, saml_web
from publik_sandbox.saml_web import Reply, Web

SESSION_COOKIE = "sessionid"
TenantFinder = Callable[[str, str], "Path | None"]  # (kind, host) → the tenant directory, if deployed


class Sp:
    def __init__(self, find_tenant: TenantFinder) -> None:
        self.lasso = saml.load_lasso()
        self.find_tenant = find_tenant
        self.sessions = saml_web.Sessions()
        self._servers: dict[Path, tuple[tuple, Any]] = {}
        self._relay = saml_web.Pending()  # RelayState → (host, next)
        self.lock = threading.Lock()

    # -- where the IdP is ------------------------------------------------------------------------
    def idp_metadata(self, web: Web) -> tuple[str, Path] | None:
        """(metadata, file it comes from) of this service's IdP, or None when it has none (yet)."""
        path = saml.saml_dir(web.tenant) / "idp-metadata.xml"
        text = saml.read_text(path)
        if text or web.kind == "wcs":  # w.c.s. only knows the copy its deployment fetched
            return (text, path) if text else None
        idp = next((s.get("base_url") for s in web.hobo.get("services", []) if s.get("service-id") == "authentic"),
                   None)
        host = (urlsplit(idp).hostname or "") if idp else ""
        tenant = self.find_tenant("authentic", host) if idp and host else None
        if idp is None or tenant is None:
            return None
        path = saml.saml_dir(tenant) / "cert.pem"
        cert = saml.read_text(path)
        return (saml.idp_metadata(idp, cert), path) if cert else None

    def server(self, web: Web) -> Any | None:
        directory = saml.saml_dir(web.tenant)
        idp = self.idp_metadata(web)
        if idp is None:
            return None
        try:
            stamp = tuple(p.stat().st_mtime_ns for p in (directory / "key.pem", directory / "metadata.xml", idp[1]))
        except OSError:
            return None
        cached = self._servers.get(web.tenant)
        if cached and cached[0] == (stamp, idp[0]):
            return cached[1]
        key, metadata = saml.read_text(directory / "key.pem"), saml.read_text(directory / "metadata.xml")
        cert = saml.read_text(directory / "cert.pem")
        if not key or not metadata or not cert:
            return None
        lasso = self.lasso
        try:
            server = lasso.Server.newFromBuffers(saml.for_lasso(metadata)[0], key, None, cert)
            server.signatureMethod = lasso.SIGNATURE_METHOD_RSA_SHA256
            stripped, pem = saml.for_lasso(idp[0])
            server.addProviderFromBuffer(lasso.PROVIDER_ROLE_IDP, stripped, pem)
        except lasso.Error:
            return None
        self._servers[web.tenant] = ((stamp, idp[0]), server)
        return server

    def user(self, web: Web) -> dict | None:
        return self.sessions.get(web.host, web.cookies.get(SESSION_COOKIE))

    # -- dispatch -------------------------------------------------------------------------------
    def handle(self, web: Web) -> Reply | None:
        return self.handle_wcs(web) if web.kind == "wcs" else self.handle_mellon(web)

    def handle_mellon(self, web: Web) -> Reply | None:
        path = web.path
        if path == "/accounts/mellon/metadata/":
            return self.metadata(web)
        if path == "/login/":
            return Reply.redirect(f"/accounts/mellon/login/?next={_quote(web.param('next') or '/')}")
        if path == "/accounts/mellon/login/":
            if web.method == "POST" and web.field("SAMLResponse"):
                return self.consume(web, 302)
            nxt = saml_web.safe_next(web.param("next"), web.host, "/")
            if self.user(web):
                return Reply.redirect(nxt)
            return self.authn_request(web, nxt, relay=str(uuid.uuid4()))
        if path == "/logout/":
            return Reply.redirect(f"/accounts/mellon/logout/?next={_quote(web.param('next') or '/')}")
        if path == "/accounts/mellon/logout/":
            return self.logout(web)
        return None

    def handle_wcs(self, web: Web) -> Reply | None:
        path = web.path
        if path in ("/saml/metadata", "/saml/metadata.xml"):
            return self.metadata(web)
        if path in ("/login/", "/login"):
            nxt = saml_web.safe_next(web.param("next"), web.host, "/")
            if self.user(web):
                return Reply.redirect(nxt)
            return self.authn_request(web, nxt, relay=nxt)
        if path in ("/backoffice/", "/backoffice"):
            user = self.user(web)
            if user:
                return Reply(200, saml_pages.backoffice_page(user["email"]))
            return Reply.redirect(f"/login/?next={_quote(f'https://{web.host}/backoffice/')}")
        if path == "/saml/assertionConsumerPost" and web.method == "POST":
            return self.consume(web, 303)
        if path in ("/logout", "/logout/", "/saml/singleLogout"):
            return self.logout(web)
        return None

    # -- SAML steps -----------------------------------------------------------------------------
    def metadata(self, web: Web) -> Reply:
        text = saml.read_text(saml.saml_dir(web.tenant) / "metadata.xml")
        if text is None:
            return Reply(404, saml_pages.error_page("Not Found", "No metadata.", "en"))
        return Reply(200, text, "text/xml")

    def authn_request(self, web: Web, nxt: str, relay: str) -> Reply:
        lasso = self.lasso
        with self.lock:
            server = self.server(web)
            if server is None:
                if web.kind == "wcs":
                    return Reply(200, saml_pages.error_page("Erreur", "SSO support is not yet configured", "en"))
                return Reply(500, saml_pages.error_page("Erreur serveur", "No identity provider is configured."))
            login = lasso.Login(server)
            try:
                login.initAuthnRequest(None, lasso.HTTP_METHOD_REDIRECT)
                login.request.nameIdPolicy.format = saml.PERSISTENT
                login.request.nameIdPolicy.allowCreate = True
                login.request.protocolBinding = lasso.SAML2_METADATA_BINDING_POST
                login.msgRelayState = relay
                login.buildAuthnRequestMsg()
            except lasso.Error as exc:
                return Reply(500, saml_pages.error_page("Erreur serveur", f"AuthnRequest: {type(exc).__name__}"))
            self._relay.put(relay, (web.host, nxt))
            return Reply.redirect(login.msgUrl)

    def consume(self, web: Web, status: int) -> Reply:
        """The assertion consumer: verify the signed Response (lasso), open the session, go to next."""
        lasso = self.lasso
        with self.lock:
            server = self.server(web)
            if server is None:
                return Reply(200, saml_pages.error_page("Erreur", "Request from unknown provider ID", "en"))
            login = lasso.Login(server)
            try:
                login.processAuthnResponseMsg(web.field("SAMLResponse"))
                login.acceptSso()
            except lasso.Error as exc:
                return Reply(200, saml_pages.error_page("Échec de l'authentification",
                                                        f"L'authentification a échoué ({type(exc).__name__})."))
            attributes = _attributes(login.assertion)
            session_dump = login.session.dump() if login.session is not None else None
            relay = web.field("RelayState")
            kept = self._relay.pop(relay)
        nxt = kept[1] if kept and kept[0] == web.host else saml_web.safe_next(relay, web.host, "/")
        email = attributes.get("email") or (login.nameIdentifier.content if login.nameIdentifier else "")
        sid = self.sessions.new(web.host, {"email": email, "session_dump": session_dump})
        return Reply.redirect(nxt, status, cookies=[saml_web.session_cookie(SESSION_COOKIE, sid)])

    def logout(self, web: Web) -> Reply:
        """SP-initiated logout (a signed LogoutRequest to the IdP), or the IdP's LogoutResponse coming back."""
        cookies = [saml_web.expired_cookie(SESSION_COOKIE)]
        if web.param("SAMLResponse"):
            kept = self._relay.pop(web.param("RelayState"))
            return Reply.redirect(kept[1] if kept and kept[0] == web.host else "/")
        nxt = saml_web.safe_next(web.param("next"), web.host, "/")
        user = self.sessions.drop(web.host, web.cookies.get(SESSION_COOKIE))
        if not user or not user.get("session_dump"):
            return Reply.redirect(nxt, cookies=cookies)
        lasso = self.lasso
        with self.lock:
            server = self.server(web)
            if server is None:
                return Reply.redirect(nxt, cookies=cookies)
            logout = lasso.Logout(server)
            try:
                logout.setSessionFromDump(user["session_dump"])
                logout.initRequest(None, lasso.HTTP_METHOD_REDIRECT)
                relay = str(uuid.uuid4())
                logout.msgRelayState = relay
                logout.buildRequestMsg()
            except lasso.Error:
                return Reply.redirect(nxt, cookies=cookies)
            self._relay.put(relay, (web.host, nxt))
            return Reply.redirect(logout.msgUrl, cookies=cookies)


def _quote(value: str) -> str:
    return quote(value, safe="/")


def _attributes(assertion: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for statement in getattr(assertion, "attributeStatement", None) or []:
        for attribute in statement.attribute or []:
            for value in attribute.attributeValue or []:
                for node in value.any or []:
                    content = getattr(node, "content", None)
                    if content:
                        found.setdefault(attribute.name, content)
    return found
