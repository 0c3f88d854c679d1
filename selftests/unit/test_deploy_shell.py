"""The deploy's remote commands: every value reaches the script as data, never as shell code."""

from __future__ import annotations

import subprocess
from pathlib import Path

from publik_acceptance.deploy.shell import failure, script
from publik_acceptance.evidence.probes.remote import RemoteResult


def test_values_reach_the_script_as_arguments_never_as_code(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    values = [f"$(touch {canary})", f"`touch {canary}`", f"'; touch {canary}; '", "a b\nc", "--", "", "*"]
    command = script("", 'printf "%s|" "$0"; printf "%s\\0" "$@"', *values, name="publik-acceptance-cook-x")
    out = subprocess.run(["sh", "-c", command], capture_output=True, check=True, cwd=tmp_path).stdout
    name, _, rest = out.partition(b"|")
    assert name == b"publik-acceptance-cook-x"
    assert rest.split(b"\0")[:-1] == [v.encode() for v in values]
    assert not canary.exists(), "a value ran as shell code"


def test_a_failure_says_the_cleaned_stderr_or_else_the_exit_status() -> None:
    assert failure(RemoteResult("c", 7, "", "  \n", 0.0)) == "exit 7"
    assert failure(RemoteResult("c", 1, "", "denied\x1b[31m\n", 0.0)) == "denied?[31m"
    assert len(failure(RemoteResult("c", 1, "", "x" * 5000, 0.0))) == 301
