"""`inv sandbox.up && inv sandbox.status --json && inv sandbox.down`, twice, leaves nothing behind.

Runs invoke as a user would (a subprocess, the sandbox collection found by --search-root), on the
session's state directory, and then looks for leftovers with independent means: sockets bound on
the sandbox addresses, processes, users, mounts, /run/sshd, files.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from publik_sandbox.config import REPO_ROOT, SERVICE_USERS, Network
from publik_sandbox.procs import port_in_use

pytestmark = pytest.mark.sandbox


def inv(*args: str, state_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", "publik_sandbox", *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PUBLIK_SANDBOX_DIR": str(state_dir)},
    )


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline[:100]}")
    return found


def _leftovers(state_dir: Path, users_before: set[str]) -> list[str]:
    problems = []
    for proto, address, port in Network().all_listeners():
        if port_in_use(proto, address, port):
            problems.append(f"{proto} {address}:{port} still bound")
    problems += [f"process {p}" for p in _processes_mentioning(str(state_dir))]
    for name in SERVICE_USERS:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        if name not in users_before:
            problems.append(f"user {name} still exists")
    if str(state_dir) in Path("/proc/self/mounts").read_text():
        problems.append("state dir still mounted")
    if state_dir.exists():
        problems.append("state dir still exists")
    return problems


def _existing_users() -> set[str]:
    out = set()
    for name in SERVICE_USERS:
        try:
            pwd.getpwnam(name)
            out.add(name)
        except KeyError:
            pass
    return out


def test_up_status_down_twice_leaves_nothing_behind(sandbox):
    sandbox.down()  # from here on, invoke drives the session's state directory
    state_dir = sandbox.paths.state
    users_before = _existing_users()
    run_sshd_before = Path("/run/sshd").exists()
    repo_env = REPO_ROOT / "environments" / "sandbox.yml"
    env_before = repo_env.read_text() if repo_env.exists() else None
    try:
        for _ in range(2):
            up = inv("up", "--fault", "tls-expired", "--fault", "deploy-late:fargo", state_dir=state_dir)
            assert up.returncode == 0, up.stderr
            assert "sandbox up in" in up.stdout
            status = inv("status", "--json", state_dir=state_dir)
            assert status.returncode == 0, status.stderr
            data = json.loads(status.stdout)
            assert data["up"] is True
            assert {c["state"] for c in data["components"]} == {"running"}
            assert [f["name"] for f in data["faults"]] == ["tls-expired", "deploy-late"]
            assert data["cook_invocations"] == []
            assert data["env_file"] == str(repo_env)
            down = inv("down", state_dir=state_dir)
            assert down.returncode == 0, down.stderr
            assert _leftovers(state_dir, users_before) == []
            assert Path("/run/sshd").exists() == run_sshd_before
            assert not repo_env.exists()
        stopped = json.loads(inv("status", "--json", state_dir=state_dir).stdout)
        assert stopped["up"] is False and {c["state"] for c in stopped["components"]} == {"stopped"}
    finally:
        if env_before is not None and not repo_env.exists():
            repo_env.write_text(env_before)


def test_faults_task_lists_the_catalogue_one_per_line(sandbox):
    from publik_sandbox import CATALOGUE

    result = inv("faults", state_dir=sandbox.paths.state)
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stdout.splitlines() if line and not line.startswith("(")]
    assert names == list(CATALOGUE)


def test_bad_input_ends_with_one_line_not_a_traceback(sandbox):
    result = inv("up", "--fault", "tls-expired:nowhere", state_dir=sandbox.paths.state)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "no service 'nowhere'" in result.stderr


def test_down_refuses_a_directory_that_is_not_a_sandbox(sandbox, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("do not delete")
    result = inv("down", state_dir=precious)
    assert result.returncode == 1 and "not a sandbox state directory" in result.stderr
    assert (precious / "keep.txt").exists()


def test_a_failed_up_stops_what_started_and_keeps_only_the_logs(sandbox, monkeypatch):
    from publik_sandbox import SandboxError, frontend

    sandbox.down()
    users_before = _existing_users()
    monkeypatch.setattr(frontend, "NGINX", "/bin/false")  # the frontends exit at once
    with pytest.raises(SandboxError, match="did not start") as failure:
        sandbox.up()
    assert str(sandbox.paths.log) in str(failure.value)
    assert (sandbox.paths.log / "frontend-1.log").exists()
    assert not sandbox.is_up()
    for proto, address, port in Network().all_listeners():
        assert not port_in_use(proto, address, port), (proto, address, port)
    monkeypatch.undo()
    sandbox.down()
    assert _leftovers(sandbox.paths.state, users_before) == []
