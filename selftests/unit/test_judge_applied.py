"""What the recipe sets, judged on hand-built facts: the theme in hobo.json, the w.c.s. tenant's site
options against the skeleton, and the skeleton found on a server in a round's facts."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from publik_acceptance.evidence.applied import found_skeleton, options_digest, skeleton_paths
from publik_acceptance.evidence.preflight import SkeletonFacts
from publik_acceptance.evidence.probes.facts import PathFacts
from publik_acceptance.evidence.servers import ServerFacts
from publik_acceptance.evidence.skeleton import SkeletonReport
from publik_acceptance.judge.expectations import State
from publik_acceptance.judge.site_options import judge_wcs_site_options
from publik_acceptance.judge.theme import judge_theme

from .judge_facts import corpus_plan, target

# -- theme ------------------------------------------------------------------------------------------


def hobo_json(theme: str | None, own: str | None = None, url: str = "https://portail.example.test/") -> bytes:
    me: dict[str, object] = {"service-id": "combo", "slug": "portal-user", "base_url": url, "this": True}
    if own is not None:
        me["variables"] = {"theme": own}
    other = {"service-id": "wcs", "slug": "eservices", "base_url": "https://demarches.example.test/",
             "variables": {"theme": "not-this-one"}}
    variables = {"theme": theme} if theme is not None else {}
    return json.dumps({"services": [other, me], "variables": variables}).encode()


def test_the_recipes_theme_in_hobo_json_is_ok() -> None:
    judgement = judge_theme(target("combo"), "publik", hobo_json("publik"))
    assert (judgement.state, judgement.actual) == (State.OK, "theme 'publik'")
    assert "variables.theme = 'publik'" in judgement.evidence[0]


def test_another_theme_is_wrong_and_says_both() -> None:
    judgement = judge_theme(target("combo"), "publik", hobo_json("imio"))
    assert judgement.state is State.WRONG
    assert "'imio'" in judgement.actual and "'publik'" in judgement.expected
    assert "set-theme publik" in judgement.todo


def test_the_services_own_theme_overrides_the_shared_one() -> None:
    assert judge_theme(target("combo"), "publik", hobo_json("publik", own="imio")).state is State.WRONG
    judgement = judge_theme(target("combo"), "publik", hobo_json("imio", own="publik"))
    assert judgement.state is State.OK and "own" in judgement.evidence[0]


def test_a_service_found_by_url_when_not_marked_this() -> None:
    document = {"services": [{"service-id": "combo", "base_url": "https://portail.example.test",
                              "variables": {"theme": "imio"}}], "variables": {"theme": "publik"}}
    assert judge_theme(target("combo"), "publik", json.dumps(document).encode()).state is State.WRONG


@pytest.mark.parametrize(("raw", "state", "actual"), [
    (None, State.PENDING, "hobo.json not readable yet"),
    (b'{"services": [], "variables": {}}', State.PENDING, "hobo.json has no theme variable"),
    (b"{not json", State.WRONG, "hobo.json is not valid JSON"),
    (b"[1, 2]", State.WRONG, "hobo.json is not a JSON object"),
])
def test_missing_or_broken_hobo_json(raw: bytes | None, state: State, actual: str) -> None:
    judgement = judge_theme(target("combo"), "publik", raw)
    assert judgement.state is state and judgement.actual.startswith(actual)


# -- w.c.s. site options -----------------------------------------------------------------------------

SKELETON_OPTIONS = {"options": {"default-to-global-view": "true", "disable-jsonp-sources": "true",
                                "allowed_hostname": "ignored", "settings-disabled-screens": "misc,texts"},
                    "variables": {"foo": "bar"}}
DEPLOYED = (b"[options]\ndefault-to-global-view = true\ndisable-jsonp-sources = true\n"
            b"settings-disabled-screens = misc,texts\nallowed_hostname = demarches.example.test\n"
            b"[api-secrets]\nportail.example.test = s3cr3t-shared-value\n[variables]\nfoo = other\n")


def skeleton(options: dict[str, dict[str, str]] | None = None, problems: list[str] | None = None) -> SkeletonFacts:
    report = SkeletonReport(members=["config.json", "site-options.cfg"],
                            site_options=SKELETON_OPTIONS if options is None else options, problems=problems or [])
    return SkeletonFacts("modele.zip", "/var/lib/wcs/skeletons/modele.zip", "hobo", report)


def test_a_tenant_with_the_skeletons_options_is_ok() -> None:
    judgement = judge_wcs_site_options(target("wcs"), skeleton(), DEPLOYED)
    assert judgement.state is State.OK, judgement
    assert judgement.actual == "all 3 option(s) of the skeleton present"


def test_lost_or_changed_options_are_wrong_and_named_without_the_tenants_secrets() -> None:
    deployed = b"[options]\ndisable-jsonp-sources = false\n[api-secrets]\nportail.example.test = s3cr3t-shared-value\n"
    judgement = judge_wcs_site_options(target("wcs"), skeleton(), deployed)
    assert judgement.state is State.WRONG
    assert "[options] default-to-global-view missing" in judgement.actual
    assert "[options] disable-jsonp-sources = 'false', the skeleton says 'true'" in judgement.actual
    assert judgement.actual.startswith("3 of the skeleton's 3 option(s) differ")
    assert "s3cr3t" not in " ".join((judgement.actual, judgement.todo, *judgement.evidence))


def test_while_deploying_or_absent_the_site_options_are_pending() -> None:
    deploying = b"[options]\nallowed_hostname = deployment-in-progress.invalid\n"
    assert judge_wcs_site_options(target("wcs"), skeleton(), deploying).state is State.PENDING
    assert judge_wcs_site_options(target("wcs"), skeleton(), None).state is State.PENDING


@pytest.mark.parametrize(("facts", "actual"), [
    (None, "no readable skeleton"),
    (SkeletonFacts("modele.zip", "/x/modele.zip", "hobo", None), "no readable skeleton in /x/modele.zip"),
    (skeleton(problems=["not a valid zip file (3 bytes)"]), "skeleton modele.zip: not a valid zip file"),
    (skeleton(options={}), "site-options.cfg of the skeleton sets nothing"),
])
def test_without_a_usable_skeleton_nothing_is_compared(facts: SkeletonFacts | None, actual: str) -> None:
    judgement = judge_wcs_site_options(target("wcs"), facts, DEPLOYED)
    assert judgement.state is State.WRONG and actual in judgement.actual


def test_a_tenant_file_that_does_not_parse_is_wrong() -> None:
    judgement = judge_wcs_site_options(target("wcs"), skeleton(), b"no section header\n")
    assert judgement.state is State.WRONG and "does not parse" in judgement.actual


# -- the skeleton in a round's facts, and digests -------------------------------------------------------

def zipped(options: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", json.dumps({"postgresql": {
            "createdb-connection-params": {"database": "postgres", "user": "wcs"},
            "database-template-name": "wcs_%s"}}))
        archive.writestr("site-options.cfg", options)
    return buffer.getvalue()


def test_the_skeleton_wcs_would_use_is_the_first_candidate_present() -> None:
    wcs = target("wcs")
    env = corpus_plan().environment
    template, default_zip, _default = skeleton_paths(env, wcs)
    facts = ServerFacts("root@app1", ("hobo",), paths={
        template: PathFacts(template, False), default_zip: PathFacts(default_zip, True, "regular file")},
        files={default_zip: zipped("[options]\nfoo = bar\n")})
    found = found_skeleton(env, wcs, facts)
    assert found is not None and found.template == "default.zip" and found.report is not None
    assert found.report.site_options == {"options": {"foo": "bar"}}
    assert found_skeleton(env, wcs, ServerFacts("root@app1", ("hobo",))) is None


def test_options_digest_ignores_layout_but_not_values() -> None:
    one = options_digest({"options": {"a": "1", "b": "2"}})
    assert one == options_digest({"options": {"b": " 2", "a": "1"}})
    assert one != options_digest({"options": {"a": "1", "b": "3"}})


def test_a_wcs_tenant_at_its_old_location_is_read_there() -> None:
    old = "/var/lib/wcs/demarches.example.test"
    assert f"{old}/hobo.json" in judge_theme(target("wcs"), "publik", None, old).expected
    assert f"{old}/site-options.cfg" in judge_wcs_site_options(target("wcs"), skeleton(), None, old).expected
