"""The 404 judge (preflight): before the cook, every address answers the Publik services' own 404.

The frontend works and routes the hostname to the services, and no tenant answers for it yet. A
404 that does not match the environment's not-found signature (status, body pattern, header) comes
from somewhere else, typically a frontend's default vhost.
"""

from __future__ import annotations

import re

from publik_acceptance.config.environment import NotFoundSignature
from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.judge.checks import Verdict
from publik_acceptance.plan import Target


def judge_not_found(target: Target, address: str, port: int, exchange: HttpExchange) -> Verdict:
    """`exchange` is the preflight `GET https://<hostname>/` sent to `address`."""
    signature = target.not_found
    verdict = Verdict("HTTP before cook", f"GET https://{target.hostname}/ on {address}:{port}")
    verdict.note(exchange.summary() + f" [{exchange.elapsed * 1000:.0f} ms]")
    verdict.attach("http", f"GET https://{target.hostname}/ on {address}", exchange)
    if exchange.tls is not None and exchange.status is not None and not exchange.tls.verified:
        verdict.note("(over an unverified TLS session: the certificate problem is reported by test_tls)")
    if not matches_signature(exchange, signature):
        meaning, todo = interpret(exchange, signature.status)
        actual = f"{exchange.status} {exchange.reason}" if exchange.status else (exchange.error or "no answer")
        verdict.expect(False, f"{signature.status} from the Publik services (no tenant yet)",
                       f"{actual} — {meaning}", todo)
        if exchange.body:
            verdict.note("body: " + " ".join(exchange.body[:300].split()))
    return verdict


def matches_signature(exchange: HttpExchange, signature: NotFoundSignature) -> bool:
    """The status, and the body pattern and header (with its pattern) when the signature has them."""
    if exchange.status != signature.status:
        return False
    if signature.body_pattern and not re.search(signature.body_pattern, exchange.body):
        return False
    if signature.header:
        value = exchange.headers.get(signature.header.lower())
        if value is None or (signature.header_pattern and not re.search(signature.header_pattern, value)):
            return False
    return True


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
