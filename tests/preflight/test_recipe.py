"""Recipe sanity: the recipe creates exactly what the platform expects, and cook will have its secrets."""

from __future__ import annotations

import pytest

from publik_acceptance.config.errors import ConfigError
from publik_acceptance.judge.checks import not_applicable
from publik_acceptance.plan import Plan


def test_hostnames_match_expectations(plan: Plan, instance: str) -> None:
    drift = [d for d in plan.drift if d.instance == instance]
    if drift:
        lines = "\n".join(f"  - {d.hostname}: {d.problem}" for d in drift)
        pytest.fail(
            f"instance {instance}: recipe and expected hostnames disagree:\n{lines}\n"
            "Fix the recipe (add or remove the create-* step) or the environment's expect_hostnames.",
            pytrace=False,
        )


def test_superuser_password_is_set(plan: Plan, instance: str) -> None:
    recipe = plan.recipes[instance]
    if not recipe.has_superuser():
        not_applicable(f"{recipe.file.name} has no create-superuser step")
    source = plan.instance(instance).superuser_password
    try:
        source.resolve()
    except ConfigError as exc:
        problem = str(exc)
    else:
        return
    pytest.fail(f"instance {instance}: superuser password unavailable: {problem}. "
                f"Set it before the cook ({source.describe()}).", pytrace=False)
