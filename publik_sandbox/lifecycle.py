"""Orchestration: bring the whole sandbox up (faults applied) and down again, and report status.

`up` is idempotent: it brings down whatever the same state directory holds first. `down` stops
every process it started by PID, deletes the users it created and any file it put outside the
state directory, then removes the state directory and the generated environment file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from publik_acceptance.config.catalogue import SERVICE_KINDS
from publik_sandbox import dnsmasq, envfile, frontend, pki, postgres, procs, saml, sshd, standin, statedir, users
from publik_sandbox.config import (
    DJANGO_DATABASES,
    REPO_ROOT,
    SERVICE_USERS,
    SandboxConfig,
    StatePaths,
    default_state_dir,
)
from publik_sandbox.faults import ActiveFault, FaultError, hosts_with, is_active, parse_faults
from publik_sandbox.recipes import SandboxInstance, write_recipes

REQUIRED_BINARIES = {
    dnsmasq.DNSMASQ: "dnsmasq-base",
    frontend.NGINX: "nginx",
    sshd.SSHD: "openssh-server",
    str(postgres.PG_BIN / "initdb"): "postgresql-15",
    "/usr/bin/sudo": "sudo",
    str(saml.DIST_PACKAGES / "lasso.py"): "python3-lasso",  # the federation's SAML library (saml.load_lasso)
}
# Stop order: the agent first (it writes into the tenants), postgres last (others use it).
STOP_ORDER = ("agent", "latency", "frontend-1", "frontend-2", "backends", "dns", "bastion", "sshd", "postgres")
USED_KINDS = ("hobo", "authentic", "combo", "wcs", "passerelle", "fargo")


class SandboxError(Exception):
    """A precondition or start failure, with one line saying what to do."""


class Sandbox:
    """The local Publik-like platform. Usable from pytest fixtures and from `inv sandbox.*`."""

    def __init__(self, state_dir: str | Path | None = None, instances: int = 1,
                 config: SandboxConfig | None = None, **overrides: Any) -> None:
        if config is None:
            state = Path(state_dir) if state_dir else default_state_dir()
            config = SandboxConfig(state_dir=state.resolve(), instances=instances)
        elif state_dir is not None:
            config = replace(config, state_dir=Path(state_dir).resolve())
        if overrides:
            config = replace(config, **overrides)  # any SandboxConfig field; replace() refuses other names
        self.config = config
        self.paths = StatePaths(config.state_dir)
        self._procs: dict[str, subprocess.Popen] = {}  # kept so our own children get reaped
        self._initdb: threading.Thread | None = None

    # -- public API -------------------------------------------------------------------------------
    @property
    def env_file(self) -> Path:
        """The generated environment file (environments/sandbox.yml unless disabled)."""
        return self.config.env_file or self.paths.env_copy

    def is_up(self) -> bool:
        records = procs.records(self.paths.run) if self.paths.run.is_dir() else {}
        return bool(records) and all(procs.alive(r) for r in records.values())

    def up(self, faults: Iterable[str] = ()) -> dict:
        """Start everything, faults applied; returns status(). Raises SandboxError."""
        started = time.monotonic()
        self._preconditions()
        faults = list(faults)
        try:  # a typo in a fault must not tear down a running sandbox
            parse_faults(faults, write_recipes(self.config, self.paths.recipes, write=False))
        except FaultError as exc:
            raise SandboxError(str(exc)) from None
        replaced = self._running()
        self.down()  # refuses a sandbox another checkout runs here
        self._check_ports_free()
        try:
            self._up(faults)
        except Exception as exc:  # whatever failed, stop what did start; the cause stays chained
            if self._initdb is not None:  # initdb runs in a thread: let it finish before cleaning up
                self._initdb.join(timeout=60)
            self.down(keep_logs=True)
            raise SandboxError(f"sandbox did not start: {exc} (logs in {self.paths.log}; "
                               "`inv sandbox.down` removes them)") from exc
        info = self._info()
        info["up_seconds"] = round(time.monotonic() - started, 3)
        self._write_json(self.paths.run / "info.json", info)
        return {**self.status(), "replaced": replaced}

    def down(self, keep_logs: bool = False) -> None:
        """Stop and remove everything `up` created (safe to call when nothing is up)."""
        paths = self.paths
        if not statedir.looks_like_state_dir(paths.state):
            raise SandboxError(f"{paths.state} is not a sandbox state directory: refusing to remove it")
        info = self._info()
        owner = info.get("checkout")
        if owner and owner != str(REPO_ROOT) and self._running():
            raise SandboxError(f"the sandbox running in {paths.state} belongs to the checkout {owner}: bring it down "
                               "from there, or give this one another --state-dir")
        for pid in standin.hung_cooks(paths):
            _kill_if(pid, str(paths.hobo_manage))
        records = procs.records(paths.run) if paths.run.is_dir() else {}
        for name in sorted(records, key=lambda n: STOP_ORDER.index(n) if n in STOP_ORDER else -1):
            procs.stop(records[name], sig=signal.SIGINT if name == "postgres" else signal.SIGTERM)
            (paths.run / f"{name}.pid").unlink(missing_ok=True)
        self._procs.clear()
        for path in info.get("created_paths", []):
            with contextlib.suppress(OSError):
                Path(path).rmdir()
        # Only our own service users, whatever info.json says: userdel never reaches another account.
        created = [name for name in info.get("created_users", []) if name in SERVICE_USERS]
        _kill_user_processes(created, str(paths.state))
        failed = users.remove(created)
        if info.get("bastion_netns"):  # only the namespace this sandbox created (recorded before creating it)
            try:
                sshd.remove_link(info["bastion_netns"])
            except procs.StartError as exc:
                raise SandboxError(f"could not remove the bastion's network namespace: {exc}") from None
        if keep_logs and paths.state.is_dir():
            # After a failed up: only the logs stay (and the tmpfs holding them) until the next down.
            for child in paths.state.iterdir():
                if child.name not in ("log", "run"):
                    _remove(child)
            for child in paths.run.glob("*"):
                if child.name != "info.json":
                    _remove(child)
        else:
            statedir.unmount(paths.state)
            _remove(paths.state)
        for env_file in {p for p in (self.config.env_file, paths.env_copy) if p is not None}:
            envfile.remove_if_ours(env_file, paths.state)
        if failed:
            raise SandboxError(f"could not delete users {', '.join(failed)} (processes still running?)")

    def status(self) -> dict:
        """Components with address and state, active faults, and the cook invocations."""
        info = self._info()
        net = self.config.network
        records = procs.records(self.paths.run) if self.paths.run.is_dir() else {}
        addresses = {
            "dns": f"{net.dns}:{net.dns_port}/udp+tcp",
            "frontend-1": f"{net.frontends[0]}:{net.https_port}",
            "frontend-2": f"{net.frontends[1]}:{net.https_port}",
            "backends": f"{net.backends}:" + ",".join(str(p) for p in net.backend_ports.values()),
            "postgres": f"{net.postgres}:{net.postgres_port}",
            "sshd": f"{sshd.server_address(net, bool(info.get('bastion_netns')))}:{net.ssh_port}",
            "agent": "-",
        }
        if info.get("bastion_netns"):
            addresses["bastion"] = f"{net.bastion_link[1]}:{net.ssh_port} (netns {info['bastion_netns']})"
        if info.get("latency_ms"):
            addresses["latency"] = (f"+{info['latency_ms']:g} ms: {net.dns}:{net.dns_port}, "
                                    + ", ".join(f"{a}:{net.https_port}" for a in net.frontends))
        components = []
        for name, address in addresses.items():
            record = records.get(name)
            running = record is not None and procs.alive(record)
            components.append({"name": name, "address": address, "state": "running" if running else "stopped",
                               "pid": record["pid"] if record is not None and running else None})
        return {
            "state_dir": str(self.paths.state),
            "up": bool(records) and all(c["state"] == "running" for c in components),
            "env_file": str(self.env_file) if self.env_file.exists() else None,
            "ca_bundle": str(self.paths.ca) if self.paths.ca.exists() else None,
            "components": components,
            "instances": info.get("instances", []),
            "faults": info.get("faults", []),
            "up_seconds": info.get("up_seconds"),
            "latency_ms": info.get("latency_ms", 0),
            "bastion": bool(info.get("bastion_netns")),
            "cook_invocations": self.cook_invocations(),
        }

    def cook_invocations(self) -> list[dict]:
        return standin.cook_invocations(self.paths)

    def agent_events(self) -> list[dict]:
        try:
            lines = self.paths.agent_events.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        return [json.loads(line) for line in lines if line.strip()]

    def instances(self) -> list[SandboxInstance]:
        from publik_sandbox.recipes import Service

        out = []
        for item in self._info().get("instances", []):
            services = tuple(Service(**s) for s in item["services"])
            out.append(SandboxInstance(item["name"], Path(item["recipe"]), services, item.get("superuser_email")))
        return out

    # -- up, step by step -------------------------------------------------------------------------
    def _up(self, fault_specs: list[str]) -> None:
        config, paths, net = self.config, self.paths, self.config.network
        if config.tmpfs_size:
            statedir.mount_tmpfs(paths.state, config.tmpfs_size)
        paths.state.mkdir(parents=True, exist_ok=True)
        paths.state.chmod(0o755)
        for directory in (paths.run, paths.log, paths.secrets, paths.upload, paths.agent):
            directory.mkdir(parents=True, exist_ok=True)
        paths.secrets.chmod(0o700)
        paths.upload.chmod(0o1777)  # like /tmp on a real hobo server: the cook user writes its recipe there
        instances = write_recipes(config, paths.recipes)
        active = parse_faults(fault_specs, instances)
        info: dict[str, Any] = {
            "instances": [_instance_json(i) for i in instances], "faults": [a.to_json() for a in active],
            "created_users": [], "created_paths": [], "latency_ms": config.latency_ms, "checkout": str(REPO_ROOT),
        }
        self._write_json(paths.run / "info.json", info)
        for name in SERVICE_USERS:  # recorded one by one: a failure half-way must not orphan the first ones
            info["created_users"] += users.ensure([name])
            self._write_json(paths.run / "info.json", info)

        # initdb is the slow part (~0.5 s): run it while the rest is being prepared.
        initdb_error: list[BaseException] = []

        def _initdb() -> None:
            try:
                postgres.init_cluster(paths.pg, paths.pg_data, paths.pg_socket_dir)
            except BaseException as exc:
                initdb_error.append(exc)

        initdb = self._initdb = threading.Thread(target=_initdb, daemon=True)
        initdb.start()

        _write_secret(paths.superuser_password, secrets.token_urlsafe(18))
        wcs_password = secrets.token_urlsafe(18)
        _write_secret(paths.wcs_db_password, wcs_password)
        hostnames = [h for i in instances for h in i.hostnames]
        services = [s for i in instances for s in i.services]
        certs = pki.build_pki(paths.pki, config.zone, hostnames, active)
        self._write_json(paths.faults, [a.to_json() for a in active], mode=0o644)
        self._write_runtime(instances)
        self._make_root_tree()

        conf = dnsmasq.write_config(paths.dns, config.zone, net, dnsmasq.records(hostnames, net, active),
                                    port=config.dns_listen_port)
        self._procs["dns"] = dnsmasq.start(conf, paths.run, paths.log, net, hostnames[0], port=config.dns_listen_port)
        self._procs["backends"] = self._start_module("backends")
        frontend.start_all(paths.nginx, services, certs, net, active, paths.run, paths.log,
                           listen=config.frontend_listen())
        if config.latency_ms:
            self._procs["latency"] = self._start_module("latency")
            procs.wait_file(paths.run / "latency.ready", timeout=10, proc=self._procs["latency"])
        for port in [*net.backend_ports.values(), net.tarpit_port]:
            procs.wait_tcp(net.backends, port, timeout=10, proc=self._procs["backends"])

        known_hosts = ("unknown" if is_active(active, "ssh-host-key-unknown")
                       else "changed" if is_active(active, "ssh-host-key-changed") else "ok")
        sshd.prepare(paths.ssh, net, known_hosts, bastion=config.bastion)
        if sshd.ensure_privsep_dir():
            info["created_paths"].append(str(sshd.PRIVSEP_DIR))
            self._write_json(paths.run / "info.json", info)
        if config.bastion:
            info["bastion_netns"] = net.bastion_netns  # recorded first: a failure half-way is cleaned up by down
            self._write_json(paths.run / "info.json", info)
            sshd.create_link(net)
        self._procs["sshd"] = sshd.start(paths.ssh, net, paths.run, paths.log, bastion=config.bastion)
        if config.bastion:
            self._procs["bastion"] = sshd.start_bastion(paths.ssh, net, paths.run, paths.log)
        standin.install(paths, present=not is_active(active, "hobo-manage-missing"))

        initdb.join(timeout=60)
        if initdb_error:
            raise RuntimeError(f"initdb failed: {initdb_error[0]}")
        self._procs["postgres"] = postgres.start(paths.pg_data, paths.pg_socket_dir, net, paths.run, paths.log)
        missing_dbs = {DJANGO_DATABASES[k] for a in active if a.name == "db-missing" for k in
                       (s.kind for s in a.services)}
        postgres.provision(paths.pg_socket_dir, net.postgres_port,
                           [d for d in DJANGO_DATABASES.values() if d not in missing_dbs],
                           wcs_password, createdb=not is_active(active, "db-no-createdb"))

        envfile.write(config, paths, instances)
        self._install_skeleton(instances, active)
        self._procs["agent"] = self._start_module("agent")
        procs.wait_file(paths.agent / "ready", timeout=10, proc=self._procs["agent"])
        self._predeploy(instances, active)

    def _start_module(self, name: str) -> subprocess.Popen:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO_ROOT), "LANG": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1"}
        argv = [sys.executable, "-m", f"publik_sandbox.{name}", str(self.paths.state)]
        return procs.start(name, argv, self.paths.run, self.paths.log, env=env, cwd=REPO_ROOT)

    def _write_runtime(self, instances: list[SandboxInstance]) -> None:
        config, paths, net = self.config, self.paths, self.config.network
        runtime = {
            "root": str(paths.root),
            "network": {"backends": net.backends, "backend_ports": net.backend_ports,
                        "tarpit_port": net.tarpit_port},
            "pg_socket_dir": str(paths.pg_socket_dir),
            "pg_port": net.postgres_port,
            "databases": DJANGO_DATABASES,
            "skeletons_dir": str(paths.skeletons),
            "deploy_delay": list(config.deploy_delay),
            "late_delay": config.late_delay,
            "beyond_delay": config.beyond_delay,
            # SAML: each instance's superuser (recipe's create-superuser email; the password is the secret
            # the suite holds), by the authentic host whose deployment creates it.
            "saml": {
                "superusers": {s.host: i.superuser_email for i in instances for s in i.services
                               if s.kind == "authentic" and i.superuser_email},
                "superuser_password_file": str(paths.superuser_password),
                "idp_wait": max(config.late_delay, 2.0),
            },
        }
        if config.latency_ms:
            hidden = config.frontend_listen()
            runtime["latency"] = {
                "delay_ms": config.latency_ms,
                "tcp": [[public, net.https_port, hidden[i], net.https_port] for i, public in enumerate(net.frontends)]
                + [[net.dns, net.dns_port, net.dns, config.dns_listen_port]],
                "udp": [[net.dns, net.dns_port, net.dns, config.dns_listen_port]],
            }
        self._write_json(paths.runtime, runtime, mode=0o644)

    def _make_root_tree(self) -> None:
        """`$ROOT/var/lib/<svc>/tenants/` owned by each service user, as the packages install them."""
        for kind in USED_KINDS:
            service = SERVICE_KINDS[kind]
            tenants = self.paths.root / service.tenants_dir.lstrip("/")
            tenants.mkdir(parents=True, exist_ok=True)
            for directory in (tenants.parent, tenants):
                shutil.chown(directory, service.owner, service.owner)
                directory.chmod(0o755)
        self.paths.skeletons.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.paths.skeletons, "wcs", "wcs")
        self.paths.skeletons.chmod(0o755)

    def _install_skeleton(self, instances: list[SandboxInstance], active: list[ActiveFault]) -> None:
        """modele.zip rendered by the suite's own skeleton code from the generated environment."""
        if is_active(active, "skeleton-missing"):
            return
        from publik_acceptance.config.environment import load_environment
        from publik_acceptance.deploy.skeleton import render_for_environment

        data = render_for_environment(load_environment(self.paths.env_copy))
        if is_active(active, "skeleton-corrupt"):
            data = data[: len(data) // 3]  # a truncated upload
        mode = 0o644 if is_active(active, "skeleton-world-readable") else 0o640
        names = {s.template_name for i in instances for s in i.services if s.kind == "wcs" and s.template_name}
        for name in sorted(names) or ["modele.zip"]:
            target = self.paths.skeletons / name
            target.write_bytes(data)
            shutil.chown(target, "wcs", "wcs")
            target.chmod(mode)

    def _predeploy(self, instances: list[SandboxInstance], active: list[ActiveFault]) -> None:
        """tenants-*-deployed, wcs-old-location-leftover: the agent deploys those tenants now, as an earlier
        cook would have (the latter at w.c.s.'s old location)."""
        hosts = (hosts_with(active, "tenants-all-deployed") | hosts_with(active, "tenants-some-deployed")
                 | hosts_with(active, "wcs-old-location-leftover"))
        if not hosts:
            return
        for instance in instances:
            chosen = [s for s in instance.services if s.host in hosts]
            if not chosen:
                continue
            # Only the chosen services are deployed, but hobo.json lists them all, as hobo would.
            self._queue({"immediate": True, "variables": {},
                         "services": [s.hobo_entry() for s in instance.services],
                         "deploy_only": [s.url for s in chosen]})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            done = {e["host"] for e in self.agent_events() if e["event"] in ("deployed", "updated", "failed")}
            if hosts <= done:
                return
            time.sleep(0.05)
        raise procs.StartError(f"pre-deployed tenants not ready: {', '.join(sorted(hosts))}")

    def _queue(self, message: dict) -> None:
        """Drop a message in the agent's queue, as the hobo-manage stand-in does."""
        name = f"{time.time():.6f}-sandbox.json"
        tmp = self.paths.agent_queue / f".{name}"
        tmp.write_text(json.dumps(message))
        os.replace(tmp, self.paths.agent_queue / name)

    # -- helpers ----------------------------------------------------------------------------------
    def _preconditions(self) -> None:
        if os.geteuid() != 0:
            raise SandboxError("run as root: the sandbox creates system users and binds ports 22, 53 and 443")
        binaries = {**REQUIRED_BINARIES, **({sshd.IP: "iproute2"} if self.config.bastion else {})}
        missing = sorted({pkg for binary, pkg in binaries.items() if not Path(binary).exists()})
        if missing:
            raise SandboxError(f"missing packages, install them: apt-get install -y {' '.join(missing)}")
        for required in (self.config.recipe_template, self.config.skeleton_source):
            if not required.exists():
                raise SandboxError(f"{required} is missing: run from a complete checkout")
        state = self.paths.state
        if not statedir.looks_like_state_dir(state):
            raise SandboxError(f"{state} exists and is not a sandbox state directory: choose another --state-dir")
        for parent in state.parents:
            if parent.exists() and not os.stat(parent).st_mode & 0o001:
                raise SandboxError(f"{parent} is not traversable by the service users: "
                                   f"choose another --state-dir (e.g. under /tmp)")

    def _running(self) -> bool:
        """Whether a process this state directory recorded still runs."""
        run = self.paths.run
        return run.is_dir() and any(procs.alive(record) for record in procs.records(run).values())

    def _check_ports_free(self) -> None:
        if self.config.bastion and sshd.link_exists(self.config.network):
            net = self.config.network
            raise SandboxError(f"the bastion's network namespace {net.bastion_netns} or link {net.bastion_veth[0]} "
                               "already exists: another sandbox with a bastion runs (bring it down), or remove them "
                               f"(ip netns delete {net.bastion_netns})")
        for proto, address, port in self.config.network.all_listeners():
            if procs.port_in_use(proto, address, port):
                raise SandboxError(
                    f"{proto} {address}:{port} is already in use: another sandbox (other --state-dir?) "
                    "or server is running there; bring it down first"
                )

    def _info(self) -> dict:
        try:
            return json.loads((self.paths.run / "info.json").read_text())
        except (OSError, ValueError):
            return {}

    @staticmethod
    def _write_json(path: Path, data: object, mode: int = 0o600) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        tmp.chmod(mode)
        os.replace(tmp, path)


def _instance_json(instance: SandboxInstance) -> dict:
    return {
        "name": instance.name,
        "recipe": str(instance.recipe),
        "hostnames": instance.hostnames,
        "superuser_email": instance.superuser_email,
        "services": [
            {"kind": s.kind, "url": s.url, "title": s.title, "slug": s.slug, "template_name": s.template_name}
            for s in instance.services
        ],
    }


def _write_secret(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, value.encode() + b"\n")
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _kill_if(pid: int, expected: str) -> None:
    """Kill a PID only if its command line still names `expected` (no recycled-PID accidents)."""
    if expected in _cmdline(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def _kill_user_processes(names: list[str], marker: str) -> None:
    """End what this sandbox left running as the users it created (a cook left hanging), by PID.

    Only processes whose command line names this sandbox's state directory (`marker`): another
    sandbox, or anything else running as a user of the same name, is left alone."""
    import pwd

    uids = set()
    for name in names:
        try:
            uids.add(pwd.getpwnam(name).pw_uid)
        except KeyError:
            continue
    if not uids:
        return
    victims = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in uids and marker in _cmdline(int(entry.name)):
                    victims.append(int(entry.name))
            except OSError:
                continue
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in victims):
        time.sleep(0.02)
