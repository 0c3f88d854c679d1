"""Database facts, read with fixed SQL only.

The catalogue (databases, schemas, wcs_meta, roles) is read where the database is: one psql run as
the PostgreSQL superuser over SSH on the database server, or a direct psycopg connection when
configured. The script psql runs is fixed text: the names it asks about travel as psql variables
(`-v pa_db0=…` on the command line, shell-quoted) and reach SQL only as `:'pa_db0'` literals, which
psql quotes itself; a database must be a plain identifier before `\\c` connects to it.

The skeleton's createdb login is tried from where w.c.s. uses it: psql run as the w.c.s. service
user on the w.c.s. server, its connection parameters as PG* environment variables, its password
on stdin, and a fixed query. Nothing from the skeleton (a file the `wcs` user owns) ever becomes
script text, and the login runs with no more rights than that user already has. Values with a
control character are refused before anything runs.

Nothing is created or changed: the checks only read catalogues.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from publik_acceptance.config.environment import Environment
from publik_acceptance.config.secrets import REGISTRY, redact
from publik_acceptance.evidence.probes.privilege import Privilege, privilege
from publik_acceptance.evidence.probes.remote import RemoteError, SshPool

_TAG = "pa|"
MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1, in bytes
# What the naming rules produce (hostnames with `.`, `-` and `+` turned into `_`): safe unquoted
# as a psql meta-command argument (no space, quote, `=` that would make it a connection string).
PLAIN_IDENTIFIER = re.compile(r"[A-Za-z0-9_$]{1,63}")
UNIX_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_SOCKET_PATH = re.compile(r"/[A-Za-z0-9._/-]{0,254}")
SKELETON_KEY = "config.json: postgresql.createdb-connection-params"
# The login check's only SQL: whether the role it logged in as may create databases.
LOGIN_QUERY = (f"SELECT '{_TAG}login|' || (rolcreatedb OR rolsuper) FROM pg_roles "
               "WHERE rolname = current_user")
# The w.c.s. service user reads the password from stdin into the environment: never on a command line.
_LOGIN_SHELL = ("if IFS= read -r PGPASSWORD; then export PGPASSWORD; fi; "
                f"exec psql -X -w -q -A -t -v ON_ERROR_STOP=1 -c {shlex.quote(LOGIN_QUERY)}")
_LOGIN_PATH = "/usr/local/bin:/usr/bin:/bin"
CONNECT_TIMEOUT = 10


@dataclass(frozen=True)
class RoleFacts:
    name: str
    can_login: bool
    createdb: bool
    superuser: bool


@dataclass(frozen=True)
class LoginFacts:
    user: str  # shown: control characters escaped
    host: str
    port: int
    database: str
    ok: bool
    can_create_database: bool = False
    error: str | None = None
    via: str = ""  # where the login was tried from, e.g. "psql as wcs on root@host:22 (role wcs)"
    refused: str | None = None  # a skeleton value unsafe to use: nothing was run

    def failed(self, error: str) -> LoginFacts:
        return LoginFacts(self.user, self.host, self.port, self.database, ok=False, error=error, via=self.via,
                          refused=self.refused)

    def succeeded(self, can_create_database: bool) -> LoginFacts:
        return LoginFacts(self.user, self.host, self.port, self.database, ok=True,
                          can_create_database=can_create_database, via=self.via)


@dataclass(frozen=True)
class LoginSite:
    """Where w.c.s. logs in from: its SSH role and service user (services.wcs.server / owner)."""

    role: str
    user: str


@dataclass
class DatabaseFacts:
    databases: frozenset[str] = frozenset()
    schemas: dict[str, frozenset[str]] = field(default_factory=dict)
    wcs_meta: dict[str, bool] = field(default_factory=dict)
    roles: dict[str, RoleFacts] = field(default_factory=dict)
    login: LoginFacts | None = None
    error: str | None = None
    hopeless: bool = False  # the error is one waiting will not fix (the database server's SSH refused us)
    source: str = ""
    elapsed: float = 0.0

    def has_schema(self, database: str, schema: str) -> bool:
        return schema in self.schemas.get(database, frozenset())


def control_characters(text: str) -> list[str]:
    """Characters that end a line or a command somewhere (newline, CR, NUL, U+2028…), as U+XXXX."""
    return sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")})


def shown(value: Any, limit: int = 80) -> str:
    """A server-supplied value fit for one line of a report: control characters escaped, bounded."""
    text = str(value)
    if control_characters(text):
        text = "".join(c.encode("unicode_escape").decode("ascii") if control_characters(c) else c for c in text)
    return text if len(text) <= limit else text[:limit] + "…"


def plain_identifier(name: str) -> bool:
    return bool(PLAIN_IDENTIFIER.fullmatch(name))


def valid_host(host: str) -> bool:
    """A DNS name, an IP address or a unix socket directory: what libpq's host may be here."""
    if host.startswith("/"):
        return bool(_SOCKET_PATH.fullmatch(host)) and "/../" not in f"{host}/"
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)


def _text_value(key: str, value: Any) -> tuple[str | None, str | None]:
    """(value, problem) for one string parameter of the skeleton."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        return None, f"{SKELETON_KEY}.{key} is a {type(value).__name__}, not a string"
    bad = control_characters(value)
    if bad:
        what = "the password" if key == "password" else repr(shown(value, 40))
        return None, f"{SKELETON_KEY}.{key} holds control characters ({', '.join(bad)}) in {what}"
    return value, None


def check_login_params(createdb: dict[str, Any]) -> tuple[dict[str, str], str | None]:
    """libpq parameters from the skeleton's createdb-connection-params, or why they are refused.

    w.c.s. calls the database `database`; libpq `dbname`. Only host, port, user, password and
    database are used; every one must be a plain string (the port a number).
    """
    params: dict[str, str] = {}
    for key in ("user", "database", "host", "password"):
        value, problem = _text_value(key, createdb.get(key, createdb.get("dbname") if key == "database" else None))
        if problem:
            return params, problem
        if value is not None:
            params[key] = value
    for key in ("user", "database"):
        if len(params.get(key, "").encode()) > MAX_IDENTIFIER:
            return params, f"{SKELETON_KEY}.{key} is longer than {MAX_IDENTIFIER} bytes (PostgreSQL's limit)"
    if "host" in params and not valid_host(params["host"]):
        return params, (f"{SKELETON_KEY}.host {shown(params['host'], 40)!r} is not a host name, an IP address "
                        "or a socket directory")
    port = createdb.get("port")
    if port not in (None, ""):
        if isinstance(port, bool) or not re.fullmatch(r"[0-9]{1,5}", str(port)) or not 0 < int(port) < 65536:
            return params, f"{SKELETON_KEY}.port {shown(port, 20)!r} is not a port number"
        params["port"] = str(int(port))
    if "password" in params:
        REGISTRY.add(params["password"])
    return params, None


def catalogue_query(django_dbs: Iterable[str], wcs_dbs: Iterable[str],
                    roles: Iterable[str]) -> tuple[str, dict[str, str]]:
    """The fixed psql script and its variables (names as `pa_db<i>` / `pa_role<i>`).

    The script's text depends only on how many names there are and which kind each database is;
    output lines carry the index, not the name. Names must have passed `refused_names` first.
    """
    django, wcs = sorted(set(django_dbs)), sorted(set(wcs_dbs))
    every, role_names = django + wcs, sorted(set(roles))
    variables = {f"pa_db{i}": db for i, db in enumerate(every)}
    variables.update({f"pa_role{i}": name for i, name in enumerate(role_names)})
    lines = [
        "\\pset format unaligned", "\\pset tuples_only on", "\\pset pager off",
        f"SELECT '{_TAG}db|' || datname FROM pg_database;",
    ]
    if role_names:
        names = ", ".join(f":'pa_role{i}'" for i in range(len(role_names)))
        lines.append(f"SELECT '{_TAG}role|' || rolcanlogin || '|' || rolcreatedb || '|' || rolsuper || '|' || "
                     f"rolname FROM pg_roles WHERE rolname IN ({names});")
    if every:
        flags = ", ".join(f"EXISTS (SELECT 1 FROM pg_database WHERE datname = :'pa_db{i}') AS pa_e{i}"
                          for i in range(len(every)))
        lines.append(f"SELECT {flags} \\gset")
    for i in range(len(every)):
        query = (f"SELECT '{_TAG}schema|{i}|' || nspname FROM pg_namespace;" if i < len(django) else
                 f"SELECT '{_TAG}wcsmeta|{i}|' || (to_regclass('public.wcs_meta') IS NOT NULL);")
        lines += [f"\\if :pa_e{i}", f"\\c :pa_db{i}", query, "\\endif"]
    return "\n".join(lines) + "\n", variables


def refused_names(databases: Iterable[str], roles: Iterable[str]) -> str | None:
    """Why these names may not be asked about (None: all fine)."""
    for db in sorted(set(databases)):
        if not plain_identifier(db):
            return (f"database name {shown(db, 70)!r} (from the Plan) is not a plain PostgreSQL identifier "
                    f"(letters, digits, _ and $, at most {MAX_IDENTIFIER}): nothing was queried; fix the recipe URL, "
                    "wcs.database_template or services.<kind>.database")
    for role in sorted(set(roles)):
        if control_characters(role) or not role or len(role.encode()) > MAX_IDENTIFIER:
            return f"role name {shown(role, 70)!r} is not a PostgreSQL role name: nothing was queried"
    return None


def _true(text: str) -> bool:
    """PostgreSQL booleans as psql prints them: t/f, or true/false once cast to text."""
    return text.strip() in ("t", "true")


def parse_psql(output: str, facts: DatabaseFacts, variables: dict[str, str]) -> None:
    databases: set[str] = set()
    for line in output.splitlines():
        if not line.startswith(_TAG):
            continue
        kind, _, rest = line[len(_TAG):].partition("|")
        if kind == "db":
            databases.add(rest)
        elif kind == "role":
            login, createdb, superuser, name = rest.split("|", 3)
            facts.roles[name] = RoleFacts(name, _true(login), _true(createdb), _true(superuser))
        elif kind in ("schema", "wcsmeta"):
            index, _, value = rest.partition("|")
            db = variables.get(f"pa_db{index}")
            if db is None:
                continue
            if kind == "schema":
                facts.schemas[db] = facts.schemas.get(db, frozenset()) | {value}
            else:
                facts.wcs_meta[db] = _true(value)
    facts.databases = frozenset(databases)


def login_command(service_user: str, params: dict[str, str], login: Privilege) -> str:
    """psql as the w.c.s. service user with the login in PG* variables (shell-quoted, validated first);
    through `sudo -n -u` unless the SSH `login` already is that user.

    `env -i` keeps the operator's own PG* settings out; the password is read from stdin by the
    fixed shell line, so it is on no command line (`ps`) and in no output.
    """
    if not UNIX_USER.fullmatch(service_user):
        raise ValueError(f"{service_user!r} is not a Unix user name")
    names = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "database": "PGDATABASE"}
    assigns = [f"{names[key]}={shlex.quote(params[key])}" for key in names if key in params]
    assigns += [f"PATH={_LOGIN_PATH}", f"PGCONNECT_TIMEOUT={CONNECT_TIMEOUT}", "PGAPPNAME=publik-acceptance"]
    return (f"{login.as_user(service_user)}env -i {' '.join(assigns)} "
            f"sh -c {shlex.quote(_LOGIN_SHELL)}")


def _new_login(params: dict[str, Any]) -> LoginFacts:
    return LoginFacts(shown(params.get("user", "")), shown(params.get("host", "(socket)")),
                      int(params["port"]) if str(params.get("port", "")).isdigit() else 5432,
                      shown(params.get("database", params.get("dbname", ""))), ok=False)


def gather(env: Environment, pool: SshPool | None, django_dbs: Iterable[str], wcs_dbs: Iterable[str],
           roles: Iterable[str] = (), createdb: dict[str, Any] | None = None,
           login_site: LoginSite | None = None) -> DatabaseFacts:
    """Every database fact of a round in one go; errors land in `facts.error`, nothing raises.

    `login_site` says where the createdb login is tried over SSH (the w.c.s. server and service
    user); without it, or with database.direct, it is tried from here with psycopg.
    """
    started = time.monotonic()
    facts = DatabaseFacts()
    django_dbs, wcs_dbs = list(django_dbs), list(wcs_dbs)
    roles = [r for r in roles if r]
    params: dict[str, str] = {}
    if createdb:
        params, problem = check_login_params(createdb)
        facts.login = _new_login(createdb if problem else params)
        if problem:
            facts.login = LoginFacts(facts.login.user, facts.login.host, facts.login.port, facts.login.database,
                                     ok=False, error=problem, refused=problem)
            # The role name is as untrusted as the rest: not asked about either.
            roles = [r for r in roles if r != createdb.get("user")]
    facts.error = refused_names(django_dbs + wcs_dbs, roles)
    if facts.error is None:
        if env.database.direct is not None:
            _gather_direct(env, facts, django_dbs, wcs_dbs, roles)
        else:
            assert pool is not None
            _gather_psql(env, pool, facts, django_dbs, wcs_dbs, roles)
    if facts.login is not None and facts.login.refused is None:
        if env.database.direct is None and login_site is not None and pool is not None:
            facts.login = _login_over_ssh(pool, login_site, params, facts.login)
        else:
            facts.login = _login_direct(params, facts.login)
    facts.elapsed = time.monotonic() - started
    return facts


def _gather_psql(env: Environment, pool: SshPool, facts: DatabaseFacts, django_dbs: list[str],
                 wcs_dbs: list[str], roles: list[str]) -> None:
    role = env.database.server
    facts.source = f"{env.database.psql} on {pool.describe(role)}"
    script, variables = catalogue_query(django_dbs, wcs_dbs, roles)
    options = " ".join(f"-v {shlex.quote(f'{name}={value}')}" for name, value in variables.items())
    command = f"{env.database.psql} -X -q -v ON_ERROR_STOP=0 {options} -d postgres -f -"
    try:
        result = pool.run(role, command, stdin=script.encode())
    except RemoteError as exc:
        facts.error = str(exc)
        facts.hopeless = exc.hopeless
        return
    parse_psql(result.stdout, facts, variables)
    if not facts.databases:
        facts.error = (f"psql gave no answer (exit {result.exit_status}): "
                       f"{redact(result.stderr.strip())[:500] or 'no output'}")


def _login_over_ssh(pool: SshPool, site: LoginSite, params: dict[str, str], login: LoginFacts) -> LoginFacts:
    via = f"psql as {site.user} on {pool.describe(site.role)}"
    login = LoginFacts(login.user, login.host, login.port, login.database, ok=False, via=via)
    try:
        command = login_command(site.user, params, privilege(pool, site.role))
    except ValueError as exc:
        return login.failed(f"services.wcs.owner: {exc}")
    password = params.get("password")
    stdin = (password + "\n").encode() if password else b""
    try:
        result = pool.run(site.role, command, stdin=stdin, timeout=CONNECT_TIMEOUT + 20)
    except RemoteError as exc:
        return login.failed(str(exc))
    for line in result.stdout.splitlines():
        if line.startswith(f"{_TAG}login|"):
            return login.succeeded(_true(line.rsplit("|", 1)[1]))
    return login.failed(_login_error(result.exit_status, result.stderr, site))


def _login_error(status: int, stderr: str, site: LoginSite) -> str:
    text = redact(stderr.strip())
    if "sudo:" in text:
        return (f"cannot run psql as {site.user}: {text.splitlines()[0][:300]} (the SSH login user needs "
                f"`sudo -n -u {site.user}` on role {site.role})")
    if status == 127:
        return (f"psql is not installed on role {site.role} ({text[:200]}): install postgresql-client there, "
                "or give database.direct")
    lines = [line for line in text.splitlines() if "connection to server" in line or "FATAL" in line
             or "could not" in line or "failed" in line or "error" in line]
    return (lines[-1].strip() if lines else text[:300] or f"psql exited {status} with no answer")[:500]


def _login_direct(params: dict[str, str], login: LoginFacts) -> LoginFacts:
    import psycopg

    login = LoginFacts(login.user, login.host, login.port, login.database, ok=False, via="psycopg from here")
    kwargs: dict[str, Any] = {k: v for k, v in params.items() if k != "database"}
    if "database" in params:
        kwargs["dbname"] = params["database"]
    try:
        with psycopg.connect(autocommit=True, connect_timeout=CONNECT_TIMEOUT, **kwargs) as conn:
            row = conn.execute("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"
                               ).fetchone()
    except psycopg.Error as exc:
        return login.failed(redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__))
    return login.succeeded(bool(row and row[0]))


def _gather_direct(env: Environment, facts: DatabaseFacts, django_dbs: list[str], wcs_dbs: list[str],
                   roles: list[str]) -> None:
    import psycopg

    direct = env.database.direct
    assert direct is not None
    facts.source = f"psycopg {direct.user}@{direct.host}:{direct.port}"
    password = direct.password.resolve() if direct.password else None

    def connect(dbname: str) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(dbname=dbname, autocommit=True, host=direct.host, port=direct.port, user=direct.user,
                               password=password, connect_timeout=CONNECT_TIMEOUT)

    try:
        with connect(direct.dbname) as conn:
            facts.databases = frozenset(r[0] for r in conn.execute("SELECT datname FROM pg_database"))
            if roles:
                for name, can_login, createdb, superuser in conn.execute(
                        "SELECT rolname, rolcanlogin, rolcreatedb, rolsuper FROM pg_roles WHERE rolname = ANY(%s)",
                        (roles,)):
                    facts.roles[name] = RoleFacts(name, can_login, createdb, superuser)
        for db in sorted(set(django_dbs) | set(wcs_dbs)):
            if db not in facts.databases:
                continue
            with connect(db) as conn:
                if db in django_dbs:
                    facts.schemas[db] = frozenset(r[0] for r in conn.execute("SELECT nspname FROM pg_namespace"))
                else:
                    row = conn.execute("SELECT to_regclass('public.wcs_meta') IS NOT NULL").fetchone()
                    facts.wcs_meta[db] = bool(row and row[0])
    except psycopg.Error as exc:
        facts.error = redact(f"cannot read the database catalogue: {exc}".strip())
