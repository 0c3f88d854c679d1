"""HTTPS requests pinned to one frontend address, and redirect chains followed hop by hop.

Each request opens its own TLS connection with SNI (see tls.handshake), so every hop's certificate
is checked too; the Host header and SNI are the URL's hostname, the TCP peer is the chosen address.
"""

from __future__ import annotations

import html
import http.client
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from .tls import TlsEvidence, handshake

USER_AGENT = "publik-acceptance/0.1 (+deployment acceptance checks)"
MAX_BODY = 256 * 1024
REPORTED_HEADERS = ("location", "content-type", "content-length", "server", "x-request-id",
                    "strict-transport-security")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_PASSWORD_INPUT = re.compile(r"<input\b[^>]*\btype\s*=\s*[\"']?password", re.IGNORECASE)


@dataclass(frozen=True)
class HttpExchange:
    url: str
    address: str
    status: int | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    tls: TlsEvidence | None = None
    error_kind: str | None = None  # connect, timeout, tls, http
    error: str | None = None
    elapsed: float = 0.0

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @property
    def is_redirect(self) -> bool:
        return self.status in (301, 302, 303, 307, 308) and bool(self.location)

    @property
    def title(self) -> str | None:
        match = _TITLE.search(self.body)
        return " ".join(html.unescape(match.group(1)).split()) if match else None

    @property
    def has_password_form(self) -> bool:
        return bool(_PASSWORD_INPUT.search(self.body))

    def summary(self) -> str:
        if self.status is None:
            return f"GET {self.url} via {self.address}: {self.error}"
        line = f"GET {self.url} via {self.address}: {self.status} {self.reason}"
        if self.location:
            line += f" → {self.location}"
        return line


def get(url: str, address: str, port: int, context: ssl.SSLContext, timeout: float) -> HttpExchange:
    """One GET, not followed, over a fresh verified connection to `address`.

    If the certificate does not verify, the request still goes out over the inspecting connection so
    the HTTP behaviour is known; `tls.verified` says so, and the TLS check reports the certificate.
    """
    started = time.monotonic()
    parts = urlsplit(url)
    host = parts.hostname or ""
    tls, sock = handshake(host, address, port, context, timeout)
    if sock is None:
        kind = tls.error_kind if tls.error_kind in ("connect", "timeout") else "tls"
        return HttpExchange(url, address, tls=tls, error_kind=kind, error=tls.error,
                            elapsed=time.monotonic() - started)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # Passing our context also spares http.client building a default one (~15 ms each).
    connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    connection.sock = sock
    try:
        connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.8",
                                                 "Connection": "close"})
        response = connection.getresponse()
        body = response.read(MAX_BODY)
    except TimeoutError:
        return HttpExchange(url, address, tls=tls, error_kind="timeout",
                            error=f"no HTTP response within {timeout:g} s (connection open, TLS done)",
                            elapsed=time.monotonic() - started)
    except (OSError, http.client.HTTPException) as exc:
        return HttpExchange(url, address, tls=tls, error_kind="http",
                            error=f"HTTP exchange failed: {exc.__class__.__name__}: {exc}",
                            elapsed=time.monotonic() - started)
    finally:
        connection.close()
    headers: dict[str, str] = {}
    for key, value in response.getheaders():
        key = key.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    charset = response.headers.get_content_charset() or "utf-8"
    return HttpExchange(
        url, address, status=response.status, reason=response.reason, headers=headers,
        body=body.decode(charset, errors="replace"), tls=tls, elapsed=time.monotonic() - started,
    )


Resolve = Callable[[str], str | None]


def follow(url: str, address: str, port: int, context: ssl.SSLContext, timeout: float,
           resolve: Resolve, max_hops: int = 10) -> list[HttpExchange]:
    """Follow redirects; the first hop goes to `address`, later hops to what `resolve(host)` gives."""
    hops = [get(url, address, port, context, timeout)]
    while hops[-1].is_redirect and len(hops) <= max_hops:
        current = hops[-1]
        next_url = urljoin(current.url, current.location or "")
        parts = urlsplit(next_url)
        if parts.scheme != "https":
            hops.append(HttpExchange(next_url, "-", error_kind="http",
                                     error=f"redirect to a non-https URL: {next_url}"))
            break
        host = parts.hostname or ""
        next_address = current.address if host == urlsplit(current.url).hostname else resolve(host)
        if next_address is None:
            hops.append(HttpExchange(next_url, "-", error_kind="connect",
                                     error=f"{host} does not resolve through the configured resolvers"))
            break
        hops.append(get(next_url, next_address, parts.port or port, context, timeout))
    return hops
