"""`ssh.unknown_host_keys: accept` (trust on first use) is refused on a protected platform, at load time."""

from __future__ import annotations

from pathlib import Path

import yaml

from selftests.conftest import run_suite

VALID = Path(__file__).resolve().parent.parent / "corpus" / "valid"


def _environment(tmp_path: Path, protected: bool, policy: str) -> Path:
    data = yaml.safe_load((VALID / "environment.yml").read_text())
    data["protected"] = protected
    data["ssh"] = {**(data.get("ssh") or {}), "unknown_host_keys": policy}
    (tmp_path / "recipe.json").write_text((VALID / "recipe.json").read_text())
    path = tmp_path / "environment.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_trust_on_first_use_is_refused_on_a_protected_platform(tmp_path: Path) -> None:
    env = _environment(tmp_path, protected=True, policy="accept")
    result = run_suite(f"--env={env}", "--collect-only", timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, output
    assert errors[0].startswith(f"ERROR: {env}: ssh.unknown_host_keys: accept (trust on first use) is refused "
                                "on a protected platform"), errors[0]


def test_trust_on_first_use_stays_possible_on_an_unprotected_platform(tmp_path: Path) -> None:
    from publik_acceptance.config.environment import load_environment

    assert load_environment(_environment(tmp_path, protected=False, policy="accept")).ssh.unknown_host_keys == "accept"
    assert load_environment(_environment(tmp_path, protected=True, policy="reject")).protected
