"""`inv doctor`: against the sandbox, everything is there; each missing thing is named with a to-do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from publik_acceptance.config.environment import Environment
from publik_acceptance.doctor import OK, examine
from publik_acceptance.evidence.probes.remote import SshPool
from publik_acceptance.plan import load_plan
from selftests.rig import Rig

from .suite_runner import ROOT, run_suite, variant


def _doctor(env_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", "doctor", f"--env={env_file}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_ready_platform_has_everything(rig: Rig) -> None:
    rig.up()
    done = _doctor(rig.sandbox.env_file)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "everything the environment needs is there" in out
    assert "✓ secrets" in out and "superuser_password" in out and "createdb.password" in out, out
    assert "✓ dns      resolver" in out and "✓ ssh" in out and ": tools: " in out, out
    assert rig.wcs_password() not in out + done.stderr


def test_missing_secret_key_file_and_host_key_are_each_named(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    data = yaml.safe_load(rig.sandbox.env_file.read_text())
    data["wcs"]["skeleton"]["createdb"]["password"] = {"env": "PUBLIK_DOCTOR_UNSET_PASSWORD"}
    bad_env = variant(rig.sandbox.env_file, tmp_path, wcs=data["wcs"],
                      ssh={"known_hosts": str(tmp_path / "empty_known_hosts")})
    (tmp_path / "empty_known_hosts").write_text("")
    done = _doctor(bad_env)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "✗ secrets" in out and "to do: set $PUBLIK_DOCTOR_UNSET_PASSWORD" in out, out
    assert "✗ ssh" in out and "host key unknown" in out, out
    assert "thing(s) missing" in out
    assert "Traceback" not in done.stderr, done.stderr


def test_a_missing_secret_is_said_the_same_way_everywhere(rig: Rig, tmp_path: Path) -> None:
    """doctor, the preflight and render name the key, the problem and the to-do in the same words."""
    rig.up()
    data = yaml.safe_load(rig.sandbox.env_file.read_text())
    data["wcs"]["skeleton"]["createdb"]["password"] = {"env": "PUBLIK_SELFTEST_UNSET_PASSWORD"}
    env = variant(rig.sandbox.env_file, tmp_path, wcs=data["wcs"])
    said = ("wcs.skeleton.createdb.password: environment variable PUBLIK_SELFTEST_UNSET_PASSWORD is not set; "
            "to do: set $PUBLIK_SELFTEST_UNSET_PASSWORD before the run")
    run = run_suite(env, tmp=tmp_path)
    failed = run.failed.get("test_secret_is_available[wcs.skeleton.createdb.password]", "")
    assert said in failed, run.describe()
    render = subprocess.run([sys.executable, "-m", "invoke", "render", f"--env={env}", f"--out={tmp_path / 'out'}"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert render.returncode == 4 and said in render.stderr + render.stdout, render.stderr
    doctor = _doctor(env)
    assert "environment variable PUBLIK_SELFTEST_UNSET_PASSWORD is not set" in doctor.stdout
    assert "to do: set $PUBLIK_SELFTEST_UNSET_PASSWORD before the run" in doctor.stdout


def test_one_ssh_command_per_server_and_each_list_tenants_right_is_checked(rig: Rig) -> None:
    """Every role of the sandbox is on one server: one SSH command asks everything (logins, sudo rights,
    each Django service's list_tenants, tools); each of those is reported per role all the same."""
    rig.up()
    plan = load_plan(rig.sandbox.env_file)
    pools: list[SshPool] = []

    def keep(env: Environment) -> SshPool:
        pools.append(SshPool(env))
        return pools[0]

    findings = examine(plan, keep)
    assert set(pools[0].stats.commands.values()) == {1}, pools[0].stats.commands
    assert len(pools[0].stats.commands) == len({pools[0].endpoint(r).label for r in plan.environment.servers})
    django = sorted({t.kind for t in plan.targets if t.list_tenants})
    assert django, "the sandbox has Django services"
    seen = {f.subject.rsplit(": ", 1)[-1]: f for f in findings if f.subject.endswith(" list_tenants")}
    assert sorted(seen) == [f"{kind} list_tenants" for kind in django], [f.subject for f in findings]
    assert all(f.state == OK for f in seen.values()), [f.lines() for f in seen.values()]


def test_a_list_tenants_the_login_may_not_run_is_named_with_its_key(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    data = yaml.safe_load(rig.sandbox.env_file.read_text())
    data["services"]["combo"]["list_tenants"] = "sudo -n -u publik-no-such-user combo-manage list_tenants"
    done = _doctor(variant(rig.sandbox.env_file, tmp_path, services=data["services"]))
    assert done.returncode == 1, done.stdout + done.stderr
    line = next((line for line in done.stdout.splitlines() if "combo list_tenants" in line), "")
    assert line.startswith("✗ ssh") and "needed for services.combo.list_tenants" in line, done.stdout
    assert "publik-no-such-user" in line, line  # sudo's own words: the unknown user
    assert "or set services.combo.list_tenants in" in done.stdout
