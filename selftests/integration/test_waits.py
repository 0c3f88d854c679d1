"""Waits that talk, and stop when waiting cannot help: a postdeploy wait prints a line per poll round,
and SSH that refuses us (nothing listening, a key it does not accept) ends the wait at once with a to-do,
instead of after the whole postdeploy deadline."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from selftests.rig import Rig

from .suite_runner import run_suite, variant

LONG_DEADLINE = {"deadline": 600, "poll_interval": 1, "first_poll": 0.2}  # longer than the run may take


def _servers(env_file: Path, **changes: object) -> dict:
    servers = yaml.safe_load(env_file.read_text())["servers"]
    return {role: {**server, **changes} for role, server in servers.items()}


def _deployed(rig: Rig) -> None:
    """A deployed instance: the pages hold, so only what SSH cannot tell keeps the wait going."""
    rig.up()
    rig.cook()
    assert rig.wait_deployed(rig.services())


def test_refused_ssh_ends_the_postdeploy_wait_at_once(rig: Rig, tmp_path: Path) -> None:
    _deployed(rig)
    closed = _servers(rig.sandbox.env_file, port=1)
    env = variant(rig.sandbox.env_file, tmp_path, postdeploy=LONG_DEADLINE, servers=closed)
    run = run_suite(env, "--phase", "postdeploy", tmp=tmp_path, timeout=120)  # waiting out 600 s would time out
    tenants = [text for name, text in run.failed.items() if name.startswith("test_tenant_directory")]
    assert tenants, run.describe()
    assert all("nothing listens on that port" in text and "then run the postdeploy phase" in text for text in tenants)
    assert any(name.startswith("test_database") for name in run.failed), run.describe()
    assert "postdeploy round 1" in run.output, run.output[-3000:]


def test_refused_ssh_key_ends_the_wait_and_says_so(rig: Rig, tmp_path: Path) -> None:
    _deployed(rig)
    stranger = tmp_path / "stranger_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True, timeout=30)
    env = variant(rig.sandbox.env_file, tmp_path, postdeploy=LONG_DEADLINE,
                  ssh={"identity_file": str(stranger)})
    run = run_suite(env, "--phase", "postdeploy", tmp=tmp_path, timeout=120, extra_env={"SSH_AUTH_SOCK": ""})
    tenants = [text for name, text in run.failed.items() if name.startswith("test_tenant_directory")]
    assert tenants and all("SSH authentication refused" in text for text in tenants), run.describe()


def test_a_postdeploy_wait_prints_a_line_per_round(rig: Rig, tmp_path: Path) -> None:
    rig.up("deploy-late")
    rig.cook()
    run = run_suite(rig.sandbox.env_file, "--phase", "postdeploy", tmp=tmp_path)
    assert run.exit_code == 0, run.describe()
    lines = [line for line in run.output.splitlines() if line.startswith("postdeploy round ")]
    assert lines and "ready" in lines[0], run.output[-3000:]
    assert "pending" in lines[0] and "s left" in lines[0], lines[0]
    assert lines[-1].startswith(f"postdeploy round {len(lines)} ") and "pending" not in lines[-1], lines
