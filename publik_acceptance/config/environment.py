"""Environment files: load, validate once, freeze.

An environment file describes one platform (preprod, prod, the sandbox…): its servers, resolvers,
TLS policy, paths, per-service overrides, cook command and timeouts, and the instances to deploy
with their recipes. Every key is documented in the README. Relative paths are taken from the
environment file's own directory. Errors raise ConfigError naming the file and key path.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from publik_acceptance.config.catalogue import SERVICE_KINDS, WCS_DATABASE_TEMPLATE, WCS_SKELETONS_DIR
from publik_acceptance.config.errors import ConfigError
from publik_acceptance.config.naming import hostname_problem
from publik_acceptance.config.schema import Node
from publik_acceptance.config.secrets import SecretRef, read_secret_ref

ENVIRONMENTS_DIR = Path(__file__).resolve().parents[2] / "environments"
DEFAULT_COOK_COMMAND = "sudo -u hobo hobo-manage cook {recipe} -v 2"
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
    known_hosts: Path | None = None  # None: ~/.ssh/known_hosts
    config: Path | None = None
    identity_file: Path | None = None
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    unknown_host_keys: str = "reject"  # or "accept": trust on first use, recorded in the report


@dataclass(frozen=True)
class Resolver:
    address: str
    port: int = 53

    def __str__(self) -> str:
        address = f"[{self.address}]" if ":" in self.address else self.address
        return address if self.port == 53 else f"{address}:{self.port}"


@dataclass(frozen=True)
class DnsSettings:
    resolvers: tuple[Resolver, ...]
    expect_addresses: tuple[str, ...] = ()
    timeout: float = 3.0
    ipv6: bool = True


@dataclass(frozen=True)
class TlsSettings:
    ca_bundle: Path | None = None
    min_days_valid: int = 21


@dataclass(frozen=True)
class NotFoundSignature:
    """What an application 404 looks like, to tell it from a frontend's default-vhost 404."""

    status: int = 404
    body_pattern: str | None = None
    header: str | None = None
    header_pattern: str | None = None


@dataclass(frozen=True)
class HttpSettings:
    port: int = 443
    timeout: float = 10.0
    concurrency: int = 32
    per_address_concurrency: int = 8
    not_found: NotFoundSignature = field(default_factory=NotFoundSignature)


@dataclass(frozen=True)
class PageExpectationOverride:
    status: int | None = None
    contains: tuple[str, ...] | None = None
    title: str | None = None
    password_form: bool | None = None
    login_path: str | None = None
    redirect_to: str | None = None  # "authentic", "portal" or an absolute URL


@dataclass(frozen=True)
class ServiceSettings:
    owner: str | None = None
    database: str | None = None
    tenants_dir: str | None = None
    server: str | None = None
    not_found: NotFoundSignature | None = None
    expect: PageExpectationOverride = field(default_factory=PageExpectationOverride)


@dataclass(frozen=True)
class DbParams:
    host: str
    port: int = 5432
    user: str = "wcs"
    password: SecretRef | None = None
    database: str | None = None


@dataclass(frozen=True)
class SkeletonSettings:
    """Inputs of `inv render`: templates under `source` filled with these values."""

    source: Path
    createdb: DbParams
    runtime: DbParams
    homepage_redirect_url: str = "[portal_url]"
    language: str = "fr"
    error_email: str | None = None
    from_email: str | None = None


@dataclass(frozen=True)
class WcsSettings:
    skeletons_dir: str = WCS_SKELETONS_DIR
    database_template: str = WCS_DATABASE_TEMPLATE
    skeleton_file: Path | None = None  # a ready modele.zip to upload instead of rendering one
    skeleton: SkeletonSettings | None = None


@dataclass(frozen=True)
class DirectDatabase:
    host: str
    port: int = 5432
    user: str = "postgres"
    password: SecretRef | None = None
    dbname: str = "postgres"


@dataclass(frozen=True)
class DatabaseSettings:
    server: str = "database"
    psql: str = DEFAULT_PSQL
    direct: DirectDatabase | None = None


@dataclass(frozen=True)
class CookSettings:
    command: str = DEFAULT_COOK_COMMAND
    check_command: str = DEFAULT_COOK_CHECK
    user: str = "hobo"
    timeout: float = 900.0
    upload_dir: str = "/tmp"
    # A directory made with mkdir inside a directory only root may use (created 0700 if missing).
    lock_file: str = "/run/publik-acceptance/cook.lock"


@dataclass(frozen=True)
class PostdeploySettings:
    deadline: float = 600.0
    poll_interval: float = 5.0
    first_poll: float = 0.5
    stable_polls: int = 3


DEFAULT_RUN_DEADLINE = 3600.0


@dataclass(frozen=True)
class RunSettings:
    """The whole run's deadline (`run.deadline`): past it no check starts and the cook is never started.
    None: DEFAULT_RUN_DEADLINE, or more when cook.timeout and postdeploy.deadline need it (deadline.py)."""

    deadline: float | None = None


@dataclass(frozen=True)
class MirrorOf:
    environment: str
    strip: str = ""
    add: str = ""


@dataclass(frozen=True)
class Waiver:
    """A preflight check that may fail or be skipped without closing the gate, and why."""

    test: str  # pattern on the test id, `*` and `?` as wildcards, e.g. "test_tls[combo|*]"
    reason: str


@dataclass(frozen=True)
class Instance:
    name: str
    recipe: Path
    superuser_password: SecretRef
    expect_hostnames: tuple[str, ...] = ()


@dataclass(frozen=True)
class Environment:
    file: Path
    platform: str
    instances: tuple[Instance, ...]
    servers: dict[str, SshServer]
    dns: DnsSettings
    protected: bool = False
    ssh: SshSettings = field(default_factory=SshSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    paths_root: str = "/"
    services: dict[str, ServiceSettings] = field(default_factory=dict)
    wcs: WcsSettings = field(default_factory=WcsSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    cook: CookSettings = field(default_factory=CookSettings)
    postdeploy: PostdeploySettings = field(default_factory=PostdeploySettings)
    run: RunSettings = field(default_factory=RunSettings)
    mirror_of: MirrorOf | None = None
    waivers: tuple[Waiver, ...] = ()

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


_TOP_KEYS = {
    "platform", "protected", "instances", "servers", "ssh", "dns", "tls", "http", "paths",
    "services", "wcs", "database", "cook", "postdeploy", "mirror_of", "gate", "run",
}


def parse_environment(root: Node, base: Path) -> Environment:
    root.mapping(allowed=_TOP_KEYS, required={"platform", "instances", "servers", "dns"})
    servers = _servers(root.get("servers"), base)
    services = _services(root.get("services", {}))
    env = Environment(
        file=root.file,
        platform=_slug(root.get("platform")),
        protected=root.get("protected", False).bool(),
        instances=_instances(root.get("instances"), base),
        servers=servers,
        ssh=_ssh(root.get("ssh", {}), base),
        dns=_dns(root.get("dns")),
        tls=_tls(root.get("tls", {}), base),
        http=_http(root.get("http", {})),
        paths_root=_absolute(root.get("paths", {}).mapping(allowed={"root"}).get("root", "/")),
        services=services,
        wcs=_wcs(root.get("wcs", {}), base),
        database=_database(root.get("database", {}), base),
        cook=_cook(root.get("cook", {})),
        postdeploy=_postdeploy(root.get("postdeploy", {})),
        run=_run(root.get("run", {})),
        mirror_of=_mirror_of(root.get("mirror_of", None)),
        waivers=_waivers(root.get("gate", {})),
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
    for item in node.list(allow_empty=False):
        item.mapping(
            allowed={"name", "recipe", "superuser_password", "expect_hostnames"},
            required={"name", "recipe", "superuser_password"},
        )
        name = _slug(item.get("name"))
        if name in names:
            raise item.get("name").error(f"instance {name!r} is listed twice")
        names.add(name)
        instances.append(
            Instance(
                name=name,
                recipe=item.get("recipe").local_path(base, must_exist=True),
                superuser_password=read_secret_ref(item.get("superuser_password"), base),
                expect_hostnames=_hostnames(item.get("expect_hostnames", [])),
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
        port = item.get("port", 22).int(1, 65535)
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
    node.mapping(
        allowed={"known_hosts", "config", "identity_file", "connect_timeout", "command_timeout",
                 "unknown_host_keys"}
    )
    return SshSettings(
        known_hosts=node.get("known_hosts", None).local_path(base, must_exist=True, nullable=True),
        config=node.get("config", None).local_path(base, must_exist=True, nullable=True),
        identity_file=node.get("identity_file", None).local_path(base, nullable=True),
        connect_timeout=node.get("connect_timeout", 10).number(0.1, 300),
        command_timeout=node.get("command_timeout", 60).number(0.1, 3600),
        unknown_host_keys=node.get("unknown_host_keys", "reject").choice(("reject", "accept")),
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
    node.mapping(allowed={"resolvers", "expect_addresses", "timeout", "ipv6"}, required={"resolvers"})
    return DnsSettings(
        resolvers=tuple(parse_resolver(r) for r in node.get("resolvers").list(allow_empty=False)),
        expect_addresses=tuple(_ip(a) for a in node.get("expect_addresses", []).list()),
        timeout=node.get("timeout", 3).number(0.01, 60),
        ipv6=node.get("ipv6", True).bool(),
    )


def _tls(node: Node, base: Path) -> TlsSettings:
    node.mapping(allowed={"ca_bundle", "min_days_valid"})
    return TlsSettings(
        ca_bundle=node.get("ca_bundle", None).local_path(base, must_exist=True, nullable=True),
        min_days_valid=node.get("min_days_valid", 21).int(0, 3650),
    )


def _not_found(node: Node) -> NotFoundSignature:
    node.mapping(allowed={"status", "body_pattern", "header", "header_pattern"})
    signature = NotFoundSignature(
        status=node.get("status", 404).int(100, 599),
        body_pattern=_regex(node.get("body_pattern", None)),
        header=node.get("header", None).str(nullable=True),
        header_pattern=_regex(node.get("header_pattern", None)),
    )
    if signature.header_pattern and not signature.header:
        raise node.error("header_pattern needs header (the header's name)", "header_pattern")
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
    node.mapping(allowed={"port", "timeout", "concurrency", "per_address_concurrency", "not_found"})
    return HttpSettings(
        port=node.get("port", 443).int(1, 65535),
        timeout=node.get("timeout", 10).number(0.1, 600),
        concurrency=node.get("concurrency", 32).int(1, 512),
        per_address_concurrency=node.get("per_address_concurrency", 8).int(1, 512),
        not_found=_not_found(node.get("not_found", {})),
    )


def _expect(node: Node) -> PageExpectationOverride:
    node.mapping(allowed={"status", "contains", "title", "password_form", "login_path", "redirect_to"})
    contains = node.get("contains", None)
    redirect_to = node.get("redirect_to", None).str(nullable=True)
    if redirect_to and redirect_to not in ("authentic", "portal") and not redirect_to.startswith("https://"):
        raise node.error("use 'authentic', 'portal' or an https:// URL", "redirect_to")
    return PageExpectationOverride(
        status=node.get("status", None).int(100, 599) if node.has("status") else None,
        contains=contains.str_list() if contains.value is not None else None,
        title=node.get("title", None).str(nullable=True),
        password_form=node.get("password_form").bool() if node.has("password_form") else None,
        login_path=node.get("login_path", None).str(nullable=True),
        redirect_to=redirect_to,
    )


def _services(node: Node) -> dict[str, ServiceSettings]:
    services = {}
    for kind, item in node.mapping(allowed=set(SERVICE_KINDS)).items():
        item.mapping(allowed={"owner", "database", "tenants_dir", "server", "not_found", "expect"})
        services[kind] = ServiceSettings(
            owner=item.get("owner", None).str(nullable=True),
            database=item.get("database", None).str(nullable=True),
            tenants_dir=_absolute(item.get("tenants_dir")) if item.has("tenants_dir") else None,
            server=item.get("server", None).str(nullable=True),
            not_found=_not_found(item.get("not_found")) if item.has("not_found") else None,
            expect=_expect(item.get("expect", {})),
        )
    return services


def _db_params(node: Node, base: Path, default_user: str) -> DbParams:
    node.mapping(allowed={"host", "port", "user", "password", "database"}, required={"host"})
    return DbParams(
        host=_db_host(node.get("host")),
        port=node.get("port", 5432).int(1, 65535),
        user=node.get("user", default_user).str(),
        password=read_secret_ref(node.get("password", None), base, nullable=True),
        database=node.get("database", None).str(nullable=True),
    )


def _wcs(node: Node, base: Path) -> WcsSettings:
    node.mapping(allowed={"skeletons_dir", "database_template", "skeleton_file", "skeleton"})
    template = node.get("database_template", WCS_DATABASE_TEMPLATE).str()
    if template.count("%s") + template.count("%(domain_database_name)s") != 1:
        raise node.error(f"must contain %s exactly once, got {template!r}", "database_template")
    skeleton = None
    if node.has("skeleton"):
        sk = node.get("skeleton").mapping(
            allowed={"source", "createdb", "runtime", "homepage_redirect_url", "language",
                     "error_email", "from_email"},
            required={"source", "createdb"},
        )
        createdb = _db_params(sk.get("createdb"), base, "wcs")
        if createdb.database is None:
            createdb = DbParams(createdb.host, createdb.port, createdb.user, createdb.password, "postgres")
        skeleton = SkeletonSettings(
            source=sk.get("source").local_path(base, must_exist=True),
            createdb=createdb,
            runtime=_db_params(sk.get("runtime"), base, "wcs") if sk.has("runtime") else createdb,
            homepage_redirect_url=sk.get("homepage_redirect_url", "[portal_url]").str(),
            language=sk.get("language", "fr").str(),
            error_email=sk.get("error_email", None).str(nullable=True),
            from_email=sk.get("from_email", None).str(nullable=True),
        )
    return WcsSettings(
        skeletons_dir=_absolute(node.get("skeletons_dir", WCS_SKELETONS_DIR)),
        database_template=template,
        skeleton_file=node.get("skeleton_file", None).local_path(base, must_exist=True, nullable=True),
        skeleton=skeleton,
    )


def _database(node: Node, base: Path) -> DatabaseSettings:
    node.mapping(allowed={"server", "psql", "direct"})
    direct = None
    if node.has("direct"):
        d = node.get("direct").mapping(allowed={"host", "port", "user", "password", "dbname"},
                                       required={"host"})
        direct = DirectDatabase(
            host=_db_host(d.get("host")),
            port=d.get("port", 5432).int(1, 65535),
            user=d.get("user", "postgres").str(),
            password=read_secret_ref(d.get("password", None), base, nullable=True),
            dbname=d.get("dbname", "postgres").str(),
        )
    return DatabaseSettings(
        server=node.get("server", "database").str(),
        psql=node.get("psql", DEFAULT_PSQL).str(),
        direct=direct,
    )


def _cook(node: Node) -> CookSettings:
    node.mapping(allowed={"command", "check_command", "user", "timeout", "upload_dir", "lock_file"})
    command = node.get("command", DEFAULT_COOK_COMMAND).str()
    if "{recipe}" not in command:
        raise node.error(f"must contain {{recipe}}, got {command!r}", "command")
    return CookSettings(
        command=command,
        check_command=node.get("check_command", DEFAULT_COOK_CHECK).str(),
        user=node.get("user", "hobo").str(),
        timeout=node.get("timeout", 900).number(1, 86400),
        upload_dir=_absolute(node.get("upload_dir", "/tmp")),
        lock_file=_lock_file(node.get("lock_file", CookSettings.lock_file)),
    )


# Directories any user may write: a lock there can be planted, faked or removed by anyone.
SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/shm", "/run/lock", "/var/lock", "/run/user")


def _lock_file(node: Node) -> str:
    """The cook lock: in a directory of its own that only root may use (the cook checks it there too)."""
    value = _absolute(node)
    parent = value.rstrip("/").rpartition("/")[0] or "/"
    if parent in ("/", *SHARED_DIRS) or any(part in (".", "..") for part in value.split("/")):
        raise node.error(f"{value!r} must be inside a directory of its own that only root may use, e.g. "
                         f"{CookSettings.lock_file} (not directly in {parent}, which others can write or share)")
    return value


def _postdeploy(node: Node) -> PostdeploySettings:
    node.mapping(allowed={"deadline", "poll_interval", "first_poll", "stable_polls"})
    settings = PostdeploySettings(
        deadline=node.get("deadline", 600).number(0, 86400),
        poll_interval=node.get("poll_interval", 5).number(0.05, 3600),
        first_poll=node.get("first_poll", 0.5).number(0.01, 3600),
        stable_polls=node.get("stable_polls", 3).int(1, 100),
    )
    return settings


def _run(node: Node) -> RunSettings:
    node.mapping(allowed={"deadline"})
    given = node.get("deadline", None)
    return RunSettings(deadline=None if given.value is None else given.number(1, 7 * 86400))


def _mirror_of(node: Node) -> MirrorOf | None:
    if node.value is None:
        return None
    if isinstance(node.value, str):
        return MirrorOf(environment=node.value)
    node.mapping(allowed={"environment", "strip", "add"}, required={"environment"})
    return MirrorOf(
        environment=node.get("environment").str(),
        strip=_hostname_part(node.get("strip", "")),
        add=_hostname_part(node.get("add", "")),
    )


def _hostname_part(node: Node) -> str:
    """A piece of host name that mirror_of adds or strips: the result must stay a host name."""
    value = node.str(allow_empty=True)
    if not re.fullmatch(r"[A-Za-z0-9.-]*", value):
        raise node.error(f"part of a host name: letters, digits, '-' and '.' only, got {value!r}")
    return value


def _waivers(node: Node) -> tuple[Waiver, ...]:
    node.mapping(allowed={"waive"})
    waivers = []
    for item in node.get("waive", []).list():
        item.mapping(allowed={"test", "reason"}, required={"test", "reason"})
        waivers.append(Waiver(item.get("test").str(), item.get("reason").str()))
    return tuple(waivers)


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
