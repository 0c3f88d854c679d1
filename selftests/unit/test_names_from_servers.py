"""Names as the servers say them: `list_tenants` read strictly, compared with the Plan's schema names,
and w.c.s. tenants found at their old location (`/var/lib/wcs/<host>`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from publik_acceptance.config.environment import MirrorOf
from publik_acceptance.evidence.listing import MAX_LINES, TenantListing, listing_for, parse_listing
from publik_acceptance.evidence.parity import ParityFacts
from publik_acceptance.evidence.probes.facts import CommandFacts, PathFacts
from publik_acceptance.evidence.probes.postgres import DatabaseFacts
from publik_acceptance.evidence.servers import Questions, ServerFacts, found_tenant_dir
from publik_acceptance.judge.expectations import Judgement, State, judge_database, judge_tenant
from publik_acceptance.judge.parity import judge_parity
from publik_acceptance.judge.postdeploy import judge_tenant_facts
from publik_acceptance.plan import Target, load_plan

from .judge_facts import CORPUS, target

COMMAND = "sudo -n -u combo combo-manage list_tenants"
TENANT_OK = Judgement(State.OK, "tenant", "present")


def answer(output: str, status: int = 0, command: str = COMMAND) -> CommandFacts:
    return CommandFacts(command, status, output)


def combo() -> Target:
    return target("combo")


def listing(output: str, status: int = 0) -> TenantListing:
    return parse_listing("hobo", answer(output, status))


# -- the Plan --------------------------------------------------------------------------------------

def test_django_targets_ask_their_own_manage_command_as_the_service_user() -> None:
    by_kind = {t.kind: t for t in load_plan(CORPUS).targets}
    assert by_kind["combo"].list_tenants == COMMAND
    assert by_kind["authentic"].list_tenants == (
        "sudo -n -u authentic-multitenant authentic2-multitenant-manage list_tenants")
    assert by_kind["hobo"].list_tenants == "sudo -n -u hobo hobo-manage list_tenants"
    assert by_kind["wcs"].list_tenants is None
    assert by_kind["wcs"].legacy_tenant_dir == by_kind["wcs"].tenant_dir.replace("/wcs/tenants/", "/wcs/")
    assert by_kind["combo"].legacy_tenant_dir is None


def test_the_environment_sets_or_disables_the_command(tmp_path: Path) -> None:
    data = yaml.safe_load(CORPUS.read_text())
    data["instances"][0]["recipe"] = str(CORPUS.parent / "recipe.json")
    data["services"] = {"combo": {"list_tenants": "/opt/bin/combo-manage list_tenants"},
                        "hobo": {"list_tenants": ""}}
    path = tmp_path / "environment.yml"
    path.write_text(yaml.safe_dump(data))
    by_kind = {t.kind: t for t in load_plan(path).targets}
    assert by_kind["combo"].list_tenants == "/opt/bin/combo-manage list_tenants"
    assert by_kind["hobo"].list_tenants is None


def test_one_list_tenants_per_service_kind_and_server_per_round() -> None:
    targets = load_plan(CORPUS).targets
    questions = Questions()
    for t in targets + targets:
        questions.listing(t)
    kinds = {t.kind for t in targets if t.list_tenants}
    assert sum(len(commands) for commands in questions.commands.values()) == len(kinds)


# -- reading the output ----------------------------------------------------------------------------

def test_each_line_is_a_schema_and_a_hostname() -> None:
    got = listing("portail_example_test portail.example.test\nagents_example_test Agents.Example.test\n")
    assert got.error is None
    assert got.schemas == {"portail.example.test": "portail_example_test",
                           "agents.example.test": "agents_example_test"}
    assert got.schema_of("PORTAIL.example.test") == "portail_example_test"
    assert got.name == "combo-manage list_tenants"


@pytest.mark.parametrize("line", [
    "portail_example_test portail.example.test; rm -rf /",
    "$(reboot) portail.example.test",
    "portail_example_test <script>.example.test",
    "portail-example-test portail.example.test",
    "portail_example_test  portail.example.test extra",
    "x" * 64 + " portail.example.test",
    "portail_example_test portail.example.test\x1b[2J",
    "WARNINGS: ?: (urls.W005) URL namespace 'admin' isn't unique.",
])
def test_anything_else_is_noise_counted_shown_escaped_and_never_a_tenant(line: str) -> None:
    got = listing(f"{line}\nfargo_example_test fargo.example.test\n")
    assert got.schemas == {"fargo.example.test": "fargo_example_test"}
    assert got.noise_lines == 1
    assert "\x1b" not in got.describe() and "1 line(s) not of the form" in got.describe()


def test_the_output_is_bounded() -> None:
    output = "".join(f"s{i} h{i}.example.test\n" for i in range(MAX_LINES + 5))
    got = listing(output)
    assert len(got.schemas) == MAX_LINES and got.truncated
    assert f"only the first {MAX_LINES} lines" in got.describe()


def test_a_host_listed_twice_with_two_schemas_is_a_conflict() -> None:
    got = listing("a_example_test a.example.test\nb a.example.test\n")
    assert got.conflicts == ("a.example.test",)
    assert got.schema_of("a.example.test") == "a_example_test"


@pytest.mark.parametrize(("status", "output", "said"), [
    (127, "sh: 1: combo-manage: not found", "the command is missing"),
    (1, "sudo: combo-manage: command not found", "the command is missing"),
    (1, "sudo: a password is required", "sudo refused it"),
    (1, "CommandError: database unreachable", "failed (exit 1: CommandError: database unreachable)"),
])
def test_a_missing_refused_or_failing_command_says_so(status: int, output: str, said: str) -> None:
    got = listing(output, status)
    assert got.schemas == {} and got.error is not None and said in got.error


def test_no_listing_when_not_asked_or_the_server_is_unreachable() -> None:
    facts = ServerFacts("root@app1", ("hobo",), commands={COMMAND: answer("x_y x.example.test")})
    assert listing_for(combo(), facts) is not None
    assert listing_for(target("wcs"), facts) is None
    assert listing_for(combo(), ServerFacts("root@app1", ("hobo",), error="refused")) is None


# -- judging the schema ----------------------------------------------------------------------------

def database(*schemas: str) -> DatabaseFacts:
    t = combo()
    return DatabaseFacts(databases=frozenset({t.database}), schemas={t.database: frozenset(schemas)})


def test_the_server_agreeing_with_the_plan_is_ok_and_said() -> None:
    t = combo()
    judgement = judge_database(t, database(t.schema or ""), TENANT_OK, listing(f"{t.schema} {t.hostname}\n"))
    assert judgement.state is State.OK
    assert any(f"agrees: schema {t.schema}" in line for line in judgement.evidence)


def test_a_schema_named_otherwise_by_the_server_fails_naming_both() -> None:
    t = combo()
    assert t.schema is not None
    other = f"old_{t.schema}"
    judgement = judge_database(t, database(other), TENANT_OK, listing(f"{other} {t.hostname}\n"))
    assert judgement.state is State.WRONG
    assert t.schema in judgement.expected and "the Plan derives" in judgement.expected
    assert f"combo-manage list_tenants on role {t.server} reports schema {other} for {t.hostname}" in judgement.actual
    assert f"not {t.schema}" in judgement.actual
    assert f"schema {other} (the server's name, checked instead) is present" in judgement.actual
    assert "TENANT_MAPPING" in judgement.todo
    # The server's schema is the one looked for: absent, it says so.
    absent = judge_database(t, database(t.schema), TENANT_OK, listing(f"{other} {t.hostname}\n"))
    assert absent.state is State.WRONG and f"schema {other} (the server's name, checked instead) is absent" in (
        absent.actual)


def test_a_failed_list_tenants_leaves_the_schema_check_to_judge() -> None:
    t = combo()
    failed = listing("sudo: a password is required", 1)
    judgement = judge_database(t, database(t.schema or ""), TENANT_OK, failed)
    assert judgement.state is State.OK
    assert any("sudo refused it" in line and "not compared" in line for line in judgement.evidence)
    missing = judge_database(t, database(), TENANT_OK, failed)
    assert (missing.state, missing.actual) == (State.WRONG, "schema absent")


def test_a_host_not_listed_yet_is_judged_on_the_plan_name() -> None:
    t = combo()
    judgement = judge_database(t, database(), Judgement(State.PENDING, "tenant", "absent"),
                               listing("other_example_test other.example.test\n"))
    assert judgement.state is State.PENDING
    assert any("not listed (yet)" in line for line in judgement.evidence)


# -- w.c.s. at its old location --------------------------------------------------------------------

def tenant_files(place: str, owner: str = "wcs") -> dict[str, PathFacts]:
    return {place: PathFacts(place, True, "directory", owner, owner, 0o755),
            **{f"{place}/{name}": PathFacts(f"{place}/{name}", True, "regular file", owner, owner, 0o644)
               for name in ("hobo.json", "config.pck")}}


def test_a_wcs_tenant_at_the_old_location_counts_and_says_where() -> None:
    wcs = target("wcs")
    assert wcs.legacy_tenant_dir is not None
    paths = tenant_files(wcs.legacy_tenant_dir)
    assert found_tenant_dir(wcs, paths) == wcs.legacy_tenant_dir
    judgement = judge_tenant(wcs, paths, None)
    assert judgement.state is State.OK
    assert judgement.actual == f"present at {wcs.legacy_tenant_dir} (w.c.s.'s old location), owner wcs"
    assert wcs.legacy_tenant_dir in judgement.expected and wcs.tenant_dir in judgement.expected


def test_tenants_dir_wins_over_the_old_location_as_in_wcs() -> None:
    wcs = target("wcs")
    assert wcs.legacy_tenant_dir is not None
    paths = {**tenant_files(wcs.legacy_tenant_dir, owner="root"), **tenant_files(wcs.tenant_dir)}
    judgement = judge_tenant(wcs, paths, None)
    assert (judgement.state, judgement.actual) == (State.OK, "present, owner wcs")
    assert any("old location, ignored" in line for line in judgement.evidence)


def test_the_old_location_is_judged_like_the_new_one() -> None:
    wcs = target("wcs")
    assert wcs.legacy_tenant_dir is not None
    judgement = judge_tenant(wcs, tenant_files(wcs.legacy_tenant_dir, owner="root"), None)
    assert judgement.state is State.WRONG and "(w.c.s.'s old location)" in judgement.actual
    assert wcs.legacy_tenant_dir in judgement.todo


def test_site_options_are_read_where_the_tenant_is() -> None:
    wcs = target("wcs")
    assert wcs.legacy_tenant_dir is not None
    deploying = b"[options]\nallowed_hostname = deployment-in-progress.invalid\n"
    facts = ServerFacts("root@app1", ("wcs",), paths=tenant_files(wcs.legacy_tenant_dir),
                        files={f"{wcs.legacy_tenant_dir}/site-options.cfg": deploying})
    assert judge_tenant_facts(wcs, facts).state is State.PENDING


def test_parity_names_tenants_at_the_old_location() -> None:
    facts = ParityFacts("preprod", there={"ville": {"demarches.example.test"}},
                        here={"ville": {"demarches.example.test"}},
                        old_location={"ville": ["prod: demarches.example.test at /var/lib/wcs/demarches.example.test "
                                                "(w.c.s.'s old location)"]})
    verdict = judge_parity("prod", "ville", MirrorOf(environment="preprod", strip="preprod-"), facts)
    assert verdict.ok
    assert any("old location" in note for note in verdict.evidence)
