"""Servers behind a bastion (issue 14.2): the sandbox up with `bastion=True`, its servers reachable only
through a second sshd, and the generated environment carrying an ssh_config with ProxyJump.

Shown against the real OpenSSH servers: the whole suite is green through the bastion, with one SSH
connection to the bastion shared by the one to the servers; a direct login to the servers is refused;
an unknown bastion host key is refused, naming the bastion; doctor shows the path.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from publik_acceptance.config.environment import load_environment
from publik_acceptance.evidence.preflight import PreflightEvidence
from publik_acceptance.evidence.prober import Prober
from publik_acceptance.evidence.probes.remote import RemoteError, SshPool
from publik_acceptance.plan import load_plan
from publik_sandbox import Sandbox

from .suite_runner import ROOT, run_suite, variant


@pytest.fixture(scope="module")
def behind(sandbox: Sandbox) -> Iterator[Sandbox]:
    """The session's sandbox, brought up again with its servers behind the bastion; down at the end."""
    sb = Sandbox(config=replace(sandbox.config, bastion=True))
    sb.up()
    yield sb
    sb.down()


def _addresses(sb: Sandbox) -> tuple[str, str]:
    return sb.config.network.bastion_link  # (the servers' sshd, the bastion's)


def test_the_whole_suite_is_green_through_the_bastion(behind: Sandbox, tmp_path: Path) -> None:
    env = load_environment(behind.env_file)
    assert env.ssh.config is not None and "ProxyJump" in env.ssh.config.read_text()
    run = run_suite(behind.env_file, "--phase", "all", tmp=tmp_path, timeout=300)
    assert run.exit_code == 0 and not run.failed, run.describe() + run.output[-3000:]
    assert any(name.startswith("test_cook") for name in run.passed), run.describe()
    assert len(run.passed) > 30, run.describe()


def test_one_connection_to_the_bastion_and_one_to_the_servers(behind: Sandbox) -> None:
    servers, bastion = _addresses(behind)
    plan = load_plan(behind.env_file)
    pool, prober = SshPool(plan.environment), Prober(plan.environment)
    try:
        evidence = PreflightEvidence(plan, pool, prober)
        assert not evidence.servers["hobo"].error and not evidence.database.error, evidence.servers["hobo"].error
        # hobo, wcs and database are one server: one connection, riding on one connection to the bastion.
        assert dict(pool.stats.connections) == {f"root@{servers}:22": 1, f"bastion root@{bastion}:22": 1}
        assert pool.describe("wcs") == f"root@{servers}:22 (role wcs) via bastion root@{bastion}:22"
    finally:
        prober.close()
        pool.close()


def test_a_direct_login_to_the_servers_is_refused(behind: Sandbox, tmp_path: Path) -> None:
    servers, _ = _addresses(behind)
    env = load_environment(behind.env_file)
    straight = SshPool(replace(env, ssh=replace(env.ssh, config=None)))  # the same keys, no ProxyJump
    try:
        with pytest.raises(RemoteError) as refused:
            straight.run("hobo", "true")
    finally:
        straight.close()
    assert refused.value.hopeless and "bastion" not in str(refused.value)
    assert str(refused.value).startswith(f"ssh root@{servers}:22: SSH authentication refused"), refused.value
    # …and the suite says so: no server check passes without the bastion.
    run = run_suite(variant(behind.env_file, tmp_path, ssh={"config": None}), tmp=tmp_path)
    assert run.exit_code != 0
    assert any("SSH authentication refused" in text for text in run.failed.values()), run.describe()
    # Nothing listens on the servers' loopback address either: the bastion is the only way in.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((behind.config.network.ssh, behind.config.network.ssh_port), timeout=2).close()


def test_an_unknown_bastion_host_key_is_refused_naming_the_bastion(behind: Sandbox, tmp_path: Path) -> None:
    servers, bastion = _addresses(behind)
    known_hosts = load_environment(behind.env_file).ssh.known_hosts
    assert known_hosts is not None
    lines = known_hosts.read_text().splitlines()
    assert any(line.startswith(f"{bastion} ") for line in lines)
    (tmp_path / "known_hosts").write_text("".join(f"{line}\n" for line in lines if not line.startswith(f"{bastion} ")))
    env_file = variant(behind.env_file, tmp_path, ssh={"known_hosts": str(tmp_path / "known_hosts")})
    run = run_suite(env_file, tmp=tmp_path)
    assert run.exit_code != 0
    said = f"ssh root@{servers}:22 via bastion root@{bastion}:22: host key unknown (not in {tmp_path / 'known_hosts'})"
    assert any(said in text for text in run.failed.values()), run.describe() + "\n".join(run.failed.values())[:3000]


def test_doctor_shows_the_path_through_the_bastion(behind: Sandbox) -> None:
    servers, bastion = _addresses(behind)
    done = subprocess.run([sys.executable, "-m", "invoke", "doctor", f"--env={behind.env_file}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"✓ ssh      root@{servers}:22 (role hobo) via bastion root@{bastion}:22: logged in" in done.stdout, \
        done.stdout


def test_a_proxycommand_through_the_bastion(behind: Sandbox, tmp_path: Path) -> None:
    """The classic form, `ProxyCommand ssh -W %h:%p bastion`, with OpenSSH's own client (verifying the
    bastion's key itself): the pool connects through it and still verifies the servers' key."""
    servers, bastion = _addresses(behind)
    env = load_environment(behind.env_file)
    assert env.ssh.known_hosts is not None
    key = behind.paths.ssh / "bastion" / "id_ed25519"
    (tmp_path / "ssh_config").write_text(
        f"Host {servers}\n"
        f"    ProxyCommand /usr/bin/ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes "
        f"-o UserKnownHostsFile={env.ssh.known_hosts} -o ConnectTimeout=5 -i {key} -W %h:%p root@{bastion}\n")
    pool = SshPool(replace(env, ssh=replace(env.ssh, config=tmp_path / "ssh_config")))
    try:
        assert pool.run("hobo", "id -un").stdout == "root\n"
        assert pool.describe("hobo").startswith(f"root@{servers}:22 (role hobo) via ProxyCommand `/usr/bin/ssh ")
        assert f"-W {servers}:22 root@{bastion}`" in pool.describe("hobo")
    finally:
        pool.close()
    assert dict(pool.stats.connections) == {f"root@{servers}:22": 1}


def test_a_forward_the_bastion_refuses_is_hopeless_and_named(behind: Sandbox) -> None:
    """The bastion forwards to the servers' sshd only (PermitOpen): another port is refused by the bastion,
    said so, and not waited for."""
    servers, bastion = _addresses(behind)
    env = load_environment(behind.env_file)
    elsewhere = {role: replace(server, port=2222) for role, server in env.servers.items()}
    pool = SshPool(replace(env, servers=elsewhere))
    try:
        with pytest.raises(RemoteError) as refused:
            pool.run("hobo", "true")
    finally:
        pool.close()
    assert str(refused.value).startswith(f"ssh root@{servers}:2222: bastion root@{bastion}:22 could not open a "
                                         f"connection to {servers}:2222 (Administratively prohibited)"), refused.value
    assert refused.value.hopeless
