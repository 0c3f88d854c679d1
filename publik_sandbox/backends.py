"""Publik-like service backends: one HTTP listener per service kind, each in its own process.

Like the real multitenant middleware, every answer is decided from the tenant directories on disk
(`$ROOT/var/lib/<svc>/tenants/<host>`): no tenant directory → an application 404. Deployed tenants
answer as publik-reference.md §5 describes: combo's empty-site page, authentic's login page, the
other Django services redirecting to authentic's SSO, w.c.s. redirecting to the user portal (or
404 while its deployment is in progress, 503 without a usable database). Post-cook faults
(`portal-error`, `wrong-redirect`) are read from `$STATE/faults.json` on each request.
Federation is real SAML 2.0: authentic is an IdP (saml_idp), the other services SPs (saml_sp),
with what their deployment left in their tenant's `saml/` directory.

Run: `python -m publik_sandbox.backends <state_dir>`.
"""

from __future__ import annotations

import configparser
import contextlib
import html
import json
import os
import pickle
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlsplit

from publik_acceptance.config.catalogue import (
    COMBO_EMPTY_SITE_TEXTS,
    SERVICE_KINDS,
    USER_PORTAL_TEMPLATE,
    WCS_DEPLOYING_HOSTNAME,
)
from publik_sandbox import saml_pages, saml_web
from publik_sandbox.saml_idp import Idp
from publik_sandbox.saml_sp import Sp

NOT_FOUND_PAGE = (
    '<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n'
    "  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n"
)
SERVER_ERROR_PAGE = (
    '<!doctype html>\n<html lang="fr">\n<head>\n  <title>Erreur interne</title>\n</head>\n<body>\n'
    "  <h1>Server Error (500)</h1><p>Une erreur est survenue.</p>\n</body>\n</html>\n"
)
COMBO_PAGE = (
    '<!doctype html>\n<html lang="fr">\n<head>\n  <meta charset="utf-8">\n  <title>{title}</title>\n'
    "</head>\n<body>\n  <h1>{title}</h1>\n"
    "  <p>" + COMBO_EMPTY_SITE_TEXTS[0] + ", félicitations.</p>\n"
    "  <p>" + COMBO_EMPTY_SITE_TEXTS[1] + ", rendez-vous dans l'interface d'administration "
    "pour le configurer.</p>\n</body>\n</html>\n"
)
class _PlainUnpickler(pickle.Unpickler):
    """config.pck holds plain dicts: refuse any global, so reading it can never run code."""

    def find_class(self, module: str, name: str) -> object:
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


class Platform:
    """What the backends read from the state directory, with small caches."""

    def __init__(self, state: Path) -> None:
        self.runtime = json.loads((state / "sandbox.json").read_text())
        self.root = Path(self.runtime["root"])
        self.faults_file = state / "faults.json"
        self._faults: tuple[float, list[dict]] = (-1.0, [])
        self._db_ok: dict[str, float] = {}
        self._lock = threading.Lock()

    def tenant_dir(self, kind: str, host: str) -> Path | None:
        base = self.root / SERVICE_KINDS[kind].tenants_dir.lstrip("/")
        candidates = [base / host]
        if kind == "wcs":  # w.c.s. still reads its legacy location
            candidates.append(base.parent / host)
        for path in candidates:
            if host and "/" not in host and not host.startswith(".") and path.is_dir():
                return path
        return None

    def fault_hosts(self, name: str) -> set[str]:
        try:
            mtime = self.faults_file.stat().st_mtime
        except OSError:
            return set()
        with self._lock:
            if mtime != self._faults[0]:
                try:
                    self._faults = (mtime, json.loads(self.faults_file.read_text()))
                except (OSError, ValueError):
                    return set()
            faults = self._faults[1]
        return {h for f in faults if f["name"] == name for h in f["hostnames"]}

    def database_ok(self, params: dict) -> bool:
        """Connect as the tenant's runtime user, as w.c.s. does on each request (cached 2 s)."""
        key = json.dumps({k: v for k, v in params.items() if k != "password"}, sort_keys=True)
        if time.monotonic() - self._db_ok.get(key, -10) < 2:
            return True
        import psycopg

        try:
            with psycopg.connect(
                host=params.get("host"), port=int(params.get("port") or 5432), user=params.get("user"),
                password=params.get("password"), dbname=params.get("database"), connect_timeout=3,
            ):
                pass
        except psycopg.Error:
            return False
        self._db_ok[key] = time.monotonic()
        return True


def _hobo_json(tenant: Path) -> dict:
    try:
        return json.loads((tenant / "hobo.json").read_text())
    except (OSError, ValueError):
        return {}


def _service_url(hobo: dict, service_id: str, template: str | None = None) -> str | None:
    for service in hobo.get("services", []):
        if service.get("service-id") == service_id and (template is None or service.get("template_name") == template):
            return service.get("base_url")
    return None


def _wcs_deploying(tenant: Path) -> bool:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(tenant / "site-options.cfg")
    except configparser.Error:
        return True
    return parser.get("options", "allowed_hostname", fallback="") == WCS_DEPLOYING_HOSTNAME


def _wcs_config(tenant: Path) -> dict:
    try:
        with open(tenant / "config.pck", "rb") as fh:
            value = _PlainUnpickler(fh).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def make_handler(kind: str, platform: Platform, idp: Idp, sp: Sp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"publik-sandbox-{kind}"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: object) -> None:
            sys.stderr.write(f"{kind} {self.headers.get('Host', '-') if hasattr(self, 'headers') else '-'} "
                             f"{fmt % args}\n")

        # -- responses ------------------------------------------------------------------------
        def send(self, status: int, body: str = "", ctype: str = "text/html; charset=utf-8",
                 headers: dict[str, str] | list[tuple[str, str]] | None = None) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items() if isinstance(headers, dict) else headers or []:
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def redirect(self, location: str) -> None:
            self.send(302, "", headers={"Location": location})

        def not_found(self) -> None:
            self.send(404, NOT_FOUND_PAGE)

        # -- dispatch -------------------------------------------------------------------------
        def do_GET(self) -> None:
            self.form: dict[str, str] = {}  # per request: one handler serves a whole keep-alive connection
            self.dispatch()

        def dispatch(self) -> None:
            host = (self.headers.get("Host") or "").split(":")[0].lower()
            tenant = platform.tenant_dir(kind, host)
            if tenant is None:
                return self.not_found()
            path = urlsplit(self.path).path
            hobo = _hobo_json(tenant)
            if path == "/__version__":
                return self.send(200, json.dumps({kind: "0.0+sandbox"}), "application/json")
            if kind == "wcs":
                if _wcs_deploying(tenant):
                    return self.not_found()
                config = _wcs_config(tenant)
                pg = config.get("postgresql")
                if not pg:
                    return self.send(503, "Missing database configuration", "text/plain; charset=utf-8")
                if not platform.database_ok(pg):
                    return self.send(503, "Error connecting to database", "text/plain; charset=utf-8")
            if path == "/" and host in platform.fault_hosts("wrong-redirect"):
                agent_portal = _service_url(hobo, "combo", "portal-agent") or "https://www.example.invalid/"
                return self.redirect(agent_portal)
            web = saml_web.Web(kind=kind, host=host, path=path, query=urlsplit(self.path).query,
                               method=self.command, cookies=saml_web.parse_cookies(self.headers.get("Cookie", "")),
                               form=self.form, headers={k.lower(): v for k, v in self.headers.items()},
                               tenant=tenant, hobo=hobo)
            reply = (idp if kind == "authentic" else sp).handle(web)
            if reply is not None:
                return self.send(reply.status, reply.body, reply.ctype, reply.headers)
            user = None if kind == "authentic" else sp.user(web)
            getattr(self, f"serve_{kind}", self.serve_django)(host, path, tenant, hobo, user)

        do_HEAD = do_GET

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1 << 20)) if length else b""  # never logged: it may hold a password
            form: dict[str, str] = {}
            if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
                form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            self.form = form
            self.dispatch()

        def serve_django(self, host: str, path: str, tenant: Path, hobo: dict, user: dict | None) -> None:
            """hobo, passerelle, fargo, chrono, bijoe: everything is behind the authentic login (saml_sp)."""
            if path == "/":
                if user:
                    me: dict[str, Any] = next((s for s in hobo.get("services", []) if s.get("this")), {})
                    return self.send(200, saml_pages.account_page(me.get("title") or kind, user["email"]))
                return self.redirect("/login/?next=/")
            self.not_found()

        def serve_combo(self, host: str, path: str, tenant: Path, hobo: dict, user: dict | None) -> None:
            if path == "/":
                if host in platform.fault_hosts("portal-error"):
                    return self.send(500, SERVER_ERROR_PAGE)
                me: dict[str, Any] = next((s for s in hobo.get("services", []) if s.get("this")), {})
                page = COMBO_PAGE.format(title=html.escape(me.get("title") or "Combo"))
                if user:  # the logged-in user and the logout link, as the theme's user menu shows them
                    page = page.replace("</body>", saml_pages.user_block(user["email"]) + "</body>")
                return self.send(200, page)
            self.serve_django(host, path, tenant, hobo, user)

        def serve_authentic(self, host: str, path: str, tenant: Path, hobo: dict, user: dict | None) -> None:
            if path == "/":  # anonymous (saml_idp answers the logged-in user's account page)
                return self.redirect("/login/?next=/")
            self.not_found()

        def serve_wcs(self, host: str, path: str, tenant: Path, hobo: dict, user: dict | None) -> None:
            if path == "/":
                target = (_wcs_config(tenant).get("misc") or {}).get("homepage-redirect-url")
                if not target:
                    return self.send(200, "<html><body><h1>Démarches</h1></body></html>")
                portal = _service_url(hobo, "combo", USER_PORTAL_TEMPLATE) or ""
                return self.redirect(target.replace("[portal_url]", portal))
            self.not_found()

    return Handler


def _tarpit(address: str, port: int) -> None:
    """Accept connections and never answer (the http-hang fault's upstream)."""
    server = socket.create_server((address, port), reuse_port=False)
    held: list[tuple[socket.socket, float]] = []
    while True:
        conn, _ = server.accept()
        held.append((conn, time.monotonic()))
        now = time.monotonic()
        for old, since in list(held):
            if now - since > 600:
                old.close()
                held.remove((old, since))


class _Server(ThreadingHTTPServer):
    # The default listen backlog (5) drops connections when a fleet's preflight sends bursts
    # through both frontends; a dropped SYN costs the client a one-second retransmission.
    request_queue_size = 128


def main(argv: list[str]) -> int:
    """One process per service kind, as each Publik service has its own: the SAML work (lasso signing and
    verifying, under each process's lock and GIL) of the IdP and of the SPs then runs side by side instead
    of queueing in one interpreter (at N = 50, the single process was the round's bottleneck: ~8 s of CPU in
    a 10 s round). Every listening socket is bound first, in this process, so a busy port fails the start at
    once; then a child is forked per kind, before any thread or lasso exists."""
    state = Path(argv[1])
    network = Platform(state).runtime["network"]
    servers = {kind: _Server((network["backends"], port), BaseHTTPRequestHandler)
               for kind, port in network["backend_ports"].items()}
    kinds = list(servers)
    parent, children = os.getpid(), []
    for kind in kinds[1:]:
        pid = os.fork()
        if pid == 0:
            _serve(state, kind, servers, parent)  # never returns
        children.append(pid)
    threading.Thread(target=_tarpit, args=(network["backends"], network["tarpit_port"]), daemon=True).start()
    threading.Thread(target=_watch_children, args=(children,), daemon=True).start()
    forked = ", ".join(f"{kind} {pid}" for kind, pid in zip(kinds[1:], children, strict=True))
    sys.stderr.write(f"backends ready (pid {parent} for {kinds[0]}; {forked})\n")
    sys.stderr.flush()
    _serve(state, kinds[0], servers, None)
    return 0


def _serve(state: Path, kind: str, servers: dict[str, _Server], parent: int | None) -> NoReturn:
    """Serve `kind` only (closing the other kinds' sockets); a child ends when its parent is gone."""
    for other, server in servers.items():
        if other != kind:
            server.socket.close()
    if parent is not None:
        threading.Thread(target=_orphaned, args=(parent,), daemon=True).start()
    platform = Platform(state)
    server = servers[kind]
    server.RequestHandlerClass = make_handler(kind, platform, Idp(), Sp(platform.tenant_dir))
    server.daemon_threads = True
    try:
        server.serve_forever()
    finally:
        os._exit(1)


def _orphaned(parent: int) -> None:
    """A child whose parent died (the sandbox stops the parent and its descendants; this covers a crash)
    must not hold its port: it exits."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _watch_children(children: list[int]) -> None:
    """A kind whose process died would answer nothing: take the whole backends down, so the sandbox sees it."""
    pid, status = os.wait()
    sys.stderr.write(f"backends: process {pid} ended ({status}); stopping\n")
    sys.stderr.flush()
    for child in children:
        if child != pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
    os._exit(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
