"""doctor proves a right without using it: `sudo -n -l` of the very command the run will run through sudo."""

from __future__ import annotations

import shlex
from pathlib import Path

from publik_acceptance import doctor
from publik_acceptance.doctor import right_check
from publik_acceptance.evidence.probes.remote import SshPool
from publik_acceptance.plan import load_plan


def test_a_command_through_sudo_is_asked_of_sudo_with_l_and_never_a_password() -> None:
    check = right_check("sudo -n -u combo /usr/bin/combo-manage list_tenants")
    assert shlex.split(check) == ["sudo", "-n", "-l", "-n", "-u", "combo", "/usr/bin/combo-manage", "list_tenants"]
    assert shlex.split(right_check("/usr/bin/sudo -u hobo hobo-manage list_tenants"))[:3] == ["sudo", "-n", "-l"]


def test_shell_operators_and_what_follows_are_left_out() -> None:
    check = shlex.split(right_check("sudo -u combo combo-manage list_tenants | sort"))
    assert check == ["sudo", "-n", "-l", "-u", "combo", "combo-manage", "list_tenants"]
    assert shlex.split(right_check("sudo -u combo combo-manage list_tenants && echo done"))[-1] == "list_tenants"


def test_a_command_without_sudo_is_checked_to_exist() -> None:
    assert right_check("/opt/combo/bin/manage.py list_tenants") == "command -v /opt/combo/bin/manage.py"
    assert right_check("combo-manage 'list tenants'; id") == "command -v combo-manage"


def test_a_hostile_value_stays_one_quoted_word() -> None:
    check = right_check("sudo -u 'combo$(id)' combo-manage list_tenants")
    assert shlex.split(check)[4] == "combo$(id)" and "'combo$(id)'" in check


def test_the_database_servers_psql_right_is_checked_without_running_psql() -> None:
    # A real Plan and SshPool: building the checks connects to nothing.
    plan = load_plan(Path(__file__).resolve().parent.parent / "corpus" / "valid" / "environment.yml")
    checks = {c.subject.split(": ", 1)[1]: c for c in doctor._checks(plan, SshPool(plan.environment), "database")}
    psql = checks["database.psql"]
    assert psql.command == "sudo -n -l -u postgres psql"
    assert "database.psql" in psql.todo and "database.direct" in psql.todo
    assert "database.psql" not in {c.subject.split(": ", 1)[1] for c in
                                   doctor._checks(plan, SshPool(plan.environment), "hobo")}
