"""Independent clients for the sandbox self-tests: dnspython, ssl + http.client, psycopg, paramiko.

They share nothing with the sandbox code or the suite's probes, so a test that passes shows the
servers really behave that way. Every network call has a short timeout.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dns.resolver
import paramiko
import psycopg

TIMEOUT = 3.0


# -- DNS ------------------------------------------------------------------------------------------
def resolve(name: str, server: str = "127.0.0.10", port: int = 53) -> set[str]:
    """A records of name from the sandbox resolver (raises dns.resolver.NXDOMAIN)."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server]
    resolver.port = port
    resolver.timeout = resolver.lifetime = TIMEOUT
    return {rr.address for rr in resolver.resolve(name, "A")}


# -- HTTPS, pinned to one frontend address, SNI and verification on --------------------------------
@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str
    peercert: dict = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def tls_context(ca: Path | None, verify: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def https_get(address: str, host: str, path: str = "/", ca: Path | None = None, port: int = 443,
              timeout: float = TIMEOUT, verify: bool = True) -> Response:
    """GET https://host/path, connecting to `address` (SNI and certificate check use `host`)."""
    context = tls_context(ca, verify)
    raw = socket.create_connection((address, port), timeout=timeout)
    try:
        sock = context.wrap_socket(raw, server_hostname=host)
    except BaseException:
        raw.close()
        raise
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.sock = sock
    try:
        conn.request("GET", path, headers={"Host": host, "User-Agent": "sandbox-selftest"})
        answer = conn.getresponse()
        body = answer.read().decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in answer.getheaders()}
        return Response(answer.status, headers, body, sock.getpeercert() or {})
    finally:
        conn.close()


def handshake_error(address: str, host: str, ca: Path, port: int = 443) -> ssl.SSLError | None:
    """The certificate verification error for host on address, or None when the handshake is fine."""
    context = tls_context(ca)
    try:
        with socket.create_connection((address, port), timeout=TIMEOUT) as raw, \
                context.wrap_socket(raw, server_hostname=host):
            return None
    except ssl.SSLError as exc:
        return exc


def peer_certificate(address: str, host: str, ca: Path, port: int = 443) -> dict:
    context = tls_context(ca)
    with socket.create_connection((address, port), timeout=TIMEOUT) as raw, \
            context.wrap_socket(raw, server_hostname=host) as sock:
        return sock.getpeercert() or {}


# -- PostgreSQL -----------------------------------------------------------------------------------
def pg_socket(socket_dir: Path, dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(host=str(socket_dir), port=5432, user="postgres", dbname=dbname,
                           autocommit=True, connect_timeout=3)


def pg_tcp(user: str, password: str, dbname: str = "postgres", host: str = "127.0.0.14") -> psycopg.Connection:
    return psycopg.connect(host=host, port=5432, user=user, password=password, dbname=dbname,
                           autocommit=True, connect_timeout=3)


def databases(socket_dir: Path) -> set[str]:
    with pg_socket(socket_dir) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def schemas(socket_dir: Path, dbname: str) -> set[str]:
    with pg_socket(socket_dir, dbname) as conn:
        return {row[0] for row in conn.execute("SELECT schema_name FROM information_schema.schemata")}


# -- SSH ------------------------------------------------------------------------------------------
def ssh_client(known_hosts: Path, key: Path, host: str = "127.0.0.15", port: int = 22) -> paramiko.SSHClient:
    """Host key verified against the sandbox's known_hosts; unknown keys refused."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(host, port=port, username="root", key_filename=str(key), timeout=TIMEOUT,
                   banner_timeout=TIMEOUT, auth_timeout=TIMEOUT, look_for_keys=False, allow_agent=False)
    return client


def ssh_run(client: paramiko.SSHClient, command: str, timeout: float = 30) -> tuple[int, str, str]:
    _, stdout, stderr = client.exec_command(command, timeout=timeout)
    out = stdout.read().decode()
    err = stderr.read().decode()
    return stdout.channel.recv_exit_status(), out, err


# -- waiting --------------------------------------------------------------------------------------
def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
