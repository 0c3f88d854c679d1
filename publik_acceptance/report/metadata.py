"""Who ran what, on what, from which code: the facts a reviewer needs to trust the report."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import html
import platform as py_platform
import socket
import subprocess
from dataclasses import dataclass, field
from importlib import metadata as dist_metadata
from pathlib import Path
from typing import Any

from publik_acceptance.config.secrets import redact
from publik_acceptance.evidence.probes.tls import trust_store
from publik_acceptance.plan import Plan

TOOLS = ("pytest", "publik-acceptance", "paramiko", "dnspython", "cryptography", "pytest-html")


@dataclass
class RunInfo:
    platform: str
    instances: tuple[str, ...]
    phases: tuple[str, ...]
    ticket: str | None
    operator: str
    commit: str
    dirty: bool | None  # None: not a git checkout (or git unavailable)
    environment_file: str
    environment_sha256: str
    recipes: dict[str, str]  # path → SHA-256
    tools: dict[str, str]
    started: dt.datetime
    finished: dt.datetime | None = None
    dry_run: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        return (self.finished - self.started).total_seconds() if self.finished else None

    def code_version(self) -> str:
        if self.dirty is None:
            return self.commit
        return f"{self.commit} ({'dirty: uncommitted changes' if self.dirty else 'clean'})"

    def rows(self) -> list[tuple[str, str]]:
        """Label/value pairs, in reading order, for the report header and pytest-metadata."""
        rows = [
            ("Platform", self.platform),
            ("Instances", ", ".join(self.instances)),
            ("Phases", " → ".join(self.phases) + (" (dry run: no cook)" if self.dry_run else "")),
            ("Ticket", self.ticket or "none given (--ticket)"),
            ("Operator", self.operator),
            ("Suite version", self.code_version()),
            ("Environment file", f"{self.environment_file} (SHA-256 {self.environment_sha256})"),
        ]
        rows += [(f"Recipe {Path(path).name}", f"{path} (SHA-256 {digest})") for path, digest in self.recipes.items()]
        rows.append(("Tools", ", ".join(f"{name} {version}" for name, version in self.tools.items())))
        rows.append(("Started", _utc(self.started)))
        if self.finished:
            rows.append(("Finished", f"{_utc(self.finished)} ({self.duration:.1f} s)"))
        rows += list(self.extra.items())
        return rows


def _utc(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"


def sha256_file(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"unreadable ({exc.strerror})"


def operator() -> str:
    """`user@host`, the machine's own name. Not getfqdn(): it asks the resolver (no timeout of ours), and
    where /etc/hosts lists the name on a loopback line it answers `localhost`, naming no machine at all."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname() or 'unknown host'}"


def git_state(repo: Path) -> tuple[str, bool | None]:
    """(commit, dirty); the tree may belong to another user than the one running (root in CI)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", f"safe.directory={repo}", "-C", str(repo), *args],
                              capture_output=True, text=True, timeout=10, check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        dirty = bool(git("status", "--porcelain").strip())
    except (OSError, subprocess.SubprocessError):
        return ("unknown (not a git checkout, or git unavailable)", None)
    return (commit, dirty)


def tool_versions() -> dict[str, str]:
    versions = {"python": py_platform.python_version()}
    for name in TOOLS:
        try:
            versions[name] = dist_metadata.version(name)
        except dist_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def collect(plan: Plan, phases: tuple[str, ...], ticket: str | None, repo: Path, started: dt.datetime,
            dry_run: bool = False) -> RunInfo:
    env = plan.environment
    recipes = {str(i.recipe): sha256_file(i.recipe) for i in env.instances}
    commit, dirty = git_state(repo)
    return RunInfo(
        platform=env.platform,
        instances=tuple(i.name for i in env.instances),
        phases=phases,
        ticket=ticket,
        operator=operator(),
        commit=commit,
        dirty=dirty,
        environment_file=str(env.file),
        environment_sha256=sha256_file(env.file),
        recipes=recipes,
        tools=tool_versions(),
        started=started,
        dry_run=dry_run,
        # what certificates were checked against, and SSL_CERT_FILE/SSL_CERT_DIR if set (ignored)
        extra={"Trust store": trust_store(env.tls)},
    )


def _cell(value: Any) -> Any:
    """One value as HTML text: redacted, then escaped (numbers and booleans are safe as they are)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return html.escape(redact(str(value)), quote=True)


def environment_table(ours: list[tuple[str, str]], others: dict[str, Any]) -> dict[str, Any]:
    """pytest-html's environment table: our run facts first, then what pytest-metadata collected (CI
    variables, `--metadata` options, plugins), every value redacted and HTML-escaped.

    pytest-html's app.js inserts each value with innerHTML (`<div>value</div>`, or `<li>key: value</li>`
    for a mapping or a list) and each top-level key as text: so values and nested keys are escaped
    here, top-level keys are not (they would show as `&lt;`). `others` must be the values as collected,
    never a table this function made (escaping twice would show `&amp;lt;`).
    """
    table: dict[str, Any] = {key: _cell(value) for key, value in ours}
    for key, value in others.items():
        if key in table:
            continue
        if isinstance(value, dict):
            table[redact(str(key))] = {_cell(k): _cell(v) for k, v in value.items()}
        elif isinstance(value, list | tuple):
            table[redact(str(key))] = [_cell(v) for v in value]
        else:
            table[redact(str(key))] = _cell(value)
    return table
