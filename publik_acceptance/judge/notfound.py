"""The 404 judge (preflight): before the cook, every address answers the Publik services' own 404.

The frontend works and routes the hostname to the services, and no tenant answers for it yet. The
default signature is "404, and not a page the frontend wrote itself": a frontend with no vhost or
route for the name answers its own page (nginx's default server, Apache's first vhost, haproxy
without a matching backend), and that must not open the gate. Frontend pages are recognised from
their bodies (built-in texts taken from nginx, Apache httpd and haproxy sources), with the Server
header shown as evidence. The services' 404 is not pinned by default: Publik answers it through
Django (hobo's tenant middleware, and w.c.s. on an unknown host, raise Http404), rendered by
Django's default page or by the application's own `404.html` (authentic's says "page introuvable"),
and the page depends on the version and theme. An environment can pin it (`http.not_found.*`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from publik_acceptance.config.environment import NotFoundSignature
from publik_acceptance.evidence.probes.http import HttpExchange
from publik_acceptance.judge.checks import Verdict
from publik_acceptance.plan import Target

SNIPPET_MAX = 120  # characters of a telling snippet shown in a message


@dataclass(frozen=True)
class Mark:
    """Texts that, all found in a body (any case), say who wrote the page."""

    source: str
    frontend: bool  # a frontend's own page, not a Publik service's
    texts: tuple[str, ...]
    page: str  # what kind of page it is, for the message


# Built-in pages, verbatim from the sources: nginx src/http/ngx_http_special_response.c (error
# pages end with "<hr><center>nginx</center>", or "nginx/<version>" with server_tokens on);
# Apache httpd's canned 404 ("The requested URL [/path] was not found on this server.", older
# versions name the path) and its ServerSignature line "<address>Apache/… Server at …"; haproxy
# src/http.c http_err_msgs ("<html><body><h1>404 Not Found</h1>\nThe resource could not be found.");
# the default sites Debian installs (nginx's "Welcome to nginx!", Apache's default page).
MARKS: tuple[Mark, ...] = (
    Mark("nginx", True, ("<center>nginx",), "built-in error page"),
    Mark("nginx", True, ("<title>welcome to nginx!</title>",), "default site"),
    Mark("Apache httpd", True, ("the requested url", "was not found on this server"), "built-in 404 page"),
    Mark("Apache httpd", True, ("<address>apache",), "built-in error page"),
    Mark("Apache httpd", True, ("apache2 debian default page",), "default site"),
    Mark("Apache httpd", True, ("<h1>it works!</h1>",), "default site"),
    Mark("haproxy", True, ("<h1>404 not found</h1>", "the resource could not be found."), "built-in 404 page"),
    Mark("haproxy", True, ("<h1>503 service unavailable</h1>", "no server is available to handle this request."),
         "built-in 503 page"),
    Mark("haproxy", True, ("<h1>502 bad gateway</h1>", "the server returned an invalid or incomplete response."),
         "built-in 502 page"),
    Mark("haproxy", True, ("<h1>504 gateway time-out</h1>", "the server didn't respond in time."),
         "built-in 504 page"),
    Mark("haproxy", True, ("<h1>403 forbidden</h1>", "request forbidden by administrative rules."),
         "built-in 403 page"),
    # The services' own 404 (recognised for the evidence only; any other page is accepted too).
    Mark("Django", False, ("<h1>not found</h1><p>the requested resource was not found on this server.</p>",),
         "default 404 page (hobo, combo, passerelle, fargo, w.c.s.…)"),
    Mark("authentic", False, ("page introuvable",), "404 page"),
    Mark("authentic", False, ("error: page not found",), "404 page"),
)


@dataclass(frozen=True)
class PageOrigin:
    """Who wrote a page, as recognised from its body, with the text that tells and the Server header."""

    source: str
    frontend: bool
    page: str
    snippet: str
    server: str | None

    def describe(self) -> str:
        server = f"Server: {self.server}" if self.server else "no Server header"
        return f"{self.source}'s own {self.page} ({self.snippet!r}; {server})" if self.frontend else (
            f"{self.source}'s {self.page} ({self.snippet!r}; {server})")


def page_origin(exchange: HttpExchange) -> PageOrigin | None:
    """The first mark whose texts are all in the body, or None. Plain substring searches: linear in
    the body, whatever a server sends."""
    if not exchange.body:
        return None
    lowered = exchange.body.lower()
    if len(lowered) != len(exchange.body):  # a few characters change length when lowered: keep indexes exact
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in exchange.body)
    for mark in MARKS:
        found = [lowered.find(text) for text in mark.texts]
        if all(position >= 0 for position in found):
            end = found[-1] + len(mark.texts[-1])
            return PageOrigin(mark.source, mark.frontend, mark.page, _snippet(exchange.body, found[0], end),
                              exchange.headers.get("server"))
    return None


def _snippet(body: str, start: int, end: int) -> str:
    """The matched text; an element cut short ("<center>nginx") runs to its closing tag, which shows
    nginx's version or Apache's address line."""
    if body[start] == "<" and "</" not in body[start:end] and body[end - 1] != ">":
        close = body.find(">", end, start + SNIPPET_MAX)
        end = close + 1 if close >= 0 else end
    return " ".join(body[start:max(end, start)].split())[:SNIPPET_MAX]


def judge_not_found(target: Target, address: str, port: int, exchange: HttpExchange) -> Verdict:
    """`exchange` is the preflight `GET https://<hostname>/` sent to `address`."""
    signature = target.not_found
    verdict = Verdict("HTTP before cook", f"GET https://{target.hostname}/ on {address}:{port}")
    verdict.note(exchange.summary() + f" [{exchange.elapsed * 1000:.0f} ms]")
    verdict.attach("http", f"GET https://{target.hostname}/ on {address}", exchange)
    if exchange.tls is not None and exchange.status is not None and not exchange.tls.verified:
        verdict.note("(over an unverified TLS session: the certificate problem is reported by test_tls)")
    origin = page_origin(exchange)
    if exchange.status is not None:
        verdict.note(f"page: {origin.describe()}" if origin else
                     f"page: not recognised (Server: {exchange.headers.get('server') or 'none'})")
    if not matches_signature(exchange, signature):
        meaning, todo = interpret(exchange, signature.status, origin, target.hostname)
        actual = f"{exchange.status} {exchange.reason}" if exchange.status else (exchange.error or "no answer")
        expected = f"{signature.status} from the Publik services (no tenant yet)"
        if signature.reject_frontend_pages:
            expected += ", not a page of the frontend itself"
        verdict.expect(False, expected, f"{actual} — {meaning}", todo)
        if exchange.body:
            verdict.note("body: " + " ".join(exchange.body[:300].split()))
    return verdict


def matches_signature(exchange: HttpExchange, signature: NotFoundSignature) -> bool:
    """The status; not a frontend's own page (unless the signature allows it); and the body pattern
    and header (with its pattern) when the signature has them."""
    if exchange.status != signature.status:
        return False
    if signature.reject_frontend_pages:
        origin = page_origin(exchange)
        if origin is not None and origin.frontend:
            return False
    if signature.body_pattern and not re.search(signature.body_pattern, exchange.body):
        return False
    if signature.header:
        value = exchange.headers.get(signature.header.lower())
        if value is None or (signature.header_pattern and not re.search(signature.header_pattern, value)):
            return False
    return True


FRONTEND_ITSELF = "the frontend answers itself for this name"


def interpret(exchange: HttpExchange, expected: int, origin: PageOrigin | None = None,
              hostname: str = "this hostname") -> tuple[str, str]:
    """What a wrong answer means, and what to do about it."""
    status = exchange.status
    if status is None:
        if exchange.error_kind == "timeout":
            return ("no answer in time: the frontend or the service behind it hangs",
                    "check the service processes behind the frontend (uwsgi/gunicorn) and their logs")
        return ("no frontend at this address", "start or fix the frontend at this address, or fix the DNS record")
    if origin is not None and origin.frontend and (status == expected or 200 <= status < 300):
        return (f"{FRONTEND_ITSELF}: {origin.describe()}",
                f"add the vhost / route it to Publik: give {hostname} a vhost on this frontend that proxies "
                "to the Publik service (nginx server_name, Apache ServerName/ServerAlias, haproxy use_backend), "
                "then reload the frontend")
    if origin is not None and origin.source == "haproxy" and status == 503:
        return (f"{FRONTEND_ITSELF}: haproxy has no server for it (no backend routes it, or that backend's "
                f"servers are all down): {origin.describe()}",
                f"route {hostname} to Publik in haproxy (use_backend / default_backend) and check that the "
                "backend's servers are up")
    if 200 <= status < 400:
        return ("something already answers for this name (tenant exists?)",
                "this name is already served: check whether the instance was deployed before (postdeploy phase), "
                "or remove the vhost/tenant that answers")
    if status in (502, 503, 504):
        return ("frontend up, service not reachable", "start the Publik service behind the frontend and check "
                                                      "the frontend's upstream configuration")
    if status == expected:
        return ("the 404 does not look like the services' own (http.not_found: body_pattern / header)",
                "the frontend may answer itself (default vhost?): route this hostname to the Publik services, "
                "or correct the environment's http.not_found signature")
    return (f"unexpected status {status}", "check the frontend and the service logs for this hostname")
