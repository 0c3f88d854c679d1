"""A postdeploy wait talks (one line per round) and stops waiting on what waiting will not fix."""

from __future__ import annotations

from publik_acceptance.evidence.probes.postgres import DatabaseFacts
from publik_acceptance.evidence.servers import ServerFacts
from publik_acceptance.judge.expectations import Judgement, State, judge_database
from publik_acceptance.judge.postdeploy import Item, judge_tenant_facts, progress_line
from publik_acceptance.report import render
from publik_acceptance.report.verdict import RunVerdict

from .judge_facts import target

READY = Judgement(State.OK, "tenant", "present")
ABSENT = Judgement(State.PENDING, "tenant", "absent")


def test_a_round_line_counts_ready_names_pending_and_time_left() -> None:
    ready = Item(target("combo"), "tenant")
    ready.record(READY, 1.0, 3)
    waiting = [Item(target(kind), "tenant") for kind in ("hobo", "authentic", "wcs", "combo")]
    for item in waiting:
        item.record(ABSENT, 1.0, 3)
    line = progress_line(2, 12.4, [ready, *waiting], 587.6)
    assert line.startswith("postdeploy round 2 (12 s): ready 1 of 5")
    assert "pending 4: hobo|" in line and "(absent)" in line and "and 1 more" in line
    assert line.endswith("588 s left")


def test_the_last_line_has_nothing_pending_and_no_time_left() -> None:
    item = Item(target("combo"), "tenant")
    item.record(READY, 1.0, 3)
    assert progress_line(5, 30.0, [item], 500.0) == "postdeploy round 5 (30 s): ready 1 of 1"


def test_ssh_that_refuses_us_settles_the_tenant_at_once_with_a_to_do() -> None:
    combo = target("combo")
    item = Item(combo, "tenant")
    refused = ServerFacts("root@app1:22", ("hobo",), error="ssh root@app1:22: SSH authentication refused",
                          hopeless=True)
    item.record(judge_tenant_facts(combo, refused), 1.0, stable_polls=3)
    assert item.settled and item.judgement is not None and item.judgement.state is State.WRONG
    assert "fix SSH access" in item.judgement.todo
    line = progress_line(1, 1.0, [item], 599.0)
    assert "wrong 1: combo|" in line and "pending" not in line


def test_ssh_that_may_come_back_keeps_the_tenant_pending() -> None:
    combo = target("combo")
    item = Item(combo, "tenant")
    slow = ServerFacts("root@app1:22", ("hobo",), error="ssh root@app1:22: no SSH answer within 10 s")
    item.record(judge_tenant_facts(combo, slow), 1.0, stable_polls=3)
    assert not item.settled and item.judgement is not None and item.judgement.state is State.PENDING


def test_a_database_server_that_refuses_us_settles_the_database_at_once() -> None:
    combo = target("combo")
    item = Item(combo, "database")
    facts = DatabaseFacts(error="ssh root@db1:22: cannot connect: Connection refused", hopeless=True)
    item.record(judge_database(combo, facts, ABSENT), 1.0, stable_polls=3)
    assert item.settled and item.judgement is not None and "database server" in item.judgement.todo


def test_an_interrupted_run_says_so_first() -> None:
    verdict = RunVerdict(gate="open", gate_detail="", blocking=(), waived=(), cook="interrupted", cook_exit=None,
                         cook_duration=1.0, cook_message="", postdeploy="not run", counts={}, interrupted=True)
    tone, headline = verdict.headline(("preflight", "deploy", "postdeploy"))
    assert tone == "bad"
    assert headline == "Interrupted (Ctrl-C or SIGTERM) before the end: not deployed: the cook interrupted"


def test_the_report_says_a_wait_in_sentences() -> None:
    not_ready = render.wait("tenant", {"state": "pending", "ready_at": None, "polls": 5, "elapsed": 600,
                                       "deadline": 600})
    assert "not ready after 5 polls" in not_ready and "poll(s)" not in not_ready and "— (" not in not_ready
    ready = render.wait("tenant", {"state": "ok", "ready_at": 1.25, "polls": 1, "elapsed": 2, "deadline": 600})
    assert "1.2 s (1 poll)" in ready or "1.3 s (1 poll)" in ready
    refused = render.wait("tenant", {"state": "wrong", "ready_at": None, "polls": 1, "settled": True, "stable": 1,
                                     "elapsed": 1, "deadline": 600})
    assert "at once: waiting cannot fix this state" in refused
