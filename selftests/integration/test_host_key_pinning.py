"""`ssh.unknown_host_keys: accept` is trust on first use, not trust always.

Against the sandbox's sshd with an empty known_hosts: the first key is accepted and pinned; then the
sshd's host key is swapped and the connection dropped, and the pool's reconnect is refused as a
CHANGED key. The keys accepted on first use show in the console, the verdict box, the JSON and JUnit.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import paramiko
import pytest

from publik_acceptance.config.environment import load_environment
from publik_acceptance.evidence.probes.remote import RemoteError, SshPool
from publik_sandbox import procs
from selftests import clients
from selftests.rig import Rig

from .suite_runner import run_suite, variant

ACCEPT = {"unknown_host_keys": "accept"}


def _fingerprint(public_key: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(public_key)], capture_output=True,
                         text=True, check=True, timeout=10).stdout
    return out.split()[1]  # "256 SHA256:… comment (ED25519)"


def _sshd_pid(rig: Rig) -> int:
    return int(procs.records(rig.paths.run)["sshd"]["pid"])


def _swap_host_key(rig: Rig) -> Path:
    """A new host key for the sandbox's sshd, as after a reinstall (or under an impostor)."""
    key = rig.paths.ssh / "ssh_host_ed25519_key"
    key.unlink()
    key.with_suffix(".pub").unlink()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "swapped", "-f", str(key)],
                   check=True, timeout=30, stdin=subprocess.DEVNULL)
    os.kill(_sshd_pid(rig), signal.SIGHUP)  # sshd re-executes itself and reads its host key again
    fingerprint = _fingerprint(key.with_suffix(".pub"))
    assert clients.wait_for(lambda: _offered(rig) == fingerprint, 10), "the sandbox's sshd kept its old key"
    return key.with_suffix(".pub")


def _offered(rig: Rig) -> str | None:
    """The fingerprint of the host key the sandbox's sshd offers now (None while it restarts)."""
    net = rig.sandbox.config.network
    try:
        with socket.create_connection((net.ssh, net.ssh_port), timeout=2) as sock:
            transport = paramiko.Transport(sock)
            try:
                transport.start_client(timeout=5)
                return transport.get_remote_server_key().fingerprint
            finally:
                transport.close()
    except (OSError, paramiko.SSHException):
        return None


def _drop_our_connections(rig: Rig, pool: SshPool) -> None:
    """End the per-connection sshd processes (children of the sandbox's listener, by PID), and wait
    until the pool's connection has seen it: its next command reconnects."""
    transport = pool.client("hobo").get_transport()
    assert transport is not None
    for pid in procs._children(_sshd_pid(rig)):  # the sandbox's own helper (by PID, never by name)
        os.kill(pid, signal.SIGTERM)
    assert clients.wait_for(lambda: not transport.is_active(), 10), "the SSH connection did not drop"


def test_the_first_key_is_pinned_and_a_different_key_on_reconnect_is_refused(rig: Rig, tmp_path: Path) -> None:
    rig.up("ssh-host-key-unknown")  # known_hosts is empty: every key is unknown
    env = load_environment(variant(rig.sandbox.env_file, tmp_path, ssh=ACCEPT))
    first = _fingerprint(rig.paths.ssh / "ssh_host_ed25519_key.pub")
    pool = SshPool(env)
    try:
        assert pool.run("hobo", "true").ok
        assert pool.accepted_host_keys() == [f"database, hobo, wcs 127.0.0.15:22 ssh-ed25519 {first}"]
        _drop_our_connections(rig, pool)
        assert pool.run("hobo", "true").ok, "a reconnect offering the pinned key must be accepted"
        swapped = _fingerprint(_swap_host_key(rig))
        _drop_our_connections(rig, pool)
        with pytest.raises(RemoteError) as refused:
            pool.run("hobo", "true")
        message = str(refused.value)
        assert "host key CHANGED during the run" in message and swapped in message and first in message, message
        assert pool.accepted_host_keys() == [f"database, hobo, wcs 127.0.0.15:22 ssh-ed25519 {first}"]
    finally:
        pool.close()


def test_keys_accepted_on_first_use_show_in_every_report(rig: Rig, tmp_path: Path) -> None:
    rig.up("ssh-host-key-unknown")
    env = variant(rig.sandbox.env_file, tmp_path, ssh=ACCEPT)
    fingerprint = _fingerprint(rig.paths.ssh / "ssh_host_ed25519_key.pub")
    line = f"database, hobo, wcs 127.0.0.15:22 ssh-ed25519 {fingerprint}"
    run = run_suite(env, "--phase", "preflight", tmp=tmp_path)
    assert run.exit_code == 0, run.describe() + run.output[-3000:]
    assert f"host key accepted on first use (ssh.unknown_host_keys: accept): {line}" in run.output
    summary = json.loads(next((tmp_path / "reports").glob("*.json")).read_text())
    assert summary["ssh_host_keys_accepted"] == [line]
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    values = {p.get("value") for p in junit.iter("property") if p.get("name") == "ssh_host_keys_accepted"}
    assert values == {line}
    html = next((tmp_path / "reports").glob("*.html")).read_text()
    start = html.index('<div class="pa-verdict-box')
    box = html[start:html.index('<h3 class="pa-section"', start)]
    assert "accepted on first use" in box and fingerprint in box
