"""The gate: waiver patterns (test ids are full of brackets, which match literally), and completeness:
every preflight check the Plan calls for must have run."""

from __future__ import annotations

import pytest

from publik_acceptance.config.environment import Waiver
from publik_acceptance.judge.gate import DESELECTED, MAX_LISTED, NOT_COLLECTED, SELECTED, Gate, matches


@pytest.mark.parametrize(
    ("pattern", "test_id", "expected"),
    [
        ("test_tls[hobo|hobo.example.test|*]", "test_tls[hobo|hobo.example.test|192.0.2.10]", True),
        ("test_tls[hobo|*]", "test_tls[combo|portail.example.test|192.0.2.10]", False),
        ("test_tls[*]", "test_tls[combo|portail.example.test|192.0.2.10]", True),
        ("test_createdb_role", "test_createdb_role", True),
        ("test_createdb_role", "test_createdb_role_extra", False),
        ("test_http_404[?ombo|*]", "test_http_404[combo|x|y]", True),
    ],
)
def test_waiver_patterns(pattern: str, test_id: str, expected: bool) -> None:
    assert matches(pattern, test_id) is expected


# -- completeness: a check the Plan calls for that did not run keeps the gate closed ----------------

PREFLIGHT = "tests/preflight/test_dns.py::"


def _report(name: str, outcome: str = "passed", when: str = "call", reason: str = "") -> pytest.TestReport:
    longrepr = None if outcome == "passed" else ("x.py", 1, f"Skipped: {reason}") if outcome == "skipped" else reason
    return pytest.TestReport(f"{PREFLIGHT}{name}", ("x.py", 1, name), {}, outcome, longrepr, when)


def _gate(*ran: str, expected: dict[str, str], narrowing: tuple[str, ...] = ()) -> Gate:
    gate = Gate(())
    gate.expect({PREFLIGHT + name: how for name, how in expected.items()}, narrowing)
    for name in ran:
        gate.record(_report(name))
    return gate


def test_every_expected_check_passed_opens_the_gate() -> None:
    gate = _gate("test_dns[a]", "test_dns[b]", expected={"test_dns[a]": SELECTED, "test_dns[b]": SELECTED})
    assert gate.open, gate.summary()
    assert gate.summary() == "gate open: 2 preflight checks passed"


def test_a_deselected_check_keeps_the_gate_closed_and_says_why() -> None:
    gate = _gate("test_dns[a]", expected={"test_dns[a]": SELECTED, "test_dns[b]": DESELECTED},
                 narrowing=("-k 'test_dns and a'",))
    assert not gate.open
    first, *rest = gate.summary().splitlines()
    assert first == ("gate closed: 1 of the 2 preflight checks the Plan calls for did not run (-k 'test_dns and a'); "
                     "run the full preflight to open the gate:")
    assert rest == ["  - test_dns[b]: not run: deselected"]
    assert [(e.test, e.outcome) for e in gate.not_run] == [("test_dns[b]", "not run")]


def test_a_check_never_reached_or_never_collected_keeps_the_gate_closed() -> None:
    gate = _gate("test_dns[a]", expected={"test_dns[a]": SELECTED, "test_dns[b]": SELECTED,
                                          "test_dns[c]": NOT_COLLECTED}, narrowing=("-x",))
    assert not gate.open
    reasons = {e.test: e.reason for e in gate.not_run}
    assert reasons == {"test_dns[b]": "not reached: the run stopped before it", "test_dns[c]": "not collected"}


def test_failures_and_checks_not_run_are_both_reported() -> None:
    gate = _gate(expected={"test_dns[a]": SELECTED, "test_dns[b]": SELECTED})
    gate.record(_report("test_dns[a]", "failed", reason="actual: NXDOMAIN"))
    summary = gate.summary()
    assert summary.startswith("gate closed: 1 preflight check(s) did not pass; 1 of the 2 preflight checks"), summary
    assert "  - test_dns[a]: failed: NXDOMAIN" in summary and "  - test_dns[b]: not run:" in summary


def test_not_applicable_and_waived_checks_count_as_run() -> None:
    gate = Gate((Waiver("test_dns[b]", "CHG-7"),))
    gate.expect({PREFLIGHT + n: SELECTED for n in ("test_dns[a]", "test_dns[b]", "test_dns[c]")})
    gate.record(_report("test_dns[a]"))
    gate.record(_report("test_dns[b]", "failed", reason="actual: timeout"))
    gate.record(_report("test_dns[c]", "skipped", "setup", reason="not applicable: no IPv6"))
    assert gate.open, gate.summary()


def test_a_long_list_of_checks_not_run_is_cut() -> None:
    expected = {f"test_dns[{i:02}]": DESELECTED for i in range(MAX_LISTED + 5)}
    gate = _gate(expected={"test_dns[ok]": SELECTED, **expected})
    gate.record(_report("test_dns[ok]"))
    lines = gate.summary().splitlines()
    assert len(lines) == 1 + MAX_LISTED + 1 and lines[-1] == "  … and 5 more not run"


def test_without_expectations_only_what_ran_counts() -> None:
    """Unit use and phases without a preflight: the old rule (something passed, nothing blocks)."""
    gate = Gate(())
    gate.record(_report("test_dns[a]"))
    assert gate.open
