"""The gate's branches not covered by test_gate.py: what counts as passed, skipped or not applicable,
how an outcome is summarised, and the summary of a gate that saw nothing."""

from __future__ import annotations

import pytest

from publik_acceptance.config.environment import Waiver
from publik_acceptance.judge.checks import not_applicable, skip_unchecked
from publik_acceptance.judge.gate import SELECTED, Gate

NODE = "tests/preflight/test_tls.py::test_tls[combo|portail.example.test|192.0.2.80]"
NAME = NODE.split("::")[-1]


def report(outcome: str, when: str = "call", longrepr: object = None) -> pytest.TestReport:
    return pytest.TestReport(NODE, ("x.py", 1, NAME), {}, outcome, longrepr, when)  # type: ignore[arg-type]


def skip_message(skip: object, reason: str) -> str:
    """The text pytest reports for a check that called `skip` (skip_unchecked or not_applicable)."""
    with pytest.raises(pytest.skip.Exception) as skipped:
        skip(reason)  # type: ignore[operator]
    return f"Skipped: {skipped.value.msg}"


def test_a_passed_setup_is_not_a_passed_check() -> None:
    gate = Gate(())
    gate.record(report("passed", "setup"))
    assert (gate.passed, gate.seen, gate.open) == (0, set(), False)
    assert gate.summary() == "gate closed: no preflight check ran"


def test_a_check_not_checked_closes_the_gate_with_its_reason() -> None:
    gate = Gate(())
    reason = skip_message(skip_unchecked, "the hobo server is unreachable: see test_ssh")
    gate.record(report("skipped", "setup", ("x.py", 1, reason)))
    assert not gate.open
    assert gate.summary().splitlines()[1] == (f"  - {NAME}: skipped: not checked: the hobo server is unreachable: "
                                              "see test_ssh")


def test_a_check_not_applicable_leaves_the_gate_as_it_was() -> None:
    gate = Gate(())
    gate.expect({NODE: SELECTED})
    gate.record(report("skipped", "call", ("x.py", 1, skip_message(not_applicable, "no w.c.s. service planned"))))
    assert (gate.blocking, gate.not_run) == ([], [])


def test_an_error_outside_the_call_blocks_with_its_first_line() -> None:
    gate = Gate(())
    gate.record(report("failed", "setup", "fixture 'preflight' crashed\n  traceback …"))
    [entry] = gate.blocking
    assert (entry.test, entry.outcome, entry.reason) == (NAME, "error", "fixture 'preflight' crashed")


def test_a_failure_is_summarised_by_its_actual_line_or_its_outcome() -> None:
    gate = Gate(())
    gate.record(report("failed", "call", "TLS — x\n  expected: a verified session\n  actual:   certificate expired"))
    gate.record(report("failed", "call", ""))
    assert [e.reason for e in gate.blocking] == ["certificate expired", "failed"]


def test_a_skip_reported_as_text_is_read_as_it_is() -> None:
    gate = Gate(())
    gate.record(report("skipped", "call", "not checked: the database server is unreachable"))
    assert gate.blocking[0].reason == "not checked: the database server is unreachable"


def test_an_open_gate_counts_the_waived_checks() -> None:
    gate = Gate((Waiver("test_tls[combo|*]", "CHG-42"),))
    gate.record(report("passed"))
    gate.record(report("failed", "call", "actual: expired"))
    assert gate.open
    assert gate.summary() == "gate open: 1 preflight checks passed, 1 waived"
    [(entry, waiver)] = gate.waived
    assert (entry.reason, waiver.reason) == ("expired", "CHG-42")


def test_only_narrowed_when_nothing_failed_but_checks_did_not_run() -> None:
    gate = Gate(())
    gate.expect({NODE: SELECTED, NODE.replace("192.0.2.80", "192.0.2.81"): SELECTED}, ("-x",))
    gate.record(report("passed"))
    assert gate.only_narrowed
    gate.record(report("failed", "call", "actual: expired"))
    assert not gate.only_narrowed  # a failure is the reason the gate is closed
