"""testinfra on the suite's own SSH connections: the `host` that a site's own checks are given.

A testinfra `Host` normally opens its own connection (testinfra's paramiko backend warns on an
unknown host key and reconnects on its own). Here every command goes through `SshPool.run`, so a
site check rides on the run's one verified connection per server: the same known_hosts (an unknown
or changed key is refused the same way), ssh_config and jump hosts, the same per-command timeout
(`ssh.command_timeout`) and output bounds, and RemoteError with its to-do when a server cannot be
reached. Each command a check runs is recorded as evidence for the report.
"""

from __future__ import annotations

import shlex
import threading
from typing import Any

import testinfra.host
from testinfra.backend.base import BaseBackend, CommandResult

from publik_acceptance.config.catalogue import SERVICE_KINDS
from publik_acceptance.config.environment import Environment
from publik_acceptance.config.secrets import redact
from publik_acceptance.evidence import log as evidence_log
from publik_acceptance.evidence.probes.privilege import privilege
from publik_acceptance.evidence.probes.remote import SshPool

OUTPUT_SHOWN = 2000  # characters of a command's output kept as evidence (the report shows as many)


def role_for(env: Environment, name: str) -> str | None:
    """The server role a check names: a role under `servers`, or a service kind (the role holding its
    tenants, by the Plan's own rule: services.<kind>.server, else a role of that name, else hobo)."""
    if name in env.servers:
        return name
    if name in SERVICE_KINDS:
        return env.service(name).server or "hobo"
    return None


class SuiteBackend(BaseBackend):
    """A testinfra backend whose commands run on the pool's connection to one server role."""

    NAME = "publik-acceptance"

    def __init__(self, pool: SshPool, role: str, sudo: bool) -> None:
        super().__init__(pool.endpoint(role).host, sudo=sudo)
        self.pool = pool
        self.role = role

    def get_pytest_id(self) -> str:
        return f"{self.role}|{self.pool.endpoint(self.role).label}"

    def get_sudo_command(self, command: str, sudo_user: str | None) -> str:
        # testinfra's own is `sudo sh -c …`, which would wait on a password prompt until the command
        # timeout: `-n` makes a missing sudo right fail at once, saying so on stderr.
        if sudo_user is None:
            return f"sudo -n /bin/sh -c {shlex.quote(command)}"
        return f"sudo -n -u {shlex.quote(sudo_user)} /bin/sh -c {shlex.quote(command)}"

    def get_encoding(self) -> str:
        return "utf-8"  # the pool decodes output as UTF-8; no `python3 -c` round trip to ask the server

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
        line = self.get_command(command, *args)
        outcome = self.pool.run(self.role, line)  # RemoteError (unreachable, refused key, timeout) goes up
        output = (outcome.stdout + outcome.stderr).strip()
        evidence_log.record("command", f"on role {self.role} ({self.pool.endpoint(self.role).label})", {
            "command": redact(line), "exit_status": outcome.exit_status,
            "output": redact(output[:OUTPUT_SHOWN]) + (" […]" if len(output) > OUTPUT_SHOWN else ""),
        })
        return self.result(outcome.exit_status, self.encode(line), outcome.stdout, outcome.stderr)


class SuiteHosts:
    """One testinfra Host per server role, made on first use and kept for the run."""

    def __init__(self, env: Environment, pool: SshPool) -> None:
        self.env = env
        self.pool = pool
        self._hosts: dict[str, testinfra.host.Host] = {}
        self._lock = threading.Lock()

    def get(self, role: str) -> testinfra.host.Host:
        """The Host of `role`, its connection opened (RemoteError, with its to-do, if it cannot be)."""
        self.pool.client(role)
        with self._lock:
            if role not in self._hosts:
                # A non-root login runs commands through `sudo -n`, as the suite's own file facts do.
                backend = SuiteBackend(self.pool, role, privilege(self.pool, role).sudo_for_root)
                host = testinfra.host.Host(backend)
                backend.set_host(host)
                self._hosts[role] = host
            return self._hosts[role]
