"""Site checks without servers: which role a check names, the sudo policy and quoting of `host` commands,
the phase of a file in the site's folder, JUnit's phase of a site check, the environment key, and (in a
collection-only run of a copy of the project) the `host` fixture being ours, not pytest-testinfra's.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra.host
import yaml

from publik_acceptance.config.environment import ServiceSettings, load_environment
from publik_acceptance.config.errors import ConfigError
from publik_acceptance.evidence.probes.privilege import privilege
from publik_acceptance.evidence.probes.remote import SshPool
from publik_acceptance.evidence.testinfra_host import SuiteBackend, role_for
from publik_acceptance.judge.gate import Gate, GateEntry
from publik_acceptance.pytest_plugin import SUITE_DIR, phase_of
from publik_acceptance.report.junit import _phase

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "selftests" / "corpus" / "valid"


@pytest.fixture
def env():  # -> Environment: roles hobo and database, both logging in as admin
    return load_environment(CORPUS / "environment.yml")


def test_a_role_is_a_server_role_or_a_service_kind(env) -> None:
    assert role_for(env, "hobo") == "hobo" and role_for(env, "database") == "database"
    assert role_for(env, "wcs") == "hobo"  # no wcs role: w.c.s. tenants live on hobo, as the Plan says
    moved = dataclasses.replace(env, services={"combo": ServiceSettings(server="database")})
    assert role_for(moved, "combo") == "database"
    assert role_for(env, "wcs-server") is None


def test_non_root_logins_run_commands_through_sudo_n(env) -> None:
    pool = SshPool(env)
    assert privilege(pool, "hobo").login == "admin" and privilege(pool, "hobo").sudo_for_root


def test_host_commands_are_quoted_and_never_wait_on_a_sudo_password(env) -> None:
    hostile = "/var/lib/wcs; touch /tmp/owned"
    backend = SuiteBackend(SshPool(env), "hobo", sudo=True)
    line = backend.get_command("stat -c %%a %s", hostile)
    assert shlex.split(line) == ["sudo", "-n", "/bin/sh", "-c", f"stat -c %a {shlex.quote(hostile)}"]
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    with host.sudo("wcs"):  # testinfra's own switch of user goes through sudo -n too
        outer = shlex.split(backend.get_command("id -un"))
    assert outer[:4] == ["sudo", "-n", "/bin/sh", "-c"]
    assert shlex.split(outer[4]) == ["sudo", "-n", "-u", "wcs", "/bin/sh", "-c", "id -un"]
    plain = SuiteBackend(SshPool(env), "hobo", sudo=False)
    assert plain.get_command("stat %s", hostile) == f"stat {shlex.quote(hostile)}"
    assert plain.get_pytest_id() == "hobo|admin@app1.example.test:22"


def test_the_phase_of_a_site_file_is_its_folder(tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert phase_of(SUITE_DIR / "preflight" / "test_dns.py", site) == "preflight"
    assert phase_of(site / "preflight" / "test_site_x.py", site) == "preflight"
    assert phase_of(site / "postdeploy" / "sub" / "test_site_x.py", site) == "postdeploy"
    assert phase_of(site / "deploy" / "test_site_x.py", site) is None  # a site never replaces the cook
    assert phase_of(site / "test_site_x.py", site) is None
    assert phase_of(site / "preflight" / "test_site_x.py") is None  # without the site, not a check of ours


def test_junit_reads_the_phase_from_the_folder() -> None:
    assert _phase("tests.preflight.test_tls") == "preflight"
    assert _phase("tests.preflight.test_hosts.TestClass") == "preflight"
    assert _phase("site_checks.postdeploy.test_site_x") == "postdeploy"
    assert _phase("preflight.test_site_x") == "preflight"  # a site folder outside the project
    assert _phase("test_site_x") == "other"


def test_the_gate_names_a_plain_asserts_message_not_the_tracebacks_first_line() -> None:
    message = "/srv/site is missing on the w.c.s. server: run the site's preparation first"
    try:
        raise AssertionError(message + "\nassert False")
    except AssertionError as exc:
        longrepr = pytest.ExceptionInfo.from_exception(exc).getrepr()
    gate = Gate(())
    gate.record(pytest.TestReport("preflight/test_site_x.py::test_site_x[wcs|a]", ("x.py", 1, "test_site_x"), {},
                                  "failed", longrepr, "call"))
    assert gate.blocking == [GateEntry("test_site_x[wcs|a]", "failed", message)]


def _environment(tmp: Path, **changes: object) -> Path:
    data = yaml.safe_load((CORPUS / "environment.yml").read_text(encoding="utf-8"))
    data["dns"]["resolvers"] = ["127.0.0.1"]  # never asked (nothing resolves), and never off this host
    data.update(changes)
    shutil.copy(CORPUS / "recipe.json", tmp / "recipe.json")
    path = tmp / "environment.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_site_checks_is_a_folder_taken_from_the_environment_files_directory(tmp_path: Path) -> None:
    (tmp_path / "ours" / "preflight").mkdir(parents=True)
    assert load_environment(_environment(tmp_path, site_checks="ours")).site_checks == tmp_path / "ours"
    assert load_environment(_environment(tmp_path)).site_checks is None
    with pytest.raises(ConfigError) as missing:
        load_environment(_environment(tmp_path, site_checks="theirs"))
    assert "site_checks" in str(missing.value) and "not found" in str(missing.value)


SITE_PREFLIGHT = '''
import pytest


@pytest.mark.role("wcs")
def test_site_on_wcs(host) -> None:
    pass


def test_site_everywhere(host) -> None:
    pass


@pytest.mark.services("combo")
def test_site_per_target(target, host) -> None:
    pass
'''


def _collect(tmp: Path, site_files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`pytest --collect-only` of a copy of the project whose suite is one trivial check, with a site folder."""
    project = tmp / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "publik_acceptance", project / "publik_acceptance", ignore=ignore)
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy(ROOT / name, project / name)
    (project / "tests" / "preflight").mkdir(parents=True)
    (project / "tests" / "preflight" / "test_ours.py").write_text("def test_ours(plan) -> None:\n    pass\n")
    for relative, text in site_files.items():
        path = project / "site" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    _environment(project, site_checks="site")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--env=environment.yml",
                           "--reports-dir=reports", "--no-screenshots", "--collect-only", "-q"],
                          cwd=project, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "CORPUS_PASSWORD": "corpus-password", "PYTHONDONTWRITEBYTECODE": "1"})


def test_site_checks_are_collected_with_ours_and_host_is_ours(tmp_path: Path) -> None:
    done = _collect(tmp_path, {"preflight/test_site_checks.py": SITE_PREFLIGHT,
                               "test_site_elsewhere.py": "def test_site_elsewhere() -> None:\n    pass\n",
                               "helpers/test_site_helper.py": "def test_site_helper() -> None:\n    pass\n"})
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    collected = {line.strip() for line in done.stdout.splitlines() if "::" in line}
    assert collected >= {
        "tests/preflight/test_ours.py::test_ours",
        # pytest-testinfra's own `host` would have made these `[local://]`, on a connection of its own
        "site/preflight/test_site_checks.py::test_site_on_wcs[hobo|admin@app1.example.test]",
        "site/preflight/test_site_checks.py::test_site_everywhere[database|admin@db1.example.test]",
        "site/preflight/test_site_checks.py::test_site_everywhere[hobo|admin@app1.example.test]",
    }, output[-3000:]
    per_target = [c for c in collected if "test_site_per_target[" in c]
    assert per_target and all("[combo|" in c for c in per_target), collected
    assert not any("elsewhere" in c or "helper" in c for c in collected), collected  # only preflight/, postdeploy/


def test_an_unknown_role_stops_the_run_naming_the_check(tmp_path: Path) -> None:
    check = '@__import__("pytest").mark.role("wsc")\ndef test_site_typo(host) -> None:\n    pass\n'
    done = _collect(tmp_path, {"preflight/test_site_typo.py": check})
    output = done.stdout + done.stderr
    assert done.returncode == 4 and "Traceback" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith("ERROR: ")]
    assert errors == ["ERROR: site/preflight/test_site_typo.py::test_site_typo: @pytest.mark.role('wsc'): no such "
                      "server role under servers: (database, hobo) and not a service kind"], output[-3000:]
