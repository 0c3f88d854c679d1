"""Per-test evidence as readable HTML (tables and definition lists, never Python reprs).

Each renderer takes the JSON-friendly data `evidence_log.plain()` made of the probe's dataclass.
Every string goes through `esc()`, which redacts secrets and escapes HTML; an unknown kind falls
back to a generic rendering of its dicts and lists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
from collections.abc import Callable
from typing import Any

from publik_acceptance.config.secrets import redact
from publik_acceptance.deploy.result import COOKED
from publik_acceptance.evidence.log import Evidence
from publik_acceptance.evidence.probes.http import REPORTED_HEADERS
from publik_acceptance.judge.waiting import polls

BODY_EXCERPT = 300
MAX_LOG_LINES = 2000
Renderer = Callable[[str, Any], str]


def esc(value: object) -> str:
    return html.escape(redact("" if value is None else str(value)), quote=True)


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def _ready(ready_at: float | None, count: int | None) -> str:
    """`1.2 s (3 polls)`, or `not ready after 5 polls`: a sentence, whichever way the wait went."""
    if ready_at is None:
        return f"not ready after {polls(count or 0)}"
    return f"{seconds(ready_at)} ({polls(count or 0)})"


def _dl(pairs: list[tuple[str, str]], css: str = "") -> str:
    """Pairs are (label, already-escaped HTML)."""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs if v not in ("", None))
    return f'<dl class="pa-dl {css}">{items}</dl>'


def _table(head: list[str], rows: list[list[str]], css: str = "") -> str:
    """Cells are already-escaped HTML."""
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="pa-table {css}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _box(kind: str, title: str, body: str, state: str = "") -> str:
    label = {"dns": "DNS", "tls": "TLS", "http": "HTTP", "remote": "server facts", "command": "command",
             "database": "database", "wait": "postdeploy", "cook": "cook", "gate": "gate"}.get(kind, kind)
    return (f'<section class="pa-ev pa-ev-{esc(kind)} {state}"><h4><span class="pa-kind">{esc(label)}</span> '
            f"{esc(title)}</h4>{body}</section>")


def _yes(ok: bool | None, yes: str = "yes", no: str = "no") -> str:
    if ok is None:
        return "—"
    return f'<span class="pa-ok">✓ {esc(yes)}</span>' if ok else f'<span class="pa-bad">✗ {esc(no)}</span>'


# -- the check's own conclusion ------------------------------------------------------------------
def verdict(title: str, data: dict[str, Any]) -> str:
    ok = bool(data.get("ok"))
    mark = "✓" if ok else "✗"
    body = ""
    problems = data.get("problems") or []
    if problems:
        body += _table(["expected", "actual", "to do"],
                       [[esc(p["expected"]), esc(p["actual"]), esc(p["todo"])] for p in problems], "pa-problems")
    notes = [line for text in data.get("evidence") or [] for line in str(text).splitlines()]
    if notes:
        body += (f"<details><summary>check notes ({len(notes)} line{'s' if len(notes) > 1 else ''})</summary>"
                 f'<pre class="pa-pre">{esc(chr(10).join(notes))}</pre></details>')
    return (f'<section class="pa-ev pa-verdict {"pa-good" if ok else "pa-badbox"}"><h4>{mark} {esc(title)}</h4>'
            f"{body}</section>")


# -- probes --------------------------------------------------------------------------------------
def dns(title: str, data: dict[str, Any]) -> str:
    rows = [[esc(a["resolver"]), esc(a["rdtype"]),
             esc(a["status"]) + (f" ({esc(a['detail'])})" if a.get("detail") else ""),
             esc(", ".join(a.get("addresses") or []) or "—"), esc(seconds(a.get("elapsed")))]
            for a in data.get("answers") or []]
    return _box("dns", f"{data.get('hostname', title)} — answers per resolver",
                _table(["resolver", "type", "status", "addresses", "time"], rows))


def _days_left(not_after: str | None) -> str:
    if not not_after:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(not_after)
    except ValueError:
        return "—"
    return f"{(moment - dt.datetime.now(dt.UTC)).total_seconds() / 86400:.1f}"


def _date(value: str | None) -> str:
    try:
        return f"{dt.datetime.fromisoformat(value or ''):%Y-%m-%d %H:%M} UTC"
    except ValueError:
        return value or "—"


def certificate(cert: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not cert:
        return [("certificate", "none received")]
    return [
        ("subject", esc(cert.get("subject"))),
        ("issuer", esc(cert.get("issuer"))),
        ("SANs", esc(", ".join(cert.get("sans") or []) or "none")),
        ("valid", f"{esc(_date(cert.get('not_before')))} → {esc(_date(cert.get('not_after')))}"),
        ("days left", esc(_days_left(cert.get("not_after")))),
        ("serial", f"<code>{esc(cert.get('serial'))}</code>"),
        ("SHA-256", f'<code class="pa-fp">{esc(cert.get("sha256"))}</code>'),
    ]


def tls(title: str, data: dict[str, Any]) -> str:
    verified = bool(data.get("verified"))
    pairs = [
        ("address", esc(f"{data.get('address')}:{data.get('port')} (SNI {data.get('hostname')})")),
        ("verification", _yes(verified, "chain and hostname verified", data.get("error") or "not verified")),
        ("session", esc(" ".join(str(x) for x in (data.get("protocol"), data.get("cipher")) if x) or "—")),
        *certificate(data.get("cert")),
        ("handshake", esc(seconds(data.get("elapsed")))),
    ]
    return _box("tls", title, _dl(pairs), "" if verified else "pa-badbox")


def http_exchange(title: str, data: dict[str, Any]) -> str:
    status = data.get("status")
    tls_data = data.get("tls") or {}
    headers = data.get("headers") or {}
    pairs = [
        ("request", esc(f"GET {data.get('url')} via {data.get('address')}")),
        ("response", esc(f"{status} {data.get('reason', '')}") if status is not None else
         f'<span class="pa-bad">{esc(data.get("error") or "no answer")}</span>'),
        ("certificate", _yes(tls_data.get("verified"), "verified", tls_data.get("error") or "not verified")
         if tls_data else "—"),
        *[(name, esc(headers[name])) for name in REPORTED_HEADERS if name in headers],
        ("time", esc(seconds(data.get("elapsed")))),
    ]
    body = " ".join(str(data.get("body") or "").split())
    if body:
        excerpt = body[:BODY_EXCERPT] + ("…" if len(body) > BODY_EXCERPT else "")
        pairs.append(("body", f"<code>{esc(excerpt)}</code>"))
    return _box("http", title, _dl(pairs))


def _mode(value: Any) -> str:
    return f"{value:04o}" if isinstance(value, int) else "—"


def _path_row(p: dict[str, Any]) -> list[str]:
    if not p.get("exists"):
        error = p.get("error") or ""
        return [f"<code>{esc(p.get('path'))}</code>", '<span class="pa-muted">absent</span>', "", "",
                "" if "No such file" in error else esc(error)]
    return [f"<code>{esc(p.get('path'))}</code>", esc(p.get("kind")), esc(f"{p.get('owner')}:{p.get('group')}"),
            esc(_mode(p.get("mode"))), ""]


PATH_HEAD = ["path", "type", "owner:group", "mode", "note"]


def _is_path_facts(value: Any) -> bool:
    return isinstance(value, dict) and "path" in value and "exists" in value


def remote(title: str, data: Any) -> str:
    if data is None:
        return _box("remote", title, "<p>not asked (the server could not be reached)</p>")
    if _is_path_facts(data):
        return _box("remote", title, _table(PATH_HEAD, [_path_row(data)]))
    if isinstance(data, dict) and "paths" in data:  # a server's facts
        pairs = [("server", esc(data.get("label"))), ("roles", esc(", ".join(data.get("roles") or []))),
                 ("connection", _yes(data.get("error") is None, "SSH session, host key verified",
                                     data.get("error") or "")),
                 ("facts gathered in", esc(seconds(data.get("elapsed"))))]
        body = _dl(pairs)
        paths = [p for p in (data.get("paths") or {}).values() if _is_path_facts(p)]
        if paths:
            body += _table(PATH_HEAD, [_path_row(p) for p in sorted(paths, key=lambda p: p["path"])])
        return _box("remote", title, body)
    return _box("remote", title, generic(data))


def command(title: str, data: dict[str, Any]) -> str:
    pairs = [("command", f"<code>{esc(data.get('command'))}</code>"), ("exit", esc(data.get("exit_status")))]
    output = str(data.get("output") or "").strip()
    body = _dl(pairs) + (f'<pre class="pa-pre">{esc(output[:2000])}</pre>' if output else "")
    return _box("command", title, body)


def database(title: str, data: Any) -> str:
    return _box("database", title, generic(data))


def wait(title: str, data: dict[str, Any]) -> str:
    state = data.get("state")
    concluded = bool(data.get("concluded"))  # the check's conclusion above says expected, actual and to do
    pairs = [
        ("expected", "" if concluded else esc(data.get("expected"))),
        ("last state", "" if concluded else esc(data.get("actual"))),
        ("state", _yes(state == "ok", "ready", f"{state}")),
        ("ready after", esc(_ready(data.get("ready_at"), data.get("polls")))),
        ("target ready after", esc(data.get("time_to_ready") or "—")),
        ("waited", esc(f"{data.get('elapsed', 0):.1f} s of the {data.get('deadline', 0):g} s deadline")),
    ]
    if data.get("settled"):
        stable = data.get("stable") or 0
        pairs.append(("settled early", esc(f"the same wrong state {polls(stable)} in a row" if stable > 1
                                           else "at once: waiting cannot fix this state")))
    if state != "ok" and data.get("todo") and not concluded:
        pairs.append(("to do", esc(data.get("todo"))))
    body = _dl(pairs)
    lines = [str(x) for x in data.get("evidence") or []]
    hops = [line for line in lines if line.startswith("GET ")]
    other = [line for line in lines if not line.startswith("GET ")]
    if hops:
        rows = []
        for i, hop in enumerate(hops, 1):
            request, _, tls_error = hop.partition(" [TLS: ")
            cert = _yes(False, no=tls_error.rstrip("]")) if tls_error else _yes(True, "verified")
            rows.append([str(i), esc(request), cert])
        body += _table(["hop", "request → answer", "certificate"], rows, "pa-hops")
    if other:
        body += "<ul>" + "".join(f"<li>{esc(line)}</li>" for line in other) + "</ul>"
    return _box("wait", title, body, "" if state == "ok" else "pa-badbox")


def cook(title: str, data: dict[str, Any]) -> str:
    pairs = [
        # A cook that gave up waiting handed over like one that ran: postdeploy decides (deploy/result.py).
        ("status", _yes(data.get("status") in (*COOKED, "dry-run"), str(data.get("status")), str(data.get("status")))),
        ("exit code", esc(data.get("exit_status") if data.get("exit_status") is not None else "—")),
        ("duration", esc(seconds(data.get("duration")))),
        ("message", esc(data.get("message"))),
    ]
    body = _dl(pairs)
    actions = data.get("actions") or []
    if actions:
        body += "<ul>" + "".join(f"<li>{esc(a)}</li>" for a in actions) + "</ul>"
    log = [str(line) for line in data.get("log") or []]
    if log:
        shown = log[-MAX_LOG_LINES:]
        cut = f" (last {len(shown)} of {len(log)} lines)" if len(shown) < len(log) else f" ({len(log)} lines)"
        body += (f"<details open><summary>cook log, redacted{esc(cut)}</summary>"
                 f'<pre class="pa-pre pa-log">{esc(chr(10).join(shown))}</pre></details>')
    return _box("cook", title, body)


def gate(title: str, data: dict[str, Any]) -> str:
    blocking = data.get("blocking") or []
    body = f"<p>{esc(data.get('summary'))}</p>"
    if blocking:
        body += _table(["check", "outcome", "reason"],
                       [[f"<code>{esc(b['test'])}</code>", esc(b["outcome"]), esc(b["reason"])] for b in blocking])
    return _box("gate", title, body, "pa-badbox" if blocking else "")


# -- anything else ---------------------------------------------------------------------------------
def generic(value: Any, depth: int = 0) -> str:
    if isinstance(value, dict):
        if value and all(isinstance(v, dict) for v in value.values()) and depth < 3:
            keys = list(dict.fromkeys(k for v in value.values() for k in v))
            rows = [[esc(name)] + [_scalar(v.get(k), k) for k in keys] for name, v in value.items()]
            return _table(["", *[k.replace("_", " ") for k in keys]], rows)
        return _dl([(k.replace("_", " "), _scalar(v, k) if k == "mode" else generic(v, depth + 1))
                    for k, v in value.items()])
    if isinstance(value, list):
        if not value:
            return "—"
        if all(isinstance(v, dict) for v in value) and depth < 3:
            keys = list(dict.fromkeys(k for v in value for k in v))
            return _table([k.replace("_", " ") for k in keys], [[_scalar(v.get(k), k) for k in keys] for v in value])
        if all(not isinstance(v, dict | list) for v in value):
            return esc(", ".join(str(v) for v in value))
        return "<ul>" + "".join(f"<li>{generic(v, depth + 1)}</li>" for v in value) + "</ul>"
    return _scalar(value)


def _scalar(value: Any, key: str = "") -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if key == "mode" and isinstance(value, int):
        return _mode(value)
    if isinstance(value, dict | list):
        return generic(value, 3)
    return esc(value)


RENDERERS: dict[str, Renderer] = {
    "verdict": verdict, "dns": dns, "tls": tls, "http": http_exchange, "remote": remote, "command": command,
    "database": database, "wait": wait, "cook": cook, "gate": gate,
}


def _once(items: list[Evidence]) -> list[Evidence]:
    """A postdeploy check's conclusion and its wait say the same things: the conclusion keeps expected,
    actual and to do, the wait box keeps the polls and the hops, and no line is shown twice."""
    waits = [e for e in items if e.kind == "wait" and isinstance(e.data, dict)]
    if not waits or not any(e.kind == "verdict" for e in items):
        return items
    in_wait = {str(line) for w in waits for line in w.data.get("evidence") or []}
    out = []
    for item in items:
        if item.kind == "verdict" and isinstance(item.data, dict):
            notes = [line for text in item.data.get("evidence") or [] for line in str(text).splitlines()
                     if line not in in_wait]
            item = Evidence(item.kind, item.title, {**item.data, "evidence": notes})
        elif item in waits:
            item = Evidence(item.kind, item.title, {**item.data, "concluded": True})
        out.append(item)
    return out


# Where a check's evidence comes from, when not from the check itself. No colon: pytest-html's duration sort
# would read one as hh:mm:ss (see page.duration_cell).
PROBES = "the shared preflight probes"
SHARED_ROUND = {"wait": "the shared postdeploy wait", "dns": PROBES, "tls": PROBES,
                "http": PROBES, "remote": PROBES, "database": PROBES, "command": PROBES}


def evidence_seconds(items: list[Evidence]) -> tuple[float | None, str] | None:
    """How long gathering a check's evidence took (None when its evidence carries no timing), and in
    which shared round: probes and the postdeploy wait run for every check at once, so a check's own
    duration is only the time it took to judge them. None: no evidence from a shared round."""
    total: float | None = None
    where = ""
    for item in items:
        if item.kind not in SHARED_ROUND:
            continue
        where = where or SHARED_ROUND[item.kind]
        data = item.data if isinstance(item.data, dict) else {}
        if item.kind == "dns":
            answers = [a.get("elapsed") for a in data.get("answers") or [] if isinstance(a, dict)]
            spent = sum(a for a in answers if isinstance(a, int | float)) if answers else None
        else:
            spent = data.get("elapsed")
        if isinstance(spent, int | float):
            total = (total or 0.0) + float(spent)
    return (total, where) if where else None


def anchor(test: str) -> str:
    """The HTML id of a check's evidence, from its name (test_tls[combo|host|address]): links from the
    verdict box land on it. Hashed: a name holds hostnames, addresses and roles, never safe as an id."""
    return "pa-check-" + hashlib.sha256(test.encode()).hexdigest()[:16]


def evidence_html(items: list[Evidence], test: str = "") -> str:
    """The evidence of one test: its conclusion first, then what the assertion looked at."""
    items = _once(items)
    ordered = [e for e in items if e.kind == "verdict"] + [e for e in items if e.kind != "verdict"]
    parts = []
    for item in ordered:
        renderer = RENDERERS.get(item.kind)
        try:
            if renderer is None:
                parts.append(_box(item.kind, item.title, generic(item.data)))
            else:
                parts.append(renderer(item.title, item.data))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # never lose a test row to a renderer bug
            parts.append(_box(item.kind, item.title, f"<p>could not render this evidence: {esc(exc)}</p>"
                                                     f'<pre class="pa-pre">{esc(item.data)}</pre>'))
    where = f' id="{anchor(test)}"' if test else ""
    return f'<div class="pa-evidence"{where}>{"".join(parts)}</div>' if parts else ""
