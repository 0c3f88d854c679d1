"""One row per Target (service × hostname): each check's outcome across its addresses, and time-to-ready."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from publik_acceptance.judge.postdeploy import Outcome
from publik_acceptance.plan import Plan, Target
from publik_acceptance.pytest_plugin import PHASES
from publik_acceptance.report.outcomes import Results, TestRecord

# The per-service table's layout: its columns per phase, in deployment order. Which check fills a column is
# the check's own declaration (@pytest.mark.report(column=…), see declared.py). A listed column is in every
# run, empty ("not run in this run") when no check of the run fills it; a column a check declares that is
# not listed comes after its phase's listed ones, in run order: adding a check needs no edit here.
CLEAN_SLATE = "clean slate"  # nothing of the Target exists yet: fails when its tenant, schema or database exists
PAGES = ("404 before", "page / redirect")  # checks of what a browser sees: a failed one gets a screenshot
LAYOUT: dict[str, tuple[str, ...]] = {
    "preflight": ("DNS", "TLS", "404 before", CLEAN_SLATE),
    "postdeploy": ("tenant dir", "database", "page / redirect"),
}


@dataclass(frozen=True)
class Cell:
    state: str  # ok, fail, skip, partial, none (not run in this run)
    text: str  # short: "✓ 2/2", "✗ 192.0.2.11"
    detail: str  # longer: a footnote under the table, and the JSON
    count: int = 0  # the checks (test items) in this cell: one per address for a per-address check

    def as_json(self) -> dict[str, object]:
        return {"state": self.state, "text": self.text, "detail": self.detail, "checks": self.count}


@dataclass(frozen=True)
class TargetRow:
    target: Target
    cells: dict[str, Cell]
    time_to_ready: float | None
    ready_text: str

    def as_json(self) -> dict[str, object]:
        return {"target": self.target.id, "instance": self.target.instance, "service": self.target.kind,
                "hostname": self.target.hostname, "checks": {k: c.as_json() for k, c in self.cells.items()},
                "time_to_ready": self.time_to_ready}


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("actual:"):
            return line.removeprefix("actual:").strip()
    return text.strip().splitlines()[0] if text.strip() else ""


def cell(records: list[TestRecord]) -> Cell:
    return replace(_cell(records), count=len(records))


def _cell(records: list[TestRecord]) -> Cell:
    if not records:
        return Cell("none", "—", "not run in this run")
    per_address = any(r.address for r in records)
    bad = [r for r in records if r.outcome in ("failed", "error")]
    passed = [r for r in records if r.outcome == "passed"]
    where = (lambda r: r.address or "unresolved") if per_address else (lambda r: "")
    if bad:
        text = "✗ " + ", ".join(where(r) for r in bad) if per_address else "✗"
        return Cell("fail", text.strip(), "; ".join(f"{where(r)} {_first_line(r.message)}".strip() for r in bad))
    skipped = [r for r in records if r.outcome == "skipped"]
    if skipped and not passed:
        reason = _first_line(skipped[0].message)
        text = next((t for t in ("not checked", "not run", "not applicable") if reason.startswith(t)), "skipped")
        return Cell("skip", text, reason)
    count = f" {len(passed)}/{len(records)}" if per_address else ""
    if skipped:
        return Cell("partial", f"✓{count}", "skipped: " + "; ".join(_first_line(r.message) for r in skipped))
    return Cell("ok", f"✓{count}", "passed" + (f" on {', '.join(where(r) for r in passed)}" if per_address else ""))


def columns(records: Iterable[TestRecord]) -> list[str]:
    """The layout's columns and, after each phase's, the new ones the run's per-Target checks declare."""
    listed = {column for phase_columns in LAYOUT.values() for column in phase_columns}
    new: dict[str | None, list[str]] = {}
    for record in records:
        column = record.column
        if column and record.target and column not in listed:
            listed.add(column)
            new.setdefault(record.phase, []).append(column)
    order = [*PHASES, *(p for p in new if p not in PHASES)]  # a check outside tests/<phase>/ last
    # A check outside tests/<phase>/ has phase None, which lists no column.
    return [c for phase in order for c in (*LAYOUT.get(phase or "", ()), *new.get(phase, ()))]


def rows(plan: Plan, results: Results, outcome: Outcome | None) -> list[TargetRow]:
    records = list(results.records.values())
    by_key: dict[tuple[str, str], list[TestRecord]] = {}
    for record in records:
        if record.target and record.column:
            by_key.setdefault((record.target, record.column), []).append(record)
    names = columns(records)
    table = []
    for target in plan.targets:
        cells = {column: cell(by_key.get((target.id, column), [])) for column in names}
        ready = outcome.time_to_ready(target) if outcome else None
        if outcome is None:
            ready_text = "—"
        elif ready is None:
            ready_text = f"not ready after {outcome.elapsed:.0f} s"
        else:
            ready_text = f"{ready:.1f} s"
        table.append(TargetRow(target, cells, ready, ready_text))
    return table


def used_columns(table: list[TargetRow]) -> list[str]:
    """Columns with something in them: a preflight-only run shows no empty postdeploy columns."""
    return [c for c in (table[0].cells if table else ()) if any(row.cells[c].state != "none" for row in table)]


def already_deployed(plan: Plan, results: Results) -> bool:
    """Every planned Target's clean-slate check ran and failed: each one's tenant exists already (a
    half-deployed instance fails only on the Targets that exist, so it is never taken for this)."""
    failed = {r.target for r in results.records.values() if r.column == CLEAN_SLATE and r.outcome == "failed"}
    return bool(plan.targets) and all(t.id in failed for t in plan.targets)


def failed_pages(results: Results) -> list[tuple[str, str]]:
    """(Target id, address) of each page check that failed, in run order, each once."""
    found = [(r.target, r.address) for r in results.records.values()
             if r.column in PAGES and r.outcome == "failed" and r.target and r.address]
    return list(dict.fromkeys(found))
