"""Protected platforms (prod): the cook needs a ticket and a confirmation naming platform and instances.

The confirmation is typed at the controlling terminal (/dev/tty), whatever pytest does with stdin and
stdout. The terminal is a character device: it is opened unbuffered (a buffered text "r+" file wants a
seekable file and fails), read with a deadline and a size bound, and without becoming our controlling
terminal if we had none.
"""

from __future__ import annotations

import os
import select
import time

import pytest

from publik_acceptance.plan import Plan

CONFIRM_TIMEOUT = 300.0  # seconds the operator has to type the platform name; then nothing is cooked
MAX_ANSWER = 256  # bytes read from the terminal at most: a platform name is short


def confirm_protected(config: pytest.Config, plan: Plan, ticket: str | None, yes: bool,
                      timeout: float = CONFIRM_TIMEOUT, already_there: int = 0) -> str | None:
    """None when the cook may go ahead; otherwise why not (one line). `already_there`: tenants a --resume
    cooks again over; the question says so, it needs the same ticket and confirmation."""
    env = plan.environment
    instances = ", ".join(i.name for i in env.instances)
    if not ticket:
        return (f"{env.platform} is protected: give the change ticket (--ticket REF); "
                "the preflight ran, nothing was cooked")
    if yes:
        return None
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return f"{env.platform} is protected: no terminal to confirm on; add --yes to confirm ticket {ticket}"
    capture = config.pluginmanager.getplugin("capturemanager")
    try:
        with capture.global_and_fixture_disabled():
            again = f" again (--resume: over {already_there} tenant(s) already there)" if already_there else ""
            _write_all(tty, f"\nCook instance(s) {instances}{again} on PROTECTED platform {env.platform} for "
                            f"ticket {ticket}?\nType the platform name ({env.platform}) to confirm: ")
            answer = read_answer(tty, timeout)
    except OSError as exc:
        return f"not confirmed: the terminal failed ({exc.strerror or exc}); nothing was cooked"
    finally:
        os.close(tty)
    if answer is None:
        return f"not confirmed: nothing typed within {timeout:g} s; nothing was cooked"
    if answer != env.platform:
        return f"not confirmed (typed {answer!r}, expected {env.platform!r}); nothing was cooked"
    return None


def _write_all(fd: int, text: str) -> None:
    data = text.encode("utf-8")
    while data:
        data = data[os.write(fd, data):]


def read_answer(fd: int, timeout: float) -> str | None:
    """One line from `fd`, at most MAX_ANSWER bytes, stripped; None if no full line came in time.

    End of file (the terminal hung up, Ctrl-D) ends the line too: what was typed so far is the answer."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data and len(data) < MAX_ANSWER:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return None
        chunk = os.read(fd, MAX_ANSWER - len(data))
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
