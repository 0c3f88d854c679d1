"""Recipes for `hobo-manage cook`: load, substitute `${var}`, validate, render for the cook.

The format is hobo's: a JSON object with optional `variables`, optional `load-variables-from`
(a JSON file of variables, relative to the recipe; the recipe's own `variables` win), and `steps`,
a list of one-key objects `{"<action>": {params}}` run in order. Any string parameter may use
`${name}`; an undefined name is an error, as it makes cook fail.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from publik_acceptance.config.catalogue import CONFIG_ACTIONS, KIND_BY_ACTION, KNOWN_ACTIONS
from publik_acceptance.config.errors import ConfigError
from publik_acceptance.config.naming import hostname, hostname_problem

PASSWORD_PLACEHOLDERS = {"...", "…", "changeme", "CHANGEME", "xxx", "XXX"}
# A skeleton or portal template is a file in a directory root reads and writes: a plain name only.
TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}\Z")
URL_SCHEMES = ("https", "http")
SERVICE_PATH = re.compile(r"[A-Za-z0-9._~/-]*\Z")
# hobo keeps one service per (kind, slug): cook's create-* is get-or-create by slug, so a second step
# with the same slug re-points the first service to its own URL. A step without `slug` gets its
# kind's default (`service_default_slug` of hobo's environment models). The primary hobo (the first
# create-hobo) is the deploying hobo itself, not a service record; a further create-hobo without a
# slug gets one from its title, so only explicit hobo slugs can be compared.
DEFAULT_SLUGS = {
    "authentic": "idp", "combo": "portal", "wcs": "eservices", "passerelle": "passerelle", "fargo": "porte-doc",
    "chrono": "agendas", "bijoe": "statistics", "lingo": "payment", "welco": "courrier",
}
SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")


@dataclass(frozen=True)
class Step:
    index: int
    action: str
    params: dict[str, Any]  # with `${…}` substituted

    @property
    def key(self) -> str:
        return f"steps[{self.index}].{self.action}"

    @property
    def url(self) -> str | None:
        return self.params.get("url")


@dataclass(frozen=True)
class Recipe:
    file: Path
    variables: dict[str, Any]  # merged: load-variables-from, then the recipe's own
    raw_steps: tuple[dict[str, Any], ...]  # as written, for the cook
    steps: tuple[Step, ...]  # substituted and validated

    @property
    def service_steps(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action in KIND_BY_ACTION)

    @property
    def hostnames(self) -> tuple[str, ...]:
        return tuple(hostname(s.url) for s in self.service_steps if s.url)

    def has_superuser(self) -> bool:
        return any(s.action == "create-superuser" for s in self.steps)

    @property
    def theme(self) -> str | None:
        """The theme the recipe sets (its last `set-theme`), which every tenant's hobo.json must carry."""
        themes = [s.params.get("theme") for s in self.steps if s.action == "set-theme"]
        return str(themes[-1]) if themes else None


def _load_json(path: Path, origin: str | Path, key: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(origin, key, f"file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(origin, key, f"cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(path, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}") from None


def load_recipe(path: Path) -> Recipe:
    data = _load_json(path, path, "")
    if not isinstance(data, dict):
        raise ConfigError(path, "", "a recipe is a JSON object with 'steps'")
    unknown = set(data) - {"variables", "load-variables-from", "steps"}
    if unknown:
        raise ConfigError(path, sorted(unknown)[0], "unknown key (allowed: load-variables-from, steps, variables)")

    variables: dict[str, Any] = {}
    if "load-variables-from" in data:
        ref = data["load-variables-from"]
        if not isinstance(ref, str) or not ref:
            raise ConfigError(path, "load-variables-from", "expected a file name")
        loaded = _load_json((path.parent / ref).resolve(), path, "load-variables-from")
        if not isinstance(loaded, dict):
            raise ConfigError(path.parent / ref, "", "a variables file is a JSON object")
        variables.update(loaded)
    own = data.get("variables", {})
    if not isinstance(own, dict):
        raise ConfigError(path, "variables", "expected a JSON object of name: value")
    variables.update(own)

    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list):
        raise ConfigError(path, "steps", "required: a list of {\"<action>\": {params}}")
    if not raw_steps:
        raise ConfigError(path, "steps", "must not be empty")

    steps = tuple(_step(path, i, raw, variables) for i, raw in enumerate(raw_steps))
    recipe = Recipe(path, variables, tuple(raw_steps), steps)
    _validate(recipe)
    return recipe


def _step(path: Path, index: int, raw: Any, variables: dict[str, Any]) -> Step:
    key = f"steps[{index}]"
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ConfigError(path, key, "each step is an object with exactly one action, e.g. {\"create-combo\": {…}}")
    (action, params), = raw.items()
    if action not in KNOWN_ACTIONS:
        known = ", ".join(sorted(KNOWN_ACTIONS))
        raise ConfigError(path, f"{key}.{action}", f"unknown action (known: {known})")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ConfigError(path, f"{key}.{action}", "parameters must be a JSON object")
    return Step(index, action, _substitute(params, variables, path, f"{key}.{action}"))


def _substitute(value: Any, variables: dict[str, Any], path: Path, key: str) -> Any:
    if isinstance(value, str):
        try:
            return string.Template(value).substitute(variables)
        except KeyError as exc:
            raise ConfigError(path, key, f"undefined variable ${{{exc.args[0]}}}") from None
        except ValueError as exc:
            raise ConfigError(path, key, f"bad ${{…}} placeholder: {exc}") from None
    if isinstance(value, dict):
        return {k: _substitute(v, variables, path, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, variables, path, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


def _validate(recipe: Recipe) -> None:
    path = recipe.file
    if recipe.steps[0].action != "create-hobo":
        raise ConfigError(path, recipe.steps[0].key, "the first step must be create-hobo (hobo deploys the others)")
    seen: dict[str, str] = {}
    slugs: dict[tuple[str, str], Step] = {}
    for step in recipe.steps:
        if step.action in KIND_BY_ACTION:
            _validate_url(step, seen, path)
            _validate_slug(step, step is recipe.steps[0], slugs, path)
        _validate_other_urls(step, path)
        if "template_name" in step.params:
            _validate_template_name(step, path)
        for required in CONFIG_ACTIONS.get(step.action, ()):
            if required not in step.params:
                raise ConfigError(path, f"{step.key}.{required}", "required parameter is missing")
        if step.action == "set-theme" and (not isinstance(step.params["theme"], str) or not step.params["theme"]):
            raise ConfigError(path, f"{step.key}.theme", f"expected a theme name, got {step.params['theme']!r}")
        if step.action == "create-superuser" and "password" in step.params:
            password = step.params["password"]
            if str(password).strip() in PASSWORD_PLACEHOLDERS or not str(password).strip():
                raise ConfigError(path, f"{step.key}.password",
                                  "placeholder password: leave it out, it is injected at cook time from the "
                                  "instance's superuser_password")
            raise ConfigError(path, f"{step.key}.password",
                              "literal password in a recipe file: leave it out, it is injected at cook time "
                              "from the instance's superuser_password")


def _validate_url(step: Step, seen: dict[str, str], path: Path) -> None:
    url = step.url
    if not url:
        raise ConfigError(path, f"{step.key}.url", "required parameter is missing")
    if not isinstance(url, str):
        raise ConfigError(path, f"{step.key}.url", "expected a string")
    parts = _check_url_parts(url, path, f"{step.key}.url")
    if parts.scheme != "https":
        raise ConfigError(path, f"{step.key}.url", f"must be an https:// URL, got {url!r}")
    if parts.port is not None:
        raise ConfigError(path, f"{step.key}.url", f"no port in service URLs (w.c.s. would not sanitise it): {url!r}")
    if parts.query or parts.fragment or not SERVICE_PATH.match(parts.path) or "/../" in parts.path + "/":
        # The path becomes part of a tenant directory name (w.c.s.) that root stats and reads.
        raise ConfigError(path, f"{step.key}.url", f"service URL path: letters, digits, '.', '_', '-', '~' and '/' "
                                                   f"only, no '..', no query or fragment: {url!r}")
    normal = url.rstrip("/").lower()
    if normal in seen:
        raise ConfigError(path, f"{step.key}.url", f"URL {url} is already used by {seen[normal]}")
    seen[normal] = step.key


def _validate_slug(step: Step, primary: bool, slugs: dict[tuple[str, str], Step], path: Path) -> None:
    """Two services of one kind with one slug, given or defaulted: the second would re-point the first."""
    key = f"{step.key}.slug"
    kind = KIND_BY_ACTION[step.action].name
    given = step.params.get("slug")
    if given is not None and (not isinstance(given, str) or not SLUG.match(given)):
        raise ConfigError(path, key, f"a slug is a plain name (letters, digits, '-', '_'; at most 64 characters), "
                                     f"got {given!r}")
    slug = given or DEFAULT_SLUGS.get(kind)
    if primary or slug is None:
        return
    first = slugs.get((kind, slug))
    if first is not None:
        how = f"slug {slug!r} is" if given else f"no slug: hobo gives it the {kind} default {slug!r},"
        raise ConfigError(path, key, f"{how} already {first.key}'s ({first.url}); hobo keeps one {kind} per slug, so "
                                     f"cook would re-point that service to {step.url}; give each "
                                     f"{step.action} its own \"slug\"")
    slugs[(kind, slug)] = step


def _check_url_parts(url: str, path: Path, key: str) -> SplitResult:
    """Scheme, host and port of any URL a recipe gives: they end up in commands, paths and the report."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise ConfigError(path, key, f"control character in URL {url!r}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigError(path, key, f"not a URL: {url!r} ({exc})") from None
    if parts.scheme not in URL_SCHEMES:
        raise ConfigError(path, key, f"must be an https:// (or http://) URL, got {url!r}")
    if "@" in parts.netloc:
        raise ConfigError(path, key, f"no user name or password in URLs: {url!r}")
    host = parts.hostname
    if not host:
        raise ConfigError(path, key, f"no hostname in {url!r}")
    problem = hostname_problem(host)
    if problem:
        raise ConfigError(path, key, problem)
    try:
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number in range
    except ValueError:
        raise ConfigError(path, key, f"the port must be a number from 1 to 65535: {url!r}") from None
    return parts


def _validate_other_urls(step: Step, path: Path) -> None:
    """URL-valued parameters besides a service's own `url` (e.g. set-idp's): same host rules."""
    for name, value in step.params.items():
        if isinstance(value, str) and (name == "url" or name.endswith("_url")) and step.action not in KIND_BY_ACTION:
            _check_url_parts(value, path, f"{step.key}.{name}")


def _validate_template_name(step: Step, path: Path) -> None:
    key = f"{step.key}.template_name"
    value = step.params["template_name"]
    if not isinstance(value, str):
        raise ConfigError(path, key, "expected a string (a skeleton or template file name)")
    if not TEMPLATE_NAME.match(value) or ".." in value:
        raise ConfigError(path, key, f"must be a plain file name (letters, digits, '.', '_', '+', '-'; no '/', "
                                     f"no '..', not starting with '.'; at most 128 characters), got {value!r}")


def render_for_cook(recipe: Recipe, superuser_password: str | None) -> str:
    """The recipe as uploaded: steps as written, variables inlined, the superuser password injected."""
    steps = json.loads(json.dumps(list(recipe.raw_steps)))
    for step in steps:
        (action, params), = step.items()
        if action == "create-superuser":
            if superuser_password is None:
                raise ValueError("create-superuser needs the superuser password")
            params = dict(params or {})
            params["password"] = superuser_password
            step[action] = params
    document: dict[str, Any] = {"steps": steps}
    if recipe.variables:
        document = {"variables": recipe.variables, **document}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_without_secrets(recipe: Recipe) -> str:
    """The recipe as `inv render` writes it: everything but the password."""
    steps = list(recipe.raw_steps)
    document: dict[str, Any] = {"steps": steps}
    if recipe.variables:
        document = {"variables": recipe.variables, **document}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
