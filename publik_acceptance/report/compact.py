"""The HTML report made light, once pytest-html has written it.

pytest-html stores every row (cells, log, our evidence) as JSON inside one HTML attribute, where each
quote becomes `&#34;`, and its app.js builds every row's evidence into the page at load: at N = 50
(2,300 checks) 6.9 MB and 2.3 s in Chromium. Here:

- every string of that data (cells, logs, environment, each check's evidence HTML) is cut into words
  and tags; each distinct piece is stored once, in a table sorted by frequency, and each string
  becomes a run of 1-3 character references to it;
- a check's evidence is decoded into its row only when the row is open (failures are open at load,
  passed checks when clicked): the page holds the evidence of the rows being read, not of 2,300;
- failures are also written out as plain HTML above the list, with their evidence (their row links to
  it: shown once), so the verdict and what failed read without JavaScript.

Decoding is concatenation: the browser gets exactly the HTML our renderers escaped (render.esc) and
pytest-html's own escaping; nothing is rendered from data in JavaScript. The block is JSON inside
`<script type="application/json">` with every `<` written `\\u003c`: no `</script>` or `<!--` can end or
bend it. A secret cut into words would escape the leak scan of this form, so the plugin compacts a file
only after the scan of its plain form found nothing (and scans it again after).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from itertools import chain
from typing import Any

from publik_acceptance.report.render import anchor, esc

BLOB = re.compile(r'<div id="data-container" data-jsonblob="([^"]*)"></div>')
DATA_ID = "pa-data"
EVIDENCE_ID = "pa-evidence-data"
SLOT = "paEvidence"  # a row's key (app.js ignores it): the index of its evidence in the evidence block
ROW_TEMPLATE = '<template id="template_results-table__tbody">'
# Words and the separators of test ids, tags (a run of tags is one piece). The lookahead lets the regex
# engine skip plain text fast: three times quicker on a 2,300-check report.
PIECES = re.compile(r"((?=[<\[\]| :;,])(?:(?:<[^>]*>)+|[\[\]| ]|::|[;,] ))")
# Reference characters: JSON-safe without escaping (no `"` or `\`) and no `<`. The first TERMINAL end a
# reference, the others are leading digits (bijective base), so 60 pieces take one character, 1,920 two.
ALPHABET = "".join(c for c in map(chr, range(33, 127)) if c not in '"\\<')
TERMINAL = 60
FAILED = ("Failed", "Error")
MAX_FAILURES_SHOWN = 50  # written out in full above the list; more are in their rows
FAILURES_HEADING = '<h3 class="pa-section">Failed checks</h3>'
ALL_CHECKS = '<h3 class="pa-section">All checks</h3>'
PYTEST_HTML_LINK = '<a href="https://pypi.python.org/pypi/pytest-html">pytest-html</a>'
CHECK_ID = re.compile(r' id="pa-check-[0-9a-f]{16}"')

LOADER = """(function(){
function j(id){return JSON.parse(document.getElementById(id).textContent)}
var D=j('pa-data'),T=D.t,K=D.k,A=D.a,V=[],C=A.length-$T,E=null,i;
for(i=0;i<A.length;i++)V[A.charCodeAt(i)]=i;
function s(c){var o='',q=0,v,n;for(n=0;n<c.length;n++){v=V[c.charCodeAt(n)];if(v<$T){o+=T[q*$T+v];q=0}
else q=q*C+v-$T1}return o}
function d(x){if(typeof x==='string')return s(x);if(!Array.isArray(x))return x;if(x[0]===1)return x.slice(1).map(d);
var k=K[x[1]],o={},n;for(n=0;n<k.length;n++)o[s(k[n])]=d(x[n+2]);return o}
var X=d(D.d),M={};
Object.keys(X.tests).forEach(function(k){X.tests[k].forEach(function(r){
if(r.$SLOT!==undefined)M[r.testId]=r.$SLOT})});
document.getElementById('data-container').setAttribute('data-jsonblob',JSON.stringify(X));
function fill(){var n=document.querySelectorAll('#results-table .extras-row:not(.hidden) .extraHTML:empty'),m,e;
for(m=0;m<n.length;m++){e=M[n[m].closest('tbody').id];if(e!==undefined){E=E||j('pa-evidence-data');
n[m].innerHTML=s(E[e])}}}
document.addEventListener('DOMContentLoaded',fill);
document.addEventListener('click',function(){setTimeout(fill,0)});
})();""".replace("$T1", str(TERMINAL - 1)).replace(
    "$T", str(TERMINAL)).replace("$SLOT", SLOT)


def pieces(text: str) -> list[str]:
    return list(filter(None, PIECES.split(text)))


def reference(index: int) -> str:
    base = len(ALPHABET) - TERMINAL
    out = ALPHABET[index % TERMINAL]
    index //= TERMINAL
    while index:
        index -= 1
        out = ALPHABET[TERMINAL + index % base] + out
        index //= base
    return out


def expand(code: str, table: list[str]) -> str:
    """The loader's s(): references back to the string (used by tests and live_markup)."""
    values = {c: i for i, c in enumerate(ALPHABET)}
    base, out, q = len(ALPHABET) - TERMINAL, [], 0
    for char in code:
        v = values[char]
        if v < TERMINAL:
            out.append(table[q * TERMINAL + v])
            q = 0
        else:
            q = q * base + v - (TERMINAL - 1)
    return "".join(out)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


class _Encoder:
    def __init__(self, strings: list[str]) -> None:
        self._pieces = {s: pieces(s) for s in set(strings)}
        counts = Counter(chain.from_iterable(map(self._pieces.__getitem__, strings)))
        self.table = [p for p, _ in counts.most_common()]
        self.codes = {p: reference(i) for i, p in enumerate(self.table)}
        self.shapes: list[list[str]] = []
        self._shape_index: dict[tuple[str, ...], int] = {}

    def text(self, value: str) -> str:
        return "".join(map(self.codes.__getitem__, self._pieces[value]))

    def value(self, value: Any) -> Any:
        """A dict becomes [0, shape, values…] (its keys stored once per shape), a list [1, items…]."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [1, *(self.value(v) for v in value)]
        if isinstance(value, dict):
            keys = tuple(str(k) for k in value)
            if keys not in self._shape_index:
                self._shape_index[keys] = len(self.shapes)
                self.shapes.append([self.text(k) for k in keys])
            return [0, self._shape_index[keys], *(self.value(v) for v in value.values())]
        return value


def _name(test_id: str) -> str:
    """The check's name (its anchor's source) from pytest-html's test id, `path::name[::setup|teardown]`."""
    parts = test_id.split("::")
    return parts[-2] if len(parts) > 2 and parts[-1] in ("setup", "teardown") else parts[-1]


def _failure(row: dict[str, Any], evidence: str) -> str:
    where = "" if 'id="pa-check-' in evidence else f' id="{anchor(_name(str(row.get("testId", ""))))}"'
    log = str(row.get("log") or "")
    return (f'<section class="pa-failure"{where}><h4>{esc(str(row.get("result", "")).lower())}: '
            f'<code>{esc(row.get("testId"))}</code></h4>{evidence}'
            + (f'<pre class="pa-pre">{log}</pre>' if log.strip() else "") + "</section>")


def _split(data: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Each row's evidence out of its extras (a slot in its place), failures written out: (evidence, failures)."""
    stored: dict[str, int] = {}
    failures: list[str] = []
    for rows in (data.get("tests") or {}).values():
        for row in rows:
            extras = [e for e in row.get("extras") or [] if e.get("format_type") == "html"]
            content = "".join(str(e.get("content") or "") for e in extras)
            others = [e for e in row.get("extras") or [] if e.get("format_type") != "html"]
            if row.get("result") in FAILED and len(failures) < MAX_FAILURES_SHOWN:
                failures.append(_failure(row, content))
                link = (f'<p class="pa-note">Its evidence and failure text are under <a href="#'
                        f'{anchor(_name(str(row.get("testId", ""))))}">Failed checks</a>, above.</p>')
                row["log"] = ""
                row["extras"] = [{"name": None, "format_type": "html", "content": link, "mime_type": None,
                                  "extension": None}, *others]
            elif content:
                # No extra for app.js to insert into every row at load: the loader fills the row's evidence
                # from this number when the row is open.
                kept = content if row.get("result") in FAILED else CHECK_ID.sub("", content, count=1)
                row[SLOT] = stored.setdefault(kept, len(stored))  # identical evidence: stored once
                row["extras"] = others
    return list(stored), failures


def _unescape(attribute: str) -> str:
    """Undo Jinja's escaping of the blob (markupsafe: these five only), ten times faster than html.unescape."""
    for entity, char in (("&#34;", '"'), ("&#39;", "'"), ("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&")):
        attribute = attribute.replace(entity, char)
    return attribute


def _json_script(element_id: str, value: Any) -> str:
    """JSON a script element holds as data: no `<` in it, so no `</script>` or `<!--` can end or bend it."""
    payload = json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    return f'<script type="application/json" id="{element_id}">{payload}</script>'


def _light_rows(document: str) -> str:
    """pytest-html's row template without its image/video viewer (our rows carry no media: screenshots are
    in the gallery) and without the whitespace between its tags: cloned once per row, it was half the
    load time of a 2,300-row report."""
    start = document.find(ROW_TEMPLATE)
    end = document.find("</template>", start)
    media, log = document.find('<div class="media">', start), document.find('<div class="logwrapper">', start)
    if start < 0 or not start < media < log < end:
        return document
    template = document[start:media] + '<div class="media"></div>' + document[log:end]
    return document[:start] + re.sub(r">\s+<", "><", template) + document[end:]


def compact(document: str) -> str:
    """The light form of a pytest-html 4 page (unchanged if it is not one)."""
    found = BLOB.search(document)
    if found is None:
        return document
    data = json.loads(_unescape(found.group(1)))
    media = any(e.get("format_type") in ("image", "video") for rows in (data.get("tests") or {}).values()
                for row in rows for e in row.get("extras") or [])
    evidence, failures = _split(data)
    encoder = _Encoder([*_strings(data), *evidence])
    block = {"a": ALPHABET, "t": encoder.table, "d": encoder.value(data)}
    block["k"] = encoder.shapes
    # Apart: parsed when a row is first opened, not at load.
    codes = [encoder.text(e) for e in evidence]
    replacement = (f'<div id="data-container"></div>{_json_script(DATA_ID, block)}'
                   f"{_json_script(EVIDENCE_ID, codes)}<script>{LOADER}</script>")
    document = document[:found.start()] + replacement + document[found.end():]
    if failures:
        shown = len(failures)
        total = sum(1 for rows in data["tests"].values() for row in rows if row.get("result") in FAILED)
        more = (f'<p class="pa-note">The first {shown} of {total} failed checks; the others are in the list '
                "below.</p>" if total > shown else "")
        section = f'{FAILURES_HEADING}{more}<div class="pa-evidence">{"".join(failures)}</div>'
        document = document.replace(ALL_CHECKS, section + ALL_CHECKS, 1)
    if not media:
        document = _light_rows(document)
    return document.replace(PYTEST_HTML_LINK, "pytest-html", 1)


def light_file(document: str) -> bytes:
    """The file to write: the light form, UTF-8. A lone surrogate (a file name's undecodable byte, kept by
    pytest-html's ASCII JSON) is written as its `\\udcXX` escape, valid in the JSON block, readable in text.
    Data this module does not expect leaves the page as pytest-html wrote it: heavy, never lost."""
    with contextlib.suppress(ValueError, KeyError, TypeError, IndexError, AttributeError):
        document = compact(document)
    return document.encode("utf-8", "backslashreplace")


def readable(document: str) -> str:
    """The report as text one can search (grep, a self-test): the page, then each row's cells, log and
    evidence decoded, then the environment table. `python -m publik_acceptance.report.compact FILE`."""
    data = decode(document)
    if data is None:
        return document
    parts = [document]
    for rows in (data.get("tests") or {}).values():
        for row in rows:
            parts += [*map(str, row.get("resultsTableRow") or []), str(row.get("log") or "")]
            parts += [str(e.get("content") or "") for e in row.get("extras") or []]
    parts.append(json.dumps(data.get("environment"), ensure_ascii=False))
    return "\n".join(parts)


def decode(document: str, fill: bool = True) -> dict[str, Any] | None:
    """pytest-html's data of a compacted page, each row's evidence back in its extras (tests, live_markup);
    `fill=False`: the rows as stored, each row's evidence a number under SLOT."""
    found = re.search(rf'<script type="application/json" id="{DATA_ID}">(.*?)</script>', document, re.S)
    if found is None:
        return None
    block = json.loads(found.group(1))
    table, shapes = block["t"], block["k"]
    codes = re.search(rf'<script type="application/json" id="{EVIDENCE_ID}">(.*?)</script>', document, re.S)

    def value(x: Any) -> Any:
        if isinstance(x, str):
            return expand(x, table)
        if not isinstance(x, list):
            return x
        if x[0] == 1:
            return [value(v) for v in x[1:]]
        return {expand(k, table): value(v) for k, v in zip(shapes[x[1]], x[2:], strict=True)}

    data = value(block["d"])
    if not fill:
        return data
    evidence = [expand(e, table) for e in json.loads(codes.group(1))] if codes else []
    for rows in data.get("tests", {}).values():
        for row in rows:
            if SLOT in row:
                row["extras"] = [{"name": None, "format_type": "html", "content": evidence[row.pop(SLOT)],
                                  "mime_type": None, "extension": None}, *row.get("extras", [])]
    return data


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:]:
        with open(name, encoding="utf-8") as report:
            sys.stdout.write(readable(report.read()) + "\n")
