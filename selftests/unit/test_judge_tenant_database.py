"""The tenant and database judges on synthetic server and database facts: every branch, no server."""

from __future__ import annotations

import pytest

from publik_acceptance.evidence.probes.facts import PathFacts
from publik_acceptance.evidence.probes.postgres import DatabaseFacts
from publik_acceptance.judge.expectations import Judgement, State, judge_database, judge_tenant, ok
from publik_acceptance.plan import Target

from .judge_facts import target

COMBO_DIR = "/var/lib/combo/tenants/portail.example.test"
WCS_DIR = "/var/lib/wcs/tenants/demarches.example.test"
WCS_DB = "wcs_demarches_example_test"
SITE_OPTIONS = b"[options]\nallowed_hostname = demarches.example.test\n"


def directory(path: str, owner: str, kind: str = "directory") -> PathFacts:
    return PathFacts(path, True, kind, owner, owner, 0o755)


def deployed(t: Target, *extra: str) -> dict[str, PathFacts]:
    """A tenant directory as a finished deployment leaves it (plus `extra` files)."""
    files = [f"{t.tenant_dir}/hobo.json", *extra]
    return {t.tenant_dir: directory(t.tenant_dir, t.owner),
            **{f: PathFacts(f, True, "regular file", t.owner, t.owner, 0o644) for f in files}}


# -- tenant ----------------------------------------------------------------------------------------

def test_a_finished_tenant_is_ok() -> None:
    judgement = judge_tenant(target("combo"), deployed(target("combo")), None)
    assert (judgement.state, judgement.actual) == (State.OK, "present, owner combo")
    assert judgement.expected == f"tenant directory {COMBO_DIR} owned by combo, with hobo.json"
    assert len(judgement.evidence) == 2


@pytest.mark.parametrize("paths", [{}, {COMBO_DIR: PathFacts(COMBO_DIR, False)}])
def test_an_absent_tenant_directory_is_pending(paths: dict[str, PathFacts]) -> None:
    judgement = judge_tenant(target("combo"), paths, None)
    assert (judgement.state, judgement.actual) == (State.PENDING, "tenant directory absent")
    assert judgement.todo == "check hobo-agent and the combo deployment logs on hobo"


def test_a_file_in_the_way_is_wrong() -> None:
    judgement = judge_tenant(target("combo"), {COMBO_DIR: directory(COMBO_DIR, "combo", "regular file")}, None)
    assert (judgement.state, judgement.actual) == (State.WRONG, f"{COMBO_DIR} is a regular file")


def test_a_tenant_owned_by_someone_else_is_wrong_and_says_how_to_fix_it() -> None:
    judgement = judge_tenant(target("combo"), {COMBO_DIR: directory(COMBO_DIR, "root")}, None)
    assert (judgement.state, judgement.actual) == (State.WRONG, "owned by root:root")
    assert judgement.todo == f"chown -R combo: {COMBO_DIR} (the service runs as combo)"


def test_a_tenant_without_hobo_json_is_pending() -> None:
    judgement = judge_tenant(target("combo"), {COMBO_DIR: directory(COMBO_DIR, "combo")}, None)
    assert (judgement.state, judgement.actual) == (State.PENDING, "hobo.json not written yet")


def test_wcs_still_deploying_is_pending() -> None:
    wcs = target("wcs")
    options = b"[options]\nallowed_hostname = deployment-in-progress.invalid\n"
    judgement = judge_tenant(wcs, deployed(wcs, f"{WCS_DIR}/config.pck"), options)
    assert judgement.state is State.PENDING
    assert judgement.actual == "site-options.cfg still says allowed_hostname = deployment-in-progress.invalid"


def test_wcs_without_config_pck_nor_site_options_is_pending() -> None:
    wcs = target("wcs")
    judgement = judge_tenant(wcs, deployed(wcs), None)
    assert (judgement.state, judgement.actual) == (State.PENDING, "neither config.pck nor site-options.cfg yet")


@pytest.mark.parametrize("options", [SITE_OPTIONS, b"[options]\nother = 1\n", b"not an ini file", b""])
def test_wcs_with_site_options_is_ok_unless_they_carry_the_deploying_marker(options: bytes) -> None:
    """Written, even empty or unreadable, and without the marker: the deployment got that far."""
    wcs = target("wcs")
    assert judge_tenant(wcs, deployed(wcs), options).state is State.OK


def test_wcs_with_config_pck_only_is_ok() -> None:
    wcs = target("wcs")
    assert judge_tenant(wcs, deployed(wcs, f"{WCS_DIR}/config.pck"), None).state is State.OK


# -- database --------------------------------------------------------------------------------------

def django(databases: frozenset[str], schemas: frozenset[str] = frozenset()) -> DatabaseFacts:
    return DatabaseFacts(databases=databases, schemas={"combo": schemas}, source="psql")


TENANT_OK = ok("tenant", "present")
TENANT_PENDING = Judgement(State.PENDING, "tenant", "tenant directory absent")


def test_database_facts_that_could_not_be_gathered_are_pending() -> None:
    judgement = judge_database(target("combo"), DatabaseFacts(error="psql: connection refused"), TENANT_OK)
    assert (judgement.state, judgement.actual) == (State.PENDING, "psql: connection refused")
    assert judgement.todo == "check database access settings"


def test_a_django_schema_present_is_ok() -> None:
    judgement = judge_database(target("combo"), django(frozenset({"combo"}), frozenset({"portail_example_test"})),
                               TENANT_OK)
    assert (judgement.state, judgement.actual) == (State.OK, "present")
    assert judgement.expected == "schema portail_example_test in database combo"


def test_a_missing_service_database_is_wrong_even_while_deploying() -> None:
    judgement = judge_database(target("combo"), django(frozenset()), TENANT_PENDING)
    assert (judgement.state, judgement.actual) == (State.WRONG, "database combo does not exist")


@pytest.mark.parametrize(("tenant", "state"), [(TENANT_OK, State.WRONG), (TENANT_PENDING, State.PENDING)])
def test_a_missing_schema_is_wrong_only_once_the_tenant_is_complete(tenant: Judgement, state: State) -> None:
    judgement = judge_database(target("combo"), django(frozenset({"combo"})), tenant)
    assert (judgement.state, judgement.actual) == (state, "schema absent")


@pytest.mark.parametrize(("tenant", "state"), [(TENANT_OK, State.WRONG), (TENANT_PENDING, State.PENDING)])
def test_a_missing_wcs_database_is_wrong_only_once_the_tenant_is_complete(tenant: Judgement, state: State) -> None:
    """w.c.s. creates its database with a new tenant directory and never retries."""
    judgement = judge_database(target("wcs"), DatabaseFacts(), tenant)
    assert (judgement.state, judgement.actual) == (state, "database absent")
    assert "will not retry" in judgement.todo


@pytest.mark.parametrize(("tenant", "state"), [(TENANT_OK, State.WRONG), (TENANT_PENDING, State.PENDING)])
def test_a_wcs_database_without_wcs_meta_is_wrong_once_the_tenant_is_complete(tenant: Judgement,
                                                                             state: State) -> None:
    judgement = judge_database(target("wcs"), DatabaseFacts(databases=frozenset({WCS_DB})), tenant)
    assert (judgement.state, judgement.actual) == (state, "database without wcs_meta")


def test_a_wcs_database_with_wcs_meta_is_ok() -> None:
    facts = DatabaseFacts(databases=frozenset({WCS_DB}), wcs_meta={WCS_DB: True})
    judgement = judge_database(target("wcs"), facts, TENANT_OK)
    assert (judgement.state, judgement.actual) == (State.OK, "present, with wcs_meta")
    assert judgement.expected == f"database {WCS_DB} with table wcs_meta"
