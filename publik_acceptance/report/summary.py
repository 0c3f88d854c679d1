"""The JSON summary: a stable, documented contract for scripts and ticket systems (see README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from publik_acceptance.report.metadata import RunInfo
from publik_acceptance.report.outcomes import TestRecord
from publik_acceptance.report.paths import ReportPaths
from publik_acceptance.report.redaction import redact_value
from publik_acceptance.report.targets import TargetRow
from publik_acceptance.report.verdict import RunVerdict

SCHEMA_VERSION = 1


def _test(record: TestRecord) -> dict[str, Any]:
    return {
        "nodeid": record.nodeid,
        "phase": record.phase,
        "target": record.target,
        "outcome": record.outcome,
        "duration": round(record.duration, 3),
        "evidence_duration": round(record.evidence_duration, 3) if record.evidence_duration is not None else None,
        "message": record.message,
        "name": record.name,
        "address": record.address,
    }


def build(info: RunInfo, verdict: RunVerdict, records: list[TestRecord], rows: list[TargetRow],
          paths: ReportPaths, screenshots: list[dict[str, Any]]) -> dict[str, Any]:
    summary = {
        "schema_version": SCHEMA_VERSION,
        "platform": info.platform,
        "ticket": info.ticket,
        "gate": verdict.gate,
        "cook": verdict.cook,
        "postdeploy": verdict.postdeploy,
        "counts": verdict.counts,
        "tests": [_test(r) for r in records],
        # context: who, what, from which code
        "instances": list(info.instances),
        "phases": list(info.phases),
        "dry_run": info.dry_run,
        "operator": info.operator,
        "commit": info.commit,
        "dirty": info.dirty,
        "environment_file": {"path": info.environment_file, "sha256": info.environment_sha256},
        "recipes": [{"path": p, "sha256": d} for p, d in info.recipes.items()],
        "tools": info.tools,
        "started": info.started.isoformat(),
        "finished": info.finished.isoformat() if info.finished else None,
        "duration": round(info.duration, 3) if info.duration is not None else None,
        # verdict details
        "gate_detail": verdict.gate_detail,
        "gate_blocking": [{"test": t, "outcome": o, "reason": r} for t, o, r in verdict.blocking],
        "gate_waived": [{"test": t, "reason": r} for t, r in verdict.waived],
        "gate_not_run": [{"test": t, "reason": r} for t, r in verdict.not_run],
        "ssh_host_keys_accepted": list(verdict.host_keys),
        "interrupted": verdict.interrupted,
        "already_deployed": verdict.already_deployed,
        "cook_exit_status": verdict.cook_exit,
        "cook_duration": round(verdict.cook_duration, 3) if verdict.cook_duration is not None else None,
        "cook_message": verdict.cook_message,
        "phase_counts": verdict.phase_counts,
        "targets": [row.as_json() for row in rows],
        "screenshots": screenshots,
        "reports": {"html": str(paths.html), "junit": str(paths.xml), "json": str(paths.json)},
    }
    return redact_value(summary)


def write(path: Path, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
