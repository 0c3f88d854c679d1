"""The change-ticket report of real sandbox runs: what a reviewer sees, and that no secret gets out.

A healthy `--phase all` run with a canary superuser password must produce an HTML, a JUnit XML and
a JSON summary that say who ran what on what, with the verdict, one row per Target and the evidence
of every kind of check, and hold the canary nowhere (nor the console). A closed gate must show in the
verdict box with its failing checks; a secret smuggled into a report must fail the run loudly.
"""

from __future__ import annotations

import getpass
import html
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from publik_acceptance.report import compact, screenshots
from publik_acceptance.report import page as report_page
from publik_acceptance.report.redaction import LEAK_SUFFIX, leak_forms
from publik_acceptance.report.render import anchor
from selftests.rig import Rig

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]
CANARY = f"Canary-Superuser-{secrets.token_hex(8)}"
SCHEMA_KEYS = {"schema_version", "platform", "ticket", "gate", "cook", "postdeploy", "counts", "tests"}
TEST_KEYS = {"nodeid", "phase", "target", "outcome", "duration", "message"}
EVIDENCE_KINDS = ("verdict", "dns", "tls", "http", "remote", "command", "database", "wait", "cook")
MAX_HTML_BYTES = 3 * 1024 * 1024


@dataclass
class ReportRun:
    exit_code: int
    console: str
    html: Path
    xml: Path
    json: Path

    @property
    def page(self) -> str:
        return self.html.read_text(encoding="utf-8")

    def blob(self) -> dict:
        """pytest-html's data: per-test rows and extras (each row's evidence), the environment table, as
        the report's loader decodes them in the browser (report/compact.py)."""
        data = compact.decode(self.page)
        assert data is not None, "no data block in the HTML report"
        return data

    def summary(self) -> dict:
        return json.loads(self.json.read_text(encoding="utf-8"))


def run_with_report(env_file: Path, reports: Path, *args: str) -> ReportRun:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--env={env_file}",
               f"--reports-dir={reports}", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    found = {p.suffix: p for p in reports.glob("*") if p.suffix in (".html", ".xml", ".json")}
    assert set(found) == {".html", ".xml", ".json"}, (sorted(reports.glob("*")), done.stdout[-3000:], done.stderr)
    return ReportRun(done.returncode, done.stdout + done.stderr, found[".html"], found[".xml"], found[".json"])


@pytest.fixture(scope="module")
def healthy(rig: Rig, tmp_path_factory: pytest.TempPathFactory) -> ReportRun:
    """One whole run (all phases, ticket CHG-4242) on the healthy sandbox, its superuser password a canary
    that no report may show: the console and the three reports it wrote."""
    rig.up()
    rig.paths.superuser_password.write_text(CANARY + "\n")
    reports = tmp_path_factory.mktemp("reports")
    return run_with_report(rig.sandbox.env_file, reports, "--phase", "all", "--ticket", "CHG-4242")


def test_a_run_writes_html_junit_and_json_named_after_platform_and_time(healthy: ReportRun) -> None:
    assert healthy.exit_code == 0, healthy.console[-3000:]
    stem = healthy.html.stem
    assert re.fullmatch(r"sandbox-\d{8}T\d{6}Z", stem), stem
    assert healthy.xml.stem == stem and healthy.json.stem == stem
    for path in (healthy.html, healthy.xml, healthy.json):
        assert str(path) in healthy.console, f"{path} is not printed at the end of the run"
    assert "Deployed and verified" in healthy.console


def test_the_canary_password_is_in_no_output(healthy: ReportRun, rig: Rig) -> None:
    wcs_password = rig.wcs_password()
    produced = [p for p in healthy.html.parent.iterdir() if p.is_file()]
    assert not [p for p in produced if p.name.endswith(LEAK_SUFFIX)]
    for secret in (CANARY, wcs_password):
        forms = leak_forms(secret)
        assert not [f for f in forms if f in healthy.console], "a secret reached the console"
        for path in produced:
            text = path.read_text(encoding="utf-8", errors="replace")
            assert not [f for f in forms if f in text], f"a secret is in {path.name}"
    assert "secret scan:" in healthy.console and "found in none of the files" in healthy.console


def test_the_html_opens_without_network_and_stays_small(healthy: ReportRun) -> None:
    page = healthy.page
    assert healthy.html.stat().st_size < MAX_HTML_BYTES
    everything = page + json.dumps(healthy.blob())
    assert not re.search(r"<link\b|<script[^>]+\bsrc=|@import|url\(\s*['\"]?(https?:)?//", everything, re.I)
    sources = re.findall(r"""\bsrc\s*=\s*["']([^"']*)["']""", page + "".join(
        e["content"] for rows in healthy.blob()["tests"].values() for row in rows for e in row["extras"]))
    assert all(s == "" or s.startswith("data:") for s in sources), sources


def assert_counts_agree(run: ReportRun) -> None:
    """Every place that counts checks says the same numbers: the verdict box, pytest-html's line over the
    list and its filters, the list's rows, JUnit, the JSON summary and the per-service table's note."""
    data = run.summary()
    counts = data["counts"]
    text = report_page.count_text(counts)
    document = run.page
    box = document[document.index('class="pa-verdict-box'):document.index('<h3 class="pa-section">Per service')]
    assert text in box, box[-1500:]
    assert re.search(rf'<p class="run-count">{re.escape(text)}, in \d', document), \
        re.findall(r'<p class="run-count">.*?</p>', document)
    for outcome, css, label in (("passed", "passed", "Passed"), ("failed", "failed", "Failed"),
                                ("skipped", "skipped", "Skipped"), ("error", "error", "Errors")):
        assert re.search(rf'<span class="{css}">{counts[outcome]} {label}\b', document), (outcome, counts)
    rows = run.blob()["tests"]
    assert len(rows) == counts["total"] == len(data["tests"])
    assert sum(pc["total"] for pc in data["phase_counts"].values()) == counts["total"]
    root = ET.parse(run.xml).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == tuple(
        str(counts[k]) for k in ("total", "failed", "error", "skipped"))
    covered = sum(c["checks"] for row in data["targets"] for c in row["checks"].values())
    assert 0 < covered <= sum(1 for t in data["tests"] if t["target"])
    assert (f"{covered} of the run&#x27;s {counts['total']} checks are about one service" in document
            and f"the other {counts['total'] - covered} " in document)


def test_every_count_of_the_report_agrees(healthy: ReportRun) -> None:
    assert healthy.summary()["counts"]["skipped"] > 0, "a run with a skipped check shows the difference"
    assert_counts_agree(healthy)


def test_nothing_depends_on_hovering(healthy: ReportRun) -> None:
    everything = healthy.page + json.dumps(healthy.blob())
    assert not re.search(r"\btitle\s*=", everything), re.findall(r".{60}\btitle\s*=.{60}", everything)[:3]


def test_the_header_says_who_ran_what_on_what(healthy: ReportRun) -> None:
    environment = healthy.blob()["environment"]
    for key in ("Platform", "Instances", "Phases", "Ticket", "Operator", "Suite version", "Environment file",
                "Tools", "Started", "Finished"):
        assert key in environment, f"{key} missing from the environment table: {list(environment)}"
    assert environment["Platform"] == "sandbox" and environment["Ticket"] == "CHG-4242"
    assert environment["Operator"] == f"{getpass.getuser()}@{socket.gethostname()}"  # never a placeholder
    assert re.search(r"[0-9a-f]{40} \((clean|dirty: uncommitted changes)\)", environment["Suite version"])
    assert re.search(r"SHA-256 [0-9a-f]{64}", environment["Environment file"])
    assert any(k.startswith("Recipe ") and re.search(r"SHA-256 [0-9a-f]{64}", v) for k, v in environment.items())
    for tool in ("python", "pytest", "publik-acceptance", "paramiko", "dnspython", "cryptography"):
        assert tool in environment["Tools"]
    assert re.search(r"\(\d+\.\d s\)", environment["Finished"])  # the duration
    assert "Publik acceptance — sandbox — all phases — CHG-4242" in healthy.page


def test_the_verdict_comes_first_with_one_row_per_target(healthy: ReportRun, rig: Rig) -> None:
    page = healthy.page
    box = page[page.index('class="pa-verdict-box'):]
    assert box.index("Deployed and verified") < box.index("Per service")
    assert page.index("pa-verdict-box") < page.index('id="results-table"')
    for label, value in (("gate", "open"), ("cook", "ran — exit 0"), ("postdeploy", "passed")):
        assert re.search(rf"<b>{label}</b>{value}", box), label
    table = box[box.index('class="pa-targets"'):box.index("</table>")]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>(.*?)</tr>", table)
    hosts = {s.host for s in rig.services()}
    assert {r[2] for r in rows} == hosts and len(rows) == len(hosts)
    for _, _, host, cells in rows:
        states = re.findall(r'<td class="(\w+)">', cells)  # "none": a column not about this service
        assert set(states) <= {"ok", "none"} and states.count("ok") >= 7, f"{host}: {cells}"
        assert re.search(r"<td>\d+\.\d s</td>$", cells), f"{host}: no time-to-ready"


def test_every_kind_of_check_shows_its_evidence(healthy: ReportRun) -> None:
    extras = {nodeid: "".join(e["content"] for row in rows for e in row["extras"])
              for nodeid, rows in healthy.blob()["tests"].items()}
    seen = {kind for text in extras.values() for kind in EVIDENCE_KINDS
            if f"pa-ev-{kind}" in text or (kind == "verdict" and "pa-verdict" in text)}
    assert seen == set(EVIDENCE_KINDS)
    tls = next(t for n, t in extras.items() if "test_tls[" in n)
    for label in ("subject", "issuer", "SANs", "valid", "days left", "SHA-256"):
        assert f"<dt>{label}</dt>" in tls
    page = next(t for n, t in extras.items() if "test_page[" in n)
    assert "pa-hops" in page and "verified" in page
    cook = next(t for n, t in extras.items() if n.endswith("::test_cook"))
    assert "cook log, redacted" in cook and "(password set)" in cook
    assert "{'" not in "".join(extras.values())  # no Python reprs


def test_junit_has_one_suite_per_phase_and_readable_names(healthy: ReportRun) -> None:
    root = ET.parse(healthy.xml).getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["sandbox.preflight", "sandbox.deploy", "sandbox.postdeploy"]
    names = [c.get("name", "") for c in root.iter("testcase")]
    assert len(names) == len(set(names)), "duplicate test names collapse in CI tools"
    assert any(re.fullmatch(r"test_tls\[combo\|[a-z0-9.-]+\|127\.0\.0\.1[12]\]", n) for n in names)
    for phase, suite in suites.items():
        assert all(c.get("classname", "").startswith(phase + ".") for c in suite.iter("testcase"))
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["gate"] == "open" and props["ticket"] == "CHG-4242"
    assert root.get("failures") == "0" and root.get("errors") == "0"


def test_the_json_summary_keeps_its_contract(healthy: ReportRun, rig: Rig) -> None:
    data = healthy.summary()
    assert set(data) >= SCHEMA_KEYS
    assert data["schema_version"] == 1 and data["platform"] == "sandbox" and data["ticket"] == "CHG-4242"
    assert (data["gate"], data["cook"], data["postdeploy"]) == ("open", "ran", "passed")
    counts = data["counts"]
    assert counts["total"] == len(data["tests"]) == counts["passed"] + counts["failed"] + counts["error"] + \
        counts["skipped"]
    assert counts["failed"] == 0
    targets = {f"{s.kind}|{s.host}" for s in rig.services()}
    for test in data["tests"]:
        assert set(test) >= TEST_KEYS
        assert test["phase"] in ("preflight", "deploy", "postdeploy")
        assert test["outcome"] in ("passed", "failed", "error", "skipped")
        assert test["target"] is None or test["target"] in targets
    assert {t["target"] for t in data["tests"] if t["target"]} == targets
    assert all(row["time_to_ready"] is not None for row in data["targets"])


def test_screenshots_of_the_portals_and_login_page_when_chromium_is_there(healthy: ReportRun) -> None:
    shots = healthy.summary()["screenshots"]
    if shutil.which("chromium") is None:
        assert shots == [] and "Chromium is not installed" in healthy.page
        return
    kinds = {s["target"].split("|")[0] for s in shots}
    assert kinds == {"combo", "authentic"} and all(s["taken"] for s in shots), shots
    assert {s["why"] for s in shots} == {screenshots.PORTAL}
    assert healthy.page.count('src="data:image/png;base64,') == len(shots)


def test_the_report_renders_in_a_browser(healthy: ReportRun, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Chromium is not installed")
    png = tmp_path / "report.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
                        "--window-size=1300,1600", f"--screenshot={png}", healthy.html.as_uri()],
                       capture_output=True, timeout=60, check=False)
    assert png.exists() and png.stat().st_size > 20_000
    keep = os.environ.get("PUBLIK_REPORT_SCREENSHOT")
    if keep:  # to look at it: PUBLIK_REPORT_SCREENSHOT=/tmp/report.png pytest selftests -k renders
        shutil.copy(png, keep)


def test_a_closed_gate_shows_in_the_verdict_with_its_failing_checks(rig: Rig, tmp_path: Path) -> None:
    rig.up("tls-expired")
    authentic = rig.service("authentic")
    run = run_with_report(rig.sandbox.env_file, tmp_path, "--phase", "all")
    assert run.exit_code == 1, run.console[-3000:]
    box = run.page[run.page.index('class="pa-verdict-box'):run.page.index('<h3 class="pa-section">Per service')]
    assert "Not deployed: the preflight gate is closed" in box
    assert re.search(r"<b>gate</b>closed", box) and re.search(r"<b>cook</b>not run", box)
    for address in rig.frontends:
        assert f"test_tls[authentic|{authentic.host}|{address}]" in box
    assert "expired" in box
    data = run.summary()
    assert (data["gate"], data["cook"], data["postdeploy"]) == ("closed", "not run", "not run")
    assert {b["test"] for b in data["gate_blocking"]} == {
        f"test_tls[authentic|{authentic.host}|{a}]" for a in rig.frontends}, run.console[-4000:]
    assert "gate closed" in run.console
    assert_counts_agree(run)
    # each failure's line in the verdict box links to its evidence, shown once, in the list of checks
    links = re.findall(r'href="#(pa-check-[0-9a-f]{16})"', box)
    extras = "".join(e["content"] for rows in run.blob()["tests"].values() for row in rows for e in row["extras"])
    failures = run.page[run.page.index(compact.FAILURES_HEADING):run.page.index(compact.ALL_CHECKS)]
    assert len(links) == len(rig.frontends) and all(failures.count(f'id="{link}"') == 1 and f'id="{link}"' not in
                                                    extras for link in links), links


@pytest.fixture(scope="module")
def portal_error(rig: Rig, tmp_path_factory: pytest.TempPathFactory) -> ReportRun:
    """A whole run where the portal answers 500 after the cook: two failed postdeploy page checks."""
    rig.up("portal-error")
    return run_with_report(rig.sandbox.env_file, tmp_path_factory.mktemp("reports"), "--phase", "all")


def _rows_of(run: ReportRun, name: str) -> list[dict]:
    return [row for nodeid, rows in run.blob()["tests"].items() if nodeid.endswith("::" + name) for row in rows]


def test_a_failure_s_evidence_appears_once_and_the_verdict_box_links_to_it(portal_error: ReportRun, rig: Rig) -> None:
    assert portal_error.exit_code == 1, portal_error.console[-3000:]
    combo = rig.service("portal-user")
    failed = [t for t in portal_error.summary()["tests"] if t["outcome"] == "failed"]
    assert {t["name"] for t in failed} == {f"test_page[combo|{combo.host}|{a}]" for a in rig.frontends}, failed
    page = portal_error.page
    written = page[page.index(compact.FAILURES_HEADING):page.index(compact.ALL_CHECKS)]  # readable without JS
    for test in failed:
        (row,) = _rows_of(portal_error, test["name"])
        extras = "".join(e["content"] for e in row["extras"])
        name = html.escape(test["name"])
        (entry,) = [e for e in written.split('<section class="pa-failure"')[1:] if f"{name}</code>" in e]
        todo = html.escape(test["message"].split("to do:", 1)[1].splitlines()[0].strip())
        # pytest's failure text (the longrepr) does not repeat the conclusion under it, nor does the row
        assert "expected:" not in entry and not row["log"], row["log"]
        assert entry.count(todo) == 1, entry  # the conclusion, not again in the wait box
        assert entry.count("final page title") == 1 and 'id="pa-check-' in entry
        assert todo not in extras and "Failed checks</a>, above" in extras  # its row links to it
        # the check took no time itself: its cell says how long its evidence took, and where
        cell = row["resultsTableRow"][2]
        assert re.fullmatch(r'<td class="col-duration">[1-9]\d* ms<br><span class="pa-note">its evidence, gathered '
                            r"in the shared postdeploy wait; judged in \d+ ms</span></td>", cell), cell
        assert test["evidence_duration"] > 0
    assert_counts_agree(portal_error)


def test_the_light_report_keeps_each_evidence_block_once_and_fetches_nothing(portal_error: ReportRun) -> None:
    """Issue 16: every check's evidence is in the file once (a failure's written out above the list, the
    others in the compact block, identical ones shared), pytest-html's escaped copy of it is gone, and no
    src or href leaves the file: the platform's URLs are text."""
    page = portal_error.page
    assert 'data-jsonblob="' not in page and compact.FAILURES_HEADING in page
    data = portal_error.blob()
    rows = [(nodeid, row) for nodeid, rows in data["tests"].items() for row in rows]
    block = re.search(rf'id="{compact.EVIDENCE_ID}">(.*?)</script>', page, re.S)
    assert block is not None, "no evidence block"
    codes = json.loads(block.group(1))
    assert len(codes) == len(set(codes)), "an evidence block is stored twice"
    stored = compact.decode(page, fill=False)
    assert stored is not None
    slots = [row[compact.SLOT] for rows in stored["tests"].values() for row in rows if compact.SLOT in row]
    assert sorted(set(slots)) == list(range(len(codes)))  # every block stored is some row's, none left over
    failures = page[page.index(compact.FAILURES_HEADING):page.index(compact.ALL_CHECKS)]
    failed = [t["name"] for t in portal_error.summary()["tests"] if t["outcome"] == "failed"]
    assert failures.count('<section class="pa-failure"') == len(failed) > 0
    for name in failed:  # its evidence (anchored) once in the whole file, decoded or not
        assert page.count(f'id="{anchor(name)}"') == 1
        assert f'id="{anchor(name)}"' not in "".join(e["content"] for _, row in rows
                                                                  for e in row["extras"])
    shown = page + "".join(e["content"] for _, row in rows for e in row["extras"]) + json.dumps(data["environment"])
    assert "https://" in shown  # the platform's URLs are there, as text
    for attribute, value in re.findall(r"""\b(src|href)\s*=\s*["']([^"']*)["']""", shown):
        assert value.startswith("#") or value.startswith("data:image/") or value == "", (attribute, value)


def test_each_page_whose_check_failed_has_its_screenshot(portal_error: ReportRun, rig: Rig) -> None:
    shots = portal_error.summary()["screenshots"]
    if shutil.which("chromium") is None:
        assert shots == [] and "Chromium is not installed" in portal_error.page
        return
    combo = rig.service("portal-user")
    failed = [(s["target"], s["address"]) for s in shots if s["why"] == screenshots.FAILED]
    assert failed == [(f"combo|{combo.host}", a) for a in rig.frontends], shots
    assert all(s["taken"] for s in shots) and any(s["why"] == screenshots.PORTAL for s in shots)
    gallery = portal_error.page[portal_error.page.index("Screenshots: what a browser shows"):]
    assert gallery.count('class="pa-shot pa-shot-failed"') == 2
    assert portal_error.page.count('src="data:image/png;base64,') == len(shots)  # each once, full size on click
    assert "Click a screenshot to see it at full size" in gallery


def test_every_tenant_existing_already_says_already_deployed(rig: Rig, tmp_path: Path) -> None:
    rig.up("tenants-all-deployed")
    run = run_with_report(rig.sandbox.env_file, tmp_path, "--phase", "all", "--no-screenshots")
    assert run.exit_code == 1, run.console[-3000:]
    headline = "Already deployed: every tenant exists already, nothing was cooked; check it with --phase postdeploy"
    box = run.page[run.page.index('class="pa-verdict-box'):run.page.index('<h3 class="pa-section">Per service')]
    assert f"<h2>{headline}</h2>" in box and 'pa-verdict-box pa-warn' in box
    assert headline in run.console
    data = run.summary()
    assert data["already_deployed"] is True and (data["gate"], data["cook"]) == ("closed", "not run")
    assert_counts_agree(run)


# Redaction now masks every spelling it knows before the files are scanned, so the scan is the last line
# for what redaction misses: the plugin disables the file fix-up (a redaction bug, not what is tested here)
# and smuggles the secret, base64-encoded, into the HTML.
LEAKY_PLUGIN = '''
import base64
from publik_acceptance.report import redaction
from publik_acceptance.config.secrets import REGISTRY

redaction.redact_file = lambda path: None

def pytest_html_results_summary(prefix, summary, postfix, session):
    value = max(REGISTRY.values(), key=len)
    prefix.append("<!-- " + base64.b64encode(b"x" + value.encode()).decode() + " -->")
'''


def test_a_secret_smuggled_into_a_report_fails_the_run_loudly(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "leaky_report_plugin.py").write_text(LEAKY_PLUGIN)
    reports = tmp_path / "reports"
    env = {**os.environ, "PYTHONPATH": f"{plugin_dir}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "leaky_report_plugin",
                           f"--env={rig.sandbox.env_file}", f"--reports-dir={reports}", "--no-screenshots"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output[-3000:]
    assert re.search(r"SECRET LEAK: \S+\.html contains a secret \(.…\(\d+ chars\)\)", output), output[-3000:]
    assert [p.name for p in reports.glob(f"*{LEAK_SUFFIX}")] == [p.name for p in reports.glob("*.html*")]
    assert not list(reports.glob("*.html"))
