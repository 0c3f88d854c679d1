"""Find markup from a hostile value that a browser would bring to life in a pytest-html report.

pytest-html writes a static page plus a JSON blob (`data-jsonblob`) that its app.js turns into HTML
with `innerHTML`: the results-table cells, the log, the HTML extras and the environment table
(`<div>value</div>`, or `<li>key: value</li>` for a dict). So a report is safe only if neither the
static page nor any of those fragments, parsed as HTML, holds an element or an attribute carrying
the payload's marker. Parsing (html.parser) rather than searching for `<img` avoids counting escaped
text, which a reader sees as text, as live. The suite's report is compacted (report/compact.py): its
data is decoded here exactly as its loader decodes it in the browser.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

from publik_acceptance.report import compact


class _Finder(HTMLParser):
    def __init__(self, marker: str) -> None:
        super().__init__(convert_charrefs=True)
        self.marker = marker
        self.found: list[str] = []
        self.blob: str | None = None
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "data-jsonblob" and value is not None:
                self.blob = value
            elif self.marker in name or (value and self.marker in value and _active(name)):
                self.found.append(f"<{tag} {name}={value!r}>")
        if self.marker in tag:
            self.found.append(f"<{tag}>")
        # JSON a script element holds as data is never run: the compact report's block is decoded and
        # its fragments scanned as app.js and the loader insert them (live_markup below).
        self._in_script = tag == "style" or (tag == "script" and dict(attrs).get("type") != "application/json")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and self.marker in data:
            self.found.append(f"script text {data[:80]!r}")


def _active(attribute: str) -> bool:
    """An attribute whose value a browser runs or loads (a title or alt holding the text is harmless)."""
    return attribute.startswith("on") or attribute in ("src", "href", "srcdoc", "action", "formaction", "data",
                                                       "style", "srcset", "xlink:href")


def _scan(fragment: str, marker: str) -> _Finder:
    finder = _Finder(marker)
    finder.feed(fragment)
    finder.close()
    return finder


def _environment_fragments(environment: dict[str, Any]) -> list[str]:
    """As app.js builds the environment table: the key as text, the value as HTML."""
    fragments = []
    for value in environment.values():
        if isinstance(value, dict):
            fragments.append("<ul>" + "".join(f"<li>{k}: {v}</li>" for k, v in value.items()) + "</ul>")
        else:
            fragments.append(f"<div>{value}</div>")
    return fragments


def _test_fragments(tests: dict[str, list[dict[str, Any]]]) -> list[str]:
    fragments = []
    for rows in tests.values():
        for row in rows:
            fragments += [str(cell) for cell in row.get("resultsTableRow", [])]
            fragments.append(str(row.get("log") or ""))
            fragments += [str(e.get("content")) for e in row.get("extras", []) if e.get("format_type") == "html"]
            fragments += [str(item) for item in row.get("tableHtml") or []]
    return fragments


def live_markup(page: str, marker: str) -> list[str]:
    """Elements or attributes holding `marker` that a browser would create from the report."""
    static = _scan(page, marker)
    found = [f"static page: {f}" for f in static.found]
    data = json.loads(static.blob) if static.blob is not None else compact.decode(page)
    if data is None:
        return [*found, "no data-jsonblob in the page (not a pytest-html 4 report?)"]
    fragments = _environment_fragments(data.get("environment") or {}) + _test_fragments(data.get("tests") or {})
    for fragment in fragments:
        found += [f"rendered by app.js: {f}" for f in _scan(fragment, marker).found]
    return found
