"""A minimal browser for one login session: cookies kept per host, forms posted, redirects followed.

Every request goes through the http probe (http.get), so every hop is pinned to a planned frontend
address and its certificate verified, and kept-alive connections are shared with the round. Cookies
are a small jar scoped by host (a `Domain=` cookie also goes to that domain's subdomains, as browsers
do); nothing here ever shows a cookie's value, a form's values or a request body.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlencode, urljoin, urlsplit

from publik_acceptance.evidence.probes import http as http_probe
from publik_acceptance.evidence.probes.http import Connections, HttpExchange, Resolve

MAX_HOPS = 12


@dataclass
class CookieJar:
    """name → value, per host (host-only cookies) and per domain (`Domain=` cookies)."""

    hosts: dict[str, dict[str, str]] = field(default_factory=dict)
    domains: dict[str, dict[str, str]] = field(default_factory=dict)

    def store(self, host: str, set_cookies: tuple[str, ...]) -> None:
        for header in set_cookies:
            try:
                parsed = SimpleCookie()
                parsed.load(header)
            except CookieError:
                continue  # a cookie a browser would also drop
            for name, morsel in parsed.items():
                domain = morsel["domain"].lstrip(".").lower()
                if domain and not (host == domain or host.endswith("." + domain)):
                    continue  # a cookie for another site: refused, as browsers do
                where = self.domains.setdefault(domain, {}) if domain else self.hosts.setdefault(host, {})
                if _expired(morsel["max-age"], morsel["expires"]):
                    where.pop(name, None)
                else:
                    where[name] = morsel.value

    def header(self, host: str) -> str | None:
        found: dict[str, str] = {}
        for domain, cookies in self.domains.items():
            if host == domain or host.endswith("." + domain):
                found.update(cookies)
        found.update(self.hosts.get(host, {}))
        return "; ".join(f"{k}={v}" for k, v in found.items()) or None

    def names(self, host: str) -> list[str]:
        """The cookie names `host` gets (for evidence: names only)."""
        value = self.header(host)
        return [part.split("=", 1)[0] for part in value.split("; ")] if value else []


def _expired(max_age: str, expires: str) -> bool:
    if max_age.strip().lstrip("-").isdigit():
        return int(max_age) <= 0
    return "1970" in expires  # Django's delete_cookie writes "Thu, 01 Jan 1970 00:00:00 GMT"


@dataclass
class Browser:
    """One login session; `resolve` maps a hostname to the frontend address to use (None: unknown)."""

    port: int
    context: ssl.SSLContext
    timeout: float
    resolve: Resolve
    connections: Connections | None = None
    jar: CookieJar = field(default_factory=CookieJar)

    def request(self, url: str, method: str = "GET", fields: list[tuple[str, str]] | None = None,
                referer: str | None = None) -> HttpExchange:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme != "https":
            return HttpExchange(url, "-", error_kind="http", error=f"not an https URL: {url}", method=method)
        address = self.resolve(host)
        if address is None:
            return HttpExchange(url, "-", error_kind="connect", method=method,
                                error=f"{host} does not resolve through the configured resolvers")
        headers: dict[str, str] = {}
        cookie = self.jar.header(host)
        if cookie:
            headers["Cookie"] = cookie
        if referer:
            # Django's CSRF check on HTTPS wants a same-origin Referer (or Origin) on a POST.
            origin = urlsplit(referer)
            headers["Referer"] = referer
            headers["Origin"] = f"{origin.scheme}://{origin.netloc}"
        body = None
        if fields is not None:
            body = urlencode(fields).encode("utf-8")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        exchange = http_probe.get(url, address, parts.port or self.port, self.context, self.timeout,
                                  self.connections, method=method, body=body, headers=headers)
        self.jar.store(host, exchange.set_cookies)
        return exchange

    def follow(self, url: str, method: str = "GET", fields: list[tuple[str, str]] | None = None,
               referer: str | None = None) -> list[HttpExchange]:
        """The request, then its redirects (each a GET, as browsers do after 302/303), cookies kept."""
        hops = [self.request(url, method, fields, referer)]
        while hops[-1].is_redirect and len(hops) <= MAX_HOPS:
            current = hops[-1]
            hops.append(self.request(urljoin(current.url, current.location or "")))
        return hops
