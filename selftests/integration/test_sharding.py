"""pytest-xdist (-n): the preflight spread over worker processes ends as the same run in one process
would: the same checks with the same outcomes, one gate, one report whose checks keep their target,
address and evidence; and the cook is never run under -n (refused with one line, exit 4).
"""

from __future__ import annotations

import json
from pathlib import Path

from selftests.rig import Rig

from .suite_runner import run_suite


def _records(tmp: Path) -> tuple[dict, dict[str, tuple]]:
    summary = json.loads(next((tmp / "reports").glob("*.json")).read_text())
    records = {t["nodeid"]: (t["phase"], t["target"], t["outcome"], t["address"], t["evidence_duration"] is not None)
               for t in summary["tests"]}
    return summary, records


def test_a_sharded_preflight_reports_as_one_process_would(rig: Rig, tmp_path: Path) -> None:
    rig.up("dns-missing")  # one check fails: its evidence and the closed gate must come back from a worker
    alone, sharded = tmp_path / "alone", tmp_path / "sharded"
    one = run_suite(rig.sandbox.env_file, "--phase", "preflight", tmp=alone)
    two = run_suite(rig.sandbox.env_file, "--phase", "preflight", "-n", "2", tmp=sharded)
    assert one.failed and one.exit_code == 1, one.describe() + one.output[-2000:]
    assert (two.exit_code, set(two.failed), two.passed, set(two.skipped)) == \
        (one.exit_code, set(one.failed), one.passed, set(one.skipped)), two.describe() + two.output[-3000:]
    summary_one, records_one = _records(alone)
    summary_two, records_two = _records(sharded)
    assert records_two == records_one  # same ids, phase, target, outcome, address; evidence attached
    assert any(has_evidence for *_rest, has_evidence in records_two.values())
    assert summary_two["gate"] == summary_one["gate"] == "closed"
    assert summary_two["gate_detail"] == summary_one["gate_detail"]
    assert summary_two["gate_not_run"] == [], "the main process's gate did not learn the workers' checks"


def test_the_cook_is_never_run_under_n(rig: Rig, tmp_path: Path) -> None:
    rig.up()
    run = run_suite(rig.sandbox.env_file, "--phase", "deploy", "-n", "2", tmp=tmp_path)
    assert run.exit_code == 4, run.output[-2000:]
    assert "-n (pytest-xdist) spreads the preflight checks only" in run.output
    assert "Traceback" not in run.output
    assert rig.sandbox.cook_invocations() == []
