"""The typed confirmation of a protected platform, at a real pseudo-terminal (no servers needed).

A forked child gets the pty as its controlling terminal (`pty.fork()`: new session), so /dev/tty is
the pty, as for an operator at a terminal; the parent types. The suite-level version (a real run
against the sandbox, cooking or not) is selftests/integration/test_protected_confirm.py.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import time
from types import SimpleNamespace

import pytest

from publik_acceptance.deploy.protection import MAX_ANSWER, confirm_protected, read_answer

RESULT = b"RESULT:"


def _config() -> SimpleNamespace:
    capture = SimpleNamespace(global_and_fixture_disabled=contextlib.nullcontext)
    return SimpleNamespace(pluginmanager=SimpleNamespace(getplugin=lambda name: capture))


def _plan() -> SimpleNamespace:
    env = SimpleNamespace(platform="prod", instances=[SimpleNamespace(name="ville")])
    return SimpleNamespace(environment=env)


def _confirm_at_terminal(answer: bytes | None, timeout: float = 5) -> tuple[str, bytes]:
    """confirm_protected in a child whose terminal is a pty; `answer` typed once the prompt shows."""
    pid, master = pty.fork()
    if pid == 0:
        try:
            refusal = confirm_protected(_config(), _plan(), "CHG-1", yes=False, timeout=timeout)  # type: ignore[arg-type]
            os.write(1, RESULT + repr(refusal).encode() + b"\n")
        finally:
            os._exit(0)
    output, typed = b"", False
    deadline = time.monotonic() + timeout + 10
    try:
        while time.monotonic() < deadline and RESULT not in output:
            if not select.select([master], [], [], 0.5)[0]:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if answer is not None and not typed and b"to confirm: " in output:
                os.write(master, answer)
                typed = True
        while RESULT in output and not output.endswith(b"\n"):
            output += os.read(master, 4096)
    finally:
        os.waitpid(pid, 0)
        os.close(master)
    assert RESULT in output, output
    return output.split(RESULT, 1)[1].strip().decode(), output


def test_typing_the_platform_name_confirms() -> None:
    result, output = _confirm_at_terminal(b"prod\n")
    assert b"Cook instance(s) ville on PROTECTED platform prod for ticket CHG-1?" in output
    assert result == "None", output


def test_a_wrong_name_refuses() -> None:
    result, _ = _confirm_at_terminal(b"preprod\n")
    assert result == repr("not confirmed (typed 'preprod', expected 'prod'); nothing was cooked")


def test_nothing_typed_in_time_refuses() -> None:
    result, _ = _confirm_at_terminal(None, timeout=1)
    assert result == repr("not confirmed: nothing typed within 1 s; nothing was cooked")


def test_without_a_terminal_it_refuses_with_what_to_do() -> None:
    pid = os.fork()
    if pid == 0:  # a new session without a controlling terminal: /dev/tty cannot be opened
        os.setsid()
        refusal = confirm_protected(_config(), _plan(), "CHG-1", yes=False)  # type: ignore[arg-type]
        os._exit(0 if refusal and "no terminal to confirm on; add --yes" in refusal else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize(("typed", "expected"), [
    (b"prod\n", "prod"), (b"  prod \r\n", "prod"), (b"pr", "pr"), (b"x" * (MAX_ANSWER + 50), "x" * MAX_ANSWER),
])
def test_the_answer_is_one_bounded_line(typed: bytes, expected: str) -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, typed)
    os.close(write_fd)  # end of file ends a line without newline
    try:
        assert read_answer(read_fd, 2) == expected
    finally:
        os.close(read_fd)
