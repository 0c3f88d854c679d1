"""The report reads what a check declares (`@pytest.mark.report(column=…)`, its phase, its Target): a new
check shows in the per-service table with no edit in publik_acceptance/report/.

The real test runs the suite (a `python -m pytest --env=…` subprocess) from a copy of the project whose
tests/ holds only a few new checks; they need no server (a Target parameter, nothing probed).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from publik_acceptance.report.declared import declaration_problem
from publik_acceptance.report.outcomes import TestRecord
from publik_acceptance.report.targets import LAYOUT, columns

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "selftests" / "corpus" / "valid"

NEW_PREFLIGHT_CHECK = '''
import pytest

from publik_acceptance.plan import Target


@pytest.mark.report(column="fake before")
def test_fake_before(target: Target) -> None:
    if target.kind == "wcs":
        pytest.fail("the fake check fails on w.c.s.", pytrace=False)


def test_fake_undeclared(target: Target) -> None:
    """No column declared: in the run, in no cell."""
'''

NEW_POSTDEPLOY_CHECK = '''
import pytest

from publik_acceptance.plan import Target


@pytest.mark.report(column="fake after")
def test_fake_after(target: Target) -> None:
    if target.kind == "combo":
        pytest.skip("not applicable: the fake check has nothing to look at on combo")
'''

MISSPELT_CHECK = '''
import pytest


@pytest.mark.report(colum="fake before")
def test_misspelt(target) -> None:
    pass
'''


def record(column: str | None, phase: str = "preflight", target: str | None = "combo|a.test") -> TestRecord:
    return TestRecord("n", phase, "test_x", None, target, None, column=column)


def test_the_layout_comes_first_and_a_new_column_follows_its_phase() -> None:
    listed = [c for phase in LAYOUT.values() for c in phase]
    assert columns([]) == listed  # every listed column in every run: JSON keys stay stable
    found = columns([record("new after", "postdeploy"), record("new before"), record("DNS"),
                     record("no target", target=None), record(None), record("new before", "postdeploy")])
    assert found == [*LAYOUT["preflight"], "new before", *LAYOUT["postdeploy"], "new after"]


def _declared_columns() -> set[str]:
    """The columns the suite's checks declare, read from their marks as pytest stores them."""
    found = set()
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"suite_{path.parent.name}_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for function in vars(module).values():
            found.update(m.kwargs["column"] for m in getattr(function, "pytestmark", [])
                         if m.name == "report" and "column" in m.kwargs)
    return found


def test_every_listed_column_is_declared_by_a_check_of_the_suite() -> None:
    """A column renamed on its check would leave an empty column behind in the layout."""
    listed = {c for phase in LAYOUT.values() for c in phase}
    assert listed <= _declared_columns(), f"listed in report/targets.py LAYOUT, declared by no check: " \
                                          f"{sorted(listed - _declared_columns())}"


def _project_with(tmp: Path, checks: dict[str, str]) -> Path:
    """A copy of the project (package, conftest, pytest settings) whose suite is `checks` only."""
    project = tmp / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "publik_acceptance", project / "publik_acceptance", ignore=ignore)
    for name in ("conftest.py", "pyproject.toml"):
        shutil.copy(ROOT / name, project / name)
    for relative, text in checks.items():
        path = project / "tests" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    environment = yaml.safe_load((CORPUS / "environment.yml").read_text(encoding="utf-8"))
    environment["dns"]["resolvers"] = ["127.0.0.1"]  # never asked (nothing resolves), and never off this host
    (project / "environment.yml").write_text(yaml.safe_dump(environment), encoding="utf-8")
    shutil.copy(CORPUS / "recipe.json", project / "recipe.json")
    return project


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--env=environment.yml",
                           "--reports-dir=reports", "--no-screenshots", *args],
                          cwd=project, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "CORPUS_PASSWORD": "corpus-password", "PYTHONDONTWRITEBYTECODE": "1"})


def test_a_new_check_shows_in_the_per_service_table_without_a_report_edit(tmp_path: Path) -> None:
    project = _project_with(tmp_path, {"preflight/test_fake.py": NEW_PREFLIGHT_CHECK,
                                       "postdeploy/test_fake_after.py": NEW_POSTDEPLOY_CHECK})
    done = _run(project, "--phase", "all")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]  # the fake check fails on w.c.s.
    reports = project / "reports"
    summary = json.loads(next(reports.glob("*.json")).read_text(encoding="utf-8"))
    rows = {row["service"]: row["checks"] for row in summary["targets"]}
    assert rows, output[-3000:]
    expected = [*LAYOUT["preflight"], "fake before", *LAYOUT["postdeploy"], "fake after"]
    assert all(list(checks) == expected for checks in rows.values()), rows
    assert rows["wcs"]["fake before"]["state"] == "fail"
    assert "the fake check fails on w.c.s." in rows["wcs"]["fake before"]["detail"]
    assert rows["combo"]["fake before"] == {"state": "ok", "text": "✓", "detail": "passed", "checks": 1}
    assert rows["combo"]["fake after"]["state"] == "skip" and rows["combo"]["fake after"]["text"] == "not applicable"
    assert rows["wcs"]["fake after"]["state"] == "ok"
    assert all(checks["DNS"]["state"] == "none" for checks in rows.values())  # not in this run
    tests = {t["name"].split("[")[0]: t for t in summary["tests"]}
    assert tests["test_fake_undeclared"]["phase"] == "preflight" and tests["test_fake_after"]["phase"] == "postdeploy"
    assert tests["test_fake_undeclared"]["target"] in {row["target"] for row in summary["targets"]}

    page = next(reports.glob("*.html")).read_text(encoding="utf-8")
    table = page[page.index('class="pa-targets"'):]
    head = table[:table.index("</thead>")]
    assert "fake before" in head and "fake after" in head, head
    assert "DNS" not in head  # empty columns stay out of the HTML table
    assert head.index("fake before") < head.index("fake after")
    junit = ET.parse(next(reports.glob("*.xml"))).getroot()
    assert all(case.find("properties") is None for case in junit.iter("testcase")), \
        "the declarations reached the JUnit file"


def test_a_misspelt_declaration_stops_the_run_naming_the_check(tmp_path: Path) -> None:
    project = _project_with(tmp_path, {"preflight/test_misspelt.py": MISSPELT_CHECK})
    done = _run(project, "--phase", "preflight")
    output = done.stdout + done.stderr
    assert done.returncode == 4, output[-3000:]
    assert re.search(r"tests/preflight/test_misspelt\.py::test_misspelt\[[^]]+\]: @pytest\.mark\.report\(…\) "
                     r"unknown keyword colum \(known: column, wait, cook_log\)", output), output[-3000:]
    assert "Traceback" not in output


@pytest.mark.parametrize(("mark", "problem"), [
    (pytest.mark.report("DNS"), "takes keywords only, not 'DNS'"),
    (pytest.mark.report(column=""), "column must be a non-empty string, not ''"),
    (pytest.mark.report(wait=3), "wait must be a non-empty string, not 3"),
    (pytest.mark.report(cook_log="yes"), "cook_log must be True or False, not 'yes'"),
])
def test_other_bad_declarations_say_what_is_wrong(mark: pytest.MarkDecorator, problem: str) -> None:
    assert declaration_problem(mark.mark) == problem


def test_a_good_declaration_is_accepted() -> None:
    assert declaration_problem(pytest.mark.report(column="DNS", wait="tenant", cook_log=False).mark) is None
