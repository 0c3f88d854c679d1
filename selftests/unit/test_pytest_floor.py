"""The bench's pytest floor is a real pytest run: as many checks, the report plugins on, our plugin off."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.preflight_fleet import checks_in, pytest_floor  # noqa: E402


def test_checks_in_counts_every_outcome_of_pytests_last_line() -> None:
    assert checks_in("2311 passed in 5.15s") == 2311
    assert checks_in("===== 3 failed, 2300 passed, 7 skipped, 1 error in 6.02s =====") == 2311
    assert checks_in("no tests ran in 0.01s") == 0


def test_the_pytest_floor_runs_that_many_checks_with_the_report_plugins(tmp_path: Path) -> None:
    seconds = pytest_floor(7, tmp_path)
    folder = tmp_path / "pytest-floor-7"
    cases = ET.parse(folder / "floor.xml").getroot().iter("testcase")
    ids = [case.get("name") for case in cases]
    assert len(ids) == 7 and all(name and name.startswith("test_floor[combo|ville") for name in ids)
    assert "test_floor[combo|ville006.example.test|127.0.0.6]" in (folder / "floor.html").read_text()
    assert 0 < seconds < 60
