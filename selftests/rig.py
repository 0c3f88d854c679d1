"""The sandbox for the self-tests that need servers: started once per session, brought down at the end.

The state directory is unique to the test session, and the generated environment file stays in
it (env_file=None), so a sandbox a user runs from environments/sandbox.yml is never clobbered.
Delays are short: deploys in 0.05–0.3 s, deploy-late after 1.5 s, a 4 s postdeploy deadline, cook waiting
3 s at most (cook.timeout).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from publik_acceptance.config.catalogue import SERVICE_KINDS, WCS_DEPLOYING_HOSTNAME
from publik_sandbox import Network, Sandbox, SandboxConfig, procs
from publik_sandbox.recipes import Service
from selftests import clients

STATE_DIR = Path(f"/tmp/publik-sandbox-selftest-{os.getpid()}")
REQUIRED = ("/usr/sbin/nginx", "/usr/sbin/dnsmasq", "/usr/sbin/sshd", "/usr/lib/postgresql/15/bin/initdb")


def selftest_config(state_dir: Path = STATE_DIR) -> SandboxConfig:
    return SandboxConfig(
        state_dir=state_dir,
        deploy_delay=(0.05, 0.3),
        late_delay=1.5,
        postdeploy_deadline=4.0,
        beyond_margin=10.0,
        cook_timeout=3.0,
        env_file=None,
    )


class Rig:
    """The running sandbox plus what tests do to it: faults, cook over SSH, waiting for tenants."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.paths = sandbox.paths

    def up(self, *faults: str) -> dict:
        return self.sandbox.up(faults=list(faults))

    @property
    def ca(self) -> Path:
        return self.paths.ca

    @property
    def frontends(self) -> tuple[str, str]:
        return self.sandbox.config.network.frontends

    def services(self, instance: int = 0) -> tuple[Service, ...]:
        return self.sandbox.instances()[instance].services

    def service(self, name: str) -> Service:
        found = self.sandbox.instances()[0].find(name)
        assert found is not None, name
        return found

    def tenant_dir(self, service: Service) -> Path:
        return self.paths.root / SERVICE_KINDS[service.kind].tenants_dir.lstrip("/") / service.host

    def deployed(self, service: Service) -> bool:
        tenant = self.tenant_dir(service)
        if not tenant.is_dir():
            return False
        if service.kind != "wcs":
            return (tenant / "hobo.json").exists()
        options = tenant / "site-options.cfg"
        return (tenant / "config.pck").exists() and WCS_DEPLOYING_HOSTNAME not in options.read_text()

    def wait_deployed(self, services: list[Service] | tuple[Service, ...], timeout: float = 10) -> bool:
        return clients.wait_for(lambda: all(self.deployed(s) for s in services), timeout)

    def ssh(self):  # -> paramiko.SSHClient
        return clients.ssh_client(self.paths.known_hosts, self.paths.client_key)

    def cook(self, recipe: Path | None = None, timeout: float = 30, wait: int | None = None) -> tuple[int, str, str]:
        """`sudo -u hobo hobo-manage cook <recipe> -v 2` over SSH (`--timeout=<wait>` with `wait`: cook then
        waits for the services), as the suite runs it."""
        recipe = recipe or self.sandbox.instances()[0].recipe
        option = f" --timeout={wait}" if wait is not None else ""
        client = self.ssh()
        try:
            return clients.ssh_run(client, f"sudo -u hobo {self.paths.hobo_manage} cook {recipe}{option} -v 2",
                                   timeout)
        finally:
            client.close()

    def get(self, service: Service, path: str = "/", frontend: int = 0, **kwargs: object) -> clients.Response:
        return clients.https_get(self.frontends[frontend], service.host, path, ca=self.ca, **kwargs)  # type: ignore[arg-type]

    def wcs_password(self) -> str:
        return self.paths.wcs_db_password.read_text().strip()


def cannot_run(reason: str) -> None:
    """Skip on a developer's machine; in CI (CI set) a sandbox that cannot run is a failure, never a
    silent pass of the integration half."""
    if os.environ.get("CI"):
        pytest.fail(f"integration self-tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """The self-tests' sandbox platform (created, not started: `rig.up()` starts it), brought down and its
    state removed at the end; when it cannot run (not root, packages missing, its addresses in use) the
    tests that need it are skipped, or fail in CI."""
    if os.geteuid() != 0:
        cannot_run("the sandbox needs root")
    missing = [p for p in REQUIRED if not Path(p).exists()]
    if missing:
        cannot_run(f"missing {', '.join(missing)} (run scripts/system-packages.sh)")
    busy = [f"{proto} {address}:{port}" for proto, address, port in Network().all_listeners()
            if procs.port_in_use(proto, address, port)]
    if busy:
        # Another sandbox (a user's `inv sandbox.up`) owns the addresses and the service users:
        # running beside it would break both, so wait for it to be brought down.
        cannot_run(f"another sandbox or server is using the sandbox addresses ({', '.join(busy[:3])}…); "
                    "bring it down (inv sandbox.down) to run the integration self-tests")
    sb = Sandbox(config=selftest_config())
    yield sb
    sb.down()
    shutil.rmtree(STATE_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def rig(sandbox: Sandbox) -> Rig:
    """The session's sandbox with the helpers tests use on it (faults, cook over SSH, waiting for tenants)."""
    return Rig(sandbox)
