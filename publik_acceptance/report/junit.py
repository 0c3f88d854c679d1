"""JUnit XML for CI and ticket systems: one <testsuite> per phase and platform (`sandbox.preflight`).

pytest's junitxml writes one suite for the whole session and has no hook to split it, so the file
it wrote is rewritten here: test cases are grouped by phase, renamed under `<platform>.<phase>.`
(a `sandbox.preflight` package in Jenkins/GitLab, instead of every platform's `tests.preflight`
collapsing into one), given the run's verdict as properties, and redacted.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from publik_acceptance.config.secrets import redact

PHASE_ORDER = ("preflight", "deploy", "postdeploy")


def _phase(classname: str) -> str:
    """tests.preflight.test_tls, or a site's own site_checks.preflight.test_site_x: the folder names the phase."""
    parts = classname.split(".")
    return next((part for part in reversed(parts[:-1]) if part in PHASE_ORDER), "other")


def _counts(cases: list[ET.Element]) -> dict[str, int]:
    def has(case: ET.Element, tag: str) -> bool:
        return case.find(tag) is not None

    errors = sum(1 for c in cases if has(c, "error"))
    failures = sum(1 for c in cases if has(c, "failure") and not has(c, "error"))
    skipped = sum(1 for c in cases if has(c, "skipped") and not (has(c, "error") or has(c, "failure")))
    return {"tests": len(cases), "failures": failures, "errors": errors, "skipped": skipped}


def _redact_tree(element: ET.Element) -> None:
    for node in element.iter():
        if node.text:
            node.text = redact(node.text)
        if node.tail:
            node.tail = redact(node.tail)
        for key, value in node.attrib.items():
            node.attrib[key] = redact(value)


def restructure(path: Path, platform: str, properties: dict[str, str]) -> None:
    tree = ET.parse(path)
    old = tree.getroot()
    suites = old.findall("testsuite") if old.tag == "testsuites" else [old]
    first = suites[0] if suites else ET.Element("testsuite")
    groups: dict[str, list[ET.Element]] = {}
    for suite in suites:
        for case in suite.findall("testcase"):
            groups.setdefault(_phase(case.get("classname", "")), []).append(case)
    root = ET.Element("testsuites", name=f"publik-acceptance {platform}")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    order = [p for p in (*PHASE_ORDER, "other") if p in groups]
    for phase in order:
        cases = groups[phase]
        counts = _counts(cases)
        duration = sum(float(c.get("time", "0") or 0) for c in cases)
        suite = ET.SubElement(root, "testsuite", {
            "name": f"{platform}.{phase}", **{k: str(v) for k, v in counts.items()}, "time": f"{duration:.3f}",
            "timestamp": first.get("timestamp", ""), "hostname": first.get("hostname", "")})
        props = ET.SubElement(suite, "properties")
        for name, value in {"platform": platform, "phase": phase, **properties}.items():
            ET.SubElement(props, "property", name=name, value=value)
        for case in cases:
            classname = case.get("classname", "")
            module = classname.split(".")[-1] if classname else "tests"
            case.set("classname", f"{platform}.{phase}.{module}")
            suite.append(case)
        for key in totals:
            totals[key] += counts[key]
        total_time += duration
    for key, count in totals.items():
        root.set(key, str(count))
    root.set("time", f"{total_time:.3f}")
    _redact_tree(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
