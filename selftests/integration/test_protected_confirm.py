"""The typed confirmation on a protected platform, at a real (pseudo-)terminal.

The suite runs under `pty.fork()`: its own session whose controlling terminal, /dev/tty, is the pty,
as for an operator at a terminal. Typing the platform name cooks; a wrong name does not; without a
terminal at all the cook is refused with what to do.
"""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from pathlib import Path

from selftests.rig import Rig

from .suite_runner import ROOT, SuiteRun, read_run, run_suite, variant

PROMPT = b"to confirm: "


def _read(master: int, timeout: float) -> bytes | None:
    """What the pty has for us within `timeout` (None: nothing yet); b"" at the end (the child is gone)."""
    if not select.select([master], [], [], timeout)[0]:
        return None
    try:
        return os.read(master, 65536)
    except OSError:  # EIO: every process holding the terminal has gone
        return b""


def run_suite_at_terminal(env_file: Path, *args: str, tmp: Path, answer: str, timeout: float = 180) -> SuiteRun:
    """The suite with the pty as its terminal; `answer` is typed once the confirmation prompt shows."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--env={env_file}",
               f"--junitxml={tmp / 'junit.xml'}", "-o", "junit_family=xunit2", "-q",
               f"--reports-dir={tmp / 'reports'}", "--no-screenshots", *args]
    pid, master = pty.fork()
    if pid == 0:  # the child: a new session, the pty as controlling terminal
        try:
            os.chdir(ROOT)
            os.execv(command[0], command)
        finally:
            os._exit(127)
    output, typed = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = _read(master, 0.5)
            if chunk == b"":
                break
            output += chunk or b""
            if not typed and PROMPT in output:
                os.write(master, answer.encode() + b"\n")
                typed = True
        else:
            os.kill(pid, 9)  # our own child: the run overran the test's budget
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    assert typed, "the confirmation prompt never showed on the terminal:\n" + output.decode(errors="replace")[-3000:]
    return read_run(os.waitstatus_to_exitcode(status), output.decode("utf-8", "replace"), tmp)


def test_typing_the_platform_name_at_the_terminal_cooks(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    env = variant(rig.sandbox.env_file, tmp_path, protected=True)
    run = run_suite_at_terminal(env, "--phase", "deploy", "--ticket", "CHG-42", tmp=tmp_path, answer="sandbox")
    assert "Cook instance(s)" in run.output and "PROTECTED platform sandbox for ticket CHG-42" in run.output
    assert "test_cook" in run.passed, run.describe() + run.output[-3000:]
    assert len(rig.sandbox.cook_invocations()) == 1


def test_a_wrong_name_at_the_terminal_cooks_nothing(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    env = variant(rig.sandbox.env_file, tmp_path, protected=True)
    run = run_suite_at_terminal(env, "--phase", "deploy", "--ticket", "CHG-42", tmp=tmp_path, answer="prod")
    assert set(run.failed) == {"test_cook"}, run.describe() + run.output[-3000:]
    assert "not confirmed (typed 'prod', expected 'sandbox')" in run.failed["test_cook"]
    assert rig.sandbox.cook_invocations() == []


def test_without_a_terminal_the_cook_is_refused_with_what_to_do(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    env = variant(rig.sandbox.env_file, tmp_path, protected=True)
    run = run_suite(env, "--phase", "deploy", "--ticket", "CHG-42", tmp=tmp_path)  # its own session: no tty
    assert set(run.failed) == {"test_cook"}, run.describe()
    assert "no terminal to confirm on; add --yes" in run.failed["test_cook"]
    assert rig.sandbox.cook_invocations() == []
