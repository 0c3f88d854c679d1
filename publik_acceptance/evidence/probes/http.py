"""HTTPS requests pinned to one frontend address, and redirect chains followed hop by hop.

Each request to a new (hostname, address) opens its own TLS connection with SNI (see tls.handshake),
so every hop's certificate is checked too; the Host header and SNI are the URL's hostname, the TCP
peer is the chosen address. Redirect chains, which come back to the same hosts (a service's own
/login/, then its identity provider, shared by every service of an instance), may pass a
`Connections` to keep connections alive and reuse them: over a real network each new connection
costs round trips (TCP, then TLS), a request on an open one costs one.

Bounded against a hostile or broken server: `timeout` is the deadline of the whole request (connect,
TLS and the response, however slowly it trickles in), at most MAX_BODY bytes of a body are kept (a
longer one is marked truncated), an unknown charset decodes as UTF-8 with a note, and the title and
password-field lookups scan the page once, with no regular expression over server text.
"""

from __future__ import annotations

import codecs
import html
import http.client
import io
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from publik_acceptance.evidence.probes.tls import TlsEvidence, handshake

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer  # what RawIOBase.readinto and recv_into take (no runtime name in 3.11)

USER_AGENT = "publik-acceptance/0.1 (+deployment acceptance checks)"
MAX_BODY = 256 * 1024
REPORTED_HEADERS = ("location", "content-type", "content-length", "server", "x-request-id",
                    "strict-transport-security")
MAX_TITLE = 4096  # characters of a title kept: enough for any real one, bounded for a hostile one


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
    truncated: bool = False  # the body was longer than MAX_BODY: only its start is kept
    notes: tuple[str, ...] = ()  # what was worked around (a cut body, an unknown charset)
    # Each Set-Cookie header as sent (`headers` joins repeated headers with ", ", which an Expires breaks).
    # Never shown: summary() and the reports print no cookie.
    set_cookies: tuple[str, ...] = ()
    method: str = "GET"

    @property
    def location(self) -> str | None:
        return self.headers.get("location")

    @property
    def is_redirect(self) -> bool:
        return self.status in (301, 302, 303, 307, 308) and bool(self.location)

    @property
    def title(self) -> str | None:
        raw = find_title(self.body)
        return " ".join(html.unescape(raw).split()) if raw is not None else None

    @property
    def has_password_form(self) -> bool:
        return has_password_input(self.body)

    def summary(self) -> str:
        if self.status is None:
            return f"{self.method} {self.url} via {self.address}: {self.error}"
        line = f"{self.method} {self.url} via {self.address}: {self.status} {self.reason}"
        if self.location:
            line += f" → {self.location}"
        if self.notes:
            line += f" [{'; '.join(self.notes)}]"
        return line


# Page scanning: str.find only, each character looked at a bounded number of times, so a hostile
# page costs time in proportion to its size (the regular expressions used before were quadratic:
# 3 s on 64 KiB of "<title>" repeated, a minute on a full MAX_BODY).
_TAG_END = frozenset(" \t\n\r\f/>")


def _tags(lowered: str, name: str) -> list[tuple[int, int]]:
    """(start, end) of each `<name …>` opening tag, in order; `end` is just past its `>`, or the
    text's end for a tag never closed. The search resumes after each tag: linear in the text."""
    found: list[tuple[int, int]] = []
    opening, position = f"<{name}", 0
    while True:
        start = lowered.find(opening, position)
        if start < 0:
            return found
        after = start + len(opening)
        if after < len(lowered) and lowered[after] not in _TAG_END:
            position = after  # <titlebar>, <inputs>: another element
            continue
        close = lowered.find(">", after)
        end = len(lowered) if close < 0 else close + 1
        found.append((start, end))
        position = end


def find_title(body: str) -> str | None:
    """The raw text of the first `<title>` element (at most MAX_TITLE characters), or None."""
    lowered = body.lower()
    if len(lowered) != len(body):  # a few characters change length when lowered: keep indexes exact
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in body)
    tags = _tags(lowered, "title")
    if not tags or lowered[tags[0][1] - 1] != ">":  # the first <title never closed
        return None
    start = tags[0][1]
    end = lowered.find("</title", start)
    return body[start:end][:MAX_TITLE] if end >= 0 else None


def has_password_input(body: str) -> bool:
    """Whether an `<input>` tag has type=password (any case, quoted or not)."""
    lowered = body.lower()
    return any(_is_password_input(lowered[start:end]) for start, end in _tags(lowered, "input"))


def _is_password_input(tag: str) -> bool:
    """`tag` is one `<input …>`; each `type` in it is looked at once (linear in the tag)."""
    position = 0
    while True:
        found = tag.find("type", position)
        if found < 0:
            return False
        position = found + 4
        if tag[found - 1] not in " \t\n\r\f\"'/":  # part of another attribute's name or value
            continue
        rest = tag[position:position + 64].lstrip(" \t\n\r\f")  # bounded: real spacing is short
        if not rest.startswith("="):
            continue
        value = rest[1:].lstrip(" \t\n\r\f").lstrip("\"'")
        if value.startswith("password") and value[8:9] in ("", "\"", "'", " ", "\t", "\n", "\r", "\f", "/", ">"):
            return True


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


class DeadlineSocket:
    """The socket as http.client sees it: each send and receive gets only what is left before the
    request's deadline, so a server trickling a byte a second cannot stretch a request (a per-read
    timeout alone let a 1 s request run 12 s)."""

    def __init__(self, sock: ssl.SSLSocket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self._readers = 0  # like socket.makefile: closing waits until the response is read
        self._closing = False

    def _arm(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        self.sock.settimeout(left)

    def sendall(self, data: bytes) -> None:
        self._arm()
        self.sock.sendall(data)

    def recv_into(self, buffer: WriteableBuffer) -> int:
        self._arm()
        return self.sock.recv_into(buffer)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def setsockopt(self, *args: int) -> None:
        self.sock.setsockopt(*args)

    def close(self) -> None:
        # http.client closes a `Connection: close` connection before its response is read
        self._closing = True
        if not self._readers:
            self.sock.close()

    def release(self) -> None:
        self._readers -= 1
        if self._closing and not self._readers:
            self.sock.close()


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: DeadlineSocket) -> None:
        self.sock = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        return self.sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self.sock.release()
        super().close()


def get(url: str, address: str, port: int, context: ssl.SSLContext, timeout: float,
        connections: Connections | None = None, *, method: str = "GET", body: bytes | None = None,
        headers: dict[str, str] | None = None) -> HttpExchange:
    """One request (a GET unless `method` says otherwise, with `body` and extra `headers`: a form's
    POST, cookies), not followed, over a verified connection to `address` (fresh, or kept alive in
    `connections` from an earlier request to the same hostname and address); `timeout` bounds the
    whole request: connect, TLS handshake, request and response.

    If the certificate does not verify, the request still goes out over the inspecting connection so
    the HTTP behaviour is known; `tls.verified` says so, and the TLS check reports the certificate.
    """
    started = time.monotonic()
    deadline = started + timeout
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    key = (host, address, port)
    kept = connections.take(key) if connections is not None else None
    if kept is not None:
        connection, tls = kept
        assert isinstance(connection.sock, DeadlineSocket)  # as get() set it up before giving it to `connections`
        connection.sock.deadline = deadline
        try:
            response, answer = _exchange(connection, path, True, method, body, headers)
        except TimeoutError:
            connection.close()
            return _timed_out(url, address, tls, timeout, started, method)
        except (OSError, http.client.HTTPException):
            connection.close()  # closed by the server while idle: start afresh, as browsers do
        else:
            assert connections is not None
            connections.reused += 1
            return _answer(url, address, tls, connection, response, answer, started, connections, key, method)
    tls, sock = handshake(host, address, port, context, deadline - time.monotonic())
    if sock is None:
        kind = tls.error_kind if tls.error_kind in ("connect", "timeout") else "tls"
        return HttpExchange(url, address, tls=tls, error_kind=kind, error=tls.error,
                            elapsed=time.monotonic() - started, method=method)
    if connections is not None:
        connections.opened += 1
    # Passing our context also spares http.client building a default one (~15 ms each).
    connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    connection.sock = DeadlineSocket(sock, deadline)
    connection.auto_open = 0  # never reconnect by itself (it would resolve through the system's DNS)
    try:
        response, answer = _exchange(connection, path, connections is not None, method, body, headers)
    except TimeoutError:
        connection.close()
        return _timed_out(url, address, tls, timeout, started, method)
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        return HttpExchange(url, address, tls=tls, error_kind="http",
                            error=f"HTTP exchange failed: {exc.__class__.__name__}: {exc}",
                            elapsed=time.monotonic() - started, method=method)
    return _answer(url, address, tls, connection, response, answer, started, connections, key, method)


def _timed_out(url: str, address: str, tls: TlsEvidence, timeout: float, started: float,
               method: str = "GET") -> HttpExchange:
    return HttpExchange(url, address, tls=tls, error_kind="timeout",
                        error=f"no HTTP response within {timeout:g} s (connection open, TLS done; http.timeout "
                              "bounds the whole request, however slowly the server sends)",
                        elapsed=time.monotonic() - started, method=method)


def _exchange(connection: http.client.HTTPSConnection, path: str, keep_alive: bool, method: str = "GET",
              body: bytes | None = None,
              extra: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    headers = {"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.8",
               "Connection": "keep-alive" if keep_alive else "close", **(extra or {})}
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response, response.read(MAX_BODY + 1)  # one byte more tells a cut body from one of MAX_BODY


def _answer(url: str, address: str, tls: TlsEvidence, connection: http.client.HTTPSConnection,
            response: http.client.HTTPResponse, body: bytes, started: float, connections: Connections | None,
            key: Key, method: str = "GET") -> HttpExchange:
    # Reusable only when the whole body was read and the server keeps the connection open.
    if connections is not None and response.isclosed() and not response.will_close:
        connections.give(key, connection, tls)
    else:
        connection.close()
    headers: dict[str, str] = {}
    for name, value in response.getheaders():
        name = name.lower()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    notes = []
    truncated = len(body) > MAX_BODY
    if truncated:
        body = body[:MAX_BODY]
        notes.append(f"body cut at {MAX_BODY // 1024} KiB")
    text, note = decode(body, response.headers.get_content_charset())
    if note:
        notes.append(note)
    return HttpExchange(
        url, address, status=response.status, reason=response.reason, headers=headers, body=text, tls=tls,
        elapsed=time.monotonic() - started, truncated=truncated, notes=tuple(notes),
        set_cookies=tuple(response.msg.get_all("set-cookie") or ()), method=method,
    )


def decode(body: bytes, charset: str | None) -> tuple[str, str | None]:
    """The body as text, and a note when its declared charset could not be used (never raises:
    the charset comes from the server, an unknown or non-text codec falls back to UTF-8)."""
    if charset:
        try:
            if getattr(codecs.lookup(charset), "_is_text_encoding", True):  # not base64, zlib, …
                return body.decode(charset, errors="replace"), None
        except (LookupError, ValueError):  # unknown name; a codec refusing errors="replace" (idna)
            pass
        shown = charset[:40].encode("ascii", "backslashreplace").decode()
        return body.decode("utf-8", errors="replace"), f"charset {shown!r} unknown or unusable: read as UTF-8"
    return body.decode("utf-8", errors="replace"), None


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
