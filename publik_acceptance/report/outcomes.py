"""One record per test, built from pytest's reports: what the report, JSON and JUnit tell about it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pytest

from publik_acceptance.report.declared import Declared

OUTCOMES = ("passed", "failed", "error", "skipped")
MAX_MESSAGE = 4000
DECLARED = "publik_declared"  # the TestReport attribute the plugin stores a Declared in
_PARAM = re.compile(r"\[(.*)\]$")


@dataclass
class TestRecord:
    nodeid: str
    phase: str | None
    function: str  # test_tls
    param: str | None  # combo|host.example|192.0.2.10
    target: str | None  # the Target id (kind|hostname) of its `target` or `frontend` parameter
    address: str | None
    outcome: str = "passed"  # passed, failed, error, skipped
    duration: float = 0.0
    message: str = ""
    column: str | None = None  # its column in the per-service table, as the check declares it
    evidence_duration: float | None = None  # seconds its evidence took to gather (in a shared round), if known
    __test__ = False  # not a pytest test class, whatever its name

    @property
    def name(self) -> str:
        """The test's readable name: function and parameter id, e.g. test_dns[combo|host]."""
        return f"{self.function}[{self.param}]" if self.param else self.function


def skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


def _message(report: pytest.TestReport) -> str:
    text = skip_reason(report) if report.skipped else report.longreprtext
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "\n… (truncated; see the HTML report)"


class Results:
    """Collects reports as they come (setup, call, teardown) into one TestRecord per test, with what the
    check declares (phase, Target, column: see declared.py) as the plugin put it on the report."""

    def __init__(self) -> None:
        self.records: dict[str, TestRecord] = {}

    def _record(self, report: pytest.TestReport) -> TestRecord:
        record = self.records.get(report.nodeid)
        if record is None:
            function = report.nodeid.split("::")[-1]
            match = _PARAM.search(function)
            param = match.group(1) if match else None
            function = function[: match.start()] if match else function
            facts: Declared = getattr(report, DECLARED, None) or Declared()
            record = TestRecord(report.nodeid, facts.phase, function, param, facts.target_id, facts.address,
                                column=facts.column)
            self.records[report.nodeid] = record
        return record

    def add(self, report: pytest.TestReport) -> None:
        record = self._record(report)
        record.duration += report.duration
        if report.when == "call" or (report.when == "setup" and not report.passed):
            record.outcome = "error" if report.when == "setup" and report.failed else report.outcome
            record.message = "" if report.passed else _message(report)
        elif report.when == "teardown" and report.failed:
            record.outcome = "error"
            record.message = (record.message + "\n" if record.message else "") + "teardown: " + _message(report)

    def of_phase(self, phase: str) -> list[TestRecord]:
        return [r for r in self.records.values() if r.phase == phase]

    def counts(self, records: Iterable[TestRecord] | None = None) -> dict[str, int]:
        chosen = list(self.records.values() if records is None else records)
        counts = {outcome: sum(1 for r in chosen if r.outcome == outcome) for outcome in OUTCOMES}
        return {"total": len(chosen), **counts}
