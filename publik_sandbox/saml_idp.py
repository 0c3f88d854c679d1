"""The stand-in authentic as a SAML 2.0 identity provider (lasso), decided from its tenant directory.

Endpoints as authentic2's: `/idp/saml2/metadata`, `/idp/saml2/sso` (HTTP-Redirect; an SP that no
deployment registered gets the unknown-provider page; a known one sends the anonymous user to
`/login/?next=/idp/saml2/continue?nonce=…`), `/idp/saml2/continue` (the signed Response in an
auto-submitted form), `/idp/saml2/slo` (the SP's LogoutRequest; a signed LogoutResponse back),
`/login/` (CSRF cookie + hidden field, Referer on the same host, the superuser from
`saml/users.json`), `/logout/`.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from publik_sandbox import saml, saml_pages, saml_web
from publik_sandbox.saml_web import Reply, Web

SESSION_COOKIE = "sessionid"
CSRF_COOKIE = "csrftoken"
PENDING_TTL = 1800.0


class Idp:
    def __init__(self) -> None:
        self.lasso = saml.load_lasso()
        self.sessions = saml_web.Sessions()
        self._servers: dict[Path, tuple[tuple, Any]] = {}
        self._pending = saml_web.Pending(PENDING_TTL)  # nonce → (host, SSO query)
        self.lock = threading.Lock()  # lasso objects are not thread-safe: one SAML operation at a time

    # -- the lasso server, cached until the tenant's keys or registry change ----------------------
    def server(self, tenant: Path, host: str) -> Any | None:
        directory = saml.saml_dir(tenant)
        providers = directory / "providers"
        try:
            files = sorted(providers.glob("*.xml")) if providers.is_dir() else []
            stamp = tuple((p.name, p.stat().st_mtime_ns) for p in [directory / "key.pem", directory / "cert.pem",
                                                                     *files])
        except OSError:
            return None
        cached = self._servers.get(tenant)
        if cached and cached[0] == stamp:
            return cached[1]
        cert, key = saml.read_text(directory / "cert.pem"), saml.read_text(directory / "key.pem")
        if not cert or not key:
            return None
        lasso = self.lasso
        own, _ = saml.for_lasso(saml.idp_metadata(f"https://{host}/", cert))
        server = lasso.Server.newFromBuffers(own, key, None, cert)
        server.signatureMethod = lasso.SIGNATURE_METHOD_RSA_SHA256
        for path in files:
            metadata = saml.read_text(path)
            if metadata:
                try:
                    stripped, pem = saml.for_lasso(metadata)
                    server.addProviderFromBuffer(lasso.PROVIDER_ROLE_SP, stripped, pem)
                except lasso.Error:
                    continue  # a broken registration is an unknown provider, as in authentic
        self._servers[tenant] = (stamp, server)
        return server

    # -- dispatch -------------------------------------------------------------------------------
    def handle(self, web: Web) -> Reply | None:
        """The answer for a SAML/login path of authentic, or None for the other paths."""
        path = web.path
        if path == "/idp/saml2/metadata":
            cert = saml.read_text(saml.saml_dir(web.tenant) / "cert.pem")
            if not cert:
                return Reply(404, saml_pages.error_page("Not Found", "No metadata.", "en"))
            return Reply(200, saml.idp_metadata(f"https://{web.host}/", cert), "text/xml")
        if path == "/idp/saml2/sso":
            return self.sso(web)
        if path == "/idp/saml2/continue":
            return self.continue_sso(web)
        if path == "/idp/saml2/slo":
            return self.slo(web)
        if path == "/login/":
            return self.login(web)
        if path == "/logout/":
            self.sessions.drop(web.host, web.cookies.get(SESSION_COOKIE))
            target = saml_web.safe_next(web.param("next"), web.host, "/")
            return Reply.redirect(target, cookies=[saml_web.expired_cookie(SESSION_COOKIE)])
        if path == "/":
            user = self.user(web)
            if user:
                return Reply(200, saml_pages.account_page("Mon compte", user["email"]))
            return None
        return None

    def user(self, web: Web) -> dict | None:
        return self.sessions.get(web.host, web.cookies.get(SESSION_COOKIE))

    # -- SSO ------------------------------------------------------------------------------------
    def sso(self, web: Web) -> Reply:
        if not web.param("SAMLRequest"):
            return Reply(400, saml_pages.error_page("Erreur", "SAMLv2 Single Sign On: invalid message", "en"))
        with self.lock:
            server = self.server(web.tenant, web.host)
            if server is None:
                return Reply(500, saml_pages.error_page("Erreur", "SAMLv2 Single Sign On: no key"))
            login = self.lasso.Login(server)
            try:
                login.processAuthnRequestMsg(web.query)
            except (self.lasso.ServerProviderNotFoundError, self.lasso.ProfileUnknownProviderError):
                return Reply(200, saml_pages.unknown_provider_page(_issuer(web.param("SAMLRequest"))))
            except self.lasso.Error as exc:
                return Reply(400, saml_pages.error_page(
                    "Erreur", f"SAMLv2 Single Sign On: invalid message ({type(exc).__name__})", "en"))
        if self.user(web):
            return self.respond(web, web.query)
        nonce = secrets.token_urlsafe(16)
        self._pending.put(nonce, (web.host, web.query))
        continue_url = f"/idp/saml2/continue?nonce={nonce}"
        return Reply.redirect(f"/login/?next={quote(continue_url, safe='')}&nonce={nonce}")

    def continue_sso(self, web: Web) -> Reply:
        nonce = web.param("nonce")
        pending = self._pending.get(nonce)
        if pending is None or pending[0] != web.host:
            return Reply(400, saml_pages.error_page("Erreur", "SAMLv2 Single Sign On: no pending request", "en"))
        if not self.user(web):
            return Reply.redirect(f"/login/?next={quote(f'/idp/saml2/continue?nonce={nonce}', safe='')}"
                                  f"&nonce={nonce}")
        self._pending.pop(nonce)
        return self.respond(web, pending[1])

    def respond(self, web: Web, query: str) -> Reply:
        """Build the signed Response for the user's IdP session and hand it to the browser."""
        user = self.user(web) or {}
        lasso = self.lasso
        with self.lock:
            server = self.server(web.tenant, web.host)
            if server is None:
                return Reply(500, saml_pages.error_page("Erreur", "SAMLv2 Single Sign On: no key"))
            login = lasso.Login(server)
            try:
                login.processAuthnRequestMsg(query)
                if user.get("session_dump"):
                    login.setSessionFromDump(user["session_dump"])
                login.validateRequestMsg(True, True)
                now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))
                login.buildAssertion(lasso.SAML_AUTHENTICATION_METHOD_PASSWORD, now, None, now, later)
                login.assertion.attributeStatement = [_attributes(lasso, user)]
                login.buildAuthnResponseMsg()
            except lasso.Error as exc:
                return Reply(400, saml_pages.error_page(
                    "Erreur", f"SAMLv2 Single Sign On: cannot answer ({type(exc).__name__})", "en"))
            if login.session is not None:
                user["session_dump"] = login.session.dump()
            return Reply(200, saml_pages.post_form(login.msgUrl, "SAMLResponse", login.msgBody,
                                                   login.msgRelayState))

    # -- login / logout -------------------------------------------------------------------------
    def login(self, web: Web) -> Reply:
        nxt = saml_web.safe_next(web.param("next"), web.host, "/")
        csrf = web.cookies.get(CSRF_COOKIE) or secrets.token_hex(32)
        cookies = [] if web.cookies.get(CSRF_COOKIE) else [f"{CSRF_COOKIE}={csrf}; Path=/; Secure; SameSite=Lax"]
        if web.method != "POST" or "login-password-submit" not in web.form:
            return Reply(200, saml_pages.login_page(csrf), headers=[("Set-Cookie", c) for c in cookies])
        if not self.csrf_ok(web):
            return Reply(403, saml_pages.error_page("Interdit (403)", "Échec de la vérification CSRF. Requête "
                                                                      "abandonnée."))
        user = _authenticate(web.tenant, web.field("username"), web.field("password"))
        if user is None:
            return Reply(200, saml_pages.login_page(csrf, saml_pages.LOGIN_ERROR))
        sid = self.sessions.new(web.host, {"email": user["email"], "first_name": user.get("first_name", ""),
                                           "last_name": user.get("last_name", "")})
        return Reply.redirect(nxt, cookies=[saml_web.session_cookie(SESSION_COOKIE, sid)])

    def csrf_ok(self, web: Web) -> bool:
        """Django's rule on HTTPS: cookie and field agree, and the Referer (or Origin) is this host."""
        cookie, token = web.cookies.get(CSRF_COOKIE, ""), web.field("csrfmiddlewaretoken")
        if not cookie or not secrets.compare_digest(cookie, token):
            return False
        origin = web.headers.get("referer") or web.headers.get("origin") or ""
        parts = urlsplit(origin)
        return parts.scheme == "https" and (parts.hostname or "") == web.host

    def slo(self, web: Web) -> Reply:
        """SP-initiated logout: end the IdP session, answer a signed LogoutResponse to the SP."""
        sid = web.cookies.get(SESSION_COOKIE)
        user = self.sessions.drop(web.host, sid) or {}
        cookies = [saml_web.expired_cookie(SESSION_COOKIE)]
        if not web.param("SAMLRequest"):
            return Reply.redirect("/", cookies=cookies)
        lasso = self.lasso
        with self.lock:
            server = self.server(web.tenant, web.host)
            if server is None:
                return Reply.redirect("/", cookies=cookies)
            logout = lasso.Logout(server)
            try:
                logout.processRequestMsg(web.query)
            except lasso.Error:
                return Reply(200, saml_pages.unknown_provider_page(_issuer(web.param("SAMLRequest"))),
                             headers=[("Set-Cookie", c) for c in cookies])
            try:
                if user.get("session_dump"):
                    logout.setSessionFromDump(user["session_dump"])
                logout.validateRequest()
            except lasso.Error:
                pass  # no session for it here (already logged out): the response says so, still signed
            try:
                logout.buildResponseMsg()
            except lasso.Error:
                return Reply.redirect("/", cookies=cookies)
            return Reply.redirect(logout.msgUrl, cookies=cookies)


def _authenticate(tenant: Path, username: str, password: str) -> dict | None:
    wanted = username.strip().lower()
    for user in saml.read_users(tenant):
        names = {str(user.get("email", "")).lower(), str(user.get("username", "")).lower()}
        if wanted and wanted in names and saml.check_password(password, str(user.get("password", ""))):
            return user
    return None


def _attributes(lasso: Any, user: dict) -> Any:
    statement = lasso.Saml2AttributeStatement()
    attributes = []
    for name in ("email", "first_name", "last_name"):
        attribute = lasso.Saml2Attribute()
        attribute.name = name
        attribute.nameFormat = lasso.SAML2_ATTRIBUTE_NAME_FORMAT_BASIC
        value = lasso.Saml2AttributeValue()
        text = lasso.MiscTextNode.newWithString(str(user.get(name, "")))
        text.textChild = True
        value.any = [text]
        attribute.attributeValue = [value]
        attributes.append(attribute)
    statement.attribute = attributes
    return statement


_ISSUER = re.compile(rb"<(?:\w+:)?Issuer[^>]*>([^<]{1,500})</(?:\w+:)?Issuer>")


def _issuer(message: str) -> str:
    """The Issuer of a Redirect-binding message (base64 of raw deflate), for the unknown-provider page."""
    try:
        xml = zlib.decompressobj(-15).decompress(base64.b64decode(message), 1 << 20)
    except (ValueError, zlib.error):
        return "?"
    found = _ISSUER.search(xml)
    return found.group(1).decode("utf-8", "replace").strip() if found else "?"
