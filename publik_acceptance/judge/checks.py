"""Failure messages that explain themselves: what was checked, on what, expected vs actual, what to do.

Tests call `expect(...)` for each condition of one check, then `verdict.conclude()`; every mismatch
of one response is reported together, with the evidence, and helpers hide from tracebacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from publik_acceptance.config.secrets import redact
from publik_acceptance.evidence import log as evidence_log


@dataclass
class Verdict:
    """The outcome of one check on one subject (e.g. "TLS of combo|host on 192.0.2.10:443")."""

    check: str
    subject: str
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (expected, actual, to do)
    evidence: list[str] = field(default_factory=list)

    def expect(self, condition: bool, expected: str, actual: str, todo: str) -> bool:
        if not condition:
            self.problems.append((expected, actual, todo))
        return condition

    def note(self, line: str) -> None:
        self.evidence.append(line)

    def attach(self, kind: str, title: str, data: object) -> None:
        """Structured evidence for the report (the same facts the notes summarise)."""
        evidence_log.record(kind, title, data)

    @property
    def ok(self) -> bool:
        return not self.problems

    def message(self) -> str:
        lines = [f"{self.check} — {self.subject}"]
        for expected, actual, todo in self.problems:
            lines += [f"  expected: {expected}", f"  actual:   {actual}", f"  to do:    {todo}"]
        if self.evidence:
            lines.append("  evidence:")
            lines += [f"    {line}" for text in self.evidence for line in text.splitlines()]
        return redact("\n".join(lines))

    def conclude(self) -> None:
        __tracebackhide__ = True
        evidence_log.record("verdict", f"{self.check} — {self.subject}", {
            "ok": self.ok, "evidence": self.evidence,
            "problems": [{"expected": e, "actual": a, "todo": t} for e, a, t in self.problems]})
        if self.problems:
            pytest.fail(self.message(), pytrace=False)


NOT_APPLICABLE = "not applicable: "
NOT_CHECKED = "not checked: "


def skip_unchecked(reason: str) -> None:
    """Not checkable because another check already failed (named in `reason`): skip, never pass.
    Such a skip keeps the deployment gate closed."""
    __tracebackhide__ = True
    pytest.skip(NOT_CHECKED + redact(reason))


def not_applicable(reason: str) -> None:
    """The configuration makes this check meaningless here; this skip does not close the gate."""
    __tracebackhide__ = True
    pytest.skip(NOT_APPLICABLE + redact(reason))
