"""The gate: the cook runs only if every preflight test passed (or was explicitly waived)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from .checks import NOT_APPLICABLE
from .environment import Waiver


@dataclass(frozen=True)
class GateEntry:
    test: str  # the test id as users see it: test_tls[combo|host|address]
    outcome: str  # failed, error, skipped
    reason: str


@dataclass
class Gate:
    waivers: tuple[Waiver, ...]
    blocking: list[GateEntry] = field(default_factory=list)
    waived: list[tuple[GateEntry, Waiver]] = field(default_factory=list)
    passed: int = 0

    def record(self, report: pytest.TestReport) -> None:
        name = report.nodeid.split("::")[-1]
        if report.passed and report.when == "call":
            self.passed += 1
            return
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        elif report.skipped:
            reason = _skip_reason(report)
            if reason.startswith(NOT_APPLICABLE):
                return
            outcome = "skipped"
        else:
            return
        entry = GateEntry(name, outcome, _short(report) if outcome != "skipped" else _skip_reason(report))
        waiver = next((w for w in self.waivers if matches(w.test, name)), None)
        if waiver:
            self.waived.append((entry, waiver))
        else:
            self.blocking.append(entry)

    @property
    def open(self) -> bool:
        return not self.blocking and self.passed > 0

    def summary(self) -> str:
        if self.open:
            return f"gate open: {self.passed} preflight checks passed" + (
                f", {len(self.waived)} waived" if self.waived else "")
        if not self.blocking:
            return "gate closed: no preflight check ran"
        lines = [f"gate closed: {len(self.blocking)} preflight check(s) did not pass:"]
        lines += [f"  - {e.test}: {e.outcome}: {e.reason}" for e in self.blocking]
        return "\n".join(lines)


def matches(pattern: str, test_id: str) -> bool:
    """Waiver patterns: `*` and `?` are wildcards; brackets are literal (test ids are full of them)."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, test_id) is not None


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _short(report: pytest.TestReport) -> str:
    text = report.longreprtext.strip().splitlines()
    for line in text:
        if line.strip().startswith("actual:"):
            return line.strip().removeprefix("actual:").strip()
    return text[0][:200] if text else report.outcome
