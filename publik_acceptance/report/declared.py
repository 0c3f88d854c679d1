"""What a check declares to the report, read from its pytest item: the report knows no test by name.

- its phase: the marker the front door puts on every item from its directory (tests/preflight/…);
- its Target: its `target` parameter, or the Target and address of its `frontend` parameter;
- with `@pytest.mark.report(...)`: its column in the per-service table, the postdeploy wait whose
  evidence it shows, and whether it shows the cook's log.

Adding a check that feeds the per-service table takes a decorator on the check, no edit here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from publik_acceptance.evidence.preflight import Frontend
from publik_acceptance.plan import Target
from publik_acceptance.pytest_plugin import PHASES

MARKER = "report"
KEYWORDS = {
    "column": "its column in the report's per-service table (one cell per Target)",
    "wait": "the postdeploy aspect it concludes (tenant, database, page, theme, site-options, idp-metadata, "
            "sp-metadata, login-redirect, backoffice-redirect, login): the report shows that wait's polls",
    "cook_log": "True on the check that runs the cook: its report shows the cook's log, or why it did not run",
}


@dataclass(frozen=True)
class Declared:
    phase: str | None = None  # preflight, deploy, postdeploy (None: a test outside the suite's directories)
    target: Target | None = None
    address: str | None = None  # the frontend address of a `frontend` check (None: unresolved, or not one)
    column: str | None = None
    wait: str | None = None
    cook_log: bool = False

    @property
    def target_id(self) -> str | None:
        return self.target.id if self.target is not None else None


def declaration_problem(marker: pytest.Mark) -> str | None:
    """What is wrong with a check's report mark, in a few words (None: nothing)."""
    if marker.args:
        return f"takes keywords only, not {', '.join(repr(a) for a in marker.args)}"
    unknown = sorted(set(marker.kwargs) - set(KEYWORDS))
    if unknown:
        return f"unknown keyword {', '.join(unknown)} (known: {', '.join(KEYWORDS)})"
    for key in ("column", "wait"):
        value = marker.kwargs.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            return f"{key} must be a non-empty string, not {value!r}"
    if not isinstance(marker.kwargs.get("cook_log", False), bool):
        return f"cook_log must be True or False, not {marker.kwargs['cook_log']!r}"
    return None


def check_declaration(item: pytest.Item) -> None:
    """A misspelt declaration would silently empty a column: refuse it, naming the check (exit 4)."""
    marker = item.get_closest_marker(MARKER)
    problem = declaration_problem(marker) if marker is not None else None
    if problem:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER}(…) {problem}")


def declared(item: pytest.Item) -> Declared:
    """What `item` declares (check_declaration has refused a malformed mark at collection)."""
    phase = next((m.name for m in item.iter_markers() if m.name in PHASES), None)
    callspec = getattr(item, "callspec", None)
    params: dict[str, object] = callspec.params if callspec is not None else {}
    target, address = params.get("target"), None
    frontend = params.get("frontend")
    if isinstance(frontend, Frontend):
        target, address = frontend.target, frontend.address
    marker = item.get_closest_marker(MARKER)
    kwargs = marker.kwargs if marker is not None else {}
    wait = kwargs.get("wait")
    # A parameter may name its own wait (a w.c.s. login entry: its /login/ or its back office).
    wait = next((w for w in (getattr(v, "report_wait", None) for v in params.values()) if isinstance(w, str)), wait)
    return Declared(phase=phase, target=target if isinstance(target, Target) else None, address=address,
                    column=kwargs.get("column"), wait=wait, cook_log=kwargs.get("cook_log", False))
