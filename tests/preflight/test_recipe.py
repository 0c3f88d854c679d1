"""Recipe sanity: the recipe creates exactly what the platform expects, and cook will have its secrets."""

from __future__ import annotations

import pytest

from publik_acceptance.config.secrets import SecretRef, secret_problem
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
    problem = secret_problem(plan.instance(instance).superuser_password)
    if problem is not None:
        pytest.fail(f"instance {instance}: superuser password unavailable: {problem.line()}", pytrace=False)


def test_secret_is_available(secret: SecretRef) -> None:
    """Every secret the environment names can be had now: the cook and the checks will need it."""
    problem = secret_problem(secret)
    if problem is not None:
        pytest.fail(f"secret unavailable: {problem.line()}", pytrace=False)
