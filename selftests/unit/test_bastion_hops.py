"""Bastions, connected for real: SSH servers on loopback (paramiko's server side) that relay
`direct-tcpip` as OpenSSH's `ProxyJump` needs. Two bastions in a row, one connection each shared by
the roles behind them; every hop's host key verified, and a refusal on a hop names that hop; a
ProxyCommand carries the connection when the ssh_config says so.

The same through the sandbox's OpenSSH bastion: selftests/integration/test_bastion.py.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
import yaml

from publik_acceptance.config.environment import load_environment
from publik_acceptance.evidence.probes.remote import RemoteError, SshPool

VALID = Path(__file__).resolve().parent.parent / "corpus" / "valid"
RELAY = """\
import socket, sys, threading
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
def up():
    while data := sys.stdin.buffer.read1(65536):
        sock.sendall(data)
threading.Thread(target=up, daemon=True).start()
while data := sock.recv(65536):
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
"""


def _pump(source: socket.socket | paramiko.Channel, sink: socket.socket | paramiko.Channel) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except (OSError, EOFError, paramiko.SSHException):
        pass  # the other side went away: the end of the relay
    finally:
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            sink.close()


class _Interface(paramiko.ServerInterface):
    def __init__(self, server: FakeSsh) -> None:
        self.server = server

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        allowed = self.server.allowed_keys
        return paramiko.AUTH_SUCCESSFUL if allowed is None or key in allowed else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_direct_tcpip_request(self, chanid: int, origin: tuple[str, int],
                                           destination: tuple[str, int]) -> int:
        if not self.server.relays:
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        self.server.forwarded[chanid] = destination
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        def finish() -> None:
            channel.sendall(b"hello from " + self.server.name.encode() + b"\n")
            channel.send_exit_status(0)
            channel.shutdown_write()
            channel.close()

        threading.Timer(0.02, finish).start()
        return True


class FakeSsh:
    """An SSH server on 127.0.0.1: runs any command ("hello from <name>"), and relays direct-tcpip
    (the bastion's part of ProxyJump) unless `relays` is False; `allowed_keys` None lets any key in."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.host_key = paramiko.ECDSAKey.generate()
        self.allowed_keys: list[paramiko.PKey] | None = None
        self.relays = True
        self.forwarded: dict[int, tuple[str, int]] = {}
        self.logins = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.transports: list[paramiko.Transport] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.host_key.get_name()} {self.host_key.get_base64()}\n"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            transport = paramiko.Transport(sock)
            transport.add_server_key(self.host_key)
            try:
                transport.start_server(server=_Interface(self))
            except (paramiko.SSHException, OSError, EOFError):
                transport.close()
                continue
            self.transports.append(transport)
            threading.Thread(target=self._channels, args=(transport,), daemon=True).start()

    def _channels(self, transport: paramiko.Transport) -> None:
        counted = False
        while transport.is_active() and not self.stopping.is_set():
            channel = transport.accept(0.2)
            if channel is None:
                continue
            if not counted:
                self.logins, counted = self.logins + 1, True
            destination = self.forwarded.pop(channel.get_id(), None)
            if destination is None:
                continue  # a session: the exec request answers it
            try:
                upstream = socket.create_connection(destination, timeout=5)
            except OSError:
                channel.close()
                continue
            threading.Thread(target=_pump, args=(channel, upstream), daemon=True).start()
            threading.Thread(target=_pump, args=(upstream, channel), daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()
        for transport in self.transports:
            transport.close()
        self.thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def servers() -> Iterator[dict[str, FakeSsh]]:
    """A server behind two bastions; stopped after the test."""
    made = {name: FakeSsh(name) for name in ("app", "jump1", "jump2")}
    yield made
    for server in made.values():
        server.stop()


def _pool(tmp_path: Path, servers: dict[str, FakeSsh], ssh_config: str, known: tuple[str, ...] = ("app", "jump1",
          "jump2"), known_hosts_extra: str = "") -> SshPool:
    data = yaml.safe_load((VALID / "environment.yml").read_text())
    (tmp_path / "recipe.json").write_text((VALID / "recipe.json").read_text())
    (tmp_path / "known_hosts").write_text("".join(servers[n].known_hosts_line() for n in known) + known_hosts_extra)
    (tmp_path / "ssh_config").write_text(ssh_config.format(**{n: s.port for n, s in servers.items()}))
    paramiko.ECDSAKey.generate().write_private_key_file(str(tmp_path / "id_ecdsa"))
    data["servers"] = {role: {"ssh": "root@app"} for role in ("hobo", "database")}
    data["ssh"] = {"config": str(tmp_path / "ssh_config"), "known_hosts": str(tmp_path / "known_hosts"),
                   "identity_file": str(tmp_path / "id_ecdsa"), "connect_timeout": 5, "command_timeout": 5}
    (tmp_path / "environment.yml").write_text(yaml.safe_dump(data))
    return SshPool(load_environment(tmp_path / "environment.yml"))


TWO_BASTIONS = """
Host app
    HostName 127.0.0.1
    Port {app}
    ProxyJump ops@jump1,jump2
Host jump1
    HostName 127.0.0.1
    Port {jump1}
Host jump2
    HostName 127.0.0.1
    Port {jump2}
    User relay
"""


def test_two_bastions_one_connection_each_shared_by_the_roles(tmp_path: Path, servers: dict[str, FakeSsh]) -> None:
    pool = _pool(tmp_path, servers, TWO_BASTIONS)
    p = {n: s.port for n, s in servers.items()}
    try:
        assert pool.run("hobo", "true").stdout == "hello from app\n"
        assert pool.run("database", "true").stdout == "hello from app\n"
        assert pool.describe("hobo") == (f"root@127.0.0.1:{p['app']} (role hobo) via bastion ops@127.0.0.1:"
                                         f"{p['jump1']}, bastion relay@127.0.0.1:{p['jump2']}")
    finally:
        pool.close()
    assert dict(pool.stats.connections) == {f"bastion ops@127.0.0.1:{p['jump1']}": 1,
                                            f"bastion relay@127.0.0.1:{p['jump2']}": 1, f"root@127.0.0.1:{p['app']}": 1}
    assert [s.logins for s in servers.values()] == [1, 1, 1]


@pytest.mark.parametrize("missing", ["jump1", "jump2"])
def test_an_unknown_bastion_key_is_refused_naming_the_bastion(tmp_path: Path, servers: dict[str, FakeSsh],
                                                              missing: str) -> None:
    pool = _pool(tmp_path, servers, TWO_BASTIONS, known=tuple(n for n in servers if n != missing))
    with pytest.raises(RemoteError) as refused:
        pool.run("hobo", "true")
    bastion = f"{'ops' if missing == 'jump1' else 'relay'}@127.0.0.1:{servers[missing].port}"
    assert str(refused.value).startswith(f"ssh root@127.0.0.1:{servers['app'].port} via bastion {bastion}: host key "
                                         "unknown"), refused.value
    assert "Verify the bastion's fingerprint" in str(refused.value) and refused.value.hopeless
    assert servers["app"].logins == 0


def test_a_changed_bastion_key_is_refused(tmp_path: Path, servers: dict[str, FakeSsh]) -> None:
    impostor = paramiko.ECDSAKey.generate()
    line = f"[127.0.0.1]:{servers['jump2'].port} {impostor.get_name()} {impostor.get_base64()}\n"
    pool = _pool(tmp_path, servers, TWO_BASTIONS, known=("app", "jump1"), known_hosts_extra=line)
    with pytest.raises(RemoteError) as refused:
        pool.run("hobo", "true")
    assert f"via bastion relay@127.0.0.1:{servers['jump2'].port}: host key CHANGED" in str(refused.value)
    assert refused.value.hopeless and servers["app"].logins == 0


def test_authentication_refused_on_a_bastion_names_it(tmp_path: Path, servers: dict[str, FakeSsh]) -> None:
    servers["jump1"].allowed_keys = [paramiko.ECDSAKey.generate()]  # not ours
    pool = _pool(tmp_path, servers, TWO_BASTIONS)
    with pytest.raises(RemoteError) as refused:
        pool.run("hobo", "true")
    text = str(refused.value)
    assert f"via bastion ops@127.0.0.1:{servers['jump1'].port}: SSH authentication refused" in text, text
    assert "IdentityFile for Host jump1" in text and "the bastion's authorized_keys" in text
    assert refused.value.hopeless


def test_a_bastion_that_will_not_forward(tmp_path: Path, servers: dict[str, FakeSsh]) -> None:
    servers["jump2"].relays = False
    pool = _pool(tmp_path, servers, TWO_BASTIONS)
    with pytest.raises(RemoteError) as refused:
        pool.run("hobo", "true")
    text = str(refused.value)
    assert f"bastion relay@127.0.0.1:{servers['jump2'].port} could not open a connection to 127.0.0.1:" \
           f"{servers['app'].port}" in text, text
    assert refused.value.hopeless  # administratively prohibited: waiting will not change it


def test_proxycommand_carries_the_connection(tmp_path: Path, servers: dict[str, FakeSsh]) -> None:
    (tmp_path / "relay.py").write_text(RELAY)
    pool = _pool(tmp_path, servers, f"""
Host app
    HostName 127.0.0.1
    Port {{app}}
    ProxyCommand {sys.executable} {tmp_path / 'relay.py'} %h %p
""", known=("app",))
    try:
        assert pool.run("hobo", "true").stdout == "hello from app\n"
        assert pool.describe("hobo").endswith(f"via ProxyCommand `{sys.executable} {tmp_path / 'relay.py'} "
                                              f"127.0.0.1 {servers['app'].port}`")
    finally:
        pool.close()
    assert dict(pool.stats.connections) == {f"root@127.0.0.1:{servers['app'].port}": 1}


def test_a_proxycommand_that_does_not_start(tmp_path: Path, servers: dict[str, FakeSsh]) -> None:
    pool = _pool(tmp_path, servers, "Host app\n    ProxyCommand /nonexistent/connect %h %p\n", known=("app",))
    with pytest.raises(RemoteError) as refused:
        pool.run("hobo", "true")
    assert "ProxyCommand `/nonexistent/connect app 22` did not start" in str(refused.value), refused.value
    assert refused.value.hopeless


def test_what_a_failing_proxycommand_says_is_in_the_error_printable(tmp_path: Path,
                                                                    servers: dict[str, FakeSsh]) -> None:
    (tmp_path / "failing.py").write_text(
        "import sys\n"
        "sys.stderr.write('x' * 200000)\n"  # more than a pipe holds: it must be read as it comes
        "sys.stderr.write('\\nssh: Could not resolve hostname jump.example.fr\\x1b[31m\\n')\n"
        "sys.exit(255)\n")
    pool = _pool(tmp_path, servers, f"Host app\n    ProxyCommand {sys.executable} {tmp_path / 'failing.py'} %h\n",
                 known=("app",))
    try:
        with pytest.raises(RemoteError) as failed:
            pool.run("hobo", "true")
    finally:
        pool.close()
    text = str(failed.value)
    assert "(the ProxyCommand said: ssh: Could not resolve hostname jump.example.fr?[31m)" in text, text
    assert "\x1b" not in text


def test_trust_on_first_use_pins_and_lists_the_bastions_keys(tmp_path: Path, servers: dict[str, FakeSsh]) -> None:
    _pool(tmp_path, servers, TWO_BASTIONS, known=())  # writes the files; accept is set below
    data = yaml.safe_load((tmp_path / "environment.yml").read_text())
    data["ssh"]["unknown_host_keys"] = "accept"
    (tmp_path / "environment.yml").write_text(yaml.safe_dump(data))
    pool = SshPool(load_environment(tmp_path / "environment.yml"))
    try:
        pool.run("hobo", "true")
    finally:
        pool.close()
    listed = sorted(pool.accepted_host_keys())
    p = {n: s.port for n, s in servers.items()}
    assert listed == sorted([
        f"database, hobo 127.0.0.1:{p['app']} ecdsa-sha2-nistp256 {servers['app'].host_key.fingerprint}",
        f"bastion jump1 127.0.0.1:{p['jump1']} ecdsa-sha2-nistp256 {servers['jump1'].host_key.fingerprint}",
        f"bastion jump2 127.0.0.1:{p['jump2']} ecdsa-sha2-nistp256 {servers['jump2'].host_key.fingerprint}",
    ])
