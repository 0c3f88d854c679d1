"""SSH to the platform's servers: one connection per server for the whole run, batched commands.

Host keys are verified against known_hosts; an unknown key is refused unless the environment says
`ssh.unknown_host_keys: accept` (then it is recorded), and a changed key is always refused.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from publik_acceptance.config.environment import Environment, SshServer
from publik_acceptance.config.secrets import redact

_CHUNK = 65536
MAX_KEPT = 8 * 1024 * 1024  # bytes kept per stream of a command: facts and logs are far smaller
MAX_LINE = 64 * 1024  # bytes of one line handed to on_line (the cook's live log)


class RemoteError(Exception):
    """A server could not be reached or a command could not run; the message says what to do.

    `hopeless`: waiting will not fix it (a host key refused, authentication refused, a name that does
    not resolve, a refused connection): a wait for this server ends at once instead of at its deadline.
    """

    def __init__(self, message: str, hopeless: bool = False) -> None:
        super().__init__(message)
        self.hopeless = hopeless


@dataclass(frozen=True)
class RemoteResult:
    command: str
    exit_status: int
    stdout: str
    stderr: str
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


@dataclass(frozen=True)
class Endpoint:
    """Where a role's SSH connection really goes, after ssh_config."""

    host: str
    port: int
    user: str | None
    identity_files: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}:{self.port}"


@dataclass(frozen=True)
class PinnedKey:
    """A host key trusted on first use: pinned for the rest of the run, listed in the report."""

    host: str  # as paramiko names it in known_hosts: "127.0.0.15" or "[127.0.0.15]:2222"
    key: paramiko.PKey

    @property
    def description(self) -> str:
        return f"{self.key.get_name()} {self.key.fingerprint}"


class _RecordingAcceptPolicy(paramiko.MissingHostKeyPolicy):
    """Trust on first use, only when the environment asks for it: the first key a host offers is
    pinned for the whole run (every later connection must offer it) and recorded for the report."""

    def __init__(self, pins: dict[str, PinnedKey], accepted: dict[str, str], lock: threading.Lock) -> None:
        self.pins = pins
        self.accepted = accepted
        self.lock = lock

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        with self.lock:
            pinned = self.pins.get(hostname)
            if pinned is not None and pinned.key != key:
                # Normally paramiko refuses first (_connect pre-loads the pins); this stays as the rule.
                raise paramiko.BadHostKeyException(hostname, key, pinned.key)
            self.pins[hostname] = pinned or PinnedKey(hostname, key)
            self.accepted[hostname] = self.pins[hostname].description
        client.get_host_keys().add(hostname, key.get_name(), key)


@dataclass
class SshStats:
    connections: Counter = field(default_factory=Counter)
    commands: Counter = field(default_factory=Counter)


class SshPool:
    """Lazily opened paramiko connections, one per distinct endpoint, shared by every role on it."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.stats = SshStats()
        self.accepted_keys: dict[str, str] = {}
        self._pins: dict[str, PinnedKey] = {}  # ssh.unknown_host_keys: accept: first key seen, per host
        self._clients: dict[Endpoint, paramiko.SSHClient] = {}
        self._locks: dict[Endpoint, threading.Lock] = {}
        self._lock = threading.Lock()
        self._config = paramiko.SSHConfig.from_path(str(env.ssh.config)) if env.ssh.config else None

    def endpoint(self, role: str) -> Endpoint:
        server: SshServer = self.env.servers[role]
        host, port, user = server.host, server.port, server.user
        identities = [str(p) for p in (server.identity_file, self.env.ssh.identity_file) if p]
        if self._config is not None:
            entry = self._config.lookup(server.host)
            host = entry.get("hostname", host)
            port = int(entry["port"]) if "port" in entry and server.port == 22 else port
            user = user or entry.get("user")
            identities += [os.path.expanduser(p) for p in entry.get("identityfile", [])]
        return Endpoint(host, port, user, tuple(dict.fromkeys(identities)))

    def describe(self, role: str) -> str:
        return f"{self.endpoint(role).label} (role {role})"

    def accepted_host_keys(self) -> list[str]:
        """The keys trusted on first use in this run, for the report: "hobo, wcs 127.0.0.15:22 ssh-ed25519 SHA256:…"."""
        with self._lock:
            pins = list(self._pins.values())
        lines = []
        for pin in pins:
            roles = [r for r in sorted(self.env.servers) if _known_hosts_name(self.endpoint(r)) == pin.host]
            host, port = _split_known_hosts_name(pin.host)
            lines.append(f"{', '.join(roles) or '?'} {host}:{port} {pin.description}")
        return lines

    def client(self, role: str) -> paramiko.SSHClient:
        endpoint = self.endpoint(role)
        with self._lock:
            lock = self._locks.setdefault(endpoint, threading.Lock())
        with lock:
            client = self._clients.get(endpoint)
            transport = client.get_transport() if client else None
            if client is None or transport is None or not transport.is_active():
                client = self._connect(role, endpoint)
                self._clients[endpoint] = client
            return client

    def _connect(self, role: str, endpoint: Endpoint) -> paramiko.SSHClient:
        ssh = self.env.ssh
        client = paramiko.SSHClient()
        known_hosts = ssh.known_hosts or Path("~/.ssh/known_hosts").expanduser()
        if Path(known_hosts).is_file():
            client.load_host_keys(str(known_hosts))
        if ssh.unknown_host_keys == "accept":
            with self._lock:  # a reconnect must offer the key pinned by the first connection
                for pin in self._pins.values():
                    client.get_host_keys().add(pin.host, pin.key.get_name(), pin.key)
            client.set_missing_host_key_policy(_RecordingAcceptPolicy(self._pins, self.accepted_keys, self._lock))
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        where = f"ssh {endpoint.label}"
        try:
            client.connect(
                endpoint.host, port=endpoint.port, username=endpoint.user,
                # paramiko takes a list of key files too (documented); its stubs say only str
                key_filename=list(endpoint.identity_files) or None,  # type: ignore[arg-type]
                timeout=ssh.connect_timeout, banner_timeout=ssh.connect_timeout, auth_timeout=ssh.connect_timeout,
                allow_agent=True, look_for_keys=not endpoint.identity_files,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            pinned = next((p for p in self._pins.values() if p.key == exc.expected_key), None)
            if pinned is not None:
                raise RemoteError(
                    f"{where}: host key CHANGED during the run: server offers {exc.key.get_name()} "
                    f"{exc.key.fingerprint}, but {pinned.description} was accepted on first use earlier in this "
                    "run (ssh.unknown_host_keys: accept pins it). Refused: check with the server's administrator "
                    "(this may be an attack), then add the right key to known_hosts.", hopeless=True
                ) from None
            raise RemoteError(
                f"{where}: host key CHANGED: server offers {exc.key.get_name()} {exc.key.fingerprint}, "
                f"{known_hosts} expects {exc.expected_key.fingerprint}. Check with the server's administrator "
                "before updating known_hosts (this may be an attack or a reinstalled server).", hopeless=True
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if "not found in known_hosts" in str(exc):
                raise RemoteError(
                    f"{where}: host key unknown (not in {known_hosts}); unknown keys are refused. Verify the "
                    "server's fingerprint, then add it (ssh-keyscan), or set ssh.unknown_host_keys: accept.",
                    hopeless=True) from None
            if isinstance(exc, paramiko.AuthenticationException):
                raise RemoteError(f"{where}: SSH authentication refused ({exc}): check the user, the key "
                                  "(ssh.identity_file, servers.<role>.identity_file, the agent) and the server's "
                                  "authorized_keys", hopeless=True) from None
            raise RemoteError(f"{where}: SSH failed: {exc}") from None
        except TimeoutError:
            client.close()
            raise RemoteError(f"{where}: no SSH answer within {ssh.connect_timeout:g} s") from None
        except socket.gaierror as exc:
            client.close()
            raise RemoteError(f"{where}: the name {endpoint.host} does not resolve on this machine "
                              f"({exc.strerror or exc}): fix the server's name in servers: (or ssh_config), or this "
                              "machine's DNS", hopeless=True) from None
        except OSError as exc:
            client.close()
            refused = exc.errno == errno.ECONNREFUSED or (  # paramiko wraps one error per address tried
                isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError)
                and all(isinstance(e, OSError) and e.errno == errno.ECONNREFUSED for e in exc.errors.values()))
            todo = ": nothing listens on that port (check the port and that sshd runs)" if refused else ""
            raise RemoteError(f"{where}: cannot connect: {exc.strerror or exc}{todo}", hopeless=refused) from None
        self.stats.connections[endpoint.label] += 1
        return client

    def run(self, role: str, command: str, stdin: bytes | None = None, timeout: float | None = None,
            on_line: Callable[[str, str], None] | None = None, hold_stdin: bool = False) -> RemoteResult:
        """Run one command; `on_line(stream, line)` receives output live (for the cook log).

        `hold_stdin`: keep the command's stdin open until we close the channel, so that it reads EOF
        when we go away (Ctrl-C, a dropped connection): the cook's wrapper stops the cook then."""
        timeout = timeout if timeout is not None else self.env.ssh.command_timeout
        client = self.client(role)
        endpoint = self.endpoint(role)
        self.stats.commands[endpoint.label] += 1
        started = time.monotonic()
        transport = client.get_transport()
        if transport is None:
            raise RemoteError(f"ssh {endpoint.label} (role {role}): connection lost")
        where = f"ssh {endpoint.label} (role {role})"
        try:
            channel = transport.open_session(timeout=self.env.ssh.connect_timeout)
        except (paramiko.SSHException, OSError) as exc:
            raise RemoteError(f"{where}: connection lost: {exc}") from None
        try:
            channel.settimeout(timeout)
            channel.exec_command(command)
            if stdin is not None:
                channel.sendall(stdin)
            if not hold_stdin:
                channel.shutdown_write()
            stdout, stderr = _drain(channel, transport, started + timeout, on_line)
            if not channel.exit_status_ready():
                raise RemoteError(f"{where}: command did not finish within {timeout:g} s: {redact(command)}")
            status = channel.recv_exit_status()
            # -1: the channel closed without an exit status. paramiko closes the channels of a dying
            # connection a moment before it marks the transport inactive, so look twice.
            if status == -1 and _goes_inactive(transport, 0.5):
                raise ConnectionAbortedError("the SSH connection closed")
        except (paramiko.SSHException, OSError) as exc:
            raise RemoteError(f"{where}: connection dropped during the command ({exc or type(exc).__name__}); "
                              "it may still be running on the server") from None
        finally:
            channel.close()
        return RemoteResult(command, status, stdout, stderr, time.monotonic() - started)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


class _Stream:
    """One output stream of a command: its first MAX_KEPT bytes kept, the rest only counted (a server
    printing 400 MB once filled our memory); lines for `on_line`, each cut at MAX_LINE."""

    def __init__(self, name: str, on_line: Callable[[str, str], None] | None) -> None:
        self.name = name
        self.on_line = on_line
        self.kept = bytearray()
        self.total = 0
        self.line = bytearray()  # the line being received, at most MAX_LINE bytes of it
        self.line_cut = False

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = MAX_KEPT - len(self.kept)
        if room > 0:
            self.kept += data[:room]
        if self.on_line is None:
            return
        *complete, last = data.split(b"\n")
        for piece in complete:
            self._extend(piece)
            self._emit()
        self._extend(last)

    def _extend(self, piece: bytes) -> None:
        room = MAX_LINE - len(self.line)
        if len(piece) > room:
            self.line_cut = True
        if room > 0:
            self.line += piece[:room]

    def _emit(self) -> None:
        assert self.on_line is not None
        text = self.line.decode("utf-8", "replace")
        self.on_line(self.name, text + (f" [line cut at {MAX_LINE // 1024} KiB]" if self.line_cut else ""))
        self.line.clear()
        self.line_cut = False

    def finish(self) -> str:
        if self.on_line is not None and (self.line or self.line_cut):
            self._emit()
        text = self.kept.decode("utf-8", "replace")
        if self.total > len(self.kept):
            separator = "" if text.endswith("\n") else "\n"
            text += (f"{separator}[publik-acceptance: {self.name} cut: kept the first {MAX_KEPT // 2**20} MiB "
                     f"of {self.total} bytes]\n")
        return text


def _drain(channel: paramiko.Channel, transport: paramiko.Transport, deadline: float,
           on_line: Callable[[str, str], None] | None) -> tuple[str, str]:
    """Read both streams until the command exits, the deadline passes or the connection drops.

    Everything is read (so the command is never blocked on a full pipe), but only the first
    MAX_KEPT bytes of each stream are kept; a cut stream ends with a line saying so."""
    out, err = _Stream("stdout", on_line), _Stream("stderr", on_line)
    while time.monotonic() < deadline:
        # Look at the end first, read second: whatever arrived before EOF is buffered by then, so
        # nothing that comes between the two looks is lost. (sshd may also send the exit status
        # before the last output: the end is EOF plus the status, not the status alone.)
        finished = channel.exit_status_ready() and (channel.eof_received or channel.closed)
        progressed = False
        while channel.recv_ready():
            out.add(channel.recv(_CHUNK))
            progressed = True
        while channel.recv_stderr_ready():
            err.add(channel.recv_stderr(_CHUNK))
            progressed = True
        if finished:
            break
        if not transport.is_active():
            raise ConnectionAbortedError("the SSH connection closed")
        if not progressed:
            channel.status_event.wait(0.005)
    return out.finish(), err.finish()


def _goes_inactive(transport: paramiko.Transport, within: float) -> bool:
    deadline = time.monotonic() + within
    while transport.is_active():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _known_hosts_name(endpoint: Endpoint) -> str:
    """How paramiko names an endpoint's host key (the known_hosts convention)."""
    return endpoint.host if endpoint.port == 22 else f"[{endpoint.host}]:{endpoint.port}"


def _split_known_hosts_name(name: str) -> tuple[str, int]:
    if name.startswith("[") and "]:" in name:
        host, port = name[1:].rsplit("]:", 1)
        return host, int(port)
    return name, 22
