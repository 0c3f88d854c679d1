"""The 404 judge (preflight) on synthetic answers: the not-found signature and what each wrong answer means."""

from __future__ import annotations

from dataclasses import replace

import pytest

from publik_acceptance.config.environment import NotFoundSignature
from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.judge.notfound import interpret, judge_not_found, matches_signature

from .judge_facts import exchange, target, unverified

URL = "https://portail.example.test/"
SIGNED = NotFoundSignature(404, body_pattern="Page non trouvée", header="X-Served-By", header_pattern="^publik")
PUBLIK_BODY, PUBLIK_HEADERS = "<h1>Page non trouvée</h1>", {"x-served-by": "publik-1"}


@pytest.mark.parametrize(("answer", "expected"), [
    (exchange(URL, 404, body=PUBLIK_BODY, headers=PUBLIK_HEADERS), True),
    (exchange(URL, 200, body=PUBLIK_BODY, headers=PUBLIK_HEADERS), False),
    (exchange(URL, 404, body="<h1>nginx</h1>", headers={"x-served-by": "publik-1"}), False),
    (exchange(URL, 404, body="<h1>Page non trouvée</h1>"), False),
    (exchange(URL, 404, body="<h1>Page non trouvée</h1>", headers={"x-served-by": "nginx"}), False),
])
def test_the_signature_needs_status_body_and_header(answer: HttpExchange, expected: bool) -> None:
    assert matches_signature(answer, SIGNED) is expected


def test_a_header_without_pattern_needs_only_to_be_there() -> None:
    signature = NotFoundSignature(404, header="X-Served-By")
    assert matches_signature(exchange(URL, 404, headers={"x-served-by": "anything"}), signature)
    assert not matches_signature(exchange(URL, 404), signature)


def test_the_default_signature_is_any_404() -> None:
    assert matches_signature(exchange(URL, 404, body="whatever"), NotFoundSignature())


@pytest.mark.parametrize(("answer", "meaning"), [
    (exchange(URL, None, error_kind="timeout", error="timed out"), "no answer in time"),
    (exchange(URL, None, error_kind="connect", error="refused"), "no frontend at this address"),
    (exchange(URL, 200), "something already answers for this name (tenant exists?)"),
    (exchange(URL, 302, location="/x"), "something already answers for this name (tenant exists?)"),
    (exchange(URL, 502), "frontend up, service not reachable"),
    (exchange(URL, 404), "the 404 does not look like the services' own"),
    (exchange(URL, 500), "unexpected status 500"),
])
def test_each_wrong_answer_has_its_meaning(answer: HttpExchange, meaning: str) -> None:
    found, todo = interpret(answer, 404)
    assert found.startswith(meaning) and todo


def test_the_services_404_passes_with_the_exchange_as_evidence() -> None:
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, exchange(URL, 404))
    assert verdict.ok
    assert verdict.check == "HTTP before cook"
    assert verdict.subject == "GET https://portail.example.test/ on 192.0.2.80:443"
    assert verdict.evidence == [f"GET {URL} via 192.0.2.80: 404 Not Found [0 ms]"]


def test_an_answer_over_unverified_tls_is_judged_on_its_http_and_says_so() -> None:
    answer = exchange(URL, 404, tls=unverified("portail.example.test"))
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, answer)
    assert verdict.ok
    assert verdict.evidence[1] == "(over an unverified TLS session: the certificate problem is reported by test_tls)"


def test_a_tenant_already_answering_fails_with_meaning_todo_and_the_body() -> None:
    answer = exchange(URL, 200, body="<html>\n  <title>Portail</title>\n</html>")
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, answer)
    assert verdict.problems == [(
        "404 from the Publik services (no tenant yet)",
        "200 OK — something already answers for this name (tenant exists?)",
        "this name is already served: check whether the instance was deployed before (postdeploy phase), "
        "or remove the vhost/tenant that answers")]
    assert verdict.evidence[-1] == "body: <html> <title>Portail</title> </html>"


def test_no_answer_fails_with_the_probe_error() -> None:
    answer = exchange(URL, None, error_kind="http", error="no HTTP response in 10 s")
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, answer)
    assert verdict.problems[0][1] == "no HTTP response in 10 s — no frontend at this address"
    assert len(verdict.evidence) == 1  # no body to show


def test_no_answer_without_error_text_says_so() -> None:
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, exchange(URL, None))
    assert verdict.problems[0][1] == "no answer — no frontend at this address"


def test_the_target_signature_is_the_one_used() -> None:
    signed = replace(target("combo"), not_found=SIGNED)
    assert not judge_not_found(signed, "192.0.2.80", 443, exchange(URL, 404)).ok
    assert judge_not_found(signed, "192.0.2.80", 443, exchange(URL, 404, body=PUBLIK_BODY, headers=PUBLIK_HEADERS)).ok
