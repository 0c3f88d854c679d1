"""The run's deadline: once passed, every remaining check fails at once with a message saying so.

A real pytest run (subprocess) of a small test file: the first test outlives a 2 s --deadline, the
ones after it must fail without running (their bodies would write a marker file).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

from publik_acceptance.config.environment import CookSettings, PostdeploySettings, RunSettings
from publik_acceptance.judge.deadline import RunDeadline, default_seconds
from publik_acceptance.plan import load_plan

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

CHECKS = '''
import time
from pathlib import Path

def test_1_outlives_the_deadline():
    time.sleep(3)

def test_2_after_it():
    Path("ran-2").write_text("ran")

def test_3_after_it():
    Path("ran-3").write_text("ran")
'''


def pytest_run(directory: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args],
                          cwd=directory, capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def test_checks_after_the_deadline_fail_at_once_and_do_not_run(tmp_path: Path) -> None:
    (tmp_path / "test_checks.py").write_text(CHECKS)
    result = pytest_run(tmp_path, "--deadline=2", "--junitxml=junit.xml", "test_checks.py")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    cases = {case.get("name"): case for case in ET.parse(tmp_path / "junit.xml").iter("testcase")}
    assert len(cases["test_1_outlives_the_deadline"]) == 0, output  # passed: a running check is not cut
    for name in ("test_2_after_it", "test_3_after_it"):
        error = cases[name].find("error")
        assert error is not None, output
        assert "run deadline of 2 s passed (--deadline)" in (error.get("message") or ""), output
        assert "this check not started" in (error.get("message") or ""), output
    assert not (tmp_path / "ran-2").exists() and not (tmp_path / "ran-3").exists()


def test_within_the_deadline_nothing_changes(tmp_path: Path) -> None:
    (tmp_path / "test_quick.py").write_text("def test_quick():\n    pass\n")
    result = pytest_run(tmp_path, "--deadline=60", "test_quick.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_bad_deadline_option_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "test_quick.py").write_text("def test_quick():\n    pass\n")
    for value in ("0", "-5", "soon", "inf"):
        result = pytest_run(tmp_path, f"--deadline={value}", "test_quick.py")
        output = result.stdout + result.stderr
        assert result.returncode == 4, output
        assert "--deadline" in output and "Traceback" not in output


def test_where_the_deadline_comes_from() -> None:
    env = load_plan(CORPUS / "valid" / "environment.yml").environment
    assert RunDeadline.for_run(None, None) is None  # no environment, no option: pytest as usual
    assert RunDeadline.for_run(30, env).source == "--deadline"  # type: ignore[union-attr]
    default = RunDeadline.for_run(None, env)
    assert default is not None and default.seconds == 3600 and "default" in default.source
    given = RunDeadline.for_run(None, replace(env, run=RunSettings(deadline=120)))
    assert given is not None and given.seconds == 120 and given.source == "run.deadline in environment.yml"
    # A long cook timeout and postdeploy wait raise the default rather than cut the run after the cook.
    long = replace(env, cook=CookSettings(timeout=7200), postdeploy=PostdeploySettings(deadline=1800))
    assert default_seconds(long) == 7200 + 300 + 1800 + 600  # the cook's hard limit: timeout + kill_margin


def test_refusal_only_once_passed() -> None:
    deadline = RunDeadline(10, "--deadline")
    assert deadline.refusal("the cook") is None
    deadline.started -= 11
    refusal = deadline.refusal("the cook")
    assert refusal is not None and refusal.startswith("run deadline of 10 s passed (--deadline) after 11 s: the cook")
