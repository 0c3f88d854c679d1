"""A sandbox belongs to its checkout: never replaced or torn down from another one, and `down` ends
only the processes it started (not every process of the service users, machine-wide)."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from publik_sandbox import SandboxError
from publik_sandbox.lifecycle import _kill_user_processes
from selftests.rig import Rig


def test_up_says_when_it_replaces_a_running_sandbox(rig: Rig) -> None:
    rig.up()  # whatever ran before this test, a sandbox runs now
    assert rig.up()["replaced"] is True


def test_another_checkouts_sandbox_is_neither_replaced_nor_brought_down(rig: Rig) -> None:
    rig.up()
    info_path = rig.paths.run / "info.json"
    info = json.loads(info_path.read_text())
    ours = info["checkout"]
    info_path.write_text(json.dumps({**info, "checkout": "/srv/another-checkout"}))
    try:
        with pytest.raises(SandboxError, match="belongs to the checkout /srv/another-checkout"):
            rig.sandbox.up()
        with pytest.raises(SandboxError, match="belongs to the checkout /srv/another-checkout"):
            rig.sandbox.down()
        assert rig.sandbox.status()["up"], "the other checkout's sandbox was touched"
    finally:
        info_path.write_text(json.dumps({**info, "checkout": ours}))
    rig.up()  # ours again: replaced as usual


def _as_nobody(*argv: str) -> subprocess.Popen:
    return subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv])


def test_down_ends_only_the_processes_naming_its_state_directory(tmp_path) -> None:
    marker = str(tmp_path / "state")
    stranger = _as_nobody("sleep", "30")
    ours = _as_nobody("sh", "-c", f"sleep 30; : {marker}")
    try:
        time.sleep(0.2)
        _kill_user_processes(["nobody"], marker)
        assert ours.wait(timeout=5) != 0, "the sandbox's own leftover process was not ended"
        assert stranger.poll() is None, "a process of the same user that is not the sandbox's was killed"
    finally:
        for process in (stranger, ours):
            process.kill()
            process.wait(timeout=5)
