"""The 404 judge (preflight) on synthetic answers: the not-found signature and what each wrong answer means."""

from __future__ import annotations

from dataclasses import replace

import pytest

from publik_acceptance.config.environment import NotFoundSignature
from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.judge.notfound import interpret, judge_not_found, matches_signature, page_origin
from publik_acceptance.plan import load_plan

from .judge_facts import exchange, target, unverified
from .notfound_pages import (
    APACHE_404,
    APACHE_404_OLD,
    APACHE_DEFAULT_SITE,
    APACHE_HEADERS,
    APACHE_OLD_HEADERS,
    AUTHENTIC_404,
    DJANGO_404,
    HAPROXY_404,
    HAPROXY_503,
    HAPROXY_HEADERS,
    NGINX_404,
    NGINX_404_VERSION,
    NGINX_502,
    NGINX_HEADERS,
    NGINX_VERSION_HEADERS,
    NGINX_WELCOME,
    THEMED_404,
)
from .notfound_pages import PUBLIK_HEADERS as PUBLIK_VHOST_HEADERS

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


def test_the_default_signature_is_any_404_the_frontend_did_not_write() -> None:
    assert matches_signature(exchange(URL, 404, body="whatever"), NotFoundSignature())
    assert not matches_signature(exchange(URL, 404, body=NGINX_404, headers=NGINX_HEADERS), NotFoundSignature())


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
    assert verdict.evidence == [f"GET {URL} via 192.0.2.80: 404 Not Found [0 ms]",
                                "page: not recognised (Server: none)"]


def test_an_answer_over_unverified_tls_is_judged_on_its_http_and_says_so() -> None:
    answer = exchange(URL, 404, tls=unverified("portail.example.test"))
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, answer)
    assert verdict.ok
    assert verdict.evidence[1] == "(over an unverified TLS session: the certificate problem is reported by test_tls)"


def test_a_tenant_already_answering_fails_with_meaning_todo_and_the_body() -> None:
    answer = exchange(URL, 200, body="<html>\n  <title>Portail</title>\n</html>")
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, answer)
    assert verdict.problems == [(
        "404 from the Publik services (no tenant yet), not a page of the frontend itself",
        "200 OK — something already answers for this name (tenant exists?)",
        "this name is already served: check whether the instance was deployed before (postdeploy phase), "
        "or remove the vhost/tenant that answers")]
    assert verdict.evidence[-1] == "body: <html> <title>Portail</title> </html>"


def test_no_answer_fails_with_the_probe_error() -> None:
    answer = exchange(URL, None, error_kind="http", error="no HTTP response in 10 s")
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, answer)
    assert verdict.problems[0][1] == "no HTTP response in 10 s — no frontend at this address"
    assert len(verdict.evidence) == 1  # no body to show, no page to recognise


def test_no_answer_without_error_text_says_so() -> None:
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, exchange(URL, None))
    assert verdict.problems[0][1] == "no answer — no frontend at this address"


def test_the_target_signature_is_the_one_used() -> None:
    signed = replace(target("combo"), not_found=SIGNED)
    assert not judge_not_found(signed, "192.0.2.80", 443, exchange(URL, 404)).ok
    assert judge_not_found(signed, "192.0.2.80", 443, exchange(URL, 404, body=PUBLIK_BODY, headers=PUBLIK_HEADERS)).ok


# -- the default signature: the services' 404, not a page the frontend wrote itself ---------------------------------
FRONTEND_404S = [
    pytest.param(NGINX_404, NGINX_HEADERS, "nginx", "'<center>nginx</center>'; Server: nginx", id="nginx"),
    pytest.param(NGINX_404_VERSION, NGINX_VERSION_HEADERS, "nginx", "'<center>nginx/1.22.1</center>'; "
                 "Server: nginx/1.22.1", id="nginx-server-tokens"),
    pytest.param(APACHE_404, APACHE_HEADERS, "Apache httpd", "'The requested URL was not found on this server'; "
                 "Server: Apache/2.4.62 (Debian)", id="apache"),
    pytest.param(APACHE_404_OLD, APACHE_OLD_HEADERS, "Apache httpd", "'The requested URL / was not found on this "
                 "server'; Server: Apache", id="apache-with-path"),
    pytest.param(HAPROXY_404, HAPROXY_HEADERS, "haproxy", "'<h1>404 Not Found</h1> The resource could not be found.'; "
                 "no Server header", id="haproxy"),
]


@pytest.mark.parametrize(("body", "headers", "source", "seen"), FRONTEND_404S)
def test_a_frontends_own_404_fails_saying_it_answers_itself(body: str, headers: dict[str, str], source: str,
                                                            seen: str) -> None:
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, exchange(URL, 404, body=body, headers=headers))
    ((expected, actual, todo),) = verdict.problems
    assert expected == "404 from the Publik services (no tenant yet), not a page of the frontend itself"
    assert actual.startswith("404 Not Found — the frontend answers itself for this name: ")
    assert f"{source}'s own built-in" in actual and seen in actual
    assert todo.startswith("add the vhost / route it to Publik: give portail.example.test a vhost on this frontend")
    assert verdict.subject == "GET https://portail.example.test/ on 192.0.2.80:443"


# Django's page: hobo's tenant middleware and w.c.s. on an unknown host raise Http404, no 404.html found.
@pytest.mark.parametrize(("body", "seen"), [
    (DJANGO_404, "Django's default 404 page (hobo, combo, passerelle, fargo, w.c.s.…) ('<h1>Not Found</h1><p>"
                   "The requested resource was not found on this server.</p>'; Server: nginx)"),
    (AUTHENTIC_404, "authentic's 404 page ('page introuvable'; Server: nginx)"),
    (THEMED_404, "not recognised (Server: nginx)"),
])
def test_a_publik_404_passes_through_a_publik_nginx_vhost_whatever_the_page(body: str, seen: str) -> None:
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, exchange(URL, 404, body=body,
                                                                           headers=PUBLIK_VHOST_HEADERS))
    assert verdict.ok, verdict.message()
    assert seen in verdict.evidence[-1]


@pytest.mark.parametrize("body", [NGINX_WELCOME, APACHE_DEFAULT_SITE])
def test_a_frontends_default_site_is_the_frontend_answering_itself(body: str) -> None:
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, exchange(URL, 200, body=body))
    ((_expected, actual, todo),) = verdict.problems
    assert actual.startswith("200 OK — the frontend answers itself for this name: ") and "default site" in actual
    assert todo.startswith("add the vhost / route it to Publik")


def test_haproxy_without_a_backend_for_the_name_answers_its_own_503() -> None:
    answer = exchange(URL, 503, reason="Service Unavailable", body=HAPROXY_503, headers=HAPROXY_HEADERS)
    ((_expected, actual, todo),) = judge_not_found(target("combo"), "192.0.2.80", 443, answer).problems
    assert "the frontend answers itself for this name: haproxy has no server for it" in actual
    assert "'<h1>503 Service Unavailable</h1> No server is available to handle this request.'" in actual
    assert todo.startswith("route portail.example.test to Publik in haproxy")


def test_nginx_proxy_error_stays_a_service_not_reachable_and_names_the_page() -> None:
    answer = exchange(URL, 502, reason="Bad Gateway", body=NGINX_502, headers=NGINX_HEADERS)
    verdict = judge_not_found(target("combo"), "192.0.2.80", 443, answer)
    assert verdict.problems[0][1] == "502 Bad Gateway — frontend up, service not reachable"
    assert verdict.evidence[1] == "page: nginx's own built-in error page ('<center>nginx</center>'; Server: nginx)"


def test_a_body_pattern_that_a_frontend_page_also_matches_no_longer_lets_it_through() -> None:
    # The sandbox once pinned "<h1>Not Found</h1>": Apache's own 404 has it too.
    signature = NotFoundSignature(404, body_pattern="<h1>Not Found</h1>")
    assert matches_signature(exchange(URL, 404, body=DJANGO_404), signature)
    assert not matches_signature(exchange(URL, 404, body=APACHE_404, headers=APACHE_HEADERS), signature)


def test_an_environment_whose_frontends_replace_the_404_can_accept_their_page_and_pin_a_header() -> None:
    lenient = NotFoundSignature(404, reject_frontend_pages=False)
    assert matches_signature(exchange(URL, 404, body=NGINX_404, headers=NGINX_HEADERS), lenient)
    pinned = NotFoundSignature(404, header="X-Publik", reject_frontend_pages=False)
    assert not matches_signature(exchange(URL, 404, body=NGINX_404, headers=NGINX_HEADERS), pinned)
    assert matches_signature(exchange(URL, 404, body=NGINX_404, headers={**NGINX_HEADERS, "x-publik": "1"}), pinned)


def test_page_origin_reads_any_case_and_ignores_what_it_does_not_know() -> None:
    origin = page_origin(exchange(URL, 404, body=NGINX_404.upper()))
    assert origin is not None and origin.source == "nginx" and origin.frontend and origin.server is None
    assert page_origin(exchange(URL, 404, body="")) is None
    assert page_origin(exchange(URL, 404, body="<h1>nginx</h1> is a web server")) is None


@pytest.mark.parametrize("environment", ["preprod", "prod"])
def test_the_shipped_environments_use_the_default_signature(environment: str) -> None:
    plan = load_plan(environment)
    assert plan.environment.http.not_found == NotFoundSignature()
    assert all(t.not_found == NotFoundSignature() for t in plan.targets)
    assert NotFoundSignature().reject_frontend_pages
