"""SSH to the platform's servers: one connection per server for the whole run, batched commands.

The way to each server follows the environment's ssh_config as ssh does (sshconfig.py): bastions
(ProxyJump, one connection per bastion shared by every server behind it) or a ProxyCommand. The host
key of every connection, bastions included, is verified against known_hosts; an unknown key is
refused unless the environment says `ssh.unknown_host_keys: accept` (then it is recorded), and a
changed key is always refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from publik_acceptance.config.environment import Environment
from publik_acceptance.config.secrets import redact
from publik_acceptance.evidence.probes.sshconfig import Hop, Route, SshConfig, SshConfigError

_CHUNK = 65536
MAX_KEPT = 8 * 1024 * 1024  # bytes kept per stream of a command: facts and logs are far smaller
MAX_LINE = 64 * 1024  # bytes of one line handed to on_line (the cook's live log)

Endpoint = Hop  # where a role's SSH connection really goes, after ssh_config (the last hop of its route)


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


class _ProxyCommand(paramiko.ProxyCommand):
    """paramiko's ProxyCommand, reaped when closed (paramiko only signals it, leaving a zombie and its pipes),
    with its stderr read as it comes: paramiko pipes it and never reads it, so a chatty proxy would block on a
    full pipe, and what a failing one says ("Could not resolve hostname …") was lost. The last STDERR_KEPT
    bytes are kept for the error message."""

    STDERR_KEPT = 2048

    def __init__(self, command_line: str) -> None:
        super().__init__(command_line)
        self._stderr = b""
        self._reader = threading.Thread(target=self._drain_stderr, name="proxycommand-stderr", daemon=True)
        self._reader.start()

    def _drain_stderr(self) -> None:
        """Until the proxy's end of the pipe closes; this thread alone closes ours (never under a read
        in progress, whose descriptor could otherwise be reused by another connection meanwhile)."""
        pipe = self.process.stderr
        if pipe is None:
            return
        try:
            fd = pipe.fileno()
            with contextlib.suppress(OSError):
                while chunk := os.read(fd, 4096):
                    self._stderr = (self._stderr + chunk)[-self.STDERR_KEPT:]
        finally:
            pipe.close()

    def recv(self, size: int) -> bytes:
        """What the proxy wrote, up to `size` bytes, as a socket gives it: what is there, b"" once it has
        ended (paramiko's own recv waits to fill `size` and, on a proxy that has exited, spins on the end
        of its output until the timeout, a core busy all the while)."""
        stdout = self.process.stdout
        if stdout is None:
            return b""
        ready, _, _ = select.select([stdout], [], [], self.timeout)
        if not ready:
            raise TimeoutError("no answer from the ProxyCommand")
        return os.read(stdout.fileno(), size)

    def said(self) -> str:
        """Its last stderr line, printable only (it goes to the console and the report), or "". A proxy
        that has ended is given a moment for its reader to take its last words; a running one is not waited."""
        if self.process.poll() is not None:
            self._reader.join(timeout=0.5)
        lines = [line.strip() for line in self._stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        return "".join(c if c.isprintable() else "?" for c in last)[:300]

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            super().close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=2)
        for pipe in (self.process.stdin, self.process.stdout):  # stderr: its reader closes it at EOF
            if pipe is not None:
                pipe.close()


def _proxy_said(sock: object) -> str:
    """What the ProxyCommand under a failed connection wrote on its stderr, or ""."""
    return sock.said() if isinstance(sock, _ProxyCommand) else ""


@dataclass
class SshStats:
    connections: Counter = field(default_factory=Counter)
    commands: Counter = field(default_factory=Counter)


class SshPool:
    """Lazily opened paramiko connections: one per distinct server endpoint, shared by every role on it,
    and one per bastion, shared by every server behind it."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.stats = SshStats()
        self.accepted_keys: dict[str, str] = {}
        self._pins: dict[str, PinnedKey] = {}  # ssh.unknown_host_keys: accept: first key seen, per host
        self._clients: dict[tuple, paramiko.SSHClient] = {}  # by route prefix: (proxy command, hop, hop…)
        self._locks: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()
        self._routes: dict[str, Route] = {}
        self._route_errors: dict[str, str] = {}  # role → why its ssh_config cannot be honoured
        problem = ""
        try:
            config: SshConfig | None = SshConfig(env.ssh.config)
        except SshConfigError as exc:
            config, problem = None, str(exc)
        for role, server in env.servers.items():
            identities = [str(p) for p in (server.identity_file, env.ssh.identity_file) if p]
            straight = Route(Hop(server.host, server.port, server.user, tuple(dict.fromkeys(identities)),
                                 name=server.host))
            if config is None:
                self._routes[role], self._route_errors[role] = straight, problem
                continue
            try:
                # Port 22 in the environment is its default: the ssh_config's Port applies then.
                self._routes[role] = config.route(
                    server.host, server.port if server.port != 22 else None, server.user, identities,
                    [str(env.ssh.identity_file)] if env.ssh.identity_file else [])
            except SshConfigError as exc:
                self._routes[role], self._route_errors[role] = straight, str(exc)

    def route(self, role: str) -> Route:
        return self._routes[role]

    def endpoint(self, role: str) -> Endpoint:
        return self._routes[role].server

    def describe(self, role: str) -> str:
        route = self._routes[role]
        return f"{route.server.label} (role {role}){route.path}"

    def accepted_host_keys(self) -> list[str]:
        """The keys trusted on first use in this run, for the report: "hobo, wcs 127.0.0.15:22 ssh-ed25519 SHA256:…"
        (a bastion's: "bastion jump 127.0.0.16:22 …")."""
        with self._lock:
            pins = list(self._pins.values())
        lines = []
        for pin in pins:
            who = [r for r in sorted(self._routes) if self._routes[r].server.known_hosts_name == pin.host]
            who = who or sorted({f"bastion {hop.name}" for route in self._routes.values() for hop in route.bastions
                                 if hop.known_hosts_name == pin.host})
            host, port = _split_known_hosts_name(pin.host)
            lines.append(f"{', '.join(who) or '?'} {host}:{port} {pin.description}")
        return lines

    def client(self, role: str) -> paramiko.SSHClient:
        if role in self._route_errors:
            raise RemoteError(f"ssh {self.describe(role)}: {self._route_errors[role]}", hopeless=True)
        route = self._routes[role]
        return self._hop_client(route, len(route.hops))

    def _hop_client(self, route: Route, count: int) -> paramiko.SSHClient:
        """The connection to the `count`-th hop of `route` (bastions first), opened or reopened as needed;
        a server's connection rides on its bastion's, opened first."""
        key = (route.proxy_command, *route.hops[:count])
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            client = self._clients.get(key)
            transport = client.get_transport() if client else None
            if client is None or transport is None or not transport.is_active():
                hop = route.hops[count - 1]
                where = (f"ssh {route.server.label}" if count == len(route.hops)
                         else f"ssh {route.server.label} via bastion {hop.label}")
                sock = self._way_to(route, count, where)
                try:
                    client = self._connect(hop, sock, where, bastion=count < len(route.hops))
                except RemoteError as exc:
                    said = _proxy_said(sock)
                    if not said:
                        raise
                    raise RemoteError(f"{exc} (the ProxyCommand said: {said})", hopeless=exc.hopeless) from None
                self._clients[key] = client
            return client

    def _way_to(self, route: Route, count: int, where: str) -> paramiko.Channel | _ProxyCommand | None:
        """What carries the connection to hop `count`: a channel through the bastion before it, the
        ProxyCommand (first hop), or None (a plain TCP connection)."""
        hop = route.hops[count - 1]
        timeout = self.env.ssh.connect_timeout
        if count > 1:
            bastion = route.hops[count - 2]
            transport = self._hop_client(route, count - 1).get_transport()
            if transport is None:
                raise RemoteError(f"{where}: the connection to bastion {bastion.label} closed")
            try:
                return transport.open_channel("direct-tcpip", (hop.host, hop.port), ("127.0.0.1", 0), timeout=timeout)
            except paramiko.ChannelException as exc:
                # 1: administratively prohibited (PermitOpen…); "Connection refused": nothing listens there.
                hopeless = exc.code == 1 or "refused" in str(exc.text).lower()
                raise RemoteError(f"{where}: bastion {bastion.label} could not open a connection to {hop.host}:"
                                  f"{hop.port} ({exc.text}): check that sshd runs there and that the bastion may "
                                  "reach it (its PermitOpen, a firewall)", hopeless=hopeless) from None
            except (paramiko.SSHException, OSError) as exc:
                raise RemoteError(f"{where}: no connection through bastion {bastion.label} to {hop.host}:{hop.port} "
                                  f"within {timeout:g} s ({exc or type(exc).__name__})") from None
        if route.proxy_command:
            try:
                return _ProxyCommand(route.proxy_command)
            except (OSError, paramiko.SSHException) as exc:
                raise RemoteError(f"{where}: ProxyCommand `{route.proxy_command}` did not start ({exc}): fix it in "
                                  f"{self.env.ssh.config}", hopeless=True) from None
        return None

    def _known_hosts(self, hop: Hop) -> list[Path]:
        """ssh.known_hosts when the environment names it, else the hop's UserKnownHostsFile, else ~/.ssh's."""
        if self.env.ssh.known_hosts:
            return [Path(self.env.ssh.known_hosts)]
        return [Path(p) for p in hop.known_hosts] or [Path("~/.ssh/known_hosts").expanduser()]

    def _connect(self, hop: Hop, sock: paramiko.Channel | paramiko.ProxyCommand | None, where: str,
                 bastion: bool) -> paramiko.SSHClient:
        ssh = self.env.ssh
        client = paramiko.SSHClient()
        known_hosts = self._known_hosts(hop)
        for path in known_hosts:
            if path.is_file():
                client.load_host_keys(str(path))
        shown = ", ".join(str(p) for p in known_hosts)
        if ssh.unknown_host_keys == "accept":
            with self._lock:  # a reconnect must offer the key pinned by the first connection
                for pin in self._pins.values():
                    client.get_host_keys().add(pin.host, pin.key.get_name(), pin.key)
            client.set_missing_host_key_policy(_RecordingAcceptPolicy(self._pins, self.accepted_keys, self._lock))
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                hop.host, port=hop.port, username=hop.user, sock=sock,
                # paramiko takes a list of key files too (documented); its stubs say only str
                key_filename=list(hop.identity_files) or None,  # type: ignore[arg-type]
                timeout=ssh.connect_timeout, banner_timeout=ssh.connect_timeout, auth_timeout=ssh.connect_timeout,
                channel_timeout=ssh.connect_timeout,
                # IdentitiesOnly yes: the keys named, never the agent's nor ~/.ssh's
                allow_agent=not hop.identities_only, look_for_keys=not hop.identity_files and not hop.identities_only,
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
                f"{shown} expects {exc.expected_key.fingerprint}. Check with the server's administrator "
                "before updating known_hosts (this may be an attack or a reinstalled server).", hopeless=True
            ) from None
        except paramiko.SSHException as exc:
            # Keys were tried and none accepted: the handshake passed (host key verified) and no login.
            # paramiko then often raises the last key-loading error ("encountered EC key, expected
            # OPENSSH key": each key file is tried as each key type), not AuthenticationException.
            transport = client.get_transport()
            tried = transport is not None and transport.is_active() and not transport.is_authenticated()
            client.close()
            if "not found in known_hosts" in str(exc):
                raise RemoteError(
                    f"{where}: host key unknown (not in {shown}); unknown keys are refused. Verify the "
                    f"{'bastion' if bastion else 'server'}'s fingerprint, then add it (ssh-keyscan), or set "
                    "ssh.unknown_host_keys: accept.", hopeless=True) from None
            if isinstance(exc, paramiko.AuthenticationException) or tried:
                keys = (f"IdentityFile for Host {hop.name} in {ssh.config}, ssh.identity_file, the agent" if bastion
                        else "ssh.identity_file, servers.<role>.identity_file, IdentityFile in ssh.config, the agent")
                detail = exc if isinstance(exc, paramiko.AuthenticationException) else f"no key accepted; last: {exc}"
                raise RemoteError(f"{where}: SSH authentication refused ({detail}): check the user, the key ({keys}) "
                                  f"and the {'bastion' if bastion else 'server'}'s authorized_keys",
                                  hopeless=True) from None
            raise RemoteError(f"{where}: SSH failed: {exc}") from None
        except TimeoutError:
            client.close()
            raise RemoteError(f"{where}: no SSH answer within {ssh.connect_timeout:g} s") from None
        except socket.gaierror as exc:
            client.close()
            raise RemoteError(f"{where}: the name {hop.host} does not resolve on this machine "
                              f"({exc.strerror or exc}): fix the server's name in servers: (or ssh_config), or this "
                              "machine's DNS", hopeless=True) from None
        except OSError as exc:
            client.close()
            refused = exc.errno == errno.ECONNREFUSED or (  # paramiko wraps one error per address tried
                isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError)
                and all(isinstance(e, OSError) and e.errno == errno.ECONNREFUSED for e in exc.errors.values()))
            todo = ": nothing listens on that port (check the port and that sshd runs)" if refused else ""
            raise RemoteError(f"{where}: cannot connect: {exc.strerror or exc}{todo}", hopeless=refused) from None
        self.stats.connections[f"bastion {hop.label}" if bastion else hop.label] += 1
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
        where = f"ssh {self.describe(role)}"
        if transport is None:
            raise RemoteError(f"{where}: connection lost")
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
            # Servers first, then the bastions they ride on.
            for key in sorted(self._clients, key=len, reverse=True):
                self._clients[key].close()
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


def _split_known_hosts_name(name: str) -> tuple[str, int]:
    if name.startswith("[") and "]:" in name:
        host, port = name[1:].rsplit("]:", 1)
        return host, int(port)
    return name, 22
