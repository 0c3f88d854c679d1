"""--resume: the gate accepts tenants of this recipe that already exist and names them; leftovers that are
not a tenant stay refused; an existing tenant's name may answer, but it must answer."""

from __future__ import annotations

import pytest

from publik_acceptance.evidence.probes.facts import PathFacts
from publik_acceptance.evidence.servers import ServerFacts
from publik_acceptance.judge.gate import SELECTED, Gate
from publik_acceptance.judge.resume import judge_existing_answer, judge_resumable, tenant_there

from .judge_facts import ADDRESS, exchange, target

PREFLIGHT = "tests/preflight/test_hosts.py::"


def _server(path: str, exists: bool) -> ServerFacts:
    return ServerFacts("root@app1:22", ("hobo",), paths={path: PathFacts(path, exists, "directory", "hobo", "hobo",
                                                                         0o755)})


def test_the_tenant_itself_is_accepted_with_a_note() -> None:
    hobo = target("hobo")
    assert tenant_there(hobo, _server(hobo.tenant_dir, True))
    assert not tenant_there(hobo, _server(hobo.tenant_dir, False))
    assert not tenant_there(hobo, _server("/elsewhere", True))
    wcs = target("wcs")  # w.c.s. still serves a tenant at its old location: that is the tenant too
    assert wcs.legacy_tenant_dir and tenant_there(wcs, _server(wcs.legacy_tenant_dir, True))
    verdict = judge_resumable(hobo, [f"tenant directory {hobo.tenant_dir}", f"schema {hobo.schema}"], tenant=True)
    assert verdict.ok
    assert any(note.startswith("already there (--resume)") for note in verdict.evidence), verdict.evidence


def test_a_leftover_without_its_tenant_directory_stays_refused() -> None:
    hobo = target("hobo")
    verdict = judge_resumable(hobo, [f"schema {hobo.schema} in database hobo"], tenant=False)
    assert not verdict.ok
    _, actual, todo = verdict.problems[0]
    assert f"without the tenant directory {hobo.tenant_dir}" in actual
    assert "not a tenant of this recipe" in todo and "DROP SCHEMA" in todo


def test_a_wcs_tenant_without_its_database_is_accepted_but_says_cook_will_not_create_it() -> None:
    wcs = target("wcs")
    verdict = judge_resumable(wcs, [f"tenant directory {wcs.tenant_dir}"], tenant=True)
    assert verdict.ok and any("creates it only for a new tenant directory" in n for n in verdict.evidence)


@pytest.mark.parametrize(("status", "ok"), [(200, True), (302, True), (404, True), (502, False), (None, False)])
def test_an_existing_tenants_name_may_answer_but_must_answer(status: int | None, ok: bool) -> None:
    combo = target("combo")
    answer = exchange(f"https://{combo.hostname}/", status, error="connection refused" if status is None else None)
    verdict = judge_existing_answer(combo, ADDRESS, 443, answer)
    assert verdict.ok is ok, verdict.message()
    if not ok:
        assert "does not answer properly" in verdict.problems[0][2]


def test_the_gate_names_the_tenants_already_there() -> None:
    gate = Gate((), resume=True)
    gate.expect({PREFLIGHT + "test_not_yet_deployed[a]": SELECTED})
    gate.record(pytest.TestReport(PREFLIGHT + "test_not_yet_deployed[a]", ("x.py", 1, "t"), {}, "passed", None,
                                  "call"))
    gate.accept_existing("hobo|hobo.example.test")
    gate.accept_existing("hobo|hobo.example.test")  # once, however often it is said
    assert gate.open
    assert gate.summary() == ("gate open: 1 preflight checks passed; --resume: 1 tenant(s) already there, cooked "
                              "again: hobo|hobo.example.test")
    assert Gate(()).resume is False and not Gate(()).already_there  # without --resume nothing is accepted
