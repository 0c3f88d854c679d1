"""A site's own checks (README "Site checks") against the sandbox: they get a testinfra `host` on the
run's own verified SSH connection, site preflight checks join the gate, site postdeploy checks run
after the cook, and both show in the report like ours.

Each case writes a site folder (preflight/, postdeploy/) in its temporary directory and points the
environment's `site_checks` at it; the shipped examples (docs/examples/site_checks/) are used as they
are, so they are proved to pass on a healthy platform.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from publik_acceptance.config.environment import load_environment
from publik_acceptance.evidence.probes.remote import RemoteError, SshPool
from publik_acceptance.evidence.testinfra_host import SuiteHosts
from publik_acceptance.report import compact
from selftests.rig import Rig

from .suite_runner import ROOT, run_suite, variant

EXAMPLES = ROOT / "docs" / "examples" / "site_checks"
WCS = "wcs|root@127.0.0.15"  # the sandbox's w.c.s. role, as a test id shows it

FAILING_PREFLIGHT = '''
import pytest


@pytest.mark.role("wcs")
def test_site_marker_file(host) -> None:
    path = "/nonexistent/publik-site-check-marker"
    assert host.file(path).exists, f"{path} is missing on the w.c.s. server: run the site's preparation first"
'''

# A postdeploy check that does not ask for `deployment`: still not run when the cook did not run.
AFTER_THE_COOK = '''
import pytest


@pytest.mark.role("hobo")
def test_site_after_the_cook(host) -> None:
    assert False, "a site postdeploy check ran although the cook did not"
'''


def _site(tmp: Path, preflight: dict[str, str] | None = None, postdeploy: dict[str, str] | None = None) -> Path:
    """A site folder with the given check files (name → text); the examples when none are given."""
    site = tmp / "site"
    for phase, files in (("preflight", preflight), ("postdeploy", postdeploy)):
        (site / phase).mkdir(parents=True)
        for name, text in (files or {}).items():
            (site / phase / name).write_text(text, encoding="utf-8")
    return site


def _with_examples(site: Path, *phases: str) -> Path:
    for phase in phases:
        for example in (EXAMPLES / phase).glob("test_*.py"):
            shutil.copy(example, site / phase / example.name)
    return site


def _env(rig: Rig, tmp: Path, site: Path) -> Path:
    return variant(rig.sandbox.env_file, tmp, site_checks=str(site))


def _summary(tmp: Path) -> dict:
    return json.loads(next((tmp / "reports").glob("*.json")).read_text())


def _junit_suites(tmp: Path) -> dict[str, set[str]]:
    """Test case names per <testsuite> of the run's JUnit file (--junitxml, restructured for the ticket)."""
    root = ET.parse(tmp / "junit.xml").getroot()
    return {suite.get("name", ""): {case.get("name", "") for case in suite.iter("testcase")}
            for suite in root.iter("testsuite")}


def _tests(summary: dict) -> dict[str, dict]:
    return {test["name"]: test for test in summary["tests"]}


def test_a_site_preflight_check_using_host_passes_and_shows_in_the_report(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    site = _with_examples(_site(tmp_path), "preflight")
    run = run_suite(_env(rig, tmp_path, site), "--phase", "preflight", tmp=tmp_path)
    names = {f"test_site_wcs_user_exists[{WCS}]", f"test_site_wcs_directory_not_world_writable[{WCS}]"}
    assert run.exit_code == 0 and names <= run.passed, run.describe() + run.output[-3000:]
    summary = _summary(tmp_path)
    tests = _tests(summary)
    for name in names:
        assert tests[name]["phase"] == "preflight" and tests[name]["outcome"] == "passed", tests[name]
        assert tests[name]["nodeid"].startswith("preflight/test_site_wcs_server.py::"), tests[name]["nodeid"]
    assert summary["gate"] == "open", summary["gate_detail"]
    assert summary["counts"]["passed"] == len(run.passed)  # counted in the verdict like ours
    assert names <= _junit_suites(tmp_path)["sandbox.preflight"]
    page = compact.readable(next((tmp_path / "reports").glob("*.html")).read_text())  # rows decoded
    assert "test_site_wcs_user_exists" in page and "id wcs" in page  # the command it ran, as evidence


def test_a_failing_site_preflight_check_closes_the_gate(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    site = _site(tmp_path, preflight={"test_site_marker.py": FAILING_PREFLIGHT},
                 postdeploy={"test_site_after.py": AFTER_THE_COOK})
    run = run_suite(_env(rig, tmp_path, site), "--phase", "all", tmp=tmp_path)
    name = f"test_site_marker_file[{WCS}]"
    after = "test_site_after_the_cook[hobo|root@127.0.0.15]"
    assert run.skipped.get(after, "").startswith("not run: the cook not run"), run.describe()  # as ours are
    assert set(run.failed) == {name}, run.describe() + run.output[-3000:]
    assert run.exit_code == 1  # as when one of our own preflight checks fails
    assert rig.sandbox.cook_invocations() == [], "a failed site preflight check let the cook run"
    message = "/nonexistent/publik-site-check-marker is missing on the w.c.s. server"
    assert message in run.failed[name]
    why = run.skipped["test_cook"]  # not run, as behind our own failed checks
    assert "gate closed" in why and f"{name}: failed: {message}" in why, why
    summary = _summary(tmp_path)
    assert summary["gate"] == "closed" and summary["cook"] == "not run", summary["gate_detail"]
    assert [entry["test"] for entry in summary["gate_blocking"]] == [name], summary["gate_blocking"]
    assert _tests(summary)[name]["phase"] == "preflight"


def test_a_site_preflight_check_left_out_by_paths_keeps_the_gate_closed(rig: Rig, tmp_path: Path) -> None:
    """The gate expects the site's preflight checks too: running only ours never opens it."""
    rig.up()
    site = _with_examples(_site(tmp_path), "preflight")
    run = run_suite(_env(rig, tmp_path, site), "--phase", "deploy", "tests/preflight", "tests/deploy", tmp=tmp_path)
    assert set(run.failed) == {"test_cook"} and run.exit_code == 1, run.describe() + run.output[-3000:]
    assert rig.sandbox.cook_invocations() == []
    not_run = {entry["test"]: entry["reason"] for entry in _summary(tmp_path)["gate_not_run"]}
    assert not_run == {f"test_site_wcs_user_exists[{WCS}]": "not collected",
                       f"test_site_wcs_directory_not_world_writable[{WCS}]": "not collected"}, not_run


def test_host_rides_on_the_runs_own_connection(rig: Rig, tmp_path: Path) -> None:
    """No connection of its own: the pool's one connection per server carries our commands and the Host's."""
    rig.up()
    env = load_environment(_env(rig, tmp_path, _site(tmp_path)))
    pool = SshPool(env)
    try:
        assert pool.run("hobo", "true").ok
        host = SuiteHosts(env, pool).get("wcs")
        assert host.user("wcs").exists and not host.user("no-such-user-here").exists
        assert host.file(env.server_path("/var/lib/wcs/skeletons")).user == "wcs"
        assert host.check_output("echo %s", "a b; c") == "a b; c"  # arguments quoted, never shell code
        assert dict(pool.stats.connections) == {"root@127.0.0.15:22": 1}, pool.stats.connections
        assert pool.stats.commands["root@127.0.0.15:22"] >= 5
    finally:
        pool.close()


def test_host_refuses_an_unknown_host_key_like_the_suite(rig: Rig, tmp_path: Path) -> None:
    rig.up("ssh-host-key-unknown")
    env_file = _env(rig, tmp_path, _with_examples(_site(tmp_path), "preflight"))
    env = load_environment(env_file)
    pool = SshPool(env)
    try:
        with pytest.raises(RemoteError) as ours:
            pool.run("wcs", "true")
        with pytest.raises(RemoteError) as theirs:
            SuiteHosts(env, pool).get("wcs").run("true")
    finally:
        pool.close()
    assert str(theirs.value) == str(ours.value) and "host key unknown" in str(ours.value), (theirs.value, ours.value)

    run = run_suite(env_file, "--phase", "preflight", tmp=tmp_path)
    name = f"test_site_wcs_user_exists[{WCS}]"
    assert name in run.failed and run.exit_code == 1, run.describe() + run.output[-3000:]
    assert str(ours.value) in run.failed[name], run.failed[name]
    assert "Traceback" not in run.failed[name] and "RemoteError" not in run.failed[name], run.failed[name]


SLOW_PREFLIGHT = '''
import pytest


@pytest.mark.role("hobo")
def test_site_slow_command(host) -> None:
    assert host.run("sleep 30").succeeded
'''


def test_a_site_command_is_bounded_by_the_command_timeout(rig: Rig, tmp_path: Path) -> None:
    """A command of `host` ends at ssh.command_timeout like ours, and fails with the pool's own message."""
    rig.up()
    site = _site(tmp_path, preflight={"test_site_slow.py": SLOW_PREFLIGHT})
    env_file = variant(_env(rig, tmp_path, site), tmp_path, ssh={"command_timeout": 2})
    run = run_suite(env_file, "--phase", "preflight", "-k", "test_site_slow_command", tmp=tmp_path, timeout=60)
    name = "test_site_slow_command[hobo|root@127.0.0.15]"
    assert set(run.failed) == {name}, run.describe() + run.output[-3000:]
    message = run.failed[name]
    assert "command did not finish within 2 s" in message and "sleep 30" in message, message
    assert "Traceback" not in message and "RemoteError" not in message, message


def test_a_site_postdeploy_check_runs_after_the_cook(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    site = _with_examples(_site(tmp_path), "preflight", "postdeploy")
    run = run_suite(_env(rig, tmp_path, site), "--phase", "all", tmp=tmp_path)
    assert run.exit_code == 0, run.describe() + run.output[-3000:]
    assert len(rig.sandbox.cook_invocations()) == 1
    summary = _summary(tmp_path)
    order = [test["name"].split("[")[0] for test in summary["tests"]]
    assert order.index("test_cook") < order.index("test_site_wcs_tenant_not_world_writable"), order
    wcs = [test for test in summary["tests"] if test["name"].startswith("test_site_wcs_tenant_not_world_writable")]
    assert [(t["phase"], t["outcome"], t["target"].split("|")[0]) for t in wcs] == [("postdeploy", "passed", "wcs")]
    row = next(row for row in summary["targets"] if row["service"] == "wcs")
    assert row["checks"]["site"]["state"] == "ok", row["checks"]  # its column in the per-service table
    assert {t["name"] for t in wcs} <= _junit_suites(tmp_path)["sandbox.postdeploy"]
