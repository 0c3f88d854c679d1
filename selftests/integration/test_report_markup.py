"""A report cannot carry script: hostile values that still reach a real run show as text, never as markup.

Point 3 of issue 11 refuses markup in recipe and environment values at load time; these are the
values no validation refuses: the operator's `--ticket`, what a server answers (a leftover site's
title and body, quoted in a failure), CI variables that pytest-metadata copies into the environment
table (a branch name is chosen by whoever pushes it), and a server role's name, which becomes part
of a test id (test_ssh[<role>|<login>]). The HTML is parsed the way a
browser builds it, app.js fragments included (selftests/live_markup.py).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
import yaml

from publik_sandbox import frontend
from selftests.rig import Rig

from ..live_markup import live_markup
from .test_report import run_with_report

pytestmark = pytest.mark.sandbox

MARKER = "pa-xss-canary"
TICKET = f"CHG-1 <img src=x onerror=alert('{MARKER}-ticket')>"
BRANCH = f"<svg/onload=alert('{MARKER}-branch')>"  # a valid git branch name
ROLE = f"<img src=x onerror=alert('{MARKER}-role')>"
# Served by the frontends for the portal's hostname (fault http-already-200); nginx would expand `$`.
HOSTILE_PAGE = (f"<html><head><title><img src=x onerror=alert('{MARKER}-title')></title></head>"
                f"<body><script>alert('{MARKER}-body')</script><h1>Site en construction</h1></body></html>")


def test_hostile_values_show_as_text_never_as_markup(rig: Rig, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frontend, "LEFTOVER_PAGE", HOSTILE_PAGE)
    rig.up("http-already-200")
    monkeypatch.setenv("CI_COMMIT_REF_NAME", BRANCH)
    document = yaml.safe_load(rig.sandbox.env_file.read_text())
    document["servers"][ROLE] = document["servers"]["hobo"]  # one more role on the same server
    env_file = tmp_path / "hostile.yml"
    env_file.write_text(yaml.safe_dump(document))
    reports = tmp_path / "reports"
    reports.mkdir()
    run = run_with_report(env_file, reports, "--phase", "preflight", "--no-screenshots",
                          "--ticket", TICKET, "--metadata", "Reviewer", f"<b onmouseover=alert('{MARKER}-cli')>x</b>")
    assert run.exit_code == 1, run.console[-3000:]  # the leftover site fails test_http_404
    page = run.page
    assert MARKER + "-body" in page, "the hostile page did not reach the report: the test proves nothing"
    assert "test_http_404[" in page and "already answers" in page
    assert f"{MARKER}-role" in page and f"{MARKER}-branch" in page

    live = live_markup(page, MARKER)
    assert live == [], "live markup in the HTML report:\n" + "\n".join(live)

    # The reviewer still reads every value, as text.
    environment = run.blob()["environment"]
    assert environment["Ticket"] == html.escape(TICKET)
    assert environment["CI_COMMIT_REF_NAME"] == html.escape(BRANCH)
    assert html.escape(TICKET) in page  # the verdict box
    # JSON and JUnit hold data, not HTML: the ticket exactly as given.
    assert run.summary()["ticket"] == TICKET
    assert json.dumps(TICKET)[1:-1] in run.json.read_text(encoding="utf-8")
