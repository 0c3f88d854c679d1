"""Batched remote facts: one shell script per server per round answers every question at once.

Questions are stat (type, owner, group, mode of a path), read (a small file, base64), list (a
directory's entries) and command (run as the login user, e.g. the cook's sudo check). File questions
run through `sudo -n` unless the login user is root, since tenant directories and the skeleton are
not readable by everyone.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from .remote import SshPool, quote

MAX_READ = 4 * 1024 * 1024
_MARK = "@@publik-acceptance@@"


@dataclass(frozen=True)
class PathFacts:
    path: str
    exists: bool
    kind: str | None = None  # "directory", "regular file", "symbolic link", …
    owner: str | None = None
    group: str | None = None
    mode: int | None = None
    size: int | None = None
    error: str | None = None

    def describe(self) -> str:
        if not self.exists:
            return f"{self.path}: absent" + (f" ({self.error})" if self.error and "No such" not in self.error else "")
        return f"{self.path}: {self.kind}, owner {self.owner}:{self.group}, mode {self.mode:04o}"


@dataclass(frozen=True)
class CommandFacts:
    command: str
    exit_status: int
    output: str


@dataclass
class Batch:
    """Questions for one server; `script()` asks them all, `parse()` reads the answers."""

    sudo: bool
    _questions: list[tuple[str, str, str]] = field(default_factory=list)  # (id, kind, argument)

    def stat(self, path: str) -> str:
        return self._add("stat", path)

    def read(self, path: str) -> str:
        return self._add("read", path)

    def list(self, path: str) -> str:
        return self._add("list", path)

    def command(self, command: str) -> str:
        return self._add("command", command)

    def __len__(self) -> int:
        return len(self._questions)

    def _add(self, kind: str, argument: str) -> str:
        qid = f"{kind}:{argument}"
        if all(q[0] != qid for q in self._questions):
            self._questions.append((qid, kind, argument))
        return qid

    def script(self) -> str:
        su = "sudo -n " if self.sudo else ""
        lines = ["exec 2>&1", "LC_ALL=C; export LC_ALL"]
        for index, (_qid, kind, arg) in enumerate(self._questions):
            p = quote(arg)
            body = {
                "stat": f"{su}stat -c '%F|%U|%G|%a|%s' -- {p}",
                # sh has no pipefail: test readability first, so an unreadable file is not an empty one
                "read": f"{su}test -r {p} && {{ {su}head -c {MAX_READ} -- {p} | base64 -w0; echo; }}",
                "list": f"{su}ls -1A -- {p}",
                "command": f"( {arg} ) </dev/null",
            }[kind]
            lines.append(f"echo '{_MARK} {index}'; {body}; echo \"{_MARK} rc $?\"")
        return "\n".join(lines) + "\n"

    def parse(self, output: str) -> dict[str, tuple[int, str]]:
        answers: dict[str, tuple[int, str]] = {}
        current: int | None = None
        buffer: list[str] = []
        for line in output.splitlines():
            if line.startswith(_MARK):
                word = line[len(_MARK):].split()
                if word[0] == "rc" and current is not None:
                    answers[self._questions[current][0]] = (int(word[1]), "\n".join(buffer))
                    current, buffer = None, []
                elif word[0].isdigit():
                    current, buffer = int(word[0]), []
            elif current is not None:
                buffer.append(line)
        return answers


def path_facts(path: str, answer: tuple[int, str] | None) -> PathFacts:
    if answer is None:
        return PathFacts(path, exists=False, error="no answer from the server")
    rc, text = answer
    if rc != 0:
        return PathFacts(path, exists=False, error=text.strip() or f"stat exited {rc}")
    try:
        kind, owner, group, mode, size = text.strip().split("|")
        return PathFacts(path, True, kind, owner, group, int(mode, 8), int(size))
    except ValueError:
        return PathFacts(path, exists=False, error=f"unexpected stat output: {text[:200]!r}")


def file_content(answer: tuple[int, str] | None) -> bytes | None:
    if answer is None or answer[0] != 0:
        return None
    try:
        return base64.b64decode(answer[1].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def listing(answer: tuple[int, str] | None) -> tuple[str, ...] | None:
    if answer is None or answer[0] != 0:
        return None
    return tuple(sorted(line for line in answer[1].splitlines() if line))


def ask(pool: SshPool, role: str, batch: Batch) -> dict[str, tuple[int, str]]:
    """Send the whole batch as one remote command (`sh -s`, script on stdin)."""
    if not len(batch):
        return {}
    result = pool.run(role, "sh -s", stdin=batch.script().encode())
    return batch.parse(result.stdout)
