"""Self-tests of publik-acceptance: unit/ needs no server, integration/ runs the suite against the sandbox,
sandbox/ tests the sandbox platform itself. One session sandbox serves both integration/ and sandbox/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
