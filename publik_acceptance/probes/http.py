"""HTTPS requests pinned to one frontend address, and redirect chains followed hop by hop.

Each request to a new (hostname, address) opens its own TLS connection with SNI (see tls.handshake),
so every hop's certificate is checked too; the Host header and SNI are the URL's hostname, the TCP
peer is the chosen address. Redirect chains, which come back to the same hosts (a service's own
/login/, then its identity provider, shared by every service of an instance), may pass a
`Connections` to keep connections alive and reuse them: over a real network each new connection
costs round trips (TCP, then TLS), a request on an open one costs one.
"""

from __future__ import annotations

import html
import http.client
import re
import ssl
import threading
import time
from collections import OrderedDict
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


Key = tuple[str, str, int]  # (hostname, address, port)


class Connections:
    """Idle kept-alive connections, each with the TLS evidence of its handshake; bounded, thread-safe.

    Scope it to one batch of requests (a poll round): a frontend may close idle connections soon.
    """

    def __init__(self, max_idle: int = 128) -> None:
        self.max_idle = max_idle
        self.opened = 0
        self.reused = 0
        self._idle: OrderedDict[Key, list[tuple[http.client.HTTPSConnection, TlsEvidence]]] = OrderedDict()
        self._count = 0
        self._lock = threading.Lock()

    def take(self, key: Key) -> tuple[http.client.HTTPSConnection, TlsEvidence] | None:
        with self._lock:
            idle = self._idle.get(key)
            if not idle:
                return None
            self._count -= 1
            found = idle.pop()
            if not idle:
                del self._idle[key]
            return found

    def give(self, key: Key, connection: http.client.HTTPSConnection, tls: TlsEvidence) -> None:
        evicted = []
        with self._lock:
            self._idle.setdefault(key, []).append((connection, tls))
            self._idle.move_to_end(key)
            self._count += 1
            while self._count > self.max_idle:  # the least recently used go first
                oldest, idle = next(iter(self._idle.items()))
                evicted.append(idle.pop(0)[0])
                self._count -= 1
                if not idle:
                    del self._idle[oldest]
        for old in evicted:
            old.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle, self._count = self._idle, OrderedDict(), 0
        for entries in idle.values():
            for connection, _tls in entries:
                connection.close()


def get(url: str, address: str, port: int, context: ssl.SSLContext, timeout: float,
        connections: Connections | None = None) -> HttpExchange:
    """One GET, not followed, over a verified connection to `address` (fresh, or kept alive in
    `connections` from an earlier request to the same hostname and address).

    If the certificate does not verify, the request still goes out over the inspecting connection so
    the HTTP behaviour is known; `tls.verified` says so, and the TLS check reports the certificate.
    """
    started = time.monotonic()
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    key = (host, address, port)
    kept = connections.take(key) if connections is not None else None
    if kept is not None:
        connection, tls = kept
        try:
            response, body = _exchange(connection, path, keep_alive=True)
        except (OSError, http.client.HTTPException):
            connection.close()  # closed by the server while idle: start afresh, as browsers do
        else:
            assert connections is not None
            connections.reused += 1
            return _answer(url, address, tls, connection, response, body, started, connections, key)
    tls, sock = handshake(host, address, port, context, timeout)
    if sock is None:
        kind = tls.error_kind if tls.error_kind in ("connect", "timeout") else "tls"
        return HttpExchange(url, address, tls=tls, error_kind=kind, error=tls.error,
                            elapsed=time.monotonic() - started)
    if connections is not None:
        connections.opened += 1
    # Passing our context also spares http.client building a default one (~15 ms each).
    connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    connection.sock = sock
    connection.auto_open = 0  # never reconnect by itself (it would resolve through the system's DNS)
    try:
        response, body = _exchange(connection, path, keep_alive=connections is not None)
    except TimeoutError:
        connection.close()
        return HttpExchange(url, address, tls=tls, error_kind="timeout",
                            error=f"no HTTP response within {timeout:g} s (connection open, TLS done)",
                            elapsed=time.monotonic() - started)
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        return HttpExchange(url, address, tls=tls, error_kind="http",
                            error=f"HTTP exchange failed: {exc.__class__.__name__}: {exc}",
                            elapsed=time.monotonic() - started)
    return _answer(url, address, tls, connection, response, body, started, connections, key)


def _exchange(connection: http.client.HTTPSConnection, path: str,
              keep_alive: bool) -> tuple[http.client.HTTPResponse, bytes]:
    connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.8",
                                             "Connection": "keep-alive" if keep_alive else "close"})
    response = connection.getresponse()
    return response, response.read(MAX_BODY)


def _answer(url: str, address: str, tls: TlsEvidence, connection: http.client.HTTPSConnection,
            response: http.client.HTTPResponse, body: bytes, started: float, connections: Connections | None,
            key: Key) -> HttpExchange:
    # Reusable only when the whole body was read and the server keeps the connection open.
    if connections is not None and response.isclosed() and not response.will_close:
        connections.give(key, connection, tls)
    else:
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
           resolve: Resolve, max_hops: int = 10, connections: Connections | None = None) -> list[HttpExchange]:
    """Follow redirects; the first hop goes to `address`, later hops to what `resolve(host)` gives."""
    hops = [get(url, address, port, context, timeout, connections)]
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
        hops.append(get(next_url, next_address, parts.port or port, context, timeout, connections))
    return hops
