"""Trust on first use pins the key: a real SSH server on loopback (paramiko's server side) that
changes its host key between two connections of one pool is refused on the reconnect.

The same through the sandbox's OpenSSH: selftests/integration/test_host_key_pinning.py.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
import yaml

from publik_acceptance.config.environment import load_environment
from publik_acceptance.evidence.probes.remote import RemoteError, SshPool

VALID = Path(__file__).resolve().parent.parent / "corpus" / "valid"


class _Server(paramiko.ServerInterface):
    """Any public key logs in; every command "succeeds" with exit 0 and no output."""

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        def finish() -> None:
            channel.send_exit_status(0)
            channel.shutdown_write()
            channel.close()

        threading.Timer(0.05, finish).start()
        return True


class SshServer:
    """Listens on 127.0.0.1; each connection gets the current `host_key`; `drop()` ends them all."""

    def __init__(self) -> None:
        self.host_key: paramiko.PKey = paramiko.ECDSAKey.generate()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.transports: list[paramiko.Transport] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            transport = paramiko.Transport(sock)
            transport.add_server_key(self.host_key)
            try:
                transport.start_server(server=_Server())
            except (paramiko.SSHException, OSError, EOFError):
                # A client that refuses our (swapped) key hangs up mid-handshake: that is the test passing.
                transport.close()
                continue
            self.transports.append(transport)

    def drop(self) -> None:
        for transport in self.transports:
            transport.close()

    def stop(self) -> None:
        self.stopping.set()
        self.drop()
        self.thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def server() -> Iterator[SshServer]:
    """A local SSH server whose host key a test can change; stopped after the test."""
    srv = SshServer()
    yield srv
    srv.stop()


def _pool(tmp_path: Path, port: int) -> SshPool:
    data = yaml.safe_load((VALID / "environment.yml").read_text())
    (tmp_path / "recipe.json").write_text((VALID / "recipe.json").read_text())
    (tmp_path / "known_hosts").write_text("")
    paramiko.ECDSAKey.generate().write_private_key_file(str(tmp_path / "id_ecdsa"))
    data["servers"] = {role: {"ssh": "root@127.0.0.1", "port": port} for role in ("hobo", "database")}
    data["ssh"] = {"unknown_host_keys": "accept", "known_hosts": str(tmp_path / "known_hosts"),
                   "identity_file": str(tmp_path / "id_ecdsa"), "connect_timeout": 5, "command_timeout": 5}
    (tmp_path / "environment.yml").write_text(yaml.safe_dump(data))
    return SshPool(load_environment(tmp_path / "environment.yml"))


def _wait_dropped(pool: SshPool, transport: paramiko.Transport | None) -> None:
    assert transport is not None
    for _ in range(100):
        if not transport.is_active():
            return
        threading.Event().wait(0.05)
    raise AssertionError("the connection did not drop")


def test_the_first_key_is_pinned_for_the_run(tmp_path: Path, server: SshServer) -> None:
    pool = _pool(tmp_path, server.port)
    first = server.host_key
    try:
        assert pool.run("hobo", "true").ok
        line = f"database, hobo 127.0.0.1:{server.port} {first.get_name()} {first.fingerprint}"
        assert pool.accepted_host_keys() == [line]
        transport = pool.client("hobo").get_transport()
        server.drop()
        _wait_dropped(pool, transport)
        assert pool.run("hobo", "true").ok, "a reconnect offering the pinned key is accepted"
        server.host_key = paramiko.ECDSAKey.generate()  # reinstalled, or an impostor
        transport = pool.client("hobo").get_transport()
        server.drop()
        _wait_dropped(pool, transport)
        with pytest.raises(RemoteError) as refused:
            pool.run("hobo", "true")
        message = str(refused.value)
        assert "host key CHANGED during the run" in message, message
        assert server.host_key.fingerprint in message and first.fingerprint in message, message
        assert pool.accepted_host_keys() == [line], "the pin must not move to the new key"
    finally:
        pool.close()


def test_a_key_of_another_type_is_refused_too(tmp_path: Path, server: SshServer) -> None:
    """Pinning is per host, not per key type: a server offering an Ed25519/RSA key instead is CHANGED."""
    pool = _pool(tmp_path, server.port)
    try:
        assert pool.run("hobo", "true").ok
        transport = pool.client("hobo").get_transport()
        server.host_key = paramiko.RSAKey.generate(2048)
        server.drop()
        _wait_dropped(pool, transport)
        with pytest.raises(RemoteError, match="host key CHANGED during the run"):
            pool.run("hobo", "true")
    finally:
        pool.close()
