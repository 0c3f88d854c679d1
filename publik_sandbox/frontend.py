"""Two nginx frontends (one process each), TLS with SNI, one server block per hostname.

Two processes make "bad on one frontend only" faults natural. Each hostname is proxied to the
backend listener of its service kind with Host and X-Forwarded-* headers. A default_server
answers names it does not know with nginx's own built-in 404 page ("<center>nginx</center>"), as a
real frontend without a vhost for the name does; the backends answer Django's 404 page.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from publik_sandbox import procs
from publik_sandbox.config import Network
from publik_sandbox.faults import ActiveFault, hosts_with
from publik_sandbox.pki import Pki
from publik_sandbox.recipes import Service

NGINX = "/usr/sbin/nginx"
LEFTOVER_PAGE = (
    "<html><head><title>Bienvenue</title></head><body><h1>Site en construction</h1>"
    "<p>Ancien site de la collectivit&eacute;.</p></body></html>"
)
LABELS = ("frontend-1", "frontend-2")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(index: int, base: Path, services: list[Service], pki: Pki, network: Network,
           faults: list[ActiveFault], listen: tuple[str, str] | None = None) -> str:
    """`listen`: the addresses to bind, when not the frontends' own (behind the latency proxy)."""
    label = LABELS[index]
    address = f"{(listen or network.frontends)[index]}:{network.https_port}"
    leftover = hosts_with(faults, "http-already-200")
    bad_gateway = hosts_with(faults, "http-502")
    hang = hosts_with(faults, "http-hang")
    no_vhost = hosts_with(faults, "http-no-vhost")
    assert pki.default is not None
    lines = [
        "daemon off;",
        "master_process on;",
        "worker_processes 1;",
        f"pid {base}/nginx.pid;",
        f"error_log {base}/error.log info;",
        "events { worker_connections 1024; }",
        "http {",
        # A fleet holds hundreds of names: size the server_name hash for them.
        "  server_names_hash_max_size 8192;",
        "  server_names_hash_bucket_size 128;",
        f"  access_log {base}/access.log;",
        *(f"  {kind}_temp_path {base}/tmp/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
        "  ssl_protocols TLSv1.2 TLSv1.3;",
        "  server_tokens off;",
        "  proxy_connect_timeout 2s;",
        "  proxy_read_timeout 300s;",  # longer than any client timeout: http-hang must hang
        "  proxy_http_version 1.1;",
        "  proxy_set_header Host $host;",
        "  proxy_set_header X-Forwarded-Proto https;",
        "  proxy_set_header X-Forwarded-Host $host;",
        "  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "  proxy_set_header X-Real-IP $remote_addr;",
        "  proxy_redirect off;",
        "  server {",
        f"    listen {address} ssl default_server;",
        "    server_name _;",
        f"    ssl_certificate {pki.default.cert};",
        f"    ssl_certificate_key {pki.default.key};",
        f"    add_header X-Sandbox-Frontend {label} always;",
        "    location / { return 404; }",  # nginx's built-in page, nothing of ours
        "  }",
    ]
    for service in services:
        host = service.host
        if host in no_vhost:
            continue  # the default server answers for it
        pair = pki.pair(index, host)
        if host in leftover:
            location = f"default_type text/html; return 200 {_quote(LEFTOVER_PAGE)};"
        else:
            port = network.backend_ports[service.kind]
            if host in bad_gateway:
                port = network.closed_port
            elif host in hang:
                port = network.tarpit_port
            location = f"proxy_pass http://{network.backends}:{port};"
        lines += [
            "  server {",
            f"    listen {address} ssl;",
            f"    server_name {host};",
            f"    ssl_certificate {pair.cert};",
            f"    ssl_certificate_key {pair.key};",
            f"    add_header X-Sandbox-Frontend {label} always;",
            f"    location / {{ {location} }}",
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def start_all(base: Path, services: list[Service], pki: Pki, network: Network, faults: list[ActiveFault],
              run_dir: Path, log_dir: Path, listen: tuple[str, str] | None = None) -> list[subprocess.Popen]:
    listen = listen or network.frontends
    started = []
    for index in range(len(network.frontends)):
        directory = base / LABELS[index]
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (directory / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        (directory / "logs").mkdir(exist_ok=True)  # nginx opens its built-in error log before the config
        conf = directory / "nginx.conf"
        conf.write_text(render(index, directory, services, pki, network, faults, listen))
        started.append(
            procs.start(LABELS[index], [NGINX, "-p", str(directory), "-c", str(conf)], run_dir, log_dir)
        )
    for index, proc in enumerate(started):
        procs.wait_tcp(listen[index], network.https_port, timeout=15, proc=proc)
    return started
