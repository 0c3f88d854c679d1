"""Secrets out of every channel: reports are redacted as they are made, files after they are written,
and then every produced file is scanned for each secret in every encoding it could have taken there
(the same spellings redaction masks: secrets.encoded_forms).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from publik_acceptance.config.environment import Environment
from publik_acceptance.config.secrets import REGISTRY, redact, secret_refs

LEAK_SUFFIX = ".LEAKED-do-not-attach"


def register_environment_secrets(env: Environment) -> int:
    """Resolve (and so register) every secret the environment names, before anything is written.

    The suite resolves most of them lazily, possibly after some output mentioning them was made;
    registering them up front lets every channel redact from the first line. Unavailable ones are
    left to the checks that need them (test_superuser_password_is_set says what is missing).
    """
    count = 0
    for ref in secret_refs(env):
        if ref.is_available():
            count += 1
    return count


def redact_report(report: pytest.TestReport) -> None:
    """Mask secrets in what the terminal, JUnit and pytest-html take from a report (failure text,
    skip reason, captured output)."""
    if not REGISTRY.values():
        return
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        report.longrepr = (longrepr[0], longrepr[1], redact(str(longrepr[2])))
    elif longrepr is not None:
        text = str(longrepr)
        masked = redact(text)
        if masked != text:  # keep pytest's rich rendering unless a secret forces plain text
            report.longrepr = masked
    report.sections = [(header, redact(content)) for header, content in report.sections]


def redact_value(value: Any) -> Any:
    """A copy of JSON-like data with every string redacted (metadata, JSON summary)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def leak_forms(secret: str) -> frozenset[str]:
    """The secret in every spelling the scan looks for: raw, JSON (non-ASCII escaped or not), Python
    str/bytes reprs, URL-encoded, base64 (whole or inside longer base64), each HTML/XML-escaped too.
    Computed once per registered secret (secrets.encoded_forms)."""
    return REGISTRY.forms(secret)


@dataclass(frozen=True)
class Leak:
    path: Path
    secret: str  # masked: first character and length

    def line(self) -> str:
        return f"{self.path} contains a secret ({self.secret}); renamed to {self.path.name}{LEAK_SUFFIX}"


def redact_file(path: Path) -> None:
    """Mask secrets left in a written file, in every spelling (e.g. a value registered after it was rendered)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    masked = redact(text)
    if masked != text:
        path.write_text(masked, encoding="utf-8")


def scan(paths: Iterable[Path], secrets: Iterable[str] | None = None) -> list[Leak]:
    """Every (file, secret) where the file holds the secret in any form; a leaking file is renamed so
    it cannot be attached to a ticket by mistake."""
    values = tuple(secrets if secrets is not None else REGISTRY.values())
    forms = {v: leak_forms(v) for v in values}
    leaks = []
    for path in paths:
        try:
            data = path.read_bytes().decode("utf-8", errors="replace")
        except OSError:
            continue
        found = [v for v in values if any(form in data for form in forms[v])]
        if found:
            leaks += [Leak(path, f"{v[:1]}…({len(v)} chars)") for v in found]
            path.rename(path.with_name(path.name + LEAK_SUFFIX))
    return leaks
