"""Environment files: load, validate once, freeze.

An environment file describes one platform (preprod, prod, the sandbox…): its servers, resolvers,
TLS policy, paths, per-service overrides, cook command and timeouts, and the instances to deploy
with their recipes. Each key is declared once, on its dataclass field (`doc()` metadata): type, default,
and the doc and example that config/reference.py writes into the README. Relative paths are taken from
the environment file's own directory. Errors raise ConfigError naming the file and key path.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from publik_acceptance.config.catalogue import SERVICE_KINDS, WCS_DATABASE_TEMPLATE, WCS_SKELETONS_DIR
from publik_acceptance.config.errors import ConfigError
from publik_acceptance.config.naming import hostname_problem
from publik_acceptance.config.schema import Node, Section, default_of, doc
from publik_acceptance.config.secrets import SecretRef, read_secret_ref

ENVIRONMENTS_DIR = Path(__file__).resolve().parents[2] / "environments"
DEFAULT_COOK_COMMAND = "sudo -u hobo hobo-manage cook {recipe} --timeout={timeout} -v 2"
DEFAULT_COOK_CHECK = "sudo -n -l -u hobo hobo-manage"
DEFAULT_PSQL = "sudo -u postgres psql"


@dataclass(frozen=True)
class SshServer:
    role: str
    host: str
    port: int = 22
    user: str | None = None
    identity_file: Path | None = None

    @property
    def label(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port != 22 else ""
        return f"{user}{self.host}{port}"


@dataclass(frozen=True)
class SshSettings:
    known_hosts: Path | None = field(
        default=None, metadata=doc("null: ~/.ssh/known_hosts (or the ssh_config's UserKnownHostsFile).\n"
                                   "Unknown or changed host keys are refused, bastions' too")
    )
    config: Path | None = field(
        default=None, metadata=doc("an ssh_config file to honour as ssh does: ProxyJump, ProxyCommand\n"
                                   "(bastions), HostName, Port, User, IdentityFile, IdentitiesOnly,\n"
                                   "UserKnownHostsFile (see Bastions)")
    )
    identity_file: Path | None = field(
        default=None, metadata=doc("default key for every server and bastion (agent and ~/.ssh keys are\n"
                                   "also tried)")
    )
    connect_timeout: float = field(default=10.0, metadata=doc("seconds"))
    command_timeout: float = field(default=60.0, metadata=doc("seconds, per remote command"))
    unknown_host_keys: str = field(
        default="reject",
        metadata=doc(
            "reject (default) | accept: trust on first use: the first key each host offers\n"
            "is pinned for the run, shown in the report; refused with protected: true"
        ),
    )


@dataclass(frozen=True)
class Resolver:
    address: str
    port: int = 53

    def __str__(self) -> str:
        address = f"[{self.address}]" if ":" in self.address else self.address
        return address if self.port == 53 else f"{address}:{self.port}"


@dataclass(frozen=True)
class DnsSettings:
    resolvers: tuple[Resolver, ...] = field(
        metadata=doc('required: "address[:port]" (IPv6 as "[::1]:5353"); all must agree', example='["192.0.2.53"]')
    )
    expect_addresses: tuple[str, ...] = field(
        default=(), metadata=doc("optional: every answer must be one of these", example='["192.0.2.10", "192.0.2.11"]')
    )
    timeout: float = field(default=3.0, metadata=doc("seconds per query"))
    ipv6: bool = field(default=True, metadata=doc("also query AAAA"))


@dataclass(frozen=True)
class TlsSettings:
    ca_bundle: Path | None = field(default=None, metadata=doc("null: the system trust store; else a PEM file"))
    min_days_valid: int = field(default=21, metadata=doc("fewer days left fails"))


@dataclass(frozen=True)
class NotFoundSignature:
    """What an application 404 looks like, to tell it from a frontend's default-vhost 404."""

    status: int = field(default=404, metadata=doc())
    body_pattern: str | None = field(
        default=None, metadata=doc("regex the body must match too (pins the services' own 404 page)")
    )
    header: str | None = field(default=None, metadata=doc("a header that must be present…"))
    header_pattern: str | None = field(default=None, metadata=doc("…and match this regex"))
    reject_frontend_pages: bool = field(
        default=True,
        metadata=doc(
            "a frontend's own page (nginx, Apache, haproxy built-in or default site) fails:\n"
            "no vhost/route for the name. false only if the frontends replace the services' 404"
        ),
    )


@dataclass(frozen=True)
class HttpSettings:
    port: int = field(default=443, metadata=doc("HTTPS port of the frontends"))
    timeout: float = field(
        default=10.0, metadata=doc("seconds for a whole request: connect, TLS handshake and response")
    )
    concurrency: int = field(default=32, metadata=doc("probes in flight overall"))
    per_address_concurrency: int = field(default=8, metadata=doc("probes in flight per frontend address"))
    not_found: NotFoundSignature = field(
        default_factory=NotFoundSignature,
        metadata=doc("what the services' own 404 looks like before cook (default: a 404 that is not\n"
                     "a page of the frontend itself; see the README, \"Phases\")"),
    )


@dataclass(frozen=True)
class PageExpectationOverride:
    status: int | None = field(default=None, metadata=doc(example="200"))
    contains: tuple[str, ...] | None = field(
        default=None,
        metadata=doc(example='["Votre installation de Combo fonctionne", "Le site est actuellement vide"]'),
    )
    title: str | None = field(default=None, metadata=doc("<title> must contain this"))
    password_form: bool | None = field(default=None, metadata=doc(example="false"))
    login_path: str | None = field(
        default=None, metadata=doc("where login redirect chains must end", example="/login/")
    )
    redirect_to: str | None = field(
        default=None, metadata=doc('"authentic", "portal", or an https:// URL for the first redirect')
    )


@dataclass(frozen=True)
class ServiceSettings:
    owner: str | None = field(default=None, metadata=doc("tenant directory owner", example="combo"))
    database: str | None = field(default=None, metadata=doc("the Django service's database", example="combo"))
    tenants_dir: str | None = field(default=None, metadata=doc(example="/var/lib/combo/tenants"))
    server: str | None = field(default=None, metadata=doc("SSH role holding the tenants", example="hobo"))
    list_tenants: str | None = field(
        default=None,
        metadata=doc(
            "prints `<schema> <hostname>` per tenant (Django\n"
            "services; default: sudo -n -u <owner> <service>-manage list_tenants; \"\": not asked)",
            example="sudo -n -u combo combo-manage list_tenants",
        ),
    )
    not_found: NotFoundSignature | None = field(
        default=None, metadata=doc("as http.not_found, for this service", example="{status: 404}")
    )
    expect: PageExpectationOverride = field(
        default_factory=PageExpectationOverride, metadata=doc("what / shows once deployed")
    )


@dataclass(frozen=True)
class DbParams:
    host: str = field(metadata=doc())
    port: int = field(default=5432, metadata=doc())
    user: str = field(default="wcs", metadata=doc())
    password: SecretRef | None = field(default=None, metadata=doc())
    database: str | None = field(default=None, metadata=doc())


@dataclass(frozen=True)
class SkeletonSettings:
    """Inputs of `inv render`: templates under `source` filled with these values."""

    source: Path = field(metadata=doc(example="../fixtures/wcs-skeleton"))
    createdb: DbParams = field(
        metadata=doc(
            example="{host: db1.example.fr, port: 5432, user: wcs, password: {env: PUBLIK_WCS_DB_PASSWORD}, "
            "database: postgres}"
        )
    )
    runtime: DbParams = field(
        metadata=doc(
            "postgresql.host/port/user/password of config.json (default: as createdb)", optional=True, example="null"
        )
    )
    homepage_redirect_url: str = field(
        default="[portal_url]", metadata=doc("w.c.s. expands [portal_url] to the user portal")
    )
    language: str = field(default="fr", metadata=doc())
    error_email: str | None = field(default=None, metadata=doc())
    from_email: str | None = field(default=None, metadata=doc())


@dataclass(frozen=True)
class WcsSettings:
    skeletons_dir: str = field(default=WCS_SKELETONS_DIR, metadata=doc())
    database_template: str = field(default=WCS_DATABASE_TEMPLATE, metadata=doc("the skeleton's database-template-name"))
    skeleton_file: Path | None = field(
        default=None, metadata=doc("a ready modele.zip to upload instead of rendering one")
    )
    skeleton: SkeletonSettings | None = field(
        default=None, metadata=doc("how `inv render` builds modele.zip from fixtures/wcs-skeleton/")
    )


@dataclass(frozen=True)
class DirectDatabase:
    host: str = field(metadata=doc())
    port: int = field(default=5432, metadata=doc())
    user: str = field(default="postgres", metadata=doc())
    password: SecretRef | None = field(default=None, metadata=doc())
    dbname: str = field(default="postgres", metadata=doc())


@dataclass(frozen=True)
class DatabaseSettings:
    server: str = field(default="database", metadata=doc("SSH role where psql runs"))
    psql: str = field(default=DEFAULT_PSQL, metadata=doc())
    direct: DirectDatabase | None = field(
        default=None, metadata=doc("or {host, port, user, password: {env: …}, dbname}: connect with psycopg instead")
    )


@dataclass(frozen=True)
class CookSettings:
    command: str = field(
        default=DEFAULT_COOK_COMMAND,
        metadata=doc("{recipe}: the uploaded recipe; {timeout}: cook.timeout"),
    )
    check_command: str = field(default=DEFAULT_COOK_CHECK, metadata=doc("preflight: proves the cook user may run it"))
    user: str = field(default="hobo", metadata=doc("owner of the uploaded recipe (mode 0600)"))
    # Cook's own wait (hobo-manage cook --timeout): ending on it is not a failure, postdeploy decides.
    timeout: float = field(
        default=600.0, metadata=doc("seconds cook waits for the services (`--timeout={timeout}`)")
    )
    # Our hard limit is cook.timeout + kill_margin, so that cook gives up waiting on its own first.
    kill_margin: float = field(
        default=300.0, metadata=doc("seconds past cook.timeout before the suite stops the cook itself")
    )
    upload_dir: str = field(
        default="/tmp", metadata=doc("the recipe goes into a private (mktemp -d, 0700) directory made here")
    )
    # A directory made with mkdir inside a directory only root may use (created 0700 if missing).
    lock_file: str = field(
        default="/run/publik-acceptance/cook.lock",
        metadata=doc(
            "made with mkdir in a directory only root may use (created\n"
            "0700); never directly in /tmp, /run/lock or another shared directory"
        ),
    )

    @property
    def hard_timeout(self) -> float:
        """When the suite stops the cook (a failure): always after cook's own --timeout, by kill_margin."""
        return self.timeout + self.kill_margin

    def render(self, recipe: str) -> str:
        """The cook command line for `recipe` (already shell-quoted)."""
        return self.command.format(recipe=recipe, timeout=math.ceil(self.timeout))


@dataclass(frozen=True)
class PostdeploySettings:
    deadline: float = field(default=600.0, metadata=doc("seconds to wait for the asynchronous deployment"))
    poll_interval: float = field(default=5.0, metadata=doc("seconds between polls of what is not ready yet"))
    first_poll: float = field(default=0.5, metadata=doc("the first re-poll comes sooner"))
    stable_polls: int = field(default=3, metadata=doc("a wrong state seen this many polls in a row fails early"))
    login: bool = field(
        default=True,
        metadata=doc("log in for real as each instance's superuser (create-superuser email,\n"
                     "superuser_password) through authentic, then log out;\nfalse where the superuser must not log in"),
    )


DEFAULT_RUN_DEADLINE = 3600.0


@dataclass(frozen=True)
class RunSettings:
    """The whole run's deadline (`run.deadline`): past it no check starts and the cook is never started.
    None: DEFAULT_RUN_DEADLINE, or more when the cook's hard limit and postdeploy.deadline need it (deadline.py)."""

    deadline: float | None = field(
        default=None,
        metadata=doc(
            "seconds for the whole run (default 3600, or cook.timeout + cook.kill_margin\n"
            "+ postdeploy.deadline + 600 when larger); --deadline SECONDS overrides it"
        ),
    )


@dataclass(frozen=True)
class MirrorOf:
    environment: str = field(metadata=doc())
    strip: str = field(default="", metadata=doc())
    add: str = field(default="", metadata=doc())


@dataclass(frozen=True)
class Waiver:
    """A preflight check that may fail or be skipped without closing the gate, and why."""

    test: str = field(metadata=doc())  # pattern on the test id, `*` and `?` as wildcards, e.g. "test_tls[combo|*]"
    reason: str = field(metadata=doc())


@dataclass(frozen=True)
class Instance:
    name: str = field(metadata=doc("required, unique", example="macollectivite"))
    recipe: Path = field(
        metadata=doc("required: the recipe to cook", example="../fixtures/recipes/macollectivite-preprod.json")
    )
    superuser_password: SecretRef = field(
        metadata=doc(
            "required: injected into create-superuser at cook time", example="{env: PUBLIK_SUPERUSER_PASSWORD}"
        )
    )
    expect_hostnames: tuple[str, ...] = field(
        default=(),
        metadata=doc(
            "optional: the hostnames this instance must have; drift either way fails preflight", example="[...]"
        ),
    )


# How the README shows `servers`: entries by role, then what a role's name means.
_SERVERS_EXAMPLE = (
    ('hobo: {ssh: "admin@app1.example.fr"}', '"[user@]host[:port]", or with port: / identity_file:'),
    ('wcs: {ssh: "admin@app1.example.fr"}', "holds w.c.s. tenants and the skeletons directory"),
    ('database: {ssh: "admin@db1.example.fr"}', "where psql runs (see database:)"),
    ("", "a role named like a service kind (combo, authentic, passerelle…) holds that service's tenants;"),
    ("", "otherwise services live on `hobo` (or set services.<kind>.server)"),
)


@dataclass(frozen=True, kw_only=True)
class Environment:
    """A whole environment file, in the order the README shows it."""

    file: Path
    platform: str = field(metadata=doc("required: the platform's name (letters, digits, - _ .)", example="preprod"))
    protected: bool = field(default=False, metadata=doc("true (prod): the cook needs --ticket and a confirmation"))
    instances: tuple[Instance, ...] = field(metadata=doc("required, at least one"))
    servers: dict[str, SshServer] = field(
        metadata=doc(
            "required: SSH targets by role; `hobo` is required (the cook runs there)", example=_SERVERS_EXAMPLE
        )
    )
    ssh: SshSettings = field(default_factory=SshSettings, metadata=doc())
    dns: DnsSettings = field(metadata=doc())
    tls: TlsSettings = field(default_factory=TlsSettings, metadata=doc())
    http: HttpSettings = field(default_factory=HttpSettings, metadata=doc())
    paths_root: str = field(
        default="/",
        metadata=doc("prefix of every server path (the sandbox uses its state directory)", key="paths.root"),
    )
    services: dict[str, ServiceSettings] = field(
        default_factory=dict,
        metadata=doc(
            "per service kind (hobo, authentic, combo, wcs, passerelle, fargo, chrono,\n"
            "bijoe, lingo, welco): override the catalogue",
            example_key="combo",
        ),
    )
    wcs: WcsSettings = field(default_factory=WcsSettings, metadata=doc())
    database: DatabaseSettings = field(default_factory=DatabaseSettings, metadata=doc())
    cook: CookSettings = field(default_factory=CookSettings, metadata=doc())
    run: RunSettings = field(default_factory=RunSettings, metadata=doc())
    postdeploy: PostdeploySettings = field(default_factory=PostdeploySettings, metadata=doc())
    mirror_of: MirrorOf | None = field(
        default=None,
        metadata=doc(
            'prod: {environment: preprod, strip: "preprod-", add: ""}: every hostname\n'
            "of preprod (minus the prefix) must exist here too"
        ),
    )
    waivers: tuple[Waiver, ...] = field(
        default=(),
        metadata=doc(
            '[{test: "test_tls[hobo|*]", reason: "…"}]: preflight checks that may fail\n'
            "or be skipped without closing the gate (the reason goes in the report)",
            key="gate.waive",
        ),
    )
    site_checks: Path | None = field(
        default=None,
        metadata=doc(
            "a folder of the site's own checks, with preflight/ and postdeploy/ in it\n"
            "(see \"Site checks\"); null: site_checks/ beside tests/, when it exists"
        ),
    )

    def server_path(self, path: str) -> str:
        """A server-side path under the environment's paths root (the sandbox uses a prefix)."""
        if self.paths_root in ("", "/"):
            return path
        return self.paths_root.rstrip("/") + "/" + path.lstrip("/")

    def service(self, kind: str) -> ServiceSettings:
        return self.services.get(kind, ServiceSettings())


def resolve_environment_path(name_or_path: str, base: Path = ENVIRONMENTS_DIR) -> Path:
    """`preprod` means `environments/preprod.yml`; anything with a slash or suffix is a path."""
    if "/" in name_or_path or name_or_path.endswith((".yml", ".yaml")):
        path = Path(name_or_path).expanduser().resolve()
    else:
        path = base / f"{name_or_path}.yml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in base.glob("*.yml"))) or "none"
        raise ConfigError(path, "", f"environment file not found (known environments: {known})")
    return path


def load_environment(name_or_path: str | Path) -> Environment:
    path = resolve_environment_path(str(name_or_path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(path, where, f"invalid YAML: {problem}") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read: {exc.strerror}") from None
    return parse_environment(Node(data, path), path.parent)


def parse_environment(root: Node, base: Path) -> Environment:
    top = Section(root, Environment)
    servers = _servers(top.get("servers"), base)
    services = _services(top.get("services"))
    env = Environment(
        file=root.file,
        platform=_slug(top.get("platform")),
        protected=top.get("protected").bool(),
        instances=_instances(top.get("instances"), base),
        servers=servers,
        ssh=_ssh(top.get("ssh"), base),
        dns=_dns(top.get("dns")),
        tls=_tls(top.get("tls"), base),
        http=_http(top.get("http")),
        paths_root=_absolute(top.get("paths.root")),
        services=services,
        wcs=_wcs(top.get("wcs"), base),
        database=_database(top.get("database"), base),
        cook=_cook(top.get("cook")),
        postdeploy=_postdeploy(top.get("postdeploy")),
        run=_run(top.get("run")),
        mirror_of=_mirror_of(top.get("mirror_of")),
        waivers=_waivers(top.get("gate.waive")),
        site_checks=_site_checks(top.get("site_checks"), base),
    )
    _check_roles(root, env)
    _check_host_key_policy(root, env)
    return env


def _slug(node: Node) -> str:
    value = node.str()
    if not all(c.isalnum() or c in "-_." for c in value):
        raise node.error(f"use letters, digits, '-', '_' or '.' only, got {value!r}")
    return value


def _absolute(node: Node) -> str:
    value = node.str()
    if not value.startswith("/"):
        raise node.error(f"must be an absolute server path, got {value!r}")
    return value


def _instances(node: Node, base: Path) -> tuple[Instance, ...]:
    instances = []
    names: set[str] = set()
    for node_item in node.list(allow_empty=False):
        item = Section(node_item, Instance)
        name = _slug(item.get("name"))
        if name in names:
            raise item.get("name").error(f"instance {name!r} is listed twice")
        names.add(name)
        instances.append(
            Instance(
                name=name,
                recipe=item.get("recipe").local_path(base, must_exist=True),
                superuser_password=read_secret_ref(item.get("superuser_password"), base),
                expect_hostnames=_hostnames(item.get("expect_hostnames")),
            )
        )
    return tuple(instances)


def _servers(node: Node, base: Path) -> dict[str, SshServer]:
    servers = {}
    for role, item in node.mapping().items():
        if isinstance(item.value, str):
            item = Node({"ssh": item.value}, item.file, item.path)
        item.mapping(allowed={"ssh", "port", "identity_file"}, required={"ssh"})
        target = item.get("ssh").str()
        user, _, host = target.rpartition("@")
        port = item.get("port", default_of(SshServer, "port")).int(1, 65535)
        if host.count(":") == 1:
            host, _, raw_port = host.partition(":")
            if not raw_port.isdigit():
                raise item.get("ssh").error(f"bad port in {target!r}")
            port = int(raw_port)
        if not host:
            raise item.get("ssh").error(f"no host in {target!r}")
        _check_ssh_target(item.get("ssh"), user, host)
        servers[role] = SshServer(
            role=role,
            host=host,
            port=port,
            user=user or None,
            identity_file=item.get("identity_file", None).local_path(base, nullable=True),
        )
    if not servers:
        raise node.error("must name at least the hobo server")
    return servers


def _hostnames(node: Node) -> tuple[str, ...]:
    """Host names an environment expects: DNS names only (they reach shells and the report)."""
    names = []
    for item in node.list():
        name = item.str()
        problem = hostname_problem(name)
        if problem:
            raise item.error(problem)
        names.append(name.lower())
    return tuple(names)


# A login name as useradd accepts it (plus '@' and '\' for directory accounts): no quotes, no markup.
_SSH_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@\\-]{0,63}\$?\Z")


def _check_ssh_target(node: Node, user: str, host: str) -> None:
    problem = hostname_problem(host, allow_ip=True)
    if problem:
        raise node.error(problem)
    if user and not _SSH_USER.match(user):
        raise node.error(f"user name {user!r}: use letters, digits, '.', '_', '-' (as useradd accepts)")


def _db_host(node: Node) -> str:
    """A PostgreSQL host: a DNS name, an IP address or a Unix socket directory."""
    value = node.str()
    if value.startswith("/"):
        if not re.fullmatch(r"[A-Za-z0-9_./-]+", value):
            raise node.error(f"socket directory {value!r}: letters, digits, '.', '_', '-' and '/' only")
        return value
    problem = hostname_problem(value, allow_ip=True)
    if problem:
        raise node.error(problem)
    return value


def _ssh(node: Node, base: Path) -> SshSettings:
    s = Section(node, SshSettings)
    return SshSettings(
        known_hosts=s.get("known_hosts").local_path(base, must_exist=True, nullable=True),
        config=s.get("config").local_path(base, must_exist=True, nullable=True),
        identity_file=s.get("identity_file").local_path(base, nullable=True),
        connect_timeout=s.get("connect_timeout").number(0.1, 300),
        command_timeout=s.get("command_timeout").number(0.1, 3600),
        unknown_host_keys=s.get("unknown_host_keys").choice(("reject", "accept")),
    )


def parse_resolver(node: Node) -> Resolver:
    raw = node.str().strip()
    host, port = raw, 53
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise node.error(f"expected address[:port], got {raw!r}")
            port = int(rest[1:])
    elif raw.count(":") == 1:
        host, _, raw_port = raw.partition(":")
        if not raw_port.isdigit():
            raise node.error(f"expected address[:port], got {raw!r}")
        port = int(raw_port)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise node.error(f"not an IP address: {host!r} (resolvers are given as address[:port])") from None
    if not 1 <= port <= 65535:
        raise node.error(f"port out of range in {raw!r}")
    return Resolver(host, port)


def _ip(node: Node) -> str:
    value = node.str()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise node.error(f"not an IP address: {value!r}") from None


def _dns(node: Node) -> DnsSettings:
    s = Section(node, DnsSettings)
    return DnsSettings(
        resolvers=tuple(parse_resolver(r) for r in s.get("resolvers").list(allow_empty=False)),
        expect_addresses=tuple(_ip(a) for a in s.get("expect_addresses").list()),
        timeout=s.get("timeout").number(0.01, 60),
        ipv6=s.get("ipv6").bool(),
    )


def _tls(node: Node, base: Path) -> TlsSettings:
    s = Section(node, TlsSettings)
    return TlsSettings(
        ca_bundle=s.get("ca_bundle").local_path(base, must_exist=True, nullable=True),
        min_days_valid=s.get("min_days_valid").int(0, 3650),
    )


def _not_found(node: Node) -> NotFoundSignature:
    s = Section(node, NotFoundSignature)
    signature = NotFoundSignature(
        status=s.get("status").int(100, 599),
        body_pattern=_regex(s.get("body_pattern")),
        header=s.get("header").str(nullable=True),
        header_pattern=_regex(s.get("header_pattern")),
        reject_frontend_pages=s.get("reject_frontend_pages").bool(),
    )
    if signature.header_pattern and not signature.header:
        raise s.error("header_pattern needs header (the header's name)", "header_pattern")
    return signature


def _regex(node: Node) -> str | None:
    value = node.str(nullable=True)
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise node.error(f"invalid regular expression: {exc}") from None
    return value


def _http(node: Node) -> HttpSettings:
    s = Section(node, HttpSettings)
    return HttpSettings(
        port=s.get("port").int(1, 65535),
        timeout=s.get("timeout").number(0.1, 600),
        concurrency=s.get("concurrency").int(1, 512),
        per_address_concurrency=s.get("per_address_concurrency").int(1, 512),
        not_found=_not_found(s.get("not_found")),
    )


def _expect(node: Node) -> PageExpectationOverride:
    s = Section(node, PageExpectationOverride)
    contains = s.get("contains")
    redirect_to = s.get("redirect_to").str(nullable=True)
    if redirect_to and redirect_to not in ("authentic", "portal") and not redirect_to.startswith("https://"):
        raise s.error("use 'authentic', 'portal' or an https:// URL", "redirect_to")
    return PageExpectationOverride(
        status=s.get("status").int(100, 599) if s.has("status") else None,
        contains=contains.str_list() if contains.value is not None else None,
        title=s.get("title").str(nullable=True),
        password_form=s.get("password_form").bool() if s.has("password_form") else None,
        login_path=s.get("login_path").str(nullable=True),
        redirect_to=redirect_to,
    )


def _services(node: Node) -> dict[str, ServiceSettings]:
    services = {}
    for kind, node_item in node.mapping(allowed=set(SERVICE_KINDS)).items():
        item = Section(node_item, ServiceSettings)
        if SERVICE_KINDS[kind].per_tenant_database and item.has("list_tenants"):
            # Accepted, it would be silently ignored: w.c.s. is no Django tenant service (no list_tenants).
            raise item.get("list_tenants").error(
                f"{kind} has no list_tenants (it is not a Django tenant service): remove this key")
        services[kind] = ServiceSettings(
            owner=item.get("owner").str(nullable=True),
            database=item.get("database").str(nullable=True),
            tenants_dir=_absolute(item.get("tenants_dir")) if item.has("tenants_dir") else None,
            server=item.get("server").str(nullable=True),
            list_tenants=_optional_command(item.get("list_tenants")) if item.has("list_tenants") else None,
            not_found=_not_found(item.get("not_found")) if item.has("not_found") else None,
            expect=_expect(item.get("expect")),
        )
    return services


def _optional_command(node: Node) -> str:
    """A command line, or "" (null too) for "do not run one"."""
    if node.value is None or (isinstance(node.value, str) and not node.value.strip()):
        return ""
    return node.command()


def _db_params(node: Node, base: Path) -> DbParams:
    s = Section(node, DbParams)
    return DbParams(
        host=_db_host(s.get("host")),
        port=s.get("port").int(1, 65535),
        user=s.get("user").str(),
        password=read_secret_ref(s.get("password"), base, nullable=True),
        database=s.get("database").str(nullable=True),
    )


def _wcs(node: Node, base: Path) -> WcsSettings:
    s = Section(node, WcsSettings)
    template = s.get("database_template").str()
    if template.count("%s") + template.count("%(domain_database_name)s") != 1:
        raise s.error(f"must contain %s exactly once, got {template!r}", "database_template")
    return WcsSettings(
        skeletons_dir=_absolute(s.get("skeletons_dir")),
        database_template=template,
        skeleton_file=s.get("skeleton_file").local_path(base, must_exist=True, nullable=True),
        skeleton=_skeleton(s.get("skeleton"), base) if s.has("skeleton") else None,
    )


def _skeleton(node: Node, base: Path) -> SkeletonSettings:
    sk = Section(node, SkeletonSettings)
    createdb = _db_params(sk.get("createdb"), base)
    if createdb.database is None:
        createdb = replace(createdb, database="postgres")  # createdb connects to a database that always exists
    return SkeletonSettings(
        source=sk.get("source").local_path(base, must_exist=True),
        createdb=createdb,
        runtime=_db_params(sk.get("runtime"), base) if sk.has("runtime") else createdb,
        homepage_redirect_url=sk.get("homepage_redirect_url").str(),
        language=sk.get("language").str(),
        error_email=sk.get("error_email").str(nullable=True),
        from_email=sk.get("from_email").str(nullable=True),
    )


def _database(node: Node, base: Path) -> DatabaseSettings:
    s = Section(node, DatabaseSettings)
    direct = None
    if s.has("direct"):
        d = Section(s.get("direct"), DirectDatabase)
        direct = DirectDatabase(
            host=_db_host(d.get("host")),
            port=d.get("port").int(1, 65535),
            user=d.get("user").str(),
            password=read_secret_ref(d.get("password"), base, nullable=True),
            dbname=d.get("dbname").str(),
        )
    return DatabaseSettings(
        server=s.get("server").str(),
        psql=s.get("psql").command(),
        direct=direct,
    )


def _cook(node: Node) -> CookSettings:
    s = Section(node, CookSettings)
    command = s.get("command").command()
    if "{recipe}" not in command:
        raise s.error(f"must contain {{recipe}}, got {command!r}", "command")
    try:
        command.format(recipe="recipe.json", timeout=1)
    except (KeyError, IndexError, ValueError) as exc:
        raise s.error(f"only {{recipe}} and {{timeout}} may be in braces ({exc}), got {command!r}", "command") \
            from None
    return CookSettings(
        command=command,
        check_command=s.get("check_command").command(),
        user=s.get("user").str(),
        timeout=s.get("timeout").number(1, 86400),
        kill_margin=s.get("kill_margin").number(1, 86400),
        upload_dir=_absolute(s.get("upload_dir")),
        lock_file=_lock_file(s.get("lock_file")),
    )


# Directories any user may write: a lock there can be planted, faked or removed by anyone.
SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/shm", "/run/lock", "/var/lock", "/run/user")


def _lock_file(node: Node) -> str:
    """The cook lock: in a directory of its own that only root may use (the cook checks it there too)."""
    value = _absolute(node)
    parent = value.rstrip("/").rpartition("/")[0] or "/"
    if parent in ("/", *SHARED_DIRS) or any(part in (".", "..") for part in value.split("/")):
        raise node.error(f"{value!r} must be inside a directory of its own that only root may use, e.g. "
                         f"{default_of(CookSettings, 'lock_file')} (not directly in {parent}, which others can "
                         "write or share)")
    return value


def _postdeploy(node: Node) -> PostdeploySettings:
    s = Section(node, PostdeploySettings)
    return PostdeploySettings(
        deadline=s.get("deadline").number(0, 86400),
        poll_interval=s.get("poll_interval").number(0.05, 3600),
        first_poll=s.get("first_poll").number(0.01, 3600),
        stable_polls=s.get("stable_polls").int(1, 100),
        login=s.get("login").bool(),
    )


def _run(node: Node) -> RunSettings:
    given = Section(node, RunSettings).get("deadline")
    return RunSettings(deadline=None if given.value is None else given.number(1, 7 * 86400))


def _mirror_of(node: Node) -> MirrorOf | None:
    if node.value is None:
        return None
    if isinstance(node.value, str):
        return MirrorOf(environment=node.value)
    s = Section(node, MirrorOf)
    return MirrorOf(
        environment=s.get("environment").str(),
        strip=_hostname_part(s.get("strip")),
        add=_hostname_part(s.get("add")),
    )


def _hostname_part(node: Node) -> str:
    """A piece of host name that mirror_of adds or strips: the result must stay a host name."""
    value = node.str(allow_empty=True)
    if not re.fullmatch(r"[A-Za-z0-9.-]*", value):
        raise node.error(f"part of a host name: letters, digits, '-' and '.' only, got {value!r}")
    return value


def _waivers(node: Node) -> tuple[Waiver, ...]:
    waivers = []
    for node_item in node.list():
        item = Section(node_item, Waiver)
        waivers.append(Waiver(item.get("test").str(), item.get("reason").str()))
    return tuple(waivers)


def _site_checks(node: Node, base: Path) -> Path | None:
    path = node.local_path(base, must_exist=True, nullable=True)
    if path is not None and not path.is_dir():
        raise node.error(f"not a directory: {path} (the folder holding preflight/ and postdeploy/)")
    return path


def _check_host_key_policy(root: Node, env: Environment) -> None:
    """Trust on first use is for throwaway platforms: a protected one verifies every key against known_hosts."""
    if env.protected and env.ssh.unknown_host_keys == "accept":
        raise root.error("accept (trust on first use) is refused on a protected platform: add the servers' "
                         "host keys to known_hosts (ssh-keyscan, then verify the fingerprints) and use reject",
                         "ssh.unknown_host_keys")


def _check_roles(root: Node, env: Environment) -> None:
    """Every server role the environment refers to must be defined under `servers`."""
    if "hobo" not in env.servers:
        raise root.get("servers").error("the hobo server (role 'hobo') is required: cook runs there")
    for kind, settings in env.services.items():
        if settings.server and settings.server not in env.servers:
            raise root.error(f"unknown server role {settings.server!r}", f"services.{kind}.server")
    if env.database.direct is None and env.database.server not in env.servers:
        raise root.error(
            f"database checks run over SSH on role {env.database.server!r}, which is not under servers "
            "(add it, or give database.direct)",
            "database.server",
        )
