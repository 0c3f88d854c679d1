"""No text from a server (the skeleton's createdb-connection-params) or a Plan name becomes script text.

Hostile values (newlines ending a psql meta-command, quotes, backslashes, `\\!` shell escapes, NUL,
Unicode line separators) are combined exhaustively from fragments: every combination is either
refused with the skeleton key named, or travels as a bound value (a psql variable, a shell-quoted
environment assignment, stdin) while the script text stays the fixed one.
"""

from __future__ import annotations

import itertools
import shlex

import pytest

from publik_acceptance.evidence.probes import postgres
from publik_acceptance.evidence.probes.postgres import (
    SKELETON_KEY,
    catalogue_query,
    check_login_params,
    login_command,
    refused_names,
)
from publik_acceptance.evidence.probes.privilege import Privilege

FRAGMENTS = ("wcs", "\n", "\r", "'", '"', "\\", "\\! touch /tmp/pwned", "CREATE ROLE pwned SUPERUSER;",
             "';DROP DATABASE postgres;--", ":'pa_db0'", " host=evil", "\x00", "\u2028", "$(id)", "`id`", "é")
HOSTILE = sorted({"".join(parts) for parts in itertools.product(FRAGMENTS, repeat=2)} | set(FRAGMENTS))
CONTROL = [v for v in HOSTILE if postgres.control_characters(v)]
PRINTABLE = [v for v in HOSTILE if not postgres.control_characters(v)]


def fixed_script(django: int, wcs: int, roles: int) -> str:
    """The script for so many names, whatever they are."""
    return catalogue_query([f"d{i}" for i in range(django)], [f"w{i}" for i in range(wcs)],
                           [f"r{i}" for i in range(roles)])[0]


def test_every_fragment_set_is_exercised() -> None:
    assert len(CONTROL) > 50 and len(PRINTABLE) > 50


@pytest.mark.parametrize("key", ["user", "database", "host", "password"])
def test_a_control_character_in_the_skeleton_is_refused_naming_the_key(key: str) -> None:
    for value in CONTROL:
        _, problem = check_login_params({"user": "wcs", "database": "postgres", "host": "db.example.org",
                                         "password": "s3cret-pw", key: value})
        assert problem is not None and f"{SKELETON_KEY}.{key}" in problem, (value, problem)
        assert "control characters" in problem and "\n" not in problem and "\r" not in problem
        if key == "password":
            assert value not in problem


def test_a_host_must_be_a_host_name_an_address_or_a_socket_directory() -> None:
    for host in ("db.example.org", "127.0.0.14", "::1", "/var/run/postgresql", "pg-1.internal."):
        assert check_login_params({"user": "wcs", "host": host})[1] is None, host
    for host in [*PRINTABLE, "a b", "db,other", "host=evil", "../x", "/tmp/../etc", "-db", "x" * 300]:
        if host in ("wcs", "wcswcs"):
            continue
        problem = check_login_params({"user": "wcs", "host": host})[1]
        assert problem is not None and f"{SKELETON_KEY}.host" in problem, host


def test_port_and_types() -> None:
    assert check_login_params({"user": "wcs", "port": 5433})[0]["port"] == "5433"
    assert check_login_params({"user": "wcs", "port": "5433"})[0]["port"] == "5433"
    for port in ("5432\nx", "0", "70000", "5432; x", True, 1.5):
        assert f"{SKELETON_KEY}.port" in (check_login_params({"user": "wcs", "port": port})[1] or ""), port
    assert "not a string" in (check_login_params({"user": ["wcs"]})[1] or "")
    assert f"{SKELETON_KEY}.database is longer" in (check_login_params({"user": "w", "database": "d" * 64})[1] or "")


def test_the_login_command_carries_values_only_as_quoted_environment_assignments() -> None:
    """Printable but hostile values (quotes, backslashes, `$(…)`): one argv word each, the shell line fixed."""
    for value in PRINTABLE:
        params = {"user": value, "database": value, "host": "db.example.org", "port": "5432",
                  "password": "pw-" + value}
        command = login_command("wcs", params, Privilege("admin"))
        argv = shlex.split(command)
        assert argv[:7] == ["sudo", "-n", "-u", "wcs", "env", "-i", f"PGHOST={params['host']}"]
        assert f"PGUSER={value}" in argv and f"PGDATABASE={value}" in argv
        assert argv[-3:-1] == ["sh", "-c"] and argv[-1] == postgres._LOGIN_SHELL
        assert "pw-" + value not in command, "the password must travel on stdin only"
        assert "PGPASSWORD=" not in " ".join(argv[:-1])


def test_the_login_command_runs_as_is_when_the_login_is_the_service_user() -> None:
    """A login that already is the w.c.s. user needs no sudo right (and may well have none)."""
    params = {"user": "wcs", "host": "db.example.org"}
    assert shlex.split(login_command("wcs", params, Privilege("wcs")))[:3] == ["env", "-i", "PGHOST=db.example.org"]
    assert shlex.split(login_command("wcs", params, Privilege("root")))[:5] == ["sudo", "-n", "-u", "wcs", "env"]


def test_the_login_shell_line_is_fixed_and_never_names_a_value() -> None:
    assert "PGPASSWORD" in postgres._LOGIN_SHELL and "read -r" in postgres._LOGIN_SHELL
    assert postgres.LOGIN_QUERY in shlex.split(postgres._LOGIN_SHELL.split("-c ", 1)[1])[0]
    with pytest.raises(ValueError):
        login_command("wcs; id", {"user": "wcs"}, Privilege("root"))


def test_the_catalogue_script_is_the_same_text_whatever_the_names() -> None:
    for role in PRINTABLE:
        script, variables = catalogue_query(["hobo", "combo"], ["wcs_demo"], ["postgres", role])
        assert script == fixed_script(2, 1, 2)
        assert role in variables.values()
    assert not any(word in fixed_script(2, 1, 2) for word in ("pwned", "DROP", "evil", "touch", "$(", "`"))
    # Names only ever appear as `:'pa_…'` literals (quoted by psql) or `\c :pa_dbN` of a checked name.
    script = fixed_script(1, 1, 1)
    assert ":'pa_role0'" in script and ":'pa_db1'" in script and "\\c :pa_db0" in script


def test_names_from_the_plan_must_be_plain_identifiers() -> None:
    assert refused_names(["hobo", "authentic2_multitenant", "wcs_demo_example_org", "a$b"], ["wcs"]) is None
    for name in [*(v for v in HOSTILE if v not in ("wcs", "wcswcs")), "x" * 64, "wcs-demo", ""]:
        problem = refused_names(["hobo", name], [])
        assert problem is not None and "plain PostgreSQL identifier" in problem, name
        assert "\n" not in problem
    for role in CONTROL:
        assert refused_names([], [role]) is not None, role


def test_parse_reads_names_back_by_index() -> None:
    facts = postgres.DatabaseFacts()
    variables = {"pa_db0": "combo", "pa_db1": "wcs_demo"}
    postgres.parse_psql("pa|db|combo\npa|db|wcs_demo\npa|schema|0|public\npa|schema|0|x|y\n"
                        "pa|wcsmeta|1|true\npa|role|t|f|t|we|ird\npa|schema|7|ignored\n", facts, variables)
    assert facts.databases == {"combo", "wcs_demo"}
    assert facts.schemas == {"combo": frozenset({"public", "x|y"})}
    assert facts.wcs_meta == {"wcs_demo": True}
    assert facts.roles["we|ird"].superuser and not facts.roles["we|ird"].createdb


def test_shown_keeps_a_hostile_value_on_one_line() -> None:
    for value in CONTROL:
        assert not postgres.control_characters(postgres.shown(value)), repr(value)
