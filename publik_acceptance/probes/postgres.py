"""Database facts, read where the database is: psql over SSH on the database server (one psql run
for every database and schema asked about), or a direct psycopg connection when configured.

Nothing is created or changed: the checks only read catalogues. The skeleton's createdb login is
tried for real (connect, then read its own role attributes); its password travels on stdin only.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..environment import Environment
from ..secrets import REGISTRY, redact
from .remote import RemoteError, SshPool

_TAG = "pa|"


@dataclass(frozen=True)
class RoleFacts:
    name: str
    can_login: bool
    createdb: bool
    superuser: bool


@dataclass(frozen=True)
class LoginFacts:
    user: str
    host: str
    port: int
    database: str
    ok: bool
    can_create_database: bool = False
    error: str | None = None


@dataclass
class DatabaseFacts:
    databases: frozenset[str] = frozenset()
    schemas: dict[str, frozenset[str]] = field(default_factory=dict)
    wcs_meta: dict[str, bool] = field(default_factory=dict)
    roles: dict[str, RoleFacts] = field(default_factory=dict)
    login: LoginFacts | None = None
    error: str | None = None
    source: str = ""
    elapsed: float = 0.0

    def has_schema(self, database: str, schema: str) -> bool:
        return schema in self.schemas.get(database, frozenset())


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _conninfo_value(value: Any) -> str:
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def psql_script(django_dbs: Iterable[str], wcs_dbs: Iterable[str], roles: Iterable[str],
                login: dict[str, Any] | None) -> str:
    django_dbs, wcs_dbs = sorted(set(django_dbs)), sorted(set(wcs_dbs))
    lines = [
        "\\pset format unaligned", "\\pset tuples_only on", "\\pset pager off",
        f"SELECT '{_TAG}db|' || datname FROM pg_database;",
    ]
    if roles:
        names = ", ".join(_literal(r) for r in sorted(set(roles)))
        lines.append(f"SELECT '{_TAG}role|' || rolname || '|' || rolcanlogin || '|' || rolcreatedb || '|' || "
                     f"rolsuper FROM pg_roles WHERE rolname IN ({names});")
    every = django_dbs + wcs_dbs
    if every:
        flags = ", ".join(f"EXISTS (SELECT 1 FROM pg_database WHERE datname = {_literal(db)}) AS pa_e{i}"
                          for i, db in enumerate(every))
        lines.append(f"SELECT {flags} \\gset")
    for i, db in enumerate(every):
        query = (f"SELECT '{_TAG}schema|{db}|' || nspname FROM pg_namespace;" if db in django_dbs else
                 f"SELECT '{_TAG}wcsmeta|{db}|' || (to_regclass('public.wcs_meta') IS NOT NULL);")
        lines += [f"\\if :pa_e{i}", f'\\c "{db}"', query, "\\endif"]
    if login:
        conninfo = " ".join(f"{k}={_conninfo_value(v)}" for k, v in login.items() if v not in (None, ""))
        lines += [
            f"\\c \"{conninfo} connect_timeout=10\"",
            f"SELECT '{_TAG}login|' || current_user || '|' || "
            "(SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user);",
        ]
    return "\n".join(lines) + "\n"


def _true(text: str) -> bool:
    """PostgreSQL booleans as psql prints them: t/f, or true/false once cast to text."""
    return text.strip() in ("t", "true")


def parse_psql(output: str, facts: DatabaseFacts) -> None:
    databases: set[str] = set()
    for line in output.splitlines():
        if not line.startswith(_TAG):
            continue
        kind, *rest = line[len(_TAG):].split("|")
        if kind == "db":
            databases.add(rest[0])
        elif kind == "role":
            name, login, createdb, superuser = rest
            facts.roles[name] = RoleFacts(name, _true(login), _true(createdb), _true(superuser))
        elif kind == "schema":
            facts.schemas[rest[0]] = facts.schemas.get(rest[0], frozenset()) | {rest[1]}
        elif kind == "wcsmeta":
            facts.wcs_meta[rest[0]] = _true(rest[1])
        elif kind == "login" and facts.login is not None:
            facts.login = LoginFacts(facts.login.user, facts.login.host, facts.login.port, facts.login.database,
                                     ok=True, can_create_database=_true(rest[1]))
    facts.databases = frozenset(databases)


def login_params(createdb: dict[str, Any]) -> dict[str, Any]:
    """libpq parameters from the skeleton's createdb-connection-params (w.c.s. renames database)."""
    params = {k: v for k, v in createdb.items() if k in ("host", "port", "user", "password", "database", "dbname")}
    if "database" in params:
        params["dbname"] = params.pop("database")
    if params.get("password"):
        REGISTRY.add(str(params["password"]))
    return params


def gather(env: Environment, pool: SshPool | None, django_dbs: Iterable[str], wcs_dbs: Iterable[str],
           roles: Iterable[str] = (), createdb: dict[str, Any] | None = None) -> DatabaseFacts:
    """Every database fact of a round in one go; errors land in `facts.error`, nothing raises."""
    started = time.monotonic()
    login = login_params(createdb) if createdb else None
    facts = DatabaseFacts()
    if login:
        facts.login = LoginFacts(str(login.get("user", "")), str(login.get("host", "(socket)")),
                                 int(login.get("port", 5432)), str(login.get("dbname", "")), ok=False)
    if env.database.direct is not None:
        _gather_direct(env, facts, list(django_dbs), list(wcs_dbs), list(roles), login)
    else:
        assert pool is not None
        role = env.database.server
        facts.source = f"{env.database.psql} on {pool.describe(role)}"
        script = psql_script(django_dbs, wcs_dbs, roles, login)
        command = f"{env.database.psql} -X -q -v ON_ERROR_STOP=0 -d postgres -f -"
        try:
            result = pool.run(role, command, stdin=script.encode())
        except RemoteError as exc:
            facts.error = str(exc)
            facts.elapsed = time.monotonic() - started
            return facts
        parse_psql(result.stdout, facts)
        if not facts.databases:
            facts.error = (f"psql gave no answer (exit {result.exit_status}): "
                           f"{redact(result.stderr.strip())[:500] or 'no output'}")
        elif facts.login is not None and not facts.login.ok:
            facts.login = _failed_login(facts.login, result.stderr)
    facts.elapsed = time.monotonic() - started
    return facts


def _failed_login(login: LoginFacts, stderr: str) -> LoginFacts:
    lines = [line for line in stderr.splitlines() if "connection to server" in line or "FATAL" in line
             or "could not" in line or "failed" in line]
    reason = redact(lines[-1].strip()) if lines else "connection failed"
    return LoginFacts(login.user, login.host, login.port, login.database, ok=False, error=reason)


def _gather_direct(env: Environment, facts: DatabaseFacts, django_dbs: list[str], wcs_dbs: list[str],
                   roles: list[str], login: dict[str, Any] | None) -> None:
    import psycopg

    direct = env.database.direct
    assert direct is not None
    facts.source = f"psycopg {direct.user}@{direct.host}:{direct.port}"
    base = {"host": direct.host, "port": direct.port, "user": direct.user, "connect_timeout": 10,
            "password": direct.password.resolve() if direct.password else None}
    try:
        with psycopg.connect(dbname=direct.dbname, autocommit=True, **base) as conn:
            facts.databases = frozenset(r[0] for r in conn.execute("SELECT datname FROM pg_database"))
            if roles:
                for name, can_login, createdb, superuser in conn.execute(
                        "SELECT rolname, rolcanlogin, rolcreatedb, rolsuper FROM pg_roles WHERE rolname = ANY(%s)",
                        (roles,)):
                    facts.roles[name] = RoleFacts(name, can_login, createdb, superuser)
        for db in sorted(set(django_dbs) | set(wcs_dbs)):
            if db not in facts.databases:
                continue
            with psycopg.connect(dbname=db, autocommit=True, **base) as conn:
                if db in django_dbs:
                    facts.schemas[db] = frozenset(r[0] for r in conn.execute("SELECT nspname FROM pg_namespace"))
                else:
                    row = conn.execute("SELECT to_regclass('public.wcs_meta') IS NOT NULL").fetchone()
                    facts.wcs_meta[db] = bool(row and row[0])
    except psycopg.Error as exc:
        facts.error = redact(f"cannot read the database catalogue: {exc}".strip())
        return
    if login and facts.login is not None:
        try:
            with psycopg.connect(autocommit=True, connect_timeout=10, **login) as conn:
                row = conn.execute("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
                                   ).fetchone()
            facts.login = LoginFacts(facts.login.user, facts.login.host, facts.login.port, facts.login.database,
                                     ok=True, can_create_database=bool(row and row[0]))
        except psycopg.Error as exc:
            facts.login = LoginFacts(facts.login.user, facts.login.host, facts.login.port, facts.login.database,
                                     ok=False, error=redact(str(exc).strip().splitlines()[0]))
