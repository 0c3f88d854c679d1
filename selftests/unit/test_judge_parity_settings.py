"""Parity of what the recipes set (prod ↔ preprod), judged on hand-built facts: the theme and the w.c.s.
skeleton's site options (by digest), besides the tenants themselves."""

from __future__ import annotations

from publik_acceptance.config.environment import MirrorOf
from publik_acceptance.evidence.parity import ParityFacts, SkeletonSide
from publik_acceptance.judge.parity import judge_parity

MIRROR = MirrorOf("preprod", strip="preprod-")
OPTIONS = {"options": {"default-to-global-view": "true", "disable-jsonp-sources": "true"}}
PREPROD = SkeletonSide("preprod", "/s/modele.zip", OPTIONS)
PROD = SkeletonSide("prod", "/s/modele.zip", OPTIONS)


def facts(themes: tuple[str | None, str | None] = ("publik", "publik"),
          there: SkeletonSide | None = PREPROD, here: SkeletonSide | None = PROD) -> ParityFacts:
    return ParityFacts("preprod", there={"ville": {"a"}}, here={"ville": {"a"}}, themes={"ville": themes},
                       skeletons={"ville": (there, here)})


def problems(result: ParityFacts) -> list[tuple[str, str, str]]:
    return judge_parity("prod", "ville", MIRROR, result).problems


def test_same_theme_and_skeleton_options_pass_and_say_the_digest() -> None:
    verdict = judge_parity("prod", "ville", MIRROR, facts())
    assert verdict.ok, verdict.problems
    assert any(line.startswith("w.c.s. skeleton site options: sha256 ") and "on both" in line
               for line in verdict.evidence), verdict.evidence


def test_layout_of_the_options_does_not_matter() -> None:
    spaced = SkeletonSide("prod", "/s/modele.zip", {"options": {"disable-jsonp-sources": " true",
                                                                "default-to-global-view": "true"}})
    assert not problems(facts(here=spaced))


def test_another_theme_or_none_fails() -> None:
    (expected, actual, todo), = problems(facts(themes=("publik", "imio")))
    assert (expected, actual) == ("theme 'publik' (set-theme on preprod)", "theme 'imio' on prod")
    assert "set-theme" in todo
    (_, actual, _), = problems(facts(themes=("publik", None)))
    assert actual == "no set-theme on prod"


def test_different_skeleton_options_fail_naming_the_keys() -> None:
    changed = SkeletonSide("prod", "/s/modele.zip", {"options": {"default-to-global-view": "true",
                                                                 "disable-jsonp-sources": "false", "extra": "1"}})
    (expected, actual, todo), = problems(facts(here=changed))
    assert expected.startswith("the skeleton site options of preprod (sha256 ")
    assert "[options] disable-jsonp-sources: 'true' on preprod, 'false' here" in actual
    assert "[options] extra: None on preprod, '1' here" in actual
    assert "config.json may differ" in todo


def test_a_skeleton_missing_or_unreadable_on_one_side_fails() -> None:
    (_, actual, _), = problems(facts(here=SkeletonSide("prod", None, None)))
    assert actual == "no skeleton found (looked up as w.c.s. does) on prod"
    (_, actual, _), = problems(facts(there=SkeletonSide("preprod", "/s/modele.zip", None)))
    assert actual == "/s/modele.zip unreadable on preprod"
    (_, actual, _), = problems(facts(here=None))
    assert actual == "no w.c.s. in the recipe on prod"


def test_no_wcs_on_either_platform_compares_no_skeleton() -> None:
    assert not problems(facts(there=None, here=None))
