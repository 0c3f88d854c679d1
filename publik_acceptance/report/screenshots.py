"""Screenshots of the portals and the login page after deployment, with headless Chromium if present.

Chromium reaches each page exactly as our checks did, without trusting anything more:
- names resolve to the environment's DNS answers only (`--host-resolver-rules`: every planned
  hostname MAPped to its first address, every other name NOTFOUND, so nothing else is contacted);
- TLS stays verified, except that the exact certificates our verified probe accepted (chain and
  hostname checked against the environment's CA bundle) are pinned by SPKI hash
  (`--ignore-certificate-errors-spki-list`), since Chromium does not know a private CA;
- a fresh profile per shot, no background networking, no QUIC, a timeout;
- Chromium's own sandbox stays on: it refuses to start as root with it, so as root it runs as the
  unprivileged user `nobody` (setpriv), and without a way to do so there are no screenshots, said so;
- its environment is PATH, HOME (the shot's temporary directory) and LANG only: no PUBLIK_* secret,
  no proxy or other variable of the operator's reaches a browser that renders the platform's pages.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from publik_acceptance.config.environment import Environment
from publik_acceptance.evidence.probes.tls import connect, verifying_context
from publik_acceptance.plan import Plan, Target

BINARIES = ("chromium", "chromium-browser")
KINDS = ("combo", "authentic")  # the portals and the login page: what users will see first
WINDOW = (960, 640)  # a small laptop page: text stays legible when shown 360 px wide
TIMEOUT = 45.0
MAX_SHOTS = 12  # a platform with many instances: enough to judge, not megabytes of images
UNPRIVILEGED = "nobody"
PORTAL = "what users see first"
LOAD_TIMED_OUT = "Page load timed out"  # what headless Chromium prints when --timeout stopped the page
FAILED = "its page check failed on this address"
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Pin:
    hostname: str
    address: str
    spki_sha256: str | None  # base64, as Chromium wants it
    error: str | None = None


@dataclass(frozen=True)
class Shot:
    target: str
    hostname: str
    address: str
    url: str
    png: bytes | None
    error: str | None
    elapsed: float
    why: str = PORTAL  # PORTAL, or why this page is shown: its check failed

    def as_json(self) -> dict[str, object]:
        return {"target": self.target, "url": self.url, "address": self.address, "taken": self.png is not None,
                "error": self.error, "bytes": len(self.png) if self.png else 0, "why": self.why}


@dataclass(frozen=True)
class Screenshots:
    status: str  # "taken", "disabled", "unavailable", "not run"
    reason: str
    shots: tuple[Shot, ...] = ()

    def as_json(self) -> list[dict[str, object]]:
        return [s.as_json() for s in self.shots]


@dataclass(frozen=True)
class Launch:
    """How Chromium is started: `prefix` before its command, `owner` (uid, gid) of its directory."""

    prefix: tuple[str, ...] = ()
    owner: tuple[int, int] | None = None


def launcher() -> Launch | str:
    """As ourselves, or as root through setpriv as `nobody`; a string says why neither is possible.

    Chromium will not start as root with its sandbox on, and turning the sandbox off (--no-sandbox)
    would leave a browser rendering the platform's pages with root's rights."""
    if os.geteuid() != 0:
        return Launch()
    setpriv = shutil.which("setpriv", path=SAFE_PATH)
    try:
        user = pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        user = None
    if setpriv is None or user is None:
        missing = " and ".join(n for n, found in (("setpriv", setpriv), (f"the user {UNPRIVILEGED}", user))
                               if not found)
        return (f"no screenshots: running as root, and Chromium's sandbox (never turned off) needs an "
                f"unprivileged user; {missing} not found to start it as {UNPRIVILEGED}")
    prefix = (setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--")
    return Launch(prefix, (user.pw_uid, user.pw_gid))


def environment(home: Path) -> dict[str, str]:
    """Chromium's whole environment: nothing inherited (no PUBLIK_* secret, no proxy variable)."""
    return {"PATH": SAFE_PATH, "HOME": str(home), "LANG": "C.UTF-8"}


def find_chromium() -> str | None:
    for name in BINARIES:
        found = shutil.which(name)
        if found:
            return found
    return None


def pin(env: Environment, hostname: str, address: str) -> Pin:
    """The served certificate, read over a *verified* handshake (CA bundle, SNI, hostname)."""
    try:
        sock = connect(hostname, address, env.http.port, verifying_context(env.tls), env.http.timeout)
    except OSError as exc:  # ssl errors are OSErrors too
        return Pin(hostname, address, None, f"no verified TLS session: {exc}")
    try:
        der = sock.getpeercert(binary_form=True)
    finally:
        sock.close()
    if not der:
        return Pin(hostname, address, None, "no certificate received")
    cert = x509.load_der_x509_certificate(der)
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return Pin(hostname, address, base64.b64encode(hashlib.sha256(spki).digest()).decode(), None)


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def resolver_rules(addresses: dict[str, str]) -> str:
    rules = [f"MAP {host} {_host(address)}" for host, address in sorted(addresses.items())]
    return ", ".join([*rules, "MAP * ~NOTFOUND"])


def command(binary: str, url: str, output: Path, profile: Path, rules: str, pins: list[str],
            load_timeout: float | None = None) -> list[str]:
    args = [binary, "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
            f"--user-data-dir={profile}", f"--host-resolver-rules={rules}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={output}"]
    if pins:
        args.append(f"--ignore-certificate-errors-spki-list={','.join(pins)}")
    if load_timeout is not None:  # a page that never finishes (a hung upstream): shoot what arrived, then stop
        args.append(f"--timeout={max(1, round(load_timeout * 1000))}")
    return [*args, url]


def _shoot(binary: str, target: Target, address: str, port: int, rules: str, pins: list[str],
           launch: Launch | None = None, why: str = PORTAL, load_timeout: float | None = None) -> Shot:
    shot = _capture(binary, target, address, port, rules, pins, launch, load_timeout)
    return replace(shot, why=why)


def _capture(binary: str, target: Target, address: str, port: int, rules: str, pins: list[str],
             launch: Launch | None = None, load_timeout: float | None = None) -> Shot:
    url = f"https://{target.hostname}{'' if port == 443 else f':{port}'}/"
    started = time.monotonic()
    launch = launch or Launch()
    with tempfile.TemporaryDirectory(prefix="publik-acceptance-chromium-") as tmp:
        if launch.owner is not None:
            os.chown(tmp, *launch.owner)  # Chromium's home, profile and screenshot: its own
        output = Path(tmp) / "shot.png"
        args = [*launch.prefix, *command(binary, url, output, Path(tmp) / "profile", rules, pins, load_timeout)]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, check=False, cwd=tmp,
                                  env=environment(Path(tmp)))
        except subprocess.TimeoutExpired:
            return Shot(target.id, target.hostname, address, url, None, f"Chromium timed out after {TIMEOUT:g} s",
                        time.monotonic() - started)
        except OSError as exc:
            return Shot(target.id, target.hostname, address, url, None, f"Chromium did not start: {exc}",
                        time.monotonic() - started)
        if not output.exists():
            tail = (done.stderr or "").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            return Shot(target.id, target.hostname, address, url, None, f"no screenshot: {tail[0][:200]}",
                        time.monotonic() - started)
        note = (f"the page had not finished loading after {load_timeout:g} s (http.timeout, as for the checks): "
                "this is what had arrived" if load_timeout is not None and LOAD_TIMED_OUT in (done.stderr or "")
                else None)
        return Shot(target.id, target.hostname, address, url, output.read_bytes(), note, time.monotonic() - started)


@dataclass(frozen=True)
class Page:
    """A page to capture: its Target, the address Chromium reaches it at, and why it is shown."""

    target: Target
    address: str
    why: str


def pages(plan: Plan, addresses: dict[str, str], failed: list[tuple[str, str]], postdeploy_ran: bool) -> list[Page]:
    """Each page whose check failed (at the address it failed on) first, then, after a postdeploy, the
    portals and the login page at their first address; each (Target, address) once."""
    by_id = {t.id: t for t in plan.targets}
    chosen = [Page(by_id[tid], address, FAILED) for tid, address in dict.fromkeys(failed) if tid in by_id]
    if postdeploy_ran:
        shown = {(p.target.id, p.address) for p in chosen}
        chosen += [Page(t, addresses[t.hostname], PORTAL) for t in plan.targets
                   if t.kind in KINDS and t.hostname in addresses and (t.id, addresses[t.hostname]) not in shown]
    return chosen


def take(plan: Plan, addresses: dict[str, str], wanted: bool | None, postdeploy_ran: bool,
         failed: list[tuple[str, str]] | None = None) -> Screenshots:
    """`addresses`: hostname → the first address DNS gave for it (what the checks used); `failed`:
    (Target id, address) of the page checks that failed."""
    if wanted is False:
        return Screenshots("disabled", "screenshots disabled (--no-screenshots)")
    binary = find_chromium()
    if binary is None:
        return Screenshots("unavailable", "no screenshots: Chromium is not installed on this machine "
                                          "(apt install chromium to get them)")
    if not postdeploy_ran and not failed:
        return Screenshots("not run", "no screenshots: the postdeploy phase did not run and no page check failed")
    launch = launcher()
    if isinstance(launch, str):
        return Screenshots("unavailable", launch)
    candidates = pages(plan, addresses, failed or [], postdeploy_ran)
    if not candidates:
        return Screenshots("not run", "no screenshots: no portal or login page with a DNS answer")
    chosen = candidates[:MAX_SHOTS]
    capped = f" (the first {len(chosen)} of {len(candidates)})" if len(chosen) < len(candidates) else ""
    env = plan.environment
    # Certificates to pin: every name at the address the checks used, and each failed page at its own.
    endpoints = sorted({*addresses.items(), *((p.target.hostname, p.address) for p in chosen)})
    with ThreadPoolExecutor(max_workers=8) as pool:
        pins = list(pool.map(lambda e: pin(env, *e), endpoints))
    trusted = sorted({p.spki_sha256 for p in pins if p.spki_sha256})

    def shoot(page: Page) -> Shot:
        rules = resolver_rules({**addresses, page.target.hostname: page.address})  # this page's address
        return _shoot(binary, page.target, page.address, env.http.port, rules, trusted, launch, page.why,
                      env.http.timeout)

    with ThreadPoolExecutor(max_workers=4) as pool:
        shots = list(pool.map(shoot, chosen))
    refused = {(p.hostname, p.address): p.error for p in pins if p.error}
    shots = [s if (s.hostname, s.address) not in refused else
             replace(s, error=f"certificate not pinned ({refused[(s.hostname, s.address)]}): Chromium shows its own "
                              "error page")
             for s in shots]
    taken = sum(1 for s in shots if s.png)
    who = f" as {UNPRIVILEGED}" if launch.owner else ""
    return Screenshots("taken", f"{taken} of {len(shots)} page(s) captured with {Path(binary).name}{who}, its "
                                f"sandbox on{capped}", tuple(shots))
