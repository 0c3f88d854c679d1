"""Users can log in: every service is federated with the instance's authentic, and a real login works.

What each check proves and what it needs from the platform: README, "Federation and login".
"""

from __future__ import annotations

import pytest

from publik_acceptance.config.catalogue import SERVICE_KINDS
from publik_acceptance.evidence.federation import (
    IDP_KIND,
    IDP_METADATA_PATH,
    LoginEntry,
    idp_of,
    sp_metadata_path,
    superuser_email,
)
from publik_acceptance.judge.checks import not_applicable
from publik_acceptance.judge.postdeploy import Outcome
from publik_acceptance.judge.waiting import conclude
from publik_acceptance.plan import Plan, Target

SP_KINDS = tuple(kind for kind in SERVICE_KINDS if kind != IDP_KIND)


@pytest.mark.services(IDP_KIND)
@pytest.mark.report(column="login", wait="idp-metadata")
def test_idp_metadata(deployment: Outcome, target: Target) -> None:
    conclude(deployment.items.get((target.id, "idp-metadata", None)), deployment, "IdP metadata",
             f"{target.id}: https://{target.hostname}{IDP_METADATA_PATH}")


@pytest.mark.services(*SP_KINDS)
@pytest.mark.report(column="login", wait="sp-metadata")
def test_sp_metadata(deployment: Outcome, target: Target) -> None:
    conclude(deployment.items.get((target.id, "sp-metadata", None)), deployment, "SP metadata",
             f"{target.id}: https://{target.hostname}{sp_metadata_path(target)}")


@pytest.mark.report(column="login", wait="login-redirect")  # the back-office entry names its own wait
def test_login_redirect(plan: Plan, deployment: Outcome, target: Target, login_entry: LoginEntry) -> None:
    idp = idp_of(plan, target.instance)
    if idp is None:
        not_applicable(f"the recipe of {target.instance} creates no authentic: no identity provider to go through")
    conclude(deployment.items.get((target.id, login_entry.aspect, None)), deployment, "login redirect through the IdP",
             f"{login_entry.id}: anonymous GET {login_entry.url} → https://{idp.hostname}/idp/saml2/sso")


@pytest.mark.report(column="login", wait="login")
def test_login(plan: Plan, deployment: Outcome, target: Target, login_view: Target) -> None:
    if not plan.environment.postdeploy.login:
        not_applicable("postdeploy.login is false in the environment: no real login")
    email = superuser_email(plan, target.instance)
    what = "the w.c.s. back office" if target.kind == "wcs" else "the agent portal"
    conclude(deployment.items.get((target.id, "login", None)), deployment, "real login",
             f"{target.id}: {what} after logging in as {email} (create-superuser of {target.instance})")
