"""What the recipe sets, where the tenants show it: each tenant's theme (hobo.json), the w.c.s. tenant's
site options (its site-options.cfg carries the skeleton's)."""

from __future__ import annotations

import pytest

from publik_acceptance.judge.checks import not_applicable
from publik_acceptance.judge.postdeploy import Outcome
from publik_acceptance.judge.waiting import conclude
from publik_acceptance.plan import Plan, Target


@pytest.mark.report(column="theme", wait="theme")
def test_theme(plan: Plan, deployment: Outcome, target: Target) -> None:
    theme = plan.recipes[target.instance].theme
    if theme is None:
        not_applicable(f"the recipe of {target.instance} sets no theme (no set-theme step)")
    conclude(deployment.items.get((target.id, "theme", None)), deployment, "theme",
             f"{target.id}: theme {theme!r} in {target.tenant_dir}/hobo.json on role {target.server}")


@pytest.mark.services("wcs")
@pytest.mark.report(column="site options", wait="site-options")
def test_wcs_site_options(deployment: Outcome, target: Target) -> None:
    conclude(deployment.items.get((target.id, "site-options", None)), deployment, "w.c.s. site options",
             f"{target.id}: {target.tenant_dir}/site-options.cfg on role {target.server} against the skeleton "
             f"({target.template_name or 'default'})")
