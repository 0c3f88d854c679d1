"""Self-tests of publik-acceptance: unit/ needs no server, integration/ runs the suite against the sandbox,
sandbox/ tests the sandbox platform itself. One session sandbox serves both integration/ and sandbox/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from selftests.rig import rig, sandbox  # noqa: F401 - the session's sandbox fixtures, defined once

ROOT = Path(__file__).resolve().parent.parent


def run_suite(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the suite as a user would (`python -m pytest …` from the project root)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


SANDBOX_TESTS = ("selftests/integration/", "selftests/sandbox/")  # they stand up the sandbox


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: unknown (and unused) with -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Under pytest-xdist (`-n 2`, as tox runs us), every test that stands up the sandbox goes to one worker,
    in order: there is one sandbox at a time (its addresses, users and ports are shared); unit/ spreads over
    the workers beside it. A scope scheduler whose one scope is the sandbox's (xdist's own `loadgroup`
    cannot be used: with pytest 9 its group suffix never reaches the node ids)."""
    from xdist.scheduler import LoadScopeScheduling

    class OneSandboxAtATime(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "sandbox" if nodeid.startswith(SANDBOX_TESTS) else nodeid

    return OneSandboxAtATime(config, log)
