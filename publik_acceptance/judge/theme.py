"""The theme judge (postdeploy): the theme the recipe sets is the one the tenant was deployed with.

hobo stores `set-theme` as its global variable `theme` and broadcasts it in the environment each
service's `hobo_deploy` writes to the tenant's `hobo.json` (`variables.theme`); a service's own
`variables.theme` overrides it, as w.c.s. merges them. set-theme usually comes after the services
are created, so a hobo.json without the theme yet is pending; another theme is wrong.
"""

from __future__ import annotations

import json
from typing import Any

from publik_acceptance.judge.expectations import Judgement, State, ok
from publik_acceptance.plan import Target


def deployed_theme(hobo_json: Any, base_url: str) -> tuple[str | None, str]:
    """The theme a tenant's hobo.json gives it, and where it comes from (for the evidence)."""
    services = hobo_json.get("services") if isinstance(hobo_json.get("services"), list) else []
    me = next((s for s in services if isinstance(s, dict) and s.get("this") is True), None)
    if me is None:  # an environment not marked by hobo_deploy: find the service by its URL
        me = next((s for s in services if isinstance(s, dict)
                   and str(s.get("base_url", "")).rstrip("/") == base_url.rstrip("/")), None)
    own = me.get("variables") if me is not None else None
    if isinstance(own, dict) and own.get("theme"):
        return str(own["theme"]), "the service's own variables.theme"
    shared = hobo_json.get("variables")
    if isinstance(shared, dict) and shared.get("theme"):
        return str(shared["theme"]), "variables.theme"
    return None, "no theme variable"


def judge_theme(target: Target, expected_theme: str, hobo_json: bytes | None, place: str | None = None) -> Judgement:
    """`place`: the tenant directory found (w.c.s. may use its old location); the Plan's by default."""
    path = f"{place or target.tenant_dir}/hobo.json"
    expected = f"theme {expected_theme!r} (the recipe's set-theme) in {path}"
    if hobo_json is None:
        return Judgement(State.PENDING, expected, "hobo.json not readable yet",
                         f"the tenant is not deployed yet: check hobo-agent on {target.server}")
    try:
        document = json.loads(hobo_json.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Judgement(State.WRONG, expected, f"hobo.json is not valid JSON ({str(exc)[:80]})",
                         f"redeploy the tenant ({target.kind}-manage hobo_deploy) and check its logs")
    if not isinstance(document, dict):
        return Judgement(State.WRONG, expected, "hobo.json is not a JSON object",
                         f"redeploy the tenant ({target.kind}-manage hobo_deploy) and check its logs")
    theme, source = deployed_theme(document, target.url)
    evidence = (f"{path}: {source}" + (f" = {theme!r}" if theme else ""),)
    if theme is None:
        return Judgement(State.PENDING, expected, "hobo.json has no theme variable",
                         "set-theme has not reached this tenant: check that cook ran the set-theme step and that "
                         f"hobo-agent redeployed {target.hostname}", evidence)
    if theme != expected_theme:
        return Judgement(State.WRONG, expected, f"theme {theme!r} ({source})",
                         f"set the theme again (cook the recipe: set-theme {expected_theme}) and check hobo's "
                         f"variables for a theme set on {target.slug} alone; then redeploy {target.hostname}",
                         evidence)
    return ok(expected, f"theme {theme!r}", evidence)
