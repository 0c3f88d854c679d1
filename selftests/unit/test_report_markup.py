"""What we hand pytest-html is escaped: the Test cell and every environment-table value, parsed the
way app.js inserts them (selftests/live_markup.py). The sandbox run is in integration/test_report_markup.py."""

from __future__ import annotations

import html
import importlib.metadata
import json

import pytest

from publik_acceptance.report import metadata, page

from ..live_markup import live_markup

MARKER = "pa-xss-unit"
PAYLOAD = f"<img src=x onerror=alert('{MARKER}')>"


def _report(environment: dict, rows: list[str]) -> str:
    """A page shaped like pytest-html 4's: the data blob app.js renders."""
    blob = {"environment": environment, "tests": {"t": [{"resultsTableRow": rows, "log": "", "extras": []}]}}
    return f'<div id="data-container" data-jsonblob="{html.escape(json.dumps(blob))}"></div>'


def test_the_test_id_cell_is_escaped() -> None:
    test_id = f"tests/preflight/test_hosts.py::test_ssh[{PAYLOAD}|root@127.0.0.15]::setup"
    cells = ['<td class="col-result">Failed</td>', f'<td class="col-testId">{test_id}</td>',
             '<td class="col-duration">5 ms</td>', '<td class="col-links"></td>']
    assert live_markup(_report({}, cells), MARKER), "the check itself must see pytest-html's raw cell"
    page.escape_test_id(test_id, cells)
    assert live_markup(_report({}, cells), MARKER) == []
    assert cells[1] == f'<td class="col-testId">{html.escape(test_id)}</td>'
    assert cells[0] == '<td class="col-result">Failed</td>'


def test_a_pytest_html_that_makes_its_test_cell_otherwise_stops_the_run_naming_its_version() -> None:
    """If pytest-html's Test cell is not the markup escape_test_id knows, the id would stay live markup:
    never silently."""
    test_id = f"tests/preflight/test_hosts.py::test_ssh[{PAYLOAD}]"
    cells = ['<td class="col-result">Failed</td>', f'<td class="col-testId" data-id="x">{test_id}</td>']
    with pytest.raises(page.ReportMarkupChanged) as raised:
        page.escape_test_id(test_id, cells)
    said = str(raised.value)
    assert f"pytest-html {importlib.metadata.version('pytest-html')} " in said, said
    assert '<td class="col-testId" data-id="x">' in said and "escape_test_id" in said, said
    assert PAYLOAD not in said  # the cells are named by their tags, not their content


def test_an_id_already_escaped_or_a_dropped_row_is_left_alone() -> None:
    test_id = f"t.py::test[{PAYLOAD}]"
    cells = [f'<td class="col-testId">{html.escape(test_id)}</td>']
    page.escape_test_id(test_id, cells)
    assert cells == [f'<td class="col-testId">{html.escape(test_id)}</td>']
    empty: list[str] = []
    page.escape_test_id(test_id, empty)
    assert empty == []


def test_every_environment_value_is_escaped_and_keys_stay_text() -> None:
    collected = {"Python": "3.11", "CI_COMMIT_REF_NAME": PAYLOAD, "Plugins": {PAYLOAD: PAYLOAD, "html": "4.2"},
                 "Tags": [PAYLOAD], "Workers": 4}
    assert live_markup(_report(collected, []), MARKER), "the check itself must see pytest-metadata's raw values"
    table = metadata.environment_table([("Ticket", PAYLOAD), ("Platform", "sandbox")], collected)
    assert live_markup(_report(table, []), MARKER) == []
    assert table["Ticket"] == html.escape(PAYLOAD) and table["Platform"] == "sandbox"
    assert table["CI_COMMIT_REF_NAME"] == html.escape(PAYLOAD) and table["Workers"] == 4
    assert list(table)[:2] == ["Ticket", "Platform"]  # ours first; pytest-metadata's Python follows
    # Made again from the collected values (at the end of the run): escaped once, never twice.
    again = metadata.environment_table([("Ticket", PAYLOAD)], collected)
    assert again["Ticket"] == html.escape(PAYLOAD) and "&amp;lt;" not in json.dumps(again)

