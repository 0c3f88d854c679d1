"""Run the suite (a real `python -m pytest --env=…` subprocess) and read its per-test outcomes."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SuiteRun:
    exit_code: int
    output: str
    failed: dict[str, str] = field(default_factory=dict)  # test id → failure text
    skipped: dict[str, str] = field(default_factory=dict)
    passed: set[str] = field(default_factory=set)

    def describe(self) -> str:
        failed = "\n".join(f"  FAILED {name}: {text.splitlines()[0] if text else ''}"
                           for name, text in sorted(self.failed.items()))
        return f"exit {self.exit_code}, {len(self.passed)} passed, {len(self.skipped)} skipped\n{failed}"


def _command(env_file: Path, tmp: Path, args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--env={env_file}",
            f"--junitxml={tmp / 'junit.xml'}", "-o", "junit_family=xunit2", "-q",
            f"--reports-dir={tmp / 'reports'}", "--no-screenshots", *args]


def run_suite(env_file: Path, *args: str, tmp: Path, timeout: float = 180,
              extra_env: dict[str, str] | None = None) -> SuiteRun:
    # Its own session: no controlling terminal, so a protected platform's confirmation never waits on
    # the terminal of whoever runs the self-tests (test_protected_confirm.py runs one under a pty).
    result = subprocess.run(_command(env_file, tmp, args), cwd=ROOT, capture_output=True, text=True,
                            timeout=timeout, check=False, env={**os.environ, **(extra_env or {})},
                            start_new_session=True)
    return read_run(result.returncode, result.stdout + result.stderr, tmp)


def start_suite(env_file: Path, *args: str, tmp: Path) -> subprocess.Popen:
    """The suite in the background (to race it against another run); finish with `finish_suite`."""
    return subprocess.Popen(_command(env_file, tmp, args), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish_suite(process: subprocess.Popen, tmp: Path, timeout: float = 120) -> SuiteRun:
    output, _ = process.communicate(timeout=timeout)
    return read_run(process.returncode, output, tmp)


def read_run(exit_code: int, output: str, tmp: Path) -> SuiteRun:
    junit = tmp / "junit.xml"
    run = SuiteRun(exit_code, output)
    if junit.exists():
        for case in ET.parse(junit).iter("testcase"):
            name = case.get("name", "")
            failure = case.find("failure") if case.find("failure") is not None else case.find("error")
            skipped = case.find("skipped")
            if failure is not None:
                run.failed[name] = (failure.get("message") or "") + "\n" + (failure.text or "")
            elif skipped is not None:
                run.skipped[name] = skipped.get("message") or ""
            else:
                run.passed.add(name)
    return run


def variant(env_file: Path, tmp: Path, **changes: dict) -> Path:
    """A copy of an environment file with some sections changed (e.g. cook={'timeout': 3})."""
    data = yaml.safe_load(env_file.read_text())
    for section, values in changes.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    path = tmp / "variant.yml"
    path.write_text(yaml.safe_dump(data))
    return path
