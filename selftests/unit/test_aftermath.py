"""After a failed cook: the by-hand clean-up is printed with every value quoted, never run."""

from __future__ import annotations

from publik_acceptance.deploy.aftermath import Standing, cleanup_commands, describe

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


def test_after_a_partial_deployment_the_to_do_names_postdeploy_and_resume() -> None:
    plan = corpus_plan()
    hobo, *rest = plan.targets
    text = describe(plan, Standing(present=(hobo,), absent=tuple(rest), unknown=()), "preprod")
    assert text.startswith(f"where things stand: 1 of {len(plan.targets)} tenant(s) exist now")
    assert "pytest --env preprod --phase postdeploy" in text
    assert "pytest --env preprod --phase all --resume" in text and "get-or-create" in text
    assert f"mv {hobo.tenant_dir}" in text  # the clean-up by hand, printed
    nothing = describe(plan, Standing(present=(), absent=tuple(plan.targets), unknown=()), "preprod")
    assert "nothing was deployed" in nothing and "--resume" not in nothing
