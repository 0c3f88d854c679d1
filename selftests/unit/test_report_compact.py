"""The light report (report/compact.py) on a page shaped like pytest-html 4's: every row and every check's
evidence decode back exactly, identical evidence is stored once, failures are written out above the list
(their rows link to them), a server's hostile text stays text, and the data block cannot end its script.
With Chromium installed, the page is opened for real: the loader hands app.js its rows and fills open rows."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from publik_acceptance.report import compact, screenshots
from publik_acceptance.report.render import anchor, esc

from ..live_markup import live_markup

MARKER = "pa-xss-compact"
HOSTILE = f"</script><!-- <img src=x onerror=alert('{MARKER}')> -->"  # as a server might answer it
CLICK = ("<script>addEventListener('load',function(){"
         "document.querySelector('#results-table tbody.passed td.col-testId').click()})</script>")
RESOURCES = Path(__file__).resolve().parents[2] / ".tox/selftest/lib/python3.11/site-packages/pytest_html/resources"


def _evidence(test: str, text: str) -> str:
    """Evidence as render.evidence_html writes it: escaped text, an anchor id."""
    return (f'<div class="pa-evidence" id="{anchor(test)}"><section class="pa-ev pa-ev-http "><h4>HTTP</h4>'
            f"<dl><dt>body</dt><dd><code>{esc(text)}</code></dd></dl></section></div>")


def _row(test: str, result: str, evidence: str, log: str = "") -> dict:
    node = f"tests/preflight/test_http.py::{test}"
    cells = [f'<td class="col-result">{result}</td>', f'<td class="col-testId">{html.escape(node)}</td>',
             '<td class="col-duration">12 ms<br><span class="pa-note">its evidence, gathered in the shared '
             "preflight probes; judged in 1 ms</span></td>"]
    return {"extras": [{"name": None, "format_type": "html", "content": evidence, "mime_type": None,
                        "extension": None}] if evidence else [],
            "result": result, "testId": node, "duration": "12 ms", "resultsTableRow": cells, "log": log}


def _data() -> dict:
    same = "<!doctype html> Not Found"  # two passed checks whose evidence says the same
    tests = {
        "t::test_http_404[a|x.test|127.0.0.11]": [_row("test_http_404[a|x.test|127.0.0.11]", "Passed",
                                                       _evidence("ignored-1", same).replace(
                                                           f' id="{anchor("ignored-1")}"', ""))],
        "t::test_http_404[a|x.test|127.0.0.12]": [_row("test_http_404[a|x.test|127.0.0.12]", "Passed",
                                                       _evidence("ignored-2", same).replace(
                                                           f' id="{anchor("ignored-2")}"', ""))],
        "t::test_http_404[b|y.test|127.0.0.11]": [_row("test_http_404[b|y.test|127.0.0.11]", "Failed",
                                                       _evidence("test_http_404[b|y.test|127.0.0.11]", HOSTILE),
                                                       html.escape("captured: <b>boom</b>") + "\n")],
        "t::test_dns[c|z.test]": [_row("test_dns[c|z.test]", "Passed",
                                       _evidence("test_dns[c|z.test]", "A 127.0.0.11"))],
        "t::test_secret_is_available": [_row("test_secret_is_available", "Skipped", "")],
    }
    return {"environment": {"Platform": "sandbox", "Ticket": html.escape(HOSTILE), "Workers": 4,
                            "Plugins": {"html": "4.2.0"}},
            "tests": tests, "renderCollapsed": ["passed"], "initialSort": "result", "title": "report"}


def _page(data: dict) -> str:
    """pytest-html 4's page, its own template and app.js around our data (Jinja's escaping of the blob)."""
    template = (RESOURCES / "index.jinja2").read_text()
    blob = json.dumps(data).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        '"', "&#34;").replace("'", "&#39;")
    body = template[template.index("<body>"):]
    body = re.sub(r"\{%-? if self_contained %\}.*?\{%-? endif %\}", "", body, flags=re.S)
    body = body.replace("{{ test_data }}", blob).replace('{% include "app.js" %}', (RESOURCES / "app.js").read_text())
    body = re.sub(r"\{%-? for th in table_head %\}.*?\{%-? endfor %\}",
                  '<th class="sortable" data-column-type="result">Result</th><th class="sortable" '
                  'data-column-type="testId">Test</th><th class="sortable" data-column-type="duration">Duration</th>',
                  body, flags=re.S)
    body = re.sub(r"\{%-? for p in additional_summary\['prefix'\] %\}.*?\{%-? endfor %\}",
                  '<div class="pa-verdict-box">verdict</div>' + compact.ALL_CHECKS, body, flags=re.S)
    body = re.sub(r"\{%-? for .*?\{%-? endfor %\}", "", body, flags=re.S)
    body = body.replace("{{ table_head|length }}", "3")
    body = re.sub(r"\{\{[^}]*\}\}", "", body)
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"/><title>report</title></head>{body}'


def _stripped(extras: list[dict]) -> str:
    return compact.CHECK_ID.sub("", "".join(e["content"] for e in extras), count=1)


def test_every_row_and_its_evidence_decode_back_exactly() -> None:
    data = _data()
    light = compact.compact(_page(data))
    assert 'data-jsonblob="' not in light and compact.BLOB.search(light) is None
    decoded = compact.decode(light)
    assert decoded is not None
    assert decoded["environment"] == data["environment"] and decoded["renderCollapsed"] == ["passed"]
    assert list(decoded["tests"]) == list(data["tests"])
    for node, rows in data["tests"].items():
        (row,), (back,) = rows, decoded["tests"][node]
        assert back["resultsTableRow"] == row["resultsTableRow"] and back["testId"] == row["testId"]
        if row["result"] == "Passed" and row["extras"]:
            assert _stripped(back["extras"]) == _stripped(row["extras"])  # decoded when the row is opened
        elif row["result"] == "Failed":  # written out above the list, once: its row links there
            (link,) = back["extras"]
            assert "Failed checks</a>, above" in link["content"] and back["log"] == ""
        else:
            assert back["extras"] == []


def test_identical_evidence_is_stored_once_and_failures_are_written_out() -> None:
    light = compact.compact(_page(_data()))
    found = re.search(rf'id="{compact.EVIDENCE_ID}">(.*?)</script>', light, re.S)
    assert found is not None
    codes = json.loads(found.group(1))
    assert len(codes) == 2 and len(set(codes)) == 2  # two passed checks share one: 3 passed, 2 blocks
    failed = "test_http_404[b|y.test|127.0.0.11]"
    written = light[light.index(compact.FAILURES_HEADING):light.index(compact.ALL_CHECKS)]
    assert written.count(f'id="{anchor(failed)}"') == 1 and light.count(f'id="{anchor(failed)}"') == 1
    assert written.count(html.escape(HOSTILE)) == 1 and "captured: " in written  # its evidence and its log
    assert light.index(compact.FAILURES_HEADING) < light.index('id="results-table"')


def test_the_data_block_cannot_end_its_script_and_hostile_text_stays_text() -> None:
    light = compact.compact(_page(_data()))
    for block in re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', light, re.S):
        assert "<" not in block  # so neither `</script>` nor `<!--` (its data holds both, escaped)
        json.loads(block)
    assert live_markup(light, MARKER) == []
    assert 'href="https://' not in light and 'src="http' not in light  # pytest-html's link to PyPI is text


def test_an_undecodable_file_name_byte_is_written_as_its_escape() -> None:
    data = _data()
    node = "tests/site/test_\udc80.py::test_x"  # a lone surrogate, as os.fsdecode keeps a byte that is not UTF-8
    data["tests"][node] = [{**_row("test_x", "Passed", _evidence("test_x", "ok")), "testId": node}]
    written = compact.light_file(_page(data))
    back = compact.decode(written.decode("utf-8"))
    assert back is not None and back["tests"][node][0]["testId"] == node


def test_the_readable_text_has_every_row_s_evidence_for_a_search() -> None:
    light = compact.compact(_page(_data()))
    assert "A 127.0.0.11" not in light  # cut into words in the file
    text = compact.readable(light)
    assert "A 127.0.0.11" in text and "test_dns[c|z.test]" in text and "judged in 1 ms" in text
    assert text.count("&lt;!doctype html&gt; Not Found") == 2  # each row's, as a reader opening both sees it


def test_a_page_that_is_not_pytest_html_s_is_left_alone() -> None:
    page = "<html><body><p>no data</p></body></html>"
    assert compact.compact(page) == page and compact.decode(page) is None


def test_references_are_short_and_expand_back() -> None:
    table = [f"piece{i}" for i in range(5000)]
    for index in (0, 59, 60, 1919, 1980, 4999):
        code = compact.reference(index)
        assert len(code) == (1 if index < 60 else 2 if index < 60 + 31 * 60 else 3)
        assert compact.expand(code, table) == table[index]
        assert not set(code) & set('"\\<')


@pytest.mark.skipif(screenshots.find_chromium() is None or isinstance(screenshots.launcher(), str),
                    reason="no Chromium to open the page with")
def test_in_chromium_the_loader_hands_app_js_its_rows_and_fills_open_rows() -> None:
    light = compact.compact(_page(_data()))
    launch = screenshots.launcher()
    assert not isinstance(launch, str)
    binary = screenshots.find_chromium()
    with tempfile.TemporaryDirectory() as tmp:
        page, clicked = Path(tmp) / "report.html", Path(tmp) / "clicked.html"
        page.write_text(light, encoding="utf-8")
        clicked.write_text(light.replace("</body>", CLICK + "</body>", 1), encoding="utf-8")
        for path in (Path(tmp), page, clicked):
            if launch.owner is not None:
                os.chown(path, *launch.owner)
        dom = {}
        # As written (passed rows closed), every row open, and a reader's click on the first passed row
        # (its timers run: --virtual-time-budget).
        for key, url in (("closed", page.as_uri()), ("opened", page.as_uri() + "?collapsed="),
                         ("clicked", clicked.as_uri())):
            done = subprocess.run([*launch.prefix, str(binary), "--headless", "--disable-gpu", "--no-first-run",
                                   f"--user-data-dir={Path(tmp) / 'profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
                                   "--virtual-time-budget=3000", "--dump-dom", url], capture_output=True, text=True,
                                  timeout=60, check=False, cwd=tmp, env=screenshots.environment(Path(tmp)))
            dom[key] = done.stdout
    closed, opened, clicked_dom = dom["closed"], dom["opened"], dom["clicked"]
    assert len(re.findall(r'class="results-table-row (passed|failed|skipped)"', closed)) == 5, closed[-3000:]
    assert "test_dns[c|z.test]" in closed and "A 127.0.0.11" not in closed  # not rendered until opened
    assert "A 127.0.0.11" in opened and opened.count("&lt;!doctype html&gt; Not Found") == 2
    assert MARKER in opened and live_markup(opened, MARKER) == []  # the page as rendered: text, no element
    # The failure's evidence is written out (one section), a click renders one passed row's: two.
    assert closed.count('<section class="pa-ev ') == 1 and clicked_dom.count('<section class="pa-ev ') == 2
