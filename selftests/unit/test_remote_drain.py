"""Reading a command's output over SSH must never lose its tail.

The channel below is a stand-in for paramiko's (only what `_drain` uses): the last output and the
end of the command (EOF and exit status) land together at the moment `_drain` looks at the end,
which is how the real race looked on a busy machine.
"""

from __future__ import annotations

import threading
import time

from publik_acceptance.evidence.probes.remote import _drain


class ArrivingChannel:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.buffer = b""
        self.ended = False
        self.eof_received = False
        self.closed = False
        self.status_event = threading.Event()

    def _arrive(self) -> None:
        if not self.ended:  # the tail and the end of the command come in together
            self.buffer += b"".join(self.chunks)
            self.ended = self.eof_received = True
            self.status_event.set()

    def exit_status_ready(self) -> bool:
        ready = self.ended
        self._arrive()
        return ready or self.ended

    def recv_ready(self) -> bool:
        return bool(self.buffer)

    def recv(self, size: int) -> bytes:
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def recv_stderr_ready(self) -> bool:
        return False


class ActiveTransport:
    def is_active(self) -> bool:
        return True


def test_output_arriving_with_the_end_of_the_command_is_kept() -> None:
    channel = ArrivingChannel([b"line 1\n", b"line 2\n", b"@@ rc 0\n"])
    lines: list[str] = []
    out, err = _drain(channel, ActiveTransport(), time.monotonic() + 5,  # type: ignore[arg-type]
                      lambda stream, line: lines.append(line))
    assert out == "line 1\nline 2\n@@ rc 0\n"
    assert lines == ["line 1", "line 2", "@@ rc 0"]
    assert err == ""


class StatusFirstChannel(ArrivingChannel):
    """sshd sent the exit status before the last output; EOF comes after it."""

    def __init__(self, chunks: list[bytes]) -> None:
        super().__init__(chunks)
        self.polls = 0
        self.status_event.set()

    def exit_status_ready(self) -> bool:
        self.polls += 1
        if self.polls == 3:
            self.buffer += b"".join(self.chunks)
            self.eof_received = True
        return True


def test_an_exit_status_before_the_last_output_does_not_end_the_read() -> None:
    channel = StatusFirstChannel([b"late output\n"])
    out, _err = _drain(channel, ActiveTransport(), time.monotonic() + 5, None)  # type: ignore[arg-type]
    assert out == "late output\n"
