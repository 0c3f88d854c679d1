"""Waiting for the deployment, without a server: when a wrong state settles early, and what the verdict says."""

from __future__ import annotations

import pytest

from publik_acceptance.evidence.preflight import Frontend
from publik_acceptance.evidence.probes.facts import PathFacts
from publik_acceptance.evidence.servers import ServerFacts
from publik_acceptance.judge.expectations import Judgement, State, ok
from publik_acceptance.judge.postdeploy import Item, Outcome, frontend_pages, judge_tenant_facts
from publik_acceptance.judge.waiting import conclude

from .judge_facts import target

PENDING = Judgement(State.PENDING, "tenant directory", "tenant directory absent", "check hobo-agent")
WRONG = Judgement(State.WRONG, "tenant directory", "owned by root:root", "chown -R combo: …")
READY = ok("tenant directory", "present, owner combo")


def polled(item: Item, *judgements: Judgement, stable_polls: int = 3) -> Item:
    for now, judgement in enumerate(judgements, start=1):
        item.record(judgement, float(now), stable_polls)
    return item


# -- one item across polls -------------------------------------------------------------------------

def test_a_wrong_state_seen_stable_polls_times_in_a_row_settles() -> None:
    item = polled(Item(target("combo"), "tenant"), PENDING, WRONG, WRONG)
    assert (item.stable, item.settled, item.done) == (2, False, False)
    polled(item, WRONG)
    assert (item.polls, item.stable, item.since, item.settled, item.done) == (4, 3, 2.0, True, True)


def test_a_pending_state_never_settles() -> None:
    item = polled(Item(target("combo"), "tenant"), PENDING, PENDING, PENDING, PENDING)
    assert (item.stable, item.settled, item.done, item.ready_at) == (4, False, False, None)


def test_a_wrong_state_that_changes_starts_counting_again() -> None:
    other = Judgement(State.WRONG, "tenant directory", "owned by www-data:www-data")
    item = polled(Item(target("combo"), "tenant"), WRONG, WRONG, other)
    assert (item.stable, item.since, item.settled) == (1, 3.0, False)


def test_ready_is_done_and_remembers_when_it_first_held() -> None:
    item = polled(Item(target("combo"), "tenant"), PENDING, READY, READY)
    assert (item.done, item.ready_at, item.key) == (True, 2.0, ("combo|portail.example.test", "tenant", None))


def test_unreachable_server_facts_are_pending() -> None:
    judgement = judge_tenant_facts(target("combo"), ServerFacts("root@app1", ("hobo",), error="connection refused"))
    assert (judgement.state, judgement.actual, judgement.todo) == (State.PENDING, "connection refused",
                                                                   "fix SSH access")


def test_server_facts_are_judged_with_site_options_for_wcs_only() -> None:
    wcs = target("wcs")
    paths = {p: PathFacts(p, True, k, "wcs", "wcs", 0o750) for p, k in ((wcs.tenant_dir, "directory"),
                                                                  (f"{wcs.tenant_dir}/hobo.json", "regular file"))}
    deploying = b"[options]\nallowed_hostname = deployment-in-progress.invalid\n"
    facts = ServerFacts("root@app1", ("hobo",), paths=paths, files={f"{wcs.tenant_dir}/site-options.cfg": deploying})
    assert judge_tenant_facts(wcs, facts).state is State.PENDING
    facts.files[f"{wcs.tenant_dir}/site-options.cfg"] = b"[options]\n"
    assert judge_tenant_facts(wcs, facts).state is State.OK


# -- the outcome of a whole wait -------------------------------------------------------------------

def outcome(*items: Item, elapsed: float = 42.0) -> Outcome:
    return Outcome({i.key: i for i in items}, 600.0, elapsed)


def test_time_to_ready_is_the_last_aspect_ready_and_none_while_one_is_not() -> None:
    tenant = polled(Item(target("combo"), "tenant"), READY)
    database = polled(Item(target("combo"), "database"), PENDING, READY)
    page = Item(target("combo"), "page", "192.0.2.80")
    assert outcome(tenant, database).time_to_ready(target("combo")) == 2.0
    assert outcome(tenant, database, page).time_to_ready(target("combo")) is None
    assert outcome(tenant).time_to_ready(target("wcs")) is None
    assert outcome(tenant, database).of(target("combo")) == [tenant, database]


def test_a_frontend_finds_its_page_item_by_address() -> None:
    page = Item(target("combo"), "page", "192.0.2.80")
    wait = outcome(Item(target("combo"), "tenant"), page)
    assert frontend_pages(wait, Frontend(target("combo"), "192.0.2.80")) is page
    assert frontend_pages(wait, Frontend(target("combo"), "192.0.2.81")) is None


# -- the verdict of one waited-for item ---------------------------------------------------------------

def failure(item: Item | None, wait: Outcome) -> str:
    with pytest.raises(pytest.fail.Exception) as failed:
        conclude(item, wait, "tenant directory", "combo|portail.example.test")
    return str(failed.value)


def test_an_item_never_probed_is_a_bug_of_the_suite() -> None:
    item = Item(target("combo"), "tenant")
    for missing in (None, item):
        message = failure(missing, outcome(item))
        assert "actual:   never probed" in message and "report this as a bug of the suite" in message


def test_a_ready_item_passes_and_notes_when() -> None:
    item = polled(Item(target("combo"), "tenant"), PENDING, READY)
    conclude(item, outcome(item), "tenant directory", "combo|portail.example.test")


def test_a_settled_item_says_it_did_not_wait_for_the_deadline() -> None:
    item = polled(Item(target("combo"), "tenant"), WRONG, WRONG, WRONG)
    message = failure(item, outcome(item))
    assert ("actual:   owned by root:root — the same for 3 polls in a row (since 1.0 s), so not waiting for the "
            "rest of the 600 s deadline") in message
    assert "to do:    chown -R combo: …" in message


def test_a_timed_out_item_says_how_long_and_how_the_rest_of_the_tenant_fared() -> None:
    item = polled(Item(target("combo"), "tenant"), PENDING)
    database = polled(Item(target("combo"), "database"), READY)
    page = polled(Item(target("combo"), "page", "192.0.2.80"), Judgement(State.PENDING, "page", "404 Not Found"))
    never = Item(target("combo"), "page", "192.0.2.81")
    message = failure(item, outcome(item, database, page, never))
    assert "actual:   still tenant directory absent after 42 s (deadline 600 s)" in message
    assert ("same tenant: database: ready since 1.0 s; page or redirect on 192.0.2.80: 404 Not Found; "
            "page or redirect on 192.0.2.81: not probed") in message


def test_a_lone_item_lists_no_siblings() -> None:
    item = polled(Item(target("combo"), "tenant"), PENDING)
    assert "same tenant" not in failure(item, outcome(item))
