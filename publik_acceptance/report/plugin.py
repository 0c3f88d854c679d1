"""pytest glue for the report: options, pytest-html/JUnit set up per run, evidence as extras, the
verdict at the top, JSON summary, redaction and a leak scan of every file written.

Active only with --env (the suite); self-tests and other pytest runs are untouched.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from publik_acceptance import pytest_plugin as front
from publik_acceptance.config.secrets import REGISTRY, redact
from publik_acceptance.evidence.log import Evidence, plain
from publik_acceptance.judge.postdeploy import Outcome
from publik_acceptance.plan import Plan, load_plan
from publik_acceptance.report import compact, junit, metadata, page, redaction, screenshots, summary, targets
from publik_acceptance.report.declared import Declared, check_declaration, declared
from publik_acceptance.report.outcomes import DECLARED, Results, skip_reason
from publik_acceptance.report.paths import ReportPaths, report_paths
from publik_acceptance.report.render import evidence_html, evidence_seconds
from publik_acceptance.report.verdict import RunVerdict, build

STATE_KEY = pytest.StashKey["ReportState"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("publik-report", "Publik change-ticket report")
    group.addoption("--reports-dir", dest="publik_reports_dir", default="reports", metavar="DIR",
                    help="where each run with --env writes <platform>-<UTC timestamp>.html/.xml/.json "
                         "(default: reports/)")
    group.addoption("--screenshots", dest="publik_screenshots", action="store_true", default=None,
                    help="screenshot the portals and login page after deployment (default: if Chromium is found)")
    group.addoption("--no-screenshots", dest="publik_screenshots", action="store_false",
                    help="no screenshots")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Before pytest-html and junitxml read their options: point them at this run's files."""
    name = config.getoption("publik_env", None)
    if not name or hasattr(config, "workerinput") or config.option.collectonly:
        return
    if not config.pluginmanager.hasplugin("html"):
        # Without pytest-html there is no HTML report: the file the change ticket gets. Say so before
        # anything runs rather than fail at the end with pytest-html's options missing.
        raise pytest.UsageError("the HTML report is written by pytest-html, which -p no:html turned off: "
                                "drop -p no:html (the report is what the change ticket gets)")
    try:
        plan = config.stash[front.PLAN_KEY] if front.PLAN_KEY in config.stash else load_plan(name)
    except Exception:  # the front door reports bad input (exit 4, one line); no report then
        return
    config.stash[front.PLAN_KEY] = plan
    redaction.register_environment_secrets(plan.environment)
    started = dt.datetime.now(dt.UTC)
    base = Path(config.getoption("publik_reports_dir"))
    if not base.is_absolute():
        base = config.invocation_params.dir / base
    paths = report_paths(base, plan.platform, started)
    if config.option.htmlpath:
        paths = ReportPaths(Path(config.option.htmlpath).absolute(), paths.xml, paths.json)
    else:
        config.option.htmlpath = str(paths.html)
        config.option.self_contained_html = True
    if config.option.xmlpath:
        paths = ReportPaths(paths.html, Path(config.option.xmlpath).absolute(), paths.json)
    else:
        config.option.xmlpath = str(paths.xml)
    paths.json.parent.mkdir(parents=True, exist_ok=True)
    state = ReportState(config, plan, paths, started)
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(state, "publik-report")
    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(HtmlHooks(state), "publik-report-html")


class ReportState:
    def __init__(self, config: pytest.Config, plan: Plan, paths: ReportPaths, started: dt.datetime) -> None:
        self.config = config
        self.plan = plan
        self.paths = paths
        self.started = started
        self.phases = front.selected_phases(config)
        self.results = Results()
        self.outcome: Outcome | None = None
        self.info: metadata.RunInfo | None = None
        self.verdict: RunVerdict | None = None
        self.rows: list[targets.TargetRow] = []
        self.screens = screenshots.Screenshots("not run", "")
        self.leaks: list[redaction.Leak] = []
        self.metadata_source: dict[str, Any] | None = None

    @property
    def run(self) -> front.RunContext | None:
        return self.config.stash.get(front.SESSION_KEY, None)

    # -- start ------------------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.info = metadata.collect(self.plan, self.phases, self.config.getoption("publik_ticket"),
                                     front.SUITE_DIR.parent, self.started,
                                     bool(self.config.getoption("publik_dry_run")))
        self._metadata()

    def _metadata(self) -> None:
        """pytest-html's environment table, from pytest-metadata's stash: our facts first, redacted and
        escaped (pytest-html inserts the values as HTML)."""
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:
            return
        if metadata_key not in self.config.stash or self.info is None:
            return
        table = self.config.stash[metadata_key]
        if self.metadata_source is None:  # pytest-metadata's values as collected, before we escape them
            self.metadata_source = dict(table)
        ours = [*self.info.rows(), ("Reports", ", ".join(str(p) for p in self.paths.all()))]
        escaped = metadata.environment_table(ours, self.metadata_source)
        table.clear()  # the same dict pytest-html holds: update it in place
        table.update(escaped)

    # -- per test ---------------------------------------------------------------------------------
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            check_declaration(item)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[
            None, pytest.TestReport, pytest.TestReport]:
        report = yield
        # On the report, not in its user_properties: junitxml would write those into the JUnit file.
        facts = declared(item)
        setattr(report, DECLARED, facts)
        if call.when == "call":
            # pytest lets plugins hang their own attributes on a report; its type does not declare them
            report.publik_derived = self._derived(item, facts)  # type: ignore[attr-defined]
        return report

    def _derived(self, item: pytest.Item, facts: Declared) -> list[Evidence]:
        """Evidence the plugin knows better than the test: the cook's log, and the postdeploy wait."""
        funcargs: dict[str, Any] = getattr(item, "funcargs", {})
        found = []
        run = self.run
        if facts.cook_log and run is not None:
            if run.cook is not None:
                found.append(Evidence("cook", "the cook over SSH (log redacted)", plain(run.cook)))
            else:
                found.append(Evidence("gate", "why the cook did not run", {
                    "summary": run.gate.summary().splitlines()[0],
                    "blocking": [{"test": e.test, "outcome": e.outcome, "reason": e.reason} for e in run.gate.blocking],
                    "not_run": [{"test": e.test, "reason": e.reason} for e in run.gate.not_run],
                }))
        deployment = funcargs.get("deployment")
        if isinstance(deployment, Outcome):
            self.outcome = deployment
            found += self._wait_evidence(facts, deployment)
        return found

    @staticmethod
    def _wait_evidence(facts: Declared, deployment: Outcome) -> list[Evidence]:
        aspect, target, address = facts.wait, facts.target, facts.address
        if aspect is None or target is None:
            return []
        item = deployment.items.get((target.id, aspect, address))
        if item is None or item.judgement is None:
            return []
        ready = deployment.time_to_ready(target)
        judgement = item.judgement
        return [Evidence("wait", f"{aspect}{' on ' + address if address else ''} of {target.id}", {
            "state": judgement.state.value, "expected": judgement.expected, "actual": judgement.actual,
            "todo": judgement.todo, "evidence": list(judgement.evidence), "polls": item.polls,
            "ready_at": item.ready_at, "since": item.since, "settled": item.settled, "stable": item.stable,
            "deadline": deployment.deadline, "elapsed": deployment.elapsed,
            "time_to_ready": f"{ready:.1f} s (all its checks)" if ready is not None else None,
        })]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """First in line: redact before the terminal, JUnit, the gate or pytest-html see the report."""
        redaction.redact_report(report)
        evidence = report_evidence(report)
        self.results.add(report)
        if evidence:
            from pytest_html import extras

            spent = evidence_seconds(evidence)
            if spent is not None and spent[0] is not None:
                self.results.records[report.nodeid].evidence_duration = spent[0]
            html = evidence_html(evidence, report.nodeid.split("::")[-1])
            # pytest-html reads its extras from this attribute, which pytest's TestReport does not declare
            report.extras = [*getattr(report, "extras", []), extras.html(html)]  # type: ignore[attr-defined]

    # -- end --------------------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        self._conclude(session.exitstatus == pytest.ExitCode.INTERRUPTED)
        result = yield
        self._write(session)
        return result

    def _conclude(self, interrupted: bool) -> None:
        """Before pytest-html and junitxml write: the verdict, the per-Target rows, screenshots."""
        assert self.info is not None
        run = self.run
        self.info.finished = dt.datetime.now(dt.UTC)
        host_keys = tuple(run.pool.accepted_host_keys()) if run else ()
        self.verdict = build(run.gate if run else None, run.cook if run else None, self.results, self.phases,
                             host_keys, interrupted, targets.already_deployed(self.plan, self.results))
        self.rows = targets.rows(self.plan, self.results, self.outcome)
        addresses: dict[str, str] = {}
        resolved = vars(run.preflight).get("_resolved") if run is not None else None  # never probe again here
        if resolved is not None:
            addresses = {h: e.addresses[0] for h, e in resolved.items() if e.addresses}
        self.screens = screenshots.take(self.plan, addresses, self.config.getoption("publik_screenshots"),
                                        self.outcome is not None, targets.failed_pages(self.results))
        self._metadata()

    def _write(self, session: pytest.Session) -> None:
        assert self.info is not None and self.verdict is not None
        v = self.verdict
        if self.paths.xml.exists():
            junit.restructure(self.paths.xml, self.plan.platform, {
                "ticket": self.info.ticket or "", "operator": self.info.operator,
                "commit": self.info.code_version(), "environment_sha256": self.info.environment_sha256,
                "gate": v.gate, "cook": v.cook, "postdeploy": v.postdeploy,
                "ssh_host_keys_accepted": "; ".join(v.host_keys)})
        records = list(self.results.records.values())  # in run order
        summary.write(self.paths.json, summary.build(self.info, v, records, self.rows, self.paths,
                                                     self.screens.as_json()))
        if self.paths.html.exists():  # pytest-html has written it (its sessionfinish runs before this)
            document = self.paths.html.read_text(encoding="utf-8")
            self.paths.html.write_text(page.fix_run_count(document, v.counts, self.info.duration), encoding="utf-8")
        produced = [p for p in self.paths.all() if p.exists()]
        for path in produced:
            redaction.redact_file(path)
        self.leaks = redaction.scan(produced)
        if self.paths.html.exists():  # after the scan of its plain form: the light one cuts strings into words
            self.paths.html.write_bytes(compact.light_file(self.paths.html.read_text(encoding="utf-8")))
            self.leaks += redaction.scan([self.paths.html])
        if self.leaks:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        tr = terminalreporter
        if self.verdict is None or self.info is None:
            return
        tone, headline = self.verdict.headline(self.info.phases)
        v = self.verdict
        tr.write_sep("=", "publik-acceptance report", bold=True)
        tr.write_line(f"{headline} — {v.steps(self.info.phases)}",
                      green=tone == "good", red=tone == "bad", yellow=tone == "warn", bold=True)
        if v.not_run and "preflight" in self.info.phases:
            tr.write_line(f"gate closed: {v.gate_detail}", red=True)
        for line in v.host_keys:
            tr.write_line(f"host key accepted on first use (ssh.unknown_host_keys: accept): {line}", yellow=True)
        if self.screens.reason:
            tr.write_line(self.screens.reason)
        for label, path in (("HTML ", self.paths.html), ("JUnit", self.paths.xml), ("JSON ", self.paths.json)):
            shown = path if path.exists() else f"{path} (not written)"
            tr.write_line(f"{label}  {shown}")
        for leak in self.leaks:
            tr.write_line(f"SECRET LEAK: {leak.line()}", red=True, bold=True)
        if self.leaks:
            tr.write_line("SECRET LEAK: do not attach these files; report this as a bug of the suite "
                          f"(exit code {int(pytest.ExitCode.INTERNAL_ERROR)})", red=True, bold=True)
        elif REGISTRY.values():
            tr.write_line(f"secret scan: {len(REGISTRY.values())} secret(s) of this run found in none of the files")


class HtmlHooks:
    """pytest-html's own hooks (registered only when pytest-html is installed)."""

    def __init__(self, state: ReportState) -> None:
        self.state = state

    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        """No grey "No log output captured." box under every passed check, and a skip's reason rather
        than pytest's (path, line, reason) tuple: noise for a reviewer. A failure its evidence concludes
        (expected / actual / to do, shown just above) is not repeated: captured output stays."""
        if data == ["No log output captured."]:
            data.clear()
        elif report.skipped and isinstance(report.longrepr, tuple) and data:
            data[0] = html_lib.escape(skip_reason(report)) + "\n"
        elif report.failed and data and data[0] == html_lib.escape(report.longreprtext) + "\n" and \
                page.concluded(report_evidence(report)):
            del data[0]

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        """No Links column: no check attaches a link, and its empty cell cost one HTML parse per row at load."""
        cells[:] = [c for c in cells if c != "<th>Links</th>"]

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        """The Test cell pytest-html makes holds the raw test id: escape it. The Duration cell of a check
        judged from evidence gathered in a shared round says how long that evidence took."""
        cells[:] = [c for c in cells if not c.startswith('<td class="col-links">')]
        when = getattr(report, "when", "call")
        page.escape_test_id(report.nodeid if when == "call" else f"{report.nodeid}::{when}", cells)
        record = self.state.results.records.get(report.nodeid)
        if when == "call" and record is not None:
            page.duration_cell(cells, record.duration, evidence_seconds(report_evidence(report)))

    def pytest_html_report_title(self, report: Any) -> None:
        if self.state.info is not None:
            report.title = redact(page.title(self.state.info))

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str],
                                    session: pytest.Session) -> None:
        s = self.state
        if s.verdict is None or s.info is None:
            return
        prefix.append(page.prefix(s.verdict, s.info, s.rows, s.screens))


def report_evidence(report: pytest.TestReport) -> list[Evidence]:
    """What the check recorded and what the plugin derived (the cook's log, the postdeploy wait)."""
    return list(getattr(report, "publik_evidence", None) or []) + list(getattr(report, "publik_derived", []))
