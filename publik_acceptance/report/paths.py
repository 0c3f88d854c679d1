"""Where a run's reports go: `<reports dir>/<platform>-<UTC timestamp>.{html,xml,json}`, fixed at start."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    xml: Path
    json: Path

    def all(self) -> tuple[Path, Path, Path]:
        return (self.html, self.xml, self.json)


def stamp(moment: dt.datetime) -> str:
    """Compact ISO 8601 in UTC: sorts by time and is safe in file names on every OS."""
    return f"{moment.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"


def report_paths(reports_dir: Path, platform: str, started: dt.datetime) -> ReportPaths:
    """Paths for this run; a second run in the same second gets `-2`, `-3`… rather than overwriting."""
    base = f"{platform}-{stamp(started)}"
    for attempt in range(1, 1000):
        stem = base if attempt == 1 else f"{base}-{attempt}"
        paths = ReportPaths(*(reports_dir / f"{stem}.{ext}" for ext in ("html", "xml", "json")))
        if not any(p.exists() for p in paths.all()):
            return paths
    raise FileExistsError(f"{reports_dir}: too many reports named {base}*")
