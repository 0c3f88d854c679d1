"""The HTTP probe against a hostile server: a real TLS server on loopback, started and stopped here.

A server that trickles its answer a byte at a time must not hold a request past http.timeout; a
huge body is cut and said so; an unknown charset is read as UTF-8 with a note; SSL_CERT_FILE does
not change what we trust.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from publik_acceptance.config.environment import TlsSettings
from publik_acceptance.evidence.probes import http, tls
from publik_acceptance.plan import load_plan
from publik_acceptance.report import metadata

ADDRESS = "127.0.0.61"  # outside the sandbox's 127.0.0.10-19
HOST = "trickle.test"
SERVER_LIFETIME = 12.0  # the server gives up by itself: a broken test never hangs


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A throwaway certificate authority that issues the test servers' certificates."""
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    """The CA's certificate as a PEM file, for a client that trusts it."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


Handler = Callable[[ssl.SSLSocket, threading.Event], None]


@contextmanager
def tls_server(ca: trustme.CA, handler: Handler) -> Iterator[int]:
    """A TLS server on ADDRESS (any free port) running `handler` for each connection; yields the port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(HOST).configure_cert(context)
    listener = socket.create_server((ADDRESS, 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve_one(raw: socket.socket) -> None:
        try:
            raw.settimeout(SERVER_LIFETIME)
            with context.wrap_socket(raw, server_side=True) as conn:
                _read_request(conn)
                handler(conn, stop)
        except OSError:
            pass  # the client gave up: that is what the tests want

    def accept() -> None:
        ended = time.monotonic() + SERVER_LIFETIME
        while not stop.is_set() and time.monotonic() < ended:
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve_one, args=(raw,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def _read_request(conn: ssl.SSLSocket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def trickle(head: bytes, rest: bytes) -> Handler:
    """Send `head` at once, then `rest` a byte every 0.2 s: each read succeeds well within a 1 s timeout."""

    def handler(conn: ssl.SSLSocket, stop: threading.Event) -> None:
        ended = time.monotonic() + SERVER_LIFETIME
        conn.sendall(head)
        for byte in rest:
            if stop.wait(0.2) or time.monotonic() > ended:
                return
            conn.sendall(bytes([byte]))

    return handler


def answer(headers: str, body: bytes) -> Handler:
    def handler(conn: ssl.SSLSocket, stop: threading.Event) -> None:
        conn.sendall(f"HTTP/1.1 200 OK\r\n{headers}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                     .encode() + body)

    return handler


def probe(port: int, ca_file: Path, timeout: float = 1.0) -> http.HttpExchange:
    context = tls.verifying_context(TlsSettings(ca_bundle=ca_file))
    return http.get(f"https://{HOST}/", ADDRESS, port, context, timeout)


@pytest.mark.parametrize("head, rest", [
    (b"", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" * 4),  # the status line trickles
    (b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\nConnection: close\r\n\r\n", b"x" * 500),  # the body trickles
], ids=["headers", "body"])
def test_a_trickling_server_does_not_stretch_the_timeout(ca: trustme.CA, ca_file: Path, head: bytes,
                                                         rest: bytes) -> None:
    with tls_server(ca, trickle(head, rest)) as port:
        exchange = probe(port, ca_file, timeout=1.0)
    # Before: every read got its own 1 s, so the request lasted as long as the server trickled (12 s here).
    assert exchange.error_kind == "timeout", exchange.summary()
    assert "no HTTP response within 1 s" in (exchange.error or "")
    assert "bounds the whole request" in (exchange.error or "")
    assert exchange.elapsed < 3.0, f"the 1 s request took {exchange.elapsed:.1f} s"


def test_a_huge_body_is_cut_and_said_so(ca: trustme.CA, ca_file: Path) -> None:
    with tls_server(ca, answer("Content-Type: text/html\r\n", b"<p>" + b"a" * (4 * 1024 * 1024))) as port:
        exchange = probe(port, ca_file, timeout=10.0)
    assert exchange.status == 200, exchange.summary()
    assert exchange.truncated
    assert len(exchange.body) == http.MAX_BODY
    assert "body cut at 256 KiB" in exchange.summary()


def test_an_exact_max_body_is_not_cut(ca: trustme.CA, ca_file: Path) -> None:
    with tls_server(ca, answer("", b"b" * http.MAX_BODY)) as port:
        exchange = probe(port, ca_file, timeout=10.0)
    assert exchange.status == 200 and not exchange.truncated and len(exchange.body) == http.MAX_BODY


@pytest.mark.parametrize("charset", ["x-no-such-charset", "base64", "idna", "utf-8\x00"])
def test_an_unknown_charset_is_read_as_utf8_with_a_note(ca: trustme.CA, ca_file: Path, charset: str) -> None:
    body = "<title>Café</title><input type=password>".encode()
    with tls_server(ca, answer(f"Content-Type: text/html; charset={charset}\r\n", body)) as port:
        exchange = probe(port, ca_file, timeout=10.0)  # before: LookupError out of the probe
    assert exchange.status == 200, exchange.summary()
    assert exchange.title == "Café" and exchange.has_password_form
    assert "unknown or unusable: read as UTF-8" in exchange.summary()


def test_a_known_charset_is_used(ca: trustme.CA, ca_file: Path) -> None:
    with tls_server(ca, answer("Content-Type: text/html; charset=iso-8859-1\r\n", b"<title>Caf\xe9</title>")) as port:
        exchange = probe(port, ca_file, timeout=10.0)
    assert exchange.title == "Café" and not exchange.notes


def test_ssl_cert_file_does_not_replace_the_system_store(ca: trustme.CA, ca_file: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """An SSL_CERT_FILE holding our server's CA: with tls.ca_bundle null the server stays untrusted."""
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.setenv("SSL_CERT_DIR", str(ca_file.parent))
    context = tls.verifying_context(TlsSettings(ca_bundle=None))
    with tls_server(ca, answer("", b"ok")) as port:
        evidence, sock = tls.handshake(HOST, ADDRESS, port, context, 5.0)
        if sock is not None:
            sock.close()
    # Before: OpenSSL read SSL_CERT_FILE and trusted whatever CA it named.
    assert not evidence.verified
    assert evidence.error_kind == "untrusted", evidence.error
    described = tls.trust_store(TlsSettings(ca_bundle=None))
    assert f"ignored: SSL_CERT_FILE={ca_file}" in described
    assert f"SSL_CERT_DIR={ca_file.parent}" in described


def test_the_ca_bundle_is_trusted(ca: trustme.CA, ca_file: Path) -> None:
    with tls_server(ca, answer("", b"ok")) as port:
        exchange = probe(port, ca_file, timeout=10.0)
    assert exchange.tls is not None and exchange.tls.verified and exchange.body == "ok"
    assert tls.trust_store(TlsSettings(ca_bundle=ca_file)).startswith(f"CA bundle {ca_file}")


def test_the_report_names_the_trust_store_and_the_ignored_variables(ca_file: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    plan = load_plan(Path(__file__).resolve().parent.parent / "corpus" / "valid" / "environment.yml")
    info = metadata.collect(plan, ("preflight",), None, Path(__file__).parent, dt.datetime.now(dt.UTC))
    rows = dict(info.rows())
    assert rows["Trust store"].startswith("system store ")
    assert rows["Trust store"].endswith(f"; ignored: SSL_CERT_FILE={ca_file}")


def keep_alive(requests: int, trickle_last: bool = False) -> Handler:
    """Answer `requests` requests on one connection; the last one a byte every 0.2 s if asked."""

    def handler(conn: ssl.SSLSocket, stop: threading.Event) -> None:
        for index in range(requests):
            if index:
                _read_request(conn)
            answer_bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            if trickle_last and index == requests - 1:
                trickle(b"", answer_bytes)(conn, stop)
            else:
                conn.sendall(answer_bytes)

    return handler


def test_a_kept_alive_connection_is_reused_and_bounded_too(ca: trustme.CA, ca_file: Path) -> None:
    context = tls.verifying_context(TlsSettings(ca_bundle=ca_file))
    connections = http.Connections()
    with tls_server(ca, keep_alive(3, trickle_last=True)) as port:
        hops = [http.get(f"https://{HOST}/{i}", ADDRESS, port, context, 1.0, connections) for i in range(3)]
    connections.close()
    assert [h.body for h in hops[:2]] == ["ok", "ok"] and connections.reused == 1
    # the third request, on the kept connection, trickles: cut at its own deadline, not retried afresh
    assert connections.opened == 1
    assert hops[2].error_kind == "timeout" and hops[2].elapsed < 3.0, hops[2].summary()
