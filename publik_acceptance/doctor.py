"""`inv doctor`: know before the day. What an environment needs, and whether it is there.

Read-only and quick: every secret the environment names (variables and files), the local files it
points at, every resolver, and on every server the SSH login (host keys verified) and the rights and
tools the run will use there (sudo as root, as the cook user, as the w.c.s. user; each Django
service's list_tenants; psql, flock, setsid, pgrep), all of a server's in one SSH command. Nothing
is changed anywhere; each missing thing comes with what to do.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from publik_acceptance.config.environment import Environment
from publik_acceptance.config.secrets import redact, secret_problem, secret_refs
from publik_acceptance.deploy.shell import clean
from publik_acceptance.evidence.probes import dns as dns_probe
from publik_acceptance.evidence.probes.facts import Batch, ask
from publik_acceptance.evidence.probes.privilege import privilege
from publik_acceptance.evidence.probes.remote import RemoteError, SshPool
from publik_acceptance.plan import Plan

OK, MISSING, INFO = "ok", "missing", "info"
MARKS = {OK: "✓", MISSING: "✗", INFO: "·"}
SERVER_TOOLS = {  # what the run executes on a server of that role, beyond sh and coreutils
    "hobo": ("flock", "setsid", "pgrep", "pkill", "timeout"),
    "wcs": ("psql", "mktemp", "sha256sum"),
    "database": ("psql",),  # database.psql runs there (unless database.direct)
}


@dataclass(frozen=True)
class Finding:
    """One thing the environment needs: there (ok), not there (missing, with a to-do), or for information."""

    area: str  # secrets, local, dns, ssh
    subject: str
    state: str
    detail: str = ""
    todo: str = ""

    def lines(self) -> list[str]:
        head = f"{MARKS[self.state]} {self.area:<8} {self.subject}"
        out = [f"{head}: {self.detail}" if self.detail else head]
        if self.todo:
            out.append(f"    to do: {self.todo}")
        return out


def secrets(env: Environment) -> Iterator[Finding]:
    """Every secret the environment names, resolved as the run resolves it (same message everywhere)."""
    for ref in secret_refs(env):
        problem = secret_problem(ref)
        if problem is not None:
            yield Finding("secrets", ref.origin, MISSING, problem.problem, problem.todo)
        else:
            yield Finding("secrets", ref.origin, OK, f"from {ref.describe()}")


def local_files(env: Environment) -> Iterator[Finding]:
    """Files the environment points at on this machine."""
    ssh = env.ssh
    known_hosts = ssh.known_hosts or Path("~/.ssh/known_hosts").expanduser()
    files: list[tuple[str, Path | None]] = [
        ("ssh.known_hosts", known_hosts), ("ssh.config", ssh.config), ("ssh.identity_file", ssh.identity_file),
        ("tls.ca_bundle", env.tls.ca_bundle)]
    files += [(f"servers.{role}.identity_file", server.identity_file) for role, server in sorted(env.servers.items())]
    for key, path in files:
        if path is None:
            continue
        if Path(path).is_file():
            yield Finding("local", key, OK, str(path))
        else:
            yield Finding("local", key, MISSING, f"{path} does not exist or is not a file",
                          f"create it, or fix {key} in {env.file}")
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    yield Finding("local", "chromium (screenshots, optional)", INFO,
                  chromium or "not installed: the report will have no screenshots (apt install chromium)")


def resolvers(plan: Plan) -> Iterator[Finding]:
    """Each resolver answers (any answer, NXDOMAIN included: the preflight judges the names)."""
    env = plan.environment
    probe = plan.targets[0].hostname if plan.targets else "localhost"
    for server in env.dns.resolvers:
        answer = dns_probe.query(probe, server, "A", env.dns.timeout)
        if answer.status in ("timeout", "no answer from resolver", "error"):
            yield Finding("dns", f"resolver {server}", MISSING, f"{answer.status} for {probe}: {answer.detail}",
                          f"check dns.resolvers in {env.file} and that this machine may reach {server}")
        else:
            yield Finding("dns", f"resolver {server}", OK, f"answers ({probe}: {answer.status})")


def _needs(plan: Plan) -> dict[str, list[tuple[str, str]]]:
    """Per server role: the (user, why) the SSH login must be able to act as, root first."""
    env = plan.environment
    needs: dict[str, list[tuple[str, str]]] = {role: [("root", "server facts")] for role in env.servers}
    needs["hobo"].append((env.cook.user, "the recipe and the cook"))
    for role, owner in sorted({(t.server, t.owner) for t in plan.targets if t.kind == "wcs"}):
        needs[role].append((owner, "the skeleton upload and its database login"))
    return needs


@dataclass(frozen=True)
class _Check:
    """One thing asked of a server: a command whose exit status 0 means it is there."""

    subject: str
    command: str
    there: str  # detail when it is there
    needed_for: str  # what fails without it (the detail when it is missing starts with it)
    todo: str


_OPERATORS = frozenset("|;&<>()")


def right_check(command: str) -> str:
    """A command that proves the login may run `command` without running it: `sudo -n -l …` when it goes
    through sudo (exit 0 only if the sudoers allow it and the program is there), else `command -v` of its
    program. Shell operators and what follows them are left out: the right concerns the program."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    words = words[:next((i for i, w in enumerate(words) if set(w) <= _OPERATORS), len(words))]
    if words and words[0].rsplit("/", 1)[-1] == "sudo":
        return shlex.join(["sudo", "-n", "-l", *words[1:]])
    return f"command -v {shlex.quote(words[0])}" if words else "true"


def _checks(plan: Plan, pool: SshPool, role: str) -> list[_Check]:
    """What the run will need of the login on `role`: sudo as each user, each list_tenants, the tools."""
    env = plan.environment
    where = pool.describe(role)
    login = privilege(pool, role)
    checks = []
    for user, why in _needs(plan).get(role, []):
        prefix = login.as_user(user)
        if prefix:
            checks.append(_Check(f"{where}: sudo as {user}", f"{prefix}true", why, f"needed for {why}",
                                 f"allow {login.login} to run any command as {user} without a password (sudoers "
                                 "NOPASSWD: ALL for that user: the lock, the uploads and the cook's clean-up run "
                                 "shell scripts)"))
    listings = {(t.kind, t.list_tenants) for t in plan.targets if t.server == role and t.list_tenants}
    for kind, command in sorted(listings):
        key = f"services.{kind}.list_tenants"
        checks.append(_Check(f"{where}: {kind} list_tenants", right_check(command), f"may run `{command}`",
                             f"needed for {key} (the tenants {kind} itself serves)",
                             f"allow {login.login} to run `{command}` without a password (a sudoers NOPASSWD "
                             f"rule), or set {key} in {env.file} (\"\": not asked)"))
    if role == env.database.server and env.database.direct is None:
        checks.append(_Check(f"{where}: database.psql", right_check(env.database.psql),
                             f"may run `{env.database.psql}`", "needed for the database checks (roles, schemas, "
                             "w.c.s. databases)",
                             f"allow {login.login} to run `{env.database.psql}` without a password (a sudoers "
                             f"NOPASSWD rule), or set database.psql (or database.direct) in {env.file}"))
    tools = sorted({t for kind, wanted in SERVER_TOOLS.items() if _role_has(plan, role, kind) for t in wanted})
    if tools:
        script = 'm=; for t in "$@"; do command -v "$t" >/dev/null 2>&1 || m="$m $t"; done; [ -z "$m" ] || ' \
                 '{ echo "not found:$m"; exit 1; }'
        checks.append(_Check(f"{where}: tools", f"sh -c {shlex.quote(script)} sh {shlex.join(tools)}",
                             ", ".join(tools), "the run",
                             "install them on that server (postgresql-client, util-linux, procps, coreutils)"))
    return checks


def servers(plan: Plan, pool: SshPool) -> Iterator[Finding]:
    """SSH login with verified host keys, then the sudo rights and tools the run uses on each server:
    everything an endpoint is asked goes in one SSH command (roles on one server share it)."""
    checks = {role: _checks(plan, pool, role) for role in sorted(_needs(plan))}
    by_endpoint: dict[str, list[str]] = {}
    for role in checks:
        by_endpoint.setdefault(pool.endpoint(role).label, []).append(role)
    answers = {label: _ask(pool, roles, [c for r in roles for c in checks[r]]) for label, roles in by_endpoint.items()}
    for role in checks:
        answered = answers[pool.endpoint(role).label]
        where = pool.describe(role)
        if isinstance(answered, RemoteError):
            yield Finding("ssh", where, MISSING, str(answered), "fix SSH access to this server (servers:, ssh:)")
            continue
        yield Finding("ssh", where, OK, "logged in, host key verified")
        for check in checks[role]:
            status, output = answered.get(f"command:{check.command}", (255, "no answer from the server"))
            if status == 0:
                yield Finding("ssh", check.subject, OK, check.there)
            else:
                said = clean(redact(" / ".join(line for line in output.splitlines() if line.strip())), 300)
                said = said or f"exit {status}"
                yield Finding("ssh", check.subject, MISSING, f"{check.needed_for}: {said}", check.todo)


def _ask(pool: SshPool, roles: list[str], checks: list[_Check]) -> dict[str, tuple[int, str]] | RemoteError:
    """Every check of one endpoint in one SSH command (answers by `command:<command>`), or why it could not run."""
    batch = Batch(sudo=False)
    batch.command("true")  # the login itself, when nothing else is asked
    for check in checks:
        batch.command(check.command)
    try:
        pool.client(roles[0])
        return ask(pool, roles[0], batch)
    except RemoteError as exc:
        return exc


def _role_has(plan: Plan, role: str, kind: str) -> bool:
    if kind == "database":
        return plan.environment.database.direct is None and role == plan.environment.database.server
    return role == kind if kind == "hobo" else any(t.server == role and t.kind == kind for t in plan.targets)


def examine(plan: Plan, pool_factory: Callable[[Environment], SshPool] = SshPool) -> list[Finding]:
    """Everything, in the order an operator fixes things: secrets, local files, resolvers, servers."""
    env = plan.environment
    findings = [*secrets(env), *local_files(env), *resolvers(plan)]
    pool = pool_factory(env)
    try:
        findings += list(servers(plan, pool))
    finally:
        pool.close()
    return findings


def report(findings: list[Finding]) -> str:
    missing = [f for f in findings if f.state == MISSING]
    lines = [line for finding in findings for line in finding.lines()]
    verdict = (f"{len(missing)} thing(s) missing: fix them before the day" if missing
               else "everything the environment needs is there")
    return "\n".join([*lines, "", verdict])
