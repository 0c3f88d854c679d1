"""What a Django service says its tenants are: `<service>-manage list_tenants`, read strictly.

hobo's multitenant `list_tenants` prints one `<schema> <hostname>` line per tenant directory, the
schema being what the service really uses (its hostname2schema, TENANT_MAPPING included). The output
comes from a server: it is bounded, every line must be exactly a PostgreSQL identifier, one space and
a host name, and nothing of it is ever handed to a shell. Other lines (warnings, a banner) are counted
and a few shown, escaped; they never count as tenants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from publik_acceptance.config.naming import hostname_problem
from publik_acceptance.evidence.probes.facts import CommandFacts
from publik_acceptance.evidence.probes.postgres import shown
from publik_acceptance.evidence.servers import ServerFacts
from publik_acceptance.plan import Target

MAX_LINES = 20000  # tenants of one service on one server: far more than any platform has
MAX_LINE = 400  # a 63-byte schema, a space and a 253-byte host name
SHOWN_NOISE = 3
_LINE = re.compile(r"([A-Za-z0-9_$]{1,63}) (\S{1,253})")
_SUDO_REFUSED = ("sudo: a password is required", "is not allowed to execute", "may not run sudo",
                 "is not in the sudoers file", "sudo: a terminal is required")


@dataclass(frozen=True)
class TenantListing:
    """One `list_tenants` answer: schema by host name (lower case), or why there is none."""

    command: str
    role: str
    schemas: dict[str, str] = field(default_factory=dict)
    conflicts: tuple[str, ...] = ()  # host names listed twice with different schemas
    noise: tuple[str, ...] = ()  # the first lines that are not `<schema> <hostname>`, escaped
    noise_lines: int = 0
    truncated: bool = False
    error: str | None = None  # missing command, refused sudo, non-zero exit: no names to compare

    @property
    def name(self) -> str:
        """The command as the operator knows it (`combo-manage list_tenants`), for messages."""
        words = self.command.split()
        manage = next((w for w in words if w.endswith("-manage")), None)
        return f"{manage.rsplit('/', 1)[-1]} list_tenants" if manage else shown(self.command, 80)

    def schema_of(self, host: str) -> str | None:
        return self.schemas.get(host.lower())

    def describe(self) -> str:
        where = f"`{shown(self.command, 120)}` on role {self.role}"
        if self.error:
            return f"{where}: {self.error}"
        text = f"{where}: {len(self.schemas)} tenant(s)"
        if self.noise_lines:
            text += (f"; {self.noise_lines} line(s) not of the form `<schema> <hostname>` ignored, e.g. "
                     + " | ".join(self.noise))
        if self.truncated:
            text += f"; only the first {MAX_LINES} lines read"
        return text


def listing_for(target: Target, facts: ServerFacts) -> TenantListing | None:
    """The target's service's `list_tenants` answer in this round, or None when it was not asked."""
    if not target.list_tenants or facts.error:
        return None
    answer = facts.commands.get(target.list_tenants)
    return parse_listing(target.server, answer) if answer is not None else None


@lru_cache(maxsize=16)  # one answer serves every tenant of the service on that server (this round)
def parse_listing(role: str, facts: CommandFacts) -> TenantListing:
    """The answer of one `list_tenants` run (the command's stderr is merged into its output)."""
    output = facts.output
    if facts.exit_status != 0:
        return TenantListing(facts.command, role, error=_failure(facts))
    schemas: dict[str, str] = {}
    conflicts: set[str] = set()
    noise: list[str] = []
    noise_lines = 0
    lines = output.splitlines()
    truncated = len(lines) > MAX_LINES
    for line in lines[:MAX_LINES]:
        match = _LINE.fullmatch(line.strip()) if len(line) <= MAX_LINE else None
        host = match.group(2).lower() if match else ""
        if match is None or hostname_problem(host) is not None:
            if line.strip():
                noise_lines += 1
                if len(noise) < SHOWN_NOISE:
                    noise.append(shown(line.strip(), 100))
            continue
        schema = match.group(1)
        if schemas.get(host, schema) != schema:
            conflicts.add(host)
        schemas.setdefault(host, schema)
    return TenantListing(facts.command, role, schemas, tuple(sorted(conflicts)), tuple(noise), noise_lines, truncated)


def _failure(facts: CommandFacts) -> str:
    text = facts.output.strip()
    first = shown(text.splitlines()[-1] if text else "", 200)
    if facts.exit_status == 127 or "command not found" in text or "No such file" in text:
        return f"the command is missing (exit {facts.exit_status}: {first or 'no output'})"
    if any(marker in text for marker in _SUDO_REFUSED):
        return f"sudo refused it (exit {facts.exit_status}: {first}): the SSH login user needs that sudo right"
    return f"failed (exit {facts.exit_status}: {first or 'no output'})"
