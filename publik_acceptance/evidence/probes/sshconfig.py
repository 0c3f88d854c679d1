"""The operator's OpenSSH configuration, read as `ssh` reads it: where each SSH connection really goes.

For a server: its HostName, Port, User, IdentityFile (several), IdentitiesOnly and UserKnownHostsFile,
and the way there: `ProxyJump` (bastions, comma-separated, `[user@]host[:port]` or `ssh://…`, each
looked up in the same file; the first bastion's own ProxyJump or ProxyCommand is honoured, the later
ones' are not, as `ssh -J` does) or `ProxyCommand` (%h %p %r %n %% expanded; run without a shell).
Whichever of the two the file gives first wins, as in ssh. `Include` is followed as ssh follows it
(paramiko alone skips it). What the environment file says itself (a
server's user, port and key) comes before the ssh_config, as ssh's command-line options do.

Pure: reading the file and resolving names here never touches the network.
"""

from __future__ import annotations

import getpass
import glob
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import paramiko

MAX_HOPS = 8  # bastions on one route: more is a ProxyJump loop, not a network
MAX_INCLUDE_DEPTH = 16  # as ssh's own limit: deeper is a file including itself
SSH_PORT = 22


class SshConfigError(Exception):
    """The ssh_config cannot be honoured as written; one line naming the file and the Host."""


@dataclass(frozen=True)
class Hop:
    """One SSH connection on a route: a bastion, or the server itself, as ssh_config resolves it."""

    host: str  # where to connect: the HostName
    port: int
    user: str | None
    identity_files: tuple[str, ...] = ()
    identities_only: bool = False  # IdentitiesOnly yes: these keys only, not the agent's nor ~/.ssh's
    known_hosts: tuple[str, ...] = ()  # UserKnownHostsFile; empty: the environment's or ~/.ssh/known_hosts
    name: str = ""  # as written (the server's host, a ProxyJump entry): what ssh_config was looked up with

    @property
    def label(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}:{self.port}"

    @property
    def known_hosts_name(self) -> str:
        """How known_hosts names this hop's key (ssh's convention, which paramiko follows)."""
        return self.host if self.port == SSH_PORT else f"[{self.host}]:{self.port}"


@dataclass(frozen=True)
class Route:
    """How to reach a server: through `bastions` in order (the first one reached through
    `proxy_command` when there is one), or straight."""

    server: Hop
    bastions: tuple[Hop, ...] = ()
    proxy_command: str | None = None

    @property
    def hops(self) -> tuple[Hop, ...]:
        return (*self.bastions, self.server)

    @property
    def path(self) -> str:
        """" via bastion a:22, bastion b:22" / " via ProxyCommand `…`" / "" (straight)."""
        parts = [f"bastion {hop.label}" for hop in self.bastions]
        if self.proxy_command:
            parts.insert(0, f"ProxyCommand `{self.proxy_command}`")
        return f" via {', '.join(parts)}" if parts else ""


@dataclass(frozen=True)
class _Jump:
    host: str
    port: int | None
    user: str | None


class _ParamikoConfig(paramiko.SSHConfig):
    """paramiko's parser and Host/Match matching. %h %p %r in ProxyCommand and ProxyJump are left to
    us: paramiko fills them from the ssh_config alone, before the environment's port and user apply."""

    def _allowed_tokens(self, key: str) -> list[str]:
        if key in ("proxycommand", "proxyjump"):
            return []
        return super()._allowed_tokens(key)  # type: ignore[misc]


class SshConfig:
    """An ssh_config file (or none: then every server is reached straight, as the environment says)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._config = _ParamikoConfig()
        if path is None:
            return
        lines = _with_includes(Path(path), Path(path), 0)
        try:
            self._config.parse(lines)  # any iterable of lines
        except (paramiko.ssh_exception.ConfigParseError, ValueError) as exc:
            raise SshConfigError(f"ssh.config {path}: {exc}") from None

    def route(self, host: str, port: int | None = None, user: str | None = None,
              identity_files: Sequence[str] = (), bastion_identity_files: Sequence[str] = ()) -> Route:
        """The route to a server named `host`; `port`/`user`/`identity_files`: what the environment
        says for it (None: not said). `bastion_identity_files` are tried on bastions too."""
        return self._resolve(_Jump(host, port, user), tuple(identity_files), tuple(bastion_identity_files), 0, True)

    # -- resolution -------------------------------------------------------------------------------
    def _resolve(self, jump: _Jump, identities: tuple[str, ...], bastion_identities: tuple[str, ...],
                 depth: int, follow: bool) -> Route:
        if depth > MAX_HOPS:
            raise SshConfigError(f"{self._where(jump.host)}: more than {MAX_HOPS} bastions on the way (a ProxyJump "
                                 "loop?)")
        entry = self._config.lookup(jump.host)
        hop = self._hop(jump, entry, identities)
        proxy = _first_proxy(entry) if follow else None
        if proxy is None:
            return Route(hop)
        key, value = proxy
        if key == "proxycommand":
            return Route(hop, (), self._command(value, hop, jump.host))
        jumps = [self._parse_jump(spec, jump.host) for spec in self._expand(value, hop, jump.host, "ProxyJump")
                 .split(",")]
        if jumps[0].host == jump.host:  # `Host *` + `ProxyJump bastion` reaches the bastion itself straight
            return Route(hop)
        if depth + len(jumps) > MAX_HOPS:
            raise SshConfigError(f"{self._where(jump.host)}: more than {MAX_HOPS} bastions on the way (a ProxyJump "
                                 "loop?)")
        # ssh -J a,b,c host runs `ssh -J a,b -W host c`: only the first bastion's own proxy settings count.
        first = self._resolve(jumps[0], bastion_identities, bastion_identities, depth + len(jumps), True)
        later = tuple(self._resolve(j, bastion_identities, bastion_identities, depth + len(jumps), False).server
                      for j in jumps[1:])
        return Route(hop, (*first.bastions, first.server, *later), first.proxy_command)

    def _hop(self, jump: _Jump, entry: paramiko.SSHConfigDict, identities: tuple[str, ...]) -> Hop:
        port = jump.port
        if port is None and "port" in entry:
            raw = str(entry["port"])
            if not raw.isdigit() or not 0 < int(raw) < 65536:
                raise SshConfigError(f"{self._where(jump.host)}: Port {raw!r} is not a port number")
            port = int(raw)
        files = [*identities, *(os.path.expanduser(p) for p in entry.get("identityfile", []))]
        known = tuple(os.path.expanduser(p) for p in shlex.split(entry.get("userknownhostsfile", "")))
        return Hop(
            host=entry.get("hostname", jump.host),
            port=port or SSH_PORT,
            user=jump.user or entry.get("user"),
            identity_files=tuple(dict.fromkeys(files)),
            identities_only=str(entry.get("identitiesonly", "no")).lower() == "yes",
            known_hosts=known,
            name=jump.host,
        )

    def _parse_jump(self, spec: str, host: str) -> _Jump:
        """`[user@]host[:port]`, `ssh://[user@]host[:port]`, `[v6]:port`."""
        text = spec.strip()
        if text.startswith("ssh://"):
            text = text[len("ssh://"):].rstrip("/")
        user, _, rest = text.rpartition("@")
        port: str | None = None
        if rest.startswith("["):
            name, _, tail = rest[1:].partition("]")
            if tail:
                port = tail[1:] if tail.startswith(":") else "?"
        elif rest.count(":") == 1:
            name, _, port = rest.partition(":")
        else:
            name = rest
        if not name or any(c.isspace() for c in name) or (port is not None and not (
                port.isdigit() and 0 < int(port) < 65536)):
            raise SshConfigError(f"{self._where(host)}: ProxyJump entry {spec.strip()!r}: expected "
                                 "[user@]host[:port]")
        return _Jump(name, int(port) if port else None, user or None)

    def _command(self, value: str, hop: Hop, host: str) -> str:
        """The ProxyCommand with its tokens filled, as one command line (words re-quoted). The line is split
        into words before the tokens are filled, so a host or user name stays one argument whatever it holds."""
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise SshConfigError(f"{self._where(host)}: ProxyCommand {value!r}: {exc}") from None
        if not words:
            raise SshConfigError(f"{self._where(host)}: ProxyCommand is empty")
        words = [self._expand(w, hop, host, "ProxyCommand") for w in words]
        return shlex.join(os.path.expanduser(w) if w.startswith("~") else w for w in words)

    def _expand(self, value: str, hop: Hop, host: str, key: str) -> str:
        tokens = {"%": "%", "h": hop.host, "p": str(hop.port), "r": hop.user or getpass.getuser(), "n": host}

        def one(match: re.Match[str]) -> str:
            if match.group(1) not in tokens:
                raise SshConfigError(f"{self._where(host)}: {key} {value!r}: unknown token %{match.group(1)} "
                                     "(known: %h %p %r %n %%)")
            return tokens[match.group(1)]

        return re.sub(r"%(.?)", one, value)

    def _where(self, host: str) -> str:
        return f"ssh.config {self.path}, Host {host}"


_BLOCK = re.compile(r"\s*(host|match)(\s|=)", re.IGNORECASE)
_INCLUDE = re.compile(r"\s*include(?:\s*=\s*|\s+)(.*)$", re.IGNORECASE)


def _with_includes(path: Path, root: Path, depth: int) -> list[str]:
    """The lines of `path` with each `Include` replaced by the files it names, as ssh reads them
    (paramiko ignores the keyword, which would silently lose a bastion defined in an included file):
    several patterns per line, globs in lexical order, `~` expanded, a relative path under ~/.ssh (ssh's
    rule for a user's configuration), a file that matches nothing skipped, at most MAX_INCLUDE_DEPTH
    levels. An Include inside a Host or Match block applies under it; after the included lines the
    block that held the Include goes on, as in ssh, even if the included file opened blocks of its own."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        where = f" (included: {path})" if path != root else ""
        raise SshConfigError(f"ssh.config {root}{where}: cannot read it ({exc})") from None
    lines: list[str] = []
    block = "Host *\n"  # what the lines at the top of a file apply to
    for line in text.splitlines():
        found = _INCLUDE.match(line)
        if found is None:
            if _BLOCK.match(line):
                block = line + "\n"
            lines.append(line + "\n")
            continue
        if depth >= MAX_INCLUDE_DEPTH:
            raise SshConfigError(f"ssh.config {root}: Include nested more than {MAX_INCLUDE_DEPTH} deep "
                                 f"(at {path}): a file includes itself")
        try:
            patterns = shlex.split(found.group(1), comments=True)
        except ValueError as exc:
            raise SshConfigError(f"ssh.config {root}: Include in {path}: {exc}") from None
        included: list[str] = []
        for pattern in patterns:
            expanded = Path(os.path.expanduser(pattern))
            if not expanded.is_absolute():
                expanded = Path(os.path.expanduser("~/.ssh")) / expanded
            for match in sorted(glob.glob(str(expanded))):
                included += _with_includes(Path(match), root, depth + 1)
        lines += included
        if any(_BLOCK.match(line) for line in included):
            lines.append(block)  # back to the block that held the Include
    return lines


def _first_proxy(entry: paramiko.SSHConfigDict) -> tuple[str, str] | None:
    """ProxyJump or ProxyCommand, whichever the file gives first ("none" for either: no proxy)."""
    for key, value in entry.items():  # paramiko keeps the order in which values were first obtained
        if key in ("proxyjump", "proxycommand"):
            if value is None or str(value).strip().lower() == "none":
                return None
            return key, str(value)
    return None
