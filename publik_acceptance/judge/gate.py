"""The gate: the cook runs only if every preflight check the Plan calls for ran and passed (or was
explicitly waived, or is not applicable).

A check that did not run keeps the gate closed like a failed one: `-k`, `--deselect`, `--lf`, `-x`
or explicit paths may narrow a preflight run, never open the gate. The front door tells the gate
which checks the Plan calls for (`expect`), collected independently of what the command line kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from publik_acceptance.config.environment import Waiver
from publik_acceptance.judge.checks import NOT_APPLICABLE

# How the command line treated an expected check (see Gate.expect).
SELECTED, DESELECTED, NOT_COLLECTED = "selected", "deselected", "not collected"
_NOT_RUN_WHY = {
    SELECTED: "not reached: the run stopped before it",
    DESELECTED: "deselected",
    NOT_COLLECTED: "not collected",
}
MAX_LISTED = 20  # not-run checks listed one per line in the summary; the JSON has them all


@dataclass(frozen=True)
class GateEntry:
    test: str  # the test id as users see it: test_tls[combo|host|address]
    outcome: str  # failed, error, skipped, not run
    reason: str


@dataclass
class Gate:
    waivers: tuple[Waiver, ...]
    blocking: list[GateEntry] = field(default_factory=list)
    waived: list[tuple[GateEntry, Waiver]] = field(default_factory=list)
    passed: int = 0
    # node id → SELECTED / DESELECTED / NOT_COLLECTED; None: unknown (then only what ran counts)
    expected: dict[str, str] | None = None
    narrowing: tuple[str, ...] = ()  # what narrowed the run: "-k 'expr'", "--deselect …", "-x", paths
    seen: set[str] = field(default_factory=set)  # node ids with an outcome
    # --resume: tenants of this recipe that already exist are accepted (cook is get-or-create)
    resume: bool = False
    already_there: list[str] = field(default_factory=list)  # target ids accepted under --resume

    def expect(self, expected: dict[str, str], narrowing: tuple[str, ...] = ()) -> None:
        """Every preflight check the Plan calls for, and how this command line treated each."""
        self.expected = dict(expected)
        self.narrowing = tuple(narrowing)

    def accept_existing(self, target_id: str) -> None:
        """Under --resume: a tenant of this recipe already there, cooked again rather than refused."""
        if target_id not in self.already_there:
            self.already_there.append(target_id)

    def record(self, report: pytest.TestReport) -> None:
        name = report.nodeid.split("::")[-1]
        if report.passed:
            if report.when == "call":
                self.passed += 1
                self.seen.add(report.nodeid)
            return
        self.seen.add(report.nodeid)
        if report.failed:
            outcome = "failed" if report.when == "call" else "error"
        else:
            if _skip_reason(report).startswith(NOT_APPLICABLE):
                return
            outcome = "skipped"
        entry = GateEntry(name, outcome, _short(report) if outcome != "skipped" else _skip_reason(report))
        waiver = next((w for w in self.waivers if matches(w.test, name)), None)
        if waiver:
            self.waived.append((entry, waiver))
        else:
            self.blocking.append(entry)

    @property
    def not_run(self) -> list[GateEntry]:
        """Expected checks without an outcome: deselected, not collected, or never reached."""
        if self.expected is None:
            return []
        return [GateEntry(nodeid.split("::")[-1], "not run", _NOT_RUN_WHY.get(how, how))
                for nodeid, how in sorted(self.expected.items()) if nodeid not in self.seen]

    @property
    def open(self) -> bool:
        return not self.blocking and not self.not_run and self.passed > 0

    @property
    def only_narrowed(self) -> bool:
        """Closed only because the command line left expected checks out: nothing failed or was skipped."""
        return not self.open and bool(self.not_run) and not self.blocking

    def summary(self) -> str:
        if self.open:
            return f"gate open: {self.passed} preflight checks passed" + (
                f", {len(self.waived)} waived" if self.waived else "") + self._resumed()
        not_run = self.not_run
        if not self.blocking and not not_run:
            return "gate closed: no preflight check ran"
        parts = [f"{len(self.blocking)} preflight check(s) did not pass"] if self.blocking else []
        if not_run:
            assert self.expected is not None
            by = f" ({', '.join(self.narrowing)})" if self.narrowing else ""
            parts.append(f"{len(not_run)} of the {len(self.expected)} preflight checks the Plan calls for "
                         f"did not run{by}; run the full preflight to open the gate")
        lines = [f"gate closed: {'; '.join(parts)}:"]
        lines += [f"  - {e.test}: {e.outcome}: {e.reason}" for e in self.blocking]
        lines += [f"  - {e.test}: not run: {e.reason}" for e in not_run[:MAX_LISTED]]
        if len(not_run) > MAX_LISTED:
            lines.append(f"  … and {len(not_run) - MAX_LISTED} more not run")
        return "\n".join(lines)


    def _resumed(self) -> str:
        """The tenants the cook goes over again (--resume), named: the report shows this line."""
        if not self.already_there:
            return ""
        names = ", ".join(self.already_there[:MAX_LISTED])
        more = f" and {len(self.already_there) - MAX_LISTED} more" if len(self.already_there) > MAX_LISTED else ""
        return f"; --resume: {len(self.already_there)} tenant(s) already there, cooked again: {names}{more}"


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
    # A plain assert (a site's own check): its message, not the first line of the traceback's source.
    crash = getattr(report.longrepr, "reprcrash", None)
    message = str(getattr(crash, "message", "") or "").strip()
    if message:
        return message.splitlines()[0].removeprefix("AssertionError: ")[:200]
    return text[0][:200] if text else report.outcome
