"""The report's pieces without any server: redaction and the leak scan, rendering, JUnit, cells, paths."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import pytest

from publik_acceptance.config.secrets import REGISTRY
from publik_acceptance.evidence.log import Evidence, plain
from publik_acceptance.evidence.probes.dns import DnsAnswer, DnsEvidence
from publik_acceptance.evidence.probes.tls import CertInfo, TlsEvidence
from publik_acceptance.report import junit, redaction, render, screenshots
from publik_acceptance.report.outcomes import TestRecord
from publik_acceptance.report.paths import report_paths
from publik_acceptance.report.targets import cell

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
