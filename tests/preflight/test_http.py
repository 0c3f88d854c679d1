"""On every address: `GET /` answers the services' own 404 — the frontend works, no tenant exists yet."""

from __future__ import annotations

import re

from publik_acceptance.evidence.preflight import Frontend, PreflightEvidence
from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.judge.checks import Verdict, skip_unchecked
from publik_acceptance.plan import Plan


def interpret(exchange: HttpExchange, expected: int) -> tuple[str, str]:
    """What a wrong answer means, and what to do about it."""
    status = exchange.status
    if status is None:
        if exchange.error_kind == "timeout":
            return ("no answer in time: the frontend or the service behind it hangs",
                    "check the service processes behind the frontend (uwsgi/gunicorn) and their logs")
        return ("no frontend at this address", "start or fix the frontend at this address, or fix the DNS record")
    if 200 <= status < 400:
        return ("something already answers for this name (tenant exists?)",
                "this name is already served: check whether the instance was deployed before (postdeploy phase), "
                "or remove the vhost/tenant that answers")
    if status in (502, 503, 504):
        return ("frontend up, service not reachable", "start the Publik service behind the frontend and check "
                                                      "the frontend's upstream configuration")
    if status == expected:
        return ("the 404 does not look like the services' own", "the frontend answers itself (default vhost?): "
                                                                "route this hostname to the Publik services")
    return (f"unexpected status {status}", "check the frontend and the service logs for this hostname")


def test_http_404(plan: Plan, preflight: PreflightEvidence, frontend: Frontend) -> None:
    target, address = frontend.target, frontend.address
    if address is None:
        skip_unchecked(f"{target.hostname} does not resolve: see test_dns[{target.id}]")
    exchange = preflight.exchanges[(target.hostname, address)]
    signature = target.not_found
    verdict = Verdict("HTTP before cook", f"GET https://{target.hostname}/ on {address}:{plan.environment.http.port}")
    verdict.note(exchange.summary() + f" [{exchange.elapsed * 1000:.0f} ms]")
    verdict.attach("http", f"GET https://{target.hostname}/ on {address}", exchange)
    if exchange.tls is not None and exchange.status is not None and not exchange.tls.verified:
        verdict.note("(over an unverified TLS session: the certificate problem is reported by test_tls)")
    matches = exchange.status == signature.status
    if matches and signature.body_pattern and not re.search(signature.body_pattern, exchange.body):
        matches = False
    if matches and signature.header:
        value = exchange.headers.get(signature.header.lower())
        if value is None or (signature.header_pattern and not re.search(signature.header_pattern, value)):
            matches = False
    if not matches:
        meaning, todo = interpret(exchange, signature.status)
        actual = f"{exchange.status} {exchange.reason}" if exchange.status else (exchange.error or "no answer")
        verdict.expect(False, f"{signature.status} from the Publik services (no tenant yet)",
                       f"{actual} — {meaning}", todo)
        if exchange.body:
            verdict.note("body: " + " ".join(exchange.body[:300].split()))
    verdict.conclude()
