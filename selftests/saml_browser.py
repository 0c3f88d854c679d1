"""A small browser for the sandbox's SAML self-tests: http.client over verified TLS, pinned to one
frontend address, a cookie jar per host, redirects followed, HTML forms read with html.parser.

Independent of the sandbox's code and of the suite's probes (as selftests/clients.py): a login that
works through it shows the servers really federate.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

TIMEOUT = 5.0


@dataclass
class Page:
    url: str
    status: int
    headers: dict[str, str]
    body: str

    @property
    def location(self) -> str | None:
        value = self.headers.get("location")
        return urljoin(self.url, value) if value else None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    inputs: list[dict[str, str]] = field(default_factory=list)
    buttons: list[str] = field(default_factory=list)

    def has_password(self) -> bool:
        return any(i.get("type") == "password" for i in self.inputs)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(values.get("action", ""), values.get("method", "get").lower()))
        elif self.forms and tag == "input":
            self.forms[-1].inputs.append(values)
            if values.get("type") == "hidden" and values.get("name"):
                self.forms[-1].fields[values["name"]] = values.get("value", "")
        elif self.forms and tag == "button" and values.get("name"):
            self.forms[-1].buttons.append(values["name"])


def forms(page: Page) -> list[Form]:
    parser = _FormParser()
    parser.feed(page.body)
    for form in parser.forms:
        form.action = urljoin(page.url, form.action)
    return parser.forms


class Browser:
    """One user agent: cookies per host, every connection to `address` with SNI and verification on."""

    def __init__(self, address: str, ca: Path) -> None:
        self.address = address
        self.context = ssl.create_default_context(cafile=str(ca))
        self.cookies: dict[str, dict[str, str]] = {}
        self.history: list[Page] = []

    def request(self, method: str, url: str, data: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Page:
        parts = urlsplit(url)
        host = parts.hostname or ""
        raw = socket.create_connection((self.address, parts.port or 443), timeout=TIMEOUT)
        try:
            sock = self.context.wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise
        conn = http.client.HTTPConnection(host, parts.port or 443, timeout=TIMEOUT)
        conn.sock = sock
        sent = {"Host": host, "User-Agent": "sandbox-selftest-browser", **(headers or {})}
        jar = self.cookies.get(host)
        if jar:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        body = None
        if data is not None:
            body = urlencode(data).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body, sent)
            answer = conn.getresponse()
            text = answer.read().decode("utf-8", "replace")
            for name, value in answer.getheaders():
                if name.lower() == "set-cookie":
                    self._store(host, value)
            page = Page(url, answer.status, {k.lower(): v for k, v in answer.getheaders()}, text)
        finally:
            conn.close()
        self.history.append(page)
        return page

    def _store(self, host: str, header: str) -> None:
        pair, *attributes = [p.strip() for p in header.split(";")]
        name, _, value = pair.partition("=")
        expired = any(a.lower().startswith("max-age=0") for a in attributes)
        if expired:
            self.cookies.get(host, {}).pop(name, None)
        else:
            self.cookies.setdefault(host, {})[name] = value

    def get(self, url: str, follow: bool = True, limit: int = 10) -> Page:
        page = self.request("GET", url)
        while follow and page.status in (301, 302, 303, 307) and page.location and limit:
            page = self.request("GET", page.location)
            limit -= 1
        return page

    def submit(self, page: Page, form: Form, extra: dict[str, str] | None = None, follow: bool = True) -> Page:
        data = {**form.fields, **(extra or {})}
        origin = f"https://{page.host}"
        answer = self.request("POST", form.action, data, {"Referer": page.url, "Origin": origin})
        while follow and answer.status in (301, 302, 303) and answer.location:
            answer = self.request("GET", answer.location)
        return answer
