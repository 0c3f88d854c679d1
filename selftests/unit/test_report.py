"""The report's pieces without any server: redaction and the leak scan, rendering, JUnit, cells, paths."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import pytest

from publik_acceptance.config.secrets import REGISTRY
from publik_acceptance.evidence.log import Evidence, plain
from publik_acceptance.evidence.probes.dns import DnsAnswer, DnsEvidence
from publik_acceptance.evidence.probes.tls import CertInfo, TlsEvidence
from publik_acceptance.plan import Target, load_plan
from publik_acceptance.report import junit, metadata, page, redaction, render, screenshots, targets
from publik_acceptance.report.outcomes import Results, TestRecord
from publik_acceptance.report.paths import report_paths
from publik_acceptance.report.targets import cell
from publik_acceptance.report.verdict import RunVerdict
from selftests.unit.test_screenshot_launch import RECORDER, record

SECRET = "Unit-Canary-<&\"'>-s3cr3t"


@pytest.fixture
def secret() -> str:
    """SECRET, registered for redaction as a secret resolved from the environment file would be."""
    REGISTRY.add(SECRET)
    return SECRET


@pytest.mark.parametrize("encode", [
    lambda s: s,
    html.escape,
    lambda s: json.dumps(s)[1:-1],
    lambda s: html.escape(json.dumps(s)[1:-1]),
    lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
    .replace("'", "&#39;"),
    lambda s: base64.b64encode(b"x" + s.encode() + b"yz").decode(),
    lambda s: base64.b64encode(b"xy" + s.encode()).decode(),
], ids=["raw", "html", "json", "json-in-html", "jinja", "base64-1", "base64-2"])
def test_the_scan_finds_a_secret_in_any_encoding_and_renames_the_file(tmp_path: Path, encode, secret: str) -> None:
    leaky = tmp_path / "report.html"
    leaky.write_text(f"<p>before {encode(secret)} after</p>")
    clean = tmp_path / "report.json"
    clean.write_text('{"password": "***"}')
    leaks = redaction.scan([leaky, clean], [secret])
    assert [leak.path for leak in leaks] == [leaky]
    assert secret not in leaks[0].line() and "chars" in leaks[0].line()
    assert not leaky.exists() and (tmp_path / f"report.html{redaction.LEAK_SUFFIX}").exists()
    assert clean.exists()


def test_redact_file_masks_raw_values(tmp_path: Path, secret: str) -> None:
    path = tmp_path / "r.xml"
    path.write_text(f"<a>{secret}</a>")
    redaction.redact_file(path)
    assert path.read_text() == "<a>***</a>"


def test_evidence_renders_as_html_tables_without_reprs_or_secrets(secret: str) -> None:
    now = dt.datetime.now(dt.UTC)
    cert = CertInfo(f"CN=host {secret}", "CN=Test CA", ("host.example.test",), now - dt.timedelta(days=1),
                    now + dt.timedelta(days=90, hours=1), "1f", "ab:cd")
    items = [
        Evidence("dns", "host", plain(DnsEvidence("host.example.test", (
            DnsAnswer("127.0.0.10:53", "A", "ok", ("127.0.0.11",), elapsed=0.002),)))),
        Evidence("tls", "host on 127.0.0.11:443", plain(TlsEvidence("host.example.test", "127.0.0.11", 443, True,
                                                                    protocol="TLSv1.3", cert=cert))),
        Evidence("verdict", "DNS — host", {"ok": False, "evidence": ["a note"],
                                           "problems": [{"expected": "x", "actual": "y <b>", "todo": "z"}]}),
        Evidence("mystery", "other", {"nested": {"a": 1, "mode": 0o640}, "items": [1, 2]}),
    ]
    out = render.evidence_html(items)
    assert out.index("DNS — host") < out.index("answers per resolver")  # the conclusion comes first
    assert "<table" in out and "127.0.0.11" in out and "ab:cd" in out and "<dt>days left</dt><dd>90.0</dd>" in out
    assert secret not in out and html.escape(secret) not in out and "***" in out
    assert "y &lt;b&gt;" in out  # escaped, never raw HTML from evidence
    assert "{'" not in out and "Evidence(" not in out  # no Python reprs
    assert "<dt>mode</dt><dd>0640</dd>" in out


def test_junit_is_split_into_one_suite_per_phase_named_after_the_platform(tmp_path: Path, secret: str) -> None:
    path = tmp_path / "j.xml"
    quoted = xml_escape(secret, {'"': "&quot;"})
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" tests="3" '
        'timestamp="2026-01-01T00:00:00" hostname="h">'
        '<testcase classname="tests.preflight.test_dns" name="test_dns[combo|a.test]" time="0.1"/>'
        f'<testcase classname="tests.deploy.test_cook" name="test_cook" time="1"><failure message="{quoted}">'
        "x</failure></testcase>"
        '<testcase classname="tests.postdeploy.test_pages" name="test_page[combo|a.test|127.0.0.11]" time="0.2">'
        '<skipped message="not run"/></testcase></testsuite></testsuites>')
    junit.restructure(path, "preprod", {"gate": "open"})
    root = ET.parse(path).getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["preprod.preflight", "preprod.deploy", "preprod.postdeploy"]
    assert suites["preprod.deploy"].get("failures") == "1"
    assert suites["preprod.postdeploy"].get("skipped") == "1"
    case = suites["preprod.preflight"].find("testcase")
    assert case is not None and case.get("classname") == "preprod.preflight.test_dns"
    assert case.get("name") == "test_dns[combo|a.test]"
    props = {p.get("name"): p.get("value") for p in suites["preprod.preflight"].iter("property")}
    assert props["gate"] == "open" and props["platform"] == "preprod"
    assert secret not in path.read_text() and root.get("tests") == "3"


def _record(outcome: str, address: str | None = None, message: str = "") -> TestRecord:
    return TestRecord("n", "preflight", "test_tls", None, "combo|a.test", address, outcome, 0.0, message)


def test_a_cell_names_the_failing_address_and_counts_the_good_ones() -> None:
    assert cell([]).state == "none"
    ok = cell([_record("passed", "127.0.0.11"), _record("passed", "127.0.0.12")])
    assert (ok.state, ok.text) == ("ok", "✓ 2/2")
    bad = cell([_record("passed", "127.0.0.11"), _record("failed", "127.0.0.12", "x\n  actual:   expired\n")])
    assert bad.state == "fail" and "127.0.0.12" in bad.text and "expired" in bad.detail
    skipped = cell([_record("skipped", None, "not checked: see test_dns")])
    assert (skipped.state, skipped.text) == ("skip", "not checked")


def test_report_paths_are_per_platform_and_time_and_never_overwrite(tmp_path: Path) -> None:
    moment = dt.datetime(2026, 3, 1, 12, 0, 5, tzinfo=dt.UTC)
    first = report_paths(tmp_path, "preprod", moment)
    assert first.html.name == "preprod-20260301T120005Z.html"
    first.json.write_text("{}")
    second = report_paths(tmp_path, "preprod", moment)
    assert second.html.name == "preprod-20260301T120005Z-2.html"


def test_without_chromium_the_report_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screenshots, "find_chromium", lambda: None)
    result = screenshots.take(None, {}, None, True)  # type: ignore[arg-type]
    assert result.status == "unavailable" and "Chromium is not installed" in result.reason
    assert screenshots.take(None, {}, False, True).status == "disabled"  # type: ignore[arg-type]


def test_chromium_reaches_only_planned_names_and_pins_certificates() -> None:
    rules = screenshots.resolver_rules({"b.test": "127.0.0.12", "a.test": "::1"})
    assert rules == "MAP a.test [::1], MAP b.test 127.0.0.12, MAP * ~NOTFOUND"
    args = screenshots.command("chromium", "https://a.test/", Path("/o.png"), Path("/p"), rules, ["pin1", "pin2"])
    assert "--ignore-certificate-errors-spki-list=pin1,pin2" in args
    assert "--ignore-certificate-errors" not in args and "--headless" in args and "--disable-quic" in args


# -- issue 14 point 7: the report read by someone who was not there -------------------------------------------
CORPUS_ENV = Path(__file__).resolve().parent.parent / "corpus" / "valid" / "environment.yml"


def test_the_operator_is_the_machine_s_own_name_never_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where /etc/hosts lists the hostname on a loopback line, getfqdn() answers "localhost" (this machine).
    monkeypatch.setattr(metadata.socket, "getfqdn", lambda *a: "localhost")
    monkeypatch.setattr(metadata.socket, "gethostname", lambda: "deploy01")
    monkeypatch.setattr(metadata.getpass, "getuser", lambda: "alice")
    assert metadata.operator() == "alice@deploy01"


def test_counts_say_every_outcome_and_a_phase_never_reads_as_a_fraction() -> None:
    counts = {"total": 87, "passed": 86, "failed": 0, "error": 0, "skipped": 1}
    assert page.count_text(counts) == "87 checks: 86 passed, 0 failed, 0 errors, 1 skipped"
    assert page.phase_counts({"total": 29, "passed": 28, "failed": 0, "error": 0, "skipped": 1}) == \
        "29 (28 passed, 1 skipped)"
    assert page.phase_counts({"total": 0, "passed": 0, "failed": 0, "error": 0, "skipped": 0}) == "0 (none ran)"


def test_pytest_html_s_own_count_line_is_replaced_by_the_run_s() -> None:
    document = ('<div><p class="run-count">55 tests took 516 ms.</p><p class="filter">x</p>'
                '<p class="run-count">untouched</p></div>')
    counts = {"total": 85, "passed": 36, "failed": 19, "error": 0, "skipped": 30}
    fixed = page.fix_run_count(document, counts, 5.42)
    assert '<p class="run-count">85 checks: 36 passed, 19 failed, 0 errors, 30 skipped, in 5.4 s.</p>' in fixed
    assert "55 tests" not in fixed and '<p class="run-count">untouched</p>' in fixed


def _target_rows(detail_markup: str) -> list[targets.TargetRow]:
    plan = load_plan(CORPUS_ENV)
    results = Results()
    first, second = plan.targets[0], plan.targets[1]
    for target, address, outcome, message in ((first, "192.0.2.10", "passed", ""),
                                              (first, "192.0.2.11", "failed", f"x\n  actual:   {detail_markup}\n"),
                                              (second, "192.0.2.10", "skipped", "not checked: see test_dns"),
                                              (second, "192.0.2.11", "skipped", "not checked: see test_dns")):
        nodeid = f"tests/preflight/test_tls.py::test_tls[{target.id}|{address}]"
        results.records[nodeid] = TestRecord(nodeid, "preflight", "test_tls", f"{target.id}|{address}", target.id,
                                             address, outcome, 0.0, message, column="TLS")
    return targets.rows(plan, results, None)


def test_the_per_service_table_shows_its_details_as_text_never_as_tooltips() -> None:
    hostile = "<img src=x onerror=alert(1)> expired"
    out = page.targets_table(_target_rows(hostile), total=10)
    assert "title=" not in out  # nothing to hover: the file is read attached to a ticket
    notes = re.findall(r'<li id="(pa-note-\d+)" value="\d+">(.*?)</li>', out)
    assert [text for _, text in notes] == [f"192.0.2.11 {html.escape(hostile)}", "not checked: see test_dns"]
    for anchor, _ in notes:
        assert f'href="#{anchor}"' in out
    assert out.count('href="#pa-note-2"') == 1  # both skipped addresses are one cell, one reference
    assert "<img" not in out
    assert "4 of the run&#x27;s 10 checks are about one service" in out and "the other 6" in out


def _wait_evidence() -> list[Evidence]:
    hop = "GET https://a.test/ via 192.0.2.10: 500 Internal Server Error"
    return [
        Evidence("verdict", "page after deployment — GET https://a.test/", {
            "ok": False, "evidence": [hop, "final page title: 'Erreur'", "same tenant: database: ready since 0.3 s"],
            "problems": [{"expected": "status 200 UNIQUE-EXPECTED", "actual": "final status 500 UNIQUE-ACTUAL",
                          "todo": "look at the combo logs UNIQUE-TODO"}]}),
        Evidence("wait", "page on 192.0.2.10 of combo|a.test", {
            "state": "wrong", "expected": "status 200 UNIQUE-EXPECTED", "actual": "final status 500 UNIQUE-ACTUAL",
            "todo": "look at the combo logs UNIQUE-TODO", "evidence": [hop, "final page title: 'Erreur'"],
            "polls": 2, "ready_at": None, "since": 0.2, "settled": True, "stable": 2, "deadline": 4.0,
            "elapsed": 0.58, "time_to_ready": None}),
    ]


def test_a_failure_s_evidence_appears_once() -> None:
    items = _wait_evidence()
    out = render.evidence_html(items, "test_page[combo|a.test|192.0.2.10]")
    for unique in ("UNIQUE-EXPECTED", "UNIQUE-ACTUAL", "UNIQUE-TODO", "500 Internal Server Error", "Erreur",
                   "same tenant"):
        assert out.count(unique) == 1, (unique, out)
    assert "not ready after 2 polls" in out and "0.6 s of the 4 s deadline" in out  # the wait's own facts stay
    assert f'id="{render.anchor("test_page[combo|a.test|192.0.2.10]")}"' in out
    # pytest's failure text says the same as the conclusion: the HTML log does not repeat it.
    assert page.concluded(items)
    assert not page.concluded([Evidence("tls", "t", {"elapsed": 0.1})])  # no conclusion: keep pytest's text
    # A wait without its check's conclusion keeps expected, actual and to do.
    alone = render.evidence_html(items[1:])
    assert all(alone.count(u) == 1 for u in ("UNIQUE-EXPECTED", "UNIQUE-ACTUAL", "UNIQUE-TODO"))


def test_the_gate_s_blocking_list_links_to_each_check_s_evidence() -> None:
    out = page.blocking_list((("test_tls[combo|a.test|192.0.2.10]", "failed", "expired"),
                              ("test_http_404[combo|a.test|192.0.2.10]", "skipped", "not checked: see test_tls")))
    assert f'href="#{render.anchor("test_tls[combo|a.test|192.0.2.10]")}"' in out
    assert out.count("href=") == 1  # a skipped check has no evidence to link to
    assert render.anchor("<x>\"'") .startswith("pa-check-") and re.fullmatch(r"pa-check-[0-9a-f]{16}",
                                                                               render.anchor("<x>\"'"))


def test_a_check_judged_from_a_shared_round_shows_its_evidence_time_not_0_ms() -> None:
    cells = ['<td class="col-result">Failed</td>', '<td class="col-testId">t</td>',
             '<td class="col-duration">0 ms</td>', '<td class="col-links"></td>']
    spent = render.evidence_seconds(_wait_evidence())
    assert spent == (0.58, "the shared postdeploy wait")
    page.duration_cell(cells, 0.0004, spent)
    assert cells[2].startswith('<td class="col-duration">580 ms<br>')  # pytest-html's sort reads "<n> ms"
    assert "the shared postdeploy wait" in cells[2] and ":" not in cells[2].split(">", 1)[1]
    dns = Evidence("dns", "h", plain(DnsEvidence("h.test", (DnsAnswer("127.0.0.10:53", "A", "ok", ("1.2.3.4",),
                                                                      elapsed=0.02),
                                                            DnsAnswer("127.0.0.10:53", "AAAA", "ok", (),
                                                                      elapsed=0.01)))))
    assert render.evidence_seconds([dns]) == (pytest.approx(0.03), render.PROBES)
    # Evidence from the shared round without a timing of its own: said so, never a bare "0 ms".
    facts = [Evidence("remote", "/var/lib/x", {"path": "/var/lib/x", "exists": True})]
    cells[2] = '<td class="col-duration">0 ms</td>'
    page.duration_cell(cells, 0.0, render.evidence_seconds(facts))
    assert cells[2] == ('<td class="col-duration">0 ms<br><span class="pa-note">judging only; evidence from '
                        'the shared preflight probes</span></td>')
    # A check that paid for the round itself (or has no shared evidence) keeps pytest-html's cell.
    cells[2] = '<td class="col-duration">00:00:02</td>'
    page.duration_cell(cells, 2.0, spent)
    page.duration_cell(cells, 2.0, None)
    assert cells[2] == '<td class="col-duration">00:00:02</td>'


def _verdict(**changes: object) -> RunVerdict:
    base: dict = dict(gate="closed", gate_detail="21 preflight check(s) did not pass", blocking=(), waived=(),
                      cook="not run", cook_exit=None, cook_duration=None, cook_message="", postdeploy="not run",
                      counts={"total": 1, "passed": 0, "failed": 1, "error": 0, "skipped": 0})
    return RunVerdict(**{**base, **changes})


def test_already_deployed_when_every_planned_tenant_exists() -> None:
    plan = load_plan(CORPUS_ENV)
    results = Results()

    def clean_slate(target: Target, outcome: str) -> None:
        nodeid = f"tests/preflight/test_hosts.py::test_not_yet_deployed[{target.id}]"
        results.records[nodeid] = TestRecord(nodeid, "preflight", "test_not_yet_deployed", target.id, target.id,
                                             None, outcome, column=targets.CLEAN_SLATE)

    for target in plan.targets[:-1]:
        clean_slate(target, "failed")
    clean_slate(plan.targets[-1], "passed")  # half-deployed: a human must decide, not "already deployed"
    assert not targets.already_deployed(plan, results)
    clean_slate(plan.targets[-1], "failed")
    assert targets.already_deployed(plan, results)

    all_phases = ("preflight", "deploy", "postdeploy")
    tone, headline = _verdict(already_deployed=True).headline(all_phases)
    assert tone == "warn" and headline.startswith("Already deployed: every tenant exists already, nothing was cooked")
    assert "--phase postdeploy" in headline
    assert _verdict(already_deployed=True).headline(("preflight",))[1].startswith("Already deployed")
    assert _verdict().headline(all_phases) == ("bad", "Not deployed: the preflight gate is closed")


def test_screenshots_cover_each_failed_page_at_the_address_it_failed_on() -> None:
    plan = load_plan(CORPUS_ENV)
    combo = next(t for t in plan.targets if t.kind == "combo")
    other = next(t for t in plan.targets if t.kind not in screenshots.KINDS)
    addresses = {t.hostname: "192.0.2.10" for t in plan.targets}
    failed = [(other.id, "192.0.2.11"), (combo.id, "192.0.2.10"), (other.id, "192.0.2.11")]
    chosen = screenshots.pages(plan, addresses, failed, postdeploy_ran=True)
    assert [(p.target.id, p.address, p.why) for p in chosen[:2]] == [
        (other.id, "192.0.2.11", screenshots.FAILED), (combo.id, "192.0.2.10", screenshots.FAILED)]
    portals = [p for p in chosen[2:]]
    assert portals and all(p.why == screenshots.PORTAL and p.target.kind in screenshots.KINDS for p in portals)
    assert combo.id not in {p.target.id for p in portals}  # its failed shot is the one at that address
    # Before any deployment (a preflight that found a page answering already): only failed pages.
    assert [p.why for p in screenshots.pages(plan, addresses, failed, postdeploy_ran=False)] == [screenshots.FAILED] * 2


def test_the_gallery_is_larger_and_opens_full_size_without_script() -> None:
    png = b"\x89PNG-fake"
    shots = screenshots.Screenshots("taken", "2 of 2 page(s) captured", (
        screenshots.Shot("combo|a.test", "a.test", "192.0.2.11", "https://a.test/", png, None, 0.1,
                         screenshots.FAILED),
        screenshots.Shot("authentic|b.test", "b.test", "192.0.2.10", "https://b.test/<x>", png, None, 0.1)))
    out = page.gallery(shots)
    assert "<script" not in out and " on" not in out.replace("on this address", "")
    assert out.count(base64.b64encode(png).decode()) == 2  # each image once: no second copy for full size
    assert out.count("<details><summary><img") == 2 and "details[open] img{width:auto" in page.CSS
    assert re.search(r"\.pa-shots img\{width:(\d+)px", page.CSS).group(1) == "480"  # was 360
    assert 'class="pa-shot pa-shot-failed"' in out and screenshots.FAILED in out
    assert "https://b.test/&lt;x&gt;" in out and "<x>" not in out


@pytest.fixture
def recorder() -> Iterator[Path]:
    """test_screenshot_launch.py's stand-in browser, where `nobody` can run it."""
    directory = Path(tempfile.mkdtemp(prefix="publik-fake-chromium-"))
    directory.chmod(0o755)
    script = directory / "chromium"
    script.write_text(RECORDER)
    script.chmod(0o755)
    yield script
    shutil.rmtree(directory)


def test_a_failed_page_is_captured_at_the_address_it_failed_on(recorder: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The real path of `take` with the stand-in browser of test_screenshot_launch.py (Chromium not needed):
    nothing listens on 127.0.0.1-2:443 here, so no certificate is pinned and the shot says so."""
    plan = load_plan(CORPUS_ENV)
    combo = next(t for t in plan.targets if t.kind == "combo")
    monkeypatch.setattr(screenshots, "find_chromium", lambda: str(recorder))
    addresses = {t.hostname: "127.0.0.1" for t in plan.targets}
    result = screenshots.take(plan, addresses, None, False, [(combo.id, "127.0.0.2")])
    assert result.status == "taken" and len(result.shots) == 1, result
    shot = result.shots[0]
    assert (shot.target, shot.address, shot.why) == (combo.id, "127.0.0.2", screenshots.FAILED)
    assert shot.png is not None and "certificate not pinned" in (shot.error or "")
    _, _, args = record(shot.png)
    rules = next(a for a in args if a.startswith("--host-resolver-rules="))
    assert f"MAP {combo.hostname} 127.0.0.2," in rules  # this page's failing address, not the first one
    port = plan.environment.http.port
    assert args[-1] == f"https://{combo.hostname}{'' if port == 443 else f':{port}'}/"
    timeout = f"--timeout={round(plan.environment.http.timeout * 1000)}"
    assert timeout in args  # a page that never finishes (a hung upstream) costs http.timeout, not 45 s
    assert screenshots.take(plan, addresses, None, False, []).status == "not run"  # nothing failed, no postdeploy


def test_a_page_that_never_finishes_loading_is_shot_as_it_stands_and_said_so(recorder: Path) -> None:
    recorder.write_text(RECORDER + 'echo "[0:0:ERROR:headless_command_handler.cc] Page load timed out." >&2\n')
    target = next(t for t in load_plan(CORPUS_ENV).targets if t.kind == "combo")
    launch = screenshots.launcher()
    assert isinstance(launch, screenshots.Launch), launch
    rules = screenshots.resolver_rules({target.hostname: "127.0.0.1"})
    shot = screenshots._shoot(str(recorder), target, "127.0.0.1", 443, rules, [], launch, screenshots.FAILED, 2.5)
    assert shot.png is not None and "--timeout=2500" in record(shot.png)[2]
    assert shot.error == ("the page had not finished loading after 2.5 s (http.timeout, as for the checks): "
                          "this is what had arrived")
