"""`inv plan`: one block per instance within a 100-column terminal, and JSON for scripts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from publik_acceptance.plan import load_plan
from publik_acceptance.report.plan_view import WIDTH, plan_json, plan_text

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
LONG_DOMAIN = ".".join(["a" * 60, "b" * 60, "c" * 60, "test"])  # hostnames near DNS's 253-character limit


def test_the_runbook_plan_fits_the_terminal_and_names_everything() -> None:
    plan = load_plan("preprod")
    text = plan_text(plan)
    assert max(len(line) for line in text.splitlines()) <= WIDTH, text
    for target in plan.targets:
        assert f"{target.kind}  {target.url}" in text
        assert target.tenant_dir in text and target.database in text
    assert text.count("\ninstance ") == len(plan.environment.instances)


def test_long_names_wrap_instead_of_overflowing(tmp_path: Path) -> None:
    shutil.copytree(CORPUS / "valid", tmp_path / "env")
    recipe = tmp_path / "env" / "recipe.json"
    data = json.loads(recipe.read_text())
    data["variables"]["domain"] = LONG_DOMAIN
    recipe.write_text(json.dumps(data))
    plan = load_plan(str(tmp_path / "env" / "environment.yml"))
    text = plan_text(plan)
    assert max(len(line) for line in text.splitlines()) <= WIDTH, text
    flat = "".join(line.strip() for line in text.splitlines())
    for target in plan.targets:
        assert target.tenant_dir in flat  # wrapped, never cut


def test_json_lists_every_target_with_its_derived_names() -> None:
    plan = load_plan("preprod")
    data = json.loads(json.dumps(plan_json(plan)))
    assert data["platform"] == plan.platform
    assert [t["hostname"] for t in data["targets"]] == [t.hostname for t in plan.targets]
    wcs = next(t for t in data["targets"] if t["service"] == "wcs")
    assert wcs["schema"] is None and wcs["database"].startswith("wcs_")
    assert set(wcs) == {"instance", "service", "slug", "hostname", "url", "server", "server_login", "tenant_dir",
                        "owner", "database", "schema"}
    assert data["drift"] == []
