"""When the real login runs: once the IdP metadata and the view's own redirect are settled; a view whose
redirect failed fails without a login; and which items the federation adds to the wait."""

from __future__ import annotations

from dataclasses import replace

from publik_acceptance.evidence.prober import Prober
from publik_acceptance.judge.expectations import State
from publik_acceptance.judge.federation_poll import Federation, federation_items

from .judge_facts import corpus_plan, target

WCS = target("wcs")


def federation() -> Federation:
    plan = corpus_plan()
    return Federation(plan, Prober(plan.environment), lambda host: None)


def test_the_login_waits_for_the_idp_metadata_and_the_views_redirect() -> None:
    judged, sessions = federation()._sessions([WCS], lambda t, a: State.OK if a == "idp-metadata" else None)
    assert sessions == []
    judgement = judged[(WCS.id, "login")]
    assert judgement.state is State.PENDING
    assert judgement.actual == f"waiting for wcs-backoffice|{WCS.hostname} backoffice-redirect"


def test_a_view_whose_redirect_failed_fails_without_a_login() -> None:
    judged, sessions = federation()._sessions([WCS], lambda t, a: State.OK if a == "idp-metadata" else State.WRONG)
    assert sessions == []
    judgement = judged[(WCS.id, "login")]
    assert judgement.state is State.WRONG and judgement.final
    assert judgement.actual.startswith(f"cannot log in: https://{WCS.hostname}/backoffice/ does not lead to")
    assert f"test_login_redirect[wcs-backoffice|{WCS.hostname}]" in judgement.actual


def test_federation_items_and_postdeploy_login_false() -> None:
    plan = corpus_plan()
    aspects = sorted((t.kind, a) for t, a in federation_items(plan))
    assert aspects == [("authentic", "idp-metadata"), ("combo", "login-redirect"), ("combo", "sp-metadata"),
                       ("hobo", "login-redirect"), ("hobo", "sp-metadata"), ("wcs", "backoffice-redirect"),
                       ("wcs", "login"), ("wcs", "login-redirect"), ("wcs", "sp-metadata")]
    off = replace(plan, environment=replace(plan.environment,
                                            postdeploy=replace(plan.environment.postdeploy, login=False)))
    assert ("wcs", "login") not in {(t.kind, a) for t, a in federation_items(off)}


def test_a_view_whose_redirect_holds_is_ready_for_the_login() -> None:
    judged, sessions = federation()._sessions([WCS], lambda t, a: State.OK)
    assert judged == {} and sessions == [("ville", [WCS])]
