"""After a failed cook: the by-hand clean-up is printed with every value quoted, never run."""

from __future__ import annotations

from publik_acceptance.deploy.aftermath import cleanup_commands

from .judge_facts import corpus_plan


def test_cleanup_moves_tenants_aside_and_drops_what_they_created() -> None:
    plan = corpus_plan()
    wcs = next(t for t in plan.targets if t.kind == "wcs")
    combo = next(t for t in plan.targets if t.kind == "combo")
    lines = cleanup_commands(plan, (combo, wcs))
    assert lines[0].endswith(f"mv {combo.tenant_dir} {combo.tenant_dir}.failed-cook")
    assert f'DROP SCHEMA IF EXISTS "{combo.schema}" CASCADE;' in lines[2]
    assert lines[3].endswith(f'DROP DATABASE IF EXISTS "{wcs.database}";')
    assert not any("rm -rf" in line for line in lines)
