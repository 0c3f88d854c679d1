"""The sandbox's settings: its address plan, timings and where its state lives.

Everything the sandbox binds is on its own 127.0.0.0/8 addresses (never 0.0.0.0), so it can run
next to anything else on the machine that uses 127.0.0.1. Change the plan here, in one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_STATE_DIR = Path("/tmp/publik-sandbox")
STATE_DIR_ENV = "PUBLIK_SANDBOX_DIR"
REPO_ENV_FILE = REPO_ROOT / "environments" / "sandbox.yml"
RECIPE_TEMPLATE = REPO_ROOT / "fixtures" / "recipes" / "macollectivite-preprod.json"
SKELETON_SOURCE = REPO_ROOT / "fixtures" / "wcs-skeleton"

# Django-like services the backends and the agent know, with the port each one listens on.
BACKEND_PORTS: dict[str, int] = {
    "hobo": 8001,
    "authentic": 8002,
    "combo": 8003,
    "wcs": 8004,
    "passerelle": 8005,
    "fargo": 8006,
    "chrono": 8007,
    "bijoe": 8008,
}

# The service users a Publik host has (useradd --system); chrono/bijoe are created only if used.
SERVICE_USERS: tuple[str, ...] = ("hobo", "authentic-multitenant", "combo", "wcs", "passerelle", "fargo")

# One shared database per Django service (publik-reference.md §4); w.c.s. creates its own.
DJANGO_DATABASES: dict[str, str] = {
    "hobo": "hobo",
    "combo": "combo",
    "authentic": "authentic2_multitenant",
    "passerelle": "passerelle",
    "fargo": "fargo",
}


@dataclass(frozen=True)
class Network:
    """The address plan. Ports below 1024 are fine: the sandbox runs as root."""

    dns: str = "127.0.0.10"
    dns_port: int = 53
    frontends: tuple[str, str] = ("127.0.0.11", "127.0.0.12")
    https_port: int = 443
    backends: str = "127.0.0.13"
    backend_ports: dict[str, int] = field(default_factory=lambda: dict(BACKEND_PORTS))
    closed_port: int = 8098  # nothing listens there: the upstream of the http-502 fault
    tarpit_port: int = 8099  # accepts and never answers: the upstream of the http-hang fault
    postgres: str = "127.0.0.14"
    postgres_port: int = 5432
    ssh: str = "127.0.0.15"
    ssh_port: int = 22
    nowhere: str = "127.0.0.19"  # an address where nothing listens (dns-wrong-address)
    # With latency (SandboxConfig.latency_ms > 0) the delaying proxy takes the frontends' and the
    # resolver's addresses above, and nginx and dnsmasq move behind it, here.
    hidden_frontends: tuple[str, str] = ("127.0.0.21", "127.0.0.22")
    hidden_dns_port: int = 5353
    # With a bastion (SandboxConfig.bastion): a private link from RFC 2544's test range (never routed),
    # servers' sshd on this machine's end, the bastion's sshd on the other, in a network namespace of its
    # own (so that what it forwards comes from its own address); see sshd.py.
    bastion_link: tuple[str, str] = ("198.18.0.1", "198.18.0.2")
    bastion_veth: tuple[str, str] = ("pbsandbox0", "pbsandbox1")  # this machine's end, the bastion's end
    bastion_netns: str = "publik-sandbox-bastion"

    def all_listeners(self) -> list[tuple[str, str, int]]:
        """(protocol, address, port) of every socket the sandbox binds, for checks at up and down."""
        listeners = [("udp", self.dns, self.dns_port), ("tcp", self.dns, self.dns_port)]
        listeners += [("tcp", address, self.https_port) for address in self.frontends]
        listeners += [("tcp", self.backends, port) for port in self.backend_ports.values()]
        listeners += [("tcp", self.backends, self.tarpit_port)]
        listeners += [("tcp", self.postgres, self.postgres_port), ("tcp", self.ssh, self.ssh_port)]
        listeners += [("udp", self.dns, self.hidden_dns_port), ("tcp", self.dns, self.hidden_dns_port)]
        listeners += [("tcp", address, self.https_port) for address in self.hidden_frontends]
        return listeners


@dataclass(frozen=True)
class SandboxConfig:
    """How a sandbox is shaped. Tests shorten the delays; users keep the realistic defaults."""

    state_dir: Path = DEFAULT_STATE_DIR
    instances: int = 1
    zone: str = "example.test"
    env_prefix: str = "preprod-"
    network: Network = field(default_factory=Network)
    # The agent deploys each service after a random delay in this range (hobo-agent is asynchronous).
    deploy_delay: tuple[float, float] = (0.5, 2.0)
    late_delay: float = 8.0  # deploy-late: after this many seconds, within the postdeploy deadline
    postdeploy_deadline: float = 30.0
    poll_interval: float = 0.5
    beyond_margin: float = 15.0  # deploy-beyond-deadline: deadline + this many seconds
    # cook.timeout of the generated environment: how long the stand-in cook waits for the services.
    cook_timeout: float = 60.0
    # The servers reachable only through a bastion (a second sshd), as production servers often are.
    bastion: bool = False
    # Milliseconds added to every new TCP connection to the frontends and every DNS answer (0: none).
    latency_ms: float = 0.0
    # The state directory is a tmpfs of this size (None: a plain directory on disk).
    tmpfs_size: str | None = "1g"
    # The generated environment file; None writes only the copy in the state directory.
    env_file: Path | None = REPO_ENV_FILE
    recipe_template: Path = RECIPE_TEMPLATE
    skeleton_source: Path = SKELETON_SOURCE

    @property
    def beyond_delay(self) -> float:
        return self.postdeploy_deadline + self.beyond_margin

    def frontend_listen(self) -> tuple[str, str]:
        """Where nginx listens: the frontends' addresses, or behind the latency proxy."""
        return self.network.hidden_frontends if self.latency_ms else self.network.frontends

    @property
    def dns_listen_port(self) -> int:
        """Where dnsmasq listens (on the resolver's address): its port, or behind the latency proxy."""
        return self.network.hidden_dns_port if self.latency_ms else self.network.dns_port

    def instance_names(self) -> list[str]:
        """`moncompte` first (the runbook's example), then `ville02`, `ville03`…"""
        return ["moncompte"] + [f"ville{i:02d}" for i in range(2, self.instances + 1)]


def default_state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


class StatePaths:
    """Every path under the state directory, named once."""

    def __init__(self, state_dir: Path) -> None:
        self.state = Path(state_dir).resolve()

    @property
    def root(self) -> Path:  # the "server" filesystem prefix (paths.root of the environment)
        return self.state / "root"

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def ca(self) -> Path:
        return self.pki / "ca.pem"

    @property
    def dns(self) -> Path:
        return self.state / "dns"

    @property
    def nginx(self) -> Path:
        return self.state / "nginx"

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def log(self) -> Path:
        return self.state / "log"

    @property
    def pg(self) -> Path:
        return self.state / "pg"

    @property
    def pg_data(self) -> Path:
        return self.pg / "data"

    @property
    def pg_socket_dir(self) -> Path:
        return self.pg / "run"

    @property
    def ssh(self) -> Path:
        return self.state / "ssh"

    @property
    def known_hosts(self) -> Path:
        return self.ssh / "known_hosts"

    @property
    def client_key(self) -> Path:
        return self.ssh / "id_ed25519"

    @property
    def secrets(self) -> Path:
        return self.state / "secrets"

    @property
    def superuser_password(self) -> Path:
        return self.secrets / "superuser_password"

    @property
    def wcs_db_password(self) -> Path:
        return self.secrets / "wcs_db_password"

    @property
    def recipes(self) -> Path:
        return self.state / "recipes"

    @property
    def upload(self) -> Path:
        return self.state / "upload"

    @property
    def bin(self) -> Path:
        return self.state / "bin"

    @property
    def hobo_manage(self) -> Path:
        return self.bin / "hobo-manage"

    @property
    def standin(self) -> Path:
        return self.state / "standin"

    @property
    def invocations(self) -> Path:
        return self.standin / "invocations.jsonl"

    @property
    def agent(self) -> Path:
        return self.state / "agent"

    @property
    def agent_queue(self) -> Path:
        return self.agent / "queue"

    @property
    def agent_events(self) -> Path:
        return self.agent / "events.jsonl"

    @property
    def faults(self) -> Path:
        return self.state / "faults.json"

    @property
    def runtime(self) -> Path:
        """What the backends and the agent read at start: addresses, paths, delays (no secrets)."""
        return self.state / "sandbox.json"

    @property
    def env_copy(self) -> Path:
        return self.state / "sandbox.yml"

    @property
    def skeletons(self) -> Path:
        return self.root / "var/lib/wcs/skeletons"
