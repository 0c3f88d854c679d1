"""The HTML report's weight: its size, what makes it up, and how long headless Chromium takes to load it.

Load time is read by the page itself: a copy of the report gets one last `load` listener that forces a
layout and writes `performance.now()` (navigation start to DOM parsed, every inline script run and the
page laid out) into the DOM, which `chromium --headless --dump-dom` prints. The Chromium process's wall
time (what the bench measured before, start-up included) and an empty page's (start-up alone) are kept
beside it. Chromium runs as the suite runs it for screenshots (report/screenshots.py): its sandbox on,
as `nobody` when we are root, a bare environment, and every host name unresolvable: a report that
needed the network would show it.

    python benchmarks/report_weight.py REPORT.html [...]   # weigh reports already written
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from publik_acceptance.plan import load_plan  # noqa: E402
from publik_acceptance.report import screenshots  # noqa: E402

# The N = 50 preflight report before issue 16: its size and the Chromium process's wall time to open it.
BEFORE_MB, BEFORE_SECONDS = 6.0, 3.9
TIMEOUT = 120.0
MARK = "data-pa-loaded"
PROBE = (f"<script>addEventListener('load',function(){{document.body.offsetHeight;"
         f"document.documentElement.setAttribute('{MARK}',performance.now())}})</script>")


@dataclass
class ReportWeight:
    bytes: int
    loaded: float | None  # seconds, in the page: navigation start to parsed, scripts run, laid out
    process: float | None  # seconds, the Chromium process from start to exit (start-up included)
    startup: float | None  # seconds, the same for an empty page: Chromium's own start-up
    parts: dict[str, int] = field(default_factory=dict)  # bytes per component

    @property
    def megabytes(self) -> float:
        return self.bytes / 1e6


def parts(document: str) -> dict[str, int]:
    """Bytes of what weighs in the file: pytest-html's data blob (and within it the rows' extras and logs),
    our evidence block, the screenshots, the rest."""
    found: dict[str, int] = {}
    blob = re.search(r'data-jsonblob="([^"]*)"', document)
    if blob:
        found["pytest-html data blob"] = len(blob.group(1))
        data = json.loads(html.unescape(blob.group(1)))
        rows = [row for rows in data.get("tests", {}).values() for row in rows]
        found["  rows"] = len(rows)
        found["  extras (unescaped)"] = sum(len(e.get("content", "")) for row in rows for e in row.get("extras", []))
        found["  logs (unescaped)"] = sum(len(row.get("log", "")) for row in rows)
        found["  table cells (unescaped)"] = sum(len(c) for row in rows for c in row.get("resultsTableRow", []))
    for name, element in (("data block (rows, compact)", "pa-data"), ("evidence block (compact)", "pa-evidence-data")):
        block = re.search(rf'<script type="application/json" id="{element}">(.*?)</script>', document, re.S)
        if block:
            found[name] = len(block.group(1).encode())
    failures = re.search(r'<h3 class="pa-section">Failed checks</h3>(.*?)<h3 class="pa-section">All checks', document,
                         re.S)
    if failures:
        found["failed checks written out"] = len(failures.group(1).encode())
    found["screenshots (base64)"] = sum(len(m) for m in re.findall(r"data:image/png;base64,[A-Za-z0-9+/=]*",
                                                                   document))
    found["total"] = len(document.encode())
    return found


def _chromium(page: Path) -> tuple[float, str] | None:
    """(process wall time, dumped DOM) of headless Chromium opening `page`, launched as for screenshots."""
    binary = screenshots.find_chromium()
    launch = screenshots.launcher()
    if binary is None or isinstance(launch, str):
        return None
    with tempfile.TemporaryDirectory(prefix="publik-report-weight-") as tmp:
        copy = Path(tmp) / page.name
        shutil.copy(page, copy)
        if launch.owner is not None:
            for path in (Path(tmp), copy):
                os.chown(path, *launch.owner)
        args = [*launch.prefix, binary, "--headless", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", f"--user-data-dir={Path(tmp) / 'profile'}",
                "--host-resolver-rules=MAP * ~NOTFOUND", "--dump-dom", copy.as_uri()]
        started = time.monotonic()
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, check=False, cwd=tmp,
                                  env=screenshots.environment(Path(tmp)))
        except (subprocess.TimeoutExpired, OSError):
            return None
        elapsed = time.monotonic() - started
    return (elapsed, done.stdout) if done.returncode == 0 else None


def load_time(report: Path, runs: int = 3) -> tuple[float | None, float | None]:
    """(in-page load seconds, process wall seconds), medians of `runs` openings of a probed copy."""
    document = report.read_text(encoding="utf-8")
    probed = document.replace("</body>", PROBE + "</body>", 1) if "</body>" in document else document + PROBE
    loads, walls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "report.html"
        copy.write_text(probed, encoding="utf-8")
        for _ in range(runs):
            opened = _chromium(copy)
            if opened is None:
                continue
            walls.append(opened[0])
            mark = re.search(rf'{MARK}="([0-9.]+)"', opened[1])
            if mark:
                loads.append(float(mark.group(1)) / 1000)
    return (statistics.median(loads) if loads else None, statistics.median(walls) if walls else None)


def startup_time(runs: int = 3) -> float | None:
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.html"
        empty.write_text("<!DOCTYPE html><title>empty</title>", encoding="utf-8")
        walls = [opened[0] for opened in (_chromium(empty) for _ in range(runs)) if opened is not None]
    return statistics.median(walls) if walls else None


def weigh(report: Path, runs: int = 3) -> ReportWeight:
    loaded, process = load_time(report, runs)
    return ReportWeight(report.stat().st_size, loaded, process, startup_time(runs),
                        parts(report.read_text(encoding="utf-8")))


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def line(weight: ReportWeight, instances: int) -> str:
    """The bench's line, beside the figures from before issue 16."""
    return (f"HTML report, N = {instances}: {weight.megabytes:.2f} MB (before: {BEFORE_MB} MB); headless Chromium "
            f"loads it in {_s(weight.loaded)} (in the page: parsed, scripts run, laid out), "
            f"{_s(weight.process)} process wall time of which {_s(weight.startup)} starting Chromium "
            f"(before: {BEFORE_SECONDS} s process wall time)")


MEASURED: list[tuple[int, ReportWeight]] = []


def measure(page: Path | None, env_file: Path) -> None:
    """The bench's hook, while the run's report still exists (its work directory goes at the end)."""
    if page is not None and page.exists():
        MEASURED.append((len(load_plan(env_file).environment.instances), weigh(page)))


def report(results: dict[str, object]) -> None:
    """The bench's other hook: print what `measure` found, and keep it in the bench's JSON."""
    for instances, weight in MEASURED:
        print(line(weight, instances))
        results[f"report_n{instances}"] = {**weight.__dict__, "before_mb": BEFORE_MB, "before_seconds": BEFORE_SECONDS}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    for name in argv:
        weight = weigh(Path(name))
        print(name)
        print(line(weight, 0).replace("N = 0: ", ""))
        for key, value in weight.parts.items():
            print(f"  {key:28} {value:>12,}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
