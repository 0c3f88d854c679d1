"""Batched remote facts: one shell script per server per round answers every question at once.

Questions are stat (type, owner, group, mode of a path), read (a small file, base64), list (a
directory's entries) and command (run as the login user, e.g. the cook's sudo check). File questions
run through `sudo -n` unless the login user is root, since tenant directories and the skeleton are
not readable by everyone.
"""

from __future__ import annotations

import base64
import binascii
import re
import shlex
from dataclasses import dataclass, field

from publik_acceptance.evidence.probes.remote import SshPool

# Files read are small (a skeleton zip, site-options.cfg): one byte more than skeleton.MAX_ZIP_BYTES
# shows a file larger than any real one, without carrying megabytes a server chose through SSH.
MAX_READ = 1024 * 1024 + 1
_MARK = "@@publik-acceptance@@"
_STAT_FORMAT = "%F|%U|%G|%a|%s"
# stat questions are asked this many paths per `stat` process: one process per path cost ~1 s per
# 800 paths on the server, as much as the rest of a fleet's round.
STAT_GROUP = 256
_STAT_ERROR = re.compile(r"""'(.*)': |"(.*)": """)  # coreutils quotes a name with a ' in "…"
# Paths stat'ed by one `stat` process. Named here because Batch has a `list` method, which shadows the
# builtin in annotations inside the class.
StatGroups = list[list[str]]


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
    _ids: set[str] = field(default_factory=set)

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
        if qid not in self._ids:
            self._ids.add(qid)
            self._questions.append((qid, kind, argument))
        return qid

    def _stat_groups(self) -> StatGroups:
        """Paths stat'ed together (one per line of output: a name with a newline is asked alone)."""
        paths = [arg for _qid, kind, arg in self._questions if kind == "stat" and "\n" not in arg]
        return [paths[i:i + STAT_GROUP] for i in range(0, len(paths), STAT_GROUP)]

    def script(self) -> str:
        su = "sudo -n " if self.sudo else ""
        lines = ["exec 2>&1", "LC_ALL=C; export LC_ALL"]
        for group, paths in enumerate(self._stat_groups()):
            names = " ".join(shlex.quote(p) for p in paths)
            lines.append(f"echo '{_MARK} g{group}'; {su}stat -c '%n|{_STAT_FORMAT}' -- {names}; "
                         f"echo \"{_MARK} rc $?\"")
        for index, (_qid, kind, arg) in enumerate(self._questions):
            if kind == "stat" and "\n" not in arg:
                continue  # asked in a group above
            p = shlex.quote(arg)
            body = {
                "stat": f"{su}stat -c '{_STAT_FORMAT}' -- {p}",
                # sh has no pipefail: test readability first, so an unreadable file is not an empty one
                "read": f"{su}test -r {p} && {{ {su}head -c {MAX_READ} -- {p} | base64 -w0; echo; }}",
                "list": f"{su}ls -1A -- {p}",
                "command": f"( {arg} ) </dev/null",
            }[kind]
            lines.append(f"echo '{_MARK} {index}'; {body}; echo \"{_MARK} rc $?\"")
        return "\n".join(lines) + "\n"

    def parse(self, output: str) -> dict[str, tuple[int, str]]:
        answers: dict[str, tuple[int, str]] = {}
        groups = self._stat_groups()
        current: int | str | None = None
        buffer: list[str] = []
        for line in output.splitlines():
            if line.startswith(_MARK):
                word = line[len(_MARK):].split()
                if word[0] == "rc" and current is not None:
                    if isinstance(current, str):
                        _group_answers(groups[int(current[1:])], int(word[1]), buffer, answers)
                    else:
                        answers[self._questions[current][0]] = (int(word[1]), "\n".join(buffer))
                    current, buffer = None, []
                elif word[0].isdigit():
                    current, buffer = int(word[0]), []
                elif word[0][:1] == "g" and word[0][1:].isdigit() and int(word[0][1:]) < len(groups):
                    current, buffer = word[0], []
            elif current is not None:
                buffer.append(line)
        return answers


def _group_answers(paths: list[str], rc: int, lines: list[str], answers: dict[str, tuple[int, str]]) -> None:
    """One `stat` over many paths: `name|facts` for each one found, an error line for each other."""
    wanted = set(paths)
    errors: dict[str, str] = {}
    other: list[str] = []  # e.g. sudo refusing: it concerns every path of the group
    for line in lines:
        parts = line.rsplit("|", 5)
        if len(parts) == 6 and parts[0] in wanted:
            answers[f"stat:{parts[0]}"] = (0, "|".join(parts[1:]))
            continue
        match = _STAT_ERROR.search(line)
        name = match and (match.group(1) if match.group(1) is not None else match.group(2))
        if name in wanted:
            errors[name] = line
        else:
            other.append(line)
    fallback = "\n".join(other)[:500] or f"stat exited {rc} without a word about this path"
    for path in paths:
        if f"stat:{path}" not in answers:
            answers[f"stat:{path}"] = (rc or 1, errors.get(path, fallback))


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
