"""The top of the HTML report (pytest-html's summary prefix): verdict, run facts, one row per Target,
screenshots. Styles ride along inline, so the file stays self-contained; they also move pytest-html's
own blocks so that the verdict comes first and the environment table last.
"""

from __future__ import annotations

import base64
import importlib.metadata
import re

from publik_acceptance.evidence.log import Evidence
from publik_acceptance.report.metadata import RunInfo
from publik_acceptance.report.render import anchor, esc, seconds
from publik_acceptance.report.screenshots import FAILED, Screenshots
from publik_acceptance.report.targets import TargetRow, used_columns
from publik_acceptance.report.verdict import RunVerdict

CSS = """
body{display:flex;flex-direction:column;color:#333;max-width:1500px}
#title{order:-3;margin-bottom:4px} .summary{order:-1;display:block}
body>p,#environment-header,#environment{order:1} footer{order:2}
#results-table{order:0} .summary__data{flex:none;width:auto} .summary__data>h2{display:none}
.summary__spacer{display:none} .summary__reload{display:none}
.pa-verdict-box{border:3px solid;border-radius:6px;padding:10px 16px;margin:6px 0 12px}
.pa-verdict-box h2{font-size:22px;margin:2px 0 8px}
.pa-good{border-color:#2e7d32;background:#f1f8f1} .pa-good h2{color:#2e7d32}
.pa-bad{border-color:#c62828;background:#fdf0f0} .pa-bad h2{color:#c62828}
.pa-warn{border-color:#ef8f00;background:#fff8ec} .pa-warn h2{color:#b26a00}
.pa-steps{display:flex;gap:10px;flex-wrap:wrap;margin:0 0 6px}
.pa-step{border:1px solid #ccc;border-radius:4px;padding:6px 10px;background:#fff;font-size:13px;color:#222}
.pa-step b{display:block;font-size:11px;color:#666;text-transform:uppercase;letter-spacing:.05em}
.pa-step.ok{border-color:#2e7d32} .pa-step.bad{border-color:#c62828} .pa-step.none{color:#888}
.pa-blocking{margin:6px 0 0;padding-left:18px;color:#222;font-size:12px}
.pa-blocking code{font-weight:bold}
.pa-counts{font-size:13px;color:#222;margin:4px 0 0}
.pa-section{margin:14px 0 6px;font-size:15px;color:#111}
.pa-facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0;font-size:12px;color:#222}
.pa-facts dt{font-weight:bold;color:#555} .pa-facts dd{margin:0;word-break:break-all}
.pa-targets{border-collapse:collapse;font-size:12px;color:#222}
.pa-targets th,.pa-targets td{border:1px solid #ddd;padding:3px 7px;text-align:left;white-space:nowrap}
.pa-targets th{background:#f3f3f3} .pa-targets td.ok{color:#2e7d32} .pa-targets td.fail{color:#c62828;
font-weight:bold;background:#fdf0f0} .pa-targets td.skip,.pa-targets td.partial{color:#b26a00}
.pa-targets td.none{color:#bbb}
.pa-notes{font-size:12px;color:#222;margin:4px 0;padding-left:28px} .pa-ref{font-weight:normal;font-size:11px}
.pa-shots{display:flex;gap:12px;flex-wrap:wrap} .pa-shots figure{margin:0;font-size:11px;color:#444}
.pa-shots img{width:480px;border:1px solid #bbb;display:block;cursor:zoom-in}
.pa-shots summary{list-style:none;display:block} .pa-shots summary::-webkit-details-marker{display:none}
.pa-shots details[open] img{width:auto;max-width:none;cursor:zoom-out}
.pa-shots figure:has(details[open]){flex-basis:100%}
.pa-shot-failed img{border:3px solid #c62828} .pa-shot-failed figcaption{color:#c62828;font-weight:bold}
.pa-blocking-skipped{font-size:12px;color:#444;margin-top:4px}
.logwrapper:not(:has(.log)){display:none} .logwrapper{max-height:180px}
.pa-note{color:#666;font-size:12px}
.pa-evidence{color:#222;font-size:12px}
.pa-failure{border:1px solid #e3b5b5;border-left:4px solid #c62828;padding:2px 10px;margin:8px 0;background:#fff}
.pa-failure>h4{margin:4px 0;font-size:13px;color:#c62828}
.pa-ev{border-left:3px solid #bbb;padding:2px 10px;margin:6px 0}
.pa-ev h4{margin:4px 0;font-size:12px} .pa-kind{background:#eee;border-radius:3px;padding:0 5px;
font-weight:normal;color:#444;margin-right:4px}
.pa-verdict.pa-good{border-left-color:#2e7d32;background:none} .pa-verdict.pa-badbox,.pa-badbox{
border-left-color:#c62828}
.pa-dl{display:grid;grid-template-columns:max-content 1fr;gap:1px 12px;margin:2px 0}
.pa-dl dt{color:#666} .pa-dl dd{margin:0;word-break:break-all}
.pa-table{border-collapse:collapse;margin:3px 0} .pa-table th,.pa-table td{border:1px solid #ddd;
padding:2px 6px;text-align:left;vertical-align:top} .pa-table th{background:#f6f6f6}
.pa-problems td:nth-child(2){color:#c62828}
.pa-pre{white-space:pre-wrap;background:#f7f7f7;padding:4px;margin:2px 0;max-height:400px;overflow:auto}
.pa-ok{color:#2e7d32} .pa-bad{color:#c62828} .pa-muted{color:#999} .pa-fp{font-size:10px}
"""

STEP_STATE = {"open": "ok", "closed": "bad", "ran": "ok", "timed out waiting": "ok", "dry-run": "none", "failed": "bad",
              "not run": "none", "passed": "ok"}


def _step(label: str, value: str, detail: str = "") -> str:
    css = STEP_STATE.get(value, "none")
    return f'<div class="pa-step {css}"><b>{esc(label)}</b>{esc(value)}{(" — " + esc(detail)) if detail else ""}</div>'


def blocking_list(blocking: tuple[tuple[str, str, str], ...]) -> str:
    """What closed the gate: failures in full; checks skipped because of them, folded."""
    def item(test: str, outcome: str, reason: str) -> str:
        # A failure's evidence is in the list of checks (shown once, there); a skipped check has none.
        link = f' <a href="#{anchor(test)}">(its evidence)</a>' if outcome != "skipped" else ""
        return f"<li><code>{esc(test)}</code> {esc(outcome)}: {esc(reason)}{link}</li>"

    failed = [b for b in blocking if b[1] != "skipped"]
    skipped = [b for b in blocking if b[1] == "skipped"]
    html = ""
    if failed:
        html += (f'<div class="pa-note">The gate is closed by {len(failed)} failed check(s):</div>'
                 f'<ul class="pa-blocking">{"".join(item(*b) for b in failed)}</ul>')
    if skipped:
        html += (f'<details class="pa-blocking-skipped"><summary>{len(skipped)} more check(s) could not run '
                 f'{"because of these" if failed else "(they also keep the gate closed)"}</summary>'
                 f'<ul class="pa-blocking">{"".join(item(*b) for b in skipped)}</ul></details>')
    return html


def verdict_box(verdict: RunVerdict, info: RunInfo) -> str:
    tone, headline = verdict.headline(info.phases)
    steps = []
    if "preflight" in info.phases:
        steps.append(_step("gate", verdict.gate, verdict.gate_detail))
    if "deploy" in info.phases:
        detail = []
        if verdict.cook_exit is not None:
            detail.append(f"exit {verdict.cook_exit}")
        if verdict.cook_duration is not None and verdict.cook != "not run":
            detail.append(seconds(verdict.cook_duration))
        steps.append(_step("cook", verdict.cook, ", ".join(detail)))
    if "postdeploy" in info.phases:
        steps.append(_step("postdeploy", verdict.postdeploy))
    body = f'<div class="pa-steps">{"".join(steps)}</div>'
    if verdict.blocking and "preflight" in info.phases:
        body += blocking_list(verdict.blocking)
    if verdict.cook in ("failed", "timed out waiting") and verdict.cook_message:  # a wait given up: for which service
        body += f'<p class="pa-counts">Cook: {esc(verdict.cook_message)}</p>'
    if verdict.not_run and "preflight" in info.phases:
        items = "".join(f"<li><code>{esc(t)}</code> {esc(r)}</li>" for t, r in verdict.not_run)
        body += (f'<details class="pa-blocking-skipped"><summary>{len(verdict.not_run)} preflight check(s) the Plan '
                 f'calls for did not run (they keep the gate closed)</summary><ul class="pa-blocking">{items}</ul>'
                 "</details>")
    if verdict.host_keys:
        items = "".join(f"<li><code>{esc(k)}</code></li>" for k in verdict.host_keys)
        body += ('<div class="pa-note">SSH host keys accepted on first use (ssh.unknown_host_keys: accept), '
                 f'pinned for the run:</div><ul class="pa-blocking">{items}</ul>')
    if verdict.waived:
        items = "".join(f"<li><code>{esc(t)}</code> waived: {esc(r)}</li>" for t, r in verdict.waived)
        body += f'<div class="pa-note">Waived:</div><ul class="pa-blocking">{items}</ul>'
    per_phase = "; ".join(f"{p} {phase_counts(pc)}" for p, pc in verdict.phase_counts.items())
    where = f"{info.platform} — {', '.join(info.instances)}" + (f" — ticket {info.ticket}" if info.ticket else "")
    return (f'<div class="pa-verdict-box pa-{"good" if tone == "good" else "bad" if tone == "bad" else "warn"}">'
            f"<h2>{esc(headline)}</h2><p class=\"pa-counts\"><b>{esc(where)}</b></p>{body}"
            f'<p class="pa-counts">{esc(count_text(verdict.counts))} ({esc(per_phase)})</p>'
            f'<p class="pa-note">{esc(WHAT_A_CHECK_IS)}</p></div>')


# What every count of the report counts, said once where the counts are: the verdict box, pytest-html's
# line above the list, the list's rows, JUnit's test cases and the JSON's `tests` are the same set.
WHAT_A_CHECK_IS = ("A check is one test item: one test on one subject, e.g. one service's certificate on one of "
                   "its addresses. Each check is one row of the list below, one JUnit test case and one entry of "
                   "the JSON summary's tests. A check whose set-up or tear-down fails counts once, as an error "
                   "(the list shows a failed tear-down on a row of its own, after the check's).")


def count_text(counts: dict[str, int]) -> str:
    """`87 checks: 86 passed, 0 failed, 0 errors, 1 skipped`: every outcome, zeros included."""
    total = counts.get("total", 0)
    return (f"{total} check{'' if total == 1 else 's'}: {counts.get('passed', 0)} passed, "
            f"{counts.get('failed', 0)} failed, {counts.get('error', 0)} error{'' if counts.get('error') == 1 else 's'}"
            f", {counts.get('skipped', 0)} skipped")


def phase_counts(counts: dict[str, int]) -> str:
    """`29 (28 passed, 1 skipped)`: a phase's total and its non-zero outcomes, never `28/29` (a skipped
    not-applicable check is no failure)."""
    parts = [f"{counts[o]} {'errors' if o == 'error' and counts[o] > 1 else o}"
             for o in ("passed", "failed", "error", "skipped") if counts.get(o)]
    return f"{counts.get('total', 0)} ({', '.join(parts) or 'none ran'})"


RUN_COUNT = re.compile(r'<p class="run-count">[^<]*</p>')


def fix_run_count(document: str, counts: dict[str, int], duration: float | None) -> str:
    """pytest-html's own line over the list ("55 tests took 516 ms") counts neither skipped checks nor
    errors, and times only its own part of the run: replace it by the run's counts and duration."""
    took = f", in {seconds(duration)}" if duration is not None else ""
    line = f'<p class="run-count">{esc(count_text(counts))}{esc(took)}.</p>'
    return RUN_COUNT.sub(lambda _: line, document, count=1)


def facts(info: RunInfo) -> str:
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in info.rows())
    return f'<h3 class="pa-section">Run</h3><dl class="pa-facts">{items}</dl>'


def targets_table(rows: list[TargetRow], total: int | None = None) -> str:
    """One row per Target. A cell's details are footnotes under the table, not tooltips: the file is
    read attached to a ticket, where nothing can be hovered. Cells with the same details share a note."""
    if not rows:
        return ""
    columns = used_columns(rows)
    show_ready = any(r.ready_text != "—" for r in rows)
    head = "".join(f"<th>{esc(c)}</th>" for c in ["instance", "service", "hostname", *columns])
    head += "<th>ready after</th>" if show_ready else ""
    notes: dict[str, int] = {}
    body = []
    for row in rows:
        t = row.target
        cells = []
        for c in columns:
            found = row.cells[c]
            ref = ""
            if found.state in ("fail", "skip", "partial") and found.detail:
                number = notes.setdefault(found.detail, len(notes) + 1)
                ref = f' <a class="pa-ref" href="#pa-note-{number}">[{number}]</a>'
            cells.append(f'<td class="{found.state}">{esc(found.text)}{ref}</td>')
        ready = f"<td>{esc(row.ready_text)}</td>" if show_ready else ""
        body.append(f"<tr><td>{esc(t.instance)}</td><td>{esc(t.kind)}</td><td>{esc(t.hostname)}</td>{''.join(cells)}"
                    f"{ready}</tr>")
    covered = sum(row.cells[c].count for row in rows for c in row.cells)
    scope = (f"{covered} of the run's {total} checks are about one service and fill this table (a cell holds one "
             f"check per address it tests); the other {total - covered} (servers, SSH, the cook, shared databases…) "
             "are in the list of all checks below. " if total is not None else "")
    legend = ("✓ n/m: passed on n of the m addresses the DNS gave; ✗ names the addresses that failed. "
              "Each check, with its evidence, is listed below.")
    listed = "".join(f'<li id="pa-note-{n}" value="{n}">{esc(detail)}</li>' for detail, n in notes.items())
    return (f'<h3 class="pa-section">Per service ({len(rows)})</h3><table class="pa-targets"><thead><tr>{head}'
            f'</tr></thead><tbody>{"".join(body)}</tbody></table>'
            + (f'<ol class="pa-notes">{listed}</ol>' if listed else "")
            + f'<p class="pa-note">{esc(scope + legend)}</p>')


def gallery(screens: Screenshots) -> str:
    """Screenshots, half size; a click shows one at full size (a <details> toggled open, styled by CSS:
    no script, and each image is in the file once)."""
    if not screens.shots:
        if screens.status == "disabled":
            return ""
        return f'<h3 class="pa-section">Screenshots</h3><p class="pa-note">{esc(screens.reason)}</p>'
    figures = []
    for shot in screens.shots:
        caption = f"{shot.url} via {shot.address} — {shot.why}"
        css = "pa-shot pa-shot-failed" if shot.why == FAILED else "pa-shot"
        if shot.png:
            data = base64.b64encode(shot.png).decode()
            note = f"<br>{esc(shot.error)}" if shot.error else ""
            figures.append(f'<figure class="{css}"><details><summary><img alt="{esc(caption)}" '
                           f'src="data:image/png;base64,{data}"></summary></details>'
                           f"<figcaption>{esc(caption)}{note}</figcaption></figure>")
        else:
            figures.append(f'<figure class="{css}"><figcaption>{esc(caption)}: {esc(shot.error)}</figcaption>'
                           "</figure>")
    return (f'<h3 class="pa-section">Screenshots: what a browser shows</h3><p class="pa-note">{esc(screens.reason)}'
            f". Click a screenshot to see it at full size, and again to shrink it.</p>"
            f'<div class="pa-shots">{"".join(figures)}</div>')


def prefix(verdict: RunVerdict, info: RunInfo, rows: list[TargetRow], screens: Screenshots) -> str:
    return (f"<style>{CSS}</style>{verdict_box(verdict, info)}{targets_table(rows, verdict.counts['total'])}"
            f"{facts(info)}"
            f'{gallery(screens)}<h3 class="pa-section">All checks</h3>')


def concluded(evidence: list[Evidence]) -> bool:
    """The check's own conclusion, with expected / actual / to do, is among its evidence: its failure
    text (pytest's longrepr) says nothing more and need not be shown a second time."""
    return any(e.kind == "verdict" and isinstance(e.data, dict) and e.data.get("problems") for e in evidence)


def duration_cell(cells: list[str], own: float, evidence: tuple[float | None, str] | None) -> None:
    """A check judged in a few ms from evidence a shared round gathered says so, with that evidence's time
    when known, rather than a bare `0 ms`. The cell still starts with `<n> ms`, the form pytest-html's
    duration sort reads."""
    if evidence is None:
        return
    spent, where = evidence
    if spent is not None and spent > own:
        text = (f"{spent * 1000:.0f} ms<br><span class=\"pa-note\">its evidence, gathered in {esc(where)}; "
                f"judged in {esc(seconds(own))}</span>")
    elif spent is None:
        text = f"{own * 1000:.0f} ms<br><span class=\"pa-note\">judging only; evidence from {esc(where)}</span>"
    else:
        return
    for index, cell in enumerate(cells):
        if cell.startswith('<td class="col-duration">'):
            cells[index] = f'<td class="col-duration">{text}</td>'


class ReportMarkupChanged(RuntimeError):
    """pytest-html no longer makes the markup the report relies on to escape what it shows."""


def escape_test_id(test_id: str, cells: list[str]) -> None:
    """pytest-html formats the test id into its Test cell as raw HTML, and app.js inserts the cell with
    innerHTML: a host name, role or address in a parametrised id would be live markup. Replace that
    cell (only if it is exactly pytest-html's) by an escaped one.

    Raises ReportMarkupChanged when no cell is pytest-html's Test cell (raw or already escaped): a
    pytest-html that makes it otherwise would leave the id unescaped, so the run stops, saying so."""
    raw = f'<td class="col-testId">{test_id}</td>'
    escaped = f'<td class="col-testId">{esc(test_id)}</td>'
    for index, cell in enumerate(cells):
        if cell == raw:
            cells[index] = escaped
            return
    if not cells or escaped in cells:  # a row another plugin dropped, or an id already escaped
        return
    shown = ", ".join(match.group(0) if (match := re.match(r"<td[^>]{0,60}>", c)) else "?" for c in cells)
    raise ReportMarkupChanged(
        f"pytest-html {_pytest_html_version()} no longer makes its Test cell as "
        f'`<td class="col-testId">TEST ID</td>` (its cells: {shown}): the test id cannot be escaped and '
        "would be live markup in the report. Install the pytest-html the suite was built with (4.1 to 4.x, "
        "see pyproject.toml) or adapt publik_acceptance/report/page.py escape_test_id to the new markup")


def _pytest_html_version() -> str:
    try:
        return importlib.metadata.version("pytest-html")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def title(info: RunInfo) -> str:
    """Plain text: pytest-html's template escapes the title itself (escaping here would show `&lt;`)."""
    phases = "all phases" if len(info.phases) == 3 else " + ".join(info.phases)
    ticket = f" — {info.ticket}" if info.ticket else ""
    return f"Publik acceptance — {info.platform} — {phases}{ticket}"
