"""Every malformed environment or recipe of the corpus ends the run with exit code 4 and one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from publik_acceptance.plan import load_plan
from selftests.conftest import run_suite

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _cases() -> list[tuple[str, str, str]]:
    lines = (CORPUS / "EXPECTED.tsv").read_text().splitlines()
    return [tuple(line.split("\t")) for line in lines if line and not line.startswith("#")]


CASES = _cases()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 20
    assert {p.name for p in CORPUS.iterdir() if p.is_dir()} == {c[0] for c in CASES} | {"valid"}


def test_the_valid_case_loads() -> None:
    plan = load_plan(CORPUS / "valid" / "environment.yml")
    assert [t.kind for t in plan.targets] == ["hobo", "authentic", "combo", "wcs"]


@pytest.mark.parametrize(("case", "file", "key"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_usage_error(case: str, file: str, key: str) -> None:
    result = run_suite("--env", str(CORPUS / case / "environment.yml"), timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, output
    message = errors[0]
    assert f"{case}/{file}" in message, message
    assert key in message, message
    assert len(message.split(": ")) >= 3, f"expected 'file: key: problem', got {message!r}"


def test_a_run_without_pytest_html_stops_at_once_saying_why(tmp_path: Path) -> None:
    # A copy of the valid case whose resolver is loopback: nothing may leave this machine if the run went on.
    case = tmp_path / "valid"
    shutil.copytree(CORPUS / "valid", case)
    environment = case / "environment.yml"
    environment.write_text(environment.read_text().replace('"192.0.2.53"', '"127.0.0.1"'))
    assert "192.0.2." not in environment.read_text()
    result = run_suite("--env", str(environment), "--phase", "preflight", "-p", "no:html", timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    assert "ERROR: the HTML report is written by pytest-html, which -p no:html turned off" in output, output
